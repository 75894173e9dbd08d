// Helpers shared by the browser tests: free ports, polling, and a user's ID token obtained the
// way `kumo auth print-identity-token` gets it (dev-mode login_hint, authorization code + PKCE).

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

export async function waitFor(what, check, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((ok) => setTimeout(ok, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/** A user's ID token as `kumo auth print-identity-token` gets it (dev-mode login_hint, PKCE). */
export async function userIdToken(base, email) {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const redirect = 'http://127.0.0.1:9/callback';
  const params = new URLSearchParams({
    client_id: 'kumo-cli',
    redirect_uri: redirect,
    response_type: 'code',
    scope: 'openid email',
    state: 's',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    login_hint: email,
  });
  const signIn = await fetch(`${base}/o/oauth2/v2/auth?${params}`, { redirect: 'manual' });
  assert.equal(signIn.status, 302);
  const code = new URL(signIn.headers.get('location')).searchParams.get('code');
  const exchange = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: verifier, client_id: 'kumo-cli' }),
  });
  assert.equal(exchange.status, 200);
  return (await exchange.json()).id_token;
}

