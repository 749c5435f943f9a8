//! What the events service needs of the bookings service, in its own terms: an event's
//! inventory loaded ahead of its on-sale, and a cancelled event's bookings refunded.
//!
//! The gRPC client that does it over the wire is [`crate::bookings_client::BookingsClient`];
//! the tests of [`crate::Events`] use a fake that records the calls.

use async_trait::async_trait;
use boxoffice_errors::Error;
use uuid::Uuid;

/// What became of the bookings of a cancelled event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refunds {
    /// Pending bookings cancelled.
    pub cancelled: u32,
    /// Confirmed bookings refunded.
    pub refunded: u32,
}

#[async_trait]
pub trait Sales: Send + Sync + 'static {
    /// Loads a just-published event's units into the inventory store, so that the first buyers
    /// do not wait for it.
    async fn load_inventory(&self, event_id: Uuid) -> Result<(), Error>;

    /// Cancels every pending booking of a cancelled event and refunds every confirmed one.
    /// Idempotent: a retry after a partial failure completes the refunds.
    async fn cancel_event_bookings(&self, event_id: Uuid) -> Result<Refunds, Error>;
}
