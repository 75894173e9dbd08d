"""Seed 002 (nownabe gist "開発者が Cloud Run へ認証する方法"), command for command.

A developer invokes a private (--no-allow-unauthenticated) service: as a user with
`kumo auth print-identity-token`, and as a service account through
`--impersonate-service-account SA --audiences URL`, which needs roles/iam.serviceAccountTokenCreator.
"""

import pytest

from conftest import curl, gateway_url, sign_in

REGION = "us-central1"
RUN_SERVICE = "hello"


@pytest.fixture(scope="module")
def world(demo, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seed002")
    alice = sign_in(demo, "alice@example.com", tmp, project="demo-project", region=REGION)
    carol = sign_in(demo, "carol@example.com", tmp, project="demo-project", region=REGION)
    alice.run("iam", "service-accounts", "create", "invoker")
    return {
        "alice": alice,
        "carol": carol,
        "SERVICE_URL": gateway_url(alice, RUN_SERVICE),
        "SERVICE_ACCOUNT": "invoker@demo-project.iam.gserviceaccount.com",
    }


def test_user_invokes_with_print_identity_token(world):
    alice, carol, url = world["alice"], world["carol"], world["SERVICE_URL"]
    token = carol.out("auth", "print-identity-token")
    assert curl(url, token)[0] == 403, "carol has no run.invoker yet"
    assert curl(url)[0] == 403, "no token at all"
    # gcloud run services add-iam-policy-binding $RUN_SERVICE --member user:$(gcloud config get-value account) --role roles/run.invoker
    account = carol.out("config", "get-value", "account")
    assert account == "carol@example.com"
    alice.run("run", "services", "add-iam-policy-binding", RUN_SERVICE, "--member", f"user:{account}", "--role", "roles/run.invoker")
    # curl $SERVICE_URL -H "Authorization: Bearer $(gcloud auth print-identity-token)"
    status, body = curl(url, carol.out("auth", "print-identity-token"))
    assert status == 200 and "It's running!" in body
    # An access token is not an ID token: 401.
    assert curl(url, carol.out("auth", "print-access-token"))[0] == 401


def _impersonated_token(cli, world, *extra, ok=True):
    return cli.run(
        "auth", "print-identity-token",
        "--impersonate-service-account", world["SERVICE_ACCOUNT"], "--audiences", world["SERVICE_URL"], *extra, ok=ok,
    )


def test_impersonation_is_refused_without_token_creator(world):
    refused = _impersonated_token(world["carol"], world, ok=False)
    # IAM Credentials' own wording for generateIdToken.
    assert "PERMISSION_DENIED: Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist)." in refused.stderr


def _grant_invoker_and_token_creator(world):
    alice, sa = world["alice"], world["SERVICE_ACCOUNT"]
    alice.run("run", "services", "add-iam-policy-binding", RUN_SERVICE, "--member", f"serviceAccount:{sa}", "--role", "roles/run.invoker")
    alice.run(
        "iam", "service-accounts", "add-iam-policy-binding", sa,
        "--member", "user:carol@example.com", "--role", "roles/iam.serviceAccountTokenCreator",
    )


def test_impersonated_token_with_include_email_invokes(world):
    _grant_invoker_and_token_creator(world)
    token = _impersonated_token(world["carol"], world, "--include-email").stdout.strip()
    status, body = curl(world["SERVICE_URL"], token)
    assert status == 200 and "It's running!" in body


def test_seed_impersonation_command_verbatim_invokes(world):
    _grant_invoker_and_token_creator(world)
    # curl $SERVICE_URL -H "Authorization: Bearer $(gcloud auth print-identity-token --impersonate-service-account $SERVICE_ACCOUNT --audiences $SERVICE_URL)"
    token = _impersonated_token(world["carol"], world).stdout.strip()
    status, body = curl(world["SERVICE_URL"], token)
    assert status == 200 and "It's running!" in body


def test_token_for_another_audience_is_refused(world):
    _grant_invoker_and_token_creator(world)
    token = world["carol"].run(
        "auth", "print-identity-token", "--impersonate-service-account", world["SERVICE_ACCOUNT"],
        "--audiences", "https://some-other-service.a.run.app", "--include-email",
    ).stdout.strip()
    assert curl(world["SERVICE_URL"], token)[0] == 401
