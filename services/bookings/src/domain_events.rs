//! What the bookings service tells the others: its domain events (`proto/domain_events.proto`),
//! built from its own records. Like `grpc.rs`, an edge: the one place where the service's
//! records become those wire messages. The database writes them to the outbox in the
//! transaction of the change they tell of (`db/sql.rs`).

use boxoffice_outbox::event_type::{
    BOOKING_CANCELLED, BOOKING_CONFIRMED, BOOKING_EXPIRED, BOOKING_HELD, BOOKING_REFUNDED, TICKET_CHECKED_IN,
    TICKET_TRANSFERRED, WAITING_LIST_OFFERED,
};
use boxoffice_outbox::{OutboxEvent, Topic};
use boxoffice_proto::domain as pb;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{BookingRecord, Change, TicketRecord};

/// Why a booking was cancelled or refunded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// Its owner (or an admin) asked, or a payment arrived after the hold ran out.
    Requested,
    /// Its event was cancelled.
    EventCancelled,
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn event(
    event_type: &'static str,
    booking_id: Uuid,
    payload: &impl prost::Message,
    at: DateTime<Utc>,
) -> OutboxEvent {
    OutboxEvent::new(Topic::Bookings, event_type, booking_id, payload, at)
}

pub fn held(booking: &BookingRecord, at: DateTime<Utc>) -> OutboxEvent {
    let payload = pb::BookingHeld {
        booking_id: booking.id.to_string(),
        event_id: booking.event_id.to_string(),
        user_id: booking.user_id.to_string(),
        items: booking
            .items
            .iter()
            .map(|item| pb::BookingItem {
                category_id: item.category_id.to_string(),
                quantity: item.quantity,
                unit_price_cents: item.unit_price_cents,
            })
            .collect(),
        seats: booking.seats.clone(),
        total_cents: booking.total_cents,
        currency: booking.currency.clone(),
        expires_at: time(booking.expires_at),
    };
    event(BOOKING_HELD, booking.id, &payload, at)
}

pub fn confirmed(booking: &BookingRecord, tickets: &[TicketRecord], at: DateTime<Utc>) -> OutboxEvent {
    let payload = pb::BookingConfirmed {
        booking_id: booking.id.to_string(),
        event_id: booking.event_id.to_string(),
        user_id: booking.user_id.to_string(),
        total_cents: booking.total_cents,
        currency: booking.currency.clone(),
        tickets: tickets
            .iter()
            .map(|ticket| pb::IssuedTicket {
                ticket_id: ticket.id.to_string(),
                category_id: ticket.category_id.to_string(),
                seat: ticket.seat.clone(),
                code: ticket.code.clone(),
                price_cents: ticket.price_cents,
            })
            .collect(),
    };
    event(BOOKING_CONFIRMED, booking.id, &payload, at)
}

/// The event of a change that ends a booking (cancel, expire, refund).
pub fn ended(
    booking: &BookingRecord,
    change: Change,
    reason: EndReason,
    at: DateTime<Utc>,
) -> Option<OutboxEvent> {
    let reason = match reason {
        EndReason::Requested => pb::EndReason::Requested,
        EndReason::EventCancelled => pb::EndReason::EventCancelled,
    };
    let (booking_id, event_id, user_id) =
        (booking.id.to_string(), booking.event_id.to_string(), booking.user_id.to_string());
    Some(match change {
        Change::Confirm => return None,
        Change::Cancel => event(
            BOOKING_CANCELLED,
            booking.id,
            &pb::BookingCancelled { booking_id, event_id, user_id, reason: reason.into() },
            at,
        ),
        Change::Expire => {
            event(BOOKING_EXPIRED, booking.id, &pb::BookingExpired { booking_id, event_id, user_id }, at)
        }
        Change::Refund => event(
            BOOKING_REFUNDED,
            booking.id,
            &pb::BookingRefunded {
                booking_id,
                event_id,
                user_id,
                total_cents: booking.total_cents,
                currency: booking.currency.clone(),
                reason: reason.into(),
            },
            at,
        ),
    })
}

pub fn checked_in(ticket_id: Uuid, booking_id: Uuid, event_id: Uuid, at: DateTime<Utc>) -> OutboxEvent {
    let payload = pb::TicketCheckedIn {
        ticket_id: ticket_id.to_string(),
        booking_id: booking_id.to_string(),
        event_id: event_id.to_string(),
        checked_in_at: time(at),
    };
    event(TICKET_CHECKED_IN, booking_id, &payload, at)
}

/// An offer of a waiting list: `offer`, the pending booking of the units that came back, for the
/// entry that asked for `requested`.
pub fn offered(entry_id: Uuid, offer: &BookingRecord, requested: i64, at: DateTime<Utc>) -> OutboxEvent {
    let item = offer.items.first();
    let payload = pb::WaitingListOffered {
        entry_id: entry_id.to_string(),
        booking_id: offer.id.to_string(),
        event_id: offer.event_id.to_string(),
        category_id: item.map(|item| item.category_id.to_string()).unwrap_or_default(),
        user_id: offer.user_id.to_string(),
        quantity: item.map_or(0, |item| item.quantity),
        requested: u32::try_from(requested).unwrap_or(u32::MAX),
        total_cents: offer.total_cents,
        currency: offer.currency.clone(),
        expires_at: time(offer.expires_at),
    };
    event(WAITING_LIST_OFFERED, offer.id, &payload, at)
}

/// A ticket changed hands, for the `generation`th time.
pub fn transferred(
    ticket: &TicketRecord,
    from: Uuid,
    to: Uuid,
    generation: u32,
    at: DateTime<Utc>,
) -> OutboxEvent {
    let payload = pb::TicketTransferred {
        ticket_id: ticket.id.to_string(),
        booking_id: ticket.booking_id.to_string(),
        event_id: ticket.event_id.to_string(),
        from_user_id: from.to_string(),
        to_user_id: to.to_string(),
        generation,
        transferred_at: time(at),
    };
    event(TICKET_TRANSFERRED, ticket.booking_id, &payload, at)
}
