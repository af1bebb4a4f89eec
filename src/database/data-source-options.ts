import type { DataSourceOptions } from 'typeorm';
import { AdminSession } from '../admins/admin-session.entity.js';
import { AdminUser } from '../admins/admin-user.entity.js';
import { AuditEntry } from '../audit/audit-entry.entity.js';
import { ApiKey } from '../tenants/api-key.entity.js';
import { Tenant } from '../tenants/tenant.entity.js';
import { WebhookDelivery } from '../webhooks/webhook-delivery.entity.js';
import { WebhookEndpoint } from '../webhooks/webhook-endpoint.entity.js';
import { InitialSchema1764100000000 } from './migrations/1764100000000-initial-schema.js';
import { LimitCounters1764100001000 } from './migrations/1764100001000-limit-counters.js';
import { LimitAdmitFunction1764100002000 } from './migrations/1764100002000-limit-admit-function.js';
import { AdminAccounts1795630886537 } from './migrations/1795630886537-admin-accounts.js';
import { AdminSignInAttempts1795640906700 } from './migrations/1795640906700-admin-sign-in-attempts.js';
import { FairDispatch1796000000000 } from './migrations/1796000000000-fair-dispatch.js';
import { AuditLog1796000100000 } from './migrations/1796000100000-audit-log.js';
import { SignInThrottle1796000300000 } from './migrations/1796000300000-sign-in-throttle.js';
import { FilesAndBatches1796000400000 } from './migrations/1796000400000-files-and-batches.js';
import { Webhooks1796000200000 } from './migrations/1796000200000-webhooks.js';
import { IdempotencyKeys1796000201000 } from './migrations/1796000201000-idempotency-keys.js';
import { DispatchClaim1796000500000 } from './migrations/1796000500000-dispatch-claim.js';
import { TokenReservations1796000600000 } from './migrations/1796000600000-token-reservations.js';
import { DeadLetterCap1796000700000 } from './migrations/1796000700000-dead-letter-cap.js';
import { AdmitOneSnapshot1796000800000 } from './migrations/1796000800000-admit-one-snapshot.js';

/** TypeORM options shared by the app and `ormconfig.ts`; the schema comes only from migrations. */
export function buildDataSourceOptions(url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: [
      Tenant,
      ApiKey,
      AdminUser,
      AdminSession,
      WebhookEndpoint,
      WebhookDelivery,
      AuditEntry,
    ],
    migrations: [
      InitialSchema1764100000000,
      LimitCounters1764100001000,
      LimitAdmitFunction1764100002000,
      AdminAccounts1795630886537,
      AdminSignInAttempts1795640906700,
      FairDispatch1796000000000,
      AuditLog1796000100000,
      SignInThrottle1796000300000,
      FilesAndBatches1796000400000,
      Webhooks1796000200000,
      IdempotencyKeys1796000201000,
      DispatchClaim1796000500000,
      TokenReservations1796000600000,
      DeadLetterCap1796000700000,
      AdmitOneSnapshot1796000800000,
    ],
    // One transaction per migration run, so a failed start leaves no half-applied schema.
    migrationsTransactionMode: 'all',
    synchronize: false,
    extra: { max: 10, connectionTimeoutMillis: 5_000 },
  };
}
