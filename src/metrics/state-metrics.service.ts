import { Injectable, type OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { JobsService } from '../jobs/jobs.service.js';
import { isNodeError } from '../upstream/node-health.js';
import { UpstreamRegistry } from '../upstream/upstream-registry.service.js';
import { MetricsService, nodeLabel } from './metrics.service.js';

/**
 * Series that mirror state kept elsewhere, read at scrape time: queue depth by state, and each
 * node's in-flight calls and health. Also feeds every node's capacity and call outcomes to
 * `MetricsService`.
 */
@Injectable()
export class StateMetricsService implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly jobs: JobsService,
    private readonly upstreams: UpstreamRegistry,
  ) {}

  onModuleInit(): void {
    const { registry } = this.metrics;
    const jobs = this.jobs;
    new Gauge({
      name: 'infq_queue_jobs',
      help: 'Jobs in the queue store, by state (queued, processing, retrying, complete, dead)',
      labelNames: ['state'] as const,
      registers: [registry],
      async collect() {
        // The store unreachable: the series is left out of this scrape rather than failing it.
        const counts = await jobs.counts().catch(() => undefined);
        this.reset();
        for (const [state, count] of Object.entries(counts ?? {})) {
          if (typeof count === 'number') this.labels(state).set(count);
        }
      },
    });
    const nodes = this.upstreams.nodes;
    new Gauge({
      name: 'infq_node_in_flight',
      help: 'Calls this process has at each node right now, by provider and node',
      labelNames: ['provider', 'node'] as const,
      registers: [registry],
      collect() {
        const now = Date.now();
        for (const node of nodes) {
          this.labels(node.provider, nodeLabel(node)).set(node.health.snapshot(now).inFlight);
        }
      },
    });
    new Gauge({
      name: 'infq_node_healthy',
      help: 'Whether this process considers each node healthy (1) or not (0)',
      labelNames: ['provider', 'node'] as const,
      registers: [registry],
      collect() {
        for (const node of nodes) {
          this.labels(node.provider, nodeLabel(node)).set(node.health.isHealthy ? 1 : 0);
        }
      },
    });
    for (const node of nodes) {
      this.metrics.setNodeCapacity(node, node.maxInflight);
      node.health.onCallEnd((outcome) => {
        if (outcome.ok === true) {
          this.metrics.nodeCallObserved(node, outcome.latencyMs / 1000, true);
        } else if (outcome.ok === false && isNodeError(outcome.failure)) {
          this.metrics.nodeCallObserved(node, 0, false, outcome.failure.kind);
        }
      });
    }
  }
}
