import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { WebhookDelivery } from './webhook-delivery.entity.js';
import {
  WEBHOOK_DELIVERY_JOB,
  WEBHOOK_QUEUE,
  webhookDeliveryJobId,
  type WebhookDeliveryJobData,
} from './webhook-queue.js';

// Far more than 24 h of doubling-then-hourly retries need; the processor ends the window.
const MAX_ATTEMPTS = 1_000;

/** The only place delivery jobs are added to the queue. */
@Injectable()
export class WebhookProducer {
  constructor(@InjectQueue(WEBHOOK_QUEUE) private readonly queue: Queue<WebhookDeliveryJobData>) {}

  /** Queues the delivery's job; a second call for the same delivery adds nothing. */
  async enqueue(delivery: WebhookDelivery, tenantId: string): Promise<void> {
    await this.queue.add(
      WEBHOOK_DELIVERY_JOB,
      { deliveryId: delivery.id, endpointId: delivery.endpointId, tenantId },
      {
        jobId: webhookDeliveryJobId(delivery.eventId, delivery.endpointId, delivery.redeliveries),
        attempts: MAX_ATTEMPTS,
        // The delay is computed per failure by webhook-retry-policy.ts and carried on the error.
        backoff: { type: 'custom' },
        // The delivery record is the history; the queue keeps finished jobs only briefly.
        removeOnComplete: { age: 3_600 },
        removeOnFail: { age: 86_400 },
      },
    );
  }
}
