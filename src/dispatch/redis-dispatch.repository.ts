import { Redis } from 'ioredis';
import {
  STREAM_SLOT_TTL_MS,
  utcDay,
  WINDOW_MS,
  type AdmissionRequest,
  type AdmissionResult,
  type LimitCounters,
  type LimitsStore,
} from '../limits/limits-store.js';
import {
  queueName,
  type Assignment,
  type AttemptEnd,
  type DispatchLoad,
  type DispatchNode,
  type DispatchStore,
  type DispatchTenant,
  type JobLane,
  type ListedJob,
  type LoadScope,
  listingArgs,
  nodesJson,
} from './dispatch-store.js';
import * as scripts from './redis-dispatch.scripts.js';

type ScriptName = keyof typeof scripts;
type RunScript = (...args: (string | number)[]) => Promise<unknown>;

/** Admission and dispatch in Redis; commands fail fast when Redis is away (callers answer 503). */
export class RedisDispatchRepository implements LimitsStore, DispatchStore {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(options: Record<string, unknown>, prefix: string) {
    this.prefix = `${prefix}:d`;
    this.redis = new Redis({
      ...options,
      // A request must never wait on an unreachable Redis: fail now, answer 503.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2_000,
      lazyConnect: false,
    });
    this.redis.on('error', () => undefined);
    for (const [name, lua] of Object.entries(scripts)) {
      this.redis.defineCommand(name, { numberOfKeys: 0, lua });
    }
  }

  private run(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    const command = (this.redis as unknown as Record<ScriptName, RunScript>)[name];
    return command.call(this.redis, this.prefix, ...args);
  }

  async admit(request: AdmissionRequest): Promise<AdmissionResult> {
    const { tenantId, admissionId, kind, limits, reservation, claim } = request;
    const claimArgs = claim
      ? [
          queueName(tenantId, 'interactive'),
          claim.model,
          nodesJson(claim.nodes),
          claim.leaseMs,
          Math.random(),
        ]
      : [''];
    const [refusal, requests, reset, tokens, open, queued, reserved, node] = (await this.run(
      'ADMIT',
      tenantId,
      admissionId,
      kind,
      limits.rpm,
      limits.maxConcurrent,
      limits.maxQueued,
      limits.weight,
      limits.tokensPerDay,
      WINDOW_MS,
      STREAM_SLOT_TTL_MS,
      utcDay(Date.now()),
      reservation ?? 0,
      ...claimArgs,
    )) as [string, number, number, number, number, number, number, string | null];
    const counters: LimitCounters = {
      requestsInWindow: requests,
      windowResetMs: Math.max(0, reset),
      tokensToday: Number(tokens),
      tokensReserved: Number(reserved),
      openSlots: open,
      queuedJobs: queued,
    };
    return refusal === ''
      ? { admitted: true, counters, claimedNode: typeof node === 'string' ? node : null }
      : { admitted: false, refusal: refusal as 'rate_limit', counters };
  }

  async rollback(tenantId: string, admissionId: string): Promise<void> {
    await this.run('ROLLBACK', tenantId, admissionId);
  }

  async counters(tenantId: string): Promise<LimitCounters> {
    const [requests, reset, tokens, open, queued, reserved] = (await this.run(
      'COUNTERS',
      tenantId,
      utcDay(Date.now()),
    )) as number[];
    return {
      requestsInWindow: requests,
      windowResetMs: Math.max(0, reset),
      tokensToday: Number(tokens),
      tokensReserved: Number(reserved),
      openSlots: open,
      queuedJobs: queued,
    };
  }

  async enqueue(
    jobId: string,
    tenant: DispatchTenant,
    lane: JobLane,
    model: string,
    force: boolean,
  ): Promise<void> {
    await this.run('ENQUEUE', ...listingArgs(jobId, tenant, lane, model), force ? '1' : '0');
  }

  async enqueueMany(
    jobs: readonly ListedJob[],
    tenant: DispatchTenant,
    lane: JobLane,
  ): Promise<void> {
    const pipeline = this.redis.pipeline();
    const queued = pipeline as unknown as Record<ScriptName, (...args: unknown[]) => unknown>;
    for (const { jobId, model } of jobs) {
      queued.ENQUEUE(this.prefix, ...listingArgs(jobId, tenant, lane, model), '0');
    }
    for (const [error] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
    }
  }

  async claim(
    jobId: string,
    tenant: DispatchTenant,
    lane: JobLane,
    model: string,
    nodes: readonly DispatchNode[],
    leaseMs: number,
  ): Promise<string | null> {
    const node = await this.run(
      'CLAIM',
      ...listingArgs(jobId, tenant, lane, model),
      nodesJson(nodes),
      leaseMs,
      Math.random(),
    );
    return typeof node === 'string' ? node : null;
  }

  async dispatch(
    nodes: readonly DispatchNode[],
    limit: number,
    leaseMs: number,
  ): Promise<Assignment[]> {
    const seed = 1 + Math.floor(Math.random() * 2_147_483_645);
    const flat = (await this.run('DISPATCH', nodesJson(nodes), limit, leaseMs, seed)) as string[];
    const assignments: Assignment[] = [];
    for (let index = 0; index < flat.length; index += 3) {
      assignments.push({ jobId: flat[index], tenantId: flat[index + 1], node: flat[index + 2] });
    }
    return assignments;
  }

  async begin(jobId: string, leaseMs: number): Promise<string | null> {
    const node = (await this.run('BEGIN', jobId, leaseMs)) as string | null;
    return node ?? null;
  }

  async heartbeat(leaseIds: readonly string[], leaseMs: number): Promise<void> {
    if (leaseIds.length > 0) await this.run('HEARTBEAT', leaseMs, ...leaseIds);
  }

  async moveLease(jobId: string, nodes: readonly DispatchNode[]): Promise<string | null> {
    return ((await this.run('MOVE_LEASE', jobId, nodesJson(nodes))) as string | null) ?? null;
  }

  async finish(jobId: string, end: AttemptEnd): Promise<boolean> {
    const waiting = await this.run(
      'FINISH',
      jobId,
      end.kind,
      end.kind === 'retry' ? end.dueAt : 0,
      end.kind === 'final' ? (end.tokens ?? 0) : 0,
      utcDay(Date.now()),
    );
    return Number(waiting) > 0;
  }

  async placeStream(streamId: string, nodes: readonly DispatchNode[]): Promise<string | null> {
    return ((await this.run('PLACE_STREAM', streamId, nodesJson(nodes))) as string | null) ?? null;
  }

  async releaseStream(
    tenantId: string,
    streamId: string,
    tokens: number | undefined,
  ): Promise<void> {
    await this.run('RELEASE_STREAM', tenantId, streamId, tokens ?? -1, utcDay(Date.now()));
  }

  async queuePosition(tenantId: string, lane: JobLane, jobId: string): Promise<number | null> {
    const rank = await this.redis.zrank(`${this.prefix}:ready:${queueName(tenantId, lane)}`, jobId);
    return rank === null ? null : rank + 1;
  }

  /** Read-only and one round trip: a stats read must not run the purging admission scripts. */
  async load({ nodeIds, tenantIds }: LoadScope): Promise<DispatchLoad> {
    // Known ids, not a SCAN: the keyspace may be shared and large.
    const pipeline = this.redis.pipeline();
    for (const nodeId of nodeIds) pipeline.scard(`${this.prefix}:node:${nodeId}`);
    for (const tenantId of tenantIds) {
      pipeline.scard(`${this.prefix}:running:${tenantId}`);
      for (const kind of ['pending', 'ready', 'retry']) {
        pipeline.zcard(`${this.prefix}:${kind}:${tenantId}`);
      }
    }
    const counts = ((await pipeline.exec()) ?? []).map(([error, count]) => {
      if (error) throw error;
      return Number(count);
    });
    const load: DispatchLoad = { nodes: {}, tenants: {} };
    nodeIds.forEach((nodeId, index) => {
      if (counts[index] > 0) load.nodes[nodeId] = counts[index];
    });
    tenantIds.forEach((tenantId, index) => {
      const at = nodeIds.length + index * 4;
      const [running, pending, ready, retry] = counts.slice(at, at + 4);
      const queued = pending + ready + retry;
      if (queued + running > 0) load.tenants[tenantId] = { queued, running };
    });
    return load;
  }

  retryingCount(): Promise<number> {
    return this.redis.zcard(`${this.prefix}:retrydue`);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
