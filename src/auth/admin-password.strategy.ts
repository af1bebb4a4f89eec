import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy } from 'passport-custom';
import type { AdminUser } from '../admins/admin-user.entity.js';
import { AdminsService } from '../admins/admins.service.js';
import { AdminSignInSchema } from '../admins/dto/admin-session.dto.js';
import { ZodValidationPipe } from '../common/zod-validation.pipe.js';

export const ADMIN_PASSWORD_STRATEGY = 'admin-password';

const parseSignIn = new ZodValidationPipe(AdminSignInSchema);

/** Passport strategy for dashboard sign-in: `{"email", "password"}` in the JSON body. */
@Injectable()
export class AdminPasswordStrategy extends PassportStrategy(Strategy, ADMIN_PASSWORD_STRATEGY) {
  constructor(private readonly admins: AdminsService) {
    super();
  }

  validate(request: FastifyRequest): Promise<AdminUser> {
    const { email, password } = parseSignIn.transform(request.body);
    return this.admins.authenticate(email, password, request.ip);
  }
}
