import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobEventsService } from '../../src/jobs/job-events.service.js';
import { FakeBackend } from '../support/fake-backend.js';
import {
  eventually,
  expectOpenAiError,
  Infq,
  type JobBody,
  type QueueBackendKind,
  type TenantWithKey,
} from '../support/infq-harness.js';

/** The documented queued flow, end to end; run once per queue backend. */
export function describeQueueFlow(backend: QueueBackendKind): void {
  describe(`queued chat completions (${backend} backend)`, () => {
    let fake: FakeBackend;
    let infq: Infq;
    let acme: TenantWithKey;
    let globex: TenantWithKey;

    beforeAll(async () => {
      fake = await FakeBackend.start({ models: ['fake-model'] });
      infq = await Infq.start(backend, [fake]);
      acme = await infq.createTenant();
      globex = await infq.createTenant();
    });

    afterAll(async () => {
      await infq?.close();
      await fake?.close();
    });

    it('answers /health without a key', async () => {
      const response = await infq.fetch('/health');
      expect(response.status).toBe(200);
      const body = await response.json();
      expect(body).toMatchObject({ status: 'ok', database: 'ok', queue: { backend } });
      expect(body.queue).toHaveProperty('queued');
      expect(body.upstreams.bus).toEqual({ nodes: 1, healthy: 1 });
    });

    it('queues a request and completes it with the backend answer verbatim', async () => {
      const response = await infq.chat(acme.key, 'documented flow');
      expect(response.status).toBe(202);
      const body = await response.json();
      expect(body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        status: 'queued',
        poll: `/v1/results/${body.id}`,
      });
      expect(response.headers.get('location')).toBe(`/v1/results/${body.id}`);

      const job = await infq.jobFinal(acme.key, body.id);
      expect(job).toMatchObject({
        id: body.id,
        object: 'chat.completion.job',
        status: 'complete',
        model: 'fake-model',
        retries: 0,
        error: null,
        next_retry_at: null,
      });
      expect(job.completed_at).toBeGreaterThanOrEqual(job.created_at);
      const sent = fake.completions('documented flow')[0];
      expect(sent.body).toMatchObject({
        model: 'fake-model',
        messages: [{ role: 'user', content: 'documented flow' }],
      });
      const raw = await (
        await infq.fetch(`/v1/results/${body.id}`, { headers: { 'x-api-key': acme.key } })
      ).text();
      expect(raw).toContain(`"result":${sent.responseBody}`);
    });

    it('passes unknown fields through to the backend untouched', async () => {
      const id = (
        await (
          await infq.chat(acme.key, 'passthrough', {
            temperature: 0.25,
            seed: 7,
            custom: { a: [1, 'b'] },
          })
        ).json()
      ).id as string;
      await infq.jobFinal(acme.key, id);
      expect(fake.completions('passthrough')[0].body).toMatchObject({
        temperature: 0.25,
        seed: 7,
        custom: { a: [1, 'b'] },
      });
    });

    it('accepts the key as Bearer or X-API-Key, and refuses them when they disagree', async () => {
      const viaHeader = await infq.fetch('/v1/chat/completions', {
        method: 'POST',
        headers: { 'x-api-key': acme.key },
        json: { model: 'fake-model', messages: [{ role: 'user', content: 'x-api-key' }] },
      });
      expect(viaHeader.status).toBe(202);
      const both = await infq.chat(acme.key, 'both', {}, { 'x-api-key': globex.key });
      await expectOpenAiError(both, 401, 'invalid_api_key');
    });

    it('refuses missing, malformed and unknown keys with 401', async () => {
      const body = { model: 'fake-model', messages: [{ role: 'user', content: 'no' }] };
      await expectOpenAiError(
        await infq.fetch('/v1/chat/completions', { method: 'POST', json: body }),
        401,
        'missing_api_key',
      );
      await expectOpenAiError(await infq.chat('inf_short', 'no'), 401, 'invalid_api_key');
      await expectOpenAiError(
        await infq.chat('sk-not-an-infq-key-000000000000000000', 'no'),
        401,
        'invalid_api_key',
      );
      await expectOpenAiError(
        await infq.chat(`inf_${'x'.repeat(40)}`, 'no'),
        401,
        'invalid_api_key',
      );
      await expectOpenAiError(
        await infq.fetch('/v1/results/00000000-0000-4000-8000-000000000000'),
        401,
        'missing_api_key',
      );
    });

    it('refuses a revoked key within 1 s', async () => {
      const tenant = await infq.createTenant();
      expect((await infq.chat(tenant.key, 'before revoke')).status).toBe(202);
      expect((await infq.admin('DELETE', `/keys/${tenant.keyId}`)).status).toBe(200);
      const revokedAt = Date.now();
      await eventually(
        async () =>
          expectOpenAiError(await infq.chat(tenant.key, 'after revoke'), 401, 'invalid_api_key'),
        1_000,
      );
      expect(Date.now() - revokedAt).toBeLessThan(1_000);
    });

    it('refuses a suspended tenant with 403 and accepts it again once resumed', async () => {
      const tenant = await infq.createTenant();
      expect((await infq.chat(tenant.key, 'warm cache')).status).toBe(202);
      expect(
        (await infq.admin('PATCH', `/tenants/${tenant.id}`, { status: 'suspended' })).status,
      ).toBe(200);
      await eventually(
        async () =>
          expectOpenAiError(await infq.chat(tenant.key, 'suspended'), 403, 'tenant_suspended'),
        1_000,
      );
      expect(
        (await infq.admin('PATCH', `/tenants/${tenant.id}`, { status: 'active' })).status,
      ).toBe(200);
      await eventually(
        async () => expect((await infq.chat(tenant.key, 'resumed')).status).toBe(202),
        1_000,
      );
    });

    it("answers 404 for another tenant's job, unknown and malformed ids", async () => {
      const id = await infq.submit(acme.key, 'private job');
      const auth = { authorization: `Bearer ${globex.key}` };
      await expectOpenAiError(
        await infq.fetch(`/v1/results/${id}`, { headers: auth }),
        404,
        'job_not_found',
      );
      await expectOpenAiError(
        await infq.fetch(`/v1/results/${id}`, { method: 'DELETE', headers: auth }),
        404,
        'job_not_found',
      );
      await expectOpenAiError(
        await infq.fetch('/v1/results/00000000-0000-4000-8000-000000000000', { headers: auth }),
        404,
        'job_not_found',
      );
      await expectOpenAiError(
        await infq.fetch('/v1/results/not-a-uuid', { headers: auth }),
        404,
        'job_not_found',
      );
      expect((await infq.jobFinal(acme.key, id)).status).toBe('complete');
    });

    it('completes a job that fails twice with retries: 2', async () => {
      fake.script(
        'fail-twice',
        { type: 'status', status: 503 },
        { type: 'status', status: 502 },
        { type: 'ok' },
      );
      const id = await infq.submit(acme.key, 'fail-twice');
      const job = await infq.jobFinal(acme.key, id);
      expect(job).toMatchObject({ status: 'complete', retries: 2 });
      expect(fake.completions('fail-twice')).toHaveLength(3);
    });

    it('marks a job that always fails dead after MAX_RETRIES, naming the status', async () => {
      fake.script('always-fail', { type: 'status', status: 503, message: 'node overloaded' });
      const id = await infq.submit(acme.key, 'always-fail');
      const job = await infq.jobFinal(acme.key, id);
      expect(job).toMatchObject({
        status: 'dead',
        retries: infq.config.retry.maxRetries,
        result: null,
      });
      expect(job.error).toContain('503');
      expect(fake.completions('always-fail')).toHaveLength(infq.config.retry.maxRetries + 1);
    });

    it('marks a job dead at once on a backend 400, with retries: 0', async () => {
      fake.script('client-error', { type: 'status', status: 400, message: 'bad prompt' });
      const id = await infq.submit(acme.key, 'client-error');
      const job = await infq.jobFinal(acme.key, id);
      expect(job).toMatchObject({ status: 'dead', retries: 0 });
      expect(job.error).toContain('400');
      expect(job.error).toContain('bad prompt');
      expect(fake.completions('client-error')).toHaveLength(1);
    });

    it('waits for a longer Retry-After before retrying', async () => {
      fake.script('retry-after', { type: 'status', status: 503, retryAfter: '2' }, { type: 'ok' });
      const id = await infq.submit(acme.key, 'retry-after');
      // Four clients read the job back to back through the failed attempt: no read may show it
      // still processing with the new retry count, nor queued for a retry without its time.
      let waiting: JobBody | undefined;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (!waiting) {
            const job = await infq.job(acme.key, id);
            if (job.retries === 0) {
              expect(['queued', 'processing']).toContain(job.status);
              continue;
            }
            expect(job).toMatchObject({ status: 'queued', retries: 1 });
            expect(job.error).toContain('503');
            waiting ??= job;
          }
        }),
      );
      expect(waiting!.next_retry_at).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
      const job = await infq.jobFinal(acme.key, id);
      expect(job).toMatchObject({ status: 'complete', retries: 1 });
      const [first, second] = fake.completions('retry-after');
      // RETRY_BASE_MS is 100 ms in tests, so only Retry-After explains a 2 s gap.
      expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(1_950);
    });

    it('cancels a processing job: the backend request is aborted and the job stays cancelled', async () => {
      fake.script('hang-me', { type: 'hang' });
      const id = await infq.submit(acme.key, 'hang-me');
      await fake.waitForRequest((request) => request.prompt === 'hang-me');
      const cancelledAt = Date.now();
      const response = await infq.fetch(`/v1/results/${id}`, {
        method: 'DELETE',
        // Labelled JSON without a body, as many HTTP clients send every request.
        headers: { authorization: `Bearer ${acme.key}`, 'content-type': 'application/json' },
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ id, status: 'cancelled', result: null });
      const aborted = await fake.waitForAbort((request) => request.prompt === 'hang-me', 1_000);
      expect(aborted.aborted).toBe(true);
      expect(Date.now() - cancelledAt).toBeLessThan(1_500);
      const again = await infq.fetch(`/v1/results/${id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${acme.key}` },
      });
      expect(again.status).toBe(200);
      const job = await infq.job(acme.key, id);
      expect(job.status).toBe('cancelled');
      expect(fake.completions('hang-me')).toHaveLength(1);
    });

    it('delivers every cancel signal when 400 are sent 8 at a time', async () => {
      const events = infq.app.get(JobEventsService);
      const sent = Array.from({ length: 400 }, (_, index) => `signal-${randomUUID()}-${index}`);
      const heard = new Set<string>();
      const stop = events.onCancelRequested((jobId) => heard.add(jobId));
      try {
        let next = 0;
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            while (next < sent.length) await events.requestCancel(sent[next++]);
          }),
        );
        await eventually(() => expect(sent.filter((id) => !heard.has(id))).toEqual([]), 5_000);
      } finally {
        stop();
      }
    });

    it('hears every one of 30 cancels sent at once, and every ending, while other jobs finish around them', async () => {
      fake.script('hang-many', { type: 'hang' });
      const tenant = await infq.createTenant({ max_concurrent: 200 });
      const hanging = await Promise.all(
        Array.from({ length: 30 }, (_, index) => infq.submit(tenant.key, `hang-many ${index}`)),
      );
      const open = () =>
        fake.completions('hang-many').filter((request) => !request.finished && !request.aborted);
      await eventually(() => expect(open()).toHaveLength(30));
      // Jobs ending while the cancels travel: their endings and the cancels cross in the queue.
      const waitStartedAt = Date.now();
      const waiting = Promise.all(
        Array.from({ length: 60 }, async (_, index) => {
          const response = await infq.chat(
            tenant.key,
            `around ${index}`,
            {},
            { prefer: 'wait=30' },
          );
          return { status: response.status, ms: Date.now() - waitStartedAt };
        }),
      );
      const cancels = await Promise.all(
        hanging.map((id) =>
          infq.fetch(`/v1/results/${id}`, {
            method: 'DELETE',
            headers: { authorization: `Bearer ${tenant.key}` },
          }),
        ),
      );
      expect(cancels.map((response) => response.status)).toEqual(Array(30).fill(200));
      // Every backend request is aborted, none left open until the upstream timeout.
      await eventually(() => expect(open()).toHaveLength(0), 5_000);
      // Every waiting client heard its job end: none ran out its 30 s wait.
      const answers = await waiting;
      expect(answers.map((answer) => answer.status)).toEqual(Array(60).fill(200));
      expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(20_000);
    });

    it('cancels a job waiting for its retry', async () => {
      fake.script('cancel-queued', { type: 'status', status: 503, retryAfter: '60' });
      const id = await infq.submit(acme.key, 'cancel-queued');
      await infq.jobUntil(acme.key, id, (job) => job.retries === 1);
      const response = await infq.fetch(`/v1/results/${id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${acme.key}` },
      });
      expect(response.status).toBe(200);
      expect((await response.json()).status).toBe('cancelled');
      expect((await infq.jobFinal(acme.key, id)).status).toBe('cancelled');
      expect(fake.completions('cancel-queued')).toHaveLength(1);
    });

    it('refuses to cancel a complete job with 409', async () => {
      const id = await infq.submit(acme.key, 'done already');
      await infq.jobFinal(acme.key, id);
      const response = await infq.fetch(`/v1/results/${id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${acme.key}` },
      });
      await expectOpenAiError(response, 409, 'job_not_cancellable');
    });

    it('lists dead jobs for admins and completes one that an admin requeues', async () => {
      fake.script(
        'requeue-me',
        { type: 'status', status: 422, message: 'not today' },
        { type: 'ok' },
      );
      const id = await infq.submit(acme.key, 'requeue-me');
      expect((await infq.jobFinal(acme.key, id)).status).toBe('dead');

      const list = await infq.admin('GET', `/dead-letters?tenant=${acme.id}&model=fake-model`);
      expect(list.status).toBe(200);
      const dead = (await list.json()).data.find((item: { id: string }) => item.id === id);
      expect(dead).toMatchObject({
        id,
        status: 'dead',
        retries: 0,
        tenant_id: acme.id,
        request: { model: 'fake-model' },
      });
      expect(dead.error).toContain('422');

      const retry = await infq.admin('POST', `/jobs/${id}/retry`);
      expect(retry.status).toBe(200);
      const job = await infq.jobFinal(acme.key, id);
      expect(job).toMatchObject({ status: 'complete', retries: 0 });

      const deleted = await infq.admin('DELETE', `/jobs/${id}`);
      expect(deleted.status).toBe(200);
      await expectOpenAiError(
        await infq.fetch(`/v1/results/${id}`, { headers: { authorization: `Bearer ${acme.key}` } }),
        404,
        'job_not_found',
      );
    });

    it('keeps tenant keys out of the admin API', async () => {
      await expectOpenAiError(
        await infq.fetch('/admin/api/tenants', {
          headers: { authorization: `Bearer ${acme.key}` },
        }),
        401,
        'invalid_api_key',
      );
      await expectOpenAiError(await infq.fetch('/admin/api/tenants'), 401, 'unauthorized');
      await expectOpenAiError(
        await infq.fetch('/admin/api/tenants', {
          headers: { authorization: 'Bearer wrong-token-0000000000' },
        }),
        401,
        'unauthorized',
      );
    });

    it('answers bad input with 4xx in the error shape', async () => {
      const auth = { authorization: `Bearer ${acme.key}` };
      const post = (body: string, contentType = 'application/json') =>
        infq.fetch('/v1/chat/completions', {
          method: 'POST',
          headers: { ...auth, 'content-type': contentType },
          body,
        });
      await expectOpenAiError(await post('{"model":'), 400, 'invalid_json');
      await expectOpenAiError(await post(''), 400, 'invalid_json');
      await expectOpenAiError(await post('[]'), 400, 'invalid_json');
      await expectOpenAiError(await post('hello', 'text/plain'), 415, 'unsupported_media_type');
      await expectOpenAiError(
        await post(
          JSON.stringify({
            model: 'm',
            messages: [{ role: 'user', content: 'x'.repeat(1_100_000) }],
          }),
        ),
        413,
        'request_too_large',
      );
      expect(
        (
          await expectOpenAiError(
            await post('{"messages":[{"role":"user","content":"x"}]}'),
            400,
            'missing_required_field',
          )
        ).param,
      ).toBe('model');
      expect(
        (await expectOpenAiError(await post('{"model":"m"}'), 400, 'missing_required_field')).param,
      ).toBe('messages');
      expect(
        (await expectOpenAiError(await post('{"model":1,"messages":[]}'), 400, 'invalid_value'))
          .param,
      ).toBe('model');
      expect(
        (
          await expectOpenAiError(
            await post('{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":-1}'),
            400,
            'invalid_value',
          )
        ).param,
      ).toBe('max_tokens');
      await expectOpenAiError(
        await infq.fetch('/v1/nothing-here', { headers: auth }),
        404,
        'route_not_found',
      );
      const proto = await post(
        '{"model":"fake-model","messages":[{"role":"user","content":"proto"}],"__proto__":{"polluted":true},"constructor":{"prototype":{}}}',
      );
      expect(proto.status).toBe(202);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect((await infq.fetch('/health')).status).toBe(200);
    });

    it('documents every endpoint at /docs-json, browsable at /docs', async () => {
      const page = await infq.fetch('/docs');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      const response = await infq.fetch('/docs-json');
      expect(response.status).toBe(200);
      const document = await response.json();
      for (const path of [
        '/v1/chat/completions',
        '/v1/results/{id}',
        '/health',
        '/admin/api/tenants',
        '/admin/api/tenants/{id}/keys',
        '/admin/api/keys/{id}',
        '/admin/api/dead-letters',
        '/admin/api/jobs/{id}/retry',
      ]) {
        expect(document.paths).toHaveProperty([path]);
      }
      expect(Object.keys(document.components.securitySchemes)).toEqual(
        expect.arrayContaining(['bearer', 'x-api-key', 'admin']),
      );
    });
  });
}
