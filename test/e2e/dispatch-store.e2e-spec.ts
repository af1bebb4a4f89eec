import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildDataSourceOptions } from '../../src/database/data-source-options.js';
import type {
  DispatchNode,
  DispatchStore,
  DispatchTenant,
} from '../../src/dispatch/dispatch-store.js';
import { PostgresDispatchRepository } from '../../src/dispatch/postgres-dispatch.repository.js';
import { RedisDispatchRepository } from '../../src/dispatch/redis-dispatch.repository.js';
import type { LimitSettings, LimitsStore } from '../../src/limits/limits-store.js';
import {
  clearRedisPrefix,
  createTestDatabase,
  eventually,
  REDIS_URL,
} from '../support/infq-harness.js';

type Store = DispatchStore & LimitsStore;

const node = (id: string, max: number, models: string[] | null = null): DispatchNode => ({
  id,
  provider: 'bus',
  max,
  stake: 1,
  healthy: true,
  models,
});
const LIMITS: LimitSettings = {
  rpm: 1000,
  tokensPerDay: 1_000_000,
  maxConcurrent: 100,
  maxQueued: 1000,
  weight: 1,
};
const LEASE = 30_000;

/** Store conformance: the Redis Lua scripts and the PostgreSQL functions behave the same. */
describe.each(['redis', 'postgres'] as const)('dispatch store conformance (%s)', (kind) => {
  let store: Store;
  let cleanup: () => Promise<void>;

  // A store of its own for each case: handing out jobs reaches every tenant's.
  beforeEach(async () => {
    if (kind === 'redis') {
      const prefix = `infqtest${randomBytes(4).toString('hex')}`;
      const redis = new RedisDispatchRepository(
        { host: new URL(REDIS_URL).hostname, port: Number(new URL(REDIS_URL).port || 6379) },
        prefix,
      );
      store = redis;
      // Commands fail fast while the connection is not up yet.
      await eventually(() => redis.retryingCount());
      cleanup = async () => {
        await redis.close();
        await clearRedisPrefix(prefix);
      };
    } else {
      const database = await createTestDatabase();
      const dataSource = new DataSource(buildDataSourceOptions(database.url));
      await dataSource.initialize();
      await dataSource.runMigrations();
      store = new PostgresDispatchRepository(dataSource);
      cleanup = async () => {
        await dataSource.destroy();
        await database.drop();
      };
    }
  });

  afterEach(async () => cleanup?.());

  /** A fresh tenant; jobs are admitted then enqueued, as the API does. */
  function tenant(settings: Partial<LimitSettings> = {}) {
    const limits = { ...LIMITS, ...settings };
    const id = randomUUID();
    const dispatchTenant: DispatchTenant = {
      tenantId: id,
      maxConcurrent: limits.maxConcurrent,
      weight: limits.weight,
    };
    return {
      id,
      limits,
      async submit(model = 'm', lane: 'interactive' | 'batch' = 'interactive'): Promise<string> {
        const jobId = randomUUID();
        if (lane === 'interactive') {
          const result = await store.admit({
            tenantId: id,
            admissionId: jobId,
            kind: 'job',
            limits,
          });
          expect(result.admitted).toBe(true);
        }
        await store.enqueue(jobId, dispatchTenant, lane, model, false);
        return jobId;
      },
    };
  }

  const ids = async (nodes: DispatchNode[], limit = 100) =>
    (await store.dispatch(nodes, limit, LEASE)).map((assignment) => assignment.jobId);

  it('admits by rpm, tokens and queued jobs; a stream needs a free slot; rollback undoes', async () => {
    const t = tenant({ rpm: 3, maxQueued: 2, maxConcurrent: 1 });
    await t.submit();
    await t.submit();
    const full = await store.admit({
      tenantId: t.id,
      admissionId: randomUUID(),
      kind: 'job',
      limits: t.limits,
    });
    expect(full).toMatchObject({
      admitted: false,
      refusal: 'queue_full',
      counters: { queuedJobs: 2 },
    });
    const stream = randomUUID();
    expect(
      (await store.admit({ tenantId: t.id, admissionId: stream, kind: 'stream', limits: t.limits }))
        .admitted,
    ).toBe(true);
    const second = await store.admit({
      tenantId: t.id,
      admissionId: randomUUID(),
      kind: 'stream',
      limits: t.limits,
    });
    expect(second).toMatchObject({ admitted: false, refusal: 'rate_limit' });
    await store.rollback(t.id, stream);
    expect(await store.counters(t.id)).toMatchObject({
      requestsInWindow: 2,
      openSlots: 0,
      queuedJobs: 2,
    });
    const u = tenant({ maxConcurrent: 1 });
    expect(
      (
        await store.admit({
          tenantId: u.id,
          admissionId: randomUUID(),
          kind: 'stream',
          limits: u.limits,
        })
      ).admitted,
    ).toBe(true);
    expect(
      await store.admit({
        tenantId: u.id,
        admissionId: randomUUID(),
        kind: 'stream',
        limits: u.limits,
      }),
    ).toMatchObject({ admitted: false, refusal: 'concurrency' });
  });

  it('hands out FIFO within a tenant, up to its slots, and tells each waiting job its place', async () => {
    const nodes = [node(`n-${randomUUID()}`, 100)];
    const t = tenant({ maxConcurrent: 2 });
    const jobs = [await t.submit(), await t.submit(), await t.submit()];
    expect(await store.queuePosition(t.id, 'interactive', jobs[2])).toBe(3);
    expect(await ids(nodes)).toEqual(jobs.slice(0, 2));
    expect(await store.queuePosition(t.id, 'interactive', jobs[2])).toBe(1);
    expect(await ids(nodes)).toEqual([]);
    await store.finish(jobs[0], { kind: 'final' });
    expect(await ids(nodes)).toEqual([jobs[2]]);
    expect(await store.counters(t.id)).toMatchObject({ openSlots: 2, queuedJobs: 0 });
  });

  it("never gives a node more than its max, skips nodes that don't serve the model", async () => {
    const small = node(`n-${randomUUID()}`, 2, ['a']);
    const other = node(`n-${randomUUID()}`, 5, ['b']);
    const t = tenant();
    const a = [await t.submit('a'), await t.submit('a'), await t.submit('a')];
    const b = await t.submit('b');
    const assigned = await store.dispatch([small, other], 100, LEASE);
    expect(assigned.map((x) => [x.jobId, x.node])).toEqual([
      [a[0], small.id],
      [a[1], small.id],
    ]);
    // FIFO within the tenant: b waits behind the third a, which waits for room.
    expect(await store.load({ nodeIds: [small.id, other.id], tenantIds: [t.id] })).toMatchObject({
      nodes: { [small.id]: 2 },
      tenants: { [t.id]: { queued: 2, running: 2 } },
    });
    await store.finish(a[0], { kind: 'final' });
    expect((await store.dispatch([small, other], 100, LEASE)).map((x) => x.jobId)).toEqual([
      a[2],
      b,
    ]);
    // A model no node serves is handed out with no node: its attempt fails as no_upstream.
    const orphan = await t.submit('nobody-serves-this');
    expect(await store.dispatch([small, other], 100, LEASE)).toEqual([
      { jobId: orphan, tenantId: t.id, node: '' },
    ]);
  });

  it('shares a full pool by weight', async () => {
    const one = node(`n-${randomUUID()}`, 1);
    const heavy = tenant({ weight: 2 });
    const light = tenant({ weight: 1 });
    const owners = new Map<string, string>();
    for (let index = 0; index < 30; index++) {
      owners.set(await heavy.submit(), 'heavy');
      owners.set(await light.submit(), 'light');
    }
    const served: string[] = [];
    for (let round = 0; round < 30; round++) {
      const [assignment] = await store.dispatch([one], 1, LEASE);
      served.push(owners.get(assignment.jobId)!);
      await store.finish(assignment.jobId, { kind: 'final' });
    }
    const heavyShare = served.filter((owner) => owner === 'heavy').length / served.length;
    expect(heavyShare).toBeGreaterThanOrEqual(0.6);
    expect(heavyShare).toBeLessThanOrEqual(0.73);
  });

  it('keeps a retry out of line until it is due, then gives it its place back', async () => {
    const nodes = [node(`n-${randomUUID()}`, 10)];
    const t = tenant({ maxConcurrent: 1 });
    const first = await t.submit();
    expect(await ids(nodes)).toEqual([first]);
    const second = await t.submit();
    await store.finish(first, { kind: 'retry', dueAt: Date.now() + 300 });
    expect(await store.counters(t.id)).toMatchObject({ openSlots: 0, queuedJobs: 2 });
    expect(await store.retryingCount()).toBeGreaterThanOrEqual(1);
    expect(await ids(nodes)).toEqual([second]);
    await store.finish(second, { kind: 'final' });
    await sleep(350);
    expect(await ids(nodes)).toEqual([first]);
  });

  it('frees the slot and place of a lease nobody refreshes, and puts its job back in line', async () => {
    const nodes = [node(`n-${randomUUID()}`, 10)];
    const t = tenant({ maxConcurrent: 1 });
    const job = await t.submit();
    expect((await store.dispatch(nodes, 10, 200)).map((x) => x.jobId)).toEqual([job]);
    expect(await store.begin(job, 200)).toBe(nodes[0].id);
    await sleep(300);
    expect(await store.begin(job, 200)).toBeNull();
    expect((await store.dispatch(nodes, 10, LEASE)).map((x) => x.jobId)).toEqual([job]);
  });

  it('holds a waiting stream a place ahead of queued jobs', async () => {
    const one = node(`n-${randomUUID()}`, 1);
    const jobs = tenant();
    const streams = tenant();
    const running = await jobs.submit();
    expect(await ids([one])).toEqual([running]);
    const stream = randomUUID();
    await store.admit({
      tenantId: streams.id,
      admissionId: stream,
      kind: 'stream',
      limits: streams.limits,
    });
    expect(await store.placeStream(stream, [one])).toBeNull();
    const queued = await jobs.submit();
    await store.finish(running, { kind: 'final' });
    // The freed place is held for the stream: the queued job does not get it.
    expect(await ids([one])).toEqual([]);
    expect(await store.placeStream(stream, [one])).toBe(one.id);
    await store.releaseStream(streams.id, stream, 10);
    expect(await ids([one])).toEqual([queued]);
    expect((await store.counters(streams.id)).tokensToday).toBe(10);
  });

  it('charges a job once, when it ends, however often it is ended', async () => {
    const nodes = [node(`n-${randomUUID()}`, 10)];
    const t = tenant();
    const job = await t.submit();
    await ids(nodes);
    await store.finish(job, { kind: 'retry', dueAt: Date.now() + 60_000 });
    expect((await store.counters(t.id)).tokensToday).toBe(0);
    await store.finish(job, { kind: 'final', tokens: 40 });
    await store.finish(job, { kind: 'final', tokens: 40 });
    expect((await store.counters(t.id)).tokensToday).toBe(40);
  });

  it("serves a tenant's interactive jobs before the rest of its batch", async () => {
    const nodes = [node(`n-${randomUUID()}`, 10)];
    const t = tenant({ maxConcurrent: 1 });
    const batch = [
      await t.submit('m', 'batch'),
      await t.submit('m', 'batch'),
      await t.submit('m', 'batch'),
    ];
    expect(await ids(nodes)).toEqual([batch[0]]);
    const interactive = await t.submit();
    // Batch lines are not queued jobs of the tenant.
    expect((await store.counters(t.id)).queuedJobs).toBe(1);
    await store.finish(batch[0], { kind: 'final' });
    expect(await ids(nodes)).toEqual([interactive]);
  });

  it('lists a group of batch lines in one call, in order, once however often it is sent', async () => {
    const nodes = [node(`n-${randomUUID()}`, 10, ['a', 'b'])];
    const t = tenant({ maxConcurrent: 2 });
    const settings: DispatchTenant = {
      tenantId: t.id,
      maxConcurrent: t.limits.maxConcurrent,
      weight: t.limits.weight,
    };
    const group = ['a', 'b', 'a'].map((model) => ({ jobId: randomUUID(), model }));
    await store.enqueueMany(group, settings, 'batch');
    // Sent again (a resumed batch): nothing is listed twice, nothing moves.
    await store.enqueueMany(group, settings, 'batch');
    expect(await store.queuePosition(t.id, 'batch', group[2].jobId)).toBe(3);
    expect((await store.counters(t.id)).queuedJobs).toBe(0);
    expect(await ids(nodes)).toEqual([group[0].jobId, group[1].jobId]);
    await store.finish(group[0].jobId, { kind: 'final' });
    await store.finish(group[1].jobId, { kind: 'final' });
    expect(await store.dispatch(nodes, 10, LEASE)).toEqual([
      { jobId: group[2].jobId, tenantId: t.id, node: nodes[0].id },
    ]);
    expect(await ids(nodes)).toEqual([]);
  });

  it('puts a leased job back at its place when its worker hands it back', async () => {
    const nodes = [node(`n-${randomUUID()}`, 10)];
    const t = tenant({ maxConcurrent: 1 });
    const first = await t.submit();
    const second = await t.submit();
    expect(await ids(nodes)).toEqual([first]);
    await store.enqueue(
      first,
      { tenantId: t.id, maxConcurrent: 1, weight: 1 },
      'interactive',
      'm',
      true,
    );
    expect(await ids(nodes)).toEqual([first]);
    // Without force, a leased job stays where it is.
    await store.enqueue(
      first,
      { tenantId: t.id, maxConcurrent: 1, weight: 1 },
      'interactive',
      'm',
      false,
    );
    expect(await store.begin(first, LEASE)).toBe(nodes[0].id);
    expect(await store.queuePosition(t.id, 'interactive', second)).toBe(1);
  });

  it('leases a new job at once while nothing waits and there is room, and never otherwise', async () => {
    const nodes = [node(`n-${randomUUID()}`, 2)];
    const t = tenant({ maxConcurrent: 2 });
    const settings = { tenantId: t.id, maxConcurrent: 2, weight: 1 };
    const admitted = async () => {
      const jobId = randomUUID();
      const result = await store.admit({
        tenantId: t.id,
        admissionId: jobId,
        kind: 'job',
        limits: t.limits,
      });
      expect(result.admitted).toBe(true);
      return jobId;
    };
    const first = await admitted();
    expect(await store.claim(first, settings, 'interactive', 'm', nodes, LEASE)).toBe(nodes[0].id);
    expect(await store.begin(first, LEASE)).toBe(nodes[0].id);
    // A job the dispatcher already knows is not claimed again.
    expect(await store.claim(first, settings, 'interactive', 'm', nodes, LEASE)).toBeNull();
    expect(await store.counters(t.id)).toMatchObject({ openSlots: 1, queuedJobs: 0 });

    // A tenant with no free slot, or a pool with no room, means the list.
    const other = tenant({ maxConcurrent: 1 });
    const otherSettings = { tenantId: other.id, maxConcurrent: 1, weight: 1 };
    const second = await admitted();
    expect(await store.claim(second, settings, 'interactive', 'm', nodes, LEASE)).toBe(nodes[0].id);
    const third = await admitted();
    expect(await store.claim(third, settings, 'interactive', 'm', nodes, LEASE)).toBeNull();
    const wide = [node(`n-${randomUUID()}`, 5)];
    expect(await store.claim(third, settings, 'interactive', 'm', wide, LEASE)).toBeNull();
    const fourth = randomUUID();
    expect(await store.claim(fourth, otherSettings, 'interactive', 'm', nodes, LEASE)).toBeNull();

    // Once a job waits in a list, every new job queues behind it, even where there is room.
    await store.enqueue(third, settings, 'interactive', 'm', false);
    expect(await store.claim(fourth, otherSettings, 'interactive', 'm', wide, LEASE)).toBeNull();
    await store.finish(first, { kind: 'final' });
    expect(await ids(nodes)).toEqual([third]);
    // No node serves the model at all: leased on no node, so the attempt fails as it should.
    const fifth = randomUUID();
    expect(
      await store.claim(fifth, otherSettings, 'interactive', 'x', [node('a', 1, ['y'])], LEASE),
    ).toBe('');
  });

  it('tries the fast path in the admission itself; a rollback gives the lease back', async () => {
    const nodes = [node(`n-${randomUUID()}`, 1)];
    const t = tenant({ maxConcurrent: 2 });
    const claim = { model: 'm', nodes, leaseMs: LEASE };
    const admit = (admissionId: string, withClaim = true) =>
      store.admit({
        tenantId: t.id,
        admissionId,
        kind: 'job',
        limits: t.limits,
        ...(withClaim && { claim }),
      });
    const first = randomUUID();
    expect(await admit(first)).toMatchObject({ admitted: true, claimedNode: nodes[0].id });
    expect(await store.begin(first, LEASE)).toBe(nodes[0].id);
    expect(await store.counters(t.id)).toMatchObject({ openSlots: 1, queuedJobs: 0 });
    // The only node is full: the next job is admitted to wait in its list.
    const second = randomUUID();
    expect(await admit(second)).toMatchObject({ admitted: true, claimedNode: null });
    expect(await admit(randomUUID(), false)).toMatchObject({ admitted: true, claimedNode: null });
    expect(await store.counters(t.id)).toMatchObject({ openSlots: 1, queuedJobs: 2 });
    // Its request failed before the job was added: slot, place and listing all go.
    await store.rollback(t.id, first);
    expect(await store.counters(t.id)).toMatchObject({ openSlots: 0, queuedJobs: 2 });
    expect(await store.begin(first, LEASE)).toBeNull();
    const settings = { tenantId: t.id, maxConcurrent: 2, weight: 1 };
    expect(await store.claim(first, settings, 'interactive', 'm', nodes, LEASE)).toBe(nodes[0].id);
  });

  it('holds token reservations: refused once used plus reserved reach the budget; freed when the job ends or the lease does', async () => {
    const nodes = [node(`n-${randomUUID()}`, 10)];
    const t = tenant({ tokensPerDay: 1000 });
    const settings = { tenantId: t.id, maxConcurrent: t.limits.maxConcurrent, weight: 1 };
    const admit = (kind: 'job' | 'stream', reservation: number, admissionId = randomUUID()) =>
      store.admit({ tenantId: t.id, admissionId, kind, limits: t.limits, reservation });
    const first = randomUUID();
    expect(await admit('job', 600, first)).toMatchObject({
      admitted: true,
      counters: { tokensToday: 0, tokensReserved: 600 },
    });
    // Below the budget before it: admitted, so the overshoot is at most this one reservation.
    const second = randomUUID();
    expect(await admit('job', 600, second)).toMatchObject({
      admitted: true,
      counters: { tokensReserved: 1200 },
    });
    expect(await admit('stream', 1)).toMatchObject({
      admitted: false,
      refusal: 'daily_tokens',
      counters: { tokensToday: 0, tokensReserved: 1200 },
    });
    // A retry keeps the reservation; the end frees it and charges what the job used.
    await store.enqueue(first, settings, 'interactive', 'm', false);
    expect(await ids(nodes)).toEqual([first]);
    await store.finish(first, { kind: 'retry', dueAt: Date.now() + 60_000 });
    expect((await store.counters(t.id)).tokensReserved).toBe(1200);
    await store.finish(first, { kind: 'final', tokens: 100 });
    expect(await store.counters(t.id)).toMatchObject({ tokensToday: 100, tokensReserved: 600 });
    await store.rollback(t.id, second);
    expect((await store.counters(t.id)).tokensReserved).toBe(0);

    // A stream without its usage is charged its reservation; with it, its usage.
    const dropped = randomUUID();
    await admit('stream', 250, dropped);
    expect(await store.placeStream(dropped, nodes)).toBe(nodes[0].id);
    await store.releaseStream(t.id, dropped, undefined);
    expect(await store.counters(t.id)).toMatchObject({ tokensToday: 350, tokensReserved: 0 });
    const finished = randomUUID();
    await admit('stream', 250, finished);
    await store.releaseStream(t.id, finished, 7);
    await store.releaseStream(t.id, finished, undefined); // ended once: charged once
    expect(await store.counters(t.id)).toMatchObject({ tokensToday: 357, tokensReserved: 0 });

    // A crashed instance's stream: its reservation goes with its lease, uncharged.
    const orphan = randomUUID();
    await admit('stream', 400, orphan);
    expect((await store.counters(t.id)).tokensReserved).toBe(400);
    await store.heartbeat([orphan], 50);
    await eventually(async () =>
      expect(await store.counters(t.id)).toMatchObject({ tokensToday: 357, tokensReserved: 0 }),
    );
    expect(await admit('job', 1)).toMatchObject({
      admitted: true,
      counters: { tokensReserved: 1 },
    });
  });
});
