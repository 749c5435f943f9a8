//! What the events service tells the others (`proto/domain_events.proto`): an event published,
//! changed while on sale, or cancelled. Drafts are private and tell nothing. Like `grpc.rs`, an
//! edge: the one place where the service's records become those wire messages; the store writes
//! them to the outbox in the transaction of the change (`store.rs`).

use boxoffice_outbox::event_type::{EVENT_CANCELLED, EVENT_PUBLISHED, EVENT_UPDATED};
use boxoffice_outbox::{OutboxEvent, Topic};
use boxoffice_proto::domain as pb;
use boxoffice_types::EventStatus;
use chrono::{DateTime, Utc};

use crate::store::EventRecord;

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The domain event a change of status from `before` to `after` tells, if any.
pub fn told_type(before: EventStatus, after: EventStatus) -> Option<&'static str> {
    match (before, after) {
        (EventStatus::Draft, EventStatus::Published) => Some(EVENT_PUBLISHED),
        (EventStatus::Published, EventStatus::Published) => Some(EVENT_UPDATED),
        (EventStatus::Published, EventStatus::Cancelled) => Some(EVENT_CANCELLED),
        _ => None,
    }
}

/// The domain event `event_type` (from [`told_type`]) of the event as it is `after` the change.
pub fn told(event_type: &'static str, after: &EventRecord, venue_name: Option<String>) -> OutboxEvent {
    let event = Some(pb::EventSummary {
        event_id: after.id.to_string(),
        organizer_id: after.organizer_id.to_string(),
        name: after.name.clone(),
        city: after.city.clone(),
        venue_name,
        starts_at: time(after.starts_at),
        ends_at: time(after.ends_at),
        categories: after
            .categories
            .iter()
            .map(|category| pb::CategoryName {
                category_id: category.id.to_string(),
                name: category.name.clone(),
            })
            .collect(),
    });
    let (id, at) = (after.id, after.updated_at);
    match event_type {
        EVENT_PUBLISHED => OutboxEvent::new(Topic::Events, event_type, id, &pb::EventPublished { event }, at),
        EVENT_UPDATED => OutboxEvent::new(Topic::Events, event_type, id, &pb::EventUpdated { event }, at),
        _ => OutboxEvent::new(Topic::Events, event_type, id, &pb::EventCancelled { event }, at),
    }
}
