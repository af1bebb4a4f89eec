import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { LimitsService } from '../limits/limits.service.js';
import { JobsService } from './jobs.service.js';

// Slots younger than this may belong to a job still being added to the queue.
const MIN_SLOT_AGE_MS = 60_000;
const INTERVAL_MS = 30_000;

/**
 * Frees concurrency slots whose job is gone or final without having freed them (a job failed by
 * BullMQ's stalled-job check, or a release that hit an unreachable counter store).
 */
@Injectable()
export class SlotReconciler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SlotReconciler.name);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: LimitsService,
    private readonly jobs: JobsService,
  ) {}

  onApplicationBootstrap(): void {
    // Jitter keeps many workers from reconciling in lockstep.
    this.timer = setInterval(
      () => void this.reconcile(),
      INTERVAL_MS + Math.floor(Math.random() * 5_000),
    );
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Returns how many slots were freed. */
  async reconcile(minAgeMs = MIN_SLOT_AGE_MS): Promise<number> {
    let freed = 0;
    try {
      for (const slot of await this.limits.listJobSlots(minAgeMs)) {
        const state = await this.jobs.stateOf(slot.jobId);
        if (state === 'unknown' || state === 'completed' || state === 'failed') {
          await this.limits.release(slot.tenantId, slot.jobId);
          freed++;
        }
      }
    } catch (error) {
      this.logger.warn(`slot reconciliation failed: ${(error as Error).message}`);
    }
    if (freed > 0) this.logger.warn(`freed ${freed} concurrency slot(s) of ended jobs`);
    return freed;
  }
}
