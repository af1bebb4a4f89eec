import { z } from 'zod';
import { TenantStatus } from '../tenant.entity.js';

const positiveInteger = z.number().int().positive().max(2_147_483_647);

export const TenantLimitsSchema = z.strictObject({
  rpm: positiveInteger.optional(),
  tokens_per_day: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  max_concurrent: positiveInteger.optional(),
});

export const TenantCreateSchema = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]*$/, 'letters, digits, space and _.- only'),
  limits: TenantLimitsSchema.optional(),
});
export type TenantCreateDto = z.infer<typeof TenantCreateSchema>;

export const TenantUpdateSchema = z.strictObject({
  limits: TenantLimitsSchema.optional(),
  status: z.enum([TenantStatus.Active, TenantStatus.Suspended]).optional(),
});
export type TenantUpdateDto = z.infer<typeof TenantUpdateSchema>;

export interface TenantLimitsDto {
  rpm: number;
  tokens_per_day: number;
  max_concurrent: number;
}

export interface TenantResponseDto {
  id: string;
  name: string;
  status: TenantStatus;
  limits: TenantLimitsDto;
  created_at: number;
  usage?: TenantUsageDto;
}

export interface TenantUsageDto {
  requests_this_minute: number;
  tokens_today: number;
  open_jobs: number;
}
