import type { AuditEntry } from './audit-entry.entity.js';
import type { AuditEntryResponseDto } from './dto/audit.dto.js';

export const toAuditEntryResponse = (entry: AuditEntry): AuditEntryResponseDto => ({
  id: entry.id,
  object: 'audit_entry',
  created_at: Math.floor(entry.createdAt.getTime() / 1000),
  actor: entry.actor,
  action: entry.action,
  object_type: entry.objectType,
  object_id: entry.objectId,
  tenant_id: entry.tenantId,
  details: entry.details,
  address: entry.address,
});
