//! The production inventory: Redis 7, shared by every replica of the bookings service. Each
//! decision (hold, confirm, release) is one Lua script, which Redis runs atomically.
//!
//! # Keys
//!
//! Every key of an event starts with `<prefix>inventory:{<event id>}:`, the event's *key base*.
//! The `{...}` hash tag puts all of them in one Redis Cluster slot, so a script can touch any of
//! them; the scripts build the keys from the base because some are named by data (a booking's
//! categories) and cannot be declared up front. After the base:
//!
//! | name | type | what it holds |
//! |---|---|---|
//! | `loaded` | string | The marker that the inventory is complete; written last by a load. |
//! | `loading` | string | The loading lock: the loader's random token, with an expiry. |
//! | `categories` | list | Category ids in snapshot order. |
//! | `kinds` | hash | Category id → `general_admission` or `seated`. |
//! | `counts` | hash | `capacity:<category>`, `held:<category>`, `sold:<category>` → count. |
//! | `free:<category>` | list or sorted set | General admission: free unit numbers (taken from the head, returned to the tail). Seated: free seat ids scored by seat-map index. |
//! | `seats:<category>` | hash | Seat id → seat-map index, for a seated category. |
//! | `seat_state` | hash | Seat id → `held` or `sold`, for live seats only. |
//! | `users` | hash | User id → live units; users without any are absent. |
//! | `bookings` | hash | Booking id → JSON `{"user", "state", "units": [category, unit, ...]}`. |
//!
//! The names appear both here (the loader) and in the Lua scripts (the decisions).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use redis::aio::ConnectionManager;
use uuid::Uuid;

use super::{
    check_snapshot, Availability, CategoryUnits, Counts, HoldOutcome, HoldRequest, InventoryStore,
    LiveBooking, Result, Snapshot, SnapshotSource, UnitState,
};

/// How long the loading lock outlives its holder's last sign of life. A live loader extends it
/// with every write and while it waits for the snapshot, so this only bounds how long a crashed
/// loader blocks the others.
const LOADING_LOCK_TTL: Duration = Duration::from_secs(10);
/// How often a loader extends its lock while it waits for the snapshot.
const LOADING_LOCK_REFRESH_INTERVAL: Duration = Duration::from_secs(3);
/// How long a caller waits for another process to load an event before giving up.
const LOAD_WAIT_MAX: Duration = Duration::from_secs(30);
/// How often a waiting caller checks whether the load is done (or the lock free).
const LOAD_POLL_INTERVAL: Duration = Duration::from_millis(20);
/// The most items (arguments) a load sends in one write, so that no single command blocks Redis
/// for long or builds a huge request. Even, so that field-value pairs are never split.
const LOAD_CHUNK_ITEMS: usize = 10_000;

const GENERAL_ADMISSION: &str = "general_admission";
const SEATED: &str = "seated";

/// Says whether the event is loaded, else takes the loading lock if it is free.
///
/// KEYS: the `loaded` marker, the `loading` lock. ARGV: the loader's token, the lock's expiry in
/// milliseconds. Replies `loaded`, `acquired` or `busy`.
const BEGIN_LOAD: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 'loaded' end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'acquired' end
return 'busy'
";

/// Deletes whatever a previous, unfinished load left, while this loader holds the lock.
///
/// KEYS: the `loading` lock. ARGV: the token, the lock's expiry in milliseconds, the key base,
/// then the snapshot's category ids. Replies 1, or 0 when the lock is not this loader's.
const LOAD_RESET: &str = r"
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
";

/// Writes one chunk of a load and extends the lock, only while this loader holds it: a loader
/// that stalled past the lock's expiry must not write into its successor's load.
///
/// KEYS: the `loading` lock, the key written. ARGV: the token, the lock's expiry in
/// milliseconds, the command (RPUSH, ZADD or HSET), then its items. Without items it only extends
/// the lock. Replies 1, or 0 when the lock is not this loader's.
const LOAD_WRITE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
-- unpack() is bounded by Lua's stack (about 8,000 values), so the items go in batches; the
-- batch is even so that pairs stay together.
local BATCH_ITEMS = 1000
for first = 4, #ARGV, BATCH_ITEMS do
  redis.call(ARGV[3], KEYS[2], unpack(ARGV, first, math.min(first + BATCH_ITEMS - 1, #ARGV)))
end
return 1
";

/// Marks the event loaded and releases the lock, if this loader still holds it.
///
/// KEYS: the `loading` lock, the `loaded` marker. ARGV: the token. Replies 1 or 0.
const LOAD_FINISH: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], '1')
redis.call('DEL', KEYS[1])
return 1
";

/// Releases the lock after a failed load, if this loader still holds it, so that the next caller
/// need not wait for its expiry.
///
/// KEYS: the `loading` lock. ARGV: the token.
const LOAD_ABANDON: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
";

/// Decides one hold: claims every unit of the request or none.
const HOLD: &str = r"
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
redis.call('HSET', base .. 'bookings', booking_id,
  cjson.encode({user = user_id, state = 'held', units = units}))

local reply = {'held'}
for _, value in ipairs(units) do reply[#reply + 1] = value end
return reply
";

/// Turns a booking's held units into sold ones.
const CONFIRM: &str = r"
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
";

/// Returns a booking's units, held or sold, to sale and forgets the booking.
const RELEASE: &str = r"
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
";

/// Reads an event's counts and seat states at one moment.
const AVAILABILITY: &str = r"
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
";

struct Scripts {
    begin_load: redis::Script,
    load_reset: redis::Script,
    load_write: redis::Script,
    load_finish: redis::Script,
    load_abandon: redis::Script,
    hold: redis::Script,
    confirm: redis::Script,
    release: redis::Script,
    availability: redis::Script,
}

impl Scripts {
    fn new() -> Self {
        Scripts {
            begin_load: redis::Script::new(BEGIN_LOAD),
            load_reset: redis::Script::new(LOAD_RESET),
            load_write: redis::Script::new(LOAD_WRITE),
            load_finish: redis::Script::new(LOAD_FINISH),
            load_abandon: redis::Script::new(LOAD_ABANDON),
            hold: redis::Script::new(HOLD),
            confirm: redis::Script::new(CONFIRM),
            release: redis::Script::new(RELEASE),
            availability: redis::Script::new(AVAILABILITY),
        }
    }
}

/// An [`InventoryStore`] on Redis. The connection manager multiplexes one connection and
/// reconnects; clones share it.
#[derive(Clone)]
pub struct RedisInventory {
    connection: ConnectionManager,
    key_prefix: Arc<str>,
    scripts: Arc<Scripts>,
}

/// The keys of one event.
struct EventKeys {
    base: String,
}

impl EventKeys {
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.base)
    }

    fn loaded(&self) -> String {
        self.key("loaded")
    }

    fn loading(&self) -> String {
        self.key("loading")
    }

    fn free(&self, category_id: Uuid) -> String {
        self.key(&format!("free:{category_id}"))
    }

    fn seats(&self, category_id: Uuid) -> String {
        self.key(&format!("seats:{category_id}"))
    }
}

/// The items of one load write, produced lazily so that a million units are never all in
/// memory at once. Boxed, because the compiler cannot prove `Send` a future that holds an
/// iterator of borrowing closures (rust-lang/rust#102211).
type Items<'a> = Box<dyn Iterator<Item = String> + Send + 'a>;

/// A load in progress: this loader holds the lock with `token`.
struct Load<'a> {
    inventory: &'a RedisInventory,
    keys: &'a EventKeys,
    token: String,
}

impl RedisInventory {
    /// Connects to Redis at `url`; every key starts with `key_prefix`.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<Self> {
        let (_, connection) = boxoffice_kv::connect_redis(url).await?;
        Ok(Self::from_manager(connection, key_prefix))
    }

    /// Uses an existing connection; every key starts with `key_prefix`.
    pub fn from_manager(connection: ConnectionManager, key_prefix: &str) -> Self {
        RedisInventory { connection, key_prefix: key_prefix.into(), scripts: Arc::new(Scripts::new()) }
    }

    fn keys(&self, event_id: Uuid) -> EventKeys {
        EventKeys { base: format!("{}inventory:{{{event_id}}}:", self.key_prefix) }
    }

    /// Runs a decision script that takes the `loaded` marker and the key base.
    async fn decide<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        keys: &EventKeys,
        arguments: &[String],
    ) -> redis::RedisResult<T> {
        let mut invocation = script.prepare_invoke();
        invocation.key(keys.loaded()).arg(&keys.base).arg(arguments);
        invocation.invoke_async(&mut self.connection.clone()).await
    }

    async fn load(
        &self,
        event_id: Uuid,
        keys: &EventKeys,
        token: String,
        snapshot: SnapshotSource<'_>,
    ) -> Result<()> {
        let started = Instant::now();
        let load = Load { inventory: self, keys, token };
        let snapshot = load.take_snapshot(snapshot).await?;
        let bookings = check_snapshot(event_id, &snapshot)?;
        load.reset(&snapshot).await?;
        load.write_categories(&snapshot, &bookings).await?;
        load.write_bookings(&snapshot, &bookings).await?;
        load.finish().await?;
        tracing::info!(
            %event_id,
            categories = snapshot.categories.len(),
            live_units = snapshot.live.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "loaded the inventory into Redis"
        );
        Ok(())
    }
}

impl Load<'_> {
    fn lock_ttl_ms() -> u64 {
        LOADING_LOCK_TTL.as_millis() as u64
    }

    /// Takes the snapshot, extending the lock meanwhile: a slow database must not let a second
    /// loader start.
    async fn take_snapshot(&self, snapshot: SnapshotSource<'_>) -> Result<Snapshot> {
        let mut taking = snapshot();
        let mut refresh = tokio::time::interval(LOADING_LOCK_REFRESH_INTERVAL);
        refresh.tick().await; // The first tick is immediate, and the lock is fresh.
        loop {
            tokio::select! {
                snapshot = &mut taking => return snapshot.context("taking the inventory snapshot"),
                _ = refresh.tick() => self.extend_lock().await?,
            }
        }
    }

    async fn reset(&self, snapshot: &Snapshot) -> Result<()> {
        let mut invocation = self.inventory.scripts.load_reset.prepare_invoke();
        invocation.key(self.keys.loading()).arg(&self.token).arg(Self::lock_ttl_ms()).arg(&self.keys.base);
        for category in &snapshot.categories {
            invocation.arg(category.category_id.to_string());
        }
        let done: i64 = invocation
            .invoke_async(&mut self.inventory.connection.clone())
            .await
            .context("deleting a previous load's leftovers from Redis")?;
        self.ensure_still_locked(done)
    }

    /// Writes the categories: their order, kinds, counts, seats and free units.
    async fn write_categories(&self, snapshot: &Snapshot, bookings: &[LiveBooking]) -> Result<()> {
        let keys = self.keys;
        let mut counts = vec![Counts::default(); snapshot.categories.len()];
        // Per category, the unit numbers or seat indices that are live.
        let mut taken: Vec<HashSet<u32>> = vec![Default::default(); snapshot.categories.len()];
        for booking in bookings {
            for unit in &booking.units {
                match booking.state {
                    UnitState::Held => counts[unit.category].held += 1,
                    UnitState::Sold => counts[unit.category].sold += 1,
                }
                taken[unit.category].insert(unit.slot);
            }
        }

        self.write(
            "RPUSH",
            &keys.key("categories"),
            Box::new(snapshot.categories.iter().map(|c| c.category_id.to_string())),
        )
        .await?;
        let kinds = snapshot.categories.iter().flat_map(|category| {
            let kind = match category.units {
                CategoryUnits::GeneralAdmission { .. } => GENERAL_ADMISSION,
                CategoryUnits::Seated { .. } => SEATED,
            };
            [category.category_id.to_string(), kind.to_owned()]
        });
        self.write("HSET", &keys.key("kinds"), Box::new(kinds)).await?;
        let count_fields = snapshot.categories.iter().zip(&counts).flat_map(|(category, counts)| {
            let capacity = match &category.units {
                CategoryUnits::GeneralAdmission { capacity } => *capacity as usize,
                CategoryUnits::Seated { seat_ids } => seat_ids.len(),
            };
            let id = category.category_id;
            [
                format!("capacity:{id}"),
                capacity.to_string(),
                format!("held:{id}"),
                counts.held.to_string(),
                format!("sold:{id}"),
                counts.sold.to_string(),
            ]
        });
        self.write("HSET", &keys.key("counts"), Box::new(count_fields)).await?;

        for (category, taken) in snapshot.categories.iter().zip(&taken) {
            let id = category.category_id;
            match &category.units {
                CategoryUnits::GeneralAdmission { capacity } => {
                    let free =
                        (1..=*capacity).filter(|number| !taken.contains(number)).map(|n| n.to_string());
                    self.write("RPUSH", &keys.free(id), Box::new(free)).await?;
                }
                CategoryUnits::Seated { seat_ids } => {
                    let indexed = || seat_ids.iter().zip(0u32..);
                    let seats = indexed().flat_map(|(seat_id, index)| [seat_id.clone(), index.to_string()]);
                    self.write("HSET", &keys.seats(id), Box::new(seats)).await?;
                    let free = indexed()
                        .filter(|(_, index)| !taken.contains(index))
                        .flat_map(|(seat_id, index)| [index.to_string(), seat_id.clone()]);
                    self.write("ZADD", &keys.free(id), Box::new(free)).await?;
                }
            }
        }
        Ok(())
    }

    /// Writes the live bookings, the live units per user and the states of live seats.
    async fn write_bookings(&self, snapshot: &Snapshot, bookings: &[LiveBooking]) -> Result<()> {
        let keys = self.keys;
        let records = bookings.iter().flat_map(|booking| {
            let units: Vec<String> = booking
                .units
                .iter()
                .flat_map(|unit| [unit.category_id.to_string(), unit.unit_id.clone()])
                .collect();
            let record = serde_json::json!({
                "user": booking.user_id.to_string(),
                "state": state_name(booking.state),
                "units": units,
            });
            [booking.booking_id.to_string(), record.to_string()]
        });
        self.write("HSET", &keys.key("bookings"), Box::new(records)).await?;

        let mut live_by_user: HashMap<Uuid, usize> = HashMap::new();
        for booking in bookings {
            *live_by_user.entry(booking.user_id).or_default() += booking.units.len();
        }
        let users = live_by_user.into_iter().flat_map(|(user, live)| [user.to_string(), live.to_string()]);
        self.write("HSET", &keys.key("users"), Box::new(users)).await?;

        let seat_states = bookings.iter().flat_map(|booking| {
            booking
                .units
                .iter()
                .filter(|unit| {
                    matches!(snapshot.categories[unit.category].units, CategoryUnits::Seated { .. })
                })
                .flat_map(|unit| [unit.unit_id.clone(), state_name(booking.state).to_owned()])
        });
        self.write("HSET", &keys.key("seat_state"), Box::new(seat_states)).await
    }

    /// Sends `command key items...` in chunks of at most [`LOAD_CHUNK_ITEMS`], each only while
    /// the lock is still this loader's. No items, no command.
    async fn write(&self, command: &str, key: &str, items: Items<'_>) -> Result<()> {
        let mut items = items.peekable();
        while items.peek().is_some() {
            let chunk: Vec<String> = items.by_ref().take(LOAD_CHUNK_ITEMS).collect();
            self.write_chunk(command, key, chunk)
                .await
                .with_context(|| format!("writing the inventory to Redis ({command} {key})"))?;
        }
        Ok(())
    }

    async fn extend_lock(&self) -> Result<()> {
        // The write script extends the lock first, and a chunk without items writes nothing.
        self.write_chunk("RPUSH", &self.keys.loading(), Vec::new())
            .await
            .context("extending the loading lock")
    }

    async fn write_chunk(&self, command: &str, key: &str, chunk: Vec<String>) -> Result<()> {
        let mut invocation = self.inventory.scripts.load_write.prepare_invoke();
        invocation
            .key(self.keys.loading())
            .key(key)
            .arg(&self.token)
            .arg(Self::lock_ttl_ms())
            .arg(command)
            .arg(chunk);
        let done: i64 = invocation.invoke_async(&mut self.inventory.connection.clone()).await?;
        self.ensure_still_locked(done)
    }

    async fn finish(&self) -> Result<()> {
        let done: i64 = self
            .inventory
            .scripts
            .load_finish
            .key(self.keys.loading())
            .key(self.keys.loaded())
            .arg(&self.token)
            .invoke_async(&mut self.inventory.connection.clone())
            .await
            .context("marking the inventory loaded in Redis")?;
        self.ensure_still_locked(done)
    }

    fn ensure_still_locked(&self, done: i64) -> Result<()> {
        ensure!(
            done == 1,
            "the loading lock expired and another loader took over ({}); this load stops",
            self.keys.loading()
        );
        Ok(())
    }
}

fn state_name(state: UnitState) -> &'static str {
    match state {
        UnitState::Held => "held",
        UnitState::Sold => "sold",
    }
}

#[async_trait::async_trait]
impl InventoryStore for RedisInventory {
    async fn ensure_loaded(&self, event_id: Uuid, snapshot: SnapshotSource<'_>) -> Result<()> {
        let keys = self.keys(event_id);
        let token = Uuid::new_v4().to_string();
        let deadline = Instant::now() + LOAD_WAIT_MAX;
        loop {
            let state: String = self
                .scripts
                .begin_load
                .key(keys.loaded())
                .key(keys.loading())
                .arg(&token)
                .arg(Load::lock_ttl_ms())
                .invoke_async(&mut self.connection.clone())
                .await
                .context("checking whether the inventory is loaded in Redis")?;
            match state.as_str() {
                "loaded" => return Ok(()),
                "acquired" => break,
                // Another process is loading; its lock expires if it died, and then one of the
                // waiters takes over.
                _ => {}
            }
            ensure!(
                Instant::now() < deadline,
                "another process has been loading the inventory of event {event_id} for more than {}s",
                LOAD_WAIT_MAX.as_secs()
            );
            tokio::time::sleep(LOAD_POLL_INTERVAL).await;
        }

        let loaded = self.load(event_id, &keys, token.clone(), snapshot).await;
        if loaded.is_err() {
            let abandoned: redis::RedisResult<i64> = self
                .scripts
                .load_abandon
                .key(keys.loading())
                .arg(&token)
                .invoke_async(&mut self.connection.clone())
                .await;
            if let Err(error) = abandoned {
                // The lock's expiry frees it anyway; the load's own error is the one returned.
                tracing::warn!(%event_id, %error, "releasing the loading lock after a failed load fails");
            }
        }
        loaded
    }

    async fn hold(&self, event_id: Uuid, request: &HoldRequest) -> Result<HoldOutcome> {
        let keys = self.keys(event_id);
        let mut arguments = Vec::with_capacity(5 + 2 * (request.quantities.len() + request.seats.len()));
        arguments.push(request.booking_id.to_string());
        arguments.push(request.user_id.to_string());
        arguments.push(request.per_user_cap.to_string());
        arguments.push(request.quantities.len().to_string());
        for (category_id, count) in &request.quantities {
            arguments.push(category_id.to_string());
            arguments.push(count.to_string());
        }
        arguments.push(request.seats.len().to_string());
        for (category_id, seat_id) in &request.seats {
            arguments.push(category_id.to_string());
            arguments.push(seat_id.clone());
        }
        let reply: Vec<String> = self
            .decide(&self.scripts.hold, &keys, &arguments)
            .await
            .context("running the hold script in Redis")?;
        parse_hold_reply(event_id, &reply)
    }

    async fn confirm(&self, event_id: Uuid, booking_id: Uuid) -> Result<()> {
        let reply: String = self
            .decide(&self.scripts.confirm, &self.keys(event_id), &[booking_id.to_string()])
            .await
            .context("running the confirm script in Redis")?;
        ensure!(reply == "ok", "the inventory of event {event_id} is not loaded");
        Ok(())
    }

    async fn release(&self, event_id: Uuid, booking_id: Uuid) -> Result<()> {
        let reply: String = self
            .decide(&self.scripts.release, &self.keys(event_id), &[booking_id.to_string()])
            .await
            .context("running the release script in Redis")?;
        ensure!(reply == "ok", "the inventory of event {event_id} is not loaded");
        Ok(())
    }

    async fn availability(&self, event_id: Uuid) -> Result<Option<Availability>> {
        let reply: Option<(Vec<String>, Vec<Vec<String>>, Vec<String>)> = self
            .decide(&self.scripts.availability, &self.keys(event_id), &[])
            .await
            .context("reading the availability from Redis")?;
        reply
            .map(|(categories, seats, seat_states)| parse_availability(&categories, seats, &seat_states))
            .transpose()
    }

    async fn forget_all(&self) -> Result<()> {
        // Only the markers go: the next load of each event clears its leftovers first.
        let pattern = format!("{}inventory:*:loaded", self.key_prefix);
        let mut connection = self.connection.clone();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_BATCH)
                .query_async(&mut connection)
                .await
                .context("SCAN in Redis")?;
            if !keys.is_empty() {
                let _: () = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut connection)
                    .await
                    .context("UNLINK in Redis")?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    async fn ping(&self) -> Result<()> {
        let _: String =
            redis::cmd("PING").query_async(&mut self.connection.clone()).await.context("PING to Redis")?;
        Ok(())
    }
}

/// Keys looked at per SCAN step when forgetting every inventory.
const SCAN_BATCH: usize = 1_000;

fn parse_hold_reply(event_id: Uuid, reply: &[String]) -> Result<HoldOutcome> {
    let (tag, rest) = reply.split_first().context("the hold script replies nothing")?;
    let single = || match rest {
        [value] => Ok(value),
        _ => bail!("the hold script replies {tag} with {} values", rest.len()),
    };
    Ok(match tag.as_str() {
        "held" => HoldOutcome::Held(parse_units(rest)?),
        "already_held" => HoldOutcome::AlreadyHeld(parse_units(rest)?),
        "limit_exceeded" => {
            HoldOutcome::LimitExceeded { live: single()?.parse().context("reading a live count")? }
        }
        "sold_out" => HoldOutcome::SoldOut { category_id: parse_uuid(single()?)? },
        "seat_unavailable" => HoldOutcome::SeatUnavailable { seat_id: single()?.clone() },
        "not_loaded" => bail!("the inventory of event {event_id} is not loaded"),
        other => bail!("the hold script replies the unknown {other}"),
    })
}

/// Reads flat (category id, unit id) pairs.
fn parse_units(flat: &[String]) -> Result<Vec<(Uuid, String)>> {
    let pairs = flat.chunks_exact(2);
    ensure!(pairs.remainder().is_empty(), "a list of units has an odd length");
    pairs.map(|pair| Ok((parse_uuid(&pair[0])?, pair[1].clone()))).collect()
}

fn parse_uuid(value: &str) -> Result<Uuid> {
    Uuid::parse_str(value).with_context(|| format!("reading the category id {value} from Redis"))
}

fn parse_availability(
    categories: &[String],
    seats: Vec<Vec<String>>,
    seat_states: &[String],
) -> Result<Availability> {
    const CATEGORY_FIELDS: usize = 5;
    let categories = categories.chunks_exact(CATEGORY_FIELDS);
    ensure!(categories.remainder().is_empty(), "the availability script replies partial categories");
    let states: HashMap<&str, UnitState> = seat_states
        .chunks_exact(2)
        .map(|pair| {
            let state = match pair[1].as_str() {
                "held" => UnitState::Held,
                "sold" => UnitState::Sold,
                other => bail!("seat {} has the unknown state {other}", pair[0]),
            };
            Ok((pair[0].as_str(), state))
        })
        .collect::<Result<_>>()?;

    let count =
        |value: &str| value.parse::<u32>().with_context(|| format!("reading the count {value} from Redis"));
    let mut seats = seats.into_iter();
    let mut availability = Availability::default();
    for fields in categories {
        let category_id = parse_uuid(&fields[0])?;
        availability.categories.push((
            category_id,
            Counts { capacity: count(&fields[2])?, held: count(&fields[3])?, sold: count(&fields[4])? },
        ));
        if fields[1] == SEATED {
            let flat = seats.next().context("the availability script replies too few seat lists")?;
            let mut indexed: Vec<(u32, String)> = flat
                .chunks_exact(2)
                .map(|pair| Ok((count(&pair[1])?, pair[0].clone())))
                .collect::<Result<_>>()?;
            indexed.sort_unstable_by_key(|(index, _)| *index);
            availability.seats.extend(indexed.into_iter().map(|(_, seat_id)| {
                let state = states.get(seat_id.as_str()).copied();
                (seat_id, category_id, state)
            }));
        }
    }
    Ok(availability)
}
