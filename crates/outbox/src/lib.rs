//! Domain events, delivered at least once and never lost: the transactional outbox.
//!
//! A service that changes something writes the domain event that tells of it
//! ([`OutboxEvent`]) into its own `outbox` table, in the same transaction as the change
//! ([`OutboxSql::write_outbox`]): the event exists if and only if the change does. A [`Relay`]
//! per service then reads pending rows in order, hands them to a [`Publisher`] (Kafka, or the
//! in-process [`Bus`] of the embedded default), and marks them sent only once the publisher has
//! them; sent rows are deleted after a retention period. A publisher that is away (Kafka down)
//! only delays delivery: rows wait, requests never do.
//!
//! Each row also carries the trace context and request id of the request that made it (Kafka
//! message headers), so that its consumers' work is part of the same trace.
//!
//! Consumers receive [`Delivered`] messages through a [`Handler`]; delivery is at least once, so
//! a handler deduplicates by event id in the same transaction as its effect
//! ([`OutboxSql::mark_processed`]). A message that cannot be read is a dead letter: on Kafka it
//! goes to the dead-letter topic with the reason, and the consumer goes on.
//!
//! Order: each aggregate's (user's, event's, booking's) events are published in the order of
//! their rows, on one partition (the aggregate id is the key). Rows of one aggregate are written
//! in the order of its changes because every change writes the aggregate's own row first, which
//! serializes them, and only one relay of a service publishes at a time (`relay.rs`).

use boxoffice_telemetry::TraceHeaders;
use chrono::{DateTime, Utc};
use uuid::Uuid;

mod bus;
mod consumer;
mod kafka;
mod relay;
mod sql;

pub use bus::Bus;
pub use consumer::{DeadLetters, Delivered, HandleError, Handler};
pub use kafka::{KafkaConsumer, KafkaPublisher, KafkaSettings};
pub use relay::{Outbox, Publisher, Relay, RelayHandle, RELAY_BATCH_MAX};
pub use sql::{commit_telling, OutboxDb, OutboxSql};

/// The type of every domain event (the envelope's `type`), named once for the services that
/// write them, the consumers that read them and `asyncapi.yaml`.
pub mod event_type {
    pub const USER_REGISTERED: &str = "user.registered";
    pub const EVENT_PUBLISHED: &str = "event.published";
    pub const EVENT_UPDATED: &str = "event.updated";
    pub const EVENT_CANCELLED: &str = "event.cancelled";
    pub const BOOKING_HELD: &str = "booking.held";
    pub const BOOKING_CONFIRMED: &str = "booking.confirmed";
    pub const BOOKING_CANCELLED: &str = "booking.cancelled";
    pub const BOOKING_EXPIRED: &str = "booking.expired";
    pub const BOOKING_REFUNDED: &str = "booking.refunded";
    pub const TICKET_CHECKED_IN: &str = "ticket.checked_in";
    pub const TICKET_TRANSFERRED: &str = "ticket.transferred";
    pub const WAITING_LIST_OFFERED: &str = "waiting_list.offered";

    pub const ALL: [&str; 12] = [
        USER_REGISTERED,
        EVENT_PUBLISHED,
        EVENT_UPDATED,
        EVENT_CANCELLED,
        BOOKING_HELD,
        BOOKING_CONFIRMED,
        BOOKING_CANCELLED,
        BOOKING_EXPIRED,
        BOOKING_REFUNDED,
        TICKET_CHECKED_IN,
        TICKET_TRANSFERRED,
        WAITING_LIST_OFFERED,
    ];
}

/// The version of every payload schema today (see `proto/domain_events.proto`).
pub const SCHEMA_VERSION: u32 = 1;

/// Where an event is published: one topic per kind of aggregate. The Kafka names are settings
/// ([`TopicNames`]); rows store the kind, so renaming a topic needs no change to the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    Users,
    Events,
    Bookings,
}

impl Topic {
    pub const ALL: [Topic; 3] = [Topic::Users, Topic::Events, Topic::Bookings];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Users => "users",
            Topic::Events => "events",
            Topic::Bookings => "bookings",
        }
    }

    pub fn parse(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|topic| topic.as_str() == name)
    }
}

/// The Kafka topic of each [`Topic`], and of the dead letters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicNames {
    pub users: String,
    pub events: String,
    pub bookings: String,
    pub dead_letters: String,
}

impl Default for TopicNames {
    fn default() -> Self {
        TopicNames {
            users: "boxoffice.users".into(),
            events: "boxoffice.events".into(),
            bookings: "boxoffice.bookings".into(),
            dead_letters: "boxoffice.dead-letters".into(),
        }
    }
}

impl TopicNames {
    pub fn name(&self, topic: Topic) -> &str {
        match topic {
            Topic::Users => &self.users,
            Topic::Events => &self.events,
            Topic::Bookings => &self.bookings,
        }
    }

    pub fn topic(&self, name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|&topic| self.name(topic) == name)
    }
}

/// A domain event on its way into the outbox: the encoded [`Envelope`] and where it goes.
///
/// [`Envelope`]: boxoffice_proto::domain::Envelope
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEvent {
    pub event_id: Uuid,
    pub topic: Topic,
    /// The aggregate id: the Kafka key.
    pub key: String,
    pub envelope: Vec<u8>,
    pub created_at: DateTime<Utc>,
    /// The trace context and request id of the work that made it, for its consumers.
    pub trace: TraceHeaders,
}

impl OutboxEvent {
    /// The event `event_type` (`booking.confirmed`, ...) about `aggregate_id`, with its payload.
    pub fn new(
        topic: Topic,
        event_type: &'static str,
        aggregate_id: Uuid,
        payload: &impl prost::Message,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        let event_id = Uuid::now_v7();
        let key = aggregate_id.to_string();
        let envelope = boxoffice_proto::domain::Envelope {
            event_id: event_id.to_string(),
            r#type: event_type.to_owned(),
            schema_version: SCHEMA_VERSION,
            aggregate_id: key.clone(),
            occurred_at: occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            payload: payload.encode_to_vec(),
        };
        OutboxEvent {
            event_id,
            topic,
            key,
            envelope: prost::Message::encode_to_vec(&envelope),
            created_at: occurred_at,
            trace: TraceHeaders::current(),
        }
    }

    /// The event with the trace context of the request that made it, when it is written away
    /// from that request's span (a batch of a group commit).
    pub fn traced(mut self, trace: TraceHeaders) -> Self {
        self.trace = trace;
        self
    }
}

/// A pending row, as the relay hands it to a publisher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The row's position in the outbox: its order of publication.
    pub position: i64,
    pub topic: Topic,
    pub key: String,
    pub envelope: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub trace: TraceHeaders,
}
