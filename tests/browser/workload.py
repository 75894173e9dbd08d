"""A Cloud Run workload for Kumo's IAP browser test: it trusts nothing but a valid
X-Goog-IAP-JWT-Assertion, verified with PyJWT against Kumo's IAP JWK set (the equivalent of
https://www.gstatic.com/iap/verify/public_key-jwk), and echoes the verified email."""

import html
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

JWKS = jwt.PyJWKClient(os.environ["IAP_JWKS_URL"])
AUDIENCE = os.environ["IAP_AUDIENCE"]
ISSUER = "https://cloud.google.com/iap"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        assertion = self.headers.get("X-Goog-IAP-JWT-Assertion")
        if not assertion:
            self.answer(401, "no IAP assertion")
            return
        try:
            key = JWKS.get_signing_key_from_jwt(assertion)
            claims = jwt.decode(
                assertion,
                key.key,
                algorithms=["ES256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=30,
                options={"require": ["exp", "iat", "email", "sub"]},
            )
        except jwt.PyJWTError as error:
            self.answer(401, f"invalid IAP assertion: {error}")
            return
        header_email = self.headers.get("X-Goog-Authenticated-User-Email", "")
        if header_email != f"accounts.google.com:{claims['email']}":
            self.answer(401, f"header {header_email!r} does not match the assertion")
            return
        body = (
            "<!DOCTYPE html><html lang=en><meta charset=utf-8><title>IAP echo</title>"
            f"<h1>Hello, {html.escape(claims['email'])}</h1>"
            f"<p id=verified>verified: {html.escape(claims['email'])}</p>"
            f"<pre id=claims>{html.escape(json.dumps(claims, sort_keys=True))}</pre>"
        )
        self.answer(200, body, "text/html; charset=utf-8")

    def answer(self, status, body, content_type="text/plain; charset=utf-8"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
