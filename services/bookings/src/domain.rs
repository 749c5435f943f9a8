//! The bookings service's own words: a booking, its items, units and tickets, the hold a buyer
//! asks for, where a booking may go from each status, and the service's limits.
//!
//! [`BookingStatus`] is the one shared definition (`boxoffice-types`), re-exported here; which
//! changes it allows is this service's rule, written once in [`TRANSITIONS`]. Confirmation,
//! cancellation, refunds, expiry and the refunds of a cancelled event all go through [`next`] or
//! [`Change::transition`], and the database's compare-and-set takes its `from` and `to` from
//! the same table, so no code path can move a booking along an edge that is not in it.
//!
//! Limits that the gateway checks too (page sizes, the Idempotency-Key's length, tickets per
//! booking) are in `boxoffice_types::limits`; the ones below are this service's alone.

use std::time::Duration;

pub use boxoffice_types::BookingStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How long a hold lasts before it expires, unless the operator says otherwise
/// (`BOXOFFICE_HOLD_MINUTES`; API.md: 10 minutes).
pub const HOLD_TTL: Duration = Duration::from_secs(DEFAULT_HOLD_MINUTES as u64 * 60);
pub const DEFAULT_HOLD_MINUTES: u32 = 10;
/// The longest hold an operator may set: units held longer than an hour are lost to a sale.
pub const MAX_HOLD_MINUTES: u32 = 60;

/// How long this service's holds last: 1 to [`MAX_HOLD_MINUTES`] minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoldTtl(Duration);

impl HoldTtl {
    pub fn from_minutes(minutes: u32) -> Result<Self, String> {
        match minutes {
            1..=MAX_HOLD_MINUTES => Ok(HoldTtl(Duration::from_secs(u64::from(minutes) * 60))),
            _ => Err(format!("a hold lasts 1 to {MAX_HOLD_MINUTES} minutes, not {minutes}")),
        }
    }

    pub fn get(self) -> Duration {
        self.0
    }
}

impl Default for HoldTtl {
    fn default() -> Self {
        HoldTtl(HOLD_TTL)
    }
}
/// The longest a hold may take from its arrival until its booking commits. A hold that cannot
/// be recorded by then (a database away, say) is given up: its transaction rolled back before
/// the commit, its units released, and the answer `unavailable`. A caller over the network waits
/// longer (`boxoffice_runtime::connection::CALL_TIMEOUT`, and its `grpc-timeout` shortens this
/// one), so whoever is told a hold failed has no booking.
pub const HOLD_DEADLINE: Duration = Duration::from_secs(5);
/// The organizer's chart of holds and sales: per minute, over the last half hour.
pub const ACTIVITY_BUCKET: Duration = Duration::from_secs(60);
pub const ACTIVITY_BUCKETS: usize = 30;
/// The bookings the chart reads at most per refresh (the newest), so that a dashboard of a
/// huge on-sale costs one bounded read.
pub const MAX_ACTIVITY_BOOKINGS: u32 = 100_000;
/// How long an event's status, sale start and limits are trusted without asking the events
/// service again. Categories and units are frozen once published, so only these can change.
pub const EVENT_INFO_TTL: Duration = Duration::from_secs(1);
/// Transfers of one ticket at most: a ticket that keeps changing hands is being traded.
pub const MAX_TRANSFERS_PER_TICKET: u32 = 10;
/// Idempotency keys are kept at least this long (API.md: 24 hours).
pub const IDEMPOTENCY_KEY_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// How often a request that waits for the first request with its key looks again.
pub const IDEMPOTENCY_POLL_INTERVAL: Duration = Duration::from_millis(20);
/// A claimed key whose booking has not appeared after this long belongs to a request that died
/// (its process crashed) or failed without giving the key back (the database went away): a
/// retry may take the key over. A hold commits before its deadline or never, so the lease is the
/// deadline and a second for the replicas' clocks to differ.
pub const IDEMPOTENCY_LEASE: Duration = Duration::from_secs(HOLD_DEADLINE.as_secs() + 1);
/// How often the claim of a key whose hold failed is tried again to be forgotten, while the
/// database cannot be reached.
pub const FORGET_AGAIN_AFTER: Duration = Duration::from_millis(200);
/// Claims being forgotten in the background at most; beyond that a failed hold's claim is left
/// to its lease.
pub const MAX_CLAIMS_FORGOTTEN_LATER: usize = 1_024;
/// Passes of the refund sweep of a cancelled event, and the pause between them: a confirmation
/// that was already committing when the event closed shows up in a later pass.
pub const CANCEL_SWEEP_PASSES: usize = 5;
pub const CANCEL_SWEEP_PAUSE: Duration = Duration::from_millis(50);
/// Expired holds released per sweep of the expirer.
pub const EXPIRY_BATCH: u32 = 500;
/// How often the expirer looks for holds that ran out: a hold is released within this long of
/// its `expires_at`.
pub const EXPIRY_SWEEP_INTERVAL: Duration = Duration::from_millis(200);
/// How often old Idempotency-Keys are purged.
pub const IDEMPOTENCY_PURGE_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// What happens to a booking. Every change applies to exactly one status (see [`TRANSITIONS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// Paid in time: the hold becomes tickets.
    Confirm,
    /// Given up while pending, by its owner or because the event was cancelled.
    Cancel,
    /// Not paid before `expires_at`.
    Expire,
    /// Cancelled after payment; the money goes back.
    Refund,
}

impl Change {
    pub const ALL: &'static [Change] = &[Change::Confirm, Change::Cancel, Change::Expire, Change::Refund];

    /// The one status this change applies to and the status it leads to: the compare-and-set
    /// the database runs.
    pub fn transition(self) -> Transition {
        let (from, _, to) = TRANSITIONS
            .iter()
            .copied()
            .find(|(_, change, _)| *change == self)
            .expect("every change is in the table of transitions");
        Transition { from, to }
    }

    /// What a buyer's "cancel" does to a booking in `status`: a pending hold is cancelled, a
    /// confirmed booking refunded; any other status has nothing left to cancel.
    pub fn cancelling(status: BookingStatus) -> Option<Change> {
        [Change::Cancel, Change::Refund].into_iter().find(|change| next(status, *change).is_some())
    }

    /// Whether the booking gives its units back: every change but a confirmation ends it.
    pub fn releases_units(self) -> bool {
        self != Change::Confirm
    }
}

/// Every allowed change of a booking: (from, change, to). Anything not here is refused.
pub const TRANSITIONS: [(BookingStatus, Change, BookingStatus); 4] = [
    (BookingStatus::Pending, Change::Confirm, BookingStatus::Confirmed),
    (BookingStatus::Pending, Change::Cancel, BookingStatus::Cancelled),
    (BookingStatus::Pending, Change::Expire, BookingStatus::Expired),
    (BookingStatus::Confirmed, Change::Refund, BookingStatus::Refunded),
];

/// Where `change` takes a booking in status `from`; `None` when it is not allowed.
pub fn next(from: BookingStatus, change: Change) -> Option<BookingStatus> {
    TRANSITIONS
        .iter()
        .find(|(status, allowed, _)| *status == from && *allowed == change)
        .map(|(_, _, to)| *to)
}

/// A compare-and-set of a booking's status: it applies only to a booking that is still `from`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: BookingStatus,
    pub to: BookingStatus,
}

/// A hold request as it arrives, not yet checked against the event.
#[derive(Clone, Debug, Default)]
pub struct NewBooking {
    pub event_id: Uuid,
    /// (category id as sent, quantity).
    pub items: Vec<(String, u32)>,
    pub seats: Vec<String>,
    pub idempotency_key: Option<String>,
}

/// What one hold asks of the inventory, checked against the event: known categories and seats,
/// within the per-booking limit. Quantities and seats may be combined in one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HoldRequest {
    pub booking_id: Uuid,
    pub user_id: Uuid,
    /// Interchangeable units of general-admission categories, or "best available" seats of
    /// seated ones: adjacent seats in one row where possible, else the first free seats in
    /// seat-map order.
    pub quantities: Vec<(Uuid, u32)>,
    /// Chosen seats: (category id, seat id).
    pub seats: Vec<(Uuid, String)>,
    /// The most live (held or sold) units this user may have in this event, this hold included.
    pub per_user_cap: u32,
}

/// A unit of a booking: (category id, unit id). A unit id is a seat id, or `<category>:<n>` for
/// general admission.
pub type Unit = (Uuid, String);

/// The tickets of one category in a booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub category_id: Uuid,
    pub quantity: u32,
    pub unit_price_cents: i64,
}

/// A booking as the database records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookingRecord {
    pub id: Uuid,
    pub event_id: Uuid,
    pub user_id: Uuid,
    pub status: BookingStatus,
    pub items: Vec<Item>,
    /// The seat ids of its seated units.
    pub seats: Vec<String>,
    pub total_cents: i64,
    pub currency: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// Issued at confirmation; empty while pending.
    pub tickets: Vec<TicketRecord>,
}

/// One admission: a unit of a confirmed booking, with its signed code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketRecord {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub event_id: Uuid,
    pub category_id: Uuid,
    pub unit_id: String,
    pub seat: Option<String>,
    pub price_cents: i64,
    /// The static code of its current generation.
    pub code: String,
    pub checked_in_at: Option<DateTime<Utc>>,
    /// The account the ticket was transferred to; `None`: its booking's buyer holds it.
    pub holder_id: Option<Uuid>,
    /// How many times the ticket changed hands: codes of earlier generations no longer admit.
    pub generation: u32,
}

impl TicketRecord {
    /// Who holds the ticket, given its booking's buyer.
    pub fn holder(&self, buyer: Uuid) -> Uuid {
        self.holder_id.unwrap_or(buyer)
    }
}

/// Where an entry of a waiting list is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryStatus {
    /// In line for units that come back.
    Waiting,
    /// Units came back: the entry's offer (a pending booking) waits to be paid or declined.
    Offered,
    /// The offer was paid.
    Bought,
    /// The buyer declined the offer (cancelled its booking).
    Declined,
    /// The offer ran out unpaid.
    Lapsed,
    /// The buyer left the list before an offer.
    Left,
    /// The event was cancelled.
    Closed,
}

impl EntryStatus {
    pub const ALL: &'static [EntryStatus] = &[
        EntryStatus::Waiting,
        EntryStatus::Offered,
        EntryStatus::Bought,
        EntryStatus::Declined,
        EntryStatus::Lapsed,
        EntryStatus::Left,
        EntryStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Waiting => "waiting",
            EntryStatus::Offered => "offered",
            EntryStatus::Bought => "bought",
            EntryStatus::Declined => "declined",
            EntryStatus::Lapsed => "lapsed",
            EntryStatus::Left => "left",
            EntryStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<EntryStatus> {
        EntryStatus::ALL.iter().copied().find(|status| status.as_str() == text)
    }

    /// What ending its offer's booking makes of an offered entry.
    pub fn after_offer_ends(change: Change, event_cancelled: bool) -> EntryStatus {
        match change {
            _ if event_cancelled => EntryStatus::Closed,
            Change::Expire => EntryStatus::Lapsed,
            Change::Confirm => EntryStatus::Bought,
            Change::Cancel | Change::Refund => EntryStatus::Declined,
        }
    }
}

/// One buyer's place on the waiting list of a sold-out category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingEntry {
    pub id: Uuid,
    pub event_id: Uuid,
    pub category_id: Uuid,
    pub user_id: Uuid,
    /// The tickets asked for: 1 to the event's per-booking limit.
    pub quantity: u32,
    /// How long an offer to this entry lasts (the event's setting when the buyer joined).
    pub offer_minutes: u32,
    pub status: EntryStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The offer: a pending booking of the units that came back, once there is one.
    pub booking_id: Option<Uuid>,
    /// The units offered: `quantity`, or fewer when fewer came back.
    pub offered_quantity: Option<u32>,
    /// While waiting, its place in line (1: next).
    pub position: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_allows_exactly_its_four_transitions_and_refuses_every_other_pair() {
        use BookingStatus::*;
        for &from in BookingStatus::ALL {
            for &change in Change::ALL {
                let expected = match (from, change) {
                    (Pending, Change::Confirm) => Some(Confirmed),
                    (Pending, Change::Cancel) => Some(Cancelled),
                    (Pending, Change::Expire) => Some(Expired),
                    (Confirmed, Change::Refund) => Some(Refunded),
                    _ => None,
                };
                assert_eq!(next(from, change), expected, "{from:?} by {change:?}");
            }
        }
    }

    #[test]
    fn every_change_has_one_compare_and_set_from_the_table() {
        for &change in Change::ALL {
            let Transition { from, to } = change.transition();
            assert_eq!(next(from, change), Some(to));
            let others = BookingStatus::ALL.iter().filter(|status| next(**status, change).is_some());
            assert_eq!(others.count(), 1, "{change:?} applies to one status only");
        }
    }

    #[test]
    fn only_live_bookings_can_change_and_closed_ones_stay_closed() {
        for &from in BookingStatus::ALL {
            let changes = Change::ALL.iter().filter(|change| next(from, **change).is_some()).count();
            assert_eq!(changes > 0, from.is_live(), "{from:?}");
        }
    }

    #[test]
    fn a_buyers_cancel_cancels_a_hold_and_refunds_a_sale() {
        assert_eq!(Change::cancelling(BookingStatus::Pending), Some(Change::Cancel));
        assert_eq!(Change::cancelling(BookingStatus::Confirmed), Some(Change::Refund));
        for status in [BookingStatus::Cancelled, BookingStatus::Expired, BookingStatus::Refunded] {
            assert_eq!(Change::cancelling(status), None);
        }
    }
}
