//! What the users and events services tell the others: each change's domain event is written
//! with it and relayed (here to the in-process bus, or to nothing that listens), in order.
//! The bookings service's events are tested with the bookings (`bookings.rs`) and on Kafka
//! (`kafka.rs`).

use std::time::Duration;

use boxoffice_proto::domain as pb;
use reqwest::StatusCode;
use serde_json::json;

use crate::events::event_body;
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(an_account_and_an_event_on_sale_are_told_in_order_and_drafts_are_not);

/// `service`'s outbox once the relay has sent everything: each event's (aggregate, type, payload).
async fn relayed(app: &TestApp, service: &str) -> Vec<(String, String, Vec<u8>)> {
    for _ in 0..100 {
        let outbox = app.outbox(service).await;
        if outbox.iter().all(|(_, sent)| *sent) {
            return outbox
                .into_iter()
                .map(|(envelope, _)| (envelope.aggregate_id, envelope.r#type, envelope.payload))
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the {service} relay sends every event");
}

async fn an_account_and_an_event_on_sale_are_told_in_order_and_drafts_are_not(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let signed_up = app.signup("told@example.com").await;
    let users = relayed(&app, "users").await;
    let (aggregate, event_type, payload) =
        users.iter().find(|(aggregate, ..)| *aggregate == signed_up["id"].as_str().unwrap()).unwrap();
    assert_eq!(event_type, "user.registered");
    let registered: pb::UserRegistered = prost::Message::decode(payload.as_slice()).unwrap();
    assert_eq!(
        (registered.user_id.as_str(), registered.email.as_str()),
        (aggregate.as_str(), "told@example.com")
    );
    assert_eq!(registered.role, "customer");

    let (_, organizer) = app.user_with_role("organizer").await;
    let draft = app.create_event(&organizer.access, event_body("Told", "2030-05-01T20:00:00Z")).await;
    let id = draft["id"].as_str().unwrap().to_owned();
    let renamed =
        app.patch(&format!("/api/v1/events/{id}"), json!({"name": "Told, renamed"}), &organizer.access).await;
    assert_eq!(renamed.status(), StatusCode::OK);
    app.publish(&organizer.access, &id).await;
    let changed =
        app.patch(&format!("/api/v1/events/{id}"), json!({"name": "Told, on sale"}), &organizer.access).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let cancelled =
        app.post(&format!("/api/v1/events/{id}/cancel"), json!({}), Some(&organizer.access)).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let again = app.post(&format!("/api/v1/events/{id}/cancel"), json!({}), Some(&organizer.access)).await;
    assert_eq!(again.status(), StatusCode::OK);

    let events = relayed(&app, "events").await;
    let told: Vec<&str> = events
        .iter()
        .filter(|(aggregate, ..)| *aggregate == id)
        .map(|(_, event_type, _)| event_type.as_str())
        .collect();
    assert_eq!(
        told,
        ["event.published", "event.updated", "event.cancelled"],
        "a draft's changes are private"
    );
    let (.., payload) = events.iter().find(|(_, event_type, _)| event_type == "event.updated").unwrap();
    let updated: pb::EventUpdated = prost::Message::decode(payload.as_slice()).unwrap();
    let summary = updated.event.unwrap();
    assert_eq!(summary.name, "Told, on sale");
    assert_eq!(summary.starts_at, "2030-05-01T20:00:00.000000Z");
}

/// The AsyncAPI document names every domain event the services write.
#[test]
fn the_asyncapi_document_names_every_domain_event() {
    let document = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../asyncapi.yaml")).unwrap();
    for event_type in boxoffice_outbox::event_type::ALL {
        assert!(document.contains(&format!("name: {event_type}\n")), "{event_type} is in asyncapi.yaml");
    }
}
