//! What the events service needs of the bookings service, in its own terms: an event's
//! inventory loaded ahead of its on-sale, and a cancelled event's bookings refunded.
//!
//! The gRPC client that does it over the wire is [`BookingsClient`]; tests of this crate use
//! a fake.

use async_trait::async_trait;
use boxoffice_errors::Error;
use boxoffice_proto::booking::booking_service_client::BookingServiceClient;
use boxoffice_proto::booking::{CancelEventBookingsRequest, LoadInventoryRequest};
use boxoffice_runtime::Connection;
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

/// [`Sales`] over gRPC: the only place where the events service speaks the bookings service's
/// wire types.
#[derive(Clone)]
pub struct BookingsClient(BookingServiceClient<Connection>);

impl BookingsClient {
    pub fn new(connection: Connection) -> Self {
        BookingsClient(BookingServiceClient::new(connection))
    }
}

#[async_trait]
impl Sales for BookingsClient {
    async fn load_inventory(&self, event_id: Uuid) -> Result<(), Error> {
        let request = LoadInventoryRequest { event_id: event_id.to_string() };
        self.0.clone().load_inventory(request).await.map_err(|status| Error::from_status(&status))?;
        Ok(())
    }

    async fn cancel_event_bookings(&self, event_id: Uuid) -> Result<Refunds, Error> {
        let request = CancelEventBookingsRequest { event_id: event_id.to_string() };
        let response = self
            .0
            .clone()
            .cancel_event_bookings(request)
            .await
            .map_err(|status| Error::from_status(&status))?
            .into_inner();
        Ok(Refunds { cancelled: response.cancelled, refunded: response.refunded })
    }
}
