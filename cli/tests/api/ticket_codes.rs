//! Ticket codes that a screenshot cannot reuse, and tickets that change hands, over the API:
//! rotating codes are taken for the current and the previous 15-second step only (the service's
//! clock moves), static codes as the event allows, and a transferred ticket's earlier codes
//! admit no one.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::bookings::{category, id, on_sale, until};
use crate::helpers::{assert_problem, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    rotating_codes_admit_for_two_steps_and_a_screenshot_not_after,
    a_transferred_ticket_is_its_new_holders_and_its_old_codes_admit_no_one,
);

/// A paid booking of `quantity` standing tickets; returns the tickets.
async fn tickets(app: &TestApp, token: &str, event: &Value, quantity: u32) -> Vec<Value> {
    let body =
        json!({"event_id": id(event), "items": [{"category_id": category(event, 0), "quantity": quantity}]});
    let booking = app.hold_ok(token, body).await;
    let paid: Value = app.confirm(token, &id(&booking), "tok_ok").await.json().await.unwrap();
    paid["tickets"].as_array().unwrap().clone()
}

/// The ticket's current rotating code and when the next one comes.
async fn rotating(app: &TestApp, token: &str, ticket: &Value) -> (String, chrono::DateTime<chrono::Utc>) {
    let response = app.get(&format!("/api/v1/tickets/{}/code", id(ticket)), Some(token)).await;
    assert_eq!(response.headers()["cache-control"], "private, no-store");
    let code: Value = response.json().await.unwrap();
    assert_eq!(code["rotates_every_seconds"], 15);
    let next_at = chrono::DateTime::parse_from_rfc3339(code["next_at"].as_str().unwrap()).unwrap();
    (code["code"].as_str().unwrap().to_owned(), next_at.into())
}

/// Moves the service's clock just past `next_at`: the next step has begun, with most of it left.
fn into_next_step(app: &TestApp, next_at: chrono::DateTime<chrono::Utc>) {
    let left = (next_at - app.clock.now()).to_std().unwrap_or_default();
    app.clock.advance(left + Duration::from_millis(500));
}

async fn transfer(app: &TestApp, token: &str, ticket: &Value, email: &str) -> reqwest::Response {
    app.post(&format!("/api/v1/tickets/{}/transfer", id(ticket)), json!({"email": email}), Some(token)).await
}

async fn check_in(app: &TestApp, organizer: &str, code: &str) -> reqwest::Response {
    app.post("/api/v1/checkin", json!({"code": code}), Some(organizer)).await
}

async fn rotating_codes_admit_for_two_steps_and_a_screenshot_not_after(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (organizer, event) = on_sale(&app, 10, 0).await;
    let (_, buyer) = app.mint_customer();
    let mut tickets = tickets(&app, &buyer, &event, 4).await;
    // (A buyer has four at most.)
    let (_, friend) = app.mint_customer();
    tickets.extend(self::tickets(&app, &friend, &event, 1).await);

    // A screenshot: the code of a step two steps ago no longer admits.
    let (old, _) = rotating(&app, &buyer, &tickets[0]).await;
    app.clock.advance(Duration::from_secs(30));
    assert_problem(check_in(&app, &organizer, &old).await, StatusCode::UNPROCESSABLE_ENTITY, "code_expired")
        .await;

    // The previous step's code still admits (a code read just before it changed).
    let (previous, next_at) = rotating(&app, &buyer, &tickets[0]).await;
    into_next_step(&app, next_at);
    let (current, _) = rotating(&app, &buyer, &tickets[0]).await;
    assert_ne!(previous, current, "the code changed with the step");
    let admitted: Value = check_in(&app, &organizer, &previous).await.json().await.unwrap();
    assert_eq!(admitted["ticket_id"], tickets[0]["id"], "{admitted}");

    // Two doors, two codes of one ticket (the previous and the current): one admits.
    let (first, next_at) = rotating(&app, &buyer, &tickets[1]).await;
    into_next_step(&app, next_at);
    let (second, _) = rotating(&app, &buyer, &tickets[1]).await;
    let (one, other) = tokio::join!(check_in(&app, &organizer, &first), check_in(&app, &organizer, &second));
    let mut statuses = [one.status(), other.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "one admission of the ticket");

    // A code with its step (or anything) altered is forged.
    let mut forged = current.clone();
    forged.replace_range(60..61, if &current[60..61] == "A" { "B" } else { "A" });
    assert_problem(
        check_in(&app, &organizer, &forged).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    // The static code admits until the organizer refuses static codes; the rotating one always.
    let static_code = tickets[2]["code"].as_str().unwrap();
    let path = format!("/api/v1/events/{}", id(&event));
    let patched: Value =
        app.patch(&path, json!({"static_codes": false}), &organizer).await.json().await.unwrap();
    assert_eq!(patched["static_codes"], false);
    until(|| async {
        check_in(&app, &organizer, static_code).await.status() == StatusCode::UNPROCESSABLE_ENTITY
    })
    .await;
    // (Until the change reached the door, the probe may have admitted that ticket: another one.)
    let refused = tickets[3]["code"].as_str().unwrap();
    assert_problem(
        check_in(&app, &organizer, refused).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "static_code_refused",
    )
    .await;
    let (live, _) = rotating(&app, &buyer, &tickets[3]).await;
    assert_eq!(check_in(&app, &organizer, &live).await.status(), StatusCode::OK);
    app.patch(&path, json!({"static_codes": true}), &organizer).await;
    let static_code = tickets[4]["code"].as_str().unwrap();
    until(|| async { check_in(&app, &organizer, static_code).await.status() == StatusCode::OK }).await;

    // The rotating QR image and code are the holder's only.
    let qr = app.get(&format!("/api/v1/tickets/{}/qr?rotating=true", id(&tickets[0])), Some(&buyer)).await;
    assert_eq!(qr.headers()["content-type"], "image/png");
    let (_, stranger) = app.mint_customer();
    let foreign = app.get(&format!("/api/v1/tickets/{}/code", id(&tickets[0])), Some(&stranger)).await;
    assert_problem(foreign, StatusCode::NOT_FOUND, "not_found").await;
}

async fn a_transferred_ticket_is_its_new_holders_and_its_old_codes_admit_no_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (organizer, event) = on_sale(&app, 10, 0).await;
    let (_, ada) = app.customer().await;
    let (bob_email, bob) = app.customer().await;
    let tickets = tickets(&app, &ada.access, &event, 2).await;
    let given = &tickets[0];
    let (old_rotating, _) = rotating(&app, &ada.access, given).await;
    let old_static = given["code"].as_str().unwrap().to_owned();
    // Refusals first: an unknown account, oneself, someone else's ticket.
    assert_problem(
        transfer(&app, &ada.access, given, "nobody@example.com").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let ada_email = app.me(&ada.access).await["email"].as_str().unwrap().to_owned();
    assert_problem(
        transfer(&app, &ada.access, given, &ada_email).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_problem(transfer(&app, &bob.access, given, &ada_email).await, StatusCode::NOT_FOUND, "not_found")
        .await;

    let moved = transfer(&app, &ada.access, given, &bob_email).await;
    assert_eq!(moved.status(), StatusCode::OK);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["received"], true);
    assert_ne!(moved["code"], old_static.as_str(), "a new static code");

    // The old holder's codes admit no one, at once.
    for old in [&old_static, &old_rotating] {
        assert_problem(check_in(&app, &organizer, old).await, StatusCode::GONE, "ticket_transferred").await;
    }
    let gone = app.get(&format!("/api/v1/tickets/{}/code", id(given)), Some(&ada.access)).await;
    assert_problem(gone, StatusCode::NOT_FOUND, "not_found").await;
    let booking: Value = app
        .get(&format!("/api/v1/bookings/{}", moved["booking_id"].as_str().unwrap()), Some(&ada.access))
        .await
        .json()
        .await
        .unwrap();
    let shown =
        booking["tickets"].as_array().unwrap().iter().find(|ticket| ticket["id"] == given["id"]).unwrap();
    assert_eq!(shown["transferred"], true);
    assert_eq!(shown["code"], "");
    // Its buyer cannot get the money back for a ticket someone else holds.
    let refund =
        app.post(&format!("/api/v1/bookings/{}/cancel", id(&booking)), json!({}), Some(&ada.access)).await;
    assert_problem(refund, StatusCode::CONFLICT, "conflict").await;

    // The new holder sees it and gets in with its codes.
    let held: Value = app.get("/api/v1/tickets", Some(&bob.access)).await.json().await.unwrap();
    let items = held["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], given["id"]);
    assert_eq!(items[0]["received"], true);
    assert_eq!(items[0]["code"], moved["code"], "the new holder has the new static code");
    assert_ne!(items[0]["code"], "");
    let ada_held: Value = app.get("/api/v1/tickets", Some(&ada.access)).await.json().await.unwrap();
    assert_eq!(ada_held["items"].as_array().unwrap().len(), 1, "the buyer keeps the other ticket");
    let (bobs, _) = rotating(&app, &bob.access, given).await;
    assert_eq!(check_in(&app, &organizer, &bobs).await.status(), StatusCode::OK);
    // A ticket used at the door no longer changes hands.
    assert_problem(transfer(&app, &bob.access, given, &ada_email).await, StatusCode::CONFLICT, "conflict")
        .await;

    let told = app
        .outbox("bookings")
        .await
        .into_iter()
        .filter(|(envelope, _)| envelope.r#type == "ticket.transferred")
        .count();
    assert_eq!(told, 1);
}
