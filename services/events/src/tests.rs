//! Tests of [`Events`] without a running bookings service: a fake [`Sales`] records what the
//! events service asks of it (and fails when told to), over a temporary SQLite database and the
//! in-memory shared store.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use boxoffice_errors::{Code, Error};
use boxoffice_kv::Kv;
use boxoffice_types::{Caller, Role};
use chrono::{Duration, Utc};
use uuid::Uuid;

use crate::domain::{format_time, EventStatus, NewCategory, NewPlacement};
use crate::editing::{EventPatch, NewEvent};
use crate::sales::Sales;
use crate::service::now;
use crate::store::{EventRecord, EventStore};
use crate::{open_store, Database, Events};

/// What the events service asked of the bookings service.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    LoadInventory(Uuid),
}

/// A bookings service that records every call and answers with `failure` while one is set.
#[derive(Default)]
struct FakeSales {
    calls: Mutex<Vec<Call>>,
    failure: Mutex<Option<Error>>,
}

impl FakeSales {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn fail_with(&self, failure: Option<Error>) {
        *self.failure.lock().unwrap() = failure;
    }

    fn answer(&self, call: Call) -> Result<(), Error> {
        self.calls.lock().unwrap().push(call);
        match self.failure.lock().unwrap().clone() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl Sales for FakeSales {
    async fn load_inventory(&self, event_id: Uuid) -> Result<(), Error> {
        self.answer(Call::LoadInventory(event_id))
    }
}

/// The events service over its own temporary database, which goes when the fixture does.
struct Fixture {
    events: Events,
    store: Arc<dyn EventStore>,
    sales: Arc<FakeSales>,
    organizer: Caller,
    directory: PathBuf,
}

impl Fixture {
    async fn new() -> Fixture {
        let directory = std::env::temp_dir().join(format!("boxoffice-events-test-{}", Uuid::new_v4()));
        let database = Database::Sqlite { path: directory.join("events.db"), max_connections: 2 };
        let store = open_store(&database).await.expect("the temporary database opens");
        let sales = Arc::new(FakeSales::default());
        let events = Events::new(store.clone(), Kv::memory(), sales.clone());
        let organizer = Caller::new(Uuid::now_v7(), Role::Organizer);
        Fixture { events, store, sales, organizer, directory }
    }

    async fn draft(&self) -> EventRecord {
        self.events.create_event(self.organizer, new_event(Utc::now() + Duration::days(30))).await.unwrap()
    }

    /// A published event that began an hour ago, written straight into the store: the service
    /// itself no longer creates events in the past.
    async fn running_event(&self) -> EventRecord {
        let mut event = self.draft().await;
        event.id = Uuid::now_v7();
        event.starts_at = now() - Duration::hours(1);
        event.ends_at = now() + Duration::hours(2);
        event.status = EventStatus::Published;
        self.store.insert_event(&event).await.unwrap();
        event
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

fn new_event(starts_at: chrono::DateTime<Utc>) -> NewEvent {
    NewEvent {
        name: "Night Train".into(),
        city: "Lyon".into(),
        starts_at: format_time(starts_at),
        ends_at: format_time(starts_at + Duration::hours(3)),
        categories: vec![NewCategory {
            name: "Standing".into(),
            price_cents: 2500,
            currency: "EUR".into(),
            placement: NewPlacement::Capacity(100),
        }],
        ..NewEvent::default()
    }
}

#[tokio::test]
async fn publishing_asks_the_bookings_service_to_load_the_inventory() {
    let fixture = Fixture::new().await;
    let draft = fixture.draft().await;
    assert!(fixture.sales.calls().is_empty(), "a draft is not for sale");

    let published = fixture.events.publish(fixture.organizer, draft.id).await.unwrap();
    assert_eq!(published.status, EventStatus::Published);
    assert_eq!(fixture.sales.calls(), [Call::LoadInventory(draft.id)]);
}

#[tokio::test]
async fn a_failing_inventory_load_does_not_fail_the_publication() {
    let fixture = Fixture::new().await;
    let draft = fixture.draft().await;
    fixture.sales.fail_with(Some(Error::unavailable("the bookings service is down")));

    let published = fixture.events.publish(fixture.organizer, draft.id).await.unwrap();
    assert_eq!(published.status, EventStatus::Published);
    assert_eq!(fixture.sales.calls(), [Call::LoadInventory(draft.id)], "it was asked all the same");
    let public = fixture.events.event(None, draft.id).await.unwrap();
    assert_eq!(public.status, EventStatus::Published, "the publication is stored");
}

#[tokio::test]
async fn cancelling_takes_the_event_off_sale_without_calling_the_bookings_service() {
    let fixture = Fixture::new().await;
    let draft = fixture.draft().await;
    fixture.events.publish(fixture.organizer, draft.id).await.unwrap();

    let cancelled = fixture.events.cancel(fixture.organizer, draft.id).await.unwrap();
    assert_eq!(cancelled.status, EventStatus::Cancelled);
    let again = fixture.events.cancel(fixture.organizer, draft.id).await.unwrap();
    assert_eq!(again.status, EventStatus::Cancelled, "cancelling again changes nothing");
    assert_eq!(fixture.sales.calls(), [Call::LoadInventory(draft.id)], "refunds follow event.cancelled");
    let error = fixture.events.event(None, draft.id).await.unwrap_err();
    assert_eq!(error.code, Code::NotFound, "a cancelled event is not public");
}

#[tokio::test]
async fn an_event_is_not_created_or_moved_into_the_past() {
    let fixture = Fixture::new().await;
    let past = fixture.events.create_event(fixture.organizer, new_event(Utc::now() - Duration::minutes(1)));
    let error = past.await.unwrap_err();
    assert_eq!(error.code, Code::ValidationFailed);
    assert!(error.detail.starts_with("starts_at"), "{}", error.detail);

    let draft = fixture.draft().await;
    let back =
        EventPatch { starts_at: Some(format_time(Utc::now() - Duration::days(1))), ..EventPatch::default() };
    let error = fixture.events.update_event(fixture.organizer, draft.id, back).await.unwrap_err();
    assert_eq!(error.code, Code::ValidationFailed);
    assert!(error.detail.starts_with("starts_at"), "{}", error.detail);
    assert_eq!(fixture.store.event(draft.id).await.unwrap().unwrap().starts_at, draft.starts_at);
}

#[tokio::test]
async fn an_event_that_has_begun_may_still_be_renamed_but_its_start_not_moved_back() {
    let fixture = Fixture::new().await;
    let running = fixture.running_event().await;
    let rename = EventPatch {
        name: Some("Night Train (running late)".into()),
        starts_at: Some(format_time(running.starts_at)),
        ends_at: Some(format_time(running.ends_at + Duration::hours(1))),
        ..EventPatch::default()
    };
    let renamed = fixture.events.update_event(fixture.organizer, running.id, rename).await.unwrap();
    assert_eq!(renamed.name, "Night Train (running late)");
    assert_eq!(renamed.starts_at, running.starts_at, "its start, sent back unchanged, stays");

    let earlier = EventPatch {
        starts_at: Some(format_time(running.starts_at - Duration::minutes(30))),
        ..EventPatch::default()
    };
    let error = fixture.events.update_event(fixture.organizer, running.id, earlier).await.unwrap_err();
    assert_eq!(error.code, Code::ValidationFailed);
    assert!(error.detail.starts_with("starts_at"), "{}", error.detail);
}
