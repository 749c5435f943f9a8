//! The web app over plain HTTP, as a browser without script uses it: pages, forms, cookie
//! sessions, CSRF, the security headers, the assets, and the availability stream. The same
//! journeys in a real browser, with the seat map, are in `browser.rs`.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt as _;
use reqwest::header::{HeaderMap, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

use crate::bookings::{category, id, on_sale};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    pages_come_with_a_strict_content_security_policy_and_hashed_assets,
    a_session_lives_in_http_only_strict_cookies_and_every_change_needs_the_csrf_token,
    a_buyer_holds_pays_and_cancels_with_plain_forms,
    a_customer_cannot_open_another_customers_booking,
    an_expired_hold_says_so_and_offers_to_try_again,
    the_account_page_changes_names_and_password_and_deletes_the_account,
    a_cancelled_event_keeps_its_bookings_readable_and_ends_its_streams,
    tricky_requests_get_pages_not_loops_leaks_or_stale_sessions,
    the_availability_stream_sends_a_snapshot_then_only_what_changed,
    a_page_script_asking_for_json_is_refused_with_a_problem,
);

/// A browser without script: follows no redirect by itself and keeps the cookies it is given.
pub struct Visitor {
    client: Client,
    address: String,
    pub cookies: HashMap<String, String>,
}

impl Visitor {
    pub fn new(app: &TestApp) -> Visitor {
        let client = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Visitor { client, address: app.address.clone(), cookies: HashMap::new() }
    }

    fn keep_cookies(&mut self, headers: &HeaderMap) {
        for cookie in headers.get_all(SET_COOKIE) {
            let text = cookie.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(response.headers());
        response
    }

    /// The page's HTML, after checking it answered 200.
    pub async fn page(&mut self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.unwrap()
    }

    /// The CSRF token the pages write into their forms.
    pub fn csrf(&self) -> String {
        self.cookies.get("bo_csrf").cloned().expect("a page was opened first")
    }

    /// Posts a form as it is; the caller adds `csrf` when it should be there.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let response = self
            .client
            .post(format!("{}{path}", self.address))
            .header(COOKIE, self.cookie_header())
            .form(fields)
            .send()
            .await
            .unwrap();
        self.keep_cookies(response.headers());
        response
    }

    /// Posts a form with this browser's CSRF token, as the page does.
    pub async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let csrf = self.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_form(path, &all).await
    }

    pub async fn api(&mut self, method: reqwest::Method, path: &str, body: Value, csrf: bool) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address))
            .header(COOKIE, self.cookie_header())
            .json(&body);
        if csrf {
            request = request.header("x-csrf-token", self.csrf());
        }
        let response = request.send().await.unwrap();
        self.keep_cookies(response.headers());
        response
    }

    /// Holds one ticket of the event's first category with the event page's form; the booking's
    /// page.
    pub async fn hold_one(&mut self, event: &Value) -> String {
        let path = format!("/events/{}/hold", id(event));
        let held = self.submit(&path, &[("category_id", &category(event, 0)), ("quantity", "1")]).await;
        assert_eq!(held.status(), StatusCode::SEE_OTHER);
        location(&held)
    }

    /// Signs up through the form; logged in afterwards.
    pub async fn sign_up(&mut self, email: &str) {
        self.page("/signup").await;
        let response = self
            .submit(
                "/signup",
                &[
                    ("first_name", "Ada"),
                    ("last_name", "Lovelace"),
                    ("email", email),
                    ("password", "correct horse battery"),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap());
        assert!(self.cookies.contains_key("bo_access"));
    }
}

fn location(response: &Response) -> String {
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

fn email() -> String {
    format!("web-{}@example.com", uuid::Uuid::new_v4())
}

async fn pages_come_with_a_strict_content_security_policy_and_hashed_assets(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut visitor = Visitor::new(&app);
    let home = visitor.get("/").await;
    assert_eq!(home.status(), StatusCode::OK);
    let headers = home.headers().clone();
    let policy = headers["content-security-policy"].to_str().unwrap();
    for part in ["script-src 'self'", "frame-ancestors 'none'", "default-src 'none'", "form-action 'self'"] {
        assert!(policy.contains(part), "{policy}");
    }
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "{policy}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert!(headers[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let html = home.text().await.unwrap();
    assert!(!html.contains("<script>") && !html.contains(" style="), "no inline script or style");
    // The API's answers carry the headers too.
    let api = visitor.get("/api/v1/events").await;
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");

    let stylesheet = regex::Regex::new(r#"href="(/assets/app\.[0-9a-f]{12}\.css)""#).unwrap();
    let hashed = stylesheet.captures(&html).expect("the page links its stylesheet by hash")[1].to_owned();
    let asset = visitor.get(&hashed).await;
    assert_eq!(asset.status(), StatusCode::OK);
    assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert!(asset.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/css"));
    let plain = visitor.get("/assets/app.css").await;
    assert_eq!(plain.headers()["cache-control"], "no-cache");
    assert_eq!(visitor.get("/assets/app.000000000000.css").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(visitor.get("/assets/../Cargo.toml").await.status(), StatusCode::NOT_FOUND);

    let missing = visitor.get("/no/such/page").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let missing_api = visitor.get("/api/v1/no-such-endpoint").await;
    assert_eq!(missing_api.headers()[CONTENT_TYPE], "application/problem+json");
}

async fn a_session_lives_in_http_only_strict_cookies_and_every_change_needs_the_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut visitor = Visitor::new(&app);
    let signup = visitor.get("/signup").await;
    let csrf_cookie = signup.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(csrf_cookie.starts_with("bo_csrf="), "{csrf_cookie}");
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"), "{csrf_cookie}");
    let html = signup.text().await.unwrap();
    assert!(html.contains(&format!(r#"name="csrf" value="{}""#, visitor.csrf())));

    let email = email();
    let fields = [
        ("first_name", "Ada"),
        ("last_name", "Lovelace"),
        ("email", email.as_str()),
        ("password", "correct horse battery"),
    ];
    // A form posted from another site has neither the token nor, usually, the cookie.
    let forged = visitor.post_form("/signup", &fields).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let mut wrong = vec![("csrf", "not-the-token")];
    wrong.extend_from_slice(&fields);
    assert_eq!(visitor.post_form("/signup", &wrong).await.status(), StatusCode::FORBIDDEN);

    let created = visitor.submit("/signup", &fields).await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let cookies: Vec<String> =
        created.headers().get_all(SET_COOKIE).iter().map(|c| c.to_str().unwrap().to_owned()).collect();
    for name in ["bo_access=", "bo_refresh=", "bo_csrf="] {
        let cookie =
            cookies.iter().find(|c| c.starts_with(name)).unwrap_or_else(|| panic!("{name} {cookies:?}"));
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/")
        );
        assert!(!cookie.contains("Secure"), "plain HTTP unless configured");
    }

    // The page's script calls the API with the cookie: reads freely, changes with the token.
    let me = visitor.api(reqwest::Method::GET, "/api/v1/users/me", Value::Null, false).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<Value>().await.unwrap()["email"], email.as_str());
    let (_, event) = on_sale(&app, 5, 0).await;
    let body =
        json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}]});
    let refused = visitor.api(reqwest::Method::POST, "/api/v1/bookings", body.clone(), false).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let held = visitor.api(reqwest::Method::POST, "/api/v1/bookings", body, true).await;
    assert_eq!(held.status(), StatusCode::CREATED);
    // A form the browser sends from another site, a sibling subdomain included, is refused even
    // with the token.
    for site in ["cross-site", "same-site"] {
        let response = Client::new()
            .post(app.url("/account"))
            .header(COOKIE, visitor.cookie_header())
            .header("sec-fetch-site", site)
            .form(&[("csrf", visitor.csrf().as_str()), ("first_name", "X"), ("last_name", "Y")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{site}");
    }

    // An expired access cookie is renewed with the refresh cookie, once.
    visitor.cookies.remove("bo_access");
    let page = visitor.get("/account").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(visitor.cookies.contains_key("bo_access"));

    // Logging out ends the session for every copy of its cookies.
    let stolen = visitor.cookies.clone();
    let out = visitor.submit("/logout", &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(!visitor.cookies.contains_key("bo_access") && !visitor.cookies.contains_key("bo_refresh"));
    let mut thief = Visitor::new(&app);
    thief.cookies = stolen;
    let after = thief.get("/account").await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER, "the session ended");
    assert!(location(&after).starts_with("/login?next="));
    let api = thief.api(reqwest::Method::GET, "/api/v1/users/me", Value::Null, false).await;
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);

    // Bearer clients are untouched: no CSRF token needed.
    let (_, bearer) = app.mint_customer();
    let body =
        json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}]});
    assert_eq!(app.post("/api/v1/bookings", body, Some(&bearer)).await.status(), StatusCode::CREATED);
}

async fn a_buyer_holds_pays_and_cancels_with_plain_forms(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, event) = on_sale(&app, 5, 0).await;
    let mut buyer = Visitor::new(&app);
    buyer.sign_up(&email()).await;
    let backwards = buyer.get("/?from=2030-05-02&to=2030-05-01").await;
    assert_eq!(backwards.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(backwards.text().await.unwrap().contains("on or before"));
    let home = buyer.page("/?q=On+Sale").await;
    assert!(home.contains(&format!("/events/{}", id(&event))), "the search finds the event");
    let page = buyer.page(&format!("/events/{}", id(&event))).await;
    assert!(page.contains("EUR 20.00") && page.contains("Standing"));

    let hold = format!("/events/{}/hold", id(&event));
    let unreadable = buyer.submit(&hold, &[("quantity", "1")]).await;
    assert_eq!(unreadable.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unreadable.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let not_a_number =
        buyer.submit(&hold, &[("category_id", &category(&event, 0)), ("quantity", "two")]).await;
    assert_eq!(not_a_number.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(not_a_number.text().await.unwrap().contains("whole number"));
    assert_eq!(
        buyer.get(&format!("/events/{}", id(&event))).await.headers()["cache-control"],
        "private, no-store"
    );
    let fields =
        [("category_id", category(&event, 0)), ("quantity", "2".into()), ("idempotency_key", "k-1".into())];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
    let first = buyer.submit(&hold, &fields).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let booking_page = location(&first);
    let again = buyer.submit(&hold, &fields).await;
    assert_eq!(location(&again), booking_page, "a resubmitted form holds once");

    let pending = buyer.page(&booking_page).await;
    assert!(pending.contains("data-countdown=") && pending.contains("tok_declined"));
    let pay = format!("{booking_page}/pay");
    let declined = buyer.submit(&pay, &[("payment_token", "tok_declined")]).await;
    assert_eq!(declined.status(), StatusCode::PAYMENT_REQUIRED);
    let text = declined.text().await.unwrap();
    assert!(text.contains("declined") && text.contains("still held"), "{text}");
    let paid = buyer.submit(&pay, &[("payment_token", "tok_ok")]).await;
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    let tickets = buyer.page(&location(&paid)).await;
    let qr = regex::Regex::new(r#"src="(/api/v1/tickets/[0-9a-f-]+/qr)""#).unwrap();
    let images: Vec<String> = qr.captures_iter(&tickets).map(|c| c[1].to_owned()).collect();
    assert_eq!(images.len(), 2, "two tickets with their QR codes");
    let image = buyer.get(&images[0]).await;
    assert_eq!(image.headers()[CONTENT_TYPE], "image/png");
    let mine = buyer.page("/bookings").await;
    assert!(mine.contains(&booking_page) && mine.contains("paid"));

    let ask = buyer.page(&format!("{booking_page}/cancel")).await;
    assert!(ask.contains("EUR 40.00 is refunded"), "the confirmation says what happens");
    let cancelled = buyer.submit(&format!("{booking_page}/cancel"), &[]).await;
    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);
    let refunded = buyer.page(&location(&cancelled)).await;
    assert!(refunded.contains("Booking refunded"), "{refunded}");
    assert!(!refunded.contains("/qr\""), "a refunded ticket shows no QR code");
}

async fn a_customer_cannot_open_another_customers_booking(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, event) = on_sale(&app, 5, 0).await;
    let mut owner = Visitor::new(&app);
    owner.sign_up(&email()).await;
    let booking_page = owner.hold_one(&event).await;
    let mut other = Visitor::new(&app);
    other.sign_up(&email()).await;
    for path in [booking_page.clone(), format!("{booking_page}/cancel")] {
        assert_eq!(other.get(&path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let pay = other.submit(&format!("{booking_page}/pay"), &[("payment_token", "tok_ok")]).await;
    assert_eq!(pay.status(), StatusCode::NOT_FOUND);
    let cancel = other.submit(&format!("{booking_page}/cancel"), &[]).await;
    assert_eq!(cancel.status(), StatusCode::NOT_FOUND);
    assert_eq!(owner.get(&booking_page).await.status(), StatusCode::OK, "still the owner's, untouched");
    // Without a session, the page asks to log in first.
    let anonymous = Visitor::new(&app).get(&booking_page).await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
}

async fn an_expired_hold_says_so_and_offers_to_try_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, event) = on_sale(&app, 5, 0).await;
    let mut buyer = Visitor::new(&app);
    buyer.sign_up(&email()).await;
    let booking_page = buyer.hold_one(&event).await;
    app.clock.advance(Duration::from_secs(10 * 60 + 1));
    let paid = buyer.submit(&format!("{booking_page}/pay"), &[("payment_token", "tok_ok")]).await;
    assert_eq!(paid.status(), StatusCode::CONFLICT);
    assert!(paid.text().await.unwrap().contains("the hold expired"));
    let mut expired = String::new();
    for _ in 0..100 {
        expired = buyer.page(&booking_page).await;
        if expired.contains("Booking expired") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(expired.contains("Booking expired") && expired.contains("Try again"), "{expired}");
    assert!(expired.contains(&format!(r#"href="/events/{}""#, id(&event))));
}

/// Reads the next server-sent event of a stream: `(event, data)`.
async fn next_event<B: AsRef<[u8]>>(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<B>> + Unpin),
    buffer: &mut String,
) -> (String, Value) {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let mut event = String::new();
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(value) = line.strip_prefix("event: ").or_else(|| line.strip_prefix("event:")) {
                    event = value.to_owned();
                } else if let Some(value) = line.strip_prefix("data: ").or_else(|| line.strip_prefix("data:"))
                {
                    data.push_str(value);
                }
            }
            if !data.is_empty() {
                return (event, serde_json::from_str(&data).unwrap());
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("an event within 10 seconds")
            .expect("the stream goes on")
            .unwrap();
        buffer.push_str(std::str::from_utf8(chunk.as_ref()).unwrap());
    }
}

async fn the_availability_stream_sends_a_snapshot_then_only_what_changed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, event) = on_sale(&app, 3, 4).await;
    let seated = category(&event, 1);
    let path = format!("/api/v1/events/{}/availability/stream", id(&event));
    let response = app.get(&path, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/event-stream");
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let (kind, snapshot) = next_event(&mut stream, &mut buffer).await;
    assert_eq!(kind, "snapshot");
    assert_eq!(snapshot["seats"], "aaaa");
    let counts = |frame: &Value, category: &str| {
        let found =
            frame["categories"].as_array().unwrap().iter().find(|c| c["id"] == category).unwrap().clone();
        (found["available"].as_u64().unwrap(), found["held"].as_u64().unwrap())
    };
    assert_eq!(counts(&snapshot, &seated), (4, 0));

    let (_, buyer) = app.mint_customer();
    app.hold_ok(&buyer, json!({"event_id": id(&event), "seats": ["Floor/A/2"]})).await;
    let (kind, changes) = next_event(&mut stream, &mut buffer).await;
    assert_eq!(kind, "changes");
    assert_eq!(changes["seats"], json!([[1, "h"]]));
    assert_eq!(counts(&changes, &seated), (3, 1));
    assert!(changes["version"].as_u64() > snapshot["version"].as_u64());

    // A second viewer joins the same watch and starts from the current state.
    let mut second = app.get(&path, None).await.bytes_stream();
    let mut second_buffer = String::new();
    let (_, now) = next_event(&mut second, &mut second_buffer).await;
    assert_eq!(now["seats"], "ahaa");

    let unknown =
        app.get(&format!("/api/v1/events/{}/availability/stream", uuid::Uuid::new_v4()), None).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

async fn the_account_page_changes_names_and_password_and_deletes_the_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut visitor = Visitor::new(&app);
    let email = email();
    visitor.sign_up(&email).await;
    let page = visitor.page("/account").await;
    assert!(page.contains(&email) && page.contains("customer"));

    let renamed = visitor.submit("/account", &[("first_name", "Grace"), ("last_name", "Hopper")]).await;
    assert_eq!(location(&renamed), "/account?done=names");
    let page = visitor.page(&location(&renamed)).await;
    assert!(page.contains(r#"value="Grace""#) && page.contains("Saved."));
    let empty = visitor.submit("/account", &[("first_name", " "), ("last_name", "Hopper")]).await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text().await.unwrap().contains("first_name"));

    let wrong = visitor
        .submit(
            "/account/password",
            &[("current_password", "not it at all"), ("new_password", "a new secret phrase")],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text().await.unwrap().contains("does not match the account"));
    let changed = visitor
        .submit(
            "/account/password",
            &[("current_password", "correct horse battery"), ("new_password", "a new secret phrase")],
        )
        .await;
    assert_eq!(location(&changed), "/account?done=password");
    assert_eq!(visitor.get("/account").await.status(), StatusCode::OK, "this session stays");
    assert_eq!(app.login(&email, "a new secret phrase").await.status(), StatusCode::OK);

    let ask = visitor.page("/account/delete").await;
    assert!(ask.contains("cannot be undone"));
    let deleted = visitor.submit("/account/delete", &[]).await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    assert!(!visitor.cookies.contains_key("bo_access"));
    assert_eq!(app.login(&email, "a new secret phrase").await.status(), StatusCode::UNAUTHORIZED);
}

async fn a_cancelled_event_keeps_its_bookings_readable_and_ends_its_streams(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (organizer, event) = on_sale(&app, 5, 4).await;
    let mut buyer = Visitor::new(&app);
    buyer.sign_up(&email()).await;
    let booking_page = buyer.hold_one(&event).await;
    let paid = buyer.submit(&format!("{booking_page}/pay"), &[("payment_token", "tok_ok")]).await;
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    let response = app.get(&format!("/api/v1/events/{}/availability/stream", id(&event)), None).await;
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    assert_eq!(next_event(&mut stream, &mut buffer).await.0, "snapshot");

    let cancelled =
        app.post(&format!("/api/v1/events/{}/cancel", id(&event)), json!({}), Some(&organizer)).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let (kind, data) = next_event(&mut stream, &mut buffer).await;
    assert_eq!(kind, "closed", "the stream says the event went off sale: {data}");
    let mut page = String::new();
    for _ in 0..100 {
        page = buyer.page(&booking_page).await;
        if page.contains("Booking refunded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(page.contains("Booking refunded") && page.contains("no longer listed"), "{page}");
    assert!(buyer.page("/bookings").await.contains("no longer listed"));
}

async fn tricky_requests_get_pages_not_loops_leaks_or_stale_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut visitor = Visitor::new(&app);
    visitor.sign_up(&email()).await;
    // A login link whose way back leaves the site, or breaks the header, goes home instead.
    for next in ["/%09/evil.example/", "//evil.example", "/%0a", "/%5Cevil.example", "https://evil.example"] {
        let response = visitor.get(&format!("/login?next={next}")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(location(&response), "/", "{next}");
    }
    // The login form is limited with the API's credential endpoints, and answers as a page.
    let mut settings = crate::helpers::fresh_settings(backend).await;
    settings.auth_rate_limit_per_minute = 2;
    let limited_app = TestApp::start(settings).await;
    let mut guesser = Visitor::new(&limited_app);
    guesser.page("/login").await;
    let mut last = None;
    for _ in 0..3 {
        last =
            Some(guesser.submit("/login", &[("email", "x@example.com"), ("password", "wrong guess")]).await);
    }
    let last = last.unwrap();
    assert_eq!(last.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(last.headers().contains_key("retry-after"));
    assert!(last.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    // A page asked with a token it cannot use is shown to an anonymous visitor, not looped.
    let response = Client::new().get(app.url("/login")).bearer_auth("garbage").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Ids and queries a page cannot read are pages too.
    for path in ["/events/not-a-uuid", "/bookings/not-a-uuid", "/?q=a&q=b"] {
        let response = visitor.get(path).await;
        assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"), "{path}");
        assert!(response.status().is_client_error(), "{path}");
    }
    // What a cookie unlocks through the API is kept by no cache.
    let me = visitor.api(reqwest::Method::GET, "/api/v1/users/me", Value::Null, false).await;
    assert_eq!(me.headers()["cache-control"], "private, no-store");
    // Logging out with an expired access cookie clears the session, and sets no renewed one.
    visitor.cookies.remove("bo_access");
    let out = visitor.submit("/logout", &[]).await;
    let set: Vec<String> =
        out.headers().get_all(SET_COOKIE).iter().map(|c| c.to_str().unwrap().to_owned()).collect();
    assert!(
        set.iter()
            .filter(|c| c.starts_with("bo_access=") || c.starts_with("bo_refresh="))
            .all(|c| c.contains("Max-Age=0")),
        "{set:?}"
    );
    assert!(!visitor.cookies.contains_key("bo_refresh"));
}

/// The door scanner's script posts its form asking for JSON: a refusal by the session layer (a
/// stale CSRF token) is a problem it can show, not an HTML page.
async fn a_page_script_asking_for_json_is_refused_with_a_problem(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, event) = on_sale(&app, 5, 0).await;
    let mut visitor = Visitor::new(&app);
    visitor.sign_up(&email()).await;
    let response = visitor
        .client
        .post(format!("{}/scan/{}", visitor.address, id(&event)))
        .header(COOKIE, visitor.cookie_header())
        .header("accept", "application/json")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-csrf-token", "stale")
        .body("code=x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
    let problem: Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("CSRF"), "{problem}");
}
