-- Ends a booking as release.lua does, except that some of its units go to new held bookings (the
-- offers of a waiting list) instead of back on sale, in this one atomic step.
-- KEYS[1]: the event's `loaded` marker. ARGV[1]: the key base. ARGV[2]: the booking id.
-- ARGV[3]: the number of new bookings, then for each: its booking id, user id and number of
-- units, then those unit ids (each a unit of the booking that ends).
-- Replies 'not_loaded' | 'unknown' (the booking is not here) | 'foreign' (a unit is not the
-- booking's, or a new booking exists already) | 'ok'. Anything but 'ok' changed nothing.
-- MemoryInventory::hand_over makes the same changes.
if redis.call('EXISTS', KEYS[1]) == 0 then return 'not_loaded' end
local base, booking_id = ARGV[1], ARGV[2]
local record = redis.call('HGET', base .. 'bookings', booking_id)
if not record then return 'unknown' end
local booking = cjson.decode(record)

-- Checks first: a script that fails half-way keeps its writes.
local category_of = {}
for i = 1, #booking.units, 2 do category_of[booking.units[i + 1]] = booking.units[i] end
local holds, handed, at = {}, {}, 4
for _ = 1, tonumber(ARGV[3]) do
  local hold = {id = ARGV[at], user = ARGV[at + 1], units = {}}
  local count = tonumber(ARGV[at + 2])
  at = at + 3
  if hold.id == booking_id or redis.call('HEXISTS', base .. 'bookings', hold.id) == 1 then
    return 'foreign'
  end
  for _ = 1, count do
    local unit = ARGV[at]
    at = at + 1
    local category = category_of[unit]
    if not category or handed[unit] then return 'foreign' end
    handed[unit] = true
    hold.units[#hold.units + 1] = category
    hold.units[#hold.units + 1] = unit
  end
  holds[#holds + 1] = hold
end

for i = 1, #booking.units, 2 do
  local category, unit = booking.units[i], booking.units[i + 1]
  local seated = redis.call('HGET', base .. 'kinds', category) == 'seated'
  if handed[unit] then
    -- Still live, now held by the offer: a sold unit (a refund) counts as held again.
    if booking.state == 'sold' then
      redis.call('HINCRBY', base .. 'counts', 'sold:' .. category, -1)
      redis.call('HINCRBY', base .. 'counts', 'held:' .. category, 1)
      if seated then redis.call('HSET', base .. 'seat_state', unit, 'held') end
    end
  else
    redis.call('HINCRBY', base .. 'counts', booking.state .. ':' .. category, -1)
    if seated then
      local index = redis.call('HGET', base .. 'seats:' .. category, unit)
      redis.call('ZADD', base .. 'free:' .. category, index, unit)
      redis.call('HDEL', base .. 'seat_state', unit)
    else
      redis.call('RPUSH', base .. 'free:' .. category, string.match(unit, ':(%d+)$'))
    end
  end
end
local live = redis.call('HINCRBY', base .. 'users', booking.user, -(#booking.units / 2))
if live <= 0 then redis.call('HDEL', base .. 'users', booking.user) end
redis.call('HDEL', base .. 'bookings', booking_id)
for _, hold in ipairs(holds) do
  redis.call('HINCRBY', base .. 'users', hold.user, #hold.units / 2)
  redis.call('HSET', base .. 'bookings', hold.id, cjson.encode({user = hold.user, state = 'held', units = hold.units}))
end
return 'ok'
