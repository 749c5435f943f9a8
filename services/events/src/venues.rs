//! Venues: an organizer creates one with its seat map, anyone reads it, and an event of the
//! same organizer (or of an admin) may take place in it. Its organizer may edit it; its seats
//! (section names, row labels, seat counts) only until an event in it is published, since the
//! seat ids of published events are derived from its map: the publication locks them in the
//! same transaction (`VenueLock`), and an edit of the seats commits only while they are unlocked.

use boxoffice_errors::{Code, Error};
use boxoffice_types::limits::PageSize;
use boxoffice_types::Caller;
use uuid::Uuid;

use crate::domain::{
    parse_categories, parse_text, EventStatus, Layout, NewCategory, SectionLayout, ADDRESS_MAX_CHARS,
    CITY_MAX_CHARS, NAME_MAX_CHARS,
};
use crate::service::{now, require_organizer, Events};
use crate::store::VenueRecord;

/// What an organizer describes of a venue, checked: the same rules for a new venue and an edit.
struct VenueFields {
    name: String,
    city: String,
    address: String,
    layout: Layout,
}

impl VenueFields {
    fn parse(name: &str, city: &str, address: &str, sections: Vec<SectionLayout>) -> Result<Self, Error> {
        Ok(VenueFields {
            name: parse_text(name, "name", NAME_MAX_CHARS)?,
            city: parse_text(city, "city", CITY_MAX_CHARS)?,
            address: parse_text(address, "address", ADDRESS_MAX_CHARS)?,
            layout: Layout::parse(sections)?,
        })
    }
}

/// Edits that keep losing to concurrent edits of the same venue give up after this many tries.
const VENUE_UPDATE_ATTEMPTS: u32 = 5;

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
        let VenueFields { name, city, address, layout } = VenueFields::parse(name, city, address, sections)?;
        let venue = VenueRecord {
            id: Uuid::now_v7(),
            organizer_id: caller.user_id,
            name,
            city,
            address,
            layout,
            created_at: now(),
            version: 0,
            seats_locked: false,
        };
        self.store.insert_venue(&venue).await?;
        tracing::info!(venue_id = %venue.id, seats = venue.layout.capacity(), "venue created");
        Ok(venue)
    }

    /// Replaces the venue's name, address and map. Concurrent edits: the last one wins, whole,
    /// never a mix of two.
    pub async fn update_venue(
        &self,
        caller: Caller,
        venue_id: Uuid,
        name: &str,
        city: &str,
        address: &str,
        sections: Vec<SectionLayout>,
    ) -> Result<VenueRecord, Error> {
        require_organizer(caller)?;
        let VenueFields { name, city, address, layout } = VenueFields::parse(name, city, address, sections)?;
        for _ in 0..VENUE_UPDATE_ATTEMPTS {
            let stored = match self.store.venue(venue_id).await? {
                Some(venue) if caller.owns(venue.organizer_id) => venue,
                _ => return Err(Error::not_found("venue")),
            };
            let seats_change = !stored.layout.same_seats(&layout);
            if seats_change && stored.seats_locked {
                return Err(self.seats_locked(venue_id).await?);
            }
            let venue = VenueRecord {
                name: name.clone(),
                city: city.clone(),
                address: address.clone(),
                layout: layout.clone(),
                ..stored
            };
            if self.store.update_venue(&venue, seats_change).await? {
                tracing::info!(%venue_id, seats = venue.layout.capacity(), seats_change, "venue changed");
                if seats_change {
                    self.follow_venue(caller, venue_id, &venue.layout).await;
                }
                return Ok(VenueRecord { version: venue.version + 1, ..venue });
            }
        }
        Err(Error::new(Code::Conflict, "the venue changed while this request was being handled; try again"))
    }

    /// The drafts in a venue whose seats changed count their seated categories' seats again, so
    /// that they say what would go on sale. A draft whose categories no longer fit the venue (a
    /// section was renamed) is left as it is: publishing it checks it again and says why not.
    /// A failure here fails nothing: publication checks every draft against its venue anyway.
    async fn follow_venue(&self, caller: Caller, venue_id: Uuid, layout: &Layout) {
        let drafts = match self.store.drafts_in_venue(venue_id).await {
            Ok(drafts) => drafts,
            Err(error) => return tracing::warn!(%venue_id, %error, "drafts of an edited venue not updated"),
        };
        for event_id in drafts {
            let result = self
                .modify(caller, event_id, |event| {
                    let layout = layout.clone();
                    Box::pin(async move {
                        if event.status != EventStatus::Draft {
                            return Ok(false);
                        }
                        let described = event.categories.iter().map(NewCategory::from_category).collect();
                        let Ok(checked) = parse_categories(described, Some(&layout)) else {
                            return Ok(false);
                        };
                        let mut changed = false;
                        for (category, checked) in event.categories.iter_mut().zip(checked) {
                            changed |= category.capacity != checked.capacity;
                            category.capacity = checked.capacity;
                        }
                        Ok(changed)
                    })
                })
                .await;
            if let Err(error) = result {
                tracing::warn!(%venue_id, %event_id, %error, "a draft of an edited venue not updated");
            }
        }
    }

    /// Why the venue's seats may not change: the events that sell them.
    async fn seats_locked(&self, venue_id: Uuid) -> Result<Error, Error> {
        let selling = self.store.events_selling_venue(venue_id, 3).await?;
        let names = selling.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ");
        Ok(Error::new(
            Code::Conflict,
            format!(
                "sections: the seats of this venue are sold by published events ({names}); section names, \
                 row labels, seat counts and numbering can no longer change. Positions, rotation, curve, \
                 spacing, the name, the city and the address can; for other seats, create a new venue"
            ),
        ))
    }

    /// A page of the caller's venues (everyone's, for an admin), newest first.
    pub async fn list_venues(
        &self,
        caller: Caller,
        limit: PageSize,
        cursor: Option<&str>,
    ) -> Result<(Vec<VenueRecord>, Option<String>), Error> {
        require_organizer(caller)?;
        let after = cursor
            .map(|cursor| {
                boxoffice_db::cursor::decode(cursor)
                    .ok_or_else(|| Error::validation("cursor: not a cursor this API gave out"))
            })
            .transpose()?;
        let owner = if caller.is_admin() { None } else { Some(caller.user_id) };
        let limit = limit.get();
        let mut venues = self.store.list_venues(owner, after, limit + 1).await?;
        let next_cursor = if venues.len() > limit as usize {
            venues.truncate(limit as usize);
            venues.last().map(|last| boxoffice_db::cursor::encode((last.created_at, last.id)))
        } else {
            None
        };
        Ok((venues, next_cursor))
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
