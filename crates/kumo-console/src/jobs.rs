//! Cloud Run jobs: the project's jobs, a job with its executions and the "Execute" form (with
//! overrides, which the server refuses without `run.jobs.runWithOverrides`), and an execution
//! with its tasks and their logs.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::Console;
use crate::client::ApiError;
use crate::html::{Crumb, Notice, csrf_field, esc, notice, refreshing_page, url_component as enc};
use crate::pages::{
    REGIONS, TAIL_SECONDS, api_error_page, disabled_with, form_session, granted, html_response,
    log_summary, missing, ok_page, project_crumbs, project_nav, redirect, signed_in, str_of,
    viewer,
};
use crate::session::Session;

/// What the job page may offer, asked with the job's `:testIamPermissions`.
const JOB_PERMISSIONS: [&str; 2] = ["run.jobs.run", "run.jobs.runWithOverrides"];

fn job_path(project: &str, location: &str, job: &str) -> String {
    format!(
        "/v2/projects/{}/locations/{}/jobs/{}",
        enc(project),
        enc(location),
        enc(job)
    )
}

fn console_job_path(project: &str, location: &str, job: &str) -> String {
    format!(
        "/console/projects/{}/locations/{}/jobs/{}",
        enc(project),
        enc(location),
        enc(job)
    )
}

fn short(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn jobs_crumbs(project: &str) -> Vec<Crumb> {
    let mut crumbs = project_crumbs(project);
    crumbs.push((
        "Jobs".to_owned(),
        format!("/console/projects/{}/jobs", enc(project)),
    ));
    crumbs
}

fn job_crumbs(project: &str, location: &str, job: &str) -> Vec<Crumb> {
    let mut crumbs = jobs_crumbs(project);
    crumbs.push((job.to_owned(), console_job_path(project, location, job)));
    crumbs
}

pub async fn jobs(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let session = match signed_in(&console, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let token = &session.access_token;
    let title = "Cloud Run jobs";
    let mut crumbs = project_crumbs(&project);
    crumbs.push((title.to_owned(), String::new()));
    let mut regions: Vec<String> = REGIONS.iter().map(|r| (*r).to_owned()).collect();
    if let Some(extra) = query
        .get("region")
        .filter(|r| !r.is_empty() && !regions.contains(r))
    {
        regions.push(extra.clone());
    }
    let mut found = Vec::new();
    for region in &regions {
        let path = format!(
            "/v2/projects/{}/locations/{}/jobs",
            enc(&project),
            enc(region)
        );
        match console.client.call(token, "GET", &path, None).await {
            Ok(answer) => found.extend(answer["jobs"].as_array().cloned().unwrap_or_default()),
            Err(error) => return api_error_page(&session, title, &crumbs, &error),
        }
    }
    let mut body = project_nav(&project, "Jobs");
    body.push_str(&render_jobs(&project, &found));
    ok_page(&session, title, &crumbs, &body)
}

fn render_jobs(project: &str, jobs: &[Value]) -> String {
    if jobs.is_empty() {
        return "<p>No jobs in this project.</p>".to_owned();
    }
    let mut body = String::from(
        "<table class=\"jobs\"><caption>Jobs</caption><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Region</th>\
         <th scope=\"col\">Image</th><th scope=\"col\">Executions</th><th scope=\"col\">Latest execution</th>\
         <th scope=\"col\">Created by</th></tr></thead><tbody>",
    );
    for job in jobs {
        let parts: Vec<&str> = str_of(job, "name").split('/').collect();
        let [_, _, _, location, _, id] = parts.as_slice() else {
            continue;
        };
        let latest = &job["latestCreatedExecution"];
        let latest_text = if latest.is_object() {
            format!(
                "{} ({})",
                short(str_of(latest, "name")),
                completion_status(str_of(latest, "completionStatus"))
            )
        } else {
            "never executed".to_owned()
        };
        let _ = write!(
            body,
            "<tr data-job=\"{}\"><th scope=\"row\"><a href=\"{}\">{}</a></th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(id),
            esc(&console_job_path(project, location, id)),
            esc(id),
            esc(location),
            esc(&images(&job["template"]["template"]).join(", ")),
            job["executionCount"].as_i64().unwrap_or(0),
            esc(&latest_text),
            esc(str_of(job, "creator")),
        );
    }
    body.push_str("</tbody></table>");
    body
}

/// `ExecutionReference.CompletionStatus` in words.
fn completion_status(status: &str) -> &str {
    match status {
        "EXECUTION_SUCCEEDED" => "succeeded",
        "EXECUTION_FAILED" => "failed",
        "EXECUTION_RUNNING" => "running",
        "EXECUTION_PENDING" => "pending",
        "EXECUTION_CANCELLED" => "cancelled",
        "" => "unknown",
        other => other,
    }
}

fn images(task_template: &Value) -> Vec<&str> {
    task_template["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["image"].as_str())
        .collect()
}

/// The state of an execution or task from its `Completed` and `Started` conditions.
fn run_state(conditions: &Value) -> String {
    let find = |kind: &str| {
        conditions
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == kind)
    };
    let completed = find("Completed");
    let started = find("Started");
    let with_message = |state: &str, condition: &Value| match condition["message"].as_str() {
        Some(message) if !message.is_empty() => format!("{state}: {message}"),
        _ => state.to_owned(),
    };
    match completed.map(|c| (str_of(c, "state"), c)) {
        Some(("CONDITION_SUCCEEDED", c)) => with_message("Succeeded", c),
        // Run v2 `Condition.executionReason` (google/cloud/run/v2/condition.proto).
        Some(("CONDITION_FAILED", c)) if c["executionReason"] == "CANCELLED" => {
            with_message("Cancelled", c)
        }
        Some(("CONDITION_FAILED", c)) => with_message("Failed", c),
        Some((_, c)) if c["executionReason"] == "CANCELLING" => with_message("Cancelling", c),
        _ if started.is_some_and(|s| s["state"] == "CONDITION_SUCCEEDED") => "Running".to_owned(),
        _ => "Pending".to_owned(),
    }
}

/// `parallelism` 0 (or unset) means as many tasks at once as the task count allows.
fn parallelism(value: &Value) -> String {
    match value.as_i64() {
        Some(p) if p > 0 => p.to_string(),
        _ => "no limit".to_owned(),
    }
}

fn or_none(text: &str) -> String {
    if text.is_empty() {
        "none".to_owned()
    } else {
        text.to_owned()
    }
}

fn is_finished(state: &str) -> bool {
    ["Succeeded", "Failed", "Cancelled"]
        .iter()
        .any(|s| state.starts_with(s))
}

pub async fn job(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((project, location, id)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let session = match signed_in(&console, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let message = query
        .get("done")
        .filter(|d| *d == "executed")
        .map(|_| (Notice::Info, "The execution started.".to_owned()));
    render_job_page(
        &console,
        &session,
        &project,
        &location,
        &id,
        message,
        StatusCode::OK,
    )
    .await
}

async fn render_job_page(
    console: &Console,
    session: &Session,
    project: &str,
    location: &str,
    id: &str,
    message: Option<(Notice, String)>,
    status: StatusCode,
) -> Response {
    let token = &session.access_token;
    let crumbs = job_crumbs(project, location, id);
    let path = job_path(project, location, id);
    let job = match console.client.call(token, "GET", &path, None).await {
        Ok(job) => job,
        Err(error) => return api_error_page(session, id, &crumbs, &error),
    };
    let executions = console
        .client
        .call(token, "GET", &format!("{path}/executions"), None)
        .await
        .map(|answer| answer["executions"].as_array().cloned().unwrap_or_default());
    let allowed = granted(console, token, &path, &JOB_PERMISSIONS).await;
    let mut body = String::new();
    if let Some((kind, text)) = message {
        body.push_str(&notice(kind, &text));
    }
    body.push_str(&render_job(
        session,
        project,
        location,
        id,
        &job,
        &executions,
        &allowed,
    ));
    html_response(
        status,
        crate::html::page(id, Some(&viewer(session)), &crumbs, &body),
    )
}

fn render_job(
    session: &Session,
    project: &str,
    location: &str,
    id: &str,
    job: &Value,
    executions: &Result<Vec<Value>, ApiError>,
    allowed: &[String],
) -> String {
    let template = &job["template"];
    let task = &template["template"];
    let mut body = String::new();
    let _ = write!(
        body,
        "<dl class=\"facts\"><dt>Region</dt><dd>{}</dd><dt>Image</dt><dd>{}</dd><dt>Tasks</dt><dd>{}</dd>\
         <dt>Parallelism</dt><dd>{}</dd><dt>Max retries per task</dt><dd>{}</dd><dt>Task timeout</dt><dd>{}</dd>\
         <dt>Service account</dt><dd>{}</dd><dt>Created by</dt><dd>{} ({})</dd></dl>",
        esc(location),
        esc(&images(task).join(", ")),
        template["taskCount"].as_i64().unwrap_or(1),
        parallelism(&template["parallelism"]),
        task["maxRetries"].as_i64().unwrap_or(3),
        esc(task["timeout"].as_str().unwrap_or("600s")),
        esc(task["serviceAccount"]
            .as_str()
            .unwrap_or("default compute service account")),
        esc(str_of(job, "creator")),
        esc(str_of(job, "createTime")),
    );
    body.push_str(&execute_form(session, project, location, id, job, allowed));

    body.push_str(
        "<section aria-labelledby=\"executions-h\"><h2 id=\"executions-h\">Executions</h2>",
    );
    match executions {
        Err(error) => body.push_str(&notice(Notice::Error, &error.message)),
        Ok(list) if list.is_empty() => body.push_str("<p>This job has not been executed.</p>"),
        Ok(list) => {
            body.push_str(
                "<table class=\"executions\"><caption>Newest first</caption><thead><tr><th scope=\"col\">Execution</th>\
                 <th scope=\"col\">Status</th><th scope=\"col\">Tasks</th><th scope=\"col\">Created</th>\
                 <th scope=\"col\">Completed</th><th scope=\"col\">Started by</th></tr></thead><tbody>",
            );
            let mut sorted: Vec<&Value> = list.iter().collect();
            sorted.sort_by(|a, b| str_of(b, "createTime").cmp(str_of(a, "createTime")));
            for execution in sorted {
                let name = short(str_of(execution, "name"));
                let _ = write!(
                    body,
                    "<tr data-execution=\"{}\"><th scope=\"row\"><a href=\"{}/executions/{}\">{}</a></th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(name),
                    esc(&console_job_path(project, location, id)),
                    esc(&enc(name)),
                    esc(name),
                    esc(&run_state(&execution["conditions"])),
                    esc(&task_counts(execution)),
                    esc(str_of(execution, "createTime")),
                    esc(str_of(execution, "completionTime")),
                    esc(str_of(execution, "creator")),
                );
            }
            body.push_str("</tbody></table>");
        }
    }
    body.push_str("</section>");
    body
}

/// "2 of 3 succeeded, 1 failed".
fn task_counts(execution: &Value) -> String {
    let count = |key: &str| execution[key].as_i64().unwrap_or(0);
    let mut text = format!(
        "{} of {} succeeded",
        count("succeededCount"),
        execution["taskCount"].as_i64().unwrap_or(1)
    );
    for (key, label) in [
        ("failedCount", "failed"),
        ("runningCount", "running"),
        ("cancelledCount", "cancelled"),
    ] {
        if count(key) > 0 {
            let _ = write!(text, ", {} {label}", count(key));
        }
    }
    text
}

/// "Execute", with optional overrides. Without `run.jobs.run` the whole form is disabled;
/// without `run.jobs.runWithOverrides` only the overrides are (the server refuses them anyway).
fn execute_form(
    session: &Session,
    project: &str,
    location: &str,
    id: &str,
    job: &Value,
    allowed: &[String],
) -> String {
    let run_reason = missing(allowed, "run.jobs.run", "this job");
    let override_reason = run_reason.clone().or_else(|| {
        missing(
            allowed,
            "run.jobs.runWithOverrides",
            "this job to execute it with overrides",
        )
    });
    let (run_dis, run_why) = disabled_with(run_reason.as_deref(), "execute-reason");
    let (over_dis, over_why) = disabled_with(override_reason.as_deref(), "overrides-reason");
    let task = &job["template"]["template"];
    let container = &task["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    format!(
        "<section aria-labelledby=\"execute-h\"><h2 id=\"execute-h\">Execute</h2>\
         <form method=\"post\" action=\"{}/execute\">{}<fieldset{run_dis}><legend>Run the job now</legend>\
         <fieldset{over_dis}><legend>Overrides for this execution (optional)</legend>\
         <p class=\"hint\">Empty fields keep the job's settings. Overrides need run.jobs.runWithOverrides.</p>\
         <div><label for=\"ov-args\">Arguments, one per line</label><br>\
         <textarea id=\"ov-args\" name=\"args\" rows=\"3\" cols=\"50\" placeholder=\"{}\"></textarea></div>\
         <div><label for=\"ov-env\">Environment variables, NAME=value per line</label><br>\
         <textarea id=\"ov-env\" name=\"env\" rows=\"3\" cols=\"50\"></textarea></div>\
         <div><label for=\"ov-tasks\">Number of tasks</label> <input id=\"ov-tasks\" name=\"task_count\" type=\"number\" min=\"1\" max=\"10000\" placeholder=\"{}\"> \
         <label for=\"ov-timeout\">Task timeout (seconds)</label> <input id=\"ov-timeout\" name=\"timeout\" type=\"number\" min=\"1\" placeholder=\"{}\"></div>\
         </fieldset>{over_why}\
         <button type=\"submit\">Execute</button></fieldset>{run_why}</form></section>",
        esc(&console_job_path(project, location, id)),
        csrf_field(&session.csrf),
        esc(&args.join(" ")),
        job["template"]["taskCount"].as_i64().unwrap_or(1),
        esc(task["timeout"]
            .as_str()
            .unwrap_or("600s")
            .trim_end_matches('s')),
    )
}

/// The `overrides` of a `RunJobRequest` from the form, `None` when every field is empty.
fn overrides_from(
    form: &HashMap<String, String>,
    container_name: &str,
) -> Result<Option<Value>, String> {
    let field = |name: &str| form.get(name).map(|v| v.trim()).unwrap_or_default();
    let args: Vec<&str> = field("args")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut env = Vec::new();
    for line in field("env")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        match line.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                env.push(json!({"name": name.trim(), "value": value}));
            }
            _ => {
                return Err(format!(
                    "Environment variable line `{line}` is not NAME=value."
                ));
            }
        }
    }
    let mut overrides = json!({});
    if !args.is_empty() || !env.is_empty() {
        let mut container = json!({});
        if !container_name.is_empty() {
            container["name"] = json!(container_name);
        }
        if !args.is_empty() {
            container["args"] = json!(args);
        }
        if !env.is_empty() {
            container["env"] = json!(env);
        }
        overrides["containerOverrides"] = json!([container]);
    }
    if !field("task_count").is_empty() {
        let count: i64 = field("task_count")
            .parse()
            .map_err(|_| "The number of tasks must be a whole number.".to_owned())?;
        overrides["taskCount"] = json!(count);
    }
    if !field("timeout").is_empty() {
        let seconds: u64 = field("timeout")
            .trim_end_matches('s')
            .parse()
            .map_err(|_| "The task timeout must be a whole number of seconds.".to_owned())?;
        overrides["timeout"] = json!(format!("{seconds}s"));
    }
    Ok((overrides != json!({})).then_some(overrides))
}

pub async fn execute(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((project, location, id)): Path<(String, String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let session = match form_session(&console, &headers, &form).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let token = &session.access_token;
    let path = job_path(&project, &location, &id);
    let job = match console.client.call(token, "GET", &path, None).await {
        Ok(job) => job,
        Err(error) => {
            return api_error_page(&session, &id, &job_crumbs(&project, &location, &id), &error);
        }
    };
    let container_name = job["template"]["template"]["containers"][0]["name"]
        .as_str()
        .unwrap_or_default();
    let refuse = |message: String, status: StatusCode| {
        render_job_page(
            &console,
            &session,
            &project,
            &location,
            &id,
            Some((Notice::Error, message)),
            status,
        )
    };
    let overrides = match overrides_from(&form, container_name) {
        Ok(overrides) => overrides,
        Err(message) => return refuse(message, StatusCode::BAD_REQUEST).await,
    };
    let mut request = json!({});
    if let Some(overrides) = overrides {
        request["overrides"] = overrides;
    }
    match console
        .client
        .call(token, "POST", &format!("{path}:run"), Some(request))
        .await
    {
        Ok(operation) => match operation["metadata"]["name"].as_str() {
            Some(name) => redirect(&format!(
                "{}/executions/{}?done=executed",
                console_job_path(&project, &location, &id),
                enc(short(name))
            )),
            None => redirect(&format!(
                "{}?done=executed",
                console_job_path(&project, &location, &id)
            )),
        },
        Err(error) => {
            let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_GATEWAY);
            refuse(error.message, status).await
        }
    }
}

pub async fn execution(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((project, location, id, execution)): Path<(String, String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let session = match signed_in(&console, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let token = &session.access_token;
    let mut crumbs = job_crumbs(&project, &location, &id);
    crumbs.push((execution.clone(), String::new()));
    let path = format!(
        "{}/executions/{}",
        job_path(&project, &location, &id),
        enc(&execution)
    );
    let answer = match console.client.call(token, "GET", &path, None).await {
        Ok(answer) => answer,
        Err(error) => return api_error_page(&session, &execution, &crumbs, &error),
    };
    let tasks = console
        .client
        .call(token, "GET", &format!("{path}/tasks"), None)
        .await
        .map(|t| t["tasks"].as_array().cloned().unwrap_or_default());
    let task_filter = query
        .get("task")
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()));
    let filter = execution_log_filter(&location, &id, &execution, task_filter.map(String::as_str));
    let logs = console
        .client
        .call(
            token,
            "POST",
            "/v2/entries:list",
            Some(json!({
                "resourceNames": [format!("projects/{project}")],
                "filter": filter,
                "orderBy": "timestamp asc",
                "pageSize": 500,
            })),
        )
        .await
        .map(|a| a["entries"].as_array().cloned().unwrap_or_default());
    let state = run_state(&answer["conditions"]);
    let tail = query.get("tail").is_some_and(|v| v == "on") && !is_finished(&state);
    let mut body = match query.get("done").map(String::as_str) {
        Some("executed") => notice(Notice::Info, "The execution started."),
        Some("cancelled") => notice(
            Notice::Info,
            "Cancellation requested: running tasks are being stopped.",
        ),
        _ => String::new(),
    };
    let here = format!(
        "{}/executions/{}",
        console_job_path(&project, &location, &id),
        enc(&execution)
    );
    if !is_finished(&state) {
        let allowed = granted(
            &console,
            token,
            &job_path(&project, &location, &id),
            &["run.executions.cancel"],
        )
        .await;
        body.push_str(&cancel_form(&session, &here, &allowed));
    }
    body.push_str(&render_execution(
        &project,
        &location,
        &id,
        &execution,
        &answer,
        &tasks,
        &logs,
        task_filter.map(String::as_str),
        tail,
    ));
    html_response(
        StatusCode::OK,
        refreshing_page(
            &execution,
            Some(&viewer(&session)),
            &crumbs,
            &body,
            tail.then_some(TAIL_SECONDS),
        ),
    )
}

/// "Cancel" for a running execution, disabled (with the reason) without
/// `run.executions.cancel`.
fn cancel_form(session: &Session, here: &str, allowed: &[String]) -> String {
    let (dis, why) = disabled_with(
        missing(allowed, "run.executions.cancel", "this job").as_deref(),
        "cancel-reason",
    );
    format!(
        "<form method=\"post\" action=\"{}/cancel\">{}<button type=\"submit\"{dis}>Cancel execution</button>{why}</form>",
        esc(here),
        csrf_field(&session.csrf),
    )
}

pub async fn cancel(
    State(console): State<Console>,
    headers: HeaderMap,
    Path((project, location, id, execution)): Path<(String, String, String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let session = match form_session(&console, &headers, &form).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let path = format!(
        "{}/executions/{}:cancel",
        job_path(&project, &location, &id),
        enc(&execution)
    );
    let here = format!(
        "{}/executions/{}",
        console_job_path(&project, &location, &id),
        enc(&execution)
    );
    match console
        .client
        .call(&session.access_token, "POST", &path, Some(json!({})))
        .await
    {
        Ok(_) => redirect(&format!("{here}?done=cancelled")),
        Err(error) => {
            let mut crumbs = job_crumbs(&project, &location, &id);
            crumbs.push((execution.clone(), here));
            api_error_page(&session, &execution, &crumbs, &error)
        }
    }
}

/// The execution's entries (all tasks, or one), as the execution's `logUri` names them.
fn execution_log_filter(location: &str, job: &str, execution: &str, task: Option<&str>) -> String {
    let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut filter = format!(
        "resource.type=\"cloud_run_job\" AND resource.labels.job_name=\"{}\" AND resource.labels.location=\"{}\" \
         AND labels.\"run.googleapis.com/execution_name\"=\"{}\"",
        quote(job),
        quote(location),
        quote(execution)
    );
    if let Some(task) = task {
        let _ = write!(
            filter,
            " AND labels.\"run.googleapis.com/task_index\"=\"{}\"",
            quote(task)
        );
    }
    filter
}

#[expect(clippy::too_many_arguments, reason = "one page's worth of API answers")]
fn render_execution(
    project: &str,
    location: &str,
    job: &str,
    execution_id: &str,
    execution: &Value,
    tasks: &Result<Vec<Value>, ApiError>,
    logs: &Result<Vec<Value>, ApiError>,
    task_filter: Option<&str>,
    tail: bool,
) -> String {
    let here = format!(
        "{}/executions/{}",
        console_job_path(project, location, job),
        enc(execution_id)
    );
    let state = run_state(&execution["conditions"]);
    let mut body = String::new();
    let template = &execution["template"];
    let container = &template["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let env: Vec<String> = container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| format!("{}={}", str_of(e, "name"), str_of(e, "value")))
        .collect();
    let _ = write!(
        body,
        "<dl class=\"facts\"><dt>Status</dt><dd id=\"execution-status\">{}</dd><dt>Tasks</dt><dd>{}</dd><dt>Parallelism</dt><dd>{}</dd>\
         <dt>Started by</dt><dd>{}</dd><dt>Created</dt><dd>{}</dd><dt>Completed</dt><dd>{}</dd>\
         <dt>Image</dt><dd>{}</dd><dt>Arguments</dt><dd>{}</dd><dt>Environment</dt><dd>{}</dd><dt>Task timeout</dt><dd>{}</dd></dl>",
        esc(&state),
        esc(&task_counts(execution)),
        parallelism(&execution["parallelism"]),
        esc(str_of(execution, "creator")),
        esc(str_of(execution, "createTime")),
        esc(str_of(execution, "completionTime")),
        esc(&images(template).join(", ")),
        esc(&or_none(&args.join(" "))),
        esc(&or_none(&env.join(", "))),
        esc(str_of(template, "timeout")),
    );
    if !is_finished(&state) {
        let _ = write!(
            body,
            "<p class=\"muted\" role=\"status\">{} <a href=\"{}{}\">{}</a></p>",
            if tail {
                "This page reloads itself every few seconds while the execution runs (the console runs no JavaScript)."
            } else {
                "The execution is still running."
            },
            esc(&here),
            if tail { "" } else { "?tail=on" },
            if tail {
                "Stop refreshing"
            } else {
                "Refresh automatically"
            },
        );
    }

    body.push_str("<section aria-labelledby=\"tasks-h\"><h2 id=\"tasks-h\">Tasks</h2>");
    match tasks {
        Err(error) => body.push_str(&notice(Notice::Error, &error.message)),
        Ok(list) if list.is_empty() => body.push_str("<p>No tasks.</p>"),
        Ok(list) => {
            body.push_str(
                "<table class=\"tasks\"><caption>Tasks by index</caption><thead><tr><th scope=\"col\">Index</th><th scope=\"col\">Status</th>\
                 <th scope=\"col\">Retries</th><th scope=\"col\">Exit code</th><th scope=\"col\">Started</th><th scope=\"col\">Completed</th>\
                 <th scope=\"col\">Logs</th></tr></thead><tbody>",
            );
            let mut sorted: Vec<&Value> = list.iter().collect();
            sorted.sort_by_key(|t| t["index"].as_i64().unwrap_or(0));
            for task in sorted {
                let index = task["index"].as_i64().unwrap_or(0);
                let _ = write!(
                    body,
                    "<tr data-task=\"{index}\"><th scope=\"row\">{index}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                     <td><a href=\"{}?task={index}#logs-h\" aria-label=\"Logs of task {index}\">Logs</a></td></tr>",
                    esc(&run_state(&task["conditions"])),
                    task["retried"].as_i64().unwrap_or(0),
                    task["lastAttemptResult"]["exitCode"]
                        .as_i64()
                        .map_or_else(String::new, |c| c.to_string()),
                    esc(str_of(task, "startTime")),
                    esc(str_of(task, "completionTime")),
                    esc(&here),
                );
            }
            body.push_str("</tbody></table>");
        }
    }
    body.push_str("</section>");

    let _ = write!(
        body,
        "<section aria-labelledby=\"logs-h\"><h2 id=\"logs-h\">{}</h2>",
        match task_filter {
            Some(task) => format!("Logs of task {}", esc(task)),
            None => "Logs of all tasks".to_owned(),
        }
    );
    if task_filter.is_some() {
        let _ = write!(
            body,
            "<p><a href=\"{}#logs-h\">Show every task's logs</a></p>",
            esc(&here)
        );
    }
    match logs {
        Err(error) => body.push_str(&notice(Notice::Error, &error.message)),
        Ok(entries) if entries.is_empty() => body.push_str("<p>No log entries yet.</p>"),
        Ok(entries) => {
            body.push_str(
                "<table class=\"logs\"><caption>Oldest first</caption><thead><tr><th scope=\"col\">Time</th><th scope=\"col\">Task</th>\
                 <th scope=\"col\">Attempt</th><th scope=\"col\">Severity</th><th scope=\"col\">Message</th></tr></thead><tbody>",
            );
            for entry in entries {
                let labels = &entry["labels"];
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(str_of(entry, "timestamp")),
                    esc(str_of(labels, "run.googleapis.com/task_index")),
                    esc(str_of(labels, "run.googleapis.com/task_attempt")),
                    esc(str_of(entry, "severity")),
                    esc(&log_summary(entry)),
                );
            }
            body.push_str("</tbody></table>");
        }
    }
    body.push_str("</section>");
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn overrides_from_the_form() {
        let cases = [
            (
                form(&[
                    ("args", ""),
                    ("env", ""),
                    ("task_count", ""),
                    ("timeout", ""),
                ]),
                "",
                Ok(None),
            ),
            (
                form(&[
                    ("args", "--mode\r\nfast\r\n"),
                    ("env", "A=1\nB=x=y"),
                    ("task_count", "3"),
                    ("timeout", "90"),
                ]),
                "job",
                Ok(Some(json!({
                    "containerOverrides": [{"name": "job", "args": ["--mode", "fast"], "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "x=y"}]}],
                    "taskCount": 3,
                    "timeout": "90s",
                }))),
            ),
            (
                form(&[("task_count", "2")]),
                "",
                Ok(Some(json!({"taskCount": 2}))),
            ),
            (
                form(&[("env", "NOEQUALS")]),
                "",
                Err("Environment variable line `NOEQUALS` is not NAME=value.".to_owned()),
            ),
            (
                form(&[("task_count", "many")]),
                "",
                Err("The number of tasks must be a whole number.".to_owned()),
            ),
        ];
        for (input, name, expected) in cases {
            assert_eq!(overrides_from(&input, name), expected, "{input:?}");
        }
    }

    #[test]
    fn states_from_conditions() {
        let cases = [
            (json!([]), "Pending"),
            (
                json!([{"type": "Completed", "state": "CONDITION_PENDING"}, {"type": "Started", "state": "CONDITION_SUCCEEDED"}]),
                "Running",
            ),
            (
                json!([{"type": "Completed", "state": "CONDITION_SUCCEEDED"}]),
                "Succeeded",
            ),
            (
                json!([{"type": "Completed", "state": "CONDITION_FAILED", "message": "Task 0 failed with exit code 7."}]),
                "Failed: Task 0 failed with exit code 7.",
            ),
            (
                json!([{"type": "Completed", "state": "CONDITION_FAILED", "executionReason": "CANCELLED", "message": "The execution was cancelled."}]),
                "Cancelled: The execution was cancelled.",
            ),
            (
                json!([{"type": "Completed", "state": "CONDITION_PENDING", "executionReason": "CANCELLING"},
                       {"type": "Started", "state": "CONDITION_SUCCEEDED"}]),
                "Cancelling",
            ),
        ];
        for (conditions, expected) in cases {
            assert_eq!(run_state(&conditions), expected, "{conditions}");
        }
    }

    fn session() -> Session {
        let sessions = crate::session::Sessions::default();
        let id = sessions.create(
            "alice@example.com".into(),
            "t".into(),
            None,
            std::time::Duration::from_secs(3600),
        );
        sessions.get(&id).unwrap()
    }

    #[test]
    fn execute_form_disables_what_the_viewer_lacks() {
        let job =
            json!({"template": {"taskCount": 2, "template": {"containers": [{"image": "<img>"}]}}});
        let render = |allowed: &[&str]| {
            let allowed: Vec<String> = allowed.iter().map(|p| (*p).to_owned()).collect();
            render_job(&session(), "p", "r", "j", &job, &Ok(vec![]), &allowed)
        };
        let everything = render(&JOB_PERMISSIONS);
        assert!(!everything.contains("disabled"));
        let run_only = render(&["run.jobs.run"]);
        assert_eq!(
            run_only.matches("<fieldset disabled").count(),
            1,
            "only the overrides"
        );
        assert!(run_only.contains(
            "You need the permission run.jobs.runWithOverrides on this job to execute it with overrides."
        ));
        let nothing = render(&[]);
        assert_eq!(nothing.matches("<fieldset disabled").count(), 2);
        assert!(nothing.contains("You need the permission run.jobs.run on this job."));
        assert!(everything.contains("&lt;img&gt;") && !everything.contains("<img>"));
    }

    #[test]
    fn execution_lists_tasks_and_their_logs() {
        let execution = json!({"taskCount": 2, "succeededCount": 1, "failedCount": 1,
            "conditions": [{"type": "Completed", "state": "CONDITION_FAILED", "message": "1 task failed."}],
            "template": {"containers": [{"image": "img", "args": ["a"], "env": [{"name": "MODE", "value": "<x>"}]}]}});
        let tasks = Ok(vec![
            json!({"index": 1, "retried": 2, "lastAttemptResult": {"exitCode": 7}, "conditions": [{"type": "Completed", "state": "CONDITION_FAILED"}]}),
            json!({"index": 0, "conditions": [{"type": "Completed", "state": "CONDITION_SUCCEEDED"}]}),
        ]);
        let logs = Ok(vec![
            json!({"timestamp": "t", "textPayload": "Completed Task #0.",
            "labels": {"run.googleapis.com/task_index": "0", "run.googleapis.com/task_attempt": "0"}}),
        ]);
        let html = render_execution(
            "p", "r", "j", "j-abc", &execution, &tasks, &logs, None, false,
        );
        assert!(html.contains("<dd id=\"execution-status\">Failed: 1 task failed.</dd>"));
        assert!(html.contains("1 of 2 succeeded, 1 failed"));
        assert!(html.contains("MODE=&lt;x&gt;"));
        assert!(html.find("data-task=\"0\"").unwrap() < html.find("data-task=\"1\"").unwrap());
        assert!(html.contains(
            "<tr data-task=\"1\"><th scope=\"row\">1</th><td>Failed</td><td>2</td><td>7</td>"
        ));
        assert!(html.contains(
            "href=\"/console/projects/p/locations/r/jobs/j/executions/j-abc?task=1#logs-h\""
        ));
        assert!(html.contains("<td>0</td><td>0</td><td></td><td>Completed Task #0.</td>"));
        assert!(
            !html.contains("Refresh automatically"),
            "finished: nothing to tail"
        );
    }

    #[test]
    fn cancel_needs_its_permission() {
        let here = "/console/projects/p/locations/r/jobs/j/executions/j-1";
        let html = cancel_form(&session(), here, &["run.executions.cancel".to_owned()]);
        assert!(
            html.contains(
                "action=\"/console/projects/p/locations/r/jobs/j/executions/j-1/cancel\""
            )
        );
        assert!(!html.contains("disabled"));
        let html = cancel_form(&session(), here, &[]);
        assert!(
            html.contains("<button type=\"submit\" disabled aria-describedby=\"cancel-reason\">")
        );
        assert!(html.contains("You need the permission run.executions.cancel on this job."));
    }

    #[test]
    fn log_filter_names_the_execution_and_task() {
        assert_eq!(
            execution_log_filter("us-central1", "j", "j-abc", Some("2")),
            "resource.type=\"cloud_run_job\" AND resource.labels.job_name=\"j\" AND resource.labels.location=\"us-central1\" \
             AND labels.\"run.googleapis.com/execution_name\"=\"j-abc\" AND labels.\"run.googleapis.com/task_index\"=\"2\""
        );
    }
}
