#!/usr/bin/env node
// Interleaved A/B of two infq builds on the Redis queue: `node bench/ab.js --baseline=DIR
// [--infq=DIR] [--rounds=4] [--jobs=10000]` (DIR/dist as made by `npm run build` or
// bench/build-baseline.sh; --infq defaults to this checkout).
//
// bench/run.js measures one build after the other, minutes apart; on a shared machine the
// second can lose 15 % to the first for nothing it did (the poll row, whose code path did not
// change, shows it). Here each round runs both builds back to back, in ABBA order, and the
// medians over rounds are compared. Each build, each round, one fresh MODE=all process:
//   - queued POST: autocannon, 50 connections, --duration-s seconds: req/s and infq's CPU per
//     request;
//   - completions: --jobs POSTs as fast as 50 connections allow, then until the queue has
//     completed them all: jobs per second from the first POST to the last completion;
//   - poll GET /v1/results/:id: the HTTP layer (auth, hooks, one job read) with no queue work.
// Needs PostgreSQL (BENCH_POSTGRES_URL, as bench/run.js) and redis-server on the PATH.
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, quantile, table } from './lib/format.js';
import { freePort, startProcess, waitFor } from './lib/processes.js';
import {
  adminQuery as query,
  fail as stop,
  logger,
  parseFlags,
  runWithCleanups,
} from './lib/script.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const option = parseFlags('bench/ab.js', ['baseline', 'infq', 'rounds', 'jobs', 'duration-s']);
const log = logger('ab');
const fail = (message) => stop('bench/ab.js', message);
const BUILDS = [
  { label: 'baseline', root: path.resolve(option('baseline', '') || fail('--baseline=DIR')) },
  { label: 'current', root: path.resolve(option('infq', ROOT)) },
];
const ROUNDS = Number(option('rounds', 4));
const JOBS = Number(option('jobs', 10_000));
const DURATION_S = Number(option('duration-s', 6));
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ADMIN_TOKEN = `bench-admin-${randomBytes(12).toString('hex')}`;
const HUGE = '1000000000';
const INT_MAX = 2_147_483_647;
const CHAT_BODY = JSON.stringify({
  model: 'fake-model',
  messages: [{ role: 'user', content: 'hi' }],
});

for (const build of BUILDS) {
  if (!existsSync(path.join(build.root, 'dist/src/main.js'))) {
    fail(`${build.root}/dist/src/main.js is missing: build it first`);
  }
}

await runWithCleanups(main);

async function main(cleanups) {
  const redisPort = await freePort();
  const redis = await startProcess(
    'redis-server',
    ['--port', String(redisPort), '--save', '', '--appendonly', 'no'],
    {},
    { command: 'redis-server', log },
  );
  cleanups.push(() => redis.stop());
  const fakePort = await freePort();
  const fake = await startProcess(
    'fake-backend',
    [
      path.join(ROOT, 'bench/lib/fake-node.js'),
      path.join(BUILDS[1].root, 'dist'),
      String(fakePort),
    ],
    {},
    { cwd: ROOT, log },
  );
  cleanups.push(() => fake.stop());
  await waitFor('fake backend', 10_000, async () =>
    fetch(`http://127.0.0.1:${fakePort}/v1/models`).then((response) => response.ok),
  );

  const samples = new Map(BUILDS.map((build) => [build.label, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? BUILDS : [...BUILDS].reverse();
    for (const build of order) {
      const sample = await measure(build, { redisPort, fakePort });
      log(
        `round ${round + 1}, ${build.label}: queued POST ${fmt(sample.queuedRps, 0)}/s ` +
          `(${fmt(sample.cpuMsPerRequest, 2)} CPU ms/req), completions ${fmt(sample.completionsPerS, 0)}/s, ` +
          `poll ${fmt(sample.pollRps, 0)}/s`,
      );
      samples.get(build.label).push(sample);
    }
  }

  const median = (label, key) =>
    quantile(
      samples.get(label).map((sample) => sample[key]),
      0.5,
    );
  const rows = [
    ['queued POST, req/s', 'queuedRps', 0],
    ['queued POST, infq CPU ms/req', 'cpuMsPerRequest', 2],
    [`completions/s (${fmt(JOBS, 0)} jobs, first POST to last completion)`, 'completionsPerS', 0],
    ['poll GET, req/s (the HTTP layer: auth, one job read)', 'pollRps', 0],
  ].map(([name, key, digits]) => {
    const before = median('baseline', key);
    const after = median('current', key);
    return [
      name,
      fmt(before, digits),
      fmt(after, digits),
      `${after >= before ? '+' : ''}${fmt(((after - before) / before) * 100, 1)} %`,
      samples
        .get('current')
        .map((sample) => fmt(sample[key], digits))
        .join(' / '),
    ];
  });
  console.log(
    `\nMedians of ${ROUNDS} rounds (ABBA order), ${DURATION_S} s per load, 50 connections:\n`,
  );
  console.log(table(['measure', 'baseline', 'current', 'change', 'current, each round'], rows));
}

/** One fresh MODE=all process of `build`: the three measures. */
async function measure(build, { redisPort, fakePort }) {
  const database = `infq_ab_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${database}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${database}`;
  const port = await freePort();
  const prefix = `ab${randomBytes(4).toString('hex')}`;
  const redis = new Redis({ port: redisPort, lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const infq = await startProcess(
    `infq (${build.label})`,
    [path.join(build.root, 'dist/src/main.js')],
    {
      MODE: 'all',
      DATABASE_URL: url.toString(),
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      REDIS_PREFIX: prefix,
      BUS_NODES: `http://127.0.0.1:${fakePort}/v1`,
      NODE_MAX_INFLIGHT: '100000',
      ADMIN_TOKEN,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      DEFAULT_RPM: HUGE,
      DEFAULT_MAX_CONCURRENT: HUGE,
      DEFAULT_MAX_QUEUED: HUGE,
      DEFAULT_TOKENS_PER_DAY: `${HUGE}000`,
      WORKER_CONCURRENCY: '64',
    },
    { cwd: build.root, log },
  );
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${build.label} /health`, 60_000, async () => {
      if (infq.exited) throw new Error(`infq exited: ${infq.output()}`);
      return (await fetch(`${base}/health`).catch(() => null))?.status === 200;
    });
    const headers = {
      authorization: `Bearer ${await createKey(base)}`,
      'content-type': 'application/json',
    };
    const chat = { url: `${base}/v1/chat/completions`, method: 'POST', headers, body: CHAT_BODY };
    await load({ ...chat, duration: 1 });
    await drained(base);

    const cpuBefore = cpuMs(infq.pid);
    const queued = await load({ ...chat, duration: DURATION_S });
    const cpuMsPerRequest = (cpuMs(infq.pid) - cpuBefore) / queued['2xx'];
    await drained(base);

    // Completion times from the queue itself: the completed set is scored by finishedOn.
    const completed = `${prefix}:inference:completed`;
    const started = Date.now();
    await load({ ...chat, amount: JOBS });
    await waitFor('completions', 120_000, async () => {
      return (await redis.zcount(completed, started, '+inf')) >= JOBS;
    });
    const [, last] = await redis.zrevrangebyscore(
      completed,
      '+inf',
      started,
      'WITHSCORES',
      'LIMIT',
      0,
      1,
    );
    const completionsPerS = JOBS / ((Number(last) - started) / 1000);

    const ids = [];
    for (let i = 0; i < 20; i++) {
      const response = await fetch(chat.url, {
        ...chat,
        headers: { ...headers, prefer: 'wait=10' },
      });
      ids.push(response.headers.get('x-job-id') ?? (await response.json()).id);
    }
    let next = 0;
    const poll = await load({
      url: `${base}/v1/results/${ids[0]}`,
      headers,
      duration: DURATION_S,
      setupClient: (client) =>
        client.on('response', () =>
          client.setRequests([{ path: `/v1/results/${ids[next++ % ids.length]}` }]),
        ),
    });
    return {
      queuedRps: queued['2xx'] / queued.duration,
      cpuMsPerRequest,
      completionsPerS,
      pollRps: poll['2xx'] / poll.duration,
    };
  } finally {
    await infq.stop();
    await redis.flushall();
    redis.disconnect();
    await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
}

function load(options) {
  return new Promise((resolve, reject) =>
    autocannon({ connections: 50, pipelining: 1, timeout: 30, ...options }, (error, result) =>
      error ? reject(error) : resolve(result),
    ),
  );
}

async function counts(base) {
  const health = await (await fetch(`${base}/health`)).json();
  return health.queue;
}

/** Until nothing is queued or running. */
async function drained(base) {
  await waitFor('drain', 120_000, async () => {
    const queue = await counts(base);
    return queue.queued === 0 && queue.processing === 0;
  });
}

async function createKey(base) {
  const admin = async (route, json) => {
    const response = await fetch(`${base}/admin/api${route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(json),
    });
    return { status: response.status, body: await response.json() };
  };
  const limits = { rpm: INT_MAX, max_concurrent: INT_MAX, tokens_per_day: Number(HUGE) * 1000 };
  let tenant = await admin('/tenants', { name: 'ab', limits: { ...limits, max_queued: INT_MAX } });
  // A build from before `max_queued` existed refuses the field.
  if (tenant.status === 400) tenant = await admin('/tenants', { name: 'ab', limits });
  return (await admin(`/tenants/${tenant.body.id}/keys`, { name: 'ab' })).body.key;
}

function adminQuery(sql) {
  return query(POSTGRES_URL, sql);
}

/** User + system CPU time of a process so far, in ms (Linux). */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}
