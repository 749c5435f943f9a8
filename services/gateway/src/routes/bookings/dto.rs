//! The requests and responses of `/api/v1/bookings/*`, and their conversions to and from the
//! bookings service's wire types.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use boxoffice_errors::Error;
use boxoffice_proto::booking as pb;
use boxoffice_proto::common::Caller;
use boxoffice_proto::WireEnum as _;
use boxoffice_types::limits::IDEMPOTENCY_KEY_MAX_CHARS;
pub use boxoffice_types::BookingStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::problem::{ApiError, ApiResult};
use crate::routes::{non_empty, service_id};
use crate::whole_number;

/// The header that makes a retried `POST /bookings` return the booking of the first try
/// instead of holding a second set of tickets.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

// ---- Requests ----

/// The `Idempotency-Key` header of a new booking, if the client sent one: 1 to 255 visible ASCII
/// characters. It is scoped to the caller by the bookings service, so two users may pick the
/// same key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

impl IdempotencyKey {
    pub fn parse(headers: &HeaderMap) -> Result<Self, Error> {
        let mut values = headers.get_all(IDEMPOTENCY_KEY_HEADER).iter();
        let Some(value) = values.next() else {
            return Ok(IdempotencyKey(None));
        };
        // Two keys on one request cannot both be honoured, and picking one would silently make
        // the other retry hold a second set of tickets.
        if values.next().is_some() {
            return Err(Error::validation("Idempotency-Key: give it at most once"));
        }
        Self::parse_value(value).map(|key| IdempotencyKey(Some(key)))
    }

    fn parse_value(value: &HeaderValue) -> Result<String, Error> {
        // Visible ASCII only (no spaces, no control or non-ASCII bytes), so that a key means the
        // same bytes to every client, proxy and store that handles it.
        let bytes = value.as_bytes();
        if bytes.is_empty()
            || bytes.len() > IDEMPOTENCY_KEY_MAX_CHARS
            || !bytes.iter().all(u8::is_ascii_graphic)
        {
            return Err(Error::validation(format!(
                "Idempotency-Key: must be 1 to {IDEMPOTENCY_KEY_MAX_CHARS} visible ASCII characters"
            )));
        }
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        IdempotencyKey::parse(&parts.headers).map_err(ApiError)
    }
}

/// Tickets of one category: general admission, or the best available seats of a seated
/// category (the service picks them).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingItemRequest {
    pub category_id: String,
    /// At least 1; all items together at most the event's `max_tickets_per_booking` (itself at
    /// most 50).
    #[serde(deserialize_with = "whole_number::required")]
    #[schema(example = 2, minimum = 1, maximum = 50)]
    pub quantity: u32,
}

/// Either `items` (by category) or `seats` (chosen seat ids), not both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBookingRequest {
    pub event_id: Uuid,
    /// Each category at most once.
    pub items: Option<Vec<BookingItemRequest>>,
    /// Seat ids ("<section>/<row>/<number>") of the event's seated categories, each at most once.
    #[schema(example = json!(["Floor/A/12", "Floor/A/13"]))]
    pub seats: Option<Vec<String>>,
}

impl CreateBookingRequest {
    pub(super) fn into_proto(
        self,
        caller: Caller,
        idempotency_key: IdempotencyKey,
    ) -> ApiResult<pb::CreateBookingRequest> {
        let items = self.items.unwrap_or_default();
        let seats = self.seats.unwrap_or_default();
        // Both lists go to the service, which says which one is wrong when both are given; only
        // a request for nothing at all is answered here, as it needs no look at the event.
        if items.is_empty() && seats.is_empty() {
            return Err(Error::validation("items or seats: ask for at least one ticket").into());
        }
        Ok(pb::CreateBookingRequest {
            caller: Some(caller),
            event_id: self.event_id.to_string(),
            items: items
                .into_iter()
                .map(|item| pb::BookingItemRequest { category_id: item.category_id, quantity: item.quantity })
                .collect(),
            seats,
            idempotency_key: idempotency_key.0,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBookingRequest {
    /// From the payment provider. The built-in `test` provider approves `tok_ok` and declines
    /// `tok_declined`.
    #[schema(example = "tok_ok")]
    pub payment_token: String,
}

/// Cancelling takes no input: the body may be left out, or be `null` or `{}`. Being an object leaves room
/// for a reason later without breaking clients.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBookingRequest {}

// ---- Responses ----

/// Reads the `status` filter of a list; `None` for an absent or empty one.
pub fn parse_status_filter(value: Option<String>) -> ApiResult<Option<BookingStatus>> {
    let Some(value) = non_empty(value) else {
        return Ok(None);
    };
    BookingStatus::parse(&value)
        .map(Some)
        .ok_or_else(|| Error::validation(format!("status: must be one of {}", BookingStatus::names())).into())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BookingItemResponse {
    pub category_id: String,
    #[schema(example = 2)]
    pub quantity: u32,
    /// The price when the booking was made; later price changes do not alter it.
    #[schema(example = 4500)]
    pub unit_price_cents: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketResponse {
    pub id: Uuid,
    pub category_id: String,
    /// "<section>/<row>/<number>"; `null` for general admission.
    #[schema(example = "Floor/A/12")]
    pub seat: Option<String>,
    /// The static code, signed by the server; shown at the door as the QR code of
    /// `GET /api/v1/tickets/{id}/qr` (print-at-home, where the event accepts it). Empty when
    /// the ticket was given to someone else. The code that a screenshot cannot reuse is the
    /// rotating one: `GET /api/v1/tickets/{id}/code`.
    pub code: String,
    /// RFC 3339, UTC; `null` until admitted.
    pub checked_in_at: Option<String>,
    /// The ticket was given to another account (`POST /api/v1/tickets/{id}/transfer`): it is
    /// theirs now.
    pub transferred: bool,
}

impl TicketResponse {
    pub fn from_proto(ticket: pb::Ticket) -> ApiResult<Self> {
        Ok(TicketResponse {
            id: service_id("bookings", &ticket.id)?,
            category_id: ticket.category_id,
            seat: ticket.seat,
            code: ticket.code,
            checked_in_at: ticket.checked_in_at,
            transferred: ticket.transferred,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BookingResponse {
    pub id: Uuid,
    pub event_id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    pub status: BookingStatus,
    /// One entry per category, also for chosen seats.
    pub items: Vec<BookingItemResponse>,
    /// The held or sold seat ids; empty for general admission.
    #[schema(example = json!(["Floor/A/12", "Floor/A/13"]))]
    pub seats: Vec<String>,
    /// The sum of `quantity * unit_price_cents` over the items.
    #[schema(example = 9000)]
    pub total_cents: i64,
    /// ISO 4217.
    #[schema(example = "EUR")]
    pub currency: String,
    /// RFC 3339, UTC: the end of the hold, meaningful while `pending`.
    #[schema(example = "2026-11-25T06:10:00Z")]
    pub expires_at: String,
    /// RFC 3339, UTC.
    #[schema(example = "2026-11-25T06:00:00Z")]
    pub created_at: String,
    /// Issued on confirmation, so empty while `pending`. A refunded booking keeps listing them,
    /// but they no longer pass check-in.
    pub tickets: Vec<TicketResponse>,
}

impl BookingResponse {
    pub fn from_proto(booking: pb::Booking) -> ApiResult<Self> {
        let tickets =
            booking.tickets.into_iter().map(TicketResponse::from_proto).collect::<ApiResult<_>>()?;
        Ok(BookingResponse {
            id: service_id("bookings", &booking.id)?,
            event_id: service_id("bookings", &booking.event_id)?,
            user_id: service_id("bookings", &booking.user_id)?,
            status: BookingStatus::from_wire(booking.status)
                .ok_or_else(|| unexpected(format!("booking status {}", booking.status)))?,
            items: booking
                .items
                .into_iter()
                .map(|item| BookingItemResponse {
                    category_id: item.category_id,
                    quantity: item.quantity,
                    unit_price_cents: item.unit_price_cents,
                })
                .collect(),
            seats: booking.seats,
            total_cents: booking.total_cents,
            currency: booking.currency,
            expires_at: booking.expires_at,
            created_at: booking.created_at,
            tickets,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BookingPage {
    pub items: Vec<BookingResponse>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl BookingPage {
    pub fn from_proto(page: pb::ListBookingsResponse) -> ApiResult<Self> {
        Ok(BookingPage {
            items: page.items.into_iter().map(BookingResponse::from_proto).collect::<ApiResult<_>>()?,
            next_cursor: page.next_cursor,
        })
    }
}

fn unexpected(what: String) -> ApiError {
    Error::internal(format!("the bookings service sent an unknown {what}")).into()
}

#[cfg(test)]
mod tests {
    use boxoffice_errors::Code;

    use super::*;

    fn key(values: &[&[u8]]) -> Result<Option<String>, Error> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(IDEMPOTENCY_KEY_HEADER, HeaderValue::from_bytes(value).unwrap());
        }
        IdempotencyKey::parse(&headers).map(|IdempotencyKey(key)| key)
    }

    #[test]
    fn an_idempotency_key_is_1_to_255_visible_ascii_characters() {
        assert_eq!(key(&[]).unwrap(), None);
        assert_eq!(key(&[b"retry-7f3a"]).unwrap().as_deref(), Some("retry-7f3a"));
        let longest = "k".repeat(IDEMPOTENCY_KEY_MAX_CHARS);
        assert_eq!(key(&[longest.as_bytes()]).unwrap(), Some(longest));
        let too_long = "k".repeat(IDEMPOTENCY_KEY_MAX_CHARS + 1);
        for refused in [b"".as_slice(), b"two words", b"caf\xc3\xa9", b"tab\there", too_long.as_bytes()] {
            let error = key(&[refused]).unwrap_err();
            assert_eq!(error.code, Code::ValidationFailed);
            assert!(error.detail.starts_with("Idempotency-Key: "), "{}", error.detail);
        }
        let error = key(&[b"first", b"second"]).unwrap_err();
        assert!(error.detail.starts_with("Idempotency-Key: "), "{}", error.detail);
    }

    fn create(json: &str) -> ApiResult<pb::CreateBookingRequest> {
        let caller = boxoffice_types::Caller::new(Uuid::now_v7(), boxoffice_types::Role::Customer).into();
        serde_json::from_str::<CreateBookingRequest>(json)
            .unwrap()
            .into_proto(caller, IdempotencyKey(Some("k".to_owned())))
    }

    #[test]
    fn a_booking_asks_for_at_least_one_ticket() {
        let event_id = Uuid::now_v7();
        for json in [
            format!(r#"{{"event_id": "{event_id}"}}"#),
            format!(r#"{{"event_id": "{event_id}", "items": [], "seats": []}}"#),
            format!(r#"{{"event_id": "{event_id}", "seats": []}}"#),
        ] {
            let ApiError(error) = create(&json).unwrap_err();
            assert_eq!(error.code, Code::ValidationFailed);
            assert!(error.detail.starts_with("items or seats: "), "{}", error.detail);
        }
        let request = create(&format!(
            r#"{{"event_id": "{event_id}", "items": [{{"category_id": "c", "quantity": 2}}]}}"#
        ))
        .unwrap();
        assert_eq!(request.event_id, event_id.to_string());
        assert_eq!(request.items, [pb::BookingItemRequest { category_id: "c".to_owned(), quantity: 2 }]);
        assert_eq!(request.idempotency_key.as_deref(), Some("k"));
        // Both lists go to the service, which owns the rule that only one may be given.
        let both = create(&format!(
            r#"{{"event_id": "{event_id}", "items": [{{"category_id": "c", "quantity": 1}}], "seats": ["F/A/1"]}}"#
        ))
        .unwrap();
        assert_eq!((both.items.len(), both.seats.len()), (1, 1));
        for json in [
            format!(r#"{{"event_id": "{event_id}", "seats": ["F/A/1"], "user_id": "x"}}"#),
            format!(
                r#"{{"event_id": "{event_id}", "items": [{{"category_id": "c", "quantity": 1, "unit_price_cents": 0}}]}}"#
            ),
        ] {
            assert!(serde_json::from_str::<CreateBookingRequest>(&json).is_err(), "{json}");
        }
    }

    #[test]
    fn a_status_filter_is_one_of_the_five_statuses_or_nothing() {
        assert_eq!(parse_status_filter(None).unwrap(), None);
        assert_eq!(parse_status_filter(Some(String::new())).unwrap(), None);
        for &status in BookingStatus::ALL {
            assert_eq!(parse_status_filter(Some(status.as_str().to_owned())).unwrap(), Some(status));
        }
        let ApiError(error) = parse_status_filter(Some("Paid".to_owned())).unwrap_err();
        assert!(error.detail.starts_with("status: "), "{}", error.detail);
    }

    #[test]
    fn a_booking_shows_null_for_a_missing_seat_and_check_in() {
        let id = || Uuid::now_v7().to_string();
        let booking = pb::Booking {
            id: id(),
            event_id: id(),
            user_id: id(),
            status: BookingStatus::Confirmed.to_wire(),
            items: vec![pb::BookingItem { category_id: "c".to_owned(), quantity: 1, unit_price_cents: 4500 }],
            seats: Vec::new(),
            total_cents: 4500,
            currency: "EUR".to_owned(),
            expires_at: "2026-11-25T06:10:00Z".to_owned(),
            created_at: "2026-11-25T06:00:00Z".to_owned(),
            tickets: vec![pb::Ticket {
                id: id(),
                category_id: "c".to_owned(),
                seat: None,
                code: "signed".to_owned(),
                checked_in_at: None,
                transferred: false,
            }],
        };
        let json = serde_json::to_value(BookingResponse::from_proto(booking).unwrap()).unwrap();
        assert_eq!(json["status"], "confirmed");
        assert!(json["tickets"][0]["seat"].is_null());
        assert!(json["tickets"][0]["checked_in_at"].is_null());
        assert_eq!(json["items"][0]["unit_price_cents"], 4500);
    }
}
