"""IAM with Google's clients against Kumo: the IAM admin API through googleapiclient discovery
(service accounts, keys), a key file used by google-auth (self-signed JWT to a GAPIC client, ID token
credentials invoking a private service), and google-cloud-iam's IAMCredentialsClient minting tokens
with and without roles/iam.serviceAccountTokenCreator."""

import base64
import json

import google.auth.transport.requests as gtr
import pytest
import requests
from google.api_core import exceptions
from google.cloud import iam_credentials_v1, run_v2
from google.oauth2 import id_token, service_account
from googleapiclient import discovery
from googleapiclient.errors import HttpError

from conftest import cli_credentials, client_options, gateway_url, http_get, sign_in

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
SA = "gapic-runner@demo-project.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def world(demo, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clients-iam")
    alice = sign_in(demo, "alice@example.com", tmp, project="demo-project", region="us-central1")
    carol = sign_in(demo, "carol@example.com", tmp, project="demo-project", region="us-central1")
    iam = discovery.build(
        "iam", "v1", credentials=demo.admin_credentials(), client_options={"api_endpoint": demo.base_url}, static_discovery=True
    )
    created = iam.projects().serviceAccounts().create(
        name="projects/demo-project", body={"accountId": "gapic-runner", "serviceAccount": {"displayName": "GAPIC runner"}}
    ).execute()
    key = iam.projects().serviceAccounts().keys().create(name=f"projects/demo-project/serviceAccounts/{SA}", body={}).execute()
    key_info = json.loads(base64.b64decode(key["privateKeyData"]))
    return {"demo": demo, "alice": alice, "carol": carol, "iam": iam, "created": created, "key": key, "key_info": key_info}


def test_service_account_and_key_through_discovery(world):
    assert world["created"]["email"] == SA
    assert world["created"]["displayName"] == "GAPIC runner"
    info = world["key_info"]
    assert info["type"] == "service_account" and info["client_email"] == SA
    assert info["private_key_id"] == world["key"]["name"].rsplit("/", 1)[1]
    assert info["token_uri"] == f"{world['demo'].base_url}/token"
    keys = world["iam"].projects().serviceAccounts().keys().list(name=f"projects/demo-project/serviceAccounts/{SA}").execute()
    assert world["key"]["name"] in [k["name"] for k in keys["keys"]]
    with pytest.raises(HttpError) as missing:
        world["iam"].projects().serviceAccounts().get(name="projects/demo-project/serviceAccounts/nobody@demo-project.iam.gserviceaccount.com").execute()
    assert missing.value.status_code == 404


def test_key_file_credentials_call_a_gapic_client_with_a_self_signed_jwt(world):
    world["alice"].run("projects", "add-iam-policy-binding", "demo-project", "--member", f"serviceAccount:{SA}", "--role", "roles/run.viewer")
    creds = service_account.Credentials.from_service_account_info(world["key_info"])
    services = run_v2.ServicesClient(transport="rest", client_options=client_options(world["demo"]), credentials=creds)
    names = [s.name for s in services.list_services(parent="projects/demo-project/locations/us-central1")]
    assert "projects/demo-project/locations/us-central1/services/hello" in names
    with pytest.raises(exceptions.Forbidden):
        services.delete_service(name="projects/demo-project/locations/us-central1/services/hello")


def test_id_token_credentials_invoke_a_private_service(world):
    alice = world["alice"]
    url = gateway_url(alice, "hello")
    creds = service_account.IDTokenCredentials.from_service_account_info(world["key_info"], target_audience=url)
    creds.refresh(gtr.Request())
    assert http_get(url, creds.token).status_code == 403
    alice.run("run", "services", "add-iam-policy-binding", "hello", "--member", f"serviceAccount:{SA}", "--role", "roles/run.invoker")
    response = http_get(url, creds.token)
    assert response.status_code == 200 and "It's running!" in response.text
    # google-auth verifies Kumo's ID token against Kumo's certificates; a tampered one is rejected.
    certs = f"{world['demo'].base_url}/oauth2/v1/certs"
    claims = id_token.verify_token(creds.token, gtr.Request(), audience=url, certs_url=certs)
    assert claims["email"] == SA and claims["iss"] == world["demo"].base_url
    header, payload, signature = creds.token.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged["email"] = "admin@example.com"
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    tampered = f"{header}.{forged_payload}.{signature}"
    with pytest.raises(ValueError):
        id_token.verify_token(tampered, gtr.Request(), audience=url, certs_url=certs)
    assert http_get(url, tampered).status_code == 401


def _credentials_client(world, cli):
    return iam_credentials_v1.IAMCredentialsClient(transport="rest", client_options=client_options(world["demo"]), credentials=cli_credentials(cli))


def test_iam_credentials_need_token_creator(world):
    carol = _credentials_client(world, world["carol"])
    name = f"projects/-/serviceAccounts/{SA}"
    with pytest.raises(exceptions.Forbidden) as denied:
        carol.generate_access_token(name=name, scope=[CLOUD_PLATFORM])
    assert "iam.serviceAccounts.getAccessToken" in denied.value.message
    with pytest.raises(exceptions.Forbidden) as denied:
        carol.generate_id_token(name=name, audience="https://example.com", include_email=True)
    assert "iam.serviceAccounts.getOpenIdToken" in denied.value.message

    world["alice"].run(
        "iam", "service-accounts", "add-iam-policy-binding", SA,
        "--member", "user:carol@example.com", "--role", "roles/iam.serviceAccountTokenCreator",
    )
    access = carol.generate_access_token(name=name, scope=[CLOUD_PLATFORM], lifetime={"seconds": 600})
    assert access.access_token.startswith("ya29.")
    assert access.expire_time
    info = requests.get(f"{world['demo'].base_url}/oauth2/v3/tokeninfo", params={"access_token": access.access_token}, timeout=10).json()
    assert info["email"] == SA
    token = carol.generate_id_token(name=name, audience="https://example.com", include_email=True).token
    claims = id_token.verify_token(token, gtr.Request(), audience="https://example.com", certs_url=f"{world['demo'].base_url}/oauth2/v3/certs")
    assert claims["email"] == SA
    with pytest.raises(exceptions.NotFound):
        carol.generate_access_token(name="projects/-/serviceAccounts/ghost@demo-project.iam.gserviceaccount.com", scope=[CLOUD_PLATFORM])
