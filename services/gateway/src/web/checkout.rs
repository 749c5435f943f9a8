//! After the hold: the booking's page (the hold's countdown and the payment form while it is
//! pending, the tickets with their QR codes once paid), paying, cancelling with a confirmation
//! step, and the list of the buyer's bookings. Another buyer's booking is a 404, as in the API.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use boxoffice_errors::{Code, Error};
use boxoffice_proto::booking as pb;
use boxoffice_proto::common::PageRequest;
use boxoffice_proto::event as event_pb;
use boxoffice_types::limits::PageSize;
use boxoffice_types::BookingStatus;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::routes::bookings::dto::BookingResponse;
use crate::routes::events::dto::EventResponse;
use crate::routes::non_empty;
use crate::routes::tickets::held_tickets;
use crate::web::page::{
    money, render, render_with_status, Chrome, ConfirmPage, Notice, PageError, PageForm, PageId, PageQuery,
    Viewer, When,
};
use crate::web::ticket::ticket_what;
use crate::web::waiting_list::{entry_cards, EntryCard};
use crate::AppState;

/// Bookings on one page of "My tickets".
const BOOKINGS_PER_PAGE: u32 = 20;

fn status_text(status: BookingStatus) -> &'static str {
    match status {
        BookingStatus::Pending => "held, waiting for payment",
        BookingStatus::Confirmed => "paid",
        BookingStatus::Cancelled => "cancelled",
        BookingStatus::Expired => "expired",
        BookingStatus::Refunded => "refunded",
    }
}

struct Line {
    what: String,
    price: String,
}

struct TicketView {
    id: Uuid,
    what: String,
    code: String,
    checked_in_at: Option<When>,
    /// Given to another account: theirs now.
    transferred: bool,
}

#[derive(Template)]
#[template(path = "booking.html")]
struct BookingPage {
    chrome: Chrome,
    id: Uuid,
    event_id: Uuid,
    event_name: String,
    city: String,
    starts_at: When,
    status: &'static str,
    status_text: &'static str,
    pending: bool,
    confirmed: bool,
    expired: bool,
    refunded: bool,
    expires_at: When,
    /// The hold's time left by the server's clock, which the countdown counts from (a device's
    /// clock may be wrong).
    seconds_left: i64,
    lines: Vec<Line>,
    total: String,
    tickets: Vec<TicketView>,
    /// The door takes the static (printed) codes too.
    static_codes: bool,
    /// A ticket was given to someone else: the booking is no longer refunded on request.
    given_away: bool,
    problem: Option<String>,
    done: Option<String>,
}

/// A seat id's parts: `Floor/A/12` is section `Floor`, row `A`, number `12`.
fn seat_parts(seat: &str) -> Option<(&str, &str, &str)> {
    let mut parts = seat.splitn(3, '/');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

/// Seats in the order people expect: by section and row, then by number (9 before 10).
fn seat_order(seat: &str) -> (&str, &str, u32) {
    let (section, row, number) = seat_parts(seat).unwrap_or((seat, "", ""));
    (section, row, number.parse().unwrap_or(0))
}

/// A seat as people read it: `Floor, row A, seat 12`.
pub(crate) fn seat_text(seat: &str) -> String {
    match seat_parts(seat) {
        Some((section, row, number)) => format!("{section}, row {row}, seat {number}"),
        None => seat.to_owned(),
    }
}

async fn load(
    state: &AppState,
    user: AuthUser,
    booking_id: Uuid,
) -> Result<(BookingResponse, Option<EventResponse>), PageError> {
    let request = pb::GetBookingRequest { caller: Some(user.caller()), booking_id: booking_id.to_string() };
    let booking = BookingResponse::from_proto(state.bookings().get_booking(request).await?.into_inner())?;
    let event = event_of(state, user, booking.event_id).await?;
    Ok((booking, event))
}

/// The event of a buyer's booking; `None` when its buyer may no longer see it (a cancelled
/// event is its organizer's only), so that the booking still shows.
pub(crate) async fn event_of(
    state: &AppState,
    user: AuthUser,
    event_id: Uuid,
) -> Result<Option<EventResponse>, PageError> {
    let request = event_pb::GetEventRequest { event_id: event_id.to_string(), caller: Some(user.caller()) };
    match state.events().get_event(request).await {
        Ok(event) => Ok(Some(EventResponse::from_proto(event.into_inner())?)),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
        Err(status) => Err(status.into()),
    }
}

/// What a booking says of an event its buyer can no longer see.
pub(crate) const UNLISTED_EVENT: &str = "An event no longer listed (cancelled)";

fn booking_page(
    chrome: Chrome,
    booking: BookingResponse,
    event: Option<EventResponse>,
    problem: Option<String>,
    done: Option<String>,
) -> BookingPage {
    let names: HashMap<&str, &str> = event
        .iter()
        .flat_map(|event| &event.categories)
        .map(|category| (category.id.as_str(), category.name.as_str()))
        .collect();
    let category = |id: &str| names.get(id).copied().unwrap_or("Ticket").to_owned();
    let mut lines = Vec::new();
    for item in &booking.items {
        let price = money(item.unit_price_cents * i64::from(item.quantity), &booking.currency);
        let each = money(item.unit_price_cents, &booking.currency);
        lines.push(Line {
            what: format!("{} × {} at {each}", item.quantity, category(&item.category_id)),
            price,
        });
    }
    for seat in &booking.seats {
        lines.push(Line { what: seat_text(seat), price: String::new() });
    }
    let mut tickets: Vec<&_> = booking.tickets.iter().collect();
    tickets.sort_by(|a, b| a.seat.as_deref().map(seat_order).cmp(&b.seat.as_deref().map(seat_order)));
    let tickets = tickets
        .into_iter()
        .map(|ticket| TicketView {
            id: ticket.id,
            what: match &ticket.seat {
                Some(seat) => format!("{}: {}", category(&ticket.category_id), seat_text(seat)),
                None => category(&ticket.category_id),
            },
            code: ticket.code.clone(),
            checked_in_at: ticket.checked_in_at.as_deref().map(When::parse),
            transferred: ticket.transferred,
        })
        .collect();
    BookingPage {
        chrome,
        id: booking.id,
        event_id: booking.event_id,
        event_name: event.as_ref().map_or_else(|| UNLISTED_EVENT.to_owned(), |event| event.name.clone()),
        city: event.as_ref().map(|event| event.city.clone()).unwrap_or_default(),
        starts_at: When::parse(event.as_ref().map_or("", |event| event.starts_at.as_str())),
        seconds_left: chrono::DateTime::parse_from_rfc3339(&booking.expires_at)
            .map(|at| (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds().max(0))
            .unwrap_or(0),
        status: booking.status.as_str(),
        status_text: status_text(booking.status),
        pending: booking.status == BookingStatus::Pending,
        confirmed: booking.status == BookingStatus::Confirmed,
        expired: booking.status == BookingStatus::Expired,
        refunded: booking.status == BookingStatus::Refunded,
        expires_at: When::parse(&booking.expires_at),
        lines,
        total: money(booking.total_cents, &booking.currency),
        tickets,
        static_codes: event.as_ref().is_none_or(|event| event.static_codes),
        given_away: booking.tickets.iter().any(|ticket| ticket.transferred),
        problem,
        done,
    }
}

/// `GET /bookings/{id}`.
pub async fn booking(
    State(state): State<AppState>,
    Viewer { user, chrome }: Viewer,
    PageId(booking_id): PageId,
    PageQuery(notice): PageQuery<Notice>,
) -> Result<Response, PageError> {
    let (booking, event) = load(&state, user, booking_id).await?;
    let done = match notice.done.as_deref() {
        Some("paid") => Some("Paid: here are your tickets. They are also on their way by email.".to_owned()),
        Some("cancelled") => Some("Done: the tickets went back on sale.".to_owned()),
        Some("refunded") => Some("Refunded: the money goes back the way it came.".to_owned()),
        Some("given") => {
            Some("Done: the ticket is theirs now, and your codes of it no longer admit anyone.".to_owned())
        }
        _ => None,
    };
    Ok(render(&booking_page(chrome, booking, event, None, done)))
}

#[derive(Debug, Deserialize)]
pub struct PayForm {
    pub payment_token: String,
}

/// `POST /bookings/{id}/pay`. A declined payment keeps the hold and says so; paying twice pays
/// once (the service charges a booking once, keyed by its id).
pub async fn pay(
    State(state): State<AppState>,
    Viewer { user, chrome }: Viewer,
    PageId(booking_id): PageId,
    PageForm(form): PageForm<PayForm>,
) -> Result<Response, PageError> {
    let request = pb::ConfirmBookingRequest {
        caller: Some(user.caller()),
        booking_id: booking_id.to_string(),
        payment_token: form.payment_token,
    };
    match state.bookings().confirm_booking(request).await {
        Ok(booking) => {
            if let Ok(event_id) = uuid::Uuid::parse_str(&booking.into_inner().event_id) {
                crate::waiting_room::booking_completed(&state, user.user_id, event_id).await;
            }
            Ok(Redirect::to(&format!("/bookings/{booking_id}?done=paid")).into_response())
        }
        Err(status) => {
            let error = Error::from_status(&status);
            let problem = match error.code {
                Code::PaymentDeclined => {
                    "Your payment was declined by the bank. Nothing was charged and your \
                     tickets are still held: try another payment token before the hold ends."
                        .to_owned()
                }
                Code::HoldExpired => {
                    "Too late: the hold expired before the payment, so the tickets went back on sale. \
                     Nothing was charged."
                        .to_owned()
                }
                Code::ValidationFailed | Code::Conflict => error.detail.clone(),
                _ => return Err(PageError(error)),
            };
            let (booking, event) = load(&state, user, booking_id).await?;
            Ok(render_with_status(
                error.http_status(),
                &booking_page(chrome, booking, event, Some(problem), None),
            ))
        }
    }
}

/// `GET /bookings/{id}/cancel`: asks before cancelling, saying what will happen.
pub async fn confirm_cancel(
    State(state): State<AppState>,
    Viewer { user, chrome }: Viewer,
    PageId(booking_id): PageId,
) -> Result<Response, PageError> {
    let (booking, event) = load(&state, user, booking_id).await?;
    let event_name = event.map_or_else(|| UNLISTED_EVENT.to_lowercase(), |event| event.name);
    let total = money(booking.total_cents, &booking.currency);
    let (title, question, confirm) = match booking.status {
        BookingStatus::Pending => (
            "Release these tickets?",
            format!("Your held tickets for {event_name} go back on sale at once. Nothing was charged."),
            "Release the tickets",
        ),
        BookingStatus::Confirmed => (
            "Cancel and refund?",
            format!(
                "Your tickets for {event_name} stop working at once and {total} is refunded. This cannot be \
                 undone."
            ),
            "Cancel and refund",
        ),
        _ => return Ok(Redirect::to(&format!("/bookings/{booking_id}")).into_response()),
    };
    Ok(render(&ConfirmPage {
        chrome,
        title: title.to_owned(),
        question,
        action: format!("/bookings/{booking_id}/cancel"),
        confirm: confirm.to_owned(),
        back: format!("/bookings/{booking_id}"),
    }))
}

/// `POST /bookings/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    Viewer { user, chrome }: Viewer,
    PageId(booking_id): PageId,
) -> Result<Response, PageError> {
    let request =
        pb::CancelBookingRequest { caller: Some(user.caller()), booking_id: booking_id.to_string() };
    match state.bookings().cancel_booking(request).await {
        Ok(booking) => {
            let booking = BookingResponse::from_proto(booking.into_inner())?;
            let done = if booking.status == BookingStatus::Refunded { "refunded" } else { "cancelled" };
            Ok(Redirect::to(&format!("/bookings/{booking_id}?done={done}")).into_response())
        }
        Err(status) => {
            let error = Error::from_status(&status);
            if error.code != Code::Conflict {
                return Err(PageError(error));
            }
            let (booking, event) = load(&state, user, booking_id).await?;
            Ok(render_with_status(
                StatusCode::CONFLICT,
                &booking_page(chrome, booking, event, Some(error.detail), None),
            ))
        }
    }
}

struct BookingCard {
    id: Uuid,
    event_name: String,
    starts_at: When,
    status: &'static str,
    status_text: &'static str,
    tickets: String,
    total: String,
}

#[derive(Template)]
#[template(path = "bookings.html")]
struct BookingsPage {
    chrome: Chrome,
    bookings: Vec<BookingCard>,
    next_page: Option<String>,
    /// Events whose door the viewer keeps (door staff): links to their scanners.
    doors: Vec<(Uuid, String)>,
    /// The viewer's waiting-list entries, newest first.
    entries: Vec<EntryCard>,
    /// Tickets other accounts gave the viewer: (ticket id, event name, what).
    received: Vec<(Uuid, String, String)>,
    done: Option<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PageCursor {
    pub cursor: Option<String>,
    /// What was just done, to say so.
    pub done: Option<String>,
}

/// `GET /bookings`: the buyer's bookings, newest first.
pub async fn bookings(
    State(state): State<AppState>,
    Viewer { user, chrome }: Viewer,
    PageQuery(query): PageQuery<PageCursor>,
) -> Result<Response, PageError> {
    let request = pb::ListBookingsRequest {
        caller: Some(user.caller()),
        page: Some(PageRequest::new(PageSize::parse(Some(BOOKINGS_PER_PAGE))?, non_empty(query.cursor))),
    };
    let page = state.bookings().list_bookings(request).await?.into_inner();
    let next_page = page.next_cursor.as_ref().map(|cursor| {
        form_urlencoded::Serializer::new(String::from("/bookings?")).append_pair("cursor", cursor).finish()
    });
    let mut events: HashMap<String, Option<EventResponse>> = HashMap::new();
    let mut cards = Vec::with_capacity(page.items.len());
    for booking in page.items {
        let booking = BookingResponse::from_proto(booking)?;
        let key = booking.event_id.to_string();
        if !events.contains_key(&key) {
            let event = event_of(&state, user, booking.event_id).await?;
            events.insert(key.clone(), event);
        }
        let event = events.get(&key).and_then(Option::as_ref);
        let count: u32 = booking.items.iter().map(|item| item.quantity).sum();
        cards.push(BookingCard {
            id: booking.id,
            event_name: event.map_or_else(|| UNLISTED_EVENT.to_owned(), |event| event.name.clone()),
            starts_at: When::parse(event.map_or("", |event| event.starts_at.as_str())),
            status: booking.status.as_str(),
            status_text: status_text(booking.status),
            tickets: if count == 1 { "1 ticket".to_owned() } else { format!("{count} tickets") },
            total: money(booking.total_cents, &booking.currency),
        });
    }
    let doors = state
        .events()
        .list_doors(event_pb::ListDoorsRequest { caller: Some(user.caller()) })
        .await?
        .into_inner()
        .items
        .into_iter()
        .map(|event| Ok((crate::routes::service_id("events", &event.id)?, event.name)))
        .collect::<Result<_, PageError>>()?;
    let entries = entry_cards(&state, user).await?;
    let mut received = Vec::new();
    for held in held_tickets(&state, user).await?.items.into_iter().filter(|held| held.received) {
        let event = event_of(&state, user, held.event_id).await?;
        let what = ticket_what(event.as_ref(), &held.ticket);
        let name = event.map_or_else(|| UNLISTED_EVENT.to_owned(), |event| event.name);
        received.push((held.ticket.id, name, what));
    }
    let done = (query.done.as_deref() == Some("given"))
        .then_some("Done: the ticket is theirs now, and your codes of it no longer admit anyone.");
    Ok(render(&BookingsPage { chrome, bookings: cards, next_page, doors, entries, received, done }))
}
