import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { FakeBackend, type FakeRequest } from '../support/fake-backend.js';
import { eventually, QUEUE_BACKENDS } from '../support/infq-harness.js';
import {
  cleanupsAfterEach,
  createTenantAt,
  freePort,
  InfqProcess,
  isolatedEnvironment,
} from '../support/infq-process.js';

// `npm run test:chaos` (INFQ_CHAOS=1) runs the sizes of RELIABILITY.md.
const CHAOS = process.env.INFQ_CHAOS === '1';
const FINAL = new Set(['complete', 'dead', 'cancelled', 'expired']);
/** Per instance; scenario 1's bound on duplicate backend calls is this × kills. */
const WORKER_CONCURRENCY = 16;

/** One stop of an instance: when the signal went, when it exited, when it served again. */
interface Restart {
  instance: number;
  signal: NodeJS.Signals;
  signalledAt: number;
  exitedAt?: number;
  servingAt?: number;
  exitCode?: number | null;
  /** Backend calls open (both instances) when the signal went. */
  backendInFlight: number;
}

/**
 * Two infq processes on one database and queue, each on a port of its own that it keeps across
 * restarts, so a client that knows two addresses finds it again.
 */
class Pair {
  readonly restarts: Restart[] = [];
  /** The output of every process started, killed ones too. */
  readonly outputs: string[][] = [];
  private readonly processes: (InfqProcess | undefined)[] = [undefined, undefined];

  private constructor(
    private readonly env: Record<string, string>,
    private readonly ports: number[],
  ) {}

  static async start(env: Record<string, string>): Promise<Pair> {
    const ports = [await freePort()];
    while (ports.length < 2) {
      const port = await freePort();
      if (port !== ports[0]) ports.push(port);
    }
    const pair = new Pair(env, ports);
    // One after the other: the first runs the migrations.
    await pair.spawn(0);
    await pair.spawn(1);
    return pair;
  }

  url(instance: number): string {
    return `http://127.0.0.1:${this.ports[instance]}`;
  }

  /** Stops `instance` with `signal`, starts it again, and resolves once it serves. */
  async restart(instance: number, signal: NodeJS.Signals, fake: FakeBackend): Promise<Restart> {
    const restart: Restart = {
      instance,
      signal,
      signalledAt: Date.now(),
      backendInFlight: fake.inFlight,
    };
    this.restarts.push(restart);
    const infq = this.processes[instance]!;
    await infq.kill(signal);
    restart.exitedAt = Date.now();
    restart.exitCode = infq.child.exitCode;
    this.processes[instance] = undefined;
    await this.spawn(instance);
    restart.servingAt = Date.now();
    return restart;
  }

  /** Whether `instance` was stopping or starting again at some moment in [from, to]. */
  wasDown(instance: number, from: number, to: number): boolean {
    return this.restarts.some(
      (restart) =>
        restart.instance === instance &&
        to >= restart.signalledAt &&
        from <= (restart.servingAt ?? Number.POSITIVE_INFINITY),
    );
  }

  output(): string {
    return this.outputs.map((output) => output.join('')).join('\n');
  }

  async stop(): Promise<void> {
    for (const infq of this.processes) await infq?.kill('SIGTERM');
  }

  private async spawn(instance: number): Promise<void> {
    const infq = await InfqProcess.start(
      { ...this.env, PORT: String(this.ports[instance]) },
      // PostgreSQL-backed starts take over 30 s on a loaded 2-core machine.
      120_000,
    );
    this.processes[instance] = infq;
    this.outputs.push(infq.output);
  }
}

/** One request a client sent: where, when, and what came back. */
interface Operation {
  prompt: string;
  instance: number;
  sentAt: number;
  answeredAt?: number;
  status?: number;
  jobId?: string;
  replayed?: boolean;
  error?: string;
}

/**
 * Clients that know both instances. Each prompt is its own `Idempotency-Key`, so a request whose
 * answer was lost (a reset) can be sent again without making a second job; a refused or reset
 * connection, or a 503, is tried again on the other instance.
 */
class Clients {
  readonly history: Operation[] = [];
  /** Prompt → job id, for every prompt that got a 202. */
  readonly accepted = new Map<string, string>();
  /** Prompts given up on (an answer that is neither 202 nor 503, or no 202 in time). */
  readonly refused: string[] = [];

  constructor(
    private readonly pair: Pair,
    private readonly key: string,
  ) {}

  async submit(prompt: string, first: number, giveUpMs = 60_000): Promise<void> {
    const deadline = Date.now() + giveUpMs;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      // After trying both instances, a short pause before the next round.
      if (attempt > 0 && attempt % 2 === 0) await sleep(100);
      const instance = (first + attempt) % 2;
      const operation: Operation = { prompt, instance, sentAt: Date.now() };
      this.history.push(operation);
      try {
        const response = await fetch(`${this.pair.url(instance)}/v1/chat/completions`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${this.key}`,
            'content-type': 'application/json',
            'idempotency-key': prompt,
          },
          body: JSON.stringify({
            model: 'fake-model',
            messages: [{ role: 'user', content: prompt }],
          }),
          signal: AbortSignal.timeout(30_000),
        });
        operation.status = response.status;
        const text = await response.text();
        operation.answeredAt = Date.now();
        if (response.status === 202) {
          operation.jobId = (JSON.parse(text) as { id: string }).id;
          operation.replayed = response.headers.get('idempotent-replayed') === 'true';
          this.accepted.set(prompt, operation.jobId);
          return;
        }
        operation.error = text;
        if (response.status !== 503) break;
      } catch (error) {
        operation.answeredAt = Date.now();
        operation.error = describeError(error);
      }
    }
    this.refused.push(prompt);
  }

  /** Answers with a 5xx status, by status. */
  serverErrors(): Operation[] {
    return this.history.filter((operation) => (operation.status ?? 0) >= 500);
  }

  /** Requests that got no HTTP answer (refused or reset connections, time-outs). */
  connectionErrors(): Operation[] {
    return this.history.filter((operation) => operation.status === undefined);
  }
}

/** A job's final state as first read, and the reads that disagreed with it afterwards. */
interface FinalSeen {
  status: string;
  result: string;
  instance: number;
  at: number;
}

/**
 * Reads jobs through both instances and keeps what each read said: a job's final status and
 * result, once seen, must read the same ever after.
 */
class ResultWatch {
  readonly firstFinal = new Map<string, FinalSeen>();
  readonly changes: string[] = [];
  /** Reads that answered neither 200 nor came from a stopped instance, by status. */
  readonly oddReads: string[] = [];
  reads = 0;

  constructor(
    private readonly pair: Pair,
    private readonly key: string,
  ) {}

  async read(id: string, instance: number): Promise<void> {
    let job: { status: string; result: unknown };
    try {
      const response = await fetch(`${this.pair.url(instance)}/v1/results/${id}`, {
        headers: { authorization: `Bearer ${this.key}` },
        signal: AbortSignal.timeout(10_000),
      });
      if (response.status !== 200) {
        if (!this.pair.wasDown(instance, Date.now() - 1_000, Date.now())) {
          this.oddReads.push(`${id} on ${instance}: ${response.status}`);
        }
        await response.body?.cancel();
        return;
      }
      job = (await response.json()) as { status: string; result: unknown };
    } catch {
      return; // that instance is down; the other one is read too
    }
    this.reads++;
    const result = JSON.stringify(job.result);
    const seen = this.firstFinal.get(id);
    if (seen) {
      if (job.status !== seen.status || result !== seen.result) {
        this.changes.push(
          `${id}: ${seen.status} ${seen.result} (instance ${seen.instance}) then ${job.status} ${result} (instance ${instance}) after ${Date.now() - seen.at} ms`,
        );
      }
    } else if (FINAL.has(job.status)) {
      this.firstFinal.set(id, { status: job.status, result, instance, at: Date.now() });
    }
  }

  /** Reads every job in `ids` once, alternating instances (`round` shifts which reads which). */
  async sweep(ids: string[], round: number): Promise<void> {
    await inParallel(ids, 8, (id, index) => this.read(id, (index + round) % 2));
  }
}

/** Backend calls per prompt, and what they came to. */
interface CallCount {
  prompt: string;
  calls: number;
  /** Answered 200 in full. */
  answered: number;
  /** Answered an error status in full (a retried attempt). */
  failed: number;
  /** Closed by infq before the answer was written. */
  aborted: number;
}

function callsByPrompt(requests: FakeRequest[]): Map<string, CallCount> {
  const counts = new Map<string, CallCount>();
  for (const request of requests) {
    const count = counts.get(request.prompt) ?? {
      prompt: request.prompt,
      calls: 0,
      answered: 0,
      failed: 0,
      aborted: 0,
    };
    count.calls++;
    if (request.finished && request.status === 200) count.answered++;
    else if (request.finished) count.failed++;
    else count.aborted++;
    counts.set(request.prompt, count);
  }
  return counts;
}

async function inParallel<T>(
  items: T[],
  limit: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await task(items[index], index);
      }
    }),
  );
}

/** Starts `send(i)` at `perSecond` while `more(i)` holds; resolves when every send has. */
async function paced(
  perSecond: number,
  more: (index: number) => boolean,
  send: (index: number) => Promise<void>,
): Promise<void> {
  const startedAt = Date.now();
  const sends: Promise<void>[] = [];
  for (let index = 0; more(index); index++) {
    const due = startedAt + (index * 1000) / perSecond;
    if (due > Date.now()) await sleep(due - Date.now());
    sends.push(send(index));
  }
  await Promise.all(sends);
}

function describeError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

function summary(values: number[]): string {
  if (values.length === 0) return 'none';
  return `${Math.min(...values)}–${Math.max(...values)} ms`;
}

describe.each(QUEUE_BACKENDS)('reliability restarts (%s backend)', (backend) => {
  const cleanups = cleanupsAfterEach();

  // Full size: 10,000 enqueues at 100/s, a kill every 5 s (about 20). CI size: 300 at 25/s
  // and 2 kills, each when a third more of them have been accepted, so both land mid-load.
  const ENQUEUES = CHAOS ? 10_000 : 300;
  const RATE = CHAOS ? 100 : 25;
  const CI_KILLS = 2;
  const MAX_LOAD_MS = 240_000;

  it(
    `reliability 1: kill -9 one of two instances ${CHAOS ? 'every 5 s' : `${CI_KILLS} times`} during ${ENQUEUES} enqueues: none lost, one final state each, duplicates bounded`,
    { timeout: CHAOS ? 900_000 : 420_000 },
    async () => {
      const fake = await FakeBackend.start({
        defaultBehaviour: { type: 'random', minDelayMs: 50, maxDelayMs: 500, failureRate: 0.05 },
      });
      cleanups.push(() => fake.close());
      // MAX_RETRIES 10: a job dead-lettered by the 5% of 500s alone has odds of 0.05^11.
      const { env, drop } = await isolatedEnvironment(backend, [fake], {
        MAX_RETRIES: '10',
        WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
      });
      cleanups.push(drop);
      const pair = await Pair.start(env);
      cleanups.push(() => pair.stop());
      const { key } = await createTenantAt(pair.url(0), {
        rpm: 1_000_000,
        max_concurrent: 1_000,
        max_queued: ENQUEUES * 2,
      });
      const clients = new Clients(pair, key);
      const watch = new ResultWatch(pair, key);
      const run = randomBytes(4).toString('hex');
      const prompt = (index: number) => `r1 ${run} ${index}`;

      let loading = true;
      let killed = false;
      const loadStartedAt = Date.now();
      const load = paced(
        RATE,
        // On past ENQUEUES until the last restart (at most twice as many), so every kill lands
        // mid-load however slow the restarts are.
        (index) =>
          index < ENQUEUES ||
          (!CHAOS && !killed && index < 2 * ENQUEUES && Date.now() - loadStartedAt < MAX_LOAD_MS),
        (index) => clients.submit(prompt(index), index % 2),
      ).finally(() => (loading = false));

      // The killer: the instances take turns being killed and started again.
      const killer = (async () => {
        for (let kill = 0; CHAOS ? loading : kill < CI_KILLS; kill++) {
          if (CHAOS) {
            const last = pair.restarts.at(-1)?.signalledAt ?? Date.now();
            await sleep(Math.max(0, last + 5_000 - Date.now()));
            if (!loading) break;
          } else {
            const threshold = Math.round(((kill + 1) * ENQUEUES) / (CI_KILLS + 1));
            await eventually(() => {
              if (clients.accepted.size < threshold) throw new Error('not yet');
            }, 120_000);
          }
          await pair.restart(kill % 2, 'SIGKILL', fake);
        }
      })().finally(() => (killed = true));

      // The reader: every accepted job, through both instances, until the end.
      let reading = true;
      const reader = (async () => {
        for (let round = 0; reading; round++) {
          await watch.sweep([...clients.accepted.values()], round);
          // Paced, so the reads do not crowd out the load on a 2-core machine.
          await sleep(1_000);
        }
      })();

      let allFinalAfterMs: number;
      try {
        await Promise.all([load, killer]);
        const loadEndedAt = Date.now();
        // Every accepted job ends; those of a killed worker once its lease runs out (30 s).
        await eventually(
          () => {
            if (watch.firstFinal.size < clients.accepted.size) throw new Error('not all final');
          },
          CHAOS ? 300_000 : 120_000,
        ).catch(() => undefined);
        allFinalAfterMs = Date.now() - loadEndedAt;
      } finally {
        reading = false;
        await reader;
      }
      // Once more through each instance, now that nothing runs.
      const ids = [...clients.accepted.values()];
      await watch.sweep(ids, 0);
      await watch.sweep(ids, 1);

      const lost = ids.filter((id) => !watch.firstFinal.has(id));
      const finals = [...watch.firstFinal.values()];
      const calls = callsByPrompt(fake.completions(run));
      const counts = [...calls.values()];
      // An attempt after one that failed is a retry; any other call beyond the one answered
      // is a duplicate: a call the killed instance had open (aborted), or one answered again
      // because the killed instance never recorded the first answer.
      const duplicates = counts.reduce(
        (sum, count) => sum + count.aborted + count.answered - Math.min(count.answered, 1),
        0,
      );
      const answeredTwice = counts.filter((count) => count.answered > 1).length;
      const kills = pair.restarts.length;
      const report = {
        backend,
        enqueues: clients.accepted.size + clients.refused.length,
        accepted: clients.accepted.size,
        refused: clients.refused.length,
        replayed: clients.history.filter((operation) => operation.replayed).length,
        kills,
        lost: lost.length,
        doubleFinals: watch.changes.length,
        complete: finals.filter((final) => final.status === 'complete').length,
        dead: finals.filter((final) => final.status === 'dead').length,
        backendCalls: counts.reduce((sum, count) => sum + count.calls, 0),
        failedAttempts: counts.reduce((sum, count) => sum + count.failed, 0),
        duplicates,
        duplicateBound: WORKER_CONCURRENCY * kills,
        abortedCalls: counts.reduce((sum, count) => sum + count.aborted, 0),
        answeredTwice,
        backendInFlightAtKills: pair.restarts.map((restart) => restart.backendInFlight),
        connectionErrors: clients.connectionErrors().length,
        serverErrors: clients.serverErrors().map((operation) => operation.status),
        oddReads: watch.oddReads.length,
        reads: watch.reads,
        restartToServing: summary(
          pair.restarts.map((restart) => restart.servingAt! - restart.exitedAt!),
        ),
        allFinalAfterLoadMs: allFinalAfterMs,
      };
      console.log(`reliability 1: ${JSON.stringify(report)}`);

      expect(pair.restarts).toHaveLength(CHAOS ? pair.restarts.length : CI_KILLS);
      expect(clients.refused).toEqual([]);
      expect(clients.accepted.size).toBeGreaterThanOrEqual(ENQUEUES);
      expect(lost).toEqual([]);
      expect(watch.changes).toEqual([]);
      expect(watch.oddReads).toEqual([]);
      // Every prompt reached the backend; the kills landed while calls were open.
      expect(calls.size).toBe(clients.accepted.size);
      expect(report.abortedCalls).toBeGreaterThan(0);
      expect(duplicates).toBeLessThanOrEqual(WORKER_CONCURRENCY * kills);
      // A complete job keeps an answer the backend gave in full for its prompt.
      const answers = new Map<string, Set<string>>();
      for (const request of fake.completions(run)) {
        if (request.status !== 200 || !request.responseBody) continue;
        const id = (JSON.parse(request.responseBody) as { id: string }).id;
        answers.set(request.prompt, (answers.get(request.prompt) ?? new Set()).add(id));
      }
      for (const [prompt, id] of clients.accepted) {
        const final = watch.firstFinal.get(id)!;
        if (final.status !== 'complete') continue;
        const result = JSON.parse(final.result) as { id: string };
        expect(answers.get(prompt)?.has(result.id), `${prompt}: ${final.result}`).toBe(true);
      }
    },
  );

  // CI size: 10 s of load at 50 req/s (longer if the restarts take longer), spanning both.
  const MIN_LOAD_MS = CHAOS ? 30_000 : 10_000;

  it(
    'reliability 2: a rolling SIGTERM restart of both instances under 50 req/s loses nothing, calls the backend once per job, answers no 5xx but 503 while draining',
    { timeout: 360_000 },
    async () => {
      const fake = await FakeBackend.start({
        defaultBehaviour: { type: 'random', minDelayMs: 50, maxDelayMs: 500 },
      });
      cleanups.push(() => fake.close());
      const { env, drop } = await isolatedEnvironment(backend, [fake]);
      cleanups.push(drop);
      const pair = await Pair.start(env);
      cleanups.push(() => pair.stop());
      const { key } = await createTenantAt(pair.url(0), {
        rpm: 1_000_000,
        max_concurrent: 1_000,
        max_queued: 100_000,
      });
      const clients = new Clients(pair, key);
      const run = randomBytes(4).toString('hex');
      const prompt = (index: number) => `r2 ${run} ${index}`;

      let restarting = true;
      const loadStartedAt = Date.now();
      const load = paced(
        50,
        // Bounded, for a machine so slow that the restarts take far longer.
        () =>
          Date.now() - loadStartedAt < 90_000 &&
          (restarting || Date.now() - loadStartedAt < MIN_LOAD_MS),
        (index) => clients.submit(prompt(index), index % 2),
      );
      try {
        // A, then B: each once 50 more requests have been accepted, so it drains under load.
        for (const instance of [0, 1]) {
          const threshold = clients.accepted.size + 50;
          await eventually(() => {
            if (clients.accepted.size < threshold) throw new Error('not yet');
          }, 30_000);
          const restart = await pair.restart(instance, 'SIGTERM', fake);
          expect(restart.exitCode, pair.output()).toBe(0);
        }
      } finally {
        restarting = false;
        await load;
      }
      const loadMs = Date.now() - loadStartedAt;

      const ids = [...clients.accepted.values()];
      const auth = { authorization: `Bearer ${key}` };
      const statuses = new Map<string, string>();
      await eventually(async () => {
        await inParallel(ids, 16, async (id, index) => {
          if (statuses.get(id) === 'complete') return;
          const response = await fetch(`${pair.url(index % 2)}/v1/results/${id}`, {
            headers: auth,
          });
          statuses.set(id, response.status === 200 ? (await response.json()).status : '?');
        });
        if (ids.some((id) => statuses.get(id) !== 'complete')) throw new Error('not all done');
      }, 120_000).catch(() => undefined);

      const lost = ids.filter((id) => !FINAL.has(statuses.get(id) ?? ''));
      const counts = [...callsByPrompt(fake.completions(run)).values()];
      const errors = clients.serverErrors();
      const outsideDrain = errors.filter(
        (operation) =>
          operation.status !== 503 ||
          !pair.wasDown(operation.instance, operation.sentAt, operation.answeredAt!),
      );
      const report = {
        backend,
        sent: clients.history.length,
        prompts: clients.accepted.size + clients.refused.length,
        accepted: clients.accepted.size,
        refused: clients.refused.length,
        replayed: clients.history.filter((operation) => operation.replayed).length,
        loadMs,
        lost: lost.length,
        notComplete: ids.filter((id) => statuses.get(id) !== 'complete').length,
        backendCalls: counts.reduce((sum, count) => sum + count.calls, 0),
        answeredTwice: counts.filter((count) => count.answered > 1).length,
        abortedReruns: counts.reduce((sum, count) => sum + count.aborted, 0),
        answers503: errors.filter((operation) => operation.status === 503).length,
        other5xx: outsideDrain.map((operation) => operation.status),
        connectionErrors: clients.connectionErrors().length,
        drains: pair.restarts.map((restart) => restart.exitedAt! - restart.signalledAt),
        restartToServing: pair.restarts.map((restart) => restart.servingAt! - restart.exitedAt!),
        backendInFlightAtSignal: pair.restarts.map((restart) => restart.backendInFlight),
      };
      console.log(`reliability 2: ${JSON.stringify(report)}`);
      const twice = counts.filter((count) => count.answered > 1).slice(0, 5);
      for (const count of twice) {
        console.log(
          `answered twice: ${count.prompt}`,
          JSON.stringify({
            operations: clients.history.filter((operation) => operation.prompt === count.prompt),
            calls: fake
              .completions(run)
              .filter((request) => request.prompt === count.prompt)
              .map(({ id, receivedAt, finished, aborted, status, headers }) => ({
                id,
                job: headers['x-request-id'],
                receivedAt,
                finished,
                aborted,
                status,
              })),
            restarts: pair.restarts,
          }),
        );
      }
      if (twice.length > 0) {
        const ids = twice.map((count) => clients.accepted.get(count.prompt)!);
        console.log(
          pair
            .output()
            .split('\n')
            .filter((line) => ids.some((id) => line.includes(id)) || line.includes('"level":4'))
            .slice(0, 60)
            .join('\n'),
        );
        for (const id of ids) {
          const response = await fetch(`${pair.url(0)}/v1/results/${id}`, { headers: auth });
          console.log('job', JSON.stringify(await response.json()));
        }
      }

      expect(clients.refused).toEqual([]);
      expect(lost).toEqual([]);
      expect(ids.filter((id) => statuses.get(id) !== 'complete')).toEqual([]);
      expect(outsideDrain).toEqual([]);
      // Every prompt called exactly once: a drain lets the running calls (≤ 500 ms here)
      // finish within SHUTDOWN_DRAIN_MS, so none is stopped and made again.
      expect(counts).toHaveLength(clients.accepted.size);
      expect(counts.filter((count) => count.answered !== 1 || count.calls !== 1)).toEqual([]);
      expect(counts.filter((count) => count.failed > 0)).toEqual([]);
    },
  );
});
