import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentActor } from '../audit/audit-actor.decorator.js';
import { AuditAction, type AuditActor } from '../audit/audit-action.js';
import { AuditService } from '../audit/audit.service.js';
import { AdminAccess } from '../auth/access.decorator.js';
import { openApiSchema, ZodValidationPipe } from '../common/zod-validation.pipe.js';
import {
  WebhookDeliveryListQuerySchema,
  WebhookDeliveryListSchema,
  WebhookDeliveryResponseSchema,
  WebhookEndpointCreateSchema,
  WebhookEndpointDeletedSchema,
  WebhookEndpointListSchema,
  WebhookEndpointResponseSchema,
  WebhookEndpointUpdateSchema,
  type WebhookDeliveryResponseDto,
  type WebhookEndpointCreateDto,
  type WebhookEndpointResponseDto,
  type WebhookEndpointUpdateDto,
} from './dto/webhook.dto.js';
import type { TransactionHook } from '../database/transaction-hook.js';
import type { WebhookEndpoint } from './webhook-endpoint.entity.js';
import { WebhookEndpointsService } from './webhook-endpoints.service.js';
import { toWebhookDeliveryResponse, toWebhookEndpointResponse } from './webhooks.mapper.js';
import { WebhooksService } from './webhooks.service.js';

@ApiTags('admin: webhooks')
@ApiBearerAuth('admin')
@AdminAccess()
@Controller('admin/api')
export class WebhooksAdminController {
  constructor(
    private readonly endpoints: WebhookEndpointsService,
    private readonly webhooks: WebhooksService,
    private readonly audit: AuditService,
  ) {}

  @Post('tenants/:id/webhooks')
  @HttpCode(201)
  @ApiCreatedResponse({ schema: openApiSchema(WebhookEndpointResponseSchema) })
  @ApiOperation({ summary: 'Add a webhook endpoint; its `secret` is shown only in this answer' })
  @ApiBody({
    schema: openApiSchema(WebhookEndpointCreateSchema),
    examples: {
      jobs: { value: { url: 'https://hooks.example.com/infq', events: ['job.completed'] } },
    },
  })
  async create(
    @Param('id') tenantId: string,
    @Body(new ZodValidationPipe(WebhookEndpointCreateSchema)) body: WebhookEndpointCreateDto,
    @CurrentActor() by: AuditActor,
  ): Promise<WebhookEndpointResponseDto> {
    const { endpoint, secret } = await this.endpoints.create(
      tenantId,
      body,
      this.audited(by, AuditAction.WebhookCreated, { url: body.url, events: body.events }),
    );
    return { ...toWebhookEndpointResponse(endpoint), secret };
  }

  @Get('tenants/:id/webhooks')
  @ApiOkResponse({ schema: openApiSchema(WebhookEndpointListSchema) })
  @ApiOperation({ summary: "A tenant's webhook endpoints, without secrets" })
  async list(
    @Param('id') tenantId: string,
  ): Promise<{ object: 'list'; data: WebhookEndpointResponseDto[] }> {
    const endpoints = await this.endpoints.list(tenantId);
    return { object: 'list', data: endpoints.map(toWebhookEndpointResponse) };
  }

  @Patch('webhooks/:id')
  @ApiOkResponse({ schema: openApiSchema(WebhookEndpointResponseSchema) })
  @ApiOperation({
    summary: 'Change url, events or enabled; rotate_secret returns the new secret, once',
  })
  @ApiBody({
    schema: openApiSchema(WebhookEndpointUpdateSchema),
    examples: {
      disable: { value: { enabled: false } },
      rotate: { value: { rotate_secret: true } },
    },
  })
  async update(
    @Param('id') id: string,
    @Body(new ZodValidationPipe(WebhookEndpointUpdateSchema)) body: WebhookEndpointUpdateDto,
    @CurrentActor() by: AuditActor,
  ): Promise<WebhookEndpointResponseDto> {
    const { endpoint, secret } = await this.endpoints.update(
      id,
      body,
      // Never the secret itself: only that it was rotated.
      this.audited(by, AuditAction.WebhookUpdated, {
        ...body,
        ...(body.rotate_secret !== undefined && { rotate_secret: true }),
      }),
    );
    return { ...toWebhookEndpointResponse(endpoint), ...(secret !== undefined && { secret }) };
  }

  @Delete('webhooks/:id')
  @ApiOkResponse({ schema: openApiSchema(WebhookEndpointDeletedSchema) })
  @ApiOperation({ summary: 'Delete a webhook endpoint and its deliveries' })
  async delete(
    @Param('id') id: string,
    @CurrentActor() by: AuditActor,
  ): Promise<{ id: string; object: 'webhook_endpoint'; deleted: true }> {
    const endpoint = await this.endpoints.delete(id, this.audited(by, AuditAction.WebhookDeleted));
    return { id: endpoint.id, object: 'webhook_endpoint', deleted: true };
  }

  @Get('webhooks/:id/deliveries')
  @ApiOkResponse({ schema: openApiSchema(WebhookDeliveryListSchema) })
  @ApiOperation({ summary: "An endpoint's latest deliveries, newest first (?limit, default 50)" })
  async deliveries(
    @Param('id') id: string,
    @Query(new ZodValidationPipe(WebhookDeliveryListQuerySchema)) query: { limit: number },
  ): Promise<{ object: 'list'; data: WebhookDeliveryResponseDto[] }> {
    const deliveries = await this.webhooks.listDeliveries(id, query.limit);
    return { object: 'list', data: deliveries.map(toWebhookDeliveryResponse) };
  }

  @Post('deliveries/:id/redeliver')
  @HttpCode(202)
  @ApiOkResponse({ schema: openApiSchema(WebhookDeliveryResponseSchema) })
  @ApiOperation({ summary: 'Send a finished delivery again (same event id, fresh retries)' })
  async redeliver(@Param('id') id: string): Promise<WebhookDeliveryResponseDto> {
    return toWebhookDeliveryResponse(await this.webhooks.redeliver(id));
  }

  /** The audit record of a change to an endpoint, written in the change's own transaction. */
  private audited(
    by: AuditActor,
    action: AuditAction,
    details?: Record<string, unknown>,
  ): TransactionHook<WebhookEndpoint> {
    return (manager, endpoint) =>
      this.audit.record(manager, {
        by,
        action,
        objectType: 'webhook_endpoint',
        objectId: endpoint.id,
        tenantId: endpoint.tenantId,
        ...(details && { details }),
      });
  }
}
