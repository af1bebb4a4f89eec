import { Redis } from 'ioredis';
import { once } from 'node:events';
import type {
  IdempotencyClaim,
  IdempotencyClaimRequest,
  IdempotencyStore,
} from './idempotency-store.js';

// Read and first write in one script, so concurrent claims on any instance see each other.
// KEYS: the key's record. ARGV: body hash, job id, ttl ms. Record: "<body hash> <job id>".
const CLAIM_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PX', tonumber(ARGV[3]))
  return {'new', ''}
end
local space = string.find(current, ' ', 1, true)
if string.sub(current, 1, space - 1) ~= ARGV[1] then return {'mismatch', ''} end
return {'replay', string.sub(current, space + 1)}
`;

// Deletes the record only while it still names this job.
const RELEASE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, -string.len(ARGV[1]) - 1) == ' ' .. ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 0
`;

type ClaimReply = [kind: 'new' | 'replay' | 'mismatch', jobId: string];

/** Idempotency keys in Redis, expiring by themselves; commands fail fast when Redis is away. */
export class RedisIdempotencyRepository implements IdempotencyStore {
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
    });
    this.redis.on('error', () => undefined);
  }

  async claim(request: IdempotencyClaimRequest): Promise<IdempotencyClaim> {
    await this.connecting();
    const [kind, jobId] = (await this.redis.eval(
      CLAIM_SCRIPT,
      1,
      this.recordKey(request.tenantId, request.keyHash),
      request.bodyHash,
      request.jobId,
      String(request.ttlMs),
    )) as ClaimReply;
    return kind === 'replay' ? { kind, jobId } : { kind };
  }

  async release(tenantId: string, keyHash: string, jobId: string): Promise<void> {
    await this.connecting();
    await this.redis.eval(RELEASE_SCRIPT, 1, this.recordKey(tenantId, keyHash), jobId);
  }

  async purgeExpired(): Promise<void> {
    // Redis expires the records itself.
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Waits (briefly) for a first connection still under way; an outage fails at once. */
  private async connecting(): Promise<void> {
    if (this.redis.status !== 'connecting' && this.redis.status !== 'connect') return;
    await Promise.race([
      once(this.redis, 'ready'),
      new Promise((resolve) => setTimeout(resolve, 2_000).unref()),
    ]);
  }

  private recordKey(tenantId: string, keyHash: string): string {
    return `${this.prefix}:idempotency:${tenantId}:${keyHash}`;
  }
}
