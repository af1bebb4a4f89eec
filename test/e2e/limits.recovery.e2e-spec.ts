import { describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { ADMIN_TOKEN, eventually, QUEUE_BACKENDS } from '../support/infq-harness.js';
import {
  createTenantAt,
  InfqProcess,
  isolatedEnvironment,
  cleanupsAfterEach,
} from '../support/infq-process.js';

// How 1,000 jobs end (400 in CI; `npm run test:chaos`, INFQ_CHAOS=1, runs all 1,000): every
// way a job can end, spread over three tenants. The completing jobs come last, so the kill lands
// while many of them are in flight.
const SCALE = process.env.INFQ_CHAOS === '1' ? 1 : 0.4;
const OUTCOMES = [
  { marker: 'rejected', count: 150 * SCALE },
  { marker: 'exhausts', count: 100 * SCALE },
  { marker: 'cancelled-running', count: 50 * SCALE },
  { marker: 'cancelled-waiting', count: 100 * SCALE },
  { marker: 'completes', count: 600 * SCALE },
];
const JOBS = OUTCOMES.reduce((sum, { count }) => sum + count, 0);

describe.each(QUEUE_BACKENDS)('concurrency slots always come back (%s backend)', (backend) => {
  const cleanups = cleanupsAfterEach();

  it(
    `returns every open-job count to 0 after ${JOBS} jobs end in every way, a worker killed mid-job`,
    { timeout: 180_000 },
    async () => {
      const fake = await FakeBackend.start({ defaultBehaviour: { type: 'ok', delayMs: 200 } });
      cleanups.push(() => fake.close());
      fake.script('rejected', { type: 'status', status: 400 });
      fake.script('exhausts', { type: 'status', status: 503 });
      fake.script('cancelled-running', { type: 'hang' });
      fake.script('cancelled-waiting', { type: 'status', status: 429, retryAfter: '60' });
      const { env, drop } = await isolatedEnvironment(backend, [fake], {
        MAX_RETRIES: '1',
        RETRY_BASE_MS: '50',
        RETRY_MAX_MS: '60000',
      });
      cleanups.push(drop);
      let infq = await InfqProcess.start(env);
      cleanups.push(() => infq.kill());

      const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
      const tenants = await Promise.all(
        [0, 1, 2].map(() => createTenantAt(infq.url, { rpm: 100_000, max_concurrent: 10_000 })),
      );

      const jobs: { id: string; key: string; marker: string }[] = [];
      const plan = OUTCOMES.flatMap(({ marker, count }) =>
        Array.from({ length: count }, (_, index) => ({ marker, index })),
      );
      for (let start = 0; start < plan.length; start += 50) {
        await Promise.all(
          plan.slice(start, start + 50).map(async ({ marker, index }) => {
            const tenant = tenants[index % 3];
            const response = await fetch(`${infq.url}/v1/chat/completions`, {
              method: 'POST',
              headers: {
                authorization: `Bearer ${tenant.key}`,
                'content-type': 'application/json',
              },
              body: JSON.stringify({
                model: 'fake-model',
                messages: [{ role: 'user', content: `${marker} ${index}` }],
              }),
            });
            expect(response.status).toBe(202);
            jobs.push({ id: (await response.json()).id, key: tenant.key, marker });
          }),
        );
      }

      // Kill the only worker while it is in the middle of backend calls, then bring it back.
      await fake.waitForRequest(
        (request) => request.prompt.startsWith('completes') && !request.finished,
      );
      await infq.kill('SIGKILL');
      infq = await InfqProcess.start(env);

      const get = async (job: (typeof jobs)[number]) =>
        (
          await fetch(`${infq.url}/v1/results/${job.id}`, {
            headers: { authorization: `Bearer ${job.key}` },
          })
        ).json();
      const cancel = (job: (typeof jobs)[number]) =>
        fetch(`${infq.url}/v1/results/${job.id}`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${job.key}` },
        });
      for (const job of jobs.filter((job) => job.marker.startsWith('cancelled'))) {
        const expected = job.marker === 'cancelled-running' ? 'processing' : 'queued';
        await eventually(async () => {
          const view = await get(job);
          if (expected === 'processing') expect(view.status).toBe('processing');
          else
            expect({ status: view.status, retries: view.retries }).toEqual({
              status: 'queued',
              retries: 1,
            });
        }, 60_000);
        expect((await cancel(job)).status).toBe(200);
      }

      const expectedStatus: Record<string, string> = {
        completes: 'complete',
        rejected: 'dead',
        exhausts: 'dead',
        'cancelled-running': 'cancelled',
        'cancelled-waiting': 'cancelled',
      };
      await eventually(async () => {
        const health = await (await fetch(`${infq.url}/health`)).json();
        expect(health.queue.queued + health.queue.processing + health.queue.retrying).toBe(0);
      }, 90_000);
      for (const job of jobs) expect((await get(job)).status).toBe(expectedStatus[job.marker]);
      // A lease the killed worker held runs out within the lease time (30 s); then every
      // tenant's count is back to the real number running: none.
      await eventually(async () => {
        for (const tenant of tenants) {
          const view = await (
            await fetch(`${infq.url}/admin/api/tenants/${tenant.id}`, { headers: admin })
          ).json();
          expect(view.usage.open_jobs).toBe(0);
        }
      }, 35_000);
    },
  );
});
