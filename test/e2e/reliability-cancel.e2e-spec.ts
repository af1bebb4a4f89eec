import { describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { eventually, QUEUE_BACKENDS } from '../support/infq-harness.js';
import {
  cleanupsAfterEach,
  createTenantAt,
  InfqProcess,
  isolatedEnvironment,
} from '../support/infq-process.js';

const FINAL = new Set(['complete', 'dead', 'cancelled', 'expired']);
// `npm run test:chaos` runs the full size of RELIABILITY.md (1,000 cancels of queued jobs).
const QUEUED_CANCELS = process.env.INFQ_CHAOS ? 1_000 : 200;
const RACES = process.env.INFQ_CHAOS ? 600 : 150;

interface JobView {
  id: string;
  status: string;
  result: unknown;
}

/** Reliability scenario 9, on two instances sharing one store. */
describe.each(QUEUE_BACKENDS)('reliability 9: cancel races (%s backend)', (backend) => {
  const cleanups = cleanupsAfterEach();

  it(
    'cancels queued jobs without a backend call, aborts a job running on either instance within 1 s, and ends every raced job once',
    { timeout: 240_000 },
    async () => {
      const fake = await FakeBackend.start();
      cleanups.push(() => fake.close());
      const { env, drop } = await isolatedEnvironment(backend, [fake]);
      cleanups.push(drop);
      const first = await InfqProcess.start(env);
      cleanups.push(() => first.kill('SIGTERM'));
      const second = await InfqProcess.start(env);
      cleanups.push(() => second.kill('SIGTERM'));
      const urls = [first.url, second.url];

      const post = async (key: string, prompt: string, at: number): Promise<string> => {
        const response = await fetch(`${urls[at % 2]}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'fake-model',
            messages: [{ role: 'user', content: prompt }],
          }),
        });
        expect(response.status).toBe(202);
        return ((await response.json()) as { id: string }).id;
      };
      const cancel = (key: string, id: string, at: number) =>
        fetch(`${urls[at % 2]}/v1/results/${id}`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${key}` },
        });
      const view = async (key: string, id: string, at = 0): Promise<JobView> =>
        (await fetch(`${urls[at % 2]}/v1/results/${id}`, {
          headers: { authorization: `Bearer ${key}` },
        }).then((response) => response.json())) as JobView;

      // 1. Queued jobs behind a slot that never frees, cancelled through both instances at once:
      //    none of them reaches the backend.
      fake.script('holds-the-slot', { type: 'hang' });
      const queuedTenant = await createTenantAt(first.url, { rpm: 100_000, max_concurrent: 1 });
      const holder = await post(queuedTenant.key, 'holds-the-slot', 0);
      await fake.waitForRequest((request) => request.prompt === 'holds-the-slot');
      const queued: string[] = [];
      for (let start = 0; start < QUEUED_CANCELS; start += 50) {
        queued.push(
          ...(await Promise.all(
            Array.from({ length: Math.min(50, QUEUED_CANCELS - start) }, (_, index) =>
              post(queuedTenant.key, `queued-then-cancelled ${start + index}`, start + index),
            ),
          )),
        );
      }
      const cancels = await Promise.all(
        queued.map((id, index) => cancel(queuedTenant.key, id, index).then((r) => r.status)),
      );
      expect(cancels.filter((status) => status !== 200)).toEqual([]);
      await cancel(queuedTenant.key, holder, 1);
      const settled = async () => {
        const health = await (await fetch(`${first.url}/health`)).json();
        expect(health.queue.processing + health.queue.queued + health.queue.retrying).toBe(0);
      };
      // Every cancelled job has been ended by a worker, with the slot free all along.
      await eventually(settled, 30_000);
      for (const id of queued.slice(0, 5)) {
        expect((await view(queuedTenant.key, id)).status).toBe('cancelled');
      }
      expect(fake.completions('queued-then-cancelled')).toHaveLength(0);

      // 2. Running jobs, each cancelled through the instance that is not necessarily running
      //    it: the backend request is aborted within 1 s either way.
      fake.script('running-then-cancelled', { type: 'hang' });
      const runningTenant = await createTenantAt(first.url, { rpm: 100_000, max_concurrent: 50 });
      const running = await Promise.all(
        Array.from({ length: 10 }, (_, index) =>
          post(runningTenant.key, `running-then-cancelled ${index}`, index),
        ),
      );
      await eventually(() =>
        expect(
          fake.completions('running-then-cancelled').filter((request) => !request.aborted),
        ).toHaveLength(10),
      );
      const abortAfterMs = await Promise.all(
        running.map(async (id, index) => {
          const sentAt = Date.now();
          expect((await cancel(runningTenant.key, id, index + 1)).status).toBe(200);
          await fake.waitForAbort(
            (request) => request.prompt === `running-then-cancelled ${index}`,
            5_000,
          );
          return Date.now() - sentAt;
        }),
      );
      expect(Math.max(...abortAfterMs)).toBeLessThan(1_000);

      // 3. Completions, failures and cancels racing one another: every job ends exactly once,
      //    and what a client read as final never changes.
      fake.script('race-ok', { type: 'ok', delayMs: 30 });
      fake.script('race-fail', { type: 'status', status: 400, delayMs: 30 });
      const raceTenant = await createTenantAt(first.url, { rpm: 100_000, max_concurrent: 20 });
      const raced = await Promise.all(
        Array.from({ length: RACES }, async (_, index) => {
          const kind = index % 3 === 0 ? 'race-fail' : 'race-ok';
          const id = await post(raceTenant.key, `${kind} ${index}`, index);
          // A third are cancelled at a random moment: before, during or after their call.
          if (index % 3 === 1) {
            await new Promise((resolve) => setTimeout(resolve, Math.random() * 120));
            const status = (await cancel(raceTenant.key, id, index + 1)).status;
            expect([200, 409]).toContain(status);
          }
          return id;
        }),
      );
      const firstFinal = new Map<string, JobView>();
      await eventually(async () => {
        for (const id of raced) {
          if (firstFinal.has(id)) continue;
          const job = await view(raceTenant.key, id, raced.indexOf(id));
          if (FINAL.has(job.status)) firstFinal.set(id, job);
        }
        expect(firstFinal.size).toBe(raced.length);
      }, 60_000);
      // Read again through the other instance once everything has settled.
      await eventually(settled, 30_000);
      for (const [index, id] of raced.entries()) {
        const again = await view(raceTenant.key, id, index + 1);
        expect({ id, status: again.status, result: again.result }).toEqual({
          id,
          status: firstFinal.get(id)!.status,
          result: firstFinal.get(id)!.result,
        });
      }
      const statuses = [...firstFinal.values()].map((job) => job.status);
      expect(statuses.filter((status) => status === 'complete').length).toBeGreaterThan(0);
      expect(statuses.filter((status) => status === 'dead').length).toBe(Math.ceil(RACES / 3));
      // A cancelled job never has a result; a complete one keeps the backend's answer.
      for (const job of firstFinal.values()) {
        if (job.status === 'cancelled') expect(job.result).toBeNull();
        if (job.status === 'complete') expect(job.result).toBeTruthy();
      }
    },
  );
});
