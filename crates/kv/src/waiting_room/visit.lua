-- One visit to a waiting room (see crates/kv/src/waiting_room/mod.rs for the rules).
-- KEYS: queue (zset), admitted (zset: member -> end of admission), ended (hash: member ->
-- "expired" | "completed"), counters (hash: seq, started, served, tat, idle, m_at, m_served, m_rate).
-- ARGV: member, join (0/1), now, start, draw score (below 1), rate per minute, admission ms,
-- max admitted, keep ms, rate window ms.
local queue, admitted, ended, counters = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local member = ARGV[1]
local join = ARGV[2] == '1'
local now = tonumber(ARGV[3])
local start = tonumber(ARGV[4])
local draw = ARGV[5]
local rate = tonumber(ARGV[6])
local admission = tonumber(ARGV[7])
local max_admitted = tonumber(ARGV[8])
local keep = tonumber(ARGV[9])

local function number(field, default)
  local value = redis.call('HGET', counters, field)
  if value then return tonumber(value) end
  return default
end

-- Once a visit saw the start, the draws are settled: a late clock cannot add one before them.
local before_start = now < start and not redis.call('HGET', counters, 'started')
if join and not redis.call('ZSCORE', queue, member) then
  if before_start then
    redis.call('ZADD', queue, draw, member)
  else
    redis.call('ZADD', queue, 1 + redis.call('HINCRBY', counters, 'seq', 1), member)
  end
elseif join and redis.call('HDEL', ended, member) == 1 then
  -- A member whose admission ended joins again at the back. It was among the `served` first
  -- places: moving it behind them leaves one place fewer served.
  redis.call('ZADD', queue, 1 + redis.call('HINCRBY', counters, 'seq', 1), member)
  redis.call('HINCRBY', counters, 'served', -1)
end

local served = number('served', 0)
local queued = redis.call('ZCARD', queue)
if not before_start then
  redis.call('HSET', counters, 'started', 1)
  -- Admissions that ran out.
  local gone = redis.call('ZRANGEBYSCORE', admitted, '-inf', now)
  for _, m in ipairs(gone) do redis.call('HSETNX', ended, m, 'expired') end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', admitted, '-inf', now) end
  -- `tat`: the time of the next admission the rate allows; one more every 60000 / rate ms.
  local interval = 60000 / rate
  local tat = number('tat', start)
  if served < queued then
    if redis.call('HGET', counters, 'idle') then
      -- Nobody waited since the last visit: the flow starts again now, with no credit saved up.
      tat = math.max(tat, now)
      redis.call('HDEL', counters, 'idle')
    end
    local allowed = 0
    if now >= tat then allowed = math.floor((now - tat) / interval) + 1 end
    local free = max_admitted - redis.call('ZCARD', admitted)
    local n = math.min(allowed, free, queued - served)
    if n > 0 then
      local next = redis.call('ZRANGE', queue, served, served + n - 1)
      for _, m in ipairs(next) do redis.call('ZADD', admitted, now + admission, m) end
      served = served + n
      tat = tat + n * interval
      redis.call('HSET', counters, 'served', served)
    end
    if free < allowed then
      -- The places, not the rate, held admissions back: no credit piles up either.
      tat = math.max(tat, now)
    end
    redis.call('HSET', counters, 'tat', tat)
  end
  if served >= queued then redis.call('HSET', counters, 'idle', 1) end
  -- The measured rate, taken anew every window.
  local m_at = number('m_at', nil)
  if not m_at then
    -- The first window starts with the first visit that saw the start.
    redis.call('HSET', counters, 'm_at', now, 'm_served', served)
  elseif now - m_at >= tonumber(ARGV[10]) then
    local m_served = number('m_served', 0)
    redis.call('HSET', counters, 'm_rate', (served - m_served) * 60000 / (now - m_at), 'm_at', now, 'm_served', served)
  end
end

local standing, value = 'none', 0
local until_ms = redis.call('ZSCORE', admitted, member)
if until_ms then
  standing, value = 'admitted', until_ms
else
  local how = redis.call('HGET', ended, member)
  if how then
    standing = how
  else
    local rank = redis.call('ZRANK', queue, member)
    if rank then
      if before_start then standing = 'drawing' else standing, value = 'waiting', rank - served end
    end
  end
end
for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, keep) end
return {standing, tostring(value), tostring(queued), tostring(served), redis.call('HGET', counters, 'm_rate') or ''}
