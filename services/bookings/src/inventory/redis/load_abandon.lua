-- Releases the lock after a failed load, if this loader still holds it, so that the next caller
-- need not wait for its expiry.
--
-- KEYS: the `loading` lock. ARGV: the token.
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
