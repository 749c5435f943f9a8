//! What the notifications service does on the other services' domain events: it learns the
//! events it writes about and who holds their tickets, and queues the emails it owes. Like a
//! `grpc.rs`, an edge: the one place that reads the domain-event messages.
//!
//! Each message's effect commits with its processed-event record ([`MailStore::apply`]), so a
//! redelivered or replayed message queues nothing twice; a batch of messages (a relay's round,
//! or what Kafka had fetched) commits in one transaction. The handler only writes: sending is
//! the postman's (`postman.rs`), so a slow or absent mail server never holds up the topics.

use boxoffice_outbox::event_type::{
    BOOKING_CONFIRMED, BOOKING_REFUNDED, EVENT_CANCELLED, EVENT_PUBLISHED, EVENT_UPDATED, TICKET_TRANSFERRED,
    WAITING_LIST_OFFERED,
};
use boxoffice_outbox::{DeadLetters, Delivered, HandleError, Handler, Topic};
use boxoffice_proto::domain as pb;
use boxoffice_telemetry::TraceHeaders;
use chrono::{DateTime, Utc};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::domain::{CategoryName, Effect, EventInfo, Handled, IssuedTicket, MailDetails, NewMail};
use crate::service::Notifications;

/// The notifications service's consumer: its name in `processed_events` and its Kafka group.
pub const CONSUMER: &str = "notifications";

#[async_trait::async_trait]
impl Handler for Notifications {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn topics(&self) -> &'static [Topic] {
        &[Topic::Events, Topic::Bookings]
    }

    /// One message is a batch of one.
    async fn handle(&self, message: &Delivered) -> Result<(), HandleError> {
        match self.handle_batch(std::slice::from_ref(message)).await?.pop() {
            Some((_, reason)) => Err(HandleError::Malformed(reason)),
            None => Ok(()),
        }
    }

    /// A burst of confirmations is recorded a batch at a time: one transaction, and one commit
    /// to wait for, for all the emails of a relay's round (or of what Kafka had fetched).
    async fn handle_batch(&self, messages: &[Delivered]) -> anyhow::Result<DeadLetters> {
        let mut dead = DeadLetters::new();
        let mut effects = Vec::new();
        for (place, message) in messages.iter().enumerate() {
            match effect(message) {
                Ok(Some(effect)) => {
                    // Each message's handling is a span of its own trace, which goes on to its
                    // emails; the batch's transaction is another.
                    let trace = message.span(CONSUMER).in_scope(TraceHeaders::current);
                    effects.push(Handled { event_id: message.event_id, effect, trace });
                }
                Ok(None) => {}
                Err(HandleError::Malformed(reason)) => dead.push((place, reason)),
                Err(HandleError::Failed(error)) => return Err(error),
            }
        }
        let span = tracing::info_span!("domain_events", consumer = CONSUMER, effects = effects.len());
        self.apply(&effects).instrument(span).await?;
        Ok(dead)
    }
}

impl Notifications {
    /// Makes `effects`, and wakes the postman for the emails they queued.
    async fn apply(&self, effects: &[Handled]) -> anyhow::Result<()> {
        if effects.is_empty() {
            return Ok(());
        }
        if self.store().apply(CONSUMER, effects, Utc::now()).await? > 0 {
            self.wake_postman();
        }
        Ok(())
    }
}

/// What `message` changes here, if anything. Holds, expiries and check-ins tell nobody
/// anything: no write at all, so that the on-sale's stream of holds costs this service nothing.
fn effect(message: &Delivered) -> Result<Option<Effect>, HandleError> {
    // Other versions are published beside this one while readers move to them.
    if message.schema_version != boxoffice_outbox::SCHEMA_VERSION {
        return Ok(None);
    }
    Ok(Some(match message.event_type.as_str() {
        EVENT_PUBLISHED => {
            Effect::EventKnown(event_info(message, message.payload::<pb::EventPublished>()?.event)?)
        }
        EVENT_UPDATED => {
            Effect::EventKnown(event_info(message, message.payload::<pb::EventUpdated>()?.event)?)
        }
        EVENT_CANCELLED => Effect::EventCancelled {
            event: event_info(message, message.payload::<pb::EventCancelled>()?.event)?,
            cancellation: message.event_id,
        },
        BOOKING_CONFIRMED => {
            let confirmed: pb::BookingConfirmed = message.payload()?;
            let booking_id = id("booking_id", &confirmed.booking_id)?;
            let tickets = confirmed
                .tickets
                .into_iter()
                .map(|ticket| {
                    Ok(IssuedTicket {
                        id: id("ticket_id", &ticket.ticket_id)?,
                        category_id: id("category_id", &ticket.category_id)?,
                        seat: ticket.seat,
                        code: ticket.code,
                        price_cents: ticket.price_cents,
                    })
                })
                .collect::<Result<Vec<_>, HandleError>>()?;
            let details = MailDetails::Tickets {
                booking_id,
                total_cents: confirmed.total_cents,
                currency: confirmed.currency,
                tickets,
            };
            let mail = NewMail::new(
                message.event_id,
                id("user_id", &confirmed.user_id)?,
                id("event_id", &confirmed.event_id)?,
                details,
            );
            Effect::Confirmed { booking_id, mail }
        }
        BOOKING_REFUNDED => {
            let refunded: pb::BookingRefunded = message.payload()?;
            let booking_id = id("booking_id", &refunded.booking_id)?;
            let because_event_cancelled = refunded.reason() == pb::EndReason::EventCancelled;
            let details = MailDetails::Refund {
                booking_id,
                total_cents: refunded.total_cents,
                currency: refunded.currency,
                because_event_cancelled,
            };
            let mail = NewMail::new(
                message.event_id,
                id("user_id", &refunded.user_id)?,
                id("event_id", &refunded.event_id)?,
                details,
            );
            Effect::Refunded { booking_id, leaves_holders: !because_event_cancelled, mail }
        }
        WAITING_LIST_OFFERED => {
            let offered: pb::WaitingListOffered = message.payload()?;
            let details = MailDetails::Offer {
                booking_id: id("booking_id", &offered.booking_id)?,
                category_id: id("category_id", &offered.category_id)?,
                quantity: offered.quantity,
                requested: offered.requested,
                total_cents: offered.total_cents,
                currency: offered.currency,
                expires_at: time("expires_at", &offered.expires_at)?,
            };
            Effect::Tell(NewMail::new(
                message.event_id,
                id("user_id", &offered.user_id)?,
                id("event_id", &offered.event_id)?,
                details,
            ))
        }
        TICKET_TRANSFERRED => {
            let transferred: pb::TicketTransferred = message.payload()?;
            let details = MailDetails::TicketGiven { ticket_id: id("ticket_id", &transferred.ticket_id)? };
            Effect::Tell(NewMail::new(
                message.event_id,
                id("to_user_id", &transferred.to_user_id)?,
                id("event_id", &transferred.event_id)?,
                details,
            ))
        }
        _ => return Ok(None),
    }))
}

fn malformed(what: &str, value: &str) -> HandleError {
    HandleError::Malformed(format!("{what} {value:?} is not valid"))
}

fn id(what: &str, text: &str) -> Result<Uuid, HandleError> {
    Uuid::parse_str(text).map_err(|_| malformed(what, text))
}

fn time(what: &str, text: &str) -> Result<DateTime<Utc>, HandleError> {
    DateTime::parse_from_rfc3339(text).map(|time| time.with_timezone(&Utc)).map_err(|_| malformed(what, text))
}

/// The event as `message` (about it) describes it.
fn event_info(message: &Delivered, summary: Option<pb::EventSummary>) -> Result<EventInfo, HandleError> {
    let summary = summary.ok_or_else(|| HandleError::Malformed("the message names no event".into()))?;
    Ok(EventInfo {
        id: id("event_id", &summary.event_id)?,
        name: summary.name,
        city: summary.city,
        venue_name: summary.venue_name,
        starts_at: time("starts_at", &summary.starts_at)?,
        ends_at: time("ends_at", &summary.ends_at)?,
        categories: summary
            .categories
            .into_iter()
            .map(|category| {
                Ok(CategoryName { id: id("category_id", &category.category_id)?, name: category.name })
            })
            .collect::<Result<_, HandleError>>()?,
        changed_at: message.occurred_at,
        revision: 0,
    })
}
