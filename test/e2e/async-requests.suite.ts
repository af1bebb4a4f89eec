import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import {
  eventually,
  expectOpenAiError,
  Infq,
  type QueueBackendKind,
  type TenantWithKey,
} from '../support/infq-harness.js';
import { hashRequestBody } from '../../src/idempotency/idempotency-key.js';
import { IdempotencyService } from '../../src/idempotency/idempotency.service.js';

/** `Idempotency-Key` and `Cancel-After` through the public API; run once per queue backend. */
export function describeAsyncRequests(backend: QueueBackendKind): void {
  describe(`idempotency and deadlines (${backend} backend)`, () => {
    let fake: FakeBackend;
    let infq: Infq;
    let acme: TenantWithKey;

    beforeAll(async () => {
      fake = await FakeBackend.start({ defaultBehaviour: { type: 'ok', delayMs: 100 } });
      // Keys live 3 s here instead of 24 h, so their end can be seen.
      infq = await Infq.start(backend, [fake], { IDEMPOTENCY_TTL_S: '3' });
      acme = await infq.createTenant({ rpm: 10_000 });
    });

    afterAll(async () => {
      await infq?.close();
      await fake?.close();
    });

    const send = (tenant: TenantWithKey, key: string, prompt: string) =>
      infq.chat(tenant.key, prompt, {}, { 'idempotency-key': key });

    it('makes one job of 100 concurrent requests with one key, charged once', async () => {
      const key = `order-${Date.now()}`;
      const responses = await Promise.all(
        Array.from({ length: 100 }, () => send(acme, key, 'idempotent once')),
      );
      expect(responses.map((response) => response.status)).toEqual(Array(100).fill(202));
      const ids = new Set(
        await Promise.all(
          responses.map(async (response) => ((await response.json()) as { id: string }).id),
        ),
      );
      expect(ids.size).toBe(1);
      const replayed = responses.filter(
        (response) => response.headers.get('idempotent-replayed') === 'true',
      );
      expect(replayed).toHaveLength(99);
      const [id] = [...ids];
      expect((await infq.jobFinal(acme.key, id)).status).toBe('complete');
      expect(fake.completions('idempotent once')).toHaveLength(1);
      // Replays count against no limit: one request in the window.
      const view = await (await infq.admin('GET', `/tenants/${acme.id}`)).json();
      expect(view.usage.requests_this_minute).toBeLessThanOrEqual(2);
    });

    it('takes over a key whose job was never created (its instance died between the claim and the job)', async () => {
      const key = `orphan-${Date.now()}`;
      const prompt = 'idempotent orphan';
      // What a killed instance leaves: the key claimed for a job that was never added.
      const body = JSON.stringify({
        model: 'fake-model',
        messages: [{ role: 'user', content: prompt }],
      });
      const orphan = randomUUID();
      const keys = infq.app.get(IdempotencyService);
      expect(await keys.claim(acme.id, key, hashRequestBody(body), orphan)).toEqual({
        kind: 'new',
      });

      const response = await send(acme, key, prompt);
      expect(response.status).toBe(202);
      expect(response.headers.get('idempotent-replayed')).toBeNull();
      const { id } = (await response.json()) as { id: string };
      expect(id).not.toBe(orphan);
      expect((await infq.jobFinal(acme.key, id)).status).toBe('complete');
      expect(fake.completions(prompt)).toHaveLength(1);
    });

    it('refuses a key reused with another body, keeps keys per tenant, and frees them after the TTL', async () => {
      const key = `reuse-${Date.now()}`;
      const first = await send(acme, key, 'idempotent first');
      expect(first.status).toBe(202);
      const { id } = (await first.json()) as { id: string };
      const other = await send(acme, key, 'idempotent other body');
      expect((await expectOpenAiError(other, 422, 'idempotency_key_reused')).param).toBe(
        'Idempotency-Key',
      );
      const globex = await infq.createTenant();
      const theirs = await send(globex, key, 'idempotent first');
      expect(theirs.status).toBe(202);
      expect(((await theirs.json()) as { id: string }).id).not.toBe(id);
      await eventually(async () => {
        const again = await send(acme, key, 'idempotent first');
        expect(again.status).toBe(202);
        expect(again.headers.get('idempotent-replayed')).toBeNull();
        expect(((await again.json()) as { id: string }).id).not.toBe(id);
      }, 6_000);
      await expectOpenAiError(
        await infq.chat(acme.key, 'bad key', {}, { 'idempotency-key': 'x'.repeat(300) }),
        400,
        'invalid_value',
      );
    });

    it('ends a job expired at its Cancel-After deadline: the call is aborted, no retry, slot free', async () => {
      const tenant = await infq.createTenant({ max_concurrent: 1 });
      fake.script('deadline-hang', { type: 'hang' });
      const started = Date.now();
      const response = await infq.chat(tenant.key, 'deadline-hang', {}, { 'cancel-after': '2s' });
      expect(response.status).toBe(202);
      const { id } = (await response.json()) as { id: string };
      expect((await infq.job(tenant.key, id)).expires_at).toBeGreaterThan(started / 1000);
      const call = await fake.waitForRequest((request) => request.prompt === 'deadline-hang');
      const job = await infq.jobUntil(tenant.key, id, (view) => view.status === 'expired', 5_000);
      // The deadline is 2 s: the job ends within half a second of it.
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(job.retries).toBe(0);
      await eventually(() => expect(call.aborted).toBe(true), 1_000);
      expect(fake.completions('deadline-hang')).toHaveLength(1);
      // The slot is free: the next job runs at once.
      const next = await infq.submit(tenant.key, 'after deadline');
      expect((await infq.jobFinal(tenant.key, next)).status).toBe('complete');
      await expectOpenAiError(
        await infq.chat(tenant.key, 'bad deadline', {}, { 'cancel-after': '3d' }),
        400,
        'invalid_value',
      );
    });

    it('answers an SDK request whose deadline passes with 504', async () => {
      fake.script('deadline-sdk', { type: 'hang' });
      const response = await infq.chat(
        acme.key,
        'deadline-sdk',
        {},
        { 'cancel-after': '1s', 'x-stainless-lang': 'js' },
      );
      await expectOpenAiError(response, 504, 'upstream_timeout');
    });

    it('makes one job of an SDK call retried after its connection dropped', async () => {
      let calls = 0;
      // The first attempt reaches infq, then its connection "drops" before the answer arrives.
      const flakyFetch: typeof fetch = async (input, init) => {
        calls++;
        if (calls > 1) return fetch(input, init);
        void fetch(input, init).catch(() => undefined);
        await fake.waitForRequest((request) => request.prompt === 'sdk retried');
        throw new TypeError('fetch failed: connection reset');
      };
      const client = new OpenAI({
        baseURL: `${infq.url}/v1`,
        apiKey: acme.key,
        maxRetries: 2,
        fetch: flakyFetch,
      });
      const completion = await client.chat.completions.create(
        { model: 'fake-model', messages: [{ role: 'user', content: 'sdk retried' }] },
        { headers: { 'Idempotency-Key': `sdk-${Date.now()}` } },
      );
      expect(completion.object).toBe('chat.completion');
      expect(calls).toBe(2);
      expect(fake.completions('sdk retried')).toHaveLength(1);
    });
  });
}
