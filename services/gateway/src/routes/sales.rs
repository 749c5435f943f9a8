//! Sales of an event: what is left to sell (availability, public), and what was sold (stats and
//! the event's bookings, for its organizer and admins).
//!
//! These figures derive from holds and sales, so the bookings service owns them and answers for
//! them; it asks the events service whether the caller may see the event (a draft only for its
//! owner and admins) and checks ownership the same way, so no second call is needed here.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use boxoffice_errors::Error;
use boxoffice_proto::booking;
use boxoffice_proto::WireEnum as _;
use boxoffice_types::{BookingStatus, SeatStatus};
use serde::{Deserialize, Serialize};
use utoipa::openapi::{Ref, Schema};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use super::bookings::dto::{parse_status_filter, BookingPage};
use super::{non_empty, page_request, service_id, PathId};
use crate::auth::{AuthUser, OptionalAuthUser};
use crate::openapi::fields;
use crate::openapi::responses::{Forbidden, NotFound, Unauthorized, Unavailable, ValidationFailed};
use crate::problem::{ApiQuery, ApiResult};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events/{id}/availability", get(availability))
        .route("/events/{id}/availability/stream", get(availability_stream))
        .route("/events/{id}/stats", get(stats))
        .route("/events/{id}/stats/stream", get(stats_stream))
        .route("/events/{id}/bookings", get(event_bookings))
}

#[derive(OpenApi)]
#[openapi(paths(availability, availability_stream, stats, stats_stream, event_bookings))]
pub struct Doc;

// ---- Requests ----

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventBookingsQuery {
    /// 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only bookings in this status; absent or empty for all.
    #[param(schema_with = status_filter)]
    pub status: Option<String>,
}

fn status_filter() -> Schema {
    fields::or_empty(Ref::from_schema_name(BookingStatus::name()))
}

// ---- Responses ----

/// For every category and at every moment, `sold + held + available = capacity`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct CategoryAvailability {
    pub id: String,
    pub capacity: u32,
    pub available: u32,
    pub held: u32,
    pub sold: u32,
}

impl CategoryAvailability {
    pub fn from_proto(category: booking::CategoryAvailability) -> Self {
        CategoryAvailability {
            id: category.id,
            capacity: category.capacity,
            available: category.available,
            held: category.held,
            sold: category.sold,
        }
    }
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
        let categories = availability.categories.into_iter().map(CategoryAvailability::from_proto).collect();
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
    /// Buyers on the waiting lists, not yet offered anything.
    pub waiting: u64,
    /// The same figures per category.
    pub categories: Vec<CategoryStatsResponse>,
    pub activity: ActivityResponse,
}

/// Bookings made (holds) and confirmed (sales) per bucket of time, oldest first, over the last
/// half hour.
#[derive(Debug, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct ActivityResponse {
    #[schema(example = 60)]
    pub bucket_seconds: u32,
    /// RFC 3339, UTC: the end of the last bucket.
    #[schema(example = "2026-12-12T18:43:00.000Z")]
    pub until: String,
    pub holds: Vec<u32>,
    pub sales: Vec<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryStatsResponse {
    pub category_id: String,
    pub sold: u64,
    pub held: u64,
    pub available: u64,
    pub revenue_cents: i64,
    pub checked_in: u64,
    /// Buyers on the category's waiting list, not yet offered anything.
    pub waiting: u64,
}

impl EventStatsResponse {
    pub fn from_proto(stats: booking::EventStats) -> ApiResult<Self> {
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
                waiting: category.waiting.into(),
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
            waiting: stats.waiting.into(),
            categories,
            activity: stats
                .activity
                .map(|activity| ActivityResponse {
                    bucket_seconds: activity.bucket_seconds,
                    until: activity.until,
                    holds: activity.holds,
                    sales: activity.sales,
                })
                .unwrap_or_default(),
        })
    }
}

// ---- Handlers ----

/// What is left to sell, per category and per seat. A token is optional, but one that is sent
/// must be valid; with one, the organizer of a draft sees it too.
#[utoipa::path(get, path = "/events/{id}/availability", tag = "events", security((), ("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses((status = 200, body = AvailabilityResponse), Unauthorized, NotFound, Unavailable))]
pub async fn availability(
    State(state): State<AppState>,
    caller: OptionalAuthUser,
    PathId(event_id): PathId,
) -> ApiResult<Json<AvailabilityResponse>> {
    let request = booking::GetAvailabilityRequest { event_id: event_id.to_string(), caller: caller.caller() };
    let availability = state.bookings().get_availability(request).await?.into_inner();
    Ok(Json(AvailabilityResponse::from_proto(availability)?))
}

/// One event of the availability stream, for the OpenAPI document (each event of a
/// `text/event-stream` is described by this schema).
pub struct AvailabilityEvent;

impl utoipa::PartialSchema for AvailabilityEvent {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let event = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["snapshot", "changes", "closed"]))
            .description(Some(
                "`snapshot` first (and again after falling behind), then `changes`; `closed` (data \
                 `{\"reason\": ...}`) when the event goes off sale, and the stream ends",
            ));
        let data = ObjectBuilder::new().schema_type(Type::String).content_media_type("application/json").description(Some(
            "JSON. A snapshot: `{\"version\": 1, \"categories\": [{\"id\", \"capacity\", \"available\", \"held\", \"sold\"}], \"seats\": \"ahax\"}` with one character per seat of the venue's `seats` list (`a` available, `h` held, `s` sold, `x` not on sale). A change: the same `version` (one more than the last) and `categories`, and `seats` as `[[index, status], ...]` for the seats that changed.",
        ));
        ObjectBuilder::new()
            .property("event", event)
            .property("data", data)
            .required("event")
            .required("data")
            .into()
    }
}

impl utoipa::ToSchema for AvailabilityEvent {}

/// What is left to sell, pushed as it changes (Server-Sent Events), for pages that stay open: a
/// `snapshot` event first, then `changes` events. Seats are numbered by their place in the
/// venue's `seats` list: a snapshot's `seats` has one character per seat (`a` available, `h`
/// held, `s` sold, `x` not on sale) and a change lists `[index, status]` pairs; both carry every
/// category's counts and a `version` that grows with each change. A stream that falls behind is
/// sent a new snapshot; a stream whose event goes off sale (cancelled) gets a `closed` event and
/// ends. Published events only. The gateway reads each watched event once for
/// all its streams, four times a second.
#[utoipa::path(get, path = "/events/{id}/availability/stream", tag = "events",
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses(
        (status = 200, description = "An endless `text/event-stream` of `snapshot` and `changes` events", body = AvailabilityEvent, content_type = "text/event-stream"),
        NotFound, Unavailable,
    ))]
pub async fn availability_stream(
    State(state): State<AppState>,
    PathId(event_id): PathId,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse as _;
    Ok(state.live().stream(&state, event_id).await?.into_response())
}

/// Sales figures of an event (its organizer or an admin).
#[utoipa::path(get, path = "/events/{id}/stats", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses((status = 200, body = EventStatsResponse), Unauthorized, Forbidden, NotFound, Unavailable))]
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

/// How often a stats stream reads the figures.
const STATS_STREAM_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
/// A stats stream ends at the latest when the access token that opened it would have expired;
/// the browser's `EventSource` reconnects at once, authenticating again (a lost role ends
/// there). A revoked session ends it at the next reading.
const STATS_STREAM_LIFETIME: std::time::Duration =
    std::time::Duration::from_secs(boxoffice_auth::ACCESS_TOKEN_TTL_S.unsigned_abs());

/// The sales figures of an event pushed as they change (Server-Sent Events; its organizer or an
/// admin), for a dashboard: each `stats` event's data is the JSON of `GET /events/{id}/stats`,
/// sent first at once and then whenever it changes (read once a second). The stream ends after
/// 15 minutes (the life of an access token), or when the session is revoked; `EventSource`
/// reconnects by itself.
#[utoipa::path(get, path = "/events/{id}/stats/stream", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses(
        (status = 200, description = "A `text/event-stream` of `stats` events whose data is an `EventStatsResponse`", body = EventStatsResponse, content_type = "text/event-stream"),
        Unauthorized, Forbidden, NotFound, Unavailable,
    ))]
pub async fn stats_stream(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(event_id): PathId,
) -> ApiResult<axum::response::Response> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use axum::response::IntoResponse as _;

    let read = {
        let state = state.clone();
        move || {
            let state = state.clone();
            async move {
                // A session ended while the stream is open ends the stream at the next reading.
                let revoked = state
                    .revocations()
                    .is_revoked(caller.session_id)
                    .await
                    .map_err(|error| Error::unavailable(format!("{error:#}")))?;
                if revoked {
                    return Err(Error::unauthorized("the session has ended").into());
                }
                let request = booking::GetEventStatsRequest {
                    caller: Some(caller.caller()),
                    event_id: event_id.to_string(),
                };
                let stats = state.bookings().get_event_stats(request).await?.into_inner();
                let json = serde_json::to_string(&EventStatsResponse::from_proto(stats)?)
                    .map_err(Error::internal)?;
                ApiResult::Ok(json)
            }
        }
    };
    // The first reading answers for the request: a caller who may not see the figures gets
    // the error, not an empty stream.
    let first = read().await?;
    let ends = tokio::time::Instant::now() + STATS_STREAM_LIFETIME;
    let stream = futures::stream::unfold((Some(first), String::new()), move |(pending, mut sent)| {
        let read = read.clone();
        async move {
            let mut pending = pending;
            loop {
                if let Some(json) = pending.take() {
                    if json != sent {
                        sent.clone_from(&json);
                        let event = Event::default().event("stats").data(json);
                        return Some((Ok::<_, std::convert::Infallible>(event), (None, sent)));
                    }
                }
                if tokio::time::Instant::now() + STATS_STREAM_INTERVAL > ends {
                    return None;
                }
                tokio::time::sleep(STATS_STREAM_INTERVAL).await;
                match read().await {
                    Ok(json) => pending = Some(json),
                    // A failing service: try again at the next tick; a refusal ends the stream.
                    Err(error) if error.0.code == boxoffice_errors::Code::Unavailable => {}
                    Err(_) => return None,
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// The bookings of an event, newest first (its organizer or an admin).
#[utoipa::path(get, path = "/events/{id}/bookings", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id"), EventBookingsQuery),
    responses(
        (status = 200, body = BookingPage),
        ValidationFailed, Unauthorized, Forbidden, NotFound, Unavailable,
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

#[cfg(test)]
mod tests {
    use super::*;

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
