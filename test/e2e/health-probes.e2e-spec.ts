import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { FakeBackend } from '../support/fake-backend.js';
import {
  eventually,
  expectOpenAiError,
  Infq,
  POSTGRES_ADMIN_URL,
  REDIS_URL,
} from '../support/infq-harness.js';
import { TcpProxy } from '../support/tcp-proxy.js';

// The PostgreSQL cut is left out: cutting PostgreSQL seconds after start can spin the process
// inside BullMQ's PostgreSQL backend (a client that is "not queryable" rejects at once, and the
// worker's loop retries without a pause). test/e2e/limits.outage covers a later cut.
describe.each(['redis'] as ('redis' | 'postgres')[])(
  'liveness and readiness (%s store cut)',
  (store) => {
    let fake: FakeBackend;
    let proxy: TcpProxy;
    let infq: Infq;

    beforeAll(async () => {
      fake = await FakeBackend.start();
      // The queue store (Redis) or the database (and with it the PostgreSQL queue) is reached only
      // through the proxy, so the test can cut it.
      if (store === 'redis') {
        const redis = new URL(REDIS_URL);
        proxy = await TcpProxy.start(redis.hostname, Number(redis.port || 6379));
        infq = await Infq.start('redis', [fake], { REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
      } else {
        const postgres = new URL(POSTGRES_ADMIN_URL);
        proxy = await TcpProxy.start(postgres.hostname, Number(postgres.port || 5432));
        infq = await Infq.start('postgres', [fake], {}, (url) => {
          const routed = new URL(url);
          routed.port = String(proxy.port);
          return routed.toString();
        });
      }
    });

    afterEach(async () => {
      await proxy.restore();
    });

    afterAll(async () => {
      await infq?.close();
      await proxy?.close();
      await fake?.close();
    });

    it('is live and ready while everything answers', async () => {
      const live = await infq.fetch('/health/live');
      expect(live.status).toBe(200);
      expect(await live.json()).toEqual({ status: 'live' });
      const ready = await infq.fetch('/health/ready');
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({
        status: 'ready',
        database: 'ok',
        queue: 'ok',
        http: 'ok',
      });
    });

    it('stays live but is not ready while the store is away, and is ready again after', async () => {
      await proxy.cut();
      const down = store === 'redis' ? 'queue' : 'database, queue';
      await eventually(async () => {
        const ready = await infq.fetch('/health/ready');
        const { message } = await expectOpenAiError(ready, 503, 'service_unavailable');
        expect(message).toContain(`Not ready: ${down} down`);
      });
      const live = await infq.fetch('/health/live');
      expect(live.status).toBe(200);

      await proxy.restore();
      await eventually(async () => {
        expect((await infq.fetch('/health/ready')).status).toBe(200);
      }, 20_000);
    });

    it('reads the database as up while every pooled connection is taken for longer than the probe waits', async () => {
      const dataSource = infq.app.get(DataSource);
      // Every connection of the pool (10) busy for 4 s: a probe through the pool would wait 2 s and
      // answer "down".
      const marker = `health-busy-${Date.now()}`;
      const busy = Array.from({ length: 10 }, () =>
        dataSource.query(`SELECT pg_sleep(4) -- ${marker}`),
      );
      const observer = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await observer.connect();
      try {
        await eventually(async () => {
          const { rows } = await observer.query<{ count: number }>(
            `SELECT count(*)::int AS count FROM pg_stat_activity
              WHERE state = 'active' AND query LIKE '%' || $1`,
            [marker],
          );
          expect(rows[0].count).toBe(10);
        });
        const startedAt = Date.now();
        const health = await infq.fetch('/health');
        expect(Date.now() - startedAt).toBeLessThan(1_000);
        expect(health.status).toBe(200);
        expect(await health.json()).toMatchObject({ status: 'ok', database: 'ok' });
      } finally {
        await observer.end();
        await Promise.all(busy);
      }
    });

    it('names the request id in a 5xx message', async () => {
      await proxy.cut();
      const response = await infq.fetch('/admin/api/tenants', {
        method: 'POST',
        headers: {
          authorization: 'Bearer test-admin-token-0123456789',
          'x-request-id': 'req-5xx-1',
        },
        json: { name: `outage-${store}` },
      });
      if (store === 'postgres') {
        const { message } = await expectOpenAiError(response, 503, 'service_unavailable');
        expect(message).toContain('req-5xx-1');
        expect(response.headers.get('x-request-id')).toBe('req-5xx-1');
      }
      // Readiness is checked at most every half second: the cut shows on a fresh check.
      await eventually(async () => {
        const ready = await infq.fetch('/health/ready', {
          headers: { 'x-request-id': 'req-5xx-2' },
        });
        expect(ready.headers.get('x-request-id')).toBe('req-5xx-2');
        const { message } = await expectOpenAiError(ready, 503, 'service_unavailable');
        expect(message).toContain('(request req-5xx-2)');
      });
    });
  },
);

describe('probes of a MODE=worker process', () => {
  let fake: FakeBackend;
  let infq: Infq;

  beforeAll(async () => {
    fake = await FakeBackend.start();
    infq = await Infq.start('redis', [fake], { MODE: 'worker' });
  });

  afterAll(async () => {
    await infq?.close();
    await fake?.close();
  });

  it('answers /health/live, /health/ready and /metrics, and nothing of the API', async () => {
    expect((await infq.fetch('/health/live')).status).toBe(200);
    const ready = await infq.fetch('/health/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      database: 'ok',
      queue: 'ok',
      http: 'not_applicable',
    });
    const metrics = await infq.fetch('/metrics');
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('infq_queue_jobs');
    await expectOpenAiError(await infq.fetch('/v1/models'), 404, 'route_not_found');
  });
});
