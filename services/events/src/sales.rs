//! What the events service needs of the bookings service, in its own terms: an event's
//! inventory loaded ahead of its on-sale. (A cancelled event's bookings are refunded by the
//! bookings service on the `event.cancelled` domain event, not by a call.)
//!
//! The gRPC client that does it over the wire is [`crate::bookings_client::BookingsClient`];
//! the tests of [`crate::Events`] use a fake that records the calls.

use async_trait::async_trait;
use boxoffice_errors::Error;
use uuid::Uuid;

#[async_trait]
pub trait Sales: Send + Sync + 'static {
    /// Loads a just-published event's units into the inventory store, so that the first buyers
    /// do not wait for it.
    async fn load_inventory(&self, event_id: Uuid) -> Result<(), Error>;
}
