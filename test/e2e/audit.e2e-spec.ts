import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { expectOpenAiError, Infq } from '../support/infq-harness.js';

const ADMIN_EMAIL = 'auditor@example.com';
const ADMIN_PASSWORD = 'correct-horse-audit-battery';

interface AuditEntry {
  id: string;
  object: 'audit_entry';
  created_at: number;
  actor: string;
  action: string;
  object_type: string;
  object_id: string;
  tenant_id: string | null;
  details: Record<string, unknown>;
  address: string | null;
}
interface AuditPage {
  object: 'list';
  data: AuditEntry[];
  next_cursor: string | null;
}

/** The audit log of admin actions; it lives in PostgreSQL only, so one queue backend suffices. */
describe('audit log', () => {
  let fake: FakeBackend;
  let infq: Infq;

  const audit = async (query = ''): Promise<AuditPage> => {
    const response = await infq.admin('GET', `/audit${query}`);
    expect(response.status).toBe(200);
    return (await response.json()) as AuditPage;
  };
  const signIn = (password: string) =>
    infq.fetch('/admin/api/session', {
      method: 'POST',
      json: { email: ADMIN_EMAIL, password },
    });

  beforeAll(async () => {
    fake = await FakeBackend.start();
    infq = await Infq.start('postgres', [fake], { ADMIN_EMAIL, ADMIN_PASSWORD });
  });

  afterAll(async () => {
    await infq?.close();
    await fake?.close();
  });

  it('records tenant and key changes made with ADMIN_TOKEN, newest first, without secrets', async () => {
    const tenant = await infq.createTenant();
    const patched = await infq.admin('PATCH', `/tenants/${tenant.id}`, {
      limits: { rpm: 77 },
      status: 'suspended',
    });
    expect(patched.status).toBe(200);
    expect((await infq.admin('DELETE', `/keys/${tenant.keyId}`)).status).toBe(200);
    // Revoking again changes nothing, so records nothing.
    expect((await infq.admin('DELETE', `/keys/${tenant.keyId}`)).status).toBe(200);

    const page = await audit(`?tenant=${tenant.id}`);
    expect(page.next_cursor).toBeNull();
    expect(page.data.map((entry) => entry.action)).toEqual([
      'key.revoked',
      'tenant.updated',
      'key.issued',
      'tenant.created',
    ]);
    for (const entry of page.data) {
      expect(entry).toMatchObject({
        object: 'audit_entry',
        actor: 'token',
        tenant_id: tenant.id,
        address: '127.0.0.1',
      });
      expect(Math.abs(entry.created_at - Date.now() / 1000)).toBeLessThan(60);
    }
    const [revoked, updated, issued, created] = page.data;
    expect(created).toMatchObject({ object_type: 'tenant', object_id: tenant.id });
    expect(created.details).toMatchObject({ name: tenant.name });
    expect(updated.details).toEqual({ limits: { rpm: 77 }, status: 'suspended' });
    expect(issued).toMatchObject({ object_type: 'api_key', object_id: tenant.keyId });
    expect(revoked).toMatchObject({ object_type: 'api_key', object_id: tenant.keyId });
    expect(JSON.stringify(page)).not.toContain(tenant.key);
    expect(BigInt(revoked.id)).toBeGreaterThan(BigInt(created.id));
  });

  it('writes nothing when the change fails (same transaction)', async () => {
    const tenant = await infq.createTenant();
    const duplicate = await infq.admin('POST', '/tenants', { name: tenant.name });
    await expectOpenAiError(duplicate, 409, 'conflict');
    const created = await audit(`?action=tenant.created&tenant=${tenant.id}`);
    expect(created.data).toHaveLength(1);
    const all = await audit('?action=tenant.created&limit=200');
    expect(all.data.filter((entry) => entry.details.name === tenant.name)).toHaveLength(1);
  });

  it('records sign-ins and failed sign-ins, and names the signed-in admin as the actor', async () => {
    const failed = await signIn('not-the-password-at-all');
    expect(failed.status).toBe(401);
    const signedIn = await signIn(ADMIN_PASSWORD);
    expect(signedIn.status).toBe(201);
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0];
    const { csrf_token: csrf } = (await signedIn.json()) as { csrf_token: string };
    const name = `t-${randomBytes(5).toString('hex')}`;
    const created = await infq.fetch('/admin/api/tenants', {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': csrf },
      json: { name },
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };

    const mine = await audit(`?actor=${encodeURIComponent(ADMIN_EMAIL)}&limit=3`);
    expect(mine.data.map((entry) => entry.action)).toEqual([
      'tenant.created',
      'admin.signed_in',
      'admin.sign_in_failed',
    ]);
    expect(mine.data[0]).toMatchObject({ tenant_id: id, address: '127.0.0.1' });
    expect(mine.data[1]).toMatchObject({ object_type: 'admin', tenant_id: null });
    expect(mine.data[2].details).toEqual({ reason: 'wrong_password' });
    expect(JSON.stringify(mine)).not.toContain('not-the-password-at-all');
    // The session reads the log too.
    const read = await infq.fetch('/admin/api/audit?limit=1', { headers: { cookie } });
    expect(read.status).toBe(200);
  });

  it('records dead letters requeued and jobs deleted', async () => {
    const tenant = await infq.createTenant();
    fake.script('audit-dead', { type: 'status', status: 400, message: 'refused' });
    const id = await infq.submit(tenant.key, 'audit-dead');
    expect((await infq.jobFinal(tenant.key, id)).status).toBe('dead');
    expect((await infq.admin('POST', `/jobs/${id}/retry`)).status).toBe(200);
    expect((await infq.jobFinal(tenant.key, id)).status).toBe('dead');
    expect((await infq.admin('DELETE', `/jobs/${id}`)).status).toBe(200);
    // A refused requeue (the job is gone) records nothing.
    expect((await infq.admin('POST', `/jobs/${id}/retry`)).status).toBe(404);

    const entries = (await audit('?limit=200')).data.filter((entry) => entry.object_id === id);
    expect(entries.map((entry) => [entry.action, entry.object_type, entry.actor])).toEqual([
      ['job.deleted', 'job', 'token'],
      ['dead_letter.requeued', 'job', 'token'],
    ]);
  });

  it('pages newest first with a cursor, and filters by actor, action and tenant', async () => {
    const everything = await audit('?limit=200');
    expect(everything.data.length).toBeGreaterThanOrEqual(8);
    const ids = everything.data.map((entry) => BigInt(entry.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));

    const paged: AuditEntry[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page = await audit(`?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.data.length).toBeLessThanOrEqual(3);
      paged.push(...page.data);
      cursor = page.next_cursor;
    }
    expect(paged).toEqual(everything.data);

    const revocations = await audit('?action=key.revoked');
    expect(revocations.data.length).toBeGreaterThan(0);
    expect(revocations.data.every((entry) => entry.action === 'key.revoked')).toBe(true);
    const tokens = await audit('?actor=token');
    expect(tokens.data.every((entry) => entry.actor === 'token')).toBe(true);
  });

  it('refuses tenant keys, missing credentials and bad parameters', async () => {
    const tenant = await infq.createTenant();
    await expectOpenAiError(await infq.fetch('/admin/api/audit'), 401, 'unauthorized');
    await expectOpenAiError(
      await infq.fetch('/admin/api/audit', { headers: { authorization: `Bearer ${tenant.key}` } }),
      401,
      'invalid_api_key',
    );
    for (const query of ['?limit=0', '?limit=201', '?cursor=abc', '?tenant=nope']) {
      await expectOpenAiError(await infq.admin('GET', `/audit${query}`), 400, 'invalid_value');
    }
  });
});
