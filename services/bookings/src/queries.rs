//! What buyers and organizers read: a booking, a buyer's bookings, an event's availability, its
//! organizer's figures and bookings.
//!
//! Counts come from the inventory (the live copy), money and check-ins from the database (the
//! record). Unpublished events are their organizer's business alone, as in the events service:
//! others get 404, and for a published event an organizer view is 403 to them.

use std::sync::Arc;

use boxoffice_errors::{Code, Error};
use boxoffice_types::limits::PageSize;
use boxoffice_types::{Caller, Role};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalog::SaleEvent;
use crate::db::{CategorySales, Position};
use crate::domain::{BookingRecord, BookingStatus, ACTIVITY_BUCKET, ACTIVITY_BUCKETS, MAX_ACTIVITY_BOOKINGS};
use crate::inventory::{Availability, CategoryUnits, Counts};
use crate::service::{booking_not_found, Bookings};

/// A page of bookings and the cursor of the next one.
pub type BookingPage = (Vec<BookingRecord>, Option<String>);

/// An event's figures for its organizer.
pub struct EventStats {
    pub event: Arc<SaleEvent>,
    pub availability: Availability,
    pub sales: Vec<(Uuid, CategorySales)>,
    pub activity: Activity,
    /// Entries waiting, per category (categories without any are absent).
    pub waiting: Vec<(Uuid, u32)>,
}

impl Bookings {
    /// The booking if `caller` may see it: its owner, or an admin. Others get 404.
    pub async fn booking(&self, caller: Caller, booking_id: Uuid) -> Result<BookingRecord, Error> {
        match self.inner.db.booking(booking_id).await? {
            Some(booking) if caller.owns(booking.user_id) => Ok(booking),
            _ => Err(booking_not_found()),
        }
    }

    /// `caller`'s bookings, newest first (everyone's, for an admin).
    pub async fn list(
        &self,
        caller: Caller,
        limit: PageSize,
        cursor: Option<&str>,
    ) -> Result<BookingPage, Error> {
        let limit = limit.get();
        let after = cursor.map(decode_cursor).transpose()?;
        let user = (caller.role != Role::Admin).then_some(caller.user_id);
        let bookings = self.inner.db.list(user, after, limit + 1).await?;
        Ok(page(bookings, limit))
    }

    /// Availability of an event `caller` may see. Before an event is published nothing can be
    /// held, so every unit is available; afterwards the inventory answers.
    pub async fn availability(
        &self,
        caller: Option<Caller>,
        event_id: Uuid,
    ) -> Result<(Arc<SaleEvent>, Availability), Error> {
        let event = self.inner.catalog.event(event_id).await?;
        if !event.is_published() {
            if !caller.is_some_and(|caller| event.is_organized_by(caller)) {
                return Err(Error::not_found("event"));
            }
            let availability = unsold(&event);
            return Ok((event, availability));
        }
        let availability = self.inner.inventory.availability(&event).await?;
        Ok((event, availability))
    }

    /// The organizer's figures: counts from the inventory, money and check-ins from the
    /// database.
    pub async fn stats(&self, caller: Caller, event_id: Uuid) -> Result<EventStats, Error> {
        let event = self.inner.catalog.event(event_id).await?;
        require_organizer(caller, &event)?;
        let (_, availability) = self.availability(Some(caller), event_id).await?;
        let sales = self.inner.db.sales(event_id).await?;
        let activity = self.activity(event_id).await?;
        let waiting = self.inner.db.waiting_counts(event_id).await?;
        Ok(EventStats { event, availability, sales, activity, waiting })
    }

    /// Holds and sales per minute over the last [`ACTIVITY_BUCKETS`] minutes. A sale is counted
    /// when its booking was confirmed, which is at most a hold's lifetime after it was made.
    async fn activity(&self, event_id: Uuid) -> Result<Activity, Error> {
        let bucket = chrono::Duration::from_std(ACTIVITY_BUCKET).map_err(Error::internal)?;
        let now = self.inner.clock.now();
        let bucket_ms = bucket.num_milliseconds();
        let until = DateTime::from_timestamp_millis((now.timestamp_millis() / bucket_ms + 1) * bucket_ms)
            .ok_or_else(|| Error::internal("the clock is out of range"))?;
        let buckets = i32::try_from(ACTIVITY_BUCKETS).map_err(Error::internal)?;
        let from = until - bucket * buckets;
        let hold_ttl = chrono::Duration::from_std(self.inner.hold_ttl.get()).map_err(Error::internal)?;
        let bookings = self.inner.db.activity(event_id, from - hold_ttl, MAX_ACTIVITY_BOOKINGS).await?;
        let mut activity =
            Activity { until, holds: vec![0; ACTIVITY_BUCKETS], sales: vec![0; ACTIVITY_BUCKETS] };
        let index = |at: DateTime<Utc>| {
            let offset = (at - from).num_milliseconds();
            (offset >= 0)
                .then(|| usize::try_from(offset / bucket_ms).ok())
                .flatten()
                .filter(|&i| i < ACTIVITY_BUCKETS)
        };
        for (made, confirmed) in bookings {
            if let Some(i) = index(made) {
                activity.holds[i] += 1;
            }
            if let Some(i) = confirmed.and_then(index) {
                activity.sales[i] += 1;
            }
        }
        Ok(activity)
    }

    /// The bookings of an event, for its organizer, newest first.
    pub async fn event_bookings(
        &self,
        caller: Caller,
        event_id: Uuid,
        status: Option<BookingStatus>,
        limit: PageSize,
        cursor: Option<&str>,
    ) -> Result<BookingPage, Error> {
        let event = self.inner.catalog.event(event_id).await?;
        require_organizer(caller, &event)?;
        let limit = limit.get();
        let after = cursor.map(decode_cursor).transpose()?;
        let bookings = self.inner.db.list_for_event(event_id, status, after, limit + 1).await?;
        Ok(page(bookings, limit))
    }
}

/// Bookings made and confirmed per [`ACTIVITY_BUCKET`], oldest bucket first, up to `until`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    pub until: DateTime<Utc>,
    pub holds: Vec<u32>,
    pub sales: Vec<u32>,
}

/// Organizer views: others get 403 for a published event and 404 for one the public cannot see.
fn require_organizer(caller: Caller, event: &SaleEvent) -> Result<(), Error> {
    if event.is_organized_by(caller) {
        Ok(())
    } else if event.is_published() {
        Err(Error::new(Code::Forbidden, "only the event's organizer or an admin sees this"))
    } else {
        Err(Error::not_found("event"))
    }
}

/// Every unit available: an event that cannot be sold yet (or any more).
fn unsold(event: &SaleEvent) -> Availability {
    let mut availability = Availability::default();
    for spec in event.units.categories() {
        let capacity = match &spec.units {
            CategoryUnits::GeneralAdmission { capacity } => *capacity,
            CategoryUnits::Seated { seat_ids } => {
                availability.seats.extend(seat_ids.iter().map(|seat| (seat.clone(), spec.category_id, None)));
                u32::try_from(seat_ids.len()).unwrap_or(u32::MAX)
            }
        };
        availability.categories.push((spec.category_id, Counts { capacity, held: 0, sold: 0 }));
    }
    availability
}

fn page(mut bookings: Vec<BookingRecord>, limit: u32) -> BookingPage {
    let next = if bookings.len() > limit as usize {
        bookings.truncate(limit as usize);
        bookings.last().map(|last| boxoffice_db::cursor::encode((last.created_at, last.id)))
    } else {
        None
    };
    (bookings, next)
}

fn decode_cursor(cursor: &str) -> Result<Position, Error> {
    boxoffice_db::cursor::decode(cursor)
        .ok_or_else(|| Error::validation("cursor: not a cursor this API gave out"))
}
