import { InjectQueue } from '@nestjs/bullmq';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { Queue } from 'bullmq';
import { INFERENCE_QUEUE, type InferenceJobData } from '../jobs/inference-queue.js';
import type { DispatchStore } from './dispatch-store.js';
import { DISPATCH_STORE } from './dispatch.service.js';

const INTERVAL_MS = 60_000;
// A restart is when orphans are likely (a crash between add and listing): look soon after it.
const FIRST_PASS_MS = 5_000;
const PAGE = 500;
const MAX_PER_PASS = 5_000;

/**
 * Puts parked jobs that the dispatcher does not know back in their tenant's line: a process that
 * died between adding a job to the queue and listing it leaves one. Idempotent: a job already
 * waiting, leased or due for a retry is left alone. A parked job whose cancel was recorded is
 * made runnable instead: a worker ends it cancelled without a backend call.
 */
@Injectable()
export class ParkedJobsReconciler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ParkedJobsReconciler.name);
  private timer: NodeJS.Timeout | undefined;
  private firstPass: NodeJS.Timeout | undefined;
  private cursor = 0;

  constructor(
    @Inject(DISPATCH_STORE) private readonly store: DispatchStore,
    @InjectQueue(INFERENCE_QUEUE) private readonly queue: Queue<InferenceJobData>,
  ) {}

  onApplicationBootstrap(): void {
    // Jitter keeps many workers from reconciling in lockstep.
    const jitter = Math.floor(Math.random() * 10_000);
    this.firstPass = setTimeout(() => void this.reconcile(), FIRST_PASS_MS + jitter / 2);
    this.firstPass.unref();
    this.timer = setInterval(() => void this.reconcile(), INTERVAL_MS + jitter);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearTimeout(this.firstPass);
    clearInterval(this.timer);
  }

  /** One pass over (part of) the parked jobs; returns how many it looked at. */
  async reconcile(): Promise<number> {
    let seen = 0;
    try {
      while (seen < MAX_PER_PASS) {
        const page = await this.queue.getDelayed(this.cursor, this.cursor + PAGE - 1);
        if (page.length === 0) {
          this.cursor = 0;
          break;
        }
        for (const job of page) {
          if (!job?.id) continue;
          if (job.data.cancelRequestedAt !== undefined) {
            // Its cancel's own promote was lost (a crash, a race with a round): finish it now.
            await job.promote().catch(() => undefined);
            continue;
          }
          // Settings only fill a tenant the store has never seen; admissions keep them current.
          await this.store.enqueue(
            job.id,
            { tenantId: job.data.tenantId, maxConcurrent: 1, weight: 1 },
            job.data.lane ?? 'interactive',
            job.data.model,
            false,
          );
        }
        seen += page.length;
        this.cursor += page.length;
      }
    } catch (error) {
      this.logger.warn(`parked-job reconciliation failed: ${(error as Error).message}`);
    }
    return seen;
  }
}
