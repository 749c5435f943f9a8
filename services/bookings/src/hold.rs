//! Holding tickets: the hot path of an on-sale.
//!
//! A hold reads the event from the catalog's cache, checks the request against it, asks the
//! inventory once (which decides every unit or none, atomically), and is acknowledged only
//! after its pending booking commits in the database, in whatever batch of the group commit it
//! joined. A hold the database refuses gives its units back at once.
//!
//! A hold has a deadline ([`HOLD_DEADLINE`], or sooner when its caller waits less): one that
//! cannot be recorded by then is given up and its units released, so a caller told it failed
//! never has a booking for it.
//!
//! An Idempotency-Key makes a retry return the first request's booking: the key is claimed in
//! the database before the hold, so of concurrent requests with one key one holds and the
//! others wait for its answer. One that cannot learn it within its own deadline (the first
//! request's hold, or its giving the key back, waits for the database) is answered 503, not
//! 409, so that its client tries again.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use boxoffice_errors::{Code, Error};
use boxoffice_telemetry::TraceHeaders;
use boxoffice_types::limits::IDEMPOTENCY_KEY_MAX_CHARS;
use boxoffice_types::{Caller, CategoryKind};
use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::catalog::SaleEvent;
use crate::db::{KeyClaim, NewHold};
use crate::domain::{
    BookingRecord, BookingStatus, HoldRequest, Item, NewBooking, Unit, FORGET_AGAIN_AFTER, HOLD_DEADLINE,
    IDEMPOTENCY_LEASE, IDEMPOTENCY_POLL_INTERVAL,
};
use crate::group_commit::too_late;
use crate::inventory::HoldOutcome;
use crate::service::Bookings;

impl Bookings {
    /// Holds tickets for `caller`: decided in the inventory, acknowledged once the pending
    /// booking is committed.
    ///
    /// Most holds of an on-sale ask for what is gone, and the sold-out memo says so before
    /// anything changes: those are answered on the caller's task. Every other hold runs to the
    /// end on its own task once begun (a hold made but unrecorded must not be left behind), and
    /// so does every request with an Idempotency-Key, whose claim comes first: a retry of a
    /// booking that succeeded gets that booking, whatever the memo says now.
    /// Every hold is counted by outcome (`bookings_holds_total`): a refusal here, a hold where
    /// it is made (a retry with an Idempotency-Key that returns the first answer counts nothing).
    pub async fn create_booking(&self, caller: Caller, request: NewBooking) -> Result<BookingRecord, Error> {
        self.create_booking_by(caller, request, Instant::now() + HOLD_DEADLINE).await
    }

    /// [`Bookings::create_booking`], given up at `deadline` (see the module's documentation).
    pub async fn create_booking_by(
        &self,
        caller: Caller,
        request: NewBooking,
        deadline: Instant,
    ) -> Result<BookingRecord, Error> {
        let held = self.create_booking_counted(caller, request, deadline).await;
        if let Err(error) = &held {
            let outcome = match error.code {
                Code::SoldOut => "sold_out",
                Code::SeatUnavailable => "seat_unavailable",
                Code::LimitExceeded => "limit",
                _ => "refused",
            };
            metrics::counter!("bookings_holds_total", "outcome" => outcome).increment(1);
        }
        held
    }

    async fn create_booking_counted(
        &self,
        caller: Caller,
        request: NewBooking,
        deadline: Instant,
    ) -> Result<BookingRecord, Error> {
        if request.idempotency_key.is_some() {
            return self
                .detached(move |this| async move { this.create_with_key(caller, request, deadline).await })
                .await;
        }
        let (event, hold) = self.check_hold(caller, &request, Uuid::now_v7()).await?;
        if let Some(refusal) = self.inner.inventory.refused_recently(&event, &hold) {
            return Err(refusal_error(refusal, &hold));
        }
        self.detached(move |this| async move { this.hold_checked(caller, &event, hold, deadline).await })
            .await
    }

    async fn create_with_key(
        &self,
        caller: Caller,
        request: NewBooking,
        deadline: Instant,
    ) -> Result<BookingRecord, Error> {
        let key = request.idempotency_key.clone().unwrap_or_default();
        if key.is_empty() || key.chars().count() > IDEMPOTENCY_KEY_MAX_CHARS {
            return Err(Error::validation(format!(
                "Idempotency-Key: must be 1 to {IDEMPOTENCY_KEY_MAX_CHARS} characters"
            )));
        }
        let request_hash = request_hash(&request);
        let db = &self.inner.db;
        loop {
            let booking_id = Uuid::now_v7();
            let claimed = Instant::now();
            let claim = db
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
                    let result = self.hold(caller, &request, booking_id, deadline).await;
                    if result.is_err() {
                        // A failed attempt leaves nothing behind, so a retry with the key tries again.
                        self.forget_claim(caller.user_id, key, booking_id, claimed).await;
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
                    if let Some(booking) = db.booking(booking_id).await? {
                        return Ok(booking);
                    }
                    let lease = chrono::Duration::from_std(IDEMPOTENCY_LEASE).map_err(Error::internal)?;
                    if self.inner.clock.now() - claimed_at > lease {
                        // Its first request died without an answer: start over (unless another
                        // retry already did).
                        db.forget_idempotency_key(caller.user_id, &key, booking_id).await?;
                        continue;
                    }
                    // The first request is still holding, or its failure is still giving the
                    // key back: wait for its answer until this request's own deadline. A request
                    // that spent its time waiting for the database may see the claim only then:
                    // it is answered 503, so that its client retries (and by then the claim is
                    // given back, or the booking there, or the lease over).
                    if Instant::now() >= deadline {
                        return Err(Error::new(
                            Code::Unavailable,
                            "the first request with this Idempotency-Key has not finished; try again shortly",
                        ));
                    }
                    tokio::time::sleep(IDEMPOTENCY_POLL_INTERVAL).await;
                }
            }
        }
    }

    /// Forgets the claim of a key whose hold failed, unless its booking exists after all (a
    /// commit that could not be told). If the database cannot be reached now (the hold most
    /// likely failed for that), it is tried again in the background until it can, until the
    /// claim's lease ends: otherwise a retry with the key, sent as soon as its caller was told
    /// the hold failed, would wait for the lease and be answered 503 again.
    /// At most [`crate::domain::MAX_CLAIMS_FORGOTTEN_LATER`] at once; others are left to their
    /// lease.
    async fn forget_claim(&self, user_id: Uuid, key: String, booking_id: Uuid, claimed: Instant) {
        let db = self.inner.db.clone();
        if db.forget_idempotency_key(user_id, &key, booking_id).await.is_ok() {
            return;
        }
        let Ok(permit) = self.inner.claims_forgotten_later.clone().try_acquire_owned() else {
            return;
        };
        tokio::spawn(async move {
            let _permit = permit;
            // Each try may wait for a connection; they go on until the claim's lease has ended,
            // when a retry may take the claim over anyway.
            let until = Instant::now().max(claimed + IDEMPOTENCY_LEASE);
            loop {
                tokio::time::sleep(FORGET_AGAIN_AFTER).await;
                let forgotten = db.forget_idempotency_key(user_id, &key, booking_id).await.is_ok();
                if forgotten || Instant::now() >= until {
                    return;
                }
            }
        });
    }

    async fn hold(
        &self,
        caller: Caller,
        request: &NewBooking,
        booking_id: Uuid,
        deadline: Instant,
    ) -> Result<BookingRecord, Error> {
        let (event, hold) = self.check_hold(caller, request, booking_id).await?;
        self.hold_checked(caller, &event, hold, deadline).await
    }

    /// What a hold checks before it changes anything: the event is on sale, and the request
    /// names its categories and seats within its limits.
    async fn check_hold(
        &self,
        caller: Caller,
        request: &NewBooking,
        booking_id: Uuid,
    ) -> Result<(Arc<SaleEvent>, HoldRequest), Error> {
        let event = self.inner.catalog.event(request.event_id).await?;
        let now = self.inner.clock.now();
        if !event.is_published() {
            return Err(Error::not_found("event"));
        }
        if let Some(sale_starts_at) = event.sale_starts_at {
            if now < sale_starts_at {
                return Err(Error::new(
                    Code::Conflict,
                    format!(
                        "sales open at {}",
                        sale_starts_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                    ),
                ));
            }
        }
        if now >= event.ends_at {
            return Err(Error::new(Code::Conflict, "the event is over"));
        }
        let hold = parse_hold(caller, &event, request, booking_id)?;
        Ok((event, hold))
    }

    /// The hold itself: decided in the inventory, then recorded before `deadline`, or given up.
    async fn hold_checked(
        &self,
        caller: Caller,
        event: &Arc<SaleEvent>,
        hold: HoldRequest,
        deadline: Instant,
    ) -> Result<BookingRecord, Error> {
        if Instant::now() >= deadline {
            return Err(too_late());
        }
        let booking_id = hold.booking_id;
        let units = match self.inner.inventory.hold(event, &hold).await? {
            HoldOutcome::Held(units) | HoldOutcome::AlreadyHeld(units) => units,
            refusal => return Err(refusal_error(refusal, &hold)),
        };
        let now = self.inner.clock.now();
        let expires_at =
            now + chrono::Duration::from_std(self.inner.hold_ttl.get()).map_err(Error::internal)?;
        let booking = pending_booking(caller, event, booking_id, &units, now, expires_at)?;
        let hold = NewHold { booking: booking.clone(), units, trace: TraceHeaders::current() };
        if let Err(error) = self.inner.holds_recorded.record(hold, now, Some(deadline)).await {
            // Not recorded, so not held: give the units back.
            if let Err(release_error) = self.inner.inventory.release(event.id, booking_id).await {
                tracing::error!(%booking_id, error = %release_error, "releasing an unrecorded hold fails");
            }
            return Err(error);
        }
        metrics::counter!("bookings_holds_total", "outcome" => "held").increment(1);
        Ok(booking)
    }

    /// Loads a just-published event's units into the inventory, so that the first buyers of
    /// its on-sale do not wait for it. The events service is asked afresh, so that a cached
    /// draft does not hide the publication.
    pub async fn load_inventory(&self, event_id: Uuid) -> Result<(), Error> {
        let event = self.inner.catalog.fresh_event(event_id).await?;
        if event.is_published() {
            self.inner.inventory.load(&event).await?;
        }
        Ok(())
    }
}

/// The error a refusal of the inventory answers.
fn refusal_error(outcome: HoldOutcome, hold: &HoldRequest) -> Error {
    match outcome {
        HoldOutcome::SoldOut { category_id } => {
            Error::new(Code::SoldOut, format!("not enough tickets left in category {category_id}"))
        }
        HoldOutcome::SeatUnavailable { seat_id } => {
            Error::new(Code::SeatUnavailable, format!("seat {seat_id} is taken"))
        }
        HoldOutcome::LimitExceeded { live } => Error::new(
            Code::LimitExceeded,
            format!(
                "an account may have at most {} tickets of this event; you have {live}",
                hold.per_user_cap
            ),
        ),
        HoldOutcome::Held(_) | HoldOutcome::AlreadyHeld(_) => {
            Error::internal("a hold that was granted was taken for a refusal")
        }
    }
}

/// Checks the request against the event: known categories and seats, and the per-booking limit
/// (first, so that a huge request costs nothing).
fn parse_hold(
    caller: Caller,
    event: &SaleEvent,
    request: &NewBooking,
    booking_id: Uuid,
) -> Result<HoldRequest, Error> {
    let max = event.max_tickets_per_booking;
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
        let category =
            Uuid::parse_str(category_id.trim()).ok().filter(|id| event.category(*id).is_some()).ok_or_else(
                || Error::validation(format!("items[{index}].category_id: not a category of this event")),
            )?;
        if *quantity == 0 {
            return Err(Error::validation(format!("items[{index}].quantity: must be at least 1")));
        }
        if quantities.iter().any(|(existing, _)| *existing == category) {
            return Err(Error::validation(format!("items[{index}].category_id: named twice")));
        }
        quantities.push((category, *quantity));
    }
    let mut seats: Vec<Unit> = Vec::with_capacity(request.seats.len());
    for (index, seat_id) in request.seats.iter().enumerate() {
        let seat_id = seat_id.trim();
        let category = event
            .units
            .seat_category(seat_id)
            .ok_or_else(|| Error::validation(format!("seats[{index}]: not a seat of this event")))?;
        // At most `max` seats, so a scan is cheaper than a set.
        if seats.iter().any(|(_, seen)| seen == seat_id) {
            return Err(Error::validation(format!("seats[{index}]: named twice")));
        }
        seats.push((category, seat_id.to_owned()));
    }
    Ok(HoldRequest { booking_id, user_id: caller.user_id, quantities, seats, per_user_cap: max })
}

/// The pending booking of the units the inventory held, priced from the event.
fn pending_booking(
    caller: Caller,
    event: &SaleEvent,
    booking_id: Uuid,
    units: &[Unit],
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<BookingRecord, Error> {
    let mut items: Vec<Item> = Vec::new();
    let mut seats = Vec::new();
    let mut total_cents: i64 = 0;
    let mut currency = None;
    for (category_id, unit_id) in units {
        let category = event
            .category(*category_id)
            .ok_or_else(|| Error::internal("a held unit of an unknown category"))?;
        currency = Some(&category.currency);
        total_cents += category.price_cents;
        if category.kind == CategoryKind::Seated {
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
    Ok(BookingRecord {
        id: booking_id,
        event_id: event.id,
        user_id: caller.user_id,
        status: BookingStatus::Pending,
        items,
        seats,
        total_cents,
        currency: currency.cloned().unwrap_or_default(),
        expires_at,
        created_at: now,
        tickets: Vec::new(),
    })
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
