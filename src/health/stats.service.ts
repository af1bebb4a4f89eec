import { Injectable } from '@nestjs/common';
import { DispatchService } from '../dispatch/dispatch.service.js';
import { RECENT_WINDOW_MS } from '../upstream/node-health.js';
import type { UpstreamNode } from '../upstream/upstream-node.js';
import { UpstreamRegistry } from '../upstream/upstream-registry.service.js';
import type { NodeStatsDto, StatsResponseDto } from './dto/stats.dto.js';
import { HealthService } from './health.service.js';

/** The admin view: queue counts, this instance's throughput and every node's state. */
@Injectable()
export class StatsService {
  constructor(
    private readonly health: HealthService,
    private readonly upstreams: UpstreamRegistry,
    private readonly dispatch: DispatchService,
  ) {}

  async report(): Promise<StatsResponseDto> {
    const [health, load] = await Promise.all([this.health.report(), this.dispatch.load()]);
    const now = Date.now();
    const nodes = this.upstreams.nodes.map((node) =>
      toNodeStats(node, now, load.nodes[node.id] ?? 0),
    );
    const errors = sum(nodes.map((node) => node.recent.errors));
    const completions = sum(nodes.map((node) => node.recent.requests)) - errors;
    const windowS = RECENT_WINDOW_MS / 1000;
    return {
      status: health.status,
      queue: health.queue,
      throughput: {
        window_s: windowS,
        completions,
        errors,
        completions_per_s: Math.round((completions / windowS) * 100) / 100,
      },
      upstreams: health.upstreams,
      nodes,
      tenants: Object.entries(load.tenants)
        .filter(([, counts]) => counts.queued + counts.running > 0)
        .map(([id, counts]) => ({ id, ...counts })),
    };
  }
}

function toNodeStats(node: UpstreamNode, now: number, inFlight: number): NodeStatsDto {
  const snapshot = node.health.snapshot(now);
  const { recent, lastProbe, lastError } = snapshot;
  return {
    provider: node.provider,
    url: node.url,
    healthy: snapshot.healthy,
    stake: node.stake,
    models: snapshot.models,
    in_flight: inFlight,
    capacity: node.maxInflight,
    consecutive_failures: snapshot.consecutiveFailures,
    recent: {
      window_s: recent.windowS,
      requests: recent.requests,
      errors: recent.errors,
      error_rate: recent.errorRate === null ? null : Math.round(recent.errorRate * 1000) / 1000,
      latency_ms: recent.latencyMs,
    },
    last_probe: lastProbe && {
      at: Math.floor(lastProbe.at / 1000),
      ok: lastProbe.ok,
      latency_ms: lastProbe.latencyMs,
      error: lastProbe.error,
    },
    last_error: lastError && { at: Math.floor(lastError.at / 1000), message: lastError.message },
  };
}

const sum = (values: number[]): number => values.reduce((total, value) => total + value, 0);
