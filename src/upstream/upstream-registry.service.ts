import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { CallOutcome, HealthTransition } from './node-health.js';
import { stakeWeightedOrder } from './stake-order.js';
import { labelUpstreamNodes, type UpstreamFailure } from './upstream-failure.js';
import { UpstreamNode, type UpstreamProvider } from './upstream-node.js';
import type { DispatchNode } from '../dispatch/dispatch-store.js';
import { redactCredentials } from '../config/redact-credentials.js';

/** A node as the dispatcher's store sees it. */
export function toDispatchNode(node: UpstreamNode): DispatchNode {
  const models = node.health.models;
  return {
    id: node.id,
    provider: node.provider,
    max: node.maxInflight,
    stake: node.stake,
    healthy: node.health.isHealthy,
    models: models ? [...models] : null,
  };
}

export const PISTACHIO_MODEL_PREFIX = 'pistachio/';

/** Where a model's requests go: the nodes to try, in order, and the model name they know. */
export interface UpstreamRoute {
  provider: UpstreamProvider;
  /** The model as the backend knows it (`pistachio/x` → `x`). */
  upstreamModel: string;
  /** Healthy nodes serving the model, in stake-weighted random order; empty when there is none. */
  nodes: UpstreamNode[];
  /** Why `nodes` is empty, for the `no_upstream_available` message; undefined when it is not. */
  unavailableReason?: string;
}

/**
 * One call to a node, counted in its in-flight figure until it ends. End it exactly once with its
 * outcome (later ends are ignored): failures with no answer count towards marking the node down.
 */
export interface NodeCall {
  succeed(): void;
  fail(failure: UpstreamFailure): void;
  /** The caller gave up (client cancel or disconnect); says nothing about the node. */
  abandon(): void;
}

const NODE_UNHEALTHY_EVENT = 'unhealthy';

/** The configured backends, described as data, with their health; routing chooses among them. */
@Injectable()
export class UpstreamRegistry implements OnApplicationShutdown {
  readonly busNodes: readonly UpstreamNode[];
  readonly pistachio: UpstreamNode | undefined;
  private readonly logger = new Logger(UpstreamRegistry.name);
  private readonly events = new EventEmitter();

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const { busNodes, busApiKey, pistachioUrl, pistachioApiKey } = config.upstream;
    this.busNodes = busNodes.map(
      (node) => new UpstreamNode('bus', node.url, node.stake, node.maxInflight, busApiKey),
    );
    // Tenants see these names in job errors, never a node's URL.
    labelUpstreamNodes([
      ...busNodes.map((node, index) => ({ url: node.url, label: `bus node ${index + 1}` })),
      ...(pistachioUrl ? [{ url: pistachioUrl, label: 'pistachio' }] : []),
    ]);
    this.pistachio = pistachioUrl
      ? new UpstreamNode(
          'pistachio',
          pistachioUrl,
          1,
          config.upstream.pistachioMaxInflight,
          pistachioApiKey,
        )
      : undefined;
  }

  /** Every configured node: the bus nodes, then Pistachio. */
  get nodes(): readonly UpstreamNode[] {
    return this.pistachio ? [...this.busNodes, this.pistachio] : this.busNodes;
  }

  /**
   * The route for `model`: Pistachio for `pistachio/…` (prefix removed), else the healthy bus
   * nodes that serve it, ordered by stake-weighted draws. Each call draws a new order.
   */
  route(model: string): UpstreamRoute {
    if (model.startsWith(PISTACHIO_MODEL_PREFIX)) {
      const upstreamModel = model.slice(PISTACHIO_MODEL_PREFIX.length);
      const pistachio = this.pistachio;
      if (!pistachio) {
        return {
          provider: 'pistachio',
          upstreamModel,
          nodes: [],
          unavailableReason: 'Pistachio is not configured',
        };
      }
      if (!pistachio.isEligible(upstreamModel)) {
        const reason = pistachio.health.isHealthy
          ? `Pistachio does not serve model ${upstreamModel}`
          : 'Pistachio is unhealthy';
        return { provider: 'pistachio', upstreamModel, nodes: [], unavailableReason: reason };
      }
      return { provider: 'pistachio', upstreamModel, nodes: [pistachio] };
    }
    const eligible = this.busNodes.filter((node) => node.isEligible(model));
    if (eligible.length > 0) {
      return { provider: 'bus', upstreamModel: model, nodes: stakeWeightedOrder(eligible) };
    }
    const healthy = this.busNodes.filter((node) => node.health.isHealthy).length;
    const reason =
      this.busNodes.length === 0
        ? 'no Inference Bus node is configured'
        : `no healthy Inference Bus node serves model ${model} (${healthy} of ${this.busNodes.length} nodes healthy)`;
    return { provider: 'bus', upstreamModel: model, nodes: [], unavailableReason: reason };
  }

  /** Every node as the dispatcher sees it (it draws among those with room by stake). */
  dispatchNodes(): DispatchNode[] {
    return this.nodes.map(toDispatchNode);
  }

  /** Starts counting a call to `node`; its outcome feeds the node's health and figures. */
  startCall(node: UpstreamNode): NodeCall {
    const startedAt = Date.now();
    let ended = false;
    node.health.recordCallStart();
    const end = (outcome: CallOutcome): void => {
      if (ended) return;
      ended = true;
      this.apply(node, node.health.recordCallEnd(outcome, Date.now()));
    };
    return {
      succeed: () => end({ ok: true, latencyMs: Date.now() - startedAt }),
      fail: (failure) => end({ ok: false, failure }),
      abandon: () => end({ ok: 'abandoned' }),
    };
  }

  recordProbeSuccess(node: UpstreamNode, models: readonly string[], latencyMs: number): void {
    this.apply(node, node.health.recordProbeSuccess(models, latencyMs, Date.now()));
  }

  recordProbeFailure(node: UpstreamNode, message: string, latencyMs: number): void {
    this.apply(node, node.health.recordProbeFailure(message, latencyMs, Date.now()));
  }

  /** Calls `listener` whenever a node turns unhealthy; returns the unsubscribe function. */
  onNodeUnhealthy(listener: (node: UpstreamNode) => void): () => void {
    this.events.on(NODE_UNHEALTHY_EVENT, listener);
    return () => this.events.off(NODE_UNHEALTHY_EVENT, listener);
  }

  async onApplicationShutdown(): Promise<void> {
    this.events.removeAllListeners();
    await Promise.all(this.nodes.map((node) => node.close()));
  }

  private apply(node: UpstreamNode, transition: HealthTransition): void {
    if (transition === 'became_unhealthy') {
      const { consecutiveFailures, lastError } = node.health.snapshot(Date.now());
      this.logger.warn({
        msg: 'node unhealthy after failures in a row',
        ...nodeFields(node),
        consecutiveFailures,
        lastError: lastError?.message ?? 'unknown',
      });
      this.events.emit(NODE_UNHEALTHY_EVENT, node);
    } else if (transition === 'became_healthy') {
      this.logger.log({ msg: 'node answered its probe: healthy again', ...nodeFields(node) });
    }
  }
}

/** A node in log lines: its id and its URL without credentials. */
function nodeFields(node: UpstreamNode): { provider: string; node: string; url: string } {
  return { provider: node.provider, node: node.id, url: redactCredentials(node.url) };
}
