import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createLogger } from '../../src/common/logger.js';
import { loadConfig } from '../../src/config/app-config.js';
import { FakeBackend } from '../support/fake-backend.js';
import { createTestDatabase, eventually, testEnv } from '../support/infq-harness.js';
import { freePort } from '../support/infq-process.js';

const MAIN = join(import.meta.dirname, '../../dist/src/main.js');

/** A Redis server of this suite's own, so its policy can be changed without touching others. */
describe('Redis eviction policy and persistence at start-up', () => {
  let server: ChildProcess;
  let redisUrl: string;
  let redis: Redis;
  let fake: FakeBackend;
  let database: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    const port = await freePort();
    // Its own directory: turning AOF on below writes files there.
    const dir = await mkdtemp(join(tmpdir(), 'infq-redis-'));
    server = spawn(
      'redis-server',
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
        ...['--save', '', '--appendonly', 'no'],
      ],
      { stdio: 'ignore' },
    );
    redisUrl = `redis://127.0.0.1:${port}`;
    // Commands wait in ioredis's queue until the server is up: the first answer means it is.
    redis = new Redis(redisUrl, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
    redis.on('error', () => undefined);
    await redis.ping();
    fake = await FakeBackend.start();
    database = await createTestDatabase();
  });

  afterAll(async () => {
    redis?.disconnect();
    if (server && server.exitCode === null) {
      const exited = once(server, 'exit');
      server.kill('SIGTERM');
      await exited;
    }
    await fake?.close();
    await database?.drop();
  });

  const env = (): Record<string, string> => ({
    ...testEnv('redis', database.url, 'policytest', [fake]),
    REDIS_URL: redisUrl,
    REDIS_REQUIRE_AOF: 'true',
  });

  it('refuses to start on an evicting maxmemory-policy, in one line naming the fix', async () => {
    await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
    const config = loadConfig(env());
    const app = await createApp(config, database.url, createLogger('silent'));
    // The check runs with the other start-up hooks, before the server listens.
    await expect(app.init()).rejects.toThrow(
      /maxmemory-policy allkeys-lru.*maxmemory-policy noeviction/,
    );
    await app.close().catch(() => undefined);
    const result = spawnSync(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? '', ...env(), LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(78);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('maxmemory-policy allkeys-lru');
  });

  it('reports degraded without AOF, and ok with it', async () => {
    await redis.config('SET', 'maxmemory-policy', 'noeviction');
    const healthOf = async (): Promise<string> => {
      const config = loadConfig(env());
      const app = await createApp(config, database.url, createLogger('silent'));
      await app.listen({ port: 0, host: '127.0.0.1' });
      try {
        const { port } = app.getHttpServer().address() as { port: number };
        return await eventually(async () => {
          const body = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as {
            status: string;
            upstreams: { bus: { healthy: number } };
          };
          // Judged once the fake node is known healthy, so only Redis can degrade it.
          expect(body.upstreams.bus.healthy).toBe(1);
          return body.status;
        }, 20_000);
      } finally {
        await app.close();
      }
    };
    expect(await healthOf()).toBe('degraded');
    await redis.config('SET', 'appendonly', 'yes');
    expect(await healthOf()).toBe('ok');
  });
});
