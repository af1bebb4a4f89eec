import type { FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';
import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { TenantAccess } from '../auth/access.decorator.js';
import { CurrentTenant, type TenantPrincipal } from '../auth/tenant-principal.js';
import { openApiSchema, ZodValidationPipe } from '../common/zod-validation.pipe.js';
import { parseListLimit } from '../files/list-query.js';
import { LimitsService } from '../limits/limits.service.js';
import { toBatchResponse } from './batches.mapper.js';
import { BatchesService } from './batches.service.js';
import {
  BatchCreateSchema,
  BatchListSchema,
  BatchResponseSchema,
  type BatchCreateDto,
  type BatchListDto,
  type BatchResponseDto,
} from './dto/batch.dto.js';

@ApiTags('batches')
@ApiSecurity('bearer')
@ApiSecurity('x-api-key')
@TenantAccess()
@Controller('v1/batches')
export class BatchesController {
  constructor(
    private readonly batches: BatchesService,
    private readonly limits: LimitsService,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'Create a batch from an uploaded JSONL file' })
  @ApiBody({ schema: openApiSchema(BatchCreateSchema) })
  @ApiOkResponse({ schema: openApiSchema(BatchResponseSchema) })
  async create(
    @Body(new ZodValidationPipe(BatchCreateSchema)) dto: BatchCreateDto,
    @CurrentTenant() tenant: TenantPrincipal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<BatchResponseDto> {
    // A batch counts as one request against rpm (and is refused past the day's tokens).
    const admissionId = randomUUID();
    void reply.headers((await this.limits.admit(tenant, admissionId, 'batch')).headers);
    try {
      return toBatchResponse(await this.batches.create(tenant.tenantId, dto));
    } catch (error) {
      await this.limits.rollback(tenant.tenantId, admissionId);
      throw error;
    }
  }

  @Get()
  @ApiOperation({ summary: "The tenant's batches, newest first (cursor pagination with `after`)" })
  @ApiQuery({ name: 'after', required: false })
  @ApiQuery({ name: 'limit', required: false, example: 20 })
  @ApiOkResponse({ schema: openApiSchema(BatchListSchema) })
  async list(
    @CurrentTenant() tenant: TenantPrincipal,
    @Query('after') after?: string,
    @Query('limit') limit?: string,
  ): Promise<BatchListDto> {
    const page = await this.batches.list({
      tenantId: tenant.tenantId,
      after: after || undefined,
      limit: parseListLimit(limit, 20, 100),
    });
    const data = page.batches.map(toBatchResponse);
    return {
      object: 'list',
      data,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
      has_more: page.hasMore,
    };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One batch, with its status and request counts' })
  @ApiOkResponse({ schema: openApiSchema(BatchResponseSchema) })
  async get(
    @Param('id') id: string,
    @CurrentTenant() tenant: TenantPrincipal,
  ): Promise<BatchResponseDto> {
    return toBatchResponse(await this.batches.get(tenant.tenantId, id));
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a batch: lines not yet started never run' })
  @ApiOkResponse({ schema: openApiSchema(BatchResponseSchema) })
  async cancel(
    @Param('id') id: string,
    @CurrentTenant() tenant: TenantPrincipal,
  ): Promise<BatchResponseDto> {
    return toBatchResponse(await this.batches.cancel(tenant.tenantId, id));
  }
}
