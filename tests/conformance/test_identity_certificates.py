"""Kumo's issuer as Google publishes its own: `oauth2/v1/certs` holds self-signed X.509
certificates keyed by kid (parsed here with `cryptography`, as google-auth does), and
`kumo up --issuer google` mints tokens that google-auth's `verify_oauth2_token` accepts — it
insists on Google's issuer string — once its certificate URL points at Kumo.
"""

import base64

import google.auth.transport.requests as gtr
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from google.oauth2 import id_token

from conftest import start_kumo, stop_kumo


def _b64_int(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def _refreshed_admin(server):
    creds = server.admin_credentials()
    creds.refresh(gtr.Request())
    return creds


def test_v1_certs_are_self_signed_certificates_of_the_jwks_keys(kumo):
    v1 = requests.get(f"{kumo.base_url}/oauth2/v1/certs", timeout=10).json()
    jwks = requests.get(f"{kumo.base_url}/oauth2/v3/certs", timeout=10).json()
    assert set(v1) == {key["kid"] for key in jwks["keys"]}
    for jwk in jwks["keys"]:
        cert = x509.load_pem_x509_certificate(v1[jwk["kid"]].encode())
        numbers = cert.public_key().public_numbers()
        assert (numbers.n, numbers.e) == (_b64_int(jwk["n"]), _b64_int(jwk["e"]))
        assert cert.issuer == cert.subject
        assert cert.version == x509.Version.v3
        assert cert.not_valid_before_utc < cert.not_valid_after_utc
        # Self-signed: the certificate's own key verifies its signature.
        cert.public_key().verify(
            cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256()
        )
    # Stable: the same keys publish the same bytes.
    assert requests.get(f"{kumo.base_url}/oauth2/v1/certs", timeout=10).json() == v1


def test_an_id_token_verifies_against_the_certificates(kumo):
    creds = _refreshed_admin(kumo)
    assert creds.id_token, "an openid refresh returns an ID token"
    claims = id_token.verify_token(
        creds.id_token, gtr.Request(), audience=creds.client_id, certs_url=f"{kumo.base_url}/oauth2/v1/certs"
    )
    assert claims["email"] == "admin@example.com"
    assert claims["iss"] == kumo.base_url


@pytest.fixture(scope="module")
def google_issuer_kumo():
    server = start_kumo(["--issuer", "google"])
    yield server
    stop_kumo(server)


def test_issuer_google_satisfies_verify_oauth2_token(google_issuer_kumo, monkeypatch):
    server = google_issuer_kumo
    discovery = requests.get(f"{server.base_url}/.well-known/openid-configuration", timeout=10).json()
    assert discovery["issuer"] == "https://accounts.google.com"
    assert discovery["token_endpoint"] == f"{server.base_url}/token"
    creds = _refreshed_admin(server)
    monkeypatch.setattr(id_token, "_GOOGLE_OAUTH2_CERTS_URL", f"{server.base_url}/oauth2/v1/certs")
    claims = id_token.verify_oauth2_token(creds.id_token, gtr.Request(), audience=creds.client_id)
    assert claims["iss"] == "https://accounts.google.com"
    assert claims["email"] == "admin@example.com"
    # The access token from the same refresh still opens Kumo's APIs.
    reply = requests.get(
        f"{server.base_url}/v3/organizations:search",
        headers={"Authorization": f"Bearer {creds.token}"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text


def test_a_kumo_issued_token_fails_verify_oauth2_token(kumo, monkeypatch):
    creds = _refreshed_admin(kumo)
    monkeypatch.setattr(id_token, "_GOOGLE_OAUTH2_CERTS_URL", f"{kumo.base_url}/oauth2/v1/certs")
    with pytest.raises(Exception, match="Wrong issuer"):
        id_token.verify_oauth2_token(creds.id_token, gtr.Request(), audience=creds.client_id)
