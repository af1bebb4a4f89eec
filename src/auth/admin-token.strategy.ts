import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Strategy } from 'passport-custom';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { API_KEY_PREFIX } from '../tenants/api-key-secret.js';
import type { AdminPrincipal } from './admin-principal.js';

export const ADMIN_TOKEN_STRATEGY = 'admin-token';

/** Passport strategy for `Authorization: Bearer $ADMIN_TOKEN`. */
@Injectable()
export class AdminTokenStrategy extends PassportStrategy(Strategy, ADMIN_TOKEN_STRATEGY) {
  private readonly tokenDigest: Buffer | undefined;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    super();
    this.tokenDigest = config.adminToken ? digest(config.adminToken) : undefined;
  }

  validate(request: FastifyRequest): AdminPrincipal {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    const presented = match?.[1] ?? (request.headers['x-api-key'] as string | undefined);
    if (!presented) {
      throw new AppError(
        ErrorCode.Unauthorized,
        'Admin API: send "Authorization: Bearer $ADMIN_TOKEN"',
      );
    }
    if (presented.startsWith(API_KEY_PREFIX)) {
      throw new AppError(ErrorCode.InvalidApiKey, 'Tenant API keys do not open the admin API');
    }
    if (!this.tokenDigest || !timingSafeEqual(digest(presented), this.tokenDigest)) {
      throw new AppError(ErrorCode.Unauthorized, 'Invalid admin token');
    }
    return { admin: true, via: 'token' };
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
