use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    an_organizer_creates_a_venue_and_an_event_and_publishes_it_into_search,
    drafts_are_invisible_to_the_public,
    invalid_events_are_refused_with_a_detail_naming_the_field,
    customers_cannot_create_venues_or_events,
    another_organizer_cannot_change_an_event_and_nothing_changes,
    publishing_freezes_the_categories_and_only_drafts_can_be_deleted,
    cursor_pagination_shows_every_event_once_while_events_are_inserted,
    pages_of_venues_made_at_the_same_moment_show_each_once,
    search_filters_by_text_city_and_dates,
    a_venue_of_100000_seats_round_trips_intact,
    a_patch_shows_in_the_public_read_at_once,
    availability_stats_and_bookings_of_a_new_event,
    concurrent_patches_to_one_event_all_land,
    an_event_that_starts_in_the_past_is_refused_and_no_patch_moves_a_start_into_the_past,
    an_event_that_has_begun_may_still_be_renamed_but_its_start_not_moved_into_the_past,
);

fn venue_body(sections: Value) -> Value {
    json!({"name": "Main Hall", "city": "Berlin", "address": "Alexanderplatz 1", "sections": sections})
}

pub fn event_body(name: &str, starts_at: &str) -> Value {
    json!({
        "name": name,
        "description": "An evening of music",
        "city": "Berlin",
        "starts_at": starts_at,
        "ends_at": "2030-12-31T23:00:00Z",
        "categories": [{"name": "Standing", "price_cents": 2500, "currency": "EUR", "capacity": 100}],
    })
}

impl TestApp {
    pub async fn create_venue(&self, token: &str, sections: Value) -> Value {
        let response = self.post("/api/v1/venues", venue_body(sections), Some(token)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    pub async fn create_event(&self, token: &str, body: Value) -> Value {
        let response = self.post("/api/v1/events", body, Some(token)).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    pub async fn publish(&self, token: &str, event_id: &str) -> Value {
        let response = self.post(&format!("/api/v1/events/{event_id}/publish"), json!({}), Some(token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// A published general-admission event of a new organizer, and the organizer's token.
    pub async fn published_event(&self, body: Value) -> (String, Value) {
        let (_, organizer) = self.user_with_role("organizer").await;
        let event = self.create_event(&organizer.access, body).await;
        let event = self.publish(&organizer.access, event["id"].as_str().unwrap()).await;
        (organizer.access, event)
    }

    /// Every page of a listing, following `next_cursor`.
    pub async fn all_pages(&self, query: &str, token: Option<&str>) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/events?{query}");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let page: Value = self.get(&path, token).await.json().await.unwrap();
            items.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return items,
            }
        }
    }
}

fn ids(events: &[Value]) -> Vec<String> {
    events.iter().map(|event| event["id"].as_str().unwrap().to_owned()).collect()
}

async fn an_organizer_creates_a_venue_and_an_event_and_publishes_it_into_search(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let venue = app
        .create_venue(
            &organizer.access,
            json!([{"name": "Floor", "rows": [{"label": "A", "seats": 3}, {"label": "B", "seats": 2}]},
                   {"name": "Balcony", "rows": [{"label": "1", "seats": 4}]}]),
        )
        .await;
    assert_eq!(venue["capacity"], 9);
    assert_eq!(venue["seats"][0], "Floor/A/1");
    assert_eq!(venue["seats"][8], "Balcony/1/4");
    let read: Value = app
        .get(&format!("/api/v1/venues/{}", venue["id"].as_str().unwrap()), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, venue, "anyone reads a venue");

    let mut body = event_body("Mahler Night", "2030-06-01T19:00:00Z");
    body["venue_id"] = venue["id"].clone();
    body["max_tickets_per_booking"] = json!(4);
    body["categories"] = json!([
        {"name": "Stalls", "price_cents": 9000, "currency": "EUR", "sections": ["Floor"]},
        {"name": "Balcony", "price_cents": 4000, "currency": "EUR", "sections": ["Balcony"]},
        {"name": "Standing", "price_cents": 1500, "currency": "EUR", "capacity": 200},
    ]);
    let event = app.create_event(&organizer.access, body).await;
    assert_eq!(event["status"], "draft");
    assert_eq!(event["max_tickets_per_booking"], 4);
    assert_eq!(event["categories"][0]["capacity"], 5);
    assert_eq!(event["categories"][1]["capacity"], 4);
    assert_eq!(event["categories"][2]["capacity"], 200);
    let event_id = event["id"].as_str().unwrap();
    assert!(app.all_pages("q=mahler", None).await.is_empty(), "drafts are not listed");

    let published = app.publish(&organizer.access, event_id).await;
    assert_eq!(published["status"], "published");
    let found = app.all_pages("q=MAHLER", None).await;
    assert_eq!(ids(&found), [event_id]);
    let public: Value = app.get(&format!("/api/v1/events/{event_id}"), None).await.json().await.unwrap();
    assert_eq!(public["name"], "Mahler Night");
    assert_eq!(public["organizer_id"], published["organizer_id"]);
}

async fn drafts_are_invisible_to_the_public(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let (_, customer) = app.customer().await;
    let draft = app.create_event(&organizer.access, event_body("Secret Gig", "2030-03-01T20:00:00Z")).await;
    let path = format!("/api/v1/events/{}", draft["id"].as_str().unwrap());
    assert_problem(app.get(&path, None).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.get(&path, Some(&customer.access)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.get(&path, Some(&organizer.access)).await.status(), StatusCode::OK, "the owner sees it");
    let (_, admin) = app.user_with_role("admin").await;
    assert_eq!(app.get(&path, Some(&admin.access)).await.status(), StatusCode::OK, "admins see it");
    assert!(app.all_pages("q=secret", None).await.is_empty());
    let mine = app.all_pages("mine=true", Some(&organizer.access)).await;
    assert_eq!(ids(&mine), [draft["id"].as_str().unwrap()]);
    let availability = app.get(&format!("{path}/availability"), None).await;
    assert_problem(availability, StatusCode::NOT_FOUND, "not_found").await;
}

async fn invalid_events_are_refused_with_a_detail_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let venue = app
        .create_venue(&organizer.access, json!([{"name": "Floor", "rows": [{"label": "A", "seats": 10}]}]))
        .await;
    let valid = event_body("Fine", "2030-06-01T19:00:00Z");
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let cases = [
        (with("name", json!("  ")), "name"),
        (with("starts_at", json!("next friday")), "starts_at"),
        (with("starts_at", json!("9999-12-31T23:00:00-23:00")), "starts_at"),
        (with("starts_at", json!("2030-06-30T23:59:60Z")), "starts_at"),
        (with("starts_at", json!("2001-06-01T19:00:00Z")), "starts_at"),
        (with("ends_at", json!("2030-05-01T19:00:00Z")), "ends_at"),
        (with("sale_starts_at", json!("2030-07-01T00:00:00Z")), "sale_starts_at"),
        (with("max_tickets_per_booking", json!(51)), "max_tickets_per_booking"),
        (with("max_tickets_per_booking", json!(0)), "max_tickets_per_booking"),
        (with("categories", json!([])), "categories"),
        (
            with("categories", json!([{"name": "A", "price_cents": -1, "currency": "EUR", "capacity": 1}])),
            "price_cents",
        ),
        (
            with("categories", json!([{"name": "A", "price_cents": 1, "currency": "EURO", "capacity": 1}])),
            "currency",
        ),
        (
            with("categories", json!([{"name": "A", "price_cents": 1, "currency": "EUR", "capacity": 0}])),
            "capacity",
        ),
        (
            with(
                "categories",
                json!([{"name": "A", "price_cents": 1, "currency": "EUR", "capacity": 1_000_001}]),
            ),
            "capacity",
        ),
        (with("categories", json!([{"name": "A", "price_cents": 1, "currency": "EUR"}])), "categories[0]"),
        (
            with(
                "categories",
                json!([{"name": "A", "price_cents": 1, "currency": "EUR", "sections": ["Floor"]}]),
            ),
            "sections",
        ),
        (with("venue_id", json!("not-a-venue")), "venue_id"),
        (with("status", json!("published")), "status"),
        (with("organizer_id", json!("0192f0e0-0000-7000-8000-000000000000")), "organizer_id"),
    ];
    for (body, field) in cases {
        let response = app.post("/api/v1/events", body.clone(), Some(&organizer.access)).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(problem["detail"].as_str().unwrap().contains(field), "{field}: {problem}");
    }
    let mut seated = with("venue_id", venue["id"].clone());
    seated["categories"] = json!([
        {"name": "A", "price_cents": 1, "currency": "EUR", "sections": ["Floor"]},
        {"name": "B", "price_cents": 1, "currency": "EUR", "sections": ["Floor"]},
    ]);
    let response = app.post("/api/v1/events", seated, Some(&organizer.access)).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(problem["detail"].as_str().unwrap().contains("categories[1].sections"), "{problem}");

    let bad_venues = [
        (json!([]), "sections"),
        (json!([{"name": "A/B", "rows": [{"label": "1", "seats": 1}]}]), "sections[0].name"),
        (json!([{"name": "A", "rows": [{"label": "1", "seats": 0}]}]), "seats"),
    ];
    for (sections, field) in bad_venues {
        let response = app.post("/api/v1/venues", venue_body(sections), Some(&organizer.access)).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(problem["detail"].as_str().unwrap().contains(field), "{field}: {problem}");
    }
    assert!(app.all_pages("mine=true", Some(&organizer.access)).await.is_empty(), "nothing was created");
}

async fn customers_cannot_create_venues_or_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, customer) = app.customer().await;
    let venue = app.post("/api/v1/venues", venue_body(json!([])), Some(&customer.access)).await;
    assert_problem(venue, StatusCode::FORBIDDEN, "forbidden").await;
    let event =
        app.post("/api/v1/events", event_body("Mine", "2030-01-01T10:00:00Z"), Some(&customer.access)).await;
    assert_problem(event, StatusCode::FORBIDDEN, "forbidden").await;
    let anonymous = app.post("/api/v1/events", event_body("Mine", "2030-01-01T10:00:00Z"), None).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

async fn another_organizer_cannot_change_an_event_and_nothing_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, alice) = app.user_with_role("organizer").await;
    let (_, bob) = app.user_with_role("organizer").await;
    let draft = app.create_event(&alice.access, event_body("Alice's Draft", "2030-02-01T20:00:00Z")).await;
    let published = app.create_event(&alice.access, event_body("Alice's Show", "2030-02-02T20:00:00Z")).await;
    let published = app.publish(&alice.access, published["id"].as_str().unwrap()).await;

    for (event, status) in [(&draft, StatusCode::NOT_FOUND), (&published, StatusCode::FORBIDDEN)] {
        let path = format!("/api/v1/events/{}", event["id"].as_str().unwrap());
        let patch = app.patch(&path, json!({"name": "Bob's now"}), &bob.access).await;
        assert_eq!(patch.status(), status);
        let publish = app.post(&format!("{path}/publish"), json!({}), Some(&bob.access)).await;
        assert_eq!(publish.status(), status);
        let cancel = app.post(&format!("{path}/cancel"), json!({}), Some(&bob.access)).await;
        assert_eq!(cancel.status(), status);
        let delete = app.request(Method::DELETE, &path).bearer_auth(&bob.access).send().await.unwrap();
        assert_eq!(delete.status(), status);
        let stats = app.get(&format!("{path}/stats"), Some(&bob.access)).await;
        assert_eq!(stats.status(), status);
        let unchanged: Value = app.get(&path, Some(&alice.access)).await.json().await.unwrap();
        assert_eq!(&unchanged, event, "nothing changed");
    }
}

async fn publishing_freezes_the_categories_and_only_drafts_can_be_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, event) = app.published_event(event_body("Frozen", "2030-04-01T20:00:00Z")).await;
    let path = format!("/api/v1/events/{}", event["id"].as_str().unwrap());
    let categories = json!([{"name": "Cheap", "price_cents": 1, "currency": "EUR", "capacity": 5}]);
    let patch = app.patch(&path, json!({"categories": categories}), &token).await;
    assert_problem(patch, StatusCode::CONFLICT, "conflict").await;
    let renamed = app.patch(&path, json!({"name": "Still Frozen"}), &token).await;
    assert_eq!(renamed.status(), StatusCode::OK, "other fields may still change");
    let delete = app.request(Method::DELETE, &path).bearer_auth(&token).send().await.unwrap();
    assert_problem(delete, StatusCode::CONFLICT, "conflict").await;

    let cancelled = app.post(&format!("{path}/cancel"), json!({}), Some(&token)).await;
    assert_eq!(cancelled.json::<Value>().await.unwrap()["status"], "cancelled");
    assert_problem(app.get(&path, None).await, StatusCode::NOT_FOUND, "not_found").await;
    let republish = app.post(&format!("{path}/publish"), json!({}), Some(&token)).await;
    assert_problem(republish, StatusCode::CONFLICT, "conflict").await;

    let draft = app.create_event(&token, event_body("Scrap", "2030-04-02T20:00:00Z")).await;
    let draft_path = format!("/api/v1/events/{}", draft["id"].as_str().unwrap());
    let delete = app.request(Method::DELETE, &draft_path).bearer_auth(&token).send().await.unwrap();
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&draft_path, Some(&token)).await, StatusCode::NOT_FOUND, "not_found").await;
}

/// Venues made at the same microsecond are paged by their ids: each appears once, for their
/// organizer, and another organizer's venue never.
async fn pages_of_venues_made_at_the_same_moment_show_each_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let (_, other) = app.user_with_role("organizer").await;
    let sections = json!([{"name": "Floor", "rows": [{"label": "A", "seats": 10}]}]);
    let mut made = HashSet::new();
    for _ in 0..7 {
        let venue = app.create_venue(&organizer.access, sections.clone()).await;
        made.insert(venue["id"].as_str().unwrap().to_owned());
    }
    let theirs = app.create_venue(&other.access, sections).await;
    crate::helpers::execute(
        &app.settings,
        "events",
        "UPDATE venues SET created_at = (SELECT MIN(created_at) FROM venues)",
    )
    .await;
    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let mut path = "/api/v1/venues?limit=2".to_owned();
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = app.get(&path, Some(&organizer.access)).await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2, "{page}");
        seen.extend(ids(items));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), made.len(), "{seen:?}");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), made);
    assert!(!seen.contains(&theirs["id"].as_str().unwrap().to_owned()));
}

async fn cursor_pagination_shows_every_event_once_while_events_are_inserted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let mut published = HashSet::new();
    for day in 1..=12 {
        // Two events at the same time, so the tie on starts_at is broken by id.
        let starts_at = format!("2030-01-{:02}T20:00:00Z", 1 + day / 2);
        let event =
            app.create_event(&organizer.access, event_body(&format!("Night {day}"), &starts_at)).await;
        let event = app.publish(&organizer.access, event["id"].as_str().unwrap()).await;
        published.insert(event["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut inserted = 0;
    loop {
        let mut path = "/api/v1/events?limit=5".to_owned();
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = app.get(&path, None).await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 5);
        seen.extend(ids(items));
        // Insert events before and after the current position while paging.
        for starts_at in ["2029-12-01T20:00:00Z", "2030-12-15T20:00:00Z"] {
            inserted += 1;
            let event =
                app.create_event(&organizer.access, event_body(&format!("Late {inserted}"), starts_at)).await;
            app.publish(&organizer.access, event["id"].as_str().unwrap()).await;
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "no event appears twice: {seen:?}");
    for id in &published {
        assert!(seen.contains(id), "{id} was missed");
    }
    let bad = app.get("/api/v1/events?limit=101", None).await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let forged = app.get("/api/v1/events?cursor=forged", None).await;
    assert_problem(forged, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

async fn search_filters_by_text_city_and_dates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let mut jazz = event_body("Late Jazz Session", "2030-05-01T20:00:00Z");
    jazz["city"] = json!("Paris");
    let mut opera = event_body("Opera Gala", "2030-08-01T20:00:00Z");
    opera["description"] = json!("Arias and JAZZ standards, 100% live");
    let mut rock = event_body("Rock Night", "2030-09-01T20:00:00Z");
    rock["city"] = json!("paris");
    let mut events = Vec::new();
    for body in [jazz, opera, rock] {
        let event = app.create_event(&organizer.access, body).await;
        events.push(app.publish(&organizer.access, event["id"].as_str().unwrap()).await);
    }
    let id = |index: usize| events[index]["id"].as_str().unwrap().to_owned();
    assert_eq!(ids(&app.all_pages("q=jazz", None).await), [id(0), id(1)], "name or description, any case");
    assert_eq!(ids(&app.all_pages("q=100%25", None).await), [id(1)], "LIKE wildcards are plain text");
    assert_eq!(ids(&app.all_pages("city=PARIS", None).await), [id(0), id(2)]);
    assert_eq!(ids(&app.all_pages("from=2030-06-01T00:00:00Z", None).await), [id(1), id(2)]);
    assert_eq!(ids(&app.all_pages("from=2030-06-01T00:00:00Z&to=2030-08-31T00:00:00Z", None).await), [id(1)]);
    assert_eq!(ids(&app.all_pages("q=jazz&city=paris", None).await), [id(0)]);
    assert!(app.all_pages("q=polka", None).await.is_empty());
    for control in ["q=%00", "q=a%00b", "city=%00"] {
        let response = app.get(&format!("/api/v1/events?{control}"), None).await;
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let bad = app.get("/api/v1/events?from=yesterday", None).await;
    let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(problem["detail"].as_str().unwrap().contains("from"));
}

async fn a_venue_of_100000_seats_round_trips_intact(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    // 20 sections of 50 rows of 100 seats.
    let sections: Vec<Value> = (1..=20)
        .map(|section| {
            let rows: Vec<Value> =
                (1..=50).map(|row| json!({"label": format!("R{row}"), "seats": 100})).collect();
            json!({"name": format!("S{section}"), "rows": rows})
        })
        .collect();
    let created = app.create_venue(&organizer.access, json!(sections)).await;
    let read: Value = app
        .get(&format!("/api/v1/venues/{}", created["id"].as_str().unwrap()), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, created);
    let seats = read["seats"].as_array().unwrap();
    assert_eq!(seats.len(), 100_000);
    assert_eq!(read["capacity"], 100_000);
    let distinct: HashSet<&str> = seats.iter().map(|seat| seat.as_str().unwrap()).collect();
    assert_eq!(distinct.len(), 100_000);
    for section in 1..=20 {
        for row in [1, 50] {
            for number in [1, 100] {
                assert!(distinct.contains(format!("S{section}/R{row}/{number}").as_str()));
            }
        }
    }
    assert!(!distinct.contains("S1/R1/101"));
}

async fn a_patch_shows_in_the_public_read_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, event) = app.published_event(event_body("Before", "2030-10-01T20:00:00Z")).await;
    let path = format!("/api/v1/events/{}", event["id"].as_str().unwrap());
    // Twice, so the second read is served from the cache.
    for _ in 0..2 {
        let read: Value = app.get(&path, None).await.json().await.unwrap();
        assert_eq!(read["name"], "Before");
    }
    let patched =
        app.patch(&path, json!({"name": "After", "sale_starts_at": "2030-09-01T10:00:00Z"}), &token).await;
    assert_eq!(patched.status(), StatusCode::OK);
    let read: Value = app.get(&path, None).await.json().await.unwrap();
    assert_eq!(read["name"], "After");
    assert_eq!(read["sale_starts_at"], "2030-09-01T10:00:00Z");
    let cleared = app.patch(&path, json!({"sale_starts_at": null}), &token).await;
    assert_eq!(cleared.status(), StatusCode::OK);
    let read: Value = app.get(&path, None).await.json().await.unwrap();
    assert!(read["sale_starts_at"].is_null());
    app.post(&format!("{path}/cancel"), json!({}), Some(&token)).await;
    assert_problem(app.get(&path, None).await, StatusCode::NOT_FOUND, "not_found").await;
}

async fn availability_stats_and_bookings_of_a_new_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let venue = app
        .create_venue(&organizer.access, json!([{"name": "Floor", "rows": [{"label": "A", "seats": 3}]}]))
        .await;
    let mut body = event_body("Counted", "2030-11-01T20:00:00Z");
    body["venue_id"] = venue["id"].clone();
    body["categories"] = json!([
        {"name": "Seats", "price_cents": 5000, "currency": "EUR", "sections": ["Floor"]},
        {"name": "Standing", "price_cents": 2000, "currency": "EUR", "capacity": 10},
    ]);
    let event = app.create_event(&organizer.access, body).await;
    let event = app.publish(&organizer.access, event["id"].as_str().unwrap()).await;
    let path = format!("/api/v1/events/{}", event["id"].as_str().unwrap());

    let availability: Value = app.get(&format!("{path}/availability"), None).await.json().await.unwrap();
    assert_eq!(availability["event_id"], event["id"]);
    let categories = availability["categories"].as_array().unwrap();
    assert_eq!(categories.len(), 2);
    for category in categories {
        let total = category["available"].as_u64().unwrap()
            + category["held"].as_u64().unwrap()
            + category["sold"].as_u64().unwrap();
        let capacity =
            event["categories"].as_array().unwrap().iter().find(|c| c["id"] == category["id"]).unwrap()
                ["capacity"]
                .as_u64()
                .unwrap();
        assert_eq!(total, capacity, "sold + held + available = capacity");
    }
    let seats = availability["seats"].as_array().unwrap();
    assert_eq!(seats.len(), 3);
    assert_eq!(seats[0]["id"], "Floor/A/1");
    assert_eq!(seats[0]["status"], "available");
    assert_eq!(seats[0]["category_id"], event["categories"][0]["id"]);

    let stats: Value = app.get(&format!("{path}/stats"), Some(&organizer.access)).await.json().await.unwrap();
    assert_eq!(stats["sold"], 0);
    assert_eq!(stats["held"], 0);
    assert_eq!(stats["available"], 13);
    assert_eq!(stats["revenue_cents"], 0);
    assert_eq!(stats["checked_in"], 0);
    let bookings: Value =
        app.get(&format!("{path}/bookings"), Some(&organizer.access)).await.json().await.unwrap();
    assert_eq!(bookings["items"], json!([]));
    assert!(bookings["next_cursor"].is_null());

    let (_, customer) = app.customer().await;
    assert_problem(
        app.get(&format!("{path}/stats"), Some(&customer.access)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(&format!("{path}/bookings"), Some(&customer.access)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(app.get(&format!("{path}/stats"), None).await, StatusCode::UNAUTHORIZED, "unauthorized")
        .await;
    let (_, admin) = app.user_with_role("admin").await;
    assert_eq!(app.get(&format!("{path}/stats"), Some(&admin.access)).await.status(), StatusCode::OK);
}

async fn concurrent_patches_to_one_event_all_land(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let event = app.create_event(&organizer.access, event_body("Busy", "2030-03-01T20:00:00Z")).await;
    let path = format!("/api/v1/events/{}", event["id"].as_str().unwrap());
    let patches = (0..30)
        .map(|index| app.patch(&path, json!({"description": format!("take {index}")}), &organizer.access));
    let statuses: Vec<StatusCode> =
        futures::future::join_all(patches).await.into_iter().map(|response| response.status()).collect();
    assert!(statuses.iter().all(|&status| status == StatusCode::OK), "{statuses:?}");
}

/// RFC 3339, `offset` from now.
fn from_now(offset: chrono::Duration) -> String {
    (chrono::Utc::now() + offset).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

async fn an_event_that_starts_in_the_past_is_refused_and_no_patch_moves_a_start_into_the_past(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let an_hour_ago = from_now(-chrono::Duration::hours(1));
    let past =
        app.post("/api/v1/events", event_body("Yesterday's News", &an_hour_ago), Some(&organizer.access));
    let problem = assert_problem(past.await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(problem["detail"].as_str().unwrap().starts_with("starts_at"), "{problem}");
    assert!(app.all_pages("mine=true", Some(&organizer.access)).await.is_empty(), "nothing was created");

    let draft = app.create_event(&organizer.access, event_body("Ahead", "2030-06-01T19:00:00Z")).await;
    let path = format!("/api/v1/events/{}", draft["id"].as_str().unwrap());
    let back = app.patch(&path, json!({"starts_at": an_hour_ago}), &organizer.access).await;
    let problem = assert_problem(back, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(problem["detail"].as_str().unwrap().starts_with("starts_at"), "{problem}");

    let published = app.publish(&organizer.access, draft["id"].as_str().unwrap()).await;
    let back =
        app.patch(&path, json!({"name": "Renamed", "starts_at": an_hour_ago}), &organizer.access).await;
    assert_problem(back, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let unchanged: Value = app.get(&path, None).await.json().await.unwrap();
    assert_eq!(unchanged, published, "a refused patch changes nothing, not even the name");

    let later = app.patch(&path, json!({"starts_at": "2030-07-01T19:00:00Z"}), &organizer.access).await;
    assert_eq!(later.status(), StatusCode::OK, "a start may still move ahead");
}

async fn an_event_that_has_begun_may_still_be_renamed_but_its_start_not_moved_into_the_past(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let lead = std::time::Duration::from_secs(2);
    let mut body = event_body("Starting Soon", &from_now(chrono::Duration::from_std(lead).unwrap()));
    body["ends_at"] = json!(from_now(chrono::Duration::hours(3)));
    let event = app.create_event(&organizer.access, body).await;
    let event = app.publish(&organizer.access, event["id"].as_str().unwrap()).await;
    let path = format!("/api/v1/events/{}", event["id"].as_str().unwrap());
    // Let the event begin.
    tokio::time::sleep(lead + std::time::Duration::from_millis(500)).await;

    let renamed = app.patch(&path, json!({"name": "Running"}), &organizer.access).await;
    assert_eq!(renamed.status(), StatusCode::OK, "a running event may be renamed");
    // A client that sends the whole form back sends the start unchanged.
    let whole_form = json!({
        "name": "Running Late",
        "starts_at": event["starts_at"],
        "ends_at": from_now(chrono::Duration::hours(4)),
    });
    let resent = app.patch(&path, whole_form, &organizer.access).await;
    assert_eq!(resent.status(), StatusCode::OK, "an unchanged start is not moved");
    let moved_back = app
        .patch(&path, json!({"starts_at": from_now(-chrono::Duration::minutes(5))}), &organizer.access)
        .await;
    let problem = assert_problem(moved_back, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(problem["detail"].as_str().unwrap().starts_with("starts_at"), "{problem}");

    let read: Value = app.get(&path, None).await.json().await.unwrap();
    assert_eq!(read["name"], "Running Late");
    assert_eq!(read["starts_at"], event["starts_at"]);
    assert_eq!(read["status"], "published");
}
