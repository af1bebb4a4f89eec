import { InjectQueue } from '@nestjs/bullmq';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { INFERENCE_QUEUE, type InferenceJobData } from '../jobs/inference-queue.js';
import { JobLifecycleService, type JobFinalEvent } from '../jobs/job-lifecycle.service.js';
import type { DeadLetterStore } from './dead-letter-store.js';

export const DEAD_LETTER_STORE = Symbol('DEAD_LETTER_STORE');

/**
 * Caps the bytes one tenant's dead letters keep (`DEAD_LETTER_BYTES_PER_TENANT`): every job that
 * ends dead, cancelled or expired is recorded in the store beside the queue, and the tenant's
 * oldest past the cap are removed from the queue at once instead of after `DEAD_TTL_S`. Without
 * it, a tenant whose requests all fail keeps rpm × `DEAD_TTL_S` of them, up to 1 MiB each.
 * Runs where jobs end (workers); `publishFinal` is at least once and recording is idempotent.
 */
@Injectable()
export class DeadLetterCapService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DeadLetterCapService.name);
  private unsubscribe: (() => void) | undefined;

  constructor(
    @Inject(DEAD_LETTER_STORE) private readonly store: DeadLetterStore,
    @InjectQueue(INFERENCE_QUEUE) private readonly queue: Queue<InferenceJobData>,
    private readonly lifecycle: JobLifecycleService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.unsubscribe = this.lifecycle.onFinal((event) => this.onFinal(event));
  }

  async onApplicationShutdown(): Promise<void> {
    this.unsubscribe?.();
    await this.store.close();
  }

  /** Records a job that ended without completing; removes what its tenant keeps past the cap. */
  async onFinal(event: JobFinalEvent): Promise<void> {
    if (event.status === 'complete') return;
    const { deadTtlS, deadLetterBytesPerTenant } = this.config.retention;
    const dropped = await this.store.record(
      { tenantId: event.tenantId, jobId: event.jobId, bytes: event.requestBytes },
      deadTtlS,
      deadLetterBytesPerTenant,
    );
    for (const jobId of dropped) await this.remove(jobId);
  }

  /** Removes a dropped job if it is still a dead letter (an admin may have requeued it since). */
  private async remove(jobId: string): Promise<void> {
    try {
      if ((await this.queue.getJobState(jobId)) !== 'failed') return;
      await this.queue.remove(jobId);
    } catch (error) {
      // The job stays until its retention sweep removes it.
      this.logger.warn({
        msg: 'could not remove a dead letter',
        jobId,
        error: (error as Error).message,
      });
    }
  }
}
