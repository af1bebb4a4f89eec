import type { DataSourceOptions } from 'typeorm';
import { AdminSession } from '../admins/admin-session.entity.js';
import { AdminUser } from '../admins/admin-user.entity.js';
import { ApiKey } from '../tenants/api-key.entity.js';
import { Tenant } from '../tenants/tenant.entity.js';
import { InitialSchema1764100000000 } from './migrations/1764100000000-initial-schema.js';
import { LimitCounters1764100001000 } from './migrations/1764100001000-limit-counters.js';
import { LimitAdmitFunction1764100002000 } from './migrations/1764100002000-limit-admit-function.js';
import { AdminAccounts1795630886537 } from './migrations/1795630886537-admin-accounts.js';
import { AdminSignInAttempts1795640906700 } from './migrations/1795640906700-admin-sign-in-attempts.js';

/** TypeORM options shared by the app and `ormconfig.ts`; the schema comes only from migrations. */
export function buildDataSourceOptions(url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: [Tenant, ApiKey, AdminUser, AdminSession],
    migrations: [
      InitialSchema1764100000000,
      LimitCounters1764100001000,
      LimitAdmitFunction1764100002000,
      AdminAccounts1795630886537,
      AdminSignInAttempts1795640906700,
    ],
    // One transaction per migration run, so a failed start leaves no half-applied schema.
    migrationsTransactionMode: 'all',
    synchronize: false,
    extra: { max: 10, connectionTimeoutMillis: 5_000 },
  };
}
