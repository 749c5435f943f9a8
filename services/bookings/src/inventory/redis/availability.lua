-- Reads an event's counts and seat states at one moment.
-- KEYS[1]: the event's `loaded` marker. ARGV[1]: the key base.
-- Replies nil when the event is not loaded, else {categories, seats, seat_states}:
-- categories: (id, kind, capacity, held, sold) per category in snapshot order, flat;
-- seats: per seated category in that order, its flat (seat id, index) pairs, unordered;
-- seat_states: flat (seat id, state) pairs of the live seats.
-- The sorting happens in the client, so that the script holds Redis for as short as it can.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local base = ARGV[1]
local categories, seats = {}, {}
for _, category in ipairs(redis.call('LRANGE', base .. 'categories', 0, -1)) do
  local kind = redis.call('HGET', base .. 'kinds', category)
  local counts = redis.call('HMGET', base .. 'counts',
    'capacity:' .. category, 'held:' .. category, 'sold:' .. category)
  for _, value in ipairs({category, kind, counts[1], counts[2], counts[3]}) do
    categories[#categories + 1] = value
  end
  if kind == 'seated' then seats[#seats + 1] = redis.call('HGETALL', base .. 'seats:' .. category) end
end
return {categories, seats, redis.call('HGETALL', base .. 'seat_state')}
