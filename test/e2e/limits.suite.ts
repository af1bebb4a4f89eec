import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import {
  eventually,
  expectOpenAiError,
  Infq,
  type QueueBackendKind,
} from '../support/infq-harness.js';

/** Per-tenant limits through the public API; run once per queue backend. */
export function describeLimits(backend: QueueBackendKind): void {
  describe(`per-tenant limits (${backend} backend)`, () => {
    let fake: FakeBackend;
    let infq: Infq;

    beforeAll(async () => {
      fake = await FakeBackend.start();
      infq = await Infq.start(backend, [fake]);
    });

    afterAll(async () => {
      await infq?.close();
      await fake?.close();
    });

    const cancel = (key: string, id: string) =>
      infq.fetch(`/v1/results/${id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${key}` },
      });

    it('refuses the 4th request in a minute for an rpm-3 tenant, with Retry-After and headers', async () => {
      const tenant = await infq.createTenant({ rpm: 3, tokens_per_day: 5000 });
      const remaining: string[] = [];
      for (let index = 0; index < 3; index++) {
        const response = await infq.chat(tenant.key, `rpm ${index}`);
        expect(response.status).toBe(202);
        expect(response.headers.get('x-ratelimit-limit-requests')).toBe('3');
        expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('5000');
        expect(Number(response.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThanOrEqual(
          5000,
        );
        expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(
          /^\d+(ms|s)$|^\d+m\d+s$/,
        );
        expect(response.headers.get('x-ratelimit-reset-tokens')).toMatch(
          /^(\d+h)?(\d+m)?\d+(ms|s)$/,
        );
        remaining.push(response.headers.get('x-ratelimit-remaining-requests')!);
      }
      expect(remaining).toEqual(['2', '1', '0']);
      const refused = await infq.chat(tenant.key, 'rpm 4');
      expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      const retryAfter = Number(refused.headers.get('retry-after'));
      await expectOpenAiError(refused, 429, 'rate_limit_exceeded');
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // Refused requests do not count: the window still holds exactly three.
      const usage = await (await infq.admin('GET', `/tenants/${tenant.id}`)).json();
      expect(usage.usage.requests_this_minute).toBe(3);
    });

    it('queues jobs past max_concurrent and frees the slot when a job ends in any way', async () => {
      const tenant = await infq.createTenant({ max_concurrent: 2, rpm: 100 });
      fake.script('conc-hang', { type: 'hang' });
      fake.script('conc-dead', { type: 'status', status: 400 });
      const first = await infq.submit(tenant.key, 'conc-hang 1');
      const second = await infq.submit(tenant.key, 'conc-hang 2');
      // A third job is accepted and waits for a slot instead of being refused.
      const third = await infq.submit(tenant.key, 'conc-fast');
      await eventually(() => expect(fake.completions('conc-hang')).toHaveLength(2));
      expect((await infq.job(tenant.key, third)).queue_position).toBe(1);
      // Cancelled: its slot goes to the waiting job.
      expect((await cancel(tenant.key, first)).status).toBe(200);
      expect((await infq.jobFinal(tenant.key, third)).status).toBe('complete');
      const dying = await infq.submit(tenant.key, 'conc-dead');
      expect((await infq.jobFinal(tenant.key, dying)).status).toBe('dead');
      expect((await cancel(tenant.key, second)).status).toBe(200);
      await eventually(async () => {
        const usage = await (await infq.admin('GET', `/tenants/${tenant.id}`)).json();
        expect(usage.usage).toMatchObject({ open_jobs: 0, queued_jobs: 0 });
      }, 2_000);
    });

    it('refuses a tenant past its daily tokens until the next UTC day', async () => {
      const tenant = await infq.createTenant({ tokens_per_day: 100 });
      fake.script('token-hog', { type: 'ok', totalTokens: 120 });
      const id = await infq.submit(tenant.key, 'token-hog');
      await infq.jobFinal(tenant.key, id);
      const refused = await infq.chat(tenant.key, 'one more');
      const midnight = new Date();
      midnight.setUTCHours(24, 0, 0, 0);
      const untilMidnight = (midnight.getTime() - Date.now()) / 1000;
      expect(
        Math.abs(Number(refused.headers.get('retry-after')) - untilMidnight),
      ).toBeLessThanOrEqual(3);
      expect(refused.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
      await expectOpenAiError(refused, 429, 'daily_token_limit_exceeded');
      await eventually(async () => {
        const view = await (await infq.admin('GET', `/tenants/${tenant.id}`)).json();
        expect(view.usage).toEqual({
          requests_this_minute: 1,
          tokens_today: 120,
          tokens_reserved: 0,
          open_jobs: 0,
          queued_jobs: 0,
        });
      }, 2_000);
    });

    it('counts open streams toward concurrency and their tokens toward the day', async () => {
      // A stream needs a free slot at once; a job sent meanwhile waits for the stream to end.
      const tenant = await infq.createTenant({ max_concurrent: 1, tokens_per_day: 10_000 });
      fake.script('slow-stream', {
        type: 'stream',
        tokens: ['a', 'b', 'c', 'd'],
        intervalMs: 150,
        totalTokens: 77,
      });
      const stream = await infq.chat(tenant.key, 'slow-stream', { stream: true });
      expect(stream.status).toBe(200);
      expect(stream.headers.get('x-ratelimit-limit-requests')).toBeTruthy();
      await expectOpenAiError(
        await infq.chat(tenant.key, 'while streaming', { stream: true }),
        429,
        'concurrency_limit_exceeded',
      );
      const waiting = await infq.submit(tenant.key, 'while streaming');
      expect(fake.completions('while streaming')).toHaveLength(0);
      const text = await stream.text();
      expect(text).toContain('[DONE]');
      // The usage chunk was requested upstream for counting, not by this client: not forwarded.
      expect(text).not.toContain('"usage"');
      await eventually(async () => {
        const view = await (await infq.admin('GET', `/tenants/${tenant.id}`)).json();
        expect(view.usage.tokens_today).toBeGreaterThanOrEqual(77);
      }, 2_000);
      expect((await infq.jobFinal(tenant.key, waiting)).status).toBe('complete');
    });

    it('applies a changed limit within 1 s', async () => {
      const tenant = await infq.createTenant({ rpm: 100 });
      expect((await infq.chat(tenant.key, 'before change')).status).toBe(202);
      const patched = await infq.admin('PATCH', `/tenants/${tenant.id}`, { limits: { rpm: 1 } });
      expect(patched.status).toBe(200);
      expect((await patched.json()).limits.rpm).toBe(1);
      await eventually(
        async () =>
          expectOpenAiError(
            await infq.chat(tenant.key, 'after change'),
            429,
            'rate_limit_exceeded',
          ),
        1_000,
      );
    });

    it('validates limits on create and patch', async () => {
      await expectOpenAiError(
        await infq.admin('POST', '/tenants', { name: 'bad-limits', limits: { rpm: 0 } }),
        400,
        'invalid_value',
      );
      const tenant = await infq.createTenant();
      const response = await infq.admin('PATCH', `/tenants/${tenant.id}`, {
        limits: { max_concurrent: 'many' },
      });
      expect((await expectOpenAiError(response, 400, 'invalid_value')).param).toBe(
        'limits.max_concurrent',
      );
    });
  });
}
