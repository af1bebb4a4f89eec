#!/usr/bin/env node
// infq benchmark: `npm run build && npm run bench`. See bench/README.md for what it measures.
//
// For each queue backend (redis, then postgres) it creates a throwaway database (and Redis key
// prefix), starts the fake OpenAI backend and one infq server (`node dist/src/main.js`, MODE=all)
// as child processes on 127.0.0.1 and runs scenarios A and B; then, on the same database, an
// API-only process fills the queue and a worker-only process drains it (scenario C). Then it
// stops everything and cleans up. Results are printed as markdown tables and written to
// bench/RESULTS.md.
//
// Knobs (environment variables, all optional):
//   BENCH_BACKENDS=redis,postgres   which queue backends to run, in order
//   BENCH_DURATION_S=10             scenario A duration
//   BENCH_CONNECTIONS=50            autocannon connections (all scenarios)
//   BENCH_TENANTS=1                 tenants (one key each) the requests are spread over
//   BENCH_JOBS=5000                 scenario B and C batch size
//   BENCH_PHASE_TIMEOUT_S=30        longest a batch submission, or a drain, may take
//   BENCH_IDLE_WAIT_S=30            longest wait for an idle machine before each backend
//   BENCH_MAX_S=270                 time budget for the whole run; scenarios past it are skipped
//   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test   admin connection (CREATE DATABASE)
//   BENCH_REDIS_URL=redis://127.0.0.1:6379
//   BENCH_WORKER_CONCURRENCY=64     passed to infq as WORKER_CONCURRENCY
//   BENCH_WRITE=0                   print only; do not rewrite bench/RESULTS.md
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_MD = path.join(ROOT, 'bench/RESULTS.md');
const OTHER_RESULTS_MARKER = '<!-- other benchmarks -->';

const env = process.env;
const OPTIONS = {
  backends: (env.BENCH_BACKENDS ?? 'redis,postgres').split(',').map((s) => s.trim()),
  durationS: Number(env.BENCH_DURATION_S ?? 10),
  connections: Number(env.BENCH_CONNECTIONS ?? 50),
  tenants: Number(env.BENCH_TENANTS ?? 1),
  jobs: Number(env.BENCH_JOBS ?? 5000),
  phaseTimeoutS: Number(env.BENCH_PHASE_TIMEOUT_S ?? 30),
  idleWaitS: Number(env.BENCH_IDLE_WAIT_S ?? 30),
  maxS: Number(env.BENCH_MAX_S ?? 270),
  postgresUrl: env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  redisUrl: env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  workerConcurrency: Number(env.BENCH_WORKER_CONCURRENCY ?? 64),
  write: env.BENCH_WRITE !== '0',
};
const ADMIN_TOKEN = `bench-admin-${randomBytes(12).toString('hex')}`;
const HUGE = 1_000_000_000;
const CHAT_BODY = JSON.stringify({
  model: 'fake-model',
  messages: [{ role: 'user', content: 'hi' }],
});
const QUEUE = 'inference'; // INFERENCE_QUEUE in src/jobs/inference-queue.ts
const WARMUP_S = 2;
const HEALTH_POLL_MS = 100;
// Busier than this (% of all cores) before a backend's run counts as "not idle".
const IDLE_BUSY_PCT = 15;
// More than this (% of one core) used by other processes during a scenario skews it.
const OTHER_CPU_PCT = 25;

for (const backend of OPTIONS.backends) {
  if (backend !== 'redis' && backend !== 'postgres') {
    fail(`unknown backend in BENCH_BACKENDS: ${backend}`);
  }
}
for (const [name, value] of Object.entries(OPTIONS)) {
  const min = name === 'idleWaitS' ? 0 : 1;
  if (typeof value === 'number' && !(value >= min)) fail(`${name} must be a number >= ${min}`);
}
if (OPTIONS.jobs < OPTIONS.connections) fail('BENCH_JOBS must be at least BENCH_CONNECTIONS');
for (const file of ['dist/src/main.js', 'dist/test/support/fake-backend.main.js']) {
  if (!existsSync(path.join(ROOT, file))) fail(`${file} is missing: run \`npm run build\` first`);
}
// The servers run from a private copy of dist/, so a rebuild during the run cannot pull it away
// from under them. node_modules and package.json (for "type": "module") sit beside it as usual.
const SNAPSHOT = mkdtempSync(path.join(os.tmpdir(), 'infq-bench-'));
process.on('exit', () => rmSync(SNAPSHOT, { recursive: true, force: true }));
cpSync(path.join(ROOT, 'dist'), path.join(SNAPSHOT, 'dist'), { recursive: true });
copyFileSync(path.join(ROOT, 'package.json'), path.join(SNAPSHOT, 'package.json'));
symlinkSync(path.join(ROOT, 'node_modules'), path.join(SNAPSHOT, 'node_modules'), 'dir');
const MAIN_JS = path.join(SNAPSHOT, 'dist/src/main.js');
// Whether the build is older than the source it is supposed to come from.
const BUILD = (() => {
  const builtAt = statSync(path.join(ROOT, 'dist/src/main.js')).mtimeMs;
  const newer = readdirSync(path.join(ROOT, 'src'), { recursive: true })
    .map((file) => path.join('src', String(file)))
    .filter((file) => {
      const stat = statSync(path.join(ROOT, file));
      return stat.isFile() && stat.mtimeMs > builtAt;
    });
  return { builtAt: new Date(builtAt), newer };
})();
const FAKE_JS = path.join(SNAPSHOT, 'dist/test/support/fake-backend.main.js');

// Everything started so far, stopped in reverse order on exit or Ctrl-C.
const cleanups = [];
// Databases this run created: PostgreSQL backends serving any other database count as "other".
const benchDatabases = new Set();
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: cleaning up (again to force)`);
    void runCleanups().finally(() => process.exit(130));
  });
}

const started = new Date();
const deadlineAt = Date.now() + OPTIONS.maxS * 1000;
/** Milliseconds left of the run's time budget. */
const budgetLeft = () => Math.max(0, deadlineAt - Date.now());

const results = [];
try {
  for (const backend of OPTIONS.backends) {
    results.push(await benchBackend(backend));
    await runCleanups();
  }
} catch (error) {
  console.error(error);
  await runCleanups();
  process.exit(1);
}

const machine = await describeMachine();
const markdown = renderTables(results);
console.log(`\n${markdown}`);
if (OPTIONS.write) {
  // Results of the other scripts in bench/ sit below this marker and survive a rerun.
  const previous = existsSync(RESULTS_MD) ? readFileSync(RESULTS_MD, 'utf8') : '';
  const kept = previous.includes(OTHER_RESULTS_MARKER)
    ? previous.slice(previous.indexOf(OTHER_RESULTS_MARKER))
    : '';
  writeFileSync(
    RESULTS_MD,
    renderResultsFile(machine, started, markdown, results) + (kept ? `\n${kept}` : ''),
  );
  log(`wrote ${path.relative(ROOT, RESULTS_MD)}`);
}
for (const r of results) {
  for (const l of r.logs) console.log(`\ninfq (${r.backend}, MODE=${l.mode}) logged:\n${l.output}`);
}
const problems = results.flatMap((r) => r.problems.map((p) => `${r.backend}: ${p}`));
if (problems.length > 0) {
  console.log(`\nproblems:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  process.exitCode = 2;
}
log(`done in ${fmt((Date.now() - started.getTime()) / 1000, 0)} s`);

// ---------------------------------------------------------------------------------------------

async function benchBackend(backend) {
  const result = { backend, problems: [], logs: [] };
  log(`== ${backend} ==`);
  await waitForIdle(result);
  const t0 = Date.now();

  const database = await createDatabase();
  cleanups.push(() => database.drop());
  const prefix = `infqbench${randomBytes(4).toString('hex')}`;
  if (backend === 'redis') {
    cleanups.push(async () => log(`deleted ${await clearRedisPrefix(prefix)} Redis keys`));
  }
  const store = await openQueueStore(backend, database.url, prefix);
  cleanups.push(() => store.close());

  const fakePort = await freePort();
  const fake = await startProcess('fake-backend', [FAKE_JS, String(fakePort)], {});
  cleanups.push(() => fake.stop());
  await waitFor(`fake backend on :${fakePort}`, 10_000, async () => {
    const response = await fetch(`http://127.0.0.1:${fakePort}/v1/models`);
    return response.ok;
  });

  const infqEnv = {
    DATABASE_URL: database.url,
    ...(backend === 'redis' && { REDIS_URL: OPTIONS.redisUrl, REDIS_PREFIX: prefix }),
    BUS_NODES: `http://127.0.0.1:${fakePort}/v1`,
    ADMIN_TOKEN,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DEFAULT_RPM: String(HUGE),
    DEFAULT_MAX_CONCURRENT: String(HUGE),
    DEFAULT_TOKENS_PER_DAY: String(HUGE * 1000),
    WORKER_CONCURRENCY: String(OPTIONS.workerConcurrency),
  };
  /** Starts one infq process in `mode` and waits for its /health. */
  const startInfq = async (mode) => {
    const port = await freePort();
    const spawnedAt = Date.now();
    const handle = await startProcess(`infq (${mode})`, [MAIN_JS], {
      ...infqEnv,
      MODE: mode,
      PORT: String(port),
      ...(backend !== 'redis' && { REDIS_URL: '' }), // a developer's .env must not add Redis
    });
    const base = `http://127.0.0.1:${port}`;
    const first = await waitFor(`infq (${mode}) /health`, 60_000, async () => {
      if (handle.exited) throw new Error(`infq (${mode}) exited: ${handle.output()}`);
      const response = await fetch(`${base}/health`);
      return response.status === 200 ? response.json() : false;
    });
    if (first.queue?.backend !== backend) {
      throw new Error(`infq reports queue backend ${first.queue?.backend}, expected ${backend}`);
    }
    const startupS = (Date.now() - spawnedAt) / 1000;
    log(`infq (${mode}) up in ${fmt(startupS, 1)} s (pid ${handle.pid}, port ${port})`);
    return Object.assign(handle, { base, startupS, spawnedAt });
  };
  /** Stops an infq process, recording its exit status and anything it logged. */
  const stopInfq = async (infq, mode) => {
    await infq.stop();
    if (infq.exitCode() !== 0) {
      result.problems.push(`infq (${mode}) exited with ${infq.exitCode()} on SIGTERM`);
    }
    const output = infq.output().trim();
    if (output) result.logs.push({ mode, output });
  };
  /** False (and a problem recorded) when too little of the time budget is left for a scenario. */
  const haveTime = (scenario, neededS) => {
    if (budgetLeft() >= neededS * 1000) return true;
    result.problems.push(`scenario ${scenario} skipped: the time budget (BENCH_MAX_S) is spent`);
    return false;
  };

  // ---- Phase 1: one infq process, MODE=all (API and worker together). Scenarios A and B.
  const infq = await startInfq('all');
  cleanups.push(() => infq.stop());
  result.startupS = infq.startupS;
  const base = infq.base;

  // Tenants and keys; limits as high as the API allows so they never interfere. Requests take
  // the keys in turn (each connection cycles through them).
  const keyHeaders = [];
  for (let i = 0; i < OPTIONS.tenants; i++) {
    const tenant = await adminPost(base, '/tenants', {
      name: `bench-${randomBytes(3).toString('hex')}`,
      limits: { rpm: 2_147_483_647, max_concurrent: 2_147_483_647, tokens_per_day: HUGE * 1000 },
    });
    const { key } = await adminPost(base, `/tenants/${tenant.id}/keys`, { name: 'bench' });
    keyHeaders.push({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
  }
  const chatHeaders = keyHeaders[0];

  // Smoke test: one job, end to end, with a result that came from the fake backend.
  const smoke = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: chatHeaders,
    body: CHAT_BODY,
  });
  if (smoke.status !== 202) throw new Error(`smoke POST: ${smoke.status} ${await smoke.text()}`);
  const { id } = await smoke.json();
  const job = await waitFor('smoke job complete', 30_000, async () => {
    const view = await (await fetch(`${base}/v1/results/${id}`, { headers: chatHeaders })).json();
    if (view.status === 'dead' || view.status === 'cancelled') {
      throw new Error(`smoke job ended ${view.status}: ${JSON.stringify(view)}`);
    }
    if (view.status === 'complete' && view.result === null) {
      // Seen when the job completes between the server's two reads of it (job, then state).
      result.problems.push(
        `GET /v1/results/:id answered status "complete" with result null and completed_at ${view.completed_at}; the next poll had the result`,
      );
      return false;
    }
    return view.status === 'complete' ? view : false;
  });
  if (!String(job.result?.choices?.[0]?.message?.content ?? '').includes('hi')) {
    throw new Error(`smoke job result is not the fake backend's answer: ${JSON.stringify(job)}`);
  }
  // Jobs accepted so far. A run that is stopped (by duration or a cap) leaves requests in flight:
  // the server may still queue those (their 202 is never counted), so up to `inFlight` more.
  let accepted = 1;
  let inFlight = 0;

  /**
   * autocannon against POST /v1/chat/completions, stopped after `capMs` at the latest. Its own
   * `duration` is rounded to its 1 s sample tick when `amount` is set, so the time of the last
   * response is recorded here (epoch ms, comparable with the queue's timestamps).
   */
  const post = (baseUrl, options, capMs = Infinity) =>
    new Promise((resolve, reject) => {
      let lastResponseAt = Date.now();
      let capped = false;
      const startedAt = Date.now();
      let timer;
      const instance = autocannon(
        {
          url: `${baseUrl}/v1/chat/completions`,
          method: 'POST',
          headers: chatHeaders,
          body: CHAT_BODY,
          ...(keyHeaders.length > 1 && {
            requests: keyHeaders.map((headers) => ({
              method: 'POST',
              path: '/v1/chat/completions',
              headers,
              body: CHAT_BODY,
            })),
          }),
          connections: OPTIONS.connections,
          pipelining: 1,
          timeout: 30,
          ...options,
        },
        (error, run) => {
          clearTimeout(timer);
          if (error) reject(error);
          else resolve({ ...run, startedAt, lastResponseAt, capped });
        },
      );
      instance.on('response', () => (lastResponseAt = Date.now()));
      if (Number.isFinite(capMs)) {
        timer = setTimeout(() => {
          capped = true;
          instance.stop();
        }, capMs);
      }
    });

  // Warm-up (not reported): JIT, connection pools, BullMQ scripts.
  log(`warm-up ${WARMUP_S} s`);
  const warm = await post(base, { duration: WARMUP_S, connections: 10 });
  accepted += warm['2xx'];
  inFlight += 10;
  await waitForDrain(base, accepted, 'warm-up');

  // Scenario A: queued POST throughput for a fixed duration, worker running in the same process.
  if (haveTime('A', OPTIONS.durationS + 10)) {
    log(`scenario A: ${OPTIONS.durationS} s, ${OPTIONS.connections} connections`);
    const beforeA = await health(base);
    const cpuA = cpuMeter({ infq: infq.pid, fake: fake.pid });
    const a = await post(base, { duration: OPTIONS.durationS });
    const cpuAUsed = cpuA.stop();
    const afterA = await health(base);
    accepted += a['2xx'];
    inFlight += OPTIONS.connections;
    const drainA = await waitForDrain(base, accepted, 'scenario A');
    result.a = {
      accepted: a['2xx'],
      rps: a['2xx'] / a.duration,
      p50: a.latency.p50,
      p99: a.latency.p99,
      max: a.latency.max,
      non2xx: a.non2xx,
      errors: a.errors + a.timeouts,
      completedDuring: afterA.queue.complete - beforeA.queue.complete,
      backlogAtEnd: afterA.queue.queued + afterA.queue.processing,
      drainS: drainA.seconds,
      cpu: cpuAUsed,
    };
    checkQuiet(result, 'A', cpuAUsed);
    if (a.non2xx > 0) {
      const codes = Object.keys(a.statusCodeStats).join(', ');
      result.problems.push(`scenario A: ${a.non2xx} non-2xx answers (status ${codes})`);
    }
    if (a.errors > 0) {
      result.problems.push(`scenario A: ${a.errors} errors (${a.timeouts} timeouts)`);
    }
    if (!drainA.ok) result.problems.push(`scenario A: ${drainA.message}`);
    log(
      `A: ${fmt(result.a.rps)} req/s, p50 ${result.a.p50} ms, p99 ${result.a.p99} ms, ` +
        `non-2xx ${a.non2xx}; backlog drained ${fmt(drainA.seconds, 1)} s after`,
    );
  }

  // Scenario B: a fixed batch submitted as fast as possible; time until every job is complete.
  if (haveTime('B', 15)) {
    log(`scenario B: ${OPTIONS.jobs} jobs, API and worker in one process`);
    const cpuB = cpuMeter({ infq: infq.pid, fake: fake.pid });
    const submit = await post(base, { amount: OPTIONS.jobs }, phaseCap());
    const drainB = await waitForDrain(base, accepted + submit['2xx'], 'scenario B');
    const cpuBUsed = cpuB.stop();
    accepted += submit['2xx'];
    if (submit.capped) inFlight += OPTIONS.connections;
    const finished = await store.finishedSince(submit.startedAt);
    const tail = await store.finishedSince(submit.lastResponseAt);
    const totalS = (finished.last - submit.startedAt) / 1000;
    const tailS = (finished.last - submit.lastResponseAt) / 1000;
    result.b = {
      accepted: submit['2xx'],
      submitS: (submit.lastResponseAt - submit.startedAt) / 1000,
      submitRps: submit['2xx'] / ((submit.lastResponseAt - submit.startedAt) / 1000),
      p99: submit.latency.p99,
      totalS,
      completed: finished.count,
      completionsPerS: finished.count / totalS,
      tailPerS: tailS >= 0.5 ? tail.count / tailS : null,
      cpu: cpuBUsed,
    };
    checkQuiet(result, 'B', cpuBUsed);
    batchProblems(result, 'B', submit, drainB);
    log(
      `B: ${fmt(submit['2xx'])} jobs submitted in ${fmt(result.b.submitS, 2)} s, the last ` +
        `completed ${fmt(totalS, 2)} s after the first POST: ${fmt(result.b.completionsPerS)} completions/s`,
    );
  }

  const counts = (await health(base)).queue;
  if (counts.complete < accepted || counts.complete > accepted + inFlight) {
    result.problems.push(
      `${counts.complete} jobs complete, expected ${accepted} (accepted POSTs) up to ${accepted + inFlight} (+ requests in flight when a run stopped)`,
    );
  }
  if (counts.dead > 0) result.problems.push(`${counts.dead} dead jobs`);
  result.rssMb = infq.rssMb();
  cleanups.pop();
  await stopInfq(infq, 'all');

  // ---- Phase 2: scenario C. An API-only process fills the queue, then a worker-only process
  // starts and drains it: the worker's completion rate without HTTP load beside it.
  if (haveTime('C', 25)) {
    const api = await startInfq('api');
    cleanups.push(() => api.stop());
    log(`scenario C: queueing ${OPTIONS.jobs} jobs with no worker running`);
    const fill = await post(api.base, { amount: OPTIONS.jobs }, phaseCap());
    const queued = await waitFor('the queued count', 10_000, async () => {
      const q = (await health(api.base)).queue;
      return q.queued >= fill['2xx'] ? q : false;
    });
    const worker = await startInfq('worker');
    cleanups.push(() => worker.stop());
    const cpuC = cpuMeter({ infq: worker.pid, api: api.pid, fake: fake.pid });
    const drainC = await waitForDrain(api.base, queued.complete + queued.queued, 'scenario C');
    const cpuCUsed = cpuC.stop();
    const finished = await store.finishedSince(worker.spawnedAt);
    const drainS = (finished.last - finished.first) / 1000;
    result.c = {
      fillRps: fill['2xx'] / ((fill.lastResponseAt - fill.startedAt) / 1000),
      completed: finished.count,
      drainS,
      completionsPerS: drainS > 0 ? (finished.count - 1) / drainS : null,
      spawnToFirstS: (finished.first - worker.spawnedAt) / 1000,
      spawnToLastS: (finished.last - worker.spawnedAt) / 1000,
      workerStartupS: worker.startupS,
      cpu: cpuCUsed,
    };
    checkQuiet(result, 'C', cpuCUsed);
    batchProblems(result, 'C', fill, drainC);
    const maxC = fill['2xx'] + (fill.capped ? OPTIONS.connections : 0);
    if (finished.count < fill['2xx'] || finished.count > maxC) {
      result.problems.push(
        `scenario C: ${finished.count} jobs completed, expected ${fill['2xx']} (accepted POSTs)${maxC > fill['2xx'] ? ` up to ${maxC}` : ''}`,
      );
    }
    log(
      `C: ${fmt(finished.count)} jobs completed in ${fmt(drainS, 2)} s (first to last): ` +
        `${fmt(result.c.completionsPerS)} completions/s`,
    );
    cleanups.pop();
    await stopInfq(worker, 'worker');
    cleanups.pop();
    await stopInfq(api, 'api');
  }

  await runCleanups();
  result.wallS = (Date.now() - t0) / 1000;
  return result;
}

/** How long a batch submission (or a drain) may take: the phase timeout, within the budget. */
function phaseCap() {
  return Math.max(1000, Math.min(OPTIONS.phaseTimeoutS * 1000, budgetLeft()));
}

function batchProblems(result, scenario, submit, drain) {
  if (submit.capped) {
    result.problems.push(
      `scenario ${scenario}: submission stopped after ${fmt((submit.lastResponseAt - submit.startedAt) / 1000, 1)} s with ${submit['2xx']} of ${OPTIONS.jobs} jobs accepted`,
    );
  } else if (submit['2xx'] !== OPTIONS.jobs) {
    result.problems.push(
      `scenario ${scenario}: ${submit['2xx']} of ${OPTIONS.jobs} POSTs accepted (${submit.non2xx} non-2xx, ${submit.errors} errors)`,
    );
  }
  if (!drain.ok) result.problems.push(`scenario ${scenario}: ${drain.message}`);
}

/**
 * Read-only access to the queue's own finish timestamps (BullMQ's `finishedOn`, epoch ms, set
 * by the worker), which time completions exactly; /health only says when all are done.
 */
async function openQueueStore(backend, databaseUrl, prefix) {
  if (backend === 'redis') {
    const redis = new Redis(OPTIONS.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const completed = `${prefix}:${QUEUE}:completed`; // sorted set scored by finishedOn
    return {
      finishedSince: async (sinceMs) => {
        const [count, first, last] = await Promise.all([
          redis.zcount(completed, sinceMs, '+inf'),
          redis.zrangebyscore(completed, sinceMs, '+inf', 'WITHSCORES', 'LIMIT', 0, 1),
          redis.zrevrangebyscore(completed, '+inf', sinceMs, 'WITHSCORES', 'LIMIT', 0, 1),
        ]);
        return { count, first: Number(first[1] ?? NaN), last: Number(last[1] ?? NaN) };
      },
      close: async () => redis.disconnect(),
    };
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  return {
    finishedSince: async (sinceMs) => {
      const { rows } = await client.query(
        `SELECT count(*)::int AS count, min(finished_at_ms) AS first, max(finished_at_ms) AS last
           FROM bullmq.job
          WHERE queue = $1 AND state = 'completed' AND finished_at_ms >= $2`,
        [QUEUE, sinceMs],
      );
      const row = rows[0];
      return { count: row.count, first: Number(row.first ?? NaN), last: Number(row.last ?? NaN) };
    },
    close: () => client.end(),
  };
}

/** Polls /health until nothing is queued, running or retrying and `target` jobs are final. */
async function waitForDrain(base, target, label) {
  const start = performance.now();
  const deadline = start + phaseCap();
  for (;;) {
    const q = (await health(base)).queue;
    const at = performance.now();
    if (q.queued + q.processing + q.retrying === 0 && q.complete + q.dead >= target) {
      return { ok: true, seconds: (at - start) / 1000 };
    }
    if (at > deadline) {
      return {
        ok: false,
        seconds: (at - start) / 1000,
        message: `${label}: queue not drained after ${fmt((at - start) / 1000, 0)} s (${JSON.stringify(q)}, expected ${target} complete)`,
      };
    }
    await sleep(HEALTH_POLL_MS);
  }
}

async function health(base) {
  const response = await fetch(`${base}/health`);
  const body = await response.json();
  if (!body.queue || typeof body.queue.complete !== 'number') {
    throw new Error(`/health has no queue counts: ${JSON.stringify(body)}`);
  }
  return body;
}

async function adminPost(base, route, json) {
  const response = await fetch(`${base}/admin/api${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(json),
  });
  if (response.status !== 201) {
    throw new Error(`POST /admin/api${route}: ${response.status} ${await response.text()}`);
  }
  return response.json();
}

async function createDatabase() {
  const name = `infq_bench_${randomBytes(6).toString('hex')}`;
  benchDatabases.add(name);
  const admin = new pg.Client({ connectionString: OPTIONS.postgresUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(OPTIONS.postgresUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: OPTIONS.postgresUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

async function clearRedisPrefix(prefix) {
  const redis = new Redis(OPTIONS.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** A child process whose output is kept (last 64 KiB) and which stops with SIGTERM. */
async function startProcess(name, args, extraEnv) {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stopping = false;
  let exit;
  const keep = (chunk) => {
    output = (output + chunk.toString('utf8')).slice(-65_536);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      exit = code ?? signal;
      if (!stopping && !interrupted) log(`${name} exited unexpectedly (${exit}):\n${output}`);
      resolve(exit);
    }),
  );
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return {
    pid: child.pid,
    /** Exit code (or signal name) once exited, else undefined. */
    exitCode: () => exit,
    get exited() {
      return exit !== undefined;
    },
    output: () => output,
    rssMb: () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
      } catch {
        return null;
      }
    },
    stop: async () => {
      stopping = true;
      if (exit === undefined) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * CPU use between start and stop, in % of one core: each named pid; the PostgreSQL server
 * (its background processes and the backends serving this run's databases) and Redis, found
 * by process name; this process (the load generator); everything else on the machine
 * ("other", which should stay near 0); and the whole machine in % of all cores.
 * Read from /proc, so Linux only; elsewhere every value is null.
 */
function cpuMeter(pids) {
  const start = performance.now();
  const before = cpuSnapshot(pids);
  return {
    stop: () => {
      const after = cpuSnapshot(pids);
      const seconds = (performance.now() - start) / 1000;
      const rate = (a, b) => (a === null || b === null ? null : ((a - b) / seconds) * 100);
      const used = {};
      for (const name of Object.keys(pids)) used[name] = rate(after.pids[name], before.pids[name]);
      for (const name of ['postgres', 'redis']) {
        if (!after.servers || !before.servers) {
          used[name] = null;
          continue;
        }
        let total = 0;
        // Processes started meanwhile count from zero; ones that exited meanwhile are lost.
        for (const [pid, cpu] of after.servers[name]) {
          total += cpu - (before.servers[name].get(pid) ?? 0);
        }
        used[name] = after.servers[name].size > 0 ? (total / seconds) * 100 : null;
      }
      used.bench = rate(after.bench, before.bench);
      if (after.machine && before.machine) {
        const busy =
          1 -
          (after.machine.idle - before.machine.idle) / (after.machine.total - before.machine.total);
        used.machine = busy * 100;
        const known = Object.values(used).reduce((sum, v) => sum + (v ?? 0), 0) - used.machine;
        used.other = Math.max(0, busy * os.availableParallelism() * 100 - known);
      } else {
        used.machine = null;
        used.other = null;
      }
      return used;
    },
  };
}

function cpuSnapshot(pids) {
  const procCpu = (pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime + stime, in clock ticks (USER_HZ, 100 on Linux).
      return {
        comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
        seconds: (Number(fields[11]) + Number(fields[12])) / 100,
      };
    } catch {
      return null; // not Linux, or the process exited
    }
  };
  const snapshot = {
    pids: Object.fromEntries(
      Object.entries(pids).map(([name, pid]) => [name, procCpu(pid)?.seconds ?? null]),
    ),
    servers: null,
    bench: (() => {
      const usage = process.cpuUsage();
      return (usage.user + usage.system) / 1e6;
    })(),
    machine: null,
  };
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const values = fields.slice(1).map(Number);
    snapshot.machine = { idle: values[3] + values[4], total: values.reduce((a, b) => a + b, 0) };
    const servers = { postgres: new Map(), redis: new Map() };
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const cpu = procCpu(entry);
      if (cpu?.comm === 'redis-server') servers.redis.set(entry, cpu.seconds);
      if (cpu?.comm !== 'postgres') continue;
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      // A client backend's title names its database and client address.
      const clientBackend = /\(\d+\)|\[local\]/.test(cmdline);
      const ours = [...benchDatabases].some((name) => cmdline.includes(` ${name} `));
      if (!clientBackend || ours) servers.postgres.set(entry, cpu.seconds);
    }
    snapshot.servers = servers;
  } catch {
    // not Linux
  }
  return snapshot;
}

/** Flags a scenario during which other processes took a noticeable share of the CPU. */
function checkQuiet(result, scenario, cpu) {
  if (cpu?.other > OTHER_CPU_PCT) {
    result.problems.push(
      `other processes used ${fmt(cpu.other, 0)} % of a core during scenario ${scenario}: numbers are skewed`,
    );
  }
}

/** % of all cores busy over `ms`, or null where /proc/stat is missing. */
async function machineBusy(ms) {
  const before = cpuSnapshot({}).machine;
  await sleep(ms);
  const after = cpuSnapshot({}).machine;
  if (!before || !after) return null;
  return (1 - (after.idle - before.idle) / (after.total - before.total)) * 100;
}

/**
 * Waits (up to BENCH_IDLE_WAIT_S) until the machine is nearly idle, since anything else running
 * (a test suite, a build) takes CPU and PostgreSQL's commit lock from the benchmark.
 */
async function waitForIdle(result) {
  const deadline = Date.now() + Math.min(OPTIONS.idleWaitS * 1000, budgetLeft() / 4);
  let busy = await machineBusy(2000);
  if (busy === null || busy < IDLE_BUSY_PCT) return;
  if (Date.now() < deadline) {
    log(
      `machine is ${fmt(busy, 0)} % busy; waiting up to ${fmt((deadline - Date.now()) / 1000, 0)} s`,
    );
  }
  while (Date.now() < deadline) {
    busy = await machineBusy(2000);
    if (busy < IDLE_BUSY_PCT) return;
  }
  result.problems.push(`machine was ${fmt(busy, 0)} % busy before the run: numbers are skewed`);
}

async function waitFor(what, timeoutMs, probe) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
      if (!(error instanceof TypeError)) throw error; // fetch's "connection refused" is a TypeError
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await sleep(100);
  }
}

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function runCleanups() {
  while (cleanups.length > 0) {
    const cleanup = cleanups.pop();
    try {
      await cleanup();
    } catch (error) {
      console.error('cleanup failed:', error);
    }
  }
}

async function describeMachine() {
  const cpus = os.cpus();
  const versions = {};
  try {
    const client = new pg.Client({ connectionString: OPTIONS.postgresUrl });
    await client.connect();
    versions.postgres = (await client.query('SHOW server_version')).rows[0].server_version;
    await client.end();
  } catch {
    versions.postgres = 'unknown';
  }
  try {
    const redis = new Redis(OPTIONS.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    versions.redis = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
    redis.disconnect();
  } catch {
    versions.redis = 'unknown';
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], {
      cwd: ROOT,
    }).toString();
    if (dirty.trim()) commit += ' (src/ has uncommitted changes)';
  } catch {
    // not a git checkout
  }
  return {
    cores: os.availableParallelism?.() ?? cpus.length,
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    memGiB: os.totalmem() / 2 ** 30,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    commit,
    ...versions,
  };
}

// ---------------------------------------------------------------------------------------------
// Markdown, laid out the way prettier formats tables so `prettier --check .` stays clean.

function renderTables(rs) {
  const by = (f) => rs.map((r) => f(r));
  const head = ['', ...rs.map((r) => r.backend)];
  const cores = os.availableParallelism();
  const cpuRows = (pick, infqLabel) => [
    [`${infqLabel} CPU (% of one core)`, ...by((r) => pct(pick(r)?.infq))],
    ['fake backend CPU', ...by((r) => pct(pick(r)?.fake))],
    ['PostgreSQL server CPU', ...by((r) => pct(pick(r)?.postgres))],
    ['Redis server CPU', ...by((r) => pct(pick(r)?.redis))],
    ['load generator CPU', ...by((r) => pct(pick(r)?.bench))],
    ['other processes CPU', ...by((r) => pct(pick(r)?.other))],
    [`whole machine busy (% of ${cores} cores)`, ...by((r) => pct(pick(r)?.machine))],
  ];
  const a = table(head, [
    ['requests/s (202 accepted)', ...by((r) => fmt(r.a?.rps))],
    ['latency p50 (ms)', ...by((r) => fmt(r.a?.p50))],
    ['latency p99 (ms)', ...by((r) => fmt(r.a?.p99))],
    ['latency max (ms)', ...by((r) => fmt(r.a?.max))],
    ['non-2xx responses', ...by((r) => fmt(r.a?.non2xx))],
    ['errors (incl. timeouts)', ...by((r) => fmt(r.a?.errors))],
    ['jobs accepted', ...by((r) => fmt(r.a?.accepted))],
    ['jobs completed during the run', ...by((r) => fmt(r.a?.completedDuring))],
    ['backlog at the end (queued + processing)', ...by((r) => fmt(r.a?.backlogAtEnd))],
    ['time to drain that backlog (s)', ...by((r) => fmt(r.a?.drainS, 1))],
    ...cpuRows((r) => r.a?.cpu, 'infq'),
  ]);
  const b = table(head, [
    ['completions/s (first POST to last completion)', ...by((r) => fmt(r.b?.completionsPerS))],
    ['last completion after (s)', ...by((r) => fmt(r.b?.totalS, 2))],
    ['batch submitted in (s)', ...by((r) => fmt(r.b?.submitS, 2))],
    ['submission requests/s', ...by((r) => fmt(r.b?.submitRps))],
    ['submission latency p99 (ms)', ...by((r) => fmt(r.b?.p99))],
    ['completions/s after the last POST', ...by((r) => fmt(r.b?.tailPerS))],
    ['jobs completed', ...by((r) => fmt(r.b?.completed))],
    ...cpuRows((r) => r.b?.cpu, 'infq'),
  ]);
  const c = table(head, [
    ['completions/s (first to last completion)', ...by((r) => fmt(r.c?.completionsPerS))],
    ['first to last completion (s)', ...by((r) => fmt(r.c?.drainS, 2))],
    ['jobs completed', ...by((r) => fmt(r.c?.completed))],
    ['worker spawn to first completion (s)', ...by((r) => fmt(r.c?.spawnToFirstS, 2))],
    ['worker spawn to last completion (s)', ...by((r) => fmt(r.c?.spawnToLastS, 2))],
    ['fill rate, API only (requests/s)', ...by((r) => fmt(r.c?.fillRps))],
    ...cpuRows((r) => r.c?.cpu, 'infq worker'),
    ['infq API process CPU (answering /health)', ...by((r) => pct(r.c?.cpu?.api))],
  ]);
  const other = table(head, [
    ['MODE=all startup to healthy /health (s)', ...by((r) => fmt(r.startupS, 1))],
    ['MODE=worker startup to healthy /health (s)', ...by((r) => fmt(r.c?.workerStartupS, 1))],
    ['infq RSS after scenario B (MiB)', ...by((r) => fmt(r.rssMb))],
    ['wall time for this backend (s)', ...by((r) => fmt(r.wallS, 0))],
  ]);
  const n = OPTIONS.connections;
  return [
    `### A: queued POST throughput (${OPTIONS.durationS} s, ${n} connections, pipelining 1, MODE=all)`,
    '',
    a,
    '',
    `### B: job completions per second, end to end (${OPTIONS.jobs} jobs, ${n} connections, MODE=all)`,
    '',
    b,
    '',
    `### C: worker drain rate (${OPTIONS.jobs} jobs queued first, then one MODE=worker process)`,
    '',
    c,
    '',
    '### Other',
    '',
    other,
  ].join('\n');
}

function renderResultsFile(m, date, tables, rs) {
  const problems = rs.flatMap((r) => r.problems.map((p) => `- ${r.backend}: ${p}`));
  const logs = rs.flatMap((r) =>
    r.logs.map((l) => `- ${r.backend}, MODE=${l.mode}: ${l.output.split('\n').length} line(s)`),
  );
  return `${[
    '# infq benchmark results',
    '',
    'Generated by `bench/run.js`; what each scenario measures is in [README.md](README.md).',
    'Rerunning the benchmark rewrites this file.',
    '',
    '## Run',
    '',
    `- Date: ${date.toISOString()}`,
    '- Command: `npm run build && npm run bench`',
    `- Settings: BENCH_DURATION_S=${OPTIONS.durationS}, BENCH_CONNECTIONS=${OPTIONS.connections}, BENCH_TENANTS=${OPTIONS.tenants}, BENCH_JOBS=${OPTIONS.jobs}, WORKER_CONCURRENCY=${OPTIONS.workerConcurrency}`,
    `- Machine: ${m.cores} cores (\`nproc\`), ${m.cpu}, ${fmt(m.memGiB, 1)} GiB RAM, ${m.os}`,
    `- Node ${m.node}, PostgreSQL ${m.postgres}, Redis ${m.redis}`,
    `- infq commit: ${m.commit}`,
    `- dist/ built ${BUILD.builtAt.toISOString()}${BUILD.newer.length > 0 ? `, older than ${BUILD.newer.length} file(s) in src/ (${BUILD.newer.slice(0, 5).join(', ')})` : ', newer than every file in src/'}`,
    '- Load generator, infq, fake backend, PostgreSQL and Redis all share these cores.',
    '',
    '## Results',
    '',
    'CPU figures are % of one core unless stated.',
    '',
    tables,
    '',
    '## Problems seen',
    '',
    ...(problems.length > 0 ? problems : ['- none']),
    '',
    '## infq log output (LOG_LEVEL=warn)',
    '',
    ...(logs.length > 0 ? logs : ['- none']),
    '',
  ].join('\n')}`;
}

function table(head, rows) {
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(3, ...all.map((row) => String(row[i]).length)));
  // First column left-aligned, the rest right-aligned (numbers).
  const line = (row) =>
    `| ${row.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}

function fmt(value, digits) {
  if (value === null || value === undefined || Number.isNaN(value)) return 'n/a';
  if (digits === undefined) digits = Math.abs(value) >= 100 || Number.isInteger(value) ? 0 : 1;
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function pct(value) {
  return value === null || value === undefined ? 'n/a' : `${fmt(value, 0)} %`;
}

function log(message) {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(1);
}
