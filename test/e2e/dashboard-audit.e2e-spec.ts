import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { Infq, type TenantWithKey } from '../support/infq-harness.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = resolve(import.meta.dirname, '../artifacts');
const UI_BUILD = resolve(import.meta.dirname, '../../admin-ui/dist/index.html');
const EMAIL = 'audit-page@example.com';
const PASSWORD = 'audit page test password';

/** The dashboard's audit page in a real browser, checked against `GET /admin/api/audit`. */
describe('audit page in a browser', () => {
  let fake: FakeBackend;
  let infq: Infq;
  let browser: Browser;
  let page: Page;
  let acme: TenantWithKey;
  let globex: TenantWithKey;

  beforeAll(async () => {
    if (!existsSync(UI_BUILD)) throw new Error('admin-ui is not built: run "npm run build" first');
    if (!existsSync(CHROMIUM)) {
      throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    fake = await FakeBackend.start();
    infq = await Infq.start('postgres', [fake], { ADMIN_EMAIL: EMAIL, ADMIN_PASSWORD: PASSWORD });
    // Changes by a script with ADMIN_TOKEN: two tenants with a key each, one key revoked.
    acme = await infq.createTenant();
    globex = await infq.createTenant();
    expect((await infq.admin('DELETE', `/keys/${globex.keyId}`)).status).toBe(200);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
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

  const rows = () => page.locator('tr[data-audit-id]');
  const column = (index: number) =>
    rows().evaluateAll(
      (cells, at) => cells.map((row) => row.children[at]?.textContent?.trim() ?? ''),
      index,
    );
  const apiActions = async (query: string): Promise<string[]> => {
    const response = await infq.admin('GET', `/audit${query}`);
    const body = (await response.json()) as { data: { action: string }[] };
    return body.data.map((entry) => entry.action);
  };

  it('lists admin actions newest first and filters them by action, actor and tenant', async () => {
    await page.goto(`${infq.url}/admin/`);
    await page.waitForURL(/\/admin\/sign-in/);
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();

    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    await rows().first().waitFor();
    // Newest first: this sign-in, then the script's changes, the last of them first.
    expect(await column(2)).toEqual(await apiActions(''));
    expect((await column(2)).slice(0, 2)).toEqual(['admin.signed_in', 'key.revoked']);
    expect((await column(1))[0]).toBe(EMAIL);
    await page.screenshot({ path: resolve(ARTIFACTS, 'dashboard-audit.png'), fullPage: true });

    await page.locator('select[name=action]').selectOption('key.revoked');
    await expect.poll(() => column(2)).toEqual(['key.revoked']);
    expect(await column(4)).toEqual([globex.name]);
    expect(page.url()).toContain('action=key.revoked');

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.locator('input[name=actor]').fill('token');
    await page.getByRole('button', { name: 'Apply' }).click();
    const byToken = await apiActions('?actor=token');
    expect(byToken).toHaveLength(5);
    await expect.poll(() => column(2)).toEqual(byToken);
    expect(new Set(await column(1))).toEqual(new Set(['token']));

    await page.locator('select[name=tenant]').selectOption(acme.id);
    await expect.poll(() => column(2)).toEqual(['key.issued', 'tenant.created']);
    expect(new Set(await column(4))).toEqual(new Set([acme.name]));

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.locator('select[name=action]').selectOption('webhook.deleted');
    await page.getByText('No entries match these filters').waitFor();
  });
});
