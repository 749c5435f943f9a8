//! The headers that keep a browser from doing what the pages never ask of it: no script but our
//! own files (no inline script, no `eval`), no framing by another site, no full URL in the
//! `Referer` sent elsewhere ([`page_headers`], on every HTML page the gateway renders, error pages
//! included), and no sniffing of content types ([`with_nosniff`], on every response, the API's
//! JSON and the assets too). The API's JSON answers carry no page policy: it would cost every
//! booking its bytes and govern nothing (a browser never renders them as a page).

use axum::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::http::{HeaderMap, HeaderValue};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy of every page. `img-src data:` is for the seat map's inline SVG symbols;
/// `connect-src 'self'` covers the API calls and the availability stream.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The Swagger UI of `/api/v1/docs` starts itself with an inline script and styles, so its
/// pages get a policy of their own that still forbids framing and other origins (set by
/// `routes::docs`).
pub const DOCS_POLICY: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";

/// The headers of an HTML page.
pub fn page_headers(headers: &mut HeaderMap) {
    for (name, value) in [
        (CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_VALUE),
        (REFERRER_POLICY, "same-origin"),
        (X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
}

/// `X-Content-Type-Options: nosniff` on every response of `app` (a tower layer, with no task of
/// its own: it is on the booking path).
pub fn with_nosniff(app: Router) -> Router {
    app.layer(SetResponseHeaderLayer::if_not_present(
        X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ))
}
