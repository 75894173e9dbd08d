//! Cloud Run jobs through v2 and v1: create, run (tasks as real local processes), retries,
//! cancel, overrides, the v1 export/replace round trip (seed 004) and the deploy-time checks.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail loudly"
)]

use std::time::Duration;

use axum::http::{Method, StatusCode};
use kumo_api::testing::Harness;
use serde_json::{Value, json};

const V2: &str = "/v2/projects/demo-project/locations/us-central1";
const V1: &str = "/apis/run.googleapis.com/v1/namespaces/demo-project/jobs";
const SAMPLE: &str = "us-docker.pkg.dev/cloudrun/container/job";
const REPO: &str = "us-central1-docker.pkg.dev/demo-project/docker-repo";
const ALICE: &str = "user:alice@example.com";
const BOB: &str = "user:bob@example.com";

/// Kumo with the job images mapped to shell programs (the built-in samples run the `kumo`
/// binary, which a test binary is not).
async fn harness() -> Harness {
    let h = Harness::new();
    let images = json!({"images": {
        SAMPLE: {"entrypoint": ["sh", "-c", "echo \"task $CLOUD_RUN_TASK_INDEX of $CLOUD_RUN_TASK_COUNT\""]},
        format!("{REPO}/fail"): {"entrypoint": ["sh", "-c", "echo failing >&2; exit 7"]},
        format!("{REPO}/flaky"): {"entrypoint": ["sh", "-c", "[ \"$CLOUD_RUN_TASK_ATTEMPT\" -ge 1 ]"]},
        format!("{REPO}/slow"): {"entrypoint": ["sh", "-c", "sleep 30"]},
        format!("{REPO}/args"): {"entrypoint": ["sh", "-c", "test \"$MODE\" = override"]},
    }});
    h.load_images(&images);
    let (status, body) = h
        .call(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project/locations/us-central1/repositories?repositoryId=docker-repo",
            Some(json!({"format": "DOCKER"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    h
}

fn job(image: &str, task_count: i32, max_retries: i32) -> Value {
    json!({"template": {"taskCount": task_count, "parallelism": 2, "template": {"containers": [{"image": image}], "maxRetries": max_retries, "timeout": "60s"}}})
}

async fn create(h: &Harness, member: &str, id: &str, body: Value) -> (StatusCode, Value) {
    h.call(
        member,
        Method::POST,
        &format!("{V2}/jobs?jobId={id}"),
        Some(body),
    )
    .await
}

/// Polls the operation until it is done.
async fn wait(h: &Harness, operation: &Value) -> Value {
    let name = operation["name"].as_str().unwrap();
    for _ in 0..600 {
        let (status, op) = h
            .call(ALICE, Method::GET, &format!("/v2/{name}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{op}");
        if op["done"] == json!(true) {
            return op;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("operation {name} did not finish");
}

async fn run(h: &Harness, member: &str, job: &str, body: Value) -> (StatusCode, Value) {
    h.call(
        member,
        Method::POST,
        &format!("{V2}/jobs/{job}:run"),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_run_executes_every_task_and_completes_the_operation() {
    let h = harness().await;
    let (status, op) = create(&h, ALICE, "hello-job", job(SAMPLE, 3, 3)).await;
    assert_eq!(status, StatusCode::OK, "{op}");
    assert_eq!(op["done"], json!(true));
    assert_eq!(
        op["response"]["@type"],
        "type.googleapis.com/google.cloud.run.v2.Job"
    );
    let (status, got) = h
        .call(ALICE, Method::GET, &format!("{V2}/jobs/hello-job"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        got["name"],
        "projects/demo-project/locations/us-central1/jobs/hello-job"
    );
    assert_eq!(got["generation"], "1");
    assert_eq!(got["creator"], "alice@example.com");
    assert_eq!(got["terminalCondition"]["state"], "CONDITION_SUCCEEDED");
    assert!(!got["uid"].as_str().unwrap().is_empty());

    let (status, op) = run(&h, ALICE, "hello-job", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{op}");
    assert_eq!(
        op["metadata"]["@type"],
        "type.googleapis.com/google.cloud.run.v2.Execution"
    );
    let execution_name = op["metadata"]["name"].as_str().unwrap().to_owned();
    let execution_id = execution_name.rsplit('/').next().unwrap().to_owned();
    assert!(
        execution_id.starts_with("hello-job-") && execution_id.len() == "hello-job-".len() + 5,
        "{execution_id}"
    );
    let done = wait(&h, &op).await;
    assert!(done.get("error").is_none(), "{done}");
    let execution = &done["response"];
    assert_eq!(execution["succeededCount"], 3, "{execution}");
    assert_eq!(execution["taskCount"], 3);
    assert!(execution.get("failedCount").is_none());
    assert!(execution["completionTime"].is_string());
    let completed = execution["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Completed")
        .unwrap();
    assert_eq!(completed["state"], "CONDITION_SUCCEEDED");

    let (status, tasks) = h
        .call(
            ALICE,
            Method::GET,
            &format!("/v2/{execution_name}/tasks"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tasks}");
    let tasks = tasks["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 3);
    for (index, task) in tasks.iter().enumerate() {
        assert_eq!(task["index"], index);
        assert_eq!(
            task["name"],
            format!("{execution_name}/tasks/{execution_id}-task{index}")
        );
        assert_eq!(task["lastAttemptResult"]["exitCode"], 0);
    }
    let (status, task) = h
        .call(
            ALICE,
            Method::GET,
            &format!("/v2/{execution_name}/tasks/{execution_id}-task1"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(task["index"], 1);

    let (_, job) = h
        .call(ALICE, Method::GET, &format!("{V2}/jobs/hello-job"), None)
        .await;
    assert_eq!(job["executionCount"], 1);
    assert_eq!(job["latestCreatedExecution"]["name"], execution_name);
    assert_eq!(
        job["latestCreatedExecution"]["completionStatus"],
        "EXECUTION_SUCCEEDED"
    );
    let (_, list) = h
        .call(
            ALICE,
            Method::GET,
            &format!("{V2}/jobs/hello-job/executions"),
            None,
        )
        .await;
    assert_eq!(list["executions"].as_array().unwrap().len(), 1);

    // The tasks' output reaches Cloud Logging under the job's monitored resource.
    let filter = format!(
        "resource.type = \"cloud_run_job\"\nlabels.\"run.googleapis.com/execution_name\" = \"{execution_id}\"\n\"of 3\""
    );
    let mut found = 0;
    for _ in 0..100 {
        let (status, page) = h
            .call(
                ALICE,
                Method::POST,
                "/v2/entries:list",
                Some(json!({"resourceNames": ["projects/demo-project"], "filter": filter})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        found = page["entries"].as_array().map_or(0, Vec::len);
        if found == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(found, 3);
}

#[tokio::test]
async fn failed_attempts_are_retried_up_to_max_retries() {
    let h = harness().await;
    assert_eq!(
        create(&h, ALICE, "flaky", job(&format!("{REPO}/flaky"), 2, 1))
            .await
            .0,
        StatusCode::OK
    );
    let (_, op) = run(&h, ALICE, "flaky", json!({})).await;
    let done = wait(&h, &op).await;
    assert!(done.get("error").is_none(), "{done}");
    assert_eq!(done["response"]["succeededCount"], 2);
    assert_eq!(done["response"]["retriedCount"], 2);

    assert_eq!(
        create(&h, ALICE, "broken", job(&format!("{REPO}/fail"), 1, 2))
            .await
            .0,
        StatusCode::OK
    );
    let (_, op) = run(&h, ALICE, "broken", json!({})).await;
    let done = wait(&h, &op).await;
    // A failed execution still completes the operation; the counts say it failed.
    assert!(done.get("error").is_none(), "{done}");
    let execution = &done["response"];
    assert_eq!(execution["failedCount"], 1);
    assert_eq!(execution["retriedCount"], 2);
    let completed = execution["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Completed")
        .unwrap();
    assert_eq!(completed["state"], "CONDITION_FAILED");
    assert_eq!(completed["executionReason"], "NON_ZERO_EXIT_CODE");
    let execution_name = execution["name"].as_str().unwrap();
    let (_, tasks) = h
        .call(
            ALICE,
            Method::GET,
            &format!("/v2/{execution_name}/tasks"),
            None,
        )
        .await;
    let task = &tasks["tasks"][0];
    assert_eq!(task["retried"], 2);
    assert_eq!(task["lastAttemptResult"]["exitCode"], 7);
    let (_, job) = h
        .call(ALICE, Method::GET, &format!("{V2}/jobs/broken"), None)
        .await;
    assert_eq!(
        job["latestCreatedExecution"]["completionStatus"],
        "EXECUTION_FAILED"
    );
}

#[tokio::test]
async fn cancel_stops_running_tasks() {
    let h = harness().await;
    assert_eq!(
        create(&h, ALICE, "sleepy", job(&format!("{REPO}/slow"), 3, 0))
            .await
            .0,
        StatusCode::OK
    );
    let (_, op) = run(&h, ALICE, "sleepy", json!({})).await;
    let execution_name = op["metadata"]["name"].as_str().unwrap().to_owned();
    for _ in 0..200 {
        let (_, execution) = h
            .call(ALICE, Method::GET, &format!("/v2/{execution_name}"), None)
            .await;
        if execution["runningCount"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Bob may not cancel.
    let (status, refused) = h
        .call(
            BOB,
            Method::POST,
            &format!("/v2/{execution_name}:cancel"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let started = std::time::Instant::now();
    let (status, cancel) = h
        .call(
            ALICE,
            Method::POST,
            &format!("/v2/{execution_name}:cancel"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancel}");
    let done = wait(&h, &op).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "cancel took {:?}",
        started.elapsed()
    );
    assert!(done.get("error").is_none(), "{done}");
    let execution = &done["response"];
    assert_eq!(execution["cancelledCount"], 3, "{execution}");
    let completed = execution["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Completed")
        .unwrap();
    assert_eq!(completed["executionReason"], "CANCELLED");
    let (status, again) = h
        .call(
            ALICE,
            Method::POST,
            &format!("/v2/{execution_name}:cancel"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{again}");
    // Deleting the execution removes it and its tasks.
    let (status, _) = h
        .call(
            ALICE,
            Method::DELETE,
            &format!("/v2/{execution_name}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .call(
            ALICE,
            Method::GET,
            &format!("/v2/{execution_name}/tasks"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn overrides_need_run_with_overrides() {
    let h = harness().await;
    let body = json!({"template": {"template": {"containers": [{"image": format!("{REPO}/args"), "env": [{"name": "MODE", "value": "plain"}]}], "maxRetries": 0}}});
    assert_eq!(
        create(&h, ALICE, "configurable", body).await.0,
        StatusCode::OK
    );
    // roles/run.invoker has run.jobs.run but not run.jobs.runWithOverrides.
    h.grant_on_project("roles/run.invoker", BOB);
    let overrides = json!({"overrides": {"containerOverrides": [{"env": [{"name": "MODE", "value": "override"}]}], "taskCount": 2}});
    let (status, refused) = run(&h, BOB, "configurable", overrides.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(
        refused["error"]["message"],
        "Permission 'run.jobs.runWithOverrides' denied on resource 'projects/demo-project/locations/us-central1/jobs/configurable' (or it may not exist)."
    );
    let (status, plain) = run(&h, BOB, "configurable", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    let done = wait(&h, &plain).await;
    assert_eq!(
        done["response"]["failedCount"], 1,
        "without the override MODE is plain and the task fails: {done}"
    );
    let (status, op) = run(&h, ALICE, "configurable", overrides).await;
    assert_eq!(status, StatusCode::OK, "{op}");
    let done = wait(&h, &op).await;
    assert!(done.get("error").is_none(), "{done}");
    assert_eq!(done["response"]["taskCount"], 2);
    assert_eq!(done["response"]["succeededCount"], 2);
    // An override for a container the job does not have is refused.
    let bad = json!({"overrides": {"containerOverrides": [{"name": "nope", "args": ["x"]}]}});
    let (status, error) = run(&h, ALICE, "configurable", bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
}

#[tokio::test]
async fn act_as_is_checked_for_the_job_identity() {
    let h = harness().await;
    h.grant_on_project("roles/run.developer", BOB);
    h.grant_on_project("roles/artifactregistry.reader", BOB);
    let (status, refused) = create(&h, BOB, "bobs-job", job(SAMPLE, 1, 0)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let number = &h.project.number;
    assert_eq!(
        refused["error"]["message"],
        format!(
            "Permission 'iam.serviceaccounts.actAs' denied on service account {number}-compute@developer.gserviceaccount.com (or it may not exist)."
        )
    );
    h.grant_on_project("roles/iam.serviceAccountUser", BOB);
    let (status, created) = create(&h, BOB, "bobs-job", job(SAMPLE, 1, 0)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let (status, duplicate) = create(&h, BOB, "bobs-job", job(SAMPLE, 1, 0)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{duplicate}");
    assert_eq!(
        duplicate["error"]["message"],
        "Resource 'bobs-job' already exists."
    );
}

#[tokio::test]
async fn methods_are_refused_without_their_permission() {
    let h = harness().await;
    assert_eq!(
        create(&h, ALICE, "guarded", job(SAMPLE, 1, 0)).await.0,
        StatusCode::OK
    );
    let job_path = format!("{V2}/jobs/guarded");
    let cases: Vec<(Method, String, Option<Value>, &str)> = vec![
        (Method::GET, job_path.clone(), None, "run.jobs.get"),
        (Method::GET, format!("{V2}/jobs"), None, "run.jobs.list"),
        (
            Method::PATCH,
            job_path.clone(),
            Some(job(SAMPLE, 2, 0)),
            "run.jobs.update",
        ),
        (Method::DELETE, job_path.clone(), None, "run.jobs.delete"),
        (
            Method::POST,
            format!("{job_path}:run"),
            Some(json!({})),
            "run.jobs.run",
        ),
        (
            Method::GET,
            format!("{job_path}:getIamPolicy"),
            None,
            "run.jobs.getIamPolicy",
        ),
        (
            Method::POST,
            format!("{job_path}:setIamPolicy"),
            Some(json!({"policy": {}})),
            "run.jobs.setIamPolicy",
        ),
        (
            Method::GET,
            format!("{job_path}/executions"),
            None,
            "run.executions.list",
        ),
        (
            Method::POST,
            format!("{V2}/jobs?jobId=other"),
            Some(job(SAMPLE, 1, 0)),
            "run.jobs.create",
        ),
    ];
    for (method, path, body, permission) in &cases {
        let (status, refused) = h.call(BOB, method.clone(), path, body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("'{permission}'")),
            "{method} {path}: {refused}"
        );
    }
    // The smallest roles that hold them.
    h.grant_on_project("roles/run.viewer", BOB);
    for path in [
        job_path.clone(),
        format!("{V2}/jobs"),
        format!("{job_path}/executions"),
        format!("{job_path}:getIamPolicy"),
    ] {
        let (status, body) = h.call(BOB, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    // A job-level grant lets Bob run this job only.
    let (status, policy) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{job_path}:setIamPolicy"),
            Some(
                json!({"policy": {"bindings": [{"role": "roles/run.invoker", "members": [BOB]}]}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    let (status, op) = run(&h, BOB, "guarded", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{op}");
    wait(&h, &op).await;
    let (_, allowed) = h
        .call(
            BOB,
            Method::POST,
            &format!("{job_path}:testIamPermissions"),
            Some(json!({"permissions": ["run.jobs.run", "run.jobs.delete"]})),
        )
        .await;
    assert_eq!(allowed["permissions"], json!(["run.jobs.run"]));
    // Unknown jobs: NOT_FOUND once the caller may look.
    let (status, missing) = h
        .call(BOB, Method::GET, &format!("{V2}/jobs/nope"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
}

#[tokio::test]
async fn update_bumps_generation_and_delete_removes_everything() {
    let h = harness().await;
    assert_eq!(
        create(&h, ALICE, "evolving", job(SAMPLE, 1, 0)).await.0,
        StatusCode::OK
    );
    let (_, current) = h
        .call(ALICE, Method::GET, &format!("{V2}/jobs/evolving"), None)
        .await;
    let mut next = current.clone();
    next["template"]["taskCount"] = json!(4);
    let (status, op) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{V2}/jobs/evolving"),
            Some(next.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{op}");
    assert_eq!(op["response"]["generation"], "2");
    assert_eq!(op["response"]["template"]["taskCount"], 4);
    // The old etag is stale now.
    let (status, stale) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{V2}/jobs/evolving"),
            Some(next),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{stale}");
    assert_eq!(stale["error"]["status"], "ABORTED");
    // Unknown fields get Google's text.
    let (status, unknown) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{V2}/jobs?jobId=x"),
            Some(json!({"template": {}, "bogus": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown["error"]["message"],
        "Invalid JSON payload received. Unknown name \"bogus\" at 'job': Cannot find field."
    );
    let (status, bad_id) = create(&h, ALICE, "Bad_Id", job(SAMPLE, 1, 0)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad_id}");
    let (status, op) = h
        .call(ALICE, Method::DELETE, &format!("{V2}/jobs/evolving"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{op}");
    assert!(op["response"]["deleteTime"].is_string());
    let (status, gone) = h
        .call(ALICE, Method::GET, &format!("{V2}/jobs/evolving"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone["error"]["message"],
        "Resource 'evolving' of kind 'JOB' in region 'us-central1' in project 'demo-project' does not exist."
    );
}

#[tokio::test]
async fn v1_export_and_replace_change_the_service_account() {
    let h = harness().await;
    let runner = "runner@demo-project.iam.gserviceaccount.com";
    let write = h
        .control
        .service_account_write("demo-project", runner, "Runner")
        .unwrap();
    h.control.commit(&[write]).unwrap();
    assert_eq!(
        create(&h, ALICE, "seed-job", job(SAMPLE, 1, 0)).await.0,
        StatusCode::OK
    );
    // `gcloud run jobs describe seed-job --format export`.
    let (status, exported) = h
        .call(ALICE, Method::GET, &format!("{V1}/seed-job"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{exported}");
    assert_eq!(exported["apiVersion"], "run.googleapis.com/v1");
    assert_eq!(exported["kind"], "Job");
    assert_eq!(exported["metadata"]["namespace"], h.project.number);
    assert_eq!(
        exported["metadata"]["labels"]["cloud.googleapis.com/location"],
        "us-central1"
    );
    // Edit serviceAccountName as the seed does, and `gcloud run jobs replace job.yaml`.
    let mut edited = exported.clone();
    edited["spec"]["template"]["spec"]["template"]["spec"]["serviceAccountName"] = json!(runner);
    edited.as_object_mut().unwrap().remove("status");
    let yaml: &'static [u8] = Box::leak(
        serde_yaml::to_string(&edited)
            .unwrap()
            .into_bytes()
            .into_boxed_slice(),
    );
    // Bob may update jobs but may not act as the runner.
    h.grant_on_project("roles/run.developer", BOB);
    h.grant_on_project("roles/artifactregistry.reader", BOB);
    let (status, refused) = h
        .call_raw(BOB, Method::PUT, &format!("{V1}/seed-job"), yaml)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(
        refused["error"]["message"],
        format!(
            "Permission 'iam.serviceaccounts.actAs' denied on service account {runner} (or it may not exist)."
        )
    );
    let (status, replaced) = h
        .call_raw(ALICE, Method::PUT, &format!("{V1}/seed-job"), yaml)
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        replaced["spec"]["template"]["spec"]["template"]["spec"]["serviceAccountName"],
        runner
    );
    let (_, v2) = h
        .call(ALICE, Method::GET, &format!("{V2}/jobs/seed-job"), None)
        .await;
    assert_eq!(v2["template"]["template"]["serviceAccount"], runner);
    // Replaying the old export is a concurrent modification.
    let stale: &'static [u8] = Box::leak(
        serde_yaml::to_string(&edited)
            .unwrap()
            .into_bytes()
            .into_boxed_slice(),
    );
    let (status, _) = h
        .call_raw(ALICE, Method::PUT, &format!("{V1}/seed-job"), stale)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // v1 list and create; delete answers with a Status.
    let mut fresh = replaced.clone();
    fresh["metadata"] =
        json!({"name": "v1-job", "labels": {"cloud.googleapis.com/location": "europe-west1"}});
    let (status, created) = h.call(ALICE, Method::POST, V1, Some(fresh)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let (status, europe) = h
        .call(
            ALICE,
            Method::GET,
            "/v2/projects/demo-project/locations/europe-west1/jobs/v1-job",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{europe}");
    let (_, list) = h.call(ALICE, Method::GET, V1, None).await;
    assert_eq!(list["kind"], "JobsList");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let (_, filtered) = h
        .call(
            ALICE,
            Method::GET,
            &format!("{V1}?labelSelector=cloud.googleapis.com/location%3Deurope-west1"),
            None,
        )
        .await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let (status, deleted) = h
        .call(ALICE, Method::DELETE, &format!("{V1}/v1-job"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["status"], "Success");
}

#[tokio::test]
async fn executions_interrupted_by_a_stop_are_recovered_as_failed() {
    let h = harness().await;
    assert_eq!(
        create(&h, ALICE, "interrupted", job(&format!("{REPO}/slow"), 1, 0))
            .await
            .0,
        StatusCode::OK
    );
    let (_, op) = run(&h, ALICE, "interrupted", json!({})).await;
    let execution_name = op["metadata"]["name"].as_str().unwrap().to_owned();
    for _ in 0..200 {
        let (_, execution) = h
            .call(ALICE, Method::GET, &format!("/v2/{execution_name}"), None)
            .await;
        if execution["runningCount"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // What start-up does for executions whose runner died with the previous process.
    assert_eq!(h.control.recover_executions().unwrap(), 1);
    let done = wait(&h, &op).await;
    let completed = done["response"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Completed")
        .unwrap()
        .clone();
    assert_eq!(completed["state"], "CONDITION_FAILED");
    assert_eq!(
        completed["executionReason"],
        "JOB_STATUS_SERVICE_POLLING_ERROR"
    );
    assert_eq!(
        h.control.recover_executions().unwrap(),
        0,
        "completed executions are left alone"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, execution) = h
        .call(ALICE, Method::GET, &format!("/v2/{execution_name}"), None)
        .await;
    let after = execution["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Completed")
        .unwrap()
        .clone();
    assert_eq!(after, completed, "the recovered state stands");
    let (_, job) = h
        .call(ALICE, Method::GET, &format!("{V2}/jobs/interrupted"), None)
        .await;
    assert_eq!(
        job["latestCreatedExecution"]["completionStatus"],
        "EXECUTION_FAILED"
    );
}

#[tokio::test]
async fn attempts_past_the_timeout_fail_and_unknown_images_fail_to_start() {
    let h = harness().await;
    let body = json!({"template": {"template": {"containers": [{"image": format!("{REPO}/slow")}], "maxRetries": 0, "timeout": "1s"}}});
    assert_eq!(create(&h, ALICE, "too-slow", body).await.0, StatusCode::OK);
    let (_, op) = run(&h, ALICE, "too-slow", json!({})).await;
    let done = wait(&h, &op).await;
    assert_eq!(done["response"]["failedCount"], 1, "{done}");
    let execution_name = done["response"]["name"].as_str().unwrap();
    let (_, tasks) = h
        .call(
            ALICE,
            Method::GET,
            &format!("/v2/{execution_name}/tasks"),
            None,
        )
        .await;
    assert_eq!(
        tasks["tasks"][0]["lastAttemptResult"]["status"]["code"], 4,
        "{tasks}"
    );

    // An image Kumo cannot run: every attempt fails to start, and the message says why.
    let body = json!({"template": {"template": {"containers": [{"image": format!("{REPO}/unmapped")}], "maxRetries": 1}}});
    assert_eq!(create(&h, ALICE, "unmapped", body).await.0, StatusCode::OK);
    let (_, op) = run(&h, ALICE, "unmapped", json!({})).await;
    let done = wait(&h, &op).await;
    assert_eq!(done["response"]["failedCount"], 1, "{done}");
    assert_eq!(done["response"]["retriedCount"], 1, "{done}");
    let completed = done["response"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Completed")
        .unwrap()
        .clone();
    assert!(
        completed["message"].as_str().unwrap().contains("unmapped"),
        "{completed}"
    );
}
