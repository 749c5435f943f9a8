-- Decides one hold: claims every unit of the request or none.
-- KEYS[1]: the event's `loaded` marker.
-- ARGV[1]: the event's key base. ARGV[2]: booking id. ARGV[3]: user id. ARGV[4]: per-user cap.
-- ARGV[5]: the number of quantities, then (category id, count) for each; then the number of
-- chosen seats, then (category id, seat id) for each.
--
-- Replies {'not_loaded'} | {'already_held', category, unit, ...} | {'limit_exceeded', live}
-- | {'seat_unavailable', seat} | {'sold_out', category} | {'held', category, unit, ...}.
--
-- A script that fails half-way keeps the writes it made, so everything is checked first and
-- the writes, which cannot fail, come last. MemoryInventory::hold makes the same decisions.

-- Free seats read at a time by 'best available': a small first page, as it usually finds its
-- run among the first free seats, then pages twice as long each time, up to the largest.
local FIRST_PAGE_SEATS, LARGEST_PAGE_SEATS = 32, 1024
-- Larger seat numbers do not count as numbers for adjacency, as with Rust's u32.
local MAX_SEAT_NUMBER = 4294967295

if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_loaded'} end
local base = ARGV[1]
local booking_id, user_id, per_user_cap = ARGV[2], ARGV[3], tonumber(ARGV[4])
local counts_key, seat_state_key = base .. 'counts', base .. 'seat_state'
local function free_key(category) return base .. 'free:' .. category end

-- A retry of a hold that was made: answer with its units and change nothing.
local existing = redis.call('HGET', base .. 'bookings', booking_id)
if existing then
  local reply = {'already_held'}
  for _, value in ipairs(cjson.decode(existing).units) do reply[#reply + 1] = value end
  return reply
end

local quantities, seats, requested = {}, {}, 0
local quantity_count = tonumber(ARGV[5])
for i = 1, quantity_count do
  quantities[i] = {category = ARGV[4 + 2 * i], count = tonumber(ARGV[5 + 2 * i])}
  requested = requested + quantities[i].count
end
local seat_count_at = 6 + 2 * quantity_count
for i = 1, tonumber(ARGV[seat_count_at]) do
  seats[i] = {category = ARGV[seat_count_at - 1 + 2 * i], seat = ARGV[seat_count_at + 2 * i]}
  requested = requested + 1
end
if requested == 0 then return {'held'} end

local kinds = {}
local function kind_of(category)
  if kinds[category] == nil then
    kinds[category] = redis.call('HGET', base .. 'kinds', category) -- false when unknown
  end
  return kinds[category]
end

-- The seats this hold has taken so far: by seat id (unique in the event), and how many per
-- category. They are still in the free sets until the writes at the end.
local claimed, claimed_in = {}, {}
local function claim(category, seat)
  claimed[seat] = true
  claimed_in[category] = (claimed_in[category] or 0) + 1
end

-- The row (up to the last '/') and the number (the digits after it) of a seat id.
local function row_and_number(seat)
  local row, digits = string.match(seat, '^(.*)/(%d+)$')
  if not row then return nil end
  local number = tonumber(digits)
  if number > MAX_SEAT_NUMBER then return nil end
  return row, number
end

local function seats_adjacent(one, other)
  local row, number = row_and_number(one)
  local other_row, other_number = row_and_number(other)
  return row ~= nil and row == other_row and math.abs(number - other_number) == 1
end

-- The first run of `count` adjacent free seats (one row, consecutive numbers and seat-map
-- indices), else the first `count` free seats in seat-map order, else nil.
local function best_available(category, count)
  local key = free_key(category)
  if redis.call('ZCARD', key) - (claimed_in[category] or 0) < count then return nil end
  local run, first = {}, {}
  local previous_seat, previous_index
  local start, page_seats = 0, math.max(FIRST_PAGE_SEATS, 2 * count)
  while true do
    local page = redis.call('ZRANGE', key, start, start + page_seats - 1, 'WITHSCORES')
    if #page == 0 then break end
    for i = 1, #page, 2 do
      local seat, index = page[i], tonumber(page[i + 1])
      -- A claimed seat is skipped; the gap in indices it leaves breaks the run.
      if not claimed[seat] then
        if #first < count then first[#first + 1] = seat end
        if not (previous_index and index == previous_index + 1 and seats_adjacent(previous_seat, seat)) then
          run = {}
        end
        run[#run + 1] = seat
        if #run == count then return run end
        previous_seat, previous_index = seat, index
      end
    end
    start = start + page_seats
    page_seats = math.min(2 * page_seats, LARGEST_PAGE_SEATS)
  end
  if #first == count then return first end
  return nil
end

-- Chosen seats first, so that 'best available' below never takes a seat the buyer chose.
local chosen = {}
for _, wanted in ipairs(seats) do
  local free = kind_of(wanted.category) == 'seated'
    and redis.call('ZSCORE', free_key(wanted.category), wanted.seat)
  if not free or claimed[wanted.seat] then return {'seat_unavailable', wanted.seat} end
  claim(wanted.category, wanted.seat)
  chosen[#chosen + 1] = wanted
end

local general_admission_wanted, picks = {}, {}
for _, quantity in ipairs(quantities) do
  local category, count = quantity.category, quantity.count
  if count > 0 then
    local kind = kind_of(category)
    if kind == 'general_admission' then
      -- One request may name a category twice: both quantities must fit together.
      general_admission_wanted[category] = (general_admission_wanted[category] or 0) + count
      if redis.call('LLEN', free_key(category)) < general_admission_wanted[category] then
        return {'sold_out', category}
      end
      picks[#picks + 1] = {category = category, count = count}
    elseif kind == 'seated' then
      local found = best_available(category, count)
      if not found then return {'sold_out', category} end
      for _, seat in ipairs(found) do claim(category, seat) end
      picks[#picks + 1] = {category = category, seats = found}
    else
      return {'sold_out', category}
    end
  end
end

-- The cap comes after availability: what is gone is sold out for everyone, so that a remembered
-- 'sold out' (the service's memo) and the store always give the same answer.
local live = tonumber(redis.call('HGET', base .. 'users', user_id) or '0')
if live + requested > per_user_cap then return {'limit_exceeded', tostring(live)} end

-- Everything is available: take it, quantities first, then the chosen seats.
local units = {}
local function take_seat(category, seat)
  redis.call('ZREM', free_key(category), seat)
  redis.call('HSET', seat_state_key, seat, 'held')
  redis.call('HINCRBY', counts_key, 'held:' .. category, 1)
  units[#units + 1] = category
  units[#units + 1] = seat
end
for _, pick in ipairs(picks) do
  if pick.seats then
    for _, seat in ipairs(pick.seats) do take_seat(pick.category, seat) end
  else
    for _, number in ipairs(redis.call('LPOP', free_key(pick.category), pick.count)) do
      units[#units + 1] = pick.category
      units[#units + 1] = pick.category .. ':' .. number
    end
    redis.call('HINCRBY', counts_key, 'held:' .. pick.category, pick.count)
  end
end
for _, wanted in ipairs(chosen) do take_seat(wanted.category, wanted.seat) end
redis.call('HINCRBY', base .. 'users', user_id, requested)
-- When it was claimed, by the Redis clock: a rebuild keeps a claim young enough to belong to a
-- hold still on its way to the database.
local time = redis.call('TIME')
local at = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('HSET', base .. 'bookings', booking_id,
  cjson.encode({user = user_id, state = 'held', units = units, at = at}))

local reply = {'held'}
for _, value in ipairs(units) do reply[#reply + 1] = value end
return reply
