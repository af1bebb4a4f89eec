import { Pool } from 'undici';

export type UpstreamProvider = 'bus' | 'pistachio';

/** One backend node: where it is, how much stake it has, and its keep-alive pool. */
export class UpstreamNode {
  readonly pool: Pool;
  /** The base URL's path (`/v1`), prefixed to every request path. */
  private readonly basePath: string;

  constructor(
    readonly provider: UpstreamProvider,
    /** Base URL including the API version, e.g. `http://10.0.0.5:8000/v1`. */
    readonly url: string,
    readonly stake: number,
    private readonly apiKey: string | undefined,
  ) {
    const parsed = new URL(url);
    this.basePath = parsed.pathname.replace(/\/+$/, '');
    this.pool = new Pool(parsed.origin, {
      connections: 256,
      keepAliveTimeout: 30_000,
      // Each request carries its own deadline; the pool must not impose another.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
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
}
