import { createHash } from 'node:crypto';

/** Every event a webhook endpoint can subscribe to; values are the wire values. */
export const WEBHOOK_EVENT_TYPES = [
  'job.completed',
  'job.dead',
  'job.cancelled',
  'job.expired',
  'batch.completed',
  'batch.failed',
  'batch.expired',
  'batch.cancelled',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
export type JobEventType = Extract<WebhookEventType, `job.${string}`>;
export type BatchEventType = Extract<WebhookEventType, `batch.${string}`>;

/** The event a job's final status raises. */
export function jobEventType(status: 'complete' | 'dead' | 'cancelled' | 'expired'): JobEventType {
  switch (status) {
    case 'complete':
      return 'job.completed';
    case 'dead':
      return 'job.dead';
    case 'cancelled':
      return 'job.cancelled';
    case 'expired':
      return 'job.expired';
  }
}

/**
 * `evt_...`, derived from what the event is about, so publishing the same final status twice
 * (a listener runs at least once) names the same event and delivers it once.
 */
export function webhookEventId(subject: 'job' | 'batch', subjectId: string, type: string): string {
  const digest = createHash('sha256').update(`${subject}:${subjectId}:${type}`).digest('hex');
  return `evt_${digest.slice(0, 32)}`;
}

/** The delivered body: `{"id", "type", "created_at", "data"}`. */
export function webhookPayload(
  eventId: string,
  type: WebhookEventType,
  createdAtS: number,
  data: unknown,
): string {
  return JSON.stringify({ id: eventId, type, created_at: createdAtS, data });
}
