//! `/api/v1/tickets/*` and `/api/v1/checkin`: showing a ticket as a QR code, and admitting its
//! holder at the door. The bookings service owns tickets and signs their codes, so a forged or
//! altered code is refused without a database lookup.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use boxoffice_proto::booking as pb;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{OpenApi, PartialSchema, ToSchema};
use uuid::Uuid;

use super::{service_id, PathId};
use crate::auth::AuthUser;
use crate::openapi::responses::{BadBody, Forbidden, NotFound, Unauthorized, Unavailable};
use crate::problem::{ApiJson, ApiResult, Problem};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/tickets/{id}/qr", get(ticket_qr)).route("/checkin", post(check_in))
}

#[derive(OpenApi)]
#[openapi(paths(ticket_qr, check_in))]
pub struct Doc;

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
    params(("id" = uuid::Uuid, Path, description = "The ticket id")),
    responses(
        (status = 200, description = "The QR code of the ticket's `code`", body = PngImage, content_type = "image/png",
            headers(("Cache-Control" = String, description = "`private, no-store`: the code admits its holder"))),
        (status = 410, description = "`ticket_refunded`: the ticket's booking was refunded", body = Problem, content_type = "application/problem+json"),
        Unauthorized, NotFound, Unavailable,
    ))]
pub async fn ticket_qr(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(ticket_id): PathId,
) -> ApiResult<impl IntoResponse> {
    let request = pb::GetTicketQrRequest { caller: Some(caller.caller()), ticket_id: ticket_id.to_string() };
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
        (status = 422, description = "`validation_failed`: a field is missing or unknown, or the code is forged, altered or unknown; `wrong_event`: the ticket is for another event than `event_id`", body = Problem, content_type = "application/problem+json"),
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
