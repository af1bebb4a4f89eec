import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { ModelsClient } from './models.client.js';
import { describeNetworkError } from './upstream-failure.js';
import type { UpstreamNode } from './upstream-node.js';
import { UpstreamRegistry } from './upstream-registry.service.js';

// A probe that takes longer than this is a failure, however long the interval.
const MAX_PROBE_TIMEOUT_MS = 5_000;
const MIN_PROBE_TIMEOUT_MS = 250;

/**
 * Probes every node's `GET /models` in the background, every `UPSTREAM_PROBE_INTERVAL_MS`: the
 * answer is the node's model list and its health signal. Nothing waits on a probe.
 */
@Injectable()
export class UpstreamProbeService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly running = new Map<UpstreamNode, AbortController>();
  private readonly timeoutMs: number;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly registry: UpstreamRegistry,
    private readonly client: ModelsClient,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const interval = config.upstream.probeIntervalMs;
    this.timeoutMs = Math.min(MAX_PROBE_TIMEOUT_MS, Math.max(interval, MIN_PROBE_TIMEOUT_MS));
  }

  onApplicationBootstrap(): void {
    if (this.registry.nodes.length === 0) return;
    // A node that live traffic found down is checked again at once, not a whole interval later.
    this.unsubscribe = this.registry.onNodeUnhealthy((node) => void this.probe(node));
    void this.probeAll();
    this.timer = setInterval(() => void this.probeAll(), this.config.upstream.probeIntervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.unsubscribe?.();
    for (const controller of this.running.values()) controller.abort();
  }

  /** Probes every node once (a node whose previous probe is still running is skipped). */
  async probeAll(): Promise<void> {
    await Promise.all(this.registry.nodes.map((node) => this.probe(node)));
  }

  private async probe(node: UpstreamNode): Promise<void> {
    if (this.stopped || this.running.has(node)) return;
    const controller = new AbortController();
    this.running.set(node, controller);
    const startedAt = Date.now();
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(this.timeoutMs)]);
    try {
      const models = await this.client.list(node, signal);
      if (!this.stopped) this.registry.recordProbeSuccess(node, models, Date.now() - startedAt);
    } catch (error) {
      if (this.stopped) return;
      const message = signal.aborted
        ? `no answer within ${this.timeoutMs} ms`
        : describeNetworkError(error);
      this.registry.recordProbeFailure(node, message, Date.now() - startedAt);
    } finally {
      this.running.delete(node);
    }
  }
}
