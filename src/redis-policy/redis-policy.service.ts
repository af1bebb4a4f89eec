import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { Redis } from 'ioredis';
import type { AppConfig } from '../config/app-config.js';
import { ConfigError } from '../config/bus-nodes.js';
import { APP_CONFIG } from '../config/config.module.js';
import { redisConnectionOptions } from '../config/redis-connection.js';
import { redactCredentials } from '../config/redact-credentials.js';

/** Policies under which Redis may delete infq's keys (jobs, counters) when memory runs out. */
const SAFE_POLICY = 'noeviction';
const CHECK_TIMEOUT_MS = 5_000;
const RETRY_MS = 30_000;

/** What `INFO` says about a Redis server's memory policy and persistence. */
export interface RedisPolicy {
  maxmemoryPolicy: string;
  aof: boolean;
}

/** Reads `maxmemory_policy` and `aof_enabled` from `INFO memory` and `INFO persistence` text. */
export function parseRedisPolicy(info: string): RedisPolicy {
  const field = (name: string): string | undefined =>
    new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
  return {
    maxmemoryPolicy: field('maxmemory_policy') ?? SAFE_POLICY,
    aof: field('aof_enabled') === '1',
  };
}

/**
 * Checks at start-up that Redis will neither evict infq's keys (an evicting `maxmemory-policy`
 * refuses the start) nor lose what it acknowledged on a restart (no AOF: a warning, and
 * `persistence()` says so for /health). With no REDIS_URL there is nothing to check.
 */
@Injectable()
export class RedisPolicyCheck implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RedisPolicyCheck.name);
  private found: RedisPolicy | undefined;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** `'none'` once Redis was seen without AOF; `'aof'` otherwise (including "not known yet"). */
  persistence(): 'aof' | 'none' {
    return this.found && !this.found.aof ? 'none' : 'aof';
  }

  /** Whether /health should say `degraded` for it (`REDIS_REQUIRE_AOF`). */
  isDegrading(): boolean {
    return this.config.redis.requireAof && this.persistence() === 'none';
  }

  async onModuleInit(): Promise<void> {
    if (!this.config.redis.url) return;
    await this.check(true);
  }

  onModuleDestroy(): void {
    clearTimeout(this.retryTimer);
  }

  private async check(atStart: boolean): Promise<void> {
    let policy: RedisPolicy;
    try {
      policy = await readPolicy(this.config.redis.url!);
    } catch (error) {
      // Redis being away is the queue's business (503s, /health down); look again later.
      this.logger.warn(`could not read Redis's memory policy yet: ${(error as Error).message}`);
      this.retryTimer = setTimeout(() => void this.check(false), RETRY_MS);
      this.retryTimer.unref();
      return;
    }
    this.found = policy;
    if (policy.maxmemoryPolicy !== SAFE_POLICY) {
      const message = evictionMessage(this.config.redis.url!, policy);
      if (atStart) throw new ConfigError(message);
      this.logger.error(message);
    }
    if (!policy.aof) {
      this.logger.warn(
        'Redis has no append-only file (appendonly no): a Redis restart can lose accepted jobs. ' +
          'Set "appendonly yes" and "appendfsync everysec".',
      );
    }
  }
}

/**
 * Refuses (a `ConfigError`, one line) a Redis whose policy evicts keys, before anything else
 * connects to it: BullMQ's own connections would otherwise warn about it first. A Redis that
 * does not answer yet is left to the queue's own handling.
 */
export async function refuseEvictingRedis(url: string): Promise<void> {
  let policy: RedisPolicy;
  try {
    policy = await readPolicy(url);
  } catch {
    return;
  }
  if (policy.maxmemoryPolicy !== SAFE_POLICY) throw new ConfigError(evictionMessage(url, policy));
}

const evictionMessage = (url: string, policy: RedisPolicy): string =>
  `Redis at ${redactCredentials(url)} has maxmemory-policy ${policy.maxmemoryPolicy}: it would ` +
  `evict queued jobs and counters when full. Set "maxmemory-policy ${SAFE_POLICY}" ` +
  `(CONFIG SET maxmemory-policy ${SAFE_POLICY}, and in redis.conf).`;

async function readPolicy(url: string): Promise<RedisPolicy> {
  const redis = new Redis({
    ...redisConnectionOptions(url),
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    connectTimeout: CHECK_TIMEOUT_MS,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const [memory, persistence] = await Promise.all([
      redis.info('memory'),
      redis.info('persistence'),
    ]);
    return parseRedisPolicy(`${memory}\n${persistence}`);
  } finally {
    redis.disconnect();
  }
}
