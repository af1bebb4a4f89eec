import { Controller, Delete, Get, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import {
  ApiBody,
  ApiCookieAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdminAccess, PublicAccess } from '../auth/access.decorator.js';
import { CurrentAdmin, type AdminPrincipal } from '../auth/admin-principal.js';
import { ADMIN_PASSWORD_STRATEGY } from '../auth/admin-password.strategy.js';
import { openApiSchema } from '../common/zod-validation.pipe.js';
import type { AdminUser } from './admin-user.entity.js';
import { clearSessionCookie, readSessionCookie, setSessionCookie } from './admin-session-cookie.js';
import { AdminSessionsService } from './admin-sessions.service.js';
import {
  AdminSessionResponseSchema,
  AdminSignedOutSchema,
  AdminSignInSchema,
  type AdminSessionResponseDto,
  type AdminSignedOutDto,
} from './dto/admin-session.dto.js';
import { toAdminSessionResponse } from './admins.mapper.js';

@ApiTags('admin: session')
@ApiCookieAuth('admin-session')
@Controller('admin/api/session')
export class AdminSessionController {
  constructor(private readonly sessions: AdminSessionsService) {}

  @Post()
  @PublicAccess()
  @UseGuards(AuthGuard(ADMIN_PASSWORD_STRATEGY))
  @HttpCode(201)
  @ApiOperation({
    summary: 'Sign in to the dashboard',
    description:
      'Checks the email and password, sets the HttpOnly session cookie and returns the CSRF ' +
      'token to send as X-CSRF-Token on state changes. Wrong credentials: 401.',
  })
  @ApiBody({
    schema: openApiSchema(AdminSignInSchema),
    examples: { admin: { value: { email: 'admin@example.com', password: 'correct horse' } } },
  })
  @ApiCreatedResponse({ schema: openApiSchema(AdminSessionResponseSchema) })
  async signIn(
    @Req() request: FastifyRequest & { user: AdminUser },
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AdminSessionResponseDto> {
    // A fresh token at every sign-in: a token planted before sign-in is worth nothing after it.
    const previous = readSessionCookie(request);
    if (previous) await this.sessions.end(previous);
    const { token, session } = await this.sessions.start(request.user);
    setSessionCookie(request, reply, token);
    return toAdminSessionResponse({
      admin: true,
      via: 'session',
      adminId: request.user.id,
      email: request.user.email,
      csrfToken: session.csrfToken,
      expiresAt: session.expiresAt,
    });
  }

  @Get()
  @AdminAccess()
  @ApiOperation({ summary: 'Who is calling, and the CSRF token of the current session' })
  @ApiOkResponse({ schema: openApiSchema(AdminSessionResponseSchema) })
  whoAmI(@CurrentAdmin() admin: AdminPrincipal): AdminSessionResponseDto {
    return toAdminSessionResponse(admin);
  }

  @Delete()
  @AdminAccess()
  @ApiOperation({ summary: 'Sign out: ends the session everywhere and clears the cookie' })
  @ApiOkResponse({ schema: openApiSchema(AdminSignedOutSchema) })
  async signOut(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AdminSignedOutDto> {
    const token = readSessionCookie(request);
    if (token) await this.sessions.end(token);
    clearSessionCookie(request, reply);
    return { signed_out: true };
  }
}
