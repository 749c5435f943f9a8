//! [`Sales`] over gRPC: the only place where the events service speaks the bookings service's
//! wire types (as [`crate::grpc`] is the only place that speaks its own).

use async_trait::async_trait;
use boxoffice_errors::Error;
use boxoffice_proto::booking::booking_service_client::BookingServiceClient;
use boxoffice_proto::booking::LoadInventoryRequest;
use boxoffice_runtime::Connection;
use uuid::Uuid;

use crate::sales::Sales;

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
}
