import { describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { ADMIN_TOKEN, eventually, QUEUE_BACKENDS } from '../support/infq-harness.js';
import {
  cleanupsAfterEach,
  createTenantAt,
  InfqProcess,
  isolatedEnvironment,
} from '../support/infq-process.js';

// CI kills a few times; `npm run test:chaos` (INFQ_CHAOS=1) kills 20 times in a row.
const KILLS = process.env.INFQ_CHAOS === '1' ? 20 : 2;
const LEASE_S = 30;

describe.each(QUEUE_BACKENDS)('dispatch survives SIGKILL (%s backend)', (backend) => {
  const cleanups = cleanupsAfterEach();

  it(
    `loses no job and leaks no slot or node place after ${KILLS} kills mid-attempt`,
    { timeout: 60_000 + KILLS * 20_000 + LEASE_S * 1000 },
    async () => {
      const fake = await FakeBackend.start({ defaultBehaviour: { type: 'ok', delayMs: 300 } });
      cleanups.push(() => fake.close());
      const { env, drop } = await isolatedEnvironment(backend, [fake], {
        BUS_NODES: `${fake.url}=1:4`,
      });
      cleanups.push(drop);
      const steady = await InfqProcess.start(env);
      cleanups.push(() => steady.kill('SIGTERM'));
      let victim = await InfqProcess.start(env);
      cleanups.push(() => victim.kill());
      const tenant = await createTenantAt(steady.url, { rpm: 100_000, max_concurrent: 3 });
      const post = async (url: string, index: number): Promise<string> => {
        const response = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'fake-model',
            messages: [{ role: 'user', content: `crash ${index}` }],
          }),
        });
        expect(response.status).toBe(202);
        return ((await response.json()) as { id: string }).id;
      };

      const ids: string[] = [];
      for (let kill = 0; kill < KILLS; kill++) {
        for (let index = 0; index < 10; index++) ids.push(await post(steady.url, ids.length));
        // Kill the victim while it has a backend call open, then bring it back.
        await fake.waitForRequest(
          (request) => request.prompt.startsWith('crash') && !request.finished,
          20_000,
        );
        await victim.kill('SIGKILL');
        victim = await InfqProcess.start(env);
      }

      const job = async (id: string) =>
        (
          await fetch(`${steady.url}/v1/results/${id}`, {
            headers: { authorization: `Bearer ${tenant.key}` },
          })
        ).json() as Promise<{ status: string }>;
      await eventually(
        async () => {
          const statuses = await Promise.all(ids.map(async (id) => (await job(id)).status));
          expect(statuses.filter((status) => status !== 'complete')).toEqual([]);
        },
        LEASE_S * 1000 + 60_000,
      );
      // Within the lease time, the shared counters equal what is really at the backend: nothing.
      await eventually(
        async () => {
          const stats = await (
            await fetch(`${steady.url}/admin/api/stats`, {
              headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
            })
          ).json();
          expect(stats.nodes.map((node: { in_flight: number }) => node.in_flight)).toEqual([
            fake.inFlight,
          ]);
          expect(stats.tenants).toEqual([]);
        },
        LEASE_S * 1000 + 5_000,
      );
      expect(fake.inFlight).toBe(0);
      expect(fake.maxInFlight).toBeLessThanOrEqual(4);
    },
  );
});
