/**
 * The dispatcher's shared state, one implementation per store (Redis Lua, PostgreSQL functions);
 * both pass the same conformance table (`dispatch-store.conformance.ts`).
 *
 * A job is, for the dispatcher: pending (admitted, not yet in the queue), waiting in its tenant's
 * list (ready, FIFO by submission), waiting for its retry time, or running under a lease that
 * holds one tenant slot and one node place. Streams hold a lease too. An admitted job holds its
 * token reservation until it ends; a stream until its lease ends.
 */

/** A backend node as the dispatcher sees it; the same on every instance except health. */
export interface DispatchNode {
  /** Stable id derived from the node's URL (never the URL: it may carry credentials). */
  id: string;
  provider: 'bus' | 'pistachio';
  /** Requests it takes at once across all instances. */
  max: number;
  /** Routing weight: among nodes with room, one is drawn with probability stake / total. */
  stake: number;
  healthy: boolean;
  /** Models it serves, or null while its catalogue is unknown (it may serve any). */
  models: readonly string[] | null;
}

/** The tenant settings the dispatcher needs, refreshed on every admission and enqueue. */
export interface DispatchTenant {
  tenantId: string;
  maxConcurrent: number;
  weight: number;
}

/** One job handed to a worker: it now holds a lease on `node` ('' when no node serves it). */
export interface Assignment {
  jobId: string;
  tenantId: string;
  node: string;
}

/** How an attempt ended, for the dispatcher. */
export type AttemptEnd =
  /** `tokens`: what the job used, charged once (a completed job's, after it was recorded). */
  { kind: 'final'; tokens?: number } | { kind: 'retry'; dueAt: number };

export interface DispatchLoad {
  nodes: Record<string, number>;
  tenants: Record<string, { queued: number; running: number }>;
}

/** Whose load to read: stores that cannot list their keys cheaply read only these. */
export interface LoadScope {
  nodeIds: readonly string[];
  tenantIds: readonly string[];
}

/** Which waiting list a job joins: the tenant's own, or its batch list (interactive work first). */
export type JobLane = 'interactive' | 'batch';

export const queueName = (tenantId: string, lane: JobLane): string =>
  lane === 'batch' ? `${tenantId}#b` : tenantId;

/** A job's listing as both stores take it: job, tenant, list, model, max concurrent, weight. */
export function listingArgs(
  jobId: string,
  tenant: DispatchTenant,
  lane: JobLane,
  model: string,
): [string, string, string, string, number, number] {
  return [
    jobId,
    tenant.tenantId,
    queueName(tenant.tenantId, lane),
    model,
    tenant.maxConcurrent,
    tenant.weight,
  ];
}

/** The nodes as the store scripts read them. */
export function nodesJson(nodes: readonly DispatchNode[]): string {
  return JSON.stringify(
    nodes.map((node) => ({
      id: node.id,
      p: node.provider,
      max: node.max,
      s: node.stake,
      ok: node.healthy,
      m: node.models,
    })),
  );
}

/** A job to list: its id and the model it asks for. */
export interface ListedJob {
  jobId: string;
  model: string;
}

export interface DispatchStore {
  /**
   * Puts a job that is durably in the queue into its tenant's waiting list (idempotent: a job
   * already waiting or leased stays where it is). With `force`, a leased job gives its lease
   * back and waits again at its original place.
   */
  enqueue(
    jobId: string,
    tenant: DispatchTenant,
    lane: JobLane,
    model: string,
    force: boolean,
  ): Promise<void>;
  /** `enqueue` (without `force`) for several jobs of one tenant's lane, in one round trip. */
  enqueueMany(jobs: readonly ListedJob[], tenant: DispatchTenant, lane: JobLane): Promise<void>;
  /**
   * The fast path for a job about to be added to the queue: when no list waits and no retry is
   * due, the tenant has a free slot and a node serving the model has room, the job takes its
   * lease now (and is added runnable). Returns the node ('' when none serves the model), or null:
   * the job is added parked and joins its list with `enqueue`.
   */
  claim(
    jobId: string,
    tenant: DispatchTenant,
    lane: JobLane,
    model: string,
    nodes: readonly DispatchNode[],
    leaseMs: number,
  ): Promise<string | null>;
  /** Hands out up to `limit` jobs, fairly, where a tenant slot and a node place are free. */
  dispatch(nodes: readonly DispatchNode[], limit: number, leaseMs: number): Promise<Assignment[]>;
  /** The node of the job's lease, refreshed; null when the job holds no lease. */
  begin(jobId: string, leaseMs: number): Promise<string | null>;
  /** Keeps leases (jobs or streams) alive. */
  heartbeat(leaseIds: readonly string[], leaseMs: number): Promise<void>;
  /** Moves a running job's lease to the first of `nodes` with room; null when none has. */
  moveLease(jobId: string, nodes: readonly DispatchNode[]): Promise<string | null>;
  /**
   * Ends an attempt: frees the lease; a retry waits until `dueAt`, a final job is forgotten and
   * its tokens charged (once: a job the store no longer knows is not charged again). Resolves
   * whether jobs wait in any list (if none, the freed place needs no round).
   */
  finish(jobId: string, end: AttemptEnd): Promise<boolean>;
  /** A place for a stream (already admitted with a lease) at the first of `nodes` with room. */
  placeStream(streamId: string, nodes: readonly DispatchNode[]): Promise<string | null>;
  /**
   * Ends a stream: frees its lease and its reservation and charges its tokens; undefined tokens
   * (it ended before its usage chunk) charge its reservation.
   */
  releaseStream(tenantId: string, streamId: string, tokens: number | undefined): Promise<void>;
  /** 1 + the jobs ahead of it in its tenant's waiting list; null when it is not waiting there. */
  queuePosition(tenantId: string, lane: JobLane, jobId: string): Promise<number | null>;
  /** Jobs per node and per tenant, for the given ids (others may be left out). */
  load(scope: LoadScope): Promise<DispatchLoad>;
  /** Jobs waiting for their retry time, all tenants. */
  retryingCount(): Promise<number>;
}
