import { Injectable } from '@nestjs/common';
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
  ) {}

  async report(): Promise<StatsResponseDto> {
    const health = await this.health.report();
    const now = Date.now();
    const nodes = this.upstreams.nodes.map((node) => toNodeStats(node, now));
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
    };
  }
}

function toNodeStats(node: UpstreamNode, now: number): NodeStatsDto {
  const snapshot = node.health.snapshot(now);
  const { recent, lastProbe, lastError } = snapshot;
  return {
    provider: node.provider,
    url: node.url,
    healthy: snapshot.healthy,
    stake: node.stake,
    models: snapshot.models,
    in_flight: snapshot.inFlight,
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
