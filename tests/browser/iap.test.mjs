// Seed 003 in a real browser: IAP switched on directly on a Cloud Run service. A user without
// access signs in and gets IAP's access-denied page; once granted roles/iap.httpsResourceAccessor
// the page is served and the workload verified IAP's assertion (PyJWT against Kumo's JWK set);
// once the binding is removed, access is denied again.
//
// Environment: KUMO_BIN (default target/debug/kumo), CHROMIUM (default /usr/bin/chromium),
// ARTIFACTS (default test-artifacts/browser).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request as httpRequest } from 'node:http';
import { chromium } from 'playwright-core';
import { freePort, waitFor, userIdToken } from './support.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const kumoBin = process.env.KUMO_BIN ?? join(root, 'target', 'debug', 'kumo');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const artifacts = resolve(root, process.env.ARTIFACTS ?? 'test-artifacts/browser');
const region = 'us-central1';
const serviceId = 'iap-echo';
const image = 'example.com/kumo-tests/iap-echo';
const viewer = 'bob@example.com';

let kumo;
let dataDir;
let base;
let token;
let browser;
let projectId;
let projectNumber;
let serviceUri;
let agent;



async function api(method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = { raw: text };
  }
  if (!response.ok) throw new Error(`${method} ${path} -> ${response.status}: ${text}`);
  return json;
}

async function done(operation, version) {
  if (operation.done) return operation;
  return waitFor(`operation ${operation.name}`, async () => {
    const current = await api('GET', `/${version}/${operation.name}`);
    return current.done ? current : null;
  });
}

async function setBinding(resourcePath, role, member, present) {
  const policy = await api('POST', `${resourcePath}:getIamPolicy`, {});
  const bindings = (policy.bindings ?? []).filter((b) => b.role !== role);
  const existing = (policy.bindings ?? []).find((b) => b.role === role);
  const members = new Set(existing?.members ?? []);
  if (present) members.add(member);
  else members.delete(member);
  if (members.size > 0) bindings.push({ role, members: [...members] });
  await api('POST', `${resourcePath}:setIamPolicy`, { policy: { bindings, etag: policy.etag } });
}

/**
 * GET `url` without following redirects. `*.localhost` names are sent to loopback with the
 * Host header kept (Node's resolver, unlike Chromium's, does not map them to loopback).
 */
function get(url, headers = {}) {
  const target = new URL(url);
  return new Promise((ok, fail) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: target.port || 80, path: `${target.pathname}${target.search}`, headers: { ...headers, host: target.host } },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => ok({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', fail);
    req.end();
  });
}

/** Deploys the verifying workload as `id` with IAP on; answers its run.localhost URL. */
async function deploy(id) {
  const audience = `/projects/${projectNumber}/locations/${region}/services/${id}`;
  const operation = await api('POST', `/v2/projects/${projectId}/locations/${region}/services?serviceId=${id}`, {
    iapEnabled: true,
    template: {
      containers: [
        {
          image,
          env: [
            { name: 'IAP_JWKS_URL', value: `${base}/iap/verify/public_key-jwk` },
            { name: 'IAP_AUDIENCE', value: audience },
          ],
        },
      ],
    },
  });
  await done(operation, 'v2');
  const service = await api('GET', `/v2/projects/${projectId}/locations/${region}/services/${id}`);
  assert.equal(service.iapEnabled, true);
  // The deterministic `SERVICE-PROJECT_NUMBER.REGION.run.localhost` URL on Kumo's own port: it
  // cannot collide with another program on this machine, as a fixed 127.0.0.1 service port can,
  // and Chromium resolves `*.localhost` to loopback by itself.
  const url = service.urls.find((u) => u.includes(`-${projectNumber}.${region}.run.localhost`));
  assert.ok(url, `a run.localhost URL among ${service.urls}`);
  return url;
}


before(async () => {
  mkdirSync(artifacts, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'kumo-browser-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const images = join(dataDir, 'test-images.json');
  writeFileSync(images, JSON.stringify({ images: { [image]: { entrypoint: [process.env.PYTHON ?? '/usr/bin/python3', join(here, 'workload.py')] } } }));
  kumo = spawn(kumoBin, ['up', '--data-dir', dataDir, '--port', String(port), '--images', images, '--image-access-check', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info' },
  });
  const log = [];
  kumo.stdout.on('data', (chunk) => log.push(chunk));
  kumo.stderr.on('data', (chunk) => log.push(chunk));
  kumo.on('exit', () => writeFileSync(join(artifacts, 'kumo.log'), Buffer.concat(log)));
  await waitFor('kumo /healthz', async () => (await fetch(`${base}/healthz`)).ok);

  // The bootstrapped administrator's authorized_user credentials, as google-auth uses them.
  const credentials = JSON.parse(readFileSync(join(dataDir, 'admin-credentials.json'), 'utf8'));
  const grant = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: credentials.client_id,
      client_secret: credentials.client_secret,
      refresh_token: credentials.refresh_token,
    }),
  });
  assert.equal(grant.status, 200, await grant.clone().text());
  token = (await grant.json()).access_token;

  const organizations = await api('GET', '/v3/organizations:search');
  const organization = organizations.organizations[0].name;
  projectId = `iap-browser-${Date.now() % 100000}`;
  await done(await api('POST', '/v3/projects', { projectId, parent: organization, displayName: 'IAP browser test' }), 'v3');
  projectNumber = (await api('GET', `/v3/projects/${projectId}`)).name.split('/')[1];
  await api('POST', '/admin/directory/v1/users', { primaryEmail: viewer, name: { givenName: 'Bob', familyName: 'Viewer' } });

  // Seed 003: the IAP service agent, allowed to invoke Cloud Run services of the project.
  const identity = await done(await api('POST', `/v1beta1/projects/${projectId}/services/iap.googleapis.com:generateServiceIdentity`, {}), 'v1beta1');
  agent = identity.response?.email ?? `service-${projectNumber}@gcp-sa-iap.iam.gserviceaccount.com`;
  await setBinding(`/v1/projects/${projectId}`, 'roles/run.invoker', `serviceAccount:${agent}`, true);

  serviceUri = await deploy(serviceId);

  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  if (kumo && kumo.exitCode === null) {
    kumo.kill('SIGTERM');
    await new Promise((ok) => {
      const timer = setTimeout(() => {
        kumo.kill('SIGKILL');
        ok();
      }, 10_000);
      kumo.once('exit', () => {
        clearTimeout(timer);
        ok();
      });
    });
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('IAP on Cloud Run: sign in, denied, granted, revoked', async () => {
  const iapPolicy = `/v1/projects/${projectNumber}/iap_web/cloud_run-${region}/services/${serviceId}`;
  const context = await browser.newContext();
  const page = await context.newPage();

  // 1. An unauthenticated browser is sent to Kumo's sign-in page.
  const first = await page.goto(serviceUri);
  assert.ok(page.url().startsWith(`${base}/o/oauth2/v2/auth?`), `sign-in page expected, got ${page.url()} (${first?.status()}: ${await page.textContent('body')})`);
  await page.screenshot({ path: join(artifacts, 'iap-1-sign-in.png'), fullPage: true });

  // 2. Signed in as a user without access: IAP's access-denied page.
  const [denied] = await Promise.all([
    page.waitForNavigation({ url: (url) => url.href.startsWith(serviceUri) }),
    page.getByRole('button', { name: new RegExp(viewer) }).click(),
  ]);
  assert.equal(denied?.status(), 403);
  assert.match(await page.textContent('body'), /You don't have access/);
  await page.screenshot({ path: join(artifacts, 'iap-2-denied.png'), fullPage: true });

  // The session cookie is HttpOnly, SameSite=Lax, expiring, and bound to this service.
  const cookies = await context.cookies(serviceUri);
  const session = cookies.find((c) => c.name.startsWith('GCP_IAP_AUTH_TOKEN_'));
  assert.ok(session, `session cookie expected among ${cookies.map((c) => c.name)}`);
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');
  assert.ok(session.expires > Date.now() / 1000);

  // 3. Granted roles/iap.httpsResourceAccessor: the page is served and the workload verified the
  // assertion against Kumo's JWK set.
  await setBinding(iapPolicy, 'roles/iap.httpsResourceAccessor', `user:${viewer}`, true);
  const served = await page.reload();
  assert.equal(served?.status(), 200, await page.textContent('body'));
  assert.equal((await page.textContent('#verified'))?.trim(), `verified: ${viewer}`);
  const claims = JSON.parse(await page.textContent('#claims'));
  assert.equal(claims.iss, 'https://cloud.google.com/iap');
  assert.equal(claims.aud, `/projects/${projectNumber}/locations/${region}/services/${serviceId}`);
  assert.match(claims.sub, /^accounts\.google\.com:\d+$/);
  await page.screenshot({ path: join(artifacts, 'iap-3-served.png'), fullPage: true });

  // 4. Binding removed: denied again on the next request.
  await setBinding(iapPolicy, 'roles/iap.httpsResourceAccessor', `user:${viewer}`, false);
  const again = await page.reload();
  assert.equal(again?.status(), 403);
  assert.match(await page.textContent('body'), /You don't have access/);
  await page.screenshot({ path: join(artifacts, 'iap-4-denied-again.png'), fullPage: true });

  // 5. Sign-out clears the session: the next visit goes to the sign-in page.
  await page.goto(new URL('/_gcp_iap/clear_login_cookie', serviceUri).href);
  await page.goto(serviceUri);
  assert.ok(page.url().startsWith(`${base}/o/oauth2/v2/auth?`), `sign-in page expected after sign-out, got ${page.url()}`);
  await context.close();
});

test('IAP on Cloud Run: programmatic callers, the service agent, forged headers, --no-iap', async () => {
  const iapPolicy = `/v1/projects/${projectNumber}/iap_web/cloud_run-${region}/services/${serviceId}`;
  const idToken = await userIdToken(base, viewer);
  const call = get;
  const forged = {
    authorization: `Bearer ${idToken}`,
    'x-goog-authenticated-user-email': 'accounts.google.com:admin@example.com',
    'x-goog-iap-jwt-assertion': 'forged',
  };

  // Without the binding: IAP refuses.
  assert.equal((await call(serviceUri, forged)).status, 403);
  // No credentials from a program: 401 with IAP's text.
  const anonymous = await call(serviceUri, { accept: 'application/json' });
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.body, 'Invalid IAP credentials: empty token');

  // With the binding: admitted. The workload only answers 200 when the X-Goog headers it got
  // match IAP's verified assertion, so the forged copies never reached it.
  await setBinding(iapPolicy, 'roles/iap.httpsResourceAccessor', `user:${viewer}`, true);
  const admitted = await call(serviceUri, forged);
  assert.equal(admitted.status, 200, admitted.body);
  assert.match(admitted.body, new RegExp(`verified: ${viewer}`));

  // The IAP service agent without run.invoker: Cloud Run refuses the request as it refuses any
  // unauthorized caller.
  await setBinding(`/v1/projects/${projectId}`, 'roles/run.invoker', `serviceAccount:${agent}`, false);
  const refused = await call(serviceUri, forged);
  assert.equal(refused.status, 403);
  assert.match(refused.body, /Your client does not have permission to get URL/);
  await setBinding(`/v1/projects/${projectId}`, 'roles/run.invoker', `serviceAccount:${agent}`, true);
  assert.equal((await call(serviceUri, forged)).status, 200);

  // A session cookie of service A does not open service B.
  const other = await deploy(`${serviceId}-b`);
  await setBinding(`/v1/projects/${projectNumber}/iap_web/cloud_run-${region}/services/${serviceId}-b`, 'roles/iap.httpsResourceAccessor', `user:${viewer}`, true);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(serviceUri);
  await Promise.all([
    page.waitForNavigation({ url: (url) => url.href.startsWith(serviceUri) }),
    page.getByRole('button', { name: new RegExp(viewer) }).click(),
  ]);
  const session = (await context.cookies(serviceUri)).find((c) => c.name.startsWith('GCP_IAP_AUTH_TOKEN_'));
  assert.ok(session);
  const html = { accept: 'text/html' };
  assert.equal((await call(serviceUri, { ...html, cookie: `${session.name}=${session.value}` })).status, 200);
  const replayed = await call(other, { ...html, cookie: `${session.name}=${session.value}` });
  assert.equal(replayed.status, 302, 'service B sends the browser to sign in');
  assert.ok(replayed.headers.location.startsWith(`${base}/o/oauth2/v2/auth?`));
  await context.close();

  // --no-iap: plain Cloud Run again (no IAP redirect; Cloud Run's own 403 for an anonymous caller).
  const name = `/v2/projects/${projectId}/locations/${region}/services/${serviceId}-b`;
  const current = await api('GET', name);
  await done(await api('PATCH', name, { ...current, iapEnabled: false }), 'v2');
  assert.equal((await api('GET', name)).iapEnabled ?? false, false);
  const plain = await call(other, html);
  assert.equal(plain.status, 403);
  assert.match(plain.body, /Your client does not have permission to get URL/);
});
