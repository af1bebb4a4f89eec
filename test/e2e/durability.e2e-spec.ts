import { describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { eventually, QUEUE_BACKENDS } from '../support/infq-harness.js';
import {
  createTenantAt,
  InfqProcess,
  isolatedEnvironment,
  cleanupsAfterEach,
} from '../support/infq-process.js';

// `npm run test:chaos` (INFQ_CHAOS=1) sends 1,000.
const JOBS = process.env.INFQ_CHAOS === '1' ? 1_000 : 400;

describe.each(QUEUE_BACKENDS)('durability (%s backend)', (backend) => {
  const cleanups = cleanupsAfterEach();

  it(
    `loses none of ${JOBS} accepted jobs when the service is killed with SIGKILL`,
    { timeout: 180_000 },
    async () => {
      // Slow enough that the kill lands while most jobs are queued and 64 are running.
      const fake = await FakeBackend.start({ defaultBehaviour: { type: 'ok', delayMs: 400 } });
      cleanups.push(() => fake.close());
      const { env, drop } = await isolatedEnvironment(backend, [fake], { MAX_RETRIES: '50' });
      cleanups.push(drop);

      let infq = await InfqProcess.start(env);
      cleanups.push(() => infq.kill());
      const { key } = await createTenantAt(infq.url);

      const ids: string[] = [];
      for (let batch = 0; batch < JOBS / 50; batch++) {
        const responses = await Promise.all(
          Array.from({ length: 50 }, (_, index) =>
            fetch(`${infq.url}/v1/chat/completions`, {
              method: 'POST',
              headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
              body: JSON.stringify({
                model: 'fake-model',
                messages: [{ role: 'user', content: `job ${batch * 50 + index}` }],
              }),
            }),
          ),
        );
        for (const response of responses) {
          expect(response.status).toBe(202);
          ids.push(((await response.json()) as { id: string }).id);
        }
      }
      await infq.kill('SIGKILL');
      const completedBeforeKill = new Set(
        fake
          .completions()
          .filter((request) => request.finished)
          .map((request) => request.prompt),
      ).size;
      expect(completedBeforeKill).toBeLessThan(JOBS);

      infq = await InfqProcess.start(env);
      const auth = { authorization: `Bearer ${key}` };
      await eventually(async () => {
        const health = await (await fetch(`${infq.url}/health`)).json();
        expect(health.queue.complete).toBe(JOBS);
      }, 120_000);
      for (const id of ids) {
        const job = await (await fetch(`${infq.url}/v1/results/${id}`, { headers: auth })).json();
        expect(job.status).toBe('complete');
      }
      expect(new Set(ids).size).toBe(JOBS);
    },
  );

  /** infq with one tenant, and a queued job for `prompt`; resolves once the backend has it. */
  async function startWithRunningJob(
    fake: FakeBackend,
    prompt: string,
    extraEnv: Record<string, string> = {},
  ) {
    const { env, drop } = await isolatedEnvironment(backend, [fake], extraEnv);
    cleanups.push(drop);
    const infq = await InfqProcess.start(env);
    cleanups.push(() => infq.kill());
    const { key } = await createTenantAt(infq.url);
    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const accepted = await fetch(`${infq.url}/v1/chat/completions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: prompt }] }),
    });
    const { id } = (await accepted.json()) as { id: string };
    await fake.waitForRequest((request) => request.prompt === prompt);
    /** The same environment again, after `infq` has stopped. */
    const restart = async () => {
      const again = await InfqProcess.start(env);
      cleanups.push(() => again.kill());
      return again;
    };
    return { infq, auth, id, restart };
  }

  it(
    'stops promptly on SIGTERM while a backend call hangs, and the job runs again after restart',
    { timeout: 60_000 },
    async () => {
      const fake = await FakeBackend.start();
      cleanups.push(() => fake.close());
      fake.script('hangs-once', { type: 'hang' }, { type: 'ok' });
      // A call still running at the end of the drain is stopped and handed back.
      const { infq, auth, id, restart } = await startWithRunningJob(fake, 'hangs-once', {
        SHUTDOWN_DRAIN_MS: '1000',
      });

      const stoppingAt = Date.now();
      await infq.kill('SIGTERM');
      // On failure, the server's own log tells what held it.
      expect(Date.now() - stoppingAt, infq.output.join('')).toBeLessThan(5_000);
      expect(infq.child.exitCode).toBe(0);
      expect(fake.completions('hangs-once')[0].aborted).toBe(true);

      const again = await restart();
      await eventually(async () => {
        const job = await (await fetch(`${again.url}/v1/results/${id}`, { headers: auth })).json();
        // Handed back on shutdown, not failed: no retry was spent.
        expect(job).toMatchObject({ status: 'complete', retries: 0 });
      }, 30_000);
    },
  );

  it(
    'lets a running backend call finish on SIGTERM: one call, the job complete, no retry spent',
    { timeout: 60_000 },
    async () => {
      const fake = await FakeBackend.start();
      cleanups.push(() => fake.close());
      fake.script('slow-answer', { type: 'ok', delayMs: 1_500 });
      const { infq, auth, id, restart } = await startWithRunningJob(fake, 'slow-answer');

      await infq.kill('SIGTERM');
      expect(infq.child.exitCode, infq.output.join('')).toBe(0);
      const calls = fake.completions('slow-answer');
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ finished: true, aborted: false, status: 200 });

      const again = await restart();
      const job = await (await fetch(`${again.url}/v1/results/${id}`, { headers: auth })).json();
      expect(job).toMatchObject({ status: 'complete', retries: 0 });
      expect(fake.completions('slow-answer')).toHaveLength(1);
    },
  );

  it(
    'ends open streams and waiting requests at once on SIGTERM instead of holding shutdown',
    { timeout: 60_000 },
    async () => {
      const fake = await FakeBackend.start();
      cleanups.push(() => fake.close());
      fake.script('long-stream', {
        type: 'stream',
        tokens: Array.from({ length: 60 }, () => 'x'),
        intervalMs: 1_000,
      });
      fake.script('long-job', { type: 'hang' });
      // The hanging job is stopped at the end of the drain; the stream and the wait end at once.
      const { env, drop } = await isolatedEnvironment(backend, [fake], {
        SHUTDOWN_DRAIN_MS: '1000',
      });
      cleanups.push(drop);
      const infq = await InfqProcess.start(env);
      cleanups.push(() => infq.kill());
      const { key } = await createTenantAt(infq.url);
      const post = (
        prompt: string,
        extra: Record<string, unknown>,
        headers: Record<string, string> = {},
      ) =>
        fetch(`${infq.url}/v1/chat/completions`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': 'application/json',
            ...headers,
          },
          body: JSON.stringify({
            model: 'fake-model',
            messages: [{ role: 'user', content: prompt }],
            ...extra,
          }),
        });
      const stream = await post('long-stream', { stream: true });
      const reader = stream.body!.getReader();
      await reader.read();
      const waiting = post('long-job', {}, { prefer: 'wait=60' });
      await fake.waitForRequest((request) => request.prompt === 'long-job');

      const stoppingAt = Date.now();
      await infq.kill('SIGTERM');
      // On failure, the server's own log tells what held it.
      expect(Date.now() - stoppingAt, infq.output.join('')).toBeLessThan(5_000);

      let text = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      expect(text.trim().split('\n\n').at(-1)).toContain('"code":"service_unavailable"');
      const answer = await waiting;
      // An explicit wait that cannot go on answers as a queued request: the job is durable.
      expect(answer.status).toBe(202);
      expect((await answer.json()).status).toBe('queued');
    },
  );
});
