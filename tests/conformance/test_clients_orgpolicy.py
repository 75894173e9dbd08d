"""google-cloud-org-policy (orgpolicy_v2, REST) against Kumo: policies v2 create/get/effective/
update/delete, and that they take effect on Cloud Run."""

import pytest
from google.api_core import exceptions
from google.cloud import orgpolicy_v2, resourcemanager_v3, run_v2

from conftest import client_options

PROJECT = "projects/demo-project"


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
        "org": organization,
        "client": orgpolicy_v2.OrgPolicyClient(transport="rest", client_options=opts, credentials=creds),
        "services": run_v2.ServicesClient(transport="rest", client_options=opts, credentials=creds),
    }


def test_constraints_are_listed(op):
    names = [c.name for c in op["client"].list_constraints(parent=PROJECT)]
    for constraint in ("iam.allowedPolicyMemberDomains", "run.managed.requireInvokerIam", "iam.disableCrossProjectServiceAccountUsage"):
        assert f"{PROJECT}/constraints/{constraint}" in names or any(n.endswith(f"/constraints/{constraint}") for n in names)


def test_boolean_policy_lifecycle_and_effect_on_run(op):
    client = op["client"]
    name = f"{PROJECT}/policies/run.managed.requireInvokerIam"
    with pytest.raises(exceptions.NotFound):
        client.get_policy(name=name)
    effective = client.get_effective_policy(name=name)
    assert not effective.spec.rules or not effective.spec.rules[0].enforce
    created = client.create_policy(parent=PROJECT, policy={"name": name, "spec": {"rules": [{"enforce": True}]}})
    assert created.spec.rules[0].enforce and created.etag
    with pytest.raises(exceptions.Conflict):
        client.create_policy(parent=PROJECT, policy={"name": name, "spec": {"rules": [{"enforce": True}]}})
    assert client.get_effective_policy(name=name).spec.rules[0].enforce
    # Names come back with the project number (projects/NUMBER/policies/C), as Google's do.
    assert [p.name.rsplit("/", 1)[1] for p in client.list_policies(parent=PROJECT)] == ["run.managed.requireInvokerIam"]

    # Cloud Run now refuses invoker_iam_disabled, as an LRO error or a direct 400.
    services = op["services"]
    service = services.get_service(name="projects/demo-project/locations/us-central1/services/hello")
    service.invoker_iam_disabled = True
    with pytest.raises((exceptions.FailedPrecondition, exceptions.BadRequest)) as refused:
        services.update_service(service=service).result(timeout=60)
    assert "constraints/run.managed.requireInvokerIam" in str(refused.value)

    created.spec.rules[0].enforce = False
    updated = client.update_policy(policy=created)
    assert not updated.spec.rules[0].enforce
    client.delete_policy(name=name)
    with pytest.raises(exceptions.NotFound):
        client.get_policy(name=name)


def test_list_policy_on_the_organization_is_inherited(op):
    client = op["client"]
    org = op["org"]
    name = f"{org.name}/policies/iam.allowedPolicyMemberDomains"
    client.create_policy(
        parent=org.name,
        policy={"name": name, "spec": {"rules": [{"values": {"allowed_values": [f"is:{org.directory_customer_id}"]}}]}},
    )
    effective = client.get_effective_policy(name=f"{PROJECT}/policies/iam.allowedPolicyMemberDomains")
    # The `is:` prefix is optional; the stored value may drop it.
    assert [v.removeprefix("is:") for v in effective.spec.rules[0].values.allowed_values] == [org.directory_customer_id]
    client.delete_policy(name=name)
