//! gcloud's list-command flags (`--filter`, `--limit`, `--sort-by`, `--page-size`, `--uri`),
//! the default table's labels as `--format` keys, and v1 objects from `run revisions` and
//! `run jobs executions`, against the Google API test double.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a broken fixture must fail the test loudly"
)]

mod fake;

use fake::{Cli, Fake, ok};
use serde_json::{Value, json};

fn projects(fake: &Fake) {
    fake.on(
        "GET",
        "/v3/projects:search",
        vec![ok(json!({"projects": [
            {"name": "projects/100000007919", "projectId": "demo-project", "displayName": "Demo", "state": "ACTIVE"},
            {"name": "projects/100000000042", "projectId": "other-project", "displayName": "Other", "state": "ACTIVE"},
            {"name": "projects/100000000043", "projectId": "demo-project-2", "displayName": "Demo 2", "state": "ACTIVE"}
        ]}))],
    );
}

/// Google's idiom for the project number, and its common variants.
#[test]
fn project_number_idioms() {
    let fake = Fake::start();
    projects(&fake);
    let cli = Cli::new(&fake);
    let cases: &[(&str, &str)] = &[
        (
            "projects list --filter=demo-project --format=value(PROJECT_NUMBER)",
            "100000007919\n100000000043\n",
        ),
        (
            "projects list --filter=PROJECT_ID=demo-project --format=value(PROJECT_NUMBER)",
            "100000007919\n",
        ),
        (
            "projects list --filter=project_id=demo-project --limit=1 --format=value(projectNumber)",
            "100000007919\n",
        ),
        (
            "projects list --filter='projectId:demo* AND NOT name=Demo' --format=value(projectId)",
            "demo-project-2\n",
        ),
        (
            "projects list --sort-by=~projectNumber --limit=2 --format=value(projectId)",
            "demo-project\ndemo-project-2\n",
        ),
        (
            "projects list --filter=nothing-matches --format=value(projectId)",
            "",
        ),
        (
            "projects list --filter=projectId=other-project --format=json(projectId,projectNumber)",
            "[\n  {\n    \"projectId\": \"other-project\",\n    \"projectNumber\": \"100000000042\"\n  }\n]\n",
        ),
    ];
    for (args, want) in cases {
        let o = cli.run(args);
        assert_eq!(o.code, 0, "{args}: {}", o.stderr);
        assert_eq!(o.stdout, *want, "{args}");
    }
    // The default table, filtered; gcloud's epilogue when nothing is left.
    let o = cli.run("projects list --filter=projectId:other");
    assert_eq!(
        o.stdout,
        "PROJECT_ID     NAME   PROJECT_NUMBER\nother-project  Other  100000000042\n"
    );
    let o = cli.run("projects list --filter=zzz");
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str()),
        ("", "Listed 0 items.\n")
    );
    // --uri: the resource's URI on the API endpoint.
    let o = cli.run("projects list --uri --limit 1");
    assert_eq!(
        o.stdout,
        format!("{}/v1/projects/demo-project\n", fake.base)
    );
}

#[test]
fn bad_list_flags_are_usage_errors() {
    let fake = Fake::start();
    projects(&fake);
    let cli = Cli::new(&fake);
    let o = cli.run("projects list --limit=0");
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("greater than or equal to 1"),
        "{}",
        o.stderr
    );
    let o = cli.run("projects list --filter='a=b AND c=d OR e=f'");
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("Parenthesis grouping"), "{}", o.stderr);
    // unlimited is gcloud's spelling of no limit.
    let o = cli.run("projects list --limit=unlimited --page-size=100 --format=value(projectId)");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 3);
}

#[test]
fn organizations_id_label() {
    let fake = Fake::start();
    fake.on(
        "POST",
        "/v1/organizations:search",
        vec![ok(json!({"organizations": [
            {"name": "organizations/123456789", "displayName": "example.com", "owner": {"directoryCustomerId": "C0abc"}}
        ]}))],
    );
    let cli = Cli::new(&fake);
    for (args, want) in [
        ("organizations list --format=value(ID)", "123456789\n"),
        (
            "organizations list --format=value(name.segment())",
            "123456789\n",
        ),
        (
            "organizations list --filter=displayName:example --format=value(DIRECTORY_CUSTOMER_ID)",
            "C0abc\n",
        ),
    ] {
        let o = cli.run(args);
        assert_eq!(o.code, 0, "{args}: {}", o.stderr);
        assert_eq!(o.stdout, want, "{args}");
    }
}

fn service(name: &str, region: &str) -> Value {
    json!({
        "apiVersion": "serving.knative.dev/v1", "kind": "Service",
        "metadata": {
            "name": name, "namespace": "123456789012",
            "selfLink": format!("/apis/serving.knative.dev/v1/namespaces/123456789012/services/{name}"),
            "labels": {"cloud.googleapis.com/location": region},
            "annotations": {"serving.knative.dev/creator": "alice@example.com"}
        },
        "status": {"url": format!("http://{name}.run.localhost"),
                   "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

#[test]
fn run_services_list_flags_and_platform() {
    let fake = Fake::start();
    fake.on(
        "GET",
        "/v1/projects/demo-project/locations/asia-northeast1/services",
        vec![ok(json!({"items": [
            service("beta", "asia-northeast1"),
            service("alpha", "asia-northeast1"),
            service("gamma", "asia-northeast1")
        ]}))],
    );
    let cli = Cli::new(&fake);
    let cases: &[(&str, &str)] = &[
        (
            "run services list --platform managed --format=value(metadata.name)",
            "alpha\nbeta\ngamma\n",
        ),
        (
            "run services list --limit=2 --format=value(name)",
            "alpha\nbeta\n",
        ),
        (
            "run services list --sort-by=~name --format=value(SERVICE)",
            "gamma\nbeta\nalpha\n",
        ),
        (
            "run services list --filter=metadata.name~^b --format=value(URL)",
            "http://beta.run.localhost\n",
        ),
        (
            "run services list --filter='name=(alpha,gamma)' --format=value(region,name)",
            "asia-northeast1\talpha\nasia-northeast1\tgamma\n",
        ),
        (
            "run services list --filter=region:asia --limit 1 --format=value(author)",
            "alice@example.com\n",
        ),
    ];
    for (args, want) in cases {
        let o = cli.run(args);
        assert_eq!(o.code, 0, "{args}: {}", o.stderr);
        assert_eq!(o.stdout, *want, "{args}");
    }
    let o = cli.run("run services list --uri --filter=name=alpha");
    assert_eq!(
        o.stdout,
        format!(
            "{}/apis/serving.knative.dev/v1/namespaces/123456789012/services/alpha\n",
            fake.base
        )
    );
    // --platform managed on any run command; other platforms do not exist in Kumo.
    fake.on(
        "GET",
        "/v1/projects/demo-project/locations/asia-northeast1/services/alpha",
        vec![ok(service("alpha", "asia-northeast1"))],
    );
    let o = cli.run("run services describe alpha --platform=managed --format=value(status.url)");
    assert_eq!(o.stdout, "http://alpha.run.localhost\n", "{}", o.stderr);
    let o = cli.run("run --platform managed services describe alpha --format=value(name)");
    assert_eq!(o.stdout, "alpha\n", "{}", o.stderr);
    let o = cli.run("run services describe alpha --platform=gke");
    assert_eq!(o.code, 2, "{}", o.stderr);
}

/// `run jobs executions list|describe` print v1 Executions, read through the v1 API.
#[test]
fn executions_are_v1() {
    let fake = Fake::start();
    let execution = |name: &str, region: &str, succeeded: i64| {
        json!({
            "apiVersion": "run.googleapis.com/v1", "kind": "Execution",
            "metadata": {"name": name, "namespace": "123456789012",
                         "creationTimestamp": "2026-11-23T09:30:00Z",
                         "labels": {"cloud.googleapis.com/location": region, "run.googleapis.com/job": "my-job"},
                         "annotations": {"run.googleapis.com/creator": "alice@example.com"}},
            "spec": {"taskCount": 1},
            "status": {"succeededCount": succeeded, "startTime": format!("2026-11-23T09:3{succeeded}:00Z"),
                       "conditions": [{"type": "Completed", "status": "True"}]}
        })
    };
    fake.on(
        "GET",
        "/apis/run.googleapis.com/v1/namespaces/demo-project/executions",
        vec![ok(json!({"items": [
            execution("my-job-aaaaa", "asia-northeast1", 1),
            execution("my-job-bbbbb", "us-central1", 1),
            execution("my-job-ccccc", "asia-northeast1", 0)
        ]}))],
    );
    let cli = Cli::new(&fake);
    let o = cli.run(
        "run jobs executions list --job my-job --format=value(metadata.name,status.succeededCount)",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "my-job-aaaaa\t1\nmy-job-ccccc\t0\n");
    let req = fake.find(
        "GET",
        "/apis/run.googleapis.com/v1/namespaces/demo-project/executions",
    );
    assert!(
        req.target
            .contains("labelSelector=run.googleapis.com%2Fjob%3Dmy-job"),
        "{}",
        req.target
    );
    let o = cli.run("run jobs executions list --job my-job");
    assert_eq!(
        o.stdout,
        "   JOB     EXECUTION     REGION           RUNNING  COMPLETE  CREATED                  RUN BY\n\
         ✔  my-job  my-job-aaaaa  asia-northeast1  0        1 / 1     2026-11-23 09:30:00 UTC  alice@example.com\n\
         ✔  my-job  my-job-ccccc  asia-northeast1  0        0 / 1     2026-11-23 09:30:00 UTC  alice@example.com\n"
    );
    let o = cli.run("run jobs executions list --job my-job --format=json");
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v[0]["kind"], "Execution");
    assert_eq!(v[0]["status"]["conditions"][0]["status"], "True");
}
