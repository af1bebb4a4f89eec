import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../support/fake-backend.js';
import { expectOpenAiError, Infq, POSTGRES_ADMIN_URL, REDIS_URL } from '../support/infq-harness.js';
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

    it('answers 503 service_unavailable at once, and accepts again once the store is back', async () => {
      const tenant = await infq.createTenant();
      expect((await infq.chat(tenant.key, 'before outage')).status).toBe(202);

      await proxy.cut();
      const started = Date.now();
      const refused = await infq.chat(tenant.key, 'during outage');
      await expectOpenAiError(refused, 503, 'service_unavailable');
      // Fails fast: never queues the request behind a reconnect, never accepts it unlimited.
      expect(Date.now() - started).toBeLessThan(3_000);

      await proxy.restore();
      await expect
        .poll(async () => (await infq.chat(tenant.key, 'after outage')).status, {
          timeout: 20_000,
          interval: 200,
        })
        .toBe(202);
    });
  },
);
