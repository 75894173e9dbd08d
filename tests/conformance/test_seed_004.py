"""Seed 004 (Cloud Run docs, "ジョブのサービス ID を構成する"), command for command.

A job's service identity: `--service-account` needs iam.serviceAccounts.actAs (roles/iam.serviceAccountUser)
on the account; the YAML path (`describe --format export` > job.yaml, edit serviceAccountName, `replace`);
a service account of another project, refused while iam.disableCrossProjectServiceAccountUsage is
enforced (the default), allowed after `disable-enforce` on the account's project and
roles/iam.serviceAccountTokenCreator for the Cloud Run service agent.
"""

import pytest
import yaml

from conftest import project_number, sign_in

REGION = "us-central1"
JOB_IMAGE = "us-docker.pkg.dev/cloudrun/container/job"


@pytest.fixture(scope="module")
def world(demo, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seed004")
    alice = sign_in(demo, "alice@example.com", tmp, project="demo-project", region=REGION)
    admin = sign_in(demo, "admin@example.com", tmp)
    org_id = admin.json("organizations", "list")[0]["name"].split("/")[1]
    admin.run("organizations", "add-iam-policy-binding", org_id, "--member", "user:admin@example.com", "--role", "roles/orgpolicy.policyAdmin")
    # The deployer: Cloud Run Developer on the project, nothing on any service account.
    alice.run("projects", "add-iam-policy-binding", "demo-project", "--member", "user:carol@example.com", "--role", "roles/run.developer")
    carol = sign_in(demo, "carol@example.com", tmp, project="demo-project", region=REGION)
    alice.run("iam", "service-accounts", "create", "job-identity")
    alice.run("iam", "service-accounts", "create", "job-identity-2")
    return {"alice": alice, "admin": admin, "carol": carol, "tmp": tmp}


def _succeeded(cli, job):
    # gcloud prints v1 Executions: status.succeededCount, a Completed condition with status "True".
    executions = cli.json("run", "jobs", "executions", "list", "--job", job)
    assert executions, f"no execution of {job}"
    latest = executions[0]
    assert latest["apiVersion"] == "run.googleapis.com/v1" and latest["kind"] == "Execution", latest
    assert latest["metadata"]["labels"]["run.googleapis.com/job"] == job, latest
    assert latest["status"].get("succeededCount") == 1, latest
    completed = [c for c in latest["status"]["conditions"] if c["type"] == "Completed"]
    assert completed and completed[0]["status"] == "True", latest
    # The scripted form of the same check.
    assert cli.out("run", "jobs", "executions", "list", "--job", job, "--limit=1",
                   "--format=value(status.succeededCount)").strip() == "1"
    return latest


def test_service_account_needs_act_as(world):
    alice, carol = world["alice"], world["carol"]
    sa = "job-identity@demo-project.iam.gserviceaccount.com"
    # gcloud run jobs create JOB_NAME --service-account SERVICE_ACCOUNT
    refused = carol.run("run", "jobs", "create", "job-a", "--image", JOB_IMAGE, "--service-account", sa, ok=False)
    assert f"PERMISSION_DENIED: Permission 'iam.serviceaccounts.actAs' denied on service account {sa} (or it may not exist)." in refused.stderr
    alice.run("iam", "service-accounts", "add-iam-policy-binding", sa, "--member=user:carol@example.com", "--role=roles/iam.serviceAccountUser")
    carol.run("run", "jobs", "create", "job-a", "--image", JOB_IMAGE, "--service-account", sa)
    assert carol.json("run", "jobs", "describe", "job-a")["spec"]["template"]["spec"]["template"]["spec"]["serviceAccountName"] == sa
    carol.run("run", "jobs", "execute", "job-a", "--wait")
    _succeeded(carol, "job-a")


def test_update_and_yaml_replace_with_service_account_name(world):
    alice, carol = world["alice"], world["carol"]
    sa2 = "job-identity-2@demo-project.iam.gserviceaccount.com"
    # gcloud run jobs update JOB_NAME --image IMAGE_URL --service-account SERVICE_ACCOUNT: no actAs on sa2 yet.
    refused = carol.run("run", "jobs", "update", "job-a", "--image", JOB_IMAGE + ":latest", "--service-account", sa2, ok=False)
    assert "iam.serviceaccounts.actAs" in refused.stderr
    alice.run("iam", "service-accounts", "add-iam-policy-binding", sa2, "--member=user:carol@example.com", "--role=roles/iam.serviceAccountUser")
    carol.run("run", "jobs", "update", "job-a", "--image", JOB_IMAGE + ":latest", "--service-account", sa2)
    # gcloud run jobs describe JOB_NAME --format export > job.yaml ; edit serviceAccountName ; gcloud run jobs replace job.yaml
    exported = carol.out("run", "jobs", "describe", "job-a", "--format", "export")
    job = yaml.safe_load(exported)
    assert job["apiVersion"] == "run.googleapis.com/v1" and job["kind"] == "Job"
    assert "status" not in job and "uid" not in job["metadata"], "export drops output-only fields"
    pod_spec = job["spec"]["template"]["spec"]["template"]["spec"]
    assert pod_spec["serviceAccountName"] == sa2
    pod_spec["serviceAccountName"] = "job-identity@demo-project.iam.gserviceaccount.com"
    job_file = world["tmp"] / "job.yaml"
    job_file.write_text(yaml.safe_dump(job))
    carol.run("run", "jobs", "replace", str(job_file))
    described = carol.json("run", "jobs", "describe", "job-a")
    assert described["spec"]["template"]["spec"]["template"]["spec"]["serviceAccountName"] == pod_spec["serviceAccountName"]
    # Replace is gated by actAs too: an account carol cannot act as is refused.
    alice.run("iam", "service-accounts", "create", "job-identity-3")
    pod_spec["serviceAccountName"] = "job-identity-3@demo-project.iam.gserviceaccount.com"
    job_file.write_text(yaml.safe_dump(job))
    assert "iam.serviceaccounts.actAs" in carol.run("run", "jobs", "replace", str(job_file), ok=False).stderr


def test_service_account_of_another_project(world):
    alice, admin, carol = world["alice"], world["admin"], world["carol"]
    alice.run("projects", "create", "sa-project")
    alice.run("iam", "service-accounts", "create", "cross-identity", "--project", "sa-project")
    sa = "cross-identity@sa-project.iam.gserviceaccount.com"
    # gcloud iam service-accounts add-iam-policy-binding SA --member=PRINCIPAL --role=roles/iam.serviceAccountUser
    alice.run("iam", "service-accounts", "add-iam-policy-binding", sa, "--project", "sa-project",
              "--member=user:carol@example.com", "--role=roles/iam.serviceAccountUser")
    # Enforced by default: refused.
    refused = carol.run("run", "jobs", "create", "job-x", "--image", JOB_IMAGE, "--service-account", sa, ok=False)
    assert "FAILED_PRECONDITION" in refused.stderr
    assert "constraints/iam.disableCrossProjectServiceAccountUsage" in refused.stderr
    effective = admin.json("resource-manager", "org-policies", "describe", "iam.disableCrossProjectServiceAccountUsage",
                           "--project", "sa-project", "--effective")
    assert effective["booleanPolicy"]["enforced"] is True
    # gcloud resource-manager org-policies disable-enforce iam.disableCrossProjectServiceAccountUsage --project=SERVICE_ACCOUNT_PROJECT_ID
    admin.run("resource-manager", "org-policies", "disable-enforce", "iam.disableCrossProjectServiceAccountUsage", "--project=sa-project")
    # Still missing: the Cloud Run service agent may not mint tokens for the account.
    refused = carol.run("run", "jobs", "create", "job-x", "--image", JOB_IMAGE, "--service-account", sa, ok=False)
    number = project_number(alice, "demo-project")
    agent = f"service-{number}@serverless-robot-prod.iam.gserviceaccount.com"
    assert f"PERMISSION_DENIED: Google Cloud Run Service Agent does not have permission to get access tokens for the service account {sa}." in refused.stderr
    assert agent in refused.stderr
    # gcloud iam service-accounts add-iam-policy-binding SA --member="serviceAccount:service-NUMBER@serverless-robot-prod..." --role=roles/iam.serviceAccountTokenCreator
    alice.run("iam", "service-accounts", "add-iam-policy-binding", sa, "--project", "sa-project",
              f"--member=serviceAccount:{agent}", "--role=roles/iam.serviceAccountTokenCreator")
    carol.run("run", "jobs", "create", "job-x", "--image", JOB_IMAGE, "--service-account", sa)
    carol.run("run", "jobs", "execute", "job-x", "--wait")
    _succeeded(carol, "job-x")
