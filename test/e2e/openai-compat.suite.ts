import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INFERENCE_QUEUE } from '../../src/jobs/inference-queue.js';
import { FakeBackend } from '../support/fake-backend.js';
import {
  eventually,
  expectOpenAiError,
  Infq,
  type QueueBackendKind,
  type TenantWithKey,
} from '../support/infq-harness.js';

/** infq as a drop-in OpenAI endpoint: wait mode, streaming and the official SDK; per backend. */
export function describeOpenAiCompatibility(backend: QueueBackendKind): void {
  describe(`OpenAI compatibility (${backend} backend)`, () => {
    let fake: FakeBackend;
    let infq: Infq;
    let tenant: TenantWithKey;
    let client: OpenAI;

    beforeAll(async () => {
      fake = await FakeBackend.start({ models: ['fake-model'] });
      infq = await Infq.start(backend, [fake], { SYNC_WAIT_MAX_S: '3' });
      tenant = await infq.createTenant();
      client = new OpenAI({ baseURL: `${infq.url}/v1`, apiKey: tenant.key });
    });

    afterAll(async () => {
      await infq?.close();
      await fake?.close();
    });

    const user = (content: string) => [{ role: 'user' as const, content }];

    it('answers chat.completions.create from the SDK with the backend completion', async () => {
      const { data, response } = await client.chat.completions
        .create({ model: 'fake-model', messages: user('sdk hello') })
        .withResponse();
      expect(response.status).toBe(200);
      const sent = fake.completions('sdk hello')[0];
      expect(data).toEqual(JSON.parse(sent.responseBody!));
      expect(data.choices[0].message.content).toBe('echo: sdk hello');
      expect(response.headers.get('x-job-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.headers.get('x-job-retries')).toBe('0');
      expect(response.headers.get('preference-applied')).toBe('wait');
    });

    it('returns the completion after retries with X-Job-Retries', async () => {
      fake.script('sdk-flaky', { type: 'status', status: 503 }, { type: 'ok' });
      const { data, response } = await client.chat.completions
        .create({ model: 'fake-model', messages: user('sdk-flaky') })
        .withResponse();
      expect(data.choices[0].message.content).toBe('echo: sdk-flaky');
      expect(response.headers.get('x-job-retries')).toBe('1');
    });

    it('streams chunk by chunk through the SDK and reassembles exactly', async () => {
      const tokens = [
        'The',
        ' quick',
        ' brown',
        ' fox',
        ' jumps',
        ' over',
        ' the',
        ' lazy',
        ' dog',
        '.',
      ];
      fake.script('sdk-stream', { type: 'stream', tokens, intervalMs: 5 });
      const stream = await client.chat.completions.create({
        model: 'fake-model',
        messages: user('sdk-stream'),
        stream: true,
      });
      const pieces: string[] = [];
      for await (const chunk of stream) {
        const piece = chunk.choices[0]?.delta?.content;
        if (piece) pieces.push(piece);
      }
      expect(pieces).toEqual(tokens);
      expect(fake.completions('sdk-stream')[0].body).toMatchObject({
        stream: true,
        stream_options: { include_usage: true },
      });
    });

    it('forwards the usage chunk to a client that asked for it', async () => {
      fake.script('sdk-usage', { type: 'stream', tokens: ['a', 'b'], totalTokens: 33 });
      const stream = await client.chat.completions.create({
        model: 'fake-model',
        messages: user('sdk-usage'),
        stream: true,
        stream_options: { include_usage: true },
      });
      let usage: number | undefined;
      for await (const chunk of stream) if (chunk.usage) usage = chunk.usage.total_tokens;
      expect(usage).toBe(33);
    });

    it("gives the SDK's own error classes the right status", async () => {
      const stranger = new OpenAI({ baseURL: `${infq.url}/v1`, apiKey: `inf_${'0'.repeat(40)}` });
      await expect(
        stranger.chat.completions.create({ model: 'fake-model', messages: user('x') }),
      ).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
      await expect(
        client.chat.completions.create({ model: 'no-such-model', messages: user('x') }),
      ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
      const limited = await infq.createTenant({ rpm: 1 });
      const limitedClient = new OpenAI({ baseURL: `${infq.url}/v1`, apiKey: limited.key });
      await limitedClient.chat.completions.create({ model: 'fake-model', messages: user('first') });
      const refusal = limitedClient.chat.completions.create(
        { model: 'fake-model', messages: user('second') },
        { maxRetries: 0 },
      );
      await expect(refusal).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    });

    it('reports a job that dies to the SDK as an error naming the job', async () => {
      fake.script('sdk-dead', { type: 'status', status: 400, message: 'prompt rejected' });
      const error = await client.chat.completions
        .create({ model: 'fake-model', messages: user('sdk-dead') })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      const { message } = error as InstanceType<typeof OpenAI.BadRequestError>;
      expect(message).toMatch(/Job [0-9a-f-]{36}/);
      expect(message).toContain('prompt rejected');
    });

    it('answers 202 when an explicit wait runs out, 504 for an SDK request', async () => {
      fake.script('wait-hang', { type: 'hang' });
      const explicit = await infq.chat(tenant.key, 'wait-hang explicit', {}, { prefer: 'wait=1' });
      expect(explicit.status).toBe(202);
      const queued = await explicit.json();
      expect(queued).toMatchObject({ status: 'queued' });
      expect(explicit.headers.get('location')).toBe(`/v1/results/${queued.id}`);

      const sdkLike = await infq.chat(
        tenant.key,
        'wait-hang sdk',
        {},
        { 'x-stainless-lang': 'js' },
      );
      const error = await expectOpenAiError(sdkLike, 504, 'upstream_timeout');
      expect(error.message).toMatch(/\/v1\/results\/[0-9a-f-]{36}/);

      const optedOut = await infq.chat(
        tenant.key,
        'respond async',
        {},
        { 'x-stainless-lang': 'js', prefer: 'respond-async' },
      );
      expect(optedOut.status).toBe(202);
      // Both jobs still hang on the backend; cancel them (the backend sees their ids).
      for (const request of fake.completions('wait-hang')) {
        const id = request.headers['x-request-id'] as string;
        const cancelled = await infq.fetch(`/v1/results/${id}`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${tenant.key}` },
        });
        expect(cancelled.status).toBe(200);
      }
    });

    it('answers 409 job_cancelled when the job is cancelled during the wait', async () => {
      fake.script('wait-cancel', { type: 'hang' });
      const waiting = infq.chat(tenant.key, 'wait-cancel', {}, { prefer: 'wait=10' });
      const request = await fake.waitForRequest((candidate) => candidate.prompt === 'wait-cancel');
      // The waiting client learns the id only from the answer; the backend sees it as X-Request-Id.
      const id = request.headers['x-request-id'] as string;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(
        (
          await infq.fetch(`/v1/results/${id}`, {
            method: 'DELETE',
            headers: { authorization: `Bearer ${tenant.key}` },
          })
        ).status,
      ).toBe(200);
      await expectOpenAiError(await waiting, 409, 'job_cancelled');
    });

    it('long-polls a result with ?wait=N', async () => {
      fake.script('long-poll', { type: 'ok', delayMs: 300 });
      const id = await infq.submit(tenant.key, 'long-poll');
      const started = Date.now();
      const response = await infq.fetch(`/v1/results/${id}?wait=10`, {
        headers: { authorization: `Bearer ${tenant.key}` },
      });
      expect(response.status).toBe(200);
      expect((await response.json()).status).toBe('complete');
      expect(Date.now() - started).toBeLessThan(5_000);
      await expectOpenAiError(
        await infq.fetch(`/v1/results/${id}?wait=61`, {
          headers: { authorization: `Bearer ${tenant.key}` },
        }),
        400,
        'invalid_value',
      );
    });

    it('delivers streamed tokens as the backend sends them (95 % within 50 ms)', async () => {
      const tokens = Array.from({ length: 200 }, (_, index) => `t${index} `);
      fake.script('paced', { type: 'stream', tokens, intervalMs: 10 });
      const sentAt = new Map<number, number>();
      const onToken = ({
        record,
        index,
        at,
      }: {
        record: { prompt: string };
        index: number;
        at: number;
      }) => {
        if (record.prompt === 'paced') sentAt.set(index, at);
      };
      fake.on('token', onToken);
      const response = await infq.chat(tenant.key, 'paced', { stream: true });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      expect(response.headers.get('x-accel-buffering')).toBe('no');
      const receivedAt = new Map<number, number>();
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body!) {
        const now = Date.now();
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        for (const match of buffer.matchAll(/"content":"t(\d+) "/g)) {
          const index = Number(match[1]);
          if (!receivedAt.has(index)) receivedAt.set(index, now);
        }
        buffer = buffer.slice(Math.max(0, buffer.lastIndexOf('\n\n')));
      }
      fake.off('token', onToken);
      expect(receivedAt.size).toBe(200);
      const delays = [...receivedAt]
        .map(([index, at]) => at - sentAt.get(index)!)
        .sort((a, b) => a - b);
      // A buffered stream would deliver most tokens up to 2 s late; a pause of this busy test
      // machine may hold back a few by some tens of milliseconds.
      expect(delays[Math.floor(delays.length * 0.95)]).toBeLessThan(50);
      expect(delays[delays.length - 1]).toBeLessThan(500);
    });

    it('aborts the backend within 1 s when the client drops mid-stream or before the first token', async () => {
      fake.script('drop-mid', {
        type: 'stream',
        tokens: Array.from({ length: 500 }, () => 'x'),
        intervalMs: 20,
      });
      const response = await infq.chat(tenant.key, 'drop-mid', { stream: true });
      const reader = response.body!.getReader();
      await reader.read();
      const droppedAt = Date.now();
      await reader.cancel();
      await fake.waitForAbort((request) => request.prompt === 'drop-mid', 1_000);
      expect(Date.now() - droppedAt).toBeLessThan(1_000);

      fake.script('drop-early', { type: 'hang' });
      const early = new AbortController();
      const pending = infq
        .fetch('/v1/chat/completions', {
          method: 'POST',
          headers: { authorization: `Bearer ${tenant.key}` },
          json: { model: 'fake-model', stream: true, messages: user('drop-early') },
          signal: early.signal,
        })
        .catch(() => undefined);
      await fake.waitForRequest((request) => request.prompt === 'drop-early');
      const earlyDropAt = Date.now();
      early.abort();
      await pending;
      await fake.waitForAbort((request) => request.prompt === 'drop-early', 1_000);
      expect(Date.now() - earlyDropAt).toBeLessThan(1_000);
      await eventually(async () => {
        const view = await (await infq.admin('GET', `/tenants/${tenant.id}`)).json();
        expect(view.usage.open_jobs).toBe(0);
      }, 2_000);
    });

    it('answers a backend error before the first byte at once, and ends a broken stream with an error event', async () => {
      fake.script('stream-503', { type: 'status', status: 503, message: 'busy' });
      await expectOpenAiError(
        await infq.chat(tenant.key, 'stream-503', { stream: true }),
        503,
        'upstream_error',
      );
      fake.script('stream-cut', {
        type: 'stream',
        tokens: ['a', 'b', 'c', 'd'],
        intervalMs: 20,
        cutAfter: 2,
      });
      const response = await infq.chat(tenant.key, 'stream-cut', { stream: true });
      expect(response.status).toBe(200);
      const text = await response.text();
      const events = text.split('\n\n').filter(Boolean);
      expect(events.at(-1)).toMatch(/^data: \{"error":\{/);
      expect(text).toContain('"content":"a"');
    });
  });

  describe(`wait mode with a busy worker (${backend} backend)`, () => {
    let fake: FakeBackend;
    let infq: Infq;

    beforeAll(async () => {
      fake = await FakeBackend.start();
      infq = await Infq.start(backend, [fake], { WORKER_CONCURRENCY: '1' });
    });

    afterAll(async () => {
      await infq?.close();
      await fake?.close();
    });

    it('answers 409 job_cancelled at once for a queued job cancelled while its client waits', async () => {
      const tenant = await infq.createTenant();
      const auth = { authorization: `Bearer ${tenant.key}` };
      fake.script('occupy', { type: 'hang' });
      const blocker = await infq.submit(tenant.key, 'occupy');
      await fake.waitForRequest((request) => request.prompt === 'occupy');
      const waiting = infq.chat(tenant.key, 'behind the blocker', {}, { prefer: 'wait=30' });
      // The only worker is busy, so the waiting job stays queued; its client does not know its
      // id yet, so the test reads it from the queue itself.
      const queue = infq.app.get<Queue>(getQueueToken(INFERENCE_QUEUE));
      const id = await eventually(async () => {
        const [job] = await queue.getWaiting();
        if (!job?.id) throw new Error('not queued yet');
        return job.id;
      });
      const cancelledAt = Date.now();
      expect(
        (await infq.fetch(`/v1/results/${id}`, { method: 'DELETE', headers: auth })).status,
      ).toBe(200);
      await expectOpenAiError(await waiting, 409, 'job_cancelled');
      // Answered on the cancel itself, not when the busy worker got round to the job.
      expect(Date.now() - cancelledAt).toBeLessThan(1_000);
      expect(fake.completions('behind the blocker')).toHaveLength(0);
      expect(
        (await infq.fetch(`/v1/results/${blocker}`, { method: 'DELETE', headers: auth })).status,
      ).toBe(200);
    });
  });
}
