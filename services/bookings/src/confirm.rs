//! Confirming a hold: the payment, then the tickets.
//!
//! Money is taken only for a live hold of an event still on sale (asked of the events service
//! afresh), and the charge carries the booking id as its idempotency key. The tickets are
//! issued by the database's compare-and-set [`Change::Confirm`], which succeeds only while the
//! hold is pending, unexpired and its event not closed (read under the event's sale lock, so a
//! confirmation never commits after its event's closing began); if it fails, the charge is
//! refunded at once and the booking settles as the table of transitions says (expired, or
//! cancelled with its event). The inventory then counts the units as sold.
//!
//! The confirmations of concurrent payments are recorded together ([`GroupCommit`]), each
//! answered with its own outcome once the batch has committed; the bookings they pay for are
//! read together too, with their units.

use boxoffice_errors::{Code, Error};
use boxoffice_telemetry::TraceHeaders;
use boxoffice_types::{Caller, CategoryKind};
use uuid::Uuid;

use crate::db::Payment;
use crate::domain::{next, BookingRecord, BookingStatus, Change, TicketRecord};
use crate::domain_events::EndReason;
#[cfg(doc)]
use crate::group_commit::GroupCommit;
use crate::payments::PaymentError;
use crate::service::{booking_not_found, Bookings};

fn hold_expired() -> Error {
    Error::new(Code::HoldExpired, "the hold expired before the payment; nothing was charged")
}

impl Bookings {
    /// Takes the payment and turns the hold into tickets. Repeating it returns the confirmed
    /// booking; after the hold expired it fails with `hold_expired` and nothing is charged.
    /// Runs to the end on its own task once begun.
    pub async fn confirm(
        &self,
        caller: Caller,
        booking_id: Uuid,
        payment_token: &str,
    ) -> Result<BookingRecord, Error> {
        let payment_token = payment_token.to_owned();
        self.detached(move |this| async move { this.pay(caller, booking_id, &payment_token).await }).await
    }

    async fn pay(
        &self,
        caller: Caller,
        booking_id: Uuid,
        payment_token: &str,
    ) -> Result<BookingRecord, Error> {
        // Read with the bookings of the other payments under way, in one batch.
        let (booking, units) =
            match self.inner.payments_read.record(booking_id, self.inner.clock.now(), None).await? {
                Some((booking, units)) if booking.user_id == caller.user_id => (booking, units),
                _ => return Err(booking_not_found()),
            };
        if next(booking.status, Change::Confirm).is_none() {
            return match booking.status {
                BookingStatus::Confirmed => Ok(booking),
                BookingStatus::Expired => Err(hold_expired()),
                status => Err(Error::new(Code::Conflict, format!("the booking is {}", status.as_str()))),
            };
        }
        if self.inner.clock.now() >= booking.expires_at {
            self.expire(booking.id, booking.event_id).await?;
            return Err(hold_expired());
        }
        if payment_token.trim().is_empty() {
            return Err(Error::validation("payment_token: must not be empty"));
        }
        // Money is taken only for an event still on sale: ask the events service afresh.
        let event = self.inner.catalog.fresh_event(booking.event_id).await?;
        if !event.is_published() {
            self.close(booking.id, booking.event_id, Change::Cancel, EndReason::EventCancelled).await?;
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
                metrics::counter!("bookings_payment_declines_total").increment(1);
                tracing::info!(%booking_id, event_id = %booking.event_id, "payment declined");
                return Err(Error::new(
                    Code::PaymentDeclined,
                    "the payment was declined; the hold stays until it expires",
                ));
            }
            Err(PaymentError::Unavailable(why)) => {
                tracing::warn!(%booking_id, reason = %why, "the payment provider is unavailable");
                return Err(Error::unavailable(why));
            }
        };
        let tickets: Vec<TicketRecord> = units
            .into_iter()
            .map(|(category_id, unit_id)| {
                let id = Uuid::now_v7();
                let category = event.category(category_id);
                let seated = category.is_some_and(|category| category.kind == CategoryKind::Seated);
                TicketRecord {
                    id,
                    booking_id: booking.id,
                    event_id: booking.event_id,
                    category_id,
                    seat: seated.then(|| unit_id.clone()),
                    unit_id,
                    price_cents: category.map_or(0, |category| category.price_cents),
                    code: self.inner.signer.code(id, booking.event_id, 0),
                    checked_in_at: None,
                    holder_id: None,
                    generation: 0,
                }
            })
            .collect();
        let payment = Payment {
            booking_id: booking.id,
            event_id: booking.event_id,
            charge_id,
            tickets,
            trace: TraceHeaders::current(),
        };
        let now = self.inner.clock.now();
        let Some(confirmed) = self.inner.payments_recorded.record(payment, now, None).await? else {
            return self.settle_refused_confirmation(&booking).await;
        };
        if let Err(error) = self.inner.inventory.confirm(booking.event_id, booking.id).await {
            // The sale is recorded; the inventory only counts it as held until it is rebuilt.
            tracing::error!(%booking_id, error = %error, "marking units sold in the inventory fails");
        }
        metrics::counter!("bookings_confirmed_total").increment(1);
        Ok(confirmed)
    }

    /// The database refused the confirmation after the charge: another confirmation won (same
    /// charge, by its idempotency key); or the hold ran out, the booking was cancelled or the
    /// event closed while the payment was made: then the money goes back.
    async fn settle_refused_confirmation(&self, booking: &BookingRecord) -> Result<BookingRecord, Error> {
        let current = self.reread(booking.id).await?;
        if current.status == BookingStatus::Confirmed {
            return Ok(current);
        }
        self.refund_charge(booking.id).await?;
        if self.inner.db.is_closed(booking.event_id).await? {
            self.close(booking.id, booking.event_id, Change::Cancel, EndReason::EventCancelled).await?;
            return Err(Error::new(Code::Conflict, "the event was cancelled; the payment is refunded"));
        }
        match current.status {
            BookingStatus::Pending | BookingStatus::Expired => {
                self.expire(booking.id, booking.event_id).await?;
                Err(hold_expired())
            }
            status => Err(Error::new(
                Code::Conflict,
                format!("the booking is {}; the payment is refunded", status.as_str()),
            )),
        }
    }
}
