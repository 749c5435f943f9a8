//! The rows of the bookings database as SQL reads them, and their conversion into the domain's
//! records: the one place that knows how a status, the items and the seats are stored.

use boxoffice_errors::Error;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Result;
use crate::domain::{BookingRecord, BookingStatus, EntryStatus, TicketRecord, WaitingEntry};

#[derive(sqlx::FromRow)]
pub(super) struct BookingRow {
    pub(super) id: Uuid,
    pub(super) event_id: Uuid,
    pub(super) user_id: Uuid,
    pub(super) status: String,
    pub(super) items: String,
    pub(super) seats: String,
    pub(super) total_cents: i64,
    pub(super) currency: String,
    pub(super) expires_at: DateTime<Utc>,
    pub(super) created_at: DateTime<Utc>,
}

impl BookingRow {
    pub(super) fn into_record(self, tickets: Vec<TicketRecord>) -> Result<BookingRecord> {
        Ok(BookingRecord {
            id: self.id,
            event_id: self.event_id,
            user_id: self.user_id,
            status: parse_status(&self.status)?,
            items: serde_json::from_str(&self.items).map_err(Error::internal)?,
            seats: serde_json::from_str(&self.seats).map_err(Error::internal)?,
            total_cents: self.total_cents,
            currency: self.currency,
            expires_at: self.expires_at,
            created_at: self.created_at,
            tickets,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct TicketRow {
    pub(super) id: Uuid,
    pub(super) booking_id: Uuid,
    pub(super) event_id: Uuid,
    pub(super) category_id: Uuid,
    pub(super) unit_id: String,
    pub(super) seat: Option<String>,
    pub(super) price_cents: i64,
    pub(super) code: String,
    pub(super) checked_in_at: Option<DateTime<Utc>>,
    pub(super) holder_id: Option<Uuid>,
    pub(super) generation: i64,
}

impl From<TicketRow> for TicketRecord {
    fn from(row: TicketRow) -> Self {
        TicketRecord {
            id: row.id,
            booking_id: row.booking_id,
            event_id: row.event_id,
            category_id: row.category_id,
            unit_id: row.unit_id,
            seat: row.seat,
            price_cents: row.price_cents,
            code: row.code,
            checked_in_at: row.checked_in_at,
            holder_id: row.holder_id,
            generation: u32::try_from(row.generation).unwrap_or(u32::MAX),
        }
    }
}

pub(super) fn parse_status(text: &str) -> Result<BookingStatus> {
    BookingStatus::parse(text).ok_or_else(|| Error::internal(format!("unknown booking status {text}")))
}

pub(super) const BOOKING_COLUMNS: &str =
    "id, event_id, user_id, status, items, seats, total_cents, currency, expires_at, created_at";
pub(super) const TICKET_COLUMNS: &str =
    "id, booking_id, event_id, category_id, unit_id, seat, price_cents, code, checked_in_at, holder_id, generation";

#[derive(sqlx::FromRow)]
pub(super) struct WaitingRow {
    pub(super) id: Uuid,
    pub(super) event_id: Uuid,
    pub(super) category_id: Uuid,
    pub(super) user_id: Uuid,
    pub(super) quantity: i64,
    pub(super) offer_minutes: i64,
    pub(super) status: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) booking_id: Option<Uuid>,
    pub(super) offered_quantity: Option<i64>,
    /// Waiting entries of its category ahead of it.
    pub(super) ahead: i64,
}

impl TryFrom<WaitingRow> for WaitingEntry {
    type Error = Error;

    fn try_from(row: WaitingRow) -> Result<Self> {
        let status = EntryStatus::parse(&row.status)
            .ok_or_else(|| Error::internal(format!("unknown waiting-list status {}", row.status)))?;
        let count = |value: i64| u32::try_from(value).map_err(Error::internal);
        Ok(WaitingEntry {
            id: row.id,
            event_id: row.event_id,
            category_id: row.category_id,
            user_id: row.user_id,
            quantity: count(row.quantity)?,
            offer_minutes: count(row.offer_minutes)?,
            status,
            created_at: row.created_at,
            updated_at: row.updated_at,
            booking_id: row.booking_id,
            offered_quantity: row.offered_quantity.map(count).transpose()?,
            position: (status == EntryStatus::Waiting).then(|| count(row.ahead + 1)).transpose()?,
        })
    }
}

/// An entry's columns, and how many waiting entries of its category are ahead of it.
pub(super) const WAITING_COLUMNS: &str = "w.id, w.event_id, w.category_id, w.user_id, w.quantity, w.offer_minutes, \
     w.status, w.created_at, w.updated_at, w.booking_id, w.offered_quantity, \
     (SELECT COUNT(*) FROM waiting_list o WHERE o.event_id = w.event_id AND o.category_id = w.category_id \
     AND o.status = 'waiting' AND (o.created_at < w.created_at OR (o.created_at = w.created_at AND o.id < w.id))) AS ahead";
