//! The organizer's pages: their events and venues, and the venue editor's page (drawn by
//! `editor.js`, which saves through the API). The event editor with publishing and cancelling is
//! `event_editor.rs`, the door staff `door_staff.rs`, the live dashboard `dashboard.rs`.
//!
//! Organizers and admins only ([`OrganizerViewer`]): anyone else gets a 403 page, as the API
//! would answer. Every change goes through the services' own checks.
use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use boxoffice_errors::{Code, Error};
use boxoffice_proto::common::PageRequest;
use boxoffice_proto::event as pb;
use boxoffice_types::limits::events::{
    MAX_ROWS_PER_SECTION, MAX_ROW_CURVE, MAX_SEATS_PER_ROW, MAX_SEATS_PER_VENUE, MAX_SECTIONS_PER_VENUE,
    MAX_SECTION_OFFSET, MAX_SECTION_ROTATION, MAX_SPACING_PERCENT, MIN_SPACING_PERCENT, ROW_LABEL_MAX_CHARS,
    SECTION_NAME_MAX_CHARS,
};
use boxoffice_types::limits::{PageSize, MAX_PAGE_SIZE};
use boxoffice_types::Role;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::routes::events::dto::EventResponse;
use crate::routes::venues::{VenueResponse, VenueSummary};
use crate::web::page::{render, Chrome, Notice, PageError, PageId, PageQuery, Viewer, When};
use crate::AppState;

/// A page for organizers and admins; anyone else logged in gets a 403 page.
pub struct OrganizerViewer {
    pub user: AuthUser,
    pub chrome: Chrome,
}

impl FromRequestParts<AppState> for OrganizerViewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Viewer { user, chrome } = Viewer::from_request_parts(parts, state).await?;
        if !matches!(user.role, Role::Organizer | Role::Admin) {
            let error =
                Error::new(Code::Forbidden, "these pages are for organizers; an admin can make you one");
            return Err(PageError(error).into_response());
        }
        Ok(OrganizerViewer { user, chrome })
    }
}

/// How many of the organizer's events and venues the overview lists.
const OVERVIEW_ITEMS: u32 = MAX_PAGE_SIZE;

// ---- The overview ----

struct EventLine {
    id: Uuid,
    name: String,
    status: &'static str,
    starts_at: When,
    city: String,
}

struct VenueLine {
    id: Uuid,
    name: String,
    city: String,
    capacity: u32,
    sections: u32,
    seats_locked: bool,
}

#[derive(Template)]
#[template(path = "organize.html")]
struct OverviewPage {
    chrome: Chrome,
    events: Vec<EventLine>,
    venues: Vec<VenueLine>,
    done: Option<String>,
}

/// `GET /organize`.
pub async fn overview(
    State(state): State<AppState>,
    OrganizerViewer { user, chrome }: OrganizerViewer,
    PageQuery(notice): PageQuery<Notice>,
) -> Result<Response, PageError> {
    let events = my_events(&state, user).await?;
    let venues = my_venues(&state, user).await?;
    let events = events
        .into_iter()
        .map(|event| EventLine {
            id: event.id,
            status: event.status.as_str(),
            starts_at: When::parse(&event.starts_at),
            city: event.city,
            name: event.name,
        })
        .collect();
    let venues = venues
        .into_iter()
        .map(|venue| VenueLine {
            id: venue.id,
            name: venue.name,
            city: venue.city,
            capacity: venue.capacity,
            sections: venue.sections,
            seats_locked: venue.seats_locked,
        })
        .collect();
    Ok(render(&OverviewPage { chrome, events, venues, done: notice.done }))
}

async fn my_events(state: &AppState, user: AuthUser) -> Result<Vec<EventResponse>, PageError> {
    let request = pb::ListEventsRequest {
        caller: Some(user.caller()),
        mine: true,
        page: Some(PageRequest::new(PageSize::parse(Some(OVERVIEW_ITEMS))?, None)),
        ..Default::default()
    };
    let page = state.events().list_events(request).await?.into_inner();
    Ok(page.items.into_iter().map(EventResponse::from_proto).collect::<Result<_, _>>()?)
}

pub(crate) async fn my_venues(state: &AppState, user: AuthUser) -> Result<Vec<VenueSummary>, PageError> {
    let request = pb::ListVenuesRequest {
        caller: Some(user.caller()),
        page: Some(PageRequest::new(PageSize::parse(Some(OVERVIEW_ITEMS))?, None)),
    };
    let page = state.events().list_venues(request).await?.into_inner();
    Ok(page.items.into_iter().map(VenueSummary::from_proto).collect::<Result<_, _>>()?)
}

// ---- The venue editor ----

#[derive(Template)]
#[template(path = "venue_editor.html")]
struct VenueEditorPage {
    chrome: Chrome,
    title: String,
    save_url: String,
    save_method: &'static str,
    name: String,
    city: String,
    address: String,
    /// The venue's sections as JSON, for the editor; `[]` for a new venue.
    sections_json: String,
    limits_json: String,
    frozen: bool,
    saved: bool,
    venue_id: Option<Uuid>,
}

fn limits_json() -> String {
    serde_json::json!({
        "sections": MAX_SECTIONS_PER_VENUE,
        "rows": MAX_ROWS_PER_SECTION,
        "seats_per_row": MAX_SEATS_PER_ROW,
        "seats": MAX_SEATS_PER_VENUE,
        "offset": MAX_SECTION_OFFSET,
        "rotation": MAX_SECTION_ROTATION,
        "curve": MAX_ROW_CURVE,
        "spacing_min": MIN_SPACING_PERCENT,
        "spacing_max": MAX_SPACING_PERCENT,
        "section_name_chars": SECTION_NAME_MAX_CHARS,
        "row_label_chars": ROW_LABEL_MAX_CHARS,
    })
    .to_string()
}

/// JSON inside a `<script type="application/json">`: `<` is escaped so that no text in it can
/// close the element, whatever names an organizer chose.
fn script_json(value: &impl serde::Serialize) -> Result<String, PageError> {
    let json = serde_json::to_string(value).map_err(Error::internal)?;
    Ok(json.replace('<', "\\u003c"))
}

/// `GET /organize/venues/new`.
pub async fn new_venue(OrganizerViewer { chrome, .. }: OrganizerViewer) -> Result<Response, PageError> {
    Ok(render(&VenueEditorPage {
        chrome,
        title: "New venue".to_owned(),
        save_url: "/api/v1/venues".to_owned(),
        save_method: "POST",
        name: String::new(),
        city: String::new(),
        address: String::new(),
        sections_json: "[]".to_owned(),
        limits_json: limits_json(),
        frozen: false,
        saved: false,
        venue_id: None,
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct SavedQuery {
    pub saved: Option<String>,
}

/// `GET /organize/venues/{id}`: the editor of one of the organizer's venues.
pub async fn edit_venue(
    State(state): State<AppState>,
    OrganizerViewer { user, chrome }: OrganizerViewer,
    PageId(venue_id): PageId,
    PageQuery(query): PageQuery<SavedQuery>,
) -> Result<Response, PageError> {
    let venue = state.events().get_venue(pb::GetVenueRequest { venue_id: venue_id.to_string() }).await?;
    let venue = VenueResponse::from_proto(venue.into_inner())?;
    if !(user.role == Role::Admin || venue.organizer_id == user.user_id) {
        return Err(PageError::not_found());
    }
    Ok(render(&VenueEditorPage {
        chrome,
        title: format!("Venue: {}", venue.name),
        save_url: format!("/api/v1/venues/{venue_id}"),
        save_method: "PUT",
        sections_json: script_json(&venue.sections)?,
        name: venue.name,
        city: venue.city,
        address: venue.address,
        limits_json: limits_json(),
        frozen: venue.seats_locked,
        saved: query.saved.is_some(),
        venue_id: Some(venue_id),
    }))
}
