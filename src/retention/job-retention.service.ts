import { InjectQueue } from '@nestjs/bullmq';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { INFERENCE_QUEUE, type InferenceJobData } from '../jobs/inference-queue.js';

const SWEEP_INTERVAL_MS = 60_000;
// Removed per state and sweep; a backlog older than its retention goes over a few sweeps.
const SWEEP_LIMIT = 5_000;

/**
 * Removes ended jobs (their request and result) once past their retention: `RESULT_TTL_S` for
 * completed jobs, `DEAD_TTL_S` for dead and cancelled ones. The queue trims old jobs only when
 * another job ends, so without this sweep a queue that went quiet would keep its last jobs, and
 * the memory they hold, for ever. Runs in worker processes; every instance may sweep, the
 * queue's own clean is atomic.
 */
@Injectable()
export class JobRetention implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(JobRetention.name);
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;

  constructor(
    @InjectQueue(INFERENCE_QUEUE) private readonly queue: Queue<InferenceJobData>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.sweep().catch((error: unknown) =>
        this.logger.warn(`job retention sweep: ${(error as Error).message}`),
      );
    }, SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping?.catch(() => undefined);
  }

  /** One pass; resolves with how many jobs it removed. */
  sweep(): Promise<number> {
    this.sweeping ??= this.removeExpired().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async removeExpired(): Promise<number> {
    const { resultTtlS, deadTtlS } = this.config.retention;
    const completed = await this.queue.clean(resultTtlS * 1_000, SWEEP_LIMIT, 'completed');
    const failed = await this.queue.clean(deadTtlS * 1_000, SWEEP_LIMIT, 'failed');
    return completed.length + failed.length;
  }
}
