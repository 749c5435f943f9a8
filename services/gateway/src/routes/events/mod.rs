//! `/api/v1/events/*`: events and their ticket categories. What is left to sell and what was
//! sold is the sales feature's (`routes/sales.rs`).
//!
//! The events service checks roles, ownership, visibility and every business rule (dates, limits,
//! currencies, venue sections) and names the offending field in its 422s; the gateway only reads
//! the JSON, passes the verified caller along and shapes the answers (`dto.rs`).

pub mod dto;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use boxoffice_errors::Error;
use boxoffice_proto::event as pb;
use utoipa::OpenApi;

use self::dto::{
    categories_into_proto, clearable, CreateEventRequest, EventPage, EventResponse, ListEventsQuery,
    UpdateEventRequest, WaitingRoomBody,
};
use super::{non_empty, page_request, PathId};
use crate::auth::{AuthUser, OptionalAuthUser, Organizer};
use crate::openapi::responses::{BadBody, Forbidden, NotFound, Unauthorized, Unavailable, ValidationFailed};
use crate::problem::{ApiJson, ApiQuery, ApiResult, Problem};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(list_events).post(create_event))
        .route("/events/{id}", get(get_event).patch(update_event).delete(delete_event))
        .route("/events/{id}/publish", post(publish_event))
        .route("/events/{id}/cancel", post(cancel_event))
}

#[derive(OpenApi)]
#[openapi(paths(
    create_event,
    list_events,
    get_event,
    update_event,
    delete_event,
    publish_event,
    cancel_event
))]
pub struct Doc;

/// Create an event in `draft` (organizers and admins). Besides the rules of each field, the event
/// ends after it starts, goes on sale no later than it starts, and seated categories name
/// sections of its venue, each in one category only.
#[utoipa::path(post, path = "/events", tag = "events", security(("bearer" = [])),
    request_body = CreateEventRequest,
    responses(
        (status = 201, description = "The event, in `draft`", body = EventResponse),
        BadBody, ValidationFailed, Unauthorized, Forbidden, Unavailable,
    ))]
pub async fn create_event(
    State(state): State<AppState>,
    Organizer(caller): Organizer,
    ApiJson(body): ApiJson<CreateEventRequest>,
) -> ApiResult<(StatusCode, Json<EventResponse>)> {
    let request = pb::CreateEventRequest {
        caller: Some(caller.caller()),
        name: body.name,
        description: body.description,
        venue_id: body.venue_id.map(|id| id.to_string()),
        city: body.city,
        starts_at: body.starts_at,
        ends_at: body.ends_at,
        sale_starts_at: body.sale_starts_at,
        max_tickets_per_booking: body.max_tickets_per_booking,
        categories: categories_into_proto(body.categories)?,
        waiting_room: body.waiting_room.map(WaitingRoomBody::into_proto),
        waiting_list_offer_minutes: body.waiting_list_offer_minutes,
        static_codes: body.static_codes,
    };
    let event = state.events().create_event(request).await?.into_inner();
    Ok((StatusCode::CREATED, Json(EventResponse::from_proto(event)?)))
}

/// Change an event (its organizer or an admin).
#[utoipa::path(patch, path = "/events/{id}", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    request_body = UpdateEventRequest,
    responses(
        (status = 200, body = EventResponse),
        (status = 409, description = "`conflict`: the event is cancelled, or published and the change touches `venue_id` or `categories`", body = Problem, content_type = "application/problem+json"),
        BadBody, ValidationFailed, Unauthorized, Forbidden, NotFound, Unavailable,
    ))]
pub async fn update_event(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(event_id): PathId,
    ApiJson(body): ApiJson<UpdateEventRequest>,
) -> ApiResult<Json<EventResponse>> {
    let categories = body
        .categories
        .map(|categories| categories_into_proto(categories).map(|categories| pb::CategoryList { categories }))
        .transpose()?;
    let request = pb::UpdateEventRequest {
        caller: Some(caller.caller()),
        event_id: event_id.to_string(),
        name: body.name,
        description: body.description,
        venue_id: clearable(body.venue_id.map(|venue_id| venue_id.map(|id| id.to_string()))),
        city: body.city,
        starts_at: body.starts_at,
        ends_at: body.ends_at,
        sale_starts_at: clearable(body.sale_starts_at),
        max_tickets_per_booking: body.max_tickets_per_booking,
        categories,
        waiting_room: body
            .waiting_room
            .map(|room| pb::WaitingRoomPatch { room: room.map(WaitingRoomBody::into_proto) }),
        waiting_list_offer_minutes: body.waiting_list_offer_minutes,
        static_codes: body.static_codes,
    };
    let event = state.events().update_event(request).await?.into_inner();
    Ok(Json(EventResponse::from_proto(event)?))
}

/// Publish a draft (its organizer or an admin): visible to anyone, bookable from
/// `sale_starts_at`. Publishing a published event returns it unchanged.
#[utoipa::path(post, path = "/events/{id}/publish", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses(
        (status = 200, body = EventResponse),
        (status = 409, description = "`conflict`: the event is cancelled or over", body = Problem, content_type = "application/problem+json"),
        Unauthorized, Forbidden, NotFound, Unavailable,
    ))]
pub async fn publish_event(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(event_id): PathId,
) -> ApiResult<Json<EventResponse>> {
    let request = pb::PublishEventRequest { caller: Some(caller.caller()), event_id: event_id.to_string() };
    let event = state.events().publish_event(request).await?.into_inner();
    Ok(Json(EventResponse::from_proto(event)?))
}

/// Cancel an event (its organizer or an admin). Its pending bookings are cancelled and its
/// confirmed ones refunded within moments of the answer, by the bookings service, on the
/// event's `event.cancelled` domain event. Cancelling again returns the event unchanged.
#[utoipa::path(post, path = "/events/{id}/cancel", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses((status = 200, body = EventResponse), Unauthorized, Forbidden, NotFound, Unavailable))]
pub async fn cancel_event(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(event_id): PathId,
) -> ApiResult<Json<EventResponse>> {
    let request = pb::CancelEventRequest { caller: Some(caller.caller()), event_id: event_id.to_string() };
    let event = state.events().cancel_event(request).await?.into_inner();
    Ok(Json(EventResponse::from_proto(event)?))
}

/// Delete a draft (its organizer or an admin). A published event may have bookings, so it is
/// cancelled instead.
#[utoipa::path(delete, path = "/events/{id}", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "`conflict`: the event is not a draft", body = Problem, content_type = "application/problem+json"),
        Unauthorized, Forbidden, NotFound, Unavailable,
    ))]
pub async fn delete_event(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(event_id): PathId,
) -> ApiResult<StatusCode> {
    let request = pb::DeleteEventRequest { caller: Some(caller.caller()), event_id: event_id.to_string() };
    state.events().delete_event(request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Published events, soonest first; with `mine=true`, the caller's own events in every status.
/// A token is optional, but one that is sent must be valid.
#[utoipa::path(get, path = "/events", tag = "events", security((), ("bearer" = [])),
    params(ListEventsQuery),
    responses((status = 200, body = EventPage), ValidationFailed, Unauthorized, Unavailable))]
pub async fn list_events(
    State(state): State<AppState>,
    caller: OptionalAuthUser,
    ApiQuery(query): ApiQuery<ListEventsQuery>,
) -> ApiResult<Json<EventPage>> {
    let page = page_request(query.limit, query.cursor)?;
    let mine = query.mine.unwrap_or(false);
    if mine && caller.0.is_none() {
        return Err(Error::unauthorized("mine=true needs `Authorization: Bearer <access token>`").into());
    }
    let request = pb::ListEventsRequest {
        q: non_empty(query.q),
        city: non_empty(query.city),
        from: non_empty(query.from),
        to: non_empty(query.to),
        page: Some(page),
        caller: caller.caller(),
        mine,
    };
    let page = state.events().list_events(request).await?.into_inner();
    Ok(Json(EventPage::from_proto(page)?))
}

/// An event. Drafts are seen only by their organizer and admins (404 for anyone else). A token
/// is optional, but one that is sent must be valid.
#[utoipa::path(get, path = "/events/{id}", tag = "events", security((), ("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses((status = 200, body = EventResponse), Unauthorized, NotFound, Unavailable))]
pub async fn get_event(
    State(state): State<AppState>,
    caller: OptionalAuthUser,
    PathId(event_id): PathId,
) -> ApiResult<Json<EventResponse>> {
    let request = pb::GetEventRequest { event_id: event_id.to_string(), caller: caller.caller() };
    let event = state.events().get_event(request).await?.into_inner();
    Ok(Json(EventResponse::from_proto(event)?))
}
