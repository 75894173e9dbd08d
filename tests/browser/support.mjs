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


/**
 * Starts `kumo up --demo` on a free port in a fresh data directory and signs the administrator
 * in (refresh token from admin-credentials.json). `images` maps image names to local programs
 * ({ IMAGE: { entrypoint: [...] } }). The server log lands in `logPath` when it exits.
 * Returns { base, adminToken, api, stop }.
 */
export async function startKumo({ kumoBin, logPath, images }) {
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, readFileSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dataDir = mkdtempSync(join(tmpdir(), 'kumo-browser-'));
  // Extra images as local programs (DATA_DIR/images.json, read by `kumo up`).
  if (images) writeFileSync(join(dataDir, 'images.json'), JSON.stringify({ images }));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const kumo = spawn(kumoBin, ['up', '--demo', '--data-dir', dataDir, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  kumo.stdout.on('data', (chunk) => log.push(chunk));
  kumo.stderr.on('data', (chunk) => log.push(chunk));
  kumo.on('exit', () => writeFileSync(logPath, Buffer.concat(log)));
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
  const adminToken = (await grant.json()).access_token;
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
  async function stop() {
    if (kumo.exitCode === null) {
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
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { base, adminToken, api, stop };
}

/** Debian's Chromium, headless, through playwright-core. */
export async function launchChromium(executablePath) {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Signs `email` in to the console through Kumo's OAuth page; returns the project picker page. */
export async function consoleSignIn(context, base, email) {
  const page = await context.newPage();
  await page.goto(`${base}/console`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/o/oauth2/v2/auth');
  await page.getByRole('button', { name: new RegExp(email) }).click();
  await page.waitForURL(`${base}/console`);
  return page;
}
