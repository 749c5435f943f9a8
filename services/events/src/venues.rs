//! Venues: an organizer creates one with its seat map, anyone reads it, and an event of the
//! same organizer (or of an admin) may take place in it. A venue never changes once created:
//! the seat ids of published events are derived from its map.

use boxoffice_errors::Error;
use boxoffice_types::Caller;
use uuid::Uuid;

use crate::domain::{parse_text, Layout, SectionLayout, ADDRESS_MAX_CHARS, CITY_MAX_CHARS, NAME_MAX_CHARS};
use crate::service::{now, require_organizer, Events};
use crate::store::VenueRecord;

/// A venue id as an organizer gives it in an event's `venue_id`.
pub(crate) fn parse_venue_id(text: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(text.trim()).map_err(|_| Error::validation("venue_id: must be a venue's id"))
}

impl Events {
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

    /// The seat map of the event's venue, if it has one.
    pub(crate) async fn layout_of(&self, venue_id: Option<Uuid>) -> Result<Option<Layout>, Error> {
        match venue_id {
            Some(venue_id) => Ok(Some(self.venue(venue_id).await?.layout)),
            None => Ok(None),
        }
    }

    /// The venue an event of `caller` may use: one of theirs (any, for an admin).
    pub(crate) async fn usable_venue(&self, caller: Caller, venue_id: Uuid) -> Result<VenueRecord, Error> {
        match self.store.venue(venue_id).await? {
            Some(venue) if caller.owns(venue.organizer_id) => Ok(venue),
            _ => Err(Error::validation("venue_id: no venue of yours has this id")),
        }
    }
}
