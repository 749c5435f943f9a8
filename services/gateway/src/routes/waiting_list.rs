//! `/api/v1/events/{id}/waiting-list` and `/api/v1/waiting-list`: the waiting list of a sold-out
//! category. A buyer joins it for 1 to the event's per-booking limit; units that come back go to
//! its entries in order as offers (pending bookings of their own, paid with
//! `POST /bookings/{id}/confirm` like any other, declined by leaving or cancelling), before they
//! return to sale.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use boxoffice_errors::Error;
use boxoffice_proto::booking as pb;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::{service_id, PathId};
use crate::auth::AuthUser;
use crate::openapi::responses::{BadBody, NotFound, Unauthorized, Unavailable, ValidationFailed};
use crate::problem::{ApiError, ApiJson, ApiResult, Problem};
use crate::whole_number;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events/{id}/waiting-list", post(join_waiting_list))
        .route("/waiting-list", get(list_waiting_list))
        .route("/waiting-list/{id}", delete(leave_waiting_list))
}

#[derive(OpenApi)]
#[openapi(paths(join_waiting_list, list_waiting_list, leave_waiting_list))]
pub struct Doc;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinWaitingListRequest {
    /// A sold-out category of the event.
    pub category_id: Uuid,
    /// 1 to the event's `max_tickets_per_booking`. An offer may hold fewer, when fewer come back.
    #[serde(deserialize_with = "whole_number::required")]
    #[schema(example = 2, minimum = 1, maximum = 50)]
    pub quantity: u32,
}

/// Where an entry is: `waiting` in line; `offered` (its `booking_id` is a pending booking to pay
/// before its `expires_at`); then `bought`, `declined`, `lapsed` (the offer ran out and went to
/// the next entry), `left`, or `closed` (the event was cancelled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaitingListStatus {
    Waiting,
    Offered,
    Bought,
    Declined,
    Lapsed,
    Left,
    Closed,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WaitingListEntryResponse {
    pub id: Uuid,
    pub event_id: Uuid,
    pub category_id: Uuid,
    /// The tickets asked for.
    pub quantity: u32,
    pub status: WaitingListStatus,
    /// While waiting: the place in line, 1 being next; else `null`.
    pub position: Option<u32>,
    /// The offer (a pending booking), once units came back.
    pub booking_id: Option<Uuid>,
    /// The tickets offered: `quantity`, or fewer when fewer came back.
    pub offered_quantity: Option<u32>,
    /// How long an offer lasts, in minutes.
    #[schema(example = 720)]
    pub offer_minutes: u32,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC: the last change of status.
    pub updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WaitingListEntries {
    /// Newest first; at most 100.
    pub items: Vec<WaitingListEntryResponse>,
}

impl WaitingListEntryResponse {
    pub fn from_proto(entry: pb::WaitingListEntry) -> ApiResult<Self> {
        let status = match pb::WaitingListStatus::try_from(entry.status) {
            Ok(pb::WaitingListStatus::Waiting) => WaitingListStatus::Waiting,
            Ok(pb::WaitingListStatus::Offered) => WaitingListStatus::Offered,
            Ok(pb::WaitingListStatus::Bought) => WaitingListStatus::Bought,
            Ok(pb::WaitingListStatus::Declined) => WaitingListStatus::Declined,
            Ok(pb::WaitingListStatus::Lapsed) => WaitingListStatus::Lapsed,
            Ok(pb::WaitingListStatus::Left) => WaitingListStatus::Left,
            Ok(pb::WaitingListStatus::Closed) => WaitingListStatus::Closed,
            _ => return Err(unexpected(format!("waiting-list status {}", entry.status))),
        };
        Ok(WaitingListEntryResponse {
            id: service_id("bookings", &entry.id)?,
            event_id: service_id("bookings", &entry.event_id)?,
            category_id: service_id("bookings", &entry.category_id)?,
            quantity: entry.quantity,
            status,
            position: entry.position,
            booking_id: entry.booking_id.map(|id| service_id("bookings", &id)).transpose()?,
            offered_quantity: entry.offered_quantity,
            offer_minutes: entry.offer_minutes,
            created_at: entry.created_at,
            updated_at: entry.updated_at,
        })
    }
}

/// Join the waiting list of a sold-out category (any signed-in account). Tickets that come back
/// are offered to the entries in order, before they return to sale.
#[utoipa::path(post, path = "/events/{id}/waiting-list", tag = "bookings", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    request_body = JoinWaitingListRequest,
    responses(
        (status = 201, body = WaitingListEntryResponse),
        (status = 409, description = "`not_sold_out`: the category has tickets on sale; `conflict`: the event has no waiting list or is not on sale, or you are on this category's list already", body = Problem, content_type = "application/problem+json"),
        BadBody, ValidationFailed, Unauthorized, NotFound, Unavailable,
    ))]
pub async fn join_waiting_list(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(event_id): PathId,
    ApiJson(body): ApiJson<JoinWaitingListRequest>,
) -> ApiResult<(StatusCode, Json<WaitingListEntryResponse>)> {
    let entry = join_list(&state, caller, event_id, body.category_id, body.quantity).await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

/// Joins a waiting list, for the API and the web app.
pub async fn join_list(
    state: &AppState,
    caller: AuthUser,
    event_id: Uuid,
    category_id: Uuid,
    quantity: u32,
) -> ApiResult<WaitingListEntryResponse> {
    let request = pb::JoinWaitingListRequest {
        caller: Some(caller.caller()),
        event_id: event_id.to_string(),
        category_id: category_id.to_string(),
        quantity,
    };
    WaitingListEntryResponse::from_proto(state.bookings().join_waiting_list(request).await?.into_inner())
}

/// Your waiting-list entries, newest first.
#[utoipa::path(get, path = "/waiting-list", tag = "bookings", security(("bearer" = [])),
    responses((status = 200, body = WaitingListEntries), Unauthorized, Unavailable))]
pub async fn list_waiting_list(
    State(state): State<AppState>,
    caller: AuthUser,
) -> ApiResult<Json<WaitingListEntries>> {
    Ok(Json(entries_of(&state, caller).await?))
}

/// The caller's entries, for the API and the web app.
pub async fn entries_of(state: &AppState, caller: AuthUser) -> ApiResult<WaitingListEntries> {
    let request = pb::ListWaitingListRequest { caller: Some(caller.caller()) };
    let entries = state.bookings().list_waiting_list(request).await?.into_inner();
    let items =
        entries.items.into_iter().map(WaitingListEntryResponse::from_proto).collect::<ApiResult<_>>()?;
    Ok(WaitingListEntries { items })
}

/// Leave a waiting list: a waiting entry leaves; an offered one declines its offer, whose
/// tickets go to the next entry. An entry that is done is answered unchanged.
#[utoipa::path(delete, path = "/waiting-list/{id}", tag = "bookings", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The entry id")),
    responses(
        (status = 200, body = WaitingListEntryResponse),
        (status = 409, description = "`conflict`: the offer is paid already (cancel the booking for a refund)", body = Problem, content_type = "application/problem+json"),
        Unauthorized, NotFound, Unavailable,
    ))]
pub async fn leave_waiting_list(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(entry_id): PathId,
) -> ApiResult<Json<WaitingListEntryResponse>> {
    Ok(Json(leave_list(&state, caller, entry_id).await?))
}

/// Leaves a waiting list, for the API and the web app.
pub async fn leave_list(
    state: &AppState,
    caller: AuthUser,
    entry_id: Uuid,
) -> ApiResult<WaitingListEntryResponse> {
    let request =
        pb::LeaveWaitingListRequest { caller: Some(caller.caller()), entry_id: entry_id.to_string() };
    WaitingListEntryResponse::from_proto(state.bookings().leave_waiting_list(request).await?.into_inner())
}

fn unexpected(what: String) -> ApiError {
    Error::internal(format!("the bookings service sent an unknown {what}")).into()
}
