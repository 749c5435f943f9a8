//! `/api/v1/tickets/*` and `/api/v1/checkin`: showing a ticket as a QR code, and admitting its
//! holder at the door. The bookings service owns tickets and signs their codes, so a forged or
//! altered code is refused without a database lookup.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use boxoffice_errors::Error;
use boxoffice_proto::booking as pb;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, OpenApi, PartialSchema, ToSchema};
use uuid::Uuid;

use super::{service_id, PathId};
use crate::auth::AuthUser;
use crate::openapi::fields;
use crate::openapi::responses::{BadBody, Forbidden, NotFound, Unauthorized, Unavailable, ValidationFailed};
use crate::problem::{ApiJson, ApiQuery, ApiResult, Problem};
use crate::routes::bookings::dto::TicketResponse;
use crate::routes::users::{find_account, no_account};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tickets", get(list_tickets))
        .route("/tickets/{id}/qr", get(ticket_qr))
        .route("/tickets/{id}/code", get(ticket_code))
        .route("/tickets/{id}/transfer", post(transfer_ticket))
        .route("/checkin", post(check_in))
}

#[derive(OpenApi)]
#[openapi(paths(list_tickets, ticket_qr, ticket_code, transfer_ticket, check_in))]
pub struct Doc;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QrQuery {
    /// `true`: the QR code of the ticket's current rotating code (it changes every 15 seconds)
    /// rather than of its static one.
    #[serde(default)]
    pub rotating: Option<bool>,
}

/// A ticket's rotating code: it changes every `rotates_every_seconds`, and the door takes the
/// current and the previous one only, so a screenshot stops admitting within 30 seconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketCodeResponse {
    pub ticket_id: Uuid,
    /// Show it as a QR code (or get the image: `GET /api/v1/tickets/{id}/qr?rotating=true`).
    pub code: String,
    /// RFC 3339, UTC: when the next code replaces it.
    pub next_at: String,
    #[schema(example = 15)]
    pub rotates_every_seconds: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferTicketRequest {
    /// The email of the account that receives the ticket (it must have signed up).
    #[schema(schema_with = fields::email)]
    pub email: String,
}

/// A ticket as its holder sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeldTicketResponse {
    #[serde(flatten)]
    pub ticket: TicketResponse,
    pub booking_id: Uuid,
    pub event_id: Uuid,
    #[schema(example = 4500)]
    pub price_cents: i64,
    /// Given to you by another account, rather than bought.
    pub received: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HeldTickets {
    /// Newest booking first; at most 100.
    pub items: Vec<HeldTicketResponse>,
}

impl HeldTicketResponse {
    pub fn from_proto(held: pb::HeldTicket) -> ApiResult<Self> {
        let ticket = held
            .ticket
            .ok_or_else(|| Error::internal("the bookings service sent a ticket without its ticket"))?;
        Ok(HeldTicketResponse {
            ticket: TicketResponse::from_proto(ticket)?,
            booking_id: service_id("bookings", &held.booking_id)?,
            event_id: service_id("bookings", &held.event_id)?,
            price_cents: held.price_cents,
            received: held.received,
        })
    }
}

/// The tickets you hold, of paid bookings: bought and kept, or given to you.
#[utoipa::path(get, path = "/tickets", tag = "bookings", security(("bearer" = [])),
    responses((status = 200, body = HeldTickets), Unauthorized, Unavailable))]
pub async fn list_tickets(State(state): State<AppState>, caller: AuthUser) -> ApiResult<Json<HeldTickets>> {
    Ok(Json(held_tickets(&state, caller).await?))
}

/// The tickets `caller` holds, for the API and the web app.
pub async fn held_tickets(state: &AppState, caller: AuthUser) -> ApiResult<HeldTickets> {
    let request = pb::ListTicketsRequest { caller: Some(caller.caller()) };
    let tickets = state.bookings().list_tickets(request).await?.into_inner();
    let items = tickets.items.into_iter().map(HeldTicketResponse::from_proto).collect::<ApiResult<_>>()?;
    Ok(HeldTickets { items })
}

/// The current rotating code of a ticket you hold.
#[utoipa::path(get, path = "/tickets/{id}/code", tag = "bookings", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The ticket id")),
    responses(
        (status = 200, body = TicketCodeResponse,
            headers(("Cache-Control" = String, description = "`private, no-store`: the code admits its holder"))),
        (status = 410, description = "`ticket_refunded`: the ticket's booking was refunded", body = Problem, content_type = "application/problem+json"),
        Unauthorized, NotFound, Unavailable,
    ))]
pub async fn ticket_code(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(ticket_id): PathId,
) -> ApiResult<impl IntoResponse> {
    let request =
        pb::GetTicketCodeRequest { caller: Some(caller.caller()), ticket_id: ticket_id.to_string() };
    let code = state.bookings().get_ticket_code(request).await?.into_inner();
    let body = TicketCodeResponse {
        ticket_id,
        code: code.code,
        next_at: code.next_at,
        rotates_every_seconds: code.rotates_every_seconds,
    };
    Ok(([(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"))], Json(body)))
}

/// Give a ticket you hold to another account, by its email. Your codes of it (static and
/// rotating) stop admitting at once; its new holder finds it under `GET /api/v1/tickets`. A
/// booking with a ticket given away is no longer refunded at its buyer's request.
#[utoipa::path(post, path = "/tickets/{id}/transfer", tag = "bookings", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The ticket id")),
    request_body = TransferTicketRequest,
    responses(
        (status = 200, description = "The ticket, as its new holder sees it", body = HeldTicketResponse),
        (status = 409, description = "`conflict`: the ticket was used at the door, changed meanwhile, or its event is over", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`ticket_refunded`: the ticket's booking was refunded", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: no account has this email, it is your own, or a field is missing or unknown; `limit_exceeded`: the ticket changed hands 10 times", body = Problem, content_type = "application/problem+json"),
        BadBody, Unauthorized, NotFound, Unavailable,
    ))]
pub async fn transfer_ticket(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(ticket_id): PathId,
    ApiJson(body): ApiJson<TransferTicketRequest>,
) -> ApiResult<Json<HeldTicketResponse>> {
    Ok(Json(transfer(&state, caller, ticket_id, body.email).await?))
}

/// Gives a ticket away by email, for the API and the web app. A malformed email is refused
/// first; whether a well-formed one has an account is told only to the ticket's holder (the
/// ticket is read as theirs before).
pub async fn transfer(
    state: &AppState,
    caller: AuthUser,
    ticket_id: Uuid,
    email: String,
) -> ApiResult<HeldTicketResponse> {
    let account = find_account(state, email).await?;
    let code = pb::GetTicketCodeRequest { caller: Some(caller.caller()), ticket_id: ticket_id.to_string() };
    state.bookings().get_ticket_code(code).await?;
    let account = account.ok_or_else(no_account)?;
    let request = pb::TransferTicketRequest {
        caller: Some(caller.caller()),
        ticket_id: ticket_id.to_string(),
        to_user_id: account.id,
    };
    HeldTicketResponse::from_proto(state.bookings().transfer_ticket(request).await?.into_inner())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInRequest {
    /// The ticket's `code`, as read from its QR code.
    pub code: String,
    /// The event this door admits to: a valid ticket of another event is refused with 422
    /// `wrong_event`. Door staff must give it (they may check in for that event only).
    #[serde(default)]
    pub event_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInResponse {
    pub ticket_id: Uuid,
    pub event_id: Uuid,
    pub category_id: String,
    /// "<section>/<row>/<number>"; `null` for general admission.
    #[schema(example = "Floor/A/12")]
    pub seat: Option<String>,
    /// RFC 3339, UTC.
    #[schema(example = "2026-12-12T18:42:07Z")]
    pub checked_in_at: String,
}

impl CheckInResponse {
    fn from_proto(result: pb::CheckInResult) -> ApiResult<Self> {
        Ok(CheckInResponse {
            ticket_id: service_id("bookings", &result.ticket_id)?,
            event_id: service_id("bookings", &result.event_id)?,
            category_id: result.category_id,
            seat: result.seat,
            checked_in_at: result.checked_in_at,
        })
    }
}

/// A PNG image, for the OpenAPI document: the body of `GET /api/v1/tickets/{id}/qr`.
pub struct PngImage;

impl PartialSchema for PngImage {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("image/png")
            .description(Some("A PNG image"))
            .into()
    }
}

impl ToSchema for PngImage {}

/// The QR code of one of the caller's tickets, encoding its `code`. A ticket of a refunded
/// booking admits no one, so it has no QR code either.
#[utoipa::path(get, path = "/tickets/{id}/qr", tag = "bookings", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The ticket id"), QrQuery),
    responses(
        (status = 200, description = "The QR code of the ticket's `code`", body = PngImage, content_type = "image/png",
            headers(("Cache-Control" = String, description = "`private, no-store`: the code admits its holder"))),
        (status = 410, description = "`ticket_refunded`: the ticket's booking was refunded", body = Problem, content_type = "application/problem+json"),
        ValidationFailed, Unauthorized, NotFound, Unavailable,
    ))]
pub async fn ticket_qr(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(ticket_id): PathId,
    ApiQuery(query): ApiQuery<QrQuery>,
) -> ApiResult<impl IntoResponse> {
    let request = pb::GetTicketQrRequest {
        caller: Some(caller.caller()),
        ticket_id: ticket_id.to_string(),
        rotating: query.rotating.unwrap_or(false),
    };
    let qr = state.bookings().get_ticket_qr(request).await?.into_inner();
    // The code in the image admits its holder, so no shared cache may keep it and no browser
    // may store it beyond showing it.
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
        ],
        qr.png,
    ))
}

/// Admit a ticket at the door (the event's organizer, an admin, or the event's door staff). A
/// forged, altered or unknown code is a 422; two doors scanning one ticket at once admit it once.
#[utoipa::path(post, path = "/checkin", tag = "bookings", security(("bearer" = [])),
    request_body = CheckInRequest,
    responses(
        (status = 200, description = "Admitted", body = CheckInResponse),
        (status = 409, description = "`already_checked_in`; `conflict`: the booking was refunded", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`ticket_transferred`: the ticket changed hands; the code is its earlier holder's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a field is missing or unknown, or the code is forged, altered or unknown; `wrong_event`: the ticket is for another event than `event_id`; `code_expired`: a rotating code older than the current and the previous 15-second step (a screenshot); `static_code_refused`: the event admits only rotating codes", body = Problem, content_type = "application/problem+json"),
        BadBody, Unauthorized, Forbidden, Unavailable,
    ))]
pub async fn check_in(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(body): ApiJson<CheckInRequest>,
) -> ApiResult<Json<CheckInResponse>> {
    let request = pb::CheckInRequest {
        caller: Some(caller.caller()),
        code: body.code,
        event_id: body.event_id.map(|id| id.to_string()),
    };
    let result = state.bookings().check_in(request).await?.into_inner();
    Ok(Json(CheckInResponse::from_proto(result)?))
}
