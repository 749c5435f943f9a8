//! The relay against real databases: a fresh PostgreSQL schema (`BOXOFFICE_TEST_DATABASE_URL`,
//! as scripts/test sets it) and a fresh SQLite file, with the outbox tables of the services'
//! migrations. Several relays run at once, as replicas do, while events are being written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use boxoffice_outbox::{
    Outbox, OutboxDb, OutboxEvent, OutboxSql, Pending, Publisher, Relay, RelayHandle, Topic,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const POSTGRES_TABLES: &str = concat!(
    include_str!("../migrations/postgres/outbox.up.sql"),
    include_str!("../migrations/postgres/outbox_trace.up.sql")
);
const SQLITE_TABLES: &str = concat!(
    include_str!("../migrations/sqlite/outbox.up.sql"),
    include_str!("../migrations/sqlite/outbox_trace.up.sql")
);
const AGGREGATES: usize = 10;
const EVENTS_PER_AGGREGATE: usize = 60;

/// Records what it is given; fails every third batch, as a broker that comes and goes.
#[derive(Default)]
struct Recorder {
    published: Mutex<Vec<(String, Vec<u8>)>>,
    batches: Mutex<u64>,
}

#[async_trait::async_trait]
impl Publisher for Recorder {
    async fn publish(&self, rows: &[Pending]) -> anyhow::Result<()> {
        let batch = {
            let mut batches = self.batches.lock().unwrap();
            *batches += 1;
            *batches
        };
        tokio::time::sleep(Duration::from_millis(2)).await;
        if batch % 3 == 0 {
            anyhow::bail!("the broker is away");
        }
        let mut published = self.published.lock().unwrap();
        published.extend(rows.iter().map(|row| (row.key.clone(), row.envelope.clone())));
        Ok(())
    }
}

/// The sequence number a test event carries as its payload.
fn sequence(envelope: &[u8]) -> u64 {
    let envelope: boxoffice_proto::domain::Envelope = prost::Message::decode(envelope).unwrap();
    let payload: boxoffice_proto::domain::BookingExpired =
        prost::Message::decode(envelope.payload.as_slice()).unwrap();
    payload.booking_id.parse().unwrap()
}

fn event(aggregate: Uuid, sequence: usize) -> OutboxEvent {
    let payload =
        boxoffice_proto::domain::BookingExpired { booking_id: sequence.to_string(), ..Default::default() };
    OutboxEvent::new(Topic::Bookings, "booking.expired", aggregate, &payload, chrono::Utc::now())
}

/// Writes every aggregate's events in order, one transaction each, while `relays` relays run;
/// then checks that each event was published, and each aggregate's in order of writing.
async fn relays_publish_every_event_in_order<W, F>(db: OutboxDb, relays: usize, write: W)
where
    W: Fn(Vec<OutboxEvent>) -> F,
    F: std::future::Future<Output = ()>,
{
    let recorder = Arc::new(Recorder::default());
    let shutdown = CancellationToken::new();
    let handle = RelayHandle::default();
    let tasks: Vec<_> = (0..relays)
        .map(|_| {
            let outbox = Outbox { service: "test", db: db.clone(), handle: handle.clone() };
            let relay = Relay::new(outbox, recorder.clone(), Duration::from_secs(3600));
            tokio::spawn(relay.run(shutdown.clone()))
        })
        .collect();
    let aggregates: Vec<Uuid> = (0..AGGREGATES).map(|_| Uuid::now_v7()).collect();
    for sequence in 0..EVENTS_PER_AGGREGATE {
        for &aggregate in &aggregates {
            write(vec![event(aggregate, sequence)]).await;
            handle.wake();
        }
    }
    let expected = AGGREGATES * EVENTS_PER_AGGREGATE;
    for _ in 0..600 {
        let mut per_aggregate: HashMap<String, Vec<u64>> = HashMap::new();
        for (key, envelope) in recorder.published.lock().unwrap().iter() {
            per_aggregate.entry(key.clone()).or_default().push(sequence(envelope));
        }
        let first_times: usize =
            per_aggregate.values().map(|sequences| distinct_in_order(sequences).len()).sum();
        if first_times == expected {
            for (aggregate, sequences) in &per_aggregate {
                let firsts = distinct_in_order(sequences);
                assert!(
                    firsts.windows(2).all(|pair| pair[0] < pair[1]),
                    "{aggregate} out of order: {firsts:?}"
                );
            }
            shutdown.cancel();
            for task in tasks {
                task.await.unwrap();
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the relays publish every event");
}

/// Each sequence number at its first appearance: what a consumer that deduplicates sees.
fn distinct_in_order(sequences: &[u64]) -> Vec<u64> {
    let mut seen = std::collections::HashSet::new();
    sequences.iter().copied().filter(|sequence| seen.insert(*sequence)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_relays_on_postgresql_publish_every_event_in_order_of_its_aggregate() {
    let admin_url = std::env::var("BOXOFFICE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let schema = format!("outbox_test_{}", Uuid::new_v4().simple());
    let pool = boxoffice_db::postgres_pool(&admin_url, &schema, 8).await.unwrap();
    sqlx::raw_sql(POSTGRES_TABLES).execute(&pool).await.unwrap();
    let writer = pool.clone();
    relays_publish_every_event_in_order(OutboxDb::Postgres(pool.clone()), 3, |events| {
        let writer = writer.clone();
        async move {
            let mut transaction = writer.begin().await.unwrap();
            sqlx::Postgres::write_outbox(&mut transaction, &events).await.unwrap();
            transaction.commit().await.unwrap();
        }
    })
    .await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&pool).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_on_sqlite_publishes_every_event_in_order_of_its_aggregate() {
    let directory = std::env::temp_dir().join(format!("boxoffice-outbox-test-{}", Uuid::new_v4()));
    let pool = boxoffice_db::sqlite_pool(&directory.join("outbox.db"), 4).await.unwrap();
    sqlx::raw_sql(SQLITE_TABLES).execute(&pool).await.unwrap();
    let writer = pool.clone();
    relays_publish_every_event_in_order(OutboxDb::Sqlite(pool), 1, |events| {
        let writer = writer.clone();
        async move {
            let mut transaction = writer.begin().await.unwrap();
            sqlx::Sqlite::write_outbox(&mut transaction, &events).await.unwrap();
            transaction.commit().await.unwrap();
        }
    })
    .await;
    let _ = std::fs::remove_dir_all(&directory);
}
