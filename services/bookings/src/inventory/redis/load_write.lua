-- Writes one chunk of a load and extends the lock, only while this loader holds it: a loader
-- that stalled past the lock's expiry must not write into its successor's load.
--
-- KEYS: the `loading` lock, the key written. ARGV: the token, the lock's expiry in
-- milliseconds, the command (RPUSH, ZADD or HSET), then its items. Without items it only extends
-- the lock. Replies 1, or 0 when the lock is not this loader's.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
-- unpack() is bounded by Lua's stack (about 8,000 values), so the items go in batches; the
-- batch is even so that pairs stay together.
local BATCH_ITEMS = 1000
for first = 4, #ARGV, BATCH_ITEMS do
  redis.call(ARGV[3], KEYS[2], unpack(ARGV, first, math.min(first + BATCH_ITEMS - 1, #ARGV)))
end
return 1
