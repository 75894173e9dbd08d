//! The defaults Cloud Run fills into services and jobs on create, update and replace, seen through
//! v2 and the v1 (Knative) view; explicit values are kept, and the runtime identity written is the
//! one the deploy-time `actAs` check was made on.

use axum::http::{Method, StatusCode};
use kumo_api::testing::Harness;
use serde_json::{Value, json};

mod common;
use common::{ALICE, BOB, HELLO, V2, create_service, http_server, service};

const V1_SERVICES: &str = "/apis/serving.knative.dev/v1/namespaces/demo-project/services";
const V1_JOBS: &str = "/apis/run.googleapis.com/v1/namespaces/demo-project/jobs";
const JOB: &str = "us-docker.pkg.dev/cloudrun/container/job";

fn harness() -> Harness {
    let h = Harness::new();
    h.load_images(&json!({"images": {HELLO: http_server(), JOB: {"entrypoint": ["true"]}}}));
    h
}

fn default_account(h: &Harness) -> String {
    format!("{}-compute@developer.gserviceaccount.com", h.project.number)
}

async fn get(h: &Harness, path: &str) -> Value {
    let (status, body) = h.call(ALICE, Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn a_bare_service_is_stored_with_cloud_runs_defaults_in_both_views() {
    let h = harness();
    let (status, body) = create_service(&h, ALICE, "hello", service(HELLO)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sa = default_account(&h);

    let v2 = get(&h, &format!("{V2}/services/hello")).await;
    let template = &v2["template"];
    assert_eq!(template["serviceAccount"], sa.as_str());
    assert_eq!(template["timeout"], "300s");
    assert_eq!(template["maxInstanceRequestConcurrency"], 80);
    assert_eq!(template["scaling"], json!({"maxInstanceCount": 100}));
    let container = &template["containers"][0];
    assert_eq!(
        container["ports"],
        json!([{"name": "http1", "containerPort": 8080}])
    );
    assert_eq!(
        container["resources"],
        json!({"limits": {"cpu": "1000m", "memory": "512Mi"}, "cpuIdle": true})
    );
    assert_eq!(
        container["startupProbe"],
        json!({"timeoutSeconds": 240, "periodSeconds": 240, "failureThreshold": 1, "tcpSocket": {"port": 8080}})
    );

    // The revision carries the same values.
    let revision = get(
        &h,
        &format!("/v2/{}", v2["latestCreatedRevision"].as_str().unwrap()),
    )
    .await;
    assert_eq!(revision["serviceAccount"], sa.as_str());
    assert_eq!(revision["containers"][0]["ports"][0]["containerPort"], 8080);

    let v1 = get(&h, &format!("{V1_SERVICES}/hello")).await;
    let revision_template = &v1["spec"]["template"];
    assert_eq!(
        revision_template["metadata"]["annotations"]["autoscaling.knative.dev/maxScale"],
        "100"
    );
    let spec = &revision_template["spec"];
    assert_eq!(spec["containerConcurrency"], 80);
    assert_eq!(spec["timeoutSeconds"], 300);
    assert_eq!(spec["serviceAccountName"], sa.as_str());
    let container = &spec["containers"][0];
    assert_eq!(
        container["ports"],
        json!([{"name": "http1", "containerPort": 8080}])
    );
    assert_eq!(
        container["resources"]["limits"],
        json!({"cpu": "1000m", "memory": "512Mi"})
    );
    assert_eq!(
        container["startupProbe"],
        json!({"timeoutSeconds": 240, "periodSeconds": 240, "failureThreshold": 1, "tcpSocket": {"port": 8080}})
    );

    // Re-sending the same thin template is no change: the defaults are part of what was asked.
    let generation = v2["generation"].clone();
    let (status, body) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{V2}/services/hello"),
            Some(service(HELLO)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let again = get(&h, &format!("{V2}/services/hello")).await;
    assert_eq!(again["generation"], generation);
    assert_eq!(again["latestCreatedRevision"], v2["latestCreatedRevision"]);
}

#[tokio::test]
async fn explicit_service_values_are_kept() {
    let h = harness();
    let yaml = format!(
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: tuned\n  labels:\n    cloud.googleapis.com/location: us-central1\nspec:\n  template:\n    metadata:\n      annotations:\n        autoscaling.knative.dev/maxScale: '3'\n        run.googleapis.com/cpu-throttling: 'false'\n    spec:\n      containerConcurrency: 5\n      timeoutSeconds: 30\n      containers:\n      - image: {HELLO}\n        ports:\n        - name: h2c\n          containerPort: 9000\n        resources:\n          limits:\n            cpu: '2'\n            memory: 1Gi\n"
    );
    let (status, body) = h
        .call_raw(
            ALICE,
            Method::POST,
            V1_SERVICES,
            Box::leak(yaml.into_bytes().into_boxed_slice()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v2 = get(&h, &format!("{V2}/services/tuned")).await;
    let template = &v2["template"];
    assert_eq!(template["timeout"], "30s");
    assert_eq!(template["maxInstanceRequestConcurrency"], 5);
    assert_eq!(template["scaling"]["maxInstanceCount"], 3);
    let container = &template["containers"][0];
    assert_eq!(
        container["ports"],
        json!([{"name": "h2c", "containerPort": 9000}])
    );
    assert_eq!(
        container["resources"],
        json!({"limits": {"cpu": "2", "memory": "1Gi"}})
    );
    assert_eq!(container["startupProbe"]["tcpSocket"]["port"], 9000);
    let v1 = get(&h, &format!("{V1_SERVICES}/tuned")).await;
    assert_eq!(
        v1["spec"]["template"]["metadata"]["annotations"]["run.googleapis.com/cpu-throttling"],
        "false"
    );

    // v1 without the annotation means throttled CPU, as Knative-on-Cloud-Run defaults it.
    let yaml = format!(
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: tuned\n  labels:\n    cloud.googleapis.com/location: us-central1\nspec:\n  template:\n    spec:\n      containers:\n      - image: {HELLO}\n        resources:\n          limits:\n            memory: 1Gi\n"
    );
    let (status, body) = h
        .call_raw(
            ALICE,
            Method::PUT,
            &format!("{V1_SERVICES}/tuned"),
            Box::leak(yaml.into_bytes().into_boxed_slice()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v2 = get(&h, &format!("{V2}/services/tuned")).await;
    assert_eq!(
        v2["template"]["containers"][0]["resources"],
        json!({"limits": {"cpu": "1000m", "memory": "1Gi"}, "cpuIdle": true})
    );
}

#[tokio::test]
async fn act_as_is_checked_on_the_default_account_that_is_then_written() {
    let h = harness();
    h.grant_on_project("roles/run.developer", BOB);
    let body = service(HELLO);
    let (status, refused) = create_service(&h, BOB, "bobs", body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let sa = default_account(&h);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "Permission 'iam.serviceaccounts.actAs' denied on service account {sa}"
            )),
        "{refused}"
    );
    h.grant_on_project("roles/iam.serviceAccountUser", BOB);
    let (status, created) = create_service(&h, BOB, "bobs", body).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let v2 = get(&h, &format!("{V2}/services/bobs")).await;
    assert_eq!(v2["template"]["serviceAccount"], sa.as_str());
}

#[tokio::test]
async fn a_bare_job_is_stored_with_cloud_runs_defaults_in_both_views() {
    let h = harness();
    let (status, body) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{V2}/jobs?jobId=nightly"),
            Some(json!({"template": {"template": {"containers": [{"image": JOB}]}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sa = default_account(&h);
    let v2 = get(&h, &format!("{V2}/jobs/nightly")).await;
    let execution = &v2["template"];
    assert_eq!(execution["taskCount"], 1);
    assert!(execution.get("parallelism").is_none(), "{execution}");
    let task = &execution["template"];
    assert_eq!(task["maxRetries"], 3);
    assert_eq!(task["timeout"], "600s");
    assert_eq!(task["serviceAccount"], sa.as_str());
    assert_eq!(
        task["containers"][0]["resources"],
        json!({"limits": {"cpu": "1000m", "memory": "512Mi"}})
    );

    let v1 = get(&h, &format!("{V1_JOBS}/nightly")).await;
    let execution = &v1["spec"]["template"]["spec"];
    assert_eq!(execution["taskCount"], 1);
    let task = &execution["template"]["spec"];
    assert_eq!(task["maxRetries"], 3);
    assert_eq!(task["timeoutSeconds"], "600");
    assert_eq!(task["serviceAccountName"], sa.as_str());
    assert_eq!(
        task["containers"][0]["resources"]["limits"],
        json!({"cpu": "1000m", "memory": "512Mi"})
    );

    // Explicit values survive an update.
    let (status, body) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{V2}/jobs/nightly"),
            Some(
                json!({"template": {"taskCount": 4, "parallelism": 2, "template": {
                "containers": [{"image": JOB}], "maxRetries": 0, "timeout": "60s"}}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v2 = get(&h, &format!("{V2}/jobs/nightly")).await;
    assert_eq!(v2["template"]["taskCount"], 4);
    assert_eq!(v2["template"]["parallelism"], 2);
    assert_eq!(v2["template"]["template"]["maxRetries"], 0);
    assert_eq!(v2["template"]["template"]["timeout"], "60s");
}
