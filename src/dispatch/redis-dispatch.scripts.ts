/**
 * The dispatcher and admission as Redis Lua scripts: each operation is one atomic script, so any
 * number of instances see each other exactly. Redis's clock is the only clock.
 *
 * Keys under `P` (ARGV[1], e.g. `infq:d`):
 * - `jobs` hash: job id → {"t": tenant, "q": waiting list, "m": model, "s": seq}
 * - `pending:<tenant>` zset: admitted job ids → admission time (not yet in the queue)
 * - `ready:<list>` zset: waiting job ids → seq (FIFO); `active` zset: lists with work → virtual time
 * - `retry:<list>` zset: job ids → due time; `retrydue` zset: "<list>|<job>" → due time
 * - `lease` hash: lease id → {"t", "n": node, "k": kind}; `leases` zset: lease id → expiry
 * - `running:<tenant>` set, `node:<node>` set: lease ids
 * - `swait:<node>` zset: waiting stream → first seen; `sseen:<node>` zset: waiting stream → last seen
 * - `tenant:<tenant>` hash: maxc, weight; `clock`: the virtual time of the last dispatch
 * - `tokens:<tenant>:<day>`: tokens charged that UTC day
 * - `rsv` hash: job or stream id → {"t": tenant, "n": tokens} it reserved at admission;
 *   `reserved:<tenant>`: their sum (a job's goes when it ends, a stream's with its lease)
 */

const COMMON = `
local P = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function reserve(id, t, tokens)
  if tokens <= 0 then return end
  redis.call('HSET', P .. ':rsv', id, cjson.encode({t = t, n = tokens}))
  redis.call('INCRBY', P .. ':reserved:' .. t, tokens)
end
-- Frees what the job or stream reserved; returns it (0 when it held nothing).
local function unreserve(id)
  local raw = redis.call('HGET', P .. ':rsv', id)
  if not raw then return 0 end
  redis.call('HDEL', P .. ':rsv', id)
  local r = cjson.decode(raw)
  redis.call('DECRBY', P .. ':reserved:' .. r.t, r.n)
  return r.n
end
local function reserved(t)
  local n = tonumber(redis.call('GET', P .. ':reserved:' .. t) or '0')
  if n < 0 then return 0 end
  return n
end
local function drop_lease(id)
  local raw = redis.call('HGET', P .. ':lease', id)
  redis.call('ZREM', P .. ':leases', id)
  if not raw then return nil end
  local l = cjson.decode(raw)
  -- A stream's reservation lives as long as its lease; a job's as long as the job.
  if l.k == 'stream' then unreserve(id) end
  redis.call('SREM', P .. ':running:' .. l.t, id)
  if l.n ~= '' then redis.call('SREM', P .. ':node:' .. l.n, id) end
  redis.call('HDEL', P .. ':lease', id)
  return l
end
local function take_lease(id, t, n, k, exp)
  redis.call('HSET', P .. ':lease', id, cjson.encode({t = t, n = n, k = k}))
  redis.call('ZADD', P .. ':leases', exp, id)
  redis.call('SADD', P .. ':running:' .. t, id)
  if n ~= '' then redis.call('SADD', P .. ':node:' .. n, id) end
end
local function activate(q)
  if redis.call('ZSCORE', P .. ':active', q) then return end
  local vt = tonumber(redis.call('HGET', P .. ':vt', q) or '0')
  local clock = tonumber(redis.call('GET', P .. ':clock') or '0')
  if vt < clock then vt = clock end
  redis.call('ZADD', P .. ':active', vt, q)
end
local function wait_again(id)
  local raw = redis.call('HGET', P .. ':jobs', id)
  if not raw then return end
  local j = cjson.decode(raw)
  redis.call('ZADD', P .. ':ready:' .. j.q, j.s, id)
  activate(j.q)
end
-- Expired leases free their slot and place; their job waits again at its place.
local function purge(now)
  local expired = redis.call('ZRANGEBYSCORE', P .. ':leases', '-inf', now, 'LIMIT', 0, 500)
  for _, id in ipairs(expired) do
    local l = drop_lease(id)
    if l and l.k == 'job' then wait_again(id) end
  end
end
local function queued(t)
  return redis.call('ZCARD', P .. ':pending:' .. t) + redis.call('ZCARD', P .. ':ready:' .. t)
    + redis.call('ZCARD', P .. ':retry:' .. t)
end
local function charge(t, tokens, day)
  if tokens <= 0 then return end
  local key = P .. ':tokens:' .. t .. ':' .. day
  redis.call('INCRBY', key, tokens)
  redis.call('EXPIRE', key, 172800)
end
local function purge_waits(node, now)
  local stale = redis.call('ZRANGEBYSCORE', P .. ':sseen:' .. node, '-inf', now - 1000)
  for _, id in ipairs(stale) do
    redis.call('ZREM', P .. ':sseen:' .. node, id)
    redis.call('ZREM', P .. ':swait:' .. node, id)
  end
end
-- The caller's nodes, with the room each has now (streams waiting for a place hold it back).
local function load_nodes(json, now)
  local nodes = cjson.decode(json)
  local room = {}
  for _, n in ipairs(nodes) do
    purge_waits(n.id, now)
    room[n.id] = n.max - redis.call('SCARD', P .. ':node:' .. n.id) - redis.call('ZCARD', P .. ':swait:' .. n.id)
    if type(n.m) == 'table' then
      n.set = {}
      for _, model in ipairs(n.m) do n.set[model] = true end
    end
  end
  return nodes, room
end
-- Among the nodes serving the model that have room, one drawn with probability stake / total
-- (u uniform in [0, 1)); nil when they are all full, '' when none serves the model at all.
local function pick(nodes, room, model, u)
  local provider, name = 'bus', model
  if string.sub(model, 1, 10) == 'pistachio/' then provider, name = 'pistachio', string.sub(model, 11) end
  local any = false
  local open = {}
  local total = 0
  for _, n in ipairs(nodes) do
    if n.p == provider and n.ok and (n.set == nil or n.set[name]) then
      any = true
      if room[n.id] > 0 then
        table.insert(open, n)
        total = total + n.s
      end
    end
  end
  if #open > 0 then
    local target = u * total
    for _, n in ipairs(open) do
      target = target - n.s
      if target <= 0 then return n.id end
    end
    return open[#open].id
  end
  if any then return nil end
  return ''
end
-- The fast path: when no list waits and no retry is due, the tenant has a free slot and a node
-- serving the model has room, the job is leased at once. Returns the node, or false.
local function fast_claim(id, t, q, model, maxc, nodes_json, lease_ms, u, now)
  if redis.call('ZCARD', P .. ':active') > 0 then return false end
  if redis.call('ZRANGEBYSCORE', P .. ':retrydue', '-inf', now, 'LIMIT', 0, 1)[1] then return false end
  if redis.call('SCARD', P .. ':running:' .. t) >= maxc then return false end
  local nodes, room = load_nodes(nodes_json, now)
  local node = pick(nodes, room, model, u)
  if not node then return false end
  redis.call('ZREM', P .. ':pending:' .. t, id)
  local seq = redis.call('INCR', P .. ':seq')
  redis.call('HSET', P .. ':jobs', id, cjson.encode({t = t, q = q, m = model, s = seq}))
  take_lease(id, t, node, 'job', now + lease_ms)
  return node
end
`;

const script = (body: string): string => `${COMMON}\n${body}`;

/**
 * ARGV: P, tenant, admission id, kind, rpm, max concurrent, max queued, weight, tokens per day,
 * window ms, stream ttl ms, today, tokens to reserve; for a job that tries the fast path at once
 * (else ''): its list, model, nodes JSON, lease ms, random u. Returns {refusal, requests, reset
 * ms, tokens, open, queued, reserved tokens, claimed node or false}.
 */
export const ADMIT = script(`
local t = ARGV[2]
local id = ARGV[3]
local kind = ARGV[4]
local now = now_ms()
local windowKey = P .. ':window:' .. t
local windowMs = tonumber(ARGV[10])
purge(now)
redis.call('ZREMRANGEBYSCORE', windowKey, '-inf', now - windowMs)
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', P .. ':pending:' .. t, '-inf', now - 600000)) do
  unreserve(gone)
end
redis.call('ZREMRANGEBYSCORE', P .. ':pending:' .. t, '-inf', now - 600000)
local held = reserved(t)
local reserve_now = tonumber(ARGV[13])
local requests = redis.call('ZCARD', windowKey)
local open = redis.call('SCARD', P .. ':running:' .. t)
local waiting = queued(t)
local tokens = tonumber(redis.call('GET', P .. ':tokens:' .. t .. ':' .. ARGV[12]) or '0')
local oldest = redis.call('ZRANGE', windowKey, 0, 0, 'WITHSCORES')
local reset = windowMs
if oldest[2] then reset = tonumber(oldest[2]) + windowMs - now end
local refusal = ''
if requests >= tonumber(ARGV[5]) then refusal = 'rate_limit'
elseif tokens + held >= tonumber(ARGV[9]) then refusal = 'daily_tokens'
elseif kind == 'job' and waiting >= tonumber(ARGV[7]) then refusal = 'queue_full'
elseif kind == 'stream' and open >= tonumber(ARGV[6]) then refusal = 'concurrency' end
if refusal ~= '' then return {refusal, requests, reset, tokens, open, waiting, held} end
redis.call('ZADD', windowKey, now, id)
redis.call('PEXPIRE', windowKey, windowMs * 2)
redis.call('HSET', P .. ':tenant:' .. t, 'maxc', ARGV[6], 'weight', ARGV[8])
local node = false
if kind == 'job' and ARGV[14] ~= '' then
  node = fast_claim(id, t, ARGV[14], ARGV[15], tonumber(ARGV[6]), ARGV[16], tonumber(ARGV[17]),
    tonumber(ARGV[18]), now)
end
if node then
  open = open + 1
elseif kind == 'job' then
  redis.call('ZADD', P .. ':pending:' .. t, now, id)
  waiting = waiting + 1
elseif kind == 'stream' then
  take_lease(id, t, '', 'stream', now + tonumber(ARGV[11]))
  open = open + 1
end
if kind == 'job' or kind == 'stream' then
  reserve(id, t, reserve_now)
  held = held + math.max(reserve_now, 0)
end
return {'', requests + 1, reset, tokens, open, waiting, held, node}
`);

/** ARGV: P, tenant, admission id. Also undoes a fast-path claim made with the admission. */
export const ROLLBACK = script(`
redis.call('ZREM', P .. ':window:' .. ARGV[2], ARGV[3])
redis.call('ZREM', P .. ':pending:' .. ARGV[2], ARGV[3])
redis.call('HDEL', P .. ':jobs', ARGV[3])
drop_lease(ARGV[3])
unreserve(ARGV[3])
return 1
`);

/** ARGV: P, tenant, today. Returns {requests, reset ms, tokens, open, queued, reserved}. */
export const COUNTERS = script(`
local t = ARGV[2]
local now = now_ms()
purge(now)
local windowKey = P .. ':window:' .. t
redis.call('ZREMRANGEBYSCORE', windowKey, '-inf', now - 60000)
local oldest = redis.call('ZRANGE', windowKey, 0, 0, 'WITHSCORES')
local reset = 60000
if oldest[2] then reset = tonumber(oldest[2]) + 60000 - now end
return {redis.call('ZCARD', windowKey), reset,
  tonumber(redis.call('GET', P .. ':tokens:' .. t .. ':' .. ARGV[3]) or '0'),
  redis.call('SCARD', P .. ':running:' .. t), queued(t), reserved(t)}
`);

/** ARGV: P, job, tenant, list, model, max concurrent, weight, force ('1' or '0'). */
export const ENQUEUE = script(`
local id = ARGV[2]
local t = ARGV[3]
local q = ARGV[4]
redis.call('ZREM', P .. ':pending:' .. t, id)
redis.call('HSETNX', P .. ':tenant:' .. t, 'maxc', ARGV[6])
redis.call('HSETNX', P .. ':tenant:' .. t, 'weight', ARGV[7])
local raw = redis.call('HGET', P .. ':jobs', id)
if not raw then
  local seq = redis.call('INCR', P .. ':seq')
  redis.call('HSET', P .. ':jobs', id, cjson.encode({t = t, q = q, m = ARGV[5], s = seq}))
  redis.call('ZADD', P .. ':ready:' .. q, seq, id)
  activate(q)
  return 1
end
local leased = redis.call('HEXISTS', P .. ':lease', id) == 1
if leased and ARGV[8] ~= '1' then return 0 end
if leased then drop_lease(id) end
local j = cjson.decode(raw)
if redis.call('ZSCORE', P .. ':retry:' .. j.q, id) then return 0 end
redis.call('ZADD', P .. ':ready:' .. j.q, j.s, id)
activate(j.q)
return 1
`);

/**
 * ARGV: P, nodes JSON [{id, p, max, s, ok, m}], limit, lease ms, random seed.
 * Returns a flat list: job, tenant, node, job, tenant, node, ...
 */
export const DISPATCH = script(`
local now = now_ms()
purge(now)
local due = redis.call('ZRANGEBYSCORE', P .. ':retrydue', '-inf', now, 'LIMIT', 0, 500)
for _, member in ipairs(due) do
  redis.call('ZREM', P .. ':retrydue', member)
  local sep = string.find(member, '|', 1, true)
  local q = string.sub(member, 1, sep - 1)
  local id = string.sub(member, sep + 1)
  if redis.call('ZREM', P .. ':retry:' .. q, id) == 1 then wait_again(id) end
end
local nodes, room = load_nodes(ARGV[2], now)
-- Park-Miller draws from a seed the caller sends: a script's own math.random is not random.
local seed = tonumber(ARGV[5])
local function draw()
  seed = (16807 * seed) % 2147483647
  return seed / 2147483647
end
local out = {}
local limit = tonumber(ARGV[3])
local expiry = now + tonumber(ARGV[4])
local clock = tonumber(redis.call('GET', P .. ':clock') or '0')
while #out < limit * 3 do
  local lists = redis.call('ZRANGE', P .. ':active', 0, -1, 'WITHSCORES')
  local assigned = false
  for i = 1, #lists, 2 do
    local q = lists[i]
    local vt = tonumber(lists[i + 1])
    if vt < clock then vt = clock end
    local head = redis.call('ZRANGE', P .. ':ready:' .. q, 0, 0)[1]
    if not head then
      redis.call('ZREM', P .. ':active', q)
    else
      local raw = redis.call('HGET', P .. ':jobs', head)
      if not raw then
        redis.call('ZREM', P .. ':ready:' .. q, head)
      else
        local j = cjson.decode(raw)
        local settings = redis.call('HMGET', P .. ':tenant:' .. j.t, 'maxc', 'weight')
        local maxc = tonumber(settings[1] or '1')
        local weight = tonumber(settings[2] or '1')
        if redis.call('SCARD', P .. ':running:' .. j.t) < maxc then
          local node = pick(nodes, room, j.m, draw())
          if node then
            redis.call('ZREM', P .. ':ready:' .. q, head)
            take_lease(head, j.t, node, 'job', expiry)
            if node ~= '' then room[node] = room[node] - 1 end
            local next_vt = vt + 1 / weight
            redis.call('HSET', P .. ':vt', q, next_vt)
            if redis.call('ZCARD', P .. ':ready:' .. q) > 0 then
              redis.call('ZADD', P .. ':active', next_vt, q)
            else
              redis.call('ZREM', P .. ':active', q)
            end
            clock = vt
            table.insert(out, head)
            table.insert(out, j.t)
            table.insert(out, node)
            assigned = true
            break
          end
        end
      end
    end
  end
  if not assigned then break end
end
redis.call('SET', P .. ':clock', clock)
return out
`);

/**
 * ARGV: P, job, tenant, list, model, max concurrent, weight, nodes JSON, lease ms, u in [0, 1).
 * The fast path for a job about to be added: when no list waits and no retry is due, the
 * tenant has a free slot and a node has room, the job is leased at once. Returns the node, or
 * false (the job is added parked and waits in its list).
 */
export const CLAIM = script(`
local now = now_ms()
purge(now)
if redis.call('HEXISTS', P .. ':jobs', ARGV[2]) == 1 then return false end
redis.call('HSET', P .. ':tenant:' .. ARGV[3], 'maxc', ARGV[6], 'weight', ARGV[7])
return fast_claim(ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[8],
  tonumber(ARGV[9]), tonumber(ARGV[10]), now)
`);

/** ARGV: P, job, lease ms. Returns the lease's node, or false. */
export const BEGIN = script(`
local now = now_ms()
purge(now)
local raw = redis.call('HGET', P .. ':lease', ARGV[2])
if not raw then return false end
redis.call('ZADD', P .. ':leases', now + tonumber(ARGV[3]), ARGV[2])
return cjson.decode(raw).n
`);

/** ARGV: P, lease ms, lease ids... */
export const HEARTBEAT = script(`
local expiry = now_ms() + tonumber(ARGV[2])
for i = 3, #ARGV do redis.call('ZADD', P .. ':leases', 'XX', expiry, ARGV[i]) end
return 1
`);

/** ARGV: P, job, nodes JSON [{id, max}] in preference order. Returns the new node or false. */
export const MOVE_LEASE = script(`
local raw = redis.call('HGET', P .. ':lease', ARGV[2])
if not raw then return false end
local l = cjson.decode(raw)
local now = now_ms()
for _, n in ipairs(cjson.decode(ARGV[3])) do
  purge_waits(n.id, now)
  if n.id ~= l.n and redis.call('SCARD', P .. ':node:' .. n.id) + redis.call('ZCARD', P .. ':swait:' .. n.id) < n.max then
    if l.n ~= '' then redis.call('SREM', P .. ':node:' .. l.n, ARGV[2]) end
    redis.call('SADD', P .. ':node:' .. n.id, ARGV[2])
    l.n = n.id
    redis.call('HSET', P .. ':lease', ARGV[2], cjson.encode(l))
    return n.id
  end
end
return false
`);

/**
 * ARGV: P, job, kind ('final' or 'retry'), due time, tokens, today. A final job is forgotten,
 * its reservation freed and its tokens charged. Returns how many lists have jobs waiting (none: the freed place needs
 * no dispatch round).
 */
export const FINISH = script(`
local id = ARGV[2]
drop_lease(id)
local raw = redis.call('HGET', P .. ':jobs', id)
if raw then
  local j = cjson.decode(raw)
  redis.call('ZREM', P .. ':ready:' .. j.q, id)
  if ARGV[3] == 'retry' then
    redis.call('ZADD', P .. ':retry:' .. j.q, ARGV[4], id)
    redis.call('ZADD', P .. ':retrydue', ARGV[4], j.q .. '|' .. id)
  else
    redis.call('ZREM', P .. ':retry:' .. j.q, id)
    redis.call('ZREM', P .. ':retrydue', j.q .. '|' .. id)
    redis.call('ZREM', P .. ':pending:' .. j.t, id)
    redis.call('HDEL', P .. ':jobs', id)
    charge(j.t, tonumber(ARGV[5]), ARGV[6])
  end
end
if ARGV[3] ~= 'retry' then unreserve(id) end
return redis.call('ZCARD', P .. ':active')
`);

/**
 * ARGV: P, stream, nodes JSON [{id, max}] in preference order. A place at the first node with
 * room, counting streams that have waited longer; otherwise registers the stream as waiting.
 */
export const PLACE_STREAM = script(`
local id = ARGV[2]
local now = now_ms()
purge(now)
local raw = redis.call('HGET', P .. ':lease', id)
if not raw then return false end
local l = cjson.decode(raw)
local nodes = cjson.decode(ARGV[3])
for _, n in ipairs(nodes) do
  purge_waits(n.id, now)
  local rank = redis.call('ZRANK', P .. ':swait:' .. n.id, id)
  local ahead = rank or redis.call('ZCARD', P .. ':swait:' .. n.id)
  if redis.call('SCARD', P .. ':node:' .. n.id) + ahead < n.max then
    l.n = n.id
    redis.call('HSET', P .. ':lease', id, cjson.encode(l))
    redis.call('SADD', P .. ':node:' .. n.id, id)
    for _, other in ipairs(nodes) do
      redis.call('ZREM', P .. ':swait:' .. other.id, id)
      redis.call('ZREM', P .. ':sseen:' .. other.id, id)
    end
    return n.id
  end
end
for _, n in ipairs(nodes) do
  redis.call('ZADD', P .. ':swait:' .. n.id, 'NX', now, id)
  redis.call('ZADD', P .. ':sseen:' .. n.id, now, id)
end
return false
`);

/** ARGV: P, tenant, stream, tokens (negative: unknown, the reservation is charged), today. */
export const RELEASE_STREAM = script(`
local held = unreserve(ARGV[3])
if drop_lease(ARGV[3]) then
  local tokens = tonumber(ARGV[4])
  if tokens < 0 then tokens = held end
  charge(ARGV[2], tokens, ARGV[5])
end
return 1
`);
