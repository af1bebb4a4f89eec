import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { Health, Stats } from '../../api/types';
import { adminApi, ApiError, apiRequest } from '../../lib/api-client';

export const REFRESH_MS = 2000;

export interface NodeView {
  url: string;
  provider?: string;
  healthy?: boolean;
  stake?: number;
  models?: string[] | null;
  /** Requests at the node now, from all instances, and how many it takes at once. */
  inFlight?: number;
  capacity?: number;
  errorRate?: number | null;
  latencyMs?: number | null;
  lastError?: string | null;
}

/** What the overview shows; every part is optional so an older or newer server still renders. */
export interface Overview {
  source: 'stats' | 'health';
  status: 'ok' | 'degraded' | 'down' | 'unknown';
  queue: Partial<Record<QueueState, number>> & { backend?: string };
  throughput?: { windowS: number; completions: number; errors: number; perSecond: number };
  bus?: { nodes: number; healthy: number };
  pistachio?: { configured: boolean; healthy: boolean };
  nodes?: NodeView[];
  tenants?: TenantLoadView[];
}

/** A tenant with work: jobs waiting for their turn (or retry time), and jobs running now. */
export interface TenantLoadView {
  id: string;
  queued?: number;
  running?: number;
}

export type QueueState = 'queued' | 'processing' | 'retrying' | 'complete' | 'dead';

/** Queue, throughput and node health, refreshed every 2 s; falls back to /health without stats. */
export function useOverview() {
  return useQuery({
    queryKey: ['overview'],
    queryFn: async (): Promise<Overview> => {
      try {
        return fromStats(await apiRequest<Stats>('GET', adminApi('/stats')));
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 404) throw error;
        return fromHealth(await apiRequest<Health>('GET', '/health'));
      }
    },
    refetchInterval: REFRESH_MS,
    staleTime: 0,
  });
}

/** The last `size` values of `value`, one per refresh, for a sparkline. */
export function useHistory(value: number | undefined, tick: number, size = 45): number[] {
  const [history, setHistory] = useState<number[]>([]);
  useEffect(() => {
    if (value === undefined) return;
    setHistory((current) => [...current.slice(-(size - 1)), value]);
  }, [value, tick, size]);
  return history;
}

type Loose = Record<string, unknown>;
const asObject = (value: unknown): Loose | undefined =>
  value && typeof value === 'object' ? (value as Loose) : undefined;
const asNumber = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;
const asStatus = (value: unknown): Overview['status'] =>
  value === 'ok' || value === 'degraded' || value === 'down' ? value : 'unknown';

function queueOf(raw: unknown): Overview['queue'] {
  const queue = asObject(raw) ?? {};
  return {
    backend: typeof queue.backend === 'string' ? queue.backend : undefined,
    queued: asNumber(queue.queued),
    processing: asNumber(queue.processing),
    retrying: asNumber(queue.retrying),
    complete: asNumber(queue.complete),
    dead: asNumber(queue.dead),
  };
}

function upstreamsOf(raw: unknown): Pick<Overview, 'bus' | 'pistachio'> {
  const upstreams = asObject(raw) ?? {};
  const bus = asObject(upstreams.bus);
  const pistachio = asObject(upstreams.pistachio);
  return {
    bus:
      bus && asNumber(bus.nodes) !== undefined
        ? { nodes: asNumber(bus.nodes)!, healthy: asNumber(bus.healthy) ?? 0 }
        : undefined,
    pistachio: pistachio
      ? { configured: pistachio.configured === true, healthy: pistachio.healthy === true }
      : undefined,
  };
}

function nodeOf(raw: unknown): NodeView | undefined {
  const node = asObject(raw);
  if (!node || typeof node.url !== 'string') return undefined;
  // Per-node figures may sit under `recent` or at the top level, depending on the server.
  const recent = asObject(node.recent) ?? node;
  const lastError = asObject(node.last_error);
  return {
    url: node.url,
    provider: typeof node.provider === 'string' ? node.provider : undefined,
    healthy: typeof node.healthy === 'boolean' ? node.healthy : undefined,
    stake: asNumber(node.stake),
    models: Array.isArray(node.models)
      ? node.models.filter((model): model is string => typeof model === 'string')
      : node.models === null
        ? null
        : undefined,
    inFlight: asNumber(node.in_flight),
    capacity: asNumber(node.capacity),
    errorRate: recent.error_rate === null ? null : asNumber(recent.error_rate),
    latencyMs:
      recent.latency_ms === null ? null : (asNumber(recent.latency_ms) ?? asNumber(node.latency)),
    lastError: typeof lastError?.message === 'string' ? lastError.message : null,
  };
}

function tenantLoadOf(raw: unknown): TenantLoadView | undefined {
  const tenant = asObject(raw);
  if (!tenant || typeof tenant.id !== 'string') return undefined;
  return { id: tenant.id, queued: asNumber(tenant.queued), running: asNumber(tenant.running) };
}

function fromStats(stats: Stats): Overview {
  const raw = stats as unknown as Loose;
  const throughput = asObject(raw.throughput);
  const windowS = asNumber(throughput?.window_s);
  const completions = asNumber(throughput?.completions);
  return {
    source: 'stats',
    status: asStatus(raw.status),
    queue: queueOf(raw.queue),
    throughput:
      windowS !== undefined && completions !== undefined
        ? {
            windowS,
            completions,
            errors: asNumber(throughput?.errors) ?? 0,
            perSecond: asNumber(throughput?.completions_per_s) ?? completions / windowS,
          }
        : undefined,
    ...upstreamsOf(raw.upstreams),
    nodes: Array.isArray(raw.nodes)
      ? raw.nodes.map(nodeOf).filter((node): node is NodeView => node !== undefined)
      : undefined,
    tenants: Array.isArray(raw.tenants)
      ? raw.tenants
          .map(tenantLoadOf)
          .filter((tenant): tenant is TenantLoadView => tenant !== undefined)
      : undefined,
  };
}

function fromHealth(health: Health): Overview {
  const raw = health as unknown as Loose;
  return {
    source: 'health',
    status: asStatus(raw.status),
    queue: queueOf(raw.queue),
    ...upstreamsOf(raw.upstreams),
  };
}
