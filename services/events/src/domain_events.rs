//! What the events service tells the others (`proto/domain_events.proto`): an event published,
//! changed while on sale, or cancelled. Drafts are private and tell nothing. Like `grpc.rs`, an
//! edge: the one place where the service's records become those wire messages; the store writes
//! them to the outbox in the transaction of the change (`store.rs`).

use boxoffice_outbox::{OutboxEvent, Topic};
use boxoffice_proto::domain as pb;
use boxoffice_types::EventStatus;
use chrono::{DateTime, Utc};

use crate::store::EventRecord;

pub const EVENT_PUBLISHED: &str = "event.published";
pub const EVENT_UPDATED: &str = "event.updated";
pub const EVENT_CANCELLED: &str = "event.cancelled";

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// What the change from an event in `before` status to `after` tells, if anything.
pub fn told(before: EventStatus, after: &EventRecord, venue_name: Option<String>) -> Option<OutboxEvent> {
    let event_type = match (before, after.status) {
        (EventStatus::Draft, EventStatus::Published) => EVENT_PUBLISHED,
        (EventStatus::Published, EventStatus::Published) => EVENT_UPDATED,
        (EventStatus::Published, EventStatus::Cancelled) => EVENT_CANCELLED,
        _ => return None,
    };
    let event = Some(pb::EventSummary {
        event_id: after.id.to_string(),
        organizer_id: after.organizer_id.to_string(),
        name: after.name.clone(),
        city: after.city.clone(),
        venue_name,
        starts_at: time(after.starts_at),
        ends_at: time(after.ends_at),
    });
    Some(match event_type {
        EVENT_PUBLISHED => OutboxEvent::new(
            Topic::Events,
            event_type,
            after.id,
            &pb::EventPublished { event },
            after.updated_at,
        ),
        EVENT_UPDATED => OutboxEvent::new(
            Topic::Events,
            event_type,
            after.id,
            &pb::EventUpdated { event },
            after.updated_at,
        ),
        _ => OutboxEvent::new(
            Topic::Events,
            event_type,
            after.id,
            &pb::EventCancelled { event },
            after.updated_at,
        ),
    })
}
