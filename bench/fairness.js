// Fair dispatch, measured (issue 9, item 4): a pool of 2 nodes x 4 places at 200 ms per call.
//   npm run build && node bench/fairness.js [--baseline=DIR] [--quick]
// Tenant A floods 400 jobs; B and C send 40 each one second later. Then a weight-2 tenant and a
// weight-1 tenant flood the pool together. Shares are counted from the calls the fake nodes
// receive, in 1 s windows while every tenant has work waiting. `--baseline=DIR` runs the same
// against another build (bench/build-baseline.sh REF DIR), which has no per-node capacity: it
// gets WORKER_CONCURRENCY=8 instead, so that its pool is 8 wide too and its queue FIFO.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort, startProcess, waitFor } from './lib/processes.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const args = Object.fromEntries(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, '').split('=');
    return [key, value ?? 'true'];
  }),
);
const POSTGRES_URL =
  process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const LATENCY_MS = 200;
const PLACES_PER_NODE = 4;
const scale = args.quick ? 0.25 : 1;

const { FakeBackend } = await import(
  pathToFileURL(path.join(ROOT, 'dist/test/support/fake-backend.js')).href
);

/** One infq build on a scratch database and Redis prefix, with two fake nodes. */
async function startInfq(distDir, { capped }) {
  const nodes = await Promise.all(
    [0, 1].map(() => FakeBackend.start({ defaultBehaviour: { type: 'ok', delayMs: LATENCY_MS } })),
  );
  const database = `infq_fair_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const databaseUrl = new URL(POSTGRES_URL);
  databaseUrl.pathname = `/${database}`;
  const prefix = `infqfair${randomBytes(4).toString('hex')}`;
  const port = await freePort();
  const busNodes = nodes
    .map((node) => (capped ? `${node.url}=1:${PLACES_PER_NODE}` : node.url))
    .join(',');
  const infq = await startProcess(
    'infq',
    [path.join(distDir, 'dist/src/main.js')],
    {
      DATABASE_URL: databaseUrl.toString(),
      REDIS_URL,
      REDIS_PREFIX: prefix,
      BUS_NODES: busNodes,
      ADMIN_TOKEN,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'error',
      ...(!capped && { WORKER_CONCURRENCY: String(PLACES_PER_NODE * 2) }),
    },
    { log: console.error },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitFor('infq /health', 60_000, async () => (await fetch(`${base}/health`)).ok);
  return {
    base,
    nodes,
    calls: () => nodes.flatMap((node) => node.completions()),
    stop: async () => {
      await infq.stop();
      await Promise.all(nodes.map((node) => node.close()));
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await client.end();
      const redis = new Redis(REDIS_URL);
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
      redis.disconnect();
    },
  };
}

async function createTenant(base, name, weight) {
  const post = async (route, json) => {
    const response = await fetch(`${base}/admin/api${route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(json),
    });
    if (response.status !== 201)
      throw new Error(`${route}: ${response.status} ${await response.text()}`);
    return response.json();
  };
  const limits = { rpm: 1_000_000, tokens_per_day: 1e12, max_concurrent: 1000 };
  let tenant;
  try {
    tenant = await post('/tenants', {
      name: `${name}-${randomBytes(3).toString('hex')}`,
      limits: { ...limits, max_queued: 100_000 },
      weight,
    });
  } catch {
    // A build from before fair dispatch knows neither max_queued nor weight.
    tenant = await post('/tenants', { name: `${name}-${randomBytes(3).toString('hex')}`, limits });
  }
  const key = await post(`/tenants/${tenant.id}/keys`, { name: 'bench' });
  return key.key;
}

async function flood(base, key, marker, count) {
  const submit = async (index) => {
    const response = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'fake-model',
        messages: [{ role: 'user', content: `${marker} ${index}` }],
      }),
    });
    if (response.status !== 202)
      throw new Error(`${marker}: ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
  };
  for (let start = 0; start < count; start += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - start) }, (_, i) => submit(start + i)),
    );
  }
}

const jain = (values) => {
  const sum = values.reduce((a, b) => a + b, 0);
  const squares = values.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 1 : (sum * sum) / (values.length * squares);
};

/** Calls per tenant per 1 s window, between `from` and `to` (ms). */
function windows(calls, markers, from, to, weights) {
  const result = [];
  for (let start = from; start + 1000 <= to; start += 1000) {
    const counts = markers.map(
      (marker) =>
        calls.filter(
          (call) =>
            call.prompt.startsWith(`${marker} `) &&
            call.receivedAt >= start &&
            call.receivedAt < start + 1000,
        ).length,
    );
    const total = counts.reduce((a, b) => a + b, 0);
    if (total === 0) continue;
    result.push({
      counts,
      shares: counts.map((c) => c / total),
      jain: jain(counts.map((c, i) => c / weights[i])),
    });
  }
  return result;
}

async function threeTenants(distDir, capped) {
  const infq = await startInfq(distDir, { capped });
  try {
    const [a, b, c] = await Promise.all(
      ['A', 'B', 'C'].map((name) => createTenant(infq.base, name, 1)),
    );
    const flooded = Math.round(400 * scale);
    const small = Math.round(40 * scale);
    const t0 = Date.now();
    const floodA = flood(infq.base, a, 'A', flooded);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const t1 = Date.now();
    await Promise.all([floodA, flood(infq.base, b, 'B', small), flood(infq.base, c, 'C', small)]);
    await waitFor('all calls', 300_000, async () => infq.calls().length >= flooded + 2 * small);
    const calls = infq.calls();
    const lastOf = (marker) =>
      Math.max(
        ...calls
          .filter((call) => call.prompt.startsWith(`${marker} `))
          .map((call) => call.receivedAt + LATENCY_MS),
      );
    const bDone = lastOf('B');
    const cDone = lastOf('C');
    const contended = windows(
      calls,
      ['A', 'B', 'C'],
      t1,
      Math.min(bDone, cDone) - LATENCY_MS,
      [1, 1, 1],
    );
    const poolRate = (2 * PLACES_PER_NODE * 1000) / LATENCY_MS;
    const ideal = (small / (poolRate / 3)) * 1000;
    return {
      windows: contended.length,
      shares: ['A', 'B', 'C'].map((_, i) => mean(contended.map((w) => w.shares[i]))),
      jain: mean(contended.map((w) => w.jain)),
      bRatio: (bDone - t1) / ideal,
      cRatio: (cDone - t1) / ideal,
      idealS: ideal / 1000,
      totalS: (Math.max(...calls.map((call) => call.receivedAt)) + LATENCY_MS - t0) / 1000,
    };
  } finally {
    await infq.stop();
  }
}

async function weighted(distDir) {
  const infq = await startInfq(distDir, { capped: true });
  try {
    const heavy = await createTenant(infq.base, 'heavy', 2);
    const light = await createTenant(infq.base, 'light', 1);
    const count = Math.round(300 * scale);
    const t0 = Date.now();
    await Promise.all([flood(infq.base, heavy, 'H', count), flood(infq.base, light, 'L', count)]);
    await waitFor('all calls', 300_000, async () => infq.calls().length >= 2 * count);
    const calls = infq.calls();
    const firstDone = Math.min(
      ...['H', 'L'].map((marker) =>
        Math.max(
          ...calls
            .filter((call) => call.prompt.startsWith(`${marker} `))
            .map((call) => call.receivedAt),
        ),
      ),
    );
    const contended = windows(calls, ['H', 'L'], t0 + 1000, firstDone, [2, 1]);
    return { windows: contended.length, heavyShare: mean(contended.map((w) => w.shares[0])) };
  } finally {
    await infq.stop();
  }
}

const mean = (values) =>
  values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
const f = (value, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '—');

const rows = [];
const fair = await threeTenants(ROOT, true);
rows.push(['fair dispatch (this build)', fair]);
if (args.baseline)
  rows.push([`FIFO (${args.baseline})`, await threeTenants(path.resolve(args.baseline), false)]);
const weights = await weighted(ROOT);

console.log(
  `\nFair dispatch: 2 nodes x ${PLACES_PER_NODE} places, ${LATENCY_MS} ms per call; A floods ${Math.round(400 * scale)}, B and C send ${Math.round(40 * scale)} each 1 s later${args.quick ? ' (quick: a quarter of the jobs)' : ''}\n`,
);
console.log(
  '| build | windows | A / B / C share | Jain (goal ≥ 0.95) | B last / ideal | C last / ideal (goal ≤ 2) | all done |',
);
console.log('|---|---:|---|---:|---:|---:|---:|');
for (const [name, r] of rows) {
  console.log(
    `| ${name} | ${r.windows} | ${r.shares.map((s) => f(s)).join(' / ')} | ${f(r.jain, 3)} | ${f(r.bRatio)} | ${f(r.cRatio)} | ${f(r.totalS, 1)} s |`,
  );
}
console.log(
  `\nWeights 2 : 1 flooding together: heavy tenant's share ${f(weights.heavyShare, 3)} over ${weights.windows} windows (goal 0.667 ± 15%)`,
);
