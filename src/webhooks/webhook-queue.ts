/**
 * The webhook delivery queue's contract: one job per (event, endpoint), on the same backend as
 * the inference queue but a queue of its own, so a slow endpoint never holds up job work.
 */

export const WEBHOOK_QUEUE = 'webhooks';
export const WEBHOOK_DELIVERY_JOB = 'webhook.delivery';

export interface WebhookDeliveryJobData {
  deliveryId: string;
  /** The endpoint and its tenant, so a worker can pace deliveries before reading anything. */
  endpointId: string;
  tenantId: string;
}

/**
 * The queue job id of a delivery: derived from the event and the endpoint, so publishing an
 * event again adds nothing; a redelivery asked by an admin gets a suffix of its own.
 */
export function webhookDeliveryJobId(
  eventId: string,
  endpointId: string,
  redeliveries: number,
): string {
  // BullMQ refuses ':' in custom job ids.
  const base = `${eventId}.${endpointId}`;
  return redeliveries === 0 ? base : `${base}.r${redeliveries}`;
}
