/**
 * The dead-letter index as one Redis Lua script, so that any number of instances keep one exact
 * total per tenant. Redis's clock is the only clock.
 *
 * Keys under `P` (ARGV[1], e.g. `infq:dl`), per tenant `T`:
 * - `P:T` zset: job id → when it was recorded (ms)
 * - `P:T:bytes` hash: job id → its request's bytes
 * - `P:T:total`: the sum of `P:T:bytes`
 */

/** ARGV: P, tenant, job id, bytes, ttl (ms), cap (bytes). Returns the dropped job ids. */
export const RECORD_DEAD_LETTER = `
local P, tenant, job = ARGV[1], ARGV[2], ARGV[3]
local bytes, ttl, cap = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local index = P .. ':' .. tenant
local sizes = index .. ':bytes'
local totalKey = index .. ':total'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local total = tonumber(redis.call('GET', totalKey) or '0')
local function forget(id)
  total = total - tonumber(redis.call('HGET', sizes, id) or '0')
  redis.call('HDEL', sizes, id)
  redis.call('ZREM', index, id)
end
-- Past the retention the queue removes these jobs itself; only the index forgets them.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', now - ttl)) do forget(id) end
forget(job)
redis.call('ZADD', index, now, job)
redis.call('HSET', sizes, job, bytes)
total = total + bytes
local dropped = {}
while total > cap do
  local oldest = redis.call('ZRANGE', index, 0, 0)[1]
  if not oldest then break end
  forget(oldest)
  dropped[#dropped + 1] = oldest
end
if redis.call('ZCARD', index) == 0 then
  redis.call('DEL', index, sizes, totalKey)
else
  redis.call('SET', totalKey, total)
  -- A tenant whose jobs stop dying leaves no index behind once its entries would have expired.
  for _, key in ipairs({ index, sizes, totalKey }) do redis.call('PEXPIRE', key, ttl) end
end
return dropped
`;
