//! Deadlines that cross a call. A caller over the network gives up after
//! [`CALL_TIMEOUT`](crate::connection::CALL_TIMEOUT) and says so in the standard `grpc-timeout`
//! header; the service that does the work reads it with [`within`], so that it gives up first,
//! undoes what it began, and answers while the caller still listens. Otherwise a client could be
//! told a request failed that the service then carried out.

use std::time::{Duration, Instant};

/// The header of gRPC's deadline: up to eight digits and a unit.
pub const HEADER: &str = "grpc-timeout";
/// What a service keeps of its caller's time for the answer's way back.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(250);

/// `duration` as a `grpc-timeout` value, in milliseconds (a value of more than eight digits is
/// given in seconds).
pub fn header_value(duration: Duration) -> http::HeaderValue {
    let millis = duration.as_millis();
    let text = if millis < 100_000_000 { format!("{millis}m") } else { format!("{}S", duration.as_secs()) };
    http::HeaderValue::try_from(text).expect("digits and a unit are a header value")
}

/// How long the caller waits, from its `grpc-timeout` header; `None` without one, or with one
/// that does not parse.
pub fn caller_budget(metadata: &tonic::metadata::MetadataMap) -> Option<Duration> {
    let value = metadata.get(HEADER)?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// When the work of a request that arrived now must be done: within the service's own `limit`,
/// and [`ANSWER_MARGIN`] before its caller stops waiting.
pub fn within(metadata: &tonic::metadata::MetadataMap, limit: Duration) -> Instant {
    let budget = match caller_budget(metadata) {
        Some(caller) => limit.min(caller.saturating_sub(ANSWER_MARGIN)),
        None => limit,
    };
    Instant::now() + budget
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(value: &str) -> tonic::metadata::MetadataMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(HEADER, http::HeaderValue::from_str(value).unwrap());
        tonic::metadata::MetadataMap::from_headers(headers)
    }

    #[test]
    fn the_header_round_trips_and_bad_values_are_ignored() {
        let written = header_value(Duration::from_secs(10));
        assert_eq!(written, "10000m");
        assert_eq!(caller_budget(&metadata("10000m")), Some(Duration::from_secs(10)));
        assert_eq!(caller_budget(&metadata("3S")), Some(Duration::from_secs(3)));
        assert_eq!(caller_budget(&metadata("1500000u")), Some(Duration::from_millis(1500)));
        for bad in ["", "m", "10", "10x", "123456789m", "-1S", "1.5S"] {
            assert_eq!(caller_budget(&metadata(bad)), None, "{bad:?}");
        }
        assert_eq!(caller_budget(&tonic::metadata::MetadataMap::new()), None);
    }

    #[test]
    fn the_service_gives_up_before_its_caller() {
        let limit = Duration::from_secs(5);
        let started = Instant::now();
        let own = within(&tonic::metadata::MetadataMap::new(), limit);
        assert!(own >= started + limit);
        let short = within(&metadata("1000m"), limit);
        assert!(short <= Instant::now() + Duration::from_millis(750));
        let long = within(&metadata("60S"), limit);
        assert!(long <= Instant::now() + limit);
    }
}
