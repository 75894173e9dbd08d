// The console's jobs, IAM and role pages (issue 6), in Debian's Chromium: alice executes a job
// with overrides and reads its tasks and their logs; bob (Cloud Run Invoker + Viewer) sees the
// overrides disabled with the reason, and the server refuses them when forced; alice adds and
// removes project bindings (one with a condition) and the REST API sees each change; the role
// browser finds the roles that grant run.routes.invoke; a service account is disabled and
// enabled again; the revisions and organization policy pages show what the API says.
//
// Environment: KUMO_BIN (default target/debug/kumo), CHROMIUM (default /usr/bin/chromium),
// ARTIFACTS (default test-artifacts/browser).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startKumo, launchChromium, consoleSignIn, waitFor, userIdToken } from './support.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const kumoBin = process.env.KUMO_BIN ?? join(root, 'target', 'debug', 'kumo');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const artifacts = resolve(root, process.env.ARTIFACTS ?? 'test-artifacts/browser');
const project = 'demo-project';
const region = 'us-central1';
const jobPath = `/v2/projects/${project}/locations/${region}/jobs/sample`;
const SAMPLE_JOB = 'us-docker.pkg.dev/cloudrun/container/job';
const SLOW_JOB = `${region}-docker.pkg.dev/${project}/docker-repo/slow`;

let kumo;
let browser;

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `console-admin-${name}.png`), fullPage: true });
}

async function addProjectBinding(role, member) {
  const policy = await kumo.api('POST', `/v3/projects/${project}:getIamPolicy`, {});
  policy.bindings = [...(policy.bindings ?? []), { role, members: [member] }];
  await kumo.api('POST', `/v3/projects/${project}:setIamPolicy`, { policy });
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  kumo = await startKumo({
    kumoBin,
    logPath: join(artifacts, 'console-admin-kumo.log'),
    images: { [SLOW_JOB]: { entrypoint: ['sh', '-c', 'echo working; sleep 60'] } },
  });
  // The job, created through the REST API as `gcloud run jobs create` would.
  const operation = await kumo.api('POST', `/v2/projects/${project}/locations/${region}/jobs?jobId=sample`, {
    template: { taskCount: 2, template: { containers: [{ image: SAMPLE_JOB }], maxRetries: 0, timeout: '60s' } },
  });
  await waitFor('the job', async () => (await kumo.api('GET', `/v2/${operation.name}`)).done);
  await kumo.api('POST', `/v1/projects/${project}/locations/${region}/repositories?repositoryId=docker-repo`, { format: 'DOCKER' });
  const slow = await kumo.api('POST', `/v2/projects/${project}/locations/${region}/jobs?jobId=slow`, {
    template: { template: { containers: [{ image: SLOW_JOB }], maxRetries: 0, timeout: '120s' } },
  });
  await waitFor('the slow job', async () => (await kumo.api('GET', `/v2/${slow.name}`)).done);
  await addProjectBinding('roles/run.viewer', 'user:bob@example.com');
  await addProjectBinding('roles/run.invoker', 'user:bob@example.com');
  await kumo.api('POST', `/v1/projects/${project}/serviceAccounts`, {
    accountId: 'ci-bot',
    serviceAccount: { displayName: 'CI bot' },
  });
  browser = await launchChromium(chromiumPath);
});

after(async () => {
  await browser?.close();
  await kumo?.stop();
});

test('console jobs: execute with overrides, see the execution, its tasks and their logs', async () => {
  const context = await browser.newContext();
  const page = await consoleSignIn(context, kumo.base, 'alice@example.com');
  await page.getByRole('link', { name: project }).click();
  await page.getByRole('navigation', { name: 'Project' }).getByRole('link', { name: 'Jobs' }).click();
  await page.getByRole('heading', { name: 'Cloud Run jobs' }).waitFor();
  const row = page.locator('tr[data-job="sample"]');
  assert.match(await row.textContent(), /us-central1/);
  assert.match(await row.textContent(), /never executed/);
  await shot(page, '1-jobs');

  await row.getByRole('link', { name: 'sample' }).click();
  await page.getByRole('heading', { name: 'Execute' }).waitFor();
  assert.match(await page.textContent('main'), /This job has not been executed/);
  assert.equal(await page.getByLabel('Number of tasks').isEnabled(), true);
  await page.getByLabel('Number of tasks').fill('3');
  await page.getByLabel('Environment variables, NAME=value per line').fill('MODE=console');
  await shot(page, '2-job');
  await page.getByRole('button', { name: 'Execute' }).click();

  // The execution page, reloaded until the execution is done.
  await page.getByText('The execution started.').waitFor();
  const executionId = new URL(page.url()).pathname.split('/').pop();
  assert.match(executionId, /^sample-/);
  await waitFor('the execution to finish', async () => {
    await page.reload();
    return /^(Succeeded|Failed)/.test(await page.locator('#execution-status').textContent());
  });
  assert.equal(await page.locator('#execution-status').textContent(), 'Succeeded');
  assert.match(await page.textContent('main'), /3 of 3 succeeded/);
  assert.match(await page.textContent('main'), /MODE=console/);
  assert.equal(await page.locator('tr[data-task]').count(), 3, 'the override made three tasks');
  for (const index of [0, 1, 2]) {
    assert.match(await page.locator(`tr[data-task="${index}"]`).textContent(), /Succeeded/);
  }
  assert.match(await page.locator('table.logs').textContent(), /Completed Task #2\./);
  await shot(page, '3-execution');

  // One task's logs.
  await page.getByRole('link', { name: 'Logs of task 1' }).click();
  await page.getByRole('heading', { name: 'Logs of task 1' }).waitFor();
  const logs = await page.locator('table.logs').textContent();
  assert.match(logs, /Starting Task #1, Attempt #0\.\.\./);
  assert.doesNotMatch(logs, /Task #0/);
  await shot(page, '4-task-logs');

  // The API agrees.
  const execution = await kumo.api('GET', `${jobPath}/executions/${executionId}`);
  assert.equal(execution.taskCount, 3);
  assert.equal(execution.succeededCount, 3);
  assert.equal(execution.creator, 'alice@example.com');

  // Back on the job: the execution is listed.
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'sample' }).click();
  assert.match(await page.locator(`tr[data-execution="${executionId}"]`).textContent(), /Succeeded.*3 of 3 succeeded/s);
  await context.close();
});

test('console jobs: overrides need run.jobs.runWithOverrides, shown and enforced', async () => {
  const context = await browser.newContext();
  const page = await consoleSignIn(context, kumo.base, 'bob@example.com');
  await page.goto(`${kumo.base}/console/projects/${project}/locations/${region}/jobs/sample`);
  await page.getByRole('heading', { name: 'Execute' }).waitFor();
  assert.equal(await page.getByLabel('Number of tasks').isDisabled(), true);
  assert.match(await page.locator('#overrides-reason').textContent(), /run\.jobs\.runWithOverrides/);
  assert.equal(await page.getByRole('button', { name: 'Execute' }).isEnabled(), true, 'roles/run.invoker may execute');
  await shot(page, '5-overrides-disabled');

  const before = (await kumo.api('GET', jobPath)).executionCount;
  await page.locator('form[action$="/execute"] fieldset fieldset').evaluate((f) => f.removeAttribute('disabled'));
  await page.getByLabel('Number of tasks').fill('5');
  await page.getByRole('button', { name: 'Execute' }).click();
  await page.locator('.notice.error').waitFor();
  assert.match(await page.locator('.notice.error').textContent(), /run\.jobs\.runWithOverrides/);
  assert.equal((await kumo.api('GET', jobPath)).executionCount, before, 'nothing ran');
  await shot(page, '6-overrides-refused');

  // Without overrides bob may execute it.
  await page.getByRole('button', { name: 'Execute' }).click();
  await page.getByText('The execution started.').waitFor();
  assert.equal((await kumo.api('GET', jobPath)).executionCount, before + 1);
  await context.close();
});

test('console IAM: add and remove project bindings, with and without a condition', async () => {
  const context = await browser.newContext();
  const page = await consoleSignIn(context, kumo.base, 'alice@example.com');
  await page.goto(`${kumo.base}/console/projects/${project}/iam`);
  await page.getByRole('heading', { name: `IAM for project ${project}` }).waitFor();
  assert.match(await page.locator('table.bindings').textContent(), /roles\/owner.*user:alice@example\.com/s);
  await shot(page, '7-iam');

  const has = async (member, role, condition) => {
    const policy = await kumo.api('POST', `/v3/projects/${project}:getIamPolicy`, { options: { requestedPolicyVersion: 3 } });
    return (policy.bindings ?? []).some(
      (b) => b.role === role && b.members.includes(member) && (condition ? b.condition?.expression === condition : !b.condition),
    );
  };

  // A plain binding.
  await page.getByLabel('Principal', { exact: true }).fill('user:carol@example.com');
  await page.getByLabel('Role', { exact: true }).fill('roles/run.developer');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('The binding was added.').waitFor();
  assert.equal(await has('user:carol@example.com', 'roles/run.developer'), true);

  // A conditional one.
  const expression = 'request.time < timestamp("2030-01-01T00:00:00Z")';
  await page.getByLabel('Principal', { exact: true }).fill('user:carol@example.com');
  await page.getByLabel('Role', { exact: true }).fill('roles/run.viewer');
  await page.getByLabel('Condition title').fill('until 2030');
  await page.getByLabel('Condition expression (CEL)').fill(expression);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('The binding was added.').waitFor();
  assert.equal(await has('user:carol@example.com', 'roles/run.viewer', expression), true);
  assert.match(await page.locator('table.bindings').textContent(), /until 2030: request\.time/);
  await shot(page, '8-iam-conditional');

  // Remove both; the API sees them go.
  await page.getByRole('button', { name: 'Remove user:carol@example.com from roles/run.viewer (condition until 2030)' }).click();
  await page.getByText('The binding was removed.').waitFor();
  assert.equal(await has('user:carol@example.com', 'roles/run.viewer', expression), false);
  await page.getByRole('button', { name: 'Remove user:carol@example.com from roles/run.developer', exact: true }).click();
  await page.getByText('The binding was removed.').waitFor();
  assert.equal(await has('user:carol@example.com', 'roles/run.developer'), false);

  // The organization's policy is one click up the hierarchy.
  await page.getByRole('region', { name: 'Inherited policies' }).getByRole('link', { name: /^organizations\// }).click();
  await page.getByRole('heading', { name: /^IAM for organization / }).waitFor();
  await shot(page, '9-iam-organization');
  await page.getByRole('navigation', { name: /^organization / }).getByRole('link', { name: 'Roles' }).click();
  await page.getByRole('heading', { name: 'Custom roles of this organization' }).waitFor();
  await context.close();

  // bob may not change the project's policy: the form says why, and the server refuses.
  const bobContext = await browser.newContext();
  const bob = await consoleSignIn(bobContext, kumo.base, 'bob@example.com');
  await bob.goto(`${kumo.base}/console/projects/${project}/iam`);
  await bob.getByRole('heading', { name: `IAM for project ${project}` }).waitFor();
  assert.equal(await bob.getByRole('button', { name: 'Save' }).isDisabled(), true);
  assert.match(await bob.locator('#iam-reason').textContent(), /resourcemanager\.projects\.setIamPolicy/);
  await bob.locator('form[action$="/add-binding"] fieldset').first().evaluate((f) => f.removeAttribute('disabled'));
  await bob.getByLabel('Principal', { exact: true }).fill('user:bob@example.com');
  await bob.getByLabel('Role', { exact: true }).fill('roles/owner');
  await bob.getByRole('button', { name: 'Save' }).click();
  await bob.locator('.notice.error').waitFor();
  assert.equal(await has('user:bob@example.com', 'roles/owner'), false);
  await shot(bob, '10-iam-refused');
  await bobContext.close();
});

test('console roles: the browser finds the roles that grant a permission', async () => {
  const context = await browser.newContext();
  const page = await consoleSignIn(context, kumo.base, 'alice@example.com');
  await page.goto(`${kumo.base}/console/projects/${project}/roles`);
  await page.getByLabel('Search predefined roles by name, title or permission').fill('run.routes.invoke');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('heading', { name: 'Predefined roles' }).waitFor();
  const invoker = page.locator('tr[data-role="roles/run.invoker"]');
  assert.match(await invoker.textContent(), /Cloud Run Invoker/);
  assert.match(await invoker.textContent(), /run\.routes\.invoke/);
  assert.match(await page.locator('#role-count').textContent(), /^\d+ of \d{4} roles match/);
  assert.equal(await page.locator('tr[data-role="roles/run.viewer"]').count(), 0, 'the viewer cannot invoke');
  await shot(page, '11-role-search');
  await invoker.getByRole('link', { name: 'roles/run.invoker' }).click();
  await page.getByRole('heading', { name: 'roles/run.invoker' }).waitFor();
  assert.match(await page.locator('ul.permissions').textContent(), /run\.jobs\.run.*run\.routes\.invoke/s);
  await context.close();
});

test('console: service accounts, revisions and organization policies', async () => {
  const context = await browser.newContext();
  const page = await consoleSignIn(context, kumo.base, 'alice@example.com');
  const email = `ci-bot@${project}.iam.gserviceaccount.com`;
  const accountPath = `/v1/projects/${project}/serviceAccounts/${email}`;
  await page.goto(`${kumo.base}/console/projects/${project}/serviceAccounts`);
  await page.locator(`tr[data-account="${email}"]`).getByRole('link', { name: email }).click();
  await page.getByRole('button', { name: 'Disable service account' }).click();
  await page.getByText('The service account is disabled').waitFor();
  assert.equal((await kumo.api('GET', accountPath)).disabled, true);
  assert.equal(await page.locator('#account-status').textContent(), 'Disabled');
  await shot(page, '12-service-account');
  await page.getByRole('button', { name: 'Enable service account' }).click();
  await page.getByText('The service account is enabled.').waitFor();
  assert.notEqual((await kumo.api('GET', accountPath)).disabled, true);

  // The demo's hello: one ready revision with all the traffic.
  const service = await waitFor('the demo service', async () => {
    const answer = await kumo.api('GET', `/v2/projects/${project}/locations/${region}/services/hello`);
    return answer.terminalCondition?.state === 'CONDITION_SUCCEEDED' ? answer : null;
  });
  const revision = service.latestReadyRevision.split('/').pop();
  await page.goto(`${kumo.base}/console/projects/${project}/locations/${region}/services/hello/revisions`);
  assert.match(await page.locator(`tr[data-revision="${revision}"]`).textContent(), /Ready\s*100%/);
  await shot(page, '13-revisions');

  // Live tail without script: the Logs tab's checkbox makes the page refresh itself, and says so.
  await page.getByRole('link', { name: 'Logs' }).click();
  assert.equal(await page.locator('meta[http-equiv="refresh"]').count(), 0);
  await page.getByLabel('Live tail').check();
  await page.getByRole('button', { name: 'Run query' }).click();
  await page.getByText(/Live tail: this page reloads itself every 5 seconds/).waitFor();
  assert.equal(await page.locator('meta[http-equiv="refresh"]').getAttribute('content'), '5');
  assert.equal(await page.getByLabel('Live tail').isChecked(), true);

  // Organization policies: requireInvokerIam enforced on the organization, seen from the project.
  const organization = (await kumo.api('GET', '/v3/organizations:search')).organizations[0].name;
  const orgPolicy = await kumo.api('POST', `/v3/${organization}:getIamPolicy`, {});
  orgPolicy.bindings = [...(orgPolicy.bindings ?? []), { role: 'roles/orgpolicy.policyAdmin', members: ['user:admin@example.com'] }];
  await kumo.api('POST', `/v3/${organization}:setIamPolicy`, { policy: orgPolicy });
  await kumo.api('POST', `/v2/${organization}/policies`, {
    name: `${organization}/policies/run.managed.requireInvokerIam`,
    spec: { rules: [{ enforce: true }] },
  });
  await page.goto(`${kumo.base}/console/projects/${project}/policies`);
  const row = page.locator('tr[data-constraint="run.managed.requireInvokerIam"]');
  // alice owns the project, not the organization: she sees the effect, not its source.
  assert.match(await row.textContent(), new RegExp(`not set.*enforced.*set above: you may not read the policy of ${organization}`, 's'));
  // As a policy viewer on the organization she sees where it comes from.
  const withViewer = await kumo.api('POST', `/v3/${organization}:getIamPolicy`, {});
  withViewer.bindings = [...(withViewer.bindings ?? []), { role: 'roles/orgpolicy.policyViewer', members: ['user:alice@example.com'] }];
  await kumo.api('POST', `/v3/${organization}:setIamPolicy`, { policy: withViewer });
  await page.reload();
  assert.match(await row.textContent(), new RegExp(`not set.*enforced.*inherited from ${organization} \\(enforced\\)`, 's'));
  await shot(page, '14-org-policies');
  await page.getByRole('link', { name: organization }).click();
  await page.getByRole('heading', { name: `Organization policies of ${organization}` }).waitFor();
  assert.match(await row.textContent(), /enforced.*enforced.*this resource/s);
  await context.close();
});

test('console service permissions: a conditional invoker binding, added and removed, and curl follows', async () => {
  const service = await kumo.api('GET', `/v2/projects/${project}/locations/${region}/services/hello`);
  const bobToken = await userIdToken(kumo.base, 'bob@example.com');
  const curl = async () => {
    const response = await fetch(service.uri, { headers: { authorization: `Bearer ${bobToken}` } });
    await response.arrayBuffer();
    return response.status;
  };
  // bob is a project-level invoker in this file's setup; take that away first.
  const policy = await kumo.api('POST', `/v3/projects/${project}:getIamPolicy`, {});
  policy.bindings = policy.bindings.filter((b) => b.role !== 'roles/run.invoker');
  await kumo.api('POST', `/v3/projects/${project}:setIamPolicy`, { policy });
  await waitFor('bob refused', async () => (await curl()) === 403);

  const context = await browser.newContext();
  const page = await consoleSignIn(context, kumo.base, 'alice@example.com');
  await page.goto(`${kumo.base}/console/projects/${project}/locations/${region}/services/hello`);
  await page.getByLabel('Principal', { exact: true }).fill('user:bob@example.com');
  await page.getByLabel('Role', { exact: true }).fill('roles/run.invoker');
  await page.getByLabel('Condition title').fill('until 2030');
  await page.getByLabel('Condition expression (CEL, optional)').fill('request.time < timestamp("2030-01-01T00:00:00Z")');
  await page.getByRole('button', { name: 'Add' }).click();
  await page.getByText('The binding was added.').waitFor();
  const servicePolicy = await kumo.api('GET', `/v2/projects/${project}/locations/${region}/services/hello:getIamPolicy?options.requestedPolicyVersion=3`);
  assert.ok(servicePolicy.bindings.some((b) => b.condition?.title === 'until 2030' && b.members.includes('user:bob@example.com')));
  assert.equal(await curl(), 200, 'the condition holds today');
  await shot(page, '15-service-conditional');
  await page.getByRole('button', { name: 'Remove user:bob@example.com from roles/run.invoker (condition until 2030)' }).click();
  await page.getByText('The binding was removed.').waitFor();
  assert.equal(await curl(), 403);
  await context.close();
});

test('console jobs: cancel a running execution (bob may not, alice may)', async () => {
  const operation = await kumo.api('POST', `/v2/projects/${project}/locations/${region}/jobs/slow:run`, {});
  const executionId = operation.metadata.name.split('/').pop();
  const executionPage = `${kumo.base}/console/projects/${project}/locations/${region}/jobs/slow/executions/${executionId}`;

  const bobContext = await browser.newContext();
  const bob = await consoleSignIn(bobContext, kumo.base, 'bob@example.com');
  await bob.goto(executionPage);
  assert.equal(await bob.getByRole('button', { name: 'Cancel execution' }).isDisabled(), true);
  assert.match(await bob.locator('#cancel-reason').textContent(), /run\.executions\.cancel/);
  await bobContext.close();

  const context = await browser.newContext();
  const page = await consoleSignIn(context, kumo.base, 'alice@example.com');
  await page.goto(executionPage);
  assert.match(await page.locator('#execution-status').textContent(), /^(Pending|Running)/);
  await page.getByRole('button', { name: 'Cancel execution' }).click();
  await page.getByText('Cancellation requested: running tasks are being stopped.').waitFor();
  await waitFor('the cancellation', async () => {
    await page.reload();
    return /^Cancelled/.test(await page.locator('#execution-status').textContent());
  });
  const execution = await kumo.api('GET', `/v2/${operation.metadata.name}`);
  assert.equal(execution.cancelledCount, 1);
  await shot(page, '16-cancelled');
  await context.close();
});
