//! The virtual waiting room over the API: an event's settings, joining before the sale (a drawn
//! place) and after it, admissions, and holds that need the buyer's own admission pass.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::bookings::{category, id};
use crate::events::event_body;
use crate::helpers::{assert_problem, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    an_event_keeps_its_waiting_room_settings,
    buyers_are_let_in_from_the_start_and_hold_only_with_their_own_pass,
    a_room_that_asks_a_proof_of_work_takes_only_solved_challenges,
);

fn at(offset: chrono::Duration) -> String {
    (Utc::now() + offset).to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn room(rate: u32) -> Value {
    json!({"opens_at": at(chrono::Duration::seconds(-60)), "admissions_per_minute": rate, "admission_minutes": 10, "max_admitted": 1000})
}

async fn an_event_keeps_its_waiting_room_settings(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let mut body = event_body("Queued", "2030-05-01T20:00:00Z");
    body["waiting_room"] = room(600);
    let refused = app.post("/api/v1/events", body.clone(), Some(&organizer.access)).await;
    let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(problem["detail"].as_str().unwrap().starts_with("waiting_room: "), "{problem}");
    body["sale_starts_at"] = json!("2030-04-01T10:00:00Z");
    let event = app.create_event(&organizer.access, body.clone()).await;
    assert_eq!(event["waiting_room"]["admissions_per_minute"], 600);
    assert_eq!(event["waiting_room"]["proof_of_work_bits"], 0);
    let path = format!("/api/v1/events/{}", id(&event));
    let mut faster = room(1200);
    faster["admission_minutes"] = json!(61);
    let refused = app.patch(&path, json!({"waiting_room": faster}), &organizer.access).await;
    let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(problem["detail"].as_str().unwrap().starts_with("waiting_room.admission_minutes: "), "{problem}");
    let patched: Value =
        app.patch(&path, json!({"waiting_room": room(1200)}), &organizer.access).await.json().await.unwrap();
    assert_eq!(patched["waiting_room"]["admissions_per_minute"], 1200);
    // A sale start after the room opens keeps it; clearing the sale start needs the room gone.
    let refused = app.patch(&path, json!({"sale_starts_at": null}), &organizer.access).await;
    assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let removed: Value =
        app.patch(&path, json!({"waiting_room": null}), &organizer.access).await.json().await.unwrap();
    assert!(removed["waiting_room"].is_null(), "{removed}");
    let published = app.publish(&organizer.access, &id(&event)).await;
    let (_, buyer) = app.customer().await;
    let none = app.get(&format!("{path}/queue"), Some(&buyer.access)).await;
    assert_problem(none, StatusCode::NOT_FOUND, "not_found").await;
    let _ = published;
}

async fn buyers_are_let_in_from_the_start_and_hold_only_with_their_own_pass(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let sale_in = chrono::Duration::seconds(3);
    let mut body = event_body("Rush", "2030-05-01T20:00:00Z");
    body["sale_starts_at"] = json!(at(sale_in));
    body["waiting_room"] = room(6000);
    let event = app.create_event(&organizer.access, body.clone()).await;
    let event = app.publish(&organizer.access, &id(&event)).await;
    body["name"] = json!("Other Rush");
    let other = app.create_event(&organizer.access, body).await;
    let other = app.publish(&organizer.access, &id(&other)).await;
    let queue = format!("/api/v1/events/{}/queue", id(&event));

    let (_, ada) = app.customer().await;
    let (_, bob) = app.customer().await;
    let hold =
        json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}]});
    assert_problem(app.hold(&ada.access, hold.clone()).await, StatusCode::FORBIDDEN, "queue_required").await;
    let nobody: Value = app.get(&queue, Some(&ada.access)).await.json().await.unwrap();
    assert_eq!(nobody["state"], "not_queued");
    for buyer in [&ada, &bob] {
        let joined: Value = app.post(&queue, json!({}), Some(&buyer.access)).await.json().await.unwrap();
        assert_eq!(joined["state"], "drawing", "before the sale, the place is drawn at the start: {joined}");
        assert!(joined["pass"].is_null());
    }
    let again: Value = app.post(&queue, json!({}), Some(&ada.access)).await.json().await.unwrap();
    assert_eq!(again["queued"], 2, "one place per account");

    // From the start, 100 a second are let in: both at once.
    tokio::time::sleep(sale_in.to_std().unwrap() + Duration::from_millis(300)).await;
    let admitted: Value = app.get(&queue, Some(&ada.access)).await.json().await.unwrap();
    assert_eq!(admitted["state"], "admitted", "{admitted}");
    let pass = admitted["pass"].as_str().unwrap().to_owned();
    let bob_pass = app.get(&queue, Some(&bob.access)).await.json::<Value>().await.unwrap()["pass"]
        .as_str()
        .unwrap()
        .to_owned();

    let with = |token: &str, pass: &str, body: &Value| {
        app.request(reqwest::Method::POST, "/api/v1/bookings")
            .bearer_auth(token)
            .header("x-queue-pass", pass)
            .json(body)
            .send()
    };
    let other_hold =
        json!({"event_id": id(&other), "items": [{"category_id": category(&other, 0), "quantity": 1}]});
    let mut forged = pass.clone();
    forged.push('A');
    let (until, tag) = pass.split_once('.').unwrap();
    let later = format!("{}.{tag}", until.parse::<u64>().unwrap() + 3_600_000);
    for (token, pass, body, why) in [
        (&ada.access, bob_pass.as_str(), &hold, "another account's pass"),
        (&ada.access, pass.as_str(), &other_hold, "another event's pass"),
        (&ada.access, forged.as_str(), &hold, "an altered pass"),
        (&ada.access, later.as_str(), &hold, "a pass with its end moved"),
    ] {
        let response = with(token, pass, body).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{why}");
        assert_eq!(response.json::<Value>().await.unwrap()["code"], "queue_required", "{why}");
    }
    let response = with(&ada.access, &pass, &hold).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let booking: Value = response.json().await.unwrap();
    assert_eq!(app.confirm(&ada.access, &id(&booking), "tok_ok").await.status(), StatusCode::OK);
    let done: Value = app.get(&queue, Some(&ada.access)).await.json().await.unwrap();
    assert_eq!(done["state"], "completed", "a paid booking ends the admission: {done}");
    let response = with(&ada.access, &pass, &hold).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "its pass admits nothing more");
    // Joining again puts the buyer at the back, and a new admission comes with a new pass.
    let back: Value = app.post(&queue, json!({}), Some(&ada.access)).await.json().await.unwrap();
    assert!(matches!(back["state"].as_str(), Some("admitted" | "waiting")), "{back}");

    // Later arrivals queue in arrival order behind the drawn ones.
    let (_, cleo) = app.customer().await;
    let joined: Value = app.post(&queue, json!({}), Some(&cleo.access)).await.json().await.unwrap();
    assert!(matches!(joined["state"].as_str(), Some("admitted" | "waiting")), "{joined}");
}

/// Two gateways (two whole replicas on one PostgreSQL and one Redis) serve one queue: 150
/// buyers join through either before the sale, and from the start admissions follow the
/// configured rate whichever replica the buyers poll. The big version (1,000 buyers, a minute)
/// is `boxoffice bench` territory; this one runs ten seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_let_buyers_in_at_one_rate() {
    const BUYERS: usize = 150;
    const RATE: u32 = 600;
    let mut settings = crate::helpers::fresh_settings(Backend::Postgres).await;
    settings.auth_rate_limit_per_minute = 0;
    let one = TestApp::start(settings.clone()).await;
    let two = TestApp::start(settings).await;
    let (_, organizer) = one.user_with_role("organizer").await;
    // The sale's start, as the event is given it (to the millisecond).
    let started = Utc::now() + chrono::Duration::seconds(3);
    let mut body = event_body("Two Doors", "2030-05-01T20:00:00Z");
    body["sale_starts_at"] = json!(started.to_rfc3339_opts(SecondsFormat::Millis, true));
    body["waiting_room"] = room(RATE);
    let event = one.create_event(&organizer.access, body).await;
    let event = one.publish(&organizer.access, &id(&event)).await;
    let queue = format!("/api/v1/events/{}/queue", id(&event));
    let buyers: Vec<String> = (0..BUYERS).map(|_| one.mint_customer().1).collect();
    let apps = [&one, &two];
    for (i, token) in buyers.iter().enumerate() {
        let joined = apps[i % 2].post(&queue, json!({}), Some(token)).await;
        assert_eq!(joined.status(), StatusCode::OK);
    }
    // Ten seconds of polls by every buyer, through both gateways in turn.
    let end = started + chrono::Duration::seconds(10);
    tokio::time::sleep((started - Utc::now()).to_std().unwrap_or_default()).await;
    let mut round = 0;
    let mut last = Value::Null;
    while Utc::now() < end {
        for (i, token) in buyers.iter().enumerate().step_by(10) {
            last = apps[(i + round) % 2].get(&queue, Some(token)).await.json().await.unwrap();
        }
        round += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Each buyer's state is read at its own moment of the loop below: as many are let in as the
    // rate allows between the loop's start and its end (which a busy machine draws apart).
    let minutes_since_start = || (Utc::now() - started).num_milliseconds() as f64 / 60_000.0;
    let before = minutes_since_start();
    let mut admitted = 0;
    for (i, token) in buyers.iter().enumerate() {
        let place: Value = apps[i % 2].get(&queue, Some(token)).await.json().await.unwrap();
        if place["state"] == "admitted" {
            admitted += 1;
        } else {
            assert_eq!(place["state"], "waiting", "{place}");
            let hold = json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}]});
            let refused = apps[i % 2].hold(token, hold).await;
            assert_eq!(refused.status(), StatusCode::FORBIDDEN, "no hold without a pass");
        }
    }
    let after = minutes_since_start();
    let (fewest, most) = (before * f64::from(RATE) + 1.0, after * f64::from(RATE) + 1.0);
    // Twice the rate (each gateway letting buyers in on its own) must stay beyond the bound.
    assert!(
        most * 1.05 < 2.0 * fewest.min(BUYERS as f64 / 2.0),
        "the loop took too long to tell: {fewest:.0} to {most:.0}"
    );
    let admitted = f64::from(admitted);
    assert!(
        admitted >= fewest * 0.95 && admitted <= most * 1.05,
        "{admitted} let in, {fewest:.0} to {most:.0} expected at {RATE} a minute ({last})"
    );
}

async fn a_room_that_asks_a_proof_of_work_takes_only_solved_challenges(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let mut body = event_body("Worked", "2030-05-01T20:00:00Z");
    body["sale_starts_at"] = json!(at(chrono::Duration::seconds(60)));
    let mut settings = room(600);
    settings["proof_of_work_bits"] = json!(10);
    body["waiting_room"] = settings;
    let event = app.create_event(&organizer.access, body).await;
    let event = app.publish(&organizer.access, &id(&event)).await;
    let queue = format!("/api/v1/events/{}/queue", id(&event));
    let (_, ada) = app.customer().await;
    let (_, bob) = app.customer().await;

    let place: Value = app.get(&queue, Some(&ada.access)).await.json().await.unwrap();
    assert_eq!(place["proof_of_work_bits"], 10);
    let challenge = place["challenge"].as_str().unwrap().to_owned();
    let nonce = (0u64..)
        .map(|n| n.to_string())
        .find(|n| boxoffice_gateway::waiting_room::solves(&challenge, n, 10))
        .unwrap();
    let wrong = (0u64..)
        .map(|n| n.to_string())
        .find(|n| !boxoffice_gateway::waiting_room::solves(&challenge, n, 10))
        .unwrap();
    for (token, body, why) in [
        (&ada.access, json!({}), "no work"),
        (&ada.access, json!({"challenge": challenge, "nonce": wrong}), "a wrong nonce"),
        (&bob.access, json!({"challenge": challenge, "nonce": nonce}), "another account's challenge"),
        (&ada.access, json!({"challenge": format!("1{challenge}"), "nonce": nonce}), "an altered challenge"),
    ] {
        let refused = app.post(&queue, body, Some(token)).await;
        assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let _ = why;
    }
    let joined: Value = app
        .post(&queue, json!({"challenge": challenge, "nonce": nonce}), Some(&ada.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(joined["state"], "drawing", "{joined}");
    assert!(joined["challenge"].is_null());
    let again: Value = app.post(&queue, json!({}), Some(&ada.access)).await.json().await.unwrap();
    assert_eq!(again["state"], "drawing", "joining again needs no new work: {again}");
}
