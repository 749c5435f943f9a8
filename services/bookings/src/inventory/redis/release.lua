-- Returns a booking's units, held or sold, to sale and forgets the booking.
-- KEYS[1]: the event's `loaded` marker. ARGV[1]: the key base. ARGV[2]: booking id.
-- Replies 'not_loaded' or 'ok' (also for an unknown or already released booking).
if redis.call('EXISTS', KEYS[1]) == 0 then return 'not_loaded' end
local base, booking_id = ARGV[1], ARGV[2]
local record = redis.call('HGET', base .. 'bookings', booking_id)
if not record then return 'ok' end
local booking = cjson.decode(record)

for i = 1, #booking.units, 2 do
  local category, unit = booking.units[i], booking.units[i + 1]
  -- The booking's state names its counter: 'held:<category>' or 'sold:<category>'.
  redis.call('HINCRBY', base .. 'counts', booking.state .. ':' .. category, -1)
  if redis.call('HGET', base .. 'kinds', category) == 'seated' then
    local index = redis.call('HGET', base .. 'seats:' .. category, unit)
    redis.call('ZADD', base .. 'free:' .. category, index, unit)
    redis.call('HDEL', base .. 'seat_state', unit)
  else
    -- Back to the tail, as MemoryInventory does, so both hand out the same units next.
    redis.call('RPUSH', base .. 'free:' .. category, string.match(unit, ':(%d+)$'))
  end
end
local live = redis.call('HINCRBY', base .. 'users', booking.user, -(#booking.units / 2))
if live <= 0 then redis.call('HDEL', base .. 'users', booking.user) end
redis.call('HDEL', base .. 'bookings', booking_id)
return 'ok'
