import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Strategy } from 'passport-custom';
import { readSessionCookie } from '../admins/admin-session-cookie.js';
import { AdminSessionsService } from '../admins/admin-sessions.service.js';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import type { AdminPrincipal } from './admin-principal.js';

export const ADMIN_SESSION_STRATEGY = 'admin-session';
export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Passport strategy for the dashboard's session cookie. State changes must also carry the
 * session's CSRF token in `X-CSRF-Token`, which another site's page cannot read or send.
 */
@Injectable()
export class AdminSessionStrategy extends PassportStrategy(Strategy, ADMIN_SESSION_STRATEGY) {
  constructor(private readonly sessions: AdminSessionsService) {
    super();
  }

  async validate(request: FastifyRequest): Promise<AdminPrincipal> {
    const token = readSessionCookie(request);
    if (!token) {
      throw new AppError(
        ErrorCode.Unauthorized,
        'Admin API: sign in to the dashboard, or send "Authorization: Bearer $ADMIN_TOKEN"',
      );
    }
    let live;
    try {
      live = await this.sessions.resolve(token);
    } catch (error) {
      throw new AppError(ErrorCode.ServiceUnavailable, 'Database unreachable', {
        retryAfterS: 1,
        cause: error,
      });
    }
    if (!live) {
      throw new AppError(ErrorCode.Unauthorized, 'Your session has ended; sign in again');
    }
    const { session, admin } = live;
    if (!SAFE_METHODS.has(request.method)) {
      const presented = request.headers[CSRF_HEADER];
      if (typeof presented !== 'string' || !sameSecret(presented, session.csrfToken)) {
        throw new AppError(
          ErrorCode.CsrfTokenInvalid,
          `Missing or wrong ${CSRF_HEADER} header: send the csrf_token of GET /admin/api/session`,
        );
      }
    }
    return {
      admin: true,
      via: 'session',
      adminId: admin.id,
      email: admin.email,
      csrfToken: session.csrfToken,
      expiresAt: session.expiresAt,
    };
  }
}

const sameSecret = (a: string, b: string): boolean =>
  timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
