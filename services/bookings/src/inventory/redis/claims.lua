-- The bookings an event's inventory records, loaded or marked for a rebuild that has not yet
-- cleared them, and the Redis clock, in one step.
-- KEYS[1]: the event's `bookings` hash.
-- Replies {now in milliseconds, booking id, record, booking id, record, ...}.
local time = redis.call('TIME')
local reply = {tostring(tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000))}
for _, value in ipairs(redis.call('HGETALL', KEYS[1])) do reply[#reply + 1] = value end
return reply
