// How soon an idle worker picks a job up: the time from the 202 (the job is durably queued) to
// the backend receiving the request. Sequential jobs, so a worker is always free.
// Run: npm run build && node bench/pickup-latency.js   (PostgreSQL and Redis on 127.0.0.1)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { FakeBackend } from '../dist/test/support/fake-backend.js';

const JOBS = Number(process.env.BENCH_PICKUP_JOBS ?? 300);
const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ADMIN_TOKEN = 'bench-admin-token-0123456789';

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function measure(backend) {
  const name = `infq_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const databaseUrl = Object.assign(new URL(ADMIN_URL), { pathname: `/${name}` }).toString();
  const prefix = `infqbench${randomBytes(4).toString('hex')}`;
  const fake = await FakeBackend.start({ models: ['fake-model'] });
  const port = await freePort();
  const infq = spawn(process.execPath, ['dist/src/main.js'], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: databaseUrl,
      ...(backend === 'redis' && { REDIS_URL, REDIS_PREFIX: prefix }),
      BUS_NODES: fake.url,
      ADMIN_TOKEN,
      DEFAULT_RPM: '1000000',
      DEFAULT_MAX_CONCURRENT: '1000000',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
    },
    stdio: 'inherit',
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let tries = 0; ; tries++) {
      const ok = await fetch(`${base}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (tries > 300) throw new Error('infq did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const tenant = await (
      await fetch(`${base}/admin/api/tenants`, {
        method: 'POST',
        headers,
        body: '{"name":"bench"}',
      })
    ).json();
    const { key } = await (
      await fetch(`${base}/admin/api/tenants/${tenant.id}/keys`, {
        method: 'POST',
        headers,
        body: '{}',
      })
    ).json();
    const delays = [];
    for (let index = 0; index < JOBS + 20; index++) {
      const prompt = `pickup ${index}`;
      const arrived = fake.waitForRequest((request) => request.prompt === prompt);
      const response = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'fake-model',
          messages: [{ role: 'user', content: prompt }],
        }),
      });
      const queuedAt = Date.now();
      if (response.status !== 202) throw new Error(`POST answered ${response.status}`);
      await response.arrayBuffer();
      const request = await arrived;
      // The first 20 warm connections and code paths up.
      if (index >= 20) delays.push(Math.max(0, request.receivedAt - queuedAt));
    }
    delays.sort((a, b) => a - b);
    return {
      backend,
      p50: percentile(delays, 50),
      p99: percentile(delays, 99),
      max: delays.at(-1),
    };
  } finally {
    infq.kill('SIGTERM');
    await once(infq, 'exit');
    await fake.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    if (backend === 'redis') {
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  }
}

const results = [];
for (const backend of ['redis', 'postgres']) results.push(await measure(backend));
console.log(
  `\npickup latency, 202 → backend receives the request (${JOBS} sequential jobs, idle worker)\n`,
);
console.log('| backend | p50 (ms) | p99 (ms) | max (ms) |\n| --- | --: | --: | --: |');
for (const r of results) console.log(`| ${r.backend} | ${r.p50} | ${r.p99} | ${r.max} |`);
