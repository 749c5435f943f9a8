//! The embedded inventory: every event's state in this process, behind one lock per event that
//! is held only for the length of one decision (never across an `.await`).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use anyhow::anyhow;
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::{
    check_snapshot, general_admission_unit, seats_adjacent, Availability, CategoryUnits, Claim, Counts,
    Handoff, HoldOutcome, HoldRequest, InventoryStore, Result, SnapshotSource, UnitState,
};

/// An [`InventoryStore`] in memory, for the embedded default, where this process is the only
/// seller. A restart loses it, and the next `ensure_loaded` rebuilds it from the database.
#[derive(Default)]
pub struct MemoryInventory {
    /// The map is locked only to find or add an event's slot; decisions lock the event alone.
    events: Mutex<HashMap<Uuid, Arc<EventSlot>>>,
    /// The slots of events marked for a rebuild, kept until it is done (as Redis keeps the
    /// records until a load clears them), for [`InventoryStore::claims`].
    forgotten: Mutex<HashMap<Uuid, Arc<EventSlot>>>,
}

/// An event's inventory, built at most once: concurrent loaders wait for the first one.
#[derive(Default)]
struct EventSlot {
    inventory: OnceCell<Mutex<EventInventory>>,
}

impl MemoryInventory {
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(&self, event_id: Uuid) -> Result<Arc<EventSlot>> {
        Ok(lock(&self.events)?.entry(event_id).or_default().clone())
    }

    /// Runs one decision on a loaded event under its lock.
    fn decide<T>(&self, event_id: Uuid, decision: impl FnOnce(&mut EventInventory) -> T) -> Result<T> {
        let slot = lock(&self.events)?.get(&event_id).cloned();
        let inventory = slot
            .as_ref()
            .and_then(|slot| slot.inventory.get())
            .ok_or_else(|| anyhow!("the inventory of event {event_id} is not loaded"))?;
        let mut inventory = lock(inventory)?;
        Ok(decision(&mut inventory))
    }
}

/// Locks a mutex, refusing one that a panic poisoned: its state may be half-changed, and
/// selling from it could sell a unit twice.
fn lock<T>(mutex: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    mutex.lock().map_err(|_| anyhow!("the in-memory inventory is poisoned by an earlier panic"))
}

#[async_trait::async_trait]
impl InventoryStore for MemoryInventory {
    async fn ensure_loaded(&self, event_id: Uuid, snapshot: SnapshotSource<'_>) -> Result<()> {
        let slot = self.slot(event_id)?;
        // A failed load leaves the cell empty, so the next caller tries again.
        slot.inventory
            .get_or_try_init(|| async {
                let snapshot = snapshot().await?;
                let built = EventInventory::build(event_id, &snapshot)?;
                lock(&self.forgotten)?.remove(&event_id);
                Ok::<_, anyhow::Error>(Mutex::new(built))
            })
            .await?;
        Ok(())
    }

    async fn hold(&self, event_id: Uuid, request: &HoldRequest) -> Result<HoldOutcome> {
        self.decide(event_id, |inventory| inventory.hold(request))
    }

    async fn confirm(&self, event_id: Uuid, booking_id: Uuid) -> Result<()> {
        self.decide(event_id, |inventory| inventory.confirm(booking_id))
    }

    async fn release(&self, event_id: Uuid, booking_id: Uuid) -> Result<()> {
        self.decide(event_id, |inventory| inventory.release(booking_id))
    }

    async fn hand_over(&self, event_id: Uuid, booking_id: Uuid, handoffs: &[Handoff]) -> Result<bool> {
        self.decide(event_id, |inventory| inventory.hand_over(booking_id, handoffs))?
    }

    async fn availability(&self, event_id: Uuid) -> Result<Option<Availability>> {
        let slot = lock(&self.events)?.get(&event_id).cloned();
        match slot.as_ref().and_then(|slot| slot.inventory.get()) {
            Some(inventory) => {
                let inventory = lock(inventory)?;
                Ok(Some(inventory.availability()))
            }
            None => Ok(None),
        }
    }

    async fn claims(&self, event_id: Uuid) -> Result<Vec<Claim>> {
        let slot = lock(&self.events)?.get(&event_id).cloned();
        let slot = match slot.filter(|slot| slot.inventory.initialized()) {
            Some(slot) => Some(slot),
            None => lock(&self.forgotten)?.get(&event_id).cloned(),
        };
        let Some(inventory) = slot.as_ref().and_then(|slot| slot.inventory.get()) else {
            return Ok(Vec::new());
        };
        let inventory = lock(inventory)?;
        Ok(inventory
            .bookings
            .iter()
            .filter(|(_, booking)| booking.state == UnitState::Held)
            .map(|(booking_id, booking)| Claim {
                booking_id: *booking_id,
                user_id: booking.user_id,
                units: booking.units.clone(),
                age: booking.claimed_at.map(|at| at.elapsed()),
            })
            .collect())
    }

    async fn forget_all(&self) -> Result<()> {
        let mut events = self.events.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        lock(&self.forgotten)?.extend(events.drain().filter(|(_, slot)| slot.inventory.initialized()));
        Ok(())
    }

    async fn forget(&self, event_id: Uuid) -> Result<()> {
        let slot = lock(&self.events)?.remove(&event_id);
        if let Some(slot) = slot.filter(|slot| slot.inventory.initialized()) {
            lock(&self.forgotten)?.insert(event_id, slot);
        }
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

/// One event's inventory.
struct EventInventory {
    /// In the snapshot's order, which availability follows.
    categories: Vec<Category>,
    positions: HashMap<Uuid, usize>,
    bookings: HashMap<Uuid, Booking>,
    /// Live (held or sold) units per user; users without any are absent.
    live_by_user: HashMap<Uuid, u32>,
}

struct Category {
    id: Uuid,
    counts: Counts,
    units: Units,
}

enum Units {
    GeneralAdmission {
        /// Free unit numbers: taken from the front, returned to the back, as the Redis list.
        free: VecDeque<u32>,
    },
    Seated {
        seat_ids: Vec<String>,
        indices: HashMap<String, u32>,
        /// Free seat indices in seat-map order, as the Redis sorted set.
        free: BTreeSet<u32>,
        /// Per seat index; `None` is free.
        states: Vec<Option<UnitState>>,
    },
}

struct Booking {
    user_id: Uuid,
    state: UnitState,
    /// (category id, unit id), as the hold answered them.
    units: Vec<(Uuid, String)>,
    /// (category position, unit number or seat index), beside `units`.
    places: Vec<(usize, u32)>,
    /// When a hold claimed it; `None` when a load or a handoff wrote it.
    claimed_at: Option<Instant>,
}

/// What a hold takes, decided before anything changes.
enum Pick {
    GeneralAdmission { category: usize, count: u32 },
    Seats { category: usize, indices: Vec<u32> },
}

impl EventInventory {
    fn build(event_id: Uuid, snapshot: &super::Snapshot) -> Result<Self> {
        let live_bookings = check_snapshot(event_id, snapshot)?;

        let mut taken: Vec<HashSet<u32>> = vec![HashSet::new(); snapshot.categories.len()];
        for unit in live_bookings.iter().flat_map(|booking| &booking.units) {
            taken[unit.category].insert(unit.slot);
        }
        let mut categories: Vec<Category> = snapshot
            .categories
            .iter()
            .zip(&taken)
            .map(|(spec, taken)| match &spec.units {
                CategoryUnits::GeneralAdmission { capacity } => Category {
                    id: spec.category_id,
                    counts: Counts { capacity: *capacity, held: 0, sold: 0 },
                    units: Units::GeneralAdmission {
                        free: (1..=*capacity).filter(|number| !taken.contains(number)).collect(),
                    },
                },
                CategoryUnits::Seated { seat_ids } => {
                    // `check_snapshot` has checked that every index fits in a u32.
                    let indices: HashMap<String, u32> = seat_ids
                        .iter()
                        .zip(0u32..)
                        .map(|(seat_id, index)| (seat_id.clone(), index))
                        .collect();
                    Category {
                        id: spec.category_id,
                        counts: Counts { capacity: indices.len() as u32, held: 0, sold: 0 },
                        units: Units::Seated {
                            free: (0..indices.len() as u32).filter(|index| !taken.contains(index)).collect(),
                            states: vec![None; seat_ids.len()],
                            seat_ids: seat_ids.clone(),
                            indices,
                        },
                    }
                }
            })
            .collect();

        let mut bookings = HashMap::with_capacity(live_bookings.len());
        let mut live_by_user: HashMap<Uuid, u32> = HashMap::new();
        for live in live_bookings {
            for unit in &live.units {
                let category = &mut categories[unit.category];
                match live.state {
                    UnitState::Held => category.counts.held += 1,
                    UnitState::Sold => category.counts.sold += 1,
                }
                if let Units::Seated { states, .. } = &mut category.units {
                    states[unit.slot as usize] = Some(live.state);
                }
            }
            *live_by_user.entry(live.user_id).or_default() += live.units.len() as u32;
            bookings.insert(
                live.booking_id,
                Booking {
                    user_id: live.user_id,
                    state: live.state,
                    units: live.units.iter().map(|unit| (unit.category_id, unit.unit_id.clone())).collect(),
                    places: live.units.iter().map(|unit| (unit.category, unit.slot)).collect(),
                    claimed_at: None,
                },
            );
        }
        let positions =
            categories.iter().enumerate().map(|(position, category)| (category.id, position)).collect();
        Ok(EventInventory { categories, positions, bookings, live_by_user })
    }

    /// Decides a hold: chosen seats first (so that "best available" never takes a seat the buyer
    /// chose), then quantities in request order; everything is checked before anything changes.
    fn hold(&mut self, request: &HoldRequest) -> HoldOutcome {
        if let Some(booking) = self.bookings.get(&request.booking_id) {
            return HoldOutcome::AlreadyHeld(booking.units.clone());
        }
        let requested = request.quantities.iter().map(|&(_, count)| u64::from(count)).sum::<u64>()
            + request.seats.len() as u64;
        if requested == 0 {
            return HoldOutcome::Held(Vec::new());
        }
        let mut claimed: HashSet<(usize, u32)> = HashSet::new();
        let mut chosen: Vec<(usize, u32)> = Vec::with_capacity(request.seats.len());
        for (category_id, seat_id) in &request.seats {
            let place = self.positions.get(category_id).and_then(|&position| {
                match &self.categories[position].units {
                    Units::Seated { indices, free, .. } => indices
                        .get(seat_id)
                        .filter(|index| free.contains(index))
                        .map(|&index| (position, index)),
                    Units::GeneralAdmission { .. } => None,
                }
            });
            match place {
                Some(place) if claimed.insert(place) => chosen.push(place),
                _ => return HoldOutcome::SeatUnavailable { seat_id: seat_id.clone() },
            }
        }

        let mut general_admission_wanted: HashMap<usize, u64> = HashMap::new();
        let mut picks: Vec<Pick> = Vec::with_capacity(request.quantities.len());
        for &(category_id, count) in &request.quantities {
            if count == 0 {
                continue;
            }
            let Some(&position) = self.positions.get(&category_id) else {
                return HoldOutcome::SoldOut { category_id };
            };
            match &self.categories[position].units {
                Units::GeneralAdmission { free } => {
                    let wanted = general_admission_wanted.entry(position).or_default();
                    *wanted += u64::from(count);
                    if (free.len() as u64) < *wanted {
                        return HoldOutcome::SoldOut { category_id };
                    }
                    picks.push(Pick::GeneralAdmission { category: position, count });
                }
                Units::Seated { seat_ids, free, .. } => {
                    let is_claimed = |index: u32| claimed.contains(&(position, index));
                    let Some(indices) = best_available(seat_ids, free, is_claimed, count) else {
                        return HoldOutcome::SoldOut { category_id };
                    };
                    claimed.extend(indices.iter().map(|&index| (position, index)));
                    picks.push(Pick::Seats { category: position, indices });
                }
            }
        }

        // The cap comes after availability: what is gone is sold out for everyone, so that a
        // remembered "sold out" (the service's memo) and the store always give the same answer.
        let live = self.live_by_user.get(&request.user_id).copied().unwrap_or(0);
        if u64::from(live) + requested > u64::from(request.per_user_cap) {
            return HoldOutcome::LimitExceeded { live };
        }

        // Everything is available: take it, quantities first, then the chosen seats.
        let mut booking = Booking {
            user_id: request.user_id,
            state: UnitState::Held,
            units: Vec::with_capacity(requested as usize),
            places: Vec::with_capacity(requested as usize),
            claimed_at: Some(Instant::now()),
        };
        for pick in picks {
            match pick {
                Pick::GeneralAdmission { category, count } => {
                    for _ in 0..count {
                        let number = self.take_general_admission(category);
                        booking.units.push((
                            self.categories[category].id,
                            general_admission_unit(self.categories[category].id, number),
                        ));
                        booking.places.push((category, number));
                    }
                }
                Pick::Seats { category, indices } => {
                    for index in indices {
                        booking.units.push((self.categories[category].id, self.take_seat(category, index)));
                        booking.places.push((category, index));
                    }
                }
            }
        }
        for (category, index) in chosen {
            booking.units.push((self.categories[category].id, self.take_seat(category, index)));
            booking.places.push((category, index));
        }
        *self.live_by_user.entry(request.user_id).or_default() += booking.units.len() as u32;
        let units = booking.units.clone();
        self.bookings.insert(request.booking_id, booking);
        HoldOutcome::Held(units)
    }

    fn take_general_admission(&mut self, category: usize) -> u32 {
        let category = &mut self.categories[category];
        let Units::GeneralAdmission { free } = &mut category.units else {
            unreachable!("a general-admission pick is of a general-admission category");
        };
        let number = free.pop_front().expect("the hold checked that enough units are free");
        category.counts.held += 1;
        number
    }

    /// Marks a free seat held and returns its id.
    fn take_seat(&mut self, category: usize, index: u32) -> String {
        let category = &mut self.categories[category];
        let Units::Seated { seat_ids, free, states, .. } = &mut category.units else {
            unreachable!("a seat pick is of a seated category");
        };
        assert!(free.remove(&index), "the hold checked that the seat is free");
        states[index as usize] = Some(UnitState::Held);
        category.counts.held += 1;
        seat_ids[index as usize].clone()
    }

    fn confirm(&mut self, booking_id: Uuid) {
        let Some(booking) = self.bookings.get_mut(&booking_id) else { return };
        if booking.state == UnitState::Sold {
            return;
        }
        booking.state = UnitState::Sold;
        for &(category, slot) in &booking.places {
            let category = &mut self.categories[category];
            category.counts.held -= 1;
            category.counts.sold += 1;
            if let Units::Seated { states, .. } = &mut category.units {
                states[slot as usize] = Some(UnitState::Sold);
            }
        }
    }

    fn release(&mut self, booking_id: Uuid) {
        // A hand-over to nobody: every unit returns to sale. It fails only for a handoff.
        let _ = self.hand_over(booking_id, &[]);
    }

    /// The booking ends; the units of `handoffs` become their held bookings, the others return
    /// to sale. Everything is checked before anything changes, as in the Redis script.
    fn hand_over(&mut self, booking_id: Uuid, handoffs: &[Handoff]) -> Result<bool> {
        let Some(booking) = self.bookings.get(&booking_id) else { return Ok(false) };
        let mut places: HashMap<&str, (usize, u32)> =
            booking.units.iter().map(|(_, unit)| unit.as_str()).zip(booking.places.iter().copied()).collect();
        let mut handed: Vec<Vec<(usize, u32)>> = Vec::with_capacity(handoffs.len());
        for handoff in handoffs {
            if handoff.booking_id == booking_id || self.bookings.contains_key(&handoff.booking_id) {
                return Err(anyhow!("booking {} already has units", handoff.booking_id));
            }
            let taken = handoff
                .units
                .iter()
                .map(|(_, unit)| {
                    places
                        .remove(unit.as_str())
                        .ok_or_else(|| anyhow!("unit {unit} is not booking {booking_id}'s"))
                })
                .collect::<Result<Vec<_>>>()?;
            handed.push(taken);
        }
        let handed_places: HashSet<(usize, u32)> = handed.iter().flatten().copied().collect();
        let booking = self.bookings.remove(&booking_id).expect("the booking was found above");
        for &(position, slot) in &booking.places {
            let category = &mut self.categories[position];
            if handed_places.contains(&(position, slot)) {
                // Still live, now held by the offer: a sold unit (a refund) counts as held again.
                if booking.state == UnitState::Sold {
                    category.counts.sold -= 1;
                    category.counts.held += 1;
                    if let Units::Seated { states, .. } = &mut category.units {
                        states[slot as usize] = Some(UnitState::Held);
                    }
                }
                continue;
            }
            match booking.state {
                UnitState::Held => category.counts.held -= 1,
                UnitState::Sold => category.counts.sold -= 1,
            }
            match &mut category.units {
                Units::GeneralAdmission { free } => free.push_back(slot),
                Units::Seated { free, states, .. } => {
                    free.insert(slot);
                    states[slot as usize] = None;
                }
            }
        }
        self.forget_user_units(booking.user_id, booking.units.len() as u32);
        for (handoff, places) in handoffs.iter().zip(handed) {
            *self.live_by_user.entry(handoff.user_id).or_default() += handoff.units.len() as u32;
            self.bookings.insert(
                handoff.booking_id,
                Booking {
                    user_id: handoff.user_id,
                    state: UnitState::Held,
                    units: handoff.units.clone(),
                    places,
                    claimed_at: None,
                },
            );
        }
        Ok(true)
    }

    fn forget_user_units(&mut self, user_id: Uuid, units: u32) {
        let live = self.live_by_user.get_mut(&user_id).expect("a live booking counts for its user");
        *live -= units;
        if *live == 0 {
            self.live_by_user.remove(&user_id);
        }
    }

    fn availability(&self) -> Availability {
        let mut availability = Availability::default();
        for category in &self.categories {
            availability.categories.push((category.id, category.counts));
            if let Units::Seated { seat_ids, states, .. } = &category.units {
                availability.seats.extend(
                    seat_ids
                        .iter()
                        .zip(states)
                        .map(|(seat_id, state)| (seat_id.clone(), category.id, *state)),
                );
            }
        }
        availability
    }
}

/// "Best available": the first run of `count` adjacent free seats (one row, consecutive numbers
/// and seat-map indices), else the first `count` free seats in seat-map order, else `None`.
/// Seats this hold has already claimed count as taken. The Redis hold script mirrors this.
fn best_available(
    seat_ids: &[String],
    free: &BTreeSet<u32>,
    is_claimed: impl Fn(u32) -> bool,
    count: u32,
) -> Option<Vec<u32>> {
    let count = count as usize;
    let mut run: Vec<u32> = Vec::new();
    let mut first: Vec<u32> = Vec::new();
    for index in free.iter().copied().filter(|&index| !is_claimed(index)) {
        if first.len() < count {
            first.push(index);
        }
        let extends_run = run.last().is_some_and(|&previous| {
            index == previous + 1 && seats_adjacent(&seat_ids[previous as usize], &seat_ids[index as usize])
        });
        if !extends_run {
            run.clear();
        }
        run.push(index);
        if run.len() == count {
            return Some(run);
        }
    }
    (first.len() == count).then_some(first)
}
