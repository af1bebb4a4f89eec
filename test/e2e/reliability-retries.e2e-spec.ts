import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { FakeBackend, type FakeRequest } from '../support/fake-backend.js';
import { eventually, QUEUE_BACKENDS } from '../support/infq-harness.js';
import {
  cleanupsAfterEach,
  createTenantAt,
  InfqProcess,
  isolatedEnvironment,
} from '../support/infq-process.js';

// Long enough that dispatch and recording (up to a few hundred ms on a loaded machine) stay within
// ±20 %.
const BASE_MS = 2_000;
const MAX_RETRIES = 3;
const SETTINGS = {
  RETRY_BASE_MS: String(BASE_MS),
  RETRY_MAX_MS: String(BASE_MS * 4),
  MAX_RETRIES: String(MAX_RETRIES),
};

interface JobView {
  status: string;
  retries: number;
  error?: unknown;
}

describe.each(QUEUE_BACKENDS)('reliability 7: the retry schedule (%s backend)', (backend) => {
  const cleanups = cleanupsAfterEach();

  async function setUp() {
    const fake = await FakeBackend.start();
    cleanups.push(() => fake.close());
    const { env, drop } = await isolatedEnvironment(backend, [fake], SETTINGS);
    cleanups.push(drop);
    const infq = await InfqProcess.start(env);
    cleanups.push(() => infq.kill());
    const { key } = await createTenantAt(infq.url);
    return { fake, env, infq, key };
  }

  const submit = async (url: string, key: string, prompt: string): Promise<string> => {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: prompt }] }),
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { id: string }).id;
  };

  const finalJob = (url: string, key: string, id: string, timeoutMs = 30_000) =>
    eventually(async () => {
      const job = (await (
        await fetch(`${url}/v1/results/${id}`, { headers: { authorization: `Bearer ${key}` } })
      ).json()) as JobView;
      if (!['complete', 'dead', 'cancelled'].includes(job.status)) {
        throw new Error(`still ${job.status}`);
      }
      return job;
    }, timeoutMs);

  /** Milliseconds between one attempt's arrival at the backend and the next one's. */
  const gaps = (attempts: FakeRequest[]) =>
    attempts.slice(1).map((attempt, index) => attempt.receivedAt - attempts[index].receivedAt);

  it(
    'always 503: 1 + MAX_RETRIES attempts at the schedule ±20 %, then dead; a 400: 1 attempt; 503 ×3 then 200: 4 attempts',
    { timeout: 90_000 },
    async () => {
      const { fake, infq, key } = await setUp();
      const unavailable = { type: 'status', status: 503 } as const;
      fake.script('always-503', unavailable, unavailable, unavailable, unavailable, unavailable);
      fake.script('bad-request', { type: 'status', status: 400 }, { type: 'ok' });
      fake.script('recovers', unavailable, unavailable, unavailable, { type: 'ok' });
      const [always, bad, recovers] = await Promise.all(
        ['always-503', 'bad-request', 'recovers'].map((prompt) => submit(infq.url, key, prompt)),
      );

      const [alwaysJob, badJob, recoversJob] = await Promise.all(
        [always, bad, recovers].map((id) => finalJob(infq.url, key, id)),
      );
      expect(alwaysJob).toMatchObject({ status: 'dead', retries: MAX_RETRIES });
      expect(badJob).toMatchObject({ status: 'dead', retries: 0 });
      expect(recoversJob).toMatchObject({ status: 'complete', retries: 3 });
      expect(fake.completions('always-503')).toHaveLength(1 + MAX_RETRIES);
      expect(fake.completions('bad-request')).toHaveLength(1);
      expect(fake.completions('recovers')).toHaveLength(4);

      // min(base × 2^n, max): 2 s, 4 s, 8 s, each at least its delay and at most 20 % over.
      const schedule = [BASE_MS, BASE_MS * 2, BASE_MS * 4];
      for (const marker of ['always-503', 'recovers']) {
        const measured = gaps(fake.completions(marker));
        if (process.env.RELIABILITY_REPORT) {
          console.info(`reliability 7 (${backend}): ${marker} gaps ${measured.join(', ')} ms`);
        }
        measured.forEach((gap, index) => {
          expect(gap).toBeGreaterThanOrEqual(schedule[index] * 0.98);
          expect(gap).toBeLessThanOrEqual(schedule[index] * 1.2);
        });
      }
    },
  );

  it(
    'a SIGKILL while the last failure moves the job to dead: after a restart it still ends dead, once',
    { timeout: 90_000 },
    async () => {
      const { fake, env, infq: first, key } = await setUp();
      const unavailable = { type: 'status', status: 503 } as const;
      fake.script(
        'dies',
        unavailable,
        unavailable,
        unavailable,
        unavailable,
        unavailable,
        unavailable,
      );
      const id = await submit(first.url, key, 'dies');

      // The moment the backend has answered the last allowed attempt, infq is recording it.
      for (;;) {
        const [record] = (await once(fake, 'finished')) as [FakeRequest];
        if (record.prompt === 'dies' && fake.completions('dies').length === 1 + MAX_RETRIES) break;
      }
      await first.kill('SIGKILL');

      const second = await InfqProcess.start(env);
      cleanups.push(() => second.kill());
      const job = await finalJob(second.url, key, id, 60_000);
      expect(job.status).toBe('dead');
      // At most the one interrupted attempt runs again.
      const attempts = fake.completions('dies').length;
      expect(attempts).toBeGreaterThanOrEqual(1 + MAX_RETRIES);
      expect(attempts).toBeLessThanOrEqual(2 + MAX_RETRIES);
      if (process.env.RELIABILITY_REPORT) {
        console.info(
          `reliability 7 (${backend}): killed while moving to dead: ${attempts} attempts, dead`,
        );
      }
    },
  );
});
