-- Deletes whatever a previous, unfinished load left, while this loader holds the lock.
--
-- KEYS: the `loading` lock. ARGV: the token, the lock's expiry in milliseconds, the key base,
-- then the snapshot's category ids. Replies 1, or 0 when the lock is not this loader's.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local base = ARGV[3]
-- The categories of a half-written load are in its list (written first) or in this snapshot.
local categories = redis.call('LRANGE', base .. 'categories', 0, -1)
for i = 4, #ARGV do categories[#categories + 1] = ARGV[i] end
for _, category in ipairs(categories) do
  redis.call('UNLINK', base .. 'free:' .. category, base .. 'seats:' .. category)
end
redis.call('UNLINK', base .. 'loaded', base .. 'categories', base .. 'kinds', base .. 'counts',
  base .. 'seat_state', base .. 'users', base .. 'bookings')
return 1
