"""Seed 003 (iret, "Cloud RunがIAPでよりお手軽に認証できるようになりました！"), command for command.

IAP directly on a Cloud Run service: create the IAP service agent, grant it roles/run.invoker, deploy
with `--iap`, grant roles/iap.httpsResourceAccessor with `kumo iap web add-iam-policy-binding
--resource-type=cloud-run`, then remove it, and switch IAP off with `--no-iap`. The browser sign-in
is replaced by the programmatic path: an ID token in `Authorization: Bearer`.
"""

import pytest

from conftest import curl, gateway_url, project_number, sign_in

REGION = "asia-northeast1"
SERVICE = "my-iap-service"


@pytest.fixture(scope="module")
def world(demo, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seed003")
    alice = sign_in(demo, "alice@example.com", tmp, project="demo-project")
    carol = sign_in(demo, "carol@example.com", tmp, project="demo-project")
    return {"alice": alice, "carol": carol}


def _iap_binding(cli, verb, member):
    return cli.run(
        "alpha", "iap", "web", f"{verb}-iam-policy-binding", f"--member={member}",
        "--role=roles/iap.httpsResourceAccessor", "--region", REGION, "--resource-type=cloud-run", f"--service={SERVICE}",
    )


def test_iap_on_a_cloud_run_service(world):
    alice, carol = world["alice"], world["carol"]
    project_id = "demo-project"
    # gcloud beta services identity create --service=iap.googleapis.com --project=$PROJECT_ID
    created = alice.run("beta", "services", "identity", "create", "--service=iap.googleapis.com", f"--project={project_id}")
    number = project_number(alice, project_id)
    agent = f"service-{number}@gcp-sa-iap.iam.gserviceaccount.com"
    assert agent in created.stdout + created.stderr
    alice.run("projects", "add-iam-policy-binding", project_id, f"--member=serviceAccount:{agent}", "--role=roles/run.invoker")
    # gcloud alpha run deploy my-iap-service --image=... --region asia-northeast1 --iap
    alice.run("alpha", "run", "deploy", SERVICE, "--image=us-docker.pkg.dev/cloudrun/container/hello", "--region", REGION, "--iap")
    url = gateway_url(alice, SERVICE, "--region", REGION)
    carol_token = carol.out("auth", "print-identity-token")
    # "URLにアクセスすると、権限エラーが発生するはずです。"
    assert curl(url)[0] == 401, "no credentials at all"
    status, body = curl(url, carol_token)
    assert status == 403 and "roles/iap.httpsResourceAccessor" in body
    # gcloud alpha iap web add-iam-policy-binding --member=user:<your_email> ...
    _iap_binding(alice, "add", "user:carol@example.com")
    status, body = curl(url, carol_token)
    assert status == 200 and "It's running!" in body, body
    # carol holds no run.invoker: IAP's agent invokes the service for her.
    assert "carol" not in str(alice.json("run", "services", "get-iam-policy", SERVICE, "--region", REGION))
    # gcloud alpha iap web remove-iam-policy-binding ...
    _iap_binding(alice, "remove", "user:carol@example.com")
    assert curl(url, carol_token)[0] == 403
    # gcloud alpha run services update <your_service> --no-iap : back to Cloud Run's own IAM check.
    alice.run("alpha", "run", "services", "update", SERVICE, "--no-iap", "--region", REGION)
    assert curl(url, carol_token)[0] == 403
    status, _ = curl(url, alice.out("auth", "print-identity-token"))
    assert status == 200, "the owner holds run.routes.invoke"
    # --iap again on the existing service.
    alice.run("alpha", "run", "services", "update", SERVICE, "--iap", "--region", REGION)
    assert curl(url, carol_token)[0] == 403
    _iap_binding(alice, "add", "user:carol@example.com")
    assert curl(url, carol_token)[0] == 200


def test_iap_without_the_agents_invoker_grant_fails(world, demo, tmp_path_factory):
    """Without roles/run.invoker for the IAP service agent the request passes IAP and is refused by Cloud Run."""
    alice = world["alice"]
    alice.run("projects", "create", "no-agent-project")
    alice.run("beta", "services", "identity", "create", "--service=iap.googleapis.com", "--project=no-agent-project")
    alice.run("alpha", "run", "deploy", "iap-no-agent", "--image=us-docker.pkg.dev/cloudrun/container/hello", "--region", REGION, "--iap", "--project", "no-agent-project")
    alice.run(
        "alpha", "iap", "web", "add-iam-policy-binding", "--member=user:carol@example.com",
        "--role=roles/iap.httpsResourceAccessor", "--region", REGION, "--resource-type=cloud-run",
        "--service=iap-no-agent", "--project", "no-agent-project",
    )
    url = gateway_url(alice, "iap-no-agent", "--region", REGION, "--project", "no-agent-project")
    assert curl(url, world["carol"].out("auth", "print-identity-token"))[0] == 403
