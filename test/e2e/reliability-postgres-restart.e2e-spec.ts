import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { clearRedisPrefix, eventually, QUEUE_BACKENDS, testEnv } from '../support/infq-harness.js';
import { cleanupsAfterEach, createTenantAt, InfqProcess } from '../support/infq-process.js';
import {
  findChangedFinals,
  PacedLoad,
  readFinals,
  slowestAnswerMs,
} from '../support/operation-history.js';
import { PostgresCluster } from '../support/store-servers.js';

// `npm run test:chaos` (INFQ_CHAOS=1) runs longer phases at a higher rate, and restarts twice.
const CHAOS = process.env.INFQ_CHAOS === '1';
// The PostgreSQL queue takes far fewer requests per second than Redis (README): a rate it keeps
// up with on a loaded 2-core machine, so what is measured is the restart, not a backlog of POSTs.
const RATE = { redis: CHAOS ? 40 : 20, postgres: CHAOS ? 20 : 8 };
const BACKLOG = CHAOS ? 200 : 30;
const PHASE_MS = CHAOS ? 6_000 : 2_000;
const RESTARTS = CHAOS ? 2 : 1;
// Two instances starting on a loaded 2-core machine can take longer than the default 30 s.
const STARTUP_MS = 90_000;
// Answers in a row that say the service is back (all 202).
const RECOVERED_RUN = 20;

/** Reliability scenario 5, on two instances sharing a PostgreSQL cluster of the test's own. */
describe.each(QUEUE_BACKENDS)('reliability 5: PostgreSQL restart (%s backend)', (backend) => {
  const cleanups = cleanupsAfterEach();

  it(
    'reliability 5: pg_ctl restart -m fast mid-load loses nothing, ends nothing twice, answers 503 (never 500) while down and recovers within 10 s',
    { timeout: 240_000 },
    async () => {
      const cluster = await PostgresCluster.start();
      cleanups.push(() => cluster.remove());
      const fake = await FakeBackend.start({ defaultBehaviour: { type: 'ok', delayMs: 100 } });
      cleanups.push(() => fake.close());
      const prefix = `infqtest${randomBytes(4).toString('hex')}`;
      if (backend === 'redis') cleanups.push(() => clearRedisPrefix(prefix));
      const env = testEnv(backend, cluster.url(), prefix, [fake], {
        WORKER_CONCURRENCY: '8',
        MAX_RETRIES: '50',
      });
      const instances: InfqProcess[] = [];
      for (let index = 0; index < 2; index++) {
        const instance = await InfqProcess.start(env, STARTUP_MS);
        cleanups.push(() => instance.kill('SIGTERM'));
        instances.push(instance);
      }
      const urls = instances.map((instance) => instance.url);
      const { key } = await createTenantAt(urls[0], { rpm: 1_000_000, max_concurrent: 1_000 });

      const load = new PacedLoad(urls, key, RATE[backend], 'pg-restart');
      await load.burst(BACKLOG);
      load.start();
      const restarts: { startAt: number; backAt: number }[] = [];
      for (let round = 0; round < RESTARTS; round++) {
        await sleep(PHASE_MS);
        const startAt = Date.now();
        await cluster.restart();
        const backAt = Date.now();
        restarts.push({ startAt, backAt });
        // Back when the last answers in a row are all accepted; if that takes over 30 s, the
        // recovery checks below fail, after the figures are logged.
        await eventually(() => {
          const sent = load.history.filter((op) => op.sentAt >= backAt);
          const answered = sent.filter((op) => op.answeredAt !== undefined).slice(-RECOVERED_RUN);
          expect(answered.length).toBe(RECOVERED_RUN);
          expect(answered.every((op) => op.status === 202)).toBe(true);
        }, 30_000).catch(() => undefined);
      }
      await sleep(PHASE_MS);
      const history = await load.stop();
      const stoppedAt = Date.now();

      for (const instance of instances) {
        expect(instance.child.exitCode, instance.output.join('')).toBeNull();
      }
      // Refused with 503 and a Retry-After while the database is away; never a 500, never a hang.
      const unexpected = history.filter(
        (op) =>
          op.error !== undefined || !(op.status === 202 || (op.status === 503 && op.retryAfter)),
      );

      const recoveries = restarts.map(({ startAt, backAt }, round) => {
        const next = restarts[round + 1]?.startAt ?? Infinity;
        const window = history.filter((op) => op.sentAt >= startAt && op.sentAt < next);
        // The last refusal of this round, and the first job accepted after the database is back.
        const lastRefused = window.filter((op) => op.status !== 202).at(-1);
        const backAccepted = window.find((op) => op.sentAt >= backAt && op.status === 202);
        const backCall = fake
          .completions('pg-restart')
          .find((request) => request.prompt === backAccepted?.prompt);
        return {
          restartMs: backAt - startAt,
          refused503: window.filter((op) => op.status === 503).length,
          slowestAnswerMs: slowestAnswerMs(window),
          acceptingAfterMs: Math.max(0, (lastRefused?.answeredAt ?? backAt) - backAt),
          workingAfterMs: backCall && backCall.receivedAt - backAt,
        };
      });

      const accepted = history.filter((op) => op.status === 202);
      const ids = accepted.map((op) => op.id!);
      const finals = await readFinals(urls, key, ids, 120_000);
      const drainedMs = Date.now() - stoppedAt;
      const lost = accepted.filter((op) => !finals.has(op.id!)).map((op) => op.prompt);
      // Once everything has settled, every job reads the same final state and result through
      // either instance.
      await eventually(async () => {
        const health = (await (await fetch(`${urls[0]}/health`)).json()) as {
          queue: { queued: number; processing: number; retrying: number };
        };
        expect(health.queue.queued + health.queue.processing + health.queue.retrying).toBe(0);
      }, 30_000);
      const settledMs = Date.now() - stoppedAt;
      const changed = await findChangedFinals(urls, key, finals);
      const calls = new Map<string, number>();
      for (const request of fake.completions('pg-restart')) {
        calls.set(request.prompt, (calls.get(request.prompt) ?? 0) + 1);
      }
      const figures = {
        backend,
        sent: history.length,
        accepted: accepted.length,
        lost: lost.length,
        changedFinals: changed.length,
        dead: [...finals.values()].filter((job) => job.status === 'dead').length,
        duplicateBackendCalls: [...calls.values()].filter((count) => count > 1).length,
        drainedMs,
        settledMs,
        recoveries,
        // Answers over 5 s or none, in ms after the (first) restart began.
        slow: history
          .filter((op) => op.error !== undefined || op.answeredAt! - op.sentAt > 5_000)
          .map((op) => ({
            n: op.n,
            instance: op.instance,
            sentMs: op.sentAt - restarts[0].startAt,
            tookMs: op.answeredAt! - op.sentAt,
            answer: op.error ?? op.status,
          })),
        unexpected: unexpected.length,
      };
      console.log(`reliability 5: ${JSON.stringify(figures)}`);
      expect(unexpected).toEqual([]);
      expect(lost).toEqual([]);
      expect(changed).toEqual([]);
      for (const recovery of recoveries) {
        expect(recovery.acceptingAfterMs).toBeLessThanOrEqual(10_000);
        expect(recovery.workingAfterMs).toBeLessThanOrEqual(10_000);
      }
    },
  );
});
