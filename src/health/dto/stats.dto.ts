import { z } from 'zod';
import { HealthResponseSchema, HealthStatusSchema } from './health.dto.js';

const nullableNumber = z.number().nullable();

export const NodeStatsSchema = z.object({
  provider: z.enum(['bus', 'pistachio']),
  url: z.string(),
  healthy: z.boolean(),
  stake: z.number(),
  /** From the node's last successful probe; null until one has answered. */
  models: z.array(z.string()).nullable(),
  in_flight: z.number().int().describe('requests at the node now, from all instances'),
  capacity: z.number().int().describe('requests the node takes at once (`URL=STAKE:MAX`)'),
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

// Status, queue counts and pool summary are the same figures `/health` shows.
const { queue, upstreams } = HealthResponseSchema.shape;

export const StatsResponseSchema = z.object({
  status: HealthStatusSchema,
  queue,
  throughput: z
    .object({
      window_s: z.number().int(),
      completions: z.number().int(),
      errors: z.number().int(),
      completions_per_s: z.number(),
    })
    .describe('backend calls made by this instance in the last window_s seconds'),
  upstreams,
  nodes: z.array(NodeStatsSchema),
  tenants: z
    .array(
      z.object({
        id: z.uuid(),
        queued: z.number().int().describe('jobs waiting for a slot or for their retry time'),
        running: z.number().int().describe('jobs at a backend plus open streams'),
      }),
    )
    .describe('tenants with queued or running work'),
});
export type StatsResponseDto = z.infer<typeof StatsResponseSchema>;
