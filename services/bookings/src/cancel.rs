//! Cancelling: a buyer's own booking (a pending hold is cancelled, a confirmed booking refunded,
//! as [`Change::cancelling`] says), and every live booking of an event its organizer cancelled.
//! Either way the units return to sale at once and the money goes back, by the booking id as
//! the refund's idempotency key.

use boxoffice_errors::{Code, Error};
use boxoffice_types::Caller;
use uuid::Uuid;

use crate::domain::{BookingRecord, BookingStatus, Change, CANCEL_SWEEP_PASSES, CANCEL_SWEEP_PAUSE};
use crate::domain_events::EndReason;
use crate::service::Bookings;

impl Bookings {
    /// pending → cancelled, confirmed → refunded; the tickets return to sale at once.
    /// Cancelling a cancelled or refunded booking changes nothing. Runs to the end on its own
    /// task once begun.
    pub async fn cancel(&self, caller: Caller, booking_id: Uuid) -> Result<BookingRecord, Error> {
        self.detached(move |this| async move { this.cancel_own(caller, booking_id).await }).await
    }

    async fn cancel_own(&self, caller: Caller, booking_id: Uuid) -> Result<BookingRecord, Error> {
        let booking = self.own_booking(caller, booking_id).await?;
        match Change::cancelling(booking.status) {
            Some(Change::Refund) => {
                if booking.tickets.iter().any(|ticket| ticket.checked_in_at.is_some()) {
                    return Err(Error::new(
                        Code::Conflict,
                        "a ticket of this booking was already used at the door; it cannot be refunded",
                    ));
                }
                if booking.tickets.iter().any(|ticket| ticket.holder(booking.user_id) != booking.user_id) {
                    return Err(Error::new(
                        Code::Conflict,
                        "a ticket of this booking was given to someone else; it cannot be refunded",
                    ));
                }
                self.refund(&booking, EndReason::Requested).await?;
            }
            Some(change) => {
                let cancelled =
                    self.close(booking.id, booking.event_id, change, EndReason::Requested).await?;
                if cancelled {
                    tracing::info!(%booking_id, event_id = %booking.event_id, "hold cancelled by its buyer");
                }
            }
            None if booking.status == BookingStatus::Expired => {
                return Err(Error::new(
                    Code::Conflict,
                    "the booking has expired; there is nothing to cancel",
                ));
            }
            None => {}
        }
        self.reread(booking_id).await
    }

    /// Cancels or refunds every live booking of an event, for an event its organizer cancelled:
    /// (cancelled, refunded). The event is closed first, so no confirmation can succeed
    /// afterwards; a few passes catch the ones that were committing at that moment. Runs to
    /// the end on its own task once begun.
    pub async fn cancel_event_bookings(&self, event_id: Uuid) -> Result<(u32, u32), Error> {
        self.detached(move |this| async move { this.close_event_bookings(event_id).await }).await
    }

    async fn close_event_bookings(&self, event_id: Uuid) -> Result<(u32, u32), Error> {
        self.inner.db.close_event(event_id, self.inner.clock.now()).await?;
        self.inner.catalog.forget(event_id);
        let (mut cancelled, mut refunded) = (0, 0);
        for pass in 0..CANCEL_SWEEP_PASSES {
            if pass > 0 {
                tokio::time::sleep(CANCEL_SWEEP_PAUSE).await;
            }
            let live = self.inner.db.live_bookings(event_id).await?;
            if live.is_empty() && pass > 0 {
                break;
            }
            for (booking_id, status) in live {
                let Some(booking) = self.inner.db.booking(booking_id).await? else { continue };
                let Some(change) = Change::cancelling(status) else { continue };
                let closed = match change {
                    Change::Refund => self.refund(&booking, EndReason::EventCancelled).await?,
                    change => self.close(booking_id, event_id, change, EndReason::EventCancelled).await?,
                };
                match (closed, change) {
                    (false, _) => {}
                    (true, Change::Refund) => refunded += 1,
                    (true, _) => cancelled += 1,
                }
            }
        }
        tracing::info!(%event_id, cancelled, refunded, "closed the bookings of a cancelled event");
        Ok((cancelled, refunded))
    }

    /// Pays a confirmed booking back, then marks it refunded and returns its units. The refund
    /// comes first: a booking marked refunded has surely had its money back.
    async fn refund(&self, booking: &BookingRecord, reason: EndReason) -> Result<bool, Error> {
        self.refund_charge(booking.id).await?;
        let closed = self.close(booking.id, booking.event_id, Change::Refund, reason).await?;
        if closed {
            tracing::info!(booking_id = %booking.id, event_id = %booking.event_id, ?reason, "booking refunded");
        }
        Ok(closed)
    }
}
