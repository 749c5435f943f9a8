//! The relay: from a service's outbox to its publisher, in order, at least once.
//!
//! Each round takes the relay's turn, reads up to [`RELAY_BATCH_MAX`] pending rows in the order
//! they were written, publishes them, and marks them sent in the same transaction as the turn,
//! only after the publisher has them all. A crash between publishing and marking publishes the
//! rows again (at least once; consumers deduplicate). A failing publisher (Kafka down) is
//! retried with backoff while rows wait; the service's requests never wait for it.
//!
//! On PostgreSQL the turn is the one row of `outbox_relay`, locked `FOR UPDATE SKIP LOCKED`: of
//! several replicas, the one that holds it publishes and the others skip the round, so rows are
//! never published by two relays at once and an aggregate's events never overtake each other.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::sql::OutboxDb;
use crate::Pending;

/// Rows per round: bounded, so that a long backlog is sent as many transactions.
pub const RELAY_BATCH_MAX: u32 = 500;
/// How long an idle relay sleeps when no commit wakes it (another replica's commits, a turn
/// that was busy).
const IDLE_POLL: Duration = Duration::from_millis(250);
/// How long a woken relay waits before its round, so that the commits of a busy moment (a
/// group commit every few milliseconds in an on-sale) are published in one round rather than
/// one round each: a round is a transaction of its own.
const GATHER: Duration = Duration::from_millis(20);
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(5);
/// How long a consumer remembers an event it handled: far longer than any redelivery.
const PROCESSED_RETENTION: chrono::Duration = chrono::Duration::days(14);

/// Where a relay's rows go: Kafka, or the in-process bus.
#[async_trait::async_trait]
pub trait Publisher: Send + Sync + 'static {
    /// Publishes the rows in order, and returns once every one is durably accepted (by Kafka's
    /// in-sync replicas, or handled by every subscriber of the bus). An error means some may
    /// not be: the relay publishes the whole batch again later.
    async fn publish(&self, rows: &[Pending]) -> anyhow::Result<()>;
}

/// Tells the relay that rows were committed, so it publishes them now rather than at its next
/// poll. Cheap to clone; waking a relay that is busy does nothing more.
#[derive(Clone, Debug, Default)]
pub struct RelayHandle {
    wake: Arc<Notify>,
}

impl RelayHandle {
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// A service's outbox, as the service hands it to its relay: the table, and the handle its
/// commits wake the relay with.
#[derive(Clone, Debug)]
pub struct Outbox {
    /// The service's name, in the relay's logs and metrics.
    pub service: &'static str,
    pub db: OutboxDb,
    pub handle: RelayHandle,
}

pub struct Relay {
    service: &'static str,
    db: OutboxDb,
    publisher: Arc<dyn Publisher>,
    retention: Duration,
    wake: Arc<Notify>,
}

impl Relay {
    /// The relay of a service's outbox, woken by the service's commits, which deletes sent rows
    /// `retention` after sending them.
    pub fn new(outbox: Outbox, publisher: Arc<dyn Publisher>, retention: Duration) -> Relay {
        let Outbox { service, db, handle } = outbox;
        Relay { service, db, publisher, retention, wake: handle.wake }
    }

    /// Relays until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = RETRY_MIN;
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING_EVERY);
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let wait = match self.round().await {
                Ok(Some(sent)) if sent == RELAY_BATCH_MAX as usize => {
                    backoff = RETRY_MIN;
                    Duration::ZERO
                }
                Ok(_) => {
                    backoff = RETRY_MIN;
                    IDLE_POLL
                }
                Err(error) => {
                    metrics::counter!("outbox_publish_failures_total", "service" => self.service)
                        .increment(1);
                    tracing::warn!(service = self.service, error = %format!("{error:#}"), retry_in = ?backoff,
                        "publishing domain events fails; they wait in the outbox");
                    let wait = backoff;
                    backoff = (backoff * 2).min(RETRY_MAX);
                    wait
                }
            };
            if wait.is_zero() {
                if shutdown.is_cancelled() {
                    return;
                }
                // Draining a backlog: the gauges and the purge still run on time.
                if futures::FutureExt::now_or_never(housekeeping.tick()).is_some() {
                    self.housekeeping().await;
                }
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.wake.notified(), if backoff == RETRY_MIN => {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(GATHER) => {}
                    }
                }
                () = tokio::time::sleep(wait) => {}
                _ = housekeeping.tick() => self.housekeeping().await,
            }
        }
    }

    /// One round; `None` when another replica had the turn.
    async fn round(&self) -> anyhow::Result<Option<usize>> {
        let sent = self.db.relay_round(RELAY_BATCH_MAX, self.publisher.as_ref()).await?;
        if let Some(sent) = sent.filter(|&sent| sent > 0) {
            metrics::counter!("outbox_published_total", "service" => self.service).increment(sent as u64);
        }
        Ok(sent)
    }

    async fn housekeeping(&self) {
        match self.db.backlog().await {
            Ok((pending, oldest)) => {
                let age = oldest.map_or(0.0, |oldest| {
                    (chrono::Utc::now() - oldest).to_std().unwrap_or_default().as_secs_f64()
                });
                metrics::gauge!("outbox_pending_rows", "service" => self.service).set(pending as f64);
                metrics::gauge!("outbox_oldest_pending_age_seconds", "service" => self.service).set(age);
            }
            Err(error) => tracing::warn!(service = self.service, %error, "reading the outbox backlog fails"),
        }
        self.db.record_pool_usage(self.service);
        let now = chrono::Utc::now();
        let before = chrono::Duration::from_std(self.retention)
            .ok()
            .and_then(|retention| now.checked_sub_signed(retention))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        match self.db.purge(before, now - PROCESSED_RETENTION).await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(service = self.service, purged, "sent outbox rows deleted"),
            Err(error) => tracing::warn!(service = self.service, %error, "purging the outbox fails"),
        }
    }
}
