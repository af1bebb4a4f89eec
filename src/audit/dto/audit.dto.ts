import { z } from 'zod';

/** One audit log entry on the wire. */
export const AuditEntryResponseSchema = z.object({
  id: z.string().describe('ascending with time; also the paging cursor'),
  object: z.literal('audit_entry'),
  created_at: z.number().int().describe('Unix seconds'),
  actor: z.string().describe('admin email, `token` (ADMIN_TOKEN) or `cli`'),
  action: z.string().describe('e.g. `tenant.created`, `key.revoked`, `admin.sign_in_failed`'),
  object_type: z.string(),
  object_id: z.string(),
  tenant_id: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  address: z.string().nullable(),
});
export type AuditEntryResponseDto = z.infer<typeof AuditEntryResponseSchema>;

/** `GET /admin/api/audit`. */
export const AuditListSchema = z.object({
  object: z.literal('list'),
  data: z.array(AuditEntryResponseSchema),
  next_cursor: z.string().nullable().describe('pass as `cursor` for the next page'),
});
export type AuditListDto = z.infer<typeof AuditListSchema>;
