//! The waiting list of a sold-out category over the API: joining, offers in order of the tickets
//! that come back (a refund, a declined offer, a lapsed one), and the inventory adding up at
//! every step with nothing both offered and on sale.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::bookings::{category, id, until};
use crate::events::event_body;
use crate::helpers::{assert_problem, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    returned_tickets_go_to_the_waiting_list_in_order_and_never_on_sale_in_between,
    a_return_goes_to_the_first_entry_it_fills_else_to_the_first_in_line,
    a_join_racing_a_refund_either_gets_the_ticket_or_is_told_it_is_on_sale,
);

/// (available, held, sold) adds up to the capacity.
async fn assert_counts(app: &TestApp, event: &Value, category_id: &str, expected: (u64, u64, u64)) {
    let counts = app.counts(event, category_id).await;
    assert_eq!(counts, expected);
    assert_eq!(counts.0 + counts.1 + counts.2, 2, "sold + held + available = capacity");
}

async fn entry(app: &TestApp, token: &str, entry_id: &str) -> Value {
    let entries: Value = app.get("/api/v1/waiting-list", Some(token)).await.json().await.unwrap();
    entries["items"].as_array().unwrap().iter().find(|entry| entry["id"] == entry_id).unwrap().clone()
}

async fn returned_tickets_go_to_the_waiting_list_in_order_and_never_on_sale_in_between(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let mut body = event_body("Sold Out Soon", "2030-05-01T20:00:00Z");
    body["max_tickets_per_booking"] = json!(2);
    body["waiting_list_offer_minutes"] = json!(60);
    body["categories"] = json!([{"name": "Standing", "price_cents": 2000, "currency": "EUR", "capacity": 2}]);
    let event = app.create_event(&organizer.access, body).await;
    assert_eq!(event["waiting_list_offer_minutes"], 60);
    let event = app.publish(&organizer.access, &id(&event)).await;
    let standing = category(&event, 0);
    let list = format!("/api/v1/events/{}/waiting-list", id(&event));
    let hold = |quantity: u32| json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": quantity}]});

    let (_, ada) = app.mint_customer();
    let (_, bob) = app.mint_customer();
    let (_, cyd) = app.mint_customer();
    let (_, dan) = app.mint_customer();
    let (_, eve) = app.mint_customer();
    let join = |token: &str, quantity: u32| {
        app.request(Method::POST, &list)
            .bearer_auth(token.to_owned())
            .json(&json!({"category_id": standing, "quantity": quantity}))
            .send()
    };
    // Nothing to wait for while tickets are on sale.
    assert_problem(join(&bob, 1).await.unwrap(), StatusCode::CONFLICT, "not_sold_out").await;
    let sale = app.hold_ok(&ada, hold(2)).await;
    let sale: Value = app.confirm(&ada, &id(&sale), "tok_ok").await.json().await.unwrap();
    assert_eq!(sale["status"], "confirmed");

    // Three entries; bad ones are refused.
    assert_problem(join(&bob, 0).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_problem(join(&bob, 3).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let mut entries = Vec::new();
    for (token, quantity) in [(&bob, 2), (&cyd, 2), (&dan, 1)] {
        let response = join(token, quantity).await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let entry: Value = response.json().await.unwrap();
        assert_eq!(entry["status"], "waiting");
        entries.push(entry);
    }
    assert_eq!(
        entries.iter().map(|entry| entry["position"].as_u64().unwrap()).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_problem(join(&bob, 1).await.unwrap(), StatusCode::CONFLICT, "conflict").await;
    let anonymous = app.post(&list, json!({"category_id": standing, "quantity": 1}), None).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let (bob_entry, cyd_entry, dan_entry) = (id(&entries[0]), id(&entries[1]), id(&entries[2]));
    let stats = format!("/api/v1/events/{}/stats", id(&event));
    let waiting = || async {
        let stats: Value = app.get(&stats, Some(&organizer.access)).await.json().await.unwrap();
        (stats["waiting"].as_u64().unwrap(), stats["categories"][0]["waiting"].as_u64().unwrap())
    };
    assert_eq!(waiting().await, (3, 3), "the organizer sees who waits");

    // A refund: both tickets go to the first entry, not back on sale.
    let refunded: Value = app
        .request(Method::POST, &format!("/api/v1/bookings/{}/cancel", id(&sale)))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refunded["status"], "refunded");
    assert_counts(&app, &event, &standing, (0, 2, 0)).await;
    assert_problem(app.hold(&eve, hold(1)).await, StatusCode::CONFLICT, "sold_out").await;
    let offered = entry(&app, &bob, &bob_entry).await;
    assert_eq!(offered["status"], "offered", "{offered}");
    assert_eq!(offered["offered_quantity"], 2);
    let offer: Value = app
        .get(&format!("/api/v1/bookings/{}", offered["booking_id"].as_str().unwrap()), Some(&bob))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(offer["status"], "pending");
    assert_eq!(offer["total_cents"], 4000);
    assert_eq!(entry(&app, &cyd, &cyd_entry).await["position"], 1);
    assert_eq!(waiting().await, (2, 2));
    // Nobody else pays for someone's offer.
    let stolen = app.confirm(&cyd, &id(&offer), "tok_ok").await;
    assert_problem(stolen, StatusCode::NOT_FOUND, "not_found").await;

    // The offer lapses (an hour on the service's clock): both tickets go to the second entry.
    app.clock.advance(Duration::from_secs(60 * 60 + 1));
    until(|| async { entry(&app, &bob, &bob_entry).await["status"] == "lapsed" }).await;
    let second = entry(&app, &cyd, &cyd_entry).await;
    assert_eq!(second["status"], "offered", "{second}");
    assert_eq!(second["offered_quantity"], 2);
    assert_counts(&app, &event, &standing, (0, 2, 0)).await;
    assert_problem(app.hold(&eve, hold(1)).await, StatusCode::CONFLICT, "sold_out").await;
    assert_eq!(entry(&app, &dan, &dan_entry).await["position"], 1);
    let lapsed = app.confirm(&bob, &id(&offer), "tok_ok").await;
    assert_problem(lapsed, StatusCode::CONFLICT, "hold_expired").await;

    // The second declines: the third wants one, and the other returns to sale.
    let declined: Value = app
        .request(Method::DELETE, &format!("/api/v1/waiting-list/{cyd_entry}"))
        .bearer_auth(&cyd)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(declined["status"], "declined", "{declined}");
    let third = entry(&app, &dan, &dan_entry).await;
    assert_eq!(third["status"], "offered", "{third}");
    assert_eq!(third["offered_quantity"], 1);
    assert_counts(&app, &event, &standing, (1, 1, 0)).await;
    app.hold_ok(&eve, hold(1)).await;
    assert_counts(&app, &event, &standing, (0, 2, 0)).await;

    // The third pays: the entry is bought and the ticket theirs.
    let paid: Value =
        app.confirm(&dan, third["booking_id"].as_str().unwrap(), "tok_ok").await.json().await.unwrap();
    assert_eq!(paid["status"], "confirmed", "{paid}");
    assert_eq!(paid["tickets"].as_array().unwrap().len(), 1);
    assert_eq!(entry(&app, &dan, &dan_entry).await["status"], "bought");
    assert_counts(&app, &event, &standing, (0, 1, 1)).await;
    // Leaving an entry that is done changes nothing; another's entry is not found.
    let again = app
        .request(Method::DELETE, &format!("/api/v1/waiting-list/{dan_entry}"))
        .bearer_auth(&dan)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let foreign = app
        .request(Method::DELETE, &format!("/api/v1/waiting-list/{dan_entry}"))
        .bearer_auth(&eve)
        .send()
        .await
        .unwrap();
    assert_problem(foreign, StatusCode::NOT_FOUND, "not_found").await;
    // The offers were told through the outbox, for the emails.
    let offers = app
        .outbox("bookings")
        .await
        .into_iter()
        .filter(|(envelope, _)| envelope.r#type == "waiting_list.offered")
        .count();
    assert_eq!(offers, 3);
}

/// The moment a ticket comes back, a buyer joins the list: of the two orders, either the entry
/// came first and gets the ticket, or the ticket did and the join is refused as `not_sold_out`;
/// never an entry waiting while its ticket is on sale.
async fn a_join_racing_a_refund_either_gets_the_ticket_or_is_told_it_is_on_sale(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let (mut offered, mut refused) = (0, 0);
    for round in 0..12 {
        let mut body = event_body(&format!("Race {round}"), "2030-05-01T20:00:00Z");
        body["categories"] =
            json!([{"name": "Standing", "price_cents": 2000, "currency": "EUR", "capacity": 1}]);
        let event = app.create_event(&organizer.access, body).await;
        let event = app.publish(&organizer.access, &id(&event)).await;
        let standing = category(&event, 0);
        let (_, buyer) = app.mint_customer();
        let (_, waiter) = app.mint_customer();
        let hold = json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 1}]});
        let sale = app.hold_ok(&buyer, hold).await;
        app.confirm(&buyer, &id(&sale), "tok_ok").await;
        let (cancel, list) = (
            format!("/api/v1/bookings/{}/cancel", id(&sale)),
            format!("/api/v1/events/{}/waiting-list", id(&event)),
        );
        let refund = app.post(&cancel, json!({}), Some(&buyer));
        let join = app.post(&list, json!({"category_id": standing, "quantity": 1}), Some(&waiter));
        let (refund, join) = tokio::join!(refund, join);
        assert_eq!(refund.status(), StatusCode::OK);
        let counts = app.counts(&event, &standing).await;
        match join.status() {
            StatusCode::CREATED => {
                let entries: Value =
                    app.get("/api/v1/waiting-list", Some(&waiter)).await.json().await.unwrap();
                assert_eq!(entries["items"][0]["status"], "offered", "round {round}: {entries}");
                assert_eq!(counts, (0, 1, 0), "round {round}: the ticket is the entry's offer");
                offered += 1;
            }
            StatusCode::CONFLICT => {
                let problem: Value = join.json().await.unwrap();
                assert_eq!(problem["code"], "not_sold_out", "round {round}: {problem}");
                assert_eq!(counts, (1, 0, 0), "round {round}: the ticket is on sale");
                refused += 1;
            }
            other => panic!("round {round}: the join answered {other}"),
        }
    }
    eprintln!("joins that got the ticket: {offered}, told it was on sale: {refused}");
}

/// Entries of 2, 1 and 3 tickets; single tickets come back one by one. The first goes to the
/// entry of 1 (the first it fills); the next to the entry of 2 (no entry is filled by one: the
/// first in line gets what came back); the buyer who gives a ticket back is not offered it.
async fn a_return_goes_to_the_first_entry_it_fills_else_to_the_first_in_line(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let mut body = event_body("Fits", "2030-05-01T20:00:00Z");
    body["categories"] = json!([{"name": "Standing", "price_cents": 2000, "currency": "EUR", "capacity": 2}]);
    let event = app.create_event(&organizer.access, body).await;
    let event = app.publish(&organizer.access, &id(&event)).await;
    let standing = category(&event, 0);
    let hold = json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 1}]});
    let (_, one) = app.mint_customer();
    let (_, other) = app.mint_customer();
    let mut sales = Vec::new();
    for buyer in [&one, &other] {
        let sale = app.hold_ok(buyer, hold.clone()).await;
        app.confirm(buyer, &id(&sale), "tok_ok").await;
        sales.push(sale);
    }
    let list = format!("/api/v1/events/{}/waiting-list", id(&event));
    let mut entries = Vec::new();
    // The first seller waits for more too: their own ticket is not offered back to them.
    for (token, quantity) in [(&one, 3), (&app.mint_customer().1, 2), (&app.mint_customer().1, 1)] {
        let joined =
            app.post(&list, json!({"category_id": standing, "quantity": quantity}), Some(token)).await;
        assert_eq!(joined.status(), StatusCode::CREATED);
        entries.push((token.clone(), id(&joined.json::<Value>().await.unwrap())));
    }
    let status = |which: usize| {
        let (token, entry_id) = entries[which].clone();
        let app = &app;
        async move { entry(app, &token, &entry_id).await }
    };
    app.post(&format!("/api/v1/bookings/{}/cancel", id(&sales[0])), json!({}), Some(&one)).await;
    assert_eq!(status(2).await["status"], "offered", "the entry of one ticket is filled first");
    assert_eq!(status(0).await["status"], "waiting", "the seller is not offered their own ticket");
    app.post(&format!("/api/v1/bookings/{}/cancel", id(&sales[1])), json!({}), Some(&other)).await;
    let first = status(0).await;
    assert_eq!(first["status"], "offered", "nobody is filled by one ticket: the first in line: {first}");
    assert_eq!(first["offered_quantity"], 1);
    assert_eq!(status(1).await["status"], "waiting");
    assert_eq!(app.counts(&event, &standing).await, (0, 2, 0));
}
