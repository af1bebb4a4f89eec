import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { eventually, expectOpenAiError, Infq } from '../support/infq-harness.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = resolve(import.meta.dirname, '../artifacts');
const UI_BUILD = resolve(import.meta.dirname, '../../admin-ui/dist/index.html');
const EMAIL = 'dashboard@example.com';
const PASSWORD = 'dashboard test password';

/**
 * The dashboard in a real browser against a real infq (Redis queue): every page an admin uses,
 * checked through the public API the tenant sees. Screenshots land in test/artifacts/.
 */
describe('admin dashboard in a browser (redis backend)', () => {
  let fake: FakeBackend;
  let infq: Infq;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    if (!existsSync(UI_BUILD)) throw new Error('admin-ui is not built: run "npm run build" first');
    if (!existsSync(CHROMIUM)) {
      throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    fake = await FakeBackend.start();
    infq = await Infq.start('redis', [fake], { ADMIN_EMAIL: EMAIL, ADMIN_PASSWORD: PASSWORD });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
  });

  afterAll(async () => {
    await browser?.close();
    await infq?.close();
    await fake?.close();
  });

  const shot = async (name: string): Promise<void> => {
    // Toasts are transient; hidden (not removed: React owns them) so they cover nothing.
    await page.evaluate(
      "document.querySelectorAll('.toast').forEach((toast) => { toast.style.visibility = 'hidden'; })",
    );
    await page.screenshot({ path: resolve(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });
  };
  const toast = (text: string | RegExp) => page.locator('.toast', { hasText: text }).first();

  it('signs in, manages a tenant and its key, enforces limits, replays dead letters', async () => {
    // Sign-in: a wrong password is refused as the API states it, the right one opens the app.
    await page.goto(`${infq.url}/admin/`);
    await page.waitForURL(/\/admin\/sign-in/);
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('Wrong email or password');
    await shot('01-sign-in');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();

    // Overview: live queue counts and node health.
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByText('service ok').waitFor();
    await page.locator('.stat-label', { hasText: 'Queued' }).waitFor();
    await shot('02-overview');

    // Tenants: create one through the dialog; validation first.
    const tenantName = `browser-${Date.now().toString(36)}`;
    await page.getByRole('link', { name: 'Tenants' }).click();
    await page.getByText('No tenants yet').waitFor();
    await shot('03-tenants-empty');
    await page.getByRole('button', { name: 'New tenant' }).click();
    await page.getByLabel('Name').fill('-bad name');
    await page.getByLabel('Requests per minute').fill('0');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.getByText('Must be at least 1').waitFor();
    await page.getByText('Start with a letter or digit').waitFor();
    await page.getByLabel('Name').fill(tenantName);
    await page.getByLabel('Requests per minute').fill('');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.getByRole('heading', { name: tenantName }).waitFor();
    const tenantId = page.url().split('/tenants/')[1];
    expect(tenantId).toMatch(/^[0-9a-f-]{36}$/);

    // Issue a key: shown once, with a warning and a copy button.
    await page.getByRole('button', { name: 'Issue key' }).first().click();
    await page.getByLabel('Key name').fill('browser');
    await page.getByRole('dialog').getByRole('button', { name: 'Issue key' }).click();
    const issued = page.getByTestId('issued-key');
    await issued.waitFor();
    const key = (await issued.textContent())!.trim();
    expect(key).toMatch(/^inf_[0-9A-Za-z]{32,}$/);
    await page.getByText('This is the only time the key is shown.').waitFor();
    await page.getByRole('button', { name: 'Copy key' }).waitFor();
    await shot('05-key-issued');
    await page.getByRole('button', { name: 'I have stored the key' }).click();
    await page.locator('tr', { hasText: 'browser' }).getByText('active').waitFor();

    // The key works for a real chat completion.
    const first = await infq.submit(key, 'hello from the dashboard test');
    expect(await infq.jobFinal(key, first)).toMatchObject({ status: 'complete' });

    // Three requests that die at once (backend 400), then succeed when requeued.
    const markers = ['dead-one', 'dead-two', 'dead-three'].map((m) => `${m}-${tenantId}`);
    for (const marker of markers) {
      fake.script(
        marker,
        { type: 'status', status: 400, message: 'fake bad request' },
        { type: 'ok' },
      );
    }
    const dead = await Promise.all(markers.map((marker) => infq.submit(key, marker)));
    for (const id of dead) expect(await infq.jobFinal(key, id)).toMatchObject({ status: 'dead' });

    // Lower the tenant's rpm in the dashboard and see it enforced.
    const rpm = page.getByLabel('Requests per minute');
    await rpm.fill('abc');
    await page.getByRole('button', { name: 'Save limits' }).click();
    await page.getByText('Enter a whole number').waitFor();
    await rpm.fill('2');
    await page.getByRole('button', { name: 'Save limits' }).click();
    await toast(/Limits saved: 2 requests per minute/).waitFor();
    const refused = await eventually(async () => {
      const response = await infq.chat(key, 'over the new limit');
      expect(response.status).toBe(429);
      return response;
    }, 5_000);
    expect(refused.headers.get('x-ratelimit-limit-requests')).toBe('2');
    await expectOpenAiError(refused, 429, 'rate_limit_exceeded');
    await shot('04-tenant-detail');

    await page.getByRole('link', { name: '← Tenants' }).click();
    await page.getByRole('link', { name: tenantName }).waitFor();
    await shot('03-tenants-list');

    // Dead letters: filter by tenant, inspect one, requeue it until it completes.
    await page.getByRole('link', { name: 'Dead letters' }).click();
    // Once the page has changed: before, the tenants list's "Filter tenants" matches the label.
    await page.getByRole('heading', { name: 'Dead letters' }).waitFor();
    await page.getByLabel('Tenant').selectOption({ label: tenantName });
    for (const id of dead) await page.locator(`tr[data-job-id="${id}"]`).waitFor();
    await shot('06-dead-letters');
    await page
      .locator(`tr[data-job-id="${dead[0]}"]`)
      .getByRole('button', { name: 'Inspect' })
      .click();
    const inspector = page.getByRole('dialog');
    await inspector.getByText('fake bad request').first().waitFor();
    await inspector.getByText(markers[0]).first().waitFor();
    await shot('07-dead-letter-inspector');
    await inspector.getByRole('button', { name: 'Requeue' }).click();
    await toast('Requeued 1 job').waitFor();
    await page.locator(`tr[data-job-id="${dead[0]}"]`).waitFor({ state: 'detached' });
    expect(await infq.jobFinal(key, dead[0])).toMatchObject({ status: 'complete', retries: 0 });

    // Requeue one more in bulk, delete the last one.
    await page.getByLabel(`Select job ${dead[1]}`).check();
    await page.getByRole('button', { name: 'Requeue selected' }).click();
    await toast('Requeued 1 job').waitFor();
    expect(await infq.jobFinal(key, dead[1])).toMatchObject({ status: 'complete' });
    await page.getByLabel(`Select job ${dead[2]}`).check();
    await page.getByRole('button', { name: 'Delete selected' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await toast('Deleted 1 job').waitFor();
    await page.getByText('No dead jobs match these filters').waitFor();
    const gone = await infq.fetch(`/v1/results/${dead[2]}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    await expectOpenAiError(gone, 404, 'job_not_found');

    // Suspend the tenant (after a confirmation) and resume it.
    await page.goto(`${infq.url}/admin/tenants/${tenantId}`);
    await page.getByRole('button', { name: 'Suspend tenant' }).click();
    await page.getByRole('dialog').getByText('tenant_suspended').waitFor();
    await shot('09-suspend-confirm');
    await page.getByRole('dialog').getByRole('button', { name: 'Suspend' }).click();
    await page.getByRole('button', { name: 'Resume tenant' }).waitFor();
    const suspended = await eventually(async () => {
      const response = await infq.chat(key, 'while suspended');
      expect(response.status).toBe(403);
      return response;
    }, 2_000);
    await expectOpenAiError(suspended, 403, 'tenant_suspended');
    await page.getByRole('button', { name: 'Resume tenant' }).click();
    await page.getByRole('button', { name: 'Suspend tenant' }).waitFor();
    await eventually(async () => {
      expect((await infq.chat(key, 'resumed')).status).not.toBe(403);
    }, 2_000);

    // Revoke the key from the tenant page: it is refused at once.
    await page
      .locator('tr', { hasText: 'browser' })
      .getByRole('button', { name: 'Revoke' })
      .click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke key' }).click();
    await toast(/revoked/).waitFor();
    await page
      .locator('tr', { hasText: 'browser' })
      .getByText(/^revoked/)
      .waitFor();
    await shot('08-key-revoked');
    const revoked = await eventually(async () => {
      const response = await infq.chat(key, 'after revocation');
      expect(response.status).toBe(401);
      return response;
    }, 2_000);
    await expectOpenAiError(revoked, 401, 'invalid_api_key');

    // Sign out: the app returns to sign-in and the API refuses the old cookie.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/admin\/sign-in/);
    const stale = await page.evaluate(async () => (await fetch('/admin/api/tenants')).status);
    expect(stale).toBe(401);
  }, 120_000);

  it('keeps the overview useful when the server reports less', async () => {
    await page.goto(`${infq.url}/admin/sign-in`);
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();

    // Stats with most fields missing: what is there shows, the rest reads "—".
    await page.route('**/admin/api/stats', (route) =>
      route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ queue: { queued: 7 }, nodes: [{ url: 'http://node-a/v1' }] }),
      }),
    );
    await page.reload();
    await page.getByText('http://node-a/v1').waitFor();
    await page
      .locator('.stat-tile', { hasText: 'Queued' })
      .getByText('7', { exact: true })
      .waitFor();
    await page.getByText('does not report throughput').waitFor();
    await shot('10-overview-partial-stats');

    // No stats endpoint at all: queue counts come from /health.
    await page.unroute('**/admin/api/stats');
    await page.route('**/admin/api/stats', (route) =>
      route.fulfill({
        status: 404,
        contentType: 'application/json',
        body: JSON.stringify({
          error: {
            message: 'No route',
            type: 'not_found_error',
            param: null,
            code: 'route_not_found',
          },
        }),
      }),
    );
    await page.reload();
    await page.getByText('Per-node health needs GET /admin/api/stats').waitFor();
    await page.getByText('service ok').waitFor();
    await shot('11-overview-health-only');
    await page.unroute('**/admin/api/stats');
  });
});
