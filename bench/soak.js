// Reliability 18, the soak: two infq instances on one Redis queue and one database take a steady
// mix of requests (queued and polled, wait mode, streams; 1 in 20 fails at the backend and goes
// dead) for --minutes. Every --sample-s it reads each instance's RSS (/proc) and V8 heap
// (/metrics) and Redis's used memory (a Redis of the soak's own, so nothing else counts). After
// the load it waits out the results' retention and one sweep, and reads Redis again.
//
// Reports, per instance, the slope (least squares over the samples after --warmup-min) of RSS and
// of the heap's per-minute low point (what survives a collection), in MB per minute; the goal is
// at most 1 MB/min each, and Redis memory back to where it was before the load.
//
// Run: npm run build && node bench/soak.js [--minutes=30] [--rate=20] [--warmup-min=5]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { FakeBackend } from '../dist/test/support/fake-backend.js';
import { table, fmt } from './lib/format.js';
import { freePort, rssMb, startProcess, waitFor } from './lib/processes.js';
import { adminQuery, logger, parseFlags, runWithCleanups } from './lib/script.js';

const option = parseFlags('soak.js', ['minutes', 'rate', 'warmup-min', 'sample-s', 'retention-s']);
const MINUTES = Number(option('minutes', 30));
const RATE = Number(option('rate', 20));
const WARMUP_MIN = Number(option('warmup-min', Math.min(5, MINUTES / 3)));
const SAMPLE_S = Number(option('sample-s', 10));
// Short, so that retention happens within the run.
const RETENTION_S = Number(option('retention-s', 60));
const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ADMIN_TOKEN = 'soak-admin-token-0123456789';
const log = logger('soak');

await runWithCleanups(async (cleanups) => {
  const redis = await startRedis(cleanups);
  const database = `infq_soak_${randomBytes(4).toString('hex')}`;
  await adminQuery(ADMIN_URL, `CREATE DATABASE ${database}`);
  cleanups.push(() => adminQuery(ADMIN_URL, `DROP DATABASE ${database} WITH (FORCE)`));
  const fake = await FakeBackend.start({
    models: ['fake-model'],
    defaultBehaviour: { type: 'ok', delayMs: 50 },
  });
  cleanups.push(() => fake.close());

  const env = {
    DATABASE_URL: Object.assign(new URL(ADMIN_URL), { pathname: `/${database}` }).toString(),
    REDIS_URL: redis.url,
    REDIS_REQUIRE_AOF: 'false',
    BUS_NODES: fake.url,
    ADMIN_TOKEN,
    DEFAULT_RPM: '1000000',
    DEFAULT_MAX_CONCURRENT: '1000',
    DEFAULT_MAX_QUEUED: '100000',
    DEFAULT_TOKENS_PER_DAY: '1000000000',
    RESULT_TTL_S: String(RETENTION_S),
    DEAD_TTL_S: String(RETENTION_S),
    MAX_RETRIES: '1',
    RETRY_BASE_MS: '100',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
  };
  const instances = [];
  for (const name of ['a', 'b']) {
    const port = await freePort();
    const child = await startProcess(
      `infq-${name}`,
      ['dist/src/main.js'],
      { ...env, PORT: String(port) },
      { log },
    );
    cleanups.push(() => child.stop());
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`infq ${name}`, 60_000, async () => (await fetch(`${base}/health`)).ok);
    instances.push({ name, base, child, samples: [] });
  }
  const key = await createTenantKey(instances[0].base);
  const redisBefore = await settledRedisMemory(redis.client);
  log(`two instances up; Redis ${fmt(redisBefore, 1)} MiB; ${RATE} req/s for ${MINUTES} min`);

  // The load: one request every 1/RATE s, alternating instances; never more than 200 open.
  const counts = { sent: 0, accepted: 0, failed: 0, streams: 0, waits: 0 };
  const open = new Set();
  const startedAt = Date.now();
  const endAt = startedAt + MINUTES * 60_000;
  const sampler = setInterval(
    () => void sample(instances, redis.client, startedAt),
    SAMPLE_S * 1000,
  );
  cleanups.push(async () => clearInterval(sampler));
  for (let index = 0; Date.now() < endAt; index++) {
    const due = startedAt + (index * 1000) / RATE;
    if (due > Date.now()) await sleep(due - Date.now());
    if (open.size >= 200) continue;
    const request = send(instances[index % 2].base, key, index, counts).finally(() =>
      open.delete(request),
    );
    open.add(request);
  }
  await Promise.all(open);
  clearInterval(sampler);
  const redisAtEnd = await usedMemoryMb(redis.client);
  log(`load done: ${JSON.stringify(counts)}; waiting out retention (${RETENTION_S} s) and a sweep`);
  await sleep((RETENTION_S + 75) * 1000);
  const redisAfter = await settledRedisMemory(redis.client);
  const keysAfter = await keyGroups(redis.client);

  const rows = instances.map(({ name, samples }) => {
    const after = samples.filter((s) => s.minute >= WARMUP_MIN);
    const heapLows = perMinuteLow(after, 'heapUsed');
    return [
      name,
      `${fmt(samples[0]?.rss, 0)} → ${fmt(samples.at(-1)?.rss, 0)}`,
      fmt(slope(after.map((s) => [s.minute, s.rss])), 2),
      `${fmt(heapLows[0]?.[1], 0)} → ${fmt(heapLows.at(-1)?.[1], 0)}`,
      fmt(slope(heapLows), 2),
    ];
  });
  console.log(
    `\nSoak: two instances, Redis queue, ${RATE} req/s for ${MINUTES} min ` +
      `(${counts.accepted} queued and polled, ${counts.waits} wait mode, ${counts.streams} streams, ` +
      `${counts.failed} not 2xx), slopes after minute ${WARMUP_MIN}\n`,
  );
  console.log(
    table(
      [
        'instance',
        'RSS first → last, MiB',
        'RSS slope, MB/min',
        'heap low first → last, MiB',
        'heap low slope, MB/min',
      ],
      rows,
    ),
  );
  console.log(
    `\nRedis used memory: ${fmt(redisBefore, 1)} MiB before, ${fmt(redisAtEnd, 1)} MiB at the end of ` +
      `the load, ${fmt(redisAfter, 1)} MiB after retention (${RETENTION_S} s) and a sweep.`,
  );
  console.log(`\nRedis keys after retention, by kind:\n`);
  console.log(table(['key (ids as *)', 'keys', 'KiB'], keysAfter));
});

/** One request of the mix: 1 in 10 a stream, 1 in 10 wait mode, 1 in 20 answered 500 (dead). */
async function send(base, key, index, counts) {
  counts.sent++;
  const stream = index % 10 === 3;
  const wait = index % 10 === 7;
  const content =
    index % 20 === 11 ? `fails ${index}` : `soak ${index} ${'x'.repeat(index % 2_000)}`;
  try {
    const response = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        ...(wait && { prefer: 'wait=30' }),
      },
      body: JSON.stringify({
        model: 'fake-model',
        messages: [{ role: 'user', content }],
        ...(stream && { stream: true }),
      }),
    });
    const body = await response.text();
    if (!response.ok) {
      counts.failed++;
      const code = /"code":"([a-z_]+)"/.exec(body)?.[1] ?? '';
      const kind = `${response.status} ${code}`;
      counts[kind] = (counts[kind] ?? 0) + 1;
      return;
    }
    if (stream) counts.streams++;
    else if (wait) counts.waits++;
    else {
      counts.accepted++;
      // Polled once after the backend's 50 ms, as a client would.
      await sleep(200);
      const { id } = JSON.parse(body);
      await fetch(`${base}/v1/results/${id}`, { headers: { authorization: `Bearer ${key}` } }).then(
        (r) => r.text(),
      );
    }
  } catch (error) {
    counts.failed++;
    const kind = `error ${error.cause?.code ?? error.name}`;
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
}

async function sample(instances, redis, startedAt) {
  const minute = (Date.now() - startedAt) / 60_000;
  for (const instance of instances) {
    const heap = await heapUsedMb(instance.base);
    const rss = rssMb(instance.child.pid);
    if (heap !== null && rss !== null) instance.samples.push({ minute, rss, heapUsed: heap });
  }
  void redis;
}

async function heapUsedMb(base) {
  const text = await fetch(`${base}/metrics`)
    .then((response) => (response.ok ? response.text() : ''))
    .catch(() => '');
  const used = Number(/^infq_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN);
  return Number.isFinite(used) ? used / 2 ** 20 : null;
}

/** [minute, lowest value of that minute] for each whole minute sampled. */
function perMinuteLow(samples, field) {
  const lows = new Map();
  for (const s of samples) {
    const minute = Math.floor(s.minute);
    lows.set(minute, Math.min(lows.get(minute) ?? Infinity, s[field]));
  }
  return [...lows.entries()].sort((a, b) => a[0] - b[0]);
}

/** Least-squares slope of [x, y] points (NaN with fewer than two). */
function slope(points) {
  if (points.length < 2) return NaN;
  const n = points.length;
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return num / den;
}

/** Redis's keys grouped by name with ids replaced by `*`, largest first. */
async function keyGroups(client) {
  const groups = new Map();
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const kind = key.replace(/[0-9a-f]{8}-[0-9a-f-]{27}|\d{3,}|[0-9a-f]{16,}/g, '*');
      const bytes = (await client.memory('USAGE', key)) ?? 0;
      const group = groups.get(kind) ?? { keys: 0, bytes: 0 };
      group.keys++;
      group.bytes += bytes;
      groups.set(kind, group);
    }
  } while (cursor !== '0');
  return [...groups.entries()]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .slice(0, 12)
    .map(([kind, { keys, bytes }]) => [kind, keys, fmt(bytes / 1024, 1)]);
}

async function usedMemoryMb(client) {
  const info = await client.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1]) / 2 ** 20;
}

/** Redis's used memory once it stops moving (background expiry and freeing settle). */
async function settledRedisMemory(client) {
  let last = await usedMemoryMb(client);
  for (let round = 0; round < 10; round++) {
    await sleep(1_000);
    const now = await usedMemoryMb(client);
    if (Math.abs(now - last) < 0.05) return now;
    last = now;
  }
  return last;
}

/** A Redis of the soak's own (no persistence, no eviction), so its memory is infq's alone. */
async function startRedis(cleanups) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'infq-soak-redis-'));
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: 'ignore' },
  );
  cleanups.push(async () => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `redis://127.0.0.1:${port}`;
  // Reconnects on its own until the server listens.
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  await new Promise((resolve) => client.once('ready', resolve));
  cleanups.push(async () => client.disconnect());
  return { url, client };
}

async function createTenantKey(base) {
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const tenant = await fetch(`${base}/admin/api/tenants`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ name: 'soak' }),
  });
  const { id } = await tenant.json();
  const key = await fetch(`${base}/admin/api/tenants/${id}/keys`, {
    method: 'POST',
    headers,
    body: '{}',
  });
  return (await key.json()).key;
}
