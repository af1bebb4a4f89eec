/** Every action the audit log records; values are what `GET /admin/api/audit` shows. */
export enum AuditAction {
  TenantCreated = 'tenant.created',
  TenantUpdated = 'tenant.updated',
  KeyIssued = 'key.issued',
  KeyRevoked = 'key.revoked',
  DeadLetterRequeued = 'dead_letter.requeued',
  JobDeleted = 'job.deleted',
  WebhookCreated = 'webhook.created',
  WebhookUpdated = 'webhook.updated',
  WebhookDeleted = 'webhook.deleted',
  AdminSignedIn = 'admin.signed_in',
  AdminSignInFailed = 'admin.sign_in_failed',
}

/** Who did it and from where: an admin's email, `token` for `ADMIN_TOKEN`, `cli` for the CLI. */
export interface AuditActor {
  readonly actor: string;
  /** The client's address; null outside HTTP (the CLI). */
  readonly address: string | null;
}

/** The CLI runs on the host with database access: it is recorded as `cli`. */
export const CLI_ACTOR: AuditActor = { actor: 'cli', address: null };

/** One audit record, as modules hand it to `AuditService.record`. */
export interface AuditRecord {
  readonly by: AuditActor;
  readonly action: AuditAction;
  /** What kind of object changed: `tenant`, `api_key`, `job`, `webhook`, `admin`. */
  readonly objectType: string;
  readonly objectId: string;
  readonly tenantId?: string | null;
  /** What changed; never a secret (no key, token or password). */
  readonly details?: Record<string, unknown>;
}
