import { InjectQueue } from '@nestjs/bullmq';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { Queue } from 'bullmq';
import { setTimeout as delay } from 'node:timers/promises';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import { INFERENCE_QUEUE, type InferenceJobData } from '../jobs/inference-queue.js';
import type { AdmissionClaim } from '../limits/limits-store.js';
import type { NodePlacement } from '../upstream/chat-completions.client.js';
import { TenantsService } from '../tenants/tenants.service.js';
import type { UpstreamNode } from '../upstream/upstream-node.js';
import { toDispatchNode, UpstreamRegistry } from '../upstream/upstream-registry.service.js';
import type {
  AttemptEnd,
  DispatchLoad,
  DispatchStore,
  DispatchTenant,
  JobLane,
  ListedJob,
} from './dispatch-store.js';

export const DISPATCH_STORE = Symbol('DISPATCH_STORE');

/** A lease not refreshed for this long is free again (its worker or instance died). */
export const LEASE_MS = 30_000;
const HEARTBEAT_MS = LEASE_MS / 3;
/**
 * A lease taken on the fast path this recently cannot have run out before the next heartbeat
 * refreshes it, so the job's first run may start on it without asking the store.
 */
export const FRESH_CLAIM_MS = HEARTBEAT_MS;
// Retries falling due and leases running out are found this often, on every instance.
const TICK_MS = 200;
const BATCH = 64;
/** How long a stream waits for a place at a full pool before 503. */
export const STREAM_PLACE_WAIT_MS = 10_000;
const STREAM_PLACE_POLL_MS = 50;
// Past this many jobs the store refused to list, the parked-jobs reconciler lists the rest.
const MAX_UNLISTED_JOBS = 10_000;

/** What listing a job needs, kept while the store is away. */
interface Listing {
  tenant: DispatchTenant;
  lane: JobLane;
  model: string;
}

/**
 * Fair, capacity-aware dispatch. Jobs wait, parked in the queue, in per-tenant lists; a round
 * hands the next jobs (weighted round-robin across tenants, FIFO within one) to the workers,
 * each with a lease on one tenant slot and one node place, and releases them into the queue.
 * Any instance may run a round: the store makes each one atomic.
 */
@Injectable()
export class DispatchService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(DispatchService.name);
  private timer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** Leases held by this process (running attempts and open streams), kept alive together. */
  private readonly held = new Set<string>();
  /**
   * Leases this process's rounds just handed out (job → node and when), so that a worker of this
   * process starts such a job without asking the store; entries older than `FRESH_CLAIM_MS` go.
   */
  private readonly handedOut = new Map<string, { node: string; at: number }>();
  /** Jobs in the queue that the store could not list yet; each round lists them first. */
  private readonly unlisted = new Map<string, Listing>();
  /**
   * Ended attempts whose lease the store could not end (it was away), each round tries again.
   * Their leases stay held, and heartbeated, until then: nobody else can have taken them.
   */
  private readonly unfinished = new Map<string, AttemptEnd>();
  /** Jobs handed out whose move to runnable failed (the queue was away); each round retries. */
  private readonly unreleased = new Set<string>();

  constructor(
    @Inject(DISPATCH_STORE) private readonly store: DispatchStore,
    @InjectQueue(INFERENCE_QUEUE) private readonly queue: Queue<InferenceJobData>,
    private readonly registry: UpstreamRegistry,
    private readonly tenants: TenantsService,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.kick(), TICK_MS);
    this.timer.unref();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), HEARTBEAT_MS);
    this.heartbeatTimer.unref();
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.heartbeatTimer);
  }

  /**
   * A job is durably in the queue (parked): it joins its tenant's list, and a round runs. Never
   * fails: while the store is away the job is listed by a later round (or, past a bound, by the
   * parked-jobs reconciler).
   */
  async enqueue(
    jobId: string,
    tenant: DispatchTenant,
    lane: JobLane,
    model: string,
  ): Promise<void> {
    try {
      await this.store.enqueue(jobId, tenant, lane, model, false);
    } catch (error) {
      if (this.unlisted.size < MAX_UNLISTED_JOBS) this.unlisted.set(jobId, { tenant, lane, model });
      this.logger.debug({ msg: 'job listed later', jobId, error: (error as Error).message });
    }
    this.kick();
  }

  /** `enqueue` for several parked jobs of one tenant's lane (a batch's group), in one call. */
  async enqueueMany(
    jobs: readonly ListedJob[],
    tenant: DispatchTenant,
    lane: JobLane,
  ): Promise<void> {
    try {
      await this.store.enqueueMany(jobs, tenant, lane);
    } catch (error) {
      for (const { jobId, model } of jobs) {
        if (this.unlisted.size >= MAX_UNLISTED_JOBS) break;
        this.unlisted.set(jobId, { tenant, lane, model });
      }
      this.logger.debug({
        msg: 'jobs listed later',
        jobs: jobs.length,
        error: (error as Error).message,
      });
    }
    this.kick();
  }

  /**
   * The fast path, before a job is added to the queue: when nothing waits, its tenant has a
   * free slot and a node has room, the job is leased now and is added runnable. False: it is
   * added parked and joins its list (`enqueue`). A store that is away means the slow path.
   */
  async claim(
    jobId: string,
    tenant: DispatchTenant,
    lane: JobLane,
    model: string,
  ): Promise<string | null> {
    try {
      return await this.store.claim(
        jobId,
        tenant,
        lane,
        model,
        this.registry.dispatchNodes(),
        LEASE_MS,
      );
    } catch {
      return null;
    }
  }

  /** The fast-path claim an interactive job for `model` tries as it is admitted. */
  admissionClaim(model: string): AdmissionClaim {
    return { model, nodes: this.registry.dispatchNodes(), leaseMs: LEASE_MS };
  }

  /** Asks for a dispatch round soon; rounds never overlap within a process. */
  kick(): void {
    if (this.stopped) return;
    if (this.round) {
      this.again = true;
      return;
    }
    this.round = this.runRounds().finally(() => {
      this.round = undefined;
    });
  }

  /**
   * The lease a dispatched job holds, refreshed; null when the job was not dispatched. A job
   * leased less than `FRESH_CLAIM_MS` ago, on the fast path (`claimedNode`) or by a round of this
   * process, starts on that lease without a store call: it cannot have run out, and the
   * heartbeat keeps it from now on.
   */
  async begin(jobId: string, claimedNode?: string): Promise<NodePlacement | null> {
    const nodeId =
      claimedNode ?? this.takeHandedOut(jobId) ?? (await this.store.begin(jobId, LEASE_MS));
    if (nodeId === null) return null;
    this.held.add(jobId);
    return this.placementFor(jobId, nodeId);
  }

  /**
   * The one place a job's lease ends: after its attempt's outcome is recorded in the queue
   * (so a crash in between re-runs nothing and charges nothing twice). A final job's tokens are
   * charged here; a retry waits in the dispatcher (holding nothing) until its time comes.
   */
  async finish(jobId: string, end: AttemptEnd): Promise<void> {
    try {
      const freed = await this.store.finish(jobId, end);
      this.held.delete(jobId);
      this.unfinished.delete(jobId);
      if (freed) this.kick();
    } catch (error) {
      // Tried again by each round, so a store blip does not leave the slot taken until the
      // lease runs out (if this process dies first, it runs out by itself).
      if (!this.unfinished.has(jobId)) {
        this.logger.warn({
          msg: 'could not release a job',
          jobId,
          error: (error as Error).message,
        });
      }
      if (this.unfinished.size < MAX_UNLISTED_JOBS) this.unfinished.set(jobId, end);
      else this.held.delete(jobId);
    }
  }

  /** Gives a job (with or without a lease) back to its tenant's list at its place. */
  async requeue(
    jobId: string,
    tenant: DispatchTenant,
    lane: JobLane,
    model: string,
  ): Promise<void> {
    this.held.delete(jobId);
    await this.store.enqueue(jobId, tenant, lane, model, true);
    this.kick();
  }

  /** A waiting job that was cancelled or deleted: it leaves the dispatcher. */
  async forget(jobId: string): Promise<void> {
    if (await this.store.finish(jobId, { kind: 'final' })) this.kick();
  }

  /**
   * A node place for an admitted stream, ahead of queued jobs: waits up to 10 s for one, then
   * 503 `no_upstream_available`. With no eligible node at all, the placement is empty and the
   * call fails with the route's reason.
   */
  async placeStream(
    streamId: string,
    candidates: readonly UpstreamNode[],
    signal: AbortSignal,
  ): Promise<NodePlacement> {
    this.held.add(streamId);
    if (candidates.length === 0) return this.placementFor(streamId, '');
    const nodes = candidates.map(toDispatchNode);
    const deadline = Date.now() + STREAM_PLACE_WAIT_MS;
    for (;;) {
      const nodeId = await this.store.placeStream(streamId, nodes);
      if (nodeId !== null) return this.placementFor(streamId, nodeId);
      if (Date.now() >= deadline) {
        throw new AppError(
          ErrorCode.NoUpstreamAvailable,
          'Every backend node serving this model is at capacity; try again shortly',
          { retryAfterS: 1 },
        );
      }
      await delay(STREAM_PLACE_POLL_MS, undefined, { signal });
    }
  }

  /**
   * Ends a stream: its slot, place and reservation are free, its tokens charged (undefined: it
   * ended before its usage chunk, and is charged its reservation).
   */
  async releaseStream(
    tenantId: string,
    streamId: string,
    tokens: number | undefined,
  ): Promise<void> {
    this.held.delete(streamId);
    await this.store.releaseStream(tenantId, streamId, tokens).catch((error: Error) => {
      this.logger.warn({ msg: 'could not release a stream', streamId, error: error.message });
    });
    this.kick();
  }

  queuePosition(tenantId: string, lane: JobLane, jobId: string): Promise<number | null> {
    return this.store.queuePosition(tenantId, lane, jobId);
  }

  /**
   * Jobs per node and per tenant, now (nodes and tenants with none are left out); `tenants`
   * when the caller has already listed them.
   */
  async load(tenants?: readonly { id: string }[]): Promise<DispatchLoad> {
    tenants ??= await this.tenants.list();
    return this.store.load({
      nodeIds: this.registry.nodes.map((node) => node.id),
      tenantIds: tenants.map((tenant) => tenant.id),
    });
  }

  retryingCount(): Promise<number> {
    return this.store.retryingCount();
  }

  private placementFor(leaseId: string, nodeId: string): NodePlacement {
    return {
      nodeId,
      moveTo: (candidates) => this.store.moveLease(leaseId, candidates.map(toDispatchNode)),
    };
  }

  private async heartbeat(): Promise<void> {
    await this.store.heartbeat([...this.held], LEASE_MS).catch((error: Error) => {
      this.logger.warn(`lease heartbeat failed: ${error.message}`);
    });
  }

  private async runRounds(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.listUnlisted();
        await this.retryUnfinished();
        const assignments = await this.store.dispatch(
          this.registry.dispatchNodes(),
          BATCH,
          LEASE_MS,
        );
        this.forgetStaleHandouts();
        const at = Date.now();
        for (const { jobId, node } of assignments) {
          this.handedOut.delete(jobId); // kept in hand-out order
          this.handedOut.set(jobId, { node, at });
        }
        for (const { jobId } of assignments) this.unreleased.add(jobId);
        await Promise.all([...this.unreleased].map((jobId) => this.release(jobId)));
        if (assignments.length === BATCH) this.again = true;
      } catch (error) {
        // The store is away: the next tick tries again.
        this.logger.debug(`dispatch round failed: ${(error as Error).message}`);
        return;
      }
    } while (this.again && !this.stopped);
  }

  private takeHandedOut(jobId: string): string | undefined {
    const entry = this.handedOut.get(jobId);
    this.handedOut.delete(jobId);
    return entry && entry.at > Date.now() - FRESH_CLAIM_MS ? entry.node : undefined;
  }

  /** Drops handed-out leases too old to trust (a worker of another process took those jobs). */
  private forgetStaleHandouts(): void {
    const stale = Date.now() - FRESH_CLAIM_MS;
    // Oldest first.
    for (const [id, { at }] of this.handedOut) {
      if (at > stale) return;
      this.handedOut.delete(id);
    }
  }

  private async listUnlisted(): Promise<void> {
    for (const [jobId, { tenant, lane, model }] of this.unlisted) {
      await this.store.enqueue(jobId, tenant, lane, model, false);
      this.unlisted.delete(jobId);
    }
  }

  private async retryUnfinished(): Promise<void> {
    for (const [jobId, end] of this.unfinished) await this.finish(jobId, end);
  }

  /**
   * Moves a dispatched job from parked to runnable: one queue call, no read. One that fails
   * stays in `unreleased` for the next round (a job parked with a lease would otherwise wait for
   * the lease to run out).
   */
  private async release(jobId: string): Promise<void> {
    try {
      await this.promote(jobId);
      this.unreleased.delete(jobId);
    } catch (error) {
      // Past the bound, the parked-jobs reconciler catches it once its lease has run out.
      if (this.unreleased.size > MAX_UNLISTED_JOBS) this.unreleased.delete(jobId);
      this.logger.debug(`could not make job ${jobId} runnable: ${(error as Error).message}`);
    }
  }

  private async promote(jobId: string): Promise<void> {
    try {
      await this.queue.backend.promote(jobId);
    } catch {
      const state = await this.queue.getJobState(jobId);
      // Already runnable or running (a stalled attempt coming back): it keeps the lease.
      if (state === 'failed' || state === 'unknown') {
        await this.store.finish(jobId, { kind: 'final' });
      } else if (state === 'completed') {
        // Its process died between recording the completion and ending the lease.
        const job = await this.queue.getJob(jobId);
        await this.store.finish(jobId, { kind: 'final', tokens: tokensOf(job?.returnvalue) });
      }
    }
  }
}

/** The tokens a completed job's result records (see `InferenceJobResult`). */
export function tokensOf(result: unknown): number {
  const tokens = (result as { totalTokens?: unknown } | null | undefined)?.totalTokens;
  return typeof tokens === 'number' && Number.isFinite(tokens) ? tokens : 0;
}
