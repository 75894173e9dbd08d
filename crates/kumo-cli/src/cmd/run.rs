//! `run …`: Cloud Run through the Admin API v1 (Knative objects), as gcloud does.
//!
//! Paths: services, revisions and their IAM use the regional v1 form
//! `/v1/projects/P/locations/R/services[/S]` (Google's documented v1 paths; the Knative
//! `namespaces/P` form carries no region, which gcloud gets from a regional host instead). Jobs
//! exist in v1 only as `/apis/run.googleapis.com/v1/namespaces/P/jobs…`; their region travels in
//! the `cloud.googleapis.com/location` label. A service listing without a region uses the
//! namespaces form, which spans all regions as gcloud's does. Executions are read through v1
//! (`/apis/run.googleapis.com/v1/namespaces/P/executions`), as gcloud reads them; job runs and
//! cancellations use v2 (`/v2/projects/P/locations/R/…`). Kumo serves revisions in v2 only:
//! they are fetched there and printed as the v1 (Knative) objects gcloud prints
//! (`kumo_wire::run_v1::revision_from_v2`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::{
    Deploy, JobFlags, JobWriteArgs, RunCmd, RunExecutionsCmd, RunJobsCmd, RunRevisionsCmd,
    RunServicesCmd, ServiceFlags, TrafficFlags,
};
use crate::cmd::{basename, wait_operation};
use crate::context::{Columns, Ctx, Listing, s};
use crate::error::{CliError, Result};
use crate::format::Keys;
use crate::http::enc;
use crate::policy::{self, PolicyApi};

mod flags;
mod traffic;

const LOCATION_LABEL: &str = "cloud.googleapis.com/location";
const INVOKER_IAM_DISABLED: &str = "run.googleapis.com/invoker-iam-disabled";
const IAP_ENABLED: &str = "run.googleapis.com/iap-enabled";
const CLIENT_NAME: &str = "run.googleapis.com/client-name";
/// How long a deploy waits for the service to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(600);

pub fn run(ctx: &mut Ctx<'_>, cmd: RunCmd) -> Result<()> {
    match cmd {
        RunCmd::Deploy(d) => deploy(ctx, d),
        RunCmd::Services(s) => services(ctx, s.cmd),
        RunCmd::Jobs(j) => jobs(ctx, j.cmd),
        RunCmd::Revisions(r) => revisions(ctx, r.cmd),
    }
}

/// Get, list, replace and IAM: the regional v1 form.
fn services_path(p: &str, r: &str) -> String {
    format!("/v1/projects/{}/locations/{}/services", enc(p), enc(r))
}

fn service_path(p: &str, r: &str, s: &str) -> String {
    format!("{}/{}", services_path(p, r), enc(s))
}

/// Create and delete exist in v1 only in the Knative form (Google has no
/// `projects.locations.services.create`); the region rides in the location label on create and
/// is resolved by name on delete.
fn knative_services_path(p: &str) -> String {
    format!(
        "/apis/serving.knative.dev/v1/namespaces/{}/services",
        enc(p)
    )
}

fn jobs_path(p: &str) -> String {
    format!("/apis/run.googleapis.com/v1/namespaces/{}/jobs", enc(p))
}

/// Runs and executions use v2 (region-explicit); Kumo serves no v1 `executions`.
fn jobs_v2_path(p: &str, r: &str) -> String {
    format!("/v2/projects/{}/locations/{}/jobs", enc(p), enc(r))
}

/// An execution is named `JOB-xxxxx`; v2 addresses it under its job.
fn execution_path(p: &str, r: &str, execution: &str) -> String {
    let job = execution.rsplit_once('-').map_or(execution, |(j, _)| j);
    format!(
        "{}/{}/executions/{}",
        jobs_v2_path(p, r),
        enc(job),
        enc(execution)
    )
}

/// v1 executions (Knative-style namespace path).
fn executions_v1_path(p: &str) -> String {
    format!(
        "/apis/run.googleapis.com/v1/namespaces/{}/executions",
        enc(p)
    )
}

/// What gcloud's Cloud Run resource wrappers (`k8s_object` and its subclasses) answer besides
/// the object's fields, for `--format` and `--filter` keys (`value(name)`, `region=…`).
const RUN_ATTRS: &[(&str, &str)] = &[
    ("name", "metadata.name"),
    ("namespace", "metadata.namespace"),
    ("region", "metadata.labels.'cloud.googleapis.com/location'"),
    (
        "author",
        "firstof(metadata.annotations.'serving.knative.dev/creator', metadata.annotations.'run.googleapis.com/creator')",
    ),
    ("creation_timestamp", "metadata.creationTimestamp"),
    ("generation", "metadata.generation"),
    ("labels", "metadata.labels"),
    ("annotations", "metadata.annotations"),
    ("uid", "metadata.uid"),
    ("self_link", "metadata.selfLink"),
    ("conditions", "status.conditions"),
    ("domain", "status.url"),
    ("url", "status.url"),
    (
        "last_modifier",
        "metadata.annotations.'serving.knative.dev/lastModifier'",
    ),
    ("latest_ready_revision", "status.latestReadyRevisionName"),
    (
        "latest_created_revision",
        "status.latestCreatedRevisionName",
    ),
    (
        "service_name",
        "metadata.labels.'serving.knative.dev/service'",
    ),
    ("job_name", "metadata.labels.'run.googleapis.com/job'"),
];

const RUN_KEYS: Keys = Keys {
    labels: &[],
    attrs: RUN_ATTRS,
};

/// `run … list --uri`: the object's v1 `selfLink` on the API endpoint.
fn self_link(v: &Value) -> Option<String> {
    v["metadata"]["selfLink"].as_str().map(str::to_owned)
}

fn service_policy(p: &str, r: &str, s: &str) -> PolicyApi {
    PolicyApi::at("GET", &service_path(p, r, s), "service", s)
}

/// gcloud's own text for a resource that does not exist: its commands turn the API's 404 into
/// a client-side message (`Cannot find service [S]`, `Job [J] could not be found.`).
fn or_missing<T>(result: Result<T>, message: impl FnOnce() -> String) -> Result<T> {
    match result {
        Err(e) if e.is_not_found() => Err(CliError::Msg(message())),
        other => other,
    }
}

/// Fetches a resource, mapping 404 to `None`.
fn get_opt(ctx: &mut Ctx<'_>, path: &str) -> Result<Option<Value>> {
    match ctx.get(path) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The value at `path`, turning every step into an object first (IndexMut would panic on a
/// non-object; a malformed user YAML gets repaired here and judged by the server instead).
fn ensure<'v>(mut v: &'v mut Value, path: &[&str]) -> &'v mut Value {
    for k in path {
        if !v.is_object() {
            *v = json!({});
        }
        v = &mut v[*k];
    }
    v
}

/// The existing value at `path`, creating nothing.
fn existing<'v>(v: &'v mut Value, path: &[&str]) -> Option<&'v mut Value> {
    path.iter().try_fold(v, |cur, k| cur.get_mut(*k))
}

fn remove_key(v: &mut Value, path: &[&str], key: &str) {
    if let Some(m) = existing(v, path).and_then(Value::as_object_mut) {
        m.remove(key);
    }
}

fn first_container(spec: &mut Value) -> &mut Value {
    let containers = ensure(spec, &["containers"]);
    if containers.as_array().is_none_or(Vec::is_empty) {
        *containers = json!([{}]);
    }
    ensure(&mut containers[0], &[])
}

/// `run jobs execute --update-env-vars`: gcloud's `ArgDict`.
fn parse_env(pairs: &[String]) -> Result<Vec<(String, String)>> {
    flags::arg_dict("update-env-vars", pairs)
}

/// Applies deploy/update flags to a Knative Service object (gcloud's
/// `GetServiceConfigurationChanges`).
fn apply_service_flags(svc: &mut Value, f: &ServiceFlags) -> Result<()> {
    const ANN: &[&str] = &["metadata", "annotations"];
    // Validate every typed value before changing anything.
    let min = f
        .min_instances
        .as_deref()
        .map(flags::scale_value)
        .transpose()?;
    let max = f
        .max_instances
        .as_deref()
        .map(flags::scale_value)
        .transpose()?;
    let concurrency = f
        .concurrency
        .as_deref()
        .map(flags::concurrency_value)
        .transpose()?;
    let port = f.port.as_deref().map(flags::port_value).transpose()?;
    let timeout = f
        .timeout
        .as_deref()
        .map(|t| flags::duration_secs("timeout", t))
        .transpose()?;
    if f.no_invoker_iam_check {
        *ensure(svc, &["metadata", "annotations", INVOKER_IAM_DISABLED]) = json!("true");
    } else if f.invoker_iam_check {
        remove_key(svc, ANN, INVOKER_IAM_DISABLED);
    }
    if f.iap {
        *ensure(svc, &["metadata", "annotations", IAP_ENABLED]) = json!("true");
    } else if f.no_iap {
        remove_key(svc, ANN, IAP_ENABLED);
    }
    if let Some(ingress) = &f.ingress {
        if !["all", "internal", "internal-and-cloud-load-balancing"].contains(&ingress.as_str()) {
            return Err(CliError::Usage(format!(
                "argument --ingress: Invalid choice: '{ingress}'. Valid choices are [all, internal, internal-and-cloud-load-balancing]."
            )));
        }
        *ensure(
            svc,
            &["metadata", "annotations", "run.googleapis.com/ingress"],
        ) = json!(ingress);
    }
    if let Some(d) = &f.description {
        *ensure(
            svc,
            &["metadata", "annotations", "run.googleapis.com/description"],
        ) = json!(d);
    }
    apply_custom_audiences(svc, f)?;
    flags::apply_labels(svc, &["spec", "template", "metadata"], &f.container)?;
    let template = ensure(svc, &["spec", "template"]);
    // A new revision gets a generated name; keeping the old one would collide.
    remove_key(template, &["metadata"], "name");
    for (value, key) in [
        (min, "autoscaling.knative.dev/minScale"),
        (max, "autoscaling.knative.dev/maxScale"),
    ] {
        match value {
            // gcloud drops minScale for `default` and for 0; maxScale only for `default`.
            Some(Some(n)) if n > 0 || key.ends_with("maxScale") => {
                *ensure(template, &["metadata", "annotations", key]) = json!(n.to_string());
            }
            Some(_) => remove_key(template, &["metadata", "annotations"], key),
            None => {}
        }
    }
    // gcloud writes str(bool): 'True' / 'False'.
    for (on, off, key) in [
        (f.cpu_throttling, f.no_cpu_throttling, flags::CPU_THROTTLING),
        (f.cpu_boost, f.no_cpu_boost, flags::CPU_BOOST),
    ] {
        if on || off {
            *ensure(template, &["metadata", "annotations", key]) =
                json!(if on { "True" } else { "False" });
        }
    }
    if let Some(env) = &f.container.execution_environment {
        *ensure(
            template,
            &["metadata", "annotations", flags::EXECUTION_ENVIRONMENT],
        ) = json!(env);
    }
    *ensure(template, &["metadata", "annotations", CLIENT_NAME]) = json!("kumo");
    let spec = ensure(template, &["spec"]);
    if let Some(sa) = &f.service_account {
        *ensure(spec, &["serviceAccountName"]) = json!(sa);
    }
    match concurrency {
        Some(Some(c)) => *ensure(spec, &["containerConcurrency"]) = json!(c),
        Some(None) => remove_key(spec, &[], "containerConcurrency"),
        None => {}
    }
    if let Some(t) = timeout {
        *ensure(spec, &["timeoutSeconds"]) = json!(t);
    }
    let container = first_container(spec);
    if let Some(image) = &f.image {
        *ensure(container, &["image"]) = json!(image);
    }
    match port {
        Some(Some(p)) => {
            let name = container["ports"][0]["name"]
                .as_str()
                .unwrap_or("http1")
                .to_owned();
            *ensure(container, &["ports"]) = json!([{"name": name, "containerPort": p}]);
        }
        Some(None) => remove_key(container, &[], "ports"),
        None => {}
    }
    flags::apply_container(container, &f.container)?;
    Ok(())
}

/// gcloud's `CustomAudiencesChanges`: add (no duplicates), remove, clear or set the JSON list in
/// the service's `run.googleapis.com/custom-audiences` annotation (gone when empty).
fn apply_custom_audiences(svc: &mut Value, f: &ServiceFlags) -> Result<()> {
    const KEY: &str = "run.googleapis.com/custom-audiences";
    let add = flags::arg_list(&f.add_custom_audiences)?;
    let remove = flags::arg_list(&f.remove_custom_audiences)?;
    let set = flags::arg_list(&f.set_custom_audiences)?;
    if add.is_empty() && remove.is_empty() && set.is_empty() && !f.clear_custom_audiences {
        return Ok(());
    }
    let current: Vec<String> = existing(svc, &["metadata", "annotations", KEY])
        .and_then(|v| v.as_str())
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let audiences: Vec<String> = if !remove.is_empty() {
        current
            .into_iter()
            .filter(|a| !remove.contains(a))
            .collect()
    } else if !add.is_empty() {
        let mut all = current;
        for a in add {
            if !all.contains(&a) {
                all.push(a);
            }
        }
        all
    } else if f.clear_custom_audiences {
        Vec::new()
    } else {
        set
    };
    if audiences.is_empty() {
        remove_key(svc, &["metadata", "annotations"], KEY);
    } else {
        *ensure(svc, &["metadata", "annotations", KEY]) = json!(json!(audiences).to_string());
    }
    Ok(())
}

fn new_service(project: &str, region: &str, name: &str) -> Value {
    json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": project, "labels": {LOCATION_LABEL: region}, "annotations": {}},
        "spec": {"template": {"metadata": {"annotations": {}}, "spec": {"containers": [{}]}}}
    })
}

/// Strips what the server owns before sending an object back.
fn writable(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
    }
    v
}

/// Whether `after` (as sent) changes `before`'s revision template. The template's name is
/// dropped before sending unless a suffix names the new revision, so only `before`'s is ignored.
/// Empty maps and lists that applying flags creates on the way (`ensure`) change nothing.
fn adjusts_template(before: &Value, after: &Value) -> bool {
    fn pruned(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), pruned(v)))
                    .filter(|(_, v)| !is_empty(v))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(pruned).collect()),
            v => v.clone(),
        }
    }
    fn is_empty(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Object(m) => m.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => false,
        }
    }
    // The client's name goes on the template only with another change to it (gcloud's
    // `set_on_template`), so it is no change by itself.
    let bare = |v: &Value, name: bool| {
        let mut t = v["spec"]["template"].clone();
        remove_key(&mut t, &["metadata", "annotations"], CLIENT_NAME);
        if name {
            remove_key(&mut t, &["metadata"], "name");
        }
        pruned(&t)
    };
    bare(before, true) != bare(after, false)
}

fn ready_condition(v: &Value) -> Option<&Value> {
    v["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready" || c["type"] == "Completed")
}

/// Polls until the object's Ready condition settles for its current generation, with a spinner
/// on a terminal (erased before the result lines, so captured output has none).
fn wait_ready(ctx: &mut Ctx<'_>, path: &str, written: &Value) -> Result<Value> {
    // The generation the write produced: an older, still-ready state must not end the wait.
    let min_generation = written["metadata"]["generation"].as_i64().unwrap_or(0);
    let result = poll_ready(ctx, path, min_generation);
    if ctx.env.stderr_is_tty {
        let _ = write!(ctx.err, "\r\x1b[K");
    }
    result
}

fn poll_ready(ctx: &mut Ctx<'_>, path: &str, min_generation: i64) -> Result<Value> {
    const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
    let start = Instant::now();
    let mut delay = Duration::from_millis(200);
    for tick in 0usize.. {
        let v = ctx.get(path)?;
        let observed = v["status"]["observedGeneration"].as_i64().unwrap_or(0);
        let generation = v["metadata"]["generation"].as_i64().unwrap_or(0);
        if observed >= generation.max(min_generation) {
            match ready_condition(&v).map(|c| c["status"].as_str().unwrap_or("")) {
                Some("True") => return Ok(v),
                Some("False") => {
                    let c = ready_condition(&v).cloned().unwrap_or_default();
                    let msg = c["message"]
                        .as_str()
                        .filter(|m| !m.is_empty())
                        .unwrap_or("the resource did not become ready");
                    return Err(CliError::Msg(msg.to_owned()));
                }
                _ => {}
            }
        }
        if start.elapsed() > READY_TIMEOUT {
            break;
        }
        if ctx.env.stderr_is_tty {
            let _ = write!(
                ctx.err,
                "\r{} Waiting for the resource to become ready...",
                FRAMES[tick % FRAMES.len()]
            );
            let _ = ctx.err.flush();
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_secs(2));
    }
    Err(CliError::Msg(format!(
        "Timed out after {}s waiting for the resource to become ready.",
        READY_TIMEOUT.as_secs()
    )))
}

fn serving_lines(ctx: &mut Ctx<'_>, name: &str, svc: &Value) {
    let revision = svc["status"]["latestReadyRevisionName"]
        .as_str()
        .or(svc["status"]["latestCreatedRevisionName"].as_str())
        .unwrap_or("")
        .to_owned();
    // gcloud's GetSuccessMessageForSynchronousDeploy: the revision's share, the service URL
    // when it serves any, and a tag's URL that reaches the revision directly.
    let targets = svc["status"]["traffic"].as_array();
    let of_revision: Vec<&Value> = targets
        .into_iter()
        .flatten()
        .filter(|t| t["revisionName"] == revision.as_str())
        .collect();
    let percent: i64 = match targets {
        Some(_) => of_revision
            .iter()
            .filter_map(|t| t["percent"].as_i64())
            .sum(),
        None => 100,
    };
    let tag_url = of_revision
        .iter()
        .find(|t| t["tag"].as_str().is_some_and(|t| !t.is_empty()))
        .and_then(|t| t["url"].as_str())
        .map(str::to_owned);
    ctx.status(&format!(
        "Service [{name}] revision [{revision}] has been deployed and is serving {percent} percent of traffic."
    ));
    if percent > 0 {
        ctx.status(&format!("Service URL: {}", s(svc, "status.url")));
    }
    if let Some(url) = tag_url {
        ctx.status(&format!("The revision can be reached directly at {url}"));
    }
}

fn deploy(ctx: &mut Ctx<'_>, d: Deploy) -> Result<()> {
    let project = ctx.project()?;
    let region = ctx.region()?;
    let name = d.service.clone();
    let path = service_path(&project, &region, &name);
    let existing = get_opt(ctx, &path)?;
    let is_new = existing.is_none();
    if is_new && d.flags.image.is_none() {
        return Err(CliError::Usage(
            "Missing required argument [--image]: a new service needs a container image."
                .to_owned(),
        ));
    }
    // gcloud asks only for a new service, only on a terminal, and only when neither flag decided.
    let mut allow_unauth = if d.allow_unauthenticated {
        Some(true)
    } else if d.no_allow_unauthenticated {
        Some(false)
    } else {
        None
    };
    if allow_unauth.is_none() && is_new && ctx.env.stdin_is_tty && !ctx.quiet() {
        let _ = write!(
            ctx.err,
            "Allow unauthenticated invocations to [{name}] (y/N)?  "
        );
        let _ = ctx.err.flush();
        let answer = ctx.read_line()?;
        allow_unauth = Some(answer.trim().to_lowercase().starts_with('y'));
    }
    ctx.status(&format!(
        "Deploying container to Cloud Run service [{name}] in project [{project}] region [{region}]"
    ));
    let mut svc = existing
        .clone()
        .map(writable)
        .unwrap_or_else(|| new_service(&project, &region, &name));
    apply_service_flags(&mut svc, &d.flags)?;
    traffic::apply_deploy_flags(&mut svc, existing.as_ref(), &name, &d.traffic)?;
    let sent = if is_new {
        ctx.post(&knative_services_path(&project), &svc)
    } else {
        ctx.call("PUT", &path, &[], Some(&svc))
    };
    if d.traffic.async_ {
        if let Err(e) = sent {
            ctx.status("Deployment failed");
            return Err(e);
        }
        if let Some(allow) = allow_unauth {
            set_public(ctx, &service_policy(&project, &region, &name), allow)?;
        }
        ctx.status(&format!("Service [{name}] is deploying asynchronously."));
        return Ok(());
    }
    let ready = match sent.and_then(|w| wait_ready(ctx, &path, &w)) {
        Ok(v) => v,
        Err(e) => {
            ctx.status("Deployment failed");
            return Err(e);
        }
    };
    ctx.status(if is_new {
        "OK Deploying new service... Done."
    } else {
        "OK Deploying... Done."
    });
    ctx.status("  OK Creating Revision...");
    ctx.status("  OK Routing traffic...");
    if let Some(allow) = allow_unauth {
        let api = service_policy(&project, &region, &name);
        let result = set_public(ctx, &api, allow);
        match result {
            Ok(true) => ctx.status("  OK Setting IAM Policy..."),
            Ok(false) => {}
            Err(e) => {
                ctx.status("  X Setting IAM Policy...");
                ctx.status("Done.");
                serving_lines(ctx, &name, &ready);
                ctx.status(&format!(
                    "WARNING: Setting IAM policy failed, try \"{} run services add-iam-policy-binding --region={region} --member=allUsers --role=roles/run.invoker {name}\"\n{e}",
                    ctx.prog
                ));
                return Ok(());
            }
        }
    }
    ctx.status("Done.");
    serving_lines(ctx, &name, &ready);
    Ok(())
}

/// Replaces the service at `path` with `svc` and, unless `asynchronous`, waits until it is
/// ready; `Ok(false)` when it did not wait. On failure prints `failed` (gcloud's tracker line).
fn replace_service_and_wait(
    ctx: &mut Ctx<'_>,
    path: &str,
    svc: &Value,
    asynchronous: bool,
    failed: &str,
) -> Result<bool> {
    let outcome = ctx.call("PUT", path, &[], Some(svc)).and_then(|written| {
        if asynchronous {
            Ok(false)
        } else {
            wait_ready(ctx, path, &written).map(|_| true)
        }
    });
    if outcome.is_err() {
        ctx.status(failed);
    }
    outcome
}

/// Grants or revokes allUsers → roles/run.invoker; `Ok(false)` when nothing had to change.
fn set_public(ctx: &mut Ctx<'_>, api: &PolicyApi, allow: bool) -> Result<bool> {
    let mut p = policy::get(ctx, api)?;
    if allow {
        policy::add_binding(&mut p, "allUsers", "roles/run.invoker", None);
    } else if policy::remove_binding(&mut p, "allUsers", "roles/run.invoker", None).is_err() {
        return Ok(false);
    }
    policy::set(ctx, api, &p)?;
    Ok(true)
}

/// gcloud's `run services list` table (`firstof(id,metadata.name):label=SERVICE`,
/// `region:label=REGION`, `domain:label=URL`, …).
const SERVICES: Listing = Listing {
    columns: SERVICE_COLUMNS,
    keys: Keys {
        labels: &[
            ("SERVICE", "metadata.name"),
            ("REGION", "metadata.labels.'cloud.googleapis.com/location'"),
            ("URL", "status.url"),
        ],
        attrs: RUN_ATTRS,
    },
    uri: Some(self_link),
    title: None,
};

const SERVICE_COLUMNS: Columns = &[
    ("", |v| {
        crate::printer::ready_symbol(v, "Service").to_owned()
    }),
    ("SERVICE", |v| s(v, "metadata.name")),
    ("REGION", |v| {
        v["metadata"]["labels"][LOCATION_LABEL]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }),
    ("URL", |v| s(v, "status.url")),
    ("LAST DEPLOYED BY", |v| {
        v["metadata"]["annotations"]["serving.knative.dev/lastModifier"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }),
    ("LAST DEPLOYED AT", |v| {
        ready_condition(v)
            .map(|c| s(c, "lastTransitionTime"))
            .unwrap_or_default()
    }),
];

fn services(ctx: &mut Ctx<'_>, cmd: RunServicesCmd) -> Result<()> {
    let project = ctx.project()?;
    match cmd {
        RunServicesCmd::List { list } => {
            ctx.list = list;
            let region = ctx
                .global
                .region
                .clone()
                .or_else(|| ctx.props.get("run/region"));
            let path = match &region {
                Some(r) => services_path(&project, r),
                None => knative_services_path(&project),
            };
            let mut items = ctx.list_all(&path, &[], "items")?;
            sort_by_name(&mut items);
            ctx.print_listing(&items, &SERVICES)
        }
        RunServicesCmd::Describe { service } => {
            let region = ctx.region()?;
            let v = or_missing(ctx.get(&service_path(&project, &region, &service)), || {
                format!("Cannot find service [{service}]")
            })?;
            if ctx.global.format.is_none() {
                ctx.stdout(&crate::printer::service(&v));
                return Ok(());
            }
            ctx.print_one_with(&v, &RUN_KEYS)
        }
        RunServicesCmd::Update {
            service,
            flags,
            traffic,
        } => {
            let asked = TrafficFlags {
                async_: false,
                ..traffic.clone()
            };
            if *flags == ServiceFlags::default() && asked == TrafficFlags::default() {
                // gcloud's NoConfigurationChangeError (exit 1, not a usage error).
                return Err(CliError::Msg(
                    "No configuration change requested. Did you mean to include the flags \
                     `--update-env-vars`, `--memory`, `--concurrency`, `--timeout`, \
                     `--connectivity`, `--image`?"
                        .to_owned(),
                ));
            }
            let region = ctx.region()?;
            let path = service_path(&project, &region, &service);
            let existing = or_missing(ctx.get(&path), || {
                format!("Service [{service}] could not be found.")
            })?;
            let mut svc = writable(existing.clone());
            apply_service_flags(&mut svc, &flags)?;
            traffic::apply_deploy_flags(&mut svc, Some(&existing), &service, &traffic)?;
            // gcloud (`config_changes.AdjustsTemplate`): only a template change makes a
            // revision; service-level settings (invoker IAM check, ingress, IAP, …) are an
            // update with no stages and another result line.
            let creates_revision = adjusts_template(&existing, &svc);
            if !creates_revision {
                // Exactly the template Cloud Run has: no revision to make.
                svc["spec"]["template"] = existing["spec"]["template"].clone();
            }
            let (failed, doing) = if creates_revision {
                ("Deployment failed", "deploying")
            } else {
                ("Update failed", "updating")
            };
            if !replace_service_and_wait(ctx, &path, &svc, traffic.async_, failed)? {
                ctx.status(&format!("Service [{service}] is {doing} asynchronously."));
                return Ok(());
            }
            let ready = ctx.get(&path)?;
            // gcloud's staged tracker: stages indented under the header it completes.
            if !creates_revision {
                ctx.status("OK Updating... Done.");
                ctx.status("Done.");
                ctx.status(&format!("Service [{service}] has been updated."));
                return Ok(());
            }
            ctx.status("OK Deploying... Done.");
            ctx.status("  OK Creating Revision...");
            if traffic::has_latest(&existing) {
                ctx.status("  OK Routing traffic...");
            }
            ctx.status("Done.");
            serving_lines(ctx, &service, &ready);
            Ok(())
        }
        RunServicesCmd::UpdateTraffic(u) => {
            let region = ctx.region()?;
            let path = service_path(&project, &region, &u.service);
            let mut svc = writable(or_missing(ctx.get(&path), || {
                format!("Service [{}] could not be found.", u.service)
            })?);
            svc["spec"]["traffic"] = traffic::updated(&svc["spec"]["traffic"], &u)?;
            if !replace_service_and_wait(ctx, &path, &svc, u.async_, "Updating traffic failed")? {
                ctx.status("Updating traffic asynchronously.");
                return Ok(());
            }
            let ready = ctx.get(&path)?;
            ctx.status("OK Updating traffic... Done.");
            ctx.status("  OK Routing traffic...");
            ctx.status("Done.");
            if ctx.global.format.is_none() {
                ctx.stdout(&crate::printer::traffic(&ready));
                return Ok(());
            }
            ctx.print_one_with(&ready, &RUN_KEYS)
        }
        RunServicesCmd::Delete { service } => {
            ctx.confirm(&format!("Service [{service}] will be deleted."), true)?;
            let path = format!("{}/{}", knative_services_path(&project), enc(&service));
            // gcloud's progress tracker line, then log.DeletedResource.
            or_missing(ctx.call("DELETE", &path, &[], None), || {
                format!("Service [{service}] could not be found.")
            })?;
            ctx.status(&format!("Deleting [{service}]...done."));
            ctx.status(&format!("Deleted service [{service}]."));
            Ok(())
        }
        RunServicesCmd::Replace { file } => replace_service(ctx, &project, &file),
        RunServicesCmd::GetIamPolicy { service } => {
            let region = ctx.region()?;
            policy::show(ctx, &service_policy(&project, &region, &service))
        }
        RunServicesCmd::SetIamPolicy {
            service,
            policy_file,
        } => {
            let region = ctx.region()?;
            let p = policy::read_policy_file(&policy_file)?;
            let api = service_policy(&project, &region, &service);
            let updated = policy::set(ctx, &api, &p)?;
            ctx.status(&format!("Updated IAM policy for service [{service}]."));
            ctx.print_one(&updated)
        }
        RunServicesCmd::AddIamPolicyBinding { service, binding } => {
            let region = ctx.region()?;
            policy::change_binding(
                ctx,
                &service_policy(&project, &region, &service),
                &binding,
                true,
            )
        }
        RunServicesCmd::RemoveIamPolicyBinding { service, binding } => {
            let region = ctx.region()?;
            policy::change_binding(
                ctx,
                &service_policy(&project, &region, &service),
                &binding,
                false,
            )
        }
    }
}

fn read_resource_file(path: &str) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Msg(format!("Unable to read file [{path}]: {e}")))?;
    crate::cmd::parse_yaml_or_json(&text, path)
}

/// The region a YAML names in its location label, else `--region`/`run/region`.
fn region_of(ctx: &mut Ctx<'_>, v: &Value) -> Result<String> {
    match v["metadata"]["labels"][LOCATION_LABEL].as_str() {
        Some(r) => Ok(r.to_owned()),
        None => ctx.region(),
    }
}

fn name_of(v: &Value, kind: &str, file: &str) -> Result<String> {
    if v["kind"] != kind {
        return Err(CliError::Msg(format!(
            "Expected a {kind} in [{file}], got kind [{}].",
            v["kind"].as_str().unwrap_or("")
        )));
    }
    v["metadata"]["name"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| CliError::Msg(format!("[{file}] has no metadata.name.")))
}

fn replace_service(ctx: &mut Ctx<'_>, project: &str, file: &str) -> Result<()> {
    let mut svc = read_resource_file(file)?;
    let name = name_of(&svc, "Service", file)?;
    let region = region_of(ctx, &svc)?;
    // Annotation values are strings in Knative; YAML authors write bare `true` (seed 000).
    stringify_annotations(&mut svc);
    let path = service_path(project, &region, &name);
    ctx.status(&format!(
        "Applying new configuration to Cloud Run service [{name}] in project [{project}] region [{region}]"
    ));
    let exists = get_opt(ctx, &path)?.is_some();
    let sent = if exists {
        ctx.call("PUT", &path, &[], Some(&svc))
    } else {
        // The namespaces path carries no region: name it with the location label, as deploy does.
        if let Some(meta) = svc.get_mut("metadata").and_then(Value::as_object_mut) {
            let labels = meta.entry("labels").or_insert_with(|| json!({}));
            if let Some(labels) = labels.as_object_mut() {
                labels
                    .entry("cloud.googleapis.com/location")
                    .or_insert_with(|| json!(region));
            }
        }
        ctx.post(&knative_services_path(project), &svc)
    };
    let ready = match sent.and_then(|w| wait_ready(ctx, &path, &w)) {
        Ok(v) => v,
        Err(e) => {
            ctx.status("Deployment failed");
            return Err(e);
        }
    };
    ctx.status(if exists {
        "OK Deploying... Done."
    } else {
        "OK Deploying new service... Done."
    });
    ctx.status("  OK Creating Revision...");
    ctx.status("  OK Routing traffic...");
    ctx.status("Done.");
    ctx.status(&format!(
        "New configuration has been applied to service [{name}]."
    ));
    ctx.status(&format!("URL: {}", s(&ready, "status.url")));
    Ok(())
}

fn stringify_annotations(v: &mut Value) {
    for path in [
        &["metadata", "annotations"][..],
        &["spec", "template", "metadata", "annotations"][..],
    ] {
        if let Some(m) = existing(v, path).and_then(Value::as_object_mut) {
            for val in m.values_mut() {
                if !val.is_string() {
                    *val = json!(crate::format::render_scalar(val).to_lowercase());
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------- jobs

/// Applies create/update/deploy flags to a v1 Job (gcloud's `GetJobConfigurationChanges`).
fn apply_job_flags(job: &mut Value, f: &JobFlags) -> Result<()> {
    let timeout = f
        .task_timeout
        .as_deref()
        .map(|t| flags::duration_secs("task-timeout", t))
        .transpose()?;
    flags::apply_labels(job, &["spec", "template", "metadata"], &f.container)?;
    let execution = ensure(job, &["spec", "template"]);
    if let Some(env) = &f.container.execution_environment {
        *ensure(
            execution,
            &["metadata", "annotations", flags::EXECUTION_ENVIRONMENT],
        ) = json!(env);
    }
    let exec_spec = ensure(execution, &["spec"]);
    if let Some(t) = f.tasks {
        *ensure(exec_spec, &["taskCount"]) = json!(t);
    }
    if let Some(p) = f.parallelism {
        *ensure(exec_spec, &["parallelism"]) = json!(p);
    }
    let task_spec = ensure(exec_spec, &["template", "spec"]);
    if let Some(sa) = &f.service_account {
        *ensure(task_spec, &["serviceAccountName"]) = json!(sa);
    }
    if let Some(r) = f.max_retries {
        *ensure(task_spec, &["maxRetries"]) = json!(r);
    }
    if let Some(secs) = timeout {
        *ensure(task_spec, &["timeoutSeconds"]) = json!(secs);
    }
    let container = first_container(task_spec);
    if let Some(image) = &f.image {
        *ensure(container, &["image"]) = json!(image);
    }
    flags::apply_container(container, &f.container)
}

fn new_job(project: &str, region: &str, name: &str) -> Value {
    json!({
        "apiVersion": "run.googleapis.com/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": project, "labels": {LOCATION_LABEL: region}, "annotations": {}},
        "spec": {"template": {"spec": {"template": {"spec": {"containers": [{}]}}}}}
    })
}

/// gcloud's `run jobs list` table.
const JOBS: Listing = Listing {
    columns: JOB_COLUMNS,
    keys: Keys {
        labels: &[
            ("JOB", "metadata.name"),
            ("REGION", "metadata.labels.'cloud.googleapis.com/location'"),
            (
                "CREATED",
                "metadata.creationTimestamp.date('%Y-%m-%d %H:%M:%S %Z')",
            ),
        ],
        attrs: RUN_ATTRS,
    },
    uri: Some(self_link),
    title: None,
};

const JOB_COLUMNS: Columns = &[
    ("", |v| crate::printer::ready_symbol(v, "Job").to_owned()),
    ("JOB", |v| s(v, "metadata.name")),
    ("REGION", |v| {
        v["metadata"]["labels"][LOCATION_LABEL]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }),
    ("LAST RUN AT", |v| {
        deployed_at(&s(v, "status.latestCreatedExecution.creationTimestamp"))
    }),
    ("CREATED", |v| {
        deployed_at(&s(v, "metadata.creationTimestamp"))
    }),
    ("CREATED BY", |v| {
        let ann = &v["metadata"]["annotations"];
        ann["serving.knative.dev/creator"]
            .as_str()
            .or(ann["run.googleapis.com/creator"].as_str())
            .unwrap_or("")
            .to_owned()
    }),
];

/// gcloud's ✔/X/… of an execution from its v1 `Completed` condition.
fn execution_symbol(v: &Value) -> String {
    let completed = v["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Completed"));
    match completed.and_then(|c| c["status"].as_str()) {
        Some("True") => "✔",
        Some("False") => "X",
        _ => "…",
    }
    .to_owned()
}

/// gcloud's `run jobs executions list` table, from v1 Executions.
const EXECUTIONS: Listing = Listing {
    columns: &[
        ("", execution_symbol),
        ("JOB", |v| {
            v["metadata"]["labels"]["run.googleapis.com/job"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        }),
        ("EXECUTION", |v| s(v, "metadata.name")),
        ("REGION", |v| {
            v["metadata"]["labels"][LOCATION_LABEL]
                .as_str()
                .unwrap_or("")
                .to_owned()
        }),
        ("RUNNING", |v| {
            v["status"]["runningCount"]
                .as_i64()
                .unwrap_or(0)
                .to_string()
        }),
        ("COMPLETE", |v| {
            format!(
                "{} / {}",
                v["status"]["succeededCount"].as_i64().unwrap_or(0),
                v["spec"]["taskCount"].as_i64().unwrap_or(0)
            )
        }),
        ("CREATED", |v| {
            deployed_at(&s(v, "metadata.creationTimestamp"))
        }),
        ("RUN BY", |v| {
            v["metadata"]["annotations"]["run.googleapis.com/creator"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        }),
    ],
    keys: Keys {
        labels: &[
            ("JOB", "metadata.labels.'run.googleapis.com/job'"),
            ("EXECUTION", "metadata.name"),
            ("REGION", "metadata.labels.'cloud.googleapis.com/location'"),
            ("RUNNING", "status.runningCount.yesno(no='0')"),
            (
                "CREATED",
                "metadata.creationTimestamp.date('%Y-%m-%d %H:%M:%S %Z')",
            ),
        ],
        attrs: RUN_ATTRS,
    },
    uri: Some(self_link),
    title: None,
};

fn jobs(ctx: &mut Ctx<'_>, cmd: RunJobsCmd) -> Result<()> {
    let project = ctx.project()?;
    let job_path = |j: &str| format!("{}/{}", jobs_path(&project), enc(j));
    match cmd {
        RunJobsCmd::Create(args) => write_job(ctx, &project, &args, JobWrite::Create),
        RunJobsCmd::Update(args) => write_job(ctx, &project, &args, JobWrite::Update),
        RunJobsCmd::Deploy(args) => write_job(ctx, &project, &args, JobWrite::Deploy),
        RunJobsCmd::Describe { job } => {
            let v = or_missing(ctx.get(&job_path(&job)), || {
                format!("Cannot find job [{job}].")
            })?;
            if ctx.global.format.is_none() {
                ctx.stdout(&crate::printer::job(&v));
                return Ok(());
            }
            ctx.print_one_with(&v, &RUN_KEYS)
        }
        RunJobsCmd::List { list } => {
            ctx.list = list;
            let items = ctx.list_all(&jobs_path(&project), &[], "items")?;
            let mut items = filter_region(ctx, items);
            sort_by_name(&mut items);
            ctx.print_listing(&items, &JOBS)
        }
        RunJobsCmd::Delete { job } => {
            ctx.confirm(&format!("Job [{job}] will be deleted."), true)?;
            or_missing(ctx.call("DELETE", &job_path(&job), &[], None), || {
                format!("Job [{job}] could not be found.")
            })?;
            ctx.status(&format!("Deleting [{job}]...done."));
            ctx.status(&format!("Deleted job [{job}]."));
            Ok(())
        }
        RunJobsCmd::Execute {
            job,
            wait,
            args,
            update_env_vars,
            tasks,
            task_timeout,
        } => {
            // gcloud's execution overrides: ArgList/ArgDict values (`^DELIM^` too); an explicit
            // `--args=` overrides the arguments with none.
            let mut overrides = json!({});
            let env = parse_env(&update_env_vars)?;
            let arg_values = flags::arg_list(&args)?;
            if !args.is_empty() || !env.is_empty() {
                let mut c = json!({});
                if !args.is_empty() {
                    c["args"] = json!(arg_values);
                }
                if !env.is_empty() {
                    c["env"] = json!(
                        env.iter()
                            .map(|(k, v)| json!({"name": k, "value": v}))
                            .collect::<Vec<_>>()
                    );
                }
                overrides["containerOverrides"] = json!([c]);
            }
            if let Some(t) = tasks {
                overrides["taskCount"] = json!(t);
            }
            if let Some(t) = task_timeout {
                let secs = flags::duration_secs("task-timeout", &t)?;
                overrides["timeout"] = json!(format!("{secs}s"));
            }
            execute(ctx, &project, &job, wait, overrides)
        }
        RunJobsCmd::Replace { file } => {
            let mut v = read_resource_file(&file)?;
            let name = name_of(&v, "Job", &file)?;
            let region = region_of(ctx, &v)?;
            *ensure(&mut v, &["metadata", "labels", LOCATION_LABEL]) = json!(region);
            stringify_annotations(&mut v);
            let path = job_path(&name);
            ctx.status(&format!(
                "Applying new configuration to Cloud Run job [{name}] in project [{project}] region [{region}]"
            ));
            let exists = get_opt(ctx, &path)?.is_some();
            let sent = if exists {
                ctx.call("PUT", &path, &[], Some(&v))
            } else {
                ctx.post(&jobs_path(&project), &v)
            };
            if let Err(e) = sent.and_then(|w| wait_ready(ctx, &path, &w)) {
                ctx.status("Job failed to deploy");
                return Err(e);
            }
            ctx.status("OK Applying new configuration... Done.");
            ctx.status(&format!(
                "New configuration has been applied to job [{name}]."
            ));
            Ok(())
        }
        RunJobsCmd::Executions(e) => executions(ctx, &project, e.cmd),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum JobWrite {
    Create,
    Update,
    Deploy,
}

/// `run jobs create|update|deploy`: gcloud's header, the write, the wait, its success line and
/// the hint to execute; `--execute-now`/`--wait` run the job afterwards.
fn write_job(ctx: &mut Ctx<'_>, project: &str, args: &JobWriteArgs, mode: JobWrite) -> Result<()> {
    let (job, flags, wait) = (args.job.as_str(), args.flags.as_ref(), args.wait);
    // --wait implies --execute-now.
    let execute_now = args.execute_now || wait;
    let region = ctx.region()?;
    let path = format!("{}/{}", jobs_path(project), enc(job));
    let current = match mode {
        JobWrite::Create => None,
        JobWrite::Update => Some(or_missing(ctx.get(&path), || {
            format!("Job [{job}] could not be found.")
        })?),
        JobWrite::Deploy => get_opt(ctx, &path)?,
    };
    let creating = current.is_none();
    if creating && flags.image.is_none() {
        return Err(CliError::Usage(
            "Missing required argument [--image].".to_owned(),
        ));
    }
    let mut v = current
        .map(writable)
        .unwrap_or_else(|| new_job(project, &region, job));
    apply_job_flags(&mut v, flags)?;
    let verb = match mode {
        JobWrite::Create => "Creating",
        JobWrite::Update => "Updating",
        JobWrite::Deploy => "Deploying container to",
    };
    ctx.status(&format!(
        "{verb} Cloud Run job [{job}] in project [{project}] region [{region}]"
    ));
    let sent = if creating {
        ctx.post(&jobs_path(project), &v)
    } else {
        ctx.call("PUT", &path, &[], Some(&v))
    };
    if let Err(e) = sent.and_then(|w| wait_ready(ctx, &path, &w)) {
        ctx.status("Job failed to deploy");
        return Err(e);
    }
    ctx.status(if creating {
        "OK Creating job... Done."
    } else {
        "OK Updating job... Done."
    });
    let done = match mode {
        JobWrite::Create => "been created",
        JobWrite::Update => "been updated",
        JobWrite::Deploy => "been deployed",
    };
    ctx.status(&format!("Job [{job}] has successfully {done}."));
    if execute_now {
        return execute(ctx, project, job, wait, json!({}));
    }
    ctx.status(&format!(
        "\nTo execute this job, use:\n{} run jobs execute {job}",
        ctx.prog
    ));
    Ok(())
}

/// gcloud's `commands.SortByName` for list commands.
fn sort_by_name(items: &mut [Value]) {
    items.sort_by_key(|i| s(i, "metadata.name"));
}

/// Keeps items of the selected region when one is set (v1 namespaces listings span regions).
fn filter_region(ctx: &Ctx<'_>, items: Vec<Value>) -> Vec<Value> {
    match ctx
        .global
        .region
        .clone()
        .or_else(|| ctx.props.get("run/region"))
    {
        Some(r) => items
            .into_iter()
            .filter(|i| i["metadata"]["labels"][LOCATION_LABEL] == r.as_str())
            .collect(),
        None => items,
    }
}

fn execute(
    ctx: &mut Ctx<'_>,
    project: &str,
    job: &str,
    wait: bool,
    overrides: Value,
) -> Result<()> {
    let region = ctx.region()?;
    let mut body = json!({});
    if overrides.as_object().is_some_and(|m| !m.is_empty()) {
        body["overrides"] = overrides;
    }
    let path = format!("{}/{}:run", jobs_v2_path(project, &region), enc(job));
    let op = ctx.post(&path, &body)?;
    let name = basename(&s(&op, "metadata.name"));
    ctx.status("OK Creating execution... Done.");
    if !wait {
        ctx.status(&format!(
            "Execution [{name}] has successfully started running."
        ));
        ctx.status(&format!(
            "\nView details about this execution by running:\n{} run jobs executions describe {name}",
            ctx.prog
        ));
        return print_execution(ctx, project, &name);
    }
    // RunJob's operation completes when the execution does (its response is the Execution).
    let execution = wait_operation(ctx, "/v2", op);
    let failed = match &execution {
        Ok(e)
            if e["failedCount"].as_i64().unwrap_or(0) > 0
                || e["cancelledCount"].as_i64().unwrap_or(0) > 0 =>
        {
            let message = e["conditions"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["state"] == "CONDITION_FAILED"))
                .map(|c| s(c, "message"))
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "The execution failed.".to_owned());
            Some(CliError::Msg(message))
        }
        Ok(_) => None,
        Err(e) => Some(CliError::Msg(e.to_string())),
    };
    match failed {
        Some(e) => {
            ctx.status(&format!("Execution [{name}] failed."));
            Err(e)
        }
        None => {
            ctx.status(&format!("Execution [{name}] has successfully completed."));
            print_execution(ctx, project, &name)
        }
    }
}

/// gcloud's `run jobs execute` returns the execution, which only an explicit `--format`
/// prints (its default format is none).
fn print_execution(ctx: &mut Ctx<'_>, project: &str, name: &str) -> Result<()> {
    if ctx.global.format.is_none() {
        return Ok(());
    }
    let v = ctx.get(&format!("{}/{}", executions_v1_path(project), enc(name)))?;
    ctx.print_one_with(&v, &RUN_KEYS)
}

fn executions(ctx: &mut Ctx<'_>, project: &str, cmd: RunExecutionsCmd) -> Result<()> {
    let region = ctx.region()?;
    match cmd {
        RunExecutionsCmd::List { job, list } => {
            ctx.list = list;
            // gcloud lists through v1 with a label selector on the job.
            let selector = job.as_ref().map(|j| format!("run.googleapis.com/job={j}"));
            let query: Vec<(&str, &str)> = selector
                .as_deref()
                .map(|sel| vec![("labelSelector", sel)])
                .unwrap_or_default();
            let items = ctx.list_all(&executions_v1_path(project), &query, "items")?;
            let mut items: Vec<Value> = items
                .into_iter()
                .filter(|i| i["metadata"]["labels"][LOCATION_LABEL] == region.as_str())
                .collect();
            // gcloud: by name, then newest first by start time (unstarted first, by creation).
            items.sort_by_key(|e| s(e, "metadata.name"));
            items.sort_by_key(|e| {
                let started = s(e, "status.startTime");
                std::cmp::Reverse(if started.is_empty() {
                    (1, s(e, "metadata.creationTimestamp"))
                } else {
                    (0, started)
                })
            });
            ctx.print_listing(&items, &EXECUTIONS)
        }
        RunExecutionsCmd::Describe { execution } => {
            let path = format!("{}/{}", executions_v1_path(project), enc(&execution));
            let v = or_missing(ctx.get(&path), || {
                format!("Cannot find execution [{execution}].")
            })?;
            if ctx.global.format.is_none() {
                ctx.stdout(&crate::printer::execution(&v));
                return Ok(());
            }
            ctx.print_one_with(&v, &RUN_KEYS)
        }
        RunExecutionsCmd::Cancel { execution } => {
            ctx.confirm(&format!("Execution [{execution}] will be cancelled."), true)?;
            let op = or_missing(
                ctx.post(
                    &format!("{}:cancel", execution_path(project, &region, &execution)),
                    &json!({}),
                ),
                || format!("Execution [{execution}] could not be found."),
            )?;
            wait_operation(ctx, "/v2", op)?;
            ctx.status(&format!("Execution [{execution}] has been cancelled."));
            Ok(())
        }
    }
}

/// Where `run revisions list` keeps whether a revision serves traffic (only when printing the
/// default table, so `--format` output stays the API's resource).
const ACTIVE_KEY: &str = "kumo.cli/active";

/// gcloud's managed `run revisions list` table: ready symbol, REVISION, ACTIVE, SERVICE,
/// DEPLOYED (`creation_timestamp.date("%Y-%m-%d %H:%M:%S %Z")`) and DEPLOYED BY, from v1
/// Revisions. UNCONFIRMED: gcloud prints DEPLOYED in the local time zone; Kumo prints UTC.
const REVISIONS: Listing = Listing {
    columns: &[
        // A revision that is not ready shows `!` (gcloud's Revision.ReadySymbolAndColor).
        ("", |v| {
            crate::printer::ready_symbol(v, "Revision").to_owned()
        }),
        ("REVISION", |v| s(v, "metadata.name")),
        ("ACTIVE", |v| {
            if v[ACTIVE_KEY] == true {
                "yes".to_owned()
            } else {
                String::new()
            }
        }),
        ("SERVICE", |v| {
            v["metadata"]["labels"]["serving.knative.dev/service"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        }),
        ("DEPLOYED", |v| {
            deployed_at(&s(v, "metadata.creationTimestamp"))
        }),
        ("DEPLOYED BY", |v| {
            v["metadata"]["annotations"]["serving.knative.dev/creator"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        }),
    ],
    keys: Keys {
        labels: &[
            ("REVISION", "metadata.name"),
            ("SERVICE", "metadata.labels.'serving.knative.dev/service'"),
            (
                "DEPLOYED",
                "metadata.creationTimestamp.date('%Y-%m-%d %H:%M:%S %Z')",
            ),
        ],
        attrs: RUN_ATTRS,
    },
    uri: Some(self_link),
    title: None,
};

/// `date("%Y-%m-%d %H:%M:%S %Z")` of an RFC 3339 time, in UTC; anything else as it is.
fn deployed_at(time: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(time).map_or_else(
        |_| time.to_owned(),
        |t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        },
    )
}

/// Revisions a v1 service routes traffic to (Cloud Run marks them `Active`).
/// UNCONFIRMED: Cloud Run's `Active` condition also stays true for a while after traffic
/// leaves a revision; Kumo counts only revisions with a traffic share.
fn serving_revisions(service: &Value) -> Vec<String> {
    service["status"]["traffic"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|t| t["percent"].as_i64().unwrap_or(0) > 0)
        .filter_map(|t| {
            t["revisionName"]
                .as_str()
                .or_else(|| {
                    (t["latestRevision"] == true)
                        .then(|| service["status"]["latestReadyRevisionName"].as_str())
                        .flatten()
                })
                .map(str::to_owned)
        })
        .collect()
}

/// A v2 Revision as gcloud's v1 (Knative) object.
fn revision_v1(v2: Value, namespace: &str) -> Result<Value> {
    let rev: kumo_wire::run_v2::Revision = serde_json::from_value(v2)
        .map_err(|e| CliError::Msg(format!("cannot read a revision from the server: {e}")))?;
    serde_json::to_value(kumo_wire::run_v1::revision_from_v2(&rev, namespace))
        .map_err(|e| CliError::Msg(format!("cannot render a revision: {e}")))
}

/// Revisions are fetched in v2 (Kumo serves no v1 `revisions`) and printed as v1; a revision is
/// named `SERVICE-NNNNN-xxx`.
fn revisions(ctx: &mut Ctx<'_>, cmd: RunRevisionsCmd) -> Result<()> {
    let project = ctx.project()?;
    let region = ctx.region()?;
    let base = services_v2_path(&project, &region);
    match cmd {
        RunRevisionsCmd::List { service, list } => {
            ctx.list = list;
            // Without --service, every service of the region (v2 has no `services/-` listing).
            let services = match service {
                Some(name) => vec![ctx.get(&service_path(&project, &region, &name))?],
                None => {
                    let mut all = ctx.list_all(&services_path(&project, &region), &[], "items")?;
                    sort_by_name(&mut all);
                    all
                }
            };
            let mut items = Vec::new();
            for service in &services {
                let name = s(service, "metadata.name");
                let namespace = s(service, "metadata.namespace");
                let path = format!("{base}/{}/revisions", enc(&name));
                let mut revisions = ctx
                    .list_all(&path, &[], "revisions")?
                    .into_iter()
                    .map(|r| revision_v1(r, &namespace))
                    .collect::<Result<Vec<Value>>>()?;
                // gcloud sorts by service, then newest first.
                revisions.sort_by_key(|r| std::cmp::Reverse(s(r, "metadata.creationTimestamp")));
                if ctx.global.format.is_none() {
                    let serving = serving_revisions(service);
                    for r in &mut revisions {
                        if serving.contains(&s(r, "metadata.name")) {
                            r[ACTIVE_KEY] = json!(true);
                        }
                    }
                }
                items.extend(revisions);
            }
            ctx.print_listing(&items, &REVISIONS)
        }
        RunRevisionsCmd::Describe { revision } => {
            let not_found = || format!("Cannot find revision [{revision}]");
            let Some(service) = revision.rsplitn(3, '-').nth(2) else {
                return Err(CliError::Msg(not_found()));
            };
            let path = format!("{base}/{}/revisions/{}", enc(service), enc(&revision));
            let v2 = or_missing(ctx.get(&path), not_found)?;
            let namespace = s(&v2, "name")
                .split('/')
                .nth(1)
                .unwrap_or(project.as_str())
                .to_owned();
            let v = revision_v1(v2, &namespace)?;
            if ctx.global.format.is_none() {
                ctx.stdout(&crate::printer::revision(&v));
                return Ok(());
            }
            ctx.print_one_with(&v, &RUN_KEYS)
        }
    }
}

fn services_v2_path(p: &str, r: &str) -> String {
    format!("/v2/projects/{}/locations/{}/services", enc(p), enc(r))
}
