//! What the bookings service does: holds decided in the inventory store and recorded in the
//! database, confirmation with payment, cancellation with refunds, tickets and check-in, and
//! the numbers organizers see.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use boxoffice_errors::{Code, Error};
use boxoffice_proto::event as events_pb;
use boxoffice_proto::event::event_service_client::EventServiceClient;
use boxoffice_runtime::Connection;
use boxoffice_types::limits::{PageSize, IDEMPOTENCY_KEY_MAX_CHARS};
use boxoffice_types::{Caller, Role};
use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::clock::Clock;
use crate::group_commit::GroupCommit;
use crate::inventory::{
    Availability, BoxFuture, CategorySpec, CategoryUnits, Counts, HoldOutcome, HoldRequest, InventoryStore,
    Snapshot,
};
use crate::payments::{PaymentError, PaymentProvider};
use crate::sold_out::SoldOutMemo;
use crate::store::{
    BookingRecord, BookingStatus, BookingStore, CategorySales, CheckIn, Item, KeyClaim, NewHold, Position,
    TicketRecord,
};
use crate::tickets::TicketSigner;

pub type EventsClient = EventServiceClient<Connection>;

#[derive(Clone, Copy, Debug)]
enum StoreChange {
    Confirm,
    Release,
}

/// How long a hold lasts before it expires (API.md: 10 minutes).
pub const HOLD_TTL: Duration = Duration::from_secs(10 * 60);
/// How long an event's status, sale start and limits are trusted without asking the events
/// service again. Categories and units are frozen once published, so only these can change.
pub const EVENT_INFO_TTL: Duration = Duration::from_secs(1);
/// Idempotency keys are kept at least this long (API.md: 24 hours).
pub const IDEMPOTENCY_KEY_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a request with a key waits for the first request with the same key to finish; well
/// inside the callers' own timeouts, so that they get this service's answer.
const IDEMPOTENCY_WAIT: Duration = Duration::from_secs(5);
/// A claimed key whose booking has not appeared after this long belongs to a request that died
/// (its process crashed): a retry may take the key over.
const IDEMPOTENCY_LEASE: Duration = Duration::from_secs(30);
/// Attempts of a change to the inventory store that met a rebuild of the event's inventory.
const STORE_ATTEMPTS: usize = 3;
/// Passes of the refund sweep of a cancelled event, and the pause between them: a confirmation
/// that was already committing when the event closed shows up in a later pass.
const CANCEL_SWEEP_PASSES: usize = 5;
const CANCEL_SWEEP_PAUSE: Duration = Duration::from_millis(50);
/// Expired holds released per sweep of the expirer.
pub const EXPIRY_BATCH: u32 = 500;

/// A hold request, not yet checked.
#[derive(Clone, Debug, Default)]
pub struct NewBooking {
    pub event_id: Uuid,
    pub items: Vec<(String, u32)>,
    pub seats: Vec<String>,
    pub idempotency_key: Option<String>,
}

/// What the service knows of an event: from the events service, cached briefly.
#[derive(Clone, Debug)]
pub struct EventInfo {
    pub event: events_pb::Event,
    /// Fetched once per event: they never change once the event is published.
    pub units: Arc<Vec<events_pb::CategoryUnits>>,
}

impl EventInfo {
    fn status(&self) -> events_pb::EventStatus {
        events_pb::EventStatus::try_from(self.event.status).unwrap_or(events_pb::EventStatus::Unspecified)
    }

    fn organizer_id(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.event.organizer_id).ok()
    }

    /// The category with this id. Called for every item and unit of a hold, so the id is
    /// written into a stack buffer rather than a new string.
    fn category(&self, category_id: Uuid) -> Option<&events_pb::Category> {
        let mut buffer = Uuid::encode_buffer();
        let id = category_id.hyphenated().encode_lower(&mut buffer);
        self.event.categories.iter().find(|category| category.id == *id)
    }

    /// Seat id → category id, for every seat of the event.
    fn seat_map(&self) -> HashMap<String, Uuid> {
        let mut map = HashMap::new();
        for units in self.units.iter() {
            let Ok(category_id) = Uuid::parse_str(&units.category_id) else { continue };
            map.extend(units.seat_ids.iter().map(|seat| (seat.clone(), category_id)));
        }
        map
    }

    fn specs(&self) -> Vec<CategorySpec> {
        self.units
            .iter()
            .filter_map(|units| {
                let category_id = Uuid::parse_str(&units.category_id).ok()?;
                let seated = self
                    .category(category_id)
                    .is_some_and(|category| category.kind == i32::from(events_pb::CategoryKind::Seated));
                let units = if seated {
                    CategoryUnits::Seated { seat_ids: units.seat_ids.clone() }
                } else {
                    CategoryUnits::GeneralAdmission { capacity: units.capacity }
                };
                Some(CategorySpec { category_id, units })
            })
            .collect()
    }
}

#[derive(Clone)]
pub struct Bookings {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn BookingStore>,
    inventory: Arc<dyn InventoryStore>,
    events: EventsClient,
    payments: Arc<dyn PaymentProvider>,
    signer: TicketSigner,
    clock: Clock,
    commits: GroupCommit,
    sold_out: SoldOutMemo,
    event_cache: Mutex<HashMap<Uuid, (Instant, Arc<EventInfo>)>>,
    /// Seat id → category id of published events, built once: their seats never change.
    seat_maps: Mutex<HashMap<Uuid, Arc<HashMap<String, Uuid>>>>,
}

fn sold_out(category_id: Uuid) -> Error {
    Error::new(Code::SoldOut, format!("not enough tickets left in category {category_id}"))
}

fn booking_not_found() -> Error {
    Error::not_found("booking")
}

fn store_error(error: anyhow::Error) -> Error {
    Error::unavailable(format!("inventory store: {error:#}"))
}

impl Bookings {
    pub fn new(
        store: Arc<dyn BookingStore>,
        inventory: Arc<dyn InventoryStore>,
        events: EventsClient,
        payments: Arc<dyn PaymentProvider>,
        signer: TicketSigner,
        clock: Clock,
    ) -> Self {
        let commits = GroupCommit::start(store.clone());
        let inner = Inner {
            store,
            inventory,
            events,
            payments,
            signer,
            clock,
            commits,
            sold_out: SoldOutMemo::default(),
            event_cache: Mutex::default(),
            seat_maps: Mutex::default(),
        };
        Bookings { inner: Arc::new(inner) }
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The event, from the events service or the short cache. `fresh` skips the cache, for
    /// decisions that take money. The units of a published event are fetched once.
    async fn event_info(&self, event_id: Uuid, fresh: bool) -> Result<Arc<EventInfo>, Error> {
        let known_units = {
            let cache = self.inner.event_cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match cache.get(&event_id) {
                Some((fetched, info)) if !fresh && fetched.elapsed() < EVENT_INFO_TTL => {
                    return Ok(info.clone());
                }
                // Published and cancelled events never change their units again.
                Some((_, info))
                    if matches!(
                        info.status(),
                        events_pb::EventStatus::Published | events_pb::EventStatus::Cancelled
                    ) =>
                {
                    Some(info.units.clone())
                }
                _ => None,
            }
        };
        let request = events_pb::GetEventInventoryRequest {
            event_id: event_id.to_string(),
            event_only: known_units.is_some(),
        };
        let inventory = self
            .inner
            .events
            .clone()
            .get_event_inventory(request)
            .await
            .map_err(|status| Error::from_status(&status))?;
        let inventory = inventory.into_inner();
        let event = inventory
            .event
            .ok_or_else(|| Error::internal("the events service sent an inventory without its event"))?;
        let units = known_units.unwrap_or_else(|| Arc::new(inventory.units));
        let info = Arc::new(EventInfo { event, units });
        let mut cache = self.inner.event_cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.insert(event_id, (Instant::now(), info.clone()));
        Ok(info)
    }

    /// Makes sure the inventory store holds the event, rebuilding it from the database when not.
    async fn ensure_loaded(&self, info: &Arc<EventInfo>) -> Result<(), Error> {
        let event_id = Uuid::parse_str(&info.event.id).map_err(Error::internal)?;
        let store = self.inner.store.clone();
        let info = info.clone();
        // The snapshot, with every seat id of the event, is built only when the store has to
        // load; most calls find the event loaded and cost nothing here.
        let snapshot = move || -> BoxFuture<'static, anyhow::Result<Snapshot>> {
            let store = store.clone();
            let info = info.clone();
            Box::pin(async move {
                let live = store.live_units(event_id).await.map_err(|error| anyhow::anyhow!(error))?;
                Ok(Snapshot { event_id, categories: info.specs(), live })
            })
        };
        self.inner.inventory.ensure_loaded(event_id, &snapshot).await.map_err(store_error)
    }

    /// The seat map of a published event, from the cache.
    fn seat_map(&self, event_id: Uuid, info: &EventInfo) -> Arc<HashMap<String, Uuid>> {
        let mut maps = self.inner.seat_maps.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        maps.entry(event_id).or_insert_with(|| Arc::new(info.seat_map())).clone()
    }

    /// Applies a confirmation or a release to the inventory store. Either must not be lost: when
    /// it meets a rebuild of the event's inventory (which answers "not loaded" until done), it
    /// waits for the rebuild and applies the change again; both are idempotent.
    async fn apply_to_store(
        &self,
        event_id: Uuid,
        booking_id: Uuid,
        change: StoreChange,
    ) -> Result<(), Error> {
        let mut last_error = None;
        for _ in 0..STORE_ATTEMPTS {
            let info = self.event_info(event_id, false).await?;
            if let Err(error) = self.ensure_loaded(&info).await {
                last_error = Some(error);
                continue;
            }
            let applied = match change {
                StoreChange::Confirm => self.inner.inventory.confirm(event_id, booking_id).await,
                StoreChange::Release => self.inner.inventory.release(event_id, booking_id).await,
            };
            match applied {
                Ok(()) => {
                    if let StoreChange::Release = change {
                        self.inner.sold_out.released(event_id);
                    }
                    return Ok(());
                }
                Err(error) => last_error = Some(store_error(error)),
            }
        }
        Err(last_error.unwrap_or_else(|| Error::unavailable("the inventory store does not answer")))
    }

    /// Holds tickets for `caller`: decided in the inventory store, acknowledged once the
    /// pending booking is committed.
    pub async fn create_booking(&self, caller: Caller, request: NewBooking) -> Result<BookingRecord, Error> {
        let Some(key) = request.idempotency_key.clone() else {
            return self.hold(caller, &request, Uuid::now_v7()).await;
        };
        if key.is_empty() || key.chars().count() > IDEMPOTENCY_KEY_MAX_CHARS {
            return Err(Error::validation(format!(
                "Idempotency-Key: must be 1 to {IDEMPOTENCY_KEY_MAX_CHARS} characters"
            )));
        }
        let request_hash = request_hash(&request);
        let started = Instant::now();
        loop {
            let booking_id = Uuid::now_v7();
            let claim = self
                .inner
                .store
                .claim_idempotency_key(
                    caller.user_id,
                    &key,
                    &request_hash,
                    booking_id,
                    self.inner.clock.now(),
                )
                .await?;
            match claim {
                KeyClaim::Claimed => {
                    let result = self.hold(caller, &request, booking_id).await;
                    if result.is_err() {
                        // A failed attempt leaves nothing behind, so a retry with the key tries again.
                        self.inner.store.forget_idempotency_key(caller.user_id, &key).await?;
                    }
                    return result;
                }
                KeyClaim::Existing { request_hash: existing, .. } if existing != request_hash => {
                    return Err(Error::new(
                        Code::IdempotencyConflict,
                        "Idempotency-Key: this key was used with another request body",
                    ));
                }
                KeyClaim::Existing { booking_id, claimed_at, .. } => {
                    if let Some(booking) = self.inner.store.booking(booking_id).await? {
                        return Ok(booking);
                    }
                    let lease = chrono::Duration::from_std(IDEMPOTENCY_LEASE).map_err(Error::internal)?;
                    if self.inner.clock.now() - claimed_at > lease {
                        // Its first request died without an answer: start over.
                        self.inner.store.forget_idempotency_key(caller.user_id, &key).await?;
                        continue;
                    }
                    // The first request is still holding: wait for its answer.
                    if started.elapsed() > IDEMPOTENCY_WAIT {
                        return Err(Error::new(
                            Code::Conflict,
                            "a request with this Idempotency-Key is still in progress",
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    async fn hold(
        &self,
        caller: Caller,
        request: &NewBooking,
        booking_id: Uuid,
    ) -> Result<BookingRecord, Error> {
        let info = self.event_info(request.event_id, false).await?;
        let now = self.inner.clock.now();
        if info.status() != events_pb::EventStatus::Published {
            return Err(Error::not_found("event"));
        }
        if let Some(sale_starts_at) = info.event.sale_starts_at.as_deref().and_then(parse_time) {
            if now < sale_starts_at {
                return Err(Error::new(
                    Code::Conflict,
                    format!("sales open at {}", info.event.sale_starts_at.as_deref().unwrap_or_default()),
                ));
            }
        }
        if parse_time(&info.event.ends_at).is_some_and(|ends_at| now >= ends_at) {
            return Err(Error::new(Code::Conflict, "the event is over"));
        }
        let hold_request = self.parse_hold(caller, &info, request, booking_id)?;
        // Most holds of an on-sale ask for what is gone; the store said so a moment ago.
        let only_quantities = hold_request.seats.is_empty();
        if only_quantities {
            if let Some(category_id) = self.inner.sold_out.refused(request.event_id, &hold_request.quantities)
            {
                return Err(sold_out(category_id));
            }
        }
        let generation = self.inner.sold_out.generation();
        // Almost always the event is loaded (publishing loads it), so the hold goes first and a
        // load happens only when the store says it has to: one round trip per hold, not two.
        let outcome = match self.inner.inventory.hold(request.event_id, &hold_request).await {
            Ok(outcome) => outcome,
            // The event is not loaded, or its inventory is being rebuilt: (wait for the) load
            // and decide again.
            Err(_) => {
                self.ensure_loaded(&info).await?;
                self.inner.inventory.hold(request.event_id, &hold_request).await.map_err(store_error)?
            }
        };
        let units = match outcome {
            HoldOutcome::Held(units) | HoldOutcome::AlreadyHeld(units) => units,
            HoldOutcome::SoldOut { category_id } => {
                let wanted = hold_request.quantities.iter().find(|(category, _)| *category == category_id);
                if let (true, Some((_, quantity))) = (only_quantities, wanted) {
                    self.inner.sold_out.remember(request.event_id, generation, category_id, *quantity);
                }
                return Err(sold_out(category_id));
            }
            HoldOutcome::SeatUnavailable { seat_id } => {
                return Err(Error::new(Code::SeatUnavailable, format!("seat {seat_id} is taken")));
            }
            HoldOutcome::LimitExceeded { live } => {
                return Err(Error::new(
                    Code::LimitExceeded,
                    format!(
                        "an account may have at most {} tickets of this event; you have {live}",
                        hold_request.per_user_cap
                    ),
                ));
            }
        };
        let booking = self.pending_booking(caller, &info, request.event_id, booking_id, &units, now)?;
        let hold = NewHold { booking: booking.clone(), units };
        if let Err(error) = self.inner.commits.insert(hold, now).await {
            // Not recorded, so not held: give the units back.
            if let Err(release_error) =
                self.apply_to_store(request.event_id, booking_id, StoreChange::Release).await
            {
                tracing::error!(%booking_id, error = %release_error, "releasing an unrecorded hold fails");
            }
            return Err(error);
        }
        metrics::counter!("bookings_held_total").increment(1);
        Ok(booking)
    }

    /// Checks the request against the event: known categories and seats, and the
    /// per-booking limit (first, so that a huge request costs nothing).
    fn parse_hold(
        &self,
        caller: Caller,
        info: &EventInfo,
        request: &NewBooking,
        booking_id: Uuid,
    ) -> Result<HoldRequest, Error> {
        let max = info.event.max_tickets_per_booking;
        if !request.items.is_empty() && !request.seats.is_empty() {
            return Err(Error::validation("items or seats: ask for either, not both"));
        }
        let total = request.items.iter().map(|(_, quantity)| u64::from(*quantity)).sum::<u64>()
            + request.seats.len() as u64;
        if total == 0 {
            return Err(Error::validation("items or seats: ask for at least one ticket"));
        }
        if total > u64::from(max) {
            return Err(Error::new(
                Code::LimitExceeded,
                format!("a booking has at most {max} tickets for this event"),
            ));
        }
        let mut quantities = Vec::with_capacity(request.items.len());
        for (index, (category_id, quantity)) in request.items.iter().enumerate() {
            let category = Uuid::parse_str(category_id.trim())
                .ok()
                .filter(|id| info.category(*id).is_some())
                .ok_or_else(|| {
                    Error::validation(format!("items[{index}].category_id: not a category of this event"))
                })?;
            if *quantity == 0 {
                return Err(Error::validation(format!("items[{index}].quantity: must be at least 1")));
            }
            if quantities.iter().any(|(existing, _)| *existing == category) {
                return Err(Error::validation(format!("items[{index}].category_id: named twice")));
            }
            quantities.push((category, *quantity));
        }
        let mut seats = Vec::with_capacity(request.seats.len());
        if !request.seats.is_empty() {
            let event_id = Uuid::parse_str(&info.event.id).map_err(Error::internal)?;
            let seat_map = self.seat_map(event_id, info);
            let mut seen = HashSet::new();
            for (index, seat_id) in request.seats.iter().enumerate() {
                let seat_id = seat_id.trim();
                let category = *seat_map
                    .get(seat_id)
                    .ok_or_else(|| Error::validation(format!("seats[{index}]: not a seat of this event")))?;
                if !seen.insert(seat_id.to_owned()) {
                    return Err(Error::validation(format!("seats[{index}]: named twice")));
                }
                seats.push((category, seat_id.to_owned()));
            }
        }
        Ok(HoldRequest { booking_id, user_id: caller.user_id, quantities, seats, per_user_cap: max })
    }

    fn pending_booking(
        &self,
        caller: Caller,
        info: &EventInfo,
        event_id: Uuid,
        booking_id: Uuid,
        units: &[(Uuid, String)],
        now: DateTime<Utc>,
    ) -> Result<BookingRecord, Error> {
        let mut items: Vec<Item> = Vec::new();
        let mut seats = Vec::new();
        let mut total_cents: i64 = 0;
        let mut currency = String::new();
        for (category_id, unit_id) in units {
            let category = info
                .category(*category_id)
                .ok_or_else(|| Error::internal("a held unit of an unknown category"))?;
            currency.clone_from(&category.currency);
            total_cents += category.price_cents;
            if category.kind == i32::from(events_pb::CategoryKind::Seated) {
                seats.push(unit_id.clone());
            }
            match items.iter_mut().find(|item| item.category_id == *category_id) {
                Some(item) => item.quantity += 1,
                None => items.push(Item {
                    category_id: *category_id,
                    quantity: 1,
                    unit_price_cents: category.price_cents,
                }),
            }
        }
        let expires_at = now + chrono::Duration::from_std(HOLD_TTL).map_err(Error::internal)?;
        Ok(BookingRecord {
            id: booking_id,
            event_id,
            user_id: caller.user_id,
            status: BookingStatus::Pending,
            items,
            seats,
            total_cents,
            currency,
            expires_at,
            created_at: now,
            tickets: Vec::new(),
        })
    }

    /// The booking if `caller` may see it: its owner, or an admin. Others get 404.
    pub async fn booking(&self, caller: Caller, booking_id: Uuid) -> Result<BookingRecord, Error> {
        match self.inner.store.booking(booking_id).await? {
            Some(booking) if booking.user_id == caller.user_id || caller.role == Role::Admin => Ok(booking),
            _ => Err(booking_not_found()),
        }
    }

    /// The booking if it is `caller`'s own; admins read others' but do not act for them.
    async fn own_booking(&self, caller: Caller, booking_id: Uuid) -> Result<BookingRecord, Error> {
        match self.inner.store.booking(booking_id).await? {
            Some(booking) if booking.user_id == caller.user_id => Ok(booking),
            _ => Err(booking_not_found()),
        }
    }

    pub async fn list(
        &self,
        caller: Caller,
        limit: PageSize,
        cursor: Option<&str>,
    ) -> Result<(Vec<BookingRecord>, Option<String>), Error> {
        let limit = limit.get();
        let after = cursor.map(decode_cursor).transpose()?;
        let user = (caller.role != Role::Admin).then_some(caller.user_id);
        let bookings = self.inner.store.list(user, after, limit + 1).await?;
        Ok(page(bookings, limit))
    }

    /// Takes the payment and turns the hold into tickets. Repeating it returns the confirmed
    /// booking; after the hold expired it fails with `hold_expired` and nothing is charged.
    pub async fn confirm(
        &self,
        caller: Caller,
        booking_id: Uuid,
        payment_token: &str,
    ) -> Result<BookingRecord, Error> {
        let booking = self.own_booking(caller, booking_id).await?;
        match booking.status {
            BookingStatus::Confirmed => return Ok(booking),
            BookingStatus::Expired => return Err(hold_expired()),
            BookingStatus::Cancelled | BookingStatus::Refunded => {
                return Err(Error::new(
                    Code::Conflict,
                    format!("the booking is {}", booking.status.as_str()),
                ));
            }
            BookingStatus::Pending => {}
        }
        if self.inner.clock.now() >= booking.expires_at {
            self.expire(booking.id, booking.event_id).await?;
            return Err(hold_expired());
        }
        if payment_token.trim().is_empty() {
            return Err(Error::validation("payment_token: must not be empty"));
        }
        // Money is taken only for an event still on sale: ask the events service afresh.
        let info = self.event_info(booking.event_id, true).await?;
        if info.status() != events_pb::EventStatus::Published {
            self.cancel_pending(&booking).await?;
            return Err(Error::new(Code::Conflict, "the event was cancelled; the hold is released"));
        }
        let charge_id = match self
            .inner
            .payments
            .charge(booking.id, booking.total_cents, &booking.currency, payment_token.trim())
            .await
        {
            Ok(charge_id) => charge_id,
            Err(PaymentError::Declined) => {
                return Err(Error::new(
                    Code::PaymentDeclined,
                    "the payment was declined; the hold stays until it expires",
                ));
            }
            Err(PaymentError::Unavailable(why)) => return Err(Error::unavailable(why)),
        };
        let units = self.inner.store.units(booking.id).await?;
        let tickets: Vec<TicketRecord> = units
            .iter()
            .map(|(category_id, unit_id)| {
                let id = Uuid::now_v7();
                let price_cents = info.category(*category_id).map_or(0, |category| category.price_cents);
                let seated = booking.seats.contains(unit_id);
                TicketRecord {
                    id,
                    booking_id: booking.id,
                    event_id: booking.event_id,
                    category_id: *category_id,
                    unit_id: unit_id.clone(),
                    seat: seated.then(|| unit_id.clone()),
                    price_cents,
                    code: self.inner.signer.code(id, booking.event_id),
                    checked_in_at: None,
                }
            })
            .collect();
        let now = self.inner.clock.now();
        if !self.inner.store.confirm(booking.id, &charge_id, &tickets, now).await? {
            // Another confirmation won (same charge, by its idempotency key); or the hold ran
            // out, the booking was cancelled or the event closed while the payment was made:
            // then the money goes back.
            let current = self.inner.store.booking(booking.id).await?.ok_or_else(booking_not_found)?;
            if current.status == BookingStatus::Confirmed {
                return Ok(current);
            }
            self.refund_charge(booking.id).await?;
            if self.inner.store.is_closed(booking.event_id).await? {
                self.cancel_pending(&current).await?;
                return Err(Error::new(Code::Conflict, "the event was cancelled; the payment is refunded"));
            }
            return match current.status {
                BookingStatus::Pending | BookingStatus::Expired => {
                    self.expire(booking.id, booking.event_id).await?;
                    Err(hold_expired())
                }
                status => Err(Error::new(
                    Code::Conflict,
                    format!("the booking is {}; the payment is refunded", status.as_str()),
                )),
            };
        }
        if let Err(error) = self.apply_to_store(booking.event_id, booking.id, StoreChange::Confirm).await {
            // The sale is recorded; the store only counts it as held until it is rebuilt.
            tracing::error!(%booking_id, error = %error, "marking units sold in the inventory store fails");
        }
        metrics::counter!("bookings_confirmed_total").increment(1);
        self.inner.store.booking(booking.id).await?.ok_or_else(booking_not_found)
    }

    async fn refund_charge(&self, booking_id: Uuid) -> Result<(), Error> {
        self.inner.payments.refund(booking_id).await.map_err(|error| Error::unavailable(error.to_string()))
    }

    /// Releases a due hold: the booking becomes `expired` and its units return to sale.
    pub async fn expire(&self, booking_id: Uuid, event_id: Uuid) -> Result<bool, Error> {
        let expired = self
            .inner
            .store
            .close(booking_id, BookingStatus::Pending, BookingStatus::Expired, self.inner.clock.now())
            .await?;
        if expired {
            self.release_units(event_id, booking_id).await;
            metrics::counter!("bookings_expired_total").increment(1);
        }
        Ok(expired)
    }

    async fn release_units(&self, event_id: Uuid, booking_id: Uuid) {
        if let Err(error) = self.apply_to_store(event_id, booking_id, StoreChange::Release).await {
            // The database released them; the store catches up when it is rebuilt.
            tracing::error!(%booking_id, error = %error, "releasing units in the inventory store fails");
        }
    }

    async fn cancel_pending(&self, booking: &BookingRecord) -> Result<bool, Error> {
        let cancelled = self
            .inner
            .store
            .close(booking.id, BookingStatus::Pending, BookingStatus::Cancelled, self.inner.clock.now())
            .await?;
        if cancelled {
            self.release_units(booking.event_id, booking.id).await;
        }
        Ok(cancelled)
    }

    async fn refund(&self, booking: &BookingRecord) -> Result<bool, Error> {
        self.refund_charge(booking.id).await?;
        let refunded = self
            .inner
            .store
            .close(booking.id, BookingStatus::Confirmed, BookingStatus::Refunded, self.inner.clock.now())
            .await?;
        if refunded {
            self.release_units(booking.event_id, booking.id).await;
        }
        Ok(refunded)
    }

    /// pending → cancelled, confirmed → refunded; the tickets return to sale at once.
    pub async fn cancel(&self, caller: Caller, booking_id: Uuid) -> Result<BookingRecord, Error> {
        let booking = self.own_booking(caller, booking_id).await?;
        match booking.status {
            BookingStatus::Pending => {
                self.cancel_pending(&booking).await?;
            }
            BookingStatus::Confirmed => {
                if booking.tickets.iter().any(|ticket| ticket.checked_in_at.is_some()) {
                    return Err(Error::new(
                        Code::Conflict,
                        "a ticket of this booking was already used at the door; it cannot be refunded",
                    ));
                }
                self.refund(&booking).await?;
            }
            BookingStatus::Expired => {
                return Err(Error::new(
                    Code::Conflict,
                    "the booking has expired; there is nothing to cancel",
                ));
            }
            BookingStatus::Cancelled | BookingStatus::Refunded => {}
        }
        self.inner.store.booking(booking_id).await?.ok_or_else(booking_not_found)
    }

    /// Cancels or refunds every live booking of an event, for an event its organizer cancelled.
    /// The event is closed first, so no confirmation can succeed afterwards; a few passes catch
    /// the ones that were committing at that moment.
    pub async fn cancel_event_bookings(&self, event_id: Uuid) -> Result<(u32, u32), Error> {
        self.inner.store.close_event(event_id, self.inner.clock.now()).await?;
        self.inner.event_cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&event_id);
        let (mut cancelled, mut refunded) = (0, 0);
        for pass in 0..CANCEL_SWEEP_PASSES {
            if pass > 0 {
                tokio::time::sleep(CANCEL_SWEEP_PAUSE).await;
            }
            let live = self.inner.store.live_bookings(event_id).await?;
            if live.is_empty() && pass > 0 {
                break;
            }
            for (booking_id, status) in live {
                let Some(booking) = self.inner.store.booking(booking_id).await? else { continue };
                match status {
                    BookingStatus::Pending if self.cancel_pending(&booking).await? => cancelled += 1,
                    BookingStatus::Confirmed if self.refund(&booking).await? => refunded += 1,
                    _ => {}
                }
            }
        }
        tracing::info!(%event_id, cancelled, refunded, "closed the bookings of a cancelled event");
        Ok((cancelled, refunded))
    }

    /// The QR code of one of `caller`'s tickets.
    pub async fn ticket_qr(&self, caller: Caller, ticket_id: Uuid) -> Result<Vec<u8>, Error> {
        let ticket = match self.inner.store.ticket(ticket_id).await? {
            Some((ticket, owner, _)) if owner == caller.user_id || caller.role == Role::Admin => ticket,
            _ => return Err(Error::not_found("ticket")),
        };
        crate::tickets::qr::png(&ticket.code).map_err(Error::internal)
    }

    /// Admits a ticket, once, for the event's organizer or an admin.
    pub async fn check_in(&self, caller: Caller, code: &str) -> Result<(TicketRecord, DateTime<Utc>), Error> {
        if caller.role == Role::Customer {
            return Err(Error::new(
                Code::Forbidden,
                "only the event's organizer or an admin checks tickets in",
            ));
        }
        let forged = || Error::validation("code: not a valid ticket code");
        let (ticket_id, event_id) = self.inner.signer.verify(code).ok_or_else(forged)?;
        let info = self.event_info(event_id, false).await?;
        if !owns(caller, &info) {
            return Err(Error::new(
                Code::Forbidden,
                "only the event's organizer or an admin checks tickets in",
            ));
        }
        let (ticket, _, status) = self.inner.store.ticket(ticket_id).await?.ok_or_else(forged)?;
        if status != BookingStatus::Confirmed {
            return Err(Error::new(Code::Conflict, format!("the ticket's booking is {}", status.as_str())));
        }
        match self.inner.store.check_in(ticket_id, self.inner.clock.now()).await? {
            CheckIn::Admitted(at) => Ok((ticket, at)),
            CheckIn::AlreadyAdmitted(at) => Err(Error::new(
                Code::AlreadyCheckedIn,
                format!(
                    "the ticket was checked in at {}",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            )),
        }
    }

    /// Availability of an event `caller` may see. Before an event is published nothing can be
    /// held, so every unit is available; afterwards the inventory store answers.
    pub async fn availability(
        &self,
        caller: Option<Caller>,
        event_id: Uuid,
    ) -> Result<(Arc<EventInfo>, Availability), Error> {
        let info = self.event_info(event_id, false).await?;
        if info.status() != events_pb::EventStatus::Published {
            // Unpublished events are their organizer's business alone, as in the events service.
            if !caller.is_some_and(|caller| owns(caller, &info)) {
                return Err(Error::not_found("event"));
            }
            return Ok((info.clone(), unsold(&info)));
        }
        self.ensure_loaded(&info).await?;
        let availability = self.inner.inventory.availability(event_id).await.map_err(store_error)?;
        let availability =
            availability.ok_or_else(|| Error::unavailable("the inventory of the event is being rebuilt"))?;
        Ok((info, availability))
    }

    /// The organizer's figures: counts from the inventory store, money and check-ins from the
    /// database.
    pub async fn stats(
        &self,
        caller: Caller,
        event_id: Uuid,
    ) -> Result<(Arc<EventInfo>, Availability, Vec<(Uuid, CategorySales)>), Error> {
        let info = self.event_info(event_id, false).await?;
        require_organizer(caller, &info)?;
        let (_, availability) = self.availability(Some(caller), event_id).await?;
        let sales = self.inner.store.sales(event_id).await?;
        Ok((info, availability, sales))
    }

    pub async fn event_bookings(
        &self,
        caller: Caller,
        event_id: Uuid,
        status: Option<BookingStatus>,
        limit: PageSize,
        cursor: Option<&str>,
    ) -> Result<(Vec<BookingRecord>, Option<String>), Error> {
        let info = self.event_info(event_id, false).await?;
        require_organizer(caller, &info)?;
        let limit = limit.get();
        let after = cursor.map(decode_cursor).transpose()?;
        let bookings = self.inner.store.list_for_event(event_id, status, after, limit + 1).await?;
        Ok(page(bookings, limit))
    }

    /// Loads a just-published event's units into the inventory store (asking the events service
    /// afresh, so a cached draft does not hide the publication).
    pub async fn load_inventory(&self, event_id: Uuid) -> Result<(), Error> {
        let info = self.event_info(event_id, true).await?;
        if info.status() == events_pb::EventStatus::Published {
            self.ensure_loaded(&info).await?;
        }
        Ok(())
    }

    /// One sweep of the expirer: releases every hold that is due.
    pub async fn expire_due(&self) -> Result<usize, Error> {
        let due = self.inner.store.due_expirations(self.inner.clock.now(), EXPIRY_BATCH).await?;
        let mut expired = 0;
        for (booking_id, event_id) in due {
            if self.expire(booking_id, event_id).await? {
                expired += 1;
            }
        }
        Ok(expired)
    }

    pub async fn purge_idempotency_keys(&self) -> Result<u64, Error> {
        let cutoff = self.inner.clock.now()
            - chrono::Duration::from_std(IDEMPOTENCY_KEY_TTL).map_err(Error::internal)?;
        self.inner.store.purge_idempotency_keys(cutoff).await
    }

    pub async fn check_ready(&self) -> Result<(), Error> {
        self.inner.store.ping().await?;
        self.inner.inventory.ping().await.map_err(store_error)
    }
}

fn hold_expired() -> Error {
    Error::new(Code::HoldExpired, "the hold expired before the payment; nothing was charged")
}

fn owns(caller: Caller, info: &EventInfo) -> bool {
    caller.role == Role::Admin || info.organizer_id() == Some(caller.user_id)
}

/// Organizer views: others get 403 for a published event and 404 for one the public cannot see.
fn require_organizer(caller: Caller, info: &EventInfo) -> Result<(), Error> {
    if owns(caller, info) {
        Ok(())
    } else if info.status() == events_pb::EventStatus::Published {
        Err(Error::new(Code::Forbidden, "only the event's organizer or an admin sees this"))
    } else {
        Err(Error::not_found("event"))
    }
}

/// Every unit available: an event that cannot be sold yet (or any more).
fn unsold(info: &EventInfo) -> Availability {
    let mut availability = Availability::default();
    for spec in info.specs() {
        let capacity = match &spec.units {
            CategoryUnits::GeneralAdmission { capacity } => *capacity,
            CategoryUnits::Seated { seat_ids } => {
                availability.seats.extend(seat_ids.iter().map(|seat| (seat.clone(), spec.category_id, None)));
                u32::try_from(seat_ids.len()).unwrap_or(u32::MAX)
            }
        };
        availability.categories.push((spec.category_id, Counts { capacity, held: 0, sold: 0 }));
    }
    availability
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|time| time.with_timezone(&Utc))
}

/// A stable digest of what a request asks for, to tell a retry from another request that
/// reuses its Idempotency-Key.
fn request_hash(request: &NewBooking) -> String {
    let mut hasher = Sha256::new();
    hasher.update(request.event_id.as_bytes());
    for (category_id, quantity) in &request.items {
        hasher.update(format!("|item:{}:{quantity}", category_id.trim()).as_bytes());
    }
    for seat in &request.seats {
        hasher.update(format!("|seat:{}", seat.trim()).as_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hasher.finalize())
}

fn page(mut bookings: Vec<BookingRecord>, limit: u32) -> (Vec<BookingRecord>, Option<String>) {
    let next = if bookings.len() > limit as usize {
        bookings.truncate(limit as usize);
        bookings.last().map(|last| boxoffice_db::cursor::encode((last.created_at, last.id)))
    } else {
        None
    };
    (bookings, next)
}

fn decode_cursor(cursor: &str) -> Result<Position, Error> {
    boxoffice_db::cursor::decode(cursor)
        .ok_or_else(|| Error::validation("cursor: not a cursor this API gave out"))
}
