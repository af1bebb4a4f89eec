#!/usr/bin/env node
// infq benchmark: `npm run build && npm run bench`. See bench/README.md for what it measures.
//
// One run measures infq and the anchors side by side: the fake OpenAI backend directly, nginx as
// a reverse proxy in front of it and the Portkey gateway in front of it; then infq on the Redis
// queue (wait mode, queued POST, poll GET, streams, a slow reader, a batch of jobs, waiting
// requests, a worker drain) and on the PostgreSQL queue (queued POST, a batch, a drain). Every
// goal of the performance issue is reported as a ratio to an anchor measured in the same run.
// Results are printed as markdown and written to bench/RESULTS.md.
//
// Flags:
//   --quick           a smoke run: 2 s per scenario, 64 streams, small batches (a few minutes)
//   --profile         run infq under `--cpu-prof`; print and record a self-time summary of the
//                     queued POST and wait scenarios
//   --jobs=N          batch size on the Redis queue; infq's RSS is read after it (default 50,000)
//   --streams=N       concurrent streams (default 512)
//   --baseline=DIR    also run infq from DIR/dist (e.g. made by bench/build-baseline.sh) in the
//                     same run, reported beside the current build ("before" and "after")
//   --infq=DIR        the build to measure: DIR/dist instead of this checkout's dist/
// Environment knobs are listed in bench/README.md.
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  describeAnchors,
  installAnchors,
  portkeyHeaders,
  startNginx,
  startPortkey,
} from './lib/anchors.js';
import { concurrentStreams, holdRequests, slowReaders } from './lib/clients.js';
import { renderProfileSummary, summariseProfile } from './lib/cpuprofile.js';
import { fmt, pct, quantile, table } from './lib/format.js';
import { freePort, rssMb, startProcess as spawnProcess, state, waitFor } from './lib/processes.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_MD = path.join(ROOT, 'bench/RESULTS.md');
const ANCHORS_DIR = path.join(ROOT, 'bench/anchors');
const OTHER_RESULTS_MARKER = '<!-- other benchmarks -->';

// ---- Options ----------------------------------------------------------------------------------

const KNOWN_FLAGS = ['quick', 'profile', 'jobs', 'streams', 'baseline', 'infq'];
const args = process.argv.slice(2);
for (const arg of args) {
  const name = /^--([a-z-]+)/.exec(arg)?.[1];
  if (!name || !KNOWN_FLAGS.includes(name)) {
    fail(`unknown argument ${arg} (flags: ${KNOWN_FLAGS.map((f) => `--${f}`).join(', ')})`);
  }
}
const flag = (name) => args.includes(`--${name}`);
const flagValue = (name) => {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  return found === undefined ? undefined : found.slice(name.length + 3);
};
const QUICK = flag('quick');
/** The quick (smoke) value or the full one. */
const q = (quick, full) => (QUICK ? quick : full);
const env = process.env;
const OPTIONS = {
  quick: QUICK,
  profile: flag('profile'),
  backends: (env.BENCH_BACKENDS ?? 'redis,postgres').split(',').map((s) => s.trim()),
  anchors: env.BENCH_ANCHORS !== '0',
  durationS: Number(env.BENCH_DURATION_S ?? q(2, 10)),
  warmupS: q(1, 2),
  connections: Number(env.BENCH_CONNECTIONS ?? 50),
  tenants: Number(env.BENCH_TENANTS ?? 1),
  jobs: Number(flagValue('jobs') ?? env.BENCH_JOBS ?? q(2000, 50_000)),
  pgJobs: Number(env.BENCH_PG_JOBS ?? q(500, 5000)),
  drainJobs: Number(env.BENCH_DRAIN_JOBS ?? q(1000, 5000)),
  streams: Number(flagValue('streams') ?? env.BENCH_STREAMS ?? q(64, 512)),
  ttftMs: Number(env.BENCH_TTFT_MS ?? 200),
  streamTokens: Number(env.BENCH_STREAM_TOKENS ?? 6),
  slowReaders: Number(env.BENCH_SLOW_READERS ?? q(2, 8)),
  slowMb: Number(env.BENCH_SLOW_MB ?? q(8, 32)),
  slowS: Number(env.BENCH_SLOW_S ?? q(3, 8)),
  waiters: Number(env.BENCH_WAITERS ?? q(200, 1000)),
  waitWindowS: q(2, 5),
  phaseTimeoutS: Number(env.BENCH_PHASE_TIMEOUT_S ?? q(30, 60)),
  idleWaitS: Number(env.BENCH_IDLE_WAIT_S ?? q(5, 30)),
  maxS: Number(env.BENCH_MAX_S ?? q(420, 900)),
  postgresUrl: env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  /** Unset: a private redis-server for this run (exact command counts), if one can be started. */
  redisUrl: env.BENCH_REDIS_URL || null,
  workerConcurrency: Number(env.BENCH_WORKER_CONCURRENCY ?? 64),
  baseline: flagValue('baseline') ?? env.BENCH_BASELINE ?? null,
  infq: path.resolve(flagValue('infq') ?? ROOT),
  write: env.BENCH_WRITE !== '0',
};
const ADMIN_TOKEN = `bench-admin-${randomBytes(12).toString('hex')}`;
const HUGE = 1_000_000_000;
const INT_MAX = 2_147_483_647;
const CHAT_BODY = JSON.stringify({
  model: 'fake-model',
  messages: [{ role: 'user', content: 'hi' }],
});
const STREAM_BODY = JSON.stringify({
  model: 'fake-model',
  stream: true,
  messages: [{ role: 'user', content: 'bench-stream' }],
});
const LARGE_STREAM_BODY = JSON.stringify({
  model: 'fake-model',
  stream: true,
  messages: [{ role: 'user', content: 'bench-large' }],
});
/** What OpenAI's Node SDK sends besides the key: infq answers such requests in wait mode. */
const SDK_HEADERS = {
  'x-stainless-lang': 'js',
  'x-stainless-package-version': '6.0.0',
  'x-stainless-os': 'Linux',
  'x-stainless-arch': 'x64',
  'x-stainless-runtime': 'node',
  'x-stainless-runtime-version': process.version,
  'x-stainless-retry-count': '0',
  'user-agent': 'OpenAI/JS 6.0.0',
  accept: 'application/json',
};
const QUEUE = 'inference'; // INFERENCE_QUEUE in src/jobs/inference-queue.ts
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
if (OPTIONS.jobs < OPTIONS.connections) fail('--jobs must be at least BENCH_CONNECTIONS');
for (const file of ['dist/src/main.js', 'dist/test/support/fake-backend.js']) {
  if (!existsSync(path.join(OPTIONS.infq, file))) {
    fail(`${path.join(OPTIONS.infq, file)} is missing: run \`npm run build\` first`);
  }
}
if (OPTIONS.baseline && !existsSync(path.join(OPTIONS.baseline, 'dist/src/main.js'))) {
  fail(`--baseline: ${OPTIONS.baseline}/dist/src/main.js is missing (see bench/build-baseline.sh)`);
}

// The servers run from private copies of dist/, so a rebuild during the run cannot pull them away
// from under them. node_modules and package.json (for "type": "module") sit beside them as usual.
const WORK = mkdtempSync(path.join(os.tmpdir(), 'infq-bench-'));
process.on('exit', () => rmSync(WORK, { recursive: true, force: true }));
const BUILDS = [snapshotBuild('current', OPTIONS.infq)];
if (OPTIONS.baseline) BUILDS.unshift(snapshotBuild('baseline', path.resolve(OPTIONS.baseline)));
const CURRENT = BUILDS.at(-1);
// Whether the build is older than the source it is supposed to come from.
const BUILD_AGE = (() => {
  // The build writes its stamp every time; unchanged output files keep their old dates.
  const stamp = path.join(OPTIONS.infq, 'dist/.build-stamp');
  const builtAt = statSync(
    existsSync(stamp) ? stamp : path.join(OPTIONS.infq, 'dist/src/main.js'),
  ).mtimeMs;
  const newer = readdirSync(path.join(OPTIONS.infq, 'src'), { recursive: true })
    .map((file) => path.join('src', String(file)))
    .filter((file) => {
      const stat = statSync(path.join(OPTIONS.infq, file));
      return stat.isFile() && stat.mtimeMs > builtAt;
    });
  return { builtAt: new Date(builtAt), newer };
})();

// Everything started so far, stopped in reverse order on exit or Ctrl-C.
const cleanups = [];
// Databases this run created: PostgreSQL backends serving any other database count as "other".
const benchDatabases = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (state.interrupted) process.exit(130);
    state.interrupted = true;
    log(`${signal}: cleaning up (again to force)`);
    void runCleanups().finally(() => process.exit(130));
  });
}

const started = new Date();
const deadlineAt = Date.now() + OPTIONS.maxS * 1000;
/** Milliseconds left of the run's time budget. */
const budgetLeft = () => Math.max(0, deadlineAt - Date.now());

const run = { anchors: {}, infq: [], problems: [], profiles: [], redis: null };
try {
  await main();
} catch (error) {
  console.error(error);
  await runCleanups();
  process.exit(1);
}

const machine = await describeMachine();
const markdown = renderResults(run);
console.log(`\n${markdown}`);
if (OPTIONS.write) {
  // Results of the other scripts in bench/ sit below this marker and survive a rerun.
  const previous = existsSync(RESULTS_MD) ? readFileSync(RESULTS_MD, 'utf8') : '';
  const kept = previous.includes(OTHER_RESULTS_MARKER)
    ? previous.slice(previous.indexOf(OTHER_RESULTS_MARKER))
    : '';
  writeFileSync(
    RESULTS_MD,
    renderResultsFile(machine, started, markdown, run) + (kept ? `\n${kept}` : ''),
  );
  log(`wrote ${path.relative(ROOT, RESULTS_MD)}`);
}
for (const r of run.infq) {
  for (const l of r.logs) console.log(`\ninfq (${r.label}, MODE=${l.mode}) logged:\n${l.output}`);
}
const problems = allProblems(run);
if (problems.length > 0) {
  console.log(`\nproblems:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  process.exitCode = 2;
}
log(`done in ${fmt((Date.now() - started.getTime()) / 1000, 0)} s`);

// ---------------------------------------------------------------------------------------------

async function main() {
  if (OPTIONS.anchors) installAnchors(ANCHORS_DIR, { log });
  run.anchorVersions = describeAnchors(ANCHORS_DIR);
  await waitForIdle(run.problems, 'start');

  // Redis: a private server for this run, so command counts are this run's alone.
  if (OPTIONS.backends.includes('redis')) {
    run.redis = OPTIONS.redisUrl
      ? { url: OPTIONS.redisUrl, private: false, pid: null }
      : await startPrivateRedis();
  }

  // One fake node behind everything: the anchors, infq's queue and infq's streams.
  const fake = await startFake();
  cleanups.push(() => fake.stop());
  const keep = cleanups.length;

  if (OPTIONS.anchors) await benchAnchors(fake);
  for (const build of BUILDS) {
    for (const backend of OPTIONS.backends) {
      const label = BUILDS.length > 1 ? `${backend}, ${build.label}` : backend;
      const result = { label, backend, build: build.label, problems: [], logs: [] };
      run.infq.push(result);
      try {
        await benchInfq(result, backend, build, fake);
      } catch (error) {
        result.problems.push(`stopped early: ${error.message}`);
        log(`${label}: ${error.stack ?? error}`);
      }
      await runCleanupsDownTo(keep);
    }
  }
  await runCleanups();
}

async function startFake() {
  const port = await freePort();
  const fake = await spawnProcess(
    'fake-backend',
    [path.join(ROOT, 'bench/lib/fake-node.js'), path.join(CURRENT.root, 'dist'), String(port)],
    {
      BENCH_FAKE_TTFT_MS: String(OPTIONS.ttftMs),
      BENCH_FAKE_STREAM_TOKENS: String(OPTIONS.streamTokens),
      BENCH_FAKE_LARGE_MB: String(OPTIONS.slowMb),
    },
    { cwd: ROOT, log },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`fake backend on :${port}`, 10_000, async () => {
    if (fake.exited) throw new Error(`fake backend exited: ${fake.output()}`);
    return (await fetch(`${base}/v1/models`)).ok;
  });
  return Object.assign(fake, { base, port });
}

async function startPrivateRedis() {
  const port = await freePort();
  const dir = path.join(WORK, 'redis');
  mkdirSync(dir);
  let handle;
  try {
    handle = await spawnProcess(
      'redis-server',
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
        ...['--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
      ],
      {},
      { command: 'redis-server', log },
    );
  } catch (error) {
    log(`no private redis-server (${error.message}); using redis://127.0.0.1:6379`);
    run.problems.push('Redis: the shared server, so command counts include other clients');
    return { url: 'redis://127.0.0.1:6379', private: false, pid: null };
  }
  cleanups.push(() => handle.stop());
  const url = `redis://127.0.0.1:${port}`;
  await waitFor(`redis-server on :${port}`, 10_000, async () => {
    if (handle.exited) throw new Error(`redis-server exited: ${handle.output()}`);
    const redis = quietRedis(url);
    try {
      await redis.connect();
      return (await redis.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      redis.disconnect();
    }
  });
  log(`private redis-server on :${port} (pid ${handle.pid}, no persistence)`);
  return { url, private: true, pid: handle.pid };
}

// ---- Anchors ---------------------------------------------------------------------------------

async function benchAnchors(fake) {
  const target = async (name, base, extraHeaders, pids) => {
    const options = {
      url: `${base}/v1/chat/completions`,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...extraHeaders },
      body: CHAT_BODY,
    };
    await load(`${name} warm-up`, { ...options, duration: OPTIONS.warmupS, connections: 10 });
    const result = await load(name, options, { pids });
    run.anchors[name] = result;
    if (result.non2xx > 0 || result.errors > 0) {
      run.problems.push(`${name}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
    }
  };
  log('== anchors ==');
  await target('fake backend, direct', fake.base, {}, { fake: fake.pid });

  try {
    const nginx = await startNginx(path.join(WORK, 'nginx'), fake.port, { log });
    cleanups.push(() => nginx.stop('SIGQUIT'));
    await target('nginx', nginx.base, {}, { fake: fake.pid, proxy: nginx.pid, proxyTree: true });
    cleanups.pop();
    await nginx.stop('SIGQUIT');
    const errors = nginx.errorLog().trim();
    if (errors) run.problems.push(`nginx logged: ${errors.split('\n').slice(0, 3).join(' / ')}`);
  } catch (error) {
    run.problems.push(`nginx: ${error.message} (\`npm run bench:anchors\` installs it)`);
  }

  try {
    const portkey = await startPortkey(ANCHORS_DIR, { log });
    cleanups.push(() => portkey.stop());
    await target('Portkey', portkey.base, portkeyHeaders(`${fake.base}/v1`), {
      fake: fake.pid,
      proxy: portkey.pid,
    });
    cleanups.pop();
    await portkey.stop();
  } catch (error) {
    run.problems.push(`Portkey: ${error.message}`);
  }
}

// ---- infq ------------------------------------------------------------------------------------

async function benchInfq(result, backend, build, fake) {
  log(`== infq: ${result.label} ==`);
  await waitForIdle(result.problems, result.label);
  const t0 = Date.now();
  const redisUrl = run.redis?.url;

  const database = await createDatabase();
  cleanups.push(() => database.drop());
  const prefix = `infqbench${randomBytes(4).toString('hex')}`;
  if (backend === 'redis') {
    cleanups.push(async () =>
      log(`deleted ${await clearRedisPrefix(redisUrl, prefix)} Redis keys`),
    );
  }
  const store = await openQueueStore(backend, database.url, redisUrl, prefix);
  cleanups.push(() => store.close());
  const counters = await openCounters(backend === 'redis' ? redisUrl : null, database.name);
  cleanups.push(() => counters.close());

  const infqEnv = {
    DATABASE_URL: database.url,
    REDIS_URL: backend === 'redis' ? redisUrl : '', // a developer's .env must not add Redis
    ...(backend === 'redis' && { REDIS_PREFIX: prefix }),
    BUS_NODES: `${fake.base}/v1`, // capacity from NODE_MAX_INFLIGHT (builds before it ignore it)
    NODE_MAX_INFLIGHT: '100000',
    ADMIN_TOKEN,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DEFAULT_RPM: String(HUGE),
    DEFAULT_MAX_CONCURRENT: String(HUGE),
    DEFAULT_MAX_QUEUED: String(HUGE),
    DEFAULT_TOKENS_PER_DAY: String(HUGE * 1000),
    WORKER_CONCURRENCY: String(OPTIONS.workerConcurrency),
  };
  /** Starts one infq process in `mode` and waits for its /health. */
  const startInfq = async (mode, { profileDir } = {}) => {
    const port = await freePort();
    const spawnedAt = Date.now();
    const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    const handle = await spawnProcess(
      `infq (${mode})`,
      [...nodeArgs, build.main],
      { ...infqEnv, MODE: mode, PORT: String(port) },
      { cwd: build.root, log },
    );
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
    result.problems.push(`${scenario} skipped: the time budget (BENCH_MAX_S) is spent`);
    return false;
  };
  const serverPids = (infqPid) => ({
    infq: infqPid,
    fake: fake.pid,
    ...(run.redis?.private && backend === 'redis' && { redis: run.redis.pid }),
  });

  // ---- Phase 1: one infq process, MODE=all (API and worker together).
  const profileDir = OPTIONS.profile ? mkdtempSync(path.join(WORK, 'profile-')) : null;
  const infq = await startInfq('all', { profileDir });
  cleanups.push(() => infq.stop());
  result.startupS = infq.startupS;
  const base = infq.base;
  const windows = [];
  /** Runs `fn` and records its time window for the CPU profile. */
  const profiled = async (name, fn) => {
    const from = Date.now() - infq.spawnedAt;
    const value = await fn();
    windows.push({ name, from, to: Date.now() - infq.spawnedAt });
    return value;
  };

  // Tenants and keys; limits as high as the API allows so they never interfere.
  const keyHeaders = [];
  for (let i = 0; i < OPTIONS.tenants; i++) {
    const tenant = await createTenant(base);
    const { key } = await adminPost(base, `/tenants/${tenant.id}/keys`, { name: 'bench' });
    keyHeaders.push({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
  }
  const chatHeaders = keyHeaders[0];
  const requestsFor = (method, extra = {}, body = CHAT_BODY) =>
    keyHeaders.length > 1
      ? {
          requests: keyHeaders.map((headers) => ({
            method,
            path: '/v1/chat/completions',
            headers: { ...headers, ...extra },
            body,
          })),
        }
      : {};

  // Smoke test: one job, end to end, with a result that came from the fake backend. A few more
  // jobs give the poll scenario ids to read.
  const pollIds = [];
  for (let i = 0; i < 20; i++) {
    const response = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: chatHeaders,
      body: CHAT_BODY,
    });
    if (response.status !== 202) {
      throw new Error(`smoke POST: ${response.status} ${await response.text()}`);
    }
    pollIds.push((await response.json()).id);
  }
  for (const id of pollIds) {
    const job = await waitFor('smoke job complete', 30_000, async () => {
      const view = await (await fetch(`${base}/v1/results/${id}`, { headers: chatHeaders })).json();
      if (view.status === 'dead' || view.status === 'cancelled') {
        throw new Error(`smoke job ended ${view.status}: ${JSON.stringify(view)}`);
      }
      return view.status === 'complete' && view.result !== null ? view : false;
    });
    if (!String(job.result?.choices?.[0]?.message?.content ?? '').includes('hi')) {
      throw new Error(`smoke job result is not the fake backend's answer: ${JSON.stringify(job)}`);
    }
  }
  // Jobs accepted so far. A run that is stopped (by duration or a cap) leaves requests in flight:
  // the server may still queue those (their 202 is never counted), so up to `inFlight` more.
  let accepted = pollIds.length;
  let inFlight = 0;
  const chatUrl = `${base}/v1/chat/completions`;
  const queuedOptions = {
    url: chatUrl,
    method: 'POST',
    headers: chatHeaders,
    body: CHAT_BODY,
    ...requestsFor('POST'),
  };

  // Warm-up (not reported): JIT, connection pools, BullMQ scripts.
  const warm = await load('warm-up', {
    ...queuedOptions,
    duration: OPTIONS.warmupS,
    connections: 10,
  });
  accepted += warm['2xx'];
  inFlight += 10;
  await waitForDrain(base, accepted, 'warm-up');

  // Queued POST (202) for a fixed duration, the worker running in the same process.
  if (haveTime('queued POST', OPTIONS.durationS + 10)) {
    const beforeQ = await health(base);
    const r = await profiled('queued POST (202)', () =>
      load(`${result.label}: queued POST`, queuedOptions, {
        pids: serverPids(infq.pid),
        counters,
      }),
    );
    const afterQ = await health(base);
    accepted += r['2xx'];
    inFlight += OPTIONS.connections;
    const drain = await waitForDrain(base, accepted, 'queued POST');
    result.queued = {
      ...r,
      completedDuring: afterQ.queue.complete - beforeQ.queue.complete,
      backlogAtEnd: afterQ.queue.queued + afterQ.queue.processing,
      drainS: drain.seconds,
    };
    scenarioProblems(result, 'queued POST', r, 202);
    if (!drain.ok) result.problems.push(drain.message);
  }

  // Wait mode, as an OpenAI SDK call gets it (X-Stainless-Lang, no Prefer header): 200 with the
  // completion once the job is done.
  if (backend === 'redis' && haveTime('wait mode', OPTIONS.durationS + 10)) {
    const waitHeaders = { ...chatHeaders, ...SDK_HEADERS };
    const r = await profiled('wait mode (SDK request)', () =>
      load(
        `${result.label}: wait mode`,
        { ...queuedOptions, headers: waitHeaders, ...requestsFor('POST', SDK_HEADERS) },
        { pids: serverPids(infq.pid), counters },
      ),
    );
    accepted += r['2xx'];
    inFlight += OPTIONS.connections;
    const drain = await waitForDrain(base, accepted, 'wait mode');
    result.wait = r;
    scenarioProblems(result, 'wait mode', r, 200);
    if (!drain.ok) result.problems.push(drain.message);
  }

  // Poll: GET /v1/results/:id of completed jobs, in turn.
  if (backend === 'redis' && haveTime('poll GET', OPTIONS.durationS + 5)) {
    let next = 0;
    const r = await profiled('poll GET', () =>
      load(
        `${result.label}: poll GET`,
        {
          url: `${base}/v1/results/${pollIds[0]}`,
          method: 'GET',
          headers: { authorization: chatHeaders.authorization },
          requests: [
            {
              setupRequest: (request) => ({
                ...request,
                path: `/v1/results/${pollIds[next++ % pollIds.length]}`,
              }),
            },
          ],
        },
        { pids: serverPids(infq.pid), counters },
      ),
    );
    result.poll = r;
    scenarioProblems(result, 'poll GET', r, 200);
  }

  // Streams: many at once, straight to the fake node, then through infq.
  if (backend === 'redis' && haveTime('streams', 30)) {
    log(`${result.label}: ${OPTIONS.streams} concurrent streams, direct then through infq`);
    const direct = await concurrentStreams({
      url: `${fake.base}/v1/chat/completions`,
      headers: {},
      body: STREAM_BODY,
      count: OPTIONS.streams,
    });
    const rssBefore = infq.rssMb();
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, infq.rssMb() ?? 0)), 100);
    const through = await concurrentStreams({
      url: chatUrl,
      headers: { authorization: chatHeaders.authorization },
      body: STREAM_BODY,
      count: OPTIONS.streams,
    });
    clearInterval(sampler);
    result.streams = {
      direct: streamStats(direct),
      infq: streamStats(through),
      rssBefore,
      rssPeak,
    };
    const s = result.streams;
    s.addedP50 = s.infq.ttftP50 - s.direct.ttftP50;
    s.addedP99 = s.infq.ttftP99 - s.direct.ttftP99;
    for (const [name, stats] of [
      ['direct', s.direct],
      ['infq', s.infq],
    ]) {
      if (stats.ok < OPTIONS.streams) {
        result.problems.push(
          `streams (${name}): ${OPTIONS.streams - stats.ok} of ${OPTIONS.streams} failed (${stats.firstError})`,
        );
      }
    }
    log(
      `streams: TTFT p50 ${fmt(s.direct.ttftP50)} → ${fmt(s.infq.ttftP50)} ms, ` +
        `p99 ${fmt(s.direct.ttftP99)} → ${fmt(s.infq.ttftP99)} ms; ${s.infq.ok}/${OPTIONS.streams} complete`,
    );
  }

  // Slow readers: large streams read slowly; infq must not buffer what the client cannot take.
  if (backend === 'redis' && haveTime('slow reader', OPTIONS.slowS + 10)) {
    log(
      `${result.label}: ${OPTIONS.slowReaders} slow reader(s) of ${OPTIONS.slowMb} MiB streams for ${OPTIONS.slowS} s`,
    );
    await sleep(500);
    const before = infq.rssMb();
    let peak = before;
    const readers = await slowReaders({
      url: chatUrl,
      headers: { authorization: chatHeaders.authorization },
      body: LARGE_STREAM_BODY,
      count: OPTIONS.slowReaders,
      bytesPerTick: 16 * 1024,
      tickMs: 100,
      durationMs: OPTIONS.slowS * 1000,
      sample: () => (peak = Math.max(peak, infq.rssMb() ?? 0)),
    });
    await sleep(500);
    result.slow = {
      readers: readers.length,
      ok: readers.filter((r) => r.status === 200).length,
      readMb: readers.reduce((sum, r) => sum + r.bytes, 0) / 2 ** 20,
      rssBefore: before,
      rssPeak: peak,
      rssAfter: infq.rssMb(),
    };
    if (result.slow.ok < readers.length) {
      const bad = readers.find((r) => r.status !== 200);
      result.problems.push(`slow reader: status ${bad.status} ${bad.error ?? ''}`);
    }
  }

  // A batch of jobs submitted as fast as the connections allow; time until every job is complete;
  // infq's RSS once they are.
  const batchJobs = backend === 'redis' ? OPTIONS.jobs : OPTIONS.pgJobs;
  if (haveTime('batch', 20)) {
    log(`${result.label}: batch of ${fmt(batchJobs)} jobs`);
    const cpu = cpuMeter(serverPids(infq.pid));
    const submit = await postBatch({ ...queuedOptions, amount: batchJobs }, phaseCap());
    const drain = await waitForDrain(base, accepted + submit['2xx'], 'batch');
    const cpuUsed = cpu.stop();
    accepted += submit['2xx'];
    if (submit.capped) inFlight += OPTIONS.connections;
    const finished = await store.finishedSince(submit.startedAt);
    const tail = await store.finishedSince(submit.lastResponseAt);
    const totalS = (finished.last - submit.startedAt) / 1000;
    const tailS = (finished.last - submit.lastResponseAt) / 1000;
    await sleep(1000);
    result.batch = {
      jobs: batchJobs,
      accepted: submit['2xx'],
      submitS: (submit.lastResponseAt - submit.startedAt) / 1000,
      submitRps: submit['2xx'] / ((submit.lastResponseAt - submit.startedAt) / 1000),
      p99: submit.latency.p99,
      totalS,
      completed: finished.count,
      completionsPerS: finished.count / totalS,
      tailPerS: tailS >= 0.5 ? tail.count / tailS : null,
      cpu: cpuUsed,
      rssAfter: infq.rssMb(),
    };
    checkQuiet(result, 'batch', cpuUsed);
    batchProblems(result, 'batch', submit, drain, batchJobs);
    log(
      `batch: ${fmt(submit['2xx'])} jobs, the last completed ${fmt(totalS, 2)} s after the first ` +
        `POST (${fmt(result.batch.completionsPerS)}/s); infq RSS ${fmt(result.batch.rssAfter)} MiB`,
    );
  }

  const counts = (await health(base)).queue;
  if (counts.complete < accepted || counts.complete > accepted + inFlight) {
    result.problems.push(
      `${counts.complete} jobs complete, expected ${accepted} (accepted POSTs) up to ${accepted + inFlight} (+ requests in flight when a run stopped)`,
    );
  }
  if (counts.dead > 0) result.problems.push(`${counts.dead} dead jobs`);
  result.rssEnd = infq.rssMb();
  cleanups.pop();
  await stopInfq(infq, 'all');
  if (profileDir) {
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) {
      result.problems.push('--profile: infq wrote no .cpuprofile (did it exit cleanly?)');
    } else {
      const profile = JSON.parse(readFileSync(path.join(profileDir, file), 'utf8'));
      for (const w of windows.filter((w) => w.name !== 'poll GET')) {
        const summary = summariseProfile(profile, { fromMs: w.from, toMs: w.to, top: 20 });
        run.profiles.push({ title: `${result.label}: ${w.name}`, summary });
        console.log(`\n${renderProfileSummary(summary, `${result.label}: ${w.name}`)}`);
      }
    }
  }

  // ---- Phase 2: an API-only process fills the queue, then holds requests in wait mode (their
  // cost while they wait); then a worker-only process starts and drains it all.
  if (haveTime('drain', 30)) {
    const api = await startInfq('api');
    cleanups.push(() => api.stop());
    log(`${result.label}: queueing ${fmt(OPTIONS.drainJobs)} jobs with no worker running`);
    const fill = await postBatch(
      { ...queuedOptions, url: `${api.base}/v1/chat/completions`, amount: OPTIONS.drainJobs },
      phaseCap(),
    );
    const filled = await waitFor('the queued count', 10_000, async () => {
      const qd = (await health(api.base)).queue;
      return qd.queued >= fill['2xx'] ? qd : false;
    });
    await sleep(500);
    const rssBefore = api.rssMb();
    log(`${result.label}: ${OPTIONS.waiters} requests waiting in wait mode`);
    const held = holdRequests({
      url: `${api.base}/v1/chat/completions`,
      headers: { ...chatHeaders, ...SDK_HEADERS },
      body: CHAT_BODY,
      count: OPTIONS.waiters,
    });
    const dropHeld = () => held.drop();
    cleanups.push(dropHeld);
    let all;
    try {
      all = await waitFor('the waiting requests to be queued', 30_000, async () => {
        const qd = (await health(api.base)).queue;
        return qd.queued >= filled.queued + OPTIONS.waiters ? qd : false;
      });
    } catch (error) {
      result.problems.push(`wait cost: ${error.message}`);
    }
    if (all) {
      await sleep(500);
      const cpu = cpuMeter({ infq: api.pid });
      await sleep(OPTIONS.waitWindowS * 1000);
      const used = cpu.stop();
      const rssWaiting = api.rssMb();
      result.waitCost = {
        waiters: OPTIONS.waiters,
        rssBefore,
        rssWaiting,
        rssPer1000: ((rssWaiting - rssBefore) / OPTIONS.waiters) * 1000,
        cpuPct: used.infq,
        cpuPer1000: (used.infq / OPTIONS.waiters) * 1000,
      };
    }
    const worker = await startInfq('worker');
    cleanups.push(() => worker.stop());
    const cpuC = cpuMeter({ ...serverPids(worker.pid), api: api.pid });
    const total = filled.complete + filled.queued + OPTIONS.waiters;
    const drainC = await waitForDrain(api.base, total, 'drain');
    const cpuCUsed = cpuC.stop();
    const answers = await Promise.race([
      Promise.all(held.results),
      sleep(phaseCap()).then(() => null),
    ]);
    forget(dropHeld);
    held.drop();
    const finished = await store.finishedSince(worker.spawnedAt);
    if (!answers) {
      result.problems.push('wait cost: waiting requests not all answered after the drain');
    } else {
      const bad = answers.filter((a) => a.status !== 200);
      if (bad.length > 0) {
        result.problems.push(
          `wait cost: ${bad.length} of ${answers.length} waiting requests did not get 200 (${bad[0].status ?? bad[0].error})`,
        );
      }
      if (result.waitCost) {
        // The last answer, as epoch ms, against the worker's first completion.
        const lastAt =
          Date.now() - (performance.now() - Math.max(...answers.map((a) => a.at ?? 0)));
        result.waitCost.releasedS = (lastAt - finished.first) / 1000;
      }
    }
    const drainS = (finished.last - finished.first) / 1000;
    result.drain = {
      fillRps: fill['2xx'] / ((fill.lastResponseAt - fill.startedAt) / 1000),
      completed: finished.count,
      drainS,
      completionsPerS: drainS > 0 ? (finished.count - 1) / drainS : null,
      spawnToFirstS: (finished.first - worker.spawnedAt) / 1000,
      spawnToLastS: (finished.last - worker.spawnedAt) / 1000,
      workerStartupS: worker.startupS,
      cpu: cpuCUsed,
    };
    checkQuiet(result, 'drain', cpuCUsed);
    batchProblems(result, 'drain', fill, drainC, OPTIONS.drainJobs);
    log(
      `drain: ${fmt(finished.count)} jobs completed in ${fmt(drainS, 2)} s (first to last): ` +
        `${fmt(result.drain.completionsPerS)} completions/s`,
    );
    cleanups.pop();
    await stopInfq(worker, 'worker');
    cleanups.pop();
    await stopInfq(api, 'api');
  }
  result.wallS = (Date.now() - t0) / 1000;
}

function streamStats(results) {
  const ok = results.filter((r) => r.ok);
  const ttft = ok.map((r) => r.ttftMs);
  const total = ok.map((r) => r.totalMs);
  return {
    ok: ok.length,
    ttftP50: quantile(ttft, 0.5),
    ttftP99: quantile(ttft, 0.99),
    totalP50: quantile(total, 0.5),
    totalP99: quantile(total, 0.99),
    firstError: results.find((r) => !r.ok)?.error ?? null,
  };
}

/** Records the non-2xx answers and errors of an autocannon scenario. */
function scenarioProblems(result, name, r, expected) {
  if (r.non2xx > 0) result.problems.push(`${name}: ${r.non2xx} non-2xx answers (${r.codes})`);
  if (r.errors > 0) result.problems.push(`${name}: ${r.errors} errors (incl. timeouts)`);
  const wrong = Object.entries(r.statusCounts)
    .filter(([code]) => Number(code) !== expected)
    .reduce((sum, [, count]) => sum + count, 0);
  if (wrong > 0)
    result.problems.push(`${name}: ${wrong} answers were not ${expected} (${r.codes})`);
  checkQuiet(result, name, r.cpu);
}

/** How long a batch submission (or a drain) may take: the phase timeout, within the budget. */
function phaseCap() {
  return Math.max(1000, Math.min(OPTIONS.phaseTimeoutS * 1000, budgetLeft()));
}

function batchProblems(result, scenario, submit, drain, jobs) {
  if (submit.capped) {
    result.problems.push(
      `${scenario}: submission stopped after ${fmt((submit.lastResponseAt - submit.startedAt) / 1000, 1)} s with ${submit['2xx']} of ${jobs} jobs accepted`,
    );
  } else if (submit['2xx'] !== jobs) {
    result.problems.push(
      `${scenario}: ${submit['2xx']} of ${jobs} POSTs accepted (${submit.non2xx} non-2xx, ${submit.errors} errors)`,
    );
  }
  if (!drain.ok) result.problems.push(drain.message);
}

// ---- Load generation -------------------------------------------------------------------------

/**
 * autocannon for OPTIONS.durationS (unless `options.duration`) over OPTIONS.connections. With
 * `counters`, Redis and PostgreSQL counters are read at 25 % and 95 % of the run, while it is in
 * full swing, and divided by the responses between the two reads (PostgreSQL's statistics reach
 * pg_stat_database up to a second late, and after up to 10 s once a connection is idle, so reads
 * at the start and the end would miss some). `pids` are measured for CPU.
 */
async function load(name, options, { pids, counters } = {}) {
  const durationS = options.duration ?? OPTIONS.durationS;
  const connections = options.connections ?? OPTIONS.connections;
  if (!name.includes('warm-up')) log(`${name}: ${durationS} s, ${connections} connections`);
  const cpu = pids ? cpuMeter(pids) : null;
  let responses = 0;
  const samples = [];
  const timers = [];
  const raw = await new Promise((resolve, reject) => {
    const instance = autocannon(
      { pipelining: 1, timeout: 30, ...options, duration: durationS, connections },
      (error, r) => (error ? reject(error) : resolve(r)),
    );
    instance.on('response', () => responses++);
    if (counters) {
      for (const at of [0.25, 0.95]) {
        timers.push(
          setTimeout(
            () => {
              const n = responses;
              samples.push(
                counters
                  .read()
                  .then((c) => ({ n, c }))
                  .catch(() => null),
              );
            },
            at * durationS * 1000,
          ),
        );
      }
    }
  });
  for (const timer of timers) clearTimeout(timer);
  const used = cpu?.stop() ?? null;
  const count = raw['2xx'];
  const r = {
    name,
    rps: count / raw.duration,
    requests: count,
    // autocannon reports 0 ms when nothing was answered in time.
    p50: count > 0 ? raw.latency.p50 : null,
    p99: count > 0 ? raw.latency.p99 : null,
    max: count > 0 ? raw.latency.max : null,
    non2xx: raw.non2xx,
    errors: raw.errors + raw.timeouts,
    codes: Object.keys(raw.statusCodeStats ?? {}).join(', '),
    statusCounts: Object.fromEntries(
      Object.entries(raw.statusCodeStats ?? {}).map(([code, v]) => [code, v.count]),
    ),
    cpu: used,
    // CPU per answered request, in ms: % of a core x seconds / requests.
    cpuMsPerRequest:
      used && count > 0
        ? Object.fromEntries(
            Object.entries(used).map(([k, v]) => [
              k,
              v === null ? null : (v * 10 * raw.duration) / count,
            ]),
          )
        : null,
    '2xx': count,
  };
  if (samples.length === 2) {
    const [a, b] = await Promise.all(samples);
    if (a && b) r.perRequest = counters.perRequest(a.c, b.c, b.n - a.n);
  }
  if (!name.includes('warm-up')) {
    log(
      `${name}: ${fmt(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}`,
    );
  }
  return r;
}

/**
 * autocannon sending `options.amount` requests, stopped after `capMs` at the latest. Its own
 * `duration` is rounded to its 1 s sample tick when `amount` is set, so the time of the last
 * response is recorded here (epoch ms, comparable with the queue's timestamps).
 */
function postBatch(options, capMs = Infinity) {
  return new Promise((resolve, reject) => {
    let lastResponseAt = Date.now();
    let capped = false;
    const startedAt = Date.now();
    let timer;
    const instance = autocannon(
      { connections: OPTIONS.connections, pipelining: 1, timeout: 30, ...options },
      (error, r) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve({ ...r, startedAt, lastResponseAt, capped });
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
}

// ---- Round trips -----------------------------------------------------------------------------

/**
 * Counters read around a scenario: Redis `INFO commandstats` and `INFO stats` (commands, Lua
 * script calls, read events: each read event is one batch of commands a client sent, so about a
 * round trip) and PostgreSQL's committed and rolled back transactions in this run's database.
 */
async function openCounters(redisUrl, databaseName) {
  let redis = null;
  if (redisUrl) {
    redis = quietRedis(redisUrl);
    await redis.connect();
  }
  const client = new pg.Client({ connectionString: OPTIONS.postgresUrl });
  await client.connect();
  const benchUrl = new URL(OPTIONS.postgresUrl);
  benchUrl.pathname = `/${databaseName}`;
  const inBench = new pg.Client({ connectionString: benchUrl.toString() });
  await inBench.connect();
  return {
    read: async () => {
      const out = {};
      if (redis) {
        const [commandstats, stats] = await Promise.all([
          redis.info('commandstats'),
          redis.info('stats'),
        ]);
        out.commands = {};
        for (const match of commandstats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
          out.commands[match[1]] = Number(match[2]);
        }
        out.reads = Number(/total_reads_processed:(\d+)/.exec(stats)?.[1] ?? NaN);
      }
      const { rows } = await client.query(
        `SELECT xact_commit + xact_rollback AS xacts, tup_inserted + tup_updated + tup_deleted AS writes
           FROM pg_stat_database WHERE datname = $1`,
        [databaseName],
      );
      out.pgXacts = Number(rows[0]?.xacts ?? NaN);
      out.pgWrites = Number(rows[0]?.writes ?? NaN);
      const functions = await inBench.query(
        'SELECT funcname, calls, self_time FROM pg_stat_user_functions',
      );
      out.pgFunctions = Object.fromEntries(
        functions.rows.map((row) => [
          row.funcname,
          { calls: Number(row.calls), selfMs: Number(row.self_time) },
        ]),
      );
      return out;
    },
    perRequest: (a, b, n) => {
      if (!(n > 0)) return null;
      const per = { n };
      if (a.commands && b.commands) {
        const diff = {};
        for (const [name, calls] of Object.entries(b.commands)) {
          const d = calls - (a.commands[name] ?? 0);
          if (d > 0) diff[name] = d / n;
        }
        per.redisCommands = Object.values(diff).reduce((s, v) => s + v, 0);
        per.redisScripts = ['evalsha', 'eval', 'evalsha_ro', 'eval_ro', 'fcall', 'fcall_ro'].reduce(
          (s, k) => s + (diff[k] ?? 0),
          0,
        );
        per.redisReads = (b.reads - a.reads) / n;
        per.redisTop = Object.entries(diff)
          .sort((x, y) => y[1] - x[1])
          .slice(0, 6);
      }
      per.pgXacts = (b.pgXacts - a.pgXacts) / n;
      per.pgWrites = (b.pgWrites - a.pgWrites) / n;
      // Top-level calls only count once: self time, not total, so nested calls do not add up twice.
      per.pgTop = Object.entries(b.pgFunctions)
        .map(([name, f]) => {
          const before = a.pgFunctions[name] ?? { calls: 0, selfMs: 0 };
          return [name, (f.calls - before.calls) / n, (f.selfMs - before.selfMs) / n];
        })
        .filter(([, calls]) => calls > 0)
        .sort((x, y) => y[2] - x[2])
        .slice(0, 6);
      return per;
    },
    close: async () => {
      redis?.disconnect();
      await Promise.all([client.end(), inBench.end()]);
    },
  };
}

// ---- Queue and infq helpers --------------------------------------------------------------------

/**
 * Read-only access to the queue's own finish timestamps (BullMQ's `finishedOn`, epoch ms, set
 * by the worker), which time completions exactly; /health only says when all are done.
 */
async function openQueueStore(backend, databaseUrl, redisUrl, prefix) {
  if (backend === 'redis') {
    const redis = quietRedis(redisUrl);
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

/** A tenant with limits far above anything the benchmark reaches. */
async function createTenant(base) {
  const name = `bench-${randomBytes(3).toString('hex')}`;
  const limits = { rpm: INT_MAX, max_concurrent: INT_MAX, tokens_per_day: HUGE * 1000 };
  try {
    return await adminPost(base, '/tenants', { name, limits: { ...limits, max_queued: INT_MAX } });
  } catch (error) {
    // A build from before `max_queued` existed refuses the field.
    if (!String(error.message).includes(' 400 ')) throw error;
    return adminPost(base, '/tenants', { name, limits });
  }
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
  // Every session in it counts calls and time per PL/pgSQL function (BullMQ's and infq's own).
  await admin.query(`ALTER DATABASE ${name} SET track_functions = 'pl'`);
  await admin.end();
  const url = new URL(OPTIONS.postgresUrl);
  url.pathname = `/${name}`;
  return {
    name,
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

/** A Redis client that connects on `connect()`, fails fast and never reconnects on its own. */
function quietRedis(url) {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  redis.on('error', () => {}); // surfaced by the command that failed
  return redis;
}

async function clearRedisPrefix(redisUrl, prefix) {
  const redis = quietRedis(redisUrl);
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

/** A private copy of `sourceDir`/dist with package.json and node_modules beside it. */
function snapshotBuild(label, sourceDir) {
  const root = path.join(WORK, label);
  mkdirSync(root);
  cpSync(path.join(sourceDir, 'dist'), path.join(root, 'dist'), { recursive: true });
  copyFileSync(path.join(sourceDir, 'package.json'), path.join(root, 'package.json'));
  const modules = existsSync(path.join(sourceDir, 'node_modules'))
    ? path.join(sourceDir, 'node_modules')
    : path.join(ROOT, 'node_modules');
  symlinkSync(modules, path.join(root, 'node_modules'), 'dir');
  let commit = 'unknown';
  try {
    const sha = readFileSync(path.join(sourceDir, 'BASELINE_COMMIT'), 'utf8').trim();
    commit = `${sha} (built by bench/build-baseline.sh in ${sourceDir})`;
  } catch {
    // the current checkout: described by describeMachine()
  }
  return { label, root, main: path.join(root, 'dist/src/main.js'), commit };
}

// ---- Processes ---------------------------------------------------------------------------------

/** Runs the clean-ups registered after the first `keep` ones (which stay for the next target). */
async function runCleanupsDownTo(keep) {
  while (cleanups.length > keep) {
    const cleanup = cleanups.pop();
    try {
      await cleanup();
    } catch (error) {
      console.error('cleanup failed:', error);
    }
  }
}

/** Removes one clean-up (its resource was released by other means). */
function forget(cleanup) {
  const index = cleanups.lastIndexOf(cleanup);
  if (index >= 0) cleanups.splice(index, 1);
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

/**
 * CPU use between start and stop, in % of one core: each named pid (with `proxyTree`, `proxy`
 * counts its child processes too: nginx's workers); the PostgreSQL server (its background
 * processes and the backends serving this run's databases) and Redis (by process name, unless a
 * `redis` pid is given); this process (the load generator); everything else ("other", which
 * should stay near 0); and the whole machine in % of all cores. Linux only; elsewhere null.
 */
function cpuMeter(pids) {
  const start = performance.now();
  const before = cpuSnapshot(pids);
  return {
    stop: () => {
      const after = cpuSnapshot(pids);
      const seconds = (performance.now() - start) / 1000;
      const rate = (a, b) =>
        a === null || a === undefined || b === null || b === undefined
          ? null
          : ((a - b) / seconds) * 100;
      const used = {};
      for (const name of Object.keys(pids)) {
        if (name === 'proxyTree') continue;
        used[name] = rate(after.pids[name], before.pids[name]);
      }
      for (const name of ['postgres', 'redis']) {
        if (name === 'redis' && pids.redis) continue;
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

function procCpu(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime + stime, in clock ticks (USER_HZ, 100 on Linux); fields[1] is the parent pid.
    return {
      comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      ppid: Number(fields[1]),
      seconds: (Number(fields[11]) + Number(fields[12])) / 100,
    };
  } catch {
    return null; // not Linux, or the process exited
  }
}

function cpuSnapshot(pids) {
  const snapshot = {
    pids: {},
    servers: null,
    bench: (() => {
      const usage = process.cpuUsage();
      return (usage.user + usage.system) / 1e6;
    })(),
    machine: null,
  };
  for (const [name, pid] of Object.entries(pids)) {
    if (name !== 'proxyTree') snapshot.pids[name] = procCpu(pid)?.seconds ?? null;
  }
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const values = fields.slice(1).map(Number);
    snapshot.machine = { idle: values[3] + values[4], total: values.reduce((a, b) => a + b, 0) };
    const servers = { postgres: new Map(), redis: new Map() };
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const cpu = procCpu(entry);
      if (!cpu) continue;
      if (pids.proxyTree && cpu.ppid === pids.proxy) {
        snapshot.pids.proxy = (snapshot.pids.proxy ?? 0) + cpu.seconds;
      }
      if (cpu.comm === 'redis-server') servers.redis.set(entry, cpu.seconds);
      if (cpu.comm !== 'postgres') continue;
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
      `other processes used ${fmt(cpu.other, 0)} % of a core during ${scenario}: numbers are skewed`,
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
async function waitForIdle(problems, label) {
  const deadline = Date.now() + Math.min(OPTIONS.idleWaitS * 1000, budgetLeft() / 4);
  let busy = await machineBusy(1000);
  if (busy === null || busy < IDLE_BUSY_PCT) return;
  if (Date.now() < deadline) {
    log(
      `machine is ${fmt(busy, 0)} % busy; waiting up to ${fmt((deadline - Date.now()) / 1000, 0)} s`,
    );
  }
  while (Date.now() < deadline) {
    busy = await machineBusy(1000);
    if (busy < IDLE_BUSY_PCT) return;
  }
  problems.push(`machine was ${fmt(busy, 0)} % busy before ${label}: numbers are skewed`);
}

async function describeMachine() {
  const cpus = os.cpus();
  const info = { postgres: 'unknown', postgresSettings: null, redis: 'unknown' };
  try {
    const client = new pg.Client({ connectionString: OPTIONS.postgresUrl });
    await client.connect();
    const { rows } = await client.query(
      `SELECT current_setting('server_version') AS version, current_setting('autovacuum') AS autovacuum,
              current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sync,
              current_setting('max_connections') AS max_connections,
              current_setting('shared_buffers') AS shared_buffers`,
    );
    info.postgres = rows[0].version;
    info.postgresSettings = rows[0];
    await client.end();
  } catch {
    // reported as unknown
  }
  try {
    const redis = quietRedis(run.redis?.url ?? 'redis://127.0.0.1:6379');
    try {
      await redis.connect();
      info.redis = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
    } finally {
      redis.disconnect();
    }
  } catch {
    // the private server is gone by now: ask the binary
    try {
      info.redis = /v=(\S+)/.exec(execFileSync('redis-server', ['--version']).toString())?.[1];
    } catch {
      // unknown
    }
  }
  let commit = CURRENT.commit;
  try {
    if (commit !== 'unknown') throw new Error('a build made by bench/build-baseline.sh');
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
    ...info,
  };
}

// ---- Markdown ----------------------------------------------------------------------------------

function allProblems(r) {
  return [...r.problems, ...r.infq.flatMap((i) => i.problems.map((p) => `${i.label}: ${p}`))];
}

function renderResults(r) {
  const a = r.anchors;
  const direct = a['fake backend, direct'];
  const nginx = a.nginx;
  const portkey = a.Portkey;
  const perReq = (x, key, digits = 1) => fmt(x?.perRequest?.[key], digits);
  const cpuMs = (x) => fmt(x?.cpuMsPerRequest?.infq ?? x?.cpuMsPerRequest?.proxy, 2);
  const row = (name, x) => [
    name,
    fmt(x?.rps),
    fmt(x?.p50),
    fmt(x?.p99),
    fmt(x ? x.non2xx + x.errors : null),
    cpuMs(x),
    perReq(x, 'redisCommands'),
    perReq(x, 'redisScripts'),
    perReq(x, 'redisReads'),
    perReq(x, 'pgXacts'),
  ];
  const mainRows = [
    row('fake backend, direct', direct),
    row('nginx reverse proxy', nginx),
    row(`Portkey gateway ${r.anchorVersions?.portkey ?? ''} (Node 22)`.replace('  ', ' '), portkey),
  ];
  for (const i of r.infq) {
    if (i.backend === 'redis') {
      mainRows.push(row(`infq wait mode, SDK request (${i.label})`, i.wait));
      mainRows.push(row(`infq queued POST, 202 (${i.label})`, i.queued));
      mainRows.push(row(`infq poll GET /v1/results/:id (${i.label})`, i.poll));
    } else {
      mainRows.push(row(`infq queued POST, 202 (${i.label}, MODE=all)`, i.queued));
    }
  }
  const n = OPTIONS.connections;
  const sections = [
    `### Side by side (${OPTIONS.durationS} s each, ${n} connections, pipelining 1)`,
    '',
    'One row per target, all against the same fake backend. "CPU ms/req": CPU of the proxy',
    '(infq, nginx with its workers, Portkey) per answered request; the fake backend row has none.',
    'Counts per request are read while the load runs (at 25 % and 95 % of it); for infq on the',
    'Redis queue they include the worker completing the job, since it runs in the same process.',
    '',
    table(
      [
        'target',
        'req/s',
        'p50 ms',
        'p99 ms',
        'non-2xx + errors',
        'CPU ms/req',
        'Redis cmds/req',
        'Lua calls/req',
        'Redis reads/req',
        'PG xacts/req',
      ],
      mainRows,
    ),
  ];

  // Goals, as same-run ratios.
  const goalRows = [];
  const status = (ok) => {
    const verdict = ok === null ? 'n/a' : ok ? 'met' : 'not met';
    return OPTIONS.quick && ok !== null ? `(smoke) ${verdict}` : verdict;
  };
  const both = (x, y) => (x === null || y === null ? null : x && y);
  const ratio = (x, y) => (x?.rps && y?.rps ? x.rps / y.rps : null);
  for (const i of r.infq) {
    if (i.backend === 'redis') {
      const w = ratio(i.wait, portkey);
      goalRows.push([
        `wait mode (${i.label}) vs Portkey`,
        '≥ 2× req/s, p99 below',
        `${fmt(w, 2)}×; p99 ${fmt(i.wait?.p99)} vs ${fmt(portkey?.p99)} ms`,
        status(
          both(w === null ? null : w >= 2, i.wait && portkey ? i.wait.p99 < portkey.p99 : null),
        ),
      ]);
      const qn = ratio(i.queued, nginx);
      goalRows.push([
        `queued POST (${i.label}) vs nginx`,
        '≥ 25 % req/s, p99 ≤ 20 ms',
        `${fmt(qn === null ? null : qn * 100)} %; p99 ${fmt(i.queued?.p99)} ms`,
        status(both(qn === null ? null : qn >= 0.25, i.queued ? i.queued.p99 <= 20 : null)),
      ]);
      const pn = ratio(i.poll, nginx);
      goalRows.push([
        `poll GET (${i.label}) vs nginx`,
        '≥ 60 % req/s',
        `${fmt(pn === null ? null : pn * 100)} %`,
        status(pn === null ? null : pn >= 0.6),
      ]);
      const s = i.streams;
      goalRows.push([
        `${OPTIONS.streams} concurrent streams (${i.label}) vs direct`,
        'all complete; added TTFT p99 ≤ 5 ms',
        s
          ? `${s.infq.ok}/${OPTIONS.streams}; added TTFT p50 ${fmt(s.addedP50)} ms, p99 ${fmt(s.addedP99)} ms`
          : 'n/a',
        status(s ? s.infq.ok === OPTIONS.streams && s.addedP99 <= 5 : null),
      ]);
      goalRows.push([
        `infq RSS after ${fmt(i.batch?.jobs ?? OPTIONS.jobs)} jobs (${i.label})`,
        '≤ 256 MB (goal at 50,000 jobs)',
        `${fmt(i.batch?.rssAfter)} MiB`,
        status(i.batch?.rssAfter ? i.batch.rssAfter * 1.048576 <= 256 : null),
      ]);
    } else {
      goalRows.push([
        `queued POST (${i.label}, MODE=all)`,
        '≥ 1,000 req/s, p99 ≤ 100 ms',
        `${fmt(i.queued?.rps)} req/s (${fmt(ratio(i.queued, nginx) === null ? null : ratio(i.queued, nginx) * 100)} % of nginx); p99 ${fmt(i.queued?.p99)} ms`,
        status(i.queued ? i.queued.rps >= 1000 && i.queued.p99 <= 100 : null),
      ]);
    }
  }
  sections.push(
    '',
    '### Goals (same-run ratios)',
    '',
    ...(OPTIONS.quick
      ? ['A `--quick` smoke run: short scenarios on a shared machine; no goal is judged by it.', '']
      : []),
    table(['goal', 'target', 'measured', 'status'], goalRows),
  );

  // Streams.
  const streamRows = [];
  for (const i of r.infq.filter((x) => x.streams)) {
    const s = i.streams;
    for (const [name, st] of [
      ['direct to the fake node', s.direct],
      [`through infq (${i.label})`, s.infq],
    ]) {
      streamRows.push([
        name,
        `${st.ok}/${OPTIONS.streams}`,
        fmt(st.ttftP50),
        fmt(st.ttftP99),
        fmt(st.totalP50),
        fmt(st.totalP99),
      ]);
    }
    streamRows.push([
      `added by infq (${i.label})`,
      '',
      fmt(s.addedP50),
      fmt(s.addedP99),
      fmt(s.infq.totalP50 - s.direct.totalP50),
      fmt(s.infq.totalP99 - s.direct.totalP99),
    ]);
  }
  if (streamRows.length > 0) {
    sections.push(
      '',
      `### Streams (${OPTIONS.streams} at once; the node sends its first token after ${OPTIONS.ttftMs} ms and ends after ${fmt((OPTIONS.ttftMs * OPTIONS.streamTokens) / 1000, 1)} s)`,
      '',
      'Time to first token: from sending the request to the first event with content (the role',
      'chunk before it does not count). Each stream on its own connection, all opened at once.',
      '',
      table(
        ['', 'complete', 'TTFT p50 ms', 'TTFT p99 ms', 'stream p50 ms', 'stream p99 ms'],
        streamRows,
      ),
    );
    const rssRows = r.infq
      .filter((x) => x.streams)
      .map((i) => [i.label, fmt(i.streams.rssBefore), fmt(i.streams.rssPeak)]);
    sections.push('', table(['infq RSS during the streams', 'before MiB', 'peak MiB'], rssRows));
  }

  // Slow reader.
  const slow = r.infq.filter((x) => x.slow);
  if (slow.length > 0) {
    sections.push(
      '',
      `### Slow reader (backpressure): ${OPTIONS.slowReaders} client(s), ${OPTIONS.slowMb} MiB streams, read at 160 KiB/s for ${OPTIONS.slowS} s`,
      '',
      'The fake node writes the whole stream at once. infq buffering what the client has not read',
      `would grow by up to ${fmt(OPTIONS.slowReaders * OPTIONS.slowMb)} MiB; pausing the backend read keeps it flat.`,
      '',
      table(
        ['', 'streams OK', 'read by clients MiB', 'RSS before MiB', 'RSS peak MiB', 'growth MiB'],
        slow.map((i) => [
          `infq (${i.label})`,
          `${i.slow.ok}/${i.slow.readers}`,
          fmt(i.slow.readMb, 1),
          fmt(i.slow.rssBefore),
          fmt(i.slow.rssPeak),
          fmt(i.slow.rssPeak - i.slow.rssBefore),
        ]),
      ),
    );
  }

  // Wait cost.
  const waits = r.infq.filter((x) => x.waitCost);
  if (waits.length > 0) {
    sections.push(
      '',
      `### Cost of waiting requests (${fmt(OPTIONS.waiters)} SDK requests held in wait mode by a MODE=api process, no worker running)`,
      '',
      table(
        [
          '',
          'RSS before MiB',
          'RSS waiting MiB',
          'MiB per 1,000 waiting',
          'CPU while waiting (% of a core)',
          'CPU % per 1,000 waiting',
          "last answer after the worker's first completion (s)",
        ],
        waits.map((i) => [
          `infq (${i.label})`,
          fmt(i.waitCost.rssBefore),
          fmt(i.waitCost.rssWaiting),
          fmt(i.waitCost.rssPer1000, 1),
          fmt(i.waitCost.cpuPct, 1),
          fmt(i.waitCost.cpuPer1000, 1),
          fmt(i.waitCost.releasedS, 2),
        ]),
      ),
    );
  }

  // Batches and drains (the earlier scenarios B and C).
  const by = (f) => r.infq.map(f);
  const head = ['', ...by((i) => i.label)];
  sections.push(
    '',
    `### Batch: jobs submitted as fast as ${n} connections allow, MODE=all (Redis: ${fmt(OPTIONS.jobs)} jobs, PostgreSQL: ${fmt(OPTIONS.pgJobs)})`,
    '',
    table(head, [
      ['jobs', ...by((i) => fmt(i.batch?.jobs))],
      [
        'completions/s (first POST to last completion)',
        ...by((i) => fmt(i.batch?.completionsPerS)),
      ],
      ['last completion after (s)', ...by((i) => fmt(i.batch?.totalS, 2))],
      ['submission requests/s', ...by((i) => fmt(i.batch?.submitRps))],
      ['submission latency p99 (ms)', ...by((i) => fmt(i.batch?.p99))],
      ['completions/s after the last POST', ...by((i) => fmt(i.batch?.tailPerS))],
      ['jobs completed', ...by((i) => fmt(i.batch?.completed))],
      ['infq RSS once drained (MiB)', ...by((i) => fmt(i.batch?.rssAfter))],
      ['infq CPU (% of one core)', ...by((i) => pct(i.batch?.cpu?.infq))],
      ['PostgreSQL server CPU', ...by((i) => pct(i.batch?.cpu?.postgres))],
      ['Redis server CPU', ...by((i) => pct(i.batch?.cpu?.redis))],
    ]),
    '',
    `### Drain: ${fmt(OPTIONS.drainJobs)} jobs (and the waiting requests) queued first, then one MODE=worker process`,
    '',
    table(head, [
      ['completions/s (first to last completion)', ...by((i) => fmt(i.drain?.completionsPerS))],
      ['jobs completed', ...by((i) => fmt(i.drain?.completed))],
      ['worker spawn to first completion (s)', ...by((i) => fmt(i.drain?.spawnToFirstS, 2))],
      ['worker spawn to last completion (s)', ...by((i) => fmt(i.drain?.spawnToLastS, 2))],
      ['fill rate, API only (requests/s)', ...by((i) => fmt(i.drain?.fillRps))],
      ['infq worker CPU (% of one core)', ...by((i) => pct(i.drain?.cpu?.infq))],
      ['PostgreSQL server CPU', ...by((i) => pct(i.drain?.cpu?.postgres))],
    ]),
    '',
    '### Other',
    '',
    table(head, [
      ['MODE=all startup to healthy /health (s)', ...by((i) => fmt(i.startupS, 1))],
      ['MODE=worker startup to healthy /health (s)', ...by((i) => fmt(i.drain?.workerStartupS, 1))],
      ['wall time (s)', ...by((i) => fmt(i.wallS, 0))],
    ]),
  );

  // CPU per scenario.
  const cpuRows = [];
  const cpuRow = (name, c) => [
    name,
    pct(c?.infq ?? c?.proxy),
    pct(c?.fake),
    pct(c?.postgres),
    pct(c?.redis),
    pct(c?.bench),
    pct(c?.other),
    pct(c?.machine),
  ];
  for (const [name, x] of Object.entries(a)) cpuRows.push(cpuRow(name, x?.cpu));
  for (const i of r.infq) {
    for (const [key, name] of [
      ['wait', 'wait mode'],
      ['queued', 'queued POST'],
      ['poll', 'poll GET'],
    ]) {
      if (i[key]) cpuRows.push(cpuRow(`infq ${name} (${i.label})`, i[key].cpu));
    }
  }
  sections.push(
    '',
    '### CPU during each scenario (% of one core; machine: % of all cores)',
    '',
    table(
      [
        'scenario',
        'proxy / infq',
        'fake backend',
        'PostgreSQL',
        'Redis',
        'load generator',
        'other',
        'machine',
      ],
      cpuRows,
    ),
  );

  // Round trips in detail.
  const rtRows = [];
  for (const i of r.infq) {
    for (const [key, name] of [
      ['wait', 'wait mode'],
      ['queued', 'queued POST'],
      ['poll', 'poll GET'],
    ]) {
      const p = i[key]?.perRequest;
      if (!p) continue;
      rtRows.push([
        `${name} (${i.label})`,
        fmt(p.pgXacts, 2),
        fmt(p.pgWrites, 2),
        p.redisTop ? p.redisTop.map(([c, v]) => `${c} ${fmt(v, 2)}`).join(', ') : 'n/a',
        p.pgTop?.length
          ? p.pgTop.map(([f, calls, ms]) => `${f} ${fmt(calls, 2)}× ${fmt(ms, 2)} ms`).join(', ')
          : 'n/a',
      ]);
    }
  }
  if (rtRows.length > 0) {
    sections.push(
      '',
      '### Round trips per request',
      '',
      "PostgreSQL: transactions (committed + rolled back) and rows written in this run's database,",
      'from `pg_stat_database`. Redis: the most frequent commands per request from `INFO',
      'commandstats` (commands run inside Lua scripts count too). PostgreSQL functions: the',
      "PL/pgSQL functions (BullMQ's and infq's) taking the most time of their own per request,",
      'as calls and milliseconds per request, from `pg_stat_user_functions` (`track_functions`).',
      '',
      table(
        [
          'scenario',
          'PG xacts/req',
          'PG rows written/req',
          'Redis commands/req',
          'PostgreSQL functions (calls, self ms per request)',
        ],
        rtRows,
      ),
    );
  }

  // Profiles.
  if (r.profiles.length > 0) {
    sections.push(
      '',
      "### Where the time goes (`--profile`: infq under `--cpu-prof`, self time in each scenario's window)",
    );
    for (const p of r.profiles) sections.push('', renderProfileSummary(p.summary, p.title));
  }
  return sections.join('\n');
}

function renderResultsFile(m, date, tables, r) {
  const problems = allProblems(r).map((p) => `- ${p}`);
  const logs = r.infq.flatMap((i) =>
    i.logs.map((l) => `- ${i.label}, MODE=${l.mode}: ${l.output.split('\n').length} line(s)`),
  );
  const s = m.postgresSettings;
  const flags = [
    OPTIONS.quick && '--quick',
    OPTIONS.profile && '--profile',
    OPTIONS.baseline && `--baseline=${OPTIONS.baseline}`,
    OPTIONS.infq !== ROOT && `--infq=${OPTIONS.infq}`,
  ].filter(Boolean);
  const v = r.anchorVersions ?? {};
  return `${[
    '# infq benchmark results',
    '',
    'Generated by `bench/run.js`; what each scenario measures is in [README.md](README.md).',
    'Rerunning the benchmark rewrites this file.',
    '',
    ...(OPTIONS.quick
      ? [
          `> **Smoke run (\`--quick\`)**: ${OPTIONS.durationS} s per scenario, ${OPTIONS.streams} streams, small batches, on a`,
          '> machine shared with other work. These figures show that the benchmark runs end to end;',
          '> they are not measurements and no goal is judged by them.',
          '',
        ]
      : []),
    '## Run',
    '',
    `- Date: ${date.toISOString()}`,
    `- Command: \`npm run build && npm run bench${flags.length > 0 ? ` -- ${flags.join(' ')}` : ''}\``,
    `- Settings: ${OPTIONS.durationS} s per scenario, ${OPTIONS.connections} connections, ${OPTIONS.tenants} tenant(s), batch ${OPTIONS.jobs} jobs (Redis) / ${OPTIONS.pgJobs} (PostgreSQL), drain ${OPTIONS.drainJobs}, ${OPTIONS.streams} streams, ${OPTIONS.waiters} waiting requests, WORKER_CONCURRENCY=${OPTIONS.workerConcurrency}`,
    `- Machine: ${m.cores} cores (\`nproc\`), ${m.cpu}, ${fmt(m.memGiB, 1)} GiB RAM, ${m.os}`,
    `- Node ${m.node} (infq, the fake backend and the load generator)`,
    `- PostgreSQL ${m.postgres}: an external server (${OPTIONS.postgresUrl.replace(/\/\/[^@]*@/, '//')}), not embedded${s ? `; autovacuum ${s.autovacuum}, fsync ${s.fsync}, synchronous_commit ${s.sync}, max_connections ${s.max_connections}, shared_buffers ${s.shared_buffers}` : ''}`,
    `- Redis ${m.redis}: ${r.redis?.private ? "a private redis-server started for this run (no persistence), so its counters are this run's alone" : `${r.redis?.url ?? 'not used'} (shared: its counters include other clients)`}`,
    `- Anchors: nginx ${v.nginx ?? 'n/a'} (Debian package, \`worker_processes auto\`, keep-alive upstream), Portkey gateway ${v.portkey ?? 'n/a'} on Node ${v.node22 ?? 'n/a'} (bench/anchors/)`,
    `- infq commit: ${m.commit}${BUILDS.length > 1 ? `; baseline: ${BUILDS[0].commit}` : ''}`,
    `- dist/ built ${BUILD_AGE.builtAt.toISOString()}${BUILD_AGE.newer.length > 0 ? `, older than ${BUILD_AGE.newer.length} file(s) in src/ (${BUILD_AGE.newer.slice(0, 5).join(', ')})` : ', newer than every file in src/'}`,
    '- Load generator, infq, the anchors, fake backend, PostgreSQL and Redis all share these cores.',
    '',
    '## Results',
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

function log(message) {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(1);
}
