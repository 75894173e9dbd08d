"""Seed 001 ("[2025/1/15 までに対応必須] Cloud Run へのコンテナイメージを利用したデプロイについては権限追加が必要になります").

A principal with only roles/run.admin and roles/iam.serviceAccountUser deploys an image from an
Artifact Registry repository of the same project. Before the 2025-01-15 enforcement
(`kumo up --image-access-check warn`) the deploy succeeds and the audit log holds the ERROR the
seed's Logging query finds; enforced (the default) the deploy is refused; after granting
roles/artifactregistry.reader the deploy succeeds with no error logged.
"""

import json

import pytest

from conftest import KUMO_BIN, curl, gateway_url, sign_in, start_kumo, stop_kumo

REGION = "asia-northeast1"
# The seed's query, verbatim (three lines: an implicit AND).
QUERY = 'resource.type = "cloud_run_revision"\nseverity=ERROR\n"User does not have access to image"'


def _server(tmp_path_factory, mode):
    data_dir = tmp_path_factory.mktemp(f"seed001-{mode}")
    # The pushed image runs Kumo's built-in hello sample (the runtime's image map, DATA_DIR/images.json).
    (data_dir / "images.json").write_text(
        json.dumps(
            {"images": {f"{REGION}-docker.pkg.dev/demo-project/docker-repo/*": {"entrypoint": [KUMO_BIN, "__sample", "hello"]}}}
        )
    )
    return start_kumo(["--demo", "--image-access-check", mode], data_dir=data_dir)


def _world(server, tmp):
    alice = sign_in(server, "alice@example.com", tmp, project="demo-project")
    alice.run("artifacts", "repositories", "create", "docker-repo", "--repository-format", "docker", "--location", REGION)
    # The seed's deployer: Cloud Run Admin and Service Account User only.
    for role in ("roles/run.admin", "roles/iam.serviceAccountUser"):
        alice.run("projects", "add-iam-policy-binding", "demo-project", "--member", "user:bob@example.com", "--role", role)
    bob = sign_in(server, "bob@example.com", tmp, project="demo-project")
    return alice, bob


def _image(cli, name):
    # export PROJECT_ID=$(gcloud config get-value project)
    project_id = cli.out("config", "get-value", "project")
    return f"{REGION}-docker.pkg.dev/{project_id}/docker-repo/{name}:latest"


@pytest.fixture(scope="module")
def warn(tmp_path_factory):
    server = _server(tmp_path_factory, "warn")
    yield server, *_world(server, tmp_path_factory.mktemp("seed001-warn-cfg"))
    stop_kumo(server)


@pytest.fixture(scope="module")
def enforce(tmp_path_factory):
    server = _server(tmp_path_factory, "enforce")
    yield server, *_world(server, tmp_path_factory.mktemp("seed001-enforce-cfg"))
    stop_kumo(server)


def test_warn_mode_deploys_and_logs_user_does_not_have_access_to_image(warn):
    _, alice, bob = warn
    image = _image(bob, "my-cloud-run-app")
    deployed = bob.run("run", "deploy", "my-cloud-run-app", "--image", image, "--region", REGION)
    assert "Service [my-cloud-run-app] revision [my-cloud-run-app-00001-" in deployed.stderr + deployed.stdout
    assert "has been deployed and is serving 100 percent of traffic." in deployed.stderr + deployed.stdout
    # The deployed image really serves.
    status, body = curl(gateway_url(alice, "my-cloud-run-app", "--region", REGION), alice.out("auth", "print-identity-token"))
    assert status == 200 and "It's running!" in body
    # The Logs Explorer query of the seed, through `kumo logging read` (by the project owner).
    entries = alice.json("logging", "read", QUERY)
    assert len(entries) == 1, entries
    entry = entries[0]
    assert entry["severity"] == "ERROR"
    assert entry["resource"]["type"] == "cloud_run_revision"
    assert entry["protoPayload"]["authenticationInfo"]["principalEmail"] == "bob@example.com"
    assert entry["protoPayload"]["status"] == {
        "code": 403,
        "message": "Cloud Run API check failed. Requests will be rejected after January 2025 hard enforcement "
        f"deadline. User does not have access to image {image}",
    }


def test_warn_mode_after_granting_reader_logs_no_error(warn):
    _, alice, bob = warn
    alice.run(
        "projects", "add-iam-policy-binding", "demo-project",
        "--member", "user:bob@example.com", "--role", "roles/artifactregistry.reader",
    )
    bob.run("run", "deploy", "my-cloud-run-app-2", "--image", _image(bob, "my-cloud-run-app"), "--region", REGION)
    entries = alice.json("logging", "read", QUERY)
    assert [e["protoPayload"]["resourceName"].rsplit("/", 1)[1] for e in entries] == ["my-cloud-run-app"]


def test_enforce_mode_refuses_then_reader_on_the_repository_allows(enforce):
    _, alice, bob = enforce
    image = _image(bob, "my-cloud-run-app")
    refused = bob.run("run", "deploy", "my-cloud-run-app", "--image", image, "--region", REGION, ok=False)
    # Google's enforced wording (Cloud Run troubleshooting page).
    assert f"PERMISSION_DENIED: User must have permission to read the image, {image}. Ensure that the provided container image URL is correct and that the above account has permission to access the image." in refused.stderr
    assert bob.run("run", "services", "describe", "my-cloud-run-app", "--region", REGION, ok=False)
    # The seed grants reader "on the project or container repository": here the repository.
    alice.run(
        "artifacts", "repositories", "add-iam-policy-binding", "docker-repo", "--location", REGION,
        "--member", "user:bob@example.com", "--role", "roles/artifactregistry.reader",
    )
    bob.run("run", "deploy", "my-cloud-run-app", "--image", image, "--region", REGION)
    status, body = curl(gateway_url(alice, "my-cloud-run-app", "--region", REGION), alice.out("auth", "print-identity-token"))
    assert status == 200 and "It's running!" in body
    assert alice.json("logging", "read", QUERY) == []
