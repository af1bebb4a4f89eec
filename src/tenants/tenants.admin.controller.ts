import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Optional,
  Param,
  Patch,
  Post,
} from '@nestjs/common';
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
import {
  TenantCreateSchema,
  TenantListSchema,
  TenantResponseSchema,
  TenantUpdateSchema,
  type TenantCreateDto,
  type TenantResponseDto,
  type TenantUpdateDto,
} from './dto/tenant.dto.js';
import { toTenantResponse } from './tenants.mapper.js';
import { TENANT_USAGE_READER, type TenantUsageReader } from './tenant-usage.js';
import type { Tenant } from './tenant.entity.js';
import { TenantsService } from './tenants.service.js';

@ApiTags('admin: tenants')
@ApiBearerAuth('admin')
@AdminAccess()
@Controller('admin/api/tenants')
export class TenantsAdminController {
  constructor(
    private readonly tenants: TenantsService,
    @Optional() @Inject(TENANT_USAGE_READER) private readonly usage?: TenantUsageReader,
  ) {}

  @Post()
  @ApiCreatedResponse({ schema: openApiSchema(TenantResponseSchema) })
  @HttpCode(201)
  @ApiOperation({ summary: 'Create a tenant (limits default to DEFAULT_*)' })
  @ApiBody({
    schema: openApiSchema(TenantCreateSchema),
    examples: {
      acme: {
        value: { name: 'acme', limits: { rpm: 60, tokens_per_day: 1000000, max_concurrent: 4 } },
      },
    },
  })
  async create(
    @Body(new ZodValidationPipe(TenantCreateSchema)) body: TenantCreateDto,
    @CurrentActor() by: AuditActor,
  ): Promise<TenantResponseDto> {
    return toTenantResponse(await this.tenants.create(body, by));
  }

  @Get()
  @ApiOkResponse({ schema: openApiSchema(TenantListSchema) })
  @ApiOperation({ summary: "List tenants, each with today's usage" })
  async list(): Promise<{ object: 'list'; data: TenantResponseDto[] }> {
    const tenants = await this.tenants.list();
    return {
      object: 'list',
      data: await Promise.all(tenants.map((tenant) => this.withUsage(tenant))),
    };
  }

  @Get(':id')
  @ApiOkResponse({ schema: openApiSchema(TenantResponseSchema) })
  @ApiOperation({
    summary: "One tenant with today's usage: requests this minute, tokens today, open jobs",
  })
  async get(@Param('id') id: string): Promise<TenantResponseDto> {
    return this.withUsage(await this.tenants.get(id));
  }

  @Patch(':id')
  @ApiOkResponse({ schema: openApiSchema(TenantResponseSchema) })
  @ApiOperation({ summary: "Change a tenant's limits or status (applies within 1 s everywhere)" })
  @ApiBody({
    schema: openApiSchema(TenantUpdateSchema),
    examples: {
      suspend: { value: { status: 'suspended' } },
      limits: { value: { limits: { rpm: 3 } } },
    },
  })
  async update(
    @Param('id') id: string,
    @Body(new ZodValidationPipe(TenantUpdateSchema)) body: TenantUpdateDto,
    @CurrentActor() by: AuditActor,
  ): Promise<TenantResponseDto> {
    return toTenantResponse(await this.tenants.update(id, body, by));
  }

  private async withUsage(tenant: Tenant): Promise<TenantResponseDto> {
    const response = toTenantResponse(tenant);
    return this.usage ? { ...response, usage: await this.usage.usage(tenant.id) } : response;
  }
}
