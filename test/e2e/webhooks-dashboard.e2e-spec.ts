import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobLifecycleService, type JobFinalEvent } from '../../src/jobs/job-lifecycle.service.js';
import { FakeBackend } from '../support/fake-backend.js';
import { eventually, Infq } from '../support/infq-harness.js';
import { verifyStandardWebhook, WebhookReceiver } from '../support/webhook-receiver.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = resolve(import.meta.dirname, '../artifacts');
const UI_BUILD = resolve(import.meta.dirname, '../../admin-ui/dist/index.html');
const EMAIL = 'webhooks@example.com';
const PASSWORD = 'webhooks test password';

function completed(tenantId: string): JobFinalEvent {
  const jobId = randomUUID();
  const now = Math.floor(Date.now() / 1000);
  return {
    jobId,
    tenantId,
    status: 'complete',
    view: {
      id: jobId,
      object: 'chat.completion.job',
      status: 'complete',
      model: 'fake-model',
      created_at: now,
      started_at: now,
      completed_at: now,
      retries: 0,
      next_retry_at: null,
      error: null,
    } as unknown as JobFinalEvent['view'],
    resultBody: '{}',
    lastUpstreamStatus: 200,
    origin: null,
    requestBytes: 0,
  };
}

/** The tenant page's webhooks section in a real browser (Redis queue). */
describe('webhooks in the dashboard (redis backend)', () => {
  let fake: FakeBackend;
  let receiver: WebhookReceiver;
  let infq: Infq;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    if (!existsSync(UI_BUILD)) throw new Error('admin-ui is not built: run "npm run build" first');
    if (!existsSync(CHROMIUM))
      throw new Error(`No Chromium at ${CHROMIUM}: apt-get install chromium`);
    mkdirSync(ARTIFACTS, { recursive: true });
    fake = await FakeBackend.start();
    receiver = await WebhookReceiver.start();
    infq = await Infq.start('redis', [fake], {
      ADMIN_EMAIL: EMAIL,
      ADMIN_PASSWORD: PASSWORD,
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_BASE_MS: '50',
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    page = await (await browser.newContext({ viewport: { width: 1360, height: 860 } })).newPage();
    page.setDefaultTimeout(15_000);
  });

  afterAll(async () => {
    await browser?.close();
    await infq?.close();
    await receiver?.close();
    await fake?.close();
  });

  const shot = async (name: string): Promise<void> => {
    await page.evaluate(
      "document.querySelectorAll('.toast').forEach((toast) => { toast.style.visibility = 'hidden'; })",
    );
    await page.screenshot({ path: resolve(ARTIFACTS, `webhooks-${name}.png`), fullPage: true });
  };
  const toast = (text: string | RegExp) => page.locator('.toast', { hasText: text }).first();
  const publish = (event: JobFinalEvent) => infq.app.get(JobLifecycleService).publishFinal(event);

  it('adds an endpoint, shows its secret once, lists and redelivers deliveries, rotates, disables', async () => {
    const tenant = await infq.createTenant();
    await page.goto(`${infq.url}/admin/tenants/${tenant.id}`);
    await page.waitForURL(/\/admin\/sign-in/);
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: tenant.name }).waitFor();
    await page.getByText('No webhook endpoints').waitFor();

    // Add: checked in the browser first, then the secret is shown once.
    await page.getByRole('button', { name: 'Add endpoint' }).first().click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Endpoint URL').fill('ftp://hooks.example.com');
    await dialog.getByRole('button', { name: 'Add endpoint' }).click();
    await dialog.getByText('Enter an http:// or https:// URL').waitFor();
    await dialog.getByLabel('Endpoint URL').fill(receiver.url('/dashboard'));
    await dialog.getByLabel('job.dead').check();
    await dialog.getByRole('button', { name: 'Add endpoint' }).click();
    const secretValue = page.getByTestId('webhook-secret');
    await secretValue.waitFor();
    const secret = (await secretValue.textContent())!.trim();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    await page.getByText('This is the only time the secret is shown.').waitFor();
    await shot('01-secret-shown');
    await page.getByRole('button', { name: 'I have stored the secret' }).click();
    const row = page.locator('tr', { hasText: receiver.url('/dashboard') });
    await row.getByText('enabled').waitFor();
    await row.getByText('job.completed').waitFor();
    await row.getByText('job.dead').waitFor();

    // A finished job: delivered, verified with the secret the page showed, listed.
    await publish(completed(tenant.id));
    const first = await receiver.next('/dashboard');
    expect(await verifyStandardWebhook(secret, first.headers, first.body)).toBe(true);
    const deliveries = page.getByRole('table', { name: 'Recent deliveries' });
    const delivered = deliveries.locator('tr', { hasText: String(first.headers['webhook-id']) });
    await delivered.getByText('succeeded').waitFor();
    await delivered.getByText('200', { exact: true }).waitFor();
    await shot('02-deliveries');

    // Redeliver: the same event again, same webhook-id.
    await delivered.getByRole('button', { name: 'Redeliver' }).click();
    await toast(/Redelivering evt_/).waitFor();
    await eventually(() => expect(receiver.at('/dashboard')).toHaveLength(2));
    expect(receiver.at('/dashboard')[1].headers['webhook-id']).toBe(first.headers['webhook-id']);
    await delivered.getByRole('cell', { name: '2', exact: true }).waitFor();

    // Rotate: a new secret, shown once; deliveries verify under it.
    await row.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByText('Copy the new signing secret now').waitFor();
    const rotated = (await page.getByTestId('webhook-secret').textContent())!.trim();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);
    await shot('03-secret-rotated');
    await page.getByRole('button', { name: 'I have stored the secret' }).click();
    await publish(completed(tenant.id));
    const third = await receiver.next('/dashboard', (r) => r !== first && r.body !== first.body);
    expect(await verifyStandardWebhook(rotated, third.headers, third.body)).toBe(true);

    // Disable: no further deliveries are recorded.
    await row.getByRole('button', { name: 'Disable' }).click();
    await toast(/Endpoint disabled/).waitFor();
    await row.getByText('disabled').waitFor();
    const before = receiver.at('/dashboard').length;
    const endpoints = (await (
      await infq.admin('GET', `/tenants/${tenant.id}/webhooks`)
    ).json()) as { data: { id: string }[] };
    const listDeliveries = async () =>
      (
        (await (
          await infq.admin('GET', `/webhooks/${endpoints.data[0].id}/deliveries`)
        ).json()) as { data: unknown[] }
      ).data.length;
    const recorded = await listDeliveries();
    await publish(completed(tenant.id));
    expect(await listDeliveries()).toBe(recorded);
    expect(receiver.at('/dashboard')).toHaveLength(before);
    await shot('04-disabled');
  });
});
