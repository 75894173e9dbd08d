//! Cloud Run jobs over REST: the v2 `Jobs`, `Executions` and `Tasks` services
//! (`/v2/projects/*/locations/*/jobs/…`) and the v1 Knative-style jobs
//! (`/apis/run.googleapis.com/v1/namespaces/{ns}/jobs/…`), which are another view of the same
//! stored v2 job (kumo-wire's `job_from_v2`/`job_to_v2`).
//!
//! Which region a v1 `namespaces/{ns}` path means (Google serves those paths on regional hosts):
//! the body's `cloud.googleapis.com/location` label, else a `REGION-run.` prefix of the `Host`
//! header, else the region of the existing job of that name, else `us-central1`.

use kumo_control::audit::{AuditLog, MonitoredResource};
use kumo_control::{Call, Error, FieldViolation};
use kumo_wire::iam::{SetIamPolicyRequest, TestIamPermissionsRequest, TestIamPermissionsResponse};
use kumo_wire::run_v1;
use kumo_wire::run_v2::{Execution, Job, RunJobRequest, Task};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::audit::{Audited, audited};
use crate::{Api, Reply, Request, ok};

const RUN: &str = "run.googleapis.com";

/// The region Kumo assumes when a v1 request names none.
pub const DEFAULT_REGION: &str = "us-central1";

/// The project id a `{project}` segment names (numbers resolved), for log names.
fn project_id(api: &Api, project: &str) -> String {
    match api.control.resolve_project(project) {
        Ok(Some(info)) => info.id,
        _ => project.to_owned(),
    }
}

/// The monitored resource of job audit entries.
fn job_resource(project: &str, location: &str, job: &str) -> MonitoredResource {
    MonitoredResource {
        kind: "cloud_run_job",
        labels: vec![
            ("job_name", job.to_owned()),
            ("location", location.to_owned()),
            ("project_id", project.to_owned()),
        ],
    }
}

/// The audit description of a v2 call; the resource name is the deepest name in the path.
fn v2_audit(api: &Api, req: &Request, method: &'static str, log: AuditLog) -> Audited {
    let project = req.param("project");
    let location = req.param("location");
    let job = if req.param("job").is_empty() {
        req.query.get("jobId").unwrap_or_default()
    } else {
        req.param("job")
    };
    let mut resource_name = format!("projects/{project}/locations/{location}");
    if !job.is_empty() {
        resource_name.push_str(&format!("/jobs/{job}"));
    }
    if !req.param("execution").is_empty() {
        resource_name.push_str(&format!("/executions/{}", req.param("execution")));
    }
    if !req.param("task").is_empty() {
        resource_name.push_str(&format!("/tasks/{}", req.param("task")));
    }
    let project = project_id(api, project);
    Audited {
        service_name: RUN,
        method_name: method,
        resource_name,
        log_parent: format!("projects/{project}"),
        log,
        resource: job_resource(&project, location, job),
    }
}

fn page_size(req: &Request) -> Result<usize, Error> {
    match req.query.int("pageSize")? {
        Some(size) if size < 0 => Err(Error::invalid_field(
            "page_size",
            "page_size must not be negative.",
        )),
        Some(size) => Ok(usize::try_from(size).unwrap_or(usize::MAX)),
        None => Ok(0),
    }
}

/// `POST /v2/projects/{project}/locations/{location}/jobs?jobId=…`
pub async fn create_job(api: Api, req: Request) -> Reply {
    let meta = v2_audit(
        &api,
        &req,
        "google.cloud.run.v2.Jobs.CreateJob",
        AuditLog::Activity,
    );
    let operation = audited(&api, &req, meta, async |call| {
        let job: Job = req.json("job")?;
        let job_id = req.query.get("jobId").unwrap_or_default();
        let validate_only = req.query.flag("validateOnly")?;
        api.control.create_job(
            call,
            req.param("project"),
            req.param("location"),
            job_id,
            job,
            validate_only,
            "google.cloud.run.v2.Jobs.CreateJob",
        )
    })
    .await?;
    ok(&operation)
}

/// `GET /v2/projects/{project}/locations/{location}/jobs/{job}`
pub async fn get_job(api: Api, req: Request) -> Reply {
    let meta = v2_audit(
        &api,
        &req,
        "google.cloud.run.v2.Jobs.GetJob",
        AuditLog::DataAccess,
    );
    let job = audited(&api, &req, meta, async |call| {
        api.control.get_job(
            call,
            req.param("project"),
            req.param("location"),
            req.param("job"),
        )
    })
    .await?;
    ok(&job)
}

/// `GET /v2/projects/{project}/locations/{location}/jobs`
pub async fn list_jobs(api: Api, req: Request) -> Reply {
    let meta = v2_audit(
        &api,
        &req,
        "google.cloud.run.v2.Jobs.ListJobs",
        AuditLog::DataAccess,
    );
    let page = audited(&api, &req, meta, async |call| {
        let size = page_size(&req)?;
        req.query.flag("showDeleted")?;
        api.control.list_jobs(
            call,
            req.param("project"),
            req.param("location"),
            size,
            req.query.get("pageToken").unwrap_or_default(),
        )
    })
    .await?;
    ok(&page)
}

/// `PATCH /v2/projects/{project}/locations/{location}/jobs/{job}`: the body is the whole job.
pub async fn update_job(api: Api, req: Request) -> Reply {
    let meta = v2_audit(
        &api,
        &req,
        "google.cloud.run.v2.Jobs.UpdateJob",
        AuditLog::Activity,
    );
    let operation = audited(&api, &req, meta, async |call| {
        let job: Job = req.json("job")?;
        let allow_missing = req.query.flag("allowMissing")?;
        let validate_only = req.query.flag("validateOnly")?;
        let named = format!(
            "projects/{}/locations/{}/jobs/{}",
            req.param("project"),
            req.param("location"),
            req.param("job")
        );
        if !job.name.is_empty()
            && job.name != named
            && !job.name.ends_with(&format!("/jobs/{}", req.param("job")))
        {
            return Err(Error::invalid_field(
                "job.name",
                format!(
                    "The job name \"{}\" does not match the request path.",
                    job.name
                ),
            ));
        }
        api.control.update_job(
            call,
            req.param("project"),
            req.param("location"),
            req.param("job"),
            job,
            allow_missing,
            validate_only,
            false,
            "google.cloud.run.v2.Jobs.UpdateJob",
        )
    })
    .await?;
    ok(&operation)
}

/// `DELETE /v2/projects/{project}/locations/{location}/jobs/{job}`
pub async fn delete_job(api: Api, req: Request) -> Reply {
    let meta = v2_audit(
        &api,
        &req,
        "google.cloud.run.v2.Jobs.DeleteJob",
        AuditLog::Activity,
    );
    let operation = audited(&api, &req, meta, async |call| {
        let validate_only = req.query.flag("validateOnly")?;
        api.control.delete_job(
            call,
            req.param("project"),
            req.param("location"),
            req.param("job"),
            req.query.get("etag"),
            validate_only,
        )
    })
    .await?;
    ok(&operation)
}

/// `POST /v2/projects/{project}/locations/{location}/jobs/{job}:run`
pub async fn run_job(api: Api, req: Request) -> Reply {
    let meta = v2_audit(
        &api,
        &req,
        "google.cloud.run.v2.Jobs.RunJob",
        AuditLog::Activity,
    );
    let operation = audited(&api, &req, meta, async |call| {
        let body: RunJobRequest = req.json("")?;
        api.control.run_job(
            call,
            req.param("project"),
            req.param("location"),
            req.param("job"),
            &body,
        )
    })
    .await?;
    ok(&operation)
}

fn requested_version(req: &Request) -> Result<i64, Error> {
    Ok(req
        .query
        .int("options.requestedPolicyVersion")?
        .unwrap_or(0))
}

/// `GET …/jobs/{job}:getIamPolicy`
pub async fn get_iam_policy(api: Api, req: Request) -> Reply {
    let meta = v2_audit(
        &api,
        &req,
        "google.cloud.run.v2.Jobs.GetIamPolicy",
        AuditLog::DataAccess,
    );
    let policy = audited(&api, &req, meta, async |call| {
        api.control.get_job_iam_policy(
            call,
            req.param("project"),
            req.param("location"),
            req.param("job"),
            requested_version(&req)?,
        )
    })
    .await?;
    ok(&policy)
}

/// `POST …/jobs/{job}:setIamPolicy`
pub async fn set_iam_policy(api: Api, req: Request) -> Reply {
    let meta = v2_audit(
        &api,
        &req,
        "google.cloud.run.v2.Jobs.SetIamPolicy",
        AuditLog::Activity,
    );
    let policy = audited(&api, &req, meta, async |call| {
        let body: SetIamPolicyRequest = req.json("")?;
        let policy =
            serde_json::to_value(body.policy.unwrap_or_default()).map_err(Error::internal)?;
        api.control.set_job_iam_policy(
            call,
            req.param("project"),
            req.param("location"),
            req.param("job"),
            &policy,
            body.update_mask.as_deref(),
        )
    })
    .await?;
    ok(&policy)
}

/// `POST …/jobs/{job}:testIamPermissions`
pub async fn test_iam_permissions(api: Api, req: Request) -> Reply {
    let meta = v2_audit(
        &api,
        &req,
        "google.cloud.run.v2.Jobs.TestIamPermissions",
        AuditLog::DataAccess,
    );
    let permissions = audited(&api, &req, meta, async |call| {
        let body: TestIamPermissionsRequest = req.json("")?;
        api.control.test_job_iam_permissions(
            call,
            req.param("project"),
            req.param("location"),
            req.param("job"),
            &body.permissions,
        )
    })
    .await?;
    ok(&TestIamPermissionsResponse { permissions })
}

/// `GET …/jobs/{job}/executions`
pub async fn list_executions(api: Api, req: Request) -> Reply {
    let meta = v2_audit(
        &api,
        &req,
        "google.cloud.run.v2.Executions.ListExecutions",
        AuditLog::DataAccess,
    );
    let page = audited(&api, &req, meta, async |call| {
        let size = page_size(&req)?;
        req.query.flag("showDeleted")?;
        api.control.list_executions(
            call,
            req.param("project"),
            req.param("location"),
            req.param("job"),
            size,
            req.query.get("pageToken").unwrap_or_default(),
        )
    })
    .await?;
    ok(&page)
}

/// `GET …/jobs/{job}/executions/{execution}`
pub async fn get_execution(api: Api, req: Request) -> Reply {
    let meta = v2_audit(
        &api,
        &req,
        "google.cloud.run.v2.Executions.GetExecution",
        AuditLog::DataAccess,
    );
    let execution = audited(&api, &req, meta, async |call| {
        api.control.get_execution(
            call,
            req.param("project"),
            req.param("location"),
            req.param("job"),
            req.param("execution"),
        )
    })
    .await?;
    ok(&execution)
}

/// `DELETE …/jobs/{job}/executions/{execution}`
pub async fn delete_execution(api: Api, req: Request) -> Reply {
    let meta = v2_audit(
        &api,
        &req,
        "google.cloud.run.v2.Executions.DeleteExecution",
        AuditLog::Activity,
    );
    let operation = audited(&api, &req, meta, async |call| {
        api.control.delete_execution(
            call,
            req.param("project"),
            req.param("location"),
            req.param("job"),
            req.param("execution"),
            req.query.get("etag"),
        )
    })
    .await?;
    ok(&operation)
}

/// The body of `executions.cancel`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CancelExecutionRequest {
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "accepted for wire compatibility; the execution name comes from the path"
    )]
    name: String,
    #[serde(default)]
    validate_only: bool,
    #[serde(default)]
    etag: String,
}

/// `POST …/jobs/{job}/executions/{execution}:cancel`
pub async fn cancel_execution(api: Api, req: Request) -> Reply {
    let meta = v2_audit(
        &api,
        &req,
        "google.cloud.run.v2.Executions.CancelExecution",
        AuditLog::Activity,
    );
    let operation = audited(&api, &req, meta, async |call| {
        let body: CancelExecutionRequest = req.json("")?;
        if body.validate_only {
            let execution = api.control.get_execution(
                call,
                req.param("project"),
                req.param("location"),
                req.param("job"),
                req.param("execution"),
            )?;
            let response = kumo_wire::protobuf::to_any("google.cloud.run.v2.Execution", &execution)
                .map_err(Error::internal)?;
            return Ok(json!({"name": "", "done": true, "response": response}));
        }
        let etag = (!body.etag.is_empty()).then_some(body.etag.as_str());
        api.control.cancel_execution(
            call,
            req.param("project"),
            req.param("location"),
            req.param("job"),
            req.param("execution"),
            etag,
            false,
        )
    })
    .await?;
    ok(&operation)
}

/// `GET …/executions/{execution}/tasks`
pub async fn list_tasks(api: Api, req: Request) -> Reply {
    let meta = v2_audit(
        &api,
        &req,
        "google.cloud.run.v2.Tasks.ListTasks",
        AuditLog::DataAccess,
    );
    let page = audited(&api, &req, meta, async |call| {
        let size = page_size(&req)?;
        api.control.list_tasks(
            call,
            req.param("project"),
            req.param("location"),
            req.param("job"),
            req.param("execution"),
            size,
            req.query.get("pageToken").unwrap_or_default(),
        )
    })
    .await?;
    ok(&page)
}

/// `GET …/executions/{execution}/tasks/{task}`
pub async fn get_task(api: Api, req: Request) -> Reply {
    let meta = v2_audit(
        &api,
        &req,
        "google.cloud.run.v2.Tasks.GetTask",
        AuditLog::DataAccess,
    );
    let task = audited(&api, &req, meta, async |call| {
        api.control.get_task(
            call,
            req.param("project"),
            req.param("location"),
            req.param("job"),
            req.param("execution"),
            req.param("task"),
        )
    })
    .await?;
    ok(&task)
}

// ---------------------------------------------------------------------------------------------
// v1 (Knative-style) jobs.

fn v1_audit(
    api: &Api,
    req: &Request,
    method: &'static str,
    log: AuditLog,
    name: &str,
    location: &str,
) -> Audited {
    let namespace = req.param("namespace");
    let project = project_id(api, namespace);
    Audited {
        service_name: RUN,
        method_name: method,
        resource_name: if name.is_empty() {
            format!("namespaces/{namespace}")
        } else {
            format!("namespaces/{namespace}/jobs/{name}")
        },
        log_parent: format!("projects/{project}"),
        log,
        resource: job_resource(&project, location, name),
    }
}

/// `us-central1` from a `Host: us-central1-run.googleapis.com` (or any `REGION-run.` host).
fn host_region(req: &Request) -> Option<String> {
    let host = req.headers.get("host")?.to_str().ok()?;
    let first = host.split('.').next()?;
    let region = first.strip_suffix("-run")?;
    (!region.is_empty()).then(|| region.to_owned())
}

/// The region of a v1 request; see the module comment.
fn v1_region(api: &Api, req: &Request, job: &str, label: Option<&str>) -> Result<String, Error> {
    if let Some(label) = label.filter(|label| !label.is_empty()) {
        return Ok(label.to_owned());
    }
    if let Some(region) = host_region(req) {
        return Ok(region);
    }
    if let Some(region) = api.control.job_location(req.param("namespace"), job)? {
        return Ok(region);
    }
    Ok(DEFAULT_REGION.to_owned())
}

/// A body as JSON or YAML (what `gcloud run jobs replace job.yaml` reads); unknown fields get
/// Google's text either way.
fn v1_body<T: DeserializeOwned>(req: &Request, root: &str) -> Result<T, Error> {
    let yaml = req
        .headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("yaml"))
        || req
            .body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|first| *first != b'{');
    if !yaml {
        return req.json(root);
    }
    serde_yaml::from_slice(&req.body).map_err(|error| {
        let text = error.to_string();
        let message = match text.split("unknown field `").nth(1).and_then(|rest| rest.split('`').next()) {
            Some(name) => format!("Invalid YAML payload received. Unknown name \"{name}\" at '{root}': Cannot find field."),
            None => format!("Invalid YAML payload received. {text}"),
        };
        Error::InvalidArgument { message: message.clone(), violations: vec![FieldViolation { field: root.to_owned(), description: message }] }
    })
}

fn conversion_error(list: Vec<kumo_wire::rpc::FieldViolation>) -> Error {
    let violations: Vec<FieldViolation> = list
        .into_iter()
        .map(|violation| FieldViolation {
            field: violation.field,
            description: violation.description,
        })
        .collect();
    let message = violations
        .iter()
        .map(|violation| violation.description.clone())
        .collect::<Vec<_>>()
        .join(" ");
    Error::InvalidArgument {
        message,
        violations,
    }
}

/// The v1 view of a stored job: `namespace` is the project number, as Google prints it.
fn v1_view(api: &Api, job: &Job) -> Result<run_v1::Job, Error> {
    let project = job.name.split('/').nth(1).unwrap_or_default();
    let number = api
        .control
        .resolve_project(project)?
        .map(|info| info.number)
        .unwrap_or_else(|| project.to_owned());
    Ok(run_v1::job_from_v2(job, &number))
}

/// The v1 job of a request body, with its region and the v2 desired state.
fn v1_request(
    api: &Api,
    req: &Request,
    name_in_path: Option<&str>,
) -> Result<(String, String, Job), Error> {
    let job: run_v1::Job = v1_body(req, "job")?;
    if let Some(name) =
        name_in_path.filter(|name| !job.metadata.name.is_empty() && job.metadata.name != *name)
    {
        return Err(Error::invalid_field(
            "metadata.name",
            format!(
                "The name \"{}\" does not match the path's \"{name}\".",
                job.metadata.name
            ),
        ));
    }
    let name = name_in_path
        .map(str::to_owned)
        .unwrap_or_else(|| job.metadata.name.clone());
    let location = v1_region(
        api,
        req,
        &name,
        job.metadata
            .labels
            .get(run_v1::LOCATION_LABEL)
            .map(String::as_str),
    )?;
    let parent = format!("projects/{}/locations/{location}", req.param("namespace"));
    let mut v2 = run_v1::job_to_v2(&job, &parent).map_err(conversion_error)?;
    if v2.name.is_empty() || name_in_path.is_some() {
        v2.name = format!("{parent}/jobs/{name}");
    }
    Ok((name, location, v2))
}

/// The job a v1 write produced, read back (the write's operation is done).
fn read_back(
    api: &Api,
    call: &Call,
    req: &Request,
    location: &str,
    name: &str,
) -> Result<run_v1::Job, Error> {
    let job = api
        .control
        .get_job(call, req.param("namespace"), location, name)?;
    v1_view(api, &job)
}

/// `POST /apis/run.googleapis.com/v1/namespaces/{namespace}/jobs`
pub async fn v1_create_job(api: Api, req: Request) -> Reply {
    let peek: Option<(String, String)> = v1_body::<run_v1::Job>(&req, "job").ok().map(|job| {
        let location = job
            .metadata
            .labels
            .get(run_v1::LOCATION_LABEL)
            .cloned()
            .unwrap_or_default();
        (job.metadata.name, location)
    });
    let (name, location) = peek.unwrap_or_default();
    let meta = v1_audit(
        &api,
        &req,
        "google.cloud.run.v1.Jobs.CreateJob",
        AuditLog::Activity,
        &name,
        &location,
    );
    let job = audited(&api, &req, meta, async |call| {
        let (name, location, v2) = v1_request(&api, &req, None)?;
        let dry_run = req.query.get("dryRun").is_some_and(|value| value == "all");
        let operation = api.control.create_job(
            call,
            req.param("namespace"),
            &location,
            &name,
            v2,
            dry_run,
            "google.cloud.run.v1.Jobs.CreateJob",
        )?;
        if dry_run {
            let job: Job = serde_json::from_value(strip_type(&operation["response"]))
                .map_err(Error::internal)?;
            return v1_view(&api, &job);
        }
        read_back(&api, call, &req, &location, &name)
    })
    .await?;
    ok(&job)
}

/// The message of an `Any` without its `@type`.
fn strip_type(any: &Value) -> Value {
    let mut value = any.clone();
    if let Some(object) = value.as_object_mut() {
        object.remove("@type");
    }
    value
}

/// `GET /apis/run.googleapis.com/v1/namespaces/{namespace}/jobs/{job}`
pub async fn v1_get_job(api: Api, req: Request) -> Reply {
    let name = req.param("job").to_owned();
    let location = v1_region(&api, &req, &name, None).unwrap_or_else(|_| DEFAULT_REGION.to_owned());
    let meta = v1_audit(
        &api,
        &req,
        "google.cloud.run.v1.Jobs.GetJob",
        AuditLog::DataAccess,
        &name,
        &location,
    );
    let job = audited(&api, &req, meta, async |call| {
        read_back(&api, call, &req, &location, &name)
    })
    .await?;
    ok(&job)
}

/// `GET /apis/run.googleapis.com/v1/namespaces/{namespace}/jobs`: every region unless the
/// host names one.
pub async fn v1_list_jobs(api: Api, req: Request) -> Reply {
    let location = host_region(&req).unwrap_or_else(|| "-".to_owned());
    let meta = v1_audit(
        &api,
        &req,
        "google.cloud.run.v1.Jobs.ListJobs",
        AuditLog::DataAccess,
        "",
        &location,
    );
    let list = audited(&api, &req, meta, async |call| {
        // The selector filters before the page is cut, so that `limit` counts matching jobs.
        let page = api
            .control
            .list_jobs(call, req.param("namespace"), &location, 0, "")?;
        let (items, next) = v1_selected_page(
            &req,
            &page.jobs,
            |r| v1_view(&api, r),
            |v| &v.metadata.labels,
        )?;
        Ok(run_v1::ListJobsResponse {
            api_version: run_v1::JOBS_API_VERSION.to_owned(),
            kind: "JobsList".to_owned(),
            metadata: run_v1::ListMeta {
                continue_token: next,
                ..run_v1::ListMeta::default()
            },
            items,
            unreachable: Vec::new(),
        })
    })
    .await?;
    ok(&list)
}

/// Kubernetes label selectors as Cloud Run v1 accepts them: `k=v`, `k==v`, `k!=v`, `k`, `!k`,
/// `k in (a,b)`, `k notin (a,b)`, joined by commas.
fn label_selector_matches(
    selector: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Result<bool, Error> {
    let invalid = || {
        Error::invalid_field(
            "labelSelector",
            format!("Invalid label selector \"{selector}\"."),
        )
    };
    let mut terms = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (index, ch) in selector.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&selector[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    terms.push(&selector[start..]);
    for term in terms
        .into_iter()
        .map(str::trim)
        .filter(|term| !term.is_empty())
    {
        let matched = if let Some((key, values)) = term.split_once(" notin ") {
            let set = set_values(values).ok_or_else(invalid)?;
            labels
                .get(key.trim())
                .is_none_or(|value| !set.contains(&value.as_str()))
        } else if let Some((key, values)) = term.split_once(" in ") {
            let set = set_values(values).ok_or_else(invalid)?;
            labels
                .get(key.trim())
                .is_some_and(|value| set.contains(&value.as_str()))
        } else if let Some((key, value)) = term.split_once("!=") {
            labels
                .get(key.trim())
                .is_none_or(|actual| actual != value.trim())
        } else if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
            labels
                .get(key.trim())
                .is_some_and(|actual| actual == value.trim())
        } else if let Some(key) = term.strip_prefix('!') {
            !labels.contains_key(key.trim())
        } else {
            labels.contains_key(term)
        };
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}

fn set_values(text: &str) -> Option<Vec<&str>> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(str::trim).collect())
}

/// `PUT /apis/run.googleapis.com/v1/namespaces/{namespace}/jobs/{job}`: replaces the job
/// (`gcloud run jobs replace`). Needs `run.jobs.update`.
pub async fn v1_replace_job(api: Api, req: Request) -> Reply {
    let name = req.param("job").to_owned();
    let label = v1_body::<run_v1::Job>(&req, "job")
        .ok()
        .and_then(|job| job.metadata.labels.get(run_v1::LOCATION_LABEL).cloned());
    let location = v1_region(&api, &req, &name, label.as_deref())
        .unwrap_or_else(|_| DEFAULT_REGION.to_owned());
    let meta = v1_audit(
        &api,
        &req,
        "google.cloud.run.v1.Jobs.ReplaceJob",
        AuditLog::Activity,
        &name,
        &location,
    );
    let job = audited(&api, &req, meta, async |call| {
        let (name, location, v2) = v1_request(&api, &req, Some(&name))?;
        let dry_run = req.query.get("dryRun").is_some_and(|value| value == "all");
        let operation = api.control.update_job(
            call,
            req.param("namespace"),
            &location,
            &name,
            v2,
            false,
            dry_run,
            true,
            "google.cloud.run.v1.Jobs.ReplaceJob",
        )?;
        if dry_run {
            let job: Job = serde_json::from_value(strip_type(&operation["response"]))
                .map_err(Error::internal)?;
            return v1_view(&api, &job);
        }
        read_back(&api, call, &req, &location, &name)
    })
    .await?;
    ok(&job)
}

/// `DELETE /apis/run.googleapis.com/v1/namespaces/{namespace}/jobs/{job}`: answers with a
/// Kubernetes `Status`.
pub async fn v1_delete_job(api: Api, req: Request) -> Reply {
    let name = req.param("job").to_owned();
    let location = v1_region(&api, &req, &name, None).unwrap_or_else(|_| DEFAULT_REGION.to_owned());
    let meta = v1_audit(
        &api,
        &req,
        "google.cloud.run.v1.Jobs.DeleteJob",
        AuditLog::Activity,
        &name,
        &location,
    );
    let status = audited(&api, &req, meta, async |call| {
        let dry_run = req.query.get("dryRun").is_some_and(|value| value == "all");
        api.control.delete_job(
            call,
            req.param("namespace"),
            &location,
            &name,
            None,
            dry_run,
        )?;
        Ok(run_v1::Status {
            api_version: "v1".to_owned(),
            kind: "Status".to_owned(),
            status: "Success".to_owned(),
            message: String::new(),
            reason: String::new(),
            code: Some(200),
        })
    })
    .await?;
    ok(&status)
}

// ---------------------------------------------------------------------------------------------
// v1 (Knative-style) jobs.run, executions and tasks: views of the same stored v2 executions and
// tasks (kumo-wire's `execution_from_v2`/`task_from_v2`).

/// The project number Google prints as the v1 namespace of a stored `projects/P/...` name.
fn namespace_of(api: &Api, name: &str) -> Result<String, Error> {
    let project = name.split('/').nth(1).unwrap_or_default();
    Ok(api
        .control
        .resolve_project(project)?
        .map(|info| info.number)
        .unwrap_or_else(|| project.to_owned()))
}

fn v1_execution(api: &Api, execution: &Execution) -> Result<run_v1::Execution, Error> {
    Ok(run_v1::execution_from_v2(
        execution,
        &namespace_of(api, &execution.name)?,
    ))
}

fn v1_task(api: &Api, task: &Task) -> Result<run_v1::Task, Error> {
    Ok(run_v1::task_from_v2(task, &namespace_of(api, &task.name)?))
}

/// Where a v1 execution (or task) lives: `(location, job, execution)`. For a name Kumo does not
/// hold, the request's region and the job the name implies (`JOB-xxxxx`, `JOB-xxxxx-taskN`), so
/// that the method still authorizes before it answers NOT_FOUND.
fn v1_place(api: &Api, req: &Request, name: &str, task: bool) -> (String, String, String) {
    if let Ok(Some(found)) = api
        .control
        .locate_execution(req.param("namespace"), name, task)
    {
        return found;
    }
    let execution = if task {
        name.rsplit_once('-')
            .map_or(name, |(execution, _)| execution)
    } else {
        name
    };
    let job = execution
        .rsplit_once('-')
        .map_or(execution, |(job, _)| job)
        .to_owned();
    let location = host_region(req).unwrap_or_else(|| DEFAULT_REGION.to_owned());
    (location, job, execution.to_owned())
}

/// The audit description of a v1 executions/tasks call.
fn v1_child_audit(
    api: &Api,
    req: &Request,
    method: &'static str,
    log: AuditLog,
    collection: &str,
    name: &str,
    place: (&str, &str),
) -> Audited {
    let namespace = req.param("namespace");
    let project = project_id(api, namespace);
    let (location, job) = place;
    Audited {
        service_name: RUN,
        method_name: method,
        resource_name: if name.is_empty() {
            format!("namespaces/{namespace}")
        } else {
            format!("namespaces/{namespace}/{collection}/{name}")
        },
        log_parent: format!("projects/{project}"),
        log,
        resource: job_resource(&project, location, job),
    }
}

/// A v1 list page: `limit` items from the `continue` offset (0 = all).
/// The v1 views of `records` that the request's `labelSelector` matches, then the page of them:
/// the selector filters before `limit` cuts, so `limit` counts matching resources.
fn v1_selected_page<R, T>(
    req: &Request,
    records: &[R],
    view: impl Fn(&R) -> Result<T, Error>,
    labels: impl Fn(&T) -> &std::collections::BTreeMap<String, String>,
) -> Result<(Vec<T>, String), Error> {
    let selector = req.query.get("labelSelector").unwrap_or_default();
    let mut items = Vec::with_capacity(records.len());
    for record in records {
        let item = view(record)?;
        if label_selector_matches(selector, labels(&item))? {
            items.push(item);
        }
    }
    v1_page(req, items)
}

fn v1_page<T>(req: &Request, items: Vec<T>) -> Result<(Vec<T>, String), Error> {
    let limit = match req.query.int("limit")? {
        Some(limit) if limit < 0 => {
            return Err(Error::invalid_field("limit", "limit must not be negative."));
        }
        Some(limit) => usize::try_from(limit).unwrap_or(usize::MAX),
        None => 0,
    };
    let start = match req.query.get("continue").unwrap_or_default() {
        "" => 0,
        token => token
            .parse::<usize>()
            .map_err(|_| Error::invalid_field("continue", "Invalid continue token."))?,
    };
    let total = items.len();
    let start = start.min(total);
    let end = if limit == 0 {
        total
    } else {
        start.saturating_add(limit).min(total)
    };
    let next = if end < total {
        end.to_string()
    } else {
        String::new()
    };
    Ok((
        items.into_iter().skip(start).take(end - start).collect(),
        next,
    ))
}

/// `POST /apis/run.googleapis.com/v1/namespaces/{namespace}/jobs/{job}:run`: starts an
/// execution and answers it as it is at start (v1 has no operation). `run.jobs.run`, and
/// `run.jobs.runWithOverrides` when overrides are sent.
pub async fn v1_run_job(api: Api, req: Request) -> Reply {
    let name = req.param("job").to_owned();
    let location = v1_region(&api, &req, &name, None).unwrap_or_else(|_| DEFAULT_REGION.to_owned());
    let meta = v1_audit(
        &api,
        &req,
        "google.cloud.run.v1.Jobs.RunJob",
        AuditLog::Activity,
        &name,
        &location,
    );
    let execution = audited(&api, &req, meta, async |call| {
        let body: run_v1::RunJobRequest = req.json("")?;
        let overrides = body
            .overrides
            .as_ref()
            .map(run_v1::overrides_to_v2)
            .transpose()
            .map_err(conversion_error)?;
        let request = RunJobRequest {
            overrides,
            ..RunJobRequest::default()
        };
        let operation =
            api.control
                .run_job(call, req.param("namespace"), &location, &name, &request)?;
        let execution: Execution =
            serde_json::from_value(strip_type(&operation["metadata"])).map_err(Error::internal)?;
        v1_execution(&api, &execution)
    })
    .await?;
    ok(&execution)
}

/// `GET …/namespaces/{namespace}/executions`: every region unless the host names one; gcloud
/// narrows to a job with `labelSelector=run.googleapis.com/job=JOB`.
pub async fn v1_list_executions(api: Api, req: Request) -> Reply {
    let location = host_region(&req);
    let meta = v1_child_audit(
        &api,
        &req,
        "google.cloud.run.v1.Executions.ListExecutions",
        AuditLog::DataAccess,
        "executions",
        "",
        (location.as_deref().unwrap_or("-"), ""),
    );
    let list = audited(&api, &req, meta, async |call| {
        let executions = api.control.list_project_executions(
            call,
            req.param("namespace"),
            location.as_deref(),
        )?;
        let (items, next) = v1_selected_page(
            &req,
            &executions,
            |r| v1_execution(&api, r),
            |v| &v.metadata.labels,
        )?;
        Ok(run_v1::ListExecutionsResponse {
            api_version: run_v1::JOBS_API_VERSION.to_owned(),
            kind: "ExecutionsList".to_owned(),
            metadata: run_v1::ListMeta {
                continue_token: next,
                ..run_v1::ListMeta::default()
            },
            items,
            unreachable: Vec::new(),
        })
    })
    .await?;
    ok(&list)
}

/// `GET …/namespaces/{namespace}/executions/{execution}`
pub async fn v1_get_execution(api: Api, req: Request) -> Reply {
    let name = req.param("execution").to_owned();
    let (location, job, execution) = v1_place(&api, &req, &name, false);
    let meta = v1_child_audit(
        &api,
        &req,
        "google.cloud.run.v1.Executions.GetExecution",
        AuditLog::DataAccess,
        "executions",
        &name,
        (&location, &job),
    );
    let view = audited(&api, &req, meta, async |call| {
        let found =
            api.control
                .get_execution(call, req.param("namespace"), &location, &job, &execution)?;
        v1_execution(&api, &found)
    })
    .await?;
    ok(&view)
}

/// `DELETE …/namespaces/{namespace}/executions/{execution}`: a running execution stops; answers
/// a Kubernetes `Status`.
pub async fn v1_delete_execution(api: Api, req: Request) -> Reply {
    let name = req.param("execution").to_owned();
    let (location, job, execution) = v1_place(&api, &req, &name, false);
    let meta = v1_child_audit(
        &api,
        &req,
        "google.cloud.run.v1.Executions.DeleteExecution",
        AuditLog::Activity,
        "executions",
        &name,
        (&location, &job),
    );
    let status = audited(&api, &req, meta, async |call| {
        api.control.delete_execution(
            call,
            req.param("namespace"),
            &location,
            &job,
            &execution,
            None,
        )?;
        Ok(run_v1::Status {
            api_version: "v1".to_owned(),
            kind: "Status".to_owned(),
            status: "Success".to_owned(),
            message: String::new(),
            reason: String::new(),
            code: Some(200),
        })
    })
    .await?;
    ok(&status)
}

/// `POST …/namespaces/{namespace}/executions/{execution}:cancel`: `run.executions.cancel` and
/// `run.jobs.run`; answers the execution as marked (its runner then stops the attempts).
pub async fn v1_cancel_execution(api: Api, req: Request) -> Reply {
    let name = req.param("execution").to_owned();
    let (location, job, execution) = v1_place(&api, &req, &name, false);
    let meta = v1_child_audit(
        &api,
        &req,
        "google.cloud.run.v1.Executions.CancelExecution",
        AuditLog::Activity,
        "executions",
        &name,
        (&location, &job),
    );
    let view = audited(&api, &req, meta, async |call| {
        let _: run_v1::CancelExecutionRequest = req.json("")?;
        let operation = api.control.cancel_execution(
            call,
            req.param("namespace"),
            &location,
            &job,
            &execution,
            None,
            true,
        )?;
        let cancelled: Execution =
            serde_json::from_value(strip_type(&operation["response"])).map_err(Error::internal)?;
        v1_execution(&api, &cancelled)
    })
    .await?;
    ok(&view)
}

/// `GET …/namespaces/{namespace}/tasks`: gcloud lists an execution's tasks with
/// `labelSelector=run.googleapis.com/execution = NAME`.
pub async fn v1_list_tasks(api: Api, req: Request) -> Reply {
    let location = host_region(&req);
    let meta = v1_child_audit(
        &api,
        &req,
        "google.cloud.run.v1.Tasks.ListTasks",
        AuditLog::DataAccess,
        "tasks",
        "",
        (location.as_deref().unwrap_or("-"), ""),
    );
    let list = audited(&api, &req, meta, async |call| {
        let tasks =
            api.control
                .list_project_tasks(call, req.param("namespace"), location.as_deref())?;
        let (items, next) =
            v1_selected_page(&req, &tasks, |r| v1_task(&api, r), |v| &v.metadata.labels)?;
        Ok(run_v1::ListTasksResponse {
            api_version: run_v1::JOBS_API_VERSION.to_owned(),
            kind: "TasksList".to_owned(),
            metadata: run_v1::ListMeta {
                continue_token: next,
                ..run_v1::ListMeta::default()
            },
            items,
            unreachable: Vec::new(),
        })
    })
    .await?;
    ok(&list)
}

/// `GET …/namespaces/{namespace}/tasks/{task}`: `run.executions.get` and `run.tasks.get`.
pub async fn v1_get_task(api: Api, req: Request) -> Reply {
    let name = req.param("task").to_owned();
    let (location, job, execution) = v1_place(&api, &req, &name, true);
    let meta = v1_child_audit(
        &api,
        &req,
        "google.cloud.run.v1.Tasks.GetTask",
        AuditLog::DataAccess,
        "tasks",
        &name,
        (&location, &job),
    );
    let view = audited(&api, &req, meta, async |call| {
        let task = api.control.get_task_v1(
            call,
            req.param("namespace"),
            &location,
            &job,
            &execution,
            &name,
        )?;
        v1_task(&api, &task)
    })
    .await?;
    ok(&view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn label_selectors() {
        let labels = BTreeMap::from([
            ("env".to_owned(), "prod".to_owned()),
            ("team".to_owned(), "a".to_owned()),
        ]);
        let cases = [
            ("", true),
            ("env=prod", true),
            ("env==prod", true),
            ("env!=prod", false),
            ("env=dev", false),
            ("team", true),
            ("!team", false),
            ("missing", false),
            ("env in (dev,prod)", true),
            ("env notin (dev,prod)", false),
            ("env=prod,team=a", true),
            ("env=prod,team=b", false),
        ];
        for (selector, expected) in cases {
            assert_eq!(
                label_selector_matches(selector, &labels).unwrap(),
                expected,
                "{selector}"
            );
        }
        assert!(label_selector_matches("env in prod", &labels).is_err());
    }
}
