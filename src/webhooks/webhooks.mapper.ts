import type { WebhookDeliveryResponseDto, WebhookEndpointResponseDto } from './dto/webhook.dto.js';
import type { WebhookDelivery } from './webhook-delivery.entity.js';
import type { WebhookEndpoint } from './webhook-endpoint.entity.js';
import type { WebhookEventType } from './webhook-events.js';

const seconds = (date: Date): number => Math.floor(date.getTime() / 1000);

export function toWebhookEndpointResponse(endpoint: WebhookEndpoint): WebhookEndpointResponseDto {
  return {
    id: endpoint.id,
    object: 'webhook_endpoint',
    tenant_id: endpoint.tenantId,
    url: endpoint.url,
    events: endpoint.events as WebhookEventType[],
    enabled: endpoint.enabled,
    created_at: seconds(endpoint.createdAt),
    updated_at: seconds(endpoint.updatedAt),
  };
}

export function toWebhookDeliveryResponse(delivery: WebhookDelivery): WebhookDeliveryResponseDto {
  return {
    id: delivery.id,
    object: 'webhook_delivery',
    endpoint_id: delivery.endpointId,
    event_id: delivery.eventId,
    event_type: delivery.eventType as WebhookEventType,
    status: delivery.status,
    attempts: delivery.attempts,
    last_response_code: delivery.lastResponseCode,
    last_error: delivery.lastError,
    next_attempt_at: delivery.nextAttemptAt ? seconds(delivery.nextAttemptAt) : null,
    created_at: seconds(delivery.createdAt),
    updated_at: seconds(delivery.updatedAt),
    payload: JSON.parse(delivery.payload) as unknown,
  };
}
