import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { stakeWeightedOrder } from './stake-order.js';
import { UpstreamNode, type UpstreamProvider } from './upstream-node.js';

export const PISTACHIO_MODEL_PREFIX = 'pistachio/';

/** Where a model's requests go: the nodes to try, in order, and the model name they know. */
export interface UpstreamRoute {
  provider: UpstreamProvider;
  /** The model as the backend knows it (`pistachio/x` → `x`). */
  upstreamModel: string;
  nodes: UpstreamNode[];
}

/** The configured backends, described as data. */
@Injectable()
export class UpstreamRegistry implements OnApplicationShutdown {
  readonly busNodes: readonly UpstreamNode[];
  readonly pistachio: UpstreamNode | undefined;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const { busNodes, busApiKey, pistachioUrl, pistachioApiKey } = config.upstream;
    this.busNodes = busNodes.map(
      (node) => new UpstreamNode('bus', node.url, node.stake, busApiKey),
    );
    this.pistachio = pistachioUrl
      ? new UpstreamNode('pistachio', pistachioUrl, 1, pistachioApiKey)
      : undefined;
  }

  /** The route for `model`: Pistachio for `pistachio/…`, else the bus nodes in stake order. */
  route(model: string): UpstreamRoute {
    if (model.startsWith(PISTACHIO_MODEL_PREFIX)) {
      return {
        provider: 'pistachio',
        upstreamModel: model.slice(PISTACHIO_MODEL_PREFIX.length),
        nodes: this.pistachio ? [this.pistachio] : [],
      };
    }
    return { provider: 'bus', upstreamModel: model, nodes: stakeWeightedOrder(this.busNodes) };
  }

  async onApplicationShutdown(): Promise<void> {
    const nodes = this.pistachio ? [...this.busNodes, this.pistachio] : this.busNodes;
    await Promise.all(nodes.map((node) => node.pool.close().catch(() => undefined)));
  }
}
