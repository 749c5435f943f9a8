//! The consumers' side: a domain event as delivered, and what handles it.

use boxoffice_telemetry::TraceHeaders;
use chrono::{DateTime, Utc};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::Topic;

/// A domain event as a consumer receives it: the envelope, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub topic: Topic,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u32,
    pub aggregate_id: String,
    pub occurred_at: DateTime<Utc>,
    /// The trace context and request id of the work that made it.
    pub trace: TraceHeaders,
    payload: Vec<u8>,
}

impl Delivered {
    /// Reads an envelope; the error is the reason it cannot be read (for the dead letter).
    pub fn parse(topic: Topic, envelope: &[u8]) -> Result<Delivered, String> {
        let envelope = <boxoffice_proto::domain::Envelope as prost::Message>::decode(envelope)
            .map_err(|error| format!("not an envelope: {error}"))?;
        let event_id = Uuid::parse_str(&envelope.event_id)
            .map_err(|_| format!("event_id {:?} is not a UUID", envelope.event_id))?;
        let occurred_at = DateTime::parse_from_rfc3339(&envelope.occurred_at)
            .map_err(|_| format!("occurred_at {:?} is not an RFC 3339 time", envelope.occurred_at))?
            .with_timezone(&Utc);
        if envelope.r#type.is_empty() {
            return Err("the envelope has no type".into());
        }
        Ok(Delivered {
            topic,
            event_id,
            event_type: envelope.r#type,
            schema_version: envelope.schema_version,
            aggregate_id: envelope.aggregate_id,
            occurred_at,
            trace: TraceHeaders::default(),
            payload: envelope.payload,
        })
    }

    /// With the trace headers it came with.
    pub fn traced(self, trace: TraceHeaders) -> Delivered {
        Delivered { trace, ..self }
    }

    /// The span `consumer` handles it in: part of the trace of the work that made it.
    pub fn span(&self, consumer: &str) -> tracing::Span {
        let span = tracing::info_span!(
            "domain_event",
            consumer,
            event_type = %self.event_type,
            event_id = %self.event_id,
            request_id = self.trace.request_id(),
        );
        self.trace.adopt(&span);
        span
    }

    /// The payload as the message `M`; a payload that does not decode is a dead letter.
    pub fn payload<M: prost::Message + Default>(&self) -> Result<M, HandleError> {
        M::decode(self.payload.as_slice()).map_err(|error| {
            HandleError::Malformed(format!(
                "the payload of {} is not a valid message: {error}",
                self.event_type
            ))
        })
    }
}

/// Why a handler did not handle a message.
#[derive(Debug)]
pub enum HandleError {
    /// The message can never be handled (it cannot be read): it goes to the dead letters, and
    /// the consumer goes on.
    Malformed(String),
    /// Handling failed for now (a database away): the same message is handled again later,
    /// before any after it.
    Failed(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for HandleError {
    fn from(error: E) -> Self {
        HandleError::Failed(error.into())
    }
}

/// A consumer of domain events. Delivery is at least once: a handler makes its effect and
/// [`crate::OutboxSql::mark_processed`] in one transaction, and does nothing for an event it
/// has processed. Types it does not care about, it ignores.
#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Its name: its key in `processed_events`, and the suffix of its Kafka consumer group.
    fn name(&self) -> &'static str;
    /// The topics it reads.
    fn topics(&self) -> &'static [Topic];
    async fn handle(&self, message: &Delivered) -> Result<(), HandleError>;

    /// Handles `messages` in their order, as a call of [`Handler::handle`] for each would, and
    /// returns those that can never be handled, for the dead letters. An error means handling
    /// failed for now: none, some or all of the batch was handled, and the whole batch is handled
    /// again later, before any message after it (a handler skips what it has processed, so no
    /// effect is made twice). A handler that can make a batch's effects in one transaction
    /// overrides this.
    async fn handle_batch(&self, messages: &[Delivered]) -> anyhow::Result<DeadLetters> {
        let mut dead = DeadLetters::new();
        for (place, message) in messages.iter().enumerate() {
            match self.handle(message).instrument(message.span(self.name())).await {
                Ok(()) => {}
                Err(HandleError::Malformed(reason)) => dead.push((place, reason)),
                Err(HandleError::Failed(error)) => {
                    return Err(error.context(format!("handling {} {}", message.event_type, message.event_id)))
                }
            }
        }
        Ok(dead)
    }
}

/// The messages of a batch that can never be handled: each one's place in the batch, and why.
pub type DeadLetters = Vec<(usize, String)>;
