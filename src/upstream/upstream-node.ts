import { createHash } from 'node:crypto';
import { Pool } from 'undici';
import { NodeHealth } from './node-health.js';

export type UpstreamProvider = 'bus' | 'pistachio';

/** One backend node: where it is, how much stake it has, its pools and its health. */
export class UpstreamNode {
  /**
   * Stable across instances and restarts, and free of the URL's credentials: names the node in
   * the dispatcher's shared state and in metrics.
   */
  readonly id: string;
  readonly pool: Pool;
  /** Health probes get their own connection, so a node busy with long calls still answers them. */
  readonly probePool: Pool;
  readonly health = new NodeHealth();
  /** The base URL's path (`/v1`), prefixed to every request path. */
  private readonly basePath: string;

  constructor(
    readonly provider: UpstreamProvider,
    /** Base URL including the API version, e.g. `http://10.0.0.5:8000/v1`. */
    readonly url: string,
    readonly stake: number,
    /** Requests it takes at once, across all instances. */
    readonly maxInflight: number,
    private readonly apiKey: string | undefined,
  ) {
    this.id = `${provider}-${createHash('sha256').update(url).digest('hex').slice(0, 12)}`;
    const parsed = new URL(url);
    this.basePath = parsed.pathname.replace(/\/+$/, '');
    this.pool = new Pool(parsed.origin, {
      // Never fewer connections than the places the dispatcher may hand out at this node.
      connections: Math.max(maxInflight, 16),
      keepAliveTimeout: 30_000,
      // Each request carries its own deadline; the pool must not impose another.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    this.probePool = new Pool(parsed.origin, {
      connections: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /** Healthy and, as far as its last probe says, serving `model`. */
  isEligible(model: string): boolean {
    return this.health.isHealthy && this.health.serves(model);
  }

  path(suffix: string): string {
    return `${this.basePath}${suffix}`;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...(this.apiKey && { authorization: `Bearer ${this.apiKey}` }),
      ...extra,
    };
  }

  async close(): Promise<void> {
    await Promise.all([
      this.pool.close().catch(() => undefined),
      // A probe may be hanging on a dead node; there is nothing to wait for.
      this.probePool.destroy().catch(() => undefined),
    ]);
  }
}
