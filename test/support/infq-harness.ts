import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createApp } from '../../src/app.js';
import { createLogger } from '../../src/common/logger.js';
import { loadConfig, type AppConfig } from '../../src/config/app-config.js';
import type { FakeBackend } from './fake-backend.js';
import type { z } from 'zod';
import { JobResponseSchema } from '../../src/jobs/dto/job.dto.js';

export type QueueBackendKind = 'redis' | 'postgres';
export const QUEUE_BACKENDS: QueueBackendKind[] = ['redis', 'postgres'];

export const POSTGRES_ADMIN_URL =
  process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const ADMIN_TOKEN = 'test-admin-token-0123456789';
// Well inside Vitest's 60 s hook timeout, so the clean-up after it still runs.
const CLOSE_TIMEOUT_MS = 20_000;

/** A database of its own for one suite; dropped by `drop()`. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `infq_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** Deletes every Redis key under `prefix`. */
export async function clearRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Environment for one infq instance of a suite: fast retries, its own database and prefix. */
export function testEnv(
  backend: QueueBackendKind,
  databaseUrl: string,
  redisPrefix: string,
  nodes: FakeBackend[],
  env: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    // The test Redis runs without AOF; /health would say degraded for it.
    ...(backend === 'redis' && {
      REDIS_URL,
      REDIS_PREFIX: redisPrefix,
      REDIS_REQUIRE_AOF: 'false',
    }),
    BUS_NODES: nodes.map((node) => node.url).join(','),
    ADMIN_TOKEN,
    RETRY_BASE_MS: '100',
    RETRY_MAX_MS: '2000',
    MAX_RETRIES: '3',
    DEFAULT_RPM: '10000',
    DEFAULT_MAX_CONCURRENT: '1000',
    // Room for the prompt reservations (body bytes / 4) of suites that queue many 1 MiB requests.
    DEFAULT_TOKENS_PER_DAY: '1000000000',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: '0',
    ...env,
  };
}

export interface TenantWithKey {
  id: string;
  name: string;
  key: string;
  keyId: string;
}

/** One in-process infq on real PostgreSQL and (optionally) Redis, reached over real HTTP. */
export class Infq {
  private constructor(
    readonly app: NestFastifyApplication,
    readonly url: string,
    readonly config: AppConfig,
    private readonly cleanup: () => Promise<void>,
  ) {}

  static async start(
    backend: QueueBackendKind,
    nodes: FakeBackend[],
    env: Record<string, string> = {},
    /** Rewrites the test database's URL, e.g. to reach it through a TcpProxy. */
    routeDatabase: (url: string) => string = (url) => url,
  ): Promise<Infq> {
    const database = await createTestDatabase();
    const prefix = `infqtest${randomBytes(4).toString('hex')}`;
    const databaseUrl = routeDatabase(database.url);
    const config = loadConfig(testEnv(backend, databaseUrl, prefix, nodes, env));
    const app = await createApp(config, databaseUrl, createLogger(config.logLevel));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.getHttpServer().address() as { port: number };
    return new Infq(app, `http://127.0.0.1:${address.port}`, config, async () => {
      try {
        // A close held up by a failed test must not keep the database and keys from going.
        await Promise.race([app.close(), sleep(CLOSE_TIMEOUT_MS, undefined, { ref: false })]);
      } finally {
        await database.drop();
        if (backend === 'redis') await clearRedisPrefix(prefix);
      }
    });
  }

  async close(): Promise<void> {
    await this.cleanup();
  }

  fetch(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
    const { json, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (json !== undefined) headers.set('content-type', 'application/json');
    return fetch(`${this.url}${path}`, {
      ...rest,
      headers,
      ...(json !== undefined && { body: JSON.stringify(json) }),
    });
  }

  admin(method: string, path: string, json?: unknown): Promise<Response> {
    return this.fetch(`/admin/api${path}`, {
      method,
      json,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
  }

  async createTenant(limits?: Record<string, number>): Promise<TenantWithKey> {
    const name = `t-${randomBytes(5).toString('hex')}`;
    const tenant = await this.admin('POST', '/tenants', { name, ...(limits && { limits }) });
    expect(tenant.status).toBe(201);
    const { id } = (await tenant.json()) as { id: string };
    const key = await this.admin('POST', `/tenants/${id}/keys`, { name: 'test' });
    expect(key.status).toBe(201);
    const body = (await key.json()) as { key: string; id: string };
    return { id, name, key: body.key, keyId: body.id };
  }

  /** POST /v1/chat/completions with a prompt; `extra` merges into the body. */
  chat(
    key: string,
    prompt: string,
    extra: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ): Promise<Response> {
    return this.fetch('/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, ...headers },
      json: { model: 'fake-model', messages: [{ role: 'user', content: prompt }], ...extra },
    });
  }

  async submit(key: string, prompt: string): Promise<string> {
    const response = await this.chat(key, prompt);
    expect(response.status).toBe(202);
    return ((await response.json()) as { id: string }).id;
  }

  async job(key: string, id: string): Promise<JobBody> {
    const response = await this.fetch(`/v1/results/${id}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(response.status).toBe(200);
    return (await response.json()) as JobBody;
  }

  /** Polls the job until `predicate` holds (or fails the test after `timeoutMs`). */
  async jobUntil(
    key: string,
    id: string,
    predicate: (job: JobBody) => boolean,
    timeoutMs = 20_000,
  ): Promise<JobBody> {
    return eventually(async () => {
      const job = await this.job(key, id);
      if (!predicate(job)) throw new Error(`job ${id} is ${job.status} (retries ${job.retries})`);
      return job;
    }, timeoutMs);
  }

  jobFinal(key: string, id: string, timeoutMs?: number): Promise<JobBody> {
    return this.jobUntil(
      key,
      id,
      (job) => ['complete', 'dead', 'cancelled'].includes(job.status),
      timeoutMs,
    );
  }
}

/** `GET /v1/results/:id` as the contract's schema types it. */
export type JobBody = z.infer<typeof JobResponseSchema>;

/** Retries `check` every 20 ms until it stops throwing; rethrows its last error after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Asserts the contract's error shape, status and code. */
export async function expectOpenAiError(
  response: Response,
  status: number,
  code: string,
): Promise<{ message: string; param: string | null }> {
  const text = await response.text();
  expect({ status: response.status, text }).toMatchObject({ status });
  const body = JSON.parse(text) as {
    error: { message: string; type: string; param: string | null; code: string };
  };
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  expect(typeof body.error.type).toBe('string');
  expect(body.error).toHaveProperty('param');
  return body.error;
}
