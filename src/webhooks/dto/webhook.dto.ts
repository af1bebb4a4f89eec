import { z } from 'zod';
import { WEBHOOK_EVENT_TYPES } from '../webhook-events.js';

const eventsField = z
  .array(z.enum(WEBHOOK_EVENT_TYPES))
  .min(1)
  .transform((events) => [...new Set(events)])
  .describe('the event types this endpoint receives');

export const WebhookEndpointCreateSchema = z.strictObject({
  url: z.string().trim().min(1).max(2048).describe('http(s) URL the events are POSTed to'),
  events: eventsField.default([...WEBHOOK_EVENT_TYPES]),
  enabled: z.boolean().default(true),
});
export type WebhookEndpointCreateDto = z.infer<typeof WebhookEndpointCreateSchema>;

export const WebhookEndpointUpdateSchema = z.strictObject({
  url: z.string().trim().min(1).max(2048).optional(),
  events: eventsField.optional(),
  enabled: z.boolean().optional(),
  rotate_secret: z
    .boolean()
    .optional()
    .describe('true: a new signing secret, returned in this answer only'),
});
export type WebhookEndpointUpdateDto = z.infer<typeof WebhookEndpointUpdateSchema>;

export const WebhookEndpointResponseSchema = z.object({
  id: z.uuid(),
  object: z.literal('webhook_endpoint'),
  tenant_id: z.uuid(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
  enabled: z.boolean(),
  created_at: z.number().int(),
  updated_at: z.number().int(),
  /** Only when just created or rotated. */
  secret: z.string().optional().describe('whsec_…: shown only when created or rotated'),
});
export type WebhookEndpointResponseDto = z.infer<typeof WebhookEndpointResponseSchema>;

export const WebhookEndpointListSchema = z.object({
  object: z.literal('list'),
  data: z.array(WebhookEndpointResponseSchema),
});

export const WebhookEndpointDeletedSchema = z.object({
  id: z.uuid(),
  object: z.literal('webhook_endpoint'),
  deleted: z.literal(true),
});

export const WebhookDeliveryResponseSchema = z.object({
  id: z.uuid(),
  object: z.literal('webhook_delivery'),
  endpoint_id: z.uuid(),
  event_id: z.string().describe('evt_…: also the webhook-id header, the same on every attempt'),
  event_type: z.enum(WEBHOOK_EVENT_TYPES),
  status: z.enum(['pending', 'succeeded', 'failed']),
  attempts: z.number().int(),
  last_response_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  next_attempt_at: z.number().int().nullable(),
  created_at: z.number().int(),
  updated_at: z.number().int(),
  payload: z.unknown().describe('the body delivered'),
});
export type WebhookDeliveryResponseDto = z.infer<typeof WebhookDeliveryResponseSchema>;

export const WebhookDeliveryListSchema = z.object({
  object: z.literal('list'),
  data: z.array(WebhookDeliveryResponseSchema),
});

export const WebhookDeliveryListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
