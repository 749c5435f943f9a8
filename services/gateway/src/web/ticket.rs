//! One ticket, as its holder shows it at the door: the live QR code of its rotating code (the
//! page's script fetches the image again at each change), its printable code where the event
//! accepts it, and a form to give it to another account.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use boxoffice_errors::Code;
use boxoffice_proto::booking as pb;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::problem::ApiError;
use crate::routes::bookings::dto::TicketResponse;
use crate::routes::events::dto::EventResponse;
use crate::routes::tickets::{held_tickets, transfer, HeldTicketResponse};
use crate::web::checkout::{event_of, seat_text, UNLISTED_EVENT};
use crate::web::page::{render, render_with_status, Chrome, PageError, PageForm, PageId, Viewer, When};
use crate::AppState;

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    chrome: Chrome,
    id: Uuid,
    event_name: String,
    city: String,
    starts_at: When,
    what: String,
    code: String,
    received: bool,
    checked_in_at: Option<When>,
    static_codes: bool,
    /// Milliseconds until the code changes, by the server's clock.
    ms_left: i64,
    rotates_every: u32,
    problem: Option<String>,
}

/// A ticket as people read it: its category, and its seat (`Floor: Floor, row A, seat 12`).
pub(crate) fn ticket_what(event: Option<&EventResponse>, ticket: &TicketResponse) -> String {
    let category = event.and_then(|event| event.category_name(&ticket.category_id)).unwrap_or("Ticket");
    match &ticket.seat {
        Some(seat) => format!("{category}: {}", seat_text(seat)),
        None => category.to_owned(),
    }
}

/// The ticket if `user` holds it.
async fn held(state: &AppState, user: AuthUser, ticket_id: Uuid) -> Result<HeldTicketResponse, PageError> {
    held_tickets(state, user)
        .await?
        .items
        .into_iter()
        .find(|held| held.ticket.id == ticket_id)
        .ok_or_else(PageError::not_found)
}

async fn ticket_page(
    state: &AppState,
    user: AuthUser,
    chrome: Chrome,
    ticket_id: Uuid,
    problem: Option<String>,
) -> Result<TicketPage, PageError> {
    let held = held(state, user, ticket_id).await?;
    let event = event_of(state, user, held.event_id).await?;
    let request = pb::GetTicketCodeRequest { caller: Some(user.caller()), ticket_id: ticket_id.to_string() };
    let code = state.bookings().get_ticket_code(request).await?.into_inner();
    let ms_left = chrono::DateTime::parse_from_rfc3339(&code.next_at)
        .map(|at| (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds().max(0))
        .unwrap_or(0);
    Ok(TicketPage {
        chrome,
        id: ticket_id,
        event_name: event.as_ref().map_or_else(|| UNLISTED_EVENT.to_owned(), |event| event.name.clone()),
        city: event.as_ref().map(|event| event.city.clone()).unwrap_or_default(),
        starts_at: When::parse(event.as_ref().map_or("", |event| event.starts_at.as_str())),
        what: ticket_what(event.as_ref(), &held.ticket),
        code: held.ticket.code,
        received: held.received,
        checked_in_at: held.ticket.checked_in_at.as_deref().map(When::parse),
        static_codes: event.as_ref().is_none_or(|event| event.static_codes),
        ms_left,
        rotates_every: code.rotates_every_seconds,
        problem,
    })
}

/// `GET /tickets/{id}`.
pub async fn ticket(
    State(state): State<AppState>,
    Viewer { user, chrome }: Viewer,
    PageId(ticket_id): PageId,
) -> Result<Response, PageError> {
    Ok(render(&ticket_page(&state, user, chrome, ticket_id, None).await?))
}

/// `GET /tickets/{id}/qr.png`: the live QR code, never stored by the browser.
pub async fn live_qr(
    State(state): State<AppState>,
    Viewer { user, .. }: Viewer,
    PageId(ticket_id): PageId,
) -> Result<Response, PageError> {
    let request = pb::GetTicketQrRequest {
        caller: Some(user.caller()),
        ticket_id: ticket_id.to_string(),
        rotating: true,
    };
    let qr = state.bookings().get_ticket_qr(request).await?.into_inner();
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
        ],
        qr.png,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
pub struct GiveForm {
    pub email: String,
}

/// `POST /tickets/{id}/transfer`: gives the ticket away, then shows its booking (or, for a
/// ticket that was given to the viewer, their tickets).
pub async fn give(
    State(state): State<AppState>,
    Viewer { user, chrome }: Viewer,
    PageId(ticket_id): PageId,
    PageForm(form): PageForm<GiveForm>,
) -> Result<Response, PageError> {
    match transfer(&state, user, ticket_id, form.email).await {
        Ok(given) => {
            // The buyer sees the booking it came from; one who passes on a ticket given to
            // them, their tickets.
            let request = pb::GetBookingRequest {
                caller: Some(user.caller()),
                booking_id: given.booking_id.to_string(),
            };
            let to = match state.bookings().get_booking(request).await {
                Ok(_) => format!("/bookings/{}?done=given", given.booking_id),
                Err(_) => "/bookings?done=given".to_owned(),
            };
            Ok(Redirect::to(&to).into_response())
        }
        Err(ApiError(error))
            if matches!(error.code, Code::ValidationFailed | Code::Conflict | Code::LimitExceeded) =>
        {
            let status = error.http_status();
            let page = ticket_page(&state, user, chrome, ticket_id, Some(error.detail)).await?;
            Ok(render_with_status(status, &page))
        }
        Err(ApiError(error)) => Err(PageError(error)),
    }
}
