//! The notifications service's database: PostgreSQL in production, SQLite embedded. One SQL
//! body, written once in [`sql_store!`], implements [`MailStore`] for both; only the claim
//! differs (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so that replicas never claim one email).
//!
//! Three tables: `known_events` and `ticket_holders`, what the service learnt from the other
//! services' domain events, and `mail`, the emails it owes and has sent.

use std::collections::BTreeSet;

use boxoffice_db::database_error;
use boxoffice_errors::Error;
use boxoffice_outbox::OutboxSql;
use boxoffice_telemetry::TraceHeaders;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use uuid::Uuid;

use crate::domain::{
    CategoryName, Effect, EventInfo, Handled, MailDetails, MailJob, MailStatus, NewMail, Tried,
};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The PostgreSQL schema this service owns; no other service reads it.
pub const POSTGRES_SCHEMA: &str = "notifications";

pub static MIGRATIONS: boxoffice_db::Migrations =
    boxoffice_db::Migrations { postgres: &POSTGRES_MIGRATIONS, sqlite: &SQLITE_MIGRATIONS };
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Emails per INSERT, within SQLite's limit of 32,766 bound parameters (11 per email).
const MAILS_PER_INSERT: usize = 1_000;

#[async_trait::async_trait]
pub trait MailStore: Send + Sync + 'static {
    /// Records that `consumer` handled each domain event, and makes its effect, in
    /// their order, all in one transaction; an event handled already (a redelivery) changes
    /// nothing. Returns how many emails they queued.
    async fn apply(&self, consumer: &str, effects: &[Handled], now: DateTime<Utc>) -> Result<usize>;
    /// Records how many pooled connections are in use.
    fn record_pool_usage(&self);
    /// Claims up to `limit` emails due at `now`: their attempts count one more, and nobody else
    /// claims them before `lease_until`.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<MailJob>>;
    /// Records what became of the emails of a round, in one statement: each finished (sent,
    /// skipped or failed, at `now`) or left pending until its next try. An email claimed again
    /// since its try (a claim that ran out) is left as that claim has it.
    async fn record(&self, tried: &[Tried], now: DateTime<Utc>) -> Result<()>;
    /// An event as the last of its domain events described it.
    async fn event(&self, id: Uuid) -> Result<Option<EventInfo>>;
    /// Keeps `event`, learnt from the events service, as if its domain event had come.
    async fn remember_event(&self, event: &EventInfo) -> Result<()>;
    /// Whether booking `booking_id` still holds its tickets: confirmed, not refunded at its
    /// owner's request, and its event not cancelled. A tickets email sent late (the mail server
    /// was away) is not sent at all when the tickets are void by then.
    async fn tickets_still_held(&self, booking_id: Uuid) -> Result<bool>;
    /// Puts every failed email back in the queue, to be tried at `now` from its first attempt;
    /// returns how many. For an operator, once what made them fail is fixed.
    async fn requeue_failed(&self, now: DateTime<Utc>) -> Result<u64>;
    /// Emails waiting to be sent.
    async fn pending(&self) -> Result<i64>;
    /// Deletes emails finished, records of events processed, and events (with their holders)
    /// that ended, before `before`.
    async fn purge(&self, before: DateTime<Utc>) -> Result<u64>;
    async fn ping(&self) -> Result<()>;
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: Uuid,
    name: String,
    city: String,
    venue_name: Option<String>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    categories: String,
    changed_at: DateTime<Utc>,
    revision: i32,
}

impl TryFrom<EventRow> for EventInfo {
    type Error = Error;

    fn try_from(row: EventRow) -> Result<Self> {
        let categories: Vec<CategoryName> = serde_json::from_str(&row.categories).map_err(Error::internal)?;
        Ok(EventInfo {
            id: row.id,
            name: row.name,
            city: row.city,
            venue_name: row.venue_name,
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            categories,
            changed_at: row.changed_at,
            revision: i64::from(row.revision),
        })
    }
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: Uuid,
    user_id: Uuid,
    event_id: Uuid,
    details: String,
    attempts: i32,
    traceparent: Option<String>,
    request_id: Option<String>,
}

impl TryFrom<JobRow> for MailJob {
    type Error = Error;

    fn try_from(row: JobRow) -> Result<Self> {
        Ok(MailJob {
            id: row.id,
            user_id: row.user_id,
            event_id: row.event_id,
            details: serde_json::from_str(&row.details).map_err(Error::internal)?,
            attempts: u32::try_from(row.attempts).map_err(Error::internal)?,
            trace: TraceHeaders { traceparent: row.traceparent, request_id: row.request_id },
        })
    }
}

fn details_json(details: &MailDetails) -> Result<String> {
    serde_json::to_string(details).map_err(Error::internal)
}

/// What [`MailStore::purge`] deletes, each older than its `$1`; holders before their events.
const PURGES: [&str; 4] = [
    "DELETE FROM mail WHERE finished_at < $1",
    "DELETE FROM processed_events WHERE processed_at < $1",
    "DELETE FROM ticket_holders WHERE event_id IN (SELECT id FROM known_events WHERE ends_at < $1)",
    "DELETE FROM known_events WHERE ends_at < $1",
];

/// A lock of one event, for the transaction's length, on PostgreSQL: a confirmation and its
/// event's cancellation handled at once by two replicas (each reads what the other writes) take
/// turns, so that neither misses the other. SQLite has one writer at a time anyway.
fn event_lock_key(event_id: Uuid) -> i64 {
    let (high, _) = event_id.as_u64_pair();
    i64::from_ne_bytes(high.to_ne_bytes())
}

macro_rules! sql_store {
    ($name:ident, $database:ty, claim_lock = $claim_lock:literal, event_lock = $event_lock:literal) => {
        #[derive(Clone)]
        pub struct $name {
            pool: sqlx::Pool<$database>,
        }

        impl $name {
            pub fn new(pool: sqlx::Pool<$database>) -> Self {
                $name { pool }
            }

            async fn lock_event(connection: &mut <$database as sqlx::Database>::Connection, event_id: Uuid) -> Result<()> {
                sqlx::query($event_lock)
                    .bind(event_lock_key(event_id))
                    .execute(&mut *connection)
                    .await
                    .map_err(database_error)?;
                Ok(())
            }

            async fn upsert_event(connection: &mut <$database as sqlx::Database>::Connection, event: &EventInfo) -> Result<()> {
                let categories = serde_json::to_string(&event.categories).map_err(Error::internal)?;
                sqlx::query(
                    "INSERT INTO known_events (id, name, city, venue_name, starts_at, ends_at, categories, changed_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, city = excluded.city, \
                     venue_name = excluded.venue_name, starts_at = excluded.starts_at, \
                     ends_at = excluded.ends_at, categories = excluded.categories, changed_at = excluded.changed_at, \
                     revision = known_events.revision + 1 \
                     WHERE known_events.changed_at <= excluded.changed_at",
                )
                .bind(event.id)
                .bind(&event.name)
                .bind(&event.city)
                .bind(&event.venue_name)
                .bind(event.starts_at)
                .bind(event.ends_at)
                .bind(categories)
                .bind(event.changed_at)
                .execute(&mut *connection)
                .await
                .map_err(database_error)?;
                Ok(())
            }

            /// Queues `mails`; one already owed for the same domain event and recipient stays
            /// the only one. Returns how many were new.
            async fn insert_mails(
                connection: &mut <$database as sqlx::Database>::Connection,
                mails: &[NewMail],
                trace: &TraceHeaders,
                now: DateTime<Utc>,
            ) -> Result<usize> {
                let mut inserted = 0;
                for chunk in mails.chunks(MAILS_PER_INSERT) {
                    let rows = chunk
                        .iter()
                        .map(|mail| Ok((mail, details_json(&mail.details)?)))
                        .collect::<Result<Vec<_>>>()?;
                    let mut insert = sqlx::QueryBuilder::<$database>::new(
                        "INSERT INTO mail (id, source_event_id, kind, user_id, event_id, details, status, \
                         next_attempt_at, created_at, traceparent, request_id) ",
                    );
                    insert.push_values(rows, |mut row, (mail, details)| {
                        row.push_bind(mail.id)
                            .push_bind(mail.source_event_id)
                            .push_bind(mail.details.kind().as_str())
                            .push_bind(mail.user_id)
                            .push_bind(mail.event_id)
                            .push_bind(details)
                            .push_bind(MailStatus::Pending.as_str())
                            .push_bind(now)
                            .push_bind(now)
                            .push_bind(trace.traceparent.clone())
                            .push_bind(trace.request_id.clone());
                    });
                    insert.push(" ON CONFLICT (source_event_id, user_id) DO NOTHING");
                    let done = insert.build().execute(&mut *connection).await.map_err(database_error)?;
                    inserted += usize::try_from(done.rows_affected()).map_err(Error::internal)?;
                }
                Ok(inserted)
            }

            /// Makes `effect` on the transaction's `connection`, which holds the lock of the event
            /// it [locks](Effect::locks_event); returns the emails it queued, which go on in
            /// `trace` (the handling of their domain event) to their sending.
            async fn effect(
                connection: &mut <$database as sqlx::Database>::Connection,
                effect: &Effect,
                trace: &TraceHeaders,
                now: DateTime<Utc>,
            ) -> Result<usize> {
                match effect {
                    Effect::EventKnown(event) => {
                        Self::upsert_event(connection, event).await?;
                        Ok(0)
                    }
                    Effect::EventCancelled { event, cancellation } => {
                        Self::upsert_event(connection, event).await?;
                        sqlx::query("UPDATE known_events SET cancelled_by = $2, revision = revision + 1 \
                             WHERE id = $1 AND cancelled_by IS NULL")
                            .bind(event.id)
                            .bind(cancellation)
                            .execute(&mut *connection)
                            .await
                            .map_err(database_error)?;
                        let holders: Vec<(Uuid,)> =
                            sqlx::query_as("SELECT DISTINCT user_id FROM ticket_holders WHERE event_id = $1")
                                .bind(event.id)
                                .fetch_all(&mut *connection)
                                .await
                                .map_err(database_error)?;
                        let mails: Vec<NewMail> = holders
                            .into_iter()
                            .map(|(user_id,)| {
                                NewMail::new(*cancellation, user_id, event.id, MailDetails::EventCancelled)
                            })
                            .collect();
                        Self::insert_mails(connection, &mails, trace, now).await
                    }
                    Effect::Confirmed { booking_id, mail } => {
                        sqlx::query(
                            "INSERT INTO ticket_holders (booking_id, event_id, user_id) VALUES ($1, $2, $3) \
                             ON CONFLICT (booking_id) DO NOTHING",
                        )
                        .bind(booking_id)
                        .bind(mail.event_id)
                        .bind(mail.user_id)
                        .execute(&mut *connection)
                        .await
                        .map_err(database_error)?;
                        let mut mails = vec![mail.clone()];
                        // Confirmed after its event's cancellation was handled here: the holder
                        // is told of it too, as one of the holders it went to.
                        let cancelled: Option<(Option<Uuid>,)> =
                            sqlx::query_as("SELECT cancelled_by FROM known_events WHERE id = $1")
                                .bind(mail.event_id)
                                .fetch_optional(&mut *connection)
                                .await
                                .map_err(database_error)?;
                        if let Some((Some(cancellation),)) = cancelled {
                            mails.push(NewMail::new(cancellation, mail.user_id, mail.event_id, MailDetails::EventCancelled));
                        }
                        Self::insert_mails(connection, &mails, trace, now).await
                    }
                    Effect::Tell(mail) => Self::insert_mails(connection, std::slice::from_ref(mail), trace, now).await,
                    Effect::Refunded { booking_id, leaves_holders, mail } => {
                        if *leaves_holders {
                            sqlx::query("DELETE FROM ticket_holders WHERE booking_id = $1")
                                .bind(booking_id)
                                .execute(&mut *connection)
                                .await
                                .map_err(database_error)?;
                        }
                        Self::insert_mails(connection, std::slice::from_ref(mail), trace, now).await
                    }
                }
            }
        }

        #[async_trait::async_trait]
        impl MailStore for $name {
            async fn apply(&self, consumer: &str, effects: &[Handled], now: DateTime<Utc>) -> Result<usize> {
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                // The events the batch changes the holders of, locked first and in one order, so
                // that two batches at once never each wait for a lock the other holds.
                let locked: BTreeSet<Uuid> = effects.iter().filter_map(|handled| handled.effect.locks_event()).collect();
                for event_id in locked {
                    Self::lock_event(&mut transaction, event_id).await?;
                }
                let mut queued = 0;
                for Handled { event_id, effect, trace } in effects {
                    if <$database as OutboxSql>::mark_processed(&mut transaction, consumer, *event_id, now)
                        .await
                        .map_err(database_error)?
                    {
                        queued += Self::effect(&mut transaction, effect, trace, now).await?;
                    }
                }
                transaction.commit().await.map_err(database_error)?;
                Ok(queued)
            }

            async fn claim_due(
                &self,
                now: DateTime<Utc>,
                lease_until: DateTime<Utc>,
                limit: u32,
            ) -> Result<Vec<MailJob>> {
                // Tickets first, then the rest; each walks its own index in order.
                let mut rows: Vec<JobRow> = Vec::new();
                for which in ["kind = 'tickets'", "kind <> 'tickets'"] {
                    let wanted = i64::from(limit) - i64::try_from(rows.len()).map_err(Error::internal)?;
                    if wanted <= 0 {
                        break;
                    }
                    let sql = format!(
                        "UPDATE mail SET attempts = attempts + 1, next_attempt_at = $2 WHERE id IN \
                         (SELECT id FROM mail WHERE status = 'pending' AND {which} AND next_attempt_at <= $1 \
                         ORDER BY next_attempt_at LIMIT $3{}) \
                         RETURNING id, user_id, event_id, details, attempts, traceparent, request_id",
                        $claim_lock
                    );
                    let claimed: Vec<JobRow> = sqlx::query_as(&sql)
                        .bind(now)
                        .bind(lease_until)
                        .bind(wanted)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(database_error)?;
                    rows.extend(claimed);
                }
                rows.into_iter().map(MailJob::try_from).collect()
            }

            async fn record(&self, tried: &[Tried], now: DateTime<Utc>) -> Result<()> {
                if tried.is_empty() {
                    return Ok(());
                }
                let rows = tried
                    .iter()
                    .map(|tried| Ok((tried, i32::try_from(tried.attempts).map_err(Error::internal)?)))
                    .collect::<Result<Vec<_>>>()?;
                // A VALUES list's columns are column1, column2, ... on both databases.
                let mut update = sqlx::QueryBuilder::<$database>::new(
                    "UPDATE mail SET status = o.column3, last_error = COALESCE(o.column4, mail.last_error), \
                     finished_at = o.column5, next_attempt_at = COALESCE(o.column6, mail.next_attempt_at) FROM (",
                );
                update.push_values(rows, |mut row, (tried, attempts)| {
                    let status = tried.outcome.status();
                    let finished = status != MailStatus::Pending;
                    row.push_bind(tried.id)
                        .push_bind(attempts)
                        .push_bind(status.as_str())
                        .push_bind(tried.outcome.error().map(str::to_owned))
                        .push_bind(finished.then_some(now))
                        .push_bind(tried.outcome.next_attempt_at());
                });
                update.push(
                    ") AS o WHERE mail.id = o.column1 AND mail.attempts = o.column2 AND mail.status = 'pending'",
                );
                update.build().execute(&self.pool).await.map_err(database_error)?;
                Ok(())
            }

            async fn remember_event(&self, event: &EventInfo) -> Result<()> {
                let mut connection = self.pool.acquire().await.map_err(database_error)?;
                Self::upsert_event(&mut connection, event).await
            }

            async fn tickets_still_held(&self, booking_id: Uuid) -> Result<bool> {
                let held: Option<(Uuid,)> = sqlx::query_as(
                    "SELECT h.booking_id FROM ticket_holders h LEFT JOIN known_events e ON e.id = h.event_id \
                     WHERE h.booking_id = $1 AND e.cancelled_by IS NULL",
                )
                .bind(booking_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(database_error)?;
                Ok(held.is_some())
            }

            async fn requeue_failed(&self, now: DateTime<Utc>) -> Result<u64> {
                let requeued = sqlx::query(
                    "UPDATE mail SET status = 'pending', attempts = 0, next_attempt_at = $1, finished_at = NULL \
                     WHERE status = 'failed'",
                )
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(database_error)?;
                Ok(requeued.rows_affected())
            }

            async fn event(&self, id: Uuid) -> Result<Option<EventInfo>> {
                let row: Option<EventRow> = sqlx::query_as(
                    "SELECT id, name, city, venue_name, starts_at, ends_at, categories, changed_at, revision \
                     FROM known_events WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(database_error)?;
                row.map(EventInfo::try_from).transpose()
            }

            async fn pending(&self) -> Result<i64> {
                // Each kind counted through its own index of the pending emails.
                let (count,): (i64,) = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM mail WHERE status = 'pending' AND kind = 'tickets') \
                     + (SELECT COUNT(*) FROM mail WHERE status = 'pending' AND kind <> 'tickets')",
                )
                    .fetch_one(&self.pool)
                    .await
                    .map_err(database_error)?;
                Ok(count)
            }

            async fn purge(&self, before: DateTime<Utc>) -> Result<u64> {
                let mut deleted = 0;
                for statement in PURGES {
                    let done = sqlx::query(statement)
                        .bind(before)
                        .execute(&self.pool)
                        .await
                        .map_err(database_error)?;
                    deleted += done.rows_affected();
                }
                Ok(deleted)
            }

            fn record_pool_usage(&self) {
                boxoffice_db::record_pool_usage("notifications", self.pool.size(), self.pool.num_idle());
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await.map_err(database_error)?;
                Ok(())
            }
        }
    };
}

sql_store!(
    PostgresMailStore,
    sqlx::Postgres,
    claim_lock = " FOR UPDATE SKIP LOCKED",
    event_lock = "SELECT pg_advisory_xact_lock($1)"
);
sql_store!(SqliteMailStore, sqlx::Sqlite, claim_lock = "", event_lock = "SELECT $1");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IssuedTicket, TryOutcome};
    use crate::Database;

    fn event(id: Uuid) -> EventInfo {
        let now = Utc::now();
        EventInfo {
            id,
            name: "Concert".into(),
            city: "Lyon".into(),
            venue_name: None,
            starts_at: now + chrono::Duration::days(30),
            ends_at: now + chrono::Duration::days(31),
            categories: Vec::new(),
            changed_at: now,
            revision: 0,
        }
    }

    fn confirmed(event_id: Uuid, user_id: Uuid) -> Handled {
        let booking_id = Uuid::now_v7();
        let details = MailDetails::Tickets {
            booking_id,
            total_cents: 5_000,
            currency: "EUR".into(),
            tickets: vec![IssuedTicket {
                id: Uuid::now_v7(),
                category_id: Uuid::now_v7(),
                seat: None,
                code: "code".into(),
                price_cents: 5_000,
            }],
        };
        let message = Uuid::now_v7();
        let mail = NewMail::new(message, user_id, event_id, details);
        Handled {
            event_id: message,
            effect: Effect::Confirmed { booking_id, mail },
            trace: TraceHeaders::default(),
        }
    }

    async fn mails(pool: &sqlx::SqlitePool) -> Vec<(Uuid, String)> {
        sqlx::query_as("SELECT user_id, kind FROM mail ORDER BY user_id, kind").fetch_all(pool).await.unwrap()
    }

    /// A test's folder, removed however the test ends.
    struct Folder(std::path::PathBuf);

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A store on a fresh SQLite file, and a connection of its own to read what it wrote; the
    /// file goes with the folder.
    async fn sqlite_store() -> (Folder, std::sync::Arc<dyn MailStore>, sqlx::SqlitePool) {
        let folder = Folder(std::env::temp_dir().join(format!("boxoffice-mail-store-{}", Uuid::now_v7())));
        let path = folder.0.join("notifications.db");
        let store =
            crate::open_store(&Database::Sqlite { path: path.clone(), max_connections: 1 }).await.unwrap();
        let pool = boxoffice_db::sqlite_pool(&path, 1).await.unwrap();
        (folder, store, pool)
    }

    fn handled(effect: Effect) -> Handled {
        Handled { event_id: Uuid::now_v7(), effect, trace: TraceHeaders::default() }
    }

    /// `handled`'s domain event delivered again.
    fn again(handled: &Handled) -> Handled {
        Handled { event_id: handled.event_id, effect: handled.effect.clone(), trace: TraceHeaders::default() }
    }

    /// A batch that mixes confirmations with a refund and their event's cancellation, and holds
    /// two domain events twice (redeliveries): each is made once, in its order. A holder who
    /// left before the cancellation is not told of it; one confirmed after it is.
    #[tokio::test]
    async fn a_batch_is_made_in_its_order_and_each_domain_event_once() {
        let (_folder, store, pool) = sqlite_store().await;
        let event_id = Uuid::now_v7();
        let (early, gone, late, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let known = handled(Effect::EventKnown(event(event_id)));
        let known_again = again(&known);
        let first = confirmed(event_id, early);
        let first_again = again(&first);
        let leaving = confirmed(event_id, gone);
        let Effect::Confirmed { booking_id: left, .. } = leaving.effect else { unreachable!() };
        let refund = MailDetails::Refund {
            booking_id: left,
            total_cents: 5_000,
            currency: "EUR".into(),
            because_event_cancelled: false,
        };
        let refunded = handled(Effect::Refunded {
            booking_id: left,
            leaves_holders: true,
            mail: NewMail::new(Uuid::now_v7(), gone, event_id, refund),
        });
        let cancellation = Uuid::now_v7();
        let cancelled = Handled {
            event_id: cancellation,
            effect: Effect::EventCancelled { event: event(event_id), cancellation },
            trace: TraceHeaders::default(),
        };
        let after = confirmed(event_id, late);
        let elsewhere = confirmed(Uuid::now_v7(), other);
        let batch = [known, known_again, first, leaving, refunded, cancelled, after, first_again, elsewhere];

        let queued = store.apply("notifications", &batch, Utc::now()).await.unwrap();

        let mut expected = vec![
            (early, "event_cancelled".to_owned()),
            (early, "tickets".to_owned()),
            (gone, "refund".to_owned()),
            (gone, "tickets".to_owned()),
            (late, "event_cancelled".to_owned()),
            (late, "tickets".to_owned()),
            (other, "tickets".to_owned()),
        ];
        expected.sort();
        assert_eq!(mails(&pool).await, expected);
        assert_eq!(queued, 7);
        let processed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM processed_events").fetch_one(&pool).await.unwrap();
        assert_eq!(processed, 7, "each domain event recorded once");
        // Known once (0), then its cancellation's own record of it and the cancellation: a
        // second EventKnown would have counted one more.
        let revision: i32 = sqlx::query_scalar("SELECT revision FROM known_events WHERE id = $1")
            .bind(event_id)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(revision, 2);

        // The same batch again (Kafka redelivered it): nothing more.
        assert_eq!(store.apply("notifications", &batch, Utc::now()).await.unwrap(), 0);
        assert_eq!(mails(&pool).await, expected);
        pool.close().await;
    }

    /// A round's outcomes, recorded in one statement: each email as its try left it. An email
    /// whose claim ran out and was claimed again keeps the later claim's outcome, not the late
    /// one of the claim before; an email sent after a failed try keeps why that try failed.
    #[tokio::test]
    async fn a_rounds_outcomes_are_recorded_together_but_not_a_claim_run_out() {
        let (_folder, store, pool) = sqlite_store().await;
        let event_id = Uuid::now_v7();
        let users: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
        let batch: Vec<Handled> = users.iter().map(|user| confirmed(event_id, *user)).collect();
        let now = Utc::now();
        assert_eq!(store.apply("notifications", &batch, now).await.unwrap(), 5);
        let lease = chrono::Duration::minutes(5);
        let claimed = store.claim_due(now, now + lease, 8).await.unwrap();
        assert_eq!(claimed.len(), 5);
        let id = |user: Uuid| claimed.iter().find(|job| job.user_id == user).unwrap().id;
        let again_at = now + chrono::Duration::seconds(2);
        let first = now + chrono::Duration::seconds(1);
        // The try of users[3] outlasts its claim: it is recorded only later.
        store
            .record(
                &[
                    Tried {
                        id: id(users[0]),
                        attempts: 1,
                        outcome: TryOutcome::Again { at: again_at, error: "421 later".into() },
                    },
                    Tried { id: id(users[1]), attempts: 1, outcome: TryOutcome::Skipped("no such account") },
                    Tried { id: id(users[2]), attempts: 1, outcome: TryOutcome::Failed("550 no".into()) },
                    Tried { id: id(users[4]), attempts: 1, outcome: TryOutcome::Sent },
                ],
                first,
            )
            .await
            .unwrap();
        store.record(&[], first).await.unwrap();
        // After the lease, users[3]'s email is claimed again, with users[0]'s retry.
        let later = now + lease + chrono::Duration::seconds(1);
        let again = store.claim_due(later, later + lease, 8).await.unwrap();
        let mut again_ids: Vec<(Uuid, u32)> = again.iter().map(|job| (job.id, job.attempts)).collect();
        again_ids.sort();
        let mut expected = vec![(id(users[0]), 2), (id(users[3]), 2)];
        expected.sort();
        assert_eq!(again_ids, expected);
        let second = later + chrono::Duration::seconds(1);
        store
            .record(
                &[
                    // The first claim's try of users[3] ends at last: too late to count.
                    Tried { id: id(users[3]), attempts: 1, outcome: TryOutcome::Failed("timed out".into()) },
                    Tried { id: id(users[0]), attempts: 2, outcome: TryOutcome::Sent },
                ],
                second,
            )
            .await
            .unwrap();

        type Row = (String, Option<String>, Option<DateTime<Utc>>, DateTime<Utc>);
        let row = |user: Uuid| {
            let pool = pool.clone();
            async move {
                sqlx::query_as::<_, Row>(
                    "SELECT status, last_error, finished_at, next_attempt_at FROM mail WHERE user_id = $1",
                )
                .bind(user)
                .fetch_one(&pool)
                .await
                .unwrap()
            }
        };
        assert_eq!(
            row(users[0]).await,
            ("sent".into(), Some("421 later".into()), Some(second), later + lease)
        );
        assert_eq!(
            row(users[1]).await,
            ("skipped".into(), Some("no such account".into()), Some(first), now + lease)
        );
        assert_eq!(row(users[2]).await, ("failed".into(), Some("550 no".into()), Some(first), now + lease));
        assert_eq!(row(users[3]).await, ("pending".into(), None, None, later + lease), "the second claim's");
        assert_eq!(row(users[4]).await, ("sent".into(), None, Some(first), now + lease));
        assert_eq!(store.pending().await.unwrap(), 1);
        pool.close().await;
    }
}
