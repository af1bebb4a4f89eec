import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminsService } from '../../src/admins/admins.service.js';
import { createApp } from '../../src/app.js';
import { createLogger } from '../../src/common/logger.js';
import { FakeBackend } from '../support/fake-backend.js';
import {
  expectOpenAiError,
  Infq,
  QUEUE_BACKENDS,
  type TenantWithKey,
} from '../support/infq-harness.js';

const EMAIL = 'ops@example.com';
const PASSWORD = 'a long enough password';

interface Session {
  cookie: string;
  csrf: string;
  setCookie: string;
}

/** Dashboard sign-in, sessions, CSRF and the admin API's refusals; run once per queue backend. */
describe.each(QUEUE_BACKENDS)('admin authentication (%s backend)', (backend) => {
  let fake: FakeBackend;
  let infq: Infq;
  let second: NestFastifyApplication;
  let secondUrl: string;
  let tenant: TenantWithKey;

  beforeAll(async () => {
    fake = await FakeBackend.start();
    infq = await Infq.start(backend, [fake], { ADMIN_EMAIL: EMAIL, ADMIN_PASSWORD: PASSWORD });
    // A second instance on the same database: sessions must hold across instances.
    second = await createApp(
      infq.config,
      infq.config.database.url!,
      createLogger(infq.config.logLevel),
    );
    await second.listen({ port: 0, host: '127.0.0.1' });
    secondUrl = `http://127.0.0.1:${(second.getHttpServer().address() as { port: number }).port}`;
    tenant = await infq.createTenant();
  });

  afterAll(async () => {
    await second?.close();
    await infq?.close();
    await fake?.close();
  });

  const signIn = async (email = EMAIL, password = PASSWORD, headers = {}): Promise<Response> =>
    infq.fetch('/admin/api/session', { method: 'POST', json: { email, password }, headers });

  const session = async (): Promise<Session> => {
    const response = await signIn();
    expect(response.status).toBe(201);
    const setCookie = response.headers.get('set-cookie')!;
    const body = (await response.json()) as { csrf_token: string };
    return { cookie: setCookie.split(';')[0], csrf: body.csrf_token, setCookie };
  };

  const withSession = (
    s: Session,
    method: string,
    path: string,
    json?: unknown,
    csrf: string | null = s.csrf,
    base = infq.url,
  ): Promise<Response> =>
    fetch(`${base}/admin/api${path}`, {
      method,
      headers: {
        cookie: s.cookie,
        ...(json !== undefined && { 'content-type': 'application/json' }),
        ...(csrf !== null && { 'x-csrf-token': csrf }),
      },
      ...(json !== undefined && { body: JSON.stringify(json) }),
    });

  it('refuses the admin API without a session or ADMIN_TOKEN', async () => {
    await expectOpenAiError(await infq.fetch('/admin/api/tenants'), 401, 'unauthorized');
    await expectOpenAiError(
      await infq.fetch('/admin/api/tenants', { method: 'POST', json: { name: 'nope' } }),
      401,
      'unauthorized',
    );
    await expectOpenAiError(await infq.fetch('/admin/api/session'), 401, 'unauthorized');
    await expectOpenAiError(
      await infq.fetch('/admin/api/tenants', { headers: { authorization: 'Bearer wrong-token' } }),
      401,
      'unauthorized',
    );
    await expectOpenAiError(
      await infq.fetch('/admin/api/tenants', {
        headers: { cookie: 'infq_admin_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
      }),
      401,
      'unauthorized',
    );
  });

  it('never lets a tenant inf_ key in, not even beside a valid session', async () => {
    const s = await session();
    const attempts: Record<string, string>[] = [
      { authorization: `Bearer ${tenant.key}` },
      { 'x-api-key': tenant.key },
      { authorization: `Bearer ${tenant.key}`, cookie: s.cookie, 'x-csrf-token': s.csrf },
    ];
    for (const headers of attempts) {
      await expectOpenAiError(
        await infq.fetch('/admin/api/tenants', { headers }),
        401,
        'invalid_api_key',
      );
    }
  });

  it('keeps ADMIN_TOKEN working for scripts, without any CSRF token', async () => {
    const created = await infq.admin('POST', '/tenants', { name: `script-${backend}` });
    expect(created.status).toBe(201);
    const me = await infq.admin('GET', '/session');
    expect(await me.json()).toEqual({
      via: 'token',
      admin: null,
      csrf_token: null,
      expires_at: null,
    });
  });

  it('signs the first admin (from ADMIN_EMAIL) in with an HttpOnly, SameSite=Strict cookie', async () => {
    const response = await signIn(' OPS@example.com ');
    expect(response.status).toBe(201);
    const cookie = response.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^infq_admin_session=[\w-]{43}; /);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/admin');
    expect(cookie).not.toContain('Secure');
    const body = await response.json();
    expect(body).toEqual({
      via: 'session',
      admin: { id: expect.any(String), email: EMAIL },
      csrf_token: expect.stringMatching(/^[\w-]{43}$/),
      expires_at: expect.any(Number),
    });
  });

  it('marks the cookie Secure behind TLS', async () => {
    const response = await signIn(EMAIL, PASSWORD, { 'x-forwarded-proto': 'https' });
    expect(response.status).toBe(201);
    expect(response.headers.get('set-cookie')).toContain('; Secure');
  });

  it('refuses wrong credentials with one message, and malformed bodies with a 400', async () => {
    const wrong = await expectOpenAiError(
      await signIn(EMAIL, 'not the password'),
      401,
      'unauthorized',
    );
    const unknown = await expectOpenAiError(
      await signIn('nobody@example.com', PASSWORD),
      401,
      'unauthorized',
    );
    expect(wrong.message).toBe(unknown.message);
    await expectOpenAiError(
      await infq.fetch('/admin/api/session', { method: 'POST', json: { email: EMAIL } }),
      400,
      'missing_required_field',
    );
    await expectOpenAiError(
      await infq.fetch('/admin/api/session', {
        method: 'POST',
        json: { email: 'x', password: 'y' },
      }),
      400,
      'invalid_value',
    );
  });

  it('reads with the session alone, and refuses state changes without the CSRF token', async () => {
    const s = await session();
    expect((await withSession(s, 'GET', '/tenants')).status).toBe(200);
    const me = await (await withSession(s, 'GET', '/session')).json();
    expect(me).toMatchObject({ via: 'session', admin: { email: EMAIL }, csrf_token: s.csrf });

    await expectOpenAiError(
      await withSession(s, 'POST', '/tenants', { name: `csrf-${backend}` }, null),
      403,
      'csrf_token_invalid',
    );
    await expectOpenAiError(
      await withSession(s, 'POST', '/tenants', { name: `csrf-${backend}` }, 'forged'),
      403,
      'csrf_token_invalid',
    );
    await expectOpenAiError(
      await withSession(s, 'PATCH', `/tenants/${tenant.id}`, { limits: { rpm: 1 } }, null),
      403,
      'csrf_token_invalid',
    );
    await expectOpenAiError(
      await withSession(s, 'DELETE', `/keys/${tenant.keyId}`, undefined, null),
      403,
      'csrf_token_invalid',
    );
    // Another session's token does not fit this one.
    const other = await session();
    await expectOpenAiError(
      await withSession(s, 'POST', '/tenants', { name: `csrf-${backend}` }, other.csrf),
      403,
      'csrf_token_invalid',
    );
    expect((await withSession(s, 'POST', '/tenants', { name: `csrf-${backend}` })).status).toBe(
      201,
    );
  });

  it('holds a session on every instance, and ends it everywhere on sign-out', async () => {
    const s = await session();
    const onSecond = await withSession(s, 'GET', '/session', undefined, null, secondUrl);
    expect(onSecond.status).toBe(200);
    expect(
      (await withSession(s, 'POST', '/tenants', { name: `second-${backend}` }, s.csrf, secondUrl))
        .status,
    ).toBe(201);

    await expectOpenAiError(
      await withSession(s, 'DELETE', '/session', undefined, null),
      403,
      'csrf_token_invalid',
    );
    const out = await withSession(s, 'DELETE', '/session', undefined, s.csrf, secondUrl);
    expect(out.status).toBe(200);
    expect(await out.json()).toEqual({ signed_out: true });
    expect(out.headers.get('set-cookie')).toMatch(/^infq_admin_session=; .*Max-Age=0/);
    for (const base of [infq.url, secondUrl]) {
      await expectOpenAiError(
        await withSession(s, 'GET', '/tenants', undefined, null, base),
        401,
        'unauthorized',
      );
    }
  });

  it('signs in admins created later (CLI path) and rejects duplicates', async () => {
    const admins = infq.app.get(AdminsService);
    await admins.create('Second@Example.com', 'another long password');
    await expect(admins.create('second@example.com', 'another long password')).rejects.toThrow(
      /already exists/,
    );
    await expect(admins.create('third@example.com', 'short')).rejects.toThrow(/12 characters/);
    expect((await signIn('second@example.com', 'another long password')).status).toBe(201);

    const s = await session();
    await admins.setPassword(EMAIL, PASSWORD);
    // A new password signs the admin out everywhere.
    await expectOpenAiError(await withSession(s, 'GET', '/tenants'), 401, 'unauthorized');
  });

  it('slows password guessing for one email, counted across every instance', async () => {
    const target = `guess-${backend}@example.com`;
    const admins = infq.app.get(AdminsService);
    await admins.create(target, 'the real password here');
    const guessAt = (url: string, password: string): Promise<Response> =>
      fetch(`${url}/admin/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: target, password }),
      });
    // 16 guesses at once, half through each instance: exactly 10 are checked, 6 refused.
    const statuses = await Promise.all(
      Array.from({ length: 16 }, (_, index) =>
        guessAt(index % 2 ? secondUrl : infq.url, `guess ${index}`).then((r) => r.status),
      ),
    );
    expect(statuses.filter((status) => status === 401)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(6);
    for (const url of [infq.url, secondUrl]) {
      const refused = await guessAt(url, 'the real password here');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(800);
      await expectOpenAiError(refused, 429, 'rate_limit_exceeded');
    }
    // An operator setting a new password lifts the block.
    await admins.setPassword(target, 'a brand new real password');
    expect((await guessAt(secondUrl, 'a brand new real password')).status).toBe(201);
  });
});
