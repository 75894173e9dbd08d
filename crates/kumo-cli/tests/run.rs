//! `run …` against the Google API test double: exact requests and exact human output.

mod fake;

use fake::{Cli, Fake, err, ok};
use serde_json::{Value, json};

const SVC: &str = "/v1/projects/demo-project/locations/asia-northeast1/services/my-cloud-run-app";

fn ready_service(name: &str) -> Value {
    json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {
            "name": name, "namespace": "123456789012", "generation": 1, "uid": "u",
            "labels": {"cloud.googleapis.com/location": "asia-northeast1"},
            "annotations": {"serving.knative.dev/lastModifier": "alice@example.com"}
        },
        "spec": {"template": {"metadata": {"name": format!("{name}-00001-wtl")}, "spec": {"containers": [{"image": "img"}]}}},
        "status": {
            "observedGeneration": 1,
            "url": format!("http://{name}-123456789012.asia-northeast1.run.localhost:8081"),
            "latestReadyRevisionName": format!("{name}-00001-wtl"),
            "latestCreatedRevisionName": format!("{name}-00001-wtl"),
            "traffic": [{"revisionName": format!("{name}-00001-wtl"), "percent": 100, "latestRevision": true}],
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-23T09:00:00Z"}]
        }
    })
}

fn deploy_routes(fake: &Fake) {
    let ready = ready_service("my-cloud-run-app");
    fake.on(
        "GET",
        SVC,
        vec![err(404, "NOT_FOUND", "not found"), ok(ready.clone())],
    );
    fake.on(
        "POST",
        "/apis/serving.knative.dev/v1/namespaces/demo-project/services",
        vec![ok(ready)],
    );
    fake.on(
        "GET",
        &format!("{SVC}:getIamPolicy"),
        vec![ok(json!({"etag": "BwA="}))],
    );
    fake.on(
        "POST",
        &format!("{SVC}:setIamPolicy"),
        vec![ok(json!({"etag": "BwB="}))],
    );
}

const DEPLOYED: &str = "\
Deploying container to Cloud Run service [my-cloud-run-app] in project [demo-project] region [asia-northeast1]
OK Deploying new service... Done.
  OK Creating Revision...
  OK Routing traffic...
  OK Setting IAM Policy...
Done.
Service [my-cloud-run-app] revision [my-cloud-run-app-00001-wtl] has been deployed and is serving 100 percent of traffic.
Service URL: http://my-cloud-run-app-123456789012.asia-northeast1.run.localhost:8081
";

#[test]
fn deploy_new_public_service_matches_seed_001() {
    let fake = Fake::start();
    deploy_routes(&fake);
    let cli = Cli::new(&fake);
    let o = cli.run("run deploy my-cloud-run-app --image asia-northeast1-docker.pkg.dev/demo-project/docker-repo/my-cloud-run-app:latest --region asia-northeast1 --allow-unauthenticated");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stderr, DEPLOYED);
    assert_eq!(o.stdout, "");
    assert_eq!(
        fake.lines(),
        [
            format!("GET {SVC}"),
            "POST /apis/serving.knative.dev/v1/namespaces/demo-project/services".to_owned(),
            format!("GET {SVC}"),
            format!("GET {SVC}:getIamPolicy"),
            format!("POST {SVC}:setIamPolicy"),
        ]
    );
    let create = fake.find(
        "POST",
        "/apis/serving.knative.dev/v1/namespaces/demo-project/services",
    );
    assert_eq!(create.auth.as_deref(), Some("Bearer ya29.alice"));
    let body = create.json();
    assert_eq!(body["apiVersion"], "serving.knative.dev/v1");
    assert_eq!(body["kind"], "Service");
    assert_eq!(body["metadata"]["name"], "my-cloud-run-app");
    assert_eq!(
        body["metadata"]["labels"]["cloud.googleapis.com/location"],
        "asia-northeast1"
    );
    assert_eq!(
        body["spec"]["template"]["spec"]["containers"][0]["image"],
        "asia-northeast1-docker.pkg.dev/demo-project/docker-repo/my-cloud-run-app:latest"
    );
    let set = fake.find("POST", &format!("{SVC}:setIamPolicy"));
    assert_eq!(
        set.json(),
        json!({"policy": {"etag": "BwA=", "bindings": [{"role": "roles/run.invoker", "members": ["allUsers"]}]}})
    );
}

#[test]
fn deploy_prompts_on_a_terminal_only() {
    let fake = Fake::start();
    deploy_routes(&fake);
    let mut cli = Cli::new(&fake);
    cli.env.stdin_is_tty = true;
    let o = cli.run_with("run deploy my-cloud-run-app --image img", "y\n");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        format!("Allow unauthenticated invocations to [my-cloud-run-app] (y/N)?  {DEPLOYED}")
    );

    // Not a terminal: no prompt, no IAM change.
    let fake = Fake::start();
    deploy_routes(&fake);
    let o = Cli::new(&fake).run("run deploy my-cloud-run-app --image img");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains("Allow unauthenticated"));
    assert!(!o.stderr.contains("Setting IAM Policy"));
    assert!(!fake.lines().iter().any(|l| l.contains("IamPolicy")));
}

#[test]
fn deploy_flags_map_to_knative_annotations() {
    let fake = Fake::start();
    deploy_routes(&fake);
    let o = Cli::new(&fake).run(
        "run deploy my-cloud-run-app --image img --no-invoker-iam-check --iap --ingress internal \
         --add-custom-audiences https://a.example,https://b.example --set-env-vars A=1,B=2 --port 9090 \
         --min-instances 1 --max-instances 3 --concurrency 10 --service-account sa@demo-project.iam.gserviceaccount.com",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let body = fake
        .find(
            "POST",
            "/apis/serving.knative.dev/v1/namespaces/demo-project/services",
        )
        .json();
    let ann = &body["metadata"]["annotations"];
    assert_eq!(ann["run.googleapis.com/invoker-iam-disabled"], "true");
    assert_eq!(ann["run.googleapis.com/iap-enabled"], "true");
    assert_eq!(ann["run.googleapis.com/ingress"], "internal");
    assert_eq!(
        ann["run.googleapis.com/custom-audiences"],
        "[\"https://a.example\",\"https://b.example\"]"
    );
    let t = &body["spec"]["template"];
    assert_eq!(
        t["metadata"]["annotations"]["autoscaling.knative.dev/minScale"],
        "1"
    );
    assert_eq!(
        t["metadata"]["annotations"]["autoscaling.knative.dev/maxScale"],
        "3"
    );
    assert_eq!(t["spec"]["containerConcurrency"], 10);
    assert_eq!(
        t["spec"]["serviceAccountName"],
        "sa@demo-project.iam.gserviceaccount.com"
    );
    assert_eq!(
        t["spec"]["containers"][0],
        json!({"image": "img", "ports": [{"name": "http1", "containerPort": 9090}],
               "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]})
    );
}

#[test]
fn deploy_iam_refusal_is_a_warning_like_gcloud() {
    let fake = Fake::start();
    deploy_routes(&fake);
    fake.on(
        "POST",
        &format!("{SVC}:setIamPolicy"),
        vec![err(
            400,
            "FAILED_PRECONDITION",
            "One or more users named in the policy do not belong to a permitted customer.",
        )],
    );
    let o = Cli::new(&fake).run("run deploy my-cloud-run-app --image img --allow-unauthenticated");
    assert_eq!(o.code, 0);
    assert!(
        o.stderr.contains("X Setting IAM Policy...\n"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains(
        "WARNING: Setting IAM policy failed, try \"kumo run services add-iam-policy-binding --region=asia-northeast1 --member=allUsers --role=roles/run.invoker my-cloud-run-app\"\nFAILED_PRECONDITION: One or more users named in the policy do not belong to a permitted customer.\n"
    ), "{}", o.stderr);
}

#[test]
fn update_refused_by_org_policy_prints_gcloud_error() {
    let message =
        "Operation denied by custom org policy: [\"constraints/run.managed.requireInvokerIam\"]";
    for (prog, label) in [
        ("", "kumo.run.services.update"),
        ("gcloud ", "gcloud.run.services.update"),
    ] {
        let fake = Fake::start();
        fake.on("GET", SVC, vec![ok(ready_service("my-cloud-run-app"))]);
        fake.on("PUT", SVC, vec![err(400, "FAILED_PRECONDITION", message)]);
        let o = Cli::new(&fake).run(&format!(
            "{prog}run services update my-cloud-run-app --no-invoker-iam-check"
        ));
        assert_eq!(o.code, 1);
        assert_eq!(
            o.stderr,
            format!("Update failed\nERROR: ({label}) FAILED_PRECONDITION: {message}\n")
        );
        let put = fake.find("PUT", SVC).json();
        assert_eq!(
            put["metadata"]["annotations"]["run.googleapis.com/invoker-iam-disabled"],
            "true"
        );
        assert!(put.get("status").is_none(), "status must not be sent back");
        // A service-level setting: the template goes back as it was, so no new revision.
        assert_eq!(
            put["spec"]["template"],
            ready_service("my-cloud-run-app")["spec"]["template"]
        );
    }
}

#[test]
fn update_without_a_change_is_refused_as_gcloud_does() {
    let fake = Fake::start();
    let o = Cli::new(&fake).run("run services update my-cloud-run-app --async");
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "ERROR: (kumo.run.services.update) No configuration change requested. Did you mean to \
         include the flags `--update-env-vars`, `--memory`, `--concurrency`, `--timeout`, \
         `--connectivity`, `--image`?\n"
    );
    assert!(fake.requests().is_empty(), "nothing is sent");
}

#[test]
fn update_of_the_template_names_a_new_revision() {
    let fake = Fake::start();
    fake.on("GET", SVC, vec![ok(ready_service("my-cloud-run-app"))]);
    fake.on("PUT", SVC, vec![err(400, "FAILED_PRECONDITION", "no")]);
    let o = Cli::new(&fake).run("run services update my-cloud-run-app --update-env-vars A=1");
    assert_eq!(o.code, 1);
    // gcloud's tracker for a change that makes a revision.
    assert!(o.stderr.starts_with("Deployment failed\n"), "{}", o.stderr);
    let put = fake.find("PUT", SVC).json();
    let template = &put["spec"]["template"];
    assert!(
        template["metadata"].get("name").is_none(),
        "revision name must be regenerated"
    );
    assert_eq!(
        template["metadata"]["annotations"]["run.googleapis.com/client-name"],
        "kumo"
    );
}

#[test]
fn alpha_track_is_accepted_and_named_in_errors() {
    let fake = Fake::start();
    fake.on("GET", SVC, vec![ok(ready_service("my-cloud-run-app"))]);
    fake.on(
        "PUT",
        SVC,
        vec![err(
            403,
            "PERMISSION_DENIED",
            "Permission 'run.services.update' denied",
        )],
    );
    let o = Cli::new(&fake).run("gcloud alpha run services update my-cloud-run-app --iap");
    assert_eq!(o.code, 1);
    // gcloud appends the credentials it used (no final period: the message had none).
    assert!(o.stderr.ends_with("ERROR: (gcloud.alpha.run.services.update) PERMISSION_DENIED: Permission 'run.services.update' denied. This command is authenticated as alice@example.com which is the active account specified by the [core/account] property\n"), "{}", o.stderr);
    let put = fake.find("PUT", SVC).json();
    assert_eq!(
        put["metadata"]["annotations"]["run.googleapis.com/iap-enabled"],
        "true"
    );
}

#[test]
fn update_no_iap_removes_the_annotation() {
    let fake = Fake::start();
    let mut svc = ready_service("s");
    svc["metadata"]["annotations"]["run.googleapis.com/iap-enabled"] = json!("true");
    let path = "/v1/projects/demo-project/locations/asia-northeast1/services/s";
    fake.on("GET", path, vec![ok(svc.clone())]);
    fake.on("PUT", path, vec![ok(svc)]);
    let o = Cli::new(&fake).run("run services update s --no-iap");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        // IAP is a service-level setting: no revision, so gcloud's "Updating..." tracker.
        "OK Updating... Done.\nDone.\nService [s] has been updated.\n"
    );
    let put = fake.find("PUT", path).json();
    assert!(
        put["metadata"]["annotations"]
            .get("run.googleapis.com/iap-enabled")
            .is_none()
    );
}

#[test]
fn describe_value_status_url_as_seed_002_uses_it() {
    let fake = Fake::start();
    fake.on("GET", SVC, vec![ok(ready_service("my-cloud-run-app"))]);
    let o =
        Cli::new(&fake).run("run services describe my-cloud-run-app --format 'value(status.url)'");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "http://my-cloud-run-app-123456789012.asia-northeast1.run.localhost:8081\n"
    );
    // Without --format, gcloud's summary (golden tests in describe.rs).
    let o = Cli::new(&fake).run("run services describe my-cloud-run-app");
    assert!(
        o.stdout
            .starts_with("✔ Service my-cloud-run-app in region asia-northeast1\n"),
        "{}",
        o.stdout
    );
}

#[test]
fn services_list_table() {
    let fake = Fake::start();
    let mut failed = ready_service("broken");
    failed["status"]["conditions"][0]["status"] = json!("False");
    fake.on(
        "GET",
        "/v1/projects/demo-project/locations/asia-northeast1/services",
        vec![ok(json!({"items": [ready_service("hello"), failed]}))],
    );
    // gcloud sorts by name (`commands.SortByName`), whatever order the API answers in.
    let o = Cli::new(&fake).run("run services list");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "   SERVICE  REGION           URL                                                            LAST DEPLOYED BY   LAST DEPLOYED AT\n\
         X  broken   asia-northeast1  http://broken-123456789012.asia-northeast1.run.localhost:8081  alice@example.com  2026-11-23T09:00:00Z\n\
         ✔  hello    asia-northeast1  http://hello-123456789012.asia-northeast1.run.localhost:8081   alice@example.com  2026-11-23T09:00:00Z\n"
    );
    let o = Cli::new(&fake).run("run services list --format 'value(metadata.name)'");
    assert_eq!(o.stdout, "broken\nhello\n");
}

#[test]
fn services_list_without_region_spans_regions() {
    let fake = Fake::start();
    fake.on(
        "GET",
        "/apis/serving.knative.dev/v1/namespaces/demo-project/services",
        vec![ok(json!({"items": []}))],
    );
    let dir = fake::config_dir(
        json!({"core/project": "demo-project", "core/account": "alice@example.com"}),
    );
    let o = Cli::with_dir(&fake, dir).run("run services list");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stderr, "Listed 0 items.\n");
}

#[test]
fn add_iam_policy_binding_on_service() {
    let fake = Fake::start();
    fake.on(
        "GET",
        &format!("{SVC}:getIamPolicy"),
        vec![ok(json!({"version": 1, "etag": "BwA=", "bindings": [{"role": "roles/run.invoker", "members": ["user:bob@example.com"]}]}))],
    );
    fake.on(
        "POST",
        &format!("{SVC}:setIamPolicy"),
        vec![ok(json!({"version": 1, "etag": "BwB=", "bindings": [{"role": "roles/run.invoker", "members": ["user:bob@example.com", "user:alice@example.com"]}]}))],
    );
    let o = Cli::new(&fake).run("run services add-iam-policy-binding my-cloud-run-app --member user:alice@example.com --role roles/run.invoker");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        "Updated IAM policy for service [my-cloud-run-app].\n"
    );
    assert_eq!(
        o.stdout,
        // Keys sorted, as gcloud prints policies (bindings, etag, version).
        "bindings:\n- members:\n  - user:bob@example.com\n  - user:alice@example.com\n  role: roles/run.invoker\netag: BwB=\nversion: 1\n"
    );
    let get = fake.find("GET", &format!("{SVC}:getIamPolicy"));
    assert_eq!(
        get.target,
        format!("{SVC}:getIamPolicy?options.requestedPolicyVersion=3")
    );
    assert_eq!(
        fake.find("POST", &format!("{SVC}:setIamPolicy")).json()["policy"]["bindings"][0]["members"],
        json!(["user:bob@example.com", "user:alice@example.com"])
    );
}

#[test]
fn remove_missing_binding_is_an_error() {
    let fake = Fake::start();
    fake.on(
        "GET",
        &format!("{SVC}:getIamPolicy"),
        vec![ok(json!({"etag": "BwA="}))],
    );
    let o = Cli::new(&fake).run("run services remove-iam-policy-binding my-cloud-run-app --member allUsers --role roles/run.invoker");
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "ERROR: (kumo.run.services.remove-iam-policy-binding) Policy binding with the specified principal, role, and condition not found!\n"
    );
}

const JOB: &str = "/apis/run.googleapis.com/v1/namespaces/demo-project/jobs/my-job";

fn job() -> Value {
    json!({
        "apiVersion": "run.googleapis.com/v1", "kind": "Job",
        "metadata": {"name": "my-job", "namespace": "123456789012", "uid": "u", "generation": 1,
                     "labels": {"cloud.googleapis.com/location": "asia-northeast1"},
                     "annotations": {"run.googleapis.com/creator": "alice@example.com"}},
        "spec": {"template": {"spec": {"taskCount": 1, "template": {"spec": {
            "serviceAccountName": "job-sa@demo-project.iam.gserviceaccount.com",
            "containers": [{"image": "us-docker.pkg.dev/cloudrun/container/job"}]}}}}},
        "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

#[test]
fn jobs_describe_export_and_replace_round_trip_seed_004() {
    let fake = Fake::start();
    fake.on("GET", JOB, vec![ok(job())]);
    fake.on("PUT", JOB, vec![ok(job())]);
    let cli = Cli::new(&fake);
    let o = cli.run("run jobs describe my-job --format export");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "apiVersion: run.googleapis.com/v1\nkind: Job\nmetadata:\n  annotations: {}\n  labels:\n    cloud.googleapis.com/location: asia-northeast1\n  name: my-job\n\
         spec:\n  template:\n    spec:\n      taskCount: 1\n      template:\n        spec:\n          containers:\n          - image: us-docker.pkg.dev/cloudrun/container/job\n          serviceAccountName: job-sa@demo-project.iam.gserviceaccount.com\n"
    );
    let file = cli.env.config_dir.join("job.yaml");
    std::fs::write(&file, o.stdout.replace("job-sa@", "other-sa@")).unwrap();
    let o = cli.run(&format!("run jobs replace {}", file.display()));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        "Applying new configuration to Cloud Run job [my-job] in project [demo-project] region [asia-northeast1]\n\
         OK Applying new configuration... Done.\nNew configuration has been applied to job [my-job].\n"
    );
    let put = fake.find("PUT", JOB).json();
    assert_eq!(
        put["spec"]["template"]["spec"]["template"]["spec"]["serviceAccountName"],
        "other-sa@demo-project.iam.gserviceaccount.com"
    );
}

#[test]
fn jobs_create_and_execute_wait() {
    let fake = Fake::start();
    fake.on(
        "POST",
        "/apis/run.googleapis.com/v1/namespaces/demo-project/jobs",
        vec![ok(job())],
    );
    fake.on("GET", JOB, vec![ok(job())]);
    let o = Cli::new(&fake).run("run jobs create my-job --image img --service-account job-sa@demo-project.iam.gserviceaccount.com --tasks 2 --args a,b");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        "Creating Cloud Run job [my-job] in project [demo-project] region [asia-northeast1]\nOK Creating job... Done.\n\
         Job [my-job] has successfully been created.\n\nTo execute this job, use:\nkumo run jobs execute my-job\n"
    );
    let body = fake
        .find(
            "POST",
            "/apis/run.googleapis.com/v1/namespaces/demo-project/jobs",
        )
        .json();
    assert_eq!(body["spec"]["template"]["spec"]["taskCount"], 2);
    assert_eq!(
        body["spec"]["template"]["spec"]["template"]["spec"],
        json!({"serviceAccountName": "job-sa@demo-project.iam.gserviceaccount.com", "containers": [{"image": "img", "args": ["a", "b"]}]})
    );

    let v2 = "/v2/projects/demo-project/locations/asia-northeast1";
    let op = json!({"name": format!("{}/operations/op1", &v2[4..]), "done": false,
                    "metadata": {"name": format!("{}/jobs/my-job/executions/my-job-abcde", &v2[4..])}});
    let mut done = op.clone();
    done["done"] = json!(true);
    done["response"] = json!({"succeededCount": 1, "taskCount": 1});
    fake.on(
        "POST",
        &format!("{v2}/jobs/my-job:run"),
        vec![ok(op.clone())],
    );
    fake.on(
        "GET",
        &format!("{v2}/operations/op1"),
        vec![ok(op), ok(done.clone())],
    );
    let o = Cli::new(&fake).run("run jobs execute my-job --wait --update-env-vars X=1");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        "OK Creating execution... Done.\nExecution [my-job-abcde] has successfully completed.\n"
    );
    assert_eq!(
        fake.find("POST", &format!("{v2}/jobs/my-job:run")).json(),
        json!({"overrides": {"containerOverrides": [{"env": [{"name": "X", "value": "1"}]}]}})
    );
    let o = Cli::new(&fake)
        .run("run jobs execute my-job --wait --args=^:^a,b:c --task-timeout 2m --tasks 3");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let last_run = fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.method == "POST" && r.path() == format!("{v2}/jobs/my-job:run"))
        .unwrap();
    assert_eq!(
        last_run.json(),
        json!({"overrides": {"containerOverrides": [{"args": ["a,b", "c"]}], "taskCount": 3, "timeout": "120s"}})
    );

    // A failed task fails the command with the condition's message.
    done["response"] = json!({"failedCount": 1, "conditions": [{"type": "Completed", "state": "CONDITION_FAILED", "message": "Task my-job-abcde-task0 failed with exit code 1."}]});
    fake.on("GET", &format!("{v2}/operations/op1"), vec![ok(done)]);
    let o = Cli::new(&fake).run("run jobs execute my-job --wait");
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "OK Creating execution... Done.\nExecution [my-job-abcde] failed.\nERROR: (kumo.run.jobs.execute) Task my-job-abcde-task0 failed with exit code 1.\n"
    );

    // --format prints the execution (gcloud's default format for `execute` is none), in v1.
    let mut succeeded = json!({"name": format!("{}/operations/op1", &v2[4..]), "done": true});
    succeeded["response"] = json!({"succeededCount": 1, "taskCount": 1});
    fake.on("GET", &format!("{v2}/operations/op1"), vec![ok(succeeded)]);
    let execution_v1 =
        "/apis/run.googleapis.com/v1/namespaces/demo-project/executions/my-job-abcde";
    fake.on(
        "GET",
        execution_v1,
        vec![ok(
            json!({"apiVersion": "run.googleapis.com/v1", "kind": "Execution",
                       "metadata": {"name": "my-job-abcde"}, "status": {"succeededCount": 1}}),
        )],
    );
    let o = Cli::new(&fake).run("run jobs execute my-job --format 'value(metadata.name)'");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "my-job-abcde\n");

    // Executions are read through v1 by name; revisions under their service in v2, printed as v1.
    let o = Cli::new(&fake).run(
        "run jobs executions describe my-job-abcde --format 'value(name,status.succeededCount)'",
    );
    assert_eq!(o.stdout, "my-job-abcde\t1\n", "{}", o.stderr);
    fake.on(
        "GET",
        &format!("{v2}/services/hello/revisions/hello-00001-wtl"),
        vec![ok(json!({"name": "projects/123/locations/asia-northeast1/services/hello/revisions/hello-00001-wtl"}))],
    );
    let o = Cli::new(&fake)
        .run("run revisions describe hello-00001-wtl --format 'value(name,metadata.namespace)'");
    assert_eq!(o.stdout, "hello-00001-wtl\t123\n", "{}", o.stderr);
}

#[test]
fn failed_ready_condition_fails_the_deploy() {
    let fake = Fake::start();
    let mut bad = ready_service("my-cloud-run-app");
    bad["status"]["conditions"] = json!([{"type": "Ready", "status": "False", "message": "User does not have access to image img"}]);
    fake.on(
        "GET",
        SVC,
        vec![err(404, "NOT_FOUND", "x"), ok(bad.clone())],
    );
    fake.on(
        "POST",
        "/apis/serving.knative.dev/v1/namespaces/demo-project/services",
        vec![ok(bad)],
    );
    let o = Cli::new(&fake).run("run deploy my-cloud-run-app --image img");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.ends_with(
            "Deployment failed\nERROR: (kumo.run.deploy) User does not have access to image img\n"
        ),
        "{}",
        o.stderr
    );
}

#[test]
fn set_env_vars_replaces_update_env_vars_merges() {
    let path = "/v1/projects/demo-project/locations/asia-northeast1/services/s";
    let mut svc = ready_service("s");
    svc["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "OLD", "value": "1"}]);
    for (flag, want) in [
        (
            "--update-env-vars NEW=2",
            json!([{"name": "OLD", "value": "1"}, {"name": "NEW", "value": "2"}]),
        ),
        (
            "--set-env-vars NEW=2",
            json!([{"name": "NEW", "value": "2"}]),
        ),
    ] {
        let fake = Fake::start();
        fake.on("GET", path, vec![ok(svc.clone())]);
        fake.on("PUT", path, vec![ok(svc.clone())]);
        let o = Cli::new(&fake).run(&format!("run services update s {flag}"));
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(
            fake.find("PUT", path).json()["spec"]["template"]["spec"]["containers"][0]["env"],
            want,
            "{flag}"
        );
    }
    let fake = Fake::start();
    let o = Cli::new(&fake).run("run services update s --set-env-vars A=1 --update-env-vars B=2");
    assert_eq!(o.code, 2);
    let o = Cli::new(&fake).run("run deploy s --image i --set-env-vars NOEQUALS");
    assert_eq!(o.code, 2, "{}", o.stderr);
}

#[test]
fn update_waits_for_the_generation_it_wrote() {
    let path = "/v1/projects/demo-project/locations/asia-northeast1/services/s";
    let old = ready_service("s");
    let mut written = old.clone();
    written["metadata"]["generation"] = json!(2);
    let mut new = written.clone();
    new["status"]["observedGeneration"] = json!(2);
    new["status"]["latestReadyRevisionName"] = json!("s-00002-abc");
    new["status"]["traffic"] = json!([{"revisionName": "s-00002-abc", "percent": 100}]);
    let fake = Fake::start();
    // The first read after the write still shows the old, ready generation.
    fake.on("GET", path, vec![ok(old.clone()), ok(old), ok(new)]);
    fake.on("PUT", path, vec![ok(written)]);
    let o = Cli::new(&fake).run("run services update s --concurrency 5");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("Service [s] revision [s-00002-abc] has been deployed"),
        "{}",
        o.stderr
    );
}

#[test]
fn replace_service_yaml_from_seed_000() {
    let fake = Fake::start();
    let path = "/v1/projects/demo-project/locations/asia-northeast1/services/hello";
    fake.on("GET", path, vec![ok(ready_service("hello"))]);
    fake.on("PUT", path, vec![ok(ready_service("hello"))]);
    let cli = Cli::new(&fake);
    let file = cli.env.config_dir.join("service.yaml");
    std::fs::write(
        &file,
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n   annotations:\n      run.googleapis.com/invoker-iam-disabled: true\n   name: hello\n",
    )
    .unwrap();
    let o = cli.run(&format!("run services replace {}", file.display()));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        "Applying new configuration to Cloud Run service [hello] in project [demo-project] region [asia-northeast1]\n\
         OK Deploying... Done.\n  OK Creating Revision...\n  OK Routing traffic...\nDone.\n\
         New configuration has been applied to service [hello].\n\
         URL: http://hello-123456789012.asia-northeast1.run.localhost:8081\n"
    );
    assert_eq!(
        fake.find("PUT", path).json(),
        json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service",
               "metadata": {"annotations": {"run.googleapis.com/invoker-iam-disabled": "true"}, "name": "hello"}})
    );
    std::fs::write(&file, "kind: Job\nmetadata:\n  name: x\n").unwrap();
    let o = cli.run(&format!("run services replace {}", file.display()));
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("Expected a Service in ["), "{}", o.stderr);
}

#[test]
fn revisions_list_spans_services_without_service_flag() {
    let fake = Fake::start();
    let v2 = "/v2/projects/demo-project/locations/asia-northeast1/services";
    fake.on(
        "GET",
        "/v1/projects/demo-project/locations/asia-northeast1/services",
        vec![ok(
            json!({"items": [ready_service("a"), ready_service("b")]}),
        )],
    );
    let rev = |s: &str| {
        json!({"name": format!("{}/{s}/revisions/{s}-00001-x", &v2[4..]), "service": s,
                              "createTime": "t", "conditions": [{"type": "Ready", "state": "CONDITION_SUCCEEDED"}]})
    };
    fake.on(
        "GET",
        &format!("{v2}/a/revisions"),
        vec![ok(json!({"revisions": [rev("a")]}))],
    );
    fake.on(
        "GET",
        &format!("{v2}/b/revisions"),
        vec![ok(json!({"revisions": [rev("b")]}))],
    );
    let o = Cli::new(&fake).run("run revisions list");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "   REVISION   ACTIVE  SERVICE  DEPLOYED  DEPLOYED BY\n✔  a-00001-x          a        t\n✔  b-00001-x          b        t\n"
    );
}

/// gcloud's habitual deploy flags (audit s8 finding 11), mapped as gcloud's `config_changes` map them.
#[test]
fn deploy_resource_timeout_command_labels_and_cpu_flags() {
    let fake = Fake::start();
    deploy_routes(&fake);
    let o = Cli::new(&fake).run(
        "run deploy my-cloud-run-app --image img --memory 512Mi --cpu 1 --timeout 5m \
         --command /bin/server,--verbose --args=^:^a,b:c --labels env=dev,team=x \
         --no-cpu-throttling --execution-environment gen2 --cpu-boost --concurrency default \
         --set-env-vars ^@^LIST=a,b,c@K=v --region asia-northeast1 --platform managed",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let body = fake
        .find(
            "POST",
            "/apis/serving.knative.dev/v1/namespaces/demo-project/services",
        )
        .json();
    assert_eq!(
        body["metadata"]["labels"],
        json!({"cloud.googleapis.com/location": "asia-northeast1", "env": "dev", "team": "x"})
    );
    let t = &body["spec"]["template"];
    assert_eq!(t["metadata"]["labels"], json!({"env": "dev", "team": "x"}));
    let ann = &t["metadata"]["annotations"];
    assert_eq!(ann["run.googleapis.com/cpu-throttling"], "False");
    assert_eq!(ann["run.googleapis.com/startup-cpu-boost"], "True");
    assert_eq!(ann["run.googleapis.com/execution-environment"], "gen2");
    assert_eq!(t["spec"]["timeoutSeconds"], 300);
    assert!(t["spec"].get("containerConcurrency").is_none());
    assert_eq!(
        t["spec"]["containers"][0],
        json!({"image": "img", "command": ["/bin/server", "--verbose"], "args": ["a,b", "c"],
               "resources": {"limits": {"memory": "512Mi", "cpu": "1"}},
               "env": [{"name": "LIST", "value": "a,b,c"}, {"name": "K", "value": "v"}]})
    );

    // Bad values are usage errors (exit 2) before anything is sent.
    for bad in [
        "--timeout 0",
        "--timeout 5x",
        "--min-instances -1",
        "--concurrency 0",
        "--port 70000",
        "--execution-environment gen3",
        "--set-env-vars A=1 --remove-env-vars B",
        "--clear-env-vars --update-env-vars A=1",
        "--labels a=1 --update-labels b=2",
        "--add-custom-audiences a --clear-custom-audiences",
    ] {
        let fake = Fake::start();
        let o = Cli::new(&fake).run(&format!("run deploy s --image i {bad}"));
        assert_eq!(o.code, 2, "{bad}: {}", o.stderr);
        assert!(
            fake.requests().iter().all(|r| r.line().starts_with("GET")),
            "{bad}"
        );
    }
}

#[test]
fn update_env_remove_clear_labels_audiences_and_defaults() {
    let path = "/v1/projects/demo-project/locations/asia-northeast1/services/s";
    let mut svc = ready_service("s");
    svc["metadata"]["labels"]["env"] = json!("dev");
    svc["metadata"]["labels"]["team"] = json!("x");
    svc["metadata"]["annotations"]["run.googleapis.com/custom-audiences"] =
        json!("[\"https://a.example\", \"https://b.example\"]");
    let t = &mut svc["spec"]["template"];
    t["metadata"]["labels"] = json!({"env": "dev", "team": "x", "client.knative.dev/nonce": "n1"});
    t["metadata"]["annotations"] =
        json!({"autoscaling.knative.dev/minScale": "2", "autoscaling.knative.dev/maxScale": "9"});
    t["spec"]["containerConcurrency"] = json!(5);
    t["spec"]["containers"][0]["env"] = json!([
        {"name": "A", "value": "1"}, {"name": "B", "value": "2"},
        {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "latest"}}}
    ]);
    t["spec"]["containers"][0]["ports"] = json!([{"name": "h2c", "containerPort": 9000}]);
    t["spec"]["containers"][0]["args"] = json!(["old"]);
    let put = |flags: &str| {
        let fake = Fake::start();
        fake.on("GET", path, vec![ok(svc.clone())]);
        fake.on("PUT", path, vec![ok(svc.clone())]);
        let o = Cli::new(&fake).run(&format!("run services update s {flags}"));
        assert_eq!(o.code, 0, "{flags}: {}", o.stderr);
        fake.find("PUT", path).json()
    };
    let env = |v: &Value| v["spec"]["template"]["spec"]["containers"][0]["env"].clone();
    let secret =
        json!({"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "latest"}}});

    let v = put("--remove-env-vars A --update-env-vars B=3,C=4");
    assert_eq!(
        env(&v),
        json!([{"name": "B", "value": "3"}, secret.clone(), {"name": "C", "value": "4"}])
    );
    // --clear-env-vars prunes literals only (a secret reference stays), as gcloud's _PruneMapping.
    assert_eq!(env(&put("--clear-env-vars")), json!([secret.clone()]));

    let v = put("--remove-labels team --update-labels tier=web");
    assert_eq!(
        v["metadata"]["labels"],
        json!({"cloud.googleapis.com/location": "asia-northeast1", "env": "dev", "tier": "web"})
    );
    assert_eq!(
        v["spec"]["template"]["metadata"]["labels"],
        json!({"env": "dev", "tier": "web", "client.knative.dev/nonce": "n1"})
    );
    let v = put("--clear-labels");
    assert_eq!(
        v["metadata"]["labels"],
        json!({"cloud.googleapis.com/location": "asia-northeast1"})
    );

    let aud =
        |v: &Value| v["metadata"]["annotations"]["run.googleapis.com/custom-audiences"].clone();
    assert_eq!(
        aud(&put("--remove-custom-audiences https://a.example")),
        "[\"https://b.example\"]"
    );
    assert_eq!(
        aud(&put(
            "--add-custom-audiences https://b.example,https://c.example"
        )),
        "[\"https://a.example\",\"https://b.example\",\"https://c.example\"]"
    );
    assert_eq!(aud(&put("--clear-custom-audiences")), Value::Null);
    assert_eq!(aud(&put("--set-custom-audiences x")), "[\"x\"]");

    // `default` (and 0 for min) removes scaling; `default` unsets concurrency and the port;
    // a new port keeps the port's name (h2c); an empty `--args=` resets the args.
    let v = put(
        "--min-instances 0 --max-instances default --concurrency default --port default --args=",
    );
    let t = &v["spec"]["template"];
    assert_eq!(
        t["metadata"]["annotations"],
        json!({"run.googleapis.com/client-name": "kumo"})
    );
    assert!(t["spec"].get("containerConcurrency").is_none());
    assert!(t["spec"]["containers"][0].get("ports").is_none());
    assert!(t["spec"]["containers"][0].get("args").is_none());
    let v = put("--port 8081 --timeout 1h --cpu-throttling");
    let t = &v["spec"]["template"];
    assert_eq!(
        t["spec"]["containers"][0]["ports"],
        json!([{"name": "h2c", "containerPort": 8081}])
    );
    assert_eq!(t["spec"]["timeoutSeconds"], 3600);
    assert_eq!(
        t["metadata"]["annotations"]["run.googleapis.com/cpu-throttling"],
        "True"
    );
}

#[test]
fn jobs_flags_and_jobs_deploy_create_or_update() {
    let jobs = "/apis/run.googleapis.com/v1/namespaces/demo-project/jobs";
    let fake = Fake::start();
    fake.on(
        "GET",
        JOB,
        vec![err(404, "NOT_FOUND", "not found"), ok(job())],
    );
    fake.on("POST", jobs, vec![ok(job())]);
    let o = Cli::new(&fake).run(
        "run jobs deploy my-job --image img --tasks 3 --parallelism 2 --max-retries 0 \
         --task-timeout 10m --memory 1Gi --cpu 2 --command python --args main.py,--n=1 \
         --set-env-vars ^:^A=1,2:B=3 --labels team=x --execution-environment gen1",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        "Deploying container to Cloud Run job [my-job] in project [demo-project] region [asia-northeast1]\n\
         OK Creating job... Done.\nJob [my-job] has successfully been deployed.\n\n\
         To execute this job, use:\nkumo run jobs execute my-job\n"
    );
    let body = fake.find("POST", jobs).json();
    assert_eq!(
        body["metadata"]["labels"],
        json!({"cloud.googleapis.com/location": "asia-northeast1", "team": "x"})
    );
    let et = &body["spec"]["template"];
    assert_eq!(et["metadata"]["labels"], json!({"team": "x"}));
    assert_eq!(
        et["metadata"]["annotations"]["run.googleapis.com/execution-environment"],
        "gen1"
    );
    assert_eq!(et["spec"]["taskCount"], 3);
    assert_eq!(et["spec"]["parallelism"], 2);
    assert_eq!(
        et["spec"]["template"]["spec"],
        json!({"maxRetries": 0, "timeoutSeconds": 600, "containers": [{
            "image": "img", "command": ["python"], "args": ["main.py", "--n=1"],
            "resources": {"limits": {"memory": "1Gi", "cpu": "2"}},
            "env": [{"name": "A", "value": "1,2"}, {"name": "B", "value": "3"}]}]})
    );

    // An existing job: deploy updates it in place.
    let fake = Fake::start();
    fake.on("GET", JOB, vec![ok(job())]);
    fake.on("PUT", JOB, vec![ok(job())]);
    let o = Cli::new(&fake).run("run jobs deploy my-job --task-timeout 90");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("OK Updating job... Done.\nJob [my-job] has successfully been deployed."),
        "{}",
        o.stderr
    );
    let put = fake.find("PUT", JOB).json();
    assert_eq!(
        put["spec"]["template"]["spec"]["template"]["spec"]["timeoutSeconds"],
        90
    );
    assert_eq!(
        put["spec"]["template"]["spec"]["template"]["spec"]["containers"][0]["image"],
        "us-docker.pkg.dev/cloudrun/container/job"
    );

    // A new job needs an image; bad values are usage errors.
    let fake = Fake::start();
    fake.on("GET", JOB, vec![err(404, "NOT_FOUND", "not found")]);
    let o = Cli::new(&fake).run("run jobs deploy my-job --tasks 2");
    assert_eq!(o.code, 2, "{}", o.stderr);
    for bad in ["--tasks 0", "--task-timeout 0s", "--parallelism -1"] {
        let o = Cli::new(&fake).run(&format!("run jobs create j --image i {bad}"));
        assert_eq!(o.code, 2, "{bad}: {}", o.stderr);
    }
}

#[test]
fn update_traffic_sends_the_split_and_prints_it() {
    let fake = Fake::start();
    let path = "/v1/projects/demo-project/locations/asia-northeast1/services/s";
    let mut before = ready_service("s");
    before["spec"]["traffic"] = json!([
        {"latestRevision": true, "percent": 100},
        {"revisionName": "s-00001-wtl", "tag": "blue"}
    ]);
    let mut after = before.clone();
    after["metadata"]["generation"] = json!(2);
    after["status"]["observedGeneration"] = json!(2);
    after["status"]["latestReadyRevisionName"] = json!("s-00002-abc");
    after["spec"]["traffic"] = json!([
        {"revisionName": "s-00001-wtl", "percent": 25},
        {"latestRevision": true, "percent": 75},
        {"revisionName": "s-00001-wtl", "tag": "blue"}
    ]);
    after["status"]["traffic"] = json!([
        {"revisionName": "s-00001-wtl", "percent": 25},
        {"revisionName": "s-00002-abc", "percent": 75, "latestRevision": true},
        {"revisionName": "s-00001-wtl", "tag": "blue", "url": "http://blue---s-123456789012.asia-northeast1.run.localhost:8081"}
    ]);
    fake.on("GET", path, vec![ok(before), ok(after.clone())]);
    fake.on("PUT", path, vec![ok(after)]);
    let o = Cli::new(&fake).run("run services update-traffic s --to-tags blue=25");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        fake.find("PUT", path).json()["spec"]["traffic"],
        json!([
            {"revisionName": "s-00001-wtl", "percent": 25},
            {"latestRevision": true, "percent": 75},
            {"revisionName": "s-00001-wtl", "tag": "blue"}
        ])
    );
    assert_eq!(
        o.stderr,
        "OK Updating traffic... Done.\n  OK Routing traffic...\nDone.\n"
    );
    assert_eq!(
        o.stdout,
        "URL: http://s-123456789012.asia-northeast1.run.localhost:8081\n\
         Traffic:\n  \
         25% s-00001-wtl\n        \
         blue: http://blue---s-123456789012.asia-northeast1.run.localhost:8081\n  \
         75% LATEST (currently s-00002-abc)\n"
    );
    // A split over 100 % never reaches the server.
    let o = Cli::new(&fake).run("run services update-traffic s --to-revisions a=60,b=50");
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "ERROR: (kumo.run.services.update-traffic) Over 100% of traffic is specified.\n"
    );
}

#[test]
fn deploy_no_traffic_with_a_tag_pins_latest_and_names_the_revision() {
    let fake = Fake::start();
    let path = "/v1/projects/demo-project/locations/asia-northeast1/services/s";
    let before = ready_service("s");
    let mut after = before.clone();
    after["metadata"]["generation"] = json!(2);
    after["status"]["observedGeneration"] = json!(2);
    after["status"]["latestReadyRevisionName"] = json!("s-v2");
    after["status"]["traffic"] = json!([
        {"revisionName": "s-00001-wtl", "percent": 100},
        {"revisionName": "s-v2", "tag": "green", "url": "http://green---s-123456789012.asia-northeast1.run.localhost:8081"}
    ]);
    fake.on("GET", path, vec![ok(before), ok(after.clone())]);
    fake.on("PUT", path, vec![ok(after)]);
    let o = Cli::new(&fake)
        .run("run deploy s --image img2 --no-traffic --tag green --revision-suffix v2");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let put = fake.find("PUT", path).json();
    assert_eq!(put["spec"]["template"]["metadata"]["name"], "s-v2");
    assert_eq!(
        put["spec"]["traffic"],
        json!([{"revisionName": "s-00001-wtl", "percent": 100}, {"revisionName": "s-v2", "tag": "green"}])
    );
    assert!(
        o.stderr.ends_with(
            "Service [s] revision [s-v2] has been deployed and is serving 0 percent of traffic.\n\
             The revision can be reached directly at http://green---s-123456789012.asia-northeast1.run.localhost:8081\n"
        ),
        "{}",
        o.stderr
    );
}

#[test]
fn async_writes_return_without_waiting() {
    let fake = Fake::start();
    let path = "/v1/projects/demo-project/locations/asia-northeast1/services/s";
    let mut pending = ready_service("s");
    pending["metadata"]["generation"] = json!(2);
    fake.on("GET", path, vec![ok(ready_service("s"))]);
    fake.on("PUT", path, vec![ok(pending)]);
    let o = Cli::new(&fake).run("run deploy s --image img2 --async");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .ends_with("Service [s] is deploying asynchronously.\n"),
        "{}",
        o.stderr
    );
    let o = Cli::new(&fake).run("run services update-traffic s --to-latest --async");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stderr, "Updating traffic asynchronously.\n");
    // One GET each: neither polled for readiness.
    let gets = fake
        .requests()
        .iter()
        .filter(|r| r.line().starts_with("GET "))
        .count();
    assert_eq!(gets, 2);
}
