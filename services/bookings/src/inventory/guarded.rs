//! The one door of the service to its inventory. [`GuardedInventory`] wraps an
//! [`InventoryStore`] with everything that keeps it a faithful, fast copy of the database:
//!
//! - **Load, then retry.** A store that does not hold an event (never loaded, being rebuilt, lost
//!   by Redis) says so; the event is then built from a [`Snapshot`] of the database's live units
//!   and the catalog's units, and the decision is asked again. The decision goes first because
//!   publishing loads the event, so a hold costs one round trip, not two.
//! - **The sold-out memo** ([`SoldOutMemo`]): a hold of quantities only is refused here when the
//!   store refused as many units or fewer a moment ago; otherwise the memo's generation is read
//!   before the store is asked, and the store's refusal is remembered only if no release came
//!   in between. Every release forgets the event's refusals after the store took the units back.
//! - **Confirmations and releases are never lost.** One that meets a rebuild waits for it and is
//!   applied again, [`INVENTORY_ATTEMPTS`] times at most; both are idempotent.
//!
//! Errors of the store become `unavailable`: the database, the record, stays right whatever the
//! inventory answered.

use std::sync::Arc;

use boxoffice_errors::Error;
use uuid::Uuid;

use super::{Availability, BoxFuture, Handoff, HoldOutcome, InventoryStore, Snapshot};
use crate::catalog::{CachedCatalog, SaleEvent};
use crate::db::BookingDb;
use crate::domain::HoldRequest;
use crate::sold_out::SoldOutMemo;

/// Attempts of a confirmation or a release; each after the first waits for the event's
/// inventory to be (re)built first.
pub const INVENTORY_ATTEMPTS: usize = 3;

pub struct GuardedInventory {
    store: Arc<dyn InventoryStore>,
    sold_out: SoldOutMemo,
    /// Where snapshots come from: the live units...
    db: Arc<dyn BookingDb>,
    /// ...and the units of the event.
    catalog: Arc<CachedCatalog>,
}

#[derive(Clone, Copy, Debug)]
enum Settle<'a> {
    Confirm,
    Release,
    /// The booking ends; these units go to the offers of a waiting list.
    HandOver(&'a [Handoff]),
}

fn inventory_error(error: anyhow::Error) -> Error {
    Error::unavailable(format!("inventory: {error:#}"))
}

impl GuardedInventory {
    pub fn new(store: Arc<dyn InventoryStore>, db: Arc<dyn BookingDb>, catalog: Arc<CachedCatalog>) -> Self {
        GuardedInventory { store, sold_out: SoldOutMemo::default(), db, catalog }
    }

    /// The refusal of the sold-out memo, if it already refuses this hold: a look that changes
    /// nothing, so that such a hold is answered at once.
    pub fn refused_recently(&self, event: &SaleEvent, request: &HoldRequest) -> Option<HoldOutcome> {
        if !request.seats.is_empty() {
            return None;
        }
        let category_id = self.sold_out.refused(event.id, &request.quantities)?;
        metrics::counter!("bookings_sold_out_memo_hits_total").increment(1);
        Some(HoldOutcome::SoldOut { category_id })
    }

    /// Decides one hold of `event`: every unit of the request or none. A refusal is an
    /// outcome, not an error; errors mean the inventory cannot decide.
    pub async fn hold(&self, event: &Arc<SaleEvent>, request: &HoldRequest) -> Result<HoldOutcome, Error> {
        // Most holds of an on-sale ask for what is gone; the store said so a moment ago.
        if let Some(refusal) = self.refused_recently(event, request) {
            return Ok(refusal);
        }
        let only_quantities = request.seats.is_empty();
        let generation = self.sold_out.generation();
        let outcome = match self.store.hold(event.id, request).await {
            Ok(outcome) => outcome,
            // The event is not loaded, or its inventory is being rebuilt: (wait for the) load
            // and decide again.
            Err(_) => {
                self.load(event).await?;
                self.store.hold(event.id, request).await.map_err(inventory_error)?
            }
        };
        if let (true, HoldOutcome::SoldOut { category_id }) = (only_quantities, &outcome) {
            if let Some((_, quantity)) =
                request.quantities.iter().find(|(category, _)| category == category_id)
            {
                self.sold_out.remember(event.id, generation, *category_id, *quantity);
            }
        }
        Ok(outcome)
    }

    /// The booking's held units become sold.
    pub async fn confirm(&self, event_id: Uuid, booking_id: Uuid) -> Result<(), Error> {
        self.settle(event_id, booking_id, Settle::Confirm).await
    }

    /// The booking's units return to sale, and the event's sold-out answers are forgotten.
    pub async fn release(&self, event_id: Uuid, booking_id: Uuid) -> Result<(), Error> {
        self.settle(event_id, booking_id, Settle::Release).await
    }

    /// The booking ends and `handoffs` hold some of its units, which never return to sale; the
    /// others do. A store that does not know the booking disagrees with the database: its event
    /// is rebuilt from the database, which has recorded the handoffs already.
    pub async fn hand_over(
        &self,
        event_id: Uuid,
        booking_id: Uuid,
        handoffs: &[Handoff],
    ) -> Result<(), Error> {
        self.settle(event_id, booking_id, Settle::HandOver(handoffs)).await
    }

    /// The event's counts and seats now, loading the event first if the store lacks it.
    pub async fn availability(&self, event: &Arc<SaleEvent>) -> Result<Availability, Error> {
        if let Some(availability) = self.store.availability(event.id).await.map_err(inventory_error)? {
            return Ok(availability);
        }
        self.load(event).await?;
        self.store
            .availability(event.id)
            .await
            .map_err(inventory_error)?
            .ok_or_else(|| Error::unavailable("the inventory of the event is being rebuilt"))
    }

    /// Makes sure the store holds `event`, building it from the database when not.
    pub async fn load(&self, event: &Arc<SaleEvent>) -> Result<(), Error> {
        let source = self.snapshot_source(event.id, Some(event.clone()));
        self.store.ensure_loaded(event.id, &source).await.map_err(inventory_error)
    }

    pub async fn ping(&self) -> Result<(), Error> {
        self.store.ping().await.map_err(inventory_error)
    }

    async fn settle(&self, event_id: Uuid, booking_id: Uuid, settle: Settle<'_>) -> Result<(), Error> {
        let mut last_error = None;
        for attempt in 0..INVENTORY_ATTEMPTS {
            if attempt > 0 {
                let source = self.snapshot_source(event_id, None);
                if let Err(error) = self.store.ensure_loaded(event_id, &source).await {
                    last_error = Some(inventory_error(error));
                    continue;
                }
            }
            let applied = match settle {
                Settle::Confirm => self.store.confirm(event_id, booking_id).await,
                Settle::Release => self.store.release(event_id, booking_id).await,
                Settle::HandOver(handoffs) => {
                    match self.store.hand_over(event_id, booking_id, handoffs).await {
                        Ok(true) => Ok(()),
                        Ok(false) => {
                            tracing::warn!(%event_id, %booking_id, "the inventory lacks a booking it hands over; rebuilding it");
                            self.store.forget(event_id).await
                        }
                        Err(error) => Err(error),
                    }
                }
            };
            match applied {
                Ok(()) => {
                    if !matches!(settle, Settle::Confirm) {
                        self.sold_out.released(event_id);
                    }
                    return Ok(());
                }
                Err(error) => last_error = Some(inventory_error(error)),
            }
        }
        Err(last_error.unwrap_or_else(|| Error::unavailable("the inventory does not answer")))
    }

    /// Takes the snapshot of an event only when the store has to load it: most calls find the
    /// event loaded, and then neither the database nor the events service is asked. `event` is
    /// the event when the caller has it; otherwise the catalog is asked.
    fn snapshot_source(
        &self,
        event_id: Uuid,
        event: Option<Arc<SaleEvent>>,
    ) -> impl Fn() -> BoxFuture<'static, anyhow::Result<Snapshot>> + Send + Sync {
        let (db, catalog) = (self.db.clone(), self.catalog.clone());
        move || {
            let (db, catalog, event) = (db.clone(), catalog.clone(), event.clone());
            Box::pin(async move {
                let event = match event {
                    Some(event) => event,
                    None => catalog.event(event_id).await.map_err(|error| anyhow::anyhow!(error))?,
                };
                let live = db.live_units(event_id).await.map_err(|error| anyhow::anyhow!(error))?;
                Ok(Snapshot { event_id, categories: event.units.categories().to_vec(), live })
            })
        }
    }
}
