"""Seed 000 (G-gen, "Cloud Runの呼び出し元IAMチェックを無効化してサービスを公開する"), command for command.

Publishing a service: granting roles/run.invoker to allUsers versus `--no-invoker-iam-check`; the
domain-restricted-sharing constraint refuses allUsers but not the disabled invoker check;
run.managed.requireInvokerIam (on the project, or inherited from the organization) refuses the
disabled check with Google's exact FAILED_PRECONDITION; the YAML annotation
`run.googleapis.com/invoker-iam-disabled: true` through `kumo run services replace`.
Tests run in file order on one server; each uses its own service.
"""

import pytest

from conftest import curl, gateway_url, project_number, sign_in

HELLO = "us-docker.pkg.dev/cloudrun/container/hello"
REGION = "asia-northeast1"

REQUIRE_INVOKER_IAM_TEXT = (
    'FAILED_PRECONDITION: Operation denied by custom org policy: ["constraints/run.managed.requireInvokerIam": '
    '"When enforced, this constraint requires the IAM invoker check to be enabled on Cloud Run services.\n'
    "If this constraint is not enforced, you can set the service.invoker_iam_disabled field (v2), or the "
    "run.googleapis.com/invoker-iam-disabled annotation (v1) on Cloud Run services to True. The "
    "invoker_iam_disabled field is currently available by invitation-only and will not be broadly available "
    "until after March 21, 2025. It's still possible to achieve a similar result by granting the "
    'run.routes.invoke permission to allUsers."].'
)
DRS_TEXT = (
    "FAILED_PRECONDITION: One or more users named in the policy do not belong to a permitted customer,  "
    "perhaps due to an organization policy."
)


@pytest.fixture(scope="module")
def world(demo, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seed000")
    alice = sign_in(demo, "alice@example.com", tmp, project="demo-project", region=REGION)
    admin = sign_in(demo, "admin@example.com", tmp)
    organization = admin.json("organizations", "list")[0]
    org_id = organization["name"].split("/")[1]
    # Org policies are set by an Organization Policy Administrator (not part of owner or organizationAdmin).
    admin.run(
        "organizations", "add-iam-policy-binding", org_id,
        "--member", "user:admin@example.com", "--role", "roles/orgpolicy.policyAdmin",
    )
    return {"alice": alice, "admin": admin, "org_id": org_id, "customer": organization["owner"]["directoryCustomerId"], "tmp": tmp}


def _deploy(cli, name, *extra):
    cli.run("run", "deploy", name, "--image", HELLO, *extra)
    return gateway_url(cli, name)


def test_allusers_invoker_makes_the_service_public(world):
    alice = world["alice"]
    url = _deploy(alice, "pub-allusers")
    assert curl(url)[0] == 403, "a new service is private"
    alice.run("run", "services", "add-iam-policy-binding", "pub-allusers", "--member", "allUsers", "--role", "roles/run.invoker")
    status, body = curl(url)
    assert status == 200 and "It's running!" in body


def test_no_invoker_iam_check_makes_the_service_public_and_invoker_iam_check_closes_it(world):
    alice = world["alice"]
    url = _deploy(alice, "pub-noiam")
    assert curl(url)[0] == 403
    # gcloud run services update <サービス名> --no-invoker-iam-check
    alice.run("run", "services", "update", "pub-noiam", "--no-invoker-iam-check")
    annotations = alice.json("run", "services", "describe", "pub-noiam")["metadata"]["annotations"]
    assert annotations.get("run.googleapis.com/invoker-iam-disabled") == "true"
    status, body = curl(url)
    assert status == 200 and "It's running!" in body
    # No allUsers binding was needed.
    policy = alice.json("run", "services", "get-iam-policy", "pub-noiam")
    assert "allUsers" not in str(policy)
    # gcloud run services update <サービス名> --invoker-iam-check
    alice.run("run", "services", "update", "pub-noiam", "--invoker-iam-check")
    assert curl(url)[0] == 403


def _service_yaml(name, disabled="true"):
    # The seed's YAML (unquoted `true`), completed with the container a replace needs.
    return (
        "apiVersion: serving.knative.dev/v1\n"
        "kind: Service\n"
        "metadata:\n"
        "   annotations:\n"
        f"      run.googleapis.com/invoker-iam-disabled: {disabled}\n"
        f"   name: {name}\n"
        "spec:\n"
        "  template:\n"
        "    spec:\n"
        "      containers:\n"
        f"      - image: {HELLO}\n"
    )


def test_yaml_annotation_invoker_iam_disabled_through_replace(world):
    alice = world["alice"]
    url = _deploy(alice, "pub-yaml")
    assert curl(url)[0] == 403
    yaml_file = world["tmp"] / "service.yaml"
    yaml_file.write_text(_service_yaml("pub-yaml"))
    alice.run("run", "services", "replace", str(yaml_file))
    status, body = curl(url)
    assert status == 200 and "It's running!" in body


def test_yaml_replace_creates_a_new_service(world):
    alice = world["alice"]
    yaml_file = world["tmp"] / "new-service.yaml"
    yaml_file.write_text(_service_yaml("pub-yaml-new"))
    alice.run("run", "services", "replace", str(yaml_file))
    assert curl(gateway_url(alice, "pub-yaml-new"))[0] == 200


def test_domain_restricted_sharing_refuses_allusers_but_not_the_disabled_check(world):
    alice, admin = world["alice"], world["admin"]
    alice.run("projects", "create", "drs-project")
    policy_file = world["tmp"] / "drs.yaml"
    policy_file.write_text(
        "name: projects/drs-project/policies/iam.allowedPolicyMemberDomains\n"
        "spec:\n"
        "  rules:\n"
        "  - values:\n"
        "      allowedValues:\n"
        f"      - is:{world['customer']}\n"
    )
    admin.run("org-policies", "set-policy", str(policy_file))
    alice.run("run", "deploy", "drs-svc", "--image", HELLO, "--project", "drs-project")
    refused = alice.run(
        "run", "services", "add-iam-policy-binding", "drs-svc", "--project", "drs-project",
        "--member", "allUsers", "--role", "roles/run.invoker", ok=False,
    )
    assert DRS_TEXT in refused.stderr
    # The invoker check can still be disabled: no principal is added to any policy.
    alice.run("run", "services", "update", "drs-svc", "--project", "drs-project", "--no-invoker-iam-check")
    assert curl(gateway_url(alice, "drs-svc", "--project", "drs-project"))[0] == 200


def test_require_invoker_iam_refuses_disabling_on_the_project_and_from_the_organization(world):
    alice, admin = world["alice"], world["admin"]
    alice.run("run", "deploy", "guarded", "--image", HELLO)
    # Enforced on the project.
    admin.run("resource-manager", "org-policies", "enable-enforce", "run.managed.requireInvokerIam", "--project", "demo-project")
    refused = alice.run("run", "services", "update", "guarded", "--no-invoker-iam-check", ok=False)
    assert "Update failed" in refused.stderr
    assert f"ERROR: (kumo.run.services.update) {REQUIRE_INVOKER_IAM_TEXT}" in refused.stderr
    # The YAML path is refused the same way.
    yaml_file = world["tmp"] / "guarded.yaml"
    yaml_file.write_text(_service_yaml("guarded"))
    assert REQUIRE_INVOKER_IAM_TEXT in alice.run("run", "services", "replace", str(yaml_file), ok=False).stderr
    # Not enforced on the project any more: allowed.
    admin.run("resource-manager", "org-policies", "disable-enforce", "run.managed.requireInvokerIam", "--project", "demo-project")
    alice.run("run", "services", "update", "guarded", "--no-invoker-iam-check")
    alice.run("run", "services", "update", "guarded", "--invoker-iam-check")
    # Enforced on the organization, inherited by a project that sets nothing.
    alice.run("projects", "create", "inherit-project")
    alice.run("run", "deploy", "inherited", "--image", HELLO, "--project", "inherit-project")
    admin.run("resource-manager", "org-policies", "enable-enforce", "run.managed.requireInvokerIam", "--organization", world["org_id"])
    refused = alice.run("run", "services", "update", "inherited", "--project", "inherit-project", "--no-invoker-iam-check", ok=False)
    assert f"ERROR: (kumo.run.services.update) {REQUIRE_INVOKER_IAM_TEXT}" in refused.stderr
    effective = admin.json(
        "resource-manager", "org-policies", "describe", "run.managed.requireInvokerIam", "--project", "inherit-project", "--effective"
    )
    assert effective["booleanPolicy"].get("enforced") is True
    assert project_number(alice, "inherit-project").isdigit()
