import { z } from 'zod';

const count = z.number().int();

export const HealthStatusSchema = z.enum(['ok', 'degraded', 'down']);

/** `GET /health`, as `API.md` spells it. */
export const HealthResponseSchema = z.object({
  status: HealthStatusSchema.describe('`down` answers 503'),
  version: z.string(),
  uptime_s: count,
  queue: z.object({
    backend: z.enum(['redis', 'postgres']),
    queued: count.optional(),
    processing: count.optional(),
    retrying: count.optional(),
    complete: count.optional(),
    dead: count.optional(),
  }),
  database: z.enum(['ok', 'down']),
  upstreams: z.object({
    bus: z.object({ nodes: count, healthy: count }),
    pistachio: z.object({ configured: z.boolean(), healthy: z.boolean() }),
  }),
});
