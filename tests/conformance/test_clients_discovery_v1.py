"""The discovery-based google-api-python-client against Kumo's v1 surfaces: Resource Manager v1
projects (get, list with v1's filter), Cloud Run v1 jobs.run with executions and tasks, and a
service account's bindings through deletion and undeletion (IAM v1 + Resource Manager v1)."""

import time

import pytest
from googleapiclient import discovery
from googleapiclient.errors import HttpError

from conftest import cli_credentials, sign_in

JOB = "us-docker.pkg.dev/cloudrun/container/job"


def _build(demo, api, version, credentials=None):
    return discovery.build(
        api,
        version,
        credentials=credentials or demo.admin_credentials(),
        client_options={"api_endpoint": demo.base_url},
        static_discovery=True,
    )


@pytest.fixture(scope="module")
def world(demo, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clients-discovery-v1")
    carol = sign_in(demo, "carol@example.com", tmp)
    return {
        "crm": _build(demo, "cloudresourcemanager", "v1"),
        "carol_crm": _build(demo, "cloudresourcemanager", "v1", cli_credentials(carol)),
        "run": _build(demo, "run", "v1"),
        "iam": _build(demo, "iam", "v1"),
    }


def test_v1_project_get_and_list(world):
    crm = world["crm"]
    project = crm.projects().get(projectId="demo-project").execute()
    assert project["projectId"] == "demo-project"
    assert project["projectNumber"].isdigit(), "int64 travels as a string"
    assert project["lifecycleState"] == "ACTIVE"
    assert project["parent"]["type"] == "organization" and project["parent"]["id"].isdigit()
    by_number = crm.projects().get(projectId=project["projectNumber"]).execute()
    assert by_number["projectId"] == "demo-project"

    # gcloud's own filter form (projects_api._AddActiveProjectFilterIfNotSpecified).
    listed = crm.projects().list(filter="lifecycleState:ACTIVE AND (id:demo-*)").execute()
    assert "demo-project" in [p["projectId"] for p in listed["projects"]]
    parent = project["parent"]
    by_parent = crm.projects().list(filter=f"parent.type:{parent['type']} parent.id:{parent['id']}").execute()
    assert "demo-project" in [p["projectId"] for p in by_parent["projects"]]
    assert "projects" not in crm.projects().list(filter="name:no-such-name*").execute()

    # Paging with the client's own pager walks everything once.
    seen, request = [], crm.projects().list(pageSize=1)
    while request is not None:
        page = request.execute()
        seen += [p["projectId"] for p in page.get("projects", [])]
        request = crm.projects().list_next(request, page)
    assert len(seen) == len(set(seen)) and "demo-project" in seen

    with pytest.raises(HttpError) as bad:
        crm.projects().list(filter="colour:red").execute()
    assert bad.value.status_code == 400

    # Carol holds nothing on demo-project: get is refused and list leaves it out.
    with pytest.raises(HttpError) as refused:
        world["carol_crm"].projects().get(projectId="demo-project").execute()
    assert refused.value.status_code == 403
    carol_sees = world["carol_crm"].projects().list().execute().get("projects", [])
    assert "demo-project" not in [p["projectId"] for p in carol_sees]


def test_v1_job_run_execution_and_tasks(world):
    run = world["run"]
    ns = "namespaces/demo-project"
    job = {
        "apiVersion": "run.googleapis.com/v1",
        "kind": "Job",
        "metadata": {"name": "discovery-job", "labels": {"cloud.googleapis.com/location": "us-central1"}},
        "spec": {"template": {"spec": {"taskCount": 2, "template": {"spec": {"containers": [{"image": JOB}]}}}}},
    }
    run.namespaces().jobs().create(parent=ns, body=job).execute()
    execution = run.namespaces().jobs().run(name=f"{ns}/jobs/discovery-job", body={}).execute()
    assert execution["kind"] == "Execution"
    name = execution["metadata"]["name"]
    assert name.startswith("discovery-job-")
    assert execution["metadata"]["labels"]["run.googleapis.com/job"] == "discovery-job"

    deadline = time.monotonic() + 120
    while True:
        got = run.namespaces().executions().get(name=f"{ns}/executions/{name}").execute()
        if got["status"].get("completionTime") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert got["status"]["succeededCount"] == 2
    completed = next(c for c in got["status"]["conditions"] if c["type"] == "Completed")
    assert completed["status"] == "True"

    listed = run.namespaces().executions().list(parent=ns, labelSelector="run.googleapis.com/job=discovery-job").execute()
    assert [e["metadata"]["name"] for e in listed["items"]] == [name]
    tasks = run.namespaces().tasks().list(parent=ns, labelSelector=f"run.googleapis.com/execution = {name}").execute()
    assert [t["status"]["index"] for t in tasks["items"]] == [0, 1]
    task = run.namespaces().tasks().get(name=f"{ns}/tasks/{name}-task0").execute()
    assert task["metadata"]["labels"]["run.googleapis.com/runningState"] == "Succeeded"

    with pytest.raises(HttpError) as finished:
        run.namespaces().executions().cancel(name=f"{ns}/executions/{name}", body={}).execute()
    assert finished.value.status_code == 400
    status = run.namespaces().executions().delete(name=f"{ns}/executions/{name}").execute()
    assert status["status"] == "Success"
    with pytest.raises(HttpError) as gone:
        run.namespaces().executions().get(name=f"{ns}/executions/{name}").execute()
    assert gone.value.status_code == 404


def _members(policy, role):
    return [m for b in policy.get("bindings", []) if b["role"] == role for m in b["members"]]


def test_deleted_service_account_bindings(world):
    iam, crm = world["iam"], world["crm"]
    account = iam.projects().serviceAccounts().create(
        name="projects/demo-project", body={"accountId": "short-lived"}
    ).execute()
    email, uid = account["email"], account["uniqueId"]
    policy = crm.projects().getIamPolicy(resource="demo-project", body={}).execute()
    policy.setdefault("bindings", []).append({"role": "roles/viewer", "members": [f"serviceAccount:{email}"]})
    crm.projects().setIamPolicy(resource="demo-project", body={"policy": policy}).execute()

    iam.projects().serviceAccounts().delete(name=f"projects/demo-project/serviceAccounts/{email}").execute()
    policy = crm.projects().getIamPolicy(resource="demo-project", body={}).execute()
    viewers = _members(policy, "roles/viewer")
    assert f"deleted:serviceAccount:{email}?uid={uid}" in viewers
    assert f"serviceAccount:{email}" not in viewers

    restored = iam.projects().serviceAccounts().undelete(name=f"projects/demo-project/serviceAccounts/{uid}", body={}).execute()
    assert restored["restoredAccount"]["email"] == email
    viewers = _members(crm.projects().getIamPolicy(resource="demo-project", body={}).execute(), "roles/viewer")
    assert f"serviceAccount:{email}" in viewers
    assert f"deleted:serviceAccount:{email}?uid={uid}" not in viewers
