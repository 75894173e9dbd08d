// Seed 000 in the web console (issue 6), in Debian's Chromium: alice signs in through Kumo's
// OAuth page, sees `hello` requiring authentication, makes it public from the Security tab
// (a plain HTTP GET of its URL answers 200), makes it private again (403), adds and removes an
// invoker binding for bob (bob's ID token: 200, then 403), asks the troubleshooter why; the
// administrator enforces run.managed.requireInvokerIam on the organization through the REST
// API and the IAM-check checkbox is greyed with the reason — and a forced submit is refused by
// the server. bob, with roles/run.viewer only, sees the actions disabled with the reason.
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
import { chromium } from 'playwright-core';
import { freePort, waitFor, userIdToken } from './support.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const kumoBin = process.env.KUMO_BIN ?? join(root, 'target', 'debug', 'kumo');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const artifacts = resolve(root, process.env.ARTIFACTS ?? 'test-artifacts/browser');
const project = 'demo-project';
const region = 'us-central1';
const servicePath = `/v2/projects/${project}/locations/${region}/services/hello`;

let kumo;
let dataDir;
let base;
let adminToken;
let organization;
let serviceUri;
let browser;



async function api(method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} -> ${response.status}: ${text}`);
  return text ? JSON.parse(text) : {};
}


/** What `curl -s -o /dev/null -w '%{http_code}' URL` prints. */
async function curlStatus(url, idToken) {
  const response = await fetch(url, { headers: idToken ? { authorization: `Bearer ${idToken}` } : {} });
  await response.arrayBuffer();
  return response.status;
}

async function signIn(context, email) {
  const page = await context.newPage();
  await page.goto(`${base}/console`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/o/oauth2/v2/auth');
  await page.getByRole('button', { name: new RegExp(email) }).click();
  await page.waitForURL(`${base}/console`);
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `console-${name}.png`), fullPage: true });
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'kumo-console-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  kumo = spawn(kumoBin, ['up', '--demo', '--data-dir', dataDir, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  kumo.stdout.on('data', (chunk) => log.push(chunk));
  kumo.stderr.on('data', (chunk) => log.push(chunk));
  kumo.on('exit', () => writeFileSync(join(artifacts, 'console-kumo.log'), Buffer.concat(log)));
  await waitFor('kumo /healthz', async () => (await fetch(`${base}/healthz`)).ok);

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
  assert.equal(grant.status, 200);
  adminToken = (await grant.json()).access_token;
  organization = (await api('GET', '/v3/organizations:search')).organizations[0].name;
  // The demo deploys `hello` in the background.
  const service = await waitFor('the demo service', async () => {
    const answer = await api('GET', servicePath);
    return answer.terminalCondition?.state === 'CONDITION_SUCCEEDED' ? answer : null;
  });
  serviceUri = service.uri;
  await api('POST', `/v3/projects/${project}:setIamPolicy`, {
    policy: await (async () => {
      const policy = await api('POST', `/v3/projects/${project}:getIamPolicy`, {});
      policy.bindings = [...(policy.bindings ?? []), { role: 'roles/run.viewer', members: ['user:bob@example.com'] }];
      return policy;
    })(),
  });

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

test('console: seed 000 walkthrough as alice', async () => {
  const context = await browser.newContext();
  const page = await signIn(context, 'alice@example.com');

  // The session cookie is opaque to scripts and never sent cross-site.
  const cookies = await context.cookies(`${base}/console`);
  const session = cookies.find((c) => c.name.startsWith('kumo_console_') && !c.name.includes('login'));
  assert.ok(session, `session cookie among ${cookies.map((c) => c.name)}`);
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.doesNotMatch(session.value, /^ya29\./, 'the access token stays on the server');
  await assert.doesNotReject(page.getByRole('heading', { name: 'Select a project' }).waitFor());
  await shot(page, '1-projects');

  // Services list: hello requires authentication.
  await page.getByRole('link', { name: project }).click();
  await page.getByRole('heading', { name: 'Cloud Run services' }).waitFor();
  const row = page.locator('tr[data-service="hello"]');
  assert.match(await row.textContent(), /Require authentication/);
  assert.match(await row.textContent(), /alice@example\.com/);
  assert.match(await row.textContent(), new RegExp(serviceUri.replace(/[.]/g, '\\.')));
  await shot(page, '2-services');

  // Seed 000 "from the services list": public in one click, and back.
  await page.getByRole('button', { name: 'Allow public access: hello' }).click();
  await page.getByText('The service now allows public access').waitFor();
  assert.match(await row.textContent(), /Allow public access/);
  assert.equal(await curlStatus(serviceUri), 200, 'public from the list');
  await page.getByRole('button', { name: 'Require authentication: hello' }).click();
  await page.getByText('The service now requires authentication.').waitFor();
  assert.equal(await curlStatus(serviceUri), 403, 'private from the list');

  // Security tab.
  await row.getByRole('link', { name: 'hello' }).click();
  await page.getByRole('link', { name: 'Security' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Security' }).getAttribute('aria-current'), 'page');
  assert.equal(await page.getByLabel('Require authentication').isChecked(), true);
  assert.equal(await page.getByLabel('Use Cloud IAM to authenticate incoming requests').isChecked(), true);
  assert.equal(await page.getByLabel('Use Cloud IAM to authenticate incoming requests').isEnabled(), true);
  const inherited = page.locator('section[aria-labelledby="inherited-h"]');
  assert.match(await inherited.textContent(), /roles\/owner.*user:alice@example\.com/s);
  await shot(page, '3-security');
  assert.equal(await curlStatus(serviceUri), 403, 'private before');

  // Allow public access: allUsers gets roles/run.invoker.
  await page.getByLabel('Allow public access').check();
  await page.getByRole('button', { name: 'Save authentication' }).click();
  await page.getByText('The service now allows public access').waitFor();
  assert.equal(await curlStatus(serviceUri), 200, 'public');
  const policy = await api('GET', `${servicePath}:getIamPolicy`);
  assert.ok(policy.bindings.some((b) => b.role === 'roles/run.invoker' && b.members.includes('allUsers')));
  await shot(page, '4-public');

  // And back.
  await page.getByLabel('Require authentication').check();
  await page.getByRole('button', { name: 'Save authentication' }).click();
  await page.getByText('The service now requires authentication.').waitFor();
  assert.equal(await curlStatus(serviceUri), 403, 'private again');

  // Permissions panel: add and remove an invoker binding; bob's token follows.
  const bobToken = await userIdToken(base, 'bob@example.com');
  assert.equal(await curlStatus(serviceUri, bobToken), 403);
  await page.getByLabel('Principal', { exact: true }).fill('user:bob@example.com');
  await page.getByLabel('Role', { exact: true }).fill('roles/run.invoker');
  await page.getByRole('button', { name: 'Add' }).click();
  await page.getByText('The binding was added.').waitFor();
  assert.equal(await curlStatus(serviceUri, bobToken), 200, 'bob invokes with the binding');
  await shot(page, '5-permissions');
  await page.getByRole('button', { name: 'Remove user:bob@example.com from roles/run.invoker' }).click();
  await page.getByText('The binding was removed.').waitFor();
  assert.equal(await curlStatus(serviceUri, bobToken), 403, 'and not without it');

  // IAP on, seen at a glance in the list, and off again.
  await page.getByLabel('Identity-Aware Proxy (IAP)').check();
  await page.getByRole('button', { name: 'Save IAP' }).click();
  await page.getByText('Identity-Aware Proxy is on.').waitFor();
  assert.equal((await api('GET', servicePath)).iapEnabled, true);
  await page.getByRole('link', { name: project }).click();
  assert.match(await page.locator('tr[data-service="hello"]').textContent(), /IAP on/);
  await page.locator('tr[data-service="hello"]').getByRole('link', { name: 'hello' }).click();
  await page.getByLabel('Identity-Aware Proxy (IAP)').uncheck();
  await page.getByRole('button', { name: 'Save IAP' }).click();
  await page.getByText('Identity-Aware Proxy is off.').waitFor();
  assert.notEqual((await api('GET', servicePath)).iapEnabled, true);

  // "Why can't bob invoke this?"
  await page.getByLabel('Principal (email)').fill('bob@example.com');
  await page.getByRole('button', { name: 'Explain' }).click();
  await page.getByRole('heading', { name: 'Policy Troubleshooter' }).waitFor();
  const troubleshooter = await fetch(`${base}/v3/iam:troubleshoot`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` }, body: '{}' });
  if (troubleshooter.status !== 404) {
    await page.getByText(/bob@example\.com does not have permission run\.routes\.invoke/).waitFor();
  }
  await shot(page, '6-troubleshooter');

  // A state change without the CSRF token is refused even with the session cookie.
  const forged = await fetch(`${base}/console/projects/${project}/locations/${region}/services/hello/authentication`, {
    method: 'POST',
    headers: { cookie: `${session.name}=${session.value}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'access=public',
  });
  assert.equal(forged.status, 403);
  assert.equal(await curlStatus(serviceUri), 403, 'the forged request changed nothing');

  // The administrator enforces run.managed.requireInvokerIam on the organization (after
  // granting themself the Organization Policy Administrator role, as on Google).
  const orgPolicy = await api('POST', `/v3/${organization}:getIamPolicy`, {});
  orgPolicy.bindings = [...(orgPolicy.bindings ?? []), { role: 'roles/orgpolicy.policyAdmin', members: ['user:admin@example.com'] }];
  await api('POST', `/v3/${organization}:setIamPolicy`, { policy: orgPolicy });
  await api('POST', `/v2/${organization}/policies`, {
    name: `${organization}/policies/run.managed.requireInvokerIam`,
    spec: { rules: [{ enforce: true }] },
  });
  await page.goto(`${base}/console/projects/${project}/locations/${region}/services/hello`);
  const checkbox = page.getByLabel('Use Cloud IAM to authenticate incoming requests');
  assert.equal(await checkbox.isDisabled(), true, 'greyed out');
  assert.equal(await checkbox.isChecked(), true);
  const reason = page.locator('#iam-check-reason');
  assert.match(await reason.textContent(), /run\.managed\.requireInvokerIam/);
  assert.match(await reason.textContent(), /inherited from its folder or organization/);
  await shot(page, '7-iam-check-greyed');
  const link = reason.getByRole('link', { name: 'View the policy' });
  await link.click();
  await page.getByText('The project sets no policy of its own').waitFor();
  assert.match(await page.textContent('main'), /enforced/);
  assert.match(await page.textContent('main'), new RegExp(`${organization}`));
  await shot(page, '8-org-policy');

  // The server refuses anyway: re-enable the control in the page and submit it.
  await page.goBack();
  await page.locator('form[action$="/iam-check"] fieldset').evaluate((f) => f.removeAttribute('disabled'));
  await page.getByLabel('Use Cloud IAM to authenticate incoming requests').uncheck();
  await page.getByRole('button', { name: 'Save IAM check' }).click();
  await page.locator('.notice.error').waitFor();
  assert.match(await page.locator('.notice.error').textContent(), /requireInvokerIam|constraint/i);
  assert.notEqual((await api('GET', servicePath)).invokerIamDisabled, true);
  await shot(page, '9-refused');

  // Logs tab with a Logging filter.
  await page.getByRole('link', { name: 'Logs' }).click();
  await page.getByLabel('Filter (Logging query language)').fill('protoPayload.methodName:"SetIamPolicy"');
  await page.getByRole('button', { name: 'Run query' }).click();
  await page.locator('table.logs').waitFor();
  assert.match(await page.locator('table.logs').textContent(), /SetIamPolicy by alice@example\.com/);
  await shot(page, '10-logs');

  // Sign out ends the session.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await context.close();
});

test('console: bob (roles/run.viewer) sees the actions disabled with the reason', async () => {
  const context = await browser.newContext();
  const page = await signIn(context, 'bob@example.com');
  await page.goto(`${base}/console/projects/${project}/services`);
  assert.equal(await page.getByRole('button', { name: 'Allow public access: hello' }).isDisabled(), true);
  await page.goto(`${base}/console/projects/${project}/locations/${region}/services/hello`);
  await page.getByRole('heading', { name: 'Authentication' }).waitFor();
  assert.equal(await page.getByLabel('Allow public access').isDisabled(), true);
  assert.match(await page.locator('#auth-reason').textContent(), /run\.services\.setIamPolicy/);
  assert.equal(await page.getByLabel('Identity-Aware Proxy (IAP)').isDisabled(), true);
  assert.match(await page.locator('#iap-reason').textContent(), /run\.services\.update/);
  await shot(page, '11-viewer-disabled');

  // Forcing the form anyway: Kumo's API refuses bob.
  await page.locator('form[action$="/authentication"] fieldset').evaluate((f) => f.removeAttribute('disabled'));
  await page.getByLabel('Allow public access').check();
  await page.getByRole('button', { name: 'Save authentication' }).click();
  await page.locator('.notice.error').waitFor();
  assert.match(await page.locator('.notice.error').textContent(), /run\.services\.setIamPolicy|denied/i);
  assert.equal(await curlStatus(serviceUri), 403);
  await context.close();

  // alice reads the refusal in the audit log.
  const owner = await browser.newContext();
  const page2 = await signIn(owner, 'alice@example.com');
  await page2.getByRole('link', { name: project }).click();
  await page2.getByRole('link', { name: 'Audit log' }).click();
  await page2.getByLabel('Filter (Logging query language)').fill('protoPayload.authenticationInfo.principalEmail="bob@example.com"');
  await page2.getByRole('button', { name: 'Run query' }).click();
  await page2.locator('table.logs').waitFor();
  assert.match(await page2.locator('table.logs').textContent(), /SetIamPolicy by bob@example\.com — run\.services\.setIamPolicy denied/);
  await shot(page2, '12-audit-log');
  await owner.close();
});
