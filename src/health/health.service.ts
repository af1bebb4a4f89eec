import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { JobsService, type QueueCounts } from '../jobs/jobs.service.js';
import { QUEUE_BACKEND } from '../jobs/job-events.service.js';
import type { QueueBackend, QueueBackendName } from '../jobs/queue-backend.js';
import { UpstreamRegistry } from '../upstream/upstream-registry.service.js';

export interface HealthReport {
  status: 'ok' | 'degraded' | 'down';
  version: string;
  uptime_s: number;
  queue: { backend: QueueBackendName } & Partial<QueueCounts>;
  database: 'ok' | 'down';
  upstreams: {
    bus: { nodes: number; healthy: number };
    pistachio: { configured: boolean; healthy: boolean };
  };
}

// Pollers may hit /health every second from many places: one database and queue check serves
// them all this long. Node state is read from memory on every call.
const CHECK_TTL_MS = 500;
const PROBE_TIMEOUT_MS = 2_000;
export const VERSION = '0.1.0';

interface DependencyCheck {
  counts: QueueCounts | undefined;
  database: 'ok' | 'down';
}

@Injectable()
export class HealthService {
  private readonly startedAt = Date.now();
  private cached: { at: number; check: Promise<DependencyCheck> } | undefined;

  constructor(
    private readonly jobs: JobsService,
    private readonly dataSource: DataSource,
    private readonly upstreams: UpstreamRegistry,
    @Inject(QUEUE_BACKEND) private readonly backend: QueueBackend,
  ) {}

  async report(): Promise<HealthReport> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > CHECK_TTL_MS) {
      this.cached = { at: now, check: this.checkDependencies() };
    }
    const { counts, database } = await this.cached.check;
    const upstreams = this.upstreamSummary();
    const down = database === 'down' || counts === undefined;
    // A configured pool with no healthy node: jobs for it wait for their retries.
    const degraded =
      (upstreams.bus.nodes > 0 && upstreams.bus.healthy === 0) ||
      (upstreams.pistachio.configured && !upstreams.pistachio.healthy);
    return {
      status: down ? 'down' : degraded ? 'degraded' : 'ok',
      version: VERSION,
      uptime_s: Math.floor((Date.now() - this.startedAt) / 1000),
      queue: { backend: this.backend.name, ...counts },
      database,
      upstreams,
    };
  }

  private upstreamSummary(): HealthReport['upstreams'] {
    const { busNodes, pistachio } = this.upstreams;
    return {
      bus: {
        nodes: busNodes.length,
        healthy: busNodes.filter((node) => node.health.isHealthy).length,
      },
      pistachio: {
        configured: pistachio !== undefined,
        healthy: pistachio?.health.isHealthy ?? false,
      },
    };
  }

  private async checkDependencies(): Promise<DependencyCheck> {
    const [counts, database] = await Promise.all([
      withTimeout(this.jobs.counts()).catch(() => undefined),
      withTimeout(this.dataSource.query('SELECT 1')).then(
        () => 'ok' as const,
        () => 'down' as const,
      ),
    ]);
    return { counts, database };
  }
}

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('timeout')), PROBE_TIMEOUT_MS).unref(),
    ),
  ]);
}
