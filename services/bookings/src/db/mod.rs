//! The bookings service's database, the record of every hold and sale: PostgreSQL in
//! production, SQLite embedded, one SQL body for both (`sql.rs`). The other store of the
//! service, the inventory (`crate::inventory`), is a fast copy rebuilt from this one.
//!
//! Every state change is one transaction, and each starts with its write, so SQLite takes its
//! write lock at once. Status changes are compare-and-sets whose `from` and `to` come from the
//! table of transitions (`crate::domain::TRANSITIONS`). Every change also writes its domain
//! event (`crate::domain_events`) to the outbox in its own transaction, after the booking's row,
//! so a booking's events are written in the order of its changes.

use std::time::Instant;

use boxoffice_errors::Error;
use boxoffice_telemetry::TraceHeaders;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use uuid::Uuid;

use crate::domain::{BookingRecord, BookingStatus, Change, TicketRecord, Unit, WaitingEntry};
use crate::domain_events::EndReason;
use crate::inventory::{Handoff, LiveUnit};

mod rows;
mod sql;

pub use self::sql::{PostgresBookingDb, SqliteBookingDb};

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub const POSTGRES_SCHEMA: &str = "bookings";
pub static MIGRATIONS: boxoffice_db::Migrations =
    boxoffice_db::Migrations { postgres: &POSTGRES_MIGRATIONS, sqlite: &SQLITE_MIGRATIONS };
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// A pending booking to record with its units.
#[derive(Clone, Debug)]
pub struct NewHold {
    pub booking: BookingRecord,
    pub units: Vec<Unit>,
    /// The trace context of the request that made it, for its domain event: a batch is written
    /// on a task of its own.
    pub trace: TraceHeaders,
}

/// A booking as a payment reads it: the record, and the units it holds.
pub type Payable = (BookingRecord, Vec<Unit>);

/// A hold paid for, to turn into its tickets.
#[derive(Clone, Debug)]
pub struct Payment {
    pub booking_id: Uuid,
    pub event_id: Uuid,
    pub charge_id: String,
    /// One per unit, in the order of the unit ids.
    pub tickets: Vec<TicketRecord>,
    /// The trace context of the request that paid, for its domain event.
    pub trace: TraceHeaders,
}

pub use crate::domain::EntryStatus;

/// The outcome of joining a waiting list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Joined {
    Joined,
    /// The account has a live entry for the category already.
    AlreadyOn,
    /// This many units of the category are free: nothing to wait for.
    NotSoldOut(u32),
}

/// The outcome of admitting a ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckIn {
    Admitted(DateTime<Utc>),
    AlreadyAdmitted(DateTime<Utc>),
    /// The ticket's booking is no longer confirmed (refunded meanwhile).
    NotConfirmed,
}

/// What an Idempotency-Key already stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyClaim {
    /// The key is new; this request owns it and will create `booking_id`.
    Claimed,
    /// An earlier request with the key.
    Existing { request_hash: String, booking_id: Uuid, claimed_at: DateTime<Utc> },
}

/// Where a page of bookings continues: after (created_at, id).
pub use boxoffice_db::cursor::Position;

/// Sales figures of one category of an event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CategorySales {
    pub sold: u32,
    pub revenue_cents: i64,
    pub checked_in: u32,
}

#[async_trait::async_trait]
pub trait BookingDb: Send + Sync + 'static {
    /// Records new pending bookings with their units, all or none, in one transaction. Fails
    /// with `seat_unavailable` if a unit is live in another booking (the database's guard
    /// against any wrong answer of the inventory), with `not_found` if an event of the holds is
    /// closed (cancelled: checked inside the transaction, ordered with [`BookingDb::close_event`],
    /// so no hold commits after its event's cancellation began), and with `unavailable` if it
    /// cannot commit before `deadline` (the transaction is then rolled back, never committed
    /// late).
    async fn insert_pending(&self, holds: &[NewHold], now: DateTime<Utc>, deadline: Instant) -> Result<()>;
    async fn booking(&self, id: Uuid) -> Result<Option<BookingRecord>>;
    /// The bookings of `ids`, each with its units (in the order of the unit ids), in the order of
    /// `ids`: `None` for an id with no booking. Two statements however many ids: the reads of
    /// concurrent payments are made together.
    async fn payables(&self, ids: &[Uuid]) -> Result<Vec<Option<Payable>>>;
    /// Bookings of one user (or of everyone when `user_id` is None), newest first.
    async fn list(
        &self,
        user_id: Option<Uuid>,
        after: Option<Position>,
        limit: u32,
    ) -> Result<Vec<BookingRecord>>;
    async fn list_for_event(
        &self,
        event_id: Uuid,
        status: Option<BookingStatus>,
        after: Option<Position>,
        limit: u32,
    ) -> Result<Vec<BookingRecord>>;
    /// Each booking of `payments` confirmed ([`Change::Confirm`]'s compare-and-set) with its
    /// tickets, in one transaction: the confirmed booking for each whose hold has not expired
    /// and whose event is not closed, `None` for the others. The closed events are read after
    /// the events' sale locks (as for [`BookingDb::insert_pending`]), so a confirmation either
    /// commits before its event's closing, and the cancellation's sweep refunds it, or sees the
    /// event closed.
    async fn confirm(&self, payments: &[Payment], now: DateTime<Utc>) -> Result<Vec<Option<BookingRecord>>>;
    /// A change that ends the booking ([`Change::releases_units`]): its compare-and-set
    /// ([`Change::transition`]) and the booking's units released, in one transaction. `None`
    /// when the booking was not in the change's `from` status (or, for an expiry, not yet due).
    /// Its domain event (`booking.cancelled` with `reason`, `booking.expired`,
    /// `booking.refunded`) is written to the outbox in the same transaction.
    ///
    /// In that transaction too, the units go first to the waiting list of their category: to
    /// its waiting entries in order (the first that asked for no more than is left; when all asked
    /// for more, the first in line, offered what is left), as a
    /// pending booking of its own ([`crate::waiting_list::offer`]); those are the handoffs
    /// returned, for the inventory to make. What no entry waits for returns to sale. A booking
    /// that was an offer moves its entry on ([`EntryStatus::after_offer_ends`]). A cancelled
    /// event offers nothing.
    async fn close(
        &self,
        booking_id: Uuid,
        change: Change,
        reason: EndReason,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Handoff>>>;
    /// Records a new entry, if its category is sold out: fewer than `capacity` of its units free
    /// (held or sold) by the record, read under the category's waiting-list lock, which closing
    /// a booking takes too, so that a unit coming back at the same moment either is offered to
    /// this entry or makes it `NotSoldOut`.
    async fn join_waiting_list(&self, entry: &WaitingEntry, capacity: u32) -> Result<Joined>;
    async fn waiting_entry(&self, entry_id: Uuid) -> Result<Option<WaitingEntry>>;
    /// An account's entries, newest first, `limit` at most.
    async fn waiting_entries(&self, user_id: Uuid, limit: u32) -> Result<Vec<WaitingEntry>>;
    /// A waiting entry leaves the list; false when it was no longer waiting.
    async fn leave_waiting_list(&self, entry_id: Uuid, now: DateTime<Utc>) -> Result<bool>;
    /// How many entries wait, per category of the event.
    async fn waiting_counts(&self, event_id: Uuid) -> Result<Vec<(Uuid, u32)>>;
    /// How many holds are pending, per event that has any.
    async fn pending_holds_by_event(&self) -> Result<Vec<(Uuid, i64)>>;
    /// Pending bookings whose hold has run out: (booking id, event id).
    async fn due_expirations(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<(Uuid, Uuid)>>;
    /// Live (pending or confirmed) bookings of an event: (booking id, status).
    async fn live_bookings(&self, event_id: Uuid) -> Result<Vec<(Uuid, BookingStatus)>>;
    /// Every unit that a live booking of the event has, to rebuild the inventory.
    async fn live_units(&self, event_id: Uuid) -> Result<Vec<LiveUnit>>;
    /// The ticket, its owner's user id and its booking's status.
    async fn ticket(&self, ticket_id: Uuid) -> Result<Option<(TicketRecord, Uuid, BookingStatus)>>;
    async fn check_in(&self, ticket_id: Uuid, now: DateTime<Utc>) -> Result<CheckIn>;
    /// The ticket changes hands from `from` to `to`: its next generation, with `new_code` as its
    /// static code, recorded in `ticket_transfers` and told (`ticket.transferred`), all in one
    /// transaction. False, and nothing changes, when the ticket is no longer at its generation,
    /// was admitted, or its booking is not confirmed.
    /// `holder` is the new holder as stored: `None` when the ticket goes back to its buyer.
    async fn transfer_ticket(
        &self,
        ticket: &TicketRecord,
        from: Uuid,
        to: Uuid,
        holder: Option<Uuid>,
        new_code: &str,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// The tickets of confirmed bookings that `user_id` holds (bought and kept, or received),
    /// newest first, `limit` at most.
    async fn held_tickets(&self, user_id: Uuid, limit: u32) -> Result<Vec<TicketRecord>>;
    /// Per category: tickets sold, their revenue and how many were admitted.
    async fn sales(&self, event_id: Uuid) -> Result<Vec<(Uuid, CategorySales)>>;
    /// Of the event's bookings made since `since` (at most `limit`): when each was made, and
    /// when it was confirmed, if it is.
    async fn activity(
        &self,
        event_id: Uuid,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>>;
    async fn claim_idempotency_key(
        &self,
        user_id: Uuid,
        key: &str,
        request_hash: &str,
        booking_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<KeyClaim>;
    /// Forgets the key's claim if it is still the one made for `booking_id` (a later request
    /// may have claimed the key anew since) and that booking does not exist (a hold whose
    /// commit could not be told may have committed: a retry then gets it).
    async fn forget_idempotency_key(&self, user_id: Uuid, key: &str, booking_id: Uuid) -> Result<()>;
    async fn purge_idempotency_keys(&self, older_than: DateTime<Utc>) -> Result<u64>;
    /// Records that the event was cancelled: from now on no booking of it can be confirmed, and
    /// no hold of it recorded (a hold's transaction in flight finishes first).
    async fn close_event(&self, event_id: Uuid, now: DateTime<Utc>) -> Result<()>;
    async fn is_closed(&self, event_id: Uuid) -> Result<bool>;
    async fn ping(&self) -> Result<()>;
    /// Whether `consumer` has handled the domain event `event_id`.
    async fn processed(&self, consumer: &str, event_id: Uuid) -> Result<bool>;
    /// Records that `consumer` has handled `event_id`; false if it was recorded already.
    async fn mark_processed(&self, consumer: &str, event_id: Uuid, now: DateTime<Utc>) -> Result<bool>;
    /// The outbox of this database, for its relay, and the handle every commit that writes
    /// domain events wakes it with.
    fn outbox(&self) -> (boxoffice_outbox::OutboxDb, boxoffice_outbox::RelayHandle);
}
