import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisConnectionOptions } from '../../src/config/redis-connection.js';
import { buildDataSourceOptions } from '../../src/database/data-source-options.js';
import type { IdempotencyStore } from '../../src/idempotency/idempotency-store.js';
import { PostgresIdempotencyRepository } from '../../src/idempotency/postgres-idempotency.repository.js';
import { RedisIdempotencyRepository } from '../../src/idempotency/redis-idempotency.repository.js';
import {
  clearRedisPrefix,
  createTestDatabase,
  eventually,
  REDIS_URL,
} from '../support/infq-harness.js';

interface StoreUnderTest {
  /** Two handles on the same data, as two instances would hold. */
  stores: [IdempotencyStore, IdempotencyStore];
  close: () => Promise<void>;
}

const STORES: Record<'redis' | 'postgres', () => Promise<StoreUnderTest>> = {
  redis: () => {
    const prefix = `infqtest${randomBytes(4).toString('hex')}`;
    const options = redisConnectionOptions(REDIS_URL);
    const stores: [IdempotencyStore, IdempotencyStore] = [
      new RedisIdempotencyRepository(options, prefix),
      new RedisIdempotencyRepository(options, prefix),
    ];
    return Promise.resolve({
      stores,
      close: async () => {
        await Promise.all(stores.map((store) => store.close()));
        await clearRedisPrefix(prefix);
      },
    });
  },
  postgres: async () => {
    const database = await createTestDatabase();
    const sources = [0, 1].map(
      () => new DataSource({ ...buildDataSourceOptions(database.url), extra: { max: 15 } }),
    );
    await Promise.all(sources.map((source) => source.initialize()));
    await sources[0].runMigrations();
    return {
      stores: [
        new PostgresIdempotencyRepository(sources[0]),
        new PostgresIdempotencyRepository(sources[1]),
      ],
      close: async () => {
        await Promise.all(sources.map((source) => source.destroy()));
        await database.drop();
      },
    };
  },
};

const LONG = 60_000;
const hash = (text: string): string => text.padEnd(64, '0');

/** The same table of cases against both stores, each reached through two handles. */
describe.each(['redis', 'postgres'] as const)('idempotency store (%s)', (kind) => {
  let subject: StoreUnderTest;
  let first: IdempotencyStore;
  let second: IdempotencyStore;

  beforeAll(async () => {
    subject = await STORES[kind]();
    [first, second] = subject.stores;
  });

  afterAll(async () => {
    await subject?.close();
  });

  const claim = (
    store: IdempotencyStore,
    tenantId: string,
    key: string,
    body: string,
    jobId: string,
    ttlMs = LONG,
  ) => store.claim({ tenantId, keyHash: hash(key), bodyHash: hash(body), jobId, ttlMs });

  it.each([
    {
      name: 'the first claim is new, a repeat with the same body replays it',
      steps: [
        { tenant: 'a', key: 'k', body: 'b1', job: 'j1', expect: { kind: 'new' } },
        { tenant: 'a', key: 'k', body: 'b1', job: 'j2', expect: { kind: 'replay', jobId: 'j1' } },
      ],
    },
    {
      name: 'the same key with another body is a mismatch, and the key keeps its job',
      steps: [
        { tenant: 'a', key: 'k', body: 'b1', job: 'j1', expect: { kind: 'new' } },
        { tenant: 'a', key: 'k', body: 'b2', job: 'j2', expect: { kind: 'mismatch' } },
        { tenant: 'a', key: 'k', body: 'b1', job: 'j3', expect: { kind: 'replay', jobId: 'j1' } },
      ],
    },
    {
      name: 'keys are per tenant',
      steps: [
        { tenant: 'a', key: 'k', body: 'b1', job: 'j1', expect: { kind: 'new' } },
        { tenant: 'b', key: 'k', body: 'b1', job: 'j2', expect: { kind: 'new' } },
        { tenant: 'b', key: 'k', body: 'b1', job: 'j3', expect: { kind: 'replay', jobId: 'j2' } },
      ],
    },
    {
      name: 'different keys of one tenant are independent',
      steps: [
        { tenant: 'a', key: 'k1', body: 'b1', job: 'j1', expect: { kind: 'new' } },
        { tenant: 'a', key: 'k2', body: 'b1', job: 'j2', expect: { kind: 'new' } },
      ],
    },
  ])('$name', async ({ steps }) => {
    // Fresh tenant ids per case; the steps alternate between the two handles.
    const tenants = new Map<string, string>();
    const tenantId = (name: string) => {
      if (!tenants.has(name)) tenants.set(name, randomUUID());
      return tenants.get(name)!;
    };
    for (const [index, step] of steps.entries()) {
      const store = index % 2 === 0 ? first : second;
      expect(await claim(store, tenantId(step.tenant), step.key, step.body, step.job)).toEqual(
        step.expect,
      );
    }
  });

  it('frees a key after its TTL', async () => {
    const tenantId = randomUUID();
    expect(await claim(first, tenantId, 'k', 'b1', 'j1', 300)).toEqual({ kind: 'new' });
    expect(await claim(second, tenantId, 'k', 'b1', 'j2', 300)).toEqual({
      kind: 'replay',
      jobId: 'j1',
    });
    // Polls: the key is free again once 300 ms have passed, and then names the new job.
    await eventually(async () => {
      expect(await claim(second, tenantId, 'k', 'b2', 'j3')).toEqual({ kind: 'new' });
    }, 5_000);
    expect(await claim(first, tenantId, 'k', 'b2', 'j4')).toEqual({
      kind: 'replay',
      jobId: 'j3',
    });
    await first.purgeExpired();
  });

  it('releases a key only while it still names the job', async () => {
    const tenantId = randomUUID();
    expect(await claim(first, tenantId, 'k', 'b1', 'j1')).toEqual({ kind: 'new' });
    await second.release(tenantId, hash('k'), 'other-job');
    expect(await claim(first, tenantId, 'k', 'b1', 'j2')).toEqual({
      kind: 'replay',
      jobId: 'j1',
    });
    await second.release(tenantId, hash('k'), 'j1');
    expect(await claim(first, tenantId, 'k', 'b1', 'j3')).toEqual({ kind: 'new' });
  });

  it('of 100 concurrent claims over two handles, exactly one is new', async () => {
    const tenantId = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, index) =>
        claim(index % 2 === 0 ? first : second, tenantId, 'race', 'body', `job-${index}`),
      ),
    );
    const winners = results
      .map((result, index) => ({ result, index }))
      .filter(({ result }) => result.kind === 'new');
    expect(winners).toHaveLength(1);
    const winningJob = `job-${winners[0].index}`;
    for (const result of results) {
      if (result.kind !== 'new') expect(result).toEqual({ kind: 'replay', jobId: winningJob });
    }
  });
});
