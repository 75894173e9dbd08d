"""Identity with Google's own libraries: google-auth's service-account, ID-token and
authorized_user credentials, id_token verification against Kumo's certificates, and the
IAM Credentials GAPIC client — unchanged but for token URI, certificate URL and endpoint.
"""

import base64
import json
import uuid

import google.auth.exceptions
import google.auth.transport.requests as gtr
import pytest
import requests
from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.cloud import iam_credentials_v1
from google.oauth2 import credentials as user_credentials
from google.oauth2 import id_token, service_account

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
AUDIENCE = "https://hello-abc123-uc.a.run.app"


def _admin(kumo) -> user_credentials.Credentials:
    # google-auth ignores the file's token_uri for authorized_user (real-clients.md §7.3).
    creds = kumo.admin_credentials().with_token_uri(f"{kumo.base_url}/token")
    creds.refresh(gtr.Request())
    return creds


def _call(kumo, creds, method, path, body=None):
    response = requests.request(
        method,
        f"{kumo.base_url}{path}",
        headers={"Authorization": f"Bearer {creds.token}"},
        json=body,
        timeout=30,
    )
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return response.json() if response.text else {}


class World:
    """A project with a service account and its key file, made through Kumo's APIs."""

    def __init__(self, kumo, tmp_path_factory):
        self.kumo = kumo
        self.admin = _admin(kumo)
        organization = _call(kumo, self.admin, "GET", "/v3/organizations:search")["organizations"][0]["name"]
        policy = _call(kumo, self.admin, "POST", f"/v3/{organization}:getIamPolicy", {})
        policy.setdefault("bindings", []).append(
            {"role": "roles/resourcemanager.projectCreator", "members": ["user:admin@example.com"]}
        )
        _call(kumo, self.admin, "POST", f"/v3/{organization}:setIamPolicy", {"policy": policy})
        self.project = f"idt-{uuid.uuid4().hex[:8]}"
        operation = _call(kumo, self.admin, "POST", "/v3/projects", {"projectId": self.project, "parent": organization})
        assert operation.get("done", True), operation
        account = _call(
            kumo,
            self.admin,
            "POST",
            f"/v1/projects/{self.project}/serviceAccounts",
            {"accountId": "runner", "serviceAccount": {"displayName": "runner"}},
        )
        self.email = account["email"]
        key = _call(kumo, self.admin, "POST", f"/v1/projects/{self.project}/serviceAccounts/{self.email}/keys", {})
        self.key_info = json.loads(base64.b64decode(key["privateKeyData"]))
        self.key_file = tmp_path_factory.mktemp("keys") / "sa-key.json"
        self.key_file.write_text(json.dumps(self.key_info))


@pytest.fixture(scope="module")
def world(kumo, tmp_path_factory):
    return World(kumo, tmp_path_factory)


def test_key_file_points_at_kumo(world):
    assert world.key_info["type"] == "service_account"
    assert world.key_info["token_uri"] == f"{world.kumo.base_url}/token"
    assert world.key_info["client_email"] == world.email


def test_key_file_gives_an_access_token_the_apis_accept(world):
    creds = service_account.Credentials.from_service_account_file(str(world.key_file), scopes=[CLOUD_PLATFORM])
    creds.refresh(gtr.Request())  # jwt-bearer grant, assertion aud = Google's token URI
    assert creds.token.startswith("ya29.")
    assert creds.expiry is not None
    response = requests.get(
        f"{world.kumo.base_url}/v3/projects/{world.project}",
        headers={"Authorization": f"Bearer {creds.token}"},
        timeout=10,
    )
    # Authenticated; the account has no role on the project.
    assert response.status_code == 403, response.text


def test_key_file_gives_an_id_token_that_verifies_with_both_certificate_forms(world):
    creds = service_account.IDTokenCredentials.from_service_account_file(
        str(world.key_file), target_audience=AUDIENCE
    )
    creds.refresh(gtr.Request())
    request = gtr.Request()
    for certs in ("/oauth2/v1/certs", "/oauth2/v3/certs"):
        claims = id_token.verify_token(creds.token, request, audience=AUDIENCE, certs_url=world.kumo.base_url + certs)
        assert claims["email"] == world.email
        assert claims["aud"] == AUDIENCE
        assert claims["iss"] == world.kumo.base_url


def test_tampered_and_misaddressed_id_tokens_are_rejected(world):
    creds = service_account.IDTokenCredentials.from_service_account_file(
        str(world.key_file), target_audience=AUDIENCE
    )
    creds.refresh(gtr.Request())
    header, payload, signature = creds.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["email"] = "admin@example.com"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = ".".join([header, forged_payload, signature])
    certs = world.kumo.base_url + "/oauth2/v1/certs"
    with pytest.raises((ValueError, google.auth.exceptions.GoogleAuthError)):
        id_token.verify_token(forged, gtr.Request(), audience=AUDIENCE, certs_url=certs)
    with pytest.raises((ValueError, google.auth.exceptions.GoogleAuthError)):
        id_token.verify_token(creds.token, gtr.Request(), audience="https://other.example", certs_url=certs)


def test_a_key_kumo_did_not_issue_gets_invalid_grant(world, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info = dict(world.key_info)
    info["private_key"] = stranger.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    creds = service_account.Credentials.from_service_account_info(info, scopes=[CLOUD_PLATFORM])
    with pytest.raises(google.auth.exceptions.RefreshError) as error:
        creds.refresh(gtr.Request())
    assert "invalid_grant: Invalid JWT Signature." in str(error.value)


def test_authorized_user_refresh_from_the_bootstrap_credentials(kumo):
    info = json.loads(kumo.admin_credentials_file.read_text())
    assert info["type"] == "authorized_user"
    assert info["token_uri"] == f"{kumo.base_url}/token"
    creds = _admin(kumo)
    assert creds.token.startswith("ya29.")
    assert creds.id_token, "the openid scope gives an ID token"
    info = requests.get(f"{kumo.base_url}/oauth2/v3/tokeninfo", params={"access_token": creds.token}, timeout=10).json()
    assert info["email"] == "admin@example.com"


def _iam_client(kumo, creds):
    return iam_credentials_v1.IAMCredentialsClient(
        transport="rest", credentials=creds, client_options=ClientOptions(api_endpoint=kumo.base_url)
    )


def _grant_token_creator(world):
    path = f"/v1/projects/{world.project}/serviceAccounts/{world.email}"
    policy = _call(world.kumo, world.admin, "POST", f"{path}:getIamPolicy", {})
    binding = {"role": "roles/iam.serviceAccountTokenCreator", "members": ["user:admin@example.com"]}
    if binding not in policy.get("bindings", []):
        policy.setdefault("bindings", []).append(binding)
        _call(world.kumo, world.admin, "POST", f"{path}:setIamPolicy", {"policy": policy})


def test_generate_id_token_needs_token_creator(world):
    kumo = world.kumo
    name = f"projects/-/serviceAccounts/{world.email}"
    client = _iam_client(kumo, _admin(kumo))
    with pytest.raises(api_exceptions.Forbidden) as denied:
        client.generate_id_token(name=name, audience=AUDIENCE, include_email=True)
    assert "iam.serviceAccounts.getOpenIdToken" in str(denied.value)
    _grant_token_creator(world)
    token = client.generate_id_token(name=name, audience=AUDIENCE, include_email=True).token
    claims = id_token.verify_token(token, gtr.Request(), audience=AUDIENCE, certs_url=kumo.base_url + "/oauth2/v1/certs")
    assert claims["email"] == world.email
    access = client.generate_access_token(name=name, scope=[CLOUD_PLATFORM], lifetime={"seconds": 600})
    assert access.access_token.startswith("ya29.")


def test_gapic_self_signed_jwt_is_authenticated(world):
    # A GAPIC client given a key file sends a self-signed JWT (aud https://iamcredentials.googleapis.com/).
    creds = service_account.Credentials.from_service_account_file(str(world.key_file))
    client = _iam_client(world.kumo, creds)
    with pytest.raises(api_exceptions.Forbidden):
        # Acting as itself still needs Token Creator on itself: refused, but authenticated.
        client.generate_access_token(name=f"projects/-/serviceAccounts/{world.email}", scope=[CLOUD_PLATFORM])


def test_impersonated_credentials_parse_kumos_expire_time(world, monkeypatch):
    from google.auth import iam, impersonated_credentials

    _grant_token_creator(world)
    base = world.kumo.base_url
    source = _admin(world.kumo)
    impersonated = impersonated_credentials.Credentials(
        source_credentials=source,
        target_principal=world.email,
        target_scopes=[CLOUD_PLATFORM],
        lifetime=600,
        iam_endpoint_override=f"{base}/v1/projects/-/serviceAccounts/{world.email}:generateAccessToken",
    )
    impersonated.refresh(gtr.Request())  # fails unless expireTime is whole seconds with Z
    assert impersonated.token.startswith("ya29.")
    assert impersonated.expiry is not None
    # google-auth has no override for the ID-token endpoint (real-clients.md §7.4).
    monkeypatch.setattr(iam, "_IAM_IDTOKEN_ENDPOINT", base + "/v1/projects/-/serviceAccounts/{}:generateIdToken")
    id_creds = impersonated_credentials.IDTokenCredentials(impersonated, target_audience=AUDIENCE, include_email=True)
    id_creds.refresh(gtr.Request())
    claims = id_token.verify_token(id_creds.token, gtr.Request(), audience=AUDIENCE, certs_url=base + "/oauth2/v1/certs")
    assert claims["email"] == world.email
    # signBlob through impersonation verifies with the account's published keys.
    monkeypatch.setattr(iam, "_IAM_SIGN_ENDPOINT", base + "/v1/projects/-/serviceAccounts/{}:signBlob")
    signature = impersonated.sign_bytes(b"hello")
    certs = requests.get(f"{base}/robot/v1/metadata/x509/{world.email}", timeout=10).json()
    from google.auth import crypt

    assert any(crypt.RSAVerifier.from_string(pem).verify(b"hello", signature) for pem in certs.values())
