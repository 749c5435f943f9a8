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
//! - **A rebuild never offers a unit of a hold in flight.** The database's live units are the
//!   snapshot, and so are the store's claims younger than [`CARRY_WINDOW`] that the database
//!   does not have yet (holds on their way to it: each commits before its deadline or never). A
//!   rebuild that carried such claims, or that found the store empty while the database has
//!   live units (Redis lost its data, and the claims of the holds in flight with it), is
//!   followed by one more, [`CARRY_WINDOW`] later, when every hold in flight at the first has
//!   committed or failed: the store then agrees with the database again, and a claim whose hold
//!   never committed (its process died) is gone. So a replica's restart, which marks every
//!   inventory for a rebuild, or Redis restarting empty leaves the store right within
//!   [`CARRY_WINDOW`] and the rebuild's own time.
//!
//! Errors of the store become `unavailable`: the database, the record, stays right whatever the
//! inventory answered.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use boxoffice_errors::Error;
use uuid::Uuid;

use super::{
    Availability, BoxFuture, Claim, Handoff, HoldOutcome, InventoryStore, LiveUnit, Snapshot, UnitState,
};
use crate::catalog::{CachedCatalog, SaleEvent};
use crate::db::BookingDb;
use crate::domain::{HoldRequest, HOLD_DEADLINE};
use crate::sold_out::{ReleaseListener, SoldOutMemo};

/// Attempts of a confirmation or a release; each after the first waits for the event's
/// inventory to be (re)built first.
pub const INVENTORY_ATTEMPTS: usize = 3;
/// A claim younger than this may belong to a hold still on its way to the database (which it
/// reaches before its deadline or never), with a second for the clocks of the store and of the
/// replicas to differ.
pub const CARRY_WINDOW: Duration = Duration::from_secs(HOLD_DEADLINE.as_secs() + 1);

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

    /// Tells `listener` the event of every release in this process, once the memo forgot it.
    pub fn tell_releases_to(&self, listener: ReleaseListener) {
        self.sold_out.tell_releases_to(listener);
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
        let sources =
            Sources { store: self.store.clone(), db: self.db.clone(), catalog: self.catalog.clone() };
        sources.snapshot_source(event_id, event, Rebuild::First)
    }
}

/// Whether a rebuild is the first, which may call for a second, or that second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rebuild {
    First,
    Settling,
}

/// What a snapshot is taken from.
#[derive(Clone)]
struct Sources {
    store: Arc<dyn InventoryStore>,
    db: Arc<dyn BookingDb>,
    catalog: Arc<CachedCatalog>,
}

impl Sources {
    fn snapshot_source(
        self,
        event_id: Uuid,
        event: Option<Arc<SaleEvent>>,
        rebuild: Rebuild,
    ) -> impl Fn() -> BoxFuture<'static, anyhow::Result<Snapshot>> + Send + Sync {
        move || {
            let (sources, event) = (self.clone(), event.clone());
            Box::pin(async move { sources.snapshot(event_id, event, rebuild).await })
        }
    }

    /// The database's live units and the claims of holds in flight; schedules the second
    /// rebuild when this one cannot know all (see the module's documentation).
    async fn snapshot(
        &self,
        event_id: Uuid,
        event: Option<Arc<SaleEvent>>,
        rebuild: Rebuild,
    ) -> anyhow::Result<Snapshot> {
        let event = match event {
            Some(event) => event,
            None => self.catalog.event(event_id).await.map_err(|error| anyhow::anyhow!(error))?,
        };
        // The store's claims first: any hold that claims after this waits for the rebuild.
        let claims = self.store.claims(event_id).await?;
        let mut live = self.db.live_units(event_id).await.map_err(|error| anyhow::anyhow!(error))?;
        let recorded = live.len();
        let carried = carry_over(&claims, &mut live);
        let lost = claims.is_empty() && recorded > 0;
        if rebuild == Rebuild::First && (carried > 0 || lost) {
            tracing::info!(%event_id, carried, lost, "rebuilding the inventory again once the holds in flight have settled");
            let sources = self.clone();
            tokio::spawn(async move { sources.settle(event_id).await });
        }
        Ok(Snapshot { event_id, categories: event.units.categories().to_vec(), live })
    }

    /// The second rebuild, [`CARRY_WINDOW`] after the first.
    async fn settle(self, event_id: Uuid) {
        tokio::time::sleep(CARRY_WINDOW).await;
        let source = self.clone().snapshot_source(event_id, None, Rebuild::Settling);
        let rebuilt = match self.store.forget(event_id).await {
            Ok(()) => self.store.ensure_loaded(event_id, &source).await,
            Err(error) => Err(error),
        };
        if let Err(error) = rebuilt {
            // Its next use rebuilds it, now from the settled database.
            tracing::warn!(%event_id, error = %format!("{error:#}"), "the second rebuild of an inventory fails");
        }
    }
}

/// Adds to `live` the claims young enough to be holds on their way to the database that it does
/// not have (none of whose units it has live), as held units; returns how many.
fn carry_over(claims: &[Claim], live: &mut Vec<LiveUnit>) -> usize {
    let bookings: HashSet<Uuid> = live.iter().map(|unit| unit.booking_id).collect();
    let mut units: HashSet<String> = live.iter().map(|unit| unit.unit_id.clone()).collect();
    let mut carried = 0;
    for claim in claims {
        let young = claim.age.is_some_and(|age| age < CARRY_WINDOW);
        if !young
            || bookings.contains(&claim.booking_id)
            || claim.units.iter().any(|(_, unit)| units.contains(unit))
        {
            continue;
        }
        for (category_id, unit_id) in &claim.units {
            units.insert(unit_id.clone());
            live.push(LiveUnit {
                category_id: *category_id,
                unit_id: unit_id.clone(),
                booking_id: claim.booking_id,
                user_id: claim.user_id,
                state: UnitState::Held,
            });
        }
        carried += 1;
    }
    carried
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(units: &[&str], age: Option<Duration>) -> Claim {
        let category = Uuid::nil();
        Claim {
            booking_id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            units: units.iter().map(|unit| (category, (*unit).to_owned())).collect(),
            age,
        }
    }

    #[test]
    fn a_rebuild_carries_the_young_claims_the_database_lacks_and_nothing_else() {
        let recorded = claim(&["a:1"], Some(Duration::from_millis(10)));
        let mut live = vec![LiveUnit {
            category_id: Uuid::nil(),
            unit_id: "a:1".into(),
            booking_id: recorded.booking_id,
            user_id: recorded.user_id,
            state: UnitState::Sold,
        }];
        let in_flight = claim(&["a:2", "a:3"], Some(Duration::from_secs(1)));
        let leaked = claim(&["a:4"], Some(CARRY_WINDOW));
        let loaded = claim(&["a:5"], None);
        let clashing = claim(&["a:1", "a:6"], Some(Duration::from_millis(5)));
        let claims = [recorded, in_flight.clone(), leaked, loaded, clashing];

        assert_eq!(carry_over(&claims, &mut live), 1);
        let carried: Vec<_> =
            live[1..].iter().map(|unit| (unit.booking_id, unit.unit_id.as_str(), unit.state)).collect();
        assert_eq!(
            carried,
            vec![
                (in_flight.booking_id, "a:2", UnitState::Held),
                (in_flight.booking_id, "a:3", UnitState::Held)
            ]
        );
    }
}
