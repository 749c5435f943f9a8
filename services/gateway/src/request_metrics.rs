//! The request metrics: `http_requests_total` and `http_request_duration_seconds`, by route (the
//! matched pattern, so ids do not explode the number of series), method and status.
//!
//! Every request records both, so their handles are looked up once per series and kept: a
//! request then records without building label strings or hashing them in the recorder's
//! registry (about a twentieth of the gateway's work per request in a flash sale). The series
//! are bounded: routes are the router's, methods outside the standard ones count as `OTHER`,
//! statuses are three digits.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Counter, Histogram};

/// The route label of a request that matched no route.
const UNMATCHED: &str = "unmatched";

#[derive(Clone)]
struct Series {
    requests: Counter,
    duration: Histogram,
}

/// Route → (method, status) → the series' handles.
type Handles = HashMap<String, HashMap<(&'static str, u16), Series>>;

fn handles() -> &'static Mutex<Handles> {
    static HANDLES: OnceLock<Mutex<Handles>> = OnceLock::new();
    HANDLES.get_or_init(Mutex::default)
}

/// The method label: the standard methods by name, any other as `OTHER`, so that a client
/// inventing methods cannot grow the number of series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

fn series(route: &str, method: &'static str, status: u16) -> Series {
    let mut handles = handles().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(series) = handles.get(route).and_then(|by_status| by_status.get(&(method, status))) {
        return series.clone();
    }
    let labels = [("route", route.to_owned()), ("method", method.to_owned()), ("status", status.to_string())];
    let series = Series {
        requests: metrics::counter!("http_requests_total", &labels),
        duration: metrics::histogram!("http_request_duration_seconds", &labels),
    };
    handles.entry(route.to_owned()).or_default().insert((method, status), series.clone());
    series
}

/// The middleware: counts the request and records how long it took.
pub async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = method_label(request.method());
    let response = next.run(request).await;
    let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    let series = series(route, method, response.status().as_u16());
    series.requests.increment(1);
    series.duration.record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "OTHER");
    }
}
