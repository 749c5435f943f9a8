//! Browser sessions: the web app keeps a session's tokens in cookies the page's script cannot
//! read, and every state-changing request a cookie authenticates must prove it came from one of
//! our pages.
//!
//! - **Cookies.** The access token, the refresh token and the CSRF token each in an `HttpOnly`,
//!   `SameSite=Strict`, `Path=/` cookie; with `secure_cookies` also `Secure` and named with the
//!   `__Host-` prefix, so that no other origin (not even a sibling subdomain) can set them.
//! - **One way in.** [`cookie_session`] runs before every route: a request without an
//!   `Authorization` header but with a live session cookie gets that header, so the API's own
//!   extractors (`AuthUser`, `OptionalAuthUser`) serve pages, the seat map's calls and the
//!   availability stream unchanged. An access cookie that has expired is renewed with the refresh
//!   cookie on the way (one refresh per refresh token per process, however many requests race,
//!   since a refresh token is single-use and a reused one ends its session).
//! - **CSRF.** Every unsafe request to a page, and every unsafe API request that a cookie
//!   authenticates, must carry the CSRF cookie's value in the `X-CSRF-Token` header or a `csrf`
//!   form field (compared in constant time), and must not come from another site
//!   (`Sec-Fetch-Site` of `cross-site` or `same-site`). Bearer clients are untouched: a browser never adds their header by
//!   itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use boxoffice_auth::{random_token, REFRESH_TOKEN_TTL_S};
use boxoffice_errors::{Code, Error};
use boxoffice_proto::user as pb;
use subtle::ConstantTimeEq as _;
use tokio::sync::OnceCell;

use crate::auth::verify_access_token;
use crate::web::page::{failure, is_api_path};
use crate::{AppState, MAX_REQUEST_BODY_BYTES};

/// The header and form field that carry the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const CSRF_FIELD: &str = "csrf";
/// How long a refresh's answer is handed to requests that present the same (now used) refresh
/// token: the requests a page fires at once, not a second session.
const REFRESH_REUSE_WINDOW: Duration = Duration::from_secs(30);

#[derive(Clone, Copy)]
enum Kind {
    Access,
    Refresh,
    Csrf,
}

impl Kind {
    fn base_name(self) -> &'static str {
        match self {
            Kind::Access => "bo_access",
            Kind::Refresh => "bo_refresh",
            Kind::Csrf => "bo_csrf",
        }
    }
}

/// How the gateway writes its cookies.
#[derive(Clone, Copy, Debug, Default)]
pub struct CookiePolicy {
    /// `Secure` and the `__Host-` prefix, for a gateway served over HTTPS.
    pub secure: bool,
}

impl CookiePolicy {
    fn name(self, kind: Kind) -> String {
        if self.secure {
            format!("__Host-{}", kind.base_name())
        } else {
            kind.base_name().to_owned()
        }
    }

    fn set(self, kind: Kind, value: &str, max_age_s: u64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let cookie = format!(
            "{}={value}; Path=/; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}",
            self.name(kind)
        );
        HeaderValue::try_from(cookie).expect("tokens are URL-safe text")
    }

    /// The cookies of a new session: written on login, signup and every refresh.
    pub fn session(self, pair: &pb::TokenPair) -> Vec<HeaderValue> {
        let access_s = u64::try_from(pair.expires_in).unwrap_or(0);
        vec![
            self.set(Kind::Access, &pair.access_token, access_s),
            self.set(Kind::Refresh, &pair.refresh_token, REFRESH_TOKEN_TTL_S),
        ]
    }

    /// Removes the session's cookies: on logout, and when the session has ended elsewhere.
    pub fn clear_session(self) -> Vec<HeaderValue> {
        vec![self.set(Kind::Access, "", 0), self.set(Kind::Refresh, "", 0)]
    }

    /// A fresh CSRF token, written on login so that a token planted before it is worthless.
    pub fn new_csrf(self) -> (String, HeaderValue) {
        let token = random_token();
        let header = self.set(Kind::Csrf, &token, REFRESH_TOKEN_TTL_S);
        (token, header)
    }

    fn read(self, headers: &HeaderMap, kind: Kind) -> Option<String> {
        let name = self.name(kind);
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, value)| *key == name && !value.is_empty())
            .map(|(_, value)| value.to_owned())
    }
}

/// The CSRF token of this browser, for the forms and the page's script to send back.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

/// Set on a request that a session cookie (not a bearer header) authenticates.
#[derive(Clone, Copy, Debug)]
pub struct CookieAuthenticated;

/// One refresh: made once, its answer shared.
type Refresh = OnceCell<Result<pb::TokenPair, Error>>;

/// Refreshes already made by this process, by refresh token, so that the requests a browser
/// sends together with one expired access cookie share one refresh.
#[derive(Default)]
pub struct Refreshes {
    recent: Mutex<HashMap<String, (Instant, Arc<Refresh>)>>,
}

impl Refreshes {
    async fn refresh(&self, state: &AppState, refresh_token: String) -> Result<pb::TokenPair, Error> {
        let cell = {
            let mut recent = self.recent.lock().expect("the refresh table is never poisoned");
            recent.retain(|_, (at, _)| at.elapsed() < REFRESH_REUSE_WINDOW);
            recent.entry(refresh_token.clone()).or_insert_with(|| (Instant::now(), Arc::default())).1.clone()
        };
        let answer = cell
            .get_or_init(|| async {
                let request = pb::RefreshRequest { refresh_token: refresh_token.clone() };
                match state.users().refresh(request).await {
                    Ok(reply) => Ok(reply.into_inner()),
                    Err(status) => Err(Error::from_status(&status)),
                }
            })
            .await
            .clone();
        // Only an answer is shared: after a failure (the users service away, say) the next
        // request tries again.
        if answer.is_err() {
            self.recent.lock().expect("the refresh table is never poisoned").remove(&refresh_token);
        }
        answer
    }
}

/// The middleware described in the module's documentation.
pub async fn cookie_session(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    // The booking path's fast way through: a bearer client without cookies needs nothing here.
    if request.headers().contains_key(AUTHORIZATION) && !request.headers().contains_key(COOKIE) {
        return next.run(request).await;
    }
    let policy = state.cookie_policy();
    let path = request.uri().path();
    if path.starts_with("/assets/") || matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return next.run(request).await;
    }
    let is_api = is_api_path(path);
    // A page's script that asks for JSON (the door scanner) is answered a problem, not a page.
    let answers_json = is_api
        || request
            .headers()
            .get(ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("application/json"));
    let mut set_cookies = Vec::new();
    let mut by_cookie = false;
    if !request.headers().contains_key(AUTHORIZATION) {
        match session_token(&state, policy, request.headers(), &mut set_cookies).await {
            Ok(Some(token)) => {
                let bearer = HeaderValue::try_from(format!("Bearer {token}")).expect("tokens are ASCII");
                request.headers_mut().insert(AUTHORIZATION, bearer);
                request.extensions_mut().insert(CookieAuthenticated);
                by_cookie = true;
            }
            Ok(None) => {}
            Err(error) => return failure(answers_json, error),
        }
    }
    // Pages hand out the CSRF token; the API only checks it (a bearer client never needs one).
    let mut csrf = policy.read(request.headers(), Kind::Csrf);
    if csrf.is_none() && !is_api {
        let (token, cookie) = policy.new_csrf();
        set_cookies.push(cookie);
        csrf = Some(token);
    }
    if !request.method().is_safe() && (by_cookie || !is_api) {
        request = match check_csrf(request, csrf.as_deref()).await {
            Ok(request) => request,
            Err(error) => return with_cookies(failure(answers_json, error), set_cookies),
        };
    }
    if let Some(csrf) = csrf {
        request.extensions_mut().insert(CsrfToken(csrf));
    }
    let mut response = next.run(request).await;
    // What a cookie unlocked is the browser's own: no cache may keep it, the browser included.
    if by_cookie && is_api {
        response.headers_mut().entry(CACHE_CONTROL).or_insert(HeaderValue::from_static("private, no-store"));
    }
    with_cookies(response, set_cookies)
}

/// The access token the browser's cookies stand for: the access cookie while it is valid,
/// otherwise a new one from the refresh cookie. A session that has ended anywhere clears the
/// cookies and the request goes on anonymous; a store or service that is away is an error.
async fn session_token(
    state: &AppState,
    policy: CookiePolicy,
    headers: &HeaderMap,
    set_cookies: &mut Vec<HeaderValue>,
) -> Result<Option<String>, Error> {
    if let Some(access) = policy.read(headers, Kind::Access) {
        match verify_access_token(state, &access).await {
            Ok(_) => return Ok(Some(access)),
            Err(error) if error.code == Code::Unauthorized => {}
            Err(error) => return Err(error),
        }
    }
    let Some(refresh) = policy.read(headers, Kind::Refresh) else {
        return Ok(None);
    };
    match state.refreshes().refresh(state, refresh).await {
        Ok(pair) => {
            set_cookies.extend(policy.session(&pair));
            Ok(Some(pair.access_token))
        }
        Err(error) if matches!(error.code, Code::Unauthorized | Code::ValidationFailed) => {
            set_cookies.extend(policy.clear_session());
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Passes the request on when it carries the CSRF token and does not come from another site.
async fn check_csrf(request: Request, expected: Option<&str>) -> Result<Request, Error> {
    let refused = || {
        Error::new(Code::Forbidden, "the request lacks this page's CSRF token; reload the page and try again")
    };
    let Some(expected) = expected else {
        return Err(refused());
    };
    // Only our own pages (`same-origin`) and the browser's own navigation (`none`) may change
    // anything; a sibling subdomain (`same-site`) is another site.
    if request.headers().get("sec-fetch-site").is_some_and(|site| site == "cross-site" || site == "same-site")
    {
        return Err(refused());
    }
    if let Some(sent) = request.headers().get(CSRF_HEADER) {
        return if sent.as_bytes().ct_eq(expected.as_bytes()).into() { Ok(request) } else { Err(refused()) };
    }
    let is_form = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !is_form || request.method() == Method::GET {
        return Err(refused());
    }
    // The token is a field of the form: read the body (as large as any the gateway takes), find
    // it, and hand the same bytes on.
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_REQUEST_BODY_BYTES)
        .await
        .map_err(|_| Error::new(Code::PayloadTooLarge, "the form is too large"))?;
    let sent = form_urlencoded::parse(&bytes).find(|(name, _)| name == CSRF_FIELD).map(|(_, value)| value);
    match sent {
        Some(sent) if bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(refused()),
    }
}

/// Adds the middleware's cookies, except those the handler set itself (a logout's clearing
/// cookies win over the session the middleware renewed on the way in).
fn with_cookies(mut response: Response, cookies: Vec<HeaderValue>) -> Response {
    let name =
        |cookie: &HeaderValue| cookie.as_bytes().split(|&byte| byte == b'=').next().map(<[u8]>::to_vec);
    let handled: Vec<Vec<u8>> = response.headers().get_all(SET_COOKIE).iter().filter_map(name).collect();
    for cookie in cookies {
        if !name(&cookie).is_some_and(|name| handled.contains(&name)) {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_strict_and_secure_when_asked() {
        let plain = CookiePolicy { secure: false }.set(Kind::Access, "t", 900);
        assert_eq!(plain, "bo_access=t; Path=/; Max-Age=900; HttpOnly; SameSite=Strict");
        let secure = CookiePolicy { secure: true }.set(Kind::Csrf, "c", 60);
        assert_eq!(secure, "__Host-bo_csrf=c; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure");
    }

    #[test]
    fn a_cookie_is_read_by_its_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("x_bo_access=no; bo_access=yes; bo_csrf="));
        let policy = CookiePolicy::default();
        assert_eq!(policy.read(&headers, Kind::Access).as_deref(), Some("yes"));
        assert_eq!(policy.read(&headers, Kind::Csrf), None);
        assert_eq!(CookiePolicy { secure: true }.read(&headers, Kind::Access), None);
    }
}
