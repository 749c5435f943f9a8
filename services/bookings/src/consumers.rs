//! What the bookings service does on the other services' domain events: the event-cancel saga.
//! On `event.cancelled` it cancels every pending booking of the event and refunds every
//! confirmed one ([`Bookings::cancel_event_bookings`]).
//!
//! Delivery is at least once, and the effect spans many transactions and the payment provider,
//! so it cannot commit with its processed-events record. It is idempotent instead (each booking
//! changes by compare-and-set, each refund carries the booking id as its idempotency key): the
//! handler skips an event it recorded, and records one only after the effect is complete, so a
//! crash halfway is redelivered and finishes the work. Like `grpc.rs`, an edge: the one place
//! that reads the other services' domain-event messages.

use boxoffice_outbox::event_type::EVENT_CANCELLED;
use boxoffice_outbox::{Delivered, HandleError, Handler, Topic};
use boxoffice_proto::domain as pb;
use uuid::Uuid;

use crate::service::Bookings;

/// The bookings service's consumer: its name in `processed_events` and its Kafka group.
pub const CONSUMER: &str = "bookings";

pub struct EventCancellations {
    bookings: Bookings,
}

impl EventCancellations {
    pub fn new(bookings: Bookings) -> Self {
        EventCancellations { bookings }
    }
}

#[async_trait::async_trait]
impl Handler for EventCancellations {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn topics(&self) -> &'static [Topic] {
        &[Topic::Events]
    }

    async fn handle(&self, message: &Delivered) -> Result<(), HandleError> {
        // Other types, and other versions of this one (published beside it while readers move
        // to them), are not this consumer's.
        if message.event_type != EVENT_CANCELLED || message.schema_version != boxoffice_outbox::SCHEMA_VERSION
        {
            return Ok(());
        }
        let db = &self.bookings.inner.db;
        if db.processed(CONSUMER, message.event_id).await? {
            return Ok(());
        }
        let payload: pb::EventCancelled = message.payload()?;
        let event_id = payload
            .event
            .and_then(|event| Uuid::parse_str(&event.event_id).ok())
            .ok_or_else(|| HandleError::Malformed("event.cancelled names no event id".into()))?;
        let (cancelled, refunded) = self.bookings.cancel_event_bookings(event_id).await?;
        tracing::info!(%event_id, cancelled, refunded, "the bookings of a cancelled event are closed");
        db.mark_processed(CONSUMER, message.event_id, self.bookings.clock().now()).await?;
        Ok(())
    }
}
