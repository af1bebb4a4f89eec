import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import {
  eventually,
  expectOpenAiError,
  Infq,
  type QueueBackendKind,
} from '../support/infq-harness.js';

/** Samples the backend's open requests every 10 ms until stopped; resolves to the peak seen. */
function samplePeak(fake: FakeBackend): { stop: () => Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, fake.inFlight);
      await sleep(10);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return Math.max(peak, fake.maxInFlight);
    },
  };
}

/** Fair, capacity-aware dispatch through the public API; run once per queue backend. */
export function describeDispatch(backend: QueueBackendKind): void {
  describe(`fair dispatch (${backend} backend)`, () => {
    let fake: FakeBackend;
    let infq: Infq;

    beforeAll(async () => {
      fake = await FakeBackend.start({ defaultBehaviour: { type: 'ok', delayMs: 50 } });
      // One node that takes 3 requests at once, across every instance.
      infq = await Infq.start(backend, [fake], { BUS_NODES: `${fake.url}=1:3` });
    });

    afterAll(async () => {
      await infq?.close();
      await fake?.close();
    });

    const waitIdle = () => eventually(() => expect(fake.inFlight).toBe(0), 20_000);

    it('accepts 20 jobs at max_concurrent 2 and never runs more than 2 at once', async () => {
      await waitIdle();
      fake.maxInFlight = 0;
      const tenant = await infq.createTenant({ max_concurrent: 2 });
      fake.script('wait ', { type: 'ok', delayMs: 200 });
      const peak = samplePeak(fake);
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, index) => infq.chat(tenant.key, `wait ${index}`)),
      );
      expect(responses.map((response) => response.status)).toEqual(Array(20).fill(202));
      const ids = await Promise.all(
        responses.map(async (response) => ((await response.json()) as { id: string }).id),
      );
      const jobs = await Promise.all(ids.map((id) => infq.jobFinal(tenant.key, id, 30_000)));
      expect(jobs.every((job) => job.status === 'complete' && job.retries === 0)).toBe(true);
      expect(await peak.stop()).toBeLessThanOrEqual(2);
      expect(fake.maxInFlight).toBe(2);
    });

    it('never sends a node more than its MAX; a job that waited for room spends no retry', async () => {
      await waitIdle();
      fake.maxInFlight = 0;
      const tenant = await infq.createTenant({ max_concurrent: 50 });
      fake.script('capacity', { type: 'ok', delayMs: 300 });
      const peak = samplePeak(fake);
      const ids = await Promise.all(
        Array.from({ length: 15 }, (_, index) => infq.submit(tenant.key, `capacity ${index}`)),
      );
      const jobs = await Promise.all(ids.map((id) => infq.jobFinal(tenant.key, id, 30_000)));
      expect(jobs.map((job) => `${job.status}/${job.retries}`)).toEqual(
        Array(15).fill('complete/0'),
      );
      expect(await peak.stop()).toBeLessThanOrEqual(3);
      expect(fake.maxInFlight).toBe(3);
    });

    it('refuses past max_queued with 429 queue_full and shows each waiting job its place', async () => {
      await waitIdle();
      const tenant = await infq.createTenant({ max_concurrent: 1, max_queued: 3 });
      fake.script('queued-hang', { type: 'hang' });
      const running = await infq.submit(tenant.key, 'queued-hang');
      await fake.waitForRequest((request) => request.prompt === 'queued-hang');
      const waiting = [
        await infq.submit(tenant.key, 'queued 1'),
        await infq.submit(tenant.key, 'queued 2'),
        await infq.submit(tenant.key, 'queued 3'),
      ];
      const refused = await infq.chat(tenant.key, 'queued 4');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      await expectOpenAiError(refused, 429, 'queue_full');
      expect((await infq.job(tenant.key, running)).queue_position).toBeNull();
      const positions = await Promise.all(waiting.map((id) => infq.job(tenant.key, id)));
      expect(positions.map((job) => [job.status, job.queue_position])).toEqual([
        ['queued', 1],
        ['queued', 2],
        ['queued', 3],
      ]);
      const view = await (await infq.admin('GET', `/tenants/${tenant.id}`)).json();
      expect(view.usage).toMatchObject({ open_jobs: 1, queued_jobs: 3 });
      // Cancelling the running job lets the line move: the next one runs, the others move up.
      const cancelled = await infq.fetch(`/v1/results/${running}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${tenant.key}` },
      });
      expect(cancelled.status).toBe(200);
      for (const id of waiting)
        expect((await infq.jobFinal(tenant.key, id)).status).toBe('complete');
    });

    it('sets max_queued and weight through the admin API', async () => {
      const tenant = await infq.createTenant();
      const created = await (await infq.admin('GET', `/tenants/${tenant.id}`)).json();
      expect(created).toMatchObject({ limits: { max_queued: 1000 }, weight: 1 });
      const patched = await infq.admin('PATCH', `/tenants/${tenant.id}`, {
        limits: { max_queued: 7 },
        weight: 3,
      });
      expect(patched.status).toBe(200);
      expect(await patched.json()).toMatchObject({ limits: { max_queued: 7 }, weight: 3 });
      await expectOpenAiError(
        await infq.admin('PATCH', `/tenants/${tenant.id}`, { weight: 0 }),
        400,
        'invalid_value',
      );
    });

    it('holds no slot while a job waits for its retry, and gives it the next turn when due', async () => {
      await waitIdle();
      const tenant = await infq.createTenant({ max_concurrent: 1 });
      fake.script('retry-turn A', { type: 'status', status: 503, retryAfter: '1' }, { type: 'ok' });
      fake.script('retry-turn B', { type: 'ok', delayMs: 1_500 });
      const a = await infq.submit(tenant.key, 'retry-turn A');
      await fake.waitForRequest((request) => request.prompt === 'retry-turn A');
      const b = await infq.submit(tenant.key, 'retry-turn B');
      const c = await infq.submit(tenant.key, 'retry-turn C');
      // While A waits for its retry, B has the tenant's only slot.
      await fake.waitForRequest((request) => request.prompt === 'retry-turn B');
      for (const id of [a, b, c]) await infq.jobFinal(tenant.key, id);
      const order = fake
        .completions('retry-turn')
        .sort((x, y) => x.id - y.id)
        .map((request) => request.prompt.slice(-1));
      expect(order).toEqual(['A', 'B', 'A', 'C']);
      expect((await infq.job(tenant.key, a)).retries).toBe(1);
    });

    it('refuses a stream without a free slot; a stream waits for a node place ahead of jobs', async () => {
      await waitIdle();
      const streamer = await infq.createTenant({ max_concurrent: 1 });
      fake.script('place-stream', {
        type: 'stream',
        tokens: ['a', 'b', 'c'],
        intervalMs: 200,
      });
      fake.script('place-hang', { type: 'hang' });
      const other = await infq.createTenant({ max_concurrent: 10 });
      // Fill the node (MAX 3) with two hanging jobs and one stream.
      const hanging = [
        await infq.submit(other.key, 'place-hang 1'),
        await infq.submit(other.key, 'place-hang 2'),
      ];
      await eventually(() => expect(fake.inFlight).toBe(2));
      const first = await infq.chat(streamer.key, 'place-stream 1', { stream: true });
      expect(first.status).toBe(200);
      await expectOpenAiError(
        await infq.chat(streamer.key, 'place-stream 2', { stream: true }),
        429,
        'concurrency_limit_exceeded',
      );
      // The node is full: another tenant's stream waits for a place, a job just queues.
      const queuedJob = await infq.submit(other.key, 'place-after');
      const secondStreamer = await infq.createTenant({ max_concurrent: 1 });
      const waitingStream = infq.chat(secondStreamer.key, 'place-stream 3', { stream: true });
      await first.text();
      // The place the first stream frees goes to the waiting stream, not the queued job.
      const second = await waitingStream;
      expect(second.status).toBe(200);
      expect(fake.completions('place-after')).toHaveLength(0);
      await second.text();
      for (const id of hanging) {
        await infq.fetch(`/v1/results/${id}`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${other.key}` },
        });
      }
      expect((await infq.jobFinal(other.key, queuedJob)).status).toBe('complete');
    });

    it(
      'answers a stream 503 no_upstream_available after 10 s at a full node',
      { timeout: 30_000 },
      async () => {
        await waitIdle();
        const tenant = await infq.createTenant({ max_concurrent: 10 });
        fake.script('full-hang', { type: 'hang' });
        const hanging = await Promise.all(
          [1, 2, 3].map((index) => infq.submit(tenant.key, `full-hang ${index}`)),
        );
        await eventually(() => expect(fake.inFlight).toBe(3));
        const startedAt = Date.now();
        const refused = await infq.chat(tenant.key, 'full-stream', { stream: true });
        expect(Date.now() - startedAt).toBeGreaterThanOrEqual(9_500);
        expect(refused.headers.get('retry-after')).toBeTruthy();
        await expectOpenAiError(refused, 503, 'no_upstream_available');
        for (const id of hanging) {
          await infq.fetch(`/v1/results/${id}`, {
            method: 'DELETE',
            headers: { authorization: `Bearer ${tenant.key}` },
          });
        }
        await waitIdle();
      },
    );

    it('shows node in-flight against capacity and tenants queued and running in stats', async () => {
      await waitIdle();
      const tenant = await infq.createTenant({ max_concurrent: 1 });
      fake.script('stats-hang', { type: 'hang' });
      const running = await infq.submit(tenant.key, 'stats-hang');
      const queued = await infq.submit(tenant.key, 'stats-queued');
      await fake.waitForRequest((request) => request.prompt === 'stats-hang');
      const stats = await eventually(async () => {
        const body = await (await infq.admin('GET', '/stats')).json();
        expect(body.tenants).toContainEqual({ id: tenant.id, queued: 1, running: 1 });
        return body;
      });
      expect(stats.nodes[0]).toMatchObject({ capacity: 3, in_flight: 1 });
      await infq.fetch(`/v1/results/${running}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${tenant.key}` },
      });
      expect((await infq.jobFinal(tenant.key, queued)).status).toBe('complete');
    });
  });
}
