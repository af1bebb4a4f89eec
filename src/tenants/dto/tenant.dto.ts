import { z } from 'zod';
import { TenantStatus } from '../tenant.entity.js';

const positiveInteger = z.number().int().positive().max(2_147_483_647);

export const TenantLimitsSchema = z.strictObject({
  rpm: positiveInteger.optional(),
  tokens_per_day: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  max_concurrent: positiveInteger.optional(),
  max_queued: positiveInteger.optional(),
});

const weight = z.number().int().min(1).max(1000);

export const TenantCreateSchema = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]*$/, 'letters, digits, space and _.- only'),
  limits: TenantLimitsSchema.optional(),
  weight: weight.optional(),
});
export type TenantCreateDto = z.infer<typeof TenantCreateSchema>;

export const TenantUpdateSchema = z.strictObject({
  limits: TenantLimitsSchema.optional(),
  weight: weight.optional(),
  status: z.enum([TenantStatus.Active, TenantStatus.Suspended]).optional(),
});
export type TenantUpdateDto = z.infer<typeof TenantUpdateSchema>;

export const TenantUsageSchema = z.object({
  requests_this_minute: z.number().int(),
  tokens_today: z.number().int(),
  tokens_reserved: z
    .number()
    .int()
    .describe('tokens held by open jobs and streams until they end (their worst case)'),
  open_jobs: z.number().int().describe('jobs at a backend now plus open streams'),
  queued_jobs: z
    .number()
    .int()
    .describe('accepted jobs waiting for a slot or for their next retry'),
});
export type TenantUsageDto = z.infer<typeof TenantUsageSchema>;

export const TenantResponseSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  status: z.enum([TenantStatus.Active, TenantStatus.Suspended]),
  limits: z.object({
    rpm: z.number().int(),
    tokens_per_day: z.number().int(),
    max_concurrent: z.number().int(),
    max_queued: z.number().int(),
  }),
  weight: z.number().int(),
  created_at: z.number().int().describe('unix seconds'),
  usage: TenantUsageSchema.optional().describe("today's usage (UTC day, sliding minute)"),
});
export type TenantResponseDto = z.infer<typeof TenantResponseSchema>;

export const TenantListSchema = z.object({
  object: z.literal('list'),
  data: z.array(TenantResponseSchema),
});
