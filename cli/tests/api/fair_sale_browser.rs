//! A fair on-sale in a real browser, after the sale: a buyer joins the waiting list of a
//! sold-out category, gets the ticket that comes back and pays for it; the ticket page shows a
//! live QR code that changes with each step (the door takes the code shown), and the ticket is
//! given to another account, after which the buyer's code admits no one. Embedded backend only,
//! like `browser.rs`.

use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::bookings::{category, decode_qr, id};
use crate::browser::{email, Browser, DESKTOP, PHONE};
use crate::events::event_body;
use crate::helpers::{Backend, TestApp};

mod embedded {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_buyer_on_the_waiting_list_gets_a_returned_ticket_shows_its_live_code_and_gives_it_away() {
        super::a_buyer_on_the_waiting_list_gets_a_returned_ticket_shows_its_live_code_and_gives_it_away()
            .await
    }
}

impl Browser {
    /// The code in the live QR image the ticket page shows now.
    async fn live_code(&self) -> String {
        let image = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 fetch(document.getElementById('rotating-qr').src)
                   .then(r => r.arrayBuffer())
                   .then(b => done(btoa(String.fromCharCode(...new Uint8Array(b)))))
                   .catch(e => done('error: ' + e));",
                Vec::new(),
            )
            .await
            .unwrap();
        let png = base64::engine::general_purpose::STANDARD.decode(image.as_str().unwrap()).unwrap();
        decode_qr(&png)
    }
}

async fn a_buyer_on_the_waiting_list_gets_a_returned_ticket_shows_its_live_code_and_gives_it_away() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let mut body = event_body("Last Ticket Night", "2030-05-01T20:00:00Z");
    body["waiting_list_offer_minutes"] = json!(60);
    body["categories"] = json!([{"name": "Standing", "price_cents": 3000, "currency": "EUR", "capacity": 1}]);
    let event = app.create_event(&organizer.access, body).await;
    let event = app.publish(&organizer.access, &id(&event)).await;
    let (_, first) = app.mint_customer();
    let hold =
        json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}]});
    let sale = app.hold_ok(&first, hold).await;
    assert_eq!(app.confirm(&first, &id(&sale), "tok_ok").await.status(), StatusCode::OK);

    // Sold out: the event's page offers its waiting list.
    let browser = Browser::open(&app, DESKTOP).await;
    let buyer = email();
    browser.sign_up(&buyer).await;
    browser.goto(&format!("/events/{}", id(&event))).await;
    browser.find("#waiting-list").await;
    browser.assert_accessible("sold-out event with a waiting list").await;
    browser.screenshot("waiting-list-desktop").await;
    browser.client.set_window_size(PHONE.0, PHONE.1).await.unwrap();
    browser.screenshot("waiting-list-phone").await;
    assert_eq!(browser.overflows().await, json!(false), "the waiting list fits a phone");
    browser.client.set_window_size(DESKTOP.0, DESKTOP.1).await.unwrap();
    browser.click("#join-waiting-list").await;
    browser.wait_for_text("you are next in line for 1 ticket").await;
    assert_eq!(browser.path().await, "/bookings");

    // The ticket comes back: it is offered, not put on sale, and the buyer pays for it.
    let refund = app.post(&format!("/api/v1/bookings/{}/cancel", id(&sale)), json!({}), Some(&first)).await;
    assert_eq!(refund.status(), StatusCode::OK);
    browser.goto("/bookings").await;
    browser.wait_for_text("tickets came back for you").await;
    browser.assert_accessible("my tickets with an offer").await;
    browser.screenshot("waiting-list-offer-desktop").await;
    browser.click("a[id^='pay-offer-']").await;
    browser.fill("#payment_token", "tok_ok").await;
    browser.button("Pay").await.click().await.unwrap();
    browser.wait_for_text("Your tickets").await;
    browser.close().await;

    // On a phone at the door: the live code changes with the step.
    let browser = Browser::open(&app, PHONE).await;
    browser.log_in(&buyer, "/bookings").await;
    browser.click("a[href^='/bookings/']").await;
    browser.click("a.button[href^='/tickets/']").await;
    browser.find("#rotating-qr").await;
    browser.assert_accessible("ticket").await;
    browser.screenshot("ticket-phone").await;
    assert_eq!(browser.overflows().await, json!(false), "the ticket page fits a phone");
    // The code of the step on the screen, read well inside that step; then the next step's.
    let shown = || browser.eval("return Number(document.getElementById('rotating-qr').dataset.shown || 0)");
    let left =
        browser.eval("return Number(document.getElementById('rotating-qr').dataset.refreshInMs)").await;
    if left.as_f64().unwrap_or(0.0) < 3000.0 {
        wait_until_shown(&browser, 0).await;
    }
    let seen = shown().await.as_u64().unwrap();
    let before = browser.live_code().await;
    wait_until_shown(&browser, seen).await;
    let after = browser.live_code().await;
    assert_ne!(before, after, "a new code at the next step");

    // Given to a friend: the buyer's live code no longer admits, the friend's does.
    let (friend_email, friend) = app.customer().await;
    browser.fill("#give-email", &friend_email).await;
    browser.click("#give-ticket").await;
    browser.wait_for_text("the ticket is theirs now").await;
    browser.wait_for_text("Given to someone else").await;
    browser.screenshot("ticket-given-phone").await;
    let door = |code: String| {
        app.post("/api/v1/checkin", json!({"code": code, "event_id": id(&event)}), Some(&organizer.access))
    };
    assert_eq!(door(after).await.status(), StatusCode::GONE, "the buyer's code admits no one");
    let held: Value = app.get("/api/v1/tickets", Some(&friend.access)).await.json().await.unwrap();
    let ticket = &held["items"][0];
    let code: Value = app
        .get(&format!("/api/v1/tickets/{}/code", ticket["id"].as_str().unwrap()), Some(&friend.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(door(code["code"].as_str().unwrap().to_owned()).await.status(), StatusCode::OK);
    browser.close().await;
}

/// Waits until the page has shown more than `seen` codes since it loaded.
async fn wait_until_shown(browser: &Browser, seen: u64) {
    let started = Instant::now();
    loop {
        let shown =
            browser.eval("return Number(document.getElementById('rotating-qr').dataset.shown || 0)").await;
        if shown.as_u64().unwrap_or(0) > seen {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the live code never changed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
