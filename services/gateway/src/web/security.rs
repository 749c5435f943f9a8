//! The headers that keep a browser from doing what the pages never ask of it: no script but our
//! own files (no inline script, no `eval`), no framing by another site, no sniffing of content
//! types, no full URL in the `Referer` sent elsewhere. Set on every response, pages and API alike
//! (as tower layers that add them without a task of their own: they are on the booking path); a
//! response that sets its own keeps it.

use axum::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::http::HeaderValue;
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy of every page. `img-src data:` is for the seat map's inline SVG symbols;
/// `connect-src 'self'` covers the API calls and the availability stream.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The Swagger UI of `/api/v1/docs` starts itself with an inline script and styles, so its
/// pages get a policy of their own that still forbids framing and other origins (set by
/// `routes::docs`, which this layer then leaves alone).
pub const DOCS_POLICY: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";

/// Adds the headers to every response of `app`.
pub fn with_security_headers(app: Router) -> Router {
    let header = |name, value| SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value));
    app.layer(header(CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_VALUE))
        .layer(header(X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(REFERRER_POLICY, "same-origin"))
        .layer(header(X_FRAME_OPTIONS, "DENY"))
}
