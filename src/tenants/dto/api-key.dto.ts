import { z } from 'zod';

export const ApiKeyCreateSchema = z.strictObject({
  name: z.string().trim().min(1).max(100).default('default'),
});
export type ApiKeyCreateDto = z.infer<typeof ApiKeyCreateSchema>;

export const ApiKeyResponseSchema = z.object({
  id: z.uuid(),
  tenant_id: z.uuid(),
  name: z.string(),
  prefix: z.string().describe('the first characters of the key, safe to show'),
  created_at: z.number().int(),
  last_used_at: z.number().int().nullable(),
  revoked_at: z.number().int().nullable(),
});
export type ApiKeyResponseDto = z.infer<typeof ApiKeyResponseSchema>;

/** Only answer that ever carries the key itself. */
export const ApiKeyCreatedSchema = ApiKeyResponseSchema.extend({
  key: z.string().describe('inf_…: shown only in this answer'),
});
export type ApiKeyCreatedDto = z.infer<typeof ApiKeyCreatedSchema>;

export const ApiKeyListSchema = z.object({
  object: z.literal('list'),
  data: z.array(ApiKeyResponseSchema),
});
