//! An event's life: a draft is published (put on sale) and a published event may be cancelled
//! for good, which refunds its bookings. (A draft that never went on sale is deleted instead, in
//! [`crate::editing`].)
//!
//! Each status change commits with its domain event (`event.published`, `event.cancelled`;
//! `crate::domain_events`). Publication also asks the bookings service, through the
//! [`crate::sales::Sales`] port, to load the inventory ahead of the first buyers; the refunds of
//! a cancellation follow its `event.cancelled` in the bookings service.

use boxoffice_errors::{Code, Error};
use boxoffice_types::Caller;
use chrono::Utc;
use uuid::Uuid;

use crate::domain::EventStatus;
use crate::service::Events;
use crate::store::EventRecord;

impl Events {
    /// Puts a draft on sale. Its categories and seats are frozen from now on: they are the
    /// inventory the bookings service sells.
    ///
    /// A draft whose start has passed may still be published as long as it has not ended (the
    /// bookings service sells until the end): the rule against the past is about the start being
    /// set (see [`crate::domain::check_start_is_ahead`]), and a multi-day event that has begun
    /// may rightly go on sale. An event that is over cannot.
    pub async fn publish(&self, caller: Caller, event_id: Uuid) -> Result<EventRecord, Error> {
        let event = self
            .modify(caller, event_id, |event| {
                Box::pin(async move {
                    match event.status {
                        EventStatus::Published => Ok(false),
                        EventStatus::Cancelled => {
                            Err(Error::new(Code::Conflict, "a cancelled event cannot be published"))
                        }
                        EventStatus::Draft if event.ends_at <= Utc::now() => {
                            Err(Error::new(Code::Conflict, "the event is over; it cannot be published"))
                        }
                        EventStatus::Draft => {
                            event.status = EventStatus::Published;
                            Ok(true)
                        }
                    }
                })
            })
            .await?;
        tracing::info!(%event_id, by = %caller.user_id, name = ?event.name, "event published");
        // Loading the inventory now spares the first buyers of an on-sale the wait. It is only
        // a head start: the bookings service loads it on first use anyway, so a failure here
        // does not fail the publication.
        if let Err(error) = self.sales.load_inventory(event_id).await {
            tracing::warn!(%event_id, %error, "loading the inventory of a published event fails; it loads on first use");
        }
        Ok(event)
    }

    /// Takes the event off sale for good. The change commits with its `event.cancelled`, on
    /// which the bookings service cancels and refunds the event's bookings (at least once, so
    /// they are all refunded even across failures and restarts). Cancelling again changes
    /// nothing.
    pub async fn cancel(&self, caller: Caller, event_id: Uuid) -> Result<EventRecord, Error> {
        let event = self
            .modify(caller, event_id, |event| {
                Box::pin(async move {
                    if event.status == EventStatus::Cancelled {
                        return Ok(false);
                    }
                    event.status = EventStatus::Cancelled;
                    Ok(true)
                })
            })
            .await?;
        tracing::info!(%event_id, by = %caller.user_id, name = ?event.name, "event cancelled; its bookings are refunded");
        Ok(event)
    }
}
