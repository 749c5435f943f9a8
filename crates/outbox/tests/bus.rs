//! The in-process bus: each handler gets a relay round's messages of its topics as one batch, in
//! order; a message that cannot be handled is skipped without holding up the others, and a
//! batch that fails for now fails the round (which the relay publishes again).

use std::sync::{Arc, Mutex};

use boxoffice_outbox::{Bus, Delivered, HandleError, Handler, OutboxEvent, Pending, Publisher, Topic};
use uuid::Uuid;

/// Records the payloads it handles (one call of `handle` each, through the default
/// `handle_batch`); a payload of "bad" can never be handled, and one of "away" fails for now.
#[derive(Default)]
struct Recorder {
    handled: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Handler for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn topics(&self) -> &'static [Topic] {
        &[Topic::Bookings]
    }

    async fn handle(&self, message: &Delivered) -> Result<(), HandleError> {
        let payload: boxoffice_proto::domain::BookingExpired = message.payload()?;
        match payload.booking_id.as_str() {
            "bad" => Err(HandleError::Malformed("bad".into())),
            "away" => Err(HandleError::Failed(anyhow::anyhow!("the database is away"))),
            _ => {
                self.handled.lock().unwrap().push(payload.booking_id);
                Ok(())
            }
        }
    }
}

fn row(topic: Topic, payload: &str) -> Pending {
    let payload =
        boxoffice_proto::domain::BookingExpired { booking_id: payload.into(), ..Default::default() };
    let event = OutboxEvent::new(topic, "booking.expired", Uuid::now_v7(), &payload, chrono::Utc::now());
    Pending {
        position: 0,
        topic: event.topic,
        key: event.key,
        envelope: event.envelope,
        created_at: event.created_at,
        trace: event.trace,
    }
}

#[tokio::test]
async fn a_handler_gets_its_topics_messages_in_order_and_one_that_cannot_be_handled_is_skipped() {
    let bus = Bus::new();
    let recorder = Arc::new(Recorder::default());
    bus.subscribe(recorder.clone());
    let mut unreadable = row(Topic::Bookings, "x");
    unreadable.envelope = b"not an envelope".to_vec();
    let rows = [
        row(Topic::Bookings, "1"),
        unreadable,
        row(Topic::Events, "of another topic"),
        row(Topic::Bookings, "bad"),
        row(Topic::Bookings, "2"),
    ];
    bus.publish(&rows).await.expect("the round is published");
    assert_eq!(*recorder.handled.lock().unwrap(), ["1", "2"]);
}

#[tokio::test]
async fn a_batch_that_fails_for_now_fails_the_round() {
    let bus = Bus::new();
    let recorder = Arc::new(Recorder::default());
    bus.subscribe(recorder.clone());
    let rows = [row(Topic::Bookings, "1"), row(Topic::Bookings, "away"), row(Topic::Bookings, "2")];
    let error = bus.publish(&rows).await.expect_err("the round fails");
    assert!(format!("{error:#}").contains("the database is away"), "{error:#}");
    // What came before it was handled; the relay publishes the round again, and the handler
    // skips what it has processed.
    assert_eq!(*recorder.handled.lock().unwrap(), ["1"]);
}
