//! The bookings service itself: [`Bookings`], what it is made of, and the few steps every
//! feature shares. What a user does lives in a module of its own, each an `impl Bookings`:
//! `hold.rs`, `confirm.rs`, `cancel.rs`, `check_in.rs`, `queries.rs` and `expiry.rs`.

use std::sync::Arc;
use std::time::Instant;

use boxoffice_errors::Error;
use boxoffice_outbox::Outbox;
use boxoffice_types::Caller;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::catalog::{CachedCatalog, EventCatalog};
use crate::clock::Clock;
use crate::db::{BookingDb, NewHold, Payable, Payment};
use crate::domain::{BookingRecord, Change, HoldTtl, HOLD_DEADLINE};
use crate::domain_events::EndReason;
use crate::group_commit::GroupCommit;
use crate::inventory::{GuardedInventory, InventoryStore};
use crate::payments::PaymentProvider;
use crate::tickets::TicketSigner;

/// The bookings service. Clones share everything.
#[derive(Clone)]
pub struct Bookings {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The record of every hold and sale.
    pub(crate) db: Arc<dyn BookingDb>,
    /// Where holds are decided; a fast copy of the database.
    pub(crate) inventory: GuardedInventory,
    /// The events service, behind its cache.
    pub(crate) catalog: Arc<CachedCatalog>,
    pub(crate) payments: Arc<dyn PaymentProvider>,
    pub(crate) signer: TicketSigner,
    pub(crate) clock: Clock,
    /// How long a hold lasts.
    pub(crate) hold_ttl: HoldTtl,
    /// Records the pending bookings of concurrent holds in shared transactions...
    pub(crate) holds_recorded: GroupCommit<NewHold, ()>,
    /// ...and the tickets of concurrent payments: the confirmed booking, or `None` when the
    /// hold had run out or its event was closed.
    pub(crate) payments_recorded: GroupCommit<Payment, Option<BookingRecord>>,
    /// Reads the bookings that concurrent payments pay for, with their units, together (the
    /// same batching, for a read).
    pub(crate) payments_read: GroupCommit<Uuid, Option<Payable>>,
    /// Failed holds' key claims being given back in the background, at most
    /// [`crate::domain::MAX_CLAIMS_FORGOTTEN_LATER`] at once.
    pub(crate) claims_forgotten_later: Arc<tokio::sync::Semaphore>,
}

impl Bookings {
    pub fn new(
        db: Arc<dyn BookingDb>,
        inventory: Arc<dyn InventoryStore>,
        catalog: Arc<dyn EventCatalog>,
        payments: Arc<dyn PaymentProvider>,
        signer: TicketSigner,
        clock: Clock,
        hold_ttl: HoldTtl,
    ) -> Self {
        let holds_recorded = GroupCommit::start("holds", {
            let db = db.clone();
            Arc::new(move |holds: Vec<NewHold>, now, deadline: Option<Instant>| {
                let db = db.clone();
                let deadline = deadline.unwrap_or_else(|| Instant::now() + HOLD_DEADLINE);
                Box::pin(async move {
                    db.insert_pending(&holds, now, deadline).await?;
                    Ok(vec![(); holds.len()])
                })
            })
        });
        let payments_recorded = GroupCommit::start("payments", {
            let db = db.clone();
            Arc::new(move |payments: Vec<Payment>, now, _| {
                let db = db.clone();
                Box::pin(async move { db.confirm(&payments, now).await })
            })
        });
        let payments_read = GroupCommit::start_reads("payment_reads", {
            let db = db.clone();
            Arc::new(move |ids: Vec<Uuid>, _, _| {
                let db = db.clone();
                Box::pin(async move { db.payables(&ids).await })
            })
        });
        let catalog = Arc::new(CachedCatalog::new(catalog));
        let inventory = GuardedInventory::new(inventory, db.clone(), catalog.clone());
        let inner = Inner {
            db,
            inventory,
            catalog,
            payments,
            signer,
            clock,
            hold_ttl,
            holds_recorded,
            payments_recorded,
            payments_read,
            claims_forgotten_later: Arc::new(tokio::sync::Semaphore::new(
                crate::domain::MAX_CLAIMS_FORGOTTEN_LATER,
            )),
        };
        Bookings { inner: Arc::new(inner) }
    }

    /// This service's outbox, for its relay.
    pub fn outbox(&self) -> Outbox {
        let (db, handle) = self.inner.db.outbox();
        Outbox { service: "bookings", db, handle }
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Tells `listener` the event of every release of units in this process (a cancellation,
    /// a refund, an expired hold), once they are back on sale here: a gateway in the same
    /// process that repeats this service's "sold out" answers forgets them then too.
    pub fn tell_releases_to(&self, listener: crate::sold_out::ReleaseListener) {
        self.inner.inventory.tell_releases_to(listener);
    }

    pub async fn check_ready(&self) -> Result<(), Error> {
        self.inner.db.ping().await?;
        self.inner.inventory.ping().await
    }

    /// Runs a change on its own task, so that it completes even when its caller gives up (a
    /// client that disconnects, a timeout): a hold half-made or a payment half-recorded would
    /// otherwise be left behind. Every change of a booking goes through here.
    pub(crate) async fn detached<T, F, Fut>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(Bookings) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>> + Send + 'static,
    {
        tokio::spawn(work(self.clone()).in_current_span()).await.map_err(Error::internal)?
    }

    /// The booking if it is `caller`'s own; admins read others' but do not act for them.
    pub(crate) async fn own_booking(&self, caller: Caller, booking_id: Uuid) -> Result<BookingRecord, Error> {
        match self.inner.db.booking(booking_id).await? {
            Some(booking) if booking.user_id == caller.user_id => Ok(booking),
            _ => Err(booking_not_found()),
        }
    }

    /// The booking as it is now, after a change.
    pub(crate) async fn reread(&self, booking_id: Uuid) -> Result<BookingRecord, Error> {
        self.inner.db.booking(booking_id).await?.ok_or_else(booking_not_found)
    }

    /// Ends a booking by `change` (cancel, expire or refund): the database's compare-and-set,
    /// then its units to the offers of their waiting lists, or back on sale. False when the booking was no longer in the change's `from`
    /// status, so nothing happened.
    pub(crate) async fn close(
        &self,
        booking_id: Uuid,
        event_id: Uuid,
        change: Change,
        reason: EndReason,
    ) -> Result<bool, Error> {
        let Some(handoffs) = self.inner.db.close(booking_id, change, reason, self.inner.clock.now()).await?
        else {
            return Ok(false);
        };
        // Every ending is counted here, where it happens once, whatever path led to it.
        match change {
            Change::Cancel => metrics::counter!("bookings_cancellations_total").increment(1),
            Change::Refund => metrics::counter!("bookings_refunds_total").increment(1),
            Change::Expire => metrics::counter!("bookings_expired_total").increment(1),
            Change::Confirm => {}
        }
        let settled = if handoffs.is_empty() {
            self.inner.inventory.release(event_id, booking_id).await
        } else {
            metrics::counter!("bookings_waiting_list_offers_total").increment(handoffs.len() as u64);
            self.inner.inventory.hand_over(event_id, booking_id, &handoffs).await
        };
        if let Err(error) = settled {
            // The database released them; the inventory catches up when it is rebuilt.
            tracing::error!(%booking_id, error = %error, "releasing units in the inventory fails");
        }
        Ok(true)
    }

    /// Gives the money of a booking back; a booking never charged, or refunded already, is a
    /// no-op (the booking id is the idempotency key).
    pub(crate) async fn refund_charge(&self, booking_id: Uuid) -> Result<(), Error> {
        self.inner.payments.refund(booking_id).await.map_err(|error| Error::unavailable(error.to_string()))
    }
}

pub(crate) fn booking_not_found() -> Error {
    Error::not_found("booking")
}
