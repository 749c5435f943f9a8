//! [`BookingDb`] in SQL: one body (the `sql_db!` macro) for PostgreSQL and SQLite, whose
//! dialects agree on every statement written here. Rows are read into the structs of `rows.rs`.

use std::time::Instant;

use boxoffice_db::cursor::{push_page, Order};
use boxoffice_db::database_error;
use boxoffice_errors::Error;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use boxoffice_outbox::{commit_telling, OutboxDb, OutboxSql as _, RelayHandle};

use super::rows::{
    parse_status, BookingRow, TicketRow, WaitingRow, BOOKING_COLUMNS, TICKET_COLUMNS, WAITING_COLUMNS,
};
use super::{
    BookingDb, CategorySales, CheckIn, Joined, KeyClaim, NewHold, Payable, Payment, Position, Result,
};
use crate::domain::{
    BookingRecord, BookingStatus, Change, EntryStatus, TicketRecord, Transition, Unit, WaitingEntry,
};
use crate::domain_events::{self, EndReason};
use crate::group_commit::too_late;
use crate::inventory::{Handoff, LiveUnit, UnitState};
use crate::waiting_list;

/// Rows per SQLite INSERT statement, within its limit of 32,766 bound parameters (11 per
/// booking, 4 per unit).
const BOOKINGS_PER_INSERT: usize = 1_000;
const UNITS_PER_INSERT: usize = 5_000;
/// (8 per ticket.)
const TICKETS_PER_INSERT: usize = 4_000;

/// How often, and how far apart, a batch of holds whose commit failed asks whether it committed.
const COMMIT_CHECKS: usize = 3;
const COMMIT_CHECK_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

/// A pending booking to write, with its items and seats as JSON.
type EncodedBooking<'a> = (&'a BookingRecord, String, String);

macro_rules! sql_db {
    ($name:ident, $database:ty, $outbox:ident) => {
        #[derive(Clone)]
        pub struct $name {
            pool: sqlx::Pool<$database>,
            /// Woken after every commit that wrote domain events.
            relay: RelayHandle,
        }

        impl $name {
            pub fn pool(&self) -> &sqlx::Pool<$database> {
                &self.pool
            }

            /// Records one pending booking with its units, in `transaction`.
            async fn insert_booking(
                transaction: &mut sqlx::Transaction<'static, $database>,
                booking: &BookingRecord,
                units: &[Unit],
                now: DateTime<Utc>,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO bookings (id, event_id, user_id, status, items, seats, total_cents, currency, \
                     expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(booking.id)
                .bind(booking.event_id)
                .bind(booking.user_id)
                .bind(booking.status.as_str())
                .bind(serde_json::to_string(&booking.items).map_err(Error::internal)?)
                .bind(serde_json::to_string(&booking.seats).map_err(Error::internal)?)
                .bind(booking.total_cents)
                .bind(&booking.currency)
                .bind(booking.expires_at)
                .bind(booking.created_at)
                .bind(now)
                .execute(&mut **transaction)
                .await
                .map_err(database_error)?;
                for (category_id, unit_id) in units {
                    sqlx::query("INSERT INTO booking_units (booking_id, event_id, category_id, unit_id) VALUES ($1, $2, $3, $4)")
                        .bind(booking.id)
                        .bind(booking.event_id)
                        .bind(category_id)
                        .bind(unit_id)
                        .execute(&mut **transaction)
                        .await
                        .map_err(database_error)?;
                }
                Ok(())
            }

            /// Writes the pending bookings of `holds`, their units and their domain events in a new
            /// transaction, which it hands back uncommitted; refuses holds of a closed event.
            async fn write_pending(
                &self,
                holds: &[NewHold],
                now: DateTime<Utc>,
            ) -> Result<sqlx::Transaction<'static, $database>> {
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                let encoded = holds
                    .iter()
                    .map(|hold| {
                        let items = serde_json::to_string(&hold.booking.items).map_err(Error::internal)?;
                        let seats = serde_json::to_string(&hold.booking.seats).map_err(Error::internal)?;
                        Ok((&hold.booking, items, seats))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Self::insert_bookings(&mut transaction, &encoded, now).await.map_err(database_error)?;
                let units: Vec<(&BookingRecord, &Unit)> =
                    holds.iter().flat_map(|hold| hold.units.iter().map(move |unit| (&hold.booking, unit))).collect();
                match Self::insert_units(&mut transaction, &units).await {
                    Ok(()) => {}
                    Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                        // The inventory let a unit go twice; the database refuses the second sale.
                        tracing::error!("the inventory claimed a unit that is live in another booking");
                        return Err(Error::new(
                            boxoffice_errors::Code::SeatUnavailable,
                            "a requested ticket was taken a moment ago; try again",
                        ));
                    }
                    Err(error) => return Err(database_error(error)),
                }
                let events: Vec<_> = holds
                    .iter()
                    .map(|hold| domain_events::held(&hold.booking, now).traced(hold.trace.clone()))
                    .collect();
                // Last, so that SQLite holds its write lock by now: an event cancelled before this
                // point is seen, and its cancellation, which waits for this transaction, sees these.
                let mut event_ids: Vec<Uuid> = holds.iter().map(|hold| hold.booking.event_id).collect();
                event_ids.sort_unstable();
                event_ids.dedup();
                Self::lock_sales(&mut transaction, &event_ids).await?;
                if Self::any_closed(&mut transaction, &event_ids).await.map_err(database_error)? {
                    return Err(Error::not_found("event"));
                }
                <$database as boxoffice_outbox::OutboxSql>::write_outbox(&mut transaction, &events).await.map_err(database_error)?;
                Ok(transaction)
            }

            /// Attaches their tickets to bookings read without them: one read for all (a page of
            /// an event's bookings cost one read per booking before).
            async fn with_tickets(&self, rows: Vec<BookingRow>) -> Result<Vec<BookingRecord>> {
                let issued: Vec<Uuid> = rows.iter().filter(|row| row.status != "pending").map(|row| row.id).collect();
                let mut tickets: std::collections::HashMap<Uuid, Vec<TicketRecord>> = std::collections::HashMap::new();
                if !issued.is_empty() {
                    let select = format!("SELECT {TICKET_COLUMNS} FROM tickets");
                    let rows: Vec<TicketRow> = Self::rows_of(&self.pool, &select, "booking_id", "unit_id", &issued)
                        .await
                        .map_err(database_error)?;
                    for ticket in rows {
                        tickets.entry(ticket.booking_id).or_default().push(TicketRecord::from(ticket));
                    }
                }
                rows.into_iter()
                    .map(|row| {
                        let issued = tickets.remove(&row.id).unwrap_or_default();
                        row.into_record(issued)
                    })
                    .collect()
            }
        }

        #[async_trait::async_trait]
        impl BookingDb for $name {
            async fn insert_pending(&self, holds: &[NewHold], now: DateTime<Utc>, deadline: Instant) -> Result<()> {
                // Everything before the commit may be cut short (dropping the transaction rolls it
                // back); the commit starts only before the deadline.
                let transaction = match tokio::time::timeout_at(deadline.into(), self.write_pending(holds, now)).await {
                    Ok(written) => written?,
                    Err(_) => return Err(too_late()),
                };
                if Instant::now() >= deadline {
                    let _ = transaction.rollback().await;
                    return Err(too_late());
                }
                if let Err(error) = transaction.commit().await {
                    // The connection may have failed after the database committed: it decides.
                    let Some(first) = holds.first() else { return Err(database_error(error)) };
                    for _ in 0..COMMIT_CHECKS {
                        tokio::time::sleep(COMMIT_CHECK_PAUSE).await;
                        let found: sqlx::Result<Option<(Uuid,)>> = sqlx::query_as("SELECT id FROM bookings WHERE id = $1")
                            .bind(first.booking.id)
                            .fetch_optional(&self.pool)
                            .await;
                        match found {
                            Ok(Some(_)) => {
                                tracing::warn!(%error, "a commit that reported a failure had committed");
                                self.relay.wake();
                                return Ok(());
                            }
                            Ok(None) => return Err(database_error(error)),
                            Err(_) => continue,
                        }
                    }
                    tracing::error!(%error, booking_id = %first.booking.id, "whether a batch of holds committed cannot be told; answered as failed");
                    return Err(database_error(error));
                }
                self.relay.wake();
                Ok(())
            }

            async fn booking(&self, id: Uuid) -> Result<Option<BookingRecord>> {
                let row = sqlx::query_as::<_, BookingRow>(&format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(database_error)?;
                Ok(self.with_tickets(row.into_iter().collect()).await?.pop())
            }

            async fn payables(&self, ids: &[Uuid]) -> Result<Vec<Option<Payable>>> {
                let mut unique = ids.to_vec();
                unique.sort_unstable();
                unique.dedup();
                let select = format!("SELECT {BOOKING_COLUMNS} FROM bookings");
                let units = "SELECT booking_id, category_id, unit_id FROM booking_units";
                let (rows, units): (Vec<BookingRow>, Vec<(Uuid, Uuid, String)>) = tokio::try_join!(
                    Self::rows_of(&self.pool, &select, "id", "id", &unique),
                    Self::rows_of(&self.pool, units, "booking_id", "unit_id", &unique)
                )
                .map_err(database_error)?;
                let mut held: std::collections::HashMap<Uuid, Vec<Unit>> = std::collections::HashMap::new();
                for (booking_id, category_id, unit_id) in units {
                    held.entry(booking_id).or_default().push((category_id, unit_id));
                }
                let found: std::collections::HashMap<Uuid, BookingRecord> =
                    self.with_tickets(rows).await?.into_iter().map(|record| (record.id, record)).collect();
                // An id asked twice (a payment sent twice at once) gets its booking twice.
                Ok(ids
                    .iter()
                    .map(|id| found.get(id).map(|record| (record.clone(), held.get(id).cloned().unwrap_or_default())))
                    .collect())
            }

            async fn list(&self, user_id: Option<Uuid>, after: Option<Position>, limit: u32) -> Result<Vec<BookingRecord>> {
                let mut sql = sqlx::QueryBuilder::<$database>::new(format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE 1 = 1"));
                if let Some(user_id) = user_id {
                    sql.push(" AND user_id = ").push_bind(user_id);
                }
                push_page(&mut sql, "created_at", Order::Descending, after, limit);
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
                push_page(&mut sql, "created_at", Order::Descending, after, limit);
                let rows: Vec<BookingRow> = sql.build_query_as().fetch_all(&self.pool).await.map_err(database_error)?;
                self.with_tickets(rows).await
            }

            async fn confirm(&self, payments: &[Payment], now: DateTime<Utc>) -> Result<Vec<Option<BookingRecord>>> {
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                let mut event_ids: Vec<Uuid> = payments.iter().map(|payment| payment.event_id).collect();
                event_ids.sort_unstable();
                event_ids.dedup();
                // Before the compare-and-set, whose statement then sees a closing that held them.
                Self::lock_sales(&mut transaction, &event_ids).await?;
                let rows = Self::mark_confirmed(&mut transaction, payments, now).await.map_err(database_error)?;
                let mut rows: std::collections::HashMap<Uuid, BookingRow> = rows.into_iter().map(|row| (row.id, row)).collect();
                let mut confirmed = Vec::with_capacity(payments.len());
                let (mut events, mut tickets, mut booking_ids) = (Vec::new(), Vec::new(), Vec::new());
                for payment in payments {
                    // A booking paid twice in one batch is confirmed by the first.
                    let Some(row) = rows.remove(&payment.booking_id) else {
                        confirmed.push(None);
                        continue;
                    };
                    let record = row.into_record(payment.tickets.clone())?;
                    events.push(domain_events::confirmed(&record, &payment.tickets, now).traced(payment.trace.clone()));
                    tickets.extend(payment.tickets.iter());
                    booking_ids.push(payment.booking_id);
                    confirmed.push(Some(record));
                }
                if booking_ids.is_empty() {
                    transaction.rollback().await.map_err(database_error)?;
                    return Ok(confirmed);
                }
                Self::insert_tickets(&mut transaction, &tickets).await.map_err(database_error)?;
                // A paid offer of a waiting list: its entry is done.
                Self::end_offers(&mut transaction, &booking_ids, EntryStatus::after_offer_ends(Change::Confirm, false), now)
                    .await
                    .map_err(database_error)?;
                commit_telling(transaction, &events, &self.relay).await.map_err(database_error)?;
                Ok(confirmed)
            }

            async fn close(&self, booking_id: Uuid, change: Change, reason: EndReason, now: DateTime<Utc>) -> Result<Option<Vec<Handoff>>> {
                if !change.releases_units() {
                    return Err(Error::internal(format!("{change:?} does not close a booking")));
                }
                let Transition { from, to } = change.transition();
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                // An expiry applies only once the hold is due, so it can never overtake a
                // confirmation that came in time.
                let due = if change == Change::Expire { " AND expires_at <= $4" } else { "" };
                let closed: Option<BookingRow> = sqlx::query_as(&format!(
                    "UPDATE bookings SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2{due} \
                     RETURNING {BOOKING_COLUMNS}"
                ))
                .bind(booking_id)
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(now)
                .fetch_optional(&mut *transaction)
                .await
                .map_err(database_error)?;
                let Some(closed) = closed else {
                    transaction.rollback().await.map_err(database_error)?;
                    return Ok(None);
                };
                let closed = closed.into_record(Vec::new())?;
                let mut events: Vec<_> = domain_events::ended(&closed, change, reason, now).into_iter().collect();
                let event_cancelled = reason == EndReason::EventCancelled;
                // A booking that was an offer moves its entry on.
                sqlx::query("UPDATE waiting_list SET status = $2, updated_at = $3 WHERE booking_id = $1 AND status = $4")
                    .bind(booking_id)
                    .bind(EntryStatus::after_offer_ends(change, event_cancelled).as_str())
                    .bind(now)
                    .bind(EntryStatus::Offered.as_str())
                    .execute(&mut *transaction)
                    .await
                    .map_err(database_error)?;
                let units: Vec<(Uuid, String)> = sqlx::query_as(
                    "SELECT category_id, unit_id FROM booking_units WHERE booking_id = $1 AND released_at IS NULL ORDER BY unit_id",
                )
                .bind(booking_id)
                .fetch_all(&mut *transaction)
                .await
                .map_err(database_error)?;
                sqlx::query("UPDATE booking_units SET released_at = $2 WHERE booking_id = $1 AND released_at IS NULL")
                    .bind(booking_id)
                    .bind(now)
                    .execute(&mut *transaction)
                    .await
                    .map_err(database_error)?;
                let mut handoffs = Vec::new();
                if !event_cancelled {
                    let mut groups = waiting_list::by_category(&units);
                    // Locks in one order, so that two closings never wait for each other.
                    groups.sort_by_key(|(category_id, _)| *category_id);
                    for (category_id, units) in groups {
                        Self::lock_waiting_list(&mut transaction, closed.event_id, category_id).await?;
                        let mut left: &[String] = &units;
                        while !left.is_empty() {
                            // The first entry that asked for no more than is left; when every
                            // entry asked for more, the first in line, offered what is left. Not
                            // the buyer who gives them back: they would get their own tickets.
                            let mut next = None;
                            for most in [Some(i64::try_from(left.len()).map_err(Error::internal)?), None] {
                                let fits = if most.is_some() { " AND quantity <= $5" } else { "" };
                                let sql = format!(
                                    "SELECT id, user_id, quantity, offer_minutes FROM waiting_list \
                                     WHERE event_id = $1 AND category_id = $2 AND status = $3 AND user_id <> $4{fits} \
                                     ORDER BY created_at, id LIMIT 1"
                                );
                                let mut query = sqlx::query_as::<_, (Uuid, Uuid, i64, i64)>(&sql)
                                    .bind(closed.event_id)
                                    .bind(category_id)
                                    .bind(EntryStatus::Waiting.as_str())
                                    .bind(closed.user_id);
                                if let Some(most) = most {
                                    query = query.bind(most);
                                }
                                next = query.fetch_optional(&mut *transaction).await.map_err(database_error)?;
                                if next.is_some() {
                                    break;
                                }
                            }
                            let Some((entry_id, user_id, quantity, offer_minutes)) = next else { break };
                            let given = left.len().min(usize::try_from(quantity).map_err(Error::internal)?);
                            let offer = waiting_list::offer(&closed, user_id, category_id, &left[..given], now, offer_minutes)?;
                            // A compare-and-set: of concurrent closings, one takes the entry and
                            // the other looks for the next.
                            let taken = sqlx::query(
                                "UPDATE waiting_list SET status = $2, booking_id = $3, offered_quantity = $4, updated_at = $5 \
                                 WHERE id = $1 AND status = $6",
                            )
                            .bind(entry_id)
                            .bind(EntryStatus::Offered.as_str())
                            .bind(offer.id)
                            .bind(i64::try_from(given).map_err(Error::internal)?)
                            .bind(now)
                            .bind(EntryStatus::Waiting.as_str())
                            .execute(&mut *transaction)
                            .await
                            .map_err(database_error)?;
                            if taken.rows_affected() == 0 {
                                continue;
                            }
                            let offered: Vec<Unit> = left[..given].iter().map(|unit| (category_id, unit.clone())).collect();
                            Self::insert_booking(&mut transaction, &offer, &offered, now).await?;
                            events.push(domain_events::held(&offer, now));
                            events.push(domain_events::offered(entry_id, &offer, quantity, now));
                            handoffs.push(Handoff { booking_id: offer.id, user_id, units: offered });
                            left = &left[given..];
                        }
                    }
                }
                commit_telling(transaction, &events, &self.relay).await.map_err(database_error)?;
                Ok(Some(handoffs))
            }

            async fn join_waiting_list(&self, entry: &WaitingEntry, capacity: u32) -> Result<Joined> {
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                let inserted = sqlx::query(
                    "INSERT INTO waiting_list (id, event_id, category_id, user_id, quantity, offer_minutes, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                )
                .bind(entry.id)
                .bind(entry.event_id)
                .bind(entry.category_id)
                .bind(entry.user_id)
                .bind(i64::from(entry.quantity))
                .bind(i64::from(entry.offer_minutes))
                .bind(entry.status.as_str())
                .bind(entry.created_at)
                .execute(&mut *transaction)
                .await;
                match inserted {
                    Ok(_) => {}
                    Err(sqlx::Error::Database(error)) if error.is_unique_violation() => return Ok(Joined::AlreadyOn),
                    Err(error) => return Err(database_error(error)),
                }
                // After the insert (SQLite's write lock) and under the category's lock
                // (PostgreSQL's), so that no closing booking runs between this count and the
                // commit: one that ran before has put its units back, and this counts them.
                Self::lock_waiting_list(&mut transaction, entry.event_id, entry.category_id).await?;
                let (live,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM booking_units WHERE event_id = $1 AND category_id = $2 AND released_at IS NULL",
                )
                .bind(entry.event_id)
                .bind(entry.category_id)
                .fetch_one(&mut *transaction)
                .await
                .map_err(database_error)?;
                let free = i64::from(capacity) - live;
                if free > 0 {
                    transaction.rollback().await.map_err(database_error)?;
                    return Ok(Joined::NotSoldOut(u32::try_from(free).unwrap_or(u32::MAX)));
                }
                transaction.commit().await.map_err(database_error)?;
                Ok(Joined::Joined)
            }

            async fn waiting_entry(&self, entry_id: Uuid) -> Result<Option<WaitingEntry>> {
                let row: Option<WaitingRow> =
                    sqlx::query_as(&format!("SELECT {WAITING_COLUMNS} FROM waiting_list w WHERE w.id = $1"))
                        .bind(entry_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(database_error)?;
                row.map(WaitingEntry::try_from).transpose()
            }

            async fn waiting_entries(&self, user_id: Uuid, limit: u32) -> Result<Vec<WaitingEntry>> {
                let rows: Vec<WaitingRow> = sqlx::query_as(&format!(
                    "SELECT {WAITING_COLUMNS} FROM waiting_list w WHERE w.user_id = $1 \
                     ORDER BY w.created_at DESC, w.id DESC LIMIT $2"
                ))
                .bind(user_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(database_error)?;
                rows.into_iter().map(WaitingEntry::try_from).collect()
            }

            async fn leave_waiting_list(&self, entry_id: Uuid, now: DateTime<Utc>) -> Result<bool> {
                let left = sqlx::query("UPDATE waiting_list SET status = $2, updated_at = $3 WHERE id = $1 AND status = $4")
                    .bind(entry_id)
                    .bind(EntryStatus::Left.as_str())
                    .bind(now)
                    .bind(EntryStatus::Waiting.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err(database_error)?;
                Ok(left.rows_affected() == 1)
            }

            async fn waiting_counts(&self, event_id: Uuid) -> Result<Vec<(Uuid, u32)>> {
                let rows: Vec<(Uuid, i64)> = sqlx::query_as(
                    "SELECT category_id, COUNT(*) FROM waiting_list WHERE event_id = $1 AND status = $2 GROUP BY category_id",
                )
                .bind(event_id)
                .bind(EntryStatus::Waiting.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(database_error)?;
                Ok(rows.into_iter().map(|(category_id, count)| (category_id, u32::try_from(count).unwrap_or(u32::MAX))).collect())
            }

            async fn pending_holds_by_event(&self) -> Result<Vec<(Uuid, i64)>> {
                sqlx::query_as("SELECT event_id, COUNT(*) FROM bookings WHERE status = 'pending' GROUP BY event_id")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(database_error)
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
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                // The booking's row first: a refund (which writes it too) and this check-in are
                // ordered, so a refunded ticket is never admitted and the booking's events are
                // written in the order of its changes. The write only locks the row: the
                // booking's `updated_at` stays the time of its last change of status (the
                // organizer's chart counts a sale at its confirmation).
                let live: Option<(Uuid,)> = sqlx::query_as(
                    "UPDATE bookings SET updated_at = updated_at \
                     WHERE id = (SELECT booking_id FROM tickets WHERE id = $1) AND status = $2 RETURNING id",
                )
                .bind(ticket_id)
                .bind(BookingStatus::Confirmed.as_str())
                .fetch_optional(&mut *transaction)
                .await
                .map_err(database_error)?;
                if live.is_none() {
                    transaction.rollback().await.map_err(database_error)?;
                    return Ok(CheckIn::NotConfirmed);
                }
                let admitted: Option<(Uuid, Uuid)> = sqlx::query_as(
                    "UPDATE tickets SET checked_in_at = $2 WHERE id = $1 AND checked_in_at IS NULL \
                     RETURNING booking_id, event_id",
                )
                .bind(ticket_id)
                .bind(now)
                .fetch_optional(&mut *transaction)
                .await
                .map_err(database_error)?;
                if let Some((booking_id, event_id)) = admitted {
                    let event = domain_events::checked_in(ticket_id, booking_id, event_id, now);
                    commit_telling(transaction, std::slice::from_ref(&event), &self.relay).await.map_err(database_error)?;
                    return Ok(CheckIn::Admitted(now));
                }
                transaction.rollback().await.map_err(database_error)?;
                let (at,): (Option<DateTime<Utc>>,) = sqlx::query_as("SELECT checked_in_at FROM tickets WHERE id = $1")
                    .bind(ticket_id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(database_error)?;
                Ok(CheckIn::AlreadyAdmitted(at.unwrap_or(now)))
            }

            async fn transfer_ticket(
                &self,
                ticket: &TicketRecord,
                from: Uuid,
                to: Uuid,
                holder: Option<Uuid>,
                new_code: &str,
                now: DateTime<Utc>,
            ) -> Result<bool> {
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                // The booking's row first, as a check-in and a refund write it: the three are
                // ordered, so a refunded ticket never changes hands.
                let live: Option<(Uuid,)> = sqlx::query_as(
                    "UPDATE bookings SET updated_at = updated_at WHERE id = $1 AND status = $2 RETURNING id",
                )
                .bind(ticket.booking_id)
                .bind(BookingStatus::Confirmed.as_str())
                .fetch_optional(&mut *transaction)
                .await
                .map_err(database_error)?;
                let generation = i64::from(ticket.generation);
                let moved = match live {
                    None => false,
                    Some(_) => sqlx::query(
                        "UPDATE tickets SET holder_id = $2, generation = $3, code = $4 \
                         WHERE id = $1 AND generation = $5 AND checked_in_at IS NULL",
                    )
                    .bind(ticket.id)
                    .bind(holder)
                    .bind(generation + 1)
                    .bind(new_code)
                    .bind(generation)
                    .execute(&mut *transaction)
                    .await
                    .map_err(database_error)?
                    .rows_affected() == 1,
                };
                if !moved {
                    transaction.rollback().await.map_err(database_error)?;
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO ticket_transfers (id, ticket_id, from_user_id, to_user_id, generation, transferred_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(Uuid::now_v7())
                .bind(ticket.id)
                .bind(from)
                .bind(to)
                .bind(generation + 1)
                .bind(now)
                .execute(&mut *transaction)
                .await
                .map_err(database_error)?;
                let event = domain_events::transferred(ticket, from, to, ticket.generation + 1, now);
                commit_telling(transaction, std::slice::from_ref(&event), &self.relay).await.map_err(database_error)?;
                Ok(true)
            }

            async fn held_tickets(&self, user_id: Uuid, limit: u32) -> Result<Vec<TicketRecord>> {
                let columns = TICKET_COLUMNS.split(", ").map(|column| format!("t.{column}")).collect::<Vec<_>>().join(", ");
                let rows: Vec<TicketRow> = sqlx::query_as(&format!(
                    "SELECT {columns} FROM tickets t JOIN bookings b ON b.id = t.booking_id \
                     WHERE b.status = $2 AND (t.holder_id = $1 OR (t.holder_id IS NULL AND b.user_id = $1)) \
                     ORDER BY b.created_at DESC, t.unit_id LIMIT $3"
                ))
                .bind(user_id)
                .bind(BookingStatus::Confirmed.as_str())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(database_error)?;
                Ok(rows.into_iter().map(TicketRecord::from).collect())
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

            async fn activity(
                &self,
                event_id: Uuid,
                since: DateTime<Utc>,
                limit: u32,
            ) -> Result<Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>> {
                let rows: Vec<(DateTime<Utc>, String, DateTime<Utc>)> = sqlx::query_as(
                    "SELECT created_at, status, updated_at FROM bookings \
                     WHERE event_id = $1 AND created_at >= $2 ORDER BY created_at DESC LIMIT $3",
                )
                .bind(event_id)
                .bind(since)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(database_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(created_at, status, updated_at)| {
                        (created_at, (status == BookingStatus::Confirmed.as_str()).then_some(updated_at))
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

            async fn forget_idempotency_key(&self, user_id: Uuid, key: &str, booking_id: Uuid) -> Result<()> {
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND booking_id = $3 \
                     AND NOT EXISTS (SELECT 1 FROM bookings WHERE id = $3)",
                )
                    .bind(user_id)
                    .bind(key)
                    .bind(booking_id)
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
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                // Waits for the holds of the event being recorded; those after it see it closed.
                Self::lock_sale_closing(&mut transaction, event_id).await?;
                sqlx::query("INSERT INTO closed_events (event_id, closed_at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING")
                    .bind(event_id)
                    .bind(now)
                    .execute(&mut *transaction)
                    .await
                    .map_err(database_error)?;
                // Nothing comes back to a cancelled event's waiting lists.
                sqlx::query("UPDATE waiting_list SET status = $2, updated_at = $3 WHERE event_id = $1 AND status = $4")
                    .bind(event_id)
                    .bind(EntryStatus::Closed.as_str())
                    .bind(now)
                    .bind(EntryStatus::Waiting.as_str())
                    .execute(&mut *transaction)
                    .await
                    .map_err(database_error)?;
                transaction.commit().await.map_err(database_error)
            }

            async fn is_closed(&self, event_id: Uuid) -> Result<bool> {
                let closed: Option<(Uuid,)> = sqlx::query_as("SELECT event_id FROM closed_events WHERE event_id = $1")
                    .bind(event_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(database_error)?;
                Ok(closed.is_some())
            }

            async fn processed(&self, consumer: &str, event_id: Uuid) -> Result<bool> {
                let found: Option<(i32,)> =
                    sqlx::query_as("SELECT 1 FROM processed_events WHERE consumer = $1 AND event_id = $2")
                        .bind(consumer)
                        .bind(event_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(database_error)?;
                Ok(found.is_some())
            }

            async fn mark_processed(&self, consumer: &str, event_id: Uuid, now: DateTime<Utc>) -> Result<bool> {
                let mut connection = self.pool.acquire().await.map_err(database_error)?;
                <$database>::mark_processed(&mut connection, consumer, event_id, now).await.map_err(database_error)
            }

            fn outbox(&self) -> (OutboxDb, RelayHandle) {
                (OutboxDb::$outbox(self.pool.clone()), self.relay.clone())
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await.map_err(Error::unavailable)?;
                Ok(())
            }
        }
    };
}

sql_db!(PostgresBookingDb, sqlx::Postgres, Postgres);
sql_db!(SqliteBookingDb, sqlx::Sqlite, Sqlite);

/// The first key of the advisory locks that order an event's holds with its closing (the
/// two-key form, apart from the waiting lists' one-key locks).
const SALE_LOCK_CLASS: i32 = 1;

/// The second key of an event's sale lock.
fn sale_lock_key(event_id: Uuid) -> i32 {
    let (high, low) = event_id.as_u64_pair();
    let folded = high ^ low;
    (folded ^ (folded >> 32)) as i32
}

impl PostgresBookingDb {
    pub fn new(pool: sqlx::PgPool) -> Self {
        PostgresBookingDb { pool, relay: RelayHandle::default() }
    }

    /// Shares the sale locks of `event_ids` until the end of `transaction`: holds recorded
    /// together do not wait for each other, only for an event's closing. Taken in the order of
    /// their keys, so that two batches never wait for each other through two closings.
    async fn lock_sales(
        transaction: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        event_ids: &[Uuid],
    ) -> Result<()> {
        let mut keys: Vec<i32> = event_ids.iter().map(|event_id| sale_lock_key(*event_id)).collect();
        keys.sort_unstable();
        keys.dedup();
        // One statement; the function scan takes the locks in the array's order.
        sqlx::query("SELECT pg_advisory_xact_lock_shared($1, key) FROM UNNEST($2::int4[]) AS key")
            .bind(SALE_LOCK_CLASS)
            .bind(keys)
            .execute(&mut **transaction)
            .await
            .map_err(database_error)?;
        Ok(())
    }

    /// The rows of `select` (a query up to its WHERE) whose `key` is one of `ids`, ordered by
    /// `order_by`: one statement of one shape however many ids.
    async fn rows_of<T>(
        pool: &sqlx::PgPool,
        select: &str,
        key: &str,
        order_by: &str,
        ids: &[Uuid],
    ) -> sqlx::Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
    {
        sqlx::query_as(&format!("{select} WHERE {key} = ANY($1) ORDER BY {order_by}"))
            .bind(ids)
            .fetch_all(pool)
            .await
    }

    /// The compare-and-set of confirmation of every booking of `payments`, in one statement of
    /// one shape; the rows of those confirmed.
    ///
    /// Planned generically (with the status a parameter, whatever it is): a plan made for the
    /// value `'pending'` may read every pending booking of the sale through the partial index
    /// `bookings_pending_by_expiry` and join them with the batch, which PostgreSQL picks while a
    /// flash sale's statistics still describe a nearly empty table; the generic plan looks each
    /// booking up by its key. The setting holds for the rest of the batch's transaction, whose
    /// other statements (the tickets, the waiting list's offers by booking, the outbox) plan
    /// the same either way.
    async fn mark_confirmed(
        transaction: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        payments: &[Payment],
        now: DateTime<Utc>,
    ) -> sqlx::Result<Vec<BookingRow>> {
        let Transition { from, to } = Change::Confirm.transition();
        sqlx::query("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")
            .execute(&mut **transaction)
            .await?;
        sqlx::query_as(&format!(
            "UPDATE bookings SET status = $1, charge_id = p.paid_charge, updated_at = $2 \
             FROM UNNEST($3::uuid[], $4::text[]) AS p (paid_id, paid_charge) \
             WHERE id = p.paid_id AND status = $5 AND expires_at > $2 \
             AND NOT EXISTS (SELECT 1 FROM closed_events c WHERE c.event_id = bookings.event_id) \
             RETURNING {BOOKING_COLUMNS}"
        ))
        .bind(to.as_str())
        .bind(now)
        .bind(payments.iter().map(|payment| payment.booking_id).collect::<Vec<_>>())
        .bind(payments.iter().map(|payment| payment.charge_id.as_str()).collect::<Vec<_>>())
        .bind(from.as_str())
        .fetch_all(&mut **transaction)
        .await
    }

    /// The tickets, in one statement of one shape.
    async fn insert_tickets(
        transaction: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        tickets: &[&TicketRecord],
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO tickets (id, booking_id, event_id, category_id, unit_id, seat, price_cents, code) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], \
             $7::int8[], $8::text[])",
        )
        .bind(tickets.iter().map(|ticket| ticket.id).collect::<Vec<_>>())
        .bind(tickets.iter().map(|ticket| ticket.booking_id).collect::<Vec<_>>())
        .bind(tickets.iter().map(|ticket| ticket.event_id).collect::<Vec<_>>())
        .bind(tickets.iter().map(|ticket| ticket.category_id).collect::<Vec<_>>())
        .bind(tickets.iter().map(|ticket| ticket.unit_id.as_str()).collect::<Vec<_>>())
        .bind(tickets.iter().map(|ticket| ticket.seat.as_deref()).collect::<Vec<_>>())
        .bind(tickets.iter().map(|ticket| ticket.price_cents).collect::<Vec<_>>())
        .bind(tickets.iter().map(|ticket| ticket.code.as_str()).collect::<Vec<_>>())
        .execute(&mut **transaction)
        .await?;
        Ok(())
    }

    /// The offers of a waiting list that these bookings were, ended as `status`.
    async fn end_offers(
        transaction: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        booking_ids: &[Uuid],
        status: EntryStatus,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE waiting_list SET status = $2, updated_at = $3 WHERE booking_id = ANY($1) AND status = $4",
        )
        .bind(booking_ids)
        .bind(status.as_str())
        .bind(now)
        .bind(EntryStatus::Offered.as_str())
        .execute(&mut **transaction)
        .await?;
        Ok(())
    }

    /// Whether any of `event_ids` is closed, read in a statement after [`Self::lock_sales`], so
    /// after any closing that held the lock has committed.
    async fn any_closed(
        transaction: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        event_ids: &[Uuid],
    ) -> sqlx::Result<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM closed_events WHERE event_id = ANY($1))")
            .bind(event_ids)
            .fetch_one(&mut **transaction)
            .await
    }

    /// The pending bookings, in one statement of one shape whatever their number (arrays,
    /// unnested), which PostgreSQL plans once per connection.
    async fn insert_bookings(
        transaction: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        bookings: &[EncodedBooking<'_>],
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO bookings (id, event_id, user_id, status, items, seats, total_cents, currency, \
             expires_at, created_at, updated_at) \
             SELECT id, event_id, user_id, status, items, seats, total_cents, currency, expires_at, created_at, $11 \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::int8[], \
             $8::text[], $9::timestamptz[], $10::timestamptz[]) \
             AS b (id, event_id, user_id, status, items, seats, total_cents, currency, expires_at, created_at)",
        )
        .bind(bookings.iter().map(|(booking, ..)| booking.id).collect::<Vec<_>>())
        .bind(bookings.iter().map(|(booking, ..)| booking.event_id).collect::<Vec<_>>())
        .bind(bookings.iter().map(|(booking, ..)| booking.user_id).collect::<Vec<_>>())
        .bind(bookings.iter().map(|(booking, ..)| booking.status.as_str()).collect::<Vec<_>>())
        .bind(bookings.iter().map(|(_, items, _)| items.as_str()).collect::<Vec<_>>())
        .bind(bookings.iter().map(|(_, _, seats)| seats.as_str()).collect::<Vec<_>>())
        .bind(bookings.iter().map(|(booking, ..)| booking.total_cents).collect::<Vec<_>>())
        .bind(bookings.iter().map(|(booking, ..)| booking.currency.as_str()).collect::<Vec<_>>())
        .bind(bookings.iter().map(|(booking, ..)| booking.expires_at).collect::<Vec<_>>())
        .bind(bookings.iter().map(|(booking, ..)| booking.created_at).collect::<Vec<_>>())
        .bind(now)
        .execute(&mut **transaction)
        .await?;
        Ok(())
    }

    /// The units of the pending bookings, in one statement of one shape, as for the bookings.
    async fn insert_units(
        transaction: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        units: &[(&BookingRecord, &Unit)],
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO booking_units (booking_id, event_id, category_id, unit_id) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[])",
        )
        .bind(units.iter().map(|(booking, _)| booking.id).collect::<Vec<_>>())
        .bind(units.iter().map(|(booking, _)| booking.event_id).collect::<Vec<_>>())
        .bind(units.iter().map(|(_, (category_id, _))| *category_id).collect::<Vec<_>>())
        .bind(units.iter().map(|(_, (_, unit_id))| unit_id.as_str()).collect::<Vec<_>>())
        .execute(&mut **transaction)
        .await?;
        Ok(())
    }

    /// Takes an event's sale lock alone until the end of `transaction`, once the holds being
    /// recorded have committed.
    async fn lock_sale_closing(
        transaction: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        event_id: Uuid,
    ) -> Result<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(SALE_LOCK_CLASS)
            .bind(sale_lock_key(event_id))
            .execute(&mut **transaction)
            .await
            .map_err(database_error)?;
        Ok(())
    }

    /// Locks a category's waiting list until the end of `transaction`: joining it and closing a
    /// booking with its units are ordered (an advisory lock; two categories sharing a key only
    /// wait for each other).
    async fn lock_waiting_list(
        transaction: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        event_id: Uuid,
        category_id: Uuid,
    ) -> Result<()> {
        let (event, category) = (event_id.as_u64_pair(), category_id.as_u64_pair());
        let key = (event.0 ^ event.1 ^ category.0.rotate_left(17) ^ category.1) as i64;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(key)
            .execute(&mut **transaction)
            .await
            .map_err(database_error)?;
        Ok(())
    }
}

impl SqliteBookingDb {
    pub fn new(pool: sqlx::SqlitePool) -> Self {
        SqliteBookingDb { pool, relay: RelayHandle::default() }
    }

    /// Nothing to do: SQLite runs one writing transaction at a time, and a hold's reads the
    /// closed events after its writes.
    async fn lock_sales(
        _transaction: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        _event_ids: &[Uuid],
    ) -> Result<()> {
        Ok(())
    }

    /// The rows of `select` (a query up to its WHERE) whose `key` is one of `ids`, ordered by
    /// `order_by` within each id: one statement per id (SQLite runs them in process).
    async fn rows_of<T>(
        pool: &sqlx::SqlitePool,
        select: &str,
        key: &str,
        order_by: &str,
        ids: &[Uuid],
    ) -> sqlx::Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
    {
        let sql = format!("{select} WHERE {key} = $1 ORDER BY {order_by}");
        let mut rows = Vec::new();
        for id in ids {
            rows.extend(sqlx::query_as(&sql).bind(id).fetch_all(pool).await?);
        }
        Ok(rows)
    }

    /// The compare-and-set of confirmation of every booking of `payments`, one statement each
    /// (SQLite runs them in process); the rows of those confirmed.
    async fn mark_confirmed(
        transaction: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        payments: &[Payment],
        now: DateTime<Utc>,
    ) -> sqlx::Result<Vec<BookingRow>> {
        let Transition { from, to } = Change::Confirm.transition();
        let mut confirmed = Vec::with_capacity(payments.len());
        for payment in payments {
            let row: Option<BookingRow> = sqlx::query_as(&format!(
                "UPDATE bookings SET status = $1, charge_id = $2, updated_at = $3 \
                 WHERE id = $4 AND status = $5 AND expires_at > $3 \
                 AND NOT EXISTS (SELECT 1 FROM closed_events c WHERE c.event_id = bookings.event_id) \
                 RETURNING {BOOKING_COLUMNS}"
            ))
            .bind(to.as_str())
            .bind(payment.charge_id.as_str())
            .bind(now)
            .bind(payment.booking_id)
            .bind(from.as_str())
            .fetch_optional(&mut **transaction)
            .await?;
            confirmed.extend(row);
        }
        Ok(confirmed)
    }

    /// The tickets, as many per statement as SQLite takes.
    async fn insert_tickets(
        transaction: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        tickets: &[&TicketRecord],
    ) -> sqlx::Result<()> {
        for chunk in tickets.chunks(TICKETS_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO tickets (id, booking_id, event_id, category_id, unit_id, seat, price_cents, code) ",
            );
            insert.push_values(chunk, |mut row, ticket| {
                row.push_bind(ticket.id)
                    .push_bind(ticket.booking_id)
                    .push_bind(ticket.event_id)
                    .push_bind(ticket.category_id)
                    .push_bind(ticket.unit_id.as_str())
                    .push_bind(ticket.seat.as_deref())
                    .push_bind(ticket.price_cents)
                    .push_bind(ticket.code.as_str());
            });
            insert.build().execute(&mut **transaction).await?;
        }
        Ok(())
    }

    /// The offers of a waiting list that these bookings were, ended as `status`.
    async fn end_offers(
        transaction: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        booking_ids: &[Uuid],
        status: EntryStatus,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        for booking_id in booking_ids {
            sqlx::query(
                "UPDATE waiting_list SET status = $2, updated_at = $3 WHERE booking_id = $1 AND status = $4",
            )
            .bind(booking_id)
            .bind(status.as_str())
            .bind(now)
            .bind(EntryStatus::Offered.as_str())
            .execute(&mut **transaction)
            .await?;
        }
        Ok(())
    }

    /// Whether any of `event_ids` is closed.
    async fn any_closed(
        transaction: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        event_ids: &[Uuid],
    ) -> sqlx::Result<bool> {
        let mut closed =
            sqlx::QueryBuilder::<sqlx::Sqlite>::new("SELECT event_id FROM closed_events WHERE event_id IN (");
        let mut separated = closed.separated(", ");
        for event_id in event_ids {
            separated.push_bind(*event_id);
        }
        closed.push(") LIMIT 1");
        let closed: Option<(Uuid,)> = closed.build_query_as().fetch_optional(&mut **transaction).await?;
        Ok(closed.is_some())
    }

    /// The pending bookings, as many per statement as SQLite takes.
    async fn insert_bookings(
        transaction: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        bookings: &[EncodedBooking<'_>],
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        for chunk in bookings.chunks(BOOKINGS_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO bookings (id, event_id, user_id, status, items, seats, total_cents, currency, \
                 expires_at, created_at, updated_at) ",
            );
            insert.push_values(chunk, |mut row, (booking, items, seats)| {
                row.push_bind(booking.id)
                    .push_bind(booking.event_id)
                    .push_bind(booking.user_id)
                    .push_bind(booking.status.as_str())
                    .push_bind(items.as_str())
                    .push_bind(seats.as_str())
                    .push_bind(booking.total_cents)
                    .push_bind(booking.currency.as_str())
                    .push_bind(booking.expires_at)
                    .push_bind(booking.created_at)
                    .push_bind(now);
            });
            insert.build().execute(&mut **transaction).await?;
        }
        Ok(())
    }

    /// The units of the pending bookings, as many per statement as SQLite takes.
    async fn insert_units(
        transaction: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        units: &[(&BookingRecord, &Unit)],
    ) -> sqlx::Result<()> {
        for chunk in units.chunks(UNITS_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO booking_units (booking_id, event_id, category_id, unit_id) ",
            );
            insert.push_values(chunk, |mut row, (booking, (category_id, unit_id))| {
                row.push_bind(booking.id)
                    .push_bind(booking.event_id)
                    .push_bind(*category_id)
                    .push_bind(unit_id.as_str());
            });
            insert.build().execute(&mut **transaction).await?;
        }
        Ok(())
    }

    /// Nothing to do, as for [`SqliteBookingDb::lock_sales`].
    async fn lock_sale_closing(
        _transaction: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        _event_id: Uuid,
    ) -> Result<()> {
        Ok(())
    }

    /// Nothing to do: SQLite runs one writing transaction at a time, and both a join and a
    /// closing write before they read the waiting list.
    async fn lock_waiting_list(
        _transaction: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        _event_id: Uuid,
        _category_id: Uuid,
    ) -> Result<()> {
        Ok(())
    }
}
