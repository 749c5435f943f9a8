//! Loading an event's inventory into Redis from a [`Snapshot`], by one loader at a time (across
//! every process), in chunks small enough never to block Redis for long.
//!
//! The loader takes the `loading` lock (`begin_load.lua`), clears what an unfinished load left
//! (`load_reset.lua`), writes the categories, free units and live bookings in chunks, each only
//! while it still holds the lock (`load_write.lua`), and writes the `loaded` marker last
//! (`load_finish.lua`). Decisions refuse an event without the marker, so none ever sees half a
//! load; other callers wait for the loader, and take over if its lock expires.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use uuid::Uuid;

use super::{EventKeys, RedisInventory, GENERAL_ADMISSION, SEATED};
use crate::inventory::{
    check_snapshot, CategoryUnits, Counts, LiveBooking, Result, Snapshot, SnapshotSource, UnitState,
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
    /// Makes sure the event is loaded: loads it if no other process is, else waits for that
    /// load (or takes over once its lock expires).
    pub(super) async fn load_if_needed(&self, event_id: Uuid, snapshot: SnapshotSource<'_>) -> Result<()> {
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
