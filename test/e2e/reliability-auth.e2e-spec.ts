import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { ApiKeyAuthService } from '../../src/auth/api-key-auth.service.js';
import { createLogger } from '../../src/common/logger.js';
import { loadConfig } from '../../src/config/app-config.js';
import { ApiKeysService } from '../../src/tenants/api-keys.service.js';
import { LISTENER_APPLICATION_NAME } from '../../src/database/cluster-notifications.js';
import { TenantChangesClient } from '../../src/tenants/tenant-changes.client.js';
import { FakeBackend } from '../support/fake-backend.js';
import { ADMIN_TOKEN, createTestDatabase, eventually, testEnv } from '../support/infq-harness.js';
import { TcpProxy } from '../support/tcp-proxy.js';

interface Instance {
  app: NestFastifyApplication;
  url: string;
}

const RANDOM_KEYS = 3_000;
const FLOOD_CONCURRENCY = 50;
// An authenticated request that touches nothing else: a job id nobody has.
const PROBE_PATH = '/v1/results/00000000-0000-4000-8000-000000000000';

/**
 * Two in-process instances on one database. `viaProxy` reaches PostgreSQL through a TCP proxy
 * the test can blackhole; `direct` is the admin's instance.
 */
describe('reliability 10 and 13: key revocation races and random-key floods', () => {
  let fake: FakeBackend;
  let proxy: TcpProxy;
  let database: { url: string; drop: () => Promise<void> };
  let viaProxy: Instance;
  let direct: Instance;

  const start = async (databaseUrl: string): Promise<Instance> => {
    const config = loadConfig(testEnv('postgres', databaseUrl, 'unused', [fake]));
    const app = await createApp(config, databaseUrl, createLogger(config.logLevel));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.getHttpServer().address() as { port: number };
    return { app, url: `http://127.0.0.1:${port}` };
  };

  const probe = (instance: Instance, key: string): Promise<number> =>
    fetch(`${instance.url}${PROBE_PATH}`, { headers: { authorization: `Bearer ${key}` } }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
    );

  const admin = async (method: string, path: string, json?: unknown): Promise<Response> =>
    fetch(`${direct.url}/admin/api${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(json !== undefined && { 'content-type': 'application/json' }),
      },
      ...(json !== undefined && { body: JSON.stringify(json) }),
    });

  const issueKey = async (): Promise<{ key: string; keyId: string }> => {
    const tenant = await admin('POST', '/tenants', { name: `t-${randomBytes(5).toString('hex')}` });
    expect(tenant.status).toBe(201);
    const { id } = (await tenant.json()) as { id: string };
    const issued = await admin('POST', `/tenants/${id}/keys`, { name: 'test' });
    expect(issued.status).toBe(201);
    const body = (await issued.json()) as { key: string; id: string };
    return { key: body.key, keyId: body.id };
  };

  const revoke = async (keyId: string): Promise<void> => {
    const response = await admin('DELETE', `/keys/${keyId}`);
    expect(response.status).toBeLessThan(300);
  };

  beforeAll(async () => {
    fake = await FakeBackend.start();
    database = await createTestDatabase();
    direct = await start(database.url);
    const target = new URL(database.url);
    proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432));
    const proxied = new URL(database.url);
    proxied.port = String(proxy.port);
    viaProxy = await start(proxied.toString());
  });

  afterAll(async () => {
    await viaProxy?.app.close();
    await direct?.app.close();
    await proxy?.close();
    await database?.drop();
    await fake?.close();
  });

  it('reliability 10: a lookup in flight while the key is revoked does not cache the old answer', async () => {
    const { key, keyId } = await issueKey();
    const keys = viaProxy.app.get(ApiKeysService);
    const changes = viaProxy.app.get(TenantChangesClient);
    const original = keys.findActive.bind(keys);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let read!: () => void;
    const wasRead = new Promise<void>((resolve) => (read = resolve));
    keys.findActive = async (secret) => {
      const found = await original(secret);
      read();
      await released;
      return found;
    };
    try {
      const inFlight = probe(viaProxy, key);
      await wasRead;
      const heard = firstValueFrom(
        changes.changes$.pipe(
          filter(
            (change) => change !== 'resync' && change.kind === 'key' && change.keyId === keyId,
          ),
        ),
      );
      await revoke(keyId);
      await heard;
      release();
      // The request that was already past the lookup is answered as it was authenticated.
      expect(await inFlight).toBe(404);
    } finally {
      keys.findActive = original;
    }
    expect(await probe(viaProxy, key)).toBe(401);
    expect(await probe(direct, key)).toBe(401);
  });

  it('reliability 10: a silently dropped listener connection still lets a revoke through within 1 s', async () => {
    const { key, keyId } = await issueKey();
    const changes = viaProxy.app.get(TenantChangesClient);
    await eventually(() => expect(changes.isListening).toBe(true));
    expect(await probe(viaProxy, key)).toBe(404);
    expect(await probe(viaProxy, key)).toBe(404);

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query<{ client_port: number }>(
      'SELECT client_port FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
      [LISTENER_APPLICATION_NAME],
    );
    await client.end();
    const ports = new Set(rows.map((row) => row.client_port));
    expect(proxy.blackhole((port) => ports.has(port))).toBe(1);

    await revoke(keyId);
    const revokedAt = performance.now();
    await eventually(async () => expect(await probe(viaProxy, key)).toBe(401), 1_000);
    const refusedAfterMs = performance.now() - revokedAt;
    expect(refusedAfterMs).toBeLessThan(1_000);
    if (process.env.RELIABILITY_REPORT) {
      console.info(
        `reliability 10: silently dropped listener, revoked key refused after ${Math.round(refusedAfterMs)} ms`,
      );
    }
    // The listener notices, reconnects through the proxy, and caches are trusted again.
    await eventually(() => expect(changes.isListening).toBe(true), 15_000);
  });

  it(
    `reliability 13: ${RANDOM_KEYS} random keys cost (almost) no database lookups, the real key stays cached`,
    { timeout: 180_000 },
    async () => {
      const { key } = await issueKey();
      const auth = viaProxy.app.get(ApiKeyAuthService);
      await eventually(() => expect(viaProxy.app.get(TenantChangesClient).isListening).toBe(true));
      expect(await probe(viaProxy, key)).toBe(404);

      const timed = async (): Promise<number> => {
        const started = performance.now();
        expect(await probe(viaProxy, key)).toBe(404);
        return performance.now() - started;
      };
      const baseline: number[] = [];
      for (let index = 0; index < 50; index++) baseline.push(await timed());

      const keys = viaProxy.app.get(ApiKeysService);
      const original = keys.findActive.bind(keys);
      let realKeyLookups = 0;
      keys.findActive = (secret) => {
        if (secret === key) realKeyLookups++;
        return original(secret);
      };
      const lookupsBefore = auth.databaseLookups;
      let sent = 0;
      const statuses = new Map<number, number>();
      const flood = Array.from({ length: FLOOD_CONCURRENCY }, async () => {
        while (sent < RANDOM_KEYS) {
          sent++;
          const status = await probe(viaProxy, `inf_${randomBytes(24).toString('base64url')}`);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      });
      const underFlood: number[] = [];
      let flooding = true;
      const realTenant = (async () => {
        while (flooding) underFlood.push(await timed());
      })();
      const floodStarted = performance.now();
      await Promise.all(flood);
      const floodMs = performance.now() - floodStarted;
      flooding = false;
      await realTenant;
      keys.findActive = original;

      expect(statuses).toEqual(new Map([[401, RANDOM_KEYS]]));
      const lookups = auth.databaseLookups - lookupsBefore;
      expect(lookups).toBeLessThan(RANDOM_KEYS / 20);
      // The real key was cached before the flood and stays cached through it; a request only
      // goes to the database when a busy process could not confirm its listener in time.
      expect(realKeyLookups).toBeLessThanOrEqual(Math.ceil(underFlood.length / 4));
      expect(underFlood.length).toBeGreaterThan(0);
      // Latency is recorded, not asserted: here the flood's client shares the server's process
      // and CPU, so the figure measures the test as much as infq.
      const p99 = (values: number[]): number =>
        [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.99)];
      if (process.env.RELIABILITY_REPORT) {
        console.info(
          `reliability 13: ${RANDOM_KEYS} random keys in ${Math.round(floodMs)} ms, ` +
            `${lookups} database lookups (${realKeyLookups} for the real key); real tenant p99 ${Math.round(p99(baseline))} ms alone, ` +
            `${Math.round(p99(underFlood))} ms under the flood (${underFlood.length} requests)`,
        );
      }
    },
  );
});
