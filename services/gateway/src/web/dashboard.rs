//! The organizer's live sales dashboard of one event: sold, held, available, revenue and
//! check-ins per category, holds and sales per minute, the seat map coloured by status, and the
//! event's bookings with a search and a CSV export of its attendees.
//!
//! The page is rendered with the figures of the moment; `dashboard.js` keeps them live from the
//! stats stream (`/api/v1/events/{id}/stats/stream`), and the seat map (`seatmap.js` in its
//! read-only mode) from the same availability stream as the buyers' page.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use boxoffice_errors::Error;
use boxoffice_proto::booking as booking_pb;
use boxoffice_proto::common::PageRequest;
use boxoffice_types::limits::{PageSize, MAX_PAGE_SIZE};
use boxoffice_types::{BookingStatus, CategoryKind, EventStatus};
use serde::Deserialize;
use uuid::Uuid;

use crate::routes::bookings::dto::{BookingPage, BookingResponse};
use crate::routes::sales::EventStatsResponse;
use crate::web::event_editor::load_event;
use crate::web::organize::OrganizerViewer;
use crate::web::page::{money, render, Chrome, Notice, PageError, PageId, PageQuery, When};
use crate::AppState;

/// Bookings shown per page of the list.
const BOOKINGS_PER_PAGE: u32 = 20;
/// A search reads at most this many of the newest bookings.
const SEARCHED_BOOKINGS: usize = 500;

struct StatsRow {
    id: String,
    name: String,
    sold: u64,
    held: u64,
    available: u64,
    revenue: String,
    checked_in: u64,
    waiting: u64,
}

struct MinuteRow {
    at: When,
    holds: u32,
    sales: u32,
}

struct BookingLine {
    id: Uuid,
    short_id: String,
    status: &'static str,
    buyer: String,
    tickets: usize,
    seats: String,
    total: String,
    created_at: When,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    event_id: Uuid,
    name: String,
    status: &'static str,
    published: bool,
    draft: bool,
    cancelled: bool,
    starts_at: When,
    currency: String,
    rows: Vec<StatsRow>,
    total: StatsRow,
    minutes: Vec<MinuteRow>,
    seated: bool,
    venue_id: Option<Uuid>,
    bookings: Vec<BookingLine>,
    q: String,
    status_filter: String,
    next_cursor: Option<String>,
    searched: bool,
    done: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DashboardQuery {
    pub q: Option<String>,
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub done: Option<String>,
}

/// `GET /organize/events/{id}`.
pub async fn dashboard(
    State(state): State<AppState>,
    OrganizerViewer { user, chrome }: OrganizerViewer,
    PageId(event_id): PageId,
    PageQuery(query): PageQuery<DashboardQuery>,
) -> Result<Response, PageError> {
    let event = load_event(&state, user, event_id).await?;
    let request =
        booking_pb::GetEventStatsRequest { caller: Some(user.caller()), event_id: event_id.to_string() };
    let stats =
        EventStatsResponse::from_proto(state.bookings().get_event_stats(request).await?.into_inner())?;
    let currency = stats
        .currency
        .clone()
        .or_else(|| event.categories.first().map(|category| category.currency.clone()))
        .unwrap_or_else(|| "EUR".to_owned());
    let names: HashMap<&str, &str> =
        event.categories.iter().map(|category| (category.id.as_str(), category.name.as_str())).collect();
    let rows = stats
        .categories
        .iter()
        .map(|category| StatsRow {
            id: category.category_id.clone(),
            name: names.get(category.category_id.as_str()).copied().unwrap_or("?").to_owned(),
            sold: category.sold,
            held: category.held,
            available: category.available,
            revenue: money(category.revenue_cents, &currency),
            checked_in: category.checked_in,
            waiting: category.waiting,
        })
        .collect();
    let total = StatsRow {
        id: "total".to_owned(),
        name: "Total".to_owned(),
        sold: stats.sold,
        held: stats.held,
        available: stats.available,
        revenue: money(stats.revenue_cents, &currency),
        checked_in: stats.checked_in,
        waiting: stats.waiting,
    };
    let minutes = minutes(&stats);

    let status_filter = query.status.clone().filter(|status| !status.is_empty());
    let status = status_filter
        .as_deref()
        .map(|text| {
            BookingStatus::parse(text).ok_or_else(|| Error::validation("status: not a booking status"))
        })
        .transpose()?;
    let q = query.q.clone().unwrap_or_default();
    let (bookings, next_cursor) = if q.trim().is_empty() {
        let page =
            bookings_page(&state, &user, event_id, status, query.cursor.clone(), BOOKINGS_PER_PAGE).await?;
        (page.items, page.next_cursor)
    } else {
        (search(&state, &user, event_id, status, q.trim()).await?, None)
    };
    let buyers = buyers(&state, &bookings).await?;
    let bookings = bookings
        .into_iter()
        .map(|booking| BookingLine {
            // The end of a UUIDv7 is random; its start is the time, alike for a minute's bookings.
            short_id: booking.id.simple().to_string()[24..].to_owned(),
            status: booking.status.as_str(),
            buyer: buyers.get(&booking.user_id).cloned().unwrap_or_else(|| "(account deleted)".to_owned()),
            tickets: booking.items.iter().map(|item| item.quantity as usize).sum(),
            seats: booking.seats.join(", "),
            total: money(booking.total_cents, &booking.currency),
            created_at: When::parse(&booking.created_at),
            id: booking.id,
        })
        .collect();
    let notice = Notice { done: query.done };
    Ok(render(&DashboardPage {
        chrome,
        event_id,
        status: event.status.as_str(),
        published: event.status == EventStatus::Published,
        draft: event.status == EventStatus::Draft,
        cancelled: event.status == EventStatus::Cancelled,
        starts_at: When::parse(&event.starts_at),
        seated: event.categories.iter().any(|category| category.kind == CategoryKind::Seated),
        venue_id: event.venue_id,
        name: event.name,
        currency,
        rows,
        total,
        minutes,
        bookings,
        searched: !q.trim().is_empty(),
        q,
        status_filter: status_filter.unwrap_or_default(),
        next_cursor,
        done: notice.done,
    }))
}

/// The chart's buckets as a table, newest first.
fn minutes(stats: &EventStatsResponse) -> Vec<MinuteRow> {
    let activity = &stats.activity;
    let Ok(until) = chrono::DateTime::parse_from_rfc3339(&activity.until) else { return Vec::new() };
    let count = activity.holds.len();
    let bucket = chrono::Duration::seconds(i64::from(activity.bucket_seconds));
    (0..count)
        .rev()
        .map(|index| {
            let steps = i32::try_from(count - index).unwrap_or(i32::MAX);
            let start = until - bucket * steps;
            MinuteRow {
                at: When::parse(&start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                holds: activity.holds[index],
                sales: activity.sales.get(index).copied().unwrap_or(0),
            }
        })
        .collect()
}

async fn bookings_page(
    state: &AppState,
    user: &crate::auth::AuthUser,
    event_id: Uuid,
    status: Option<BookingStatus>,
    cursor: Option<String>,
    limit: u32,
) -> Result<BookingPage, PageError> {
    use boxoffice_proto::WireEnum as _;
    let request = booking_pb::ListEventBookingsRequest {
        caller: Some(user.caller()),
        event_id: event_id.to_string(),
        page: Some(PageRequest::new(
            PageSize::parse(Some(limit))?,
            cursor.filter(|cursor| !cursor.is_empty()),
        )),
        status: status.map(BookingStatus::to_wire),
    };
    let page = state.bookings().list_event_bookings(request).await?.into_inner();
    Ok(BookingPage::from_proto(page)?)
}

/// The newest bookings whose id, seat or buyer (email or name) contains `q`, case-insensitively.
async fn search(
    state: &AppState,
    user: &crate::auth::AuthUser,
    event_id: Uuid,
    status: Option<BookingStatus>,
    q: &str,
) -> Result<Vec<BookingResponse>, PageError> {
    let q = q.to_lowercase();
    let mut scanned = Vec::new();
    let mut cursor = None;
    while scanned.len() < SEARCHED_BOOKINGS {
        let page = bookings_page(state, user, event_id, status, cursor, MAX_PAGE_SIZE).await?;
        scanned.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let buyers = buyers(state, &scanned).await?;
    Ok(scanned
        .into_iter()
        .filter(|booking| {
            booking.id.to_string().contains(&q)
                || booking.seats.iter().any(|seat| seat.to_lowercase().contains(&q))
                || buyers.get(&booking.user_id).is_some_and(|buyer| buyer.to_lowercase().contains(&q))
        })
        .collect())
}

/// "Ada Lovelace <ada@example.com>" for each buyer of these bookings.
async fn buyers(state: &AppState, bookings: &[BookingResponse]) -> Result<HashMap<Uuid, String>, PageError> {
    let ids = bookings.iter().map(|booking| booking.user_id.to_string());
    let accounts = crate::routes::attendees::accounts(state, ids).await?;
    Ok(bookings
        .iter()
        .filter_map(|booking| {
            let user = accounts.get(&booking.user_id.to_string())?.as_ref()?;
            Some((booking.user_id, format!("{} {} <{}>", user.first_name, user.last_name, user.email)))
        })
        .collect())
}
