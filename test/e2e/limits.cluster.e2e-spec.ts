import { describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { eventually, QUEUE_BACKENDS } from '../support/infq-harness.js';
import {
  createTenantAt,
  InfqProcess,
  isolatedEnvironment,
  cleanupsAfterEach,
} from '../support/infq-process.js';

describe.each(QUEUE_BACKENDS)('limits across two instances (%s backend)', (backend) => {
  const cleanups = cleanupsAfterEach();

  it(
    'holds rpm and concurrency exactly for the cluster as a whole',
    { timeout: 120_000 },
    async () => {
      const fake = await FakeBackend.start({ defaultBehaviour: { type: 'ok', delayMs: 100 } });
      cleanups.push(() => fake.close());
      const { env, drop } = await isolatedEnvironment(backend, [fake]);
      cleanups.push(drop);
      // Sequential starts: the first applies migrations; both then share every counter.
      const first = await InfqProcess.start(env);
      cleanups.push(() => first.kill('SIGTERM'));
      const second = await InfqProcess.start(env);
      cleanups.push(() => second.kill('SIGTERM'));
      const instances = [first, second];

      const post = (key: string, index: number): Promise<Response> =>
        fetch(`${instances[index % 2].url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'fake-model',
            messages: [{ role: 'user', content: `request ${index}` }],
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

      // max_concurrent 5: however hard clients push through both instances, the backend never
      // sees more than 5 of the tenant's jobs at once. The 60 jobs above must have ended first:
      // `inFlight` alone reads 0 before a slow queue has picked any of them up.
      const finishedCalls = (): number => fake.completions().filter((call) => call.finished).length;
      await eventually(() => expect(finishedCalls()).toBe(60), 30_000);
      fake.maxInFlight = 0;
      const { key: concurrencyKey } = await createTenantAt(first.url, {
        rpm: 10_000,
        max_concurrent: 5,
      });
      let accepted = 0;
      const clients = Array.from({ length: 10 }, async (_, client) => {
        for (let index = client; accepted < 60; index += 10) {
          const response = await post(concurrencyKey, index);
          if (response.status === 202) accepted++;
          else expect(response.status).toBe(429);
          await response.arrayBuffer();
        }
      });
      await Promise.all(clients);
      await eventually(() => expect(finishedCalls()).toBe(60 + accepted), 30_000);
      expect(fake.maxInFlight).toBeLessThanOrEqual(5);
      expect(fake.maxInFlight).toBeGreaterThanOrEqual(3);
    },
  );
});
