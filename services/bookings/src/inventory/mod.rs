//! The inventory: where every hold decision is made, atomically and without touching the
//! database. The service calls it only through [`GuardedInventory`] (`guarded.rs`), which
//! rebuilds an event that is missing, keeps the sold-out memo and retries what meets a rebuild.
//!
//! Every sellable unit has an id: a seat id (`<section>/<row>/<number>`) for a seated category,
//! or `<category_id>:<n>` (n from 1 to capacity) for a general-admission one. A hold claims all
//! of its units or none, in one atomic step, and records the hold under its booking id. There is
//! no counter row that every buyer updates.
//!
//! Two implementations of [`InventoryStore`] with exactly the same semantics: [`RedisInventory`]
//! (production; one Lua script per decision, in `redis/*.lua`) and [`MemoryInventory`]
//! (embedded; one short lock per decision). The same test suite (`tests.rs`) runs against both.
//!
//! The database stays the record: the inventory is rebuilt from it ([`Snapshot`]) whenever an
//! event's inventory is missing (first use, a restart of the embedded default, Redis losing its
//! data).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use anyhow::{ensure, Context as _};
use uuid::Uuid;

use crate::domain::HoldRequest;

mod guarded;
mod memory;
mod redis;
#[cfg(test)]
mod tests;

pub use self::guarded::GuardedInventory;
pub use self::memory::MemoryInventory;
pub use self::redis::RedisInventory;

pub type Result<T> = anyhow::Result<T>;
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The sellable units of one category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CategoryUnits {
    /// Units `<category_id>:1` to `<category_id>:<capacity>`, interchangeable.
    GeneralAdmission { capacity: u32 },
    /// Seat ids in seat-map order, which "best available" follows.
    Seated { seat_ids: Vec<String> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CategorySpec {
    pub category_id: Uuid,
    pub units: CategoryUnits,
}

/// Whether a live unit is held by a pending booking or sold to a confirmed one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnitState {
    Held,
    Sold,
}

/// One unit that a pending or confirmed booking has, as the database records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveUnit {
    pub category_id: Uuid,
    pub unit_id: String,
    pub booking_id: Uuid,
    pub user_id: Uuid,
    pub state: UnitState,
}

/// Everything needed to (re)build an event's inventory: its units, and those the database says
/// are held or sold. Taken *after* the store has decided to load, so it is never older than the
/// load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub event_id: Uuid,
    pub categories: Vec<CategorySpec>,
    pub live: Vec<LiveUnit>,
}

/// Takes a [`Snapshot`] of one event from the database and the events service.
pub type SnapshotSource<'a> = &'a (dyn Fn() -> BoxFuture<'static, Result<Snapshot>> + Send + Sync);

/// The answer to a hold. Anything but `Held` claimed nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldOutcome {
    /// The units claimed, as (category id, unit id), in request order.
    Held(Vec<(Uuid, String)>),
    /// Not enough free units in this category.
    SoldOut { category_id: Uuid },
    /// This seat is held or sold (or is not a seat of that category).
    SeatUnavailable { seat_id: String },
    /// The user would have more than `per_user_cap` live units of the event.
    LimitExceeded { live: u32 },
    /// The booking id already has a hold (a retry): nothing changed.
    AlreadyHeld(Vec<(Uuid, String)>),
}

/// A booking the store records as held, as a rebuild finds it: a hold that may still be on its
/// way to the database when `age` is short.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub booking_id: Uuid,
    pub user_id: Uuid,
    /// (category id, unit id).
    pub units: Vec<(Uuid, String)>,
    /// How long ago a hold claimed it, by the store's clock; `None` for a booking a load
    /// wrote, or a handoff.
    pub age: Option<std::time::Duration>,
}

/// Units of a booking that ends, handed to a new pending booking of another buyer (an offer of a
/// waiting list) without ever being on sale in between.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handoff {
    pub booking_id: Uuid,
    pub user_id: Uuid,
    /// (category id, unit id): units of the booking that ends, each in one handoff at most.
    pub units: Vec<(Uuid, String)>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub capacity: u32,
    pub held: u32,
    pub sold: u32,
}

impl Counts {
    pub fn available(&self) -> u32 {
        self.capacity - self.held - self.sold
    }
}

/// The state of an event's inventory, read at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Availability {
    /// Per category, in the order of the snapshot's categories.
    pub categories: Vec<(Uuid, Counts)>,
    /// Every seat of seated categories, in seat-map order: (seat id, category id, state), where
    /// `None` is available.
    pub seats: Vec<(String, Uuid, Option<UnitState>)>,
}

#[async_trait::async_trait]
pub trait InventoryStore: Send + Sync + 'static {
    /// Makes sure the event's inventory is in the store, building it from `snapshot` when it is
    /// not. Of concurrent callers (in any process) one builds and the others wait for it.
    async fn ensure_loaded(&self, event_id: Uuid, snapshot: SnapshotSource<'_>) -> Result<()>;

    /// Claims every unit of the request or none, atomically. Errors only when the store fails
    /// or the event is not loaded.
    ///
    /// The chosen seats are decided first (so that "best available" never takes a seat the buyer
    /// chose), then the quantities in request order; the first that cannot be had is the answer.
    /// `Held` lists the quantities' units, then the chosen seats. A quantity of zero is ignored,
    /// and a request for nothing is `Held` with no units and records nothing.
    async fn hold(&self, event_id: Uuid, request: &HoldRequest) -> Result<HoldOutcome>;

    /// The booking's held units become sold. Idempotent; a booking without a hold is a no-op.
    /// Errors when the event is not loaded, so that a confirmation racing a rebuild is retried
    /// after it rather than lost.
    async fn confirm(&self, event_id: Uuid, booking_id: Uuid) -> Result<()>;

    /// The booking's units, held or sold, return to sale and stop counting for its user.
    /// The booking is forgotten, as a rebuild from the database would forget it. Idempotent; a
    /// booking without a hold is a no-op. Errors when the event is not loaded, like `confirm`.
    async fn release(&self, event_id: Uuid, booking_id: Uuid) -> Result<()>;

    /// Ends a booking as `release` does, except that the units of `handoffs` do not return to
    /// sale: each handoff holds its units as a new pending booking of its user, in the same
    /// atomic step, so that no buyer can take them in between. False, and nothing changes, when
    /// the store does not know the booking. Errors, and nothing changes, when the event is not
    /// loaded, a handed unit is not the booking's or a handoff's booking exists already.
    async fn hand_over(&self, event_id: Uuid, booking_id: Uuid, handoffs: &[Handoff]) -> Result<bool>;

    /// `None` when the event is not loaded.
    async fn availability(&self, event_id: Uuid) -> Result<Option<Availability>>;
    /// The held bookings of the event's inventory: of the loaded one, or of the one last loaded
    /// and since marked for a rebuild (which clears it), so that a rebuild can keep the holds
    /// still on their way to the database. Empty when the store has none (never loaded, lost).
    async fn claims(&self, event_id: Uuid) -> Result<Vec<Claim>>;

    /// Marks every event's inventory as not loaded, so each is rebuilt from the database on its
    /// next use. The bookings service does this when it starts: holds a crashed process made in
    /// the store but never recorded in the database must not outlive it.
    async fn forget_all(&self) -> Result<()>;

    /// Marks one event's inventory as not loaded, so that it is rebuilt from the database on its
    /// next use: for a store found to disagree with the record.
    async fn forget(&self, event_id: Uuid) -> Result<()>;

    /// Checks that the store answers.
    async fn ping(&self) -> Result<()>;
}

/// The id of the `n`th unit (from 1) of a general-admission category.
pub fn general_admission_unit(category_id: Uuid, n: u32) -> String {
    format!("{category_id}:{n}")
}

/// Whether two seats sit side by side: the same row (the seat id up to its last `/`) and seat
/// numbers (the digits after it) one apart. "Best available" also requires consecutive seat-map
/// indices. The Redis scripts mirror this rule (`seats_adjacent` in `redis/hold.lua`).
pub(crate) fn seats_adjacent(one: &str, other: &str) -> bool {
    fn row_and_number(seat_id: &str) -> Option<(&str, u32)> {
        let (row, digits) = seat_id.rsplit_once('/')?;
        // Only plain digits, as Lua's `%d+` reads them: `parse` alone would also take a sign.
        if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        Some((row, digits.parse().ok()?))
    }
    match (row_and_number(one), row_and_number(other)) {
        (Some((row, number)), Some((other_row, other_number))) => {
            row == other_row && number.abs_diff(other_number) == 1
        }
        _ => false,
    }
}

/// A booking that a snapshot says is live, with the place of each unit in the inventory.
#[derive(Debug)]
pub(crate) struct LiveBooking {
    pub(crate) booking_id: Uuid,
    pub(crate) user_id: Uuid,
    pub(crate) state: UnitState,
    /// In the order of the snapshot's `live`.
    pub(crate) units: Vec<LiveUnitPlace>,
}

#[derive(Debug)]
pub(crate) struct LiveUnitPlace {
    /// The position of the unit's category in the snapshot.
    pub(crate) category: usize,
    pub(crate) category_id: Uuid,
    pub(crate) unit_id: String,
    /// The unit's number (from 1) in a general-admission category, or its seat's index in a
    /// seated category's `seat_ids`.
    pub(crate) slot: u32,
}

/// Checks that `snapshot` is one consistent inventory of `event_id` and groups its live units by
/// booking (in order of first appearance). Both stores build from this, so that they refuse the
/// same snapshots: loading an inconsistent one would silently sell a unit twice.
pub(crate) fn check_snapshot(event_id: Uuid, snapshot: &Snapshot) -> Result<Vec<LiveBooking>> {
    ensure!(
        snapshot.event_id == event_id,
        "the snapshot is of event {}, not of event {event_id}",
        snapshot.event_id
    );
    let mut positions = HashMap::with_capacity(snapshot.categories.len());
    // Seat id → (category position, index). Seat ids are unique in the whole event.
    let mut seats: HashMap<&str, (usize, u32)> = HashMap::new();
    for (position, category) in snapshot.categories.iter().enumerate() {
        ensure!(
            positions.insert(category.category_id, position).is_none(),
            "category {} appears twice in the snapshot",
            category.category_id
        );
        if let CategoryUnits::Seated { seat_ids } = &category.units {
            for (index, seat_id) in seat_ids.iter().enumerate() {
                let index = u32::try_from(index).context("counting the seats of a category")?;
                ensure!(
                    seats.insert(seat_id, (position, index)).is_none(),
                    "seat {seat_id} appears twice in the snapshot"
                );
            }
        }
    }

    let mut bookings: Vec<LiveBooking> = Vec::new();
    let mut booking_positions: HashMap<Uuid, usize> = HashMap::new();
    let mut live_unit_ids: HashSet<&str> = HashSet::with_capacity(snapshot.live.len());
    for unit in &snapshot.live {
        let &category = positions.get(&unit.category_id).with_context(|| {
            format!("live unit {} is of unknown category {}", unit.unit_id, unit.category_id)
        })?;
        let slot = match &snapshot.categories[category].units {
            CategoryUnits::GeneralAdmission { capacity } => {
                unit.unit_id.rsplit_once(':').and_then(|(_, number)| number.parse::<u32>().ok()).filter(
                    |&number| {
                        (1..=*capacity).contains(&number)
                            && general_admission_unit(unit.category_id, number) == unit.unit_id
                    },
                )
            }
            CategoryUnits::Seated { .. } => seats
                .get(unit.unit_id.as_str())
                .filter(|(seat_category, _)| *seat_category == category)
                .map(|&(_, index)| index),
        }
        .with_context(|| {
            format!("live unit {} is not a unit of category {}", unit.unit_id, unit.category_id)
        })?;
        ensure!(live_unit_ids.insert(&unit.unit_id), "unit {} is live twice in the snapshot", unit.unit_id);

        let place =
            LiveUnitPlace { category, category_id: unit.category_id, unit_id: unit.unit_id.clone(), slot };
        match booking_positions.get(&unit.booking_id) {
            Some(&position) => {
                let booking = &mut bookings[position];
                ensure!(
                    booking.user_id == unit.user_id && booking.state == unit.state,
                    "the units of booking {} disagree on its user or state",
                    unit.booking_id
                );
                booking.units.push(place);
            }
            None => {
                booking_positions.insert(unit.booking_id, bookings.len());
                bookings.push(LiveBooking {
                    booking_id: unit.booking_id,
                    user_id: unit.user_id,
                    state: unit.state,
                    units: vec![place],
                });
            }
        }
    }
    Ok(bookings)
}
