import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { eventually, Infq, QUEUE_BACKENDS } from '../support/infq-harness.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = resolve(import.meta.dirname, '../artifacts');
const UI_BUILD = resolve(import.meta.dirname, '../../admin-ui/dist/index.html');
const EMAIL = 'dispatch@example.com';
const PASSWORD = 'dispatch dashboard password';
const NODE_CAPACITY = 4;

interface TenantView {
  limits: { max_concurrent: number; max_queued: number };
  weight: number;
}

/**
 * Fair dispatch on the dashboard, in a real browser: a tenant's queue limit and weight are edited
 * on its page, and the overview shows each node's in-flight against its capacity and each
 * tenant's queued and running jobs, as the admin API reports them.
 */
for (const backend of QUEUE_BACKENDS) {
  describe(`dashboard dispatch in a browser (${backend} backend)`, () => {
    let fake: FakeBackend;
    let infq: Infq;
    let browser: Browser;
    let page: Page;

    beforeAll(async () => {
      if (!existsSync(UI_BUILD)) {
        throw new Error('admin-ui is not built: run "npm run build" first');
      }
      if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}`);
      mkdirSync(ARTIFACTS, { recursive: true });
      fake = await FakeBackend.start();
      infq = await Infq.start(backend, [fake], {
        ADMIN_EMAIL: EMAIL,
        ADMIN_PASSWORD: PASSWORD,
        BUS_NODES: `${fake.url}=1:${NODE_CAPACITY}`,
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
      await fake?.close();
    });

    const shot = (name: string) =>
      page.screenshot({
        path: resolve(ARTIFACTS, `dashboard-dispatch-${backend}-${name}.png`),
        fullPage: true,
      });
    const tenantView = async (id: string): Promise<TenantView> => {
      const response = await infq.admin('GET', `/tenants/${id}`);
      expect(response.status).toBe(200);
      return (await response.json()) as TenantView;
    };
    // Exact: the usage meters' labels ("Queued jobs: 1 of 7") begin with the same words.
    const input = (label: string) => page.getByLabel(label, { exact: true });

    it('edits max_queued and weight, and shows node capacity and tenant queues', async () => {
      await page.goto(`${infq.url}/admin/sign-in`);
      await page.getByLabel('Email').fill(EMAIL);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Overview' }).waitFor();

      // Create a tenant with a queue limit and a weight; both are checked as the API checks them.
      const name = `dispatch-${backend}-${Date.now().toString(36)}`;
      await page.getByRole('link', { name: 'Tenants' }).click();
      await page.getByRole('button', { name: 'New tenant' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByLabel('Name').fill(name);
      await dialog.getByLabel('Concurrent jobs').fill('1');
      await dialog.getByLabel('Queued jobs').fill('0');
      await dialog.getByLabel('Weight').fill('1001');
      await dialog.getByRole('button', { name: 'Create tenant' }).click();
      await dialog.getByText('Must be at least 1').waitFor();
      await dialog.getByText('At most 1,000').waitFor();
      await dialog.getByLabel('Queued jobs').fill('50');
      await dialog.getByLabel('Weight').fill('2');
      await dialog.getByRole('button', { name: 'Create tenant' }).click();
      await page.getByRole('heading', { name }).waitFor();
      const tenantId = page.url().split('/tenants/')[1];
      expect(await tenantView(tenantId)).toMatchObject({
        limits: { max_concurrent: 1, max_queued: 50 },
        weight: 2,
      });

      // Change both on the tenant page; the admin API has the new values.
      await expect.poll(() => input('Queued jobs').inputValue()).toBe('50');
      await input('Weight').fill('abc');
      await page.getByRole('button', { name: 'Save limits' }).click();
      await page.getByText('Enter a whole number').waitFor();
      await input('Queued jobs').fill('7');
      await input('Weight').fill('3');
      await page.getByRole('button', { name: 'Save limits' }).click();
      await page.locator('.toast', { hasText: 'Limits saved' }).first().waitFor();
      expect(await tenantView(tenantId)).toMatchObject({
        limits: { max_concurrent: 1, max_queued: 7 },
        weight: 3,
      });
      await page.locator('.stat-tile', { hasText: 'Queued jobs' }).getByText('of 7').waitFor();

      // One job hangs at the backend (the tenant's only slot), a second waits its turn.
      const issued = await infq.admin('POST', `/tenants/${tenantId}/keys`, { name: 'dispatch' });
      expect(issued.status).toBe(201);
      const { key } = (await issued.json()) as { key: string };
      fake.script(`hang-${tenantId}`, { type: 'hang' });
      const running = await infq.submit(key, `hang-${tenantId}`);
      await fake.waitForRequest((request) => request.prompt === `hang-${tenantId}`);
      const queued = await infq.submit(key, `queued-${tenantId}`);
      await eventually(async () => {
        expect((await tenantView(tenantId)) as unknown).toMatchObject({
          usage: { open_jobs: 1, queued_jobs: 1 },
        });
      });

      // The tenant page's usage shows both.
      await page
        .locator('.stat-tile', { hasText: 'Queued jobs' })
        .locator('.stat-value', { hasText: /^1$/ })
        .waitFor();
      await page
        .locator('.stat-tile', { hasText: 'Open jobs' })
        .locator('.stat-value', { hasText: /^1$/ })
        .waitFor();
      await shot('tenant');

      // The overview: the node's in-flight against its capacity, the tenant's queued and running.
      await page.getByRole('link', { name: 'Overview' }).click();
      const node = page.locator('tr', { hasText: fake.url });
      await expect
        .poll(() => node.getByTestId('node-in-flight').textContent())
        .toBe(`1 / ${NODE_CAPACITY}`);
      const row = page.locator(`tr[data-tenant-id="${tenantId}"]`);
      await row.getByRole('link', { name }).waitFor();
      await expect.poll(() => row.getByTestId('tenant-queued').textContent()).toBe('1');
      await expect.poll(() => row.getByTestId('tenant-running').textContent()).toBe('1');
      expect(await row.locator('td').nth(1).textContent()).toBe('3');
      await shot('overview');

      // Cancelling the hanging job frees the slot: the waiting one runs and the row goes.
      const cancelled = await infq.fetch(`/v1/results/${running}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${key}` },
      });
      expect(cancelled.status).toBe(200);
      expect(await infq.jobFinal(key, queued)).toMatchObject({ status: 'complete', retries: 0 });
      await row.waitFor({ state: 'detached' });
      await expect
        .poll(() => node.getByTestId('node-in-flight').textContent())
        .toBe(`0 / ${NODE_CAPACITY}`);
    }, 90_000);
  });
}
