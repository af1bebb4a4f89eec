import { Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { DataSource } from 'typeorm';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import { ClusterNotifications } from '../database/cluster-notifications.js';
import { runsApi, type AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { JobsService, type QueueCounts } from '../jobs/jobs.service.js';
import { RedisPolicyCheck } from '../redis-policy/redis-policy.service.js';
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
// A queue store that answered this recently but is slow now (under load) is busy, not down: its
// last counts stand in. One that refuses (an error, not a timeout) is down at once.
const SLOW_COUNTS_GRACE_MS = 10_000;
export const VERSION = '0.1.0';

/** `GET /health/ready` when ready. */
export interface ReadinessReport {
  status: 'ready';
  database: 'ok' | 'down';
  queue: 'ok' | 'down';
  http: 'ok' | 'down' | 'not_applicable';
}

interface DependencyCheck {
  counts: QueueCounts | undefined;
  database: 'ok' | 'down';
}

@Injectable()
export class HealthService {
  private readonly startedAt = Date.now();
  private cached: { at: number; check: Promise<DependencyCheck> } | undefined;
  private lastCounts: { at: number; counts: QueueCounts } | undefined;

  constructor(
    private readonly jobs: JobsService,
    private readonly dataSource: DataSource,
    private readonly upstreams: UpstreamRegistry,
    @Inject(QUEUE_BACKEND) private readonly backend: QueueBackend,
    private readonly httpAdapterHost: HttpAdapterHost,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redisPolicy: RedisPolicyCheck,
    private readonly notifications: ClusterNotifications,
  ) {}

  /**
   * Whether this process can serve: the database and the queue store answer and, for the API
   * roles, the HTTP server is listening (it stops at shutdown). Throws a 503 naming what is not.
   */
  async ready(): Promise<ReadinessReport> {
    const { counts, database } = await this.dependencies();
    const queue = counts === undefined ? 'down' : 'ok';
    const http = !runsApi(this.config)
      ? 'not_applicable'
      : (this.httpAdapterHost.httpAdapter.getHttpServer() as Server).listening
        ? 'ok'
        : 'down';
    const down = Object.entries({ database, queue, http })
      .filter(([, state]) => state === 'down')
      .map(([name]) => name);
    if (down.length > 0) {
      throw new AppError(ErrorCode.ServiceUnavailable, `Not ready: ${down.join(', ')} down`, {
        retryAfterS: 1,
      });
    }
    return { status: 'ready', database, queue, http };
  }

  async report(): Promise<HealthReport> {
    const { counts, database } = await this.dependencies();
    const upstreams = this.upstreamSummary();
    const down = database === 'down' || counts === undefined;
    // A configured pool with no healthy node: jobs for it wait for their retries.
    // Or a Redis without AOF: a restart of it can lose accepted jobs.
    const degraded =
      (upstreams.bus.nodes > 0 && upstreams.bus.healthy === 0) ||
      (upstreams.pistachio.configured && !upstreams.pistachio.healthy) ||
      this.redisPolicy.isDegrading();
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

  private dependencies(): Promise<DependencyCheck> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > CHECK_TTL_MS) {
      this.cached = { at: now, check: this.checkDependencies() };
    }
    return this.cached.check;
  }

  private async checkDependencies(): Promise<DependencyCheck> {
    const [counts, database] = await Promise.all([this.queueCounts(), this.databaseState()]);
    return { counts, database };
  }

  private async queueCounts(): Promise<QueueCounts | undefined> {
    try {
      const counts = await withTimeout(this.jobs.counts());
      this.lastCounts = { at: Date.now(), counts };
      return counts;
    } catch (error) {
      const recent =
        this.lastCounts && Date.now() - this.lastCounts.at < SLOW_COUNTS_GRACE_MS
          ? this.lastCounts.counts
          : undefined;
      return error === PROBE_TIMED_OUT ? recent : undefined;
    }
  }

  /**
   * The notification listener's own connection answers a ping several times a second: while it
   * does, the database is up, however busy the shared pool is. Otherwise the pool is asked.
   */
  private async databaseState(): Promise<'ok' | 'down'> {
    if (this.notifications.isListening) return 'ok';
    return withTimeout(this.dataSource.query('SELECT 1')).then(
      () => 'ok' as const,
      () => 'down' as const,
    );
  }
}

const PROBE_TIMED_OUT = new Error('timeout');

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(PROBE_TIMED_OUT), PROBE_TIMEOUT_MS).unref(),
    ),
  ]);
}
