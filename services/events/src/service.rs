//! [`Events`]: what the events service does, independent of how it is called, and the helpers
//! its features share: who may change an event, and the read-modify-write loop every change goes
//! through.
//!
//! Each feature adds its own `impl Events` block in a module named for what it does for the
//! user, so that a change to, say, publication touches one file:
//! - [`crate::venues`]: create and read venues;
//! - [`crate::editing`]: create, patch and delete events;
//! - [`crate::lifecycle`]: publish and cancel, and what the bookings service is told of them;
//! - [`crate::search`]: read one event (through [`crate::cache`]) and list them;
//! - [`crate::inventory`]: what the bookings service sells of an event.

use std::sync::Arc;
use std::time::Duration;

use boxoffice_errors::{Code, Error};
use boxoffice_kv::Kv;
use boxoffice_types::Caller;
use chrono::{DateTime, SubsecRound as _, Utc};
use uuid::Uuid;

use crate::cache::EventCache;
use crate::domain::{parse_categories, EventStatus, NewCategory};
use crate::sales::Sales;
use crate::store::{concurrent_update, EventRecord, EventStore, VenueLock};

/// Attempts of a read-modify-write update that keeps losing to concurrent updates; between
/// attempts it waits a little longer each time, so a burst of patches to one event all land.
const UPDATE_ATTEMPTS: u32 = 12;
/// The mean wait before the second attempt; the n-th waits n times as long on average.
const UPDATE_BACKOFF: Duration = Duration::from_millis(5);

/// The wait before `attempt` (1 or more): random, between none and twice the mean. Updates that
/// lost one race together would otherwise retry together and collide again, each round letting
/// only one through, so that a burst of N patches needs N rounds for its last one.
fn backoff(attempt: u32) -> Duration {
    let mean = UPDATE_BACKOFF * attempt;
    mean.mul_f64(rand::random::<f64>() * 2.0)
}

pub(crate) type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

#[derive(Clone)]
pub struct Events {
    pub(crate) store: Arc<dyn EventStore>,
    /// Public reads of published events.
    pub(crate) cache: EventCache,
    /// The bookings service: loads a published event's inventory, refunds a cancelled one's
    /// bookings.
    pub(crate) sales: Arc<dyn Sales>,
}

/// The current time as the databases store it: to the microsecond, so that what a request
/// answers equals what a later read returns.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub(crate) fn event_not_found() -> Error {
    Error::not_found("event")
}

/// Venues and events are made by organizers and admins.
pub(crate) fn require_organizer(caller: Caller) -> Result<(), Error> {
    if caller.is_organizer() {
        Ok(())
    } else {
        Err(Error::new(Code::Forbidden, "only organizers and admins may do this"))
    }
}

impl Events {
    pub fn new(store: Arc<dyn EventStore>, kv: Kv, sales: Arc<dyn Sales>) -> Self {
        Events { store, cache: EventCache::new(kv), sales }
    }

    /// Reads the event for a change by `caller`. Others get 403 for an event the public can see
    /// (its existence is no secret) and 404 for one it cannot.
    pub(crate) async fn event_to_change(&self, caller: Caller, event_id: Uuid) -> Result<EventRecord, Error> {
        let event = self.store.event(event_id).await?.ok_or_else(event_not_found)?;
        if caller.owns(event.organizer_id) {
            return Ok(event);
        }
        match event.status {
            EventStatus::Published => {
                Err(Error::new(Code::Forbidden, "only the event's organizer may change it"))
            }
            EventStatus::Draft | EventStatus::Cancelled => Err(event_not_found()),
        }
    }

    /// Applies `change` to the stored event and writes it back, retrying when another update
    /// wins the race, so that no change is lost or applied to a stale status. `change` answers
    /// whether it changed anything; when it did not, nothing is written.
    pub(crate) async fn modify<F>(
        &self,
        caller: Caller,
        event_id: Uuid,
        change: F,
    ) -> Result<EventRecord, Error>
    where
        F: for<'a> Fn(&'a mut EventRecord) -> BoxFuture<'a, Result<bool, Error>> + Send + Sync,
    {
        for attempt in 0..UPDATE_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let mut event = self.event_to_change(caller, event_id).await?;
            let before = event.status;
            if !change(&mut event).await? {
                return Ok(event);
            }
            event.updated_at = now();
            // A publication sells the venue's seats as they are now: its seated categories are
            // checked again against the current seat map, which it locks as it commits.
            let lock = if before == EventStatus::Draft && event.status == EventStatus::Published {
                self.check_against_venue(&mut event).await?
            } else {
                None
            };
            // The venue's name is read only for a change that tells of it, not for a draft's.
            let told = match crate::domain_events::told_type(before, event.status) {
                Some(event_type) => {
                    Some(crate::domain_events::told(event_type, &event, self.venue_name(&event).await?))
                }
                None => None,
            };
            if self.store.update_event(&event, told.as_ref(), lock).await? {
                self.cache.forget(event_id).await?;
                event.version += 1;
                return Ok(event);
            }
        }
        Err(concurrent_update())
    }

    /// Checks the event's categories against its venue's seat map as it is now, keeping their
    /// ids (a draft's seated capacity follows a venue edited since), and names the version it
    /// checked. `None` for an event without a venue.
    async fn check_against_venue(&self, event: &mut EventRecord) -> Result<Option<VenueLock>, Error> {
        let Some(venue_id) = event.venue_id else { return Ok(None) };
        let venue = self.venue(venue_id).await?;
        let described = event.categories.iter().map(NewCategory::from_category).collect();
        let checked = parse_categories(described, Some(&venue.layout)).map_err(|error| {
            Error::new(
                Code::Conflict,
                format!(
                    "the venue changed since the event was drafted; edit its categories: {}",
                    error.detail
                ),
            )
        })?;
        for (category, checked) in event.categories.iter_mut().zip(checked) {
            category.capacity = checked.capacity;
        }
        Ok(Some(VenueLock { venue_id, version: venue.version }))
    }

    /// The name of the event's venue, for the domain events that tell of it.
    async fn venue_name(&self, event: &EventRecord) -> Result<Option<String>, Error> {
        match event.venue_id {
            Some(venue_id) => Ok(self.store.venue(venue_id).await?.map(|venue| venue.name)),
            None => Ok(None),
        }
    }

    /// This service's outbox, for its relay.
    pub fn outbox(&self) -> boxoffice_outbox::Outbox {
        let (db, handle) = self.store.outbox();
        boxoffice_outbox::Outbox { service: "events", db, handle }
    }

    pub async fn check_ready(&self) -> Result<(), Error> {
        self.store.ping().await?;
        self.cache.ping().await
    }
}
