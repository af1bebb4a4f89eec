import {
  Inject,
  Injectable,
  Optional,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { BatchEvents } from '../batches/batch-events.service.js';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { JobLifecycleService, type JobFinalEvent } from '../jobs/job-lifecycle.service.js';
import { isUuid } from '../tenants/tenants.service.js';
import { WebhookClient } from './webhook.client.js';
import { WebhookProducer } from './webhook.producer.js';
import type { WebhookDelivery } from './webhook-delivery.entity.js';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository.js';
import { WebhookEndpointsService } from './webhook-endpoints.service.js';
import {
  jobEventType,
  webhookEventId,
  webhookPayload,
  type BatchEventType,
  type WebhookEventType,
} from './webhook-events.js';
import { decideWebhookRetry } from './webhook-retry-policy.js';
import { webhookHeaders } from './webhook-signature.js';
import { MetricsService } from '../metrics/metrics.service.js';

/** What one delivery attempt came to, for the processor. */
export type WebhookAttemptResult =
  { kind: 'done' } | { kind: 'retry'; delayMs: number; error: string };

/**
 * Turns final job and batch statuses into signed webhook deliveries, one queued job per
 * (event, endpoint), and runs their attempts.
 */
@Injectable()
export class WebhooksService implements OnModuleInit, OnModuleDestroy {
  private readonly unsubscribes: (() => void)[] = [];

  constructor(
    private readonly endpoints: WebhookEndpointsService,
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly producer: WebhookProducer,
    private readonly client: WebhookClient,
    private readonly lifecycle: JobLifecycleService,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    // Absent in a build without batches; the event id makes a second publish of one batch harmless.
    @Optional() private readonly batchEvents?: BatchEvents,
  ) {}

  onModuleInit(): void {
    this.unsubscribes.push(this.lifecycle.onFinal((event) => this.publishJobEvent(event)));
    if (this.batchEvents) {
      this.unsubscribes.push(
        this.batchEvents.onBatchFinal((event) =>
          this.publishBatchEvent(event.tenantId, event.type, event.batch),
        ),
      );
    }
  }

  onModuleDestroy(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
  }

  /** Queues `job.<status>` for each of the tenant's endpoints subscribed to it. */
  async publishJobEvent(event: JobFinalEvent): Promise<void> {
    const type = jobEventType(event.status);
    await this.publish(event.tenantId, type, webhookEventId('job', event.jobId, type), event.view);
  }

  /** Queues `type` with the batch object for each of the tenant's endpoints subscribed to it. */
  async publishBatchEvent(
    tenantId: string,
    type: BatchEventType,
    batch: { id: string },
  ): Promise<void> {
    await this.publish(tenantId, type, webhookEventId('batch', batch.id, type), batch);
  }

  /** The endpoint's latest deliveries, newest first. */
  async listDeliveries(endpointId: string, limit: number): Promise<WebhookDelivery[]> {
    const endpoint = await this.endpoints.get(endpointId);
    return this.deliveries.findRecent(endpoint.id, limit);
  }

  /** Sends a finished delivery again: same event id, a fresh 24 h of retries. */
  async redeliver(deliveryId: string): Promise<WebhookDelivery> {
    const delivery = isUuid(deliveryId) ? await this.deliveries.findById(deliveryId) : null;
    if (!delivery) throw new AppError(ErrorCode.NotFound, `Delivery ${deliveryId} not found`);
    const reopened = await this.deliveries.reopen(delivery.id);
    if (!reopened) {
      throw new AppError(
        ErrorCode.Conflict,
        `Delivery ${deliveryId} is still pending; it is retried on its own`,
      );
    }
    const endpoint = await this.endpoints.get(reopened.endpointId);
    await this.producer.enqueue(reopened, endpoint.tenantId);
    return reopened;
  }

  /**
   * One attempt of a delivery. `failuresSoFar`: this delivery job's failed attempts before this
   * one. Success, a final failure and a delivery with nothing left to do are all `done`.
   */
  async attempt(deliveryId: string, failuresSoFar: number): Promise<WebhookAttemptResult> {
    const delivery = await this.deliveries.findById(deliveryId);
    // Deleted with its endpoint, or finished by an earlier run of a repeated job.
    if (!delivery || delivery.status !== 'pending') return { kind: 'done' };
    const endpoint = await this.endpoints.find(delivery.endpointId);
    const attempts = delivery.attempts + 1;
    if (!endpoint || !endpoint.enabled) {
      await this.deliveries.recordAttempt(delivery.id, {
        status: 'failed',
        attempts: delivery.attempts,
        lastResponseCode: delivery.lastResponseCode,
        lastError: 'the endpoint is disabled',
        nextAttemptAt: null,
      });
      return { kind: 'done' };
    }
    const now = Date.now();
    const headers = webhookHeaders(
      this.endpoints.signingKeys(endpoint, now),
      delivery.eventId,
      Math.floor(now / 1000),
      delivery.payload,
    );
    const outcome = await this.client.post(endpoint.url, headers, delivery.payload);
    if (outcome.ok) {
      this.metrics.webhookDelivered('succeeded');
      await this.deliveries.recordAttempt(delivery.id, {
        status: 'succeeded',
        attempts,
        lastResponseCode: outcome.statusCode,
        lastError: null,
        nextAttemptAt: null,
      });
      return { kind: 'done' };
    }
    const decision = outcome.retryable
      ? decideWebhookRetry(
          failuresSoFar + 1,
          delivery.windowStartedAt.getTime(),
          Date.now(),
          this.config.webhooks.retryBaseMs,
        )
      : ({ retry: false } as const);
    this.metrics.webhookDelivered(decision.retry ? 'retrying' : 'failed');
    await this.deliveries.recordAttempt(delivery.id, {
      status: decision.retry ? 'pending' : 'failed',
      attempts,
      lastResponseCode: outcome.statusCode,
      lastError: outcome.error,
      nextAttemptAt: decision.retry ? new Date(Date.now() + decision.delayMs) : null,
    });
    return decision.retry
      ? { kind: 'retry', delayMs: decision.delayMs, error: outcome.error }
      : { kind: 'done' };
  }

  private async publish(
    tenantId: string,
    type: WebhookEventType,
    eventId: string,
    data: unknown,
  ): Promise<void> {
    const endpoints = await this.endpoints.subscribers(tenantId, type);
    if (endpoints.length === 0) return;
    const payload = webhookPayload(eventId, type, Math.floor(Date.now() / 1000), data);
    await Promise.all(
      endpoints.map(async (endpoint) => {
        const delivery = await this.deliveries.insertOnce({
          endpointId: endpoint.id,
          eventId,
          eventType: type,
          payload,
        });
        // A finished delivery is a repeat of an event already handled.
        if (delivery.status === 'pending') await this.producer.enqueue(delivery, tenantId);
      }),
    );
  }
}
