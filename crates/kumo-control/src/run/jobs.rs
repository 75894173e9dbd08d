//! Cloud Run jobs (Admin API v2; v1 is another view of the same record): create, get, list,
//! update, delete, run, and the IAM trio. A job is persisted as the v2 `Job` in its wire shape;
//! output fields (`uid`, `etag`, times, `generation`, conditions, execution counters) are
//! computed from the record and the method, never taken from the client.
//!
//! Every create and update goes through the deploy-time checks of [`crate::run::deploy_checks`]
//! (`actAs` on the runtime service account, cross-project rules, image read access), in Google's
//! order after the method's own permission. `run` creates an execution and its tasks and hands
//! them to [`crate::run::executions`], which runs them in the background; the operation `run`
//! returns completes when the execution does.

use kumo_store::{ListQuery, ParentFilter, Record, Write};
use kumo_wire::protobuf::{Duration, format_timestamp};
use kumo_wire::run_v2::{
    CompletionStatus, Condition, ConditionState, Execution, ExecutionReference, Job, LaunchStage,
    ListJobsResponse, Overrides, RunJobRequest, Task, TaskTemplate,
};
use rand::Rng as _;
use serde_json::{Value, json};

use crate::records::{Collection, encode};
use crate::run::defaults;
use crate::run::deploy_checks::{Deploy, default_service_account};
use crate::run::executions::{self, ExecutionPlan};
use crate::{Call, Control, Error, ProjectInfo, ResourceRef};

/// `maxRetries` when the template does not say (Google's default).
pub const DEFAULT_MAX_RETRIES: i32 = 3;
/// Per-attempt timeout when the template does not say (Google's default: 10 minutes).
pub const DEFAULT_TASK_TIMEOUT_SECS: i64 = 600;
/// Google's upper bounds.
const MAX_RETRIES_LIMIT: i32 = 10;
const MAX_TASK_COUNT: i32 = 10_000;
const MAX_TASK_TIMEOUT_SECS: i64 = 7 * 24 * 3600;
/// Annotation and label prefixes Cloud Run reserves for itself.
const SYSTEM_PREFIXES: &[&str] = &[
    "run.googleapis.com/",
    "serving.knative.dev/",
    "autoscaling.knative.dev/",
    "cloud.googleapis.com/",
];

/// The full name of a job.
pub fn job_name(project: &str, location: &str, job: &str) -> String {
    format!("projects/{project}/locations/{location}/jobs/{job}")
}

/// Cloud Run's NOT_FOUND text for a job.
pub fn job_not_found(project: &str, location: &str, job: &str) -> Error {
    Error::not_found(format!(
        "Resource '{job}' of kind 'JOB' in region '{location}' in project '{project}' does not exist."
    ))
}

/// Job ids: lowercase letters, digits and hyphens, starting with a letter, not ending with a
/// hyphen, under 64 characters (`JOB-xxxxx` execution names must still fit 63).
pub fn validate_job_id(id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= 63
        && id.as_bytes()[0].is_ascii_lowercase()
        && !id.ends_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_field(
            "job_id",
            format!(
                "Invalid job ID \"{id}\": job names must use only lowercase alphanumeric characters and dashes, must begin with a letter, cannot end with a dash, and cannot be longer than 63 characters."
            ),
        ))
    }
}

/// The values a run uses after defaults and overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveTemplate {
    /// Tasks of the execution.
    pub task_count: i32,
    /// Tasks running at once (0 = all).
    pub parallelism: i32,
    /// The task template, with `maxRetries` and `timeout` filled in and overrides applied.
    pub template: TaskTemplate,
}

/// Applies `overrides` to a job's template (Google's rules: a container override names its
/// container, or applies to the only one; `clearArgs` empties the args; env vars are merged by
/// name; `taskCount` and `timeout` replace the template's).
pub fn effective_template(
    job: &Job,
    overrides: Option<&Overrides>,
) -> Result<EffectiveTemplate, Error> {
    let execution = job.template.clone().unwrap_or_default();
    let mut template = execution.template.clone().unwrap_or_default();
    let mut task_count = execution.task_count.unwrap_or(1);
    if let Some(overrides) = overrides {
        for (index, container_override) in overrides.container_overrides.iter().enumerate() {
            let position = if container_override.name.is_empty() {
                if template.containers.len() == 1 {
                    Some(0)
                } else {
                    None
                }
            } else {
                template
                    .containers
                    .iter()
                    .position(|container| container.name == container_override.name)
            };
            let Some(position) = position else {
                return Err(Error::invalid_field(
                    format!("overrides.container_overrides[{index}].name"),
                    format!(
                        "Container \"{}\" is not defined in the job's template.",
                        container_override.name
                    ),
                ));
            };
            let container = &mut template.containers[position];
            if container_override.clear_args {
                if !container_override.args.is_empty() {
                    return Err(Error::invalid_field(
                        format!("overrides.container_overrides[{index}].clear_args"),
                        "clear_args cannot be set together with args.",
                    ));
                }
                container.args.clear();
            } else if !container_override.args.is_empty() {
                container.args = container_override.args.clone();
            }
            for variable in &container_override.env {
                match container
                    .env
                    .iter_mut()
                    .find(|existing| existing.name == variable.name)
                {
                    Some(existing) => *existing = variable.clone(),
                    None => container.env.push(variable.clone()),
                }
            }
        }
        if let Some(count) = overrides.task_count {
            if !(1..=MAX_TASK_COUNT).contains(&count) {
                return Err(Error::invalid_field(
                    "overrides.task_count",
                    format!("task_count must be between 1 and {MAX_TASK_COUNT}."),
                ));
            }
            task_count = count;
        }
        if let Some(timeout) = &overrides.timeout {
            let parsed = Duration::parse(timeout)
                .map_err(|error| Error::invalid_field("overrides.timeout", error))?;
            validate_timeout(&parsed, "overrides.timeout")?;
            template.timeout = Some(parsed.format());
        }
    }
    template.max_retries = Some(template.max_retries.unwrap_or(DEFAULT_MAX_RETRIES));
    if template.timeout.is_none() {
        template.timeout = Some(Duration::from_secs(DEFAULT_TASK_TIMEOUT_SECS).format());
    }
    Ok(EffectiveTemplate {
        task_count,
        parallelism: execution.parallelism.unwrap_or(0),
        template,
    })
}

fn validate_timeout(timeout: &Duration, field: &str) -> Result<(), Error> {
    match timeout.to_std() {
        Some(duration)
            if !duration.is_zero() && duration.as_secs() <= MAX_TASK_TIMEOUT_SECS as u64 =>
        {
            Ok(())
        }
        _ => Err(Error::invalid_field(
            field,
            format!("timeout must be positive and at most {MAX_TASK_TIMEOUT_SECS}s."),
        )),
    }
}

/// Checks the client's desired state of a job; every violation is reported, as Google does.
pub fn validate_job(job: &Job) -> Result<(), Error> {
    // Starting an execution from create/update is not emulated; refusing beats ignoring it.
    if !job.start_execution_token.is_empty() || !job.run_execution_token.is_empty() {
        return Err(Error::Unimplemented {
            message: "Kumo does not start executions from startExecutionToken or runExecutionToken; call jobs.run instead.".to_owned(),
        });
    }
    let mut violations = Vec::new();
    let mut violation = |field: &str, description: String| {
        violations.push(crate::FieldViolation {
            field: field.to_owned(),
            description,
        });
    };
    for (field, map) in [
        ("job.annotations", &job.annotations),
        ("job.labels", &job.labels),
    ] {
        for key in map.keys() {
            if SYSTEM_PREFIXES.iter().any(|prefix| key.starts_with(prefix)) {
                violation(
                    field,
                    format!("Key \"{key}\" is in a system-reserved namespace and cannot be set."),
                );
            }
        }
    }
    match &job.template {
        None => violation(
            "job.template",
            "The job template must be specified.".to_owned(),
        ),
        Some(execution) => {
            if execution
                .task_count
                .is_some_and(|count| !(1..=MAX_TASK_COUNT).contains(&count))
            {
                violation(
                    "job.template.task_count",
                    format!("task_count must be between 1 and {MAX_TASK_COUNT}."),
                );
            }
            if execution
                .parallelism
                .is_some_and(|parallelism| parallelism < 0)
            {
                violation(
                    "job.template.parallelism",
                    "parallelism must not be negative.".to_owned(),
                );
            }
            let template = execution.template.clone().unwrap_or_default();
            if template.containers.is_empty() {
                violation(
                    "job.template.template.containers",
                    "At least one container must be specified.".to_owned(),
                );
            }
            for (index, container) in template.containers.iter().enumerate() {
                if container.image.trim().is_empty() {
                    violation(
                        &format!("job.template.template.containers[{index}].image"),
                        "The container image must be specified.".to_owned(),
                    );
                }
                if !container.ports.is_empty() {
                    violation(
                        &format!("job.template.template.containers[{index}].ports"),
                        "Jobs do not accept ports.".to_owned(),
                    );
                }
            }
            if template
                .max_retries
                .is_some_and(|retries| !(0..=MAX_RETRIES_LIMIT).contains(&retries))
            {
                violation(
                    "job.template.template.max_retries",
                    format!("max_retries must be between 0 and {MAX_RETRIES_LIMIT}."),
                );
            }
            if let Some(timeout) = &template.timeout {
                match Duration::parse(timeout) {
                    Ok(parsed) => {
                        if let Err(Error::InvalidArgument { message, .. }) =
                            validate_timeout(&parsed, "job.template.template.timeout")
                        {
                            violation("job.template.template.timeout", message);
                        }
                    }
                    Err(error) => violation("job.template.template.timeout", error),
                }
            }
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        let message = violations
            .iter()
            .map(|v| v.description.clone())
            .collect::<Vec<_>>()
            .join(" ");
        Err(Error::InvalidArgument {
            message,
            violations,
        })
    }
}

/// The `Ready` terminal condition of a job that reconciled.
/// The job as Cloud Run stores it: its template with the defaults filled in
/// ([`defaults::fill_execution_template`]), `runtime_account` being the identity the deploy
/// checks resolved.
fn with_defaults(mut job: Job, runtime_account: &str) -> Job {
    if let Some(template) = job.template.as_mut() {
        defaults::fill_execution_template(template, runtime_account);
    }
    job
}

fn ready_condition(now: &str) -> Condition {
    Condition {
        kind: "Ready".to_owned(),
        state: Some(ConditionState::Succeeded),
        last_transition_time: Some(now.to_owned()),
        ..Condition::default()
    }
}

fn any<T: serde::Serialize>(type_name: &str, message: &T) -> Result<Value, Error> {
    kumo_wire::protobuf::to_any(type_name, message).map_err(Error::internal)
}

/// A lowercase alphanumeric suffix, as Cloud Run appends to execution names.
fn random_suffix(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

impl Control {
    /// The project of a `{project}` path segment (id or number). An unknown project is refused
    /// with `permission` on the resource the caller named, so that existence is not revealed.
    pub(crate) fn run_project(
        &self,
        call: &Call,
        given: &str,
        permission: &str,
        named: &str,
    ) -> Result<ProjectInfo, Error> {
        match self.resolve_project(given)? {
            Some(project) => Ok(project),
            None => {
                self.authorize(call, permission, &ResourceRef::Project(given.to_owned()))?;
                Err(Error::permission_denied(permission, named))
            }
        }
    }

    /// The stored job, with its output fields taken from the record.
    pub(crate) fn job_view(&self, record: &Record) -> Result<Job, Error> {
        let mut job: Job = self.decode(record.clone())?.value;
        job.name = record.name.clone();
        job.uid = record.uid.clone();
        job.etag = format!("\"{}\"", record.etag);
        job.create_time = Some(format_timestamp(&record.create_time));
        job.update_time = Some(format_timestamp(&record.update_time));
        Ok(job)
    }

    fn load_job(&self, project: &str, location: &str, job: &str) -> Result<Record, Error> {
        self.store()
            .get(Collection::Jobs.as_str(), &job_name(project, location, job))
            .map_err(crate::records::store_error)?
            .ok_or_else(|| job_not_found(project, location, job))
    }

    /// Runs the deploy-time checks for a job's template; returns the runtime service account.
    fn check_job_deploy(
        &self,
        call: &Call,
        project: &ProjectInfo,
        location: &str,
        resource: &ResourceRef,
        job: &Job,
        method_name: &str,
    ) -> Result<String, Error> {
        let template = job
            .template
            .as_ref()
            .and_then(|execution| execution.template.as_ref());
        let service_account = template
            .map(|template| template.service_account.as_str())
            .unwrap_or("");
        let images: Vec<&str> = template
            .map(|template| {
                template
                    .containers
                    .iter()
                    .map(|c| c.image.as_str())
                    .collect()
            })
            .unwrap_or_default();
        self.check_deploy(
            call,
            &Deploy {
                project,
                location,
                resource,
                service_account,
                images,
                method_name,
            },
            None,
        )
    }

    /// `jobs.create` (v2 `CreateJob`, v1 `namespaces.jobs.create`). Returns the operation, done:
    /// a job has nothing to start until it is run.
    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors the request message's fields"
    )]
    pub fn create_job(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job_id: &str,
        job: Job,
        validate_only: bool,
        method_name: &str,
    ) -> Result<Value, Error> {
        let permission = "run.jobs.create";
        let named = job_name(project, location, job_id);
        let project = self.run_project(call, project, permission, &named)?;
        let resource = ResourceRef::RunJob {
            project: project.id.clone(),
            location: location.to_owned(),
            job: job_id.to_owned(),
        };
        self.authorize(call, permission, &resource)?;
        validate_job_id(job_id)?;
        validate_job(&job)?;
        let runtime_account =
            self.check_job_deploy(call, &project, location, &resource, &job, method_name)?;
        let job = with_defaults(job, &runtime_account);
        let name = job_name(&project.id, location, job_id);
        self.check_job_custom_constraints(&resource, &project.number, &name, &job, true)?;
        if self.load::<Value>(Collection::Jobs, &name)?.is_some() {
            return Err(Error::already_exists(format!(
                "Resource '{job_id}' already exists."
            )));
        }
        let now = format_timestamp(&self.now());
        let creator = call.caller.email().unwrap_or_default().to_owned();
        let stored = Job {
            name: name.clone(),
            generation: Some(1),
            observed_generation: Some(1),
            creator: creator.clone(),
            last_modifier: creator,
            launch_stage: job.launch_stage.or(Some(LaunchStage::Ga)),
            terminal_condition: Some(ready_condition(&now)),
            execution_count: None,
            latest_created_execution: None,
            reconciling: false,
            uid: String::new(),
            etag: String::new(),
            create_time: None,
            update_time: None,
            delete_time: None,
            expire_time: None,
            conditions: Vec::new(),
            ..job
        };
        if validate_only {
            return Ok(
                json!({"name": "", "done": true, "response": any("google.cloud.run.v2.Job", &stored)?}),
            );
        }
        let records = self
            .commit(&[Write::Create {
                collection: Collection::Jobs.as_str().to_owned(),
                name: name.clone(),
                parent: Some(format!("projects/{}/locations/{location}", project.id)),
                data: encode(&stored)?,
            }])
            .map_err(|error| match error {
                Error::AlreadyExists { .. } => {
                    Error::already_exists(format!("Resource '{job_id}' already exists."))
                }
                other => other,
            })?;
        let record = records
            .first()
            .ok_or_else(|| Error::internal("create returned no record"))?;
        let view = self.job_view(record)?;
        let operation = self.start_operation(
            &project.id,
            location,
            any("google.cloud.run.v2.Job", &view)?,
        )?;
        let operation_name = operation["name"].as_str().unwrap_or_default().to_owned();
        self.finish_operation(
            &operation_name,
            None,
            Ok(any("google.cloud.run.v2.Job", &view)?),
        )
    }

    /// `jobs.get`.
    pub fn get_job(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job: &str,
    ) -> Result<Job, Error> {
        let permission = "run.jobs.get";
        let project =
            self.run_project(call, project, permission, &job_name(project, location, job))?;
        let resource = ResourceRef::RunJob {
            project: project.id.clone(),
            location: location.to_owned(),
            job: job.to_owned(),
        };
        self.authorize(call, permission, &resource)?;
        let record = self.load_job(&project.id, location, job)?;
        self.job_view(&record)
    }

    /// The jobs of a location, newest first (Google's order); `location` `-` lists every
    /// location. The page token is the offset into that order.
    pub fn list_jobs(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        page_size: usize,
        page_token: &str,
    ) -> Result<ListJobsResponse, Error> {
        let permission = "run.jobs.list";
        let project = self.run_project(
            call,
            project,
            permission,
            &format!("projects/{project}/locations/{location}"),
        )?;
        self.authorize(call, permission, &ResourceRef::Project(project.id.clone()))?;
        let parent = if location == "-" {
            ParentFilter::StartsWith(format!("projects/{}/locations/", project.id))
        } else {
            ParentFilter::Is(format!("projects/{}/locations/{location}", project.id))
        };
        let mut records = self.list_under(Collection::Jobs, parent)?;
        records.sort_by(|a, b| {
            b.create_time
                .cmp(&a.create_time)
                .then_with(|| a.name.cmp(&b.name))
        });
        let (start, end, next) = page_window(records.len(), page_size, page_token)?;
        let jobs = records[start..end]
            .iter()
            .map(|record| self.job_view(record))
            .collect::<Result<_, _>>()?;
        Ok(ListJobsResponse {
            jobs,
            next_page_token: next,
        })
    }

    /// `jobs.patch` (v2 `UpdateJob`; v1 `replaceJob` with `v1 = true`, which needs only
    /// `run.jobs.update`). The body is the whole desired job. With `allow_missing`, a missing
    /// job is created (and `run.jobs.create` is needed too).
    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors the request message's fields"
    )]
    pub fn update_job(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job_id: &str,
        job: Job,
        allow_missing: bool,
        validate_only: bool,
        v1: bool,
        method_name: &str,
    ) -> Result<Value, Error> {
        let named = job_name(project, location, job_id);
        let project = self.run_project(call, project, "run.jobs.update", &named)?;
        let resource = ResourceRef::RunJob {
            project: project.id.clone(),
            location: location.to_owned(),
            job: job_id.to_owned(),
        };
        self.authorize(call, "run.jobs.update", &resource)?;
        if !v1 {
            self.authorize(call, "run.jobs.get", &resource)?;
        }
        let name = job_name(&project.id, location, job_id);
        let Some(record) = self
            .store()
            .get(Collection::Jobs.as_str(), &name)
            .map_err(crate::records::store_error)?
        else {
            if allow_missing {
                self.authorize(call, "run.jobs.create", &resource)?;
                return self.create_job(
                    call,
                    &project.id,
                    location,
                    job_id,
                    job,
                    validate_only,
                    method_name,
                );
            }
            return Err(job_not_found(&project.id, location, job_id));
        };
        let current = self.job_view(&record)?;
        let sent_etag = job.etag.trim_matches('"');
        if !sent_etag.is_empty() && sent_etag != record.etag {
            return Err(Error::aborted(format!(
                "The etag \"{}\" does not match the current etag of {name}; the job was changed concurrently.",
                job.etag
            )));
        }
        validate_job(&job)?;
        let runtime_account =
            self.check_job_deploy(call, &project, location, &resource, &job, method_name)?;
        let job = with_defaults(job, &runtime_account);
        self.check_job_custom_constraints(&resource, &project.number, &name, &job, false)?;
        let spec_changed = job.template != current.template
            || job.labels != current.labels
            || job.annotations != current.annotations
            || job.binary_authorization != current.binary_authorization;
        let generation = current.generation.unwrap_or(1) + i64::from(spec_changed);
        let now = format_timestamp(&self.now());
        let stored = Job {
            name: name.clone(),
            uid: String::new(),
            etag: String::new(),
            create_time: None,
            update_time: None,
            delete_time: None,
            expire_time: None,
            generation: Some(generation),
            observed_generation: Some(generation),
            creator: current.creator.clone(),
            last_modifier: call.caller.email().unwrap_or_default().to_owned(),
            launch_stage: job.launch_stage.or(current.launch_stage),
            terminal_condition: Some(ready_condition(&now)),
            conditions: Vec::new(),
            execution_count: current.execution_count,
            latest_created_execution: current.latest_created_execution.clone(),
            reconciling: false,
            satisfies_pzs: current.satisfies_pzs,
            ..job
        };
        if validate_only {
            return Ok(
                json!({"name": "", "done": true, "response": any("google.cloud.run.v2.Job", &stored)?}),
            );
        }
        let records = self.commit(&[Write::Update {
            collection: Collection::Jobs.as_str().to_owned(),
            name: name.clone(),
            data: encode(&stored)?,
            expected_revision: Some(record.revision),
        }])?;
        let record = records
            .first()
            .ok_or_else(|| Error::internal("update returned no record"))?;
        let view = self.job_view(record)?;
        let operation = self.start_operation(
            &project.id,
            location,
            any("google.cloud.run.v2.Job", &view)?,
        )?;
        let operation_name = operation["name"].as_str().unwrap_or_default().to_owned();
        self.finish_operation(
            &operation_name,
            None,
            Ok(any("google.cloud.run.v2.Job", &view)?),
        )
    }

    /// `jobs.delete`: removes the job, its executions and tasks (running ones stop: their
    /// runner sees the execution gone) and its IAM policy. Returns the done operation whose
    /// response is the deleted job.
    pub fn delete_job(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job_id: &str,
        etag: Option<&str>,
        validate_only: bool,
    ) -> Result<Value, Error> {
        let permission = "run.jobs.delete";
        let project = self.run_project(
            call,
            project,
            permission,
            &job_name(project, location, job_id),
        )?;
        let resource = ResourceRef::RunJob {
            project: project.id.clone(),
            location: location.to_owned(),
            job: job_id.to_owned(),
        };
        self.authorize(call, permission, &resource)?;
        let record = self.load_job(&project.id, location, job_id)?;
        if let Some(etag) = etag
            .map(|etag| etag.trim_matches('"'))
            .filter(|etag| !etag.is_empty() && *etag != record.etag)
        {
            return Err(Error::aborted(format!(
                "The etag \"{etag}\" does not match the current etag of {}.",
                record.name
            )));
        }
        let mut view = self.job_view(&record)?;
        view.delete_time = Some(format_timestamp(&self.now()));
        if validate_only {
            return Ok(
                json!({"name": "", "done": true, "response": any("google.cloud.run.v2.Job", &view)?}),
            );
        }
        let mut writes = Vec::new();
        for collection in [Collection::Tasks, Collection::Executions] {
            let page = self
                .store()
                .list(
                    collection.as_str(),
                    &ListQuery {
                        name_prefix: Some(format!("{}/executions/", record.name)),
                        ..ListQuery::default()
                    },
                )
                .map_err(crate::records::store_error)?;
            writes.extend(page.records.into_iter().map(|child| Write::HardDelete {
                collection: collection.as_str().to_owned(),
                name: child.name,
                expected_revision: None,
            }));
        }
        writes.push(Write::HardDelete {
            collection: Collection::Jobs.as_str().to_owned(),
            name: record.name.clone(),
            expected_revision: Some(record.revision),
        });
        if self
            .load::<Value>(Collection::IamPolicies, &resource.full_name())?
            .is_some()
        {
            writes.push(Write::HardDelete {
                collection: Collection::IamPolicies.as_str().to_owned(),
                name: resource.full_name(),
                expected_revision: None,
            });
        }
        self.commit(&writes)?;
        self.invalidate_iam();
        let operation = self.start_operation(
            &project.id,
            location,
            any("google.cloud.run.v2.Job", &view)?,
        )?;
        let operation_name = operation["name"].as_str().unwrap_or_default().to_owned();
        self.finish_operation(
            &operation_name,
            None,
            Ok(any("google.cloud.run.v2.Job", &view)?),
        )
    }

    /// `jobs.run`: needs `run.jobs.run`, and `run.jobs.runWithOverrides` when overrides are
    /// sent. Creates the execution and its tasks, starts running them, and returns the operation,
    /// which completes (with the final `Execution`) when the execution does.
    pub fn run_job(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job_id: &str,
        request: &RunJobRequest,
    ) -> Result<Value, Error> {
        let named = job_name(project, location, job_id);
        let project = self.run_project(call, project, "run.jobs.run", &named)?;
        let resource = ResourceRef::RunJob {
            project: project.id.clone(),
            location: location.to_owned(),
            job: job_id.to_owned(),
        };
        self.authorize(call, "run.jobs.run", &resource)?;
        let overrides = request
            .overrides
            .as_ref()
            .filter(|overrides| **overrides != Overrides::default());
        if overrides.is_some() {
            self.authorize(call, "run.jobs.runWithOverrides", &resource)?;
        }
        let record = self.load_job(&project.id, location, job_id)?;
        let etag = request.etag.trim_matches('"');
        if !etag.is_empty() && etag != record.etag {
            return Err(Error::aborted(format!(
                "The etag does not match the current etag of {}.",
                record.name
            )));
        }
        let job = self.job_view(&record)?;
        let effective = effective_template(&job, overrides)?;
        let now = self.now();
        let now_text = format_timestamp(&now);
        let execution_id = format!("{job_id}-{}", random_suffix(5));
        let execution_name = format!("{}/executions/{execution_id}", record.name);
        let service_account = if effective.template.service_account.is_empty() {
            default_service_account(&project.number)
        } else {
            effective.template.service_account.clone()
        };
        let execution_template = job.template.clone().unwrap_or_default();
        let log_filter = format!(
            "resource.type = \"cloud_run_job\"\nresource.labels.job_name = \"{job_id}\"\nresource.labels.location = \"{location}\"\nlabels.\"run.googleapis.com/execution_name\" = \"{execution_id}\""
        );
        let creator = call.caller.email().unwrap_or_default().to_owned();
        let execution = Execution {
            name: execution_name.clone(),
            creator: creator.clone(),
            generation: Some(1),
            observed_generation: Some(1),
            labels: execution_template.labels.clone(),
            annotations: execution_template.annotations.clone(),
            launch_stage: job.launch_stage,
            job: job_id.to_owned(),
            parallelism: Some(effective.parallelism),
            task_count: Some(effective.task_count),
            template: Some(effective.template.clone()),
            reconciling: true,
            conditions: executions::initial_conditions(&now_text),
            running_count: None,
            log_uri: crate::logging::logs_link(
                &self.config().external_url,
                &project.id,
                &log_filter,
            ),
            ..Execution::default()
        };
        if request.validate_only {
            return Ok(
                json!({"name": "", "done": true, "response": any("google.cloud.run.v2.Execution", &execution)?}),
            );
        }
        let mut writes = vec![Write::Create {
            collection: Collection::Executions.as_str().to_owned(),
            name: execution_name.clone(),
            parent: Some(record.name.clone()),
            data: encode(&execution)?,
        }];
        for index in 0..effective.task_count {
            let task = Task {
                name: executions::task_name(&execution_name, &execution_id, index),
                generation: Some(1),
                observed_generation: Some(1),
                labels: execution_template.labels.clone(),
                job: job_id.to_owned(),
                execution: execution_id.clone(),
                containers: effective.template.containers.clone(),
                volumes: effective.template.volumes.clone(),
                max_retries: effective.template.max_retries,
                timeout: effective.template.timeout.clone(),
                service_account: effective.template.service_account.clone(),
                execution_environment: effective.template.execution_environment,
                index: Some(index),
                retried: None,
                reconciling: true,
                conditions: executions::pending_task_conditions(&now_text),
                log_uri: execution.log_uri.clone(),
                ..Task::default()
            };
            writes.push(Write::Create {
                collection: Collection::Tasks.as_str().to_owned(),
                name: task.name.clone(),
                parent: Some(execution_name.clone()),
                data: encode(&task)?,
            });
        }
        let mut updated: Job = self.decode(record.clone())?.value;
        updated.execution_count = Some(updated.execution_count.unwrap_or(0) + 1);
        updated.latest_created_execution = Some(ExecutionReference {
            name: execution_name.clone(),
            create_time: Some(now_text.clone()),
            completion_status: Some(CompletionStatus::ExecutionPending),
            ..ExecutionReference::default()
        });
        writes.push(Write::Update {
            collection: Collection::Jobs.as_str().to_owned(),
            name: record.name.clone(),
            data: encode(&updated)?,
            expected_revision: Some(record.revision),
        });
        let records = self.commit(&writes)?;
        let created = records
            .first()
            .ok_or_else(|| Error::internal("run returned no record"))?;
        let view = self.execution_view(created)?;
        let operation = self.start_operation(
            &project.id,
            location,
            any("google.cloud.run.v2.Execution", &view)?,
        )?;
        let operation_name = operation["name"].as_str().unwrap_or_default().to_owned();
        let timeout = effective
            .template
            .timeout
            .as_deref()
            .and_then(|timeout| Duration::parse(timeout).ok())
            .and_then(|timeout| timeout.to_std())
            .unwrap_or(std::time::Duration::from_secs(
                DEFAULT_TASK_TIMEOUT_SECS as u64,
            ));
        executions::spawn(
            self.clone(),
            ExecutionPlan {
                execution_name,
                execution_id,
                operation_name,
                job_name: record.name.clone(),
                job_id: job_id.to_owned(),
                project,
                location: location.to_owned(),
                task_count: effective.task_count,
                parallelism: effective.parallelism,
                max_retries: effective
                    .template
                    .max_retries
                    .unwrap_or(DEFAULT_MAX_RETRIES),
                timeout,
                template: effective.template,
                service_account,
            },
        )?;
        Ok(operation)
    }

    /// `jobs.getIamPolicy`.
    pub fn get_job_iam_policy(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job: &str,
        requested_version: i64,
    ) -> Result<Value, Error> {
        let permission = "run.jobs.getIamPolicy";
        let resource = self.existing_job(call, project, location, job, permission)?;
        self.get_iam_policy(call, &resource, permission, requested_version)
    }

    /// `jobs.setIamPolicy`.
    pub fn set_job_iam_policy(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job: &str,
        policy: &Value,
        update_mask: Option<&str>,
    ) -> Result<Value, Error> {
        let permission = "run.jobs.setIamPolicy";
        let resource = self.existing_job(call, project, location, job, permission)?;
        self.set_iam_policy(call, &resource, permission, policy, update_mask)
    }

    /// `jobs.testIamPermissions` (no permission needed to ask).
    pub fn test_job_iam_permissions(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job: &str,
        permissions: &[String],
    ) -> Result<Vec<String>, Error> {
        let project = self
            .resolve_project(project)?
            .map(|info| info.id)
            .unwrap_or_else(|| project.to_owned());
        let resource = ResourceRef::RunJob {
            project,
            location: location.to_owned(),
            job: job.to_owned(),
        };
        self.test_iam_permissions(call, &resource, permissions)
    }

    fn existing_job(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        job: &str,
        permission: &str,
    ) -> Result<ResourceRef, Error> {
        let project =
            self.run_project(call, project, permission, &job_name(project, location, job))?;
        let resource = ResourceRef::RunJob {
            project: project.id.clone(),
            location: location.to_owned(),
            job: job.to_owned(),
        };
        self.authorize(call, permission, &resource)?;
        self.load_job(&project.id, location, job)?;
        Ok(resource)
    }

    /// v1 addresses jobs by namespace and name only: the location of an existing job named
    /// `job` in `project` (the first one, by location, when several regions hold one).
    pub fn job_location(&self, project: &str, job: &str) -> Result<Option<String>, Error> {
        let Some(project) = self.resolve_project(project)? else {
            return Ok(None);
        };
        let page = self
            .store()
            .list(
                Collection::Jobs.as_str(),
                &ListQuery {
                    parent: ParentFilter::StartsWith(format!("projects/{}/locations/", project.id)),
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?;
        Ok(page.records.iter().find_map(|record| {
            let rest = record
                .name
                .strip_prefix(&format!("projects/{}/locations/", project.id))?;
            let (location, name) = rest.split_once("/jobs/")?;
            (name == job).then(|| location.to_owned())
        }))
    }
}

/// The window `[start, end)` of a list of `len` items for an offset page token, and the next
/// token. Page size 0 means all.
pub(crate) fn page_window(
    len: usize,
    page_size: usize,
    page_token: &str,
) -> Result<(usize, usize, String), Error> {
    let start = if page_token.is_empty() {
        0
    } else {
        page_token
            .parse::<usize>()
            .map_err(|_| Error::invalid_field("page_token", "Invalid page token."))?
    };
    let start = start.min(len);
    let size = if page_size == 0 {
        len
    } else {
        page_size.min(1000)
    };
    let end = start.saturating_add(size).min(len);
    let next = if end < len {
        end.to_string()
    } else {
        String::new()
    };
    Ok((start, end, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kumo_wire::run_v2::{Container, ContainerOverride, EnvVar, ExecutionTemplate};

    fn job_with(containers: Vec<Container>) -> Job {
        Job {
            template: Some(ExecutionTemplate {
                task_count: Some(3),
                template: Some(TaskTemplate {
                    containers,
                    ..TaskTemplate::default()
                }),
                ..ExecutionTemplate::default()
            }),
            ..Job::default()
        }
    }

    fn container(name: &str, args: &[&str]) -> Container {
        Container {
            name: name.to_owned(),
            image: "us-docker.pkg.dev/cloudrun/container/job".to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: vec![EnvVar {
                name: "A".to_owned(),
                value: Some("1".to_owned()),
                ..EnvVar::default()
            }],
            ..Container::default()
        }
    }

    #[test]
    fn defaults_fill_retries_and_timeout() {
        let effective = effective_template(&job_with(vec![container("", &[])]), None).unwrap();
        assert_eq!(effective.task_count, 3);
        assert_eq!(effective.parallelism, 0);
        assert_eq!(effective.template.max_retries, Some(3));
        assert_eq!(effective.template.timeout.as_deref(), Some("600s"));
    }

    #[test]
    fn overrides_replace_args_merge_env_and_counts() {
        let job = job_with(vec![container("main", &["a"])]);
        let overrides = Overrides {
            container_overrides: vec![ContainerOverride {
                name: "main".to_owned(),
                args: vec!["b".to_owned()],
                env: vec![
                    EnvVar {
                        name: "A".to_owned(),
                        value: Some("2".to_owned()),
                        ..EnvVar::default()
                    },
                    EnvVar {
                        name: "B".to_owned(),
                        value: Some("3".to_owned()),
                        ..EnvVar::default()
                    },
                ],
                clear_args: false,
            }],
            task_count: Some(5),
            timeout: Some("30s".to_owned()),
        };
        let effective = effective_template(&job, Some(&overrides)).unwrap();
        let container = &effective.template.containers[0];
        assert_eq!(container.args, vec!["b"]);
        assert_eq!(
            container
                .env
                .iter()
                .map(|e| (e.name.as_str(), e.value.as_deref().unwrap_or("")))
                .collect::<Vec<_>>(),
            vec![("A", "2"), ("B", "3")]
        );
        assert_eq!(effective.task_count, 5);
        assert_eq!(effective.template.timeout.as_deref(), Some("30s"));
    }

    #[test]
    fn bad_overrides_are_refused() {
        let job = job_with(vec![container("main", &["a"]), container("side", &[])]);
        let cases = [
            Overrides {
                container_overrides: vec![ContainerOverride {
                    name: "nope".into(),
                    ..ContainerOverride::default()
                }],
                ..Overrides::default()
            },
            Overrides {
                container_overrides: vec![ContainerOverride::default()],
                ..Overrides::default()
            },
            Overrides {
                container_overrides: vec![ContainerOverride {
                    name: "main".into(),
                    args: vec!["x".into()],
                    clear_args: true,
                    ..ContainerOverride::default()
                }],
                ..Overrides::default()
            },
            Overrides {
                task_count: Some(0),
                ..Overrides::default()
            },
            Overrides {
                timeout: Some("0s".into()),
                ..Overrides::default()
            },
            Overrides {
                timeout: Some("soon".into()),
                ..Overrides::default()
            },
        ];
        for overrides in cases {
            assert!(
                matches!(
                    effective_template(&job, Some(&overrides)),
                    Err(Error::InvalidArgument { .. })
                ),
                "{overrides:?}"
            );
        }
    }

    #[test]
    fn job_ids_and_templates_are_validated() {
        for good in ["job", "my-job-1"] {
            assert!(validate_job_id(good).is_ok());
        }
        for bad in ["", "Job", "1job", "job-", "jo_b", &"j".repeat(64)] {
            assert!(validate_job_id(bad).is_err(), "{bad}");
        }
        assert!(validate_job(&job_with(vec![container("", &[])])).is_ok());
        let error = validate_job(&Job::default()).unwrap_err();
        assert!(error.to_string().contains("template"));
        let mut bad = job_with(vec![Container::default()]);
        bad.annotations
            .insert("run.googleapis.com/foo".into(), "x".into());
        let Error::InvalidArgument { violations, .. } = validate_job(&bad).unwrap_err() else {
            panic!()
        };
        assert_eq!(violations.len(), 2, "{violations:?}");
    }

    #[test]
    fn execution_tokens_are_refused_not_ignored() {
        let mut job = job_with(vec![container("", &[])]);
        job.start_execution_token = "now".into();
        assert!(matches!(
            validate_job(&job),
            Err(Error::Unimplemented { .. })
        ));
    }

    #[test]
    fn page_windows() {
        assert_eq!(page_window(5, 2, "").unwrap(), (0, 2, "2".to_owned()));
        assert_eq!(page_window(5, 2, "4").unwrap(), (4, 5, String::new()));
        assert_eq!(page_window(5, 0, "").unwrap(), (0, 5, String::new()));
        assert!(page_window(5, 2, "x").is_err());
    }
}
