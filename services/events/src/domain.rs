//! What venues and events are made of, and the rules their fields obey. Every input is parsed
//! here once; the rest of the service handles only values that passed.

use std::collections::HashSet;

use boxoffice_errors::Error;
/// The limits that the gateway and the bench tool check too.
pub use boxoffice_types::limits::{
    DEFAULT_MAX_TICKETS_PER_BOOKING, MAX_GENERAL_ADMISSION_CAPACITY, MAX_SEATS_PER_VENUE,
    MAX_TICKETS_PER_BOOKING,
};
use chrono::{DateTime, SubsecRound as _, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const NAME_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;
pub const CITY_MAX_CHARS: usize = 100;
pub const ADDRESS_MAX_CHARS: usize = 500;
pub const SECTION_NAME_MAX_CHARS: usize = 50;
pub const ROW_LABEL_MAX_CHARS: usize = 20;
pub const MAX_SECTIONS_PER_VENUE: usize = 500;
pub const MAX_ROWS_PER_SECTION: usize = 1_000;
pub const MAX_SEATS_PER_ROW: u32 = 2_000;
pub const MAX_CATEGORIES_PER_EVENT: usize = 50;
/// Every unit of an event is loaded into the inventory store when it is published.
pub const MAX_EVENT_CAPACITY: u64 = 2_000_000;
/// A hundred million of the currency's main unit.
pub const MAX_PRICE_CENTS: i64 = 10_000_000_000;
/// The bytes of all seat ids of a venue together: every seat id travels in one gRPC message and
/// one JSON answer, which must stay well inside the 64 MiB message limit.
pub const MAX_SEAT_ID_BYTES_PER_VENUE: u64 = 16 * 1024 * 1024;
/// Times are kept within the years every backend stores and sorts alike.
pub const MIN_YEAR: i32 = 1970;
pub const MAX_YEAR: i32 = 9999;
/// The separator of seat ids, so it may not appear in section names or row labels.
pub const SEAT_ID_SEPARATOR: char = '/';

/// Trims `input` and checks it is 1 to `max_chars` characters without control characters.
pub fn parse_text(input: &str, field: &str, max_chars: usize) -> Result<String, Error> {
    let text = input.trim();
    if text.is_empty() {
        return Err(Error::validation(format!("{field}: must not be empty")));
    }
    parse_optional_text(text, field, max_chars)
}

/// Like [`parse_text`], but the text may be empty; line breaks are allowed.
pub fn parse_optional_text(input: &str, field: &str, max_chars: usize) -> Result<String, Error> {
    let text = input.trim();
    if text.chars().count() > max_chars {
        return Err(Error::validation(format!("{field}: must be at most {max_chars} characters")));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(Error::validation(format!("{field}: must not contain control characters")));
    }
    Ok(text.to_owned())
}

/// An RFC 3339 time between the years 1970 and 9999 (UTC), kept to the microsecond (what
/// PostgreSQL stores). Leap seconds are refused: the backends would fold them differently.
pub fn parse_time(input: &str, field: &str) -> Result<DateTime<Utc>, Error> {
    let invalid =
        || Error::validation(format!("{field}: must be an RFC 3339 time such as 2026-12-31T20:00:00Z"));
    let time = DateTime::parse_from_rfc3339(input.trim()).map_err(|_| invalid())?.with_timezone(&Utc);
    if time.timestamp_subsec_nanos() >= 1_000_000_000 {
        return Err(Error::validation(format!("{field}: leap seconds are not accepted")));
    }
    if !(MIN_YEAR..=MAX_YEAR).contains(&chrono::Datelike::year(&time)) {
        return Err(Error::validation(format!(
            "{field}: must be between the years {MIN_YEAR} and {MAX_YEAR}"
        )));
    }
    Ok(time.trunc_subsecs(6))
}

/// A search or filter term: trimmed, bounded, without control characters (a NUL would end the
/// pattern early on one backend and fail on the other). Empty means no filter.
pub fn parse_filter(input: Option<&str>, field: &str, max_chars: usize) -> Result<Option<String>, Error> {
    let Some(text) = input.map(str::trim).filter(|text| !text.is_empty()) else { return Ok(None) };
    if text.chars().count() > max_chars {
        return Err(Error::validation(format!("{field}: must be at most {max_chars} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(Error::validation(format!("{field}: must not contain control characters")));
    }
    Ok(Some(text.to_lowercase()))
}

/// The time as the API shows it: RFC 3339 in UTC.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

pub fn seat_id(section: &str, row: &str, number: u32) -> String {
    format!("{section}{SEAT_ID_SEPARATOR}{row}{SEAT_ID_SEPARATOR}{number}")
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowLayout {
    pub label: String,
    pub seats: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionLayout {
    pub name: String,
    pub rows: Vec<RowLayout>,
}

impl SectionLayout {
    pub fn capacity(&self) -> u64 {
        self.rows.iter().map(|row| u64::from(row.seats)).sum()
    }

    /// Every seat id of the section, row by row, in seat order.
    pub fn seat_ids(&self) -> impl Iterator<Item = String> + '_ {
        self.rows
            .iter()
            .flat_map(move |row| (1..=row.seats).map(move |number| seat_id(&self.name, &row.label, number)))
    }
}

/// A venue's seat map, checked: unique names, no separators, within the limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Layout(Vec<SectionLayout>);

impl Layout {
    pub fn parse(sections: Vec<SectionLayout>) -> Result<Layout, Error> {
        if sections.is_empty() || sections.len() > MAX_SECTIONS_PER_VENUE {
            return Err(Error::validation(format!("sections: give 1 to {MAX_SECTIONS_PER_VENUE} sections")));
        }
        let mut section_names = HashSet::new();
        let mut total: u64 = 0;
        let mut parsed = Vec::with_capacity(sections.len());
        for (section_index, section) in sections.into_iter().enumerate() {
            let field = format!("sections[{section_index}]");
            let name = parse_label(&section.name, &format!("{field}.name"), SECTION_NAME_MAX_CHARS)?;
            if !section_names.insert(name.to_lowercase()) {
                return Err(Error::validation(format!("{field}.name: `{name}` is used by another section")));
            }
            if section.rows.is_empty() || section.rows.len() > MAX_ROWS_PER_SECTION {
                return Err(Error::validation(format!(
                    "{field}.rows: give 1 to {MAX_ROWS_PER_SECTION} rows"
                )));
            }
            let mut labels = HashSet::new();
            let mut rows = Vec::with_capacity(section.rows.len());
            for (row_index, row) in section.rows.into_iter().enumerate() {
                let row_field = format!("{field}.rows[{row_index}]");
                let label = parse_label(&row.label, &format!("{row_field}.label"), ROW_LABEL_MAX_CHARS)?;
                if !labels.insert(label.to_lowercase()) {
                    return Err(Error::validation(format!(
                        "{row_field}.label: `{label}` is used by another row"
                    )));
                }
                if row.seats == 0 || row.seats > MAX_SEATS_PER_ROW {
                    return Err(Error::validation(format!(
                        "{row_field}.seats: must be 1 to {MAX_SEATS_PER_ROW}"
                    )));
                }
                total += u64::from(row.seats);
                rows.push(RowLayout { label, seats: row.seats });
            }
            parsed.push(SectionLayout { name, rows });
        }
        if total > MAX_SEATS_PER_VENUE {
            return Err(Error::validation(format!(
                "sections: a venue has at most {MAX_SEATS_PER_VENUE} seats, not {total}"
            )));
        }
        let layout = Layout(parsed);
        if layout.seat_id_bytes() > MAX_SEAT_ID_BYTES_PER_VENUE {
            return Err(Error::validation(
                "sections: the seat ids of this venue are too long together; use shorter section names and row labels",
            ));
        }
        Ok(layout)
    }

    pub fn sections(&self) -> &[SectionLayout] {
        &self.0
    }

    pub fn capacity(&self) -> u64 {
        self.0.iter().map(SectionLayout::capacity).sum()
    }

    /// The bytes of every seat id (`<section>/<row>/<number>`) of the venue together.
    fn seat_id_bytes(&self) -> u64 {
        let mut bytes = 0;
        for section in &self.0 {
            for row in &section.rows {
                let prefix = (section.name.len() + row.label.len() + 2) as u64;
                let digits: u64 = (1..=row.seats).map(|number| u64::from(number.ilog10() + 1)).sum();
                bytes += prefix * u64::from(row.seats) + digits;
            }
        }
        bytes
    }

    pub fn section(&self, name: &str) -> Option<&SectionLayout> {
        self.0.iter().find(|section| section.name == name)
    }
}

fn parse_label(input: &str, field: &str, max_chars: usize) -> Result<String, Error> {
    let label = parse_text(input, field, max_chars)?;
    if label.contains(SEAT_ID_SEPARATOR) {
        return Err(Error::validation(format!("{field}: must not contain `{SEAT_ID_SEPARATOR}`")));
    }
    Ok(label)
}

/// Where an event stands: the one definition every service shares.
pub use boxoffice_types::EventStatus;

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

/// The schedule of an event: it ends after it starts, and sales open no later than it starts.
pub fn check_schedule(
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    sale_starts_at: Option<DateTime<Utc>>,
) -> Result<(), Error> {
    if starts_at >= ends_at {
        return Err(Error::validation("ends_at: must be after starts_at"));
    }
    if sale_starts_at.is_some_and(|sale| sale > starts_at) {
        return Err(Error::validation("sale_starts_at: must not be after starts_at"));
    }
    Ok(())
}

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
    use proptest::prelude::*;

    fn section(name: &str, rows: &[(&str, u32)]) -> SectionLayout {
        SectionLayout {
            name: name.to_owned(),
            rows: rows
                .iter()
                .map(|(label, seats)| RowLayout { label: (*label).to_owned(), seats: *seats })
                .collect(),
        }
    }

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
    fn seat_ids_follow_the_layout() {
        let layout = Layout::parse(vec![section("Floor", &[("A", 2), ("B", 1)])]).unwrap();
        let ids: Vec<String> = layout.sections()[0].seat_ids().collect();
        assert_eq!(ids, ["Floor/A/1", "Floor/A/2", "Floor/B/1"]);
        assert_eq!(layout.capacity(), 3);
    }

    #[test]
    fn bad_layouts_name_the_field() {
        let cases = [
            (vec![], "sections"),
            (vec![section("A/B", &[("1", 1)])], "sections[0].name"),
            (vec![section("A", &[("1", 1)]), section("a", &[("1", 1)])], "sections[1].name"),
            (vec![section("A", &[])], "sections[0].rows"),
            (vec![section("A", &[("1", 0)])], "sections[0].rows[0].seats"),
            (vec![section("A", &[("1", 1), ("1", 2)])], "sections[0].rows[1].label"),
            (vec![section("A", &[(" ", 1)])], "sections[0].rows[0].label"),
        ];
        for (sections, field) in cases {
            let error = Layout::parse(sections).unwrap_err();
            assert!(error.detail.starts_with(field), "{field}: {}", error.detail);
        }
        let huge: Vec<SectionLayout> = (0..200).map(|s| section(&format!("S{s}"), &[("A", 2000)])).collect();
        assert!(Layout::parse(huge).is_err(), "400,000 seats is above the limit");
        let long_names: Vec<SectionLayout> = (0..5)
            .map(|s| SectionLayout {
                name: format!("{}{s:02}", "𝔸".repeat(48)),
                rows: (0..25)
                    .map(|r| RowLayout { label: format!("{}{r:02}", "𝔹".repeat(18)), seats: 2000 })
                    .collect(),
            })
            .collect();
        assert!(Layout::parse(long_names).unwrap_err().detail.contains("too long"));
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
    fn schedules_and_limits() {
        let start = parse_time("2027-01-01T20:00:00Z", "starts_at").unwrap();
        let end = parse_time("2027-01-01T23:00:00+01:00", "ends_at").unwrap();
        assert!(check_schedule(start, end, Some(start)).is_ok());
        assert!(check_schedule(end, start, None).unwrap_err().detail.starts_with("ends_at"));
        assert!(check_schedule(start, end, Some(end)).unwrap_err().detail.starts_with("sale_starts_at"));
        assert!(parse_time("tomorrow", "starts_at").unwrap_err().detail.starts_with("starts_at"));
        for odd in [
            "9999-12-31T23:00:00-23:00",
            "0000-01-01T00:30:00+01:00",
            "2030-06-30T23:59:60Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert!(parse_time(odd, "starts_at").is_err(), "{odd}");
        }
        assert_eq!(parse_filter(Some("  Jazz "), "q", 10).unwrap().as_deref(), Some("jazz"));
        assert_eq!(parse_filter(Some("   "), "q", 10).unwrap(), None);
        assert!(parse_filter(Some("a\u{0}b"), "q", 10).is_err());
        assert_eq!(parse_max_tickets(None).unwrap(), 10);
        assert!(parse_max_tickets(Some(0)).is_err());
        assert!(parse_max_tickets(Some(51)).is_err());
        assert_eq!(parse_currency(" usd ", "currency").unwrap(), "USD");
        assert!(parse_currency("EURO", "currency").is_err());
    }

    proptest! {
        #[test]
        fn every_seat_of_a_valid_layout_has_a_distinct_id(rows in proptest::collection::vec(1u32..50, 1..20), sections in 1usize..5) {
            let layout: Vec<SectionLayout> = (0..sections)
                .map(|s| SectionLayout {
                    name: format!("S{s}"),
                    rows: rows.iter().enumerate().map(|(r, &seats)| RowLayout { label: format!("R{r}"), seats }).collect(),
                })
                .collect();
            let layout = Layout::parse(layout).unwrap();
            let ids: Vec<String> = layout.sections().iter().flat_map(SectionLayout::seat_ids).collect();
            let distinct: HashSet<&String> = ids.iter().collect();
            prop_assert_eq!(ids.len() as u64, layout.capacity());
            prop_assert_eq!(distinct.len(), ids.len());
        }
    }
}
