// Google's official Node auth library (google-auth-library) against Kumo, unchanged but for its
// endpoints: a service-account key file created by Kumo yields self-signed JWTs (as GAPIC clients
// send them) that Kumo's APIs accept and authorize through IAM; an ID token minted by Kumo verifies
// with OAuth2Client against Kumo's published certificates and opens a private Cloud Run service only
// for an invoker; and the token-endpoint flows (access token, refresh, IdTokenClient).
//
// The library's JWT-bearer grant assertion carries the header {"alg":"RS256"} with no `kid`
// (google-auth-library's gtoken/jwsSign.js); Google accepts it, and so does Kumo's /token, which then
// tries each of the account's usable keys.
//
// What had to be pointed at Kumo, and how (no library code is patched):
// - The library's service-account client posts its JWT-bearer grant to a fixed
//   `https://oauth2.googleapis.com/token` (it ignores the key file's `token_uri`), so the test hands
//   GoogleAuth a gaxios transporter whose request interceptor sends that URL to Kumo's `/token`.
// - `OAuth2Client` takes the certificate URL through its `endpoints` option and the issuer through
//   `issuers` (Kumo's default issuer is its own URL).
// - Services are reached on Kumo's port under `*.run.localhost`, which Chromium resolves to loopback
//   itself but Node's resolver does not: an http.Agent whose lookup maps `*.localhost` to 127.0.0.1.
//
// Environment: KUMO_BIN (default target/debug/kumo), ARTIFACTS (default test-artifacts/browser).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { lookup as dnsLookup } from 'node:dns';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GoogleAuth, OAuth2Client, gaxios } from 'google-auth-library';
import { startKumo } from './support.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const kumoBin = process.env.KUMO_BIN ?? join(root, 'target', 'debug', 'kumo');
const artifacts = resolve(root, process.env.ARTIFACTS ?? 'test-artifacts/browser');
const projectId = 'demo-project';
const region = 'us-central1';
const accountId = 'node-client';
const email = `${accountId}@${projectId}.iam.gserviceaccount.com`;
const cloudPlatform = 'https://www.googleapis.com/auth/cloud-platform';
const googleTokenUrl = 'https://oauth2.googleapis.com/token';

let kumo;
let keyDir;
let keyFile;
let helloUrl;

/** Resolves `*.localhost` to loopback (RFC 6761), as Chromium does; everything else as usual. */
const loopbackAgent = new Agent({
  lookup(hostname, options, callback) {
    if (hostname === 'localhost' || hostname.endsWith('.localhost')) {
      if (options?.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
      else callback(null, '127.0.0.1', 4);
      return;
    }
    dnsLookup(hostname, options, callback);
  },
});

/** A gaxios transporter that sends Google's fixed token URL to Kumo's token endpoint. */
function kumoTransporter() {
  const transporter = new gaxios.Gaxios({ agent: loopbackAgent });
  transporter.interceptors.request.add({
    resolved: async (config) => {
      if (String(config.url) === googleTokenUrl) config.url = new URL(`${kumo.base}/token`);
      return config;
    },
  });
  return transporter;
}

function googleAuth() {
  return new GoogleAuth({ keyFile, scopes: cloudPlatform, clientOptions: { transporter: kumoTransporter() } });
}

/** GET through an auth client; answers { status, data } whatever the status. */
async function get(client, url) {
  const response = await client.request({ url, agent: loopbackAgent, validateStatus: () => true, retry: false });
  return { status: response.status, data: response.data };
}

async function setServiceBinding(role, member, present) {
  const path = `/v2/projects/${projectId}/locations/${region}/services/hello`;
  const policy = await kumo.api('GET', `${path}:getIamPolicy`);
  const bindings = (policy.bindings ?? []).filter((b) => b.role !== role);
  const members = new Set((policy.bindings ?? []).find((b) => b.role === role)?.members ?? []);
  if (present) members.add(member);
  else members.delete(member);
  if (members.size > 0) bindings.push({ role, members: [...members] });
  await kumo.api('POST', `${path}:setIamPolicy`, { policy: { bindings, etag: policy.etag } });
}

async function grantProjectRole(role, member) {
  const policy = await kumo.api('POST', `/v1/projects/${projectId}:getIamPolicy`, {});
  const bindings = policy.bindings ?? [];
  const binding = bindings.find((b) => b.role === role);
  if (binding) binding.members.push(member);
  else bindings.push({ role, members: [member] });
  await kumo.api('POST', `/v1/projects/${projectId}:setIamPolicy`, { policy: { ...policy, bindings } });
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  kumo = await startKumo({ kumoBin, logPath: join(artifacts, 'node-clients-kumo.log') });
  await kumo.api('POST', `/v1/projects/${projectId}/serviceAccounts`, { accountId, serviceAccount: { displayName: 'google-auth-library conformance' } });
  const key = await kumo.api('POST', `/v1/projects/${projectId}/serviceAccounts/${email}/keys`, {});
  const keyJson = JSON.parse(Buffer.from(key.privateKeyData, 'base64').toString('utf8'));
  assert.equal(keyJson.type, 'service_account');
  assert.equal(keyJson.client_email, email);
  assert.equal(keyJson.token_uri, `${kumo.base}/token`);
  keyDir = mkdtempSync(join(tmpdir(), 'kumo-node-clients-'));
  keyFile = join(keyDir, 'key.json');
  writeFileSync(keyFile, JSON.stringify(keyJson));
  const { projectNumber } = await kumo.api('GET', `/v1/projects/${projectId}`);
  const service = await kumo.api('GET', `/v2/projects/${projectId}/locations/${region}/services/hello`);
  const port = new URL(kumo.base).port;
  // The deterministic URL on Kumo's own port (a fixed 127.0.0.1 service port could collide).
  helloUrl = service.urls.find((url) => url === `http://hello-${projectNumber}.${region}.run.localhost:${port}`);
  assert.ok(helloUrl, `hello's deterministic URL among ${JSON.stringify(service.urls)}`);
});

after(async () => {
  await kumo?.stop();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  loopbackAgent.destroy();
});

const listAccounts = () => `${kumo.base}/v1/projects/${projectId}/serviceAccounts`;
const saMember = () => `serviceAccount:${email}`;

/** GoogleAuth configured as google-gax configures it for a GAPIC client of `servicePath`. */
function gapicAuth({ scopes, servicePath }) {
  const auth = new GoogleAuth({ keyFile, scopes, clientOptions: { transporter: kumoTransporter() } });
  auth.useJWTAccessWithScope = true;
  auth.defaultServicePath = servicePath;
  return auth;
}

function jwtClaims(bearer) {
  assert.match(bearer, /^Bearer /);
  const [header, payload] = bearer.slice(7).split('.');
  const decode = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  return { header: decode(header), claims: decode(payload) };
}

/** Records the URLs a client's transporter is asked for. */
function recordRequests(client) {
  const urls = [];
  client.transporter.interceptors.request.add({
    resolved: async (config) => {
      urls.push(String(config.url));
      return config;
    },
  });
  return urls;
}

test('a self-signed JWT with a scope claim is accepted, and IAM decides in Google\'s shape', { timeout: 120_000 }, async () => {
  const client = await gapicAuth({ scopes: cloudPlatform }).getClient();
  const requested = recordRequests(client);
  const { header, claims } = jwtClaims((await client.getRequestHeaders(listAccounts())).get('authorization'));
  assert.equal(header.alg, 'RS256');
  assert.ok(header.kid, 'the self-signed JWT names its key');
  assert.equal(claims.iss, email);
  assert.equal(claims.sub, email);
  assert.equal(claims.scope, cloudPlatform);

  // No roles yet: the token is accepted (not 401) and IAM denies with google.rpc.Status.
  const denied = await get(client, listAccounts());
  assert.equal(denied.status, 403, JSON.stringify(denied.data));
  assert.equal(denied.data.error.code, 403);
  assert.equal(denied.data.error.status, 'PERMISSION_DENIED');

  await grantProjectRole('roles/iam.serviceAccountViewer', saMember());
  const allowed = await get(client, listAccounts());
  assert.equal(allowed.status, 200, JSON.stringify(allowed.data));
  assert.ok(allowed.data.accounts.some((account) => account.email === email));
  assert.ok(!requested.some((url) => url === googleTokenUrl || url.endsWith('/token')), `no token endpoint call: ${requested}`);

  // The same JWT with its signature broken is refused as unauthenticated.
  const bearer = (await client.getRequestHeaders(listAccounts())).get('authorization');
  const forged = await fetch(listAccounts(), { headers: { authorization: `${bearer.slice(0, -6)}AAAAAA` } });
  assert.equal(forged.status, 401);
});

test('a self-signed JWT with the API audience (no scopes) is accepted', { timeout: 120_000 }, async () => {
  // iam.googleapis.com is the service that lists service accounts.
  const client = await gapicAuth({ scopes: undefined, servicePath: 'iam.googleapis.com' }).getClient();
  const { claims } = jwtClaims((await client.getRequestHeaders(listAccounts())).get('authorization'));
  assert.equal(claims.aud, 'https://iam.googleapis.com/');
  assert.equal(claims.scope, undefined);
  const policy = await kumo.api('POST', `/v1/projects/${projectId}:getIamPolicy`, {});
  if (!policy.bindings?.some((b) => b.role === 'roles/iam.serviceAccountViewer' && b.members.includes(saMember()))) {
    await grantProjectRole('roles/iam.serviceAccountViewer', saMember());
  }
  const listed = await get(client, listAccounts());
  assert.equal(listed.status, 200, JSON.stringify(listed.data));
});

test('an ID token minted by Kumo verifies with OAuth2Client against Kumo\'s certs and opens hello only for an invoker', { timeout: 120_000 }, async () => {
  // The administrator mints the account's ID token through the IAM Credentials API.
  const admin = await (await fetch(`${kumo.base}/oauth2/v3/tokeninfo?access_token=${encodeURIComponent(kumo.adminToken)}`)).json();
  const accountPath = `/v1/projects/${projectId}/serviceAccounts/${email}`;
  const accountPolicy = await kumo.api('POST', `${accountPath}:getIamPolicy`, {});
  await kumo.api('POST', `${accountPath}:setIamPolicy`, {
    policy: { bindings: [{ role: 'roles/iam.serviceAccountOpenIdTokenCreator', members: [`user:${admin.email}`] }], etag: accountPolicy.etag },
  });
  const { token: idToken } = await kumo.api('POST', `/v1/projects/-/serviceAccounts/${email}:generateIdToken`, { audience: helloUrl, includeEmail: true });

  const discovery = await (await fetch(`${kumo.base}/.well-known/openid-configuration`)).json();
  const verifier = new OAuth2Client({
    endpoints: { oauth2FederatedSignonPemCertsUrl: `${kumo.base}/oauth2/v1/certs` },
    issuers: [discovery.issuer],
  });
  const payload = (await verifier.verifyIdToken({ idToken, audience: helloUrl })).getPayload();
  assert.equal(payload.iss, discovery.issuer);
  assert.equal(payload.aud, helloUrl);
  assert.equal(payload.email, email);
  assert.equal(payload.email_verified, true);
  assert.match(payload.sub, /^\d+$/);

  // A tampered token (claims changed, signature kept) and the wrong audience are rejected.
  const [header, , signature] = idToken.split('.');
  const tampered = [header, Buffer.from(JSON.stringify({ ...payload, email: 'mallory@example.com' })).toString('base64url'), signature].join('.');
  await assert.rejects(verifier.verifyIdToken({ idToken: tampered, audience: helloUrl }), /signature/i);
  await assert.rejects(verifier.verifyIdToken({ idToken, audience: 'https://elsewhere.example.com' }), /audience/i);
  // Google's own issuers only (the library's default) refuse Kumo's issuer.
  const googleOnly = new OAuth2Client({ endpoints: { oauth2FederatedSignonPemCertsUrl: `${kumo.base}/oauth2/v1/certs` } });
  await assert.rejects(googleOnly.verifyIdToken({ idToken, audience: helloUrl }), /issuer/i);

  // The data plane, through the library's transport: the token opens hello only for an invoker.
  const plain = new gaxios.Gaxios({ agent: loopbackAgent });
  const invoke = (token) => get({ request: (opts) => plain.request({ ...opts, headers: { authorization: `Bearer ${token}` } }) }, helloUrl);
  assert.equal((await invoke(idToken)).status, 403);
  await setServiceBinding('roles/run.invoker', saMember(), true);
  const invoked = await invoke(idToken);
  assert.equal(invoked.status, 200, String(invoked.data).slice(0, 200));
  assert.equal((await invoke(tampered)).status, 401);
  await setServiceBinding('roles/run.invoker', saMember(), false);
  assert.equal((await invoke(idToken)).status, 403);
});

test('an access token from the token endpoint is accepted and refreshed', { timeout: 120_000 }, async () => {
  const client = await googleAuth().getClient();
  const { token } = await client.getAccessToken();
  assert.ok(token, 'getAccessToken returned a token');
  const info = await fetch(`${kumo.base}/oauth2/v3/tokeninfo?access_token=${encodeURIComponent(token)}`);
  assert.equal(info.status, 200);
  assert.equal((await info.json()).email, email);
  const policy = await kumo.api('POST', `/v1/projects/${projectId}:getIamPolicy`, {});
  if (!policy.bindings?.some((b) => b.role === 'roles/iam.serviceAccountViewer' && b.members.includes(saMember()))) {
    await grantProjectRole('roles/iam.serviceAccountViewer', saMember());
  }
  assert.equal((await get(client, listAccounts())).status, 200);
  // Refresh: once the cached token has expired, the library fetches a new one that works.
  client.credentials.expiry_date = Date.now() - 1000;
  const refreshed = (await client.getAccessToken()).token;
  assert.ok(refreshed);
  assert.notEqual(refreshed, token);
  assert.equal((await get(client, listAccounts())).status, 200);
});

test('IdTokenClient invokes hello once the account is an invoker', { timeout: 120_000 }, async () => {
  const idClient = await googleAuth().getIdTokenClient(helloUrl);
  await setServiceBinding('roles/run.invoker', saMember(), false);
  assert.equal((await get(idClient, helloUrl)).status, 403);
  await setServiceBinding('roles/run.invoker', saMember(), true);
  try {
    const invoked = await get(idClient, helloUrl);
    assert.equal(invoked.status, 200, String(invoked.data).slice(0, 200));
  } finally {
    await setServiceBinding('roles/run.invoker', saMember(), false);
  }
});
