-- Turns a booking's held units into sold ones.
-- KEYS[1]: the event's `loaded` marker. ARGV[1]: the key base. ARGV[2]: booking id.
-- Replies 'not_loaded' or 'ok' (also for an unknown or already confirmed booking).
if redis.call('EXISTS', KEYS[1]) == 0 then return 'not_loaded' end
local base, booking_id = ARGV[1], ARGV[2]
local record = redis.call('HGET', base .. 'bookings', booking_id)
if not record then return 'ok' end
local booking = cjson.decode(record)
if booking.state == 'sold' then return 'ok' end

for i = 1, #booking.units, 2 do
  local category, unit = booking.units[i], booking.units[i + 1]
  redis.call('HINCRBY', base .. 'counts', 'held:' .. category, -1)
  redis.call('HINCRBY', base .. 'counts', 'sold:' .. category, 1)
  if redis.call('HGET', base .. 'kinds', category) == 'seated' then
    redis.call('HSET', base .. 'seat_state', unit, 'sold')
  end
end
booking.state = 'sold'
redis.call('HSET', base .. 'bookings', booking_id, cjson.encode(booking))
return 'ok'
