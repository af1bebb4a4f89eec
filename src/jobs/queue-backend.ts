import {
  createPostgresBackend,
  Queue,
  QueueEvents,
  QueueEventsProducer,
  withBackend,
  Worker,
  type Processor,
  type WorkerOptions,
} from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { redisConnectionOptions } from '../config/redis-connection.js';

export type QueueBackendName = 'redis' | 'postgres';

type WorkerProcessor = string | URL | null | Processor | undefined;

// A command to a store that is away fails after this long instead of waiting for it to return.
const COMMAND_TIMEOUT_MS = 5_000;

/** The BullMQ classes and connections for the configured backend; everything else is shared. */
export interface QueueBackend {
  name: QueueBackendName;
  classes: {
    Queue: typeof Queue;
    Worker: typeof Worker;
    QueueEvents: typeof QueueEvents;
    QueueEventsProducer: typeof QueueEventsProducer;
  };
  /**
   * For the queue and the event producer, which serve HTTP requests: while the store is away
   * their commands fail at once (the request gets a 503) instead of queueing until it returns.
   */
  options: { connection: never; prefix?: string };
  /** For the queue-event listener, whose blocking reads must wait out an outage. */
  listenerOptions: { connection: never; prefix?: string };
}

/** Redis when `REDIS_URL` is set, otherwise BullMQ's PostgreSQL backend on the app's database. */
export function selectQueueBackend(config: AppConfig, databaseUrl: string): QueueBackend {
  if (config.redis.url) {
    const waiting = redisConnectionOptions(config.redis.url);
    const listenerOptions = { connection: waiting as never, prefix: config.redis.prefix };
    return {
      name: 'redis',
      classes: {
        Queue,
        // Workers too must wait out an outage: a completion must not be dropped in a blip.
        Worker: withConnection(Worker, listenerOptions),
        QueueEvents,
        QueueEventsProducer,
      },
      options: {
        connection: {
          ...waiting,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          commandTimeout: COMMAND_TIMEOUT_MS,
        } as never,
        prefix: config.redis.prefix,
      },
      listenerOptions,
    };
  }
  const postgres = withBackend(createPostgresBackend);
  // migrate: BullMQ's tables are created (under an advisory lock) on first connect.
  const options = {
    connection: {
      connectionString: databaseUrl,
      migrate: true,
      // Per pool (the queue, its worker and its listener each have one). Measured on the 2-core
      // box, 5 connections beat 20; and two instances' pools of 20 ran past PostgreSQL's
      // default max_connections of 100.
      max: 5,
      connectionTimeoutMillis: COMMAND_TIMEOUT_MS,
    } as never,
  };
  return {
    name: 'postgres',
    classes: postgres as unknown as QueueBackend['classes'],
    options,
    listenerOptions: options,
  };
}

/**
 * @nestjs/bullmq gives its workers the queue's connection options; this worker class uses
 * `options` instead.
 */
function withConnection(
  base: typeof Worker,
  options: QueueBackend['listenerOptions'],
): typeof Worker {
  return class extends base {
    constructor(name: string, processor: WorkerProcessor, opts?: WorkerOptions) {
      super(name, processor, { ...opts, ...options });
    }
  };
}
