import { z } from 'zod';

const nullableNumber = z.number().nullable();

export const NodeStatsSchema = z.object({
  provider: z.enum(['bus', 'pistachio']),
  url: z.string(),
  healthy: z.boolean(),
  stake: z.number(),
  /** From the node's last successful probe; null until one has answered. */
  models: z.array(z.string()).nullable(),
  in_flight: z.number().int(),
  consecutive_failures: z.number().int(),
  recent: z.object({
    window_s: z.number().int(),
    requests: z.number().int(),
    errors: z.number().int(),
    error_rate: nullableNumber.describe('errors / requests; null without requests'),
    latency_ms: nullableNumber.describe('mean latency of successful calls'),
  }),
  last_probe: z
    .object({
      at: z.number().int().describe('unix seconds'),
      ok: z.boolean(),
      latency_ms: z.number().int(),
      error: z.string().nullable(),
    })
    .nullable(),
  last_error: z
    .object({ at: z.number().int().describe('unix seconds'), message: z.string() })
    .nullable(),
});
export type NodeStatsDto = z.infer<typeof NodeStatsSchema>;

export const StatsResponseSchema = z.object({
  status: z.enum(['ok', 'degraded', 'down']),
  queue: z.object({
    backend: z.enum(['redis', 'postgres']),
    queued: z.number().int().optional(),
    processing: z.number().int().optional(),
    retrying: z.number().int().optional(),
    complete: z.number().int().optional(),
    dead: z.number().int().optional(),
  }),
  throughput: z
    .object({
      window_s: z.number().int(),
      completions: z.number().int(),
      errors: z.number().int(),
      completions_per_s: z.number(),
    })
    .describe('backend calls made by this instance in the last window_s seconds'),
  upstreams: z.object({
    bus: z.object({ nodes: z.number().int(), healthy: z.number().int() }),
    pistachio: z.object({ configured: z.boolean(), healthy: z.boolean() }),
  }),
  nodes: z.array(NodeStatsSchema),
});
export type StatsResponseDto = z.infer<typeof StatsResponseSchema>;
