//! What the events service does, independent of how it is called: who may do what to venues
//! and events, in which status, and the cache in front of public reads.

use std::sync::Arc;
use std::time::Duration;

use boxoffice_errors::{Code, Error};
use boxoffice_kv::Kv;
use boxoffice_types::limits::PageSize;
use boxoffice_types::Caller;
use chrono::{DateTime, SubsecRound as _, Utc};
use uuid::Uuid;

use crate::domain::{
    check_schedule, parse_categories, parse_filter, parse_max_tickets, parse_optional_text, parse_text,
    parse_time, Category, EventStatus, Layout, NewCategory, NewPlacement, Placement, SectionLayout,
    ADDRESS_MAX_CHARS, CITY_MAX_CHARS, DESCRIPTION_MAX_CHARS, NAME_MAX_CHARS,
};
use crate::sales::Sales;
use crate::store::{concurrent_update, EventRecord, EventStore, ListQuery, VenueRecord};

/// How long a public event stays in the cache. Every change deletes the entry at once; the
/// expiry only bounds how long a read that raced a change can serve the older copy.
pub const EVENT_CACHE_TTL: Duration = Duration::from_secs(30);
/// Attempts of a read-modify-write update that keeps losing to concurrent updates; between
/// attempts it waits a little longer each time, so a burst of patches to one event all land.
const UPDATE_ATTEMPTS: u32 = 12;
const UPDATE_BACKOFF: Duration = Duration::from_millis(5);
const SEARCH_MAX_CHARS: usize = 200;

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Venues and events are made by organizers and admins.
fn require_organizer(caller: Caller) -> Result<(), Error> {
    if caller.is_organizer() {
        Ok(())
    } else {
        Err(Error::new(Code::Forbidden, "only organizers and admins may do this"))
    }
}

/// A new event's fields, not yet parsed.
#[derive(Clone, Debug, Default)]
pub struct NewEvent {
    pub name: String,
    pub description: String,
    pub venue_id: Option<String>,
    pub city: String,
    pub starts_at: String,
    pub ends_at: String,
    pub sale_starts_at: Option<String>,
    pub max_tickets_per_booking: Option<u32>,
    pub categories: Vec<NewCategory>,
}

/// A patch: `None` leaves a field as it is; for `venue_id` and `sale_starts_at`, an empty string
/// clears it.
#[derive(Clone, Debug, Default)]
pub struct EventPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub venue_id: Option<String>,
    pub city: Option<String>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub sale_starts_at: Option<String>,
    pub max_tickets_per_booking: Option<u32>,
    pub categories: Option<Vec<NewCategory>>,
}

/// A listing request, not yet parsed.
#[derive(Clone, Debug)]
pub struct ListRequest {
    pub q: Option<String>,
    pub city: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: PageSize,
    pub cursor: Option<String>,
    pub mine: bool,
}

/// The units of one category, as the bookings service sells them.
pub struct CategoryUnits {
    pub category_id: Uuid,
    pub capacity: u32,
    /// Empty for general admission, whose units are numbered rather than listed.
    pub seat_ids: Vec<String>,
}

#[derive(Clone)]
pub struct Events {
    store: Arc<dyn EventStore>,
    kv: Kv,
    /// The bookings service: loads a published event's inventory, refunds a cancelled one's
    /// bookings.
    sales: Arc<dyn Sales>,
}

/// The current time as the databases store it: to the microsecond, so that what a request
/// answers equals what a later read returns.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn event_not_found() -> Error {
    Error::not_found("event")
}

fn cache_key(event_id: Uuid) -> String {
    format!("event:{event_id}")
}

fn parse_venue_id(text: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(text.trim()).map_err(|_| Error::validation("venue_id: must be a venue's id"))
}

impl Events {
    pub fn new(store: Arc<dyn EventStore>, kv: Kv, sales: Arc<dyn Sales>) -> Self {
        Events { store, kv, sales }
    }

    pub async fn create_venue(
        &self,
        caller: Caller,
        name: &str,
        city: &str,
        address: &str,
        sections: Vec<SectionLayout>,
    ) -> Result<VenueRecord, Error> {
        require_organizer(caller)?;
        let venue = VenueRecord {
            id: Uuid::now_v7(),
            organizer_id: caller.user_id,
            name: parse_text(name, "name", NAME_MAX_CHARS)?,
            city: parse_text(city, "city", CITY_MAX_CHARS)?,
            address: parse_text(address, "address", ADDRESS_MAX_CHARS)?,
            layout: Layout::parse(sections)?,
            created_at: now(),
        };
        self.store.insert_venue(&venue).await?;
        tracing::info!(venue_id = %venue.id, seats = venue.layout.capacity(), "venue created");
        Ok(venue)
    }

    pub async fn venue(&self, venue_id: Uuid) -> Result<VenueRecord, Error> {
        self.store.venue(venue_id).await?.ok_or_else(|| Error::not_found("venue"))
    }

    /// The venue an event of `caller` may use: one of theirs (any, for an admin).
    async fn usable_venue(&self, caller: Caller, venue_id: Uuid) -> Result<VenueRecord, Error> {
        match self.store.venue(venue_id).await? {
            Some(venue) if caller.owns(venue.organizer_id) => Ok(venue),
            _ => Err(Error::validation("venue_id: no venue of yours has this id")),
        }
    }

    pub async fn create_event(&self, caller: Caller, new: NewEvent) -> Result<EventRecord, Error> {
        require_organizer(caller)?;
        let name = parse_text(&new.name, "name", NAME_MAX_CHARS)?;
        let description = parse_optional_text(&new.description, "description", DESCRIPTION_MAX_CHARS)?;
        let city = parse_text(&new.city, "city", CITY_MAX_CHARS)?;
        let starts_at = parse_time(&new.starts_at, "starts_at")?;
        let ends_at = parse_time(&new.ends_at, "ends_at")?;
        let sale_starts_at =
            new.sale_starts_at.as_deref().map(|time| parse_time(time, "sale_starts_at")).transpose()?;
        check_schedule(starts_at, ends_at, sale_starts_at)?;
        let max_tickets_per_booking = parse_max_tickets(new.max_tickets_per_booking)?;
        let venue = match new.venue_id.as_deref().filter(|id| !id.trim().is_empty()) {
            Some(id) => Some(self.usable_venue(caller, parse_venue_id(id)?).await?),
            None => None,
        };
        let categories = parse_categories(new.categories, venue.as_ref().map(|venue| &venue.layout))?;
        let now = now();
        let event = EventRecord {
            id: Uuid::now_v7(),
            organizer_id: caller.user_id,
            venue_id: venue.map(|venue| venue.id),
            name,
            description,
            city,
            starts_at,
            ends_at,
            sale_starts_at,
            status: EventStatus::Draft,
            max_tickets_per_booking,
            categories,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        self.store.insert_event(&event).await?;
        tracing::info!(event_id = %event.id, "event created");
        Ok(event)
    }

    /// The event if `caller` may see it: published events are public, the rest only for their
    /// organizer and admins. Public reads come from the cache.
    pub async fn event(&self, caller: Option<Caller>, event_id: Uuid) -> Result<EventRecord, Error> {
        if let Some(event) = self.cached(event_id).await {
            return Ok(event);
        }
        let event = self.store.event(event_id).await?.ok_or_else(event_not_found)?;
        if event.status == EventStatus::Published {
            self.cache(&event).await;
            return Ok(event);
        }
        match caller {
            Some(caller) if caller.owns(event.organizer_id) => Ok(event),
            _ => Err(event_not_found()),
        }
    }

    async fn cached(&self, event_id: Uuid) -> Option<EventRecord> {
        // The cache is an optimisation: when it fails, the database answers.
        let text = self.kv.get(&cache_key(event_id)).await.ok().flatten()?;
        serde_json::from_str(&text).ok()
    }

    async fn cache(&self, event: &EventRecord) {
        let Ok(text) = serde_json::to_string(event) else {
            return;
        };
        if let Err(error) = self.kv.set_ex(&cache_key(event.id), &text, EVENT_CACHE_TTL).await {
            tracing::warn!(error = %error, "caching an event fails");
        }
    }

    /// Drops the cached copy after a change; a failure here would serve stale data, so it fails
    /// the request.
    async fn forget(&self, event_id: Uuid) -> Result<(), Error> {
        self.kv.delete(&cache_key(event_id)).await.map_err(|error| Error::unavailable(format!("{error:#}")))
    }

    /// Reads the event for a change by `caller`. Others get 403 for an event the public can see
    /// (its existence is no secret) and 404 for one it cannot.
    async fn event_to_change(&self, caller: Caller, event_id: Uuid) -> Result<EventRecord, Error> {
        let event = self.store.event(event_id).await?.ok_or_else(event_not_found)?;
        if caller.owns(event.organizer_id) {
            return Ok(event);
        }
        match event.status {
            EventStatus::Published => {
                Err(Error::new(Code::Forbidden, "only the event's organizer may change it"))
            }
            EventStatus::Draft | EventStatus::Cancelled => Err(event_not_found()),
        }
    }

    /// Applies `change` to the stored event and writes it back, retrying when another update
    /// wins the race, so that no change is lost or applied to a stale status.
    async fn modify<F>(&self, caller: Caller, event_id: Uuid, change: F) -> Result<EventRecord, Error>
    where
        F: for<'a> Fn(&'a mut EventRecord) -> BoxFuture<'a, Result<bool, Error>> + Send + Sync,
    {
        for attempt in 0..UPDATE_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(UPDATE_BACKOFF * attempt).await;
            }
            let mut event = self.event_to_change(caller, event_id).await?;
            if !change(&mut event).await? {
                return Ok(event);
            }
            event.updated_at = now();
            if self.store.update_event(&event).await? {
                self.forget(event_id).await?;
                event.version += 1;
                return Ok(event);
            }
        }
        Err(concurrent_update())
    }

    pub async fn update_event(
        &self,
        caller: Caller,
        event_id: Uuid,
        patch: EventPatch,
    ) -> Result<EventRecord, Error> {
        let this = self.clone();
        self.modify(caller, event_id, move |event| {
            let patch = patch.clone();
            let this = this.clone();
            Box::pin(async move {
                this.apply_patch(caller, event, patch).await?;
                Ok(true)
            })
        })
        .await
    }

    async fn apply_patch(
        &self,
        caller: Caller,
        event: &mut EventRecord,
        patch: EventPatch,
    ) -> Result<(), Error> {
        match event.status {
            EventStatus::Cancelled => {
                return Err(Error::new(Code::Conflict, "a cancelled event cannot change"))
            }
            EventStatus::Published if patch.venue_id.is_some() || patch.categories.is_some() => {
                return Err(Error::new(
                    Code::Conflict,
                    "venue_id and categories are frozen once the event is published",
                ));
            }
            _ => {}
        }
        if let Some(name) = &patch.name {
            event.name = parse_text(name, "name", NAME_MAX_CHARS)?;
        }
        if let Some(description) = &patch.description {
            event.description = parse_optional_text(description, "description", DESCRIPTION_MAX_CHARS)?;
        }
        if let Some(city) = &patch.city {
            event.city = parse_text(city, "city", CITY_MAX_CHARS)?;
        }
        if let Some(starts_at) = &patch.starts_at {
            event.starts_at = parse_time(starts_at, "starts_at")?;
        }
        if let Some(ends_at) = &patch.ends_at {
            event.ends_at = parse_time(ends_at, "ends_at")?;
        }
        if let Some(sale_starts_at) = &patch.sale_starts_at {
            event.sale_starts_at = match sale_starts_at.trim() {
                "" => None,
                time => Some(parse_time(time, "sale_starts_at")?),
            };
        }
        check_schedule(event.starts_at, event.ends_at, event.sale_starts_at)?;
        if let Some(max) = patch.max_tickets_per_booking {
            event.max_tickets_per_booking = parse_max_tickets(Some(max))?;
        }
        let venue_changes = patch.venue_id.is_some();
        if let Some(venue_id) = &patch.venue_id {
            event.venue_id = match venue_id.trim() {
                "" => None,
                id => Some(self.usable_venue(caller, parse_venue_id(id)?).await?.id),
            };
        }
        if venue_changes || patch.categories.is_some() {
            let layout = match event.venue_id {
                Some(venue_id) => Some(self.venue(venue_id).await?.layout),
                None => None,
            };
            let categories = patch.categories.unwrap_or_else(|| as_new_categories(&event.categories));
            event.categories = parse_categories(categories, layout.as_ref())?;
        }
        Ok(())
    }

    /// Puts a draft on sale. Its categories and seats are frozen from now on: they are the
    /// inventory the bookings service sells.
    pub async fn publish(&self, caller: Caller, event_id: Uuid) -> Result<EventRecord, Error> {
        let event = self
            .modify(caller, event_id, |event| {
                Box::pin(async move {
                    match event.status {
                        EventStatus::Published => Ok(false),
                        EventStatus::Cancelled => {
                            Err(Error::new(Code::Conflict, "a cancelled event cannot be published"))
                        }
                        EventStatus::Draft if event.ends_at <= Utc::now() => {
                            Err(Error::new(Code::Conflict, "the event is over; it cannot be published"))
                        }
                        EventStatus::Draft => {
                            event.status = EventStatus::Published;
                            Ok(true)
                        }
                    }
                })
            })
            .await?;
        // Loading the inventory now spares the first buyers of an on-sale the wait. It is only
        // a head start: the bookings service loads it on first use anyway, so a failure here
        // does not fail the publication.
        if let Err(error) = self.sales.load_inventory(event_id).await {
            tracing::warn!(%event_id, %error, "loading the inventory of a published event fails; it loads on first use");
        }
        Ok(event)
    }

    /// Takes the event off sale for good and refunds its bookings. Cancelling again repeats
    /// the refunds, so a retry after a partial failure completes them.
    pub async fn cancel(&self, caller: Caller, event_id: Uuid) -> Result<EventRecord, Error> {
        let event = self
            .modify(caller, event_id, |event| {
                Box::pin(async move {
                    if event.status == EventStatus::Cancelled {
                        return Ok(false);
                    }
                    event.status = EventStatus::Cancelled;
                    Ok(true)
                })
            })
            .await?;
        self.sales.cancel_event_bookings(event_id).await?;
        Ok(event)
    }

    /// Deletes a draft. A published event may have bookings, so it is cancelled instead.
    pub async fn delete(&self, caller: Caller, event_id: Uuid) -> Result<(), Error> {
        let event = self.event_to_change(caller, event_id).await?;
        if event.status != EventStatus::Draft || !self.store.delete_draft(event_id).await? {
            return Err(Error::new(
                Code::Conflict,
                "only drafts can be deleted; cancel a published event instead",
            ));
        }
        self.forget(event_id).await
    }

    /// A page of events and the cursor of the next one.
    pub async fn list(
        &self,
        caller: Option<Caller>,
        request: ListRequest,
    ) -> Result<(Vec<EventRecord>, Option<String>), Error> {
        let limit = request.limit.get();
        let organizer_id = match (request.mine, caller) {
            (false, _) => None,
            (true, Some(caller)) => Some(caller.user_id),
            (true, None) => return Err(Error::unauthorized("listing your own events needs an access token")),
        };
        let query = ListQuery {
            text: parse_filter(request.q.as_deref(), "q", SEARCH_MAX_CHARS)?,
            city: parse_filter(request.city.as_deref(), "city", CITY_MAX_CHARS)?,
            from: request.from.as_deref().map(|from| parse_time(from, "from")).transpose()?,
            to: request.to.as_deref().map(|to| parse_time(to, "to")).transpose()?,
            after: request.cursor.as_deref().map(decode_cursor).transpose()?,
            organizer_id,
            limit: limit + 1,
        };
        let mut events = self.store.list_events(&query).await?;
        let next_cursor = if events.len() > limit as usize {
            events.truncate(limit as usize);
            events.last().map(|last| boxoffice_db::cursor::encode((last.starts_at, last.id)))
        } else {
            None
        };
        Ok((events, next_cursor))
    }

    /// The event, for the bookings service, and, `with_units`, every unit it sells (every seat id
    /// of a seated category).
    pub async fn inventory(
        &self,
        event_id: Uuid,
        with_units: bool,
    ) -> Result<(EventRecord, Vec<CategoryUnits>), Error> {
        let event = self.store.event(event_id).await?.ok_or_else(event_not_found)?;
        if !with_units {
            return Ok((event, Vec::new()));
        }
        let layout = match event.venue_id {
            Some(venue_id) => Some(self.venue(venue_id).await?.layout),
            None => None,
        };
        let units = event
            .categories
            .iter()
            .map(|category| {
                let seat_ids = match (&category.placement, &layout) {
                    (Placement::Seated { sections }, Some(layout)) => sections
                        .iter()
                        .filter_map(|name| layout.section(name))
                        .flat_map(SectionLayout::seat_ids)
                        .collect(),
                    _ => Vec::new(),
                };
                CategoryUnits { category_id: category.id, capacity: category.capacity, seat_ids }
            })
            .collect();
        Ok((event, units))
    }

    pub async fn check_ready(&self) -> Result<(), Error> {
        self.store.ping().await?;
        self.kv.ping().await.map_err(|error| Error::unavailable(format!("{error:#}")))
    }
}

fn as_new_categories(categories: &[Category]) -> Vec<NewCategory> {
    categories
        .iter()
        .map(|category| NewCategory {
            name: category.name.clone(),
            price_cents: category.price_cents,
            currency: category.currency.clone(),
            placement: match &category.placement {
                Placement::GeneralAdmission => NewPlacement::Capacity(category.capacity),
                Placement::Seated { sections } => NewPlacement::Sections(sections.clone()),
            },
        })
        .collect()
}

fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, Uuid), Error> {
    boxoffice_db::cursor::decode(cursor)
        .ok_or_else(|| Error::validation("cursor: not a cursor this API gave out"))
}
