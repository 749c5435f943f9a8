-- Says whether the event is loaded, else takes the loading lock if it is free.
--
-- KEYS: the `loaded` marker, the `loading` lock. ARGV: the loader's token, the lock's expiry in
-- milliseconds. Replies `loaded`, `acquired` or `busy`.
if redis.call('EXISTS', KEYS[1]) == 1 then return 'loaded' end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'acquired' end
return 'busy'
