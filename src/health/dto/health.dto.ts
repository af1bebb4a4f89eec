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

/** `GET /health/live`: the process runs. */
export const LivenessResponseSchema = z.object({ status: z.literal('live') });

const CheckSchema = z.enum(['ok', 'down']);

/** `GET /health/ready` when everything this process needs can serve (else 503, error shape). */
export const ReadinessResponseSchema = z.object({
  status: z.literal('ready'),
  database: CheckSchema,
  queue: CheckSchema,
  http: z.enum(['ok', 'down', 'not_applicable']).describe('`not_applicable` for MODE=worker'),
});
