"""google-cloud-run (run_v2, REST transport) against Kumo: services through LROs, IAM, jobs and
executions, and errors as google.api_core exceptions."""

import json

import pytest
from google.api_core import exceptions
from google.cloud import run_v2
from google.iam.v1 import iam_policy_pb2, policy_pb2

from conftest import cli_credentials, client_options, curl, sign_in, start_kumo, stop_kumo

HELLO = "us-docker.pkg.dev/cloudrun/container/hello"
JOB = "us-docker.pkg.dev/cloudrun/container/job"
PARENT = "projects/demo-project/locations/us-central1"


@pytest.fixture(scope="module")
def clients(demo, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clients-run")
    alice = sign_in(demo, "alice@example.com", tmp, project="demo-project")
    carol = sign_in(demo, "carol@example.com", tmp, project="demo-project")
    opts = client_options(demo)
    return {
        "alice": alice,
        "services": run_v2.ServicesClient(transport="rest", client_options=opts, credentials=demo.admin_credentials()),
        "jobs": run_v2.JobsClient(transport="rest", client_options=opts, credentials=demo.admin_credentials()),
        "executions": run_v2.ExecutionsClient(transport="rest", client_options=opts, credentials=demo.admin_credentials()),
        "carol_services": run_v2.ServicesClient(transport="rest", client_options=opts, credentials=cli_credentials(carol)),
    }


def _service(image=HELLO):
    return run_v2.Service(template=run_v2.RevisionTemplate(containers=[run_v2.Container(image=image)]))


def test_service_lifecycle_through_long_running_operations(clients):
    services = clients["services"]
    operation = services.create_service(parent=PARENT, service_id="gapic-svc", service=_service())
    created = operation.result(timeout=60)
    assert created.name == f"{PARENT}/services/gapic-svc"
    assert created.uri and created.urls
    assert created.latest_ready_revision.startswith(f"{PARENT}/services/gapic-svc/revisions/gapic-svc-00001-")
    assert created.terminal_condition.state == run_v2.Condition.State.CONDITION_SUCCEEDED
    assert created.creator == "admin@example.com"

    got = services.get_service(name=created.name)
    assert got.uid == created.uid and got.etag
    names = [s.name for s in services.list_services(parent=PARENT)]
    assert created.name in names and f"{PARENT}/services/hello" in names

    got.labels["team"] = "conformance"
    got.template.containers[0].env.append(run_v2.EnvVar(name="GREETING", value="hi"))
    updated = services.update_service(service=got).result(timeout=60)
    assert updated.labels["team"] == "conformance"
    assert updated.generation == got.generation + 1
    assert updated.latest_ready_revision.startswith(f"{PARENT}/services/gapic-svc/revisions/gapic-svc-00002-")

    deleted = services.delete_service(name=created.name).result(timeout=60)
    assert deleted.name == created.name
    with pytest.raises(exceptions.NotFound):
        services.get_service(name=created.name)


def test_create_of_an_existing_service_is_a_conflict(clients):
    with pytest.raises(exceptions.Conflict):
        clients["services"].create_service(parent=PARENT, service_id="hello", service=_service())


def test_not_found_and_forbidden_carry_googles_messages(clients):
    with pytest.raises(exceptions.NotFound):
        clients["services"].get_service(name=f"{PARENT}/services/nothing-here")
    with pytest.raises(exceptions.Forbidden) as denied:
        clients["carol_services"].get_service(name=f"{PARENT}/services/hello")
    assert "Permission 'run.services.get' denied on resource" in denied.value.message
    assert denied.value.reason == "IAM_PERMISSION_DENIED"
    assert denied.value.metadata.get("permission") == "run.services.get"


def test_iam_get_set_test_and_stale_etag(clients):
    services = clients["services"]
    resource = f"{PARENT}/services/hello"
    policy = services.get_iam_policy(request={"resource": resource, "options": {"requested_policy_version": 3}})
    assert policy.etag
    stale = policy_pb2.Policy()
    stale.CopyFrom(policy)
    policy.bindings.add(role="roles/run.invoker", members=["user:carol@example.com"])
    updated = services.set_iam_policy(request={"resource": resource, "policy": policy})
    assert updated.etag != policy.etag
    assert any(b.role == "roles/run.invoker" and "user:carol@example.com" in b.members for b in updated.bindings)
    # A write based on the old etag lost the race: 409 ABORTED.
    stale.bindings.add(role="roles/run.invoker", members=["user:bob@example.com"])
    with pytest.raises(exceptions.Conflict):
        services.set_iam_policy(request={"resource": resource, "policy": stale})
    # carol may now invoke, and only invoke.
    allowed = clients["carol_services"].test_iam_permissions(
        request=iam_policy_pb2.TestIamPermissionsRequest(
            resource=resource, permissions=["run.routes.invoke", "run.services.get", "run.services.delete"]
        )
    )
    assert list(allowed.permissions) == ["run.routes.invoke"]


def test_job_run_returns_the_execution_and_it_succeeds(clients):
    jobs = clients["jobs"]
    job = run_v2.Job(
        template=run_v2.ExecutionTemplate(
            task_count=2, template=run_v2.TaskTemplate(containers=[run_v2.Container(image=JOB)])
        )
    )
    created = jobs.create_job(parent=PARENT, job_id="gapic-job", job=job).result(timeout=60)
    assert created.name == f"{PARENT}/jobs/gapic-job"
    execution = jobs.run_job(name=created.name).result(timeout=120)
    assert isinstance(execution, run_v2.Execution)
    assert execution.name.startswith(f"{created.name}/executions/gapic-job-")
    assert execution.succeeded_count == 2 and execution.failed_count == 0
    assert execution.completion_time
    got = clients["executions"].get_execution(name=execution.name)
    assert got.succeeded_count == 2
    assert [e.name for e in clients["executions"].list_executions(parent=created.name)] == [execution.name]


def test_deployed_service_answers_through_the_gateway(clients, demo):
    services = clients["services"]
    created = services.create_service(parent=PARENT, service_id="gapic-public", service=_service()).result(timeout=60)
    policy = services.get_iam_policy(request={"resource": created.name})
    policy.bindings.add(role="roles/run.invoker", members=["allUsers"])
    services.set_iam_policy(request={"resource": created.name, "policy": policy})
    url = next(u for u in created.urls if ".run.localhost:" in u)
    status, body = curl(url)
    assert status == 200 and "It's running!" in body


def test_list_services_pages_through_every_service(clients):
    services = clients["services"]
    for index in range(3):
        services.create_service(parent=PARENT, service_id=f"paged-{index}", service=_service()).result(timeout=60)
    pager = services.list_services(request={"parent": PARENT, "page_size": 2})
    pages = list(pager.pages)
    assert len(pages) >= 2 and all(len(page.services) <= 2 for page in pages)
    names = [s.name for page in pages for s in page.services]
    assert len(names) == len(set(names))
    assert {f"{PARENT}/services/paged-{i}" for i in range(3)} <= set(names)


def test_failed_job_execution_is_reported(tmp_path_factory):
    """A task that exits non-zero (an image mapped to `sh -c 'exit 3'`): the execution fails."""
    data_dir = tmp_path_factory.mktemp("failing-job")
    (data_dir / "images.json").write_text(
        json.dumps({"images": {"docker.io/kumo/fail": {"entrypoint": ["/bin/sh", "-c", "exit 3"]}}})
    )
    server = start_kumo(["--demo"], data_dir=data_dir)
    try:
        jobs = run_v2.JobsClient(transport="rest", client_options=client_options(server), credentials=server.admin_credentials())
        job = run_v2.Job(
            template=run_v2.ExecutionTemplate(
                task_count=1,
                template=run_v2.TaskTemplate(
                    max_retries=0, containers=[run_v2.Container(image="docker.io/kumo/fail")]
                ),
            )
        )
        created = jobs.create_job(parent=PARENT, job_id="failing-job", job=job).result(timeout=60)
        operation = jobs.run_job(name=created.name)
        try:
            execution = operation.result(timeout=120)
        except exceptions.GoogleAPICallError:
            # Google reports the failed execution as the operation's error; the metadata is the Execution.
            execution = operation.metadata
        assert execution.failed_count == 1 and execution.succeeded_count == 0
    finally:
        stop_kumo(server)


def test_update_with_a_stale_service_etag_is_a_conflict(clients):
    services = clients["services"]
    created = services.create_service(parent=PARENT, service_id="etag-svc", service=_service()).result(timeout=60)
    first = services.get_service(name=created.name)
    second = services.get_service(name=created.name)
    first.labels["writer"] = "first"
    services.update_service(service=first).result(timeout=60)
    second.labels["writer"] = "second"
    with pytest.raises(exceptions.Conflict):
        services.update_service(service=second).result(timeout=60)
    assert services.get_service(name=created.name).labels["writer"] == "first"
