//! The organizers' side of the web app in a real browser (see `browser.rs` for the setup): the
//! venue editor, the event editor, publishing, the live dashboard, the door scanner and door
//! staff, and the admin's pages; with the accessibility scan and screenshots at desktop and
//! phone size. Embedded backend only, like `browser.rs`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::bookings::id;
use crate::browser::{email, Browser, DESKTOP, PHONE};
use crate::helpers::{Backend, TestApp};
use crate::organize::seated_event;

mod embedded {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_organizer_draws_a_venue_puts_an_event_on_sale_and_watches_a_buyer_take_two_seats() {
        super::an_organizer_draws_a_venue_puts_an_event_on_sale_and_watches_a_buyer_take_two_seats().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_editor_shows_the_servers_refusals_beside_the_element_and_saves_nothing() {
        super::the_editor_shows_the_servers_refusals_beside_the_element_and_saves_nothing().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_organizer_pages_fit_a_phone_and_pass_the_accessibility_scan() {
        super::the_organizer_pages_fit_a_phone_and_pass_the_accessibility_scan().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_door_scanner_admits_once_and_refuses_repeats_forgeries_and_other_events() {
        super::the_door_scanner_admits_once_and_refuses_repeats_forgeries_and_other_events().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn door_staff_check_in_for_their_event_and_can_open_nothing_else() {
        super::door_staff_check_in_for_their_event_and_can_open_nothing_else().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_admin_finds_an_account_makes_it_an_organizer_and_ends_its_sessions() {
        super::an_admin_finds_an_account_makes_it_an_organizer_and_ends_its_sessions().await
    }
}

async fn tickets(app: &TestApp, event: &Value, seats: &[&str]) -> Vec<String> {
    let (_, buyer) = app.customer().await;
    let booking = app.hold_ok(&buyer.access, json!({"event_id": id(event), "seats": seats})).await;
    let response = app.confirm(&buyer.access, &id(&booking), "tok_ok").await;
    let booking: Value = response.json().await.unwrap();
    booking["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ticket| ticket["code"].as_str().unwrap().to_owned())
        .collect()
}

impl Browser {
    /// Types a code into the scanner and waits for the verdict on it: a marker put into the
    /// verdict box beforehand is gone once the answer replaced the box's content.
    async fn scan(&self, code: &str) -> (String, String) {
        self.eval("const m = document.createElement('span'); m.className = 'test-old'; document.getElementById('scan-verdict').append(m)").await;
        self.fill("#scan-code", code).await;
        self.click("#scan-submit").await;
        let started = Instant::now();
        let answered = "return !document.querySelector('#scan-verdict .test-old')";
        while self.eval(answered).await != json!(true) {
            assert!(started.elapsed() < Duration::from_secs(10), "no verdict for {code}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let verdict = self.find("#scan-verdict").await;
        let kind = verdict.attr("data-verdict").await.unwrap().unwrap_or_default();
        (kind, verdict.text().await.unwrap())
    }
}

async fn the_door_scanner_admits_once_and_refuses_repeats_forgeries_and_other_events() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let (organizer_email, organizer) = app.user_with_role("organizer").await;
    let event = seated_event(&app, &organizer.access, "Door Night").await;
    let other = seated_event(&app, &organizer.access, "Another Night").await;
    let codes = tickets(&app, &event, &["Floor/A/1", "Floor/A/2"]).await;
    let elsewhere = tickets(&app, &other, &["Floor/A/1"]).await;

    let door = Browser::open(&app, PHONE).await;
    door.log_in(&organizer_email, &format!("/scan/{}", id(&event))).await;
    assert_eq!(door.text("#scan-count").await, "0");
    assert_eq!(door.text("#scan-total").await, "2");
    door.assert_accessible("scanner").await;
    door.screenshot("scanner-phone").await;
    assert_eq!(door.overflows().await, json!(false), "the scanner fits a phone");

    let (verdict, text) = door.scan(&codes[0]).await;
    assert_eq!(verdict, "admitted", "{text}");
    assert!(text.contains("Floor, row A, seat"), "{text}");
    assert_eq!(door.text("#scan-count").await, "1");
    door.screenshot("scanner-admitted-phone").await;
    let (verdict, text) = door.scan(&codes[0]).await;
    assert_eq!(verdict, "already_checked_in", "{text}");
    assert!(text.contains("Already checked in"), "{text}");
    door.screenshot("scanner-already-phone").await;
    door.assert_accessible("scanner with a verdict").await;
    let mut forged = codes[1].clone();
    forged.replace_range(..1, if forged.starts_with('A') { "B" } else { "A" });
    let (verdict, text) = door.scan(&forged).await;
    assert_eq!(verdict, "invalid", "{text}");
    door.screenshot("scanner-refused-phone").await;
    let (verdict, text) = door.scan(&elsewhere[0]).await;
    assert_eq!(verdict, "wrong_event", "{text}");
    assert!(text.contains("Not valid for this event"), "{text}");
    assert_eq!(door.text("#scan-count").await, "1", "refusals admit no one");

    // A live code half a minute old (a screenshot) is refused, and the door is told why.
    let (_, holder) = app.customer().await;
    let booking = app.hold_ok(&holder.access, json!({"event_id": id(&event), "seats": ["Floor/A/3"]})).await;
    let paid: Value = app.confirm(&holder.access, &id(&booking), "tok_ok").await.json().await.unwrap();
    let ticket = paid["tickets"][0]["id"].as_str().unwrap().to_owned();
    let live: Value =
        app.get(&format!("/api/v1/tickets/{ticket}/code"), Some(&holder.access)).await.json().await.unwrap();
    app.clock.advance(Duration::from_secs(30));
    let (verdict, text) = door.scan(live["code"].as_str().unwrap()).await;
    assert_eq!(verdict, "invalid", "{text}");
    assert!(text.contains("Old code"), "{text}");

    // Two doors, one ticket, the same moment: one admits it, the other says "already".
    let second = Browser::open(&app, PHONE).await;
    second.log_in(&organizer_email, &format!("/scan/{}", id(&event))).await;
    for browser in [&door, &second] {
        browser.fill("#scan-code", &codes[1]).await;
    }
    let submit = "document.getElementById('scan-submit').click()";
    let (_, _) = tokio::join!(door.eval(submit), second.eval(submit));
    let mut verdicts = Vec::new();
    for browser in [&door, &second] {
        let started = Instant::now();
        loop {
            // The first door's last verdict was "wrong_event": any of these two is the new one.
            let kind =
                browser.find("#scan-verdict").await.attr("data-verdict").await.unwrap().unwrap_or_default();
            if kind == "admitted" || kind == "already_checked_in" {
                verdicts.push(kind);
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "no verdict: {kind}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    verdicts.sort();
    assert_eq!(verdicts, ["admitted", "already_checked_in"]);
    let count: Value = app
        .get(&format!("/api/v1/events/{}/door", id(&event)), Some(&organizer.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(count["checked_in"], 2);
    second.close().await;
    door.close().await;
}

async fn door_staff_check_in_for_their_event_and_can_open_nothing_else() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let (organizer_email, organizer) = app.user_with_role("organizer").await;
    let event = seated_event(&app, &organizer.access, "Staffed Night").await;
    let other = seated_event(&app, &organizer.access, "Unstaffed Night").await;
    let codes = tickets(&app, &event, &["Floor/B/3"]).await;

    // The organizer grants the door to a staff account by its email, on the event's page.
    let staff_email = email();
    let staff = Browser::open(&app, PHONE).await;
    staff.sign_up(&staff_email).await;
    let boss = Browser::open(&app, DESKTOP).await;
    boss.log_in(&organizer_email, &format!("/organize/events/{}/staff", id(&event))).await;
    boss.fill("#staff-email", "nobody@example.com").await;
    boss.button("Add door staff").await.click().await.unwrap();
    boss.wait_for_text("no account has this email").await;
    boss.fill("#staff-email", &staff_email).await;
    boss.button("Add door staff").await.click().await.unwrap();
    boss.wait_for_text("Door staff added").await;
    assert!(boss.text("#staff-list").await.contains(&staff_email));
    boss.assert_accessible("door staff").await;
    boss.screenshot("door-staff-desktop").await;
    boss.goto(&format!("/scan/{}", id(&event))).await;
    boss.find("#scan-code").await;
    boss.assert_accessible("scanner").await;
    boss.screenshot("scanner-desktop").await;

    // Their tickets page leads them to the door they keep, and only that one.
    staff.goto("/bookings").await;
    assert_eq!(staff.text("#my-doors").await.matches("Door scanner").count(), 1);
    staff.click(&format!("#my-doors a[href='/scan/{}']", id(&event))).await;
    let (verdict, text) = staff.scan(&codes[0]).await;
    assert_eq!(verdict, "admitted", "{text}");
    for (path, what) in [
        (format!("/organize/events/{}", id(&event)), "the dashboard"),
        (format!("/organize/events/{}/edit", id(&event)), "the event editor"),
        (format!("/organize/events/{}/staff", id(&event)), "the door staff"),
        (format!("/scan/{}", id(&other)), "another event's door"),
        ("/organize".to_owned(), "the organizer's overview"),
    ] {
        staff.goto(&path).await;
        staff.wait_for_text("Forbidden").await;
        let _ = what;
    }
    let response = app.get(&format!("/api/v1/events/{}/stats", id(&event)), None).await;
    assert_eq!(response.status(), 401);

    // Removed: the door closes at the next scan.
    boss.goto(&format!("/organize/events/{}/staff", id(&event))).await;
    boss.button("Remove").await.click().await.unwrap();
    boss.wait_for_text("Door staff removed").await;
    staff.goto(&format!("/scan/{}", id(&event))).await;
    staff.wait_for_text("Forbidden").await;
    staff.close().await;
    boss.close().await;
}

async fn an_admin_finds_an_account_makes_it_an_organizer_and_ends_its_sessions() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let (admin_email, _) = app.user_with_role("admin").await;
    let (email, customer) = app.customer().await;
    let admin = Browser::open(&app, DESKTOP).await;
    admin.log_in(&admin_email, "/admin/users").await;
    admin.fill("#email", &email[..20]).await;
    admin.button("Find").await.click().await.unwrap();
    admin.wait_for_text(&email).await;
    admin.assert_accessible("accounts").await;
    admin.screenshot("admin-accounts-desktop").await;
    admin.click("a[href^='/admin/users/']").await;
    admin.wait_for_text("Sessions").await;
    admin.assert_accessible("account").await;
    admin.button("End this session").await.click().await.unwrap();
    admin.wait_for_text("The session was ended").await;
    app.assert_token_refused(&customer.access).await;
    admin.find("#role").await.select_by_value("organizer").await.unwrap();
    admin.button("Change the role").await.click().await.unwrap();
    admin.wait_for_text("The role is now organizer").await;
    assert_eq!(admin.text("#user-role").await, "organizer");
    admin.screenshot("admin-account-desktop").await;
    let fresh = app.tokens(&email).await;
    assert_eq!(app.me(&fresh.access).await["role"], "organizer");
    admin.close().await;
}

impl Browser {
    /// Sets an input's value as typing would, firing `input` and `change`.
    async fn set_value(&self, css: &str, value: &str) {
        self.find(css).await;
        let script = format!(
            "const e = document.querySelector({css}); e.value = {value}; \
             e.dispatchEvent(new Event('input', {{bubbles: true}})); e.dispatchEvent(new Event('change', {{bubbles: true}}));",
            css = json!(css),
            value = json!(value),
        );
        self.eval(&script).await;
    }

    /// Adds a section in the editor and gives it a name, rows of `seats` and a curve.
    async fn draw_section(&self, name: &str, rows: u32, seats: u32, curve: u32) {
        let before = self.eval("return window.boxofficeEditor.state().sections.length").await;
        self.click("#add-section").await;
        let started = Instant::now();
        while self.eval("return window.boxofficeEditor.state().sections.length").await == before {
            assert!(started.elapsed() < Duration::from_secs(5), "the section was added");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.set_value("#section-name", name).await;
        self.set_value("#section-curve", &curve.to_string()).await;
        // Replace the new section's rows with `rows` rows of `seats`.
        while self.eval("return document.querySelectorAll('.row-remove').length").await.as_u64().unwrap() > 1
        {
            self.eval("document.querySelector('.row-remove').click()").await;
        }
        self.set_value("#bulk-count", &(rows - 1).to_string()).await;
        self.set_value("#bulk-seats", &seats.to_string()).await;
        self.set_value("#bulk-first", "B").await;
        self.click("#bulk-add").await;
        // The rows table is drawn again after the bulk add: set the first row until it holds.
        let started = Instant::now();
        loop {
            self.set_value("[data-row-index='0'] input[name='row-label']", "A").await;
            self.set_value("[data-row-index='0'] input[name='row-seats']", &seats.to_string()).await;
            let state = self.editor_state().await;
            let section = state["sections"].as_array().unwrap().last().unwrap().clone();
            let drawn = section["rows"].as_array().unwrap();
            if section["name"] == name
                && drawn.len() == rows as usize
                && drawn.iter().all(|row| row["seats"] == seats)
            {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(5), "the section never held its rows: {section}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the element's text is `text` (the editor redraws its counts a moment after
    /// a change).
    async fn wait_for_element_text(&self, css: &str, text: &str) {
        let started = Instant::now();
        loop {
            let now = self.text(css).await;
            if now == text {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "{css} says {now:?}, not {text:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn editor_state(&self) -> Value {
        self.eval("return window.boxofficeEditor.state()").await
    }
}

async fn an_organizer_draws_a_venue_puts_an_event_on_sale_and_watches_a_buyer_take_two_seats() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let (organizer_email, _) = app.user_with_role("organizer").await;
    let desk = Browser::open(&app, DESKTOP).await;
    desk.log_in(&organizer_email, "/organize").await;
    desk.click("a[href='/organize/venues/new']").await;
    desk.fill("#venue-name", "Théâtre des Arcs").await;
    desk.fill("#venue-city", "Lyon").await;
    desk.fill("#venue-address", "2 quai des Arcs").await;
    desk.draw_section("Stalls", 6, 14, 30).await;
    desk.draw_section("Circle", 4, 18, 50).await;
    desk.draw_section("Gallery", 3, 22, 70).await;
    let drawn = desk.editor_state().await;
    assert_eq!(drawn["sections"].as_array().unwrap().len(), 3, "{drawn}");
    desk.wait_for_element_text("#venue-seat-count", &(6 * 14 + 4 * 18 + 3 * 22).to_string()).await;
    assert!(desk.text("#seat-ids").await.contains("Gallery/A/1"), "the seat ids of the section are listed");
    // Undo takes back the last change, redo puts it back.
    desk.click("#editor-undo").await;
    assert_ne!(desk.editor_state().await, drawn);
    desk.click("#editor-redo").await;
    assert_eq!(desk.editor_state().await, drawn);
    desk.screenshot("editor-desktop").await;
    desk.assert_accessible("venue editor").await;
    desk.click("#venue-save").await;
    desk.find("#venue-saved").await;
    let venue_id =
        desk.path().await.trim_start_matches("/organize/venues/").split('?').next().unwrap().to_owned();
    let venue: Value = app.get(&format!("/api/v1/venues/{venue_id}"), None).await.json().await.unwrap();
    let names: Vec<&str> =
        venue["sections"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Stalls", "Circle", "Gallery"]);
    assert!(
        venue["sections"].as_array().unwrap().iter().all(|s| s["curve"].as_u64().unwrap() >= 30),
        "{venue}"
    );
    let seats = venue["seats"].as_array().unwrap().len();
    assert_eq!(seats, 6 * 14 + 4 * 18 + 3 * 22);

    // The event: a seated category over the three sections, a standing one; then published.
    desk.goto("/organize/events/new").await;
    desk.fill("#name", "Opening Night").await;
    desk.fill("#city", "Lyon").await;
    desk.set_value("#starts_at", "2030-06-01T20:00").await;
    desk.set_value("#ends_at", "2030-06-01T23:00").await;
    desk.find("#venue_id").await.select_by_value(&venue_id).await.unwrap();
    desk.fill("#category-0-name", "Seated").await;
    desk.fill("#category-0-price", "45").await;
    desk.click("input[name='category-0-kind'][value='seated']").await;
    for section in ["Stalls", "Circle", "Gallery"] {
        desk.click(&format!("input[name='category-0-sections'][value='{section}']")).await;
    }
    desk.fill("#category-1-name", "Standing").await;
    desk.fill("#category-1-price", "20.50").await;
    desk.fill("#category-1-capacity", "50").await;
    desk.click("#save-event").await;
    desk.wait_for_text("The draft is saved").await;
    // The saved categories on the venue's map, in their colours.
    let seat = desk.find("#seatmap [data-seat='Circle/A/1']").await;
    let started = Instant::now();
    while !seat.attr("aria-label").await.unwrap().unwrap_or_default().contains("available") {
        assert!(started.elapsed() < Duration::from_secs(10), "the preview never drew the seats as offered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seat.attr("class").await.unwrap().unwrap_or_default().contains("c0"),
        "in the first category's colour"
    );
    desk.assert_accessible("event editor").await;
    desk.screenshot("event-editor-desktop").await;
    let event_id =
        desk.path().await.trim_start_matches("/organize/events/").split('/').next().unwrap().to_owned();
    desk.click(&format!("a[href='/organize/events/{event_id}/publish']")).await;
    desk.wait_for_text("What goes on sale").await;
    assert_eq!(desk.text("#publish-total").await, (seats + 50).to_string());
    desk.screenshot("publish-desktop").await;
    desk.click("#publish").await;
    desk.wait_for_text("On sale").await;
    desk.find("#seatmap svg").await;
    desk.wait_for_text("Live").await;
    let event: Value = app.get(&format!("/api/v1/events/{event_id}"), None).await.json().await.unwrap();
    assert_eq!(event["status"], "published");
    assert_eq!(event["starts_at"].as_str().unwrap()[..4].to_owned(), "2030");

    // A buyer sees exactly that map and takes two seats.
    let buyer = Browser::open(&app, DESKTOP).await;
    buyer.sign_up(&email()).await;
    buyer.goto(&format!("/events/{event_id}")).await;
    buyer.seat("Gallery/B/5").await;
    let drawn: Value = buyer.eval("return Array.from(document.querySelectorAll('[data-seat]')).map(e => e.getAttribute('data-seat'))").await;
    let mut drawn: Vec<String> =
        drawn.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
    let mut listed: Vec<String> =
        venue["seats"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
    drawn.sort();
    listed.sort();
    assert_eq!(drawn, listed, "the buyer's map has the editor's seats");
    buyer.seat("Gallery/B/5").await.click().await.unwrap();
    buyer.seat("Gallery/B/6").await.click().await.unwrap();
    buyer.button("Hold 2").await.click().await.unwrap();
    buyer.fill("#payment_token", "tok_ok").await;
    buyer.button("Pay").await.click().await.unwrap();
    buyer.wait_for_text("Your tickets").await;

    // The organizer's open dashboard shows the sale without a reload.
    desk.wait_for_element_text("#stats tfoot [data-stat='sold']", "2").await;
    let revenue = desk.text("#stats tfoot [data-stat='revenue']").await;
    assert!(revenue.contains("90.00"), "{revenue}");
    let sold_seat = desk.find("#seatmap [data-seat='Gallery/B/5']").await;
    let label = sold_seat.attr("aria-label").await.unwrap().unwrap_or_default();
    assert!(label.contains("sold"), "the dashboard's map shows the seat sold: {label}");
    desk.screenshot("dashboard-desktop").await;
    desk.assert_accessible("dashboard").await;
    buyer.close().await;
    desk.close().await;
}

async fn the_editor_shows_the_servers_refusals_beside_the_element_and_saves_nothing() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let (organizer_email, organizer) = app.user_with_role("organizer").await;
    let desk = Browser::open(&app, DESKTOP).await;
    desk.log_in(&organizer_email, "/organize/venues/new").await;
    desk.fill("#venue-name", "Errors Hall").await;
    desk.fill("#venue-city", "Lyon").await;
    desk.fill("#venue-address", "3 rue").await;
    desk.draw_section("Floor", 2, 5, 0).await;
    desk.draw_section("floor", 2, 5, 0).await;

    // Two sections whose seat ids would overlap ("floor" and "Floor").
    desk.click("#venue-save").await;
    let started = Instant::now();
    while desk.eval("return document.getElementById('section-name').getAttribute('aria-invalid')").await
        != json!("true")
    {
        assert!(started.elapsed() < Duration::from_secs(10), "the name field is never marked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let described = desk.eval("const e = document.getElementById('section-name'); return (e.getAttribute('aria-describedby') || '').split(' ').map(id => document.getElementById(id)?.textContent || '').join(' ')").await;
    assert!(described.as_str().unwrap().contains("is used by another section"), "{described}");
    assert_eq!(
        desk.find("#section-name").await.prop("value").await.unwrap().as_deref(),
        Some("floor"),
        "the section concerned is the one shown"
    );
    assert!(desk
        .find("[data-section-index='1']")
        .await
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default()
        .contains("has-error"));
    desk.screenshot("editor-error-desktop").await;

    // An empty section.
    desk.set_value("#section-name", "Balcony").await;
    while desk.eval("return document.querySelectorAll('.row-remove').length").await.as_u64().unwrap() > 0 {
        desk.eval("document.querySelector('.row-remove').click()").await;
    }
    desk.click("#venue-save").await;
    desk.wait_for_text("give 1 to 1000 rows").await;
    assert!(desk
        .find("[data-section-index='1']")
        .await
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default()
        .contains("has-error"));

    // More seats than a venue may have: said beside the venue's seat count.
    desk.set_value("#bulk-count", "126").await;
    desk.set_value("#bulk-seats", "2000").await;
    desk.set_value("#bulk-first", "A").await;
    desk.click("#bulk-add").await;
    desk.click("#venue-save").await;
    let started = Instant::now();
    loop {
        let said = desk.eval("return document.getElementById('error-sections')?.textContent || ''").await;
        if said.as_str().unwrap().contains("at most 250000 seats") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the seat limit was never shown: {said}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mine: Value = app.get("/api/v1/venues", Some(&organizer.access)).await.json().await.unwrap();
    assert_eq!(mine["items"], json!([]), "nothing was saved");
    desk.close().await;
}

async fn the_organizer_pages_fit_a_phone_and_pass_the_accessibility_scan() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let (organizer_email, organizer) = app.user_with_role("organizer").await;
    let event = seated_event(&app, &organizer.access, "Phone Night").await;
    tickets(&app, &event, &["Floor/A/3", "Floor/A/4"]).await;
    let phone = Browser::open(&app, PHONE).await;
    phone.log_in(&organizer_email, "/organize").await;
    phone.assert_accessible("organize").await;
    phone.screenshot("organize-phone").await;
    phone.goto(&format!("/organize/events/{}", id(&event))).await;
    phone.wait_for_text("Live").await;
    phone.find("#seatmap svg").await;
    phone.assert_accessible("dashboard").await;
    phone.screenshot("dashboard-phone").await;
    assert_eq!(phone.overflows().await, json!(false), "the dashboard fits a phone");
    phone.goto(&format!("/organize/venues/{}", event["venue_id"].as_str().unwrap())).await;
    phone.find("#editor-canvas").await;
    phone.find("#frozen-note").await;
    phone.assert_accessible("venue editor").await;
    phone.screenshot("editor-phone").await;
    assert_eq!(phone.overflows().await, json!(false), "the editor fits a phone");
    phone.goto(&format!("/organize/events/{}/edit", id(&event))).await;
    phone.assert_accessible("event editor").await;
    assert_eq!(phone.overflows().await, json!(false), "the event editor fits a phone");
    // A waiting room, set on the event's form: refused without a sale start, then saved.
    phone.click("#room_enabled").await;
    phone.set_value("#room_opens_at", "2026-01-01T09:00").await;
    phone.click("#save-event").await;
    phone.wait_for_text("Waiting room: a waiting room needs sale_starts_at").await;
    phone.set_value("#sale_starts_at", "2026-01-01T10:00").await;
    phone.set_value("#room_admissions_per_minute", "1200").await;
    phone.click("#save-event").await;
    phone.wait_for_text("Saved").await;
    let saved: Value = app.get(&format!("/api/v1/events/{}", id(&event)), None).await.json().await.unwrap();
    assert_eq!(saved["waiting_room"]["admissions_per_minute"], 1200, "{saved}");
    phone.goto(&format!("/organize/events/{}/cancel", id(&event))).await;
    phone.wait_for_text("1 paid booking (2 tickets, EUR 90.00) will be refunded").await;
    phone.screenshot("cancel-phone").await;
    phone.close().await;
}

/// Browser benchmarks, run on demand (`scripts/bench/web`): their figures go to BENCHMARKS.md.
mod bench {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a benchmark: scripts/bench/web runs it"]
    async fn the_editor_opens_and_edits_a_venue_of_20000_seats() {
        super::the_editor_opens_and_edits_a_venue_of_20000_seats().await
    }
}

/// The venue editor on a venue of 20,000 seats (20 sections of 40 rows of 25): the time from
/// navigation until the editor shows the venue's seat count, three loads; then, with the
/// browser's long-task observer on, every section selected in turn, moved by the keyboard and
/// the changes undone: the longest task and the time of each step. No timed assertion: figures.
async fn the_editor_opens_and_edits_a_venue_of_20000_seats() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let (organizer_email, organizer) = app.user_with_role("organizer").await;
    let sections: Vec<Value> = (0..20)
        .map(|section| {
            let rows: Vec<Value> = (0..40).map(|row| json!({"label": format!("R{}", row + 1), "seats": 25})).collect();
            json!({"name": format!("Block {}", section + 1), "rows": rows, "x": (section % 5) * 40 - 80, "y": (section / 5) * 55 + 10, "curve": 20})
        })
        .collect();
    let venue = app.create_venue(&organizer.access, json!(sections)).await;
    assert_eq!(venue["capacity"], 20_000);
    let browser = Browser::open(&app, DESKTOP).await;
    browser.log_in(&organizer_email, "/organize").await;
    let mut ready_ms = Vec::new();
    for _ in 0..3 {
        browser.goto(&format!("/organize/venues/{}", id(&venue))).await;
        let started = Instant::now();
        loop {
            let shown = browser.eval("return document.getElementById('venue-seat-count')?.textContent === '20000' ? performance.now() : null").await;
            if let Some(ms) = shown.as_f64() {
                ready_ms.push(ms);
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "the editor never showed the venue");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let steps = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const longest = {ms: 0}; const observer = new PerformanceObserver(list => {
               for (const entry of list.getEntries()) longest.ms = Math.max(longest.ms, entry.duration); });
             observer.observe({entryTypes: ['longtask']});
             const canvas = document.getElementById('editor-canvas');
             const key = k => canvas.dispatchEvent(new KeyboardEvent('keydown', {key: k, bubbles: true}));
             const times = [];
             (async () => {
               for (let i = 0; i < 20; i++) {
                 const t = performance.now();
                 window.boxofficeEditor.select(i); canvas.focus(); key('ArrowRight'); key('ArrowDown');
                 await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
                 times.push(performance.now() - t);
               }
               const undo = document.getElementById('editor-undo');
               const t = performance.now();
               while (!undo.disabled) { undo.click(); await new Promise(r => requestAnimationFrame(r)); }
               const undoMs = performance.now() - t;
               await new Promise(r => setTimeout(r, 100));
               observer.disconnect();
               times.sort((a, b) => a - b);
               done({median: times[10], max: times[19], longest: longest.ms, undo: undoMs});
             })();",
            Vec::new(),
        )
        .await
        .unwrap();
    browser.screenshot("editor-20000-desktop").await;
    println!(
        "bench web: the editor shows a venue of 20,000 seats {:.0} / {:.0} / {:.0} ms after navigation (three loads)",
        ready_ms[0], ready_ms[1], ready_ms[2]
    );
    println!(
        "bench web: select and move a section: median {:.0} ms, slowest {:.0} ms (to the second frame); undoing every step {:.0} ms; longest task {:.0} ms",
        steps["median"].as_f64().unwrap_or(-1.0),
        steps["max"].as_f64().unwrap_or(-1.0),
        steps["undo"].as_f64().unwrap_or(-1.0),
        steps["longest"].as_f64().unwrap_or(0.0),
    );
    browser.close().await;
}
