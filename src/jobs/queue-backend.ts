import {
  createPostgresBackend,
  Queue,
  QueueEvents,
  QueueEventsProducer,
  withBackend,
  Worker,
} from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { redisConnectionOptions } from '../config/redis-connection.js';

export type QueueBackendName = 'redis' | 'postgres';

/** The BullMQ classes and connection for the configured backend; everything else is shared. */
export interface QueueBackend {
  name: QueueBackendName;
  classes: {
    Queue: typeof Queue;
    Worker: typeof Worker;
    QueueEvents: typeof QueueEvents;
    QueueEventsProducer: typeof QueueEventsProducer;
  };
  /** Options spread into every BullMQ constructor. */
  options: { connection: never; prefix?: string };
}

/** Redis when `REDIS_URL` is set, otherwise BullMQ's PostgreSQL backend on the app's database. */
export function selectQueueBackend(config: AppConfig, databaseUrl: string): QueueBackend {
  if (config.redis.url) {
    return {
      name: 'redis',
      classes: { Queue, Worker, QueueEvents, QueueEventsProducer },
      options: {
        connection: { ...redisConnectionOptions(config.redis.url) } as never,
        prefix: config.redis.prefix,
      },
    };
  }
  const postgres = withBackend(createPostgresBackend);
  return {
    name: 'postgres',
    classes: postgres as unknown as QueueBackend['classes'],
    // migrate: BullMQ's tables are created (under an advisory lock) on first connect.
    options: { connection: { connectionString: databaseUrl, migrate: true, max: 20 } as never },
  };
}
