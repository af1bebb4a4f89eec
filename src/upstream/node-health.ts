import type { UpstreamFailure } from './upstream-failure.js';

/** Consecutive failures (probes or live calls) after which a node stops receiving traffic. */
export const UNHEALTHY_AFTER_FAILURES = 3;
/** The window of the recent error rate, latency and throughput figures. */
export const RECENT_WINDOW_MS = 60_000;
// Enough samples for a busy node's last minute without unbounded memory.
const MAX_SAMPLES = 2_000;

/** How one call to a node ended, as far as the node's health is concerned. */
export type CallOutcome =
  | { ok: true; latencyMs: number }
  | { ok: false; failure: UpstreamFailure }
  /** The caller gave up (client cancel or disconnect): says nothing about the node. */
  | { ok: 'abandoned' };

export type HealthTransition = 'became_healthy' | 'became_unhealthy' | undefined;

export interface NodeHealthSnapshot {
  healthy: boolean;
  consecutiveFailures: number;
  /** Models from the last successful probe; null until one has answered. */
  models: string[] | null;
  inFlight: number;
  recent: {
    windowS: number;
    requests: number;
    errors: number;
    /** errors / requests, null with no requests in the window. */
    errorRate: number | null;
    /** Mean latency of successful calls in the window, null without any. */
    latencyMs: number | null;
  };
  lastProbe: { at: number; ok: boolean; latencyMs: number; error: string | null } | null;
  lastError: { at: number; message: string } | null;
}

interface Sample {
  at: number;
  ok: boolean;
  latencyMs: number;
}

/**
 * Whether a failed call says the node itself is down: no answer at all. A node that answers,
 * even with a 5xx, is reachable; the retry policy deals with its answer.
 */
export function isNodeDownFailure(failure: UpstreamFailure): boolean {
  return failure.kind === 'connection' || failure.kind === 'timeout';
}

/** Whether a failed call counts in the node's error rate (a client's bad request does not). */
export function isNodeError(failure: UpstreamFailure): boolean {
  if (failure.kind !== 'http') return failure.kind !== 'no_upstream';
  return failure.status >= 500 || failure.status === 408 || failure.status === 429;
}

/**
 * One node's health as seen from this process: healthy until `UNHEALTHY_AFTER_FAILURES`
 * consecutive failures from probes or live calls, healthy again only on a successful probe.
 * Also keeps the node's model list and recent call figures. Pure: the clock is passed in.
 */
export class NodeHealth {
  private healthy = true;
  private consecutiveFailures = 0;
  private knownModels: ReadonlySet<string> | undefined;
  private probed = false;
  private inFlight = 0;
  private samples: Sample[] = [];
  private lastProbe: NodeHealthSnapshot['lastProbe'] = null;
  private lastError: NodeHealthSnapshot['lastError'] = null;
  private readonly callEndListeners: ((outcome: CallOutcome) => void)[] = [];

  get isHealthy(): boolean {
    return this.healthy;
  }

  /** Whether a probe has ever finished, answered or not. */
  get hasBeenProbed(): boolean {
    return this.probed;
  }

  /** The models of the last successful probe; undefined until one has answered. */
  get models(): ReadonlySet<string> | undefined {
    return this.knownModels;
  }

  /** Whether the node may serve `model`: yes while its model list is not yet known. */
  serves(model: string): boolean {
    return this.knownModels === undefined || this.knownModels.has(model);
  }

  recordProbeSuccess(models: readonly string[], latencyMs: number, now: number): HealthTransition {
    this.probed = true;
    this.knownModels = new Set(models);
    this.lastProbe = { at: now, ok: true, latencyMs, error: null };
    this.consecutiveFailures = 0;
    if (this.healthy) return undefined;
    this.healthy = true;
    return 'became_healthy';
  }

  recordProbeFailure(message: string, latencyMs: number, now: number): HealthTransition {
    this.probed = true;
    this.lastProbe = { at: now, ok: false, latencyMs, error: message };
    this.lastError = { at: now, message: `probe: ${message}` };
    return this.countFailure();
  }

  /** Calls `listener` with the outcome of every call that ends (metrics). */
  onCallEnd(listener: (outcome: CallOutcome) => void): void {
    this.callEndListeners.push(listener);
  }

  recordCallStart(): void {
    this.inFlight += 1;
  }

  recordCallEnd(outcome: CallOutcome, now: number): HealthTransition {
    this.inFlight = Math.max(0, this.inFlight - 1);
    for (const listener of this.callEndListeners) listener(outcome);
    if (outcome.ok === 'abandoned') return undefined;
    if (outcome.ok) {
      this.addSample({ at: now, ok: true, latencyMs: outcome.latencyMs });
      this.consecutiveFailures = 0;
      return undefined;
    }
    const { failure } = outcome;
    if (isNodeError(failure)) {
      this.addSample({ at: now, ok: false, latencyMs: 0 });
      this.lastError = { at: now, message: failure.message };
    }
    return isNodeDownFailure(failure) ? this.countFailure() : undefined;
  }

  snapshot(now: number): NodeHealthSnapshot {
    const recent = this.samples.filter((sample) => now - sample.at <= RECENT_WINDOW_MS);
    const successes = recent.filter((sample) => sample.ok);
    const errors = recent.length - successes.length;
    const latencyTotal = successes.reduce((sum, sample) => sum + sample.latencyMs, 0);
    return {
      healthy: this.healthy,
      consecutiveFailures: this.consecutiveFailures,
      models: this.knownModels ? [...this.knownModels].sort() : null,
      inFlight: this.inFlight,
      recent: {
        windowS: RECENT_WINDOW_MS / 1000,
        requests: recent.length,
        errors,
        errorRate: recent.length > 0 ? errors / recent.length : null,
        latencyMs: successes.length > 0 ? Math.round(latencyTotal / successes.length) : null,
      },
      lastProbe: this.lastProbe,
      lastError: this.lastError,
    };
  }

  private countFailure(): HealthTransition {
    this.consecutiveFailures += 1;
    if (!this.healthy || this.consecutiveFailures < UNHEALTHY_AFTER_FAILURES) return undefined;
    this.healthy = false;
    return 'became_unhealthy';
  }

  private addSample(sample: Sample): void {
    this.samples.push(sample);
    if (this.samples.length > MAX_SAMPLES) this.samples = this.samples.slice(-MAX_SAMPLES / 2);
  }
}
