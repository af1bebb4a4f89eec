import { describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { eventually, QUEUE_BACKENDS } from '../support/infq-harness.js';
import {
  createTenantAt,
  InfqProcess,
  isolatedEnvironment,
  cleanupsAfterEach,
} from '../support/infq-process.js';

describe.each(QUEUE_BACKENDS)(
  'limits and idempotency across two instances (%s backend)',
  (backend) => {
    const cleanups = cleanupsAfterEach();

    it(
      'holds rpm, tenant slots and node capacity exactly for the cluster as a whole',
      { timeout: 120_000 },
      async () => {
        const fake = await FakeBackend.start({ defaultBehaviour: { type: 'ok', delayMs: 100 } });
        cleanups.push(() => fake.close());
        const { env, drop } = await isolatedEnvironment(backend, [fake]);
        cleanups.push(drop);
        env.BUS_NODES = `${fake.url}=1:3`;
        // Sequential starts: the first applies migrations; both then share every counter.
        const first = await InfqProcess.start(env);
        cleanups.push(() => first.kill('SIGTERM'));
        const second = await InfqProcess.start(env);
        cleanups.push(() => second.kill('SIGTERM'));
        const instances = [first, second];

        const post = (
          key: string,
          index: number,
          prompt = `request ${index}`,
          headers: Record<string, string> = {},
        ): Promise<Response> =>
          fetch(`${instances[index % 2].url}/v1/chat/completions`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${key}`,
              'content-type': 'application/json',
              ...headers,
            },
            body: JSON.stringify({
              model: 'fake-model',
              messages: [{ role: 'user', content: prompt }],
            }),
          });

        // 500 requests at once at both instances, for an rpm-60 tenant: exactly 60 get in.
        const { key: rpmKey } = await createTenantAt(first.url, { rpm: 60, max_concurrent: 1000 });
        const statuses = await Promise.all(
          Array.from({ length: 500 }, (_, index) =>
            post(rpmKey, index).then((response) => response.status),
          ),
        );
        expect(statuses.filter((status) => status === 202)).toHaveLength(60);
        expect(statuses.filter((status) => status === 429)).toHaveLength(440);

        // max_concurrent 2: 20 jobs sent to both instances at once are all accepted, and the
        // backend never sees more than 2 of them at once. The 60 jobs above must have ended first.
        const finishedCalls = (): number =>
          fake.completions().filter((call) => call.finished).length;
        await eventually(() => expect(finishedCalls()).toBe(60), 30_000);
        fake.maxInFlight = 0;
        const { key: concurrencyKey } = await createTenantAt(first.url, {
          rpm: 10_000,
          max_concurrent: 2,
        });
        let peak = 0;
        const sampler = setInterval(() => (peak = Math.max(peak, fake.inFlight)), 10);
        const accepted = await Promise.all(
          Array.from({ length: 20 }, async (_, index) => {
            const response = await post(concurrencyKey, index);
            expect(response.status).toBe(202);
            return ((await response.json()) as { id: string }).id;
          }),
        );
        await eventually(() => expect(finishedCalls()).toBe(80), 30_000);
        clearInterval(sampler);
        expect(accepted).toHaveLength(20);
        expect(Math.max(peak, fake.maxInFlight)).toBe(2);

        // The node takes at most 3 at once from both instances together (BUS_NODES `=1:3`).
        fake.maxInFlight = 0;
        const { key: capacityKey } = await createTenantAt(first.url, {
          rpm: 10_000,
          max_concurrent: 100,
        });
        await Promise.all(
          Array.from({ length: 30 }, async (_, index) => {
            const response = await post(capacityKey, index);
            expect(response.status).toBe(202);
            await response.arrayBuffer();
          }),
        );
        await eventually(() => expect(finishedCalls()).toBe(110), 30_000);
        expect(fake.maxInFlight).toBe(3);

        // 100 requests with one Idempotency-Key and body, half at each instance: one job, 99
        // replays, one backend call.
        const { key: idempotentKey } = await createTenantAt(first.url, { rpm: 10_000 });
        const replies = await Promise.all(
          Array.from({ length: 100 }, async (_, index) => {
            const response = await post(idempotentKey, index, 'idempotent across instances', {
              'idempotency-key': 'cluster-order-1',
            });
            expect(response.status).toBe(202);
            return {
              id: ((await response.json()) as { id: string }).id,
              replayed: response.headers.get('idempotent-replayed') === 'true',
            };
          }),
        );
        expect(new Set(replies.map((reply) => reply.id)).size).toBe(1);
        expect(replies.filter((reply) => reply.replayed)).toHaveLength(99);
        await eventually(() => expect(finishedCalls()).toBe(111), 30_000);
        expect(fake.completions('idempotent across instances')).toHaveLength(1);
      },
    );
  },
);
