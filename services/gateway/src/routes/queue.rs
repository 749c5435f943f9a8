//! `/api/v1/events/{id}/queue`: an event's virtual waiting room, for buyers: join it, see one's
//! place, get the admission pass (see `crate::waiting_room`).

use axum::extract::State;
use axum::routing::get;
use axum::{middleware, Json, Router};
use boxoffice_errors::{Code, Error};
use boxoffice_kv::Standing;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::PathId;
use crate::auth::AuthUser;
use crate::openapi::responses::{BadBody, NotFound, RateLimited, Unauthorized, Unavailable};
use crate::problem::{ApiOptionalJson, ApiResult, Problem};
use crate::rate_limit::limit_queue_joins;
use crate::waiting_room::{self, RoomInfo};
use crate::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    let join = Router::new()
        .route("/events/{id}/queue", axum::routing::post(join_queue))
        .route_layer(middleware::from_fn_with_state(state.clone(), limit_queue_joins));
    Router::new().merge(join).route("/events/{id}/queue", get(queue_place))
}

#[derive(OpenApi)]
#[openapi(paths(join_queue, queue_place))]
pub struct Doc;

/// Where a buyer stands in an event's waiting room.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuePlace {
    pub event_id: Uuid,
    /// `not_queued`; `drawing` (joined before the sale starts: the place is drawn at the start,
    /// so arriving early gives no advantage); `waiting`; `admitted` (hold tickets with `pass`
    /// until `admitted_until`); `expired` (the admission ran out); `completed` (a booking was
    /// paid).
    #[schema(example = "waiting")]
    pub state: &'static str,
    /// 1 for the next to be let in; while `waiting`.
    pub position: Option<u64>,
    /// People to be let in first; while `waiting`.
    pub ahead: Option<u64>,
    /// At the rate admissions were measured at (the configured one until measured); while
    /// `waiting`.
    pub estimated_wait_seconds: Option<u64>,
    /// The people ahead could buy every unit left: the event will likely sell out first.
    pub likely_sold_out: bool,
    /// RFC 3339, UTC; while `admitted`.
    pub admitted_until: Option<String>,
    /// The admission pass: send it as `X-Queue-Pass` to hold tickets; while `admitted`.
    pub pass: Option<String>,
    /// RFC 3339, UTC: from when one may join.
    pub opens_at: String,
    /// RFC 3339, UTC: when admissions start.
    pub starts_at: String,
    pub admissions_per_minute: u32,
    /// People in the queue, let in or not.
    pub queued: u64,
    /// People let in so far.
    pub let_in: u64,
    /// Leading zero bits of the proof of work a join needs; 0: none.
    pub proof_of_work_bits: u32,
    /// While `not_queued` in a room that asks a proof of work: find a `nonce` such that SHA-256
    /// of `<challenge>:<nonce>` starts with `proof_of_work_bits` zero bits, and join with both
    /// (valid 10 minutes, for this account and event only).
    pub challenge: Option<String>,
}

/// A join's proof of work, when the room asks one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinQueueRequest {
    /// The `challenge` of `GET /events/{id}/queue`; with `nonce`.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub challenge: Option<String>,
    /// Any text of up to 64 characters that solves it.
    #[serde(default)]
    #[schema(example = "183734", max_length = 64)]
    pub nonce: Option<String>,
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn answer(room: &RoomInfo, place: waiting_room::Place) -> QueuePlace {
    let (state, ahead, admitted_until) = match place.standing {
        Standing::NotQueued => ("not_queued", None, None),
        Standing::Drawing => ("drawing", None, None),
        Standing::Waiting { ahead } => ("waiting", Some(ahead), None),
        Standing::Admitted { until_ms } => {
            let until = DateTime::from_timestamp_millis(i64::try_from(until_ms).unwrap_or(i64::MAX));
            ("admitted", None, until.map(time))
        }
        Standing::Expired => ("expired", None, None),
        Standing::Completed => ("completed", None, None),
    };
    let rate = place
        .visited
        .measured_per_minute
        .filter(|rate| *rate > 0.0)
        .unwrap_or(f64::from(room.admissions_per_minute));
    // Everyone ahead, or everyone in the queue before the draw, buying their most.
    let before = ahead.unwrap_or(if state == "drawing" { place.visited.queued } else { 0 });
    QueuePlace {
        event_id: room.event_id,
        state,
        position: ahead.map(|ahead| ahead + 1),
        ahead,
        estimated_wait_seconds: ahead.map(|ahead| (ahead as f64 * 60.0 / rate).ceil() as u64),
        likely_sold_out: matches!(state, "waiting" | "drawing")
            && before.saturating_mul(u64::from(room.max_tickets_per_booking)) >= room.available,
        admitted_until,
        pass: place.pass,
        opens_at: time(room.opens_at),
        starts_at: time(room.starts_at),
        admissions_per_minute: room.admissions_per_minute,
        queued: place.visited.queued,
        let_in: place.visited.served,
        proof_of_work_bits: room.proof_of_work_bits,
        challenge: None,
    }
}

async fn room(state: &AppState, event_id: Uuid) -> ApiResult<std::sync::Arc<RoomInfo>> {
    state
        .rooms()
        .info(state, event_id)
        .await?
        .ok_or_else(|| Error::new(Code::NotFound, "this event has no waiting room").into())
}

/// Join an event's waiting room (one place per account; joining again changes nothing) and see
/// one's place. Before the sale starts, places are drawn at random at the start; later joiners
/// queue in arrival order. A room may ask a proof of work (see `challenge`); the body carries it,
/// and may be left out otherwise. At most 30 joins a minute per client address.
#[utoipa::path(post, path = "/events/{id}/queue", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    request_body(content = Option<JoinQueueRequest>, description = "The proof of work, when the room asks one; otherwise no body, `null` or `{}`"),
    responses(
        (status = 200, body = QueuePlace),
        (status = 409, description = "`conflict`: the waiting room is not open yet, or the event is over", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: the room asks a proof of work and `challenge` or `nonce` is missing, not this account's, too old or wrong; or a field is unknown", body = Problem, content_type = "application/problem+json"),
        BadBody, Unauthorized, NotFound, RateLimited, Unavailable,
    ))]
pub async fn join_queue(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(event_id): PathId,
    ApiOptionalJson(body): ApiOptionalJson<JoinQueueRequest>,
) -> ApiResult<Json<QueuePlace>> {
    let room = room(&state, event_id).await?;
    let work = match body.map(|body| (body.challenge, body.nonce)) {
        Some((Some(challenge), Some(nonce))) => Some(waiting_room::Work { challenge, nonce }),
        Some((Some(_), None)) => return Err(Error::validation("nonce: give it with the challenge").into()),
        Some((None, Some(_))) => return Err(Error::validation("challenge: give it with the nonce").into()),
        _ => None,
    };
    let place = waiting_room::visit_with(&state, &room, caller, true, work.as_ref()).await?;
    Ok(Json(answer(&room, place)))
}

/// One's place in an event's waiting room, admissions taken into account (poll it every few
/// seconds: no database is read). Once `admitted`, it carries the pass.
#[utoipa::path(get, path = "/events/{id}/queue", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses(
        (status = 200, body = QueuePlace),
        (status = 409, description = "`conflict`: the event is over", body = Problem, content_type = "application/problem+json"),
        Unauthorized, NotFound, Unavailable,
    ))]
pub async fn queue_place(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(event_id): PathId,
) -> ApiResult<Json<QueuePlace>> {
    let room = room(&state, event_id).await?;
    let place = waiting_room::visit(&state, &room, caller, false).await?;
    let mut answer = answer(&room, place);
    if answer.state == "not_queued" && room.proof_of_work_bits > 0 {
        answer.challenge = Some(waiting_room::challenge(&state, &room, caller));
    }
    Ok(Json(answer))
}
