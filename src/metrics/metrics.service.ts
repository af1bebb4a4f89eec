import { Inject, Injectable } from '@nestjs/common';
import { timingSafeEqual, createHash } from 'node:crypto';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';

/** How a job ended, as the `status` label of `infq_jobs_finished_total` spells it. */
export type JobFinalStatus = 'complete' | 'dead' | 'cancelled' | 'expired';
const JOB_FINAL_STATUSES: readonly JobFinalStatus[] = ['complete', 'dead', 'cancelled', 'expired'];

/** A backend node as metrics label it. `UpstreamNode` fits. */
export interface MetricsNode {
  readonly provider: string;
  readonly url: string;
}

/** One tenant's open jobs, as a tenant gauge source reports them. */
export interface TenantJobCounts {
  /** The tenant's name (unique), used as the `tenant` label. */
  tenant: string;
  /** Accepted, not final and not at a backend. */
  queued: number;
  /** At a backend right now (streams included). */
  running: number;
}

/** Reads every tenant's open jobs at scrape time. */
export type TenantGaugeSource = () => Promise<readonly TenantJobCounts[]>;

// HTTP answers range from microseconds (health) to SYNC_WAIT_MAX_S (600 s waits).
const HTTP_BUCKETS_S = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];
// One backend attempt: a short completion to UPSTREAM_TIMEOUT_MS (120 s by default).
const NODE_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300];

/**
 * Every `infq_` Prometheus series of this process, in its own registry (several apps may share
 * one process in tests). Counters are fed through the methods below; gauges that mirror state
 * elsewhere (queue depth, node health, tenant jobs) are read when `/metrics` is scraped.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly tokenDigest: Buffer | undefined;
  private readonly tenantSources: TenantGaugeSource[] = [];
  private readonly nodeCapacity = new Map<string, { node: MetricsNode; max: number }>();
  private readonly httpSeries = new Map<
    string,
    {
      requests: ReturnType<MetricsService['httpRequests']['labels']>;
      duration: ReturnType<MetricsService['httpDuration']['labels']>;
    }
  >();

  private readonly httpRequests = new Counter({
    name: 'infq_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly httpDuration = new Histogram({
    name: 'infq_http_request_duration_seconds',
    help: 'Time from request received to response sent, by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: HTTP_BUCKETS_S,
    registers: [this.registry],
  });
  private readonly jobsAccepted = new Counter({
    name: 'infq_jobs_accepted_total',
    help: 'Chat completion jobs accepted into the queue',
    registers: [this.registry],
  });
  private readonly jobsFinished = new Counter({
    name: 'infq_jobs_finished_total',
    help: 'Jobs that reached a final state, by status (complete, dead, cancelled, expired)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  private readonly jobsRetried = new Counter({
    name: 'infq_jobs_retried_total',
    help: 'Failed attempts that were scheduled for a retry',
    registers: [this.registry],
  });
  private readonly jobsRequeued = new Counter({
    name: 'infq_jobs_requeued_total',
    help: 'Dead jobs requeued by an admin',
    registers: [this.registry],
  });
  private readonly nodeDuration = new Histogram({
    name: 'infq_node_request_duration_seconds',
    help: 'Duration of successful backend calls, by provider and node',
    labelNames: ['provider', 'node'] as const,
    buckets: NODE_BUCKETS_S,
    registers: [this.registry],
  });
  private readonly nodeErrors = new Counter({
    name: 'infq_node_errors_total',
    help: 'Backend calls that failed because of the node (no answer, timeout, 5xx, 408, 429), by kind',
    labelNames: ['provider', 'node', 'kind'] as const,
    registers: [this.registry],
  });
  private readonly webhookDeliveries = new Counter({
    name: 'infq_webhook_deliveries_total',
    help: 'Webhook delivery attempts, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly nodeCapacityGauge: Gauge<'provider' | 'node'> = new Gauge({
    name: 'infq_node_capacity',
    help: 'Requests a node takes at once (its max), by provider and node',
    labelNames: ['provider', 'node'] as const,
    registers: [this.registry],
    collect: () => {
      this.nodeCapacityGauge.reset();
      for (const { node, max } of this.nodeCapacity.values()) {
        this.nodeCapacityGauge.labels(node.provider, nodeLabel(node)).set(max);
      }
    },
  });
  private readonly tenantJobs: Gauge<'tenant' | 'state'> = new Gauge({
    name: 'infq_tenant_jobs',
    help: "Each tenant's open jobs, by state (queued: waiting for a slot or a retry; running: at a backend)",
    labelNames: ['tenant', 'state'] as const,
    registers: [this.registry],
    collect: async () => {
      // A source that cannot answer (database down) leaves its tenants out of this scrape.
      const reports = await Promise.all(
        this.tenantSources.map((source) => source().catch(() => [])),
      );
      this.tenantJobs.reset();
      for (const counts of reports.flat()) {
        this.tenantJobs.labels(counts.tenant, 'queued').set(counts.queued);
        this.tenantJobs.labels(counts.tenant, 'running').set(counts.running);
      }
    },
  });

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.tokenDigest = config.metricsToken ? digest(config.metricsToken) : undefined;
    for (const status of JOB_FINAL_STATUSES) this.jobsFinished.labels(status).inc(0);
    collectDefaultMetrics({ register: this.registry, prefix: 'infq_' });
  }

  /** The Prometheus text exposition of every series. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Refuses a scrape without the `METRICS_TOKEN` bearer token, when one is configured. */
  authorize(authorization: string | undefined): void {
    if (!this.tokenDigest) return;
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (!presented) {
      throw new AppError(
        ErrorCode.Unauthorized,
        'Metrics: send "Authorization: Bearer $METRICS_TOKEN"',
      );
    }
    if (!timingSafeEqual(digest(presented), this.tokenDigest)) {
      throw new AppError(ErrorCode.Unauthorized, 'Invalid metrics token');
    }
  }

  /** One HTTP answer; `route` is the route pattern (`/v1/results/:id`), never the raw URL. */
  httpRequestObserved(method: string, route: string, status: number, seconds: number): void {
    // The labelled series, looked up once per (method, route, status): prom-client hashes the
    // labels on every `labels()` call.
    const key = `${method} ${route} ${status}`;
    let series = this.httpSeries.get(key);
    if (!series) {
      series = {
        requests: this.httpRequests.labels(method, route, String(status)),
        duration: this.httpDuration.labels(method, route),
      };
      this.httpSeries.set(key, series);
    }
    series.requests.inc();
    series.duration.observe(seconds);
  }

  /** Jobs were accepted into the queue (any mode that queues one). */
  jobAccepted(count = 1): void {
    this.jobsAccepted.inc(count);
  }

  /** A job reached a final state. Call once per job, where the state is written. */
  jobFinished(status: JobFinalStatus): void {
    this.jobsFinished.labels(status).inc();
  }

  /** A failed attempt was scheduled for another try. */
  jobRetried(): void {
    this.jobsRetried.inc();
  }

  /** An admin requeued a dead job. */
  jobRequeued(): void {
    this.jobsRequeued.inc();
  }

  /** A backend call ended: successful ones feed the latency histogram, failed ones the errors. */
  nodeCallObserved(node: MetricsNode, seconds: number, ok: true): void;
  nodeCallObserved(node: MetricsNode, seconds: number, ok: false, kind: string): void;
  nodeCallObserved(node: MetricsNode, seconds: number, ok: boolean, kind = 'unknown'): void {
    if (ok) this.nodeDuration.labels(node.provider, nodeLabel(node)).observe(seconds);
    else this.nodeErrors.labels(node.provider, nodeLabel(node), kind).inc();
  }

  /** The most requests `node` takes at once, shown as `infq_node_capacity`. */
  setNodeCapacity(node: MetricsNode, max: number): void {
    this.nodeCapacity.set(`${node.provider} ${node.url}`, { node, max });
  }

  /** Adds a reader of per-tenant queued and running jobs, called at every scrape. */
  registerTenantGaugeSource(source: TenantGaugeSource): void {
    this.tenantSources.push(source);
  }

  /** A webhook delivery attempt ended (e.g. `delivered`, `failed`, `retrying`, `dead`). */
  webhookDelivered(outcome: string): void {
    this.webhookDeliveries.labels(outcome).inc();
  }
}

/** A node's URL without credentials, as its `node` label. */
export function nodeLabel(node: MetricsNode): string {
  try {
    const url = new URL(node.url);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/+$/, '');
  } catch {
    return node.url;
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
