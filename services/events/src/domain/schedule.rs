//! When an event happens and when its sales open.
//!
//! Two rules of different kinds live here. [`check_schedule`] is about the times among
//! themselves and holds for every stored event: it ends after it starts, and sales open no later
//! than it starts. [`check_start_is_ahead`] is about the time of the request: a start is only
//! accepted when it is ahead of now, at the moment it is written. It is not an invariant of
//! stored events, since every event's start passes sooner or later; see
//! [`check_start_is_ahead`] for which writes it applies to.

use boxoffice_errors::Error;
use chrono::{DateTime, Utc};

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

/// A start that is being set must be ahead of `now`: an event cannot be created, or moved, into
/// the past (most often a typo in the year, which would otherwise go on sale as an event that
/// already began).
///
/// It applies to the start a request sets, not to the start an event already has: an event
/// that is running keeps its start, and its organizer may still rename it, describe it, move its
/// end or sales, and even send its current start back unchanged (clients that send the whole
/// form do). See `Events::update_event`.
pub fn check_start_is_ahead(starts_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Error> {
    if starts_at <= now {
        return Err(Error::validation("starts_at: must be in the future"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::text::parse_time;

    #[test]
    fn an_event_ends_after_it_starts_and_its_sales_open_no_later() {
        let start = parse_time("2027-01-01T20:00:00Z", "starts_at").unwrap();
        let end = parse_time("2027-01-01T23:00:00+01:00", "ends_at").unwrap();
        assert!(check_schedule(start, end, Some(start)).is_ok());
        assert!(check_schedule(end, start, None).unwrap_err().detail.starts_with("ends_at"));
        assert!(check_schedule(start, end, Some(end)).unwrap_err().detail.starts_with("sale_starts_at"));
    }

    #[test]
    fn a_start_being_set_must_be_ahead_of_now() {
        let now = parse_time("2027-01-01T20:00:00Z", "now").unwrap();
        let second = chrono::Duration::seconds(1);
        assert!(check_start_is_ahead(now + second, now).is_ok());
        for past in [now, now - second, now - chrono::Duration::days(365)] {
            let error = check_start_is_ahead(past, now).unwrap_err();
            assert_eq!(error.code, boxoffice_errors::Code::ValidationFailed);
            assert!(error.detail.starts_with("starts_at"), "{}", error.detail);
        }
    }
}
