//! Waiting lists in the web app: the event's page offers the list of a sold-out category (and
//! says where the viewer stands on it), `My tickets` lists the viewer's entries with their
//! offers, and a form leaves one. An offer is a pending booking, paid on its own page.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use boxoffice_errors::{Code, Error};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::problem::ApiError;
use crate::routes::events::dto::EventResponse;
use crate::routes::waiting_list::{
    entries_of, join_list, leave_list, WaitingListEntryResponse, WaitingListStatus,
};
use crate::web::checkout::{event_of, UNLISTED_EVENT};
use crate::web::page::{render_with_status, PageError, PageForm, PageId, Viewer, When};
use crate::web::shop::event_page;
use crate::AppState;

/// The waiting lists on an event's page: its sold-out categories, and the viewer's entries.
pub struct WaitingListView {
    /// (id, name) of each sold-out category.
    pub sold_out: Vec<(String, String)>,
    /// The viewer's live entries for this event, as they read.
    pub mine: Vec<String>,
    /// How long an offer lasts, as read.
    pub offer_time: String,
}

/// The event's waiting lists, when it has them and a category is sold out.
pub async fn event_view(
    state: &AppState,
    viewer: Option<AuthUser>,
    event: &EventResponse,
    sold_out: Vec<(String, String)>,
) -> Result<Option<WaitingListView>, PageError> {
    if event.waiting_list_offer_minutes == 0 || sold_out.is_empty() {
        return Ok(None);
    }
    let mut mine = Vec::new();
    if let Some(viewer) = viewer {
        for entry in entries_of(state, viewer).await?.items {
            if entry.event_id == event.id && is_live(&entry) {
                let category = event.category_name(&entry.category_id.to_string()).unwrap_or("Tickets");
                mine.push(format!("{category}: {}", standing(&entry)));
            }
        }
    }
    Ok(Some(WaitingListView { sold_out, mine, offer_time: duration(event.waiting_list_offer_minutes) }))
}

fn is_live(entry: &WaitingListEntryResponse) -> bool {
    matches!(entry.status, WaitingListStatus::Waiting | WaitingListStatus::Offered)
}

/// Where an entry stands, in words.
fn standing(entry: &WaitingListEntryResponse) -> String {
    let tickets = |count: u32| if count == 1 { "1 ticket".to_owned() } else { format!("{count} tickets") };
    match entry.status {
        WaitingListStatus::Waiting => match entry.position {
            Some(1) => format!("you are next in line for {}", tickets(entry.quantity)),
            Some(position) => format!("number {position} in line for {}", tickets(entry.quantity)),
            None => format!("in line for {}", tickets(entry.quantity)),
        },
        WaitingListStatus::Offered => format!(
            "tickets came back for you: {} held, waiting for your payment",
            tickets(entry.offered_quantity.unwrap_or(entry.quantity))
        ),
        WaitingListStatus::Bought => "you bought the tickets offered".to_owned(),
        WaitingListStatus::Declined => "you declined the offer".to_owned(),
        WaitingListStatus::Lapsed => "the offer ran out unpaid and went to the next in line".to_owned(),
        WaitingListStatus::Left => "you left the list".to_owned(),
        WaitingListStatus::Closed => "the event was cancelled".to_owned(),
    }
}

/// "12 hours", "90 minutes", "2 days".
fn duration(minutes: u32) -> String {
    let plural =
        |count: u32, unit: &str| if count == 1 { format!("1 {unit}") } else { format!("{count} {unit}s") };
    match minutes {
        minutes if minutes % (24 * 60) == 0 => plural(minutes / (24 * 60), "day"),
        minutes if minutes % 60 == 0 => plural(minutes / 60, "hour"),
        minutes => plural(minutes, "minute"),
    }
}

/// One entry on `My tickets`.
pub struct EntryCard {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_name: String,
    pub category: String,
    pub standing: String,
    /// The offer to pay, while offered.
    pub offer: Option<Uuid>,
    pub live: bool,
    pub created_at: When,
}

/// The viewer's entries, newest first, with their events' and categories' names.
pub async fn entry_cards(state: &AppState, user: AuthUser) -> Result<Vec<EntryCard>, PageError> {
    let mut events: HashMap<Uuid, Option<EventResponse>> = HashMap::new();
    let mut cards = Vec::new();
    for entry in entries_of(state, user).await?.items {
        if let std::collections::hash_map::Entry::Vacant(vacant) = events.entry(entry.event_id) {
            vacant.insert(event_of(state, user, entry.event_id).await?);
        }
        let event = events.get(&entry.event_id).and_then(Option::as_ref);
        let category =
            event.and_then(|event| event.category_name(&entry.category_id.to_string())).unwrap_or("Tickets");
        cards.push(EntryCard {
            id: entry.id,
            event_id: entry.event_id,
            event_name: event.map_or_else(|| UNLISTED_EVENT.to_owned(), |event| event.name.clone()),
            category: category.to_owned(),
            standing: standing(&entry),
            offer: (entry.status == WaitingListStatus::Offered).then_some(entry.booking_id).flatten(),
            live: is_live(&entry),
            created_at: When::parse(&entry.created_at),
        });
    }
    Ok(cards)
}

#[derive(Debug, Deserialize)]
pub struct JoinForm {
    pub category_id: String,
    pub quantity: String,
}

/// `POST /events/{id}/waiting-list`: joins, then shows the viewer's entries; a refusal is
/// explained on the event's page.
pub async fn join(
    State(state): State<AppState>,
    Viewer { user, chrome }: Viewer,
    PageId(event_id): PageId,
    PageForm(form): PageForm<JoinForm>,
) -> Result<Response, PageError> {
    let joined = match (Uuid::parse_str(form.category_id.trim()), form.quantity.trim().parse()) {
        (Ok(category_id), Ok(quantity)) => join_list(&state, user, event_id, category_id, quantity).await,
        _ => Err(Error::validation("Waiting list: choose a category and a whole number of tickets.").into()),
    };
    match joined {
        Ok(_) => Ok(Redirect::to("/bookings#waiting-lists").into_response()),
        Err(ApiError(error))
            if matches!(error.code, Code::NotSoldOut | Code::Conflict | Code::ValidationFailed) =>
        {
            let status = error.http_status();
            let page = event_page(&state, chrome, event_id, Some(error.detail)).await?;
            Ok(render_with_status(status, &page))
        }
        Err(ApiError(error)) => Err(PageError(error)),
    }
}

/// `POST /waiting-list/{id}/leave`: leaves the list, or declines its offer.
pub async fn leave(
    State(state): State<AppState>,
    Viewer { user, .. }: Viewer,
    PageId(entry_id): PageId,
) -> Result<Response, PageError> {
    leave_list(&state, user, entry_id).await.map_err(|error| PageError(error.0))?;
    Ok(Redirect::to("/bookings#waiting-lists").into_response())
}
