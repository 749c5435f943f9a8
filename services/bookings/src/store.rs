//! The bookings service's database, the record of every hold and sale: PostgreSQL in
//! production, SQLite embedded, one SQL body for both ([`sql_store!`]).
//!
//! Every state change is one transaction, and each starts with its write, so SQLite takes its
//! write lock at once. A later release adds the transactional outbox to these same
//! transactions.

use boxoffice_db::database_error;
use boxoffice_errors::Error;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::migrate::Migrator;
use uuid::Uuid;

use crate::inventory::{LiveUnit, UnitState};

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub const POSTGRES_SCHEMA: &str = "bookings";
pub static MIGRATIONS: boxoffice_db::Migrations =
    boxoffice_db::Migrations { postgres: &POSTGRES_MIGRATIONS, sqlite: &SQLITE_MIGRATIONS };
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

pub use boxoffice_types::BookingStatus;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub category_id: Uuid,
    pub quantity: u32,
    pub unit_price_cents: i64,
}

/// A unit of a booking: (category id, unit id).
pub type Unit = (Uuid, String);

/// A pending booking to record with its units.
#[derive(Clone, Debug)]
pub struct NewHold {
    pub booking: BookingRecord,
    pub units: Vec<Unit>,
}

/// Rows per INSERT statement, within SQLite's limit of 32,766 bound parameters (11 per booking,
/// 4 per unit).
const BOOKINGS_PER_INSERT: usize = 1_000;
const UNITS_PER_INSERT: usize = 5_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookingRecord {
    pub id: Uuid,
    pub event_id: Uuid,
    pub user_id: Uuid,
    pub status: BookingStatus,
    pub items: Vec<Item>,
    pub seats: Vec<String>,
    pub total_cents: i64,
    pub currency: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub tickets: Vec<TicketRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketRecord {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub event_id: Uuid,
    pub category_id: Uuid,
    pub unit_id: String,
    pub seat: Option<String>,
    pub price_cents: i64,
    pub code: String,
    pub checked_in_at: Option<DateTime<Utc>>,
}

/// The outcome of admitting a ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckIn {
    Admitted(DateTime<Utc>),
    AlreadyAdmitted(DateTime<Utc>),
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
pub type Position = (DateTime<Utc>, Uuid);

/// Sales figures of one category of an event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CategorySales {
    pub sold: u32,
    pub revenue_cents: i64,
    pub checked_in: u32,
}

#[async_trait::async_trait]
pub trait BookingStore: Send + Sync + 'static {
    /// Records new pending bookings with their units, all or none, in one transaction. Fails
    /// with `seat_unavailable` if a unit is live in another booking: the database's guard
    /// against any wrong answer of the store.
    async fn insert_pending(&self, holds: &[NewHold], now: DateTime<Utc>) -> Result<()>;
    async fn booking(&self, id: Uuid) -> Result<Option<BookingRecord>>;
    async fn units(&self, booking_id: Uuid) -> Result<Vec<Unit>>;
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
    /// pending → confirmed with its tickets, if the hold has not expired. False otherwise.
    async fn confirm(
        &self,
        booking_id: Uuid,
        charge_id: &str,
        tickets: &[TicketRecord],
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// `from` → `to` and the booking's units released, in one transaction. False when the
    /// booking was not in `from` (or, for an expiry, not yet due).
    async fn close(
        &self,
        booking_id: Uuid,
        from: BookingStatus,
        to: BookingStatus,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Pending bookings whose hold has run out: (booking id, event id).
    async fn due_expirations(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<(Uuid, Uuid)>>;
    /// Live (pending or confirmed) bookings of an event: (booking id, status).
    async fn live_bookings(&self, event_id: Uuid) -> Result<Vec<(Uuid, BookingStatus)>>;
    /// Every unit that a live booking of the event has, to rebuild the inventory store.
    async fn live_units(&self, event_id: Uuid) -> Result<Vec<LiveUnit>>;
    async fn ticket(&self, ticket_id: Uuid) -> Result<Option<(TicketRecord, Uuid, BookingStatus)>>;
    async fn check_in(&self, ticket_id: Uuid, now: DateTime<Utc>) -> Result<CheckIn>;
    /// Per category: tickets sold, their revenue and how many were admitted.
    async fn sales(&self, event_id: Uuid) -> Result<Vec<(Uuid, CategorySales)>>;
    async fn claim_idempotency_key(
        &self,
        user_id: Uuid,
        key: &str,
        request_hash: &str,
        booking_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<KeyClaim>;
    async fn forget_idempotency_key(&self, user_id: Uuid, key: &str) -> Result<()>;
    async fn purge_idempotency_keys(&self, older_than: DateTime<Utc>) -> Result<u64>;
    /// Records that the event was cancelled: from now on no booking of it can be confirmed.
    async fn close_event(&self, event_id: Uuid, now: DateTime<Utc>) -> Result<()>;
    async fn is_closed(&self, event_id: Uuid) -> Result<bool>;
    async fn ping(&self) -> Result<()>;
}

#[derive(sqlx::FromRow)]
struct BookingRow {
    id: Uuid,
    event_id: Uuid,
    user_id: Uuid,
    status: String,
    items: String,
    seats: String,
    total_cents: i64,
    currency: String,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

impl BookingRow {
    fn into_record(self, tickets: Vec<TicketRecord>) -> Result<BookingRecord> {
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
struct TicketRow {
    id: Uuid,
    booking_id: Uuid,
    event_id: Uuid,
    category_id: Uuid,
    unit_id: String,
    seat: Option<String>,
    price_cents: i64,
    code: String,
    checked_in_at: Option<DateTime<Utc>>,
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
        }
    }
}

fn parse_status(text: &str) -> Result<BookingStatus> {
    BookingStatus::parse(text).ok_or_else(|| Error::internal(format!("unknown booking status {text}")))
}

const BOOKING_COLUMNS: &str =
    "id, event_id, user_id, status, items, seats, total_cents, currency, expires_at, created_at";
const TICKET_COLUMNS: &str =
    "id, booking_id, event_id, category_id, unit_id, seat, price_cents, code, checked_in_at";

macro_rules! sql_store {
    ($name:ident, $database:ty) => {
        #[derive(Clone)]
        pub struct $name {
            pool: sqlx::Pool<$database>,
        }

        impl $name {
            pub fn pool(&self) -> &sqlx::Pool<$database> {
                &self.pool
            }

            /// Attaches their tickets to bookings read without them.
            async fn with_tickets(&self, rows: Vec<BookingRow>) -> Result<Vec<BookingRecord>> {
                let mut bookings = Vec::with_capacity(rows.len());
                for row in rows {
                    let tickets = if row.status == "pending" {
                        Vec::new()
                    } else {
                        sqlx::query_as::<_, TicketRow>(&format!(
                            "SELECT {TICKET_COLUMNS} FROM tickets WHERE booking_id = $1 ORDER BY unit_id"
                        ))
                        .bind(row.id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(database_error)?
                        .into_iter()
                        .map(TicketRecord::from)
                        .collect()
                    };
                    bookings.push(row.into_record(tickets)?);
                }
                Ok(bookings)
            }
        }

        #[async_trait::async_trait]
        impl BookingStore for $name {
            async fn insert_pending(&self, holds: &[NewHold], now: DateTime<Utc>) -> Result<()> {
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                for chunk in holds.chunks(BOOKINGS_PER_INSERT) {
                    let mut insert = sqlx::QueryBuilder::<$database>::new(
                        "INSERT INTO bookings (id, event_id, user_id, status, items, seats, total_cents, currency, \
                         expires_at, created_at, updated_at) ",
                    );
                    let mut encoded = Vec::with_capacity(chunk.len());
                    for hold in chunk {
                        let items = serde_json::to_string(&hold.booking.items).map_err(Error::internal)?;
                        let seats = serde_json::to_string(&hold.booking.seats).map_err(Error::internal)?;
                        encoded.push((items, seats));
                    }
                    insert.push_values(chunk.iter().zip(encoded), |mut row, (hold, (items, seats))| {
                        let booking = &hold.booking;
                        row.push_bind(booking.id)
                            .push_bind(booking.event_id)
                            .push_bind(booking.user_id)
                            .push_bind(booking.status.as_str())
                            .push_bind(items)
                            .push_bind(seats)
                            .push_bind(booking.total_cents)
                            .push_bind(booking.currency.clone())
                            .push_bind(booking.expires_at)
                            .push_bind(booking.created_at)
                            .push_bind(now);
                    });
                    insert.build().execute(&mut *transaction).await.map_err(database_error)?;
                }
                let units: Vec<(&BookingRecord, &Unit)> =
                    holds.iter().flat_map(|hold| hold.units.iter().map(move |unit| (&hold.booking, unit))).collect();
                for chunk in units.chunks(UNITS_PER_INSERT) {
                    let mut insert = sqlx::QueryBuilder::<$database>::new(
                        "INSERT INTO booking_units (booking_id, event_id, category_id, unit_id) ",
                    );
                    insert.push_values(chunk, |mut row, (booking, (category_id, unit_id))| {
                        row.push_bind(booking.id).push_bind(booking.event_id).push_bind(*category_id).push_bind(unit_id.clone());
                    });
                    match insert.build().execute(&mut *transaction).await {
                        Ok(_) => {}
                        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                            // The store let a unit go twice; the database refuses the second sale.
                            tracing::error!("the inventory store claimed a unit that is live in another booking");
                            return Err(Error::new(
                                boxoffice_errors::Code::SeatUnavailable,
                                "a requested ticket was taken a moment ago; try again",
                            ));
                        }
                        Err(error) => return Err(database_error(error)),
                    }
                }
                transaction.commit().await.map_err(database_error)
            }

            async fn booking(&self, id: Uuid) -> Result<Option<BookingRecord>> {
                let row = sqlx::query_as::<_, BookingRow>(&format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(database_error)?;
                Ok(self.with_tickets(row.into_iter().collect()).await?.pop())
            }

            async fn units(&self, booking_id: Uuid) -> Result<Vec<Unit>> {
                sqlx::query_as::<_, (Uuid, String)>(
                    "SELECT category_id, unit_id FROM booking_units WHERE booking_id = $1 ORDER BY unit_id",
                )
                .bind(booking_id)
                .fetch_all(&self.pool)
                .await
                .map_err(database_error)
            }

            async fn list(&self, user_id: Option<Uuid>, after: Option<Position>, limit: u32) -> Result<Vec<BookingRecord>> {
                let mut sql = sqlx::QueryBuilder::<$database>::new(format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE 1 = 1"));
                if let Some(user_id) = user_id {
                    sql.push(" AND user_id = ").push_bind(user_id);
                }
                push_page(&mut sql, after, limit);
                let rows: Vec<BookingRow> = sql.build_query_as().fetch_all(&self.pool).await.map_err(database_error)?;
                self.with_tickets(rows).await
            }

            async fn list_for_event(
                &self,
                event_id: Uuid,
                status: Option<BookingStatus>,
                after: Option<Position>,
                limit: u32,
            ) -> Result<Vec<BookingRecord>> {
                let mut sql = sqlx::QueryBuilder::<$database>::new(format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE event_id = "));
                sql.push_bind(event_id);
                if let Some(status) = status {
                    sql.push(" AND status = ").push_bind(status.as_str());
                }
                push_page(&mut sql, after, limit);
                let rows: Vec<BookingRow> = sql.build_query_as().fetch_all(&self.pool).await.map_err(database_error)?;
                self.with_tickets(rows).await
            }

            async fn confirm(&self, booking_id: Uuid, charge_id: &str, tickets: &[TicketRecord], now: DateTime<Utc>) -> Result<bool> {
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                let confirmed = sqlx::query(
                    "UPDATE bookings SET status = 'confirmed', charge_id = $2, updated_at = $3 \
                     WHERE id = $1 AND status = 'pending' AND expires_at > $3 \
                     AND NOT EXISTS (SELECT 1 FROM closed_events c WHERE c.event_id = bookings.event_id)",
                )
                .bind(booking_id)
                .bind(charge_id)
                .bind(now)
                .execute(&mut *transaction)
                .await
                .map_err(database_error)?;
                if confirmed.rows_affected() != 1 {
                    transaction.rollback().await.map_err(database_error)?;
                    return Ok(false);
                }
                if !tickets.is_empty() {
                    let mut insert = sqlx::QueryBuilder::<$database>::new(
                        "INSERT INTO tickets (id, booking_id, event_id, category_id, unit_id, seat, price_cents, code) ",
                    );
                    insert.push_values(tickets, |mut row, ticket| {
                        row.push_bind(ticket.id)
                            .push_bind(ticket.booking_id)
                            .push_bind(ticket.event_id)
                            .push_bind(ticket.category_id)
                            .push_bind(ticket.unit_id.clone())
                            .push_bind(ticket.seat.clone())
                            .push_bind(ticket.price_cents)
                            .push_bind(ticket.code.clone());
                    });
                    insert.build().execute(&mut *transaction).await.map_err(database_error)?;
                }
                transaction.commit().await.map_err(database_error)?;
                Ok(true)
            }

            async fn close(&self, booking_id: Uuid, from: BookingStatus, to: BookingStatus, now: DateTime<Utc>) -> Result<bool> {
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                // An expiry applies only once the hold is due, so it can never overtake a
                // confirmation that came in time.
                let due = if to == BookingStatus::Expired { " AND expires_at <= $4" } else { "" };
                let closed = sqlx::query(&format!(
                    "UPDATE bookings SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2{due}"
                ))
                .bind(booking_id)
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(now)
                .execute(&mut *transaction)
                .await
                .map_err(database_error)?;
                if closed.rows_affected() != 1 {
                    transaction.rollback().await.map_err(database_error)?;
                    return Ok(false);
                }
                sqlx::query("UPDATE booking_units SET released_at = $2 WHERE booking_id = $1 AND released_at IS NULL")
                    .bind(booking_id)
                    .bind(now)
                    .execute(&mut *transaction)
                    .await
                    .map_err(database_error)?;
                transaction.commit().await.map_err(database_error)?;
                Ok(true)
            }

            async fn due_expirations(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<(Uuid, Uuid)>> {
                sqlx::query_as(
                    "SELECT id, event_id FROM bookings WHERE status = 'pending' AND expires_at <= $1 \
                     ORDER BY expires_at LIMIT $2",
                )
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(database_error)
            }

            async fn live_bookings(&self, event_id: Uuid) -> Result<Vec<(Uuid, BookingStatus)>> {
                let rows: Vec<(Uuid, String)> = sqlx::query_as(
                    "SELECT id, status FROM bookings WHERE event_id = $1 AND status IN ('pending', 'confirmed')",
                )
                .bind(event_id)
                .fetch_all(&self.pool)
                .await
                .map_err(database_error)?;
                rows.into_iter().map(|(id, status)| Ok((id, parse_status(&status)?))).collect()
            }

            async fn live_units(&self, event_id: Uuid) -> Result<Vec<LiveUnit>> {
                let rows: Vec<(Uuid, String, Uuid, Uuid, String)> = sqlx::query_as(
                    "SELECT u.category_id, u.unit_id, u.booking_id, b.user_id, b.status \
                     FROM booking_units u JOIN bookings b ON b.id = u.booking_id \
                     WHERE u.event_id = $1 AND u.released_at IS NULL",
                )
                .bind(event_id)
                .fetch_all(&self.pool)
                .await
                .map_err(database_error)?;
                rows.into_iter()
                    .map(|(category_id, unit_id, booking_id, user_id, status)| {
                        let state = match parse_status(&status)? {
                            BookingStatus::Confirmed => UnitState::Sold,
                            _ => UnitState::Held,
                        };
                        Ok(LiveUnit { category_id, unit_id, booking_id, user_id, state })
                    })
                    .collect()
            }

            async fn ticket(&self, ticket_id: Uuid) -> Result<Option<(TicketRecord, Uuid, BookingStatus)>> {
                let row: Option<TicketRow> = sqlx::query_as(&format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1"))
                    .bind(ticket_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(database_error)?;
                let Some(row) = row else { return Ok(None) };
                let (user_id, status): (Uuid, String) = sqlx::query_as("SELECT user_id, status FROM bookings WHERE id = $1")
                    .bind(row.booking_id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(database_error)?;
                Ok(Some((TicketRecord::from(row), user_id, parse_status(&status)?)))
            }

            async fn check_in(&self, ticket_id: Uuid, now: DateTime<Utc>) -> Result<CheckIn> {
                let admitted = sqlx::query("UPDATE tickets SET checked_in_at = $2 WHERE id = $1 AND checked_in_at IS NULL")
                    .bind(ticket_id)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(database_error)?;
                if admitted.rows_affected() == 1 {
                    return Ok(CheckIn::Admitted(now));
                }
                let (at,): (Option<DateTime<Utc>>,) = sqlx::query_as("SELECT checked_in_at FROM tickets WHERE id = $1")
                    .bind(ticket_id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(database_error)?;
                Ok(CheckIn::AlreadyAdmitted(at.unwrap_or(now)))
            }

            async fn sales(&self, event_id: Uuid) -> Result<Vec<(Uuid, CategorySales)>> {
                let rows: Vec<(Uuid, i64, i64, i64)> = sqlx::query_as(
                    "SELECT t.category_id, COUNT(*), CAST(COALESCE(SUM(t.price_cents), 0) AS BIGINT), \
                     COUNT(t.checked_in_at) \
                     FROM tickets t JOIN bookings b ON b.id = t.booking_id \
                     WHERE t.event_id = $1 AND b.status = 'confirmed' GROUP BY t.category_id",
                )
                .bind(event_id)
                .fetch_all(&self.pool)
                .await
                .map_err(database_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(category_id, sold, revenue_cents, checked_in)| {
                        let sales = CategorySales {
                            sold: u32::try_from(sold).unwrap_or(u32::MAX),
                            revenue_cents,
                            checked_in: u32::try_from(checked_in).unwrap_or(u32::MAX),
                        };
                        (category_id, sales)
                    })
                    .collect())
            }

            async fn claim_idempotency_key(
                &self,
                user_id: Uuid,
                key: &str,
                request_hash: &str,
                booking_id: Uuid,
                now: DateTime<Utc>,
            ) -> Result<KeyClaim> {
                let inserted = sqlx::query(
                    "INSERT INTO idempotency_keys (user_id, key, request_hash, booking_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, key) DO NOTHING",
                )
                .bind(user_id)
                .bind(key)
                .bind(request_hash)
                .bind(booking_id)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(database_error)?;
                if inserted.rows_affected() == 1 {
                    return Ok(KeyClaim::Claimed);
                }
                let existing: Option<(String, Uuid, DateTime<Utc>)> = sqlx::query_as(
                    "SELECT request_hash, booking_id, created_at FROM idempotency_keys WHERE user_id = $1 AND key = $2",
                )
                        .bind(user_id)
                        .bind(key)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(database_error)?;
                match existing {
                    Some((request_hash, booking_id, claimed_at)) => {
                        Ok(KeyClaim::Existing { request_hash, booking_id, claimed_at })
                    }
                    // The holder gave it up between the two statements: claim it again.
                    None => Box::pin(self.claim_idempotency_key(user_id, key, request_hash, booking_id, now)).await,
                }
            }

            async fn forget_idempotency_key(&self, user_id: Uuid, key: &str) -> Result<()> {
                sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2")
                    .bind(user_id)
                    .bind(key)
                    .execute(&self.pool)
                    .await
                    .map_err(database_error)?;
                Ok(())
            }

            async fn purge_idempotency_keys(&self, older_than: DateTime<Utc>) -> Result<u64> {
                let purged = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                    .bind(older_than)
                    .execute(&self.pool)
                    .await
                    .map_err(database_error)?;
                Ok(purged.rows_affected())
            }

            async fn close_event(&self, event_id: Uuid, now: DateTime<Utc>) -> Result<()> {
                sqlx::query("INSERT INTO closed_events (event_id, closed_at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING")
                    .bind(event_id)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(database_error)?;
                Ok(())
            }

            async fn is_closed(&self, event_id: Uuid) -> Result<bool> {
                let closed: Option<(Uuid,)> = sqlx::query_as("SELECT event_id FROM closed_events WHERE event_id = $1")
                    .bind(event_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(database_error)?;
                Ok(closed.is_some())
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await.map_err(Error::unavailable)?;
                Ok(())
            }
        }
    };
}

/// Newest first, continuing after `after`.
fn push_page<'a, DB: sqlx::Database>(
    sql: &mut sqlx::QueryBuilder<'a, DB>,
    after: Option<Position>,
    limit: u32,
) where
    DateTime<Utc>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Uuid: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    if let Some((created_at, id)) = after {
        sql.push(" AND (created_at < ")
            .push_bind(created_at)
            .push(" OR (created_at = ")
            .push_bind(created_at)
            .push(" AND id < ")
            .push_bind(id)
            .push("))");
    }
    sql.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(i64::from(limit));
}

sql_store!(PostgresBookingStore, sqlx::Postgres);
sql_store!(SqliteBookingStore, sqlx::Sqlite);

impl PostgresBookingStore {
    pub fn new(pool: sqlx::PgPool) -> Self {
        PostgresBookingStore { pool }
    }
}

impl SqliteBookingStore {
    pub fn new(pool: sqlx::SqlitePool) -> Self {
        SqliteBookingStore { pool }
    }
}
