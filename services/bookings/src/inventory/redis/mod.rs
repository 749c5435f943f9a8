//! The production inventory: Redis 7, shared by every replica of the bookings service. Each
//! decision (hold, confirm, release, hand over) is one Lua script, which Redis runs atomically.
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
//! The names appear both in the loader (`load.rs`) and in the Lua scripts (`*.lua`, next to
//! this file: one per decision and per step of a load).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context as _};
use boxoffice_kv::RedisConnection;
use uuid::Uuid;

use super::{
    Availability, Claim, Counts, Handoff, HoldOutcome, HoldRequest, InventoryStore, Result, SnapshotSource,
    UnitState,
};

mod load;

const GENERAL_ADMISSION: &str = "general_admission";
const SEATED: &str = "seated";

/// The Lua scripts, each in a file of its own next to this one that says its keys, arguments
/// and replies. Redis runs each atomically; [`redis::Script`] sends it by its SHA-1 and loads it
/// once per server.
struct Scripts {
    /// Says whether the event is loaded, else takes the loading lock if it is free.
    begin_load: redis::Script,
    /// Deletes whatever a previous, unfinished load left, while this loader holds the lock.
    load_reset: redis::Script,
    /// Writes one chunk of a load and extends the lock, only while this loader holds it.
    load_write: redis::Script,
    /// Marks the event loaded and releases the lock, if this loader still holds it.
    load_finish: redis::Script,
    /// Releases the lock after a failed load, if this loader still holds it.
    load_abandon: redis::Script,
    /// Decides one hold: claims every unit of the request or none.
    hold: redis::Script,
    /// Turns a booking's held units into sold ones.
    confirm: redis::Script,
    /// Returns a booking's units, held or sold, to sale and forgets the booking.
    release: redis::Script,
    /// Ends a booking, handing some of its units to new held bookings.
    hand_over: redis::Script,
    /// Reads an event's counts and seat states at one moment.
    availability: redis::Script,
    /// Reads an event's booking records and the Redis clock.
    claims: redis::Script,
}

impl Scripts {
    fn new() -> Self {
        Scripts {
            begin_load: redis::Script::new(include_str!("begin_load.lua")),
            load_reset: redis::Script::new(include_str!("load_reset.lua")),
            load_write: redis::Script::new(include_str!("load_write.lua")),
            load_finish: redis::Script::new(include_str!("load_finish.lua")),
            load_abandon: redis::Script::new(include_str!("load_abandon.lua")),
            hold: redis::Script::new(include_str!("hold.lua")),
            confirm: redis::Script::new(include_str!("confirm.lua")),
            release: redis::Script::new(include_str!("release.lua")),
            hand_over: redis::Script::new(include_str!("hand_over.lua")),
            availability: redis::Script::new(include_str!("availability.lua")),
            claims: redis::Script::new(include_str!("claims.lua")),
        }
    }
}

/// An [`InventoryStore`] on Redis. The connection manager multiplexes one connection and
/// reconnects; clones share it.
#[derive(Clone)]
pub struct RedisInventory {
    connection: RedisConnection,
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

impl RedisInventory {
    /// Connects to Redis at `url`; every key starts with `key_prefix`.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<Self> {
        let (_, connection) = boxoffice_kv::connect_redis(url).await?;
        Ok(Self::from_connection(connection, key_prefix))
    }

    /// Uses an existing connection; every key starts with `key_prefix`.
    pub fn from_connection(connection: RedisConnection, key_prefix: &str) -> Self {
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
}

#[async_trait::async_trait]
impl InventoryStore for RedisInventory {
    async fn ensure_loaded(&self, event_id: Uuid, snapshot: SnapshotSource<'_>) -> Result<()> {
        self.load_if_needed(event_id, snapshot).await
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

    async fn hand_over(&self, event_id: Uuid, booking_id: Uuid, handoffs: &[Handoff]) -> Result<bool> {
        let mut arguments = vec![booking_id.to_string(), handoffs.len().to_string()];
        for handoff in handoffs {
            arguments.push(handoff.booking_id.to_string());
            arguments.push(handoff.user_id.to_string());
            arguments.push(handoff.units.len().to_string());
            arguments.extend(handoff.units.iter().map(|(_, unit)| unit.clone()));
        }
        let reply: String = self
            .decide(&self.scripts.hand_over, &self.keys(event_id), &arguments)
            .await
            .context("running the hand-over script in Redis")?;
        match reply.as_str() {
            "ok" => Ok(true),
            "unknown" => Ok(false),
            "foreign" => bail!("a hand-over of booking {booking_id} names units or bookings it cannot take"),
            _ => bail!("the inventory of event {event_id} is not loaded"),
        }
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

    async fn claims(&self, event_id: Uuid) -> Result<Vec<Claim>> {
        let reply: Vec<String> = self
            .scripts
            .claims
            .key(self.keys(event_id).key("bookings"))
            .invoke_async(&mut self.connection.clone())
            .await
            .context("reading the inventory's bookings in Redis")?;
        let (now, entries) = reply.split_first().context("Redis answered no clock")?;
        let now: u64 = now.parse().context("reading the Redis clock")?;
        let mut claims = Vec::new();
        for entry in entries.chunks(2) {
            let [booking_id, record] = entry else { bail!("a booking without its record") };
            let record: Record = serde_json::from_str(record).context("reading a booking record")?;
            if record.state != "held" {
                continue;
            }
            let units = record
                .units
                .chunks(2)
                .map(|pair| match pair {
                    [category, unit] => Ok((Uuid::parse_str(category)?, unit.clone())),
                    _ => bail!("a unit without its category"),
                })
                .collect::<Result<_>>()?;
            claims.push(Claim {
                booking_id: Uuid::parse_str(booking_id)?,
                user_id: Uuid::parse_str(&record.user)?,
                units,
                age: record.at.map(|at| Duration::from_millis(now.saturating_sub(at))),
            });
        }
        Ok(claims)
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

    async fn forget(&self, event_id: Uuid) -> Result<()> {
        let _: () = redis::cmd("UNLINK")
            .arg(self.keys(event_id).loaded())
            .query_async(&mut self.connection.clone())
            .await
            .context("UNLINK in Redis")?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        let _: String =
            redis::cmd("PING").query_async(&mut self.connection.clone()).await.context("PING to Redis")?;
        Ok(())
    }
}

/// A booking's record in an event's `bookings` hash.
#[derive(serde::Deserialize)]
struct Record {
    user: String,
    state: String,
    /// (category id, unit id), flattened.
    #[serde(default)]
    units: Vec<String>,
    /// When a hold claimed it (milliseconds, Redis clock); absent for what a load wrote.
    at: Option<u64>,
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
