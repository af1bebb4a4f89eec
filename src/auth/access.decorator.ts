import { SetMetadata } from '@nestjs/common';

/** Who may call an endpoint; the global AccessGuard refuses endpoints that declare none. */
export enum Access {
  Public = 'public',
  Tenant = 'tenant',
  Admin = 'admin',
}

export const ACCESS_METADATA = 'infq:access';

/** Open to anyone (health, docs). */
export const PublicAccess = () => SetMetadata(ACCESS_METADATA, Access.Public);
/** Needs a tenant `inf_` key. */
export const TenantAccess = () => SetMetadata(ACCESS_METADATA, Access.Tenant);
/** Needs the admin token or an admin session; tenant keys never pass. */
export const AdminAccess = () => SetMetadata(ACCESS_METADATA, Access.Admin);
