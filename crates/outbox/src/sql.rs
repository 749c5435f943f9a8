//! The outbox and processed-events tables, in each service's own database. The tables are
//! created by each service's migrations (`outbox`, `outbox_relay`, `processed_events`).
//!
//! Writing happens inside the service's transactions ([`OutboxSql`]); relaying and purging
//! happen on the relay's own connections ([`OutboxDb`]).

use boxoffice_telemetry::TraceHeaders;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, SqlitePool};
use uuid::Uuid;

use crate::relay::{Publisher, RelayHandle};
use crate::{OutboxEvent, Pending, Topic};

/// Rows per SQLite INSERT, within its limit of 32,766 bound parameters (7 per row).
const ROWS_PER_INSERT: usize = 4_000;

/// What the outbox writes inside a service's own transaction, for each database.
#[async_trait::async_trait]
pub trait OutboxSql: sqlx::Database {
    /// Adds the events to the outbox, in order, on `connection` (the service's transaction).
    async fn write_outbox(connection: &mut Self::Connection, events: &[OutboxEvent]) -> sqlx::Result<()>;

    /// Records that `consumer` has handled `event_id`: true the first time, false when it had
    /// (the message is a redelivery, and its effect must not happen again). Called in the
    /// transaction of the effect, so that the two commit together.
    async fn mark_processed(
        connection: &mut Self::Connection,
        consumer: &str,
        event_id: Uuid,
        now: DateTime<Utc>,
    ) -> sqlx::Result<bool>;

    /// Marks relayed rows sent (the relay's own statement).
    #[doc(hidden)]
    async fn mark_sent(connection: &mut Self::Connection, sent: &[Pending]) -> sqlx::Result<()>;
}

macro_rules! outbox_sql {
    ($database:ty, $write_outbox:ident, $mark_sent:ident) => {
        #[async_trait::async_trait]
        impl OutboxSql for $database {
            async fn write_outbox(
                connection: &mut <$database as sqlx::Database>::Connection,
                events: &[OutboxEvent],
            ) -> sqlx::Result<()> {
                $write_outbox(connection, events).await
            }

            async fn mark_processed(
                connection: &mut <$database as sqlx::Database>::Connection,
                consumer: &str,
                event_id: Uuid,
                now: DateTime<Utc>,
            ) -> sqlx::Result<bool> {
                let inserted = sqlx::query(
                    "INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(consumer)
                .bind(event_id)
                .bind(now)
                .execute(&mut *connection)
                .await?;
                Ok(inserted.rows_affected() == 1)
            }

            async fn mark_sent(
                connection: &mut <$database as sqlx::Database>::Connection,
                sent: &[Pending],
            ) -> sqlx::Result<()> {
                $mark_sent(connection, sent).await
            }
        }
    };
}

outbox_sql!(sqlx::Postgres, write_outbox_postgres, mark_sent_postgres);
outbox_sql!(sqlx::Sqlite, write_outbox_sqlite, mark_sent_sqlite);

/// One statement of one shape for any number of events (arrays, unnested in their order), so
/// that PostgreSQL plans it once per connection.
async fn write_outbox_postgres(
    connection: &mut sqlx::PgConnection,
    events: &[OutboxEvent],
) -> sqlx::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO outbox (event_id, topic, aggregate_id, envelope, created_at, traceparent, request_id) \
         SELECT event_id, topic, aggregate_id, envelope, created_at, traceparent, request_id \
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::bytea[], $5::timestamptz[], $6::text[], $7::text[]) \
         WITH ORDINALITY AS e (event_id, topic, aggregate_id, envelope, created_at, traceparent, request_id, n) \
         ORDER BY n",
    )
    .bind(events.iter().map(|event| event.event_id).collect::<Vec<_>>())
    .bind(events.iter().map(|event| event.topic.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|event| event.key.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|event| event.envelope.as_slice()).collect::<Vec<_>>())
    .bind(events.iter().map(|event| event.created_at).collect::<Vec<_>>())
    .bind(events.iter().map(|event| event.trace.traceparent.as_deref()).collect::<Vec<_>>())
    .bind(events.iter().map(|event| event.trace.request_id.as_deref()).collect::<Vec<_>>())
    .execute(connection)
    .await?;
    Ok(())
}

async fn write_outbox_sqlite(
    connection: &mut sqlx::SqliteConnection,
    events: &[OutboxEvent],
) -> sqlx::Result<()> {
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO outbox (event_id, topic, aggregate_id, envelope, created_at, traceparent, request_id) ",
        );
        insert.push_values(chunk, |mut row, event| {
            row.push_bind(event.event_id)
                .push_bind(event.topic.as_str())
                .push_bind(event.key.clone())
                .push_bind(event.envelope.clone())
                .push_bind(event.created_at)
                .push_bind(event.trace.traceparent.clone())
                .push_bind(event.trace.request_id.clone());
        });
        insert.build().execute(&mut *connection).await?;
    }
    Ok(())
}

async fn mark_sent_postgres(connection: &mut sqlx::PgConnection, sent: &[Pending]) -> sqlx::Result<()> {
    let ids: Vec<i64> = sent.iter().map(|row| row.position).collect();
    sqlx::query("UPDATE outbox SET sent_at = $1 WHERE id = ANY($2)")
        .bind(Utc::now())
        .bind(ids)
        .execute(connection)
        .await?;
    Ok(())
}

async fn mark_sent_sqlite(connection: &mut sqlx::SqliteConnection, sent: &[Pending]) -> sqlx::Result<()> {
    let now = Utc::now();
    for chunk in sent.chunks(ROWS_PER_INSERT) {
        let mut update = sqlx::QueryBuilder::<sqlx::Sqlite>::new("UPDATE outbox SET sent_at = ");
        update.push_bind(now).push(" WHERE id IN (");
        let mut ids = update.separated(", ");
        for row in chunk {
            ids.push_bind(row.position);
        }
        update.push(")");
        update.build().execute(&mut *connection).await?;
    }
    Ok(())
}

/// How every change that tells something ends: its domain events written to the outbox in its
/// `transaction`, the commit, then the relay woken.
pub async fn commit_telling<D: OutboxSql>(
    mut transaction: sqlx::Transaction<'_, D>,
    events: &[OutboxEvent],
    relay: &RelayHandle,
) -> sqlx::Result<()> {
    D::write_outbox(&mut transaction, events).await?;
    transaction.commit().await?;
    relay.wake();
    Ok(())
}

/// A service's outbox, as its relay reads it.
#[derive(Clone, Debug)]
pub enum OutboxDb {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

type Row = (i64, String, String, Vec<u8>, DateTime<Utc>, Option<String>, Option<String>);

/// The rows as the publisher takes them; [`PENDING_SQL`] selects only topics this build knows.
fn into_pending(rows: Vec<Row>) -> Vec<Pending> {
    rows.into_iter()
        .filter_map(|(position, topic, key, envelope, created_at, traceparent, request_id)| {
            let trace = TraceHeaders { traceparent, request_id };
            Some(Pending { position, topic: Topic::parse(&topic)?, key, envelope, created_at, trace })
        })
        .collect()
}

/// Rows sent, or processed-event records, deleted per purge statement: a purge never holds
/// SQLite's one write lock for long.
const PURGE_BATCH: u32 = 5_000;

// Rows of a topic this build does not know (written by a newer one) are left for it, and never
// fill a round; `known_topics_are_selected` keeps the list in step with `Topic::ALL`.
const PENDING_SQL: &str =
    "SELECT id, topic, aggregate_id, envelope, created_at, traceparent, request_id FROM outbox \
                           WHERE sent_at IS NULL AND topic IN ('users', 'events', 'bookings') \
                           ORDER BY id LIMIT $1";

impl OutboxDb {
    /// Runs one round: takes the relay's turn (on PostgreSQL, the `outbox_relay` row, locked
    /// with `FOR UPDATE SKIP LOCKED`, so replicas never publish at the same time and an
    /// aggregate's events keep their order), reads up to `limit` pending rows in order, hands
    /// them to `publisher`, and marks them sent only if it took them all. Returns how many were
    /// sent, or `None` when another replica had the turn.
    pub(crate) async fn relay_round(
        &self,
        limit: u32,
        publisher: &dyn Publisher,
    ) -> anyhow::Result<Option<usize>> {
        match self {
            OutboxDb::Postgres(pool) => {
                let mut transaction = pool.begin().await?;
                let turn: Option<(i16,)> =
                    sqlx::query_as("SELECT id FROM outbox_relay WHERE id = 1 FOR UPDATE SKIP LOCKED")
                        .fetch_optional(&mut *transaction)
                        .await?;
                if turn.is_none() {
                    transaction.rollback().await?;
                    return Ok(None);
                }
                let rows: Vec<Row> =
                    sqlx::query_as(PENDING_SQL).bind(i64::from(limit)).fetch_all(&mut *transaction).await?;
                let rows = into_pending(rows);
                if rows.is_empty() {
                    transaction.rollback().await?;
                    return Ok(Some(0));
                }
                publisher.publish(&rows).await?;
                <sqlx::Postgres as OutboxSql>::mark_sent(&mut transaction, &rows).await?;
                transaction.commit().await?;
                Ok(Some(rows.len()))
            }
            // One process serves an embedded data directory, and one relay per service runs in
            // it, so no turn is needed. No transaction either: a read transaction held while
            // publishing could not become a write one after a hold committed meanwhile.
            OutboxDb::Sqlite(pool) => {
                let rows: Vec<Row> =
                    sqlx::query_as(PENDING_SQL).bind(i64::from(limit)).fetch_all(pool).await?;
                let rows = into_pending(rows);
                if rows.is_empty() {
                    return Ok(Some(0));
                }
                publisher.publish(&rows).await?;
                let mut connection = pool.acquire().await?;
                <sqlx::Sqlite as OutboxSql>::mark_sent(&mut connection, &rows).await?;
                Ok(Some(rows.len()))
            }
        }
    }

    /// Records how many of the service's pooled connections are in use.
    pub(crate) fn record_pool_usage(&self, service: &'static str) {
        match self {
            OutboxDb::Postgres(pool) => {
                boxoffice_db::record_pool_usage(service, pool.size(), pool.num_idle())
            }
            OutboxDb::Sqlite(pool) => boxoffice_db::record_pool_usage(service, pool.size(), pool.num_idle()),
        }
    }

    /// The number of pending rows and the creation time of the oldest.
    pub(crate) async fn backlog(&self) -> anyhow::Result<(i64, Option<DateTime<Utc>>)> {
        const SQL: &str = "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE sent_at IS NULL";
        Ok(match self {
            OutboxDb::Postgres(pool) => sqlx::query_as(SQL).fetch_one(pool).await?,
            OutboxDb::Sqlite(pool) => sqlx::query_as(SQL).fetch_one(pool).await?,
        })
    }

    /// Deletes rows sent before `before`, and processed-event records older than
    /// `processed_before`. Returns how many outbox rows went.
    pub(crate) async fn purge(
        &self,
        before: DateTime<Utc>,
        processed_before: DateTime<Utc>,
    ) -> anyhow::Result<u64> {
        const OUTBOX: &str = "DELETE FROM outbox WHERE id IN \
                              (SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1 LIMIT $2)";
        const PROCESSED: &str = "DELETE FROM processed_events WHERE (consumer, event_id) IN \
                                 (SELECT consumer, event_id FROM processed_events WHERE processed_at < $1 LIMIT $2)";
        let batch = i64::from(PURGE_BATCH);
        Ok(match self {
            OutboxDb::Postgres(pool) => {
                sqlx::query(PROCESSED).bind(processed_before).bind(batch).execute(pool).await?;
                sqlx::query(OUTBOX).bind(before).bind(batch).execute(pool).await?.rows_affected()
            }
            OutboxDb::Sqlite(pool) => {
                sqlx::query(PROCESSED).bind(processed_before).bind(batch).execute(pool).await?;
                sqlx::query(OUTBOX).bind(before).bind(batch).execute(pool).await?.rows_affected()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_topics_are_selected() {
        for topic in Topic::ALL {
            assert!(PENDING_SQL.contains(&format!("'{}'", topic.as_str())), "{topic:?}");
        }
    }
}
