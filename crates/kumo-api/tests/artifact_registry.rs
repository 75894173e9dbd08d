//! Artifact Registry v1: repositories, their IAM, Docker images pushed through Kumo's extension,
//! and repository IAM deciding who may deploy an image.

use axum::http::{Method, StatusCode};
use kumo_api::testing::Harness;
use serde_json::{Value, json};

const REPOS: &str = "/v1/projects/demo-project/locations/us-central1/repositories";
const PUSH: &str =
    "/kumo/v1/projects/demo-project/locations/us-central1/repositories/docker-repo/dockerImages";
const IMAGE: &str = "us-central1-docker.pkg.dev/demo-project/docker-repo/app";
const ALICE: &str = "user:alice@example.com";
const BOB: &str = "user:bob@example.com";

async fn with_repository() -> Harness {
    let h = Harness::new();
    let (status, op) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{REPOS}?repositoryId=docker-repo"),
            Some(json!({"format": "DOCKER", "description": "images"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{op}");
    h
}

async fn set_repo_policy(h: &Harness, bindings: Value) {
    let (status, policy) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{REPOS}/docker-repo:setIamPolicy"),
            Some(json!({"policy": {"bindings": bindings}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{policy}");
}

#[tokio::test]
async fn repositories_are_created_read_updated_and_deleted() {
    let h = Harness::new();
    let (status, op) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{REPOS}?repositoryId=docker-repo"),
            Some(json!({"format": "DOCKER"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{op}");
    assert_eq!(op["done"], json!(true));
    let repository = &op["response"];
    assert_eq!(
        repository["@type"],
        "type.googleapis.com/google.devtools.artifactregistry.v1.Repository"
    );
    assert_eq!(
        repository["name"],
        "projects/demo-project/locations/us-central1/repositories/docker-repo"
    );
    assert_eq!(repository["mode"], "STANDARD_REPOSITORY");
    assert_eq!(
        repository["registryUri"],
        "us-central1-docker.pkg.dev/demo-project/docker-repo"
    );
    let (status, duplicate) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{REPOS}?repositoryId=docker-repo"),
            Some(json!({"format": "DOCKER"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{duplicate}");
    for (id, body) in [
        ("Bad_Id", json!({"format": "DOCKER"})),
        ("no-format", json!({})),
    ] {
        let (status, error) = h
            .call(
                ALICE,
                Method::POST,
                &format!("{REPOS}?repositoryId={id}"),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{id}: {error}");
    }
    let (status, got) = h
        .call(ALICE, Method::GET, &format!("{REPOS}/docker-repo"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(got["createTime"].is_string());
    let (status, patched) = h
        .call(
            ALICE,
            Method::PATCH,
            &format!("{REPOS}/docker-repo?updateMask=description"),
            Some(json!({"description": "new", "labels": {"x": "y"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["description"], "new");
    assert!(
        patched.get("labels").is_none(),
        "only the masked field changes: {patched}"
    );
    for id in ["b-repo", "c-repo"] {
        h.call(
            ALICE,
            Method::POST,
            &format!("{REPOS}?repositoryId={id}"),
            Some(json!({"format": "DOCKER"})),
        )
        .await;
    }
    let (_, page) = h
        .call(ALICE, Method::GET, &format!("{REPOS}?pageSize=2"), None)
        .await;
    assert_eq!(page["repositories"].as_array().unwrap().len(), 2);
    let token = page["nextPageToken"].as_str().unwrap();
    let (_, rest) = h
        .call(
            ALICE,
            Method::GET,
            &format!("{REPOS}?pageSize=2&pageToken={token}"),
            None,
        )
        .await;
    assert_eq!(rest["repositories"].as_array().unwrap().len(), 1);
    assert!(rest.get("nextPageToken").is_none());
    let (status, deleted) = h
        .call(ALICE, Method::DELETE, &format!("{REPOS}/docker-repo"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["done"], json!(true));
    let (status, missing) = h
        .call(ALICE, Method::GET, &format!("{REPOS}/docker-repo"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing["error"]["message"],
        "Requested entity was not found."
    );
}

#[tokio::test]
async fn repository_iam_decides_reading_and_pushing() {
    let h = with_repository().await;
    let (status, refused) = h
        .call(BOB, Method::GET, &format!("{REPOS}/docker-repo"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused["error"]["message"],
        "Permission 'artifactregistry.repositories.get' denied on resource 'projects/demo-project/locations/us-central1/repositories/docker-repo' (or it may not exist)."
    );
    let (status, _) = h
        .call(
            BOB,
            Method::POST,
            PUSH,
            Some(json!({"uri": format!("{IMAGE}:v1")})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    set_repo_policy(
        &h,
        json!([{"role": "roles/artifactregistry.reader", "members": [BOB]}]),
    )
    .await;
    let (status, got) = h
        .call(BOB, Method::GET, &format!("{REPOS}/docker-repo"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let (status, refused) = h
        .call(
            BOB,
            Method::POST,
            PUSH,
            Some(json!({"uri": format!("{IMAGE}:v1")})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a reader cannot push: {refused}"
    );
    set_repo_policy(
        &h,
        json!([{"role": "roles/artifactregistry.writer", "members": [BOB]}]),
    )
    .await;
    let (status, first) = h
        .call(
            BOB,
            Method::POST,
            PUSH,
            Some(json!({"uri": format!("{IMAGE}:v1"), "tags": ["latest"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["tags"], json!(["v1", "latest"]));
    assert!(
        first["uri"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{IMAGE}@sha256:"))
    );
    let (_, second) = h
        .call(
            BOB,
            Method::POST,
            PUSH,
            Some(json!({"uri": format!("{IMAGE}:v2"), "tags": ["latest"]})),
        )
        .await;
    let (status, list) = h
        .call(
            BOB,
            Method::GET,
            &format!("{REPOS}/docker-repo/dockerImages"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let images = list["dockerImages"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    // `latest` moved to the second push.
    let tags_of =
        |name: &Value| images.iter().find(|image| image["name"] == *name).unwrap()["tags"].clone();
    assert_eq!(tags_of(&first["name"]), json!(["v1"]));
    assert_eq!(tags_of(&second["name"]), json!(["v2", "latest"]));
    let id = second["name"].as_str().unwrap().rsplit('/').next().unwrap();
    // `:` would read as a custom method in the path; clients escape it.
    let escaped = id.replace(':', "%3A");
    let (status, image) = h
        .call(
            BOB,
            Method::GET,
            &format!("{REPOS}/docker-repo/dockerImages/{escaped}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{image}");
    assert_eq!(image["tags"], json!(["v2", "latest"]));
    // An image of another repository cannot be pushed here.
    let (status, _) = h
        .call(
            ALICE,
            Method::POST,
            PUSH,
            Some(json!({"uri": "us-central1-docker.pkg.dev/demo-project/other/app:v1"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, allowed) = h
        .call(
            BOB,
            Method::POST,
            &format!("{REPOS}/docker-repo:testIamPermissions"),
            Some(json!({"permissions": ["artifactregistry.repositories.uploadArtifacts", "artifactregistry.repositories.delete"]})),
        )
        .await;
    assert_eq!(
        allowed["permissions"],
        json!(["artifactregistry.repositories.uploadArtifacts"])
    );
    // Deleting the repository takes its images and its policy with it.
    h.call(ALICE, Method::DELETE, &format!("{REPOS}/docker-repo"), None)
        .await;
    with_repository_again(&h).await;
    let (status, _) = h
        .call(BOB, Method::GET, &format!("{REPOS}/docker-repo"), None)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a re-created repository does not inherit the old grants"
    );
    let (_, list) = h
        .call(
            ALICE,
            Method::GET,
            &format!("{REPOS}/docker-repo/dockerImages"),
            None,
        )
        .await;
    assert!(list.get("dockerImages").is_none(), "{list}");
}

async fn with_repository_again(h: &Harness) {
    let (status, op) = h
        .call(
            ALICE,
            Method::POST,
            &format!("{REPOS}?repositoryId=docker-repo"),
            Some(json!({"format": "DOCKER"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{op}");
}

#[tokio::test]
async fn repository_iam_decides_who_may_deploy_an_image() {
    let h = with_repository().await;
    assert_eq!(
        h.control.image_repository(&format!("{IMAGE}:v1")).map(|repo| repo.full_name()),
        Some("//artifactregistry.googleapis.com/projects/demo-project/locations/us-central1/repositories/docker-repo".to_owned())
    );
    let (status, _) = h
        .call(
            ALICE,
            Method::POST,
            PUSH,
            Some(json!({"uri": format!("{IMAGE}:v1")})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    h.grant_on_project("roles/run.developer", BOB);
    h.grant_on_project("roles/iam.serviceAccountUser", BOB);
    let job = json!({"template": {"template": {"containers": [{"image": format!("{IMAGE}:v1")}]}}});
    let path = "/v2/projects/demo-project/locations/us-central1/jobs?jobId=from-repo";
    let (status, refused) = h.call(BOB, Method::POST, path, Some(job.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "User must have permission to read the image, {IMAGE}:v1."
            )),
        "{refused}"
    );
    set_repo_policy(
        &h,
        json!([{"role": "roles/artifactregistry.reader", "members": [BOB]}]),
    )
    .await;
    let (status, created) = h.call(BOB, Method::POST, path, Some(job)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
}
