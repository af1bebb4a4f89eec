import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import {
  eventually,
  expectOpenAiError,
  Infq,
  POSTGRES_ADMIN_URL,
  REDIS_URL,
} from '../support/infq-harness.js';
import { TcpProxy } from '../support/tcp-proxy.js';

describe.each(['redis', 'postgres'] as const)(
  'limits when the counter store is unreachable (%s)',
  (store) => {
    let fake: FakeBackend;
    let proxy: TcpProxy;
    let infq: Infq;

    beforeAll(async () => {
      fake = await FakeBackend.start();
      // The counters (and the queue) reach their store only through the proxy, so the test can cut it.
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

    afterAll(async () => {
      await infq?.close();
      await proxy?.close();
      await fake?.close();
    });

    it('answers 503 service_unavailable at once while the store is away, and works again after', async () => {
      const tenant = await infq.createTenant();
      const before = await infq.chat(tenant.key, 'before outage');
      expect(before.status).toBe(202);
      const { id } = await before.json();
      await infq.jobFinal(tenant.key, id);

      await proxy.cut();
      let started = Date.now();
      const refused = await infq.chat(tenant.key, 'during outage');
      await expectOpenAiError(refused, 503, 'service_unavailable');
      // Fails fast: never queues the request behind a reconnect, never accepts it unlimited.
      expect(Date.now() - started).toBeLessThan(3_000);
      // Reading or cancelling a job fails just as fast, and /health says the service is down.
      started = Date.now();
      const auth = { authorization: `Bearer ${tenant.key}` };
      await expectOpenAiError(
        await infq.fetch(`/v1/results/${id}`, { headers: auth }),
        503,
        'service_unavailable',
      );
      await expectOpenAiError(
        await infq.fetch(`/v1/results/${id}`, { method: 'DELETE', headers: auth }),
        503,
        'service_unavailable',
      );
      const health = await infq.fetch('/health');
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: 'down' });
      expect(Date.now() - started).toBeLessThan(9_000);
      // Live, but not ready, naming what is down (readiness is checked at most every 0.5 s).
      expect((await infq.fetch('/health/live')).status).toBe(200);
      await eventually(async () => {
        const ready = await infq.fetch('/health/ready');
        const { message } = await expectOpenAiError(ready, 503, 'service_unavailable');
        expect(message).toContain(
          store === 'redis' ? 'Not ready: queue down' : 'Not ready: database, queue down',
        );
      });

      await proxy.restore();
      const after = await eventually(async () => {
        const response = await infq.chat(tenant.key, 'after outage');
        expect(response.status).toBe(202);
        return (await response.json()) as { id: string };
      }, 20_000);
      await eventually(async () => {
        expect((await infq.fetch('/health/ready')).status).toBe(200);
      }, 20_000);
      // The workers came back too: the new job runs to the end.
      expect(await infq.jobFinal(tenant.key, after.id, 30_000)).toMatchObject({
        status: 'complete',
      });
      // And so did the queue-event listener that wait mode hangs on.
      const waited = await infq.chat(tenant.key, 'waited after outage', {}, { prefer: 'wait=20' });
      expect(waited.status).toBe(200);
    });
  },
);
