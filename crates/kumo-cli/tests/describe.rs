//! `run services describe` and `run revisions describe` without `--format`: gcloud's custom
//! printers (golden files), and YAML/JSON/export still on request.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a broken fixture must fail the test loudly"
)]

mod fake;

use fake::{Cli, Fake, ok};
use serde_json::{Value, json};

const SVC: &str = "/v1/projects/demo-project/locations/asia-northeast1/services/hello";
const REV: &str =
    "/v2/projects/demo-project/locations/asia-northeast1/services/hello/revisions/hello-00002-xyz";

fn service() -> Value {
    json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {
            "name": "hello", "namespace": "123456789012", "generation": 2,
            "labels": {"cloud.googleapis.com/location": "asia-northeast1", "team": "web"},
            "annotations": {
                "serving.knative.dev/creator": "alice@example.com",
                "serving.knative.dev/lastModifier": "alice@example.com",
                "run.googleapis.com/ingress": "all",
                "run.googleapis.com/ingress-status": "all",
                "run.googleapis.com/invoker-iam-disabled": "true"
            }
        },
        "spec": {
            "template": {
                "metadata": {"annotations": {
                    "autoscaling.knative.dev/minScale": "1",
                    "autoscaling.knative.dev/maxScale": "3"
                }},
                "spec": {
                    "containerConcurrency": 80,
                    "timeoutSeconds": 300,
                    "serviceAccountName": "123456789012-compute@developer.gserviceaccount.com",
                    "containers": [{
                        "image": "asia-northeast1-docker.pkg.dev/demo-project/docker-repo/hello:latest",
                        "ports": [{"name": "http1", "containerPort": 8080}],
                        "env": [{"name": "TARGET", "value": "world"}, {"name": "MODE", "value": "demo"}],
                        "resources": {"limits": {"cpu": "1000m", "memory": "512Mi"}},
                        "startupProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 240, "timeoutSeconds": 240, "failureThreshold": 1}
                    }]
                }
            },
            "traffic": [
                {"latestRevision": true, "percent": 100},
                {"revisionName": "hello-00001-abc", "percent": 0, "tag": "old"}
            ]
        },
        "status": {
            "observedGeneration": 2,
            "url": "http://hello-123456789012.asia-northeast1.run.localhost:8080",
            "latestReadyRevisionName": "hello-00002-xyz",
            "latestCreatedRevisionName": "hello-00002-xyz",
            "traffic": [
                {"revisionName": "hello-00002-xyz", "percent": 100, "latestRevision": true},
                {"revisionName": "hello-00001-abc", "percent": 0, "tag": "old", "url": "http://old---hello-123456789012.asia-northeast1.run.localhost:8080"}
            ],
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-23T09:00:00.123456Z"}]
        }
    })
}

fn revision() -> Value {
    json!({
        "name": "projects/demo-project/locations/asia-northeast1/services/hello/revisions/hello-00002-xyz",
        "service": "projects/demo-project/locations/asia-northeast1/services/hello",
        "labels": {"team": "web"},
        "scaling": {"minInstanceCount": 1, "maxInstanceCount": 3},
        "timeout": "300s",
        "serviceAccount": "123456789012-compute@developer.gserviceaccount.com",
        "maxInstanceRequestConcurrency": 80,
        "executionEnvironment": "EXECUTION_ENVIRONMENT_GEN2",
        "containers": [{
            "image": "asia-northeast1-docker.pkg.dev/demo-project/docker-repo/hello:latest",
            "ports": [{"name": "http1", "containerPort": 8080}],
            "env": [{"name": "TARGET", "value": "world"},
                    {"name": "API_KEY", "valueSource": {"secretKeyRef": {"secret": "api-key", "version": "latest"}}}],
            "resources": {"limits": {"cpu": "1000m", "memory": "512Mi"}}
        }],
        "conditions": [{"type": "Ready", "state": "CONDITION_SUCCEEDED"}]
    })
}

fn golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        actual, expected,
        "{name} differs; UPDATE_GOLDEN=1 rewrites it"
    );
}

#[test]
fn services_describe_prints_gcloud_summary() {
    let fake = Fake::start();
    fake.on("GET", SVC, vec![ok(service())]);
    let cli = Cli::new(&fake);
    let o = cli.run("run services describe hello");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stderr, "");
    golden("services_describe.txt", &o.stdout);

    // --format still prints the resource itself.
    let o = cli.run("run services describe hello --format yaml");
    assert!(
        o.stdout
            .starts_with("apiVersion: serving.knative.dev/v1\nkind: Service\n"),
        "{}",
        o.stdout
    );
    let o = cli.run("run services describe hello --format export");
    assert!(!o.stdout.contains("\nstatus:"), "{}", o.stdout);
    let o = cli.run("run services describe hello --format json");
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["metadata"]["name"], "hello");
}

#[test]
fn a_failed_service_shows_its_reason() {
    let fake = Fake::start();
    let mut svc = service();
    svc["status"]["conditions"] = json!([{"type": "Ready", "status": "False",
        "message": "Revision 'hello-00003-new' is not ready and cannot serve traffic.",
        "lastTransitionTime": "2026-11-23T10:00:00Z"}]);
    svc["status"]["latestCreatedRevisionName"] = json!("hello-00003-new");
    fake.on("GET", SVC, vec![ok(svc)]);
    let o = Cli::new(&fake).run("run services describe hello");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout
            .starts_with("! Service hello in region asia-northeast1\n"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("  Revision hello-00003-new\n"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout
            .ends_with("! Revision 'hello-00003-new' is not ready and cannot serve traffic.\n"),
        "{}",
        o.stdout
    );
}

#[test]
fn revisions_describe_prints_gcloud_summary() {
    let fake = Fake::start();
    fake.on("GET", REV, vec![ok(revision())]);
    let cli = Cli::new(&fake);
    let o = cli.run("run revisions describe hello-00002-xyz");
    assert_eq!(o.code, 0, "{}", o.stderr);
    golden("revisions_describe.txt", &o.stdout);
    // gcloud prints the v1 (Knative) Revision.
    let o = cli.run(
        "run revisions describe hello-00002-xyz --format 'value(spec.serviceAccountName,metadata.labels.\"serving.knative.dev/service\",status.conditions[0].status)'",
    );
    assert_eq!(
        o.stdout,
        "123456789012-compute@developer.gserviceaccount.com\thello\tTrue\n"
    );
    let o = cli.run("run revisions describe hello-00002-xyz --format json");
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["apiVersion"], "serving.knative.dev/v1");
    assert_eq!(v["kind"], "Revision");
    assert_eq!(v["metadata"]["name"], "hello-00002-xyz");
    assert_eq!(
        v["metadata"]["annotations"]["autoscaling.knative.dev/maxScale"],
        "3"
    );
    assert_eq!(v["spec"]["timeoutSeconds"], 300);
    // gcloud's own text for a revision that does not exist.
    let o = cli.run("run revisions describe hello-00009-nop");
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "ERROR: (kumo.run.revisions.describe) Cannot find revision [hello-00009-nop]\n"
    );
}

#[test]
fn jobs_describe_prints_gcloud_summary() {
    let fake = Fake::start();
    fake.on(
        "GET",
        "/apis/run.googleapis.com/v1/namespaces/demo-project/jobs/nightly",
        vec![ok(json!({
            "apiVersion": "run.googleapis.com/v1",
            "kind": "Job",
            "metadata": {
                "name": "nightly", "namespace": "123456789012",
                "labels": {"cloud.googleapis.com/location": "asia-northeast1"},
                "annotations": {"run.googleapis.com/creator": "alice@example.com",
                                "serving.knative.dev/lastModifier": "alice@example.com"}
            },
            "spec": {"template": {"spec": {
                "taskCount": 3,
                "template": {"spec": {
                    "containers": [{"image": "asia-northeast1-docker.pkg.dev/demo-project/docker-repo/batch:latest",
                                    "args": ["--date", "today"],
                                    "env": [{"name": "MODE", "value": "full"}],
                                    "resources": {"limits": {"cpu": "1000m", "memory": "512Mi"}}}],
                    "maxRetries": 3,
                    "timeoutSeconds": 3660,
                    "serviceAccountName": "batch@demo-project.iam.gserviceaccount.com"
                }}
            }}},
            "status": {
                "observedGeneration": 1,
                "executionCount": 2,
                "latestCreatedExecution": {"name": "nightly-x7k2p", "creationTimestamp": "2026-11-23T09:30:00Z"},
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-23T09:00:00Z"}]
            }
        }))],
    );
    let cli = Cli::new(&fake);
    let o = cli.run("run jobs describe nightly");
    assert_eq!(o.code, 0, "{}", o.stderr);
    golden("jobs_describe.txt", &o.stdout);
    let o = cli.run("run jobs describe nightly --format export");
    assert!(
        o.stdout
            .starts_with("apiVersion: run.googleapis.com/v1\nkind: Job\n"),
        "{}",
        o.stdout
    );
}

#[test]
fn executions_describe_prints_gcloud_summary() {
    let fake = Fake::start();
    let path = "/apis/run.googleapis.com/v1/namespaces/demo-project/executions/nightly-x7k2p";
    let mut execution = json!({
        "apiVersion": "run.googleapis.com/v1",
        "kind": "Execution",
        "metadata": {
            "name": "nightly-x7k2p", "namespace": "123456789012",
            "creationTimestamp": "2026-11-23T09:30:00Z",
            "labels": {"cloud.googleapis.com/location": "asia-northeast1",
                       "run.googleapis.com/job": "nightly"}
        },
        "spec": {
            "taskCount": 3, "parallelism": 2,
            "template": {"spec": {
                "containers": [{"image": "asia-northeast1-docker.pkg.dev/demo-project/docker-repo/batch:latest"}],
                "maxRetries": 0, "timeoutSeconds": 600,
                "serviceAccountName": "batch@demo-project.iam.gserviceaccount.com"
            }}
        },
        "status": {
            "succeededCount": 2, "failedCount": 1, "runningCount": 0,
            "completionTime": "2026-11-23T09:31:05.5Z",
            "logUri": "http://127.0.0.1:8080/console/logs?project=demo-project",
            "conditions": [{"type": "Completed", "status": "False",
                            "message": "Task nightly-x7k2p-task2 failed with exit code 1."}]
        }
    });
    fake.on("GET", path, vec![ok(execution.clone())]);
    let cli = Cli::new(&fake);
    let o = cli.run("run jobs executions describe nightly-x7k2p");
    assert_eq!(o.code, 0, "{}", o.stderr);
    golden("executions_describe.txt", &o.stdout);

    // Still running: the running count, no elapsed time.
    execution["status"]["conditions"] = json!([{"type": "Completed", "status": "Unknown"}]);
    execution["status"]["runningCount"] = json!(1);
    execution["status"]["failedCount"] = json!(0);
    execution["status"]
        .as_object_mut()
        .unwrap()
        .remove("completionTime");
    fake.on("GET", path, vec![ok(execution)]);
    let o = cli.run("run jobs executions describe nightly-x7k2p");
    assert!(
        o.stdout.starts_with(
            "… Execution nightly-x7k2p in region asia-northeast1\n1 task currently running\n2 tasks completed successfully\n \nLog URI: "
        ),
        "{}",
        o.stdout
    );
}
