//! Holds that run out: the expirer releases every due hold ([`Change::Expire`], a
//! compare-and-set that applies only to a pending booking whose hold is due, so it never
//! overtakes a confirmation that came in time) and purges old Idempotency-Keys.
//!
//! Every replica may run the expirer: each expiry is a compare-and-set in the database, so a
//! hold is released once.

use std::collections::HashSet;
use std::time::Duration;

use boxoffice_errors::Error;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::{
    Change, EXPIRY_BATCH, EXPIRY_SWEEP_INTERVAL, IDEMPOTENCY_KEY_TTL, IDEMPOTENCY_PURGE_INTERVAL,
};
use crate::domain_events::EndReason;
use crate::service::Bookings;

/// How often the pending holds per event are counted for `bookings_current_holds`. Every replica
/// counts them all (the same figure): a dashboard takes the largest, not the sum.
const HOLDS_GAUGE_INTERVAL: Duration = Duration::from_secs(5);

impl Bookings {
    /// Releases a due hold: the booking becomes `expired` and its units return to sale. False
    /// when it was not a due, pending hold.
    pub async fn expire(&self, booking_id: Uuid, event_id: Uuid) -> Result<bool, Error> {
        self.close(booking_id, event_id, Change::Expire, EndReason::Requested).await
    }

    /// One sweep of the expirer: releases every hold that is due, [`EXPIRY_BATCH`] at most.
    pub async fn expire_due(&self) -> Result<usize, Error> {
        let due = self.inner.db.due_expirations(self.inner.clock.now(), EXPIRY_BATCH).await?;
        let mut expired = 0;
        for (booking_id, event_id) in due {
            if self.expire(booking_id, event_id).await? {
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// Sets `bookings_current_holds` of each event with holds, and to 0 for the events in
    /// `events_with_holds` (those of the last count) that have none left.
    async fn record_pending_holds(&self, events_with_holds: &mut HashSet<Uuid>) {
        let counts = match self.inner.db.pending_holds_by_event().await {
            Ok(counts) => counts,
            Err(error) => return tracing::warn!(error = %error, "counting the pending holds fails"),
        };
        let now: HashSet<Uuid> = counts.iter().map(|(event_id, _)| *event_id).collect();
        for gone in events_with_holds.difference(&now) {
            metrics::gauge!("bookings_current_holds", "event_id" => gone.to_string()).set(0.0);
        }
        for (event_id, holds) in counts {
            metrics::gauge!("bookings_current_holds", "event_id" => event_id.to_string()).set(holds as f64);
        }
        *events_with_holds = now;
    }

    /// Forgets Idempotency-Keys older than [`IDEMPOTENCY_KEY_TTL`].
    pub async fn purge_idempotency_keys(&self) -> Result<u64, Error> {
        let cutoff = self.inner.clock.now()
            - chrono::Duration::from_std(IDEMPOTENCY_KEY_TTL).map_err(Error::internal)?;
        self.inner.db.purge_idempotency_keys(cutoff).await
    }
}

/// Releases holds as they expire, and purges old Idempotency-Keys, until `shutdown`.
pub async fn run_expirer(bookings: Bookings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut sweep = tokio::time::interval(EXPIRY_SWEEP_INTERVAL);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut purge = tokio::time::interval(IDEMPOTENCY_PURGE_INTERVAL);
    let mut count_holds = tokio::time::interval(HOLDS_GAUGE_INTERVAL);
    let mut events_with_holds = HashSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            _ = sweep.tick() => {
                if let Err(error) = bookings.expire_due().await {
                    tracing::warn!(error = %error, "releasing expired holds fails; retrying");
                }
            }
            _ = count_holds.tick() => bookings.record_pending_holds(&mut events_with_holds).await,
            _ = purge.tick() => {
                match bookings.purge_idempotency_keys().await {
                    Ok(purged) if purged > 0 => tracing::info!(purged, "purged old idempotency keys"),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(error = %error, "purging idempotency keys fails"),
                }
            }
        }
    }
}
