//! The request id: every request gets one before anything else runs, it is in the log span of
//! the request, and every response carries it back in `x-request-id`. The span also continues a
//! trace the client started (its W3C `traceparent` header).
//!
//! A client may choose the id (to follow its request through the logs), but the id is echoed in
//! a header and written to the logs, so only a short id of safe characters is kept: 1 to
//! [`REQUEST_ID_MAX_CHARS`] characters of `A-Z a-z 0-9 . _ -`. Any other value (too long, with
//! markup, spaces or control characters, empty, or sent twice) is replaced with a new UUID.

use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::Router;
use tower::{Layer, Service};
use tower_http::request_id::PropagateRequestIdLayer;
use tower_http::trace::TraceLayer;
use uuid::Uuid;

// One definition of the header and of what an id may be, shared with every service it reaches.
use boxoffice_telemetry::trace::is_safe_request_id;
pub use boxoffice_telemetry::trace::{REQUEST_ID_HEADER, REQUEST_ID_MAX_CHARS};

/// Leaves exactly one safe id in `headers`: the client's, or a new UUID.
pub fn ensure_safe_id(headers: &mut HeaderMap) {
    let mut ids = headers.get_all(REQUEST_ID_HEADER).iter();
    let keep = matches!((ids.next(), ids.next()), (Some(id), None) if is_safe_request_id(id.as_bytes()));
    if !keep {
        let mut buffer = Uuid::encode_buffer();
        let id = Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_str(id).expect("a UUID is a valid header value"));
    }
}

/// Wraps `router` so that each request has a safe id (outermost), the response carries it, and
/// the request's log span names it.
pub fn tag_requests(router: Router) -> Router {
    router
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let request_id = request
                        .headers()
                        .get(REQUEST_ID_HEADER)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or("");
                    // The route, not the path: ids and tokens in paths stay out of the log.
                    let route = request
                        .extensions()
                        .get::<axum::extract::MatchedPath>()
                        .map_or("(unmatched)", |path| path.as_str())
                        .to_owned();
                    let span = tracing::info_span!("request", method = %request.method(), route, request_id);
                    // A client's W3C `traceparent` makes this request a part of its trace.
                    boxoffice_telemetry::TraceHeaders::from_http(request.headers())
                        .sampled_here()
                        .adopt(&span);
                    span
                })
                // The access log: one line per request, with its status and duration.
                .on_response(
                    tower_http::trace::DefaultOnResponse::new()
                        .level(tracing::Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Millis),
                ),
        )
        .layer(PropagateRequestIdLayer::new(HeaderName::from_static(REQUEST_ID_HEADER)))
        .layer(SafeRequestIdLayer)
}

/// Gives each request a safe id before the services it wraps see it. It changes the request in
/// place and returns the inner service's own future: nothing is boxed per request.
#[derive(Clone, Copy, Debug, Default)]
pub struct SafeRequestIdLayer;

impl<S> Layer<S> for SafeRequestIdLayer {
    type Service = SafeRequestId<S>;

    fn layer(&self, inner: S) -> SafeRequestId<S> {
        SafeRequestId { inner }
    }
}

#[derive(Clone, Debug)]
pub struct SafeRequestId<S> {
    inner: S,
}

impl<S, B> Service<axum::http::Request<B>> for SafeRequestId<S>
where
    S: Service<axum::http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: axum::http::Request<B>) -> S::Future {
        ensure_safe_id(request.headers_mut());
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt as _;
    use tracing::field::{Field, Visit};
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    fn id_of(values: &[&[u8]]) -> String {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(REQUEST_ID_HEADER, HeaderValue::from_bytes(value).unwrap());
        }
        ensure_safe_id(&mut headers);
        let ids: Vec<_> = headers.get_all(REQUEST_ID_HEADER).iter().collect();
        assert_eq!(ids.len(), 1, "one id is left");
        ids[0].to_str().unwrap().to_owned()
    }

    #[test]
    fn a_short_id_of_safe_characters_is_kept_and_any_other_replaced_by_a_uuid() {
        let longest = "a".repeat(REQUEST_ID_MAX_CHARS);
        for kept in ["client-chosen-42", "A.b_C-9", "7", longest.as_str()] {
            assert_eq!(id_of(&[kept.as_bytes()]), kept);
        }
        let too_long = "a".repeat(REQUEST_ID_MAX_CHARS + 1);
        for replaced in [
            too_long.as_bytes(),
            b"<script>alert(1)</script>".as_slice(),
            b"two words",
            b"",
            b"caf\xc3\xa9",
            b"a/b",
            b"tab\there",
        ] {
            let id = id_of(&[replaced]);
            assert!(Uuid::parse_str(&id).is_ok(), "{replaced:?} became {id}");
        }
        assert!(Uuid::parse_str(&id_of(&[])).is_ok());
        assert!(Uuid::parse_str(&id_of(&[b"one", b"two"])).is_ok(), "two ids cannot both be echoed");
    }

    /// Keeps the `request_id` of every span opened.
    #[derive(Clone, Default)]
    struct SpanIds(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SpanIds {
        fn on_new_span(
            &self,
            attributes: &tracing::span::Attributes<'_>,
            _id: &tracing::span::Id,
            _context: tracing_subscriber::layer::Context<'_, S>,
        ) {
            struct RequestId<'a>(&'a Mutex<Vec<String>>);
            impl Visit for RequestId<'_> {
                fn record_str(&mut self, field: &Field, value: &str) {
                    if field.name() == "request_id" {
                        self.0.lock().unwrap().push(value.to_owned());
                    }
                }
                fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
            }
            attributes.record(&mut RequestId(&self.0));
        }
    }

    #[tokio::test]
    async fn the_response_and_the_log_span_carry_the_id_that_was_kept_or_made() {
        let spans = SpanIds::default();
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
        let app = tag_requests(Router::new().route("/", get(|| async { "ok" })));
        for sent in ["client-chosen-42", "<script>"] {
            let request = axum::http::Request::get("/").header(REQUEST_ID_HEADER, sent).body(Body::empty());
            let response = app.clone().oneshot(request.unwrap()).await.unwrap();
            let answered = response.headers()[REQUEST_ID_HEADER].to_str().unwrap().to_owned();
            if sent == "client-chosen-42" {
                assert_eq!(answered, sent);
            } else {
                assert!(Uuid::parse_str(&answered).is_ok(), "{answered}");
            }
            assert_eq!(spans.0.lock().unwrap().last(), Some(&answered), "the span names the same id");
        }
    }
}
