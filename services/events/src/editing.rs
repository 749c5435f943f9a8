//! What an organizer writes of an event: creating a draft, patching it (also once published,
//! within limits), and deleting a draft.
//!
//! Every field is parsed with the rules of [`crate::domain`]; a patch is applied to the stored
//! event and the whole result checked again (the schedule, the categories against the venue),
//! inside the read-modify-write loop of `Events::modify`, so that concurrent patches all land.

use boxoffice_errors::{Code, Error};
use boxoffice_types::limits::events::{
    DEFAULT_WAITING_LIST_OFFER_MINUTES, MAX_WAITING_LIST_OFFER_MINUTES, MIN_WAITING_LIST_OFFER_MINUTES,
};
use boxoffice_types::Caller;
use uuid::Uuid;

use crate::domain::{
    check_schedule, check_start_is_ahead, parse_categories, parse_max_tickets, parse_optional_text,
    parse_text, parse_time, EventStatus, NewCategory, NewWaitingRoom, WaitingRoom, CITY_MAX_CHARS,
    DESCRIPTION_MAX_CHARS, NAME_MAX_CHARS,
};
use crate::service::{now, require_organizer, Events};
use crate::store::EventRecord;
use crate::venues::parse_venue_id;

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
    pub waiting_room: Option<NewWaitingRoom>,
    /// Default [`DEFAULT_WAITING_LIST_OFFER_MINUTES`]; 0: no waiting list.
    pub waiting_list_offer_minutes: Option<u32>,
    /// Default true.
    pub static_codes: Option<bool>,
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
    /// `Some(None)` removes the waiting room.
    pub waiting_room: Option<Option<NewWaitingRoom>>,
    pub waiting_list_offer_minutes: Option<u32>,
    pub static_codes: Option<bool>,
}

impl Events {
    /// Creates a draft of `caller`'s. Its start must be ahead: an event is never created in the
    /// past.
    pub async fn create_event(&self, caller: Caller, new: NewEvent) -> Result<EventRecord, Error> {
        require_organizer(caller)?;
        let now = now();
        let name = parse_text(&new.name, "name", NAME_MAX_CHARS)?;
        let description = parse_optional_text(&new.description, "description", DESCRIPTION_MAX_CHARS)?;
        let city = parse_text(&new.city, "city", CITY_MAX_CHARS)?;
        let starts_at = parse_time(&new.starts_at, "starts_at")?;
        check_start_is_ahead(starts_at, now)?;
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
        let waiting_room =
            new.waiting_room.map(|room| WaitingRoom::parse(room, sale_starts_at)).transpose()?;
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
            waiting_room,
            waiting_list_offer_minutes: parse_offer_minutes(
                new.waiting_list_offer_minutes.unwrap_or(DEFAULT_WAITING_LIST_OFFER_MINUTES),
            )?,
            static_codes: new.static_codes.unwrap_or(true),
        };
        self.store.insert_event(&event).await?;
        tracing::info!(event_id = %event.id, "event created");
        Ok(event)
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
            let starts_at = parse_time(starts_at, "starts_at")?;
            // Only a start that moves must be ahead. An event that has begun keeps its start,
            // and its organizer must still be able to rename it, correct its description or
            // extend its end while it runs, also with a client that sends the whole form back,
            // its start unchanged. What is refused is moving a start into the past, as creating
            // an event there is.
            if starts_at != event.starts_at {
                check_start_is_ahead(starts_at, now())?;
            }
            event.starts_at = starts_at;
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
        if let Some(minutes) = patch.waiting_list_offer_minutes {
            event.waiting_list_offer_minutes = parse_offer_minutes(minutes)?;
        }
        if let Some(static_codes) = patch.static_codes {
            event.static_codes = static_codes;
        }
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
            let layout = self.layout_of(event.venue_id).await?;
            let categories = patch
                .categories
                .unwrap_or_else(|| event.categories.iter().map(NewCategory::from_category).collect());
            event.categories = parse_categories(categories, layout.as_ref())?;
        }
        // A waiting room follows the sale start it is checked against: a new room, or the one
        // kept, is checked again after the schedule changed.
        let room = match patch.waiting_room {
            Some(room) => room,
            None => event.waiting_room.as_ref().map(WaitingRoom::described),
        };
        event.waiting_room = room.map(|room| WaitingRoom::parse(room, event.sale_starts_at)).transpose()?;
        Ok(())
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
        self.cache.forget(event_id).await
    }
}

/// How long a waiting-list offer lasts: 0 (no waiting list), or within the limits.
fn parse_offer_minutes(minutes: u32) -> Result<u32, Error> {
    if minutes == 0 || (MIN_WAITING_LIST_OFFER_MINUTES..=MAX_WAITING_LIST_OFFER_MINUTES).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(Error::validation(format!(
            "waiting_list_offer_minutes: must be 0 (no waiting list) or {MIN_WAITING_LIST_OFFER_MINUTES} to \
             {MAX_WAITING_LIST_OFFER_MINUTES}"
        )))
    }
}
