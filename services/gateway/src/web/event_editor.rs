//! The event editor (a plain form: drafts with their categories, and what may still change of
//! a published event), publishing with a summary of what goes on sale, and cancelling with the
//! count of paid bookings it refunds. The services' refusals are shown on the form again, as the
//! organizer filled it.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use boxoffice_errors::{Code, Error};
use boxoffice_proto::booking as booking_pb;
use boxoffice_proto::common::PageRequest;
use boxoffice_proto::event as pb;
use boxoffice_proto::WireEnum as _;
use boxoffice_types::limits::events::DEFAULT_WAITING_LIST_OFFER_MINUTES;
use boxoffice_types::limits::{PageSize, MAX_PAGE_SIZE};
use boxoffice_types::{BookingStatus, CategoryKind, EventStatus, Role};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::routes::events::dto::{EventResponse, WaitingRoomBody};
use crate::routes::non_empty;
use crate::web::organize::{my_venues, OrganizerViewer};
use crate::web::page::{
    for_people, money, render, render_with_status, Chrome, ConfirmPage, Notice, PageError, PageForm, PageId,
    PageQuery, When,
};
use crate::AppState;

/// Extra empty category rows the event form offers.
const BLANK_CATEGORY_ROWS: usize = 2;
/// The bookings a cancellation's confirmation counts at most before saying "more than".
const COUNTED_BOOKINGS_PAGES: usize = 50;

// ---- The event editor ----

struct VenueChoice {
    id: String,
    name: String,
    selected: bool,
    /// The venue's section names, for the seated categories' choices.
    sections: Vec<String>,
}

struct CategoryRow {
    index: usize,
    name: String,
    price: String,
    currency: String,
    seated: bool,
    capacity: String,
    sections: Vec<String>,
}

#[derive(Template)]
#[template(path = "event_form.html")]
struct EventFormPage {
    chrome: Chrome,
    title: String,
    action: String,
    event_id: Option<Uuid>,
    status: &'static str,
    draft: bool,
    name: String,
    description: String,
    city: String,
    starts_at: String,
    ends_at: String,
    sale_starts_at: String,
    max_tickets_per_booking: String,
    /// The organizer's venues, each with its sections for the seated categories to choose from.
    venues: Vec<VenueChoice>,
    /// A venue is chosen: only its sections are offered.
    venue_chosen: bool,
    categories: Vec<CategoryRow>,
    /// The saved event has a venue and a seated category: the page previews them on the map.
    has_seated: bool,
    venue_id: String,
    /// The waiting room's fields, as shown.
    room: RoomFields,
    /// Minutes an offer from the waiting list lasts (0: no waiting list), as shown.
    offer_minutes: String,
    static_codes: bool,
    problem: Option<String>,
    done: Option<String>,
}

/// The waiting room's part of the event form.
#[derive(Default)]
struct RoomFields {
    enabled: bool,
    opens_at: String,
    admissions_per_minute: String,
    admission_minutes: String,
    max_admitted: String,
    proof_of_work_bits: String,
}

impl RoomFields {
    fn of(room: Option<&WaitingRoomBody>) -> RoomFields {
        match room {
            Some(room) => RoomFields {
                enabled: true,
                opens_at: local_input(&room.opens_at),
                admissions_per_minute: room.admissions_per_minute.to_string(),
                admission_minutes: room.admission_minutes.to_string(),
                max_admitted: room.max_admitted.to_string(),
                proof_of_work_bits: room.proof_of_work_bits.unwrap_or(0).to_string(),
            },
            None => RoomFields {
                admissions_per_minute: "600".to_owned(),
                admission_minutes: "10".to_owned(),
                max_admitted: "2000".to_owned(),
                proof_of_work_bits: "0".to_owned(),
                ..RoomFields::default()
            },
        }
    }

    /// What the organizer typed, shown again after a refusal.
    fn typed(form: &EventForm) -> RoomFields {
        RoomFields {
            enabled: form.get("room_enabled").is_some(),
            opens_at: local_input(&form.time("room_opens_at")),
            admissions_per_minute: form.text("room_admissions_per_minute"),
            admission_minutes: form.text("room_admission_minutes"),
            max_admitted: form.text("room_max_admitted"),
            proof_of_work_bits: form.text("room_proof_of_work_bits"),
        }
    }
}

impl CategoryRow {
    fn has_section(&self, section: &String) -> bool {
        self.sections.contains(section)
    }
}

/// The value of a `datetime-local` input for an RFC 3339 time, in UTC: the page's script shows it
/// in the organizer's time zone and sends the UTC time back.
fn local_input(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|time| time.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// A time the form sends back: `None` (leave it) when it is the stored one as the form showed it
/// (to the minute: a start at 20:00:30 comes back as 20:00), so that saving a name does not
/// move an event's times, nor trip the rule against a start set in the past.
fn changed_time(sent: String, stored: Option<&str>) -> Option<String> {
    let shown = stored.map(local_input).unwrap_or_default();
    if local_input(&sent) == shown && (sent.is_empty() == stored.is_none()) {
        None
    } else {
        Some(sent)
    }
}

/// Minor units as the form shows a price: `45.00`.
fn price_input(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

/// A price as typed: `45`, `45.5`, `45.50` (a comma works as the decimal mark too).
fn parse_price(text: &str, field: &str) -> Result<i64, Error> {
    let invalid = || Error::validation(format!("{field}: write the price as 45 or 45.50"));
    let text = text.trim().replace(',', ".");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 2 {
        return Err(invalid());
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let whole: i64 = whole.parse().map_err(|_| invalid())?;
    let fraction: i64 =
        if fraction.is_empty() { 0 } else { format!("{fraction:0<2}").parse().map_err(|_| invalid())? };
    whole.checked_mul(100).and_then(|cents| cents.checked_add(fraction)).ok_or_else(invalid)
}

async fn venue_choices(
    state: &AppState,
    user: AuthUser,
    chosen: Option<&str>,
) -> Result<Vec<VenueChoice>, PageError> {
    let choices = my_venues(state, user)
        .await?
        .into_iter()
        .map(|venue| VenueChoice {
            selected: chosen == Some(venue.id.to_string().as_str()),
            id: venue.id.to_string(),
            name: venue.name,
            sections: venue.section_names,
        })
        .collect();
    Ok(choices)
}

fn blank_rows(from: usize, currency: &str) -> impl Iterator<Item = CategoryRow> + '_ {
    (from..from + BLANK_CATEGORY_ROWS).map(move |index| CategoryRow {
        index,
        name: String::new(),
        price: String::new(),
        currency: currency.to_owned(),
        seated: false,
        capacity: String::new(),
        sections: Vec::new(),
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct NewEventQuery {
    /// The venue to choose at first (from the venue editor's "Create an event in it").
    pub venue_id: Option<String>,
}

/// `GET /organize/events/new`.
pub async fn new_event(
    State(state): State<AppState>,
    OrganizerViewer { user, chrome }: OrganizerViewer,
    PageQuery(query): PageQuery<NewEventQuery>,
) -> Result<Response, PageError> {
    let venues = venue_choices(&state, user, query.venue_id.as_deref()).await?;
    let venue_chosen = venues.iter().any(|venue| venue.selected);
    Ok(render(&EventFormPage {
        chrome,
        title: "New event".to_owned(),
        action: "/organize/events/new".to_owned(),
        event_id: None,
        status: "draft",
        draft: true,
        name: String::new(),
        description: String::new(),
        city: String::new(),
        starts_at: String::new(),
        ends_at: String::new(),
        sale_starts_at: String::new(),
        max_tickets_per_booking: "10".to_owned(),
        venues,
        venue_chosen,
        categories: blank_rows(0, "EUR").collect(),
        has_seated: false,
        venue_id: String::new(),
        room: RoomFields::of(None),
        offer_minutes: DEFAULT_WAITING_LIST_OFFER_MINUTES.to_string(),
        static_codes: true,
        problem: None,
        done: None,
    }))
}

/// `GET /organize/events/{id}/edit`.
pub async fn edit_event(
    State(state): State<AppState>,
    OrganizerViewer { user, chrome }: OrganizerViewer,
    PageId(event_id): PageId,
    PageQuery(notice): PageQuery<Notice>,
) -> Result<Response, PageError> {
    let event = load_event(&state, user, event_id).await?;
    let page = event_form(&state, user, chrome, &event, None, notice.done).await?;
    Ok(render(&page))
}

async fn event_form(
    state: &AppState,
    user: AuthUser,
    chrome: Chrome,
    event: &EventResponse,
    problem: Option<String>,
    done: Option<String>,
) -> Result<EventFormPage, PageError> {
    let venue_id = event.venue_id.map(|id| id.to_string());
    let venues = venue_choices(state, user, venue_id.as_deref()).await?;
    let currency = event.categories.first().map_or("EUR", |category| category.currency.as_str());
    let mut categories: Vec<CategoryRow> = event
        .categories
        .iter()
        .enumerate()
        .map(|(index, category)| CategoryRow {
            index,
            name: category.name.clone(),
            price: price_input(category.price_cents),
            currency: category.currency.clone(),
            seated: category.kind == CategoryKind::Seated,
            capacity: if category.kind == CategoryKind::Seated {
                String::new()
            } else {
                category.capacity.to_string()
            },
            sections: category.sections.clone().unwrap_or_default(),
        })
        .collect();
    let draft = event.status == EventStatus::Draft;
    if draft {
        categories.extend(blank_rows(categories.len(), currency));
    }
    Ok(EventFormPage {
        chrome,
        title: format!("Edit: {}", event.name),
        action: format!("/organize/events/{}/edit", event.id),
        event_id: Some(event.id),
        status: event.status.as_str(),
        draft,
        name: event.name.clone(),
        description: event.description.clone(),
        city: event.city.clone(),
        starts_at: local_input(&event.starts_at),
        ends_at: local_input(&event.ends_at),
        sale_starts_at: event.sale_starts_at.as_deref().map(local_input).unwrap_or_default(),
        max_tickets_per_booking: event.max_tickets_per_booking.to_string(),
        venues,
        venue_chosen: venue_id.is_some(),
        categories,
        has_seated: event.venue_id.is_some()
            && event.categories.iter().any(|category| category.kind == CategoryKind::Seated),
        venue_id: event.venue_id.map(|id| id.to_string()).unwrap_or_default(),
        room: RoomFields::of(event.waiting_room.as_ref()),
        offer_minutes: event.waiting_list_offer_minutes.to_string(),
        static_codes: event.static_codes,
        problem,
        done,
    })
}

pub(crate) async fn load_event(
    state: &AppState,
    user: AuthUser,
    event_id: Uuid,
) -> Result<EventResponse, PageError> {
    let request = pb::GetEventRequest { event_id: event_id.to_string(), caller: Some(user.caller()) };
    let event = EventResponse::from_proto(state.events().get_event(request).await?.into_inner())?;
    if !(user.role == Role::Admin || event.organizer_id == user.user_id) {
        return Err(PageError(Error::new(Code::Forbidden, "only the event's organizer may manage it")));
    }
    Ok(event)
}

/// The event form as submitted: plain fields, and the category rows `category-<n>-<field>`.
struct EventForm {
    fields: Vec<(String, String)>,
}

impl EventForm {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_owned()
    }

    /// A time field: the UTC time the page's script wrote (`<name>`), or else the typed local
    /// value read as UTC (without script, the form says times are UTC).
    fn time(&self, name: &str) -> String {
        match self.get(name).filter(|value| !value.is_empty()) {
            Some(utc) => utc.to_owned(),
            None => match self.get(&format!("{name}_local")).filter(|value| !value.is_empty()) {
                Some(local) if local.len() == 16 => format!("{local}:00Z"),
                Some(local) => format!("{local}Z"),
                None => String::new(),
            },
        }
    }

    /// The numbers of the category rows sent (`category-<n>-<field>`), in order.
    fn category_indices(&self) -> Vec<usize> {
        let mut indices: Vec<usize> = self
            .fields
            .iter()
            .filter_map(|(key, _)| key.strip_prefix("category-")?.split_once('-')?.0.parse().ok())
            .collect();
        indices.sort_unstable();
        indices.dedup();
        indices
    }

    /// The sections ticked on category row `index` (a checkbox per section, all of one name).
    fn category_sections(&self, index: usize) -> Vec<String> {
        let name = format!("category-{index}-sections");
        self.fields.iter().filter(|(key, _)| *key == name).map(|(_, value)| value.clone()).collect()
    }

    fn categories(&self) -> Result<Vec<pb::NewCategory>, Error> {
        let mut categories = Vec::new();
        for index in self.category_indices() {
            let field = |name: &str| self.text(&format!("category-{index}-{name}"));
            let name = field("name");
            if name.trim().is_empty() {
                continue;
            }
            let label = format!("categories[{}]", categories.len());
            let price_cents = parse_price(&field("price"), &format!("{label}.price"))?;
            let kind = field("kind");
            if !matches!(kind.as_str(), "standing" | "seated" | "") {
                return Err(Error::validation(format!("{label}.kind: standing or seated")));
            }
            let layout = if kind == "seated" {
                pb::new_category::Layout::Seated(pb::SeatedSections {
                    sections: self.category_sections(index),
                })
            } else {
                let capacity = field("capacity").trim().parse().map_err(|_| {
                    Error::validation(format!("{label}.capacity: give the number of places (standing)"))
                })?;
                pb::new_category::Layout::Capacity(capacity)
            };
            categories.push(pb::NewCategory {
                name,
                price_cents,
                currency: field("currency"),
                layout: Some(layout),
            });
        }
        Ok(categories)
    }

    /// The waiting room as the form describes it: `None` when its box is not ticked.
    fn waiting_room(&self) -> Result<Option<pb::WaitingRoom>, Error> {
        if self.get("room_enabled").is_none() {
            return Ok(None);
        }
        let number = |name: &str, field: &str| {
            self.text(name)
                .trim()
                .parse::<u32>()
                .map_err(|_| Error::validation(format!("waiting_room.{field}: must be a whole number")))
        };
        let bits = self.text("room_proof_of_work_bits");
        Ok(Some(pb::WaitingRoom {
            opens_at: self.time("room_opens_at"),
            admissions_per_minute: number("room_admissions_per_minute", "admissions_per_minute")?,
            admission_minutes: number("room_admission_minutes", "admission_minutes")?,
            max_admitted: number("room_max_admitted", "max_admitted")?,
            proof_of_work_bits: if bits.trim().is_empty() {
                0
            } else {
                number("room_proof_of_work_bits", "proof_of_work_bits")?
            },
        }))
    }

    fn offer_minutes(&self) -> Result<Option<u32>, Error> {
        match self.get("waiting_list_offer_minutes").map(str::trim).filter(|value| !value.is_empty()) {
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| Error::validation("waiting_list_offer_minutes: must be a whole number")),
            None => Ok(None),
        }
    }

    fn max_tickets(&self) -> Result<Option<u32>, Error> {
        match self.get("max_tickets_per_booking").map(str::trim).filter(|value| !value.is_empty()) {
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| Error::validation("max_tickets_per_booking: must be a whole number")),
            None => Ok(None),
        }
    }
}

/// `POST /organize/events/new`: creates the draft and opens its editor.
pub async fn create_event(
    State(state): State<AppState>,
    OrganizerViewer { user, chrome }: OrganizerViewer,
    PageForm(fields): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let form = EventForm { fields };
    let result = async {
        let request = pb::CreateEventRequest {
            caller: Some(user.caller()),
            name: form.text("name"),
            description: form.text("description"),
            venue_id: non_empty(form.get("venue_id").map(str::to_owned)),
            city: form.text("city"),
            starts_at: form.time("starts_at"),
            ends_at: form.time("ends_at"),
            sale_starts_at: non_empty(Some(form.time("sale_starts_at"))),
            max_tickets_per_booking: form.max_tickets()?,
            categories: form.categories()?,
            waiting_room: form.waiting_room()?,
            waiting_list_offer_minutes: form.offer_minutes()?,
            static_codes: Some(form.get("static_codes").is_some()),
        };
        let event =
            state.events().create_event(request).await.map_err(|status| Error::from_status(&status))?;
        Ok::<_, Error>(event.into_inner().id)
    };
    match result.await {
        Ok(id) => {
            Ok(Redirect::to(&format!("/organize/events/{id}/edit?done=The+draft+is+saved")).into_response())
        }
        Err(error) => refused_form(&state, user, chrome, &form, None, error).await,
    }
}

/// `POST /organize/events/{id}/edit`.
pub async fn update_event(
    State(state): State<AppState>,
    OrganizerViewer { user, chrome }: OrganizerViewer,
    PageId(event_id): PageId,
    PageForm(fields): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let form = EventForm { fields };
    let event = load_event(&state, user, event_id).await?;
    let draft = event.status == EventStatus::Draft;
    let result = async {
        // A published event keeps its venue and categories: the form does not send them.
        let categories = if draft { Some(pb::CategoryList { categories: form.categories()? }) } else { None };
        let request = pb::UpdateEventRequest {
            caller: Some(user.caller()),
            event_id: event_id.to_string(),
            name: Some(form.text("name")),
            description: Some(form.text("description")),
            venue_id: if draft { Some(form.text("venue_id")) } else { None },
            city: Some(form.text("city")),
            starts_at: changed_time(form.time("starts_at"), Some(&event.starts_at)),
            ends_at: changed_time(form.time("ends_at"), Some(&event.ends_at)),
            sale_starts_at: changed_time(form.time("sale_starts_at"), event.sale_starts_at.as_deref()),
            max_tickets_per_booking: form.max_tickets()?,
            categories,
            waiting_room: Some(pb::WaitingRoomPatch { room: form.waiting_room()? }),
            waiting_list_offer_minutes: form.offer_minutes()?,
            static_codes: Some(form.get("static_codes").is_some()),
        };
        state.events().update_event(request).await.map_err(|status| Error::from_status(&status))?;
        Ok::<_, Error>(())
    };
    match result.await {
        Ok(()) => Ok(Redirect::to(&format!("/organize/events/{event_id}/edit?done=Saved")).into_response()),
        Err(error) => refused_form(&state, user, chrome, &form, Some(&event), error).await,
    }
}

/// The form again, as the organizer filled it, with the service's refusal above it.
async fn refused_form(
    state: &AppState,
    user: AuthUser,
    chrome: Chrome,
    form: &EventForm,
    event: Option<&EventResponse>,
    error: Error,
) -> Result<Response, PageError> {
    if !matches!(error.code, Code::ValidationFailed | Code::Conflict | Code::LimitExceeded) {
        return Err(PageError(error));
    }
    let venue_id = form.get("venue_id").filter(|id| !id.is_empty());
    let venues = venue_choices(state, user, venue_id).await?;
    let categories = form
        .category_indices()
        .into_iter()
        .map(|index| {
            let field = |name: &str| form.text(&format!("category-{index}-{name}"));
            CategoryRow {
                index,
                name: field("name"),
                price: field("price"),
                currency: field("currency"),
                seated: field("kind") == "seated",
                capacity: field("capacity"),
                sections: form.category_sections(index),
            }
        })
        .collect();
    let draft = event.is_none_or(|event| event.status == EventStatus::Draft);
    let page = EventFormPage {
        chrome,
        title: event.map_or_else(|| "New event".to_owned(), |event| format!("Edit: {}", event.name)),
        action: event.map_or_else(
            || "/organize/events/new".to_owned(),
            |event| format!("/organize/events/{}/edit", event.id),
        ),
        event_id: event.map(|event| event.id),
        status: event.map_or("draft", |event| event.status.as_str()),
        draft,
        name: form.text("name"),
        description: form.text("description"),
        city: form.text("city"),
        starts_at: local_input(&form.time("starts_at")),
        ends_at: local_input(&form.time("ends_at")),
        sale_starts_at: local_input(&form.time("sale_starts_at")),
        max_tickets_per_booking: form.text("max_tickets_per_booking"),
        venues,
        venue_chosen: venue_id.is_some(),
        categories,
        has_seated: false,
        venue_id: String::new(),
        room: RoomFields::typed(form),
        offer_minutes: form.text("waiting_list_offer_minutes"),
        static_codes: form.get("static_codes").is_some(),
        problem: Some(for_people(&error.detail)),
        done: None,
    };
    Ok(render_with_status(error.http_status(), &page))
}

// ---- Publish and cancel ----

struct SummaryLine {
    name: String,
    what: String,
    price: String,
}

#[derive(Template)]
#[template(path = "publish.html")]
struct PublishPage {
    chrome: Chrome,
    event_id: Uuid,
    name: String,
    starts_at: When,
    ends_at: When,
    sale: Option<When>,
    venue: Option<String>,
    /// Sections of the venue that no category sells.
    unsold: Vec<String>,
    lines: Vec<SummaryLine>,
    total_tickets: u64,
    max_tickets_per_booking: u32,
}

/// `GET /organize/events/{id}/publish`: what goes on sale, before it does.
pub async fn confirm_publish(
    State(state): State<AppState>,
    OrganizerViewer { user, chrome }: OrganizerViewer,
    PageId(event_id): PageId,
) -> Result<Response, PageError> {
    let event = load_event(&state, user, event_id).await?;
    if event.status != EventStatus::Draft {
        return Ok(Redirect::to(&format!("/organize/events/{event_id}")).into_response());
    }
    let venue = match event.venue_id {
        Some(venue_id) => {
            let venue =
                state.events().get_venue(pb::GetVenueRequest { venue_id: venue_id.to_string() }).await?;
            Some(venue.into_inner())
        }
        None => None,
    };
    // Sections no category sells stay empty: say so before it is too late to add them.
    let sold: Vec<&String> =
        event.categories.iter().flat_map(|category| category.sections.iter().flatten()).collect();
    let unsold = venue
        .iter()
        .flat_map(|venue| &venue.sections)
        .filter(|section| !sold.contains(&&section.name))
        .map(|section| {
            let seats: u32 = section.rows.iter().map(|row| row.seats).sum();
            format!("{} ({seats} seats)", section.name)
        })
        .collect();
    let lines = event
        .categories
        .iter()
        .map(|category| SummaryLine {
            name: category.name.clone(),
            what: match &category.sections {
                Some(sections) => format!("{} seats in {}", category.capacity, sections.join(", ")),
                None => format!("{} standing places", category.capacity),
            },
            price: money(category.price_cents, &category.currency),
        })
        .collect();
    Ok(render(&PublishPage {
        chrome,
        event_id,
        starts_at: When::parse(&event.starts_at),
        ends_at: When::parse(&event.ends_at),
        sale: event.sale_starts_at.as_deref().map(When::parse),
        venue: venue.map(|venue| venue.name),
        unsold,
        lines,
        total_tickets: event.categories.iter().map(|category| u64::from(category.capacity)).sum(),
        max_tickets_per_booking: event.max_tickets_per_booking,
        name: event.name,
    }))
}

/// `POST /organize/events/{id}/publish`.
pub async fn publish(
    State(state): State<AppState>,
    OrganizerViewer { user, .. }: OrganizerViewer,
    PageId(event_id): PageId,
) -> Result<Response, PageError> {
    let request = pb::PublishEventRequest { caller: Some(user.caller()), event_id: event_id.to_string() };
    state.events().publish_event(request).await?;
    Ok(Redirect::to(&format!("/organize/events/{event_id}?done=On+sale")).into_response())
}

/// How many bookings of the event are in `status`, counting at most a bound of pages.
/// What the event's bookings in `status` add up to, reading at most a bound of pages.
#[derive(Debug, Default)]
struct Tally {
    bookings: usize,
    tickets: u64,
    total_cents: i64,
    /// More bookings than were read: the figures are a floor.
    more: bool,
}

async fn tally(
    state: &AppState,
    user: AuthUser,
    event_id: Uuid,
    status: BookingStatus,
) -> Result<Tally, PageError> {
    let mut tally = Tally::default();
    let mut cursor = None;
    for _ in 0..COUNTED_BOOKINGS_PAGES {
        let request = booking_pb::ListEventBookingsRequest {
            caller: Some(user.caller()),
            event_id: event_id.to_string(),
            page: Some(PageRequest::new(PageSize::parse(Some(MAX_PAGE_SIZE))?, cursor)),
            status: Some(status.to_wire()),
        };
        let page = state.bookings().list_event_bookings(request).await?.into_inner();
        for booking in &page.items {
            tally.bookings += 1;
            tally.tickets += booking.items.iter().map(|item| u64::from(item.quantity)).sum::<u64>();
            tally.total_cents += booking.total_cents;
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(tally),
        }
    }
    tally.more = true;
    Ok(tally)
}

/// `GET /organize/events/{id}/cancel`: says what a cancellation refunds, before it does.
pub async fn confirm_cancel(
    State(state): State<AppState>,
    OrganizerViewer { user, chrome }: OrganizerViewer,
    PageId(event_id): PageId,
) -> Result<Response, PageError> {
    let event = load_event(&state, user, event_id).await?;
    if event.status == EventStatus::Cancelled {
        return Ok(Redirect::to(&format!("/organize/events/{event_id}")).into_response());
    }
    let question = if event.status == EventStatus::Draft {
        format!("{} was never on sale: it is taken off for good and nobody is refunded.", event.name)
    } else {
        let paid = tally(&state, user, event_id, BookingStatus::Confirmed).await?;
        let held = tally(&state, user, event_id, BookingStatus::Pending).await?;
        let currency = event.categories.first().map_or("EUR", |category| category.currency.as_str());
        let at_least = |more: bool| if more { "more than " } else { "" };
        let plural = |n: u64| if n == 1 { "" } else { "s" };
        format!(
            "{name} goes off sale for good. {a}{paid} paid booking{s} ({tickets} ticket{u}, {total}) will be \
             refunded in full and their tickets stop working, also for anyone already inside; {b}{held} \
             booking{t} waiting for payment will be released. This cannot be undone.",
            name = event.name,
            a = at_least(paid.more),
            paid = paid.bookings,
            s = plural(paid.bookings as u64),
            tickets = paid.tickets,
            u = plural(paid.tickets),
            total = money(paid.total_cents, currency),
            b = at_least(held.more),
            held = held.bookings,
            t = plural(held.bookings as u64),
        )
    };
    Ok(render(&ConfirmPage {
        chrome,
        title: format!("Cancel {}?", event.name),
        question,
        action: format!("/organize/events/{event_id}/cancel"),
        confirm: "Cancel the event and refund".to_owned(),
        back: format!("/organize/events/{event_id}"),
    }))
}

/// `POST /organize/events/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    OrganizerViewer { user, .. }: OrganizerViewer,
    PageId(event_id): PageId,
) -> Result<Response, PageError> {
    let request = pb::CancelEventRequest { caller: Some(user.caller()), event_id: event_id.to_string() };
    state.events().cancel_event(request).await?;
    Ok(Redirect::to(&format!(
        "/organize/events/{event_id}?done=Cancelled%3A+its+bookings+are+being+refunded"
    ))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_shown_to_the_minute_and_sent_back_unchanged_is_left_alone() {
        let stored = "2030-06-01T20:00:30Z";
        assert_eq!(changed_time("2030-06-01T20:00:00.000Z".to_owned(), Some(stored)), None);
        assert_eq!(
            changed_time("2030-06-01T20:01:00Z".to_owned(), Some(stored)).as_deref(),
            Some("2030-06-01T20:01:00Z")
        );
        assert_eq!(changed_time(String::new(), None), None);
        assert_eq!(changed_time(String::new(), Some(stored)).as_deref(), Some(""), "cleared");
        assert_eq!(
            changed_time("2030-06-01T20:00:00Z".to_owned(), None).as_deref(),
            Some("2030-06-01T20:00:00Z")
        );
    }

    #[test]
    fn prices_are_read_as_people_type_them() {
        assert_eq!(parse_price("45", "p").unwrap(), 4500);
        assert_eq!(parse_price("45.5", "p").unwrap(), 4550);
        assert_eq!(parse_price("45,50", "p").unwrap(), 4550);
        assert_eq!(parse_price(" 0.05 ", "p").unwrap(), 5);
        for refused in ["", "-1", "4.555", "1e3", "abc", "4.x", "99999999999999999999"] {
            assert!(parse_price(refused, "p").is_err(), "{refused}");
        }
        assert_eq!(price_input(4550), "45.50");
    }
}
