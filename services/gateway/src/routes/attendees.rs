//! `GET /api/v1/events/{id}/attendees.csv`: who comes to an event, for its organizer: one line
//! per ticket of a confirmed booking, with the buyer's name and email, for a spreadsheet.
//!
//! A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula, and buyers
//! choose their names: such a cell is written with a leading `'`, which makes it text
//! ([`csv_cell`]). Ticket codes are not in it: a code admits its holder.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use boxoffice_errors::{Code, Error};
use boxoffice_proto::WireEnum as _;
use boxoffice_proto::{booking, event, user};
use boxoffice_types::BookingStatus;
use futures::{StreamExt as _, TryStreamExt as _};
use utoipa::OpenApi;
use uuid::Uuid;

use super::PathId;
use crate::auth::AuthUser;
use crate::openapi::responses::{Forbidden, NotFound, Unauthorized, Unavailable};
use crate::problem::ApiResult;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/events/{id}/attendees.csv", get(attendees_csv))
}

#[derive(OpenApi)]
#[openapi(paths(attendees_csv))]
pub struct Doc;

/// Bookings read per call to the bookings service.
const PAGE: u32 = boxoffice_types::limits::MAX_PAGE_SIZE;
/// Buyers' accounts looked up at once.
const LOOKUPS_IN_FLIGHT: usize = 16;

const HEADER: [&str; 11] = [
    "ticket_id",
    "booking_id",
    "category",
    "seat",
    "first_name",
    "last_name",
    "email",
    "price",
    "currency",
    "booked_at",
    "checked_in_at",
];

/// Every ticket of the event's confirmed bookings as CSV (its organizer or an admin), newest
/// booking first. Cells a spreadsheet would run as a formula start with `'`.
#[utoipa::path(get, path = "/events/{id}/attendees.csv", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The event id")),
    responses(
        (status = 200, description = "RFC 4180 CSV with a header line: ticket_id, booking_id, category, seat, first_name, last_name, email, price, currency, booked_at, checked_in_at", body = String, content_type = "text/csv"),
        Unauthorized, Forbidden, NotFound, Unavailable,
    ))]
pub async fn attendees_csv(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(event_id): PathId,
) -> ApiResult<impl IntoResponse> {
    let csv = attendees(&state, caller, event_id).await?;
    let disposition = format!("attachment; filename=\"attendees-{event_id}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(Error::internal)?),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
        ],
        csv,
    ))
}

async fn attendees(state: &AppState, caller: AuthUser, event_id: Uuid) -> ApiResult<String> {
    // The bookings service checks that the caller organizes the event.
    let mut bookings = Vec::new();
    let mut cursor = None;
    loop {
        let request = booking::ListEventBookingsRequest {
            caller: Some(caller.caller()),
            event_id: event_id.to_string(),
            page: Some(boxoffice_proto::common::PageRequest { limit: PAGE, cursor }),
            status: Some(BookingStatus::Confirmed.to_wire()),
        };
        let page = state.bookings().list_event_bookings(request).await?.into_inner();
        bookings.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let request = event::GetEventRequest { event_id: event_id.to_string(), caller: Some(caller.caller()) };
    let event = state.events().get_event(request).await?.into_inner();
    let categories: HashMap<String, String> =
        event.categories.into_iter().map(|category| (category.id, category.name)).collect();
    let accounts = accounts(state, bookings.iter().map(|booking| booking.user_id.clone())).await?;

    let mut csv = String::new();
    write_line(&mut csv, HEADER);
    for booking in &bookings {
        let account = accounts.get(&booking.user_id).and_then(Option::as_ref);
        for ticket in &booking.tickets {
            let price = booking
                .items
                .iter()
                .find(|item| item.category_id == ticket.category_id)
                .map(|item| money(item.unit_price_cents))
                .unwrap_or_default();
            let category =
                categories.get(&ticket.category_id).map_or(ticket.category_id.as_str(), String::as_str);
            write_line(
                &mut csv,
                [
                    ticket.id.as_str(),
                    booking.id.as_str(),
                    category,
                    ticket.seat.as_deref().unwrap_or(""),
                    account.map_or("", |account| account.first_name.as_str()),
                    account.map_or("(account deleted)", |account| account.last_name.as_str()),
                    account.map_or("", |account| account.email.as_str()),
                    price.as_str(),
                    booking.currency.as_str(),
                    booking.created_at.as_str(),
                    ticket.checked_in_at.as_deref().unwrap_or(""),
                ],
            );
        }
    }
    Ok(csv)
}

/// The accounts of these buyers (each id once), looked up a few at a time: `None` for one
/// deleted since, whose booking still stands. For this export and the organizer's bookings list.
pub async fn accounts(
    state: &AppState,
    ids: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, Option<user::User>>, Error> {
    let mut ids: Vec<String> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    futures::stream::iter(ids)
        .map(|user_id| async move {
            match state.users().get_user(user::GetUserRequest { user_id: user_id.clone() }).await {
                Ok(account) => Ok((user_id, Some(account.into_inner()))),
                Err(status) if Error::from_status(&status).code == Code::NotFound => Ok((user_id, None)),
                Err(status) => Err(Error::from_status(&status)),
            }
        })
        .buffer_unordered(LOOKUPS_IN_FLIGHT)
        .try_collect()
        .await
}

/// Minor units as a decimal amount with two places, as spreadsheets read money.
fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}{}.{:02}", cents / 100, cents % 100)
}

fn write_line<'a>(csv: &mut String, cells: impl IntoIterator<Item = &'a str>) {
    for (index, cell) in cells.into_iter().enumerate() {
        if index > 0 {
            csv.push(',');
        }
        csv.push_str(&csv_cell(cell));
    }
    csv.push_str("\r\n");
}

/// One cell: quoted when it holds a separator, a quote or a line break (RFC 4180), and made
/// text with a leading `'` when a spreadsheet would read it as a formula (OWASP's advice on CSV
/// injection: `=`, `+`, `-`, `@`, tab and carriage return).
pub fn csv_cell(text: &str) -> String {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let text = if formula { format!("'{text}") } else { text.to_owned() };
    if formula || text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_never_runs_as_a_formula_and_stays_one_cell() {
        assert_eq!(csv_cell("Ada"), "Ada");
        assert_eq!(csv_cell("=HYPERLINK(\"http://x\",\"y\")"), "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
        for dangerous in ["+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(csv_cell(dangerous).starts_with("\"'"), "{dangerous:?}");
        }
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(money(4500), "45.00");
        assert_eq!(money(5), "0.05");
    }
}
