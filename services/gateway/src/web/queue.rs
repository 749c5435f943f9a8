//! The waiting room's page (`/events/{id}/queue`): joining it with a form, and one's place,
//! kept current by `queue.js` from the API (`routes/queue.rs`, whose answer it shows).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use boxoffice_proto::event as event_pb;
use uuid::Uuid;

use crate::routes::queue::{answer, QueuePlace};
use crate::web::page::{render, Chrome, PageError, PageId, Viewer};
use crate::AppState;

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    chrome: Chrome,
    event_id: Uuid,
    event_name: String,
    state_text: &'static str,
    position: Option<u64>,
    ahead: Option<u64>,
    wait_text: String,
    admissions_per_minute: u32,
    likely_sold_out: bool,
    admitted: bool,
}

fn state_text(state: &str) -> &'static str {
    match state {
        "drawing" => "You are in. Places are drawn at random when the sale starts.",
        "waiting" => "You are in the queue.",
        "admitted" => "It is your turn: choose your tickets now.",
        "expired" => "Your turn ran out. Join the queue again from the event's page.",
        "completed" => "Your booking is done. To buy more, join the queue again from the event's page.",
        _ => "You are not in the queue.",
    }
}

fn wait_text(seconds: Option<u64>) -> String {
    match seconds {
        None => "—".to_owned(),
        Some(seconds) if seconds < 60 => "under a minute".to_owned(),
        Some(seconds) => format!("about {} min", seconds.div_ceil(60)),
    }
}

async fn place(
    state: &AppState,
    user: crate::auth::AuthUser,
    event_id: Uuid,
    join: bool,
) -> Result<QueuePlace, PageError> {
    let room = state.rooms().info(state, event_id).await?.ok_or_else(PageError::not_found)?;
    let place = crate::waiting_room::visit(state, &room, user, join).await?;
    Ok(answer(&room, place))
}

/// `GET /events/{id}/queue`.
pub async fn queue_page(
    State(state): State<AppState>,
    Viewer { user, chrome }: Viewer,
    PageId(event_id): PageId,
) -> Result<Response, PageError> {
    let place = place(&state, user, event_id, false).await?;
    let request = event_pb::GetEventRequest { event_id: event_id.to_string(), caller: Some(user.caller()) };
    let event_name = state.events().get_event(request).await?.into_inner().name;
    Ok(render(&QueuePage {
        chrome,
        event_id,
        event_name,
        state_text: state_text(place.state),
        position: place.position,
        ahead: place.ahead,
        wait_text: wait_text(place.estimated_wait_seconds),
        admissions_per_minute: place.admissions_per_minute,
        likely_sold_out: place.likely_sold_out,
        admitted: place.state == "admitted",
    }))
}

/// `POST /events/{id}/queue`: joins (again: the place is kept), then shows the place.
pub async fn join(
    State(state): State<AppState>,
    Viewer { user, .. }: Viewer,
    PageId(event_id): PageId,
) -> Result<Response, PageError> {
    place(&state, user, event_id, true).await?;
    Ok(Redirect::to(&format!("/events/{event_id}/queue")).into_response())
}
