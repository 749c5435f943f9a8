//! `/api/v1/bookings/*`: holding tickets and paying for them. Showing and admitting the tickets
//! is the tickets feature's (`routes/tickets.rs`).
//!
//! The bookings service checks ownership, limits, the all-or-nothing hold and the idempotency
//! of a retried booking, and answers with the stable codes (`sold_out`, `seat_unavailable`,
//! `limit_exceeded`, `idempotency_conflict`, `hold_expired`, `payment_declined`, ...); the
//! gateway only reads the request, passes the verified caller along and shapes the answers
//! (`dto.rs`).

pub mod dto;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use boxoffice_proto::booking as pb;
use utoipa::OpenApi;

use self::dto::{
    BookingPage, BookingResponse, CancelBookingRequest, ConfirmBookingRequest, CreateBookingRequest,
    IdempotencyKey,
};
use super::{page_request, PageQuery, PathId};
use crate::auth::AuthUser;
use crate::openapi::responses::{BadBody, NotFound, Unauthorized, Unavailable, ValidationFailed};
use crate::problem::{ApiJson, ApiOptionalJson, ApiQuery, ApiResult, Problem};
use crate::waiting_room;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/bookings", get(list_bookings).post(create_booking))
        .route("/bookings/{id}", get(get_booking))
        .route("/bookings/{id}/confirm", post(confirm_booking))
        .route("/bookings/{id}/cancel", post(cancel_booking))
}

#[derive(OpenApi)]
#[openapi(paths(create_booking, list_bookings, get_booking, confirm_booking, cancel_booking))]
pub struct Doc;

/// Hold tickets in a new `pending` booking until `expires_at`, all or nothing. Retrying with the
/// same `Idempotency-Key` and body returns the first booking instead of holding more tickets.
/// For an event with a waiting room, only with the caller's admission pass (`X-Queue-Pass`, from
/// `GET /events/{id}/queue` once admitted).
#[utoipa::path(post, path = "/bookings", tag = "bookings", security(("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "1 to 255 visible ASCII characters (`boxoffice_types::limits::IDEMPOTENCY_KEY_MAX_CHARS`), chosen by the client and scoped to the caller. The same key with the same body returns the same booking; with another body, 422 `idempotency_conflict`. A request whose key's first request has not finished by its own deadline gets 503 `unavailable`: send it again with the same key."),
        ("X-Queue-Pass" = Option<String>, Header, nullable = false, description = "The caller's admission pass for the event's waiting room; needed only when the event has one."),
    ),
    request_body = CreateBookingRequest,
    responses(
        (status = 201, description = "The booking, `pending`; for a retry with the same `Idempotency-Key` and body, the booking of the first try as it is now", body = BookingResponse),
        (status = 403, description = "`queue_required`: the event has a waiting room and the request carries no valid, current admission pass of the caller's for it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such published event", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`sold_out` or `seat_unavailable` (nothing is held then); `conflict`: the sale has not started", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a field or the `Idempotency-Key` header is invalid, `detail` names it; `limit_exceeded`: more than the event's `max_tickets_per_booking`; `idempotency_conflict`: the key was used with another body", body = Problem, content_type = "application/problem+json"),
        BadBody, Unauthorized, Unavailable,
    ))]
pub async fn create_booking(
    State(state): State<AppState>,
    caller: AuthUser,
    idempotency_key: IdempotencyKey,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<CreateBookingRequest>,
) -> ApiResult<(StatusCode, Json<BookingResponse>)> {
    let pass = headers.get(waiting_room::PASS_HEADER).and_then(|value| value.to_str().ok());
    waiting_room::admit_hold(&state, caller, body.event_id, pass).await?;
    let request = body.into_proto(caller.caller(), idempotency_key)?;
    let booking = state.hold(request).await?;
    Ok((StatusCode::CREATED, Json(BookingResponse::from_proto(booking)?)))
}

/// The caller's bookings, newest first; for an admin, every booking.
#[utoipa::path(get, path = "/bookings", tag = "bookings", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = BookingPage), ValidationFailed, Unauthorized, Unavailable))]
pub async fn list_bookings(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<BookingPage>> {
    let request = pb::ListBookingsRequest {
        caller: Some(caller.caller()),
        page: Some(page_request(query.limit, query.cursor)?),
    };
    let page = state.bookings().list_bookings(request).await?.into_inner();
    Ok(Json(BookingPage::from_proto(page)?))
}

/// A booking of the caller's (an admin sees every booking). Another user's booking is 404, so
/// that its existence does not leak.
#[utoipa::path(get, path = "/bookings/{id}", tag = "bookings", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The booking id")),
    responses((status = 200, body = BookingResponse), Unauthorized, NotFound, Unavailable))]
pub async fn get_booking(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(booking_id): PathId,
) -> ApiResult<Json<BookingResponse>> {
    let request = pb::GetBookingRequest { caller: Some(caller.caller()), booking_id: booking_id.to_string() };
    let booking = state.bookings().get_booking(request).await?.into_inner();
    Ok(Json(BookingResponse::from_proto(booking)?))
}

/// Pay for a `pending` booking and get its tickets. Confirming a confirmed booking returns it
/// unchanged and charges nothing.
#[utoipa::path(post, path = "/bookings/{id}/confirm", tag = "bookings", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The booking id")),
    request_body = ConfirmBookingRequest,
    responses(
        (status = 200, description = "The booking, `confirmed`, with its tickets", body = BookingResponse),
        (status = 402, description = "`payment_declined`: the hold stays until it expires", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`hold_expired`: too late, nothing is charged; `conflict`: the booking was cancelled", body = Problem, content_type = "application/problem+json"),
        BadBody, ValidationFailed, Unauthorized, NotFound, Unavailable,
    ))]
pub async fn confirm_booking(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(booking_id): PathId,
    ApiJson(body): ApiJson<ConfirmBookingRequest>,
) -> ApiResult<Json<BookingResponse>> {
    let request = pb::ConfirmBookingRequest {
        caller: Some(caller.caller()),
        booking_id: booking_id.to_string(),
        payment_token: body.payment_token,
    };
    let booking = BookingResponse::from_proto(state.bookings().confirm_booking(request).await?.into_inner())?;
    waiting_room::booking_completed(&state, caller.user_id, booking.event_id).await;
    Ok(Json(booking))
}

/// Cancel a booking: a `pending` one becomes `cancelled`, a `confirmed` one `refunded`, and its
/// tickets return to sale at once. Cancelling again returns it unchanged. The body may be left
/// out.
#[utoipa::path(post, path = "/bookings/{id}/cancel", tag = "bookings", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The booking id")),
    request_body(content = Option<CancelBookingRequest>, description = "Optional: no body, `null` or `{}`"),
    responses(
        (status = 200, description = "The booking, `cancelled` or `refunded`", body = BookingResponse),
        (status = 409, description = "`conflict`: the booking has expired", body = Problem, content_type = "application/problem+json"),
        BadBody, ValidationFailed, Unauthorized, NotFound, Unavailable,
    ))]
pub async fn cancel_booking(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(booking_id): PathId,
    ApiOptionalJson(_body): ApiOptionalJson<CancelBookingRequest>,
) -> ApiResult<Json<BookingResponse>> {
    let request =
        pb::CancelBookingRequest { caller: Some(caller.caller()), booking_id: booking_id.to_string() };
    let booking = state.bookings().cancel_booking(request).await?.into_inner();
    Ok(Json(BookingResponse::from_proto(booking)?))
}
