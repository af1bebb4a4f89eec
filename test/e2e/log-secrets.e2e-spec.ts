import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { ADMIN_TOKEN } from '../support/infq-harness.js';
import { InfqProcess, createTenantAt, isolatedEnvironment } from '../support/infq-process.js';

const ADMIN_EMAIL = 'logs-admin@example.com';
const ADMIN_PASSWORD = 'correct-horse-battery-log-test';
const WRONG_PASSWORD = 'wrong-horse-battery-log-test';
const BUS_API_KEY = 'bus-secret-for-the-log-test-0123';
const METRICS_TOKEN = 'metrics-secret-for-the-log-test-0123';

interface LogLine {
  level: number;
  msg?: string;
  requestId?: string;
  [field: string]: unknown;
}

/** Runs the main flows against the built server (`npm run build`) with every log line captured. */
describe('logs of the main flows', () => {
  let fake: FakeBackend;
  let infq: InfqProcess;
  let drop: () => Promise<void>;
  const secrets: Record<string, string> = {
    ADMIN_TOKEN,
    ADMIN_PASSWORD,
    WRONG_PASSWORD,
    BUS_API_KEY,
    METRICS_TOKEN,
  };
  let output = '';

  beforeAll(async () => {
    fake = await FakeBackend.start({ models: ['fake-model'] });
    const environment = await isolatedEnvironment('redis', [fake], {
      LOG_LEVEL: 'trace',
      ADMIN_EMAIL,
      ADMIN_PASSWORD,
      BUS_API_KEY,
      METRICS_TOKEN,
    });
    drop = environment.drop;
    infq = await InfqProcess.start(environment.env);
    const url = infq.url;
    const json = { 'content-type': 'application/json' };

    // Admin API with the token: tenant, key, limits change, key list.
    const tenant = await createTenantAt(url);
    secrets.TENANT_KEY = tenant.key;
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, ...json };
    const patched = await fetch(`${url}/admin/api/tenants/${tenant.id}`, {
      method: 'PATCH',
      headers: admin,
      body: JSON.stringify({ limits: { rpm: 500 } }),
    });
    expect(patched.status).toBe(200);
    const issued = await fetch(`${url}/admin/api/tenants/${tenant.id}/keys`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ name: 'second' }),
    });
    const second = (await issued.json()) as { id: string; key: string };
    secrets.SECOND_KEY = second.key;

    // Jobs: queued and polled, wait mode, a stream, with each way of sending a key.
    const submitted = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tenant.key}`,
        'x-request-id': 'log-test-submit',
        ...json,
      },
      body: JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    const waited = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'x-api-key': second.key, prefer: 'wait', ...json },
      body: JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'wait' }] }),
    });
    expect(waited.status).toBe(200);
    const streamed = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.key}`, ...json },
      body: JSON.stringify({
        model: 'fake-model',
        stream: true,
        messages: [{ role: 'user', content: 'stream' }],
      }),
    });
    expect(streamed.status).toBe(200);
    await streamed.text();
    for (;;) {
      const job = await fetch(`${url}/v1/results/${id}`, {
        headers: { authorization: `Bearer ${tenant.key}` },
      });
      if (((await job.json()) as { status: string }).status === 'complete') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const revoked = await fetch(`${url}/admin/api/keys/${second.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(revoked.status).toBe(200);
    expect(
      (await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${second.key}` } }))
        .status,
    ).toBe(401);

    // Dashboard sign-in: a failed attempt, then a session used for a read and a change.
    const failed = await fetch(`${url}/admin/api/session`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ email: ADMIN_EMAIL, password: WRONG_PASSWORD }),
    });
    expect(failed.status).toBe(401);
    const signedIn = await fetch(`${url}/admin/api/session`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
    });
    expect(signedIn.status).toBe(201);
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0];
    const { csrf_token: csrf } = (await signedIn.json()) as { csrf_token: string };
    secrets.SESSION_COOKIE = cookie.split('=')[1];
    secrets.CSRF_TOKEN = csrf;
    const session = { cookie, 'x-csrf-token': csrf, ...json };
    expect((await fetch(`${url}/admin/api/tenants`, { headers: session })).status).toBe(200);
    const suspended = await fetch(`${url}/admin/api/tenants/${tenant.id}`, {
      method: 'PATCH',
      headers: session,
      body: JSON.stringify({ status: 'suspended' }),
    });
    expect(suspended.status).toBe(200);
    const scraped = await fetch(`${url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(scraped.status).toBe(200);
    await scraped.text();

    // Stopping the process flushes everything it wrote.
    const exited = once(infq.child, 'exit');
    infq.child.kill('SIGTERM');
    await exited;
    output = infq.output.join('');
  });

  afterAll(async () => {
    await infq?.kill();
    await drop?.();
    await fake?.close();
  });

  it('holds no key, token or password', () => {
    expect(output.length).toBeGreaterThan(0);
    for (const [name, secret] of Object.entries(secrets)) {
      expect(output.includes(secret), `${name} appears in the logs`).toBe(false);
    }
  });

  it('writes one access line per request, tagged with its request id', () => {
    const lines = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
    const access = lines.filter(
      (line) => line.msg === 'request completed' && line.requestId === 'log-test-submit',
    );
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({
      level: 30,
      method: 'POST',
      route: '/v1/chat/completions',
      status: 202,
    });
    expect(typeof access[0].durationMs).toBe('number');
  });
});
