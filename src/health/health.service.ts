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

// Pollers may hit /health every second from many places: one report serves them all this long.
const REPORT_TTL_MS = 500;
const PROBE_TIMEOUT_MS = 2_000;
export const VERSION = '0.1.0';

@Injectable()
export class HealthService {
  private readonly startedAt = Date.now();
  private cached: { at: number; report: Promise<HealthReport> } | undefined;

  constructor(
    private readonly jobs: JobsService,
    private readonly dataSource: DataSource,
    private readonly upstreams: UpstreamRegistry,
    @Inject(QUEUE_BACKEND) private readonly backend: QueueBackend,
  ) {}

  report(): Promise<HealthReport> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > REPORT_TTL_MS) {
      this.cached = { at: now, report: this.build() };
    }
    return this.cached.report;
  }

  private async build(): Promise<HealthReport> {
    const [counts, database] = await Promise.all([
      withTimeout(this.jobs.counts()).catch(() => undefined),
      withTimeout(this.dataSource.query('SELECT 1')).then(
        () => 'ok' as const,
        () => 'down' as const,
      ),
    ]);
    const busNodes = this.upstreams.busNodes.length;
    const busHealthy = busNodes;
    const pistachio = this.upstreams.pistachio !== undefined;
    const down = database === 'down' || counts === undefined;
    const degraded = busNodes > 0 && busHealthy === 0;
    return {
      status: down ? 'down' : degraded ? 'degraded' : 'ok',
      version: VERSION,
      uptime_s: Math.floor((Date.now() - this.startedAt) / 1000),
      queue: { backend: this.backend.name, ...counts },
      database,
      upstreams: {
        bus: { nodes: busNodes, healthy: busHealthy },
        pistachio: { configured: pistachio, healthy: pistachio },
      },
    };
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
