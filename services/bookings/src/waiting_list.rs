//! The waiting list of a sold-out category: buyers join it for 1 to the event's per-booking
//! limit of tickets, and units that come back (an expired hold, a cancellation, a refund) are
//! offered to it in order before they return to sale.
//!
//! The hand-over happens where the units come back: the database's closing of a booking
//! (`BookingDb::close`) gives them to the waiting entries in the same transaction, each as a
//! pending booking of its own, its *offer* (built by [`offer`]), and the inventory then moves
//! them to those bookings in one atomic step (`InventoryStore::hand_over`), so a unit is never
//! on sale in between and never offered twice. An offer is a booking like any other: paid, it
//! is the buyer's; declined (cancelled) or lapsed (expired, after the entry's offer time), its
//! units go on to the next entry the same way. Units go to the first entry that asked for no
//! more than came back (an entry that asked for more keeps its place for a later return); when
//! every entry asked for more, the first in line is offered what came back, so that nothing
//! goes back on sale while someone waits. The buyer who gives units back is not offered them.

use boxoffice_errors::{Code, Error};
use boxoffice_types::limits::MAX_PAGE_SIZE;
use boxoffice_types::Caller;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::Joined;
use crate::domain::{BookingRecord, BookingStatus, EntryStatus, Item, WaitingEntry};
use crate::service::Bookings;

impl Bookings {
    /// Puts `caller` on the waiting list of a sold-out category of an event on sale.
    pub async fn join_waiting_list(
        &self,
        caller: Caller,
        event_id: Uuid,
        category_id: Uuid,
        quantity: u32,
    ) -> Result<WaitingEntry, Error> {
        let event = self.inner.catalog.event(event_id).await?;
        let now = self.inner.clock.now();
        if !event.is_published() {
            return Err(Error::not_found("event"));
        }
        if event.category(category_id).is_none() {
            return Err(Error::validation("category_id: not a category of this event"));
        }
        let max = event.max_tickets_per_booking;
        if !(1..=max).contains(&quantity) {
            return Err(Error::validation(format!("quantity: must be 1 to {max}")));
        }
        let Some(lasts) = event.waiting_list_offer else {
            return Err(Error::new(Code::Conflict, "this event has no waiting list"));
        };
        if now >= event.ends_at {
            return Err(Error::new(Code::Conflict, "the event is over"));
        }
        if event.sale_starts_at.is_some_and(|starts| now < starts) {
            return Err(Error::new(Code::Conflict, "the sale has not started; nothing is sold out yet"));
        }
        let availability = self.inner.inventory.availability(&event).await?;
        let available = availability
            .categories
            .iter()
            .find(|(id, _)| *id == category_id)
            .map_or(0, |(_, counts)| counts.available());
        if available > 0 {
            return Err(not_sold_out(available));
        }
        let entry = WaitingEntry {
            id: Uuid::now_v7(),
            event_id,
            category_id,
            user_id: caller.user_id,
            quantity,
            offer_minutes: u32::try_from(lasts.num_minutes()).map_err(Error::internal)?,
            status: EntryStatus::Waiting,
            created_at: now,
            updated_at: now,
            booking_id: None,
            offered_quantity: None,
            position: None,
        };
        match self.inner.db.join_waiting_list(&entry, event.units.capacity(category_id)).await? {
            Joined::Joined => {}
            Joined::AlreadyOn => {
                return Err(Error::new(Code::Conflict, "you are on this category's waiting list already"));
            }
            Joined::NotSoldOut(free) => return Err(not_sold_out(free)),
        }
        metrics::counter!("bookings_waiting_list_joined_total").increment(1);
        self.reread_entry(entry.id).await
    }

    /// `caller`'s entries, newest first.
    pub async fn waiting_entries(&self, caller: Caller) -> Result<Vec<WaitingEntry>, Error> {
        self.inner.db.waiting_entries(caller.user_id, MAX_PAGE_SIZE).await
    }

    /// Leaves a waiting list: a waiting entry leaves; an offered one declines its offer, whose
    /// units go on to the next entry. Leaving twice changes nothing.
    pub async fn leave_waiting_list(&self, caller: Caller, entry_id: Uuid) -> Result<WaitingEntry, Error> {
        let entry = self.own_entry(caller, entry_id).await?;
        match (entry.status, entry.booking_id) {
            (EntryStatus::Waiting, _)
                if !self.inner.db.leave_waiting_list(entry_id, self.inner.clock.now()).await? =>
            {
                // An offer came in between: decline it.
                return Box::pin(self.leave_waiting_list(caller, entry_id)).await;
            }
            (EntryStatus::Offered, Some(booking_id)) => {
                let booking = self.cancel(caller, booking_id).await?;
                if booking.status == BookingStatus::Confirmed {
                    return Err(Error::new(
                        Code::Conflict,
                        "the offer is paid; cancel the booking for a refund",
                    ));
                }
            }
            _ => {}
        }
        self.reread_entry(entry_id).await
    }

    async fn own_entry(&self, caller: Caller, entry_id: Uuid) -> Result<WaitingEntry, Error> {
        match self.inner.db.waiting_entry(entry_id).await? {
            Some(entry) if entry.user_id == caller.user_id => Ok(entry),
            _ => Err(Error::not_found("waiting-list entry")),
        }
    }

    async fn reread_entry(&self, entry_id: Uuid) -> Result<WaitingEntry, Error> {
        self.inner.db.waiting_entry(entry_id).await?.ok_or_else(|| Error::not_found("waiting-list entry"))
    }
}

fn not_sold_out(free: u32) -> Error {
    Error::new(Code::NotSoldOut, format!("{free} tickets of this category are on sale; book them instead"))
}

/// The units of one booking grouped by category, in the order each category first appears.
pub(crate) fn by_category(units: &[(Uuid, String)]) -> Vec<(Uuid, Vec<String>)> {
    let mut groups: Vec<(Uuid, Vec<String>)> = Vec::new();
    for (category_id, unit_id) in units {
        match groups.iter_mut().find(|(id, _)| id == category_id) {
            Some((_, group)) => group.push(unit_id.clone()),
            None => groups.push((*category_id, vec![unit_id.clone()])),
        }
    }
    groups
}

/// The offer of `units` (of one category of the booking `closed`, which gives them back) to
/// `user_id`: a pending booking at the price `closed` paid, lasting `offer_minutes`.
pub(crate) fn offer(
    closed: &BookingRecord,
    user_id: Uuid,
    category_id: Uuid,
    units: &[String],
    now: DateTime<Utc>,
    offer_minutes: i64,
) -> Result<BookingRecord, Error> {
    let unit_price_cents = closed
        .items
        .iter()
        .find(|item| item.category_id == category_id)
        .map(|item| item.unit_price_cents)
        .ok_or_else(|| Error::internal("a unit of a category its booking does not list"))?;
    let quantity = u32::try_from(units.len()).map_err(Error::internal)?;
    Ok(BookingRecord {
        id: Uuid::now_v7(),
        event_id: closed.event_id,
        user_id,
        status: BookingStatus::Pending,
        items: vec![Item { category_id, quantity, unit_price_cents }],
        seats: units.iter().filter(|unit| closed.seats.contains(unit)).cloned().collect(),
        total_cents: unit_price_cents * i64::from(quantity),
        currency: closed.currency.clone(),
        expires_at: now + chrono::Duration::minutes(offer_minutes),
        created_at: now,
        tickets: Vec::new(),
    })
}
