import { z } from 'zod';

export const ApiKeyCreateSchema = z.strictObject({
  name: z.string().trim().min(1).max(100).default('default'),
});
export type ApiKeyCreateDto = z.infer<typeof ApiKeyCreateSchema>;

export interface ApiKeyResponseDto {
  id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** Only answer that ever carries the key itself. */
export interface ApiKeyCreatedDto extends ApiKeyResponseDto {
  key: string;
}
