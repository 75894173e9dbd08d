"""google-cloud-org-policy custom constraints (orgpolicy_v2, REST) against Kumo: create/get/list/
update/delete, a policy enforcing one, and Cloud Run (google-cloud-run) refusing a deploy that
violates it and accepting one that complies."""

import pytest
from google.api_core import exceptions
from google.cloud import orgpolicy_v2, resourcemanager_v3, run_v2

from conftest import client_options

PROJECT = "projects/demo-project"
LOCATION = "projects/demo-project/locations/us-central1"
HELLO = "us-docker.pkg.dev/cloudrun/container/hello"
DESCRIPTION = "Only images from Artifact Registry may be deployed."


@pytest.fixture(scope="module")
def op(demo):
    opts = client_options(demo)
    creds = demo.admin_credentials()
    orgs = resourcemanager_v3.OrganizationsClient(transport="rest", client_options=opts, credentials=creds)
    organization = next(iter(orgs.search_organizations(query="domain:example.com")))
    policy = orgs.get_iam_policy(resource=organization.name)
    policy.bindings.add(role="roles/orgpolicy.policyAdmin", members=["user:admin@example.com"])
    orgs.set_iam_policy(request={"resource": organization.name, "policy": policy})
    return {
        "org": organization.name,
        "client": orgpolicy_v2.OrgPolicyClient(transport="rest", client_options=opts, credentials=creds),
        "services": run_v2.ServicesClient(transport="rest", client_options=opts, credentials=creds),
    }


def custom_constraint(org):
    CC = orgpolicy_v2.CustomConstraint
    return CC(
        name=f"{org}/customConstraints/custom.requireArtifactRegistry",
        resource_types=["run.googleapis.com/Service"],
        method_types=[CC.MethodType.CREATE, CC.MethodType.UPDATE],
        condition="resource.spec.template.spec.containers.all(c, c.image.contains('-docker.pkg.dev/'))",
        action_type=CC.ActionType.ALLOW,
        display_name="Require Artifact Registry images",
        description=DESCRIPTION,
    )


def test_custom_constraint_lifecycle_and_enforcement_on_run(op):
    client, org = op["client"], op["org"]
    wanted = custom_constraint(org)

    # Invalid: UPDATE alone is refused with a field violation.
    bad = custom_constraint(org)
    bad.method_types = [orgpolicy_v2.CustomConstraint.MethodType.UPDATE]
    with pytest.raises(exceptions.BadRequest) as invalid:
        client.create_custom_constraint(parent=org, custom_constraint=bad)
    assert "Request has invalid values." in str(invalid.value)

    created = client.create_custom_constraint(parent=org, custom_constraint=wanted)
    assert created.name == wanted.name
    assert created.action_type == orgpolicy_v2.CustomConstraint.ActionType.ALLOW
    assert list(created.method_types) == list(wanted.method_types)
    assert created.update_time
    with pytest.raises(exceptions.Conflict):
        client.create_custom_constraint(parent=org, custom_constraint=wanted)
    assert client.get_custom_constraint(name=wanted.name).condition == wanted.condition
    assert [c.name for c in client.list_custom_constraints(parent=org)] == [wanted.name]
    listed = [c for c in client.list_constraints(parent=PROJECT) if c.name.endswith("/constraints/custom.requireArtifactRegistry")]
    assert listed and listed[0].boolean_constraint.custom_constraint_definition.condition == wanted.condition

    # Not enforced until a policy says so.
    policy_name = f"{org}/policies/custom.requireArtifactRegistry"
    effective_name = f"{PROJECT}/policies/custom.requireArtifactRegistry"
    effective = client.get_effective_policy(name=effective_name)
    assert not effective.spec.rules or not effective.spec.rules[0].enforce
    client.create_policy(parent=org, policy={"name": policy_name, "spec": {"rules": [{"enforce": True}]}})
    assert client.get_effective_policy(name=effective_name).spec.rules[0].enforce

    # A Docker Hub image violates it: refused (as an LRO error or a direct 400).
    services = op["services"]
    hub = run_v2.Service(template=run_v2.RevisionTemplate(containers=[run_v2.Container(image="docker.io/library/nginx")]))
    with pytest.raises((exceptions.FailedPrecondition, exceptions.BadRequest)) as refused:
        services.create_service(parent=LOCATION, service=hub, service_id="from-hub").result(timeout=60)
    message = str(refused.value)
    assert "customConstraints/custom.requireArtifactRegistry" in message
    assert DESCRIPTION in message
    with pytest.raises(exceptions.NotFound):
        services.get_service(name=f"{LOCATION}/services/from-hub")

    # A compliant image deploys.
    ok = run_v2.Service(template=run_v2.RevisionTemplate(containers=[run_v2.Container(image=HELLO)]))
    deployed = services.create_service(parent=LOCATION, service=ok, service_id="from-ar").result(timeout=120)
    assert deployed.name == f"{LOCATION}/services/from-ar"

    # Update (no mask: the whole constraint) and delete; deleting stops enforcement.
    created.description = "Artifact Registry only."
    updated = client.update_custom_constraint(custom_constraint=created)
    assert updated.description == "Artifact Registry only."
    client.delete_custom_constraint(name=wanted.name)
    with pytest.raises(exceptions.NotFound):
        client.get_custom_constraint(name=wanted.name)
    assert list(client.list_custom_constraints(parent=org)) == []
    client.delete_policy(name=policy_name)
    services.delete_service(name=f"{LOCATION}/services/from-ar").result(timeout=60)
