import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { eventually, Infq, type TenantWithKey } from '../support/infq-harness.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = resolve(import.meta.dirname, '../artifacts');
const UI_BUILD = resolve(import.meta.dirname, '../../admin-ui/dist/index.html');
const EMAIL = 'batches@example.com';
const PASSWORD = 'batches dashboard password';

const line = (customId: string, prompt: string) =>
  JSON.stringify({
    custom_id: customId,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'fake-model', messages: [{ role: 'user', content: prompt }] },
  });

/** The tenant page's batches card in a real browser: progress, counts, download, cancel. */
describe('dashboard batches in a browser (redis backend)', () => {
  let fake: FakeBackend;
  let infq: Infq;
  let browser: Browser;
  let page: Page;
  let tenant: TenantWithKey;
  let client: OpenAI;

  beforeAll(async () => {
    if (!existsSync(UI_BUILD)) throw new Error('admin-ui is not built: run "npm run build" first');
    if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    fake = await FakeBackend.start();
    infq = await Infq.start('redis', [fake], {
      ADMIN_EMAIL: EMAIL,
      ADMIN_PASSWORD: PASSWORD,
      WORKER_CONCURRENCY: '4',
    });
    tenant = await infq.createTenant();
    client = new OpenAI({ baseURL: `${infq.url}/v1`, apiKey: tenant.key, maxRetries: 0 });
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
    await fake?.close();
  });

  const createBatch = async (lines: string[]) => {
    const file = await client.files.create({
      file: await toFile(Buffer.from(lines.join('\n')), 'input.jsonl'),
      purpose: 'batch',
    });
    return client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
  };

  it('shows progress and counts, downloads the output and cancels a running batch', async () => {
    const done = await createBatch([line('one', 'dash one'), line('two', 'dash two')]);
    await eventually(async () => {
      const batch = await client.batches.retrieve(done.id);
      if (batch.status !== 'completed') throw new Error(batch.status);
    }, 20_000);
    fake.script('[dash-slow]', { type: 'ok', delayMs: 1_000 });
    const running = await createBatch(
      Array.from({ length: 40 }, (_, i) => line(`s-${i}`, `[dash-slow] ${i}`)),
    );

    await page.goto(`${infq.url}/admin/`);
    await page.waitForURL(/\/admin\/sign-in/);
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.goto(`${infq.url}/admin/tenants/${tenant.id}`);
    await page.getByRole('heading', { name: 'Batches' }).waitFor();

    const finished = page.locator(`tr[data-batch-id="${done.id}"]`);
    await finished.getByText('completed').waitFor();
    expect(await finished.locator('[data-count="completed"]').textContent()).toBe('2');
    const href = await finished.getByRole('link', { name: 'Output' }).getAttribute('href');
    const download = await page.request.get(`${infq.url}${href}`);
    expect(download.status()).toBe(200);
    const output = (await download.text()).trim().split('\n');
    expect(output.map((text) => (JSON.parse(text) as { custom_id: string }).custom_id)).toEqual([
      'one',
      'two',
    ]);

    const row = page.locator(`tr[data-batch-id="${running.id}"]`);
    await row.getByText('in progress').waitFor();
    await row.getByRole('progressbar').waitFor();
    await page.screenshot({
      path: resolve(ARTIFACTS, 'dashboard-batches-running.png'),
      fullPage: true,
    });
    await row.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel batch' }).click();
    await row.getByText('cancelled').waitFor({ timeout: 30_000 });
    const cancelled = await client.batches.retrieve(running.id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.request_counts!.failed).toBeGreaterThan(0);
    await row.getByRole('link', { name: 'Errors' }).waitFor();
    await page.screenshot({
      path: resolve(ARTIFACTS, 'dashboard-batches-cancelled.png'),
      fullPage: true,
    });
  });
});
