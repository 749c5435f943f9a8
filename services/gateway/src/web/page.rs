//! What every page shares: the frame around it ([`Chrome`]: who is looking, the CSRF token, the
//! assets), the viewer a page may require ([`Viewer`], sending anyone else to log in), errors as
//! pages ([`PageError`]), and the formatting of times and money for people.

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use boxoffice_errors::{Code, Error};
use boxoffice_types::Role;
use chrono::{DateTime, Utc};

use crate::auth::{AuthUser, OptionalAuthUser};
use crate::web::assets;
use crate::web::session::CsrfToken;
use crate::AppState;

/// The frame of a page: the header's links for this viewer, and the CSRF token that its forms
/// and scripts send back.
pub struct Chrome {
    pub viewer: Option<AuthUser>,
    pub csrf: String,
    /// An error page does not know who is looking: it offers neither logging in nor the
    /// account's links.
    pub viewer_unknown: bool,
}

impl Chrome {
    pub fn asset(&self, name: &str) -> &'static str {
        assets::url(name)
    }

    pub fn is_admin(&self) -> bool {
        self.viewer.is_some_and(|viewer| viewer.role == Role::Admin)
    }

    pub fn is_organizer(&self) -> bool {
        self.viewer.is_some_and(|viewer| matches!(viewer.role, Role::Organizer | Role::Admin))
    }
}

impl FromRequestParts<AppState> for Chrome {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        // A page treats a token it cannot use (expired, revoked, garbage) as no token: the
        // visitor is anonymous, and may log in. A store that is away is still an error.
        let viewer = match OptionalAuthUser::from_request_parts(parts, state).await {
            Ok(OptionalAuthUser(viewer)) => viewer,
            Err(error) if error.0.code == Code::Unauthorized => None,
            Err(error) => return Err(PageError(error.0)),
        };
        let csrf = parts.extensions.get::<CsrfToken>().map(|token| token.0.clone()).unwrap_or_default();
        Ok(Chrome { viewer, csrf, viewer_unknown: false })
    }
}

/// A page that needs a logged-in viewer: anyone else is sent to the login page, and back here
/// after logging in.
pub struct Viewer {
    pub user: AuthUser,
    pub chrome: Chrome,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let chrome = Chrome::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        match chrome.viewer {
            Some(user) => Ok(Viewer { user, chrome }),
            None => {
                let here = parts.uri.path_and_query().map(|path| path.as_str()).unwrap_or("/");
                Err(login_redirect(here))
            }
        }
    }
}

/// `/login?next=<here>`: the way back after logging in.
pub fn login_redirect(here: &str) -> Response {
    let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
    Redirect::to(&format!("/login?next={next}")).into_response()
}

/// Where a login may send the browser: a path of this site only, never another origin. Only a
/// path of plain visible ASCII is kept: `//evil.example`, `/\evil.example`, a tab or a newline
/// that a browser strips (`/\t/evil.example`), or a scheme would leave the site or break the
/// redirect's header.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(next)
            if next.starts_with('/')
                && !next.starts_with("//")
                && next.bytes().all(|byte| byte.is_ascii_graphic() && byte != b'\\')
                && !next.contains("://") =>
        {
            next
        }
        _ => "/",
    }
}

/// `?done=...`: what the redirect after a change tells the page it leads to.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Notice {
    pub done: Option<String>,
}

/// "Are you sure?": a page that asks before a change that cannot be undone, with one button
/// that posts to `action` and a way back.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub chrome: Chrome,
    pub title: String,
    pub question: String,
    pub action: String,
    pub confirm: String,
    pub back: String,
}

/// The `{id}` of a page's path: one that is not a UUID names nothing, a 404 page.
pub struct PageId(pub uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PageId {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PageError> {
        let crate::routes::PathId(id) = crate::routes::PathId::from_request_parts(parts, state)
            .await
            .map_err(|_| PageError::not_found())?;
        Ok(PageId(id))
    }
}

/// Two ids of a page's path (`/admin/users/{id}/sessions/{session_id}/...`): a segment that is
/// not a UUID names nothing, a 404 page.
pub struct PageIds(pub uuid::Uuid, pub uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PageIds {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PageError> {
        let crate::routes::PathIds(first, second) = crate::routes::PathIds::from_request_parts(parts, state)
            .await
            .map_err(|_| PageError::not_found())?;
        Ok(PageIds(first, second))
    }
}

/// A page's query: one that cannot be read (a field given twice, say) is a 422 page.
pub struct PageQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for PageQuery<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PageError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| PageQuery(value))
            .map_err(|rejection| {
                PageError(Error::validation(format!(
                    "the address could not be read: {}",
                    rejection.body_text()
                )))
            })
    }
}

/// A submitted form: a form that cannot be read (a field missing or of the wrong kind, a body
/// that is not a form) is a 422 page naming the problem, not the framework's plain text.
pub struct PageForm<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for PageForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &S) -> Result<Self, PageError> {
        axum::Form::<T>::from_request(request, state).await.map(|axum::Form(value)| PageForm(value)).map_err(
            |rejection| {
                PageError(Error::validation(format!("the form could not be read: {}", rejection.body_text())))
            },
        )
    }
}

/// Renders a page. No cache keeps it, the browser's included: a page may show a viewer's tickets
/// (whose codes admit their holder) or a form with a one-time idempotency key, and Back after a
/// logout or a hold must ask the server again.
pub fn render(page: &impl Template) -> Response {
    render_with_status(StatusCode::OK, page)
}

pub fn render_with_status(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
            crate::web::security::page_headers(headers);
            response
        }
        Err(error) => PageError(Error::internal(format!("rendering a page: {error}"))).into_response(),
    }
}

/// A refused request shown on its own page again (a wrong password, a limit): with the
/// `Retry-After` of a limit.
pub fn render_refusal(error: &Error, page: &impl Template) -> Response {
    with_retry_after(render_with_status(error.http_status(), page), error.retry_after)
}

fn with_retry_after(mut response: Response, retry_after: Option<std::time::Duration>) -> Response {
    if let Some(wait) = retry_after {
        let seconds = HeaderValue::from(wait.as_secs().max(1));
        response.headers_mut().insert(header::RETRY_AFTER, seconds);
    }
    response
}

/// Whether a path is the JSON API's, whose failures are problem documents; every other path is
/// a page's.
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/")
}

/// A failure answered as the client of that path expects: a problem document for the API, a
/// page for people.
pub fn failure(for_api: bool, error: Error) -> Response {
    if for_api {
        crate::problem::ApiError(error).into_response()
    } else {
        PageError(error).into_response()
    }
}

/// A failure, shown as a page with the status it stands for. A 401 sends the browser to log in.
#[derive(Debug)]
pub struct PageError(pub Error);

impl PageError {
    pub fn not_found() -> Self {
        PageError(Error::not_found("page"))
    }
}

impl From<Error> for PageError {
    fn from(error: Error) -> Self {
        PageError(error)
    }
}

impl From<tonic::Status> for PageError {
    fn from(status: tonic::Status) -> Self {
        PageError(Error::from_status(&status))
    }
}

impl From<crate::problem::ApiError> for PageError {
    fn from(error: crate::problem::ApiError) -> Self {
        PageError(error.0)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    title: &'static str,
    detail: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let error = self.0;
        if error.code == Code::Unauthorized {
            return login_redirect("/");
        }
        let status = error.http_status();
        let retry_after = error.retry_after;
        let page = ErrorPage {
            chrome: Chrome { viewer: None, csrf: String::new(), viewer_unknown: true },
            status: status.as_u16(),
            title: error.code.title(),
            detail: error.detail,
        };
        with_retry_after(render_with_status(status, &page), retry_after)
    }
}

/// A time for people: the server's rendering in UTC, which the page's script turns into the
/// reader's own time zone and language (`<time datetime=...>`).
#[derive(Clone, Debug)]
pub struct When {
    /// RFC 3339, for `datetime`.
    pub iso: String,
    pub text: String,
}

impl When {
    pub fn parse(rfc3339: &str) -> When {
        let text = DateTime::parse_from_rfc3339(rfc3339)
            .map(|time| time.with_timezone(&Utc).format("%a %-d %b %Y, %H:%M UTC").to_string())
            .unwrap_or_else(|_| rfc3339.to_owned());
        When { iso: rfc3339.to_owned(), text }
    }
}

/// A service's refusal as a form shows it above itself: the field path the API's clients read
/// (`categories[0].price_cents: must be ...`) in words (`Category 1, price cents: must be ...`),
/// counting from one; the first letter in capitals.
pub fn for_people(detail: &str) -> String {
    let (path, message) = match detail.split_once(": ") {
        Some((path, message))
            if !path.is_empty()
                && path
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.[]".contains(c)) =>
        {
            (path, message)
        }
        _ => return capitalized(detail),
    };
    let words: Vec<String> = path
        .split('.')
        .map(|part| {
            let (name, index) = match part.split_once('[') {
                Some((name, index)) => (name, index.trim_end_matches(']').parse::<usize>().ok()),
                None => (part, None),
            };
            let name = name.replace('_', " ");
            match index {
                // "categories" → "category 1", "rows" → "row 3", "sections" → "section 2".
                Some(index) => {
                    let singular = name.strip_suffix("ies").map(|stem| format!("{stem}y"));
                    let singular =
                        singular.or_else(|| name.strip_suffix('s').map(str::to_owned)).unwrap_or(name);
                    format!("{singular} {}", index + 1)
                }
                None => name,
            }
        })
        .collect();
    capitalized(&format!("{}: {message}", words.join(", ")))
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// Money for people: `45.00 EUR`.
pub fn money(minor: i64, currency: &str) -> String {
    boxoffice_types::money::format_money(minor, currency)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_only_sends_the_browser_back_to_this_site() {
        assert_eq!(safe_next(Some("/events/1?x=2")), "/events/1?x=2");
        for refused in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "evil",
            "/x?u=http://e",
            "/\t/evil.example",
            "/\n",
            "/ /evil.example",
            "/\u{0b}x",
            "/é",
        ] {
            assert_eq!(safe_next(Some(refused)), "/", "{refused}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn a_refusal_names_its_field_in_words() {
        assert_eq!(
            for_people("categories[0].price_cents: must be 0 to 100"),
            "Category 1, price cents: must be 0 to 100"
        );
        assert_eq!(for_people("sections[1].rows[2].seats: must be 1"), "Section 2, row 3, seats: must be 1");
        assert_eq!(for_people("email: no account has this email"), "Email: no account has this email");
        assert_eq!(for_people("the account is the only admin"), "The account is the only admin");
        assert_eq!(for_people("Ends: at 10:00"), "Ends: at 10:00", "not a field path");
    }

    #[test]
    fn times_read_in_utc_until_the_script_localises_them() {
        assert_eq!(When::parse("2026-12-12T19:00:00Z").text, "Sat 12 Dec 2026, 19:00 UTC");
    }
}
