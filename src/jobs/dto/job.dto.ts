import { z } from 'zod';

/** `GET /v1/results/:id`, as `API.md` spells it. */
export const JobResponseSchema = z.object({
  id: z.uuid(),
  object: z.literal('chat.completion.job'),
  status: z.enum(['queued', 'processing', 'complete', 'dead', 'cancelled', 'expired']),
  model: z.string(),
  created_at: z.number().int(),
  started_at: z.number().int().nullable(),
  completed_at: z.number().int().nullable(),
  retries: z.number().int(),
  next_retry_at: z
    .number()
    .int()
    .nullable()
    .describe('unix seconds of the next attempt, while waiting to retry'),
  queue_position: z
    .number()
    .int()
    .nullable()
    .describe("1 + the tenant's jobs dispatched before it, while it waits for a slot"),
  expires_at: z
    .number()
    .int()
    .nullable()
    .describe('unix seconds of the Cancel-After deadline, when one was set'),
  error: z.string().nullable(),
  result: z
    .record(z.string(), z.unknown())
    .nullable()
    .describe("the backend's chat completion, verbatim"),
});

export const QueuedResponseSchema = z.object({
  id: z.uuid(),
  status: z.literal('queued'),
  poll: z.string(),
});

export const DeadLetterSchema = JobResponseSchema.extend({
  tenant_id: z.uuid(),
  request: z.record(z.string(), z.unknown()).describe("the client's request, verbatim"),
});

export const DeadLetterListSchema = z.object({
  object: z.literal('list'),
  data: z.array(DeadLetterSchema),
  next_cursor: z.string().nullable().describe('pass as `cursor` for the next page'),
});

export const JobDeletedSchema = z.object({ id: z.uuid(), deleted: z.literal(true) });
