//! `/api/v1/events/{id}/door` and `/api/v1/events/{id}/staff`: the door of an event. Its
//! organizer lets accounts check its tickets in (door staff, granted by email, per event), and
//! whoever keeps the door sees how many were admitted. Admitting itself is `POST /checkin`.

use axum::extract::State;
use axum::routing::{delete, get};
use axum::{Json, Router};
use boxoffice_proto::{booking, event};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::{service_id, PathId, PathIds};
use crate::auth::{AuthUser, Organizer};
use crate::openapi::fields;
use crate::openapi::responses::{BadBody, Forbidden, NotFound, Unauthorized, Unavailable};
use crate::problem::{ApiJson, ApiResult, Problem};
use crate::routes::users::account_by_email;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events/{id}/door", get(door_count))
        .route("/events/{id}/staff", get(list_staff).post(grant_staff))
        .route("/events/{id}/staff/{user_id}", delete(revoke_staff))
}

#[derive(OpenApi)]
#[openapi(paths(door_count, list_staff, grant_staff, revoke_staff))]
pub struct Doc;

/// How the door of an event stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct DoorCountResponse {
    pub event_id: Uuid,
    /// Tickets admitted so far.
    pub checked_in: u32,
    /// Tickets of confirmed bookings: those that may still come in, and those who did.
    pub tickets: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantStaffRequest {
    /// The email of an existing account (any role): it may then check this event's tickets in,
    /// and nothing else it could not do before.
    #[schema(schema_with = fields::email)]
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DoorStaffResponse {
    pub user_id: Uuid,
    #[schema(example = "door@example.com")]
    pub email: String,
    /// RFC 3339, UTC.
    #[schema(example = "2026-12-12T17:00:00.000Z")]
    pub granted_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DoorStaffList {
    /// In the order they were granted; at most 200.
    pub items: Vec<DoorStaffResponse>,
}

impl DoorStaffList {
    pub fn from_proto(list: event::DoorStaffList) -> ApiResult<Self> {
        let items = list
            .items
            .into_iter()
            .map(|staff| {
                Ok(DoorStaffResponse {
                    user_id: service_id("events", &staff.user_id)?,
                    email: staff.email,
                    granted_at: staff.granted_at,
                })
            })
            .collect::<ApiResult<_>>()?;
        Ok(DoorStaffList { items })
    }
}

/// Tickets admitted so far, of how many (the event's organizer, an admin or its door staff).
#[utoipa::path(get, path = "/events/{id}/door", tag = "bookings", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses((status = 200, body = DoorCountResponse), Unauthorized, Forbidden, NotFound, Unavailable))]
pub async fn door_count(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(event_id): PathId,
) -> ApiResult<Json<DoorCountResponse>> {
    Ok(Json(fetch_door_count(&state, caller, event_id).await?))
}

pub async fn fetch_door_count(
    state: &AppState,
    caller: AuthUser,
    event_id: Uuid,
) -> ApiResult<DoorCountResponse> {
    let request = booking::DoorCountRequest { caller: Some(caller.caller()), event_id: event_id.to_string() };
    let count = state.bookings().get_door_count(request).await?.into_inner();
    Ok(DoorCountResponse { event_id, checked_in: count.checked_in, tickets: count.tickets })
}

/// The accounts that may check the event's tickets in besides its organizer (its organizer or
/// an admin).
#[utoipa::path(get, path = "/events/{id}/staff", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses((status = 200, body = DoorStaffList), Unauthorized, Forbidden, NotFound, Unavailable))]
pub async fn list_staff(
    State(state): State<AppState>,
    Organizer(caller): Organizer,
    PathId(event_id): PathId,
) -> ApiResult<Json<DoorStaffList>> {
    Ok(Json(staff_of(&state, caller, event_id).await?))
}

/// The event's door staff, for its organizer (the API and the organizer's page).
pub async fn staff_of(state: &AppState, caller: AuthUser, event_id: Uuid) -> ApiResult<DoorStaffList> {
    let request = event::DoorStaffRequest {
        caller: Some(caller.caller()),
        event_id: event_id.to_string(),
        ..Default::default()
    };
    DoorStaffList::from_proto(state.events().list_door_staff(request).await?.into_inner())
}

/// Let an account check the event's tickets in (its organizer or an admin). Granting again
/// changes nothing. Answers with every grant of the event.
#[utoipa::path(post, path = "/events/{id}/staff", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    request_body = GrantStaffRequest,
    responses(
        (status = 200, body = DoorStaffList),
        (status = 422, description = "`validation_failed`: no account has this email, or a field is missing or unknown; `limit_exceeded`: the event has 200 door staff", body = Problem, content_type = "application/problem+json"),
        BadBody, Unauthorized, Forbidden, NotFound, Unavailable,
    ))]
pub async fn grant_staff(
    State(state): State<AppState>,
    Organizer(caller): Organizer,
    PathId(event_id): PathId,
    ApiJson(body): ApiJson<GrantStaffRequest>,
) -> ApiResult<Json<DoorStaffList>> {
    Ok(Json(grant(&state, caller, event_id, body.email).await?))
}

/// Grants door staff by email, for the API and the organizer's page. The event is checked
/// first, so that only its organizer learns whether an email has an account.
pub async fn grant(
    state: &AppState,
    caller: AuthUser,
    event_id: Uuid,
    email: String,
) -> ApiResult<DoorStaffList> {
    let mut events = state.events();
    let staff_request = |user_id: String, email: String| event::DoorStaffRequest {
        caller: Some(caller.caller()),
        event_id: event_id.to_string(),
        user_id,
        email,
    };
    events.list_door_staff(staff_request(String::new(), String::new())).await?;
    let account = account_by_email(state, email).await?;
    let list = events.grant_door_staff(staff_request(account.id, account.email)).await?.into_inner();
    DoorStaffList::from_proto(list)
}

/// Take the right to check in away from an account (the event's organizer or an admin). It
/// stops at the account's next scan.
#[utoipa::path(delete, path = "/events/{id}/staff/{user_id}", tag = "events", security(("bearer" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The event id"),
        ("user_id" = uuid::Uuid, Path, description = "The door staff's account id"),
    ),
    responses((status = 200, body = DoorStaffList), Unauthorized, Forbidden, NotFound, Unavailable))]
pub async fn revoke_staff(
    State(state): State<AppState>,
    Organizer(caller): Organizer,
    PathIds(event_id, user_id): PathIds,
) -> ApiResult<Json<DoorStaffList>> {
    Ok(Json(revoke(&state, caller, event_id, user_id).await?))
}

pub async fn revoke(
    state: &AppState,
    caller: AuthUser,
    event_id: Uuid,
    user_id: Uuid,
) -> ApiResult<DoorStaffList> {
    let request = event::DoorStaffRequest {
        caller: Some(caller.caller()),
        event_id: event_id.to_string(),
        user_id: user_id.to_string(),
        email: String::new(),
    };
    let list = state.events().revoke_door_staff(request).await?.into_inner();
    DoorStaffList::from_proto(list)
}
