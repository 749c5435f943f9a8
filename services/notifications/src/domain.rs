//! The notifications service's words: the events it writes about, the emails it owes, and how
//! long it keeps trying to send one.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The first wait after a failed send; each further failure doubles it, up to [`MAX_RETRY_WAIT`].
pub const FIRST_RETRY_WAIT: Duration = Duration::from_secs(2);
/// The longest wait between two tries of one email.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(60 * 60);
/// Tries of one email before it is given up as failed: with the waits above, about 9 hours.
pub const MAX_ATTEMPTS: u32 = 20;
/// How long a claimed email is left to the postman that claimed it; after that (the postman
/// died) another takes it.
pub const CLAIM_LEASE: Duration = Duration::from_secs(5 * 60);
/// The longest one try of an email may take, well within its [`CLAIM_LEASE`], so that no other
/// postman takes an email that is still being sent.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2 * 60);
/// How long finished emails and processed-event records are kept. A replay of the topics within
/// this time sends nothing twice; it is longer than Kafka's default retention of 7 days.
pub const KEPT_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// What an email is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailKind {
    /// A confirmed booking's tickets.
    Tickets,
    /// A refunded booking.
    Refund,
    /// An event its holder has tickets for is cancelled.
    EventCancelled,
    /// Tickets came back and are offered to an entry of a waiting list.
    Offer,
    /// Someone gave the recipient a ticket.
    TicketGiven,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Tickets => "tickets",
            MailKind::Refund => "refund",
            MailKind::EventCancelled => "event_cancelled",
            MailKind::Offer => "offer",
            MailKind::TicketGiven => "ticket_given",
        }
    }
}

/// Where an email stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailStatus {
    /// To be sent (again), at its next attempt time.
    Pending,
    Sent,
    /// Nobody to send it to: the account does not exist (any more).
    Skipped,
    /// Given up: refused for good, or every attempt failed.
    Failed,
}

impl MailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Pending => "pending",
            MailStatus::Sent => "sent",
            MailStatus::Skipped => "skipped",
            MailStatus::Failed => "failed",
        }
    }
}

/// An event as its emails describe it, from the events service's domain events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventInfo {
    pub id: Uuid,
    pub name: String,
    pub city: String,
    pub venue_name: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub categories: Vec<CategoryName>,
    /// When it last changed: a message about an earlier change changes nothing.
    pub changed_at: DateTime<Utc>,
    /// How many changes (and its cancellation) this service has seen: the `SEQUENCE` of its
    /// calendar entry, so that the entry of a later change replaces an earlier one's.
    pub revision: i64,
}

impl EventInfo {
    /// The name of category `id`, or a placeholder for one the event no longer lists.
    pub fn category_name(&self, id: Uuid) -> &str {
        self.categories.iter().find(|category| category.id == id).map_or("Ticket", |category| &category.name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryName {
    pub id: Uuid,
    pub name: String,
}

/// One ticket of a confirmed booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedTicket {
    pub id: Uuid,
    pub category_id: Uuid,
    pub seat: Option<String>,
    /// The signed code the QR image shows.
    pub code: String,
    pub price_cents: i64,
}

/// What an email says beyond its recipient and event: stored with it, read when it is sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MailDetails {
    Tickets {
        booking_id: Uuid,
        total_cents: i64,
        currency: String,
        tickets: Vec<IssuedTicket>,
    },
    Refund {
        booking_id: Uuid,
        total_cents: i64,
        currency: String,
        because_event_cancelled: bool,
    },
    EventCancelled,
    /// An offer of a waiting list: a pending booking of `quantity` tickets (of the `requested`)
    /// to pay before `expires_at`.
    Offer {
        booking_id: Uuid,
        category_id: Uuid,
        quantity: u32,
        requested: u32,
        total_cents: i64,
        currency: String,
        expires_at: DateTime<Utc>,
    },
    /// A ticket given to the recipient, who finds it under My tickets.
    TicketGiven {
        ticket_id: Uuid,
    },
}

impl MailDetails {
    pub fn kind(&self) -> MailKind {
        match self {
            MailDetails::Tickets { .. } => MailKind::Tickets,
            MailDetails::Refund { .. } => MailKind::Refund,
            MailDetails::EventCancelled => MailKind::EventCancelled,
            MailDetails::Offer { .. } => MailKind::Offer,
            MailDetails::TicketGiven { .. } => MailKind::TicketGiven,
        }
    }
}

/// An email owed to `user_id` because of domain event `source_event_id`: at most one per pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMail {
    pub id: Uuid,
    pub source_event_id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub details: MailDetails,
}

impl NewMail {
    pub fn new(source_event_id: Uuid, user_id: Uuid, event_id: Uuid, details: MailDetails) -> Self {
        NewMail { id: Uuid::now_v7(), source_event_id, user_id, event_id, details }
    }
}

/// An email claimed for sending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailJob {
    pub id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub details: MailDetails,
    /// Tries so far, this one included.
    pub attempts: u32,
    /// The trace context and request id of the domain event that queued it.
    pub trace: boxoffice_telemetry::TraceHeaders,
}

/// What became of one try of a claimed email, recorded with the others of its round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tried {
    pub id: Uuid,
    /// Its tries when it was claimed: the outcome is kept only while that claim is still its
    /// own (not run out and claimed again).
    pub attempts: u32,
    pub outcome: TryOutcome,
}

/// The outcome of one try of an email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TryOutcome {
    Sent,
    /// Not sent, and never will be: why.
    Skipped(&'static str),
    /// Given up: why.
    Failed(String),
    /// Not sent this time: tried again at `at`.
    Again {
        at: DateTime<Utc>,
        error: String,
    },
}

impl TryOutcome {
    /// Where the email stands after it.
    pub fn status(&self) -> MailStatus {
        match self {
            TryOutcome::Sent => MailStatus::Sent,
            TryOutcome::Skipped(_) => MailStatus::Skipped,
            TryOutcome::Failed(_) => MailStatus::Failed,
            TryOutcome::Again { .. } => MailStatus::Pending,
        }
    }

    /// Why it was not sent, if it was not.
    pub fn error(&self) -> Option<&str> {
        match self {
            TryOutcome::Sent => None,
            TryOutcome::Skipped(why) => Some(why),
            TryOutcome::Failed(error) | TryOutcome::Again { error, .. } => Some(error),
        }
    }

    /// When it is tried again, if it is.
    pub fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        match self {
            TryOutcome::Again { at, .. } => Some(*at),
            _ => None,
        }
    }
}

/// The wait before the next try of an email that failed `attempts` times.
pub fn retry_wait(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    FIRST_RETRY_WAIT.saturating_mul(1 << doublings).min(MAX_RETRY_WAIT)
}

/// What a domain event changes here, in one transaction with its processed-event record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// An event was published or changed.
    EventKnown(EventInfo),
    /// An event was cancelled (by domain event `cancellation`): every holder is told.
    EventCancelled { event: EventInfo, cancellation: Uuid },
    /// A booking was confirmed: its owner holds tickets and gets them by email.
    Confirmed { booking_id: Uuid, mail: NewMail },
    /// A booking was refunded; at its owner's request it leaves the holders (an event's
    /// cancellation keeps them, so that they hear of it).
    Refunded { booking_id: Uuid, leaves_holders: bool, mail: NewMail },
    /// Something to tell one buyer, and nothing else to record.
    Tell(NewMail),
}

/// A domain event's effect here, with the event's id (its processed-event record) and the
/// trace of its handling, which its emails carry on to their sending.
pub struct Handled {
    pub event_id: Uuid,
    pub effect: Effect,
    pub trace: boxoffice_telemetry::TraceHeaders,
}

impl Effect {
    /// The event whose holders this effect reads or changes, and so locks (on PostgreSQL) for
    /// its transaction: a confirmation and its event's cancellation handled at once take turns.
    pub fn locks_event(&self) -> Option<Uuid> {
        match self {
            Effect::EventCancelled { event, .. } => Some(event.id),
            Effect::Confirmed { mail, .. } => Some(mail.event_id),
            Effect::EventKnown(_) | Effect::Refunded { .. } | Effect::Tell(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_longest() {
        assert_eq!(retry_wait(1), FIRST_RETRY_WAIT);
        assert_eq!(retry_wait(2), FIRST_RETRY_WAIT * 2);
        assert_eq!(retry_wait(3), FIRST_RETRY_WAIT * 4);
        assert_eq!(retry_wait(MAX_ATTEMPTS), MAX_RETRY_WAIT);
        assert_eq!(retry_wait(u32::MAX), MAX_RETRY_WAIT);
        let total: Duration = (1..MAX_ATTEMPTS).map(retry_wait).sum();
        assert!(total > Duration::from_secs(9 * 3600), "{total:?}");
        assert!(DELIVERY_TIMEOUT < CLAIM_LEASE);
    }
}
