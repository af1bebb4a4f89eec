import { Redis } from 'ioredis';
import type { DeadLetterEntry, DeadLetterStore } from './dead-letter-store.js';
import { RECORD_DEAD_LETTER } from './redis-dead-letter.scripts.js';

type RecordCommand = (...args: (string | number)[]) => Promise<string[]>;

/** The dead-letter index in Redis, beside the queue it describes. */
export class RedisDeadLetterRepository implements DeadLetterStore {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(options: Record<string, unknown>, prefix: string) {
    this.prefix = `${prefix}:dl`;
    this.redis = new Redis({
      ...options,
      // Recorded after the job's final state, off the request path: fail now, the job stays
      // until its retention sweep.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 5_000,
    });
    this.redis.on('error', () => undefined);
    this.redis.defineCommand('recordDeadLetter', { numberOfKeys: 0, lua: RECORD_DEAD_LETTER });
  }

  record(entry: DeadLetterEntry, ttlS: number, capBytes: number): Promise<string[]> {
    const command = (this.redis as unknown as { recordDeadLetter: RecordCommand }).recordDeadLetter;
    return command.call(
      this.redis,
      this.prefix,
      entry.tenantId,
      entry.jobId,
      entry.bytes,
      ttlS * 1_000,
      capBytes,
    );
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
