import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy } from 'passport-custom';
import { ApiKeyAuthService } from './api-key-auth.service.js';
import type { TenantPrincipal } from './tenant-principal.js';

export const API_KEY_STRATEGY = 'api-key';

/** Passport strategy for `inf_` keys in `Authorization: Bearer` or `X-API-Key`. */
@Injectable()
export class ApiKeyStrategy extends PassportStrategy(Strategy, API_KEY_STRATEGY) {
  constructor(private readonly auth: ApiKeyAuthService) {
    super();
  }

  validate(request: FastifyRequest): Promise<TenantPrincipal> {
    return this.auth.authenticate(request.headers);
  }
}
