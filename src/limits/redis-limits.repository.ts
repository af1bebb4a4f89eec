import { Redis } from 'ioredis';
import {
  STREAM_SLOT_TTL_MS,
  WINDOW_MS,
  type AdmissionRequest,
  type AdmissionResult,
  type LimitCounters,
  type LimitsStore,
  type OpenJobSlot,
} from './limits-store.js';

// All three checks and both writes happen in one script, so concurrent admissions on any number
// of instances see each other exactly. Redis's own clock keeps instances consistent.
// KEYS: window zset, job slots zset, stream slots zset, today's tokens
// ARGV: admission id, kind, rpm, max concurrent, tokens per day, window ms, stream ttl ms
const ADMIT_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[6]))
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local requests = redis.call('ZCARD', KEYS[1])
local open = redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[3])
local tokens = tonumber(redis.call('GET', KEYS[4]) or '0')
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local reset = 0
if oldest[2] then reset = tonumber(oldest[2]) + tonumber(ARGV[6]) - now end
local refusal = ''
if requests >= tonumber(ARGV[3]) then refusal = 'rate_limit'
elseif tokens >= tonumber(ARGV[5]) then refusal = 'daily_tokens'
elseif open >= tonumber(ARGV[4]) then refusal = 'concurrency' end
if refusal ~= '' then return {refusal, requests, reset, tokens, open, now} end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[6]) * 2)
if ARGV[2] == 'job' then
  redis.call('ZADD', KEYS[2], now, ARGV[1])
else
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[7]), ARGV[1])
end
if reset == 0 then reset = tonumber(ARGV[6]) end
return {'', requests + 1, reset, tokens, open + 1, now}
`;

/** Limit counters in Redis; commands fail fast when Redis is away (callers answer 503). */
export class RedisLimitsRepository implements LimitsStore {
  private readonly redis: Redis;

  constructor(
    options: Record<string, unknown>,
    private readonly prefix: string,
  ) {
    this.redis = new Redis({
      ...options,
      // A request must never wait on an unreachable Redis: fail now, answer 503.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2_000,
      lazyConnect: false,
    });
    this.redis.on('error', () => undefined);
    this.redis.defineCommand('infqAdmit', { numberOfKeys: 4, lua: ADMIT_SCRIPT });
  }

  async admit(request: AdmissionRequest): Promise<AdmissionResult> {
    const { tenantId, admissionId, kind, limits } = request;
    const now = Date.now();
    const raw = (await (
      this.redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
    ).infqAdmit(
      this.key('window', tenantId),
      this.key('jobs', tenantId),
      this.key('streams', tenantId),
      this.tokensKey(tenantId, now),
      admissionId,
      kind,
      limits.rpm,
      limits.maxConcurrent,
      limits.tokensPerDay,
      WINDOW_MS,
      STREAM_SLOT_TTL_MS,
    )) as [string, number, number, number, number, number];
    const [refusal, requests, reset, tokens, open] = raw;
    const counters: LimitCounters = {
      requestsInWindow: requests,
      windowResetMs: reset,
      tokensToday: Number(tokens),
      openSlots: open,
    };
    return refusal === ''
      ? { admitted: true, counters }
      : { admitted: false, refusal: refusal as 'rate_limit', counters };
  }

  async rollback(tenantId: string, admissionId: string): Promise<void> {
    await this.redis
      .multi()
      .zrem(this.key('window', tenantId), admissionId)
      .zrem(this.key('jobs', tenantId), admissionId)
      .zrem(this.key('streams', tenantId), admissionId)
      .exec();
  }

  async release(tenantId: string, slotId: string, tokens: number): Promise<void> {
    const multi = this.redis
      .multi()
      .zrem(this.key('jobs', tenantId), slotId)
      .zrem(this.key('streams', tenantId), slotId);
    if (tokens > 0) {
      const key = this.tokensKey(tenantId, Date.now());
      multi.incrby(key, tokens).expire(key, 2 * 86_400);
    }
    await multi.exec();
  }

  async forceTakeJobSlot(tenantId: string, jobId: string): Promise<void> {
    await this.redis.zadd(this.key('jobs', tenantId), Date.now(), jobId);
  }

  async refreshStreamSlot(tenantId: string, streamId: string): Promise<void> {
    await this.redis.zadd(
      this.key('streams', tenantId),
      'XX',
      Date.now() + STREAM_SLOT_TTL_MS,
      streamId,
    );
  }

  async counters(tenantId: string): Promise<LimitCounters> {
    const now = Date.now();
    const [window, jobs, streams, tokens, oldest] = await Promise.all([
      this.redis.zcount(this.key('window', tenantId), now - WINDOW_MS, '+inf'),
      this.redis.zcard(this.key('jobs', tenantId)),
      this.redis.zcount(this.key('streams', tenantId), now, '+inf'),
      this.redis.get(this.tokensKey(tenantId, now)),
      this.redis.zrangebyscore(
        this.key('window', tenantId),
        now - WINDOW_MS,
        '+inf',
        'WITHSCORES',
        'LIMIT',
        0,
        1,
      ),
    ]);
    return {
      requestsInWindow: window,
      windowResetMs: oldest[1] ? Number(oldest[1]) + WINDOW_MS - now : WINDOW_MS,
      tokensToday: Number(tokens ?? 0),
      openSlots: jobs + streams,
    };
  }

  async listJobSlots(olderThanMs: number): Promise<OpenJobSlot[]> {
    const slots: OpenJobSlot[] = [];
    const pattern = this.key('jobs', '*');
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const tenantId = key.slice(pattern.length - 1);
        const ids = await this.redis.zrangebyscore(key, '-inf', Date.now() - olderThanMs);
        for (const jobId of ids) slots.push({ tenantId, jobId });
      }
    } while (cursor !== '0');
    return slots;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private key(kind: 'window' | 'jobs' | 'streams', tenantId: string): string {
    return `${this.prefix}:limits:${kind}:${tenantId}`;
  }

  private tokensKey(tenantId: string, now: number): string {
    return `${this.prefix}:limits:tokens:${tenantId}:${new Date(now).toISOString().slice(0, 10)}`;
  }
}
