//! The door scanner at `/scan/{event}`: a page for a phone that reads ticket QR codes with the
//! camera (`scanner.js`, with the browser's `BarcodeDetector`) or takes the code typed, and
//! answers each scan with a verdict: admitted, already checked in (and when), not valid for this
//! event, not a valid ticket, no longer valid (refunded).
//!
//! For the event's organizer, admins and its door staff. The same form posts here with or without
//! script: the script asks for JSON (`Accept: application/json`) and shows the verdict itself;
//! without it, the page comes back with the verdict on it. The bookings service admits a ticket
//! once, whatever number of doors scan it at the same moment.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use boxoffice_errors::{Code, Error};
use boxoffice_proto::booking as booking_pb;
use boxoffice_proto::event as event_pb;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::routes::door::fetch_door_count;
use crate::web::checkout::seat_text;
use crate::web::page::{render, Chrome, PageError, PageForm, PageId, Viewer};
use crate::AppState;

/// What a scan found, for the scanner's script and the page.
#[derive(Debug, Serialize)]
pub struct Verdict {
    /// `admitted`, `already_checked_in`, `wrong_event`, `invalid` or `not_admissible`.
    pub verdict: &'static str,
    pub title: String,
    pub detail: String,
    /// When the ticket was admitted (now, or the first time).
    pub checked_in_at: Option<String>,
    pub seat: Option<String>,
    pub checked_in: Option<u32>,
    pub tickets: Option<u32>,
}

impl Verdict {
    /// The page's class for it: green, amber or red.
    pub fn class(&self) -> &'static str {
        match self.verdict {
            "admitted" => "admitted",
            "already_checked_in" => "already",
            _ => "refused",
        }
    }
}

#[derive(Template)]
#[template(path = "scan.html")]
struct ScanPage {
    chrome: Chrome,
    event_id: Uuid,
    event_name: String,
    checked_in: u32,
    tickets: u32,
    verdict: Option<Verdict>,
}

#[derive(Debug, Deserialize)]
pub struct ScanForm {
    pub code: String,
}

/// The event's name for its door: the event as its organizer sees it, or (for door staff, who
/// may not see a draft) as the public does.
async fn event_name(state: &AppState, user: AuthUser, event_id: Uuid) -> String {
    let request = event_pb::GetEventRequest { event_id: event_id.to_string(), caller: Some(user.caller()) };
    match state.events().get_event(request).await {
        Ok(event) => event.into_inner().name,
        Err(_) => "this event".to_owned(),
    }
}

/// `GET /scan/{event}`.
pub async fn scanner(
    State(state): State<AppState>,
    Viewer { user, chrome }: Viewer,
    PageId(event_id): PageId,
) -> Result<Response, PageError> {
    // The count is the door's permission check: anyone else is refused here.
    let count = fetch_door_count(&state, user, event_id).await?;
    Ok(render(&ScanPage {
        chrome,
        event_id,
        event_name: event_name(&state, user, event_id).await,
        checked_in: count.checked_in,
        tickets: count.tickets,
        verdict: None,
    }))
}

/// `POST /scan/{event}`: one scan.
pub async fn scan(
    State(state): State<AppState>,
    Viewer { user, chrome }: Viewer,
    PageId(event_id): PageId,
    headers: HeaderMap,
    PageForm(form): PageForm<ScanForm>,
) -> Result<Response, PageError> {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"));
    let verdict = check_in(&state, user, event_id, form.code.trim()).await;
    let verdict = match verdict {
        Ok(verdict) => verdict,
        // Not a verdict on the ticket: the door itself is refused, or a service is away.
        Err(error) if wants_json => return Ok(crate::problem::ApiError(error).into_response()),
        Err(error) => return Err(PageError(error)),
    };
    if wants_json {
        return Ok(Json(verdict).into_response());
    }
    Ok(render(&ScanPage {
        chrome,
        event_id,
        event_name: event_name(&state, user, event_id).await,
        checked_in: verdict.checked_in.unwrap_or(0),
        tickets: verdict.tickets.unwrap_or(0),
        verdict: Some(verdict),
    }))
}

/// The name of a ticket's category, for a standing ticket's verdict ("Standing"); `None` when
/// the event cannot be read (the verdict stands without it).
async fn category_name(
    state: &AppState,
    user: AuthUser,
    event_id: Uuid,
    category_id: &str,
) -> Option<String> {
    let request = event_pb::GetEventRequest { event_id: event_id.to_string(), caller: Some(user.caller()) };
    let event = state.events().get_event(request).await.ok()?.into_inner();
    event.categories.into_iter().find(|category| category.id == category_id).map(|category| category.name)
}

async fn check_in(state: &AppState, user: AuthUser, event_id: Uuid, code: &str) -> Result<Verdict, Error> {
    let request = booking_pb::CheckInRequest {
        caller: Some(user.caller()),
        code: code.to_owned(),
        event_id: Some(event_id.to_string()),
    };
    let outcome = state.bookings().check_in(request).await.map(tonic::Response::into_inner);
    let (verdict, title, detail, checked_in_at, seat) = match outcome {
        Ok(admitted) => {
            let detail = match &admitted.seat {
                Some(seat) => seat_text(seat),
                None => category_name(state, user, event_id, &admitted.category_id)
                    .await
                    .unwrap_or_else(|| "General admission".to_owned()),
            };
            ("admitted", "Admitted", detail, Some(admitted.checked_in_at), admitted.seat)
        }
        Err(status) => {
            let error = Error::from_status(&status);
            match error.code {
                Code::AlreadyCheckedIn => {
                    let at = error.detail.rsplit(' ').next().map(str::to_owned);
                    let detail = "This ticket was already admitted: do not let it in again.".to_owned();
                    ("already_checked_in", "Already checked in", detail, at, None)
                }
                Code::WrongEvent => (
                    "wrong_event",
                    "Not valid for this event",
                    "The ticket is genuine but for another event.".to_owned(),
                    None,
                    None,
                ),
                Code::ValidationFailed => (
                    "invalid",
                    "Not a valid ticket",
                    "The code is forged, altered or unknown.".to_owned(),
                    None,
                    None,
                ),
                Code::Conflict | Code::TicketRefunded => (
                    "not_admissible",
                    "No longer valid",
                    "The ticket's booking was refunded or cancelled.".to_owned(),
                    None,
                    None,
                ),
                Code::TicketTransferred => (
                    "not_admissible",
                    "No longer this person's",
                    "The ticket was given to someone else: this code is its earlier holder's.".to_owned(),
                    None,
                    None,
                ),
                Code::CodeExpired => (
                    "invalid",
                    "Old code: a screenshot?",
                    "This live code is more than 30 seconds old. Ask to see the ticket page itself, open."
                        .to_owned(),
                    None,
                    None,
                ),
                Code::StaticCodeRefused => (
                    "invalid",
                    "Printed code not accepted",
                    "This event admits only the live code on the holder's screen.".to_owned(),
                    None,
                    None,
                ),
                _ => return Err(error),
            }
        }
    };
    let count = fetch_door_count(state, user, event_id).await.ok();
    Ok(Verdict {
        verdict,
        title: title.to_owned(),
        detail,
        checked_in_at,
        seat,
        checked_in: count.as_ref().map(|count| count.checked_in),
        tickets: count.as_ref().map(|count| count.tickets),
    })
}
