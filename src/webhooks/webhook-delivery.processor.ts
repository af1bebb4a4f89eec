import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DelayedError, type Job } from 'bullmq';
import { DeliverySlots, ENDPOINT_IN_FLIGHT_MAX } from './delivery-slots.js';
import { WEBHOOK_QUEUE, type WebhookDeliveryJobData } from './webhook-queue.js';
import { WebhooksService } from './webhooks.service.js';

/** A failed attempt to be tried again after `delayMs`. */
export class WebhookRetryError extends Error {
  override readonly name = 'WebhookRetryError';
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

// Deliveries mostly wait on the network: many at once, so that endpoints that hang (10 s at
// most per attempt, and only a few slots each, see DeliverySlots) never keep others waiting.
const WEBHOOK_CONCURRENCY = 200;
// A delivery whose endpoint or tenant has no free slot is looked at again later: after 1 s,
// doubling each time and starting higher the more deliveries already wait for that endpoint,
// at most a minute, so a backlog behind a hanging endpoint does not churn the queue.
const POSTPONE_BASE_MS = 1_000;
const POSTPONE_MAX_MS = 60_000;
// Postponements are counted in memory (a restart starts again at 1 s); forgotten after this.
const POSTPONE_MEMORY_MS = 10 * 60_000;

@Processor(WEBHOOK_QUEUE, {
  concurrency: WEBHOOK_CONCURRENCY,
  settings: {
    // The delay was decided by webhook-retry-policy.ts when the attempt failed.
    backoffStrategy: (_attemptsMade: number, _type?: string, error?: Error) =>
      error instanceof WebhookRetryError ? error.delayMs : 5_000,
  },
  // A worker killed mid-delivery loses its lock after 15 s and another worker sends it again.
  lockDuration: 15_000,
  stalledInterval: 5_000,
  maxStalledCount: 20,
})
export class WebhookDeliveryProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(WebhookDeliveryProcessor.name);
  private readonly slots = new DeliverySlots();
  private readonly postponed = new Map<string, { count: number; at: number; endpointId: string }>();
  private readonly waitingByEndpoint = new Map<string, number>();

  constructor(private readonly webhooks: WebhooksService) {
    super();
  }

  onApplicationBootstrap(): void {
    this.worker.on('error', (error) => this.logger.warn(`webhook worker: ${error.message}`));
  }

  async process(job: Job<WebhookDeliveryJobData>, token?: string): Promise<void> {
    const { deliveryId, endpointId, tenantId } = job.data;
    if (!this.slots.tryTake(tenantId, endpointId)) {
      // Not an attempt: the job waits its turn without spending a retry.
      await job.moveToDelayed(Date.now() + this.postponeDelay(job.id!, endpointId), token);
      throw new DelayedError();
    }
    this.forgetPostponed(job.id!);
    try {
      const result = await this.webhooks.attempt(deliveryId, job.attemptsMade);
      if (result.kind === 'retry') throw new WebhookRetryError(result.error, result.delayMs);
    } finally {
      this.slots.release(tenantId, endpointId);
    }
  }

  private postponeDelay(jobId: string, endpointId: string): number {
    const now = Date.now();
    const count = (this.postponed.get(jobId)?.count ?? 0) + 1;
    const waiting = this.waitingByEndpoint.get(endpointId) ?? 0;
    // Re-inserted, so the map stays in order of last postponement: stale entries come first.
    this.forgetPostponed(jobId);
    this.postponed.set(jobId, { count, at: now, endpointId });
    this.waitingByEndpoint.set(endpointId, (this.waitingByEndpoint.get(endpointId) ?? 0) + 1);
    for (const [id, entry] of this.postponed) {
      if (now - entry.at < POSTPONE_MEMORY_MS) break;
      this.forgetPostponed(id);
    }
    const exponent = count - 1 + Math.floor(Math.log2(1 + waiting / ENDPOINT_IN_FLIGHT_MAX));
    const delayMs = Math.min(POSTPONE_BASE_MS * 2 ** exponent, POSTPONE_MAX_MS);
    // Spread, so a backlog does not come back all at once; whole milliseconds for PostgreSQL.
    return Math.round(delayMs * (1 + Math.random() / 2));
  }

  private forgetPostponed(jobId: string): void {
    const entry = this.postponed.get(jobId);
    if (!entry) return;
    this.postponed.delete(jobId);
    const waiting = (this.waitingByEndpoint.get(entry.endpointId) ?? 1) - 1;
    if (waiting > 0) this.waitingByEndpoint.set(entry.endpointId, waiting);
    else this.waitingByEndpoint.delete(entry.endpointId);
  }
}
