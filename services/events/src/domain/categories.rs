//! What an event sells: its ticket categories (general admission by capacity, or seated by
//! sections of the venue's map), their prices, and how many tickets one booking may hold.
//!
//! The categories are checked together, because their rules span them: one currency per event,
//! a seat in at most one category (a seat has one price), and a bounded total, since every unit
//! is loaded into the inventory store when the event is published.

use std::collections::HashSet;

use boxoffice_errors::Error;
/// The limits that the gateway and the bench tool check too.
pub use boxoffice_types::limits::events::{
    DEFAULT_MAX_TICKETS_PER_BOOKING, MAX_CATEGORIES_PER_EVENT, MAX_GENERAL_ADMISSION_CAPACITY,
    MAX_PRICE_CENTS, MAX_TICKETS_PER_BOOKING,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::layout::Layout;
use super::text::{parse_text, NAME_MAX_CHARS};

/// Every unit of an event is loaded into the inventory store when it is published.
pub const MAX_EVENT_CAPACITY: u64 = 2_000_000;

/// How a category's tickets are laid out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    GeneralAdmission,
    /// Every seat of these sections of the event's venue.
    Seated {
        sections: Vec<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub id: Uuid,
    pub name: String,
    pub price_cents: i64,
    pub currency: String,
    pub capacity: u32,
    pub placement: Placement,
}

/// A category as the organizer describes it.
#[derive(Clone, Debug)]
pub struct NewCategory {
    pub name: String,
    pub price_cents: i64,
    pub currency: String,
    pub placement: NewPlacement,
}

#[derive(Clone, Debug)]
pub enum NewPlacement {
    Capacity(u32),
    Sections(Vec<String>),
    Missing,
}

impl NewCategory {
    /// The description a stored category was made from, so that it can be checked again (against
    /// another venue, for instance).
    pub fn from_category(category: &Category) -> NewCategory {
        NewCategory {
            name: category.name.clone(),
            price_cents: category.price_cents,
            currency: category.currency.clone(),
            placement: match &category.placement {
                Placement::GeneralAdmission => NewPlacement::Capacity(category.capacity),
                Placement::Seated { sections } => NewPlacement::Sections(sections.clone()),
            },
        }
    }
}

/// ISO 4217: three letters, kept in upper case.
pub fn parse_currency(input: &str, field: &str) -> Result<String, Error> {
    let currency = input.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(Error::validation(format!("{field}: must be an ISO 4217 code such as EUR")));
    }
    Ok(currency)
}

/// Checks the categories of an event against each other and against the venue's seat map (for
/// seated ones). Ids are assigned here.
pub fn parse_categories(
    categories: Vec<NewCategory>,
    venue: Option<&Layout>,
) -> Result<Vec<Category>, Error> {
    if categories.is_empty() || categories.len() > MAX_CATEGORIES_PER_EVENT {
        return Err(Error::validation(format!(
            "categories: give 1 to {MAX_CATEGORIES_PER_EVENT} categories"
        )));
    }
    let mut names = HashSet::new();
    let mut taken_sections: HashSet<String> = HashSet::new();
    let mut currency_of_event: Option<String> = None;
    let mut total: u64 = 0;
    let mut parsed = Vec::with_capacity(categories.len());
    for (index, category) in categories.into_iter().enumerate() {
        let field = format!("categories[{index}]");
        let name = parse_text(&category.name, &format!("{field}.name"), NAME_MAX_CHARS)?;
        if !names.insert(name.to_lowercase()) {
            return Err(Error::validation(format!("{field}.name: `{name}` is used by another category")));
        }
        if !(0..=MAX_PRICE_CENTS).contains(&category.price_cents) {
            return Err(Error::validation(format!("{field}.price_cents: must be 0 to {MAX_PRICE_CENTS}")));
        }
        let currency = parse_currency(&category.currency, &format!("{field}.currency"))?;
        match &currency_of_event {
            Some(first) if *first != currency => {
                return Err(Error::validation(format!(
                    "{field}.currency: every category of an event has the same currency ({first})"
                )));
            }
            Some(_) => {}
            None => currency_of_event = Some(currency.clone()),
        }
        let (capacity, placement) = match category.placement {
            NewPlacement::Capacity(capacity) => {
                if capacity == 0 || capacity > MAX_GENERAL_ADMISSION_CAPACITY {
                    return Err(Error::validation(format!(
                        "{field}.capacity: must be 1 to {MAX_GENERAL_ADMISSION_CAPACITY}"
                    )));
                }
                (capacity, Placement::GeneralAdmission)
            }
            NewPlacement::Sections(sections) => {
                let Some(layout) = venue else {
                    return Err(Error::validation(format!(
                        "{field}.sections: a seated category needs the event to have a venue_id"
                    )));
                };
                if sections.is_empty() {
                    return Err(Error::validation(format!("{field}.sections: name at least one section")));
                }
                let mut capacity: u64 = 0;
                let mut names_in_order = Vec::with_capacity(sections.len());
                for section_name in sections {
                    let section_name = section_name.trim().to_owned();
                    let Some(section) = layout.section(&section_name) else {
                        return Err(Error::validation(format!(
                            "{field}.sections: the venue has no section `{section_name}`"
                        )));
                    };
                    if !taken_sections.insert(section_name.clone()) {
                        return Err(Error::validation(format!(
                            "{field}.sections: section `{section_name}` is in another category; a seat has one price"
                        )));
                    }
                    capacity += section.capacity();
                    names_in_order.push(section_name);
                }
                let capacity = u32::try_from(capacity).expect("a venue has at most 250,000 seats");
                (capacity, Placement::Seated { sections: names_in_order })
            }
            NewPlacement::Missing => {
                return Err(Error::validation(format!(
                    "{field}: give either capacity (general admission) or sections (seated)"
                )));
            }
        };
        total += u64::from(capacity);
        parsed.push(Category {
            id: Uuid::now_v7(),
            name,
            price_cents: category.price_cents,
            currency,
            capacity,
            placement,
        });
    }
    if total > MAX_EVENT_CAPACITY {
        return Err(Error::validation(format!(
            "categories: an event sells at most {MAX_EVENT_CAPACITY} tickets, not {total}"
        )));
    }
    Ok(parsed)
}

/// How many tickets one booking of the event may hold; absent, the default.
pub fn parse_max_tickets(value: Option<u32>) -> Result<u32, Error> {
    let value = value.unwrap_or(DEFAULT_MAX_TICKETS_PER_BOOKING);
    if !(1..=MAX_TICKETS_PER_BOOKING).contains(&value) {
        return Err(Error::validation(format!(
            "max_tickets_per_booking: must be 1 to {MAX_TICKETS_PER_BOOKING}"
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::layout::tests::section;

    fn general(name: &str, capacity: u32) -> NewCategory {
        NewCategory {
            name: name.into(),
            price_cents: 1000,
            currency: "eur".into(),
            placement: NewPlacement::Capacity(capacity),
        }
    }

    fn seated(name: &str, sections: &[&str]) -> NewCategory {
        NewCategory {
            name: name.into(),
            price_cents: 5000,
            currency: "EUR".into(),
            placement: NewPlacement::Sections(sections.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    #[test]
    fn categories_follow_the_rules() {
        let layout =
            Layout::parse(vec![section("Floor", &[("A", 10)]), section("Balcony", &[("A", 5)])]).unwrap();
        let parsed = parse_categories(
            vec![general("Standing", 100), seated("Seats", &["Floor", "Balcony"])],
            Some(&layout),
        )
        .unwrap();
        assert_eq!(parsed[0].currency, "EUR");
        assert_eq!(parsed[1].capacity, 15);

        let refused = [
            (vec![], None, "categories"),
            (vec![general("A", 0)], None, "categories[0].capacity"),
            (vec![general("A", 1_000_001)], None, "categories[0].capacity"),
            (vec![general("A", 1), general("a", 1)], None, "categories[1].name"),
            (vec![seated("S", &["Floor"])], None, "categories[0].sections"),
            (vec![seated("S", &["Nowhere"])], Some(&layout), "categories[0].sections"),
            (vec![seated("S", &["Floor"]), seated("T", &["Floor"])], Some(&layout), "categories[1].sections"),
        ];
        for (categories, venue, field) in refused {
            let error = parse_categories(categories, venue).unwrap_err();
            assert!(error.detail.starts_with(field), "{field}: {}", error.detail);
        }
        let mut negative = general("A", 1);
        negative.price_cents = -1;
        assert!(parse_categories(vec![negative], None)
            .unwrap_err()
            .detail
            .starts_with("categories[0].price_cents"));
        let mut mixed = general("B", 1);
        mixed.currency = "USD".into();
        assert!(parse_categories(vec![general("A", 1), mixed], None)
            .unwrap_err()
            .detail
            .starts_with("categories[1].currency"));
    }

    #[test]
    fn a_stored_category_described_again_parses_to_the_same_category() {
        let layout = Layout::parse(vec![section("Floor", &[("A", 10)])]).unwrap();
        let parsed =
            parse_categories(vec![general("Standing", 100), seated("Seats", &["Floor"])], Some(&layout))
                .unwrap();
        let again =
            parse_categories(parsed.iter().map(NewCategory::from_category).collect(), Some(&layout)).unwrap();
        for (before, after) in parsed.iter().zip(&again) {
            assert_eq!(
                (&before.name, before.price_cents, &before.currency),
                (&after.name, after.price_cents, &after.currency)
            );
            assert_eq!((before.capacity, &before.placement), (after.capacity, &after.placement));
        }
    }

    #[test]
    fn tickets_per_booking_and_currencies() {
        assert_eq!(parse_max_tickets(None).unwrap(), 10);
        assert!(parse_max_tickets(Some(0)).is_err());
        assert!(parse_max_tickets(Some(51)).is_err());
        assert_eq!(parse_currency(" usd ", "currency").unwrap(), "USD");
        assert!(parse_currency("EURO", "currency").is_err());
    }
}
