//! What the bookings service needs of the events service, in its own terms: an event on sale
//! ([`SaleEvent`]: who owns it, whether and until when it sells, its prices and limits) and its
//! units ([`EventUnits`]: what the inventory sells).
//!
//! [`EventCatalog`] is the port; the gRPC adapter that implements it is `events_client.rs`, the
//! only place besides `grpc.rs` where this crate speaks wire types, and tests use a fake. The
//! events service's strings are parsed there, once per fetch, so a hold reads typed values.
//!
//! [`CachedCatalog`] stands in front of the port: an event is trusted for [`EVENT_INFO_TTL`]
//! (a hold at 30,000 requests a second must not ask the events service each time), `fresh`
//! reads skip it (a decision that takes money), and the units of a published or cancelled event
//! are fetched once, as they never change again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use async_trait::async_trait;
use boxoffice_errors::Error;
use boxoffice_types::{Caller, CategoryKind, EventStatus};
use chrono::{DateTime, Utc};
use futures::future::{BoxFuture, FutureExt as _, Shared};
use uuid::Uuid;

use crate::domain::EVENT_INFO_TTL;
use crate::inventory::{CategorySpec, CategoryUnits};

/// Events whose answer is cached at most; beyond that the stale entries go, or all of them.
const MAX_CACHED_EVENTS: usize = 10_000;

/// An event as the bookings service sells it.
#[derive(Clone, Debug)]
pub struct SaleEvent {
    pub id: Uuid,
    pub organizer_id: Uuid,
    pub status: EventStatus,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// `None`: on sale as soon as published.
    pub sale_starts_at: Option<DateTime<Utc>>,
    pub max_tickets_per_booking: u32,
    /// How long an offer from a sold-out category's waiting list lasts; `None`: no waiting list.
    pub waiting_list_offer: Option<chrono::Duration>,
    /// Whether the door accepts a ticket's static code beside its rotating one.
    pub static_codes: bool,
    pub categories: Vec<SaleCategory>,
    /// Shared by every fetch of a published event: they never change.
    pub units: Arc<EventUnits>,
}

/// A category's price and layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaleCategory {
    pub id: Uuid,
    pub price_cents: i64,
    /// ISO 4217; the same for every category of an event.
    pub currency: String,
    pub kind: CategoryKind,
}

impl SaleEvent {
    /// The category with this id.
    pub fn category(&self, category_id: Uuid) -> Option<&SaleCategory> {
        self.categories.iter().find(|category| category.id == category_id)
    }

    pub fn is_published(&self) -> bool {
        self.status == EventStatus::Published
    }

    /// Whether `caller` may act as the event's organizer: its owner, or an admin.
    pub fn is_organized_by(&self, caller: Caller) -> bool {
        caller.owns(self.organizer_id)
    }
}

/// Every unit an event sells, per category in the events service's order, and which category
/// each seat is of.
#[derive(Debug)]
pub struct EventUnits {
    categories: Vec<CategorySpec>,
    /// Seat id → category id, built on the first hold of chosen seats: most events sell
    /// general admission or "best available" only, and a draft's units are fetched again.
    seats: OnceLock<HashMap<String, Uuid>>,
}

impl EventUnits {
    pub fn new(categories: Vec<CategorySpec>) -> Self {
        EventUnits { categories, seats: OnceLock::new() }
    }

    /// What the inventory is built from.
    pub fn categories(&self) -> &[CategorySpec] {
        &self.categories
    }

    /// How many units a category sells; 0 for a category the event does not have.
    pub fn capacity(&self, category_id: Uuid) -> u32 {
        self.categories.iter().find(|spec| spec.category_id == category_id).map_or(0, |spec| {
            match &spec.units {
                CategoryUnits::GeneralAdmission { capacity } => *capacity,
                CategoryUnits::Seated { seat_ids } => u32::try_from(seat_ids.len()).unwrap_or(u32::MAX),
            }
        })
    }

    /// The category of a seat of the event; `None` for a seat it does not have.
    pub fn seat_category(&self, seat_id: &str) -> Option<Uuid> {
        let seats = self.seats.get_or_init(|| {
            let mut seats = HashMap::new();
            for spec in &self.categories {
                if let CategoryUnits::Seated { seat_ids } = &spec.units {
                    seats.extend(seat_ids.iter().map(|seat| (seat.clone(), spec.category_id)));
                }
            }
            seats
        });
        seats.get(seat_id).copied()
    }
}

/// The events service, as the bookings service needs it.
#[async_trait]
pub trait EventCatalog: Send + Sync + 'static {
    /// The event as the events service has it now. With `known_units`, the units are not asked
    /// for again and the answer carries these; without, they are fetched.
    ///
    /// Fails with `not_found` for an event the events service does not know.
    async fn event(&self, event_id: Uuid, known_units: Option<Arc<EventUnits>>) -> Result<SaleEvent, Error>;

    /// Whether the organizer let `user_id` check the event's tickets in. Never cached: a
    /// revoked grant stops at the next scan.
    async fn is_door_staff(&self, event_id: Uuid, user_id: Uuid) -> Result<bool, Error>;
}

/// An [`EventCatalog`] with the short cache in front of it.
///
/// When an event's entry runs out in the middle of an on-sale, hundreds of holds miss it at
/// once; they share one fetch (the first one's) instead of each asking the events service. A
/// `fresh` read never joins a fetch that began before it: it asks on its own.
pub struct CachedCatalog {
    source: Arc<dyn EventCatalog>,
    state: Arc<CacheState>,
}

/// One fetch of an event, awaited by every read that missed the cache while it runs.
type Fetch = Shared<BoxFuture<'static, Result<Arc<SaleEvent>, Error>>>;

#[derive(Default)]
struct CacheState {
    /// Finished answers, with when they were fetched.
    events: Mutex<HashMap<Uuid, (Instant, Arc<SaleEvent>)>>,
    /// The fetches under way; each removes itself when done.
    in_flight: Mutex<HashMap<Uuid, Fetch>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps hold only finished values, so a panic elsewhere cannot leave them half-changed.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl CacheState {
    /// Remembers what was fetched at `fetched`, within [`MAX_CACHED_EVENTS`].
    fn store(&self, event_id: Uuid, fetched: Instant, event: Arc<SaleEvent>) {
        let mut events = lock(&self.events);
        if events.len() >= MAX_CACHED_EVENTS && !events.contains_key(&event_id) {
            events.retain(|_, (fetched, _)| fetched.elapsed() < EVENT_INFO_TTL);
            if events.len() >= MAX_CACHED_EVENTS {
                events.clear();
            }
        }
        events.insert(event_id, (fetched, event));
    }
}

impl CachedCatalog {
    pub fn new(source: Arc<dyn EventCatalog>) -> Self {
        CachedCatalog { source, state: Arc::default() }
    }

    /// The event, at most [`EVENT_INFO_TTL`] old.
    pub async fn event(&self, event_id: Uuid) -> Result<Arc<SaleEvent>, Error> {
        let known_units = match self.cached(event_id, false) {
            Ok(event) => return Ok(event),
            Err(known_units) => known_units,
        };
        let fetch = lock(&self.state.in_flight)
            .entry(event_id)
            .or_insert_with(|| self.start_fetch(event_id, known_units))
            .clone();
        fetch.await
    }

    /// Whether the organizer let `user_id` check the event's tickets in, asked afresh.
    pub async fn is_door_staff(&self, event_id: Uuid, user_id: Uuid) -> Result<bool, Error> {
        self.source.is_door_staff(event_id, user_id).await
    }

    /// The event as the events service has it now, for decisions that take money.
    ///
    /// A fetch already under way when asked is joined rather than doubled: a burst of payments
    /// for one event asks the events service once per fetch's time, not once each. Its answer
    /// is at most that fetch's time older than the request; a cancellation it misses is caught
    /// by the confirmation's own transaction, which refuses a closed event and refunds.
    pub async fn fresh_event(&self, event_id: Uuid) -> Result<Arc<SaleEvent>, Error> {
        let known_units = self.cached(event_id, true).err().flatten();
        let fetch = lock(&self.state.in_flight)
            .entry(event_id)
            .or_insert_with(|| self.start_fetch(event_id, known_units))
            .clone();
        fetch.await
    }

    /// Drops the event from the cache: it just changed (it was cancelled).
    pub fn forget(&self, event_id: Uuid) {
        lock(&self.state.events).remove(&event_id);
    }

    /// The cached event if it may be used; otherwise the units to fetch it with, if they are
    /// known (published and cancelled events never change their units again).
    fn cached(&self, event_id: Uuid, fresh: bool) -> Result<Arc<SaleEvent>, Option<Arc<EventUnits>>> {
        match lock(&self.state.events).get(&event_id) {
            Some((fetched, event)) if !fresh && fetched.elapsed() < EVENT_INFO_TTL => Ok(event.clone()),
            Some((_, event)) if matches!(event.status, EventStatus::Published | EventStatus::Cancelled) => {
                Err(Some(event.units.clone()))
            }
            _ => Err(None),
        }
    }

    /// A fetch that stores its answer (timed from its start, so that an answer is never trusted
    /// for longer than [`EVENT_INFO_TTL`] after it was asked for) and then leaves `in_flight`.
    fn start_fetch(&self, event_id: Uuid, known_units: Option<Arc<EventUnits>>) -> Fetch {
        let (source, state) = (self.source.clone(), self.state.clone());
        async move {
            let fetched = Instant::now();
            let result = source.event(event_id, known_units).await.map(Arc::new);
            if let Ok(event) = &result {
                state.store(event_id, fetched, event.clone());
            }
            lock(&state.in_flight).remove(&event_id);
            result
        }
        .boxed()
        .shared()
    }
}
