import type { AdminPrincipal } from '../auth/admin-principal.js';
import type { AdminUser } from './admin-user.entity.js';
import type { AdminSessionResponseDto, AdminUserResponseDto } from './dto/admin-session.dto.js';

const unixSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

export function toAdminSessionResponse(principal: AdminPrincipal): AdminSessionResponseDto {
  if (principal.via === 'token') {
    return { via: 'token', admin: null, csrf_token: null, expires_at: null };
  }
  return {
    via: 'session',
    admin: { id: principal.adminId, email: principal.email },
    csrf_token: principal.csrfToken,
    expires_at: unixSeconds(principal.expiresAt),
  };
}

export function toAdminUserResponse(admin: AdminUser): AdminUserResponseDto {
  return {
    id: admin.id,
    email: admin.email,
    created_at: unixSeconds(admin.createdAt),
    last_sign_in_at: admin.lastSignInAt ? unixSeconds(admin.lastSignInAt) : null,
  };
}
