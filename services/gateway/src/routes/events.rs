//! `/api/v1/events/*`: events, their ticket categories, and what is left to sell.
//!
//! The events service checks roles, ownership, visibility and every business rule (dates, limits,
//! currencies, venue sections) and names the offending field in its 422s; the gateway only reads
//! the JSON, passes the verified caller along and shapes the answers. What derives from holds and
//! sales (availability, stats, an event's bookings) comes from the bookings service, which owns
//! them and checks visibility and ownership the same way.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use boxoffice_errors::Error;
use boxoffice_proto::common::Caller;
use boxoffice_proto::{booking, event as pb, WireEnum as _};
use boxoffice_types::{BookingStatus, CategoryKind, EventStatus, SeatStatus};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::bookings::{parse_status_filter, BookingPage};
use super::{non_empty, page_request, service_id, PathId};
use crate::auth::{AuthUser, OptionalAuthUser, Organizer};
use crate::problem::{ApiError, ApiJson, ApiQuery, ApiResult, Problem};
use crate::AppState;

// ---- Requests ----

/// A ticket category: general admission with a `capacity`, or seated with the `sections` of the
/// event's venue whose seats it sells. Exactly one of the two is given.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryRequest {
    /// Unique within the event.
    #[schema(example = "Standing")]
    pub name: String,
    /// Minor units of `currency`.
    #[schema(example = 4500, minimum = 0)]
    pub price_cents: i64,
    /// ISO 4217; the same for every category of an event.
    #[schema(example = "EUR")]
    pub currency: String,
    /// General admission: the number of places.
    #[schema(example = 500, minimum = 1)]
    pub capacity: Option<u32>,
    /// Seated: section names of the event's venue. A section belongs to at most one category.
    #[schema(example = json!(["Floor"]))]
    pub sections: Option<Vec<String>>,
}

impl CategoryRequest {
    /// `index` is the category's place in the request, to name it in the error.
    fn into_proto(self, index: usize) -> ApiResult<pb::NewCategory> {
        // One DTO with two optional fields reads better in the API than an untagged enum, whose
        // errors cannot say which field is wrong; the oneof is decided here instead.
        let layout = match (self.capacity, self.sections) {
            (Some(capacity), None) => pb::new_category::Layout::Capacity(capacity),
            (None, Some(sections)) => pb::new_category::Layout::Seated(pb::SeatedSections { sections }),
            _ => {
                return Err(Error::validation(format!(
                    "categories[{index}]: give either capacity (general admission) or sections \
                     (seated)"
                ))
                .into())
            }
        };
        Ok(pb::NewCategory {
            name: self.name,
            price_cents: self.price_cents,
            currency: self.currency,
            layout: Some(layout),
        })
    }
}

fn categories_into_proto(categories: Vec<CategoryRequest>) -> ApiResult<Vec<pb::NewCategory>> {
    categories.into_iter().enumerate().map(|(index, category)| category.into_proto(index)).collect()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEventRequest {
    #[schema(example = "Winter Jazz Night")]
    pub name: String,
    /// Empty when absent.
    #[serde(default)]
    #[schema(example = "Three quartets, one night.")]
    pub description: String,
    /// The venue whose sections seated categories sell; absent for general admission only.
    pub venue_id: Option<Uuid>,
    #[schema(example = "Lyon")]
    pub city: String,
    /// RFC 3339.
    #[schema(example = "2026-12-12T19:00:00Z")]
    pub starts_at: String,
    /// RFC 3339, after `starts_at`.
    #[schema(example = "2026-12-12T23:00:00Z")]
    pub ends_at: String,
    /// RFC 3339, before `starts_at`. Absent: on sale as soon as published.
    #[schema(example = "2026-11-30T09:00:00Z")]
    pub sale_starts_at: Option<String>,
    /// Default 10, at most 50.
    #[schema(example = 10, minimum = 1, maximum = 50)]
    pub max_tickets_per_booking: Option<u32>,
    /// At least one; names unique within the event.
    pub categories: Vec<CategoryRequest>,
}

/// A patch: absent fields stay as they are. `venue_id` and `categories` may change only while
/// the event is a draft.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEventRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `null` removes the venue.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    pub venue_id: Option<Option<Uuid>>,
    pub city: Option<String>,
    /// RFC 3339.
    pub starts_at: Option<String>,
    /// RFC 3339.
    pub ends_at: Option<String>,
    /// RFC 3339; `null` puts the event on sale as soon as it is published.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub sale_starts_at: Option<Option<String>>,
    #[schema(minimum = 1, maximum = 50)]
    pub max_tickets_per_booking: Option<u32>,
    /// Replaces every category; the new ones get new ids.
    pub categories: Option<Vec<CategoryRequest>>,
}

/// Tells a field that is absent (`None`, by `#[serde(default)]`) from one that is `null`
/// (`Some(None)`), which serde's plain `Option` folds together. A patch needs the difference:
/// absent keeps the value, `null` clears it.
fn present<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// How the events service reads a patch of a nullable field: absent keeps it, "" clears it.
fn clearable(value: Option<Option<String>>) -> Option<String> {
    value.map(Option::unwrap_or_default)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListEventsQuery {
    /// Case-insensitive substring of the name or description.
    pub q: Option<String>,
    /// Case-insensitive exact city.
    pub city: Option<String>,
    /// RFC 3339: only events starting at or after this.
    pub from: Option<String>,
    /// RFC 3339: only events starting at or before this.
    pub to: Option<String>,
    /// 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `true`: the caller's own events in every status instead of the published ones (needs a
    /// token).
    pub mine: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventBookingsQuery {
    /// 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only bookings in this status; absent for all.
    #[param(value_type = Option<BookingStatus>)]
    pub status: Option<String>,
}

// ---- Responses ----

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryResponse {
    /// Assigned by the server; new ones whenever the categories are replaced.
    pub id: String,
    #[schema(example = "Standing")]
    pub name: String,
    #[schema(example = 4500)]
    pub price_cents: i64,
    #[schema(example = "EUR")]
    pub currency: String,
    /// For a seated category, the number of seats in its sections.
    #[schema(example = 500)]
    pub capacity: u32,
    pub kind: CategoryKind,
    /// Only for seated categories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sections: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventResponse {
    pub id: Uuid,
    pub organizer_id: Uuid,
    #[schema(example = "Winter Jazz Night")]
    pub name: String,
    pub description: String,
    /// `null` for an event without a venue.
    pub venue_id: Option<Uuid>,
    #[schema(example = "Lyon")]
    pub city: String,
    /// RFC 3339, UTC.
    #[schema(example = "2026-12-12T19:00:00Z")]
    pub starts_at: String,
    /// RFC 3339, UTC.
    pub ends_at: String,
    /// RFC 3339, UTC; `null`: on sale as soon as published.
    pub sale_starts_at: Option<String>,
    pub status: EventStatus,
    #[schema(example = 10)]
    pub max_tickets_per_booking: u32,
    pub categories: Vec<CategoryResponse>,
    /// RFC 3339, UTC.
    pub created_at: String,
}

impl EventResponse {
    pub fn from_proto(event: pb::Event) -> ApiResult<Self> {
        let status = EventStatus::from_wire(event.status)
            .ok_or_else(|| unexpected(format!("event status {}", event.status)))?;
        let categories =
            event.categories.into_iter().map(CategoryResponse::from_proto).collect::<ApiResult<_>>()?;
        Ok(EventResponse {
            id: service_id("events", &event.id)?,
            organizer_id: service_id("events", &event.organizer_id)?,
            name: event.name,
            description: event.description,
            venue_id: event.venue_id.map(|id| service_id("events", &id)).transpose()?,
            city: event.city,
            starts_at: event.starts_at,
            ends_at: event.ends_at,
            sale_starts_at: event.sale_starts_at,
            status,
            max_tickets_per_booking: event.max_tickets_per_booking,
            categories,
            created_at: event.created_at,
        })
    }
}

impl CategoryResponse {
    fn from_proto(category: pb::Category) -> ApiResult<Self> {
        let kind = CategoryKind::from_wire(category.kind)
            .ok_or_else(|| unexpected(format!("category kind {}", category.kind)))?;
        let sections = (kind == CategoryKind::Seated).then_some(category.sections);
        Ok(CategoryResponse {
            id: category.id,
            name: category.name,
            price_cents: category.price_cents,
            currency: category.currency,
            capacity: category.capacity,
            kind,
            sections,
        })
    }
}

fn unexpected(what: String) -> ApiError {
    Error::internal(format!("the events service sent an unknown {what}")).into()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<EventResponse>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// For every category and at every moment, `sold + held + available = capacity`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryAvailability {
    pub id: String,
    pub capacity: u32,
    pub available: u32,
    pub held: u32,
    pub sold: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeatAvailability {
    /// "<section>/<row>/<number>".
    #[schema(example = "Floor/A/12")]
    pub id: String,
    pub category_id: String,
    pub status: SeatStatus,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityResponse {
    pub event_id: Uuid,
    pub categories: Vec<CategoryAvailability>,
    /// Every seat of the seated categories; empty when there are none.
    pub seats: Vec<SeatAvailability>,
}

impl AvailabilityResponse {
    fn from_proto(availability: booking::Availability) -> ApiResult<Self> {
        let categories = availability
            .categories
            .into_iter()
            .map(|category| CategoryAvailability {
                id: category.id,
                capacity: category.capacity,
                available: category.available,
                held: category.held,
                sold: category.sold,
            })
            .collect();
        let seats = availability
            .seats
            .into_iter()
            .map(|seat| {
                let status = SeatStatus::from_wire(seat.status).ok_or_else(|| {
                    Error::internal(format!(
                        "the bookings service sent an unknown seat status {}",
                        seat.status
                    ))
                })?;
                Ok(SeatAvailability { id: seat.id, category_id: seat.category_id, status })
            })
            .collect::<ApiResult<_>>()?;
        Ok(AvailabilityResponse {
            event_id: service_id("bookings", &availability.event_id)?,
            categories,
            seats,
        })
    }
}

/// Totals over all categories; for each, `sold + held + available` is its capacity.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventStatsResponse {
    pub event_id: Uuid,
    pub sold: u64,
    pub held: u64,
    pub available: u64,
    /// Over confirmed bookings; refunded ones no longer count.
    pub revenue_cents: i64,
    /// The currency of every category; `null` for an event without categories.
    #[schema(example = "EUR")]
    pub currency: Option<String>,
    /// Tickets admitted so far.
    pub checked_in: u64,
    /// The same figures per category.
    pub categories: Vec<CategoryStatsResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryStatsResponse {
    pub category_id: String,
    pub sold: u64,
    pub held: u64,
    pub available: u64,
    pub revenue_cents: i64,
    pub checked_in: u64,
}

impl EventStatsResponse {
    fn from_proto(stats: booking::EventStats) -> ApiResult<Self> {
        let categories = stats
            .categories
            .into_iter()
            .map(|category| CategoryStatsResponse {
                category_id: category.category_id,
                sold: category.sold.into(),
                held: category.held.into(),
                available: category.available.into(),
                revenue_cents: category.revenue_cents,
                checked_in: category.checked_in.into(),
            })
            .collect();
        Ok(EventStatsResponse {
            event_id: service_id("bookings", &stats.event_id)?,
            sold: stats.sold.into(),
            held: stats.held.into(),
            available: stats.available.into(),
            revenue_cents: stats.revenue_cents,
            // proto3 has no absent string: an event without categories has no currency.
            currency: non_empty(Some(stats.currency)),
            checked_in: stats.checked_in.into(),
            categories,
        })
    }
}

// ---- Handlers ----

/// Create an event in `draft` (organizers and admins).
#[utoipa::path(post, path = "/api/v1/events", tag = "events", security(("bearer" = [])),
    request_body = CreateEventRequest,
    responses(
        (status = 201, description = "The event, in `draft`", body = EventResponse),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an organizer or admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a field is missing, unknown or invalid; `detail` names it", body = Problem, content_type = "application/problem+json"),
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
    };
    let event = state.events().create_event(request).await?.into_inner();
    Ok((StatusCode::CREATED, Json(EventResponse::from_proto(event)?)))
}

/// Change an event (its organizer or an admin).
#[utoipa::path(patch, path = "/api/v1/events/{id}", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    request_body = UpdateEventRequest,
    responses(
        (status = 200, body = EventResponse),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not the organizer of a published event", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: the event is cancelled, or published and the change touches `venue_id` or `categories`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
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
    };
    let event = state.events().update_event(request).await?.into_inner();
    Ok(Json(EventResponse::from_proto(event)?))
}

/// Publish a draft (its organizer or an admin): visible to anyone, bookable from
/// `sale_starts_at`. Publishing a published event returns it unchanged.
#[utoipa::path(post, path = "/api/v1/events/{id}/publish", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses(
        (status = 200, body = EventResponse),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: the event is another organizer's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: the event is cancelled or over", body = Problem, content_type = "application/problem+json"),
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

/// Cancel an event (its organizer or an admin); its bookings are refunded. Cancelling again
/// repeats the refunds that have not happened yet.
#[utoipa::path(post, path = "/api/v1/events/{id}/cancel", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses(
        (status = 200, body = EventResponse),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not the organizer of a published event", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
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
#[utoipa::path(delete, path = "/api/v1/events/{id}", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not the organizer of a published event", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: the event is not a draft", body = Problem, content_type = "application/problem+json"),
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
#[utoipa::path(get, path = "/api/v1/events", tag = "events", security((), ("bearer" = [])),
    params(ListEventsQuery),
    responses(
        (status = 200, body = EventPage),
        (status = 401, description = "`unauthorized`: `mine=true` without a token, or an invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a parameter is invalid; `detail` names it", body = Problem, content_type = "application/problem+json"),
    ))]
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
    Ok(Json(EventPage {
        items: page.items.into_iter().map(EventResponse::from_proto).collect::<ApiResult<_>>()?,
        next_cursor: page.next_cursor,
    }))
}

/// An event. Drafts are seen only by their organizer and admins (404 for anyone else).
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events", security((), ("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses(
        (status = 200, body = EventResponse),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_event(
    State(state): State<AppState>,
    caller: OptionalAuthUser,
    PathId(event_id): PathId,
) -> ApiResult<Json<EventResponse>> {
    let event = fetch_event(&state, event_id, caller.caller()).await?;
    Ok(Json(EventResponse::from_proto(event)?))
}

/// What is left to sell, per category and per seat.
#[utoipa::path(get, path = "/api/v1/events/{id}/availability", tag = "events", security((), ("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses(
        (status = 200, body = AvailabilityResponse),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn availability(
    State(state): State<AppState>,
    caller: OptionalAuthUser,
    PathId(event_id): PathId,
) -> ApiResult<Json<AvailabilityResponse>> {
    // The bookings service asks the events service whether this caller may see the event (a
    // draft only for its owner and admins), so no second call is needed here.
    let request = booking::GetAvailabilityRequest { event_id: event_id.to_string(), caller: caller.caller() };
    let availability = state.bookings().get_availability(request).await?.into_inner();
    Ok(Json(AvailabilityResponse::from_proto(availability)?))
}

/// Sales figures of an event (its organizer or an admin).
#[utoipa::path(get, path = "/api/v1/events/{id}/stats", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses(
        (status = 200, body = EventStatsResponse),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not the event's organizer or an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn stats(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(event_id): PathId,
) -> ApiResult<Json<EventStatsResponse>> {
    let request =
        booking::GetEventStatsRequest { caller: Some(caller.caller()), event_id: event_id.to_string() };
    let stats = state.bookings().get_event_stats(request).await?.into_inner();
    Ok(Json(EventStatsResponse::from_proto(stats)?))
}

/// The bookings of an event, newest first (its organizer or an admin).
#[utoipa::path(get, path = "/api/v1/events/{id}/bookings", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id"), EventBookingsQuery),
    responses(
        (status = 200, body = BookingPage),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not the event's organizer or an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a parameter is invalid; `detail` names it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn event_bookings(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(event_id): PathId,
    ApiQuery(query): ApiQuery<EventBookingsQuery>,
) -> ApiResult<Json<BookingPage>> {
    let request = booking::ListEventBookingsRequest {
        caller: Some(caller.caller()),
        event_id: event_id.to_string(),
        page: Some(page_request(query.limit, query.cursor)?),
        status: parse_status_filter(query.status)?.map(BookingStatus::to_wire),
    };
    let page = state.bookings().list_event_bookings(request).await?.into_inner();
    Ok(Json(BookingPage::from_proto(page)?))
}

async fn fetch_event(state: &AppState, event_id: Uuid, caller: Option<Caller>) -> ApiResult<pb::Event> {
    let request = pb::GetEventRequest { event_id: event_id.to_string(), caller };
    Ok(state.events().get_event(request).await?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(json: &str) -> UpdateEventRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_patch_tells_an_absent_field_from_a_null_one() {
        let venue_id = Uuid::now_v7();
        let absent = patch("{}");
        assert_eq!(clearable(absent.sale_starts_at), None);
        assert_eq!(absent.venue_id, None);
        let cleared = patch(r#"{"venue_id": null, "sale_starts_at": null}"#);
        assert_eq!(cleared.venue_id, Some(None));
        assert_eq!(clearable(cleared.sale_starts_at), Some(String::new()));
        let set =
            patch(&format!(r#"{{"venue_id": "{venue_id}", "sale_starts_at": "2026-12-01T00:00:00Z"}}"#));
        assert_eq!(set.venue_id, Some(Some(venue_id)));
        assert_eq!(clearable(set.sale_starts_at).as_deref(), Some("2026-12-01T00:00:00Z"));
        assert!(serde_json::from_str::<UpdateEventRequest>(r#"{"status": "published"}"#).is_err());
    }

    #[test]
    fn a_category_has_either_a_capacity_or_sections() {
        let category = |json: &str| serde_json::from_str::<CategoryRequest>(json).unwrap();
        let general = category(r#"{"name": "A", "price_cents": 1, "currency": "EUR", "capacity": 5}"#);
        assert_eq!(general.into_proto(0).unwrap().layout, Some(pb::new_category::Layout::Capacity(5)));
        let seated = category(r#"{"name": "A", "price_cents": 1, "currency": "EUR", "sections": ["Floor"]}"#);
        assert!(matches!(seated.into_proto(0).unwrap().layout, Some(pb::new_category::Layout::Seated(_))));
        for json in [
            r#"{"name": "A", "price_cents": 1, "currency": "EUR"}"#,
            r#"{"name": "A", "price_cents": 1, "currency": "EUR", "capacity": 5, "sections": []}"#,
        ] {
            let ApiError(error) = category(json).into_proto(2).unwrap_err();
            assert_eq!(error.code, boxoffice_errors::Code::ValidationFailed);
            assert!(error.detail.starts_with("categories[2]: "), "{}", error.detail);
        }
    }

    #[test]
    fn availability_and_stats_keep_their_shape() {
        let event_id = Uuid::now_v7();
        let availability = booking::Availability {
            event_id: event_id.to_string(),
            categories: vec![booking::CategoryAvailability {
                id: "floor".to_owned(),
                available: 1,
                held: 1,
                sold: 0,
                capacity: 2,
            }],
            seats: vec![
                booking::SeatAvailability {
                    id: "Floor/A/1".to_owned(),
                    category_id: "floor".to_owned(),
                    status: booking::SeatStatus::Held.into(),
                },
                booking::SeatAvailability {
                    id: "Floor/A/2".to_owned(),
                    category_id: "floor".to_owned(),
                    status: booking::SeatStatus::Available.into(),
                },
            ],
        };
        let json = serde_json::to_value(AvailabilityResponse::from_proto(availability).unwrap()).unwrap();
        assert_eq!(json["event_id"], event_id.to_string());
        assert_eq!(json["categories"][0]["capacity"], 2);
        assert_eq!(json["seats"][0]["status"], "held");
        assert_eq!(json["seats"][1]["status"], "available");

        let stats = booking::EventStats { event_id: event_id.to_string(), ..Default::default() };
        let json = serde_json::to_value(EventStatsResponse::from_proto(stats).unwrap()).unwrap();
        assert!(json["currency"].is_null());
        assert_eq!(json["categories"], serde_json::json!([]));
    }
}
