#!/usr/bin/env node
// Batch API benchmark: `npm run build && node bench/batch.js [--lines=50000] [--backend=redis]`.
//
// Against the fake backend answering every completion after 20 ms (one node, no cap), one infq
// process (MODE=all) is measured on:
//   1. plain queued jobs: --lines POSTs of one tenant, drained by the workers (lines per second
//      from the first POST to the last completion): what the pool does for ordinary jobs;
//   2. a batch of --lines lines through the Batch API: upload, validation and run (lines per
//      second from create to `completed`), and the time until the output file has downloaded;
//   3. infq's peak RSS during the batch (from /proc, every 100 ms);
//   4. another tenant's interactive latency during the batch: a wait-mode chat completion every
//      200 ms (p50, p95, max).
// Flags: --lines=N (default 50,000), --backend=redis|postgres (default redis),
//   --latency-ms=N (fake backend latency, default 20), --concurrency=N (WORKER_CONCURRENCY, 64),
//   --node-max=N (the node's capacity, NODE_MAX_INFLIGHT; default: the worker concurrency),
//   --node-args="--flag ..." (Node flags for the infq process only).
// Environment: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test),
//   BENCH_REDIS_URL (default redis://127.0.0.1:6379).
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { fmt, quantile, table } from './lib/format.js';
import { freePort, rssMb, startProcess, waitFor } from './lib/processes.js';
import {
  adminQuery as query,
  fail as stop,
  logger,
  parseFlags,
  runWithCleanups,
} from './lib/script.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const option = parseFlags('bench/batch.js', [
  'lines',
  'backend',
  'latency-ms',
  'concurrency',
  'node-max',
  'node-args',
]);
const log = logger('bench:batch');
const fail = (message) => stop('bench/batch.js', message);
const LINES = Number(option('lines', 50_000));
const BACKEND = option('backend', 'redis');
const LATENCY_MS = Number(option('latency-ms', 20));
const CONCURRENCY = Number(option('concurrency', 64));
// The node's capacity: the dispatcher rations places, so another tenant's job waits for the
// next free one instead of behind every line already handed to the queue.
const NODE_MAX = Number(option('node-max', CONCURRENCY));
// Extra Node flags for infq only (space-separated), to compare V8 settings.
const NODE_ARGS = String(option('node-args', '')).split(' ').filter(Boolean);
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ADMIN_TOKEN = `bench-admin-${randomBytes(12).toString('hex')}`;
const HUGE = '1000000000';
const INTERACTIVE_EVERY_MS = 200;
const POST_CONCURRENCY = 50;

if (!['redis', 'postgres'].includes(BACKEND)) fail('--backend must be redis or postgres');
if (!(LINES >= 1)) fail('--lines must be a positive number');
for (const file of ['dist/src/main.js', 'dist/test/support/fake-backend.js']) {
  if (!existsSync(path.join(ROOT, file))) fail(`${file} is missing: run \`npm run build\` first`);
}

await runWithCleanups(main);

async function main(cleanups) {
  const fakePort = await freePort();
  const fake = await startProcess(
    'fake backend',
    [
      '--input-type=module',
      '-e',
      `const { FakeBackend } = await import(${JSON.stringify(path.join(ROOT, 'dist/test/support/fake-backend.js'))});
       const backend = await FakeBackend.start({ port: ${fakePort}, models: ['fake-model'],
         defaultBehaviour: { type: 'ok', delayMs: ${LATENCY_MS} } });
       setInterval(() => { backend.requests.length = 0; }, 1000).unref();`,
    ],
    {},
    { cwd: ROOT, log },
  );
  cleanups.push(() => fake.stop());
  await waitFor(
    'fake backend',
    10_000,
    async () => (await fetch(`http://127.0.0.1:${fakePort}/v1/models`)).ok,
  );

  const database = `infq_bench_batch_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${database}`);
  cleanups.push(() => adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  const databaseUrl = new URL(POSTGRES_URL);
  databaseUrl.pathname = `/${database}`;
  const prefix = `infqbenchbatch${randomBytes(4).toString('hex')}`;
  if (BACKEND === 'redis') cleanups.push(() => clearRedisPrefix(prefix));

  const port = await freePort();
  const infq = await startProcess(
    'infq',
    [...NODE_ARGS, path.join(ROOT, 'dist/src/main.js')],
    {
      DATABASE_URL: databaseUrl.toString(),
      REDIS_URL: BACKEND === 'redis' ? REDIS_URL : '',
      REDIS_PREFIX: prefix,
      BUS_NODES: `http://127.0.0.1:${fakePort}/v1`,
      NODE_MAX_INFLIGHT: String(NODE_MAX),
      ADMIN_TOKEN,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      MODE: 'all',
      DEFAULT_RPM: HUGE,
      DEFAULT_MAX_CONCURRENT: HUGE,
      DEFAULT_MAX_QUEUED: HUGE,
      DEFAULT_TOKENS_PER_DAY: `${HUGE}000`,
      WORKER_CONCURRENCY: String(CONCURRENCY),
      BATCH_MAX_LINES: String(Math.max(LINES, 50_000)),
    },
    { cwd: ROOT, log },
  );
  cleanups.push(() => infq.stop());
  const base = `http://127.0.0.1:${port}`;
  await waitFor('infq /health', 60_000, async () => {
    if (infq.exited) throw new Error(`infq exited: ${infq.output()}`);
    return (await fetch(`${base}/health`)).status === 200;
  });
  log(`infq up (${BACKEND} queue, pid ${infq.pid}); ${LINES} lines, ${LATENCY_MS} ms backend`);

  const batchKey = await createTenantKey(base);
  const interactiveKey = await createTenantKey(base);
  const auth = (key) => ({ authorization: `Bearer ${key}` });

  // 1. Plain queued jobs, the pool's rate for ordinary work.
  const plainStart = Date.now();
  const completeBefore = (await health(base)).queue.complete;
  let next = 0;
  await Promise.all(
    Array.from({ length: POST_CONCURRENCY }, async () => {
      while (next < LINES) {
        next++;
        const response = await fetch(`${base}/v1/chat/completions`, {
          method: 'POST',
          headers: { ...auth(batchKey), 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'fake-model',
            messages: [{ role: 'user', content: `plain ${next}` }],
          }),
        });
        if (response.status !== 202) {
          throw new Error(`plain POST: ${response.status} ${await response.text()}`);
        }
        await response.arrayBuffer();
      }
    }),
  );
  await waitFor('plain jobs drained', 60 * 60_000, async () => {
    const { queue } = await health(base);
    return queue.complete + queue.dead - completeBefore >= LINES;
  });
  const plainS = (Date.now() - plainStart) / 1000;
  log(`plain jobs: ${fmt(LINES / plainS)} per second`);

  // 2–4. The batch, with RSS sampled and another tenant's interactive latency measured.
  let peakRssMb = rssMb(infq.pid) ?? 0;
  const rssBefore = peakRssMb;
  const sampler = setInterval(() => {
    peakRssMb = Math.max(peakRssMb, rssMb(infq.pid) ?? 0);
  }, 100);
  cleanups.push(async () => clearInterval(sampler));
  // What of the RSS is V8's heap (infq's own /metrics, once a second).
  const heapPeak = { total: 0, used: 0 };
  const heapSampler = setInterval(() => {
    void heapMb(base).then((heap) => {
      if (!heap) return;
      heapPeak.total = Math.max(heapPeak.total, heap.total);
      heapPeak.used = Math.max(heapPeak.used, heap.used);
    });
  }, 1_000);
  cleanups.push(async () => clearInterval(heapSampler));

  const input = Array.from({ length: LINES }, (_, i) =>
    JSON.stringify({
      custom_id: `line-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'fake-model', messages: [{ role: 'user', content: `batch line ${i}` }] },
    }),
  ).join('\n');
  const form = new FormData();
  form.set('purpose', 'batch');
  form.set('file', new Blob([input]), 'bench.jsonl');
  const uploadStart = Date.now();
  const uploaded = await fetch(`${base}/v1/files`, {
    method: 'POST',
    headers: auth(batchKey),
    body: form,
  });
  if (uploaded.status !== 200)
    throw new Error(`upload: ${uploaded.status} ${await uploaded.text()}`);
  const file = await uploaded.json();
  const uploadS = (Date.now() - uploadStart) / 1000;

  let measuring = true;
  const latencies = [];
  const interactive = (async () => {
    while (measuring) {
      const started = Date.now();
      const response = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { ...auth(interactiveKey), 'content-type': 'application/json', prefer: 'wait' },
        body: JSON.stringify({
          model: 'fake-model',
          messages: [{ role: 'user', content: 'interactive' }],
        }),
      });
      await response.arrayBuffer();
      if (response.status === 200) latencies.push(Date.now() - started);
      await sleep(INTERACTIVE_EVERY_MS);
    }
  })();

  const createdAt = Date.now();
  const created = await fetch(`${base}/v1/batches`, {
    method: 'POST',
    headers: { ...auth(batchKey), 'content-type': 'application/json' },
    body: JSON.stringify({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    }),
  });
  if (created.status !== 200) throw new Error(`batch: ${created.status} ${await created.text()}`);
  const { id } = await created.json();
  const batch = await waitFor('batch completed', 60 * 60_000, async () => {
    const response = await fetch(`${base}/v1/batches/${id}`, { headers: auth(batchKey) });
    const body = await response.json();
    if (['failed', 'expired', 'cancelled'].includes(body.status)) {
      throw new Error(`batch ended ${body.status}: ${JSON.stringify(body.errors)}`);
    }
    return body.status === 'completed' ? body : false;
  });
  const runS = (Date.now() - createdAt) / 1000;
  measuring = false;
  await interactive;
  const output = await fetch(`${base}/v1/files/${batch.output_file_id}/content`, {
    headers: auth(batchKey),
  });
  const outputText = await output.text();
  const outputS = (Date.now() - createdAt) / 1000;
  clearInterval(sampler);
  const outputLines = outputText.split('\n').filter(Boolean).length;
  if (outputLines !== LINES) throw new Error(`output has ${outputLines} lines, not ${LINES}`);

  const batchRate = LINES / runS;
  const plainRate = LINES / plainS;
  console.log(
    `\n## Batch API (${BACKEND} queue, ${fmt(LINES)} lines, backend ${LATENCY_MS} ms, ` +
      `WORKER_CONCURRENCY ${CONCURRENCY})\n\n` +
      table(
        ['measure', 'value'],
        [
          ['plain queued jobs, per second', fmt(plainRate)],
          ['upload, s', fmt(uploadS, 1)],
          ['batch lines, per second (create → completed)', fmt(batchRate)],
          ['batch vs plain jobs', `${fmt((batchRate / plainRate) * 100, 0)} %`],
          ['time to output file downloaded, s', fmt(outputS, 1)],
          ['infq RSS before the batch, MiB', fmt(rssBefore, 0)],
          ['infq peak RSS during the batch, MiB', fmt(peakRssMb, 0)],
          [
            'V8 heap during the batch: peak total / peak used, MiB',
            `${fmt(heapPeak.total, 0)} / ${fmt(heapPeak.used, 0)}`,
          ],
          ['interactive requests of another tenant', fmt(latencies.length)],
          ['interactive latency p50, ms', fmt(quantile(latencies, 0.5))],
          ['interactive latency p95, ms', fmt(quantile(latencies, 0.95))],
          ['interactive latency max, ms', fmt(quantile(latencies, 1))],
        ],
      ),
  );
}

async function createTenantKey(base) {
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const tenant = await fetch(`${base}/admin/api/tenants`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ name: `bench-${randomBytes(4).toString('hex')}` }),
  });
  if (tenant.status !== 201) throw new Error(`tenant: ${tenant.status} ${await tenant.text()}`);
  const { id } = await tenant.json();
  const key = await fetch(`${base}/admin/api/tenants/${id}/keys`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ name: 'bench' }),
  });
  return (await key.json()).key;
}

async function health(base) {
  return (await fetch(`${base}/health`)).json();
}

function adminQuery(sql) {
  return query(POSTGRES_URL, sql);
}

async function clearRedisPrefix(prefix) {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = nextCursor;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** V8's heap size and use, in MiB, from infq's Prometheus metrics; null when unreadable. */
async function heapMb(base) {
  const text = await fetch(`${base}/metrics`)
    .then((response) => (response.ok ? response.text() : ''))
    .catch(() => '');
  const read = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const total = read('infq_nodejs_heap_size_total_bytes');
  const used = read('infq_nodejs_heap_size_used_bytes');
  return Number.isFinite(total) ? { total: total / 2 ** 20, used: used / 2 ** 20 } : null;
}
