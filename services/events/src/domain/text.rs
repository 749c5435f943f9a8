//! Free text and times as the API receives them: names, cities, search terms and RFC 3339
//! times, each trimmed and bounded once here, so that what the store holds sorts and compares
//! alike on both backends.

use boxoffice_errors::Error;
use chrono::{DateTime, SubsecRound as _, Utc};

/// The limits the gateway states in its OpenAPI document too, defined there once.
pub use boxoffice_types::limits::events::{
    ADDRESS_MAX_CHARS, CITY_MAX_CHARS, DESCRIPTION_MAX_CHARS, NAME_MAX_CHARS, SEARCH_MAX_CHARS,
};
/// Times are kept within the years every backend stores and sorts alike.
pub const MIN_YEAR: i32 = 1970;
pub const MAX_YEAR: i32 = 9999;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc_3339_within_the_years_every_backend_stores() {
        assert!(parse_time("tomorrow", "starts_at").unwrap_err().detail.starts_with("starts_at"));
        for odd in [
            "9999-12-31T23:00:00-23:00",
            "0000-01-01T00:30:00+01:00",
            "2030-06-30T23:59:60Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert!(parse_time(odd, "starts_at").is_err(), "{odd}");
        }
    }

    #[test]
    fn filters_are_trimmed_lower_case_and_free_of_control_characters() {
        assert_eq!(parse_filter(Some("  Jazz "), "q", 10).unwrap().as_deref(), Some("jazz"));
        assert_eq!(parse_filter(Some("   "), "q", 10).unwrap(), None);
        assert!(parse_filter(Some("a\u{0}b"), "q", 10).is_err());
    }
}
