import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentActor } from '../audit/audit-actor.decorator.js';
import type { AuditActor } from '../audit/audit-action.js';
import { AdminAccess } from '../auth/access.decorator.js';
import { openApiSchema, ZodValidationPipe } from '../common/zod-validation.pipe.js';
import { ApiKeysService } from './api-keys.service.js';
import {
  ApiKeyCreateSchema,
  ApiKeyCreatedSchema,
  ApiKeyListSchema,
  ApiKeyResponseSchema,
  type ApiKeyCreateDto,
  type ApiKeyCreatedDto,
  type ApiKeyResponseDto,
} from './dto/api-key.dto.js';
import { toApiKeyResponse } from './tenants.mapper.js';

@ApiTags('admin: keys')
@ApiBearerAuth('admin')
@AdminAccess()
@Controller('admin/api')
export class ApiKeysAdminController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post('tenants/:id/keys')
  @ApiCreatedResponse({ schema: openApiSchema(ApiKeyCreatedSchema) })
  @HttpCode(201)
  @ApiOperation({ summary: 'Issue a key; the `key` field is shown only in this answer' })
  @ApiBody({
    schema: openApiSchema(ApiKeyCreateSchema),
    examples: { ci: { value: { name: 'ci' } } },
  })
  async issue(
    @Param('id') tenantId: string,
    @Body(new ZodValidationPipe(ApiKeyCreateSchema)) body: ApiKeyCreateDto,
    @CurrentActor() by: AuditActor,
  ): Promise<ApiKeyCreatedDto> {
    const { key, secret } = await this.keys.issue(tenantId, body.name, by);
    return { ...toApiKeyResponse(key), key: secret };
  }

  @Get('tenants/:id/keys')
  @ApiOkResponse({ schema: openApiSchema(ApiKeyListSchema) })
  @ApiOperation({ summary: "A tenant's keys, without secrets" })
  async list(
    @Param('id') tenantId: string,
  ): Promise<{ object: 'list'; data: ApiKeyResponseDto[] }> {
    const keys = await this.keys.list(tenantId);
    return { object: 'list', data: keys.map(toApiKeyResponse) };
  }

  @Delete('keys/:id')
  @ApiOkResponse({ schema: openApiSchema(ApiKeyResponseSchema) })
  @ApiOperation({ summary: 'Revoke a key (refused everywhere within 1 s)' })
  async revoke(
    @Param('id') id: string,
    @CurrentActor() by: AuditActor,
  ): Promise<ApiKeyResponseDto> {
    return toApiKeyResponse(await this.keys.revoke(id, by));
  }
}
