//! What the bookings service sells of an event: the event itself (its status, schedule, prices
//! and per-booking limit), and every unit of each category, to load into its inventory store.
//!
//! A seated category's units are the seat ids of its sections, derived from the venue's map; a
//! general-admission category's units are numbered by the bookings service, so only its
//! capacity travels.

use boxoffice_errors::Error;
use uuid::Uuid;

use crate::domain::{Placement, SectionLayout};
use crate::service::{event_not_found, Events};
use crate::store::EventRecord;

/// The units of one category, as the bookings service sells them.
pub struct CategoryUnits {
    pub category_id: Uuid,
    pub capacity: u32,
    /// Empty for general admission, whose units are numbered rather than listed.
    pub seat_ids: Vec<String>,
}

impl Events {
    /// The event, for the bookings service, and, `with_units`, every unit it sells (every seat id
    /// of a seated category). It answers for every status: the bookings service decides what it
    /// sells (published events only) and must see a cancellation too.
    pub async fn inventory(
        &self,
        event_id: Uuid,
        with_units: bool,
    ) -> Result<(EventRecord, Vec<CategoryUnits>), Error> {
        let event = self.store.event(event_id).await?.ok_or_else(event_not_found)?;
        if !with_units {
            return Ok((event, Vec::new()));
        }
        let layout = self.layout_of(event.venue_id).await?;
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
}
