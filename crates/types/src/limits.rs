//! The limits that both sides of a call check: the gateway, to answer a client at once, and the
//! service that owns the rule, because it trusts no caller. Each is defined here once.
//!
//! The input limits of the public API are here too, in [`accounts`] and [`events`]: the owning
//! service enforces them and the gateway states them in its OpenAPI document, so both read the
//! same number. Limits that only one service checks stay beside that service's domain types.

use boxoffice_errors::Error;

/// The largest gRPC message a service or a client of it sends or takes. tonic's default of
/// 4 MiB is too small for a venue of [`events::MAX_SEATS_PER_VENUE`] seats, whose seat ids (each
/// `<section>/<row>/<number>`) come back in one `Venue`, and again with a status and a category
/// id each in one `Availability`.
pub const MAX_GRPC_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// How many items a page of a list holds when the client does not say (API.md).
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// The most items a page of a list holds, so that no request makes a service read a whole table.
pub const MAX_PAGE_SIZE: u32 = 100;

/// The longest `Idempotency-Key` of a new booking. The bookings service keeps every key it has
/// seen for a day, so their size is bounded.
pub const IDEMPOTENCY_KEY_MAX_CHARS: usize = 255;

/// The size of one page of a list: 1 to [`MAX_PAGE_SIZE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageSize(u32);

impl PageSize {
    /// A client's `limit`; none means [`DEFAULT_PAGE_SIZE`].
    pub fn parse(limit: Option<u32>) -> Result<Self, Error> {
        match limit {
            None => Ok(PageSize(DEFAULT_PAGE_SIZE)),
            Some(limit @ 1..=MAX_PAGE_SIZE) => Ok(PageSize(limit)),
            Some(_) => Err(Error::validation(format!("limit: must be 1 to {MAX_PAGE_SIZE}"))),
        }
    }

    /// A `limit` from the wire, where 0 (proto3's absent number) means the default.
    pub fn from_wire(limit: u32) -> Result<Self, Error> {
        Self::parse((limit != 0).then_some(limit))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// What an account is made of (the users service's `domain.rs`).
pub mod accounts {
    /// RFC 5321: 254 characters for an address.
    pub const EMAIL_MAX_CHARS: usize = 254;
    /// API.md: passwords are 8 to 128 characters (counted as Unicode scalar values).
    pub const PASSWORD_MIN_CHARS: usize = 8;
    pub const PASSWORD_MAX_CHARS: usize = 128;
    /// A first or last name, once trimmed.
    pub const NAME_MAX_CHARS: usize = 100;
}

/// What venues, events and their bookings are made of (the events service's `domain/`).
pub mod events {
    /// The name of a venue, an event or a category, once trimmed.
    pub const NAME_MAX_CHARS: usize = 200;
    pub const DESCRIPTION_MAX_CHARS: usize = 10_000;
    pub const CITY_MAX_CHARS: usize = 100;
    pub const ADDRESS_MAX_CHARS: usize = 500;
    /// A search term of the listing (`q`).
    pub const SEARCH_MAX_CHARS: usize = 200;
    pub const SECTION_NAME_MAX_CHARS: usize = 50;
    pub const ROW_LABEL_MAX_CHARS: usize = 20;
    pub const MAX_SECTIONS_PER_VENUE: usize = 500;
    pub const MAX_ROWS_PER_SECTION: usize = 1_000;
    pub const MAX_SEATS_PER_ROW: u32 = 2_000;
    /// A stadium; larger crowds are general admission.
    pub const MAX_SEATS_PER_VENUE: u64 = 250_000;
    /// How far from the seat map's origin a section's centre may be placed, in seat pitches
    /// (the distance between neighbouring seats of a row), along `x` and along `y`.
    pub const MAX_SECTION_OFFSET: i32 = 10_000;
    /// A section's rotation on the seat map, in degrees either way.
    pub const MAX_SECTION_ROTATION: i32 = 180;
    /// The arc of a section's widest row, in degrees: 0 draws straight rows.
    pub const MAX_ROW_CURVE: u32 = 180;
    /// The distance between a section's seats, or between its rows, on the seat map, in percent
    /// of the usual one: from half to four times.
    pub const MIN_SPACING_PERCENT: u32 = 50;
    /// A waiting room's admissions per minute, how long one lasts, how many at once, and the
    /// proof of work a joining client must find (leading zero bits of a SHA-256).
    pub const MAX_ADMISSIONS_PER_MINUTE: u32 = 100_000;
    pub const MAX_ADMISSION_MINUTES: u32 = 60;
    pub const MAX_ADMITTED_AT_ONCE: u32 = 100_000;
    pub const MAX_PROOF_OF_WORK_BITS: u32 = 24;
    /// How long an offer from a sold-out category's waiting list lasts, in minutes: 12 hours
    /// when the organizer does not say, 0 for no waiting list.
    pub const DEFAULT_WAITING_LIST_OFFER_MINUTES: u32 = 12 * 60;
    pub const MIN_WAITING_LIST_OFFER_MINUTES: u32 = 5;
    pub const MAX_WAITING_LIST_OFFER_MINUTES: u32 = 7 * 24 * 60;
    /// The accounts an organizer may let check tickets in for one event.
    pub const MAX_DOOR_STAFF_PER_EVENT: usize = 200;
    pub const MAX_SPACING_PERCENT: u32 = 400;
    pub const MAX_CATEGORIES_PER_EVENT: usize = 50;
    /// The places of one general-admission category at most.
    pub const MAX_GENERAL_ADMISSION_CAPACITY: u32 = 1_000_000;
    /// A hundred million of the currency's main unit.
    pub const MAX_PRICE_CENTS: i64 = 10_000_000_000;
    /// The tickets one booking holds when the organizer does not say (API.md).
    pub const DEFAULT_MAX_TICKETS_PER_BOOKING: u32 = 10;
    /// The most an organizer may allow one booking to hold.
    pub const MAX_TICKETS_PER_BOOKING: u32 = 50;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_holds_1_to_100_items_and_20_by_default() {
        assert_eq!(PageSize::parse(None).unwrap().get(), DEFAULT_PAGE_SIZE);
        assert_eq!(PageSize::from_wire(0).unwrap().get(), DEFAULT_PAGE_SIZE);
        assert_eq!(PageSize::parse(Some(MAX_PAGE_SIZE)).unwrap().get(), MAX_PAGE_SIZE);
        for refused in [Some(0), Some(MAX_PAGE_SIZE + 1)] {
            let error = PageSize::parse(refused).unwrap_err();
            assert!(error.detail.starts_with("limit: "), "{}", error.detail);
        }
        assert!(PageSize::from_wire(MAX_PAGE_SIZE + 1).is_err());
    }
}
