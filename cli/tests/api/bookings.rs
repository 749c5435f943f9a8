use std::collections::HashSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::events::event_body;
use crate::helpers::{assert_problem, fresh_settings, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_hold_confirmed_with_tok_ok_gives_tickets_that_check_in_once,
    five_hundred_buyers_for_a_hundred_units_hold_exactly_a_hundred,
    two_hundred_buyers_for_one_seat_get_exactly_one,
    fifty_concurrent_requests_with_one_idempotency_key_make_one_booking,
    an_unconfirmed_hold_expires_and_its_units_return,
    a_declined_payment_gives_402_and_keeps_the_hold,
    availability_survives_a_restart_and_a_lost_store,
    nobody_acts_on_a_booking_or_ticket_that_is_not_theirs,
    cancelling_returns_the_tickets_to_sale_at_once,
    buyers_refused_as_sold_out_get_the_tickets_the_moment_they_return,
    cancelling_an_event_refunds_its_bookings,
    limits_per_booking_and_per_buyer_hold,
    confirmations_racing_an_event_cancellation_are_all_refunded,
    holds_whose_clients_gave_up_are_recorded_or_released,
    a_ticket_used_at_the_door_is_not_refunded,
    the_qr_image_of_a_refunded_ticket_is_gone_with_410_ticket_refunded,
    every_change_of_a_booking_is_told_once_through_the_outbox_in_order,
    pages_of_bookings_made_at_the_same_moment_show_each_once,
);

/// A published event with a general-admission category of `standing` places and, when
/// `seats` > 0, a seated category of one row of `seats` seats. Returns the organizer's token
/// and the event.
pub(crate) async fn on_sale(app: &TestApp, standing: u32, seats: u32) -> (String, Value) {
    let (_, organizer) = app.user_with_role("organizer").await;
    let mut body = event_body("On Sale", "2030-05-01T20:00:00Z");
    body["max_tickets_per_booking"] = json!(4);
    let mut categories =
        vec![json!({"name": "Standing", "price_cents": 2000, "currency": "EUR", "capacity": standing})];
    if seats > 0 {
        let venue = app
            .create_venue(
                &organizer.access,
                json!([{"name": "Floor", "rows": [{"label": "A", "seats": seats}]}]),
            )
            .await;
        body["venue_id"] = venue["id"].clone();
        categories
            .push(json!({"name": "Seats", "price_cents": 5000, "currency": "EUR", "sections": ["Floor"]}));
    }
    body["categories"] = json!(categories);
    let event = app.create_event(&organizer.access, body).await;
    let event = app.publish(&organizer.access, event["id"].as_str().unwrap()).await;
    (organizer.access, event)
}

pub(crate) fn category(event: &Value, index: usize) -> String {
    event["categories"][index]["id"].as_str().unwrap().to_owned()
}

pub(crate) fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

impl TestApp {
    pub(crate) async fn hold(&self, token: &str, body: Value) -> reqwest::Response {
        self.post("/api/v1/bookings", body, Some(token)).await
    }

    pub(crate) async fn hold_ok(&self, token: &str, body: Value) -> Value {
        let response = self.hold(token, body).await;
        let status = response.status();
        let booking: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{booking}");
        booking
    }

    pub(crate) async fn confirm(
        &self,
        token: &str,
        booking_id: &str,
        payment_token: &str,
    ) -> reqwest::Response {
        self.post(
            &format!("/api/v1/bookings/{booking_id}/confirm"),
            json!({"payment_token": payment_token}),
            Some(token),
        )
        .await
    }

    async fn availability(&self, event: &Value) -> Value {
        self.get(&format!("/api/v1/events/{}/availability", id(event)), None).await.json().await.unwrap()
    }

    /// The (available, held, sold) counts of one category.
    pub(crate) async fn counts(&self, event: &Value, category_id: &str) -> (u64, u64, u64) {
        let availability = self.availability(event).await;
        let entry = availability["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["id"] == category_id)
            .unwrap()
            .clone();
        let count = |field: &str| entry[field].as_u64().unwrap();
        (count("available"), count("held"), count("sold"))
    }

    /// Every unit held or sold right now, straight from the bookings database.
    pub(crate) async fn live_units(&self) -> Vec<String> {
        self.query_text("bookings", "SELECT unit_id FROM booking_units WHERE released_at IS NULL").await
    }
}

async fn a_hold_confirmed_with_tok_ok_gives_tickets_that_check_in_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (organizer, event) = on_sale(&app, 10, 5).await;
    let (buyer_id, buyer) = app.mint_customer();
    let booking = app
        .hold_ok(
            &buyer,
            json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 2}]}),
        )
        .await;
    assert_eq!(booking["status"], "pending");
    assert_eq!(booking["user_id"], buyer_id.to_string());
    assert_eq!(booking["total_cents"], 4000);
    assert_eq!(booking["currency"], "EUR");
    assert_eq!(
        booking["items"],
        json!([{"category_id": category(&event, 0), "quantity": 2, "unit_price_cents": 2000}])
    );
    assert!(booking["expires_at"].as_str().unwrap() > booking["created_at"].as_str().unwrap());
    let seated = app.hold_ok(&buyer, json!({"event_id": id(&event), "seats": ["Floor/A/3"]})).await;
    assert_eq!(seated["seats"], json!(["Floor/A/3"]));

    let response = app.confirm(&buyer, &id(&booking), "tok_ok").await;
    assert_eq!(response.status(), StatusCode::OK);
    let confirmed: Value = response.json().await.unwrap();
    assert_eq!(confirmed["status"], "confirmed");
    let tickets = confirmed["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 2);
    let again: Value = app.confirm(&buyer, &id(&booking), "tok_ok").await.json().await.unwrap();
    assert_eq!(again["tickets"], confirmed["tickets"], "confirming twice changes nothing");
    let seated: Value = app.confirm(&buyer, &id(&seated), "tok_ok").await.json().await.unwrap();
    assert_eq!(seated["tickets"][0]["seat"], "Floor/A/3");

    let code = tickets[0]["code"].as_str().unwrap();
    let qr = app.get(&format!("/api/v1/tickets/{}/qr", id(&tickets[0])), Some(&buyer)).await;
    assert_eq!(qr.status(), StatusCode::OK);
    assert_eq!(qr.headers()["content-type"], "image/png");
    assert_eq!(decode_qr(&qr.bytes().await.unwrap()), code);

    let check_in = app.post("/api/v1/checkin", json!({"code": code}), Some(&organizer)).await;
    assert_eq!(check_in.status(), StatusCode::OK);
    let admitted: Value = check_in.json().await.unwrap();
    assert_eq!(admitted["ticket_id"], tickets[0]["id"]);
    assert_eq!(admitted["event_id"], event["id"]);
    let twice = app.post("/api/v1/checkin", json!({"code": code}), Some(&organizer)).await;
    assert_problem(twice, StatusCode::CONFLICT, "already_checked_in").await;
    let mut forged = code.to_owned();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [forged.as_str(), "not-a-code", ""] {
        let response = app.post("/api/v1/checkin", json!({"code": bad}), Some(&organizer)).await;
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }

    let stats: Value = app
        .get(&format!("/api/v1/events/{}/stats", id(&event)), Some(&organizer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["sold"], 3);
    assert_eq!(stats["held"], 0);
    assert_eq!(stats["available"], 12);
    assert_eq!(stats["revenue_cents"], 9000);
    assert_eq!(stats["checked_in"], 1);
    let availability = app.availability(&event).await;
    let seat = availability["seats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|seat| seat["id"] == "Floor/A/3")
        .unwrap()
        .clone();
    assert_eq!(seat["status"], "sold");
    let list: Value = app
        .get(&format!("/api/v1/events/{}/bookings", id(&event)), Some(&organizer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let mine: Value = app.get("/api/v1/bookings", Some(&buyer)).await.json().await.unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);
}

/// The text of the one QR code in a PNG image.
pub(crate) fn decode_qr(png_bytes: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let (width, height) = (info.width as usize, info.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| buffer[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().unwrap().1
}

async fn five_hundred_buyers_for_a_hundred_units_hold_exactly_a_hundred(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (organizer, event) = on_sale(&app, 100, 0).await;
    let standing = category(&event, 0);
    let buyers: Vec<(uuid::Uuid, String)> = (0..500).map(|_| app.mint_customer()).collect();
    let body = json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 1}]});
    let attempts = buyers.iter().map(|(_, token)| async {
        let response = app.hold(token, body.clone()).await;
        let status = response.status();
        let booking: Value = response.json().await.unwrap();
        (status, booking, token.clone())
    });
    let results = futures::future::join_all(attempts).await;
    let held: Vec<&(StatusCode, Value, String)> =
        results.iter().filter(|(status, ..)| *status == StatusCode::CREATED).collect();
    let sold_out = results
        .iter()
        .filter(|(status, booking, _)| *status == StatusCode::CONFLICT && booking["code"] == "sold_out")
        .count();
    assert_eq!(held.len(), 100);
    assert_eq!(sold_out, 400, "every other buyer is told it is sold out");
    assert_eq!(app.counts(&event, &standing).await, (0, 100, 0));

    let confirmations =
        held.iter().map(|(_, booking, token)| app.confirm(token, booking["id"].as_str().unwrap(), "tok_ok"));
    let statuses: Vec<StatusCode> =
        futures::future::join_all(confirmations).await.iter().map(|response| response.status()).collect();
    assert!(statuses.iter().all(|&status| status == StatusCode::OK), "{statuses:?}");
    assert_eq!(app.counts(&event, &standing).await, (0, 0, 100), "sold = capacity");
    let stats: Value = app
        .get(&format!("/api/v1/events/{}/stats", id(&event)), Some(&organizer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["sold"], 100);

    let units = app.live_units().await;
    let distinct: HashSet<&String> = units.iter().collect();
    assert_eq!(units.len(), 100, "the database records exactly the units sold");
    assert_eq!(distinct.len(), 100, "no unit is in two bookings");
}

async fn two_hundred_buyers_for_one_seat_get_exactly_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, event) = on_sale(&app, 1, 10).await;
    let body = json!({"event_id": id(&event), "seats": ["Floor/A/7"]});
    let buyers: Vec<String> = (0..200).map(|_| app.mint_customer().1).collect();
    let attempts = buyers.iter().map(|token| async {
        let response = app.hold(token, body.clone()).await;
        let status = response.status();
        (status, response.json::<Value>().await.unwrap())
    });
    let results = futures::future::join_all(attempts).await;
    let held = results.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    let refused = results
        .iter()
        .filter(|(status, body)| *status == StatusCode::CONFLICT && body["code"] == "seat_unavailable")
        .count();
    assert_eq!((held, refused), (1, 199));
    let availability = app.availability(&event).await;
    let seat = availability["seats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|seat| seat["id"] == "Floor/A/7")
        .unwrap()
        .clone();
    assert_eq!(seat["status"], "held");
    assert_eq!(app.live_units().await, ["Floor/A/7"]);
}

async fn fifty_concurrent_requests_with_one_idempotency_key_make_one_booking(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, event) = on_sale(&app, 100, 0).await;
    let (_, buyer) = app.mint_customer();
    let body =
        json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 2}]});
    let attempts = (0..50).map(|_| async {
        let response = app
            .request(Method::POST, "/api/v1/bookings")
            .bearer_auth(&buyer)
            .header("idempotency-key", "order-42")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json::<Value>().await.unwrap())
    });
    let results = futures::future::join_all(attempts).await;
    let ids: HashSet<String> = results
        .iter()
        .map(|(status, booking)| {
            assert_eq!(*status, StatusCode::CREATED, "{booking}");
            id(booking)
        })
        .collect();
    assert_eq!(ids.len(), 1, "one booking, the same answer to each");
    let bookings = app.query_text("bookings", "SELECT status FROM bookings").await;
    assert_eq!(bookings, ["pending"]);
    assert_eq!(app.counts(&event, &category(&event, 0)).await, (98, 2, 0));

    let other_body =
        json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 3}]});
    let conflict = app
        .request(Method::POST, "/api/v1/bookings")
        .bearer_auth(&buyer)
        .header("idempotency-key", "order-42")
        .json(&other_body)
        .send()
        .await
        .unwrap();
    assert_problem(conflict, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_conflict").await;
}

/// Waits (in real time) until the expirer has run after the clock moved.
pub(crate) async fn until<F, Fut>(mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the condition did not come true within five seconds");
}

async fn an_unconfirmed_hold_expires_and_its_units_return(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, event) = on_sale(&app, 2, 0).await;
    let standing = category(&event, 0);
    let (_, buyer) = app.mint_customer();
    let booking = app
        .hold_ok(&buyer, json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 2}]}))
        .await;
    let (_, other) = app.mint_customer();
    let late = app
        .hold(&other, json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 1}]}))
        .await;
    assert_problem(late, StatusCode::CONFLICT, "sold_out").await;

    app.clock.advance(Duration::from_secs(10 * 60 + 1));
    until(|| async { app.counts(&event, &standing).await == (2, 0, 0) }).await;
    let expired: Value =
        app.get(&format!("/api/v1/bookings/{}", id(&booking)), Some(&buyer)).await.json().await.unwrap();
    assert_eq!(expired["status"], "expired");
    let confirm = app.confirm(&buyer, &id(&booking), "tok_ok").await;
    assert_problem(confirm, StatusCode::CONFLICT, "hold_expired").await;
    assert!(app.live_units().await.is_empty());
    app.hold_ok(&other, json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 1}]}))
        .await;
}

async fn a_declined_payment_gives_402_and_keeps_the_hold(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, event) = on_sale(&app, 5, 0).await;
    let standing = category(&event, 0);
    let (_, buyer) = app.mint_customer();
    let booking = app
        .hold_ok(&buyer, json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 1}]}))
        .await;
    let declined = app.confirm(&buyer, &id(&booking), "tok_declined").await;
    assert_problem(declined, StatusCode::PAYMENT_REQUIRED, "payment_declined").await;
    let still: Value =
        app.get(&format!("/api/v1/bookings/{}", id(&booking)), Some(&buyer)).await.json().await.unwrap();
    assert_eq!(still["status"], "pending");
    assert_eq!(app.counts(&event, &standing).await, (4, 1, 0));
    let paid = app.confirm(&buyer, &id(&booking), "tok_ok").await;
    assert_eq!(paid.status(), StatusCode::OK, "a second card works while the hold lasts");
}

async fn availability_survives_a_restart_and_a_lost_store(backend: Backend) {
    let settings = fresh_settings(backend).await;
    let app = TestApp::start(settings).await;
    let (_, event) = on_sale(&app, 10, 6).await;
    let (_, buyer) = app.mint_customer();
    let sold = app
        .hold_ok(
            &buyer,
            json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 3}]}),
        )
        .await;
    app.confirm(&buyer, &id(&sold), "tok_ok").await;
    app.hold_ok(&buyer, json!({"event_id": id(&event), "seats": ["Floor/A/2"]})).await;
    let (_, other) = app.mint_customer();
    let seats =
        app.hold_ok(&other, json!({"event_id": id(&event), "seats": ["Floor/A/5", "Floor/A/6"]})).await;
    app.confirm(&other, &id(&seats), "tok_ok").await;
    let before = app.availability(&event).await;

    let mut settings = app.stop().await;
    // A new prefix is a Redis that lost everything; the embedded store starts empty anyway.
    settings.redis_key_prefix = format!("boxoffice-test:{}:", uuid::Uuid::new_v4());
    let app = TestApp::start(settings).await;
    assert_eq!(app.availability(&event).await, before);
    // And the rebuilt store still refuses what is taken.
    let (_, late) = app.mint_customer();
    let taken = app.hold(&late, json!({"event_id": id(&event), "seats": ["Floor/A/2"]})).await;
    assert_problem(taken, StatusCode::CONFLICT, "seat_unavailable").await;
}

async fn nobody_acts_on_a_booking_or_ticket_that_is_not_theirs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, event) = on_sale(&app, 10, 0).await;
    let (_, alice) = app.mint_customer();
    let (_, bob) = app.mint_customer();
    let booking = app
        .hold_ok(
            &alice,
            json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}]}),
        )
        .await;
    let path = format!("/api/v1/bookings/{}", id(&booking));
    assert_problem(app.get(&path, Some(&bob)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.confirm(&bob, &id(&booking), "tok_ok").await, StatusCode::NOT_FOUND, "not_found")
        .await;
    let cancel = app.post(&format!("{path}/cancel"), json!({}), Some(&bob)).await;
    assert_problem(cancel, StatusCode::NOT_FOUND, "not_found").await;
    let bobs: Value = app.get("/api/v1/bookings", Some(&bob)).await.json().await.unwrap();
    assert_eq!(bobs["items"], json!([]));

    let confirmed: Value = app.confirm(&alice, &id(&booking), "tok_ok").await.json().await.unwrap();
    let ticket = &confirmed["tickets"][0];
    let qr = app.get(&format!("/api/v1/tickets/{}/qr", id(ticket)), Some(&bob)).await;
    assert_problem(qr, StatusCode::NOT_FOUND, "not_found").await;
    let code = ticket["code"].as_str().unwrap();
    let by_customer = app.post("/api/v1/checkin", json!({"code": code}), Some(&bob)).await;
    assert_problem(by_customer, StatusCode::FORBIDDEN, "forbidden").await;
    let (_, other_organizer) = app.user_with_role("organizer").await;
    let by_stranger = app.post("/api/v1/checkin", json!({"code": code}), Some(&other_organizer.access)).await;
    assert_problem(by_stranger, StatusCode::FORBIDDEN, "forbidden").await;
    let (_, admin) = app.user_with_role("admin").await;
    assert_eq!(
        app.get(&path, Some(&admin.access)).await.status(),
        StatusCode::OK,
        "admins see every booking"
    );
    let by_admin = app.post("/api/v1/checkin", json!({"code": code}), Some(&admin.access)).await;
    assert_eq!(by_admin.status(), StatusCode::OK);
}

async fn cancelling_returns_the_tickets_to_sale_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (organizer, event) = on_sale(&app, 4, 0).await;
    let standing = category(&event, 0);
    let (_, buyer) = app.mint_customer();
    let pending = app
        .hold_ok(&buyer, json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 2}]}))
        .await;
    let cancelled: Value = app
        .post(&format!("/api/v1/bookings/{}/cancel", id(&pending)), json!({}), Some(&buyer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(app.counts(&event, &standing).await, (4, 0, 0));

    let booking = app
        .hold_ok(&buyer, json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 2}]}))
        .await;
    let confirmed: Value = app.confirm(&buyer, &id(&booking), "tok_ok").await.json().await.unwrap();
    assert_eq!(app.counts(&event, &standing).await, (2, 0, 2));
    let refunded: Value = app
        .post(&format!("/api/v1/bookings/{}/cancel", id(&booking)), json!({}), Some(&buyer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(app.counts(&event, &standing).await, (4, 0, 0));
    let code = confirmed["tickets"][0]["code"].as_str().unwrap();
    let check_in = app.post("/api/v1/checkin", json!({"code": code}), Some(&organizer)).await;
    assert_problem(check_in, StatusCode::CONFLICT, "conflict").await;
    assert!(app.live_units().await.is_empty());
}

/// Refusals are remembered for a moment (so that a flood of late buyers costs little), which
/// must never keep returned tickets off sale.
async fn buyers_refused_as_sold_out_get_the_tickets_the_moment_they_return(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, event) = on_sale(&app, 3, 0).await;
    let standing = category(&event, 0);
    let ask = |quantity: u32| json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": quantity}]});
    let (_, first) = app.mint_customer();
    let (_, second) = app.mint_customer();
    let (_, late) = app.mint_customer();
    app.hold_ok(&first, ask(1)).await;
    let pending = app.hold_ok(&second, ask(2)).await;
    for quantity in [1, 2, 1] {
        assert_problem(app.hold(&late, ask(quantity)).await, StatusCode::CONFLICT, "sold_out").await;
    }
    let cancelled =
        app.post(&format!("/api/v1/bookings/{}/cancel", id(&pending)), json!({}), Some(&second)).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    // Two are back: asking for three is still refused, two are sold at once.
    assert_problem(app.hold(&late, ask(3)).await, StatusCode::CONFLICT, "sold_out").await;
    let returned = app.hold_ok(&late, ask(2)).await;
    assert_problem(app.hold(&second, ask(1)).await, StatusCode::CONFLICT, "sold_out").await;

    // The same after a refund of a confirmed booking.
    let confirmed = app.confirm(&late, &id(&returned), "tok_ok").await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let refunded =
        app.post(&format!("/api/v1/bookings/{}/cancel", id(&returned)), json!({}), Some(&late)).await;
    assert_eq!(refunded.status(), StatusCode::OK);
    app.hold_ok(&second, ask(2)).await;
    assert_eq!(app.counts(&event, &standing).await, (0, 3, 0));
}

async fn cancelling_an_event_refunds_its_bookings(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (organizer, event) = on_sale(&app, 10, 0).await;
    let standing = category(&event, 0);
    let (_, buyer) = app.mint_customer();
    let pending = app
        .hold_ok(&buyer, json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 1}]}))
        .await;
    let booking = app
        .hold_ok(&buyer, json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 2}]}))
        .await;
    app.confirm(&buyer, &id(&booking), "tok_ok").await;

    let cancelled =
        app.post(&format!("/api/v1/events/{}/cancel", id(&event)), json!({}), Some(&organizer)).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let (app, buyer) = (&app, &buyer);
    let read = |booking_id: String| async move {
        app.get(&format!("/api/v1/bookings/{booking_id}"), Some(buyer)).await.json::<Value>().await.unwrap()
            ["status"]
            .clone()
    };
    // The refunds follow the event.cancelled domain event, a moment after the answer.
    until(|| async { read(id(&booking)).await == "refunded" }).await;
    assert_eq!(read(id(&pending)).await, "cancelled");
    assert!(app.live_units().await.is_empty());
    let (_, late) = app.mint_customer();
    let hold = app
        .hold(&late, json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 1}]}))
        .await;
    assert_problem(hold, StatusCode::NOT_FOUND, "not_found").await;
}

async fn limits_per_booking_and_per_buyer_hold(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, event) = on_sale(&app, 100, 0).await;
    let standing = category(&event, 0);
    let (_, buyer) = app.mint_customer();
    let ask = |quantity: u32| json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": quantity}]});
    assert_problem(app.hold(&buyer, ask(5)).await, StatusCode::UNPROCESSABLE_ENTITY, "limit_exceeded").await;
    app.hold_ok(&buyer, ask(3)).await;
    let hoarding = app.hold(&buyer, ask(2)).await;
    assert_problem(hoarding, StatusCode::UNPROCESSABLE_ENTITY, "limit_exceeded").await;
    app.hold_ok(&buyer, ask(1)).await;
    for bad in [
        json!({"event_id": id(&event)}),
        json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 0}]}),
        json!({"event_id": id(&event), "items": [{"category_id": "nope", "quantity": 1}]}),
        json!({"event_id": id(&event), "seats": ["Nowhere/A/1"]}),
        json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 1}], "user_id": "me"}),
        json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 1_000_000}]}),
    ] {
        let response = app.hold(&buyer, bad.clone()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let unknown = app
        .hold(
            &buyer,
            json!({"event_id": uuid::Uuid::now_v7(), "items": [{"category_id": standing, "quantity": 1}]}),
        )
        .await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

async fn confirmations_racing_an_event_cancellation_are_all_refunded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (organizer, event) = on_sale(&app, 100, 0).await;
    let standing = category(&event, 0);
    let mut holds = Vec::new();
    for _ in 0..30 {
        let (_, buyer) = app.mint_customer();
        let booking = app
            .hold_ok(
                &buyer,
                json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 1}]}),
            )
            .await;
        holds.push((buyer, id(&booking)));
    }
    let confirmations = holds.iter().map(|(buyer, booking)| app.confirm(buyer, booking, "tok_ok"));
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        app.post(&format!("/api/v1/events/{}/cancel", id(&event)), json!({}), Some(&organizer)).await.status()
    };
    let (_, cancelled) = tokio::join!(futures::future::join_all(confirmations), cancel);
    assert_eq!(cancelled, StatusCode::OK);
    // The refunds follow the event.cancelled domain event, a moment after the answer.
    until(|| async { app.live_units().await.is_empty() }).await;
    for (buyer, booking) in &holds {
        let read: Value =
            app.get(&format!("/api/v1/bookings/{booking}"), Some(buyer)).await.json().await.unwrap();
        let status = read["status"].as_str().unwrap();
        assert!(
            status == "refunded" || status == "cancelled",
            "{booking} is {status} after its event was cancelled"
        );
    }
}

async fn holds_whose_clients_gave_up_are_recorded_or_released(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, event) = on_sale(&app, 200, 0).await;
    let standing = category(&event, 0);
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(3)).build().unwrap();
    let attempts = (0..40).map(|_| {
        let (_, buyer) = app.mint_customer();
        let request = impatient
            .post(app.url("/api/v1/bookings"))
            .bearer_auth(buyer)
            .json(&json!({"event_id": id(&event), "items": [{"category_id": standing, "quantity": 2}]}));
        async move { request.send().await.is_ok() }
    });
    futures::future::join_all(attempts).await;
    // Whatever the clients saw, every hold the store made is a pending booking in the database.
    until(|| async {
        let (_, held, _) = app.counts(&event, &standing).await;
        held == app.live_units().await.len() as u64
    })
    .await;
}

async fn a_ticket_used_at_the_door_is_not_refunded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (organizer, event) = on_sale(&app, 10, 0).await;
    let (_, buyer) = app.mint_customer();
    let booking = app
        .hold_ok(
            &buyer,
            json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}]}),
        )
        .await;
    let confirmed: Value = app.confirm(&buyer, &id(&booking), "tok_ok").await.json().await.unwrap();
    let code = confirmed["tickets"][0]["code"].as_str().unwrap();
    assert_eq!(
        app.post("/api/v1/checkin", json!({"code": code}), Some(&organizer)).await.status(),
        StatusCode::OK
    );
    let cancel =
        app.post(&format!("/api/v1/bookings/{}/cancel", id(&booking)), json!({}), Some(&buyer)).await;
    assert_problem(cancel, StatusCode::CONFLICT, "conflict").await;
    let both = app
        .hold(&buyer, json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}], "seats": ["x"]}))
        .await;
    assert_problem(both, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

async fn the_qr_image_of_a_refunded_ticket_is_gone_with_410_ticket_refunded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, event) = on_sale(&app, 10, 0).await;
    let (_, buyer) = app.mint_customer();
    let booking = app
        .hold_ok(
            &buyer,
            json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}]}),
        )
        .await;
    let confirmed: Value = app.confirm(&buyer, &id(&booking), "tok_ok").await.json().await.unwrap();
    let qr_path = format!("/api/v1/tickets/{}/qr", id(&confirmed["tickets"][0]));
    let qr = app.get(&qr_path, Some(&buyer)).await;
    assert_eq!(qr.status(), StatusCode::OK);
    assert_eq!(decode_qr(&qr.bytes().await.unwrap()), confirmed["tickets"][0]["code"].as_str().unwrap());

    let cancel =
        app.post(&format!("/api/v1/bookings/{}/cancel", id(&booking)), json!({}), Some(&buyer)).await;
    assert_eq!(cancel.status(), StatusCode::OK);
    let refunded: Value = cancel.json().await.unwrap();
    assert_eq!(refunded["status"], "refunded");
    assert_problem(app.get(&qr_path, Some(&buyer)).await, StatusCode::GONE, "ticket_refunded").await;
}

async fn every_change_of_a_booking_is_told_once_through_the_outbox_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (organizer, event) = on_sale(&app, 10, 0).await;
    let (_, buyer) = app.mint_customer();
    let items =
        json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}]});
    // Held, confirmed, a ticket admitted; held and cancelled; held, confirmed and refunded.
    let used = app.hold_ok(&buyer, items.clone()).await;
    let confirmed: Value = app.confirm(&buyer, &id(&used), "tok_ok").await.json().await.unwrap();
    let code = confirmed["tickets"][0]["code"].as_str().unwrap().to_owned();
    let admitted = app.post("/api/v1/checkin", json!({"code": code}), Some(&organizer)).await;
    assert_eq!(admitted.status(), StatusCode::OK);
    let again = app.post("/api/v1/checkin", json!({"code": code}), Some(&organizer)).await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "a refused check-in tells nothing");
    let dropped = app.hold_ok(&buyer, items.clone()).await;
    let cancel = format!("/api/v1/bookings/{}/cancel", id(&dropped));
    assert_eq!(app.post(&cancel, json!({}), Some(&buyer)).await.status(), StatusCode::OK);
    assert_eq!(app.post(&cancel, json!({}), Some(&buyer)).await.status(), StatusCode::OK);
    let refunded = app.hold_ok(&buyer, items).await;
    assert_eq!(app.confirm(&buyer, &id(&refunded), "tok_ok").await.status(), StatusCode::OK);
    let refund = format!("/api/v1/bookings/{}/cancel", id(&refunded));
    assert_eq!(app.post(&refund, json!({}), Some(&buyer)).await.status(), StatusCode::OK);

    // The relay publishes every row (here to the in-process bus, or nowhere, and marks it sent).
    let mut outbox = app.outbox("bookings").await;
    for _ in 0..100 {
        if outbox.iter().all(|(_, sent)| *sent) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        outbox = app.outbox("bookings").await;
    }
    assert!(outbox.iter().all(|(_, sent)| *sent), "every event is relayed");
    let told = |booking: &Value| -> Vec<String> {
        outbox
            .iter()
            .filter(|(envelope, _)| envelope.aggregate_id == id(booking))
            .map(|(envelope, _)| envelope.r#type.clone())
            .collect()
    };
    assert_eq!(told(&used), ["booking.held", "booking.confirmed", "ticket.checked_in"]);
    assert_eq!(told(&dropped), ["booking.held", "booking.cancelled"]);
    assert_eq!(told(&refunded), ["booking.held", "booking.confirmed", "booking.refunded"]);
    let ids: HashSet<&str> = outbox.iter().map(|(envelope, _)| envelope.event_id.as_str()).collect();
    assert_eq!(ids.len(), outbox.len(), "every event has an id of its own");

    // The payloads say what happened, with the tickets of a confirmation.
    let (envelope, _) = outbox
        .iter()
        .find(|(envelope, _)| envelope.r#type == "booking.confirmed" && envelope.aggregate_id == id(&used))
        .unwrap();
    assert_eq!(envelope.schema_version, 1);
    let payload: boxoffice_proto::domain::BookingConfirmed =
        prost::Message::decode(envelope.payload.as_slice()).unwrap();
    assert_eq!(payload.event_id, id(&event));
    assert_eq!(payload.total_cents, 2000);
    assert_eq!(payload.tickets.len(), 1);
    assert_eq!(payload.tickets[0].code, code);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_sets_how_long_holds_last_within_an_hour() {
    let mut settings = fresh_settings(Backend::Embedded).await;
    for refused in [0, 61] {
        settings.hold_minutes = refused;
        let error = boxoffice::start(&settings, None, tokio_util::sync::CancellationToken::new()).await.err();
        let error = format!("{:#}", error.expect("the setting is refused"));
        assert!(error.contains("BOXOFFICE_HOLD_MINUTES") && error.contains("1 to 60"), "{error}");
    }
    settings.hold_minutes = 2;
    let app = TestApp::start(settings).await;
    let (_, event) = on_sale(&app, 2, 0).await;
    let (_, buyer) = app.mint_customer();
    let booking = app
        .hold_ok(
            &buyer,
            json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}]}),
        )
        .await;
    let at = |field: &str| chrono::DateTime::parse_from_rfc3339(booking[field].as_str().unwrap()).unwrap();
    assert_eq!(at("expires_at") - at("created_at"), chrono::Duration::minutes(2));
}

/// Bookings made at the same microsecond (a batch of holds shares its clock reading) are paged
/// by their ids: each appears once, for the organizer and for the buyer, with its tickets.
async fn pages_of_bookings_made_at_the_same_moment_show_each_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (organizer, event) = on_sale(&app, 20, 0).await;
    // Two buyers, within the limit of 4 tickets each.
    let (_, buyer) = app.mint_customer();
    let (_, other) = app.mint_customer();
    let (mut made, mut mine) = (HashSet::new(), HashSet::new());
    for turn in 0..7 {
        let token = if turn % 2 == 0 { &buyer } else { &other };
        let items = json!([{"category_id": category(&event, 0), "quantity": 1}]);
        let booking = app.hold_ok(token, json!({"event_id": id(&event), "items": items})).await;
        if turn % 2 == 0 {
            mine.insert(id(&booking));
        }
        made.insert(id(&booking));
    }
    let paid = mine.iter().next().unwrap().clone();
    assert_eq!(app.confirm(&buyer, &paid, "tok_ok").await.status(), StatusCode::OK);
    crate::helpers::execute(
        &app.settings,
        "bookings",
        "UPDATE bookings SET created_at = (SELECT MIN(created_at) FROM bookings)",
    )
    .await;
    let event_path = format!("/api/v1/events/{}/bookings", id(&event));
    for (path, token, expected) in
        [(event_path.as_str(), &organizer, &made), ("/api/v1/bookings", &buyer, &mine)]
    {
        let (mut seen, mut cursor) = (Vec::new(), None::<String>);
        loop {
            let mut page_path = format!("{path}?limit=2");
            if let Some(cursor) = &cursor {
                page_path.push_str(&format!("&cursor={cursor}"));
            }
            let page: Value = app.get(&page_path, Some(token)).await.json().await.unwrap();
            for booking in page["items"].as_array().unwrap() {
                let tickets = booking["tickets"].as_array().map_or(0, Vec::len);
                assert_eq!(tickets, usize::from(id(booking) == paid), "{booking}");
                seen.push(id(booking));
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), expected.len(), "{path}: {seen:?}");
        assert_eq!(&seen.iter().cloned().collect::<HashSet<_>>(), expected, "{path}");
    }
}
