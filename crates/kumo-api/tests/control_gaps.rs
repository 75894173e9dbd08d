//! Control-plane gaps of issue 3, end to end through the route table: Resource Manager v1
//! `projects.get`/`list`, Cloud Run v1 `jobs.run` with executions and tasks, and what deleting
//! (and undeleting) a service account does to the allow policies that name it.

use axum::http::{Method, StatusCode};
use kumo_api::testing::Harness;
use kumo_control::ResourceRef;
use serde_json::{Value, json};

mod common;
use common::{ADMIN, ALICE, BOB};
const SAMPLE: &str = "us-docker.pkg.dev/cloudrun/container/job";

fn names(list: &Value, field: &str, key: &str) -> Vec<String> {
    list[field]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| item[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

// ---- Resource Manager v1 projects ----

async fn list(h: &Harness, member: &str, query: &str) -> Value {
    let (status, body) = h
        .call(member, Method::GET, &format!("/v1/projects{query}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

#[tokio::test]
async fn v1_project_get_has_the_v1_shape_and_needs_projects_get() {
    let h = Harness::new();
    for name in ["demo-project".to_owned(), h.project.number.clone()] {
        let (status, project) = h
            .call(ALICE, Method::GET, &format!("/v1/projects/{name}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{project}");
        assert_eq!(project["projectId"], "demo-project");
        assert_eq!(project["projectNumber"], json!(h.project.number));
        assert_eq!(project["lifecycleState"], "ACTIVE");
        assert_eq!(project["name"], "Demo");
        assert_eq!(
            project["parent"],
            json!({"type": "organization", "id": h.organization.id})
        );
        assert!(project["createTime"].is_string());
        assert!(project.get("displayName").is_none() && project.get("state").is_none());
    }
    let (status, refused) = h
        .call(BOB, Method::GET, "/v1/projects/demo-project", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, _) = h
        .call(BOB, Method::GET, "/v1/projects/no-such-project", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn v1_project_list_shows_what_the_caller_can_get_through_the_filter() {
    let h = Harness::new();
    let org = format!("organizations/{}", h.organization.id);
    // As in Google's setup checklist, the organization administrator is a project creator.
    h.grant_on_organization("roles/resourcemanager.projectCreator", ADMIN);
    let (status, operation) = h
        .call(
            ADMIN,
            Method::POST,
            "/v3/projects",
            Some(
                json!({"projectId": "howl-castle", "parent": org, "displayName": "Howl",
                "labels": {"color": "red"}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{operation}");
    assert_eq!(operation["done"], true);

    // Alice owns demo-project only; the creator of howl-castle owns it.
    assert_eq!(
        names(&list(&h, ALICE, "").await, "projects", "projectId"),
        ["demo-project"]
    );
    assert!(list(&h, BOB, "").await.get("projects").is_none());
    let admin_all = names(&list(&h, ADMIN, "").await, "projects", "projectId");
    assert!(
        admin_all.contains(&"howl-castle".to_owned()),
        "{admin_all:?}"
    );

    let org_id = h.organization.id.clone();
    let parent_query = format!("?filter=parent.type%3Aorganization%20parent.id%3A{org_id}");
    let cases: &[(&str, &[&str])] = &[
        ("?filter=name%3Ahow*", &["howl-castle"]),
        ("?filter=NAME%3AHOWL", &["howl-castle"]),
        ("?filter=id%3Ademo-project", &["demo-project"]),
        ("?filter=labels.color%3A*", &["howl-castle"]),
        ("?filter=labels.color%3Ablue", &[]),
        (
            "?filter=lifecycleState%3AACTIVE%20AND%20(name%3Ahowl)",
            &["howl-castle"],
        ),
        ("?filter=parent.type%3Afolder", &[]),
        (&parent_query, &["demo-project", "howl-castle"]),
    ];
    for (query, expected) in cases {
        let got = names(&list(&h, ADMIN, query).await, "projects", "projectId");
        let got: Vec<&str> = got.iter().map(String::as_str).collect();
        assert!(
            expected.iter().all(|id| got.contains(id)) && got.len() >= expected.len(),
            "{query}: {got:?}"
        );
        if expected.is_empty() {
            assert!(got.is_empty(), "{query}: {got:?}");
        }
    }

    // Paging walks the whole list once.
    let first = list(&h, ADMIN, "?pageSize=1").await;
    assert_eq!(first["projects"].as_array().unwrap().len(), 1);
    let token = first["nextPageToken"].as_str().unwrap().to_owned();
    let (status, second) = h
        .call(
            ADMIN,
            Method::GET,
            &format!("/v1/projects?pageSize=1&pageToken={token}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(second["projects"][0], first["projects"][0]);

    let (status, bad) = h
        .call(ADMIN, Method::GET, "/v1/projects?filter=color%3Ared", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert_eq!(bad["error"]["status"], "INVALID_ARGUMENT");
}

// ---- Cloud Run v1 jobs.run, executions and tasks ----

async fn job_fixture(h: &Harness, script: &str) {
    h.load_images(&json!({"images": {SAMPLE: {"entrypoint": ["sh", "-c", script]}}}));
    let job =
        json!({"template": {"taskCount": 2, "template": {"containers": [{"image": SAMPLE}]}}});
    let (status, body) = h
        .call(
            ALICE,
            Method::POST,
            "/v2/projects/demo-project/locations/us-central1/jobs?jobId=nightly",
            Some(job),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

const NS: &str = "/apis/run.googleapis.com/v1/namespaces/demo-project";

#[tokio::test]
async fn v1_run_creates_an_execution_whose_tasks_and_status_read_through_v1() {
    let h = Harness::new();
    job_fixture(&h, "exit 0").await;
    let (status, execution) = h
        .call(ALICE, Method::POST, &format!("{NS}/jobs/nightly:run"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{execution}");
    assert_eq!(execution["apiVersion"], "run.googleapis.com/v1");
    assert_eq!(execution["kind"], "Execution");
    let name = execution["metadata"]["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("nightly-"), "{name}");
    assert_eq!(execution["metadata"]["namespace"], json!(h.project.number));
    assert_eq!(
        execution["metadata"]["labels"]["run.googleapis.com/job"],
        "nightly"
    );
    assert_eq!(
        execution["metadata"]["labels"]["cloud.googleapis.com/location"],
        "us-central1"
    );
    assert_eq!(execution["spec"]["taskCount"], 2);
    let full =
        format!("projects/demo-project/locations/us-central1/jobs/nightly/executions/{name}");
    let done = h
        .control
        .wait_execution(&full, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(done.succeeded_count, Some(2));

    let (status, got) = h
        .call(ALICE, Method::GET, &format!("{NS}/executions/{name}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["status"]["succeededCount"], 2);
    let completed = got["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Completed")
        .unwrap()
        .clone();
    assert_eq!(completed["status"], "True");

    let (status, list) = h
        .call(
            ALICE,
            Method::GET,
            &format!("{NS}/executions?labelSelector=run.googleapis.com%2Fjob%3Dnightly"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["kind"], "ExecutionsList");
    assert_eq!(names(&list, "items", "metadata").len(), 1);
    assert_eq!(list["items"][0]["metadata"]["name"], json!(name));
    let (_, none) = h
        .call(
            ALICE,
            Method::GET,
            &format!("{NS}/executions?labelSelector=run.googleapis.com%2Fjob%3Dother"),
            None,
        )
        .await;
    assert!(none.get("items").is_none(), "{none}");

    // gcloud's task listing: `run.googleapis.com/execution = NAME`.
    let (status, tasks) = h
        .call(
            ALICE,
            Method::GET,
            &format!("{NS}/tasks?labelSelector=run.googleapis.com%2Fexecution%20%3D%20{name}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tasks}");
    let items = tasks["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["status"]["index"], 0);
    assert_eq!(
        items[0]["metadata"]["labels"]["run.googleapis.com/runningState"],
        "Succeeded"
    );
    let task = format!("{name}-task1");
    let (status, one) = h
        .call(ALICE, Method::GET, &format!("{NS}/tasks/{task}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["kind"], "Task");
    assert_eq!(one["status"]["index"], 1);

    // v1 jobs list: the selector filters before `limit` cuts the page.
    let (status, jobs) = h
        .call(
            ALICE,
            Method::GET,
            &format!(
                "{NS}/jobs?limit=1&labelSelector=cloud.googleapis.com%2Flocation%3Dus-central1"
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{jobs}");
    assert_eq!(jobs["items"][0]["metadata"]["name"], "nightly");
    assert!(jobs["metadata"].get("continue").is_none(), "{jobs}");

    // Bob can see none of it; an unknown execution is refused the same way.
    for path in [
        format!("{NS}/executions/{name}"),
        format!("{NS}/executions/nightly-zzzzz"),
        format!("{NS}/tasks/{task}"),
        format!("{NS}/executions"),
    ] {
        let (status, body) = h.call(BOB, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    let (status, _) = h
        .call(
            ALICE,
            Method::GET,
            &format!("{NS}/executions/nightly-zzzzz"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Cancelling a finished execution is refused; deleting it answers a Status.
    let (status, refused) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{NS}/executions/{name}:cancel"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"]["status"], "FAILED_PRECONDITION");
    let (status, deleted) = h
        .call(
            ALICE,
            Method::DELETE,
            &format!("{NS}/executions/{name}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["status"], "Success");
    let (status, _) = h
        .call(ALICE, Method::GET, &format!("{NS}/executions/{name}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn v1_run_with_overrides_needs_run_with_overrides_and_cancel_stops_it() {
    let h = Harness::new();
    job_fixture(&h, "sleep 30").await;
    h.grant_on_project("roles/run.invoker", BOB);
    // roles/run.invoker holds run.jobs.run but not run.jobs.runWithOverrides.
    let overrides = json!({"overrides": {"taskCount": 1, "timeoutSeconds": 60,
        "containerOverrides": [{"args": ["x"], "env": [{"name": "A", "value": "b"}]}]}});
    let (status, refused) = h
        .call(
            BOB,
            Method::POST,
            &format!("{NS}/jobs/nightly:run"),
            Some(overrides.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("run.jobs.runWithOverrides"),
        "{refused}"
    );
    let (status, execution) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{NS}/jobs/nightly:run"),
            Some(overrides),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{execution}");
    assert_eq!(execution["spec"]["taskCount"], 1);
    let spec = &execution["spec"]["template"]["spec"];
    assert_eq!(spec["timeoutSeconds"], "60");
    assert_eq!(spec["containers"][0]["args"], json!(["x"]));
    let name = execution["metadata"]["name"].as_str().unwrap().to_owned();

    let (status, bad) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{NS}/jobs/nightly:run"),
            Some(json!({"overrides": {"delayExecution": true}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    let (status, cancelled) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{NS}/executions/{name}:cancel"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["kind"], "Execution");
    let full =
        format!("projects/demo-project/locations/us-central1/jobs/nightly/executions/{name}");
    let done = h
        .control
        .wait_execution(&full, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert!(done.completion_time.is_some(), "{done:?}");

    // The job's v1 status names its latest execution.
    let (_, job) = h
        .call(ALICE, Method::GET, &format!("{NS}/jobs/nightly"), None)
        .await;
    assert_eq!(
        job["status"]["latestCreatedExecution"]["name"],
        json!(name),
        "{job}"
    );
}

// ---- service account deletion ----

async fn project_policy(h: &Harness) -> Value {
    let (status, policy) = h
        .call(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project:getIamPolicy",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    policy
}

fn has_member(policy: &Value, role: &str, member: &str) -> bool {
    policy["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|binding| {
            binding["role"] == role
                && binding["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|m| m == member)
        })
}

#[tokio::test]
async fn deleting_a_service_account_rewrites_its_bindings_and_undelete_restores_them() {
    let h = Harness::new();
    let (status, account) = h
        .call(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project/serviceAccounts",
            Some(json!({"accountId": "robot-one", "serviceAccount": {"displayName": "R"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{account}");
    let email = account["email"].as_str().unwrap().to_owned();
    let uid = account["uniqueId"].as_str().unwrap().to_owned();
    let member = format!("serviceAccount:{email}");
    let deleted = format!("deleted:serviceAccount:{email}?uid={uid}");

    // Bindings on the project, the organization and another service account.
    h.grant_on_project("roles/viewer", &member);
    h.grant_on_organization("roles/browser", &member);
    let compute = format!("{}-compute@developer.gserviceaccount.com", h.project.number);
    let compute_path = format!("/v1/projects/demo-project/serviceAccounts/{compute}");
    let (_, policy) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{compute_path}:getIamPolicy"),
            None,
        )
        .await;
    let mut policy = policy;
    policy["bindings"] = json!([{"role": "roles/iam.serviceAccountUser", "members": [member]}]);
    let (status, body) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{compute_path}:setIamPolicy"),
            Some(json!({"policy": policy})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let as_robot = format!("serviceAccount:{email}");
    let (status, _) = h
        .call(&as_robot, Method::GET, "/v1/projects/demo-project", None)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the viewer binding grants before deletion"
    );

    let account_path = format!("/v1/projects/demo-project/serviceAccounts/{email}");
    let (status, body) = h.call(ALICE, Method::DELETE, &account_path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let policy = project_policy(&h).await;
    assert!(has_member(&policy, "roles/viewer", &deleted), "{policy}");
    assert!(!has_member(&policy, "roles/viewer", &member), "{policy}");
    let org_policy = h
        .control
        .stored_policy(&ResourceRef::Organization(h.organization.id.clone()))
        .unwrap()
        .policy;
    assert!(
        has_member(&org_policy, "roles/browser", &deleted),
        "{org_policy}"
    );
    let (_, sa_policy) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{compute_path}:getIamPolicy"),
            None,
        )
        .await;
    assert!(
        has_member(&sa_policy, "roles/iam.serviceAccountUser", &deleted),
        "{sa_policy}"
    );

    // A read-modify-write of the project policy sends the `deleted:` member back unchanged.
    let (status, written) = h
        .call(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project:setIamPolicy",
            Some(json!({"policy": policy})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{written}");
    assert!(has_member(&written, "roles/viewer", &deleted), "{written}");

    // Undelete: the bindings revert to the account, which holds its roles again.
    let (status, restored) = h
        .call(
            ALICE,
            Method::POST,
            &format!("/v1/projects/demo-project/serviceAccounts/{uid}:undelete"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(restored["restoredAccount"]["email"], json!(email));
    let policy = project_policy(&h).await;
    assert!(has_member(&policy, "roles/viewer", &member), "{policy}");
    assert!(!has_member(&policy, "roles/viewer", &deleted), "{policy}");
    let (status, _) = h
        .call(&as_robot, Method::GET, "/v1/projects/demo-project", None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // Delete again, then create a new account with the same email: it inherits nothing.
    let (status, _) = h.call(ALICE, Method::DELETE, &account_path, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, again) = h
        .call(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project/serviceAccounts",
            Some(json!({"accountId": "robot-one"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["email"], json!(email));
    assert_ne!(again["uniqueId"], json!(uid));
    let policy = project_policy(&h).await;
    assert!(has_member(&policy, "roles/viewer", &deleted), "{policy}");
    assert!(!has_member(&policy, "roles/viewer", &member), "{policy}");
    let (status, refused) = h
        .call(&as_robot, Method::GET, "/v1/projects/demo-project", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
}

// ---- permission matrix of the routes added here ----

/// Every v1 route added for this issue: a caller without the route's permission is refused
/// naming it, and once granted the smallest predefined roles holding what it was refused for,
/// it is no longer refused for that permission.
#[tokio::test]
async fn v1_routes_are_refused_without_their_permission_and_pass_with_the_smallest_role() {
    let h = Harness::new();
    job_fixture(&h, "exit 0").await;
    let (_, execution) = h
        .call(ALICE, Method::POST, &format!("{NS}/jobs/nightly:run"), None)
        .await;
    let execution = execution["metadata"]["name"].as_str().unwrap().to_owned();
    let full =
        format!("projects/demo-project/locations/us-central1/jobs/nightly/executions/{execution}");
    h.control
        .wait_execution(&full, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let engine = h.control.engine();
    let catalog = engine.catalog();
    let ours = [
        "google.cloud.run.v1.Jobs.RunJob",
        "google.cloud.run.v1.Executions.",
        "google.cloud.run.v1.Tasks.",
        "google.cloudresourcemanager.v1.Projects.GetProject",
    ];
    let mut checked = 0;
    for (index, route) in kumo_api::routes::ROUTES.iter().enumerate() {
        if !ours.iter().any(|prefix| route.rpc.starts_with(prefix)) {
            continue;
        }
        let permission = route.permission.unwrap();
        // In table order delete comes before cancel and the task routes: those then answer
        // NOT_FOUND once authorized, which is still not a refusal.
        let path = route
            .template
            .replace("{namespace}", "demo-project")
            .replace("{project}", "demo-project")
            .replace("{job}", "nightly")
            .replace("{execution}", &execution)
            .replace("{task}", &format!("{execution}-task0"));
        let member = format!("user:gaps{index}@example.com");
        let body = (route.method == Method::POST).then(|| json!({}));
        let (status, refused) = h
            .call(&member, route.method.clone(), &path, body.clone())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {refused}");
        let refused_for = refused["error"]["details"][0]["metadata"]["permission"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut needed = vec![permission.to_owned(), refused_for];
        if route.rpc.ends_with("GetTask") {
            needed.push("run.executions.get".to_owned());
        }
        if route.rpc.ends_with("ListTasks") {
            needed.push("run.executions.list".to_owned());
        }
        if route.rpc.ends_with("CancelExecution") {
            needed.push("run.jobs.run".to_owned());
        }
        for needed in needed {
            let parsed: kumo_names::Permission = needed.parse().unwrap();
            let role = catalog.roles_granting(&parsed).first().unwrap().to_string();
            h.grant_on_project(&role, &member);
        }
        let (status, answer) = h.call(&member, route.method.clone(), &path, body).await;
        assert_ne!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
        checked += 1;
    }
    assert_eq!(checked, 8);
}

/// The rewrite and concurrent etag-guarded read-modify-writes of the same policy: no writer
/// undoes the rewrite (its etag went stale) and the rewrite loses no writer's binding.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_account_deletion_races_policy_writers_without_losing_either() {
    let h = std::sync::Arc::new(Harness::new());
    let (status, account) = h
        .call(
            ALICE,
            Method::POST,
            "/v1/projects/demo-project/serviceAccounts",
            Some(json!({"accountId": "racing-robot"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{account}");
    let email = account["email"].as_str().unwrap().to_owned();
    let uid = account["uniqueId"].as_str().unwrap().to_owned();
    let member = format!("serviceAccount:{email}");
    h.grant_on_project("roles/viewer", &member);
    let mut tasks = Vec::new();
    for n in 0..20 {
        let h = std::sync::Arc::clone(&h);
        tasks.push(tokio::spawn(async move {
            let user = format!("user:w{n}@example.com");
            for attempt in 0..200u64 {
                let mut policy = project_policy(&h).await;
                policy["bindings"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"role": "roles/browser", "members": [user]}));
                let (status, body) = h
                    .call(
                        ALICE,
                        Method::POST,
                        "/v1/projects/demo-project:setIamPolicy",
                        Some(json!({"policy": policy})),
                    )
                    .await;
                match status {
                    StatusCode::OK => return,
                    StatusCode::CONFLICT => {
                        tokio::time::sleep(std::time::Duration::from_millis(1 + attempt % 5)).await;
                    }
                    other => panic!("{other}: {body}"),
                }
            }
            panic!("{user} never got through");
        }));
    }
    let path = format!("/v1/projects/demo-project/serviceAccounts/{email}");
    let (status, body) = h.call(ALICE, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for task in tasks {
        task.await.unwrap();
    }
    let policy = project_policy(&h).await;
    let deleted = format!("deleted:serviceAccount:{email}?uid={uid}");
    assert!(has_member(&policy, "roles/viewer", &deleted), "{policy}");
    assert!(!has_member(&policy, "roles/viewer", &member), "{policy}");
    for n in 0..20 {
        let user = format!("user:w{n}@example.com");
        assert!(has_member(&policy, "roles/browser", &user), "{user} lost");
    }
}
