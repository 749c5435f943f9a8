//! The buyers' way in: the home page with upcoming events and search, an event's page with what
//! is left, and holding tickets with a plain form (best available, or general admission). The
//! seat map (`assets/seatmap.js`) holds chosen seats through the API instead.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use boxoffice_errors::{Code, Error};
use boxoffice_proto::booking as booking_pb;
use boxoffice_proto::common::PageRequest;
use boxoffice_proto::event as event_pb;
use boxoffice_types::limits::PageSize;
use boxoffice_types::{CategoryKind, EventStatus};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::routes::events::dto::EventResponse;
use crate::routes::non_empty;
use crate::routes::venues::VenueResponse;
use crate::web::page::{
    money, render, render_with_status, Chrome, PageError, PageForm, PageId, PageQuery, Viewer, When,
};
use crate::web::waiting_list::{self, WaitingListView};
use crate::AppState;

/// Events on one page of the home page.
const EVENTS_PER_PAGE: u32 = 12;

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub city: String,
    /// `YYYY-MM-DD`, from a date field.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    pub cursor: Option<String>,
}

struct EventCard {
    id: Uuid,
    name: String,
    city: String,
    starts_at: When,
    price_from: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    query: SearchQuery,
    events: Vec<EventCard>,
    next_page: Option<String>,
    problem: Option<String>,
}

/// A date field's day as the start or the end of that day in UTC; empty for none.
fn day_bound(day: &str, field: &str, end: bool) -> Result<Option<String>, Error> {
    if day.trim().is_empty() {
        return Ok(None);
    }
    let date = NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d")
        .map_err(|_| Error::validation(format!("{field}: give a date as YYYY-MM-DD")))?;
    let time = if end { date.and_hms_opt(23, 59, 59) } else { date.and_hms_opt(0, 0, 0) };
    Ok(time.map(|time| time.and_utc().to_rfc3339()))
}

/// `GET /`: upcoming published events, soonest first, with search by text, city and dates.
pub async fn home(
    State(state): State<AppState>,
    chrome: Chrome,
    PageQuery(query): PageQuery<SearchQuery>,
) -> Result<Response, PageError> {
    let bounds = day_bound(&query.from, "From", false)
        .and_then(|from| Ok((from, day_bound(&query.to, "To", true)?)))
        .and_then(|(from, to)| match (&from, &to) {
            // RFC 3339 times of one offset (UTC here) order as text.
            (Some(start), Some(end)) if start > end => {
                Err(Error::validation("From: pick a day on or before the To day"))
            }
            _ => Ok((from, to)),
        });
    let (from, to) = match bounds {
        Ok(bounds) => bounds,
        Err(error) => {
            let page =
                HomePage { chrome, query, events: Vec::new(), next_page: None, problem: Some(error.detail) };
            return Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    // Upcoming: from now on, unless the visitor asks for other dates.
    let from = from.or_else(|| Some(Utc::now().to_rfc3339()));
    let request = event_pb::ListEventsRequest {
        q: non_empty(Some(query.q.clone())),
        city: non_empty(Some(query.city.clone())),
        from,
        to,
        page: Some(PageRequest::new(
            PageSize::parse(Some(EVENTS_PER_PAGE))?,
            non_empty(query.cursor.clone()),
        )),
        caller: None,
        mine: false,
    };
    let listed = match state.events().list_events(request).await {
        Ok(page) => page.into_inner(),
        Err(status) => {
            let error = Error::from_status(&status);
            if error.code != Code::ValidationFailed {
                return Err(PageError(error));
            }
            let page =
                HomePage { chrome, query, events: Vec::new(), next_page: None, problem: Some(error.detail) };
            return Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    let next_page = listed.next_cursor.as_ref().map(|cursor| {
        let mut url = form_urlencoded::Serializer::new(String::from("/?"));
        url.append_pair("q", &query.q).append_pair("city", &query.city);
        url.append_pair("from", &query.from).append_pair("to", &query.to).append_pair("cursor", cursor);
        url.finish()
    });
    let events = listed
        .items
        .into_iter()
        .map(|event| {
            let event = EventResponse::from_proto(event)?;
            let cheapest = event.categories.iter().min_by_key(|category| category.price_cents);
            Ok(EventCard {
                id: event.id,
                price_from: cheapest
                    .map(|category| format!("From {}", money(category.price_cents, &category.currency)))
                    .unwrap_or_default(),
                starts_at: When::parse(&event.starts_at),
                name: event.name,
                city: event.city,
            })
        })
        .collect::<Result<_, crate::problem::ApiError>>()?;
    Ok(render(&HomePage { chrome, query, events, next_page, problem: None }))
}

struct CategoryView {
    id: String,
    name: String,
    price: String,
    seated: bool,
    available: u32,
}

#[derive(Template)]
#[template(path = "event.html")]
pub(crate) struct EventPage {
    chrome: Chrome,
    event: EventResponse,
    venue: Option<VenueResponse>,
    starts_at: When,
    ends_at: When,
    sale_starts_at: Option<When>,
    categories: Vec<CategoryView>,
    seated: bool,
    /// Every category is seated: with script, the seat map's own "best available" replaces the
    /// form.
    seated_only: bool,
    on_sale: bool,
    closed_reason: String,
    idempotency_key: Uuid,
    problem: Option<String>,
    /// The event's waiting room, as this viewer stands in it.
    queue: Option<QueueView>,
    /// The waiting lists of its sold-out categories, if it has them.
    waiting_list: Option<WaitingListView>,
}

/// A waiting room on the event's page.
pub struct QueueView {
    /// The viewer has a place in the queue (waiting, or let in).
    pub joined: bool,
    /// The viewer may hold tickets now, with `pass`.
    pub pass: Option<String>,
    pub admitted_until: Option<When>,
    /// Joining is possible (the room is open).
    pub open: bool,
    pub opens_at: When,
    /// The proof of work a join needs (the page's script solves it).
    pub proof_of_work_bits: u32,
}

/// The event's page, with what is left of each category; `problem` explains a refused hold.
pub(crate) async fn event_page(
    state: &AppState,
    chrome: Chrome,
    event_id: Uuid,
    problem: Option<String>,
) -> Result<EventPage, PageError> {
    let caller = chrome.viewer.map(|viewer| viewer.caller());
    let event = state
        .events()
        .get_event(event_pb::GetEventRequest { event_id: event_id.to_string(), caller: caller.clone() })
        .await?
        .into_inner();
    let event = EventResponse::from_proto(event)?;
    let venue = match event.venue_id {
        Some(venue_id) => {
            let venue = state
                .events()
                .get_venue(event_pb::GetVenueRequest { venue_id: venue_id.to_string() })
                .await?
                .into_inner();
            Some(VenueResponse::from_proto(venue)?)
        }
        None => None,
    };
    let availability = state
        .bookings()
        .get_availability(booking_pb::GetAvailabilityRequest { event_id: event_id.to_string(), caller })
        .await?
        .into_inner();
    let left = |id: &str| {
        availability
            .categories
            .iter()
            .find(|category| category.id == id)
            .map_or(0, |category| category.available)
    };
    let categories: Vec<CategoryView> = event
        .categories
        .iter()
        .map(|category| CategoryView {
            id: category.id.clone(),
            name: category.name.clone(),
            price: money(category.price_cents, &category.currency),
            seated: category.kind == CategoryKind::Seated,
            available: left(&category.id),
        })
        .collect();
    let seated = categories.iter().any(|category| category.seated) && venue.is_some();
    let seated_only = seated && categories.iter().all(|category| category.seated);
    let sale_started = event
        .sale_starts_at
        .as_deref()
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        .is_none_or(|at| at <= Utc::now());
    let sold_out = categories.iter().all(|category| category.available == 0);
    let (mut on_sale, mut closed_reason) = match event.status {
        EventStatus::Published if !sale_started => (false, "The sale has not started yet.".to_owned()),
        EventStatus::Published if sold_out => (
            false,
            "Sold out for now: every ticket is held or sold. Held tickets that are not paid in time come \
             back on sale, so look again later."
                .to_owned(),
        ),
        EventStatus::Published => (true, String::new()),
        EventStatus::Draft => (false, "This event is a draft: it is not on sale.".to_owned()),
        EventStatus::Cancelled => (false, "This event was cancelled.".to_owned()),
    };
    let queue = match (&event.waiting_room, event.status) {
        (Some(_), EventStatus::Published) => Some(queue_view(state, chrome.viewer, event.id).await?),
        _ => None,
    };
    if let Some(queue) = &queue {
        if on_sale && queue.pass.is_none() {
            on_sale = false;
            closed_reason = "Tickets for this sale are sold through its waiting room: join the queue above, \
                and hold your tickets here once you are let in."
                .to_owned();
        }
    }
    let waiting_list = match event.status {
        EventStatus::Published if sale_started => {
            let sold_out = categories
                .iter()
                .filter(|category| category.available == 0)
                .map(|category| (category.id.clone(), category.name.clone()))
                .collect();
            waiting_list::event_view(state, chrome.viewer, &event, sold_out).await?
        }
        _ => None,
    };
    if waiting_list.is_some() && sold_out {
        closed_reason =
            "Sold out: every ticket is held or sold. Join the waiting list above: tickets that come \
            back are offered to it in order before they go on sale again."
                .to_owned();
    }
    Ok(EventPage {
        chrome,
        waiting_list,
        starts_at: When::parse(&event.starts_at),
        ends_at: When::parse(&event.ends_at),
        sale_starts_at: event.sale_starts_at.as_deref().map(When::parse),
        event,
        venue,
        categories,
        seated,
        seated_only,
        on_sale,
        closed_reason,
        idempotency_key: Uuid::new_v4(),
        problem,
        queue,
    })
}

/// Where the viewer stands in the event's waiting room (anyone else: not in it).
async fn queue_view(
    state: &AppState,
    viewer: Option<crate::auth::AuthUser>,
    event_id: Uuid,
) -> Result<QueueView, PageError> {
    let room = state.rooms().info(state, event_id).await?.ok_or_else(PageError::not_found)?;
    let opens_at = When::parse(&room.opens_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let open = room.opens_at <= Utc::now();
    let Some(viewer) = viewer else {
        return Ok(QueueView {
            joined: false,
            pass: None,
            admitted_until: None,
            open,
            opens_at,
            proof_of_work_bits: room.proof_of_work_bits,
        });
    };
    let place = crate::waiting_room::visit(state, &room, viewer, false).await?;
    let admitted_until = match place.standing {
        boxoffice_kv::Standing::Admitted { until_ms } => {
            chrono::DateTime::from_timestamp_millis(i64::try_from(until_ms).unwrap_or(i64::MAX))
                .map(|until| When::parse(&until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        }
        _ => None,
    };
    Ok(QueueView {
        // One whose admission ended (ran out, or a paid booking) may join again, at the back.
        joined: matches!(
            place.standing,
            boxoffice_kv::Standing::Drawing
                | boxoffice_kv::Standing::Waiting { .. }
                | boxoffice_kv::Standing::Admitted { .. }
        ),
        pass: place.pass,
        admitted_until,
        open,
        opens_at,
        proof_of_work_bits: room.proof_of_work_bits,
    })
}

/// `GET /events/{id}`.
pub async fn event(
    State(state): State<AppState>,
    chrome: Chrome,
    PageId(event_id): PageId,
) -> Result<Response, PageError> {
    Ok(render(&event_page(&state, chrome, event_id, None).await?))
}

#[derive(Debug, Deserialize)]
pub struct HoldForm {
    pub category_id: String,
    pub quantity: String,
    /// Written into the form when the page was drawn: a double click, a retry or a resubmitted
    /// form holds once.
    pub idempotency_key: Option<String>,
    /// The admission pass of the event's waiting room, if it has one.
    pub queue_pass: Option<String>,
}

/// `POST /events/{id}/hold`: holds the best available tickets of one category, then shows the
/// booking; a refusal (sold out, above the limit) is explained on the event's page.
pub async fn hold(
    State(state): State<AppState>,
    Viewer { user, chrome }: Viewer,
    PageId(event_id): PageId,
    PageForm(form): PageForm<HoldForm>,
) -> Result<Response, PageError> {
    let quantity = match form.quantity.trim().parse::<u32>() {
        Ok(quantity) if quantity > 0 => quantity,
        _ => {
            let problem =
                "Tickets: give a whole number, at least 1 and at most this event's limit.".to_owned();
            let page = event_page(&state, chrome, event_id, Some(problem)).await?;
            return Ok(render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    if let Err(error) =
        crate::waiting_room::admit_hold(&state, user, event_id, form.queue_pass.as_deref()).await
    {
        if error.code != Code::QueueRequired {
            return Err(PageError(error));
        }
        let page = event_page(&state, chrome, event_id, Some(error.detail.clone())).await?;
        return Ok(render_with_status(error.http_status(), &page));
    }
    let key = form.idempotency_key.filter(|key| !key.is_empty());
    let request = booking_pb::CreateBookingRequest {
        caller: Some(user.caller()),
        event_id: event_id.to_string(),
        items: vec![booking_pb::BookingItemRequest { category_id: form.category_id, quantity }],
        seats: Vec::new(),
        idempotency_key: key.clone(),
    };
    match state.hold(request).await {
        Ok(booking) => Ok(Redirect::to(&format!("/bookings/{}", booking.id)).into_response()),
        Err(error) if error.code == Code::Unavailable => {
            // The hold may still be under way: the page's form keeps this request's key, so
            // sending it again gets this hold's answer and never holds twice.
            let problem = "We could not finish your hold just now. Press the button again in a moment: \
                           it will not hold your tickets twice."
                .to_owned();
            let mut page = event_page(&state, chrome, event_id, Some(problem)).await?;
            if let Some(key) = key.and_then(|key| Uuid::parse_str(&key).ok()) {
                page.idempotency_key = key;
            }
            Ok(render_with_status(error.http_status(), &page))
        }
        Err(error) => {
            if !matches!(
                error.code,
                Code::SoldOut
                    | Code::SeatUnavailable
                    | Code::LimitExceeded
                    | Code::ValidationFailed
                    | Code::Conflict
                    | Code::IdempotencyConflict
            ) {
                return Err(PageError(error));
            }
            let status = error.http_status();
            let problem = match error.code {
                Code::SoldOut => "Not enough tickets are left in this category for that many: try fewer, or \
                                  another category. Tickets held by others come back if they are not paid."
                    .to_owned(),
                Code::IdempotencyConflict => {
                    "This form was already used for another request: reload the page and try again."
                        .to_owned()
                }
                _ => error.detail,
            };
            let page = event_page(&state, chrome, event_id, Some(problem)).await?;
            Ok(render_with_status(status, &page))
        }
    }
}
