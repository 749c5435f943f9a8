-- Marks the event loaded and releases the lock, if this loader still holds it.
--
-- KEYS: the `loading` lock, the `loaded` marker. ARGV: the token. Replies 1 or 0.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], '1')
redis.call('DEL', KEYS[1])
return 1
