//! One suite of behaviour, run against both stores, so that the two cannot drift apart. Every
//! behaviour below is an `async fn(&Suite)`; `on_both_backends!` turns it into the tests
//! `<behaviour>::memory` and `<behaviour>::redis`. Redis is at `BOXOFFICE_TEST_REDIS_URL`, and
//! every store gets a key prefix of its own.
//!
//! Why one file of about 1,000 lines: it is one suite. The examples, the concurrency tests and
//! the property test (random operations checked against a model, and both stores compared with
//! each other) share the fixture event, the request builder and the `Suite`; split, each part
//! would import the others' helpers and a behaviour could be added to one store's tests only.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::redis::AsyncCommands as _;
use proptest::prelude::*;

use super::*;

/// The capacity of the fixture's general-admission category.
const STANDING_CAPACITY: u32 = 10;
/// A cap that the examples do not reach unless they mean to.
const GENEROUS_CAP: u32 = 100;

fn redis_url() -> String {
    std::env::var("BOXOFFICE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

#[derive(Clone, Copy, Debug)]
enum Backend {
    Memory,
    Redis,
}

/// Makes the stores of one test and, for Redis, deletes their keys at the end.
struct Suite {
    backend: Backend,
    prefixes: Mutex<Vec<String>>,
}

impl Suite {
    fn new(backend: Backend) -> Self {
        Suite { backend, prefixes: Mutex::new(Vec::new()) }
    }

    /// A new, empty store (for Redis, a new key prefix): what a rebuild starts from.
    async fn store(&self) -> Arc<dyn InventoryStore> {
        self.stores_sharing_one_inventory(1).await.remove(0)
    }

    /// `count` handles on one new, empty inventory; for Redis, each with a connection of its
    /// own, as separate processes would have.
    async fn stores_sharing_one_inventory(&self, count: usize) -> Vec<Arc<dyn InventoryStore>> {
        match self.backend {
            Backend::Memory => {
                let store: Arc<dyn InventoryStore> = Arc::new(MemoryInventory::new());
                vec![store; count]
            }
            Backend::Redis => {
                let prefix = format!("boxoffice-test:inventory:{}:", Uuid::new_v4());
                self.prefixes.lock().unwrap().push(prefix.clone());
                let mut stores: Vec<Arc<dyn InventoryStore>> = Vec::with_capacity(count);
                for _ in 0..count {
                    let store = RedisInventory::connect(&redis_url(), &prefix)
                        .await
                        .expect("Redis is reachable for the tests");
                    stores.push(Arc::new(store));
                }
                stores
            }
        }
    }

    /// A new store with `event` loaded.
    async fn loaded(&self, event: &Event) -> Arc<dyn InventoryStore> {
        let store = self.store().await;
        store.ensure_loaded(event.id(), &source_of(event.snapshot.clone())).await.unwrap();
        store
    }

    async fn clean_up(self) {
        let prefixes = self.prefixes.into_inner().unwrap();
        if prefixes.is_empty() {
            return;
        }
        let client = ::redis::Client::open(redis_url()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        for prefix in prefixes {
            let keys: Vec<String> = connection.keys(format!("{prefix}*")).await.unwrap();
            if !keys.is_empty() {
                let _: () = connection.del(keys).await.unwrap();
            }
        }
    }
}

/// Runs each behaviour on both backends, as `<behaviour>::memory` and `<behaviour>::redis`.
macro_rules! on_both_backends {
    ($($behaviour:ident),* $(,)?) => {$(
        mod $behaviour {
            use super::{Backend, Suite};

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn memory() {
                let suite = Suite::new(Backend::Memory);
                super::$behaviour(&suite).await;
                suite.clean_up().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn redis() {
                let suite = Suite::new(Backend::Redis);
                super::$behaviour(&suite).await;
                suite.clean_up().await;
            }
        }
    )*};
}

on_both_backends!(
    a_hold_claims_units_of_several_categories_at_once,
    a_hold_that_cannot_be_met_in_full_claims_nothing,
    general_admission_sells_out,
    seated_categories_sell_out,
    a_seat_that_is_held_sold_unknown_or_of_another_category_is_unavailable,
    best_available_takes_adjacent_seats_in_one_row_else_the_first_free_ones,
    the_per_user_cap_counts_live_units_and_a_release_gives_the_allowance_back,
    a_category_that_is_gone_is_sold_out_even_for_a_buyer_at_the_cap,
    a_repeated_booking_id_answers_already_held_and_changes_nothing,
    confirming_turns_held_units_into_sold_ones_once,
    releasing_returns_held_and_sold_units_to_sale_once,
    handing_over_gives_units_to_new_holds_and_only_the_rest_returns_to_sale,
    a_hand_over_that_names_foreign_units_or_an_unknown_booking_changes_nothing,
    an_event_that_is_not_loaded_refuses_decisions,
    a_rebuild_from_the_snapshot_gives_the_same_inventory,
    forgetting_every_inventory_drops_holds_the_database_never_recorded,
    the_claims_of_holds_are_listed_with_their_age_until_a_rebuild_clears_them,
    concurrent_loaders_take_the_snapshot_once,
    a_failed_or_inconsistent_load_leaves_the_event_unloaded,
    large_categories_load_in_full,
    five_hundred_buyers_of_a_hundred_units_get_exactly_a_hundred,
    two_hundred_buyers_of_one_seat_get_it_once,
);

/// An event with a general-admission category and two seated ones.
#[derive(Clone, Debug)]
struct Event {
    snapshot: Snapshot,
    standing: Uuid,
    stalls: Uuid,
    balcony: Uuid,
}

impl Event {
    /// Standing: 10 units. Stalls: rows A and B of 4 seats. Balcony: row A of 3 seats.
    fn new() -> Self {
        let (standing, stalls, balcony) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let snapshot = Snapshot {
            event_id: Uuid::new_v4(),
            categories: vec![
                CategorySpec {
                    category_id: standing,
                    units: CategoryUnits::GeneralAdmission { capacity: STANDING_CAPACITY },
                },
                CategorySpec {
                    category_id: stalls,
                    units: CategoryUnits::Seated { seat_ids: seat_ids("Stalls", &[("A", 4), ("B", 4)]) },
                },
                CategorySpec {
                    category_id: balcony,
                    units: CategoryUnits::Seated { seat_ids: seat_ids("Balcony", &[("A", 3)]) },
                },
            ],
            live: Vec::new(),
        };
        Event { snapshot, standing, stalls, balcony }
    }

    fn id(&self) -> Uuid {
        self.snapshot.event_id
    }

    fn unit(&self, n: u32) -> (Uuid, String) {
        (self.standing, general_admission_unit(self.standing, n))
    }

    fn stall(&self, seat: &str) -> (Uuid, String) {
        (self.stalls, format!("Stalls/{seat}"))
    }

    fn balcony_seat(&self, seat: &str) -> (Uuid, String) {
        (self.balcony, format!("Balcony/{seat}"))
    }
}

/// Seat ids row by row, as the events service derives them from a seat map.
fn seat_ids(section: &str, rows: &[(&str, u32)]) -> Vec<String> {
    rows.iter()
        .flat_map(|&(row, seats)| (1..=seats).map(move |number| format!("{section}/{row}/{number}")))
        .collect()
}

fn source_of(snapshot: Snapshot) -> impl Fn() -> BoxFuture<'static, Result<Snapshot>> + Send + Sync {
    move || {
        let snapshot = snapshot.clone();
        Box::pin(async move { Ok(snapshot) })
    }
}

// Test-only builders for requests.
impl HoldRequest {
    fn by(user_id: Uuid) -> Self {
        HoldRequest { booking_id: Uuid::new_v4(), user_id, per_user_cap: GENEROUS_CAP, ..Default::default() }
    }

    fn quantity(mut self, category_id: Uuid, count: u32) -> Self {
        self.quantities.push((category_id, count));
        self
    }

    fn seat(mut self, (category_id, seat_id): (Uuid, String)) -> Self {
        self.seats.push((category_id, seat_id));
        self
    }

    fn cap(mut self, per_user_cap: u32) -> Self {
        self.per_user_cap = per_user_cap;
        self
    }
}

async fn availability(store: &Arc<dyn InventoryStore>, event: &Event) -> Availability {
    store.availability(event.id()).await.unwrap().expect("the event is loaded")
}

fn counts(availability: &Availability, category_id: Uuid) -> Counts {
    availability.categories.iter().find(|(id, _)| *id == category_id).expect("a category of the event").1
}

fn seat_state(availability: &Availability, seat_id: &str) -> Option<UnitState> {
    availability.seats.iter().find(|(id, _, _)| id == seat_id).expect("a seat of the event").2
}

fn held(outcome: HoldOutcome) -> Vec<(Uuid, String)> {
    match outcome {
        HoldOutcome::Held(units) => units,
        other => panic!("expected Held, got {other:?}"),
    }
}

async fn a_hold_claims_units_of_several_categories_at_once(suite: &Suite) {
    let event = Event::new();
    let store = suite.loaded(&event).await;
    let before = availability(&store, &event).await;
    assert_eq!(counts(&before, event.standing), Counts { capacity: STANDING_CAPACITY, held: 0, sold: 0 });
    assert_eq!(counts(&before, event.stalls), Counts { capacity: 8, held: 0, sold: 0 });
    assert!(before.seats.iter().all(|(_, _, state)| state.is_none()));
    let order: Vec<&str> = before.seats.iter().map(|(seat_id, _, _)| seat_id.as_str()).collect();
    assert_eq!(order[..3], ["Stalls/A/1", "Stalls/A/2", "Stalls/A/3"], "seats follow the seat map");

    let request = HoldRequest::by(Uuid::new_v4())
        .quantity(event.standing, 2)
        .quantity(event.stalls, 2)
        .seat(event.balcony_seat("A/2"));
    let units = held(store.hold(event.id(), &request).await.unwrap());
    assert_eq!(
        units,
        [event.unit(1), event.unit(2), event.stall("A/1"), event.stall("A/2"), event.balcony_seat("A/2")],
        "quantities first, in request order, then the chosen seats"
    );

    let after = availability(&store, &event).await;
    assert_eq!(counts(&after, event.standing), Counts { capacity: STANDING_CAPACITY, held: 2, sold: 0 });
    assert_eq!(counts(&after, event.stalls), Counts { capacity: 8, held: 2, sold: 0 });
    assert_eq!(counts(&after, event.balcony), Counts { capacity: 3, held: 1, sold: 0 });
    assert_eq!(seat_state(&after, "Balcony/A/2"), Some(UnitState::Held));
    assert_eq!(seat_state(&after, "Stalls/A/2"), Some(UnitState::Held));
    assert_eq!(seat_state(&after, "Stalls/A/3"), None);

    let nothing = HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 0);
    assert_eq!(store.hold(event.id(), &nothing).await.unwrap(), HoldOutcome::Held(Vec::new()));
    assert_eq!(availability(&store, &event).await, after, "a hold of nothing changes nothing");
}

async fn a_hold_that_cannot_be_met_in_full_claims_nothing(suite: &Suite) {
    let event = Event::new();
    let store = suite.loaded(&event).await;
    held(store.hold(event.id(), &HoldRequest::by(Uuid::new_v4()).seat(event.stall("B/2"))).await.unwrap());
    let before = availability(&store, &event).await;

    let buyer = Uuid::new_v4();
    let taken_seat = HoldRequest::by(buyer)
        .quantity(event.standing, 3)
        .quantity(event.balcony, 1)
        .seat(event.stall("A/1"))
        .seat(event.stall("B/2"));
    assert_eq!(
        store.hold(event.id(), &taken_seat).await.unwrap(),
        HoldOutcome::SeatUnavailable { seat_id: "Stalls/B/2".to_owned() }
    );
    let too_many = HoldRequest::by(buyer)
        .quantity(event.stalls, 2)
        .quantity(event.standing, STANDING_CAPACITY + 1)
        .seat(event.balcony_seat("A/1"));
    assert_eq!(
        store.hold(event.id(), &too_many).await.unwrap(),
        HoldOutcome::SoldOut { category_id: event.standing }
    );
    assert_eq!(availability(&store, &event).await, before, "a refused hold claims nothing");

    let cap_of_exactly_everything =
        HoldRequest::by(buyer).quantity(event.standing, STANDING_CAPACITY).cap(STANDING_CAPACITY);
    held(store.hold(event.id(), &cap_of_exactly_everything).await.unwrap());
}

async fn general_admission_sells_out(suite: &Suite) {
    let event = Event::new();
    let store = suite.loaded(&event).await;
    let split_over_two_quantities =
        HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 6).quantity(event.standing, 5);
    assert_eq!(
        store.hold(event.id(), &split_over_two_quantities).await.unwrap(),
        HoldOutcome::SoldOut { category_id: event.standing },
        "two quantities of one category must fit together"
    );
    let units = held(
        store.hold(event.id(), &HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 7)).await.unwrap(),
    );
    assert_eq!(units.len(), 7);
    let units = held(
        store.hold(event.id(), &HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 3)).await.unwrap(),
    );
    assert_eq!(units, [event.unit(8), event.unit(9), event.unit(10)]);
    assert_eq!(
        store.hold(event.id(), &HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 1)).await.unwrap(),
        HoldOutcome::SoldOut { category_id: event.standing }
    );
    let unknown_category = Uuid::new_v4();
    assert_eq!(
        store.hold(event.id(), &HoldRequest::by(Uuid::new_v4()).quantity(unknown_category, 1)).await.unwrap(),
        HoldOutcome::SoldOut { category_id: unknown_category },
        "a category the event does not have has nothing to sell"
    );
    assert_eq!(counts(&availability(&store, &event).await, event.standing).available(), 0);
}

async fn seated_categories_sell_out(suite: &Suite) {
    let event = Event::new();
    let store = suite.loaded(&event).await;
    assert_eq!(
        store.hold(event.id(), &HoldRequest::by(Uuid::new_v4()).quantity(event.stalls, 9)).await.unwrap(),
        HoldOutcome::SoldOut { category_id: event.stalls }
    );
    let all = held(
        store.hold(event.id(), &HoldRequest::by(Uuid::new_v4()).quantity(event.stalls, 8)).await.unwrap(),
    );
    assert_eq!(all.len(), 8);
    assert_eq!(
        store.hold(event.id(), &HoldRequest::by(Uuid::new_v4()).quantity(event.stalls, 1)).await.unwrap(),
        HoldOutcome::SoldOut { category_id: event.stalls }
    );
    let after = availability(&store, &event).await;
    assert_eq!(counts(&after, event.stalls), Counts { capacity: 8, held: 8, sold: 0 });
    assert_eq!(counts(&after, event.balcony).available(), 3, "other categories are untouched");
}

async fn a_seat_that_is_held_sold_unknown_or_of_another_category_is_unavailable(suite: &Suite) {
    let event = Event::new();
    let store = suite.loaded(&event).await;
    held(store.hold(event.id(), &HoldRequest::by(Uuid::new_v4()).seat(event.stall("A/1"))).await.unwrap());
    let sold = HoldRequest::by(Uuid::new_v4()).seat(event.stall("A/2"));
    held(store.hold(event.id(), &sold).await.unwrap());
    store.confirm(event.id(), sold.booking_id).await.unwrap();

    let unavailable = |seat_id: &str| HoldOutcome::SeatUnavailable { seat_id: seat_id.to_owned() };
    let cases = [
        (event.stall("A/1"), "held"),
        (event.stall("A/2"), "sold"),
        (event.stall("Z/9"), "unknown"),
        ((event.stalls, "Balcony/A/1".to_owned()), "of another category"),
        ((event.standing, "Stalls/A/3".to_owned()), "asked of a general-admission category"),
        ((event.standing, general_admission_unit(event.standing, 1)), "a general-admission unit"),
    ];
    for ((category_id, seat_id), why) in cases {
        let request =
            HoldRequest::by(Uuid::new_v4()).seat(event.stall("B/1")).seat((category_id, seat_id.clone()));
        assert_eq!(store.hold(event.id(), &request).await.unwrap(), unavailable(&seat_id), "a seat {why}");
    }
    let twice = HoldRequest::by(Uuid::new_v4()).seat(event.stall("B/1")).seat(event.stall("B/1"));
    assert_eq!(
        store.hold(event.id(), &twice).await.unwrap(),
        unavailable("Stalls/B/1"),
        "a seat asked twice"
    );
    assert_eq!(seat_state(&availability(&store, &event).await, "Stalls/B/1"), None);
}

async fn best_available_takes_adjacent_seats_in_one_row_else_the_first_free_ones(suite: &Suite) {
    let event = Event::new();
    let store = suite.loaded(&event).await;
    let best = |count| HoldRequest::by(Uuid::new_v4()).quantity(event.stalls, count);

    let chosen_and_best = HoldRequest::by(Uuid::new_v4()).quantity(event.stalls, 2).seat(event.stall("A/1"));
    assert_eq!(
        held(store.hold(event.id(), &chosen_and_best).await.unwrap()),
        [event.stall("A/2"), event.stall("A/3"), event.stall("A/1")],
        "best available leaves the seat the buyer chose"
    );
    // Free: A/4, B/1 to B/4. A/4 and B/1 follow each other in the seat map but not in one row.
    assert_eq!(
        held(store.hold(event.id(), &best(2)).await.unwrap()),
        [event.stall("B/1"), event.stall("B/2")],
        "a run never crosses rows"
    );
    // Free: A/4, B/3, B/4.
    assert_eq!(
        held(store.hold(event.id(), &best(2)).await.unwrap()),
        [event.stall("B/3"), event.stall("B/4")]
    );

    let store = suite.loaded(&event).await;
    held(store.hold(event.id(), &HoldRequest::by(Uuid::new_v4()).seat(event.stall("A/2"))).await.unwrap());
    held(store.hold(event.id(), &HoldRequest::by(Uuid::new_v4()).seat(event.stall("B/3"))).await.unwrap());
    // Free: A/1, A/3, A/4, B/1, B/2, B/4: no three together, so the first three.
    assert_eq!(
        held(store.hold(event.id(), &best(3)).await.unwrap()),
        [event.stall("A/1"), event.stall("A/3"), event.stall("A/4")]
    );
    // Free: B/1, B/2, B/4.
    assert_eq!(
        held(store.hold(event.id(), &best(2)).await.unwrap()),
        [event.stall("B/1"), event.stall("B/2")]
    );
    assert_eq!(held(store.hold(event.id(), &best(1)).await.unwrap()), [event.stall("B/4")]);
}

/// Availability is decided before the cap, so that "sold out" does not depend on who asks (the
/// service repeats recent sold-out answers without asking the store).
async fn a_category_that_is_gone_is_sold_out_even_for_a_buyer_at_the_cap(suite: &Suite) {
    let event = Event::new();
    let store = suite.loaded(&event).await;
    let buyer = Uuid::new_v4();
    held(store.hold(event.id(), &HoldRequest::by(buyer).quantity(event.standing, 2).cap(2)).await.unwrap());
    let everything = HoldRequest::by(Uuid::new_v4()).quantity(event.balcony, 3);
    held(store.hold(event.id(), &everything).await.unwrap());
    assert_eq!(
        store.hold(event.id(), &HoldRequest::by(buyer).quantity(event.balcony, 1).cap(2)).await.unwrap(),
        HoldOutcome::SoldOut { category_id: event.balcony }
    );
    assert_eq!(
        store.hold(event.id(), &HoldRequest::by(buyer).quantity(event.standing, 1).cap(2)).await.unwrap(),
        HoldOutcome::LimitExceeded { live: 2 },
        "with units left, the cap answers"
    );
}

async fn the_per_user_cap_counts_live_units_and_a_release_gives_the_allowance_back(suite: &Suite) {
    let event = Event::new();
    let store = suite.loaded(&event).await;
    let buyer = Uuid::new_v4();
    let first = HoldRequest::by(buyer).quantity(event.standing, 2).seat(event.stall("A/1")).cap(4);
    held(store.hold(event.id(), &first).await.unwrap());

    let two_more = || HoldRequest::by(buyer).quantity(event.standing, 2).cap(4);
    assert_eq!(store.hold(event.id(), &two_more()).await.unwrap(), HoldOutcome::LimitExceeded { live: 3 });
    store.confirm(event.id(), first.booking_id).await.unwrap();
    assert_eq!(
        store.hold(event.id(), &two_more()).await.unwrap(),
        HoldOutcome::LimitExceeded { live: 3 },
        "sold units count too"
    );
    held(
        store
            .hold(event.id(), &HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 2).cap(4))
            .await
            .unwrap(),
    );
    held(store.hold(event.id(), &HoldRequest::by(buyer).quantity(event.standing, 1).cap(4)).await.unwrap());
    assert_eq!(
        store.hold(event.id(), &HoldRequest::by(buyer).quantity(event.standing, 1).cap(4)).await.unwrap(),
        HoldOutcome::LimitExceeded { live: 4 }
    );

    store.release(event.id(), first.booking_id).await.unwrap();
    assert_eq!(held(store.hold(event.id(), &two_more()).await.unwrap()).len(), 2);
    assert_eq!(store.hold(event.id(), &two_more()).await.unwrap(), HoldOutcome::LimitExceeded { live: 3 });
}

async fn a_repeated_booking_id_answers_already_held_and_changes_nothing(suite: &Suite) {
    let event = Event::new();
    let store = suite.loaded(&event).await;
    let request = HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 2).seat(event.stall("B/2"));
    let units = held(store.hold(event.id(), &request).await.unwrap());
    let after_the_hold = availability(&store, &event).await;

    assert_eq!(store.hold(event.id(), &request).await.unwrap(), HoldOutcome::AlreadyHeld(units.clone()));
    let different_request_same_id =
        HoldRequest { booking_id: request.booking_id, ..HoldRequest::by(Uuid::new_v4()) }
            .quantity(event.balcony, 3);
    assert_eq!(
        store.hold(event.id(), &different_request_same_id).await.unwrap(),
        HoldOutcome::AlreadyHeld(units.clone())
    );
    assert_eq!(availability(&store, &event).await, after_the_hold);

    store.confirm(event.id(), request.booking_id).await.unwrap();
    assert_eq!(store.hold(event.id(), &request).await.unwrap(), HoldOutcome::AlreadyHeld(units));

    store.release(event.id(), request.booking_id).await.unwrap();
    assert!(
        matches!(store.hold(event.id(), &request).await.unwrap(), HoldOutcome::Held(_)),
        "a released booking is forgotten"
    );
}

async fn confirming_turns_held_units_into_sold_ones_once(suite: &Suite) {
    let event = Event::new();
    let store = suite.loaded(&event).await;
    let request = HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 3).seat(event.stall("A/3"));
    held(store.hold(event.id(), &request).await.unwrap());

    for _ in 0..2 {
        store.confirm(event.id(), request.booking_id).await.unwrap();
        let after = availability(&store, &event).await;
        assert_eq!(counts(&after, event.standing), Counts { capacity: STANDING_CAPACITY, held: 0, sold: 3 });
        assert_eq!(counts(&after, event.stalls), Counts { capacity: 8, held: 0, sold: 1 });
        assert_eq!(seat_state(&after, "Stalls/A/3"), Some(UnitState::Sold));
    }
    let before = availability(&store, &event).await;
    store.confirm(event.id(), Uuid::new_v4()).await.unwrap();
    assert_eq!(
        availability(&store, &event).await,
        before,
        "confirming a booking without a hold does nothing"
    );
}

async fn releasing_returns_held_and_sold_units_to_sale_once(suite: &Suite) {
    let event = Event::new();
    let store = suite.loaded(&event).await;
    let pending = HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 2).seat(event.stall("A/1"));
    let pending_units = held(store.hold(event.id(), &pending).await.unwrap());
    let confirmed =
        HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 1).seat(event.balcony_seat("A/1"));
    held(store.hold(event.id(), &confirmed).await.unwrap());
    store.confirm(event.id(), confirmed.booking_id).await.unwrap();

    for _ in 0..2 {
        store.release(event.id(), pending.booking_id).await.unwrap();
        let after = availability(&store, &event).await;
        assert_eq!(counts(&after, event.standing), Counts { capacity: STANDING_CAPACITY, held: 0, sold: 1 });
        assert_eq!(seat_state(&after, "Stalls/A/1"), None);
    }
    for _ in 0..2 {
        store.release(event.id(), confirmed.booking_id).await.unwrap();
        let after = availability(&store, &event).await;
        assert_eq!(counts(&after, event.standing), Counts { capacity: STANDING_CAPACITY, held: 0, sold: 0 });
        assert_eq!(counts(&after, event.balcony), Counts { capacity: 3, held: 0, sold: 0 });
        assert_eq!(seat_state(&after, "Balcony/A/1"), None);
    }
    store.release(event.id(), Uuid::new_v4()).await.unwrap();

    // Released units are sold again: the seat at once, general admission after the units never
    // held (they go back to the end of the line).
    assert_eq!(
        held(
            store.hold(event.id(), &HoldRequest::by(Uuid::new_v4()).seat(event.stall("A/1"))).await.unwrap()
        ),
        [event.stall("A/1")]
    );
    let rest = held(
        store
            .hold(event.id(), &HoldRequest::by(Uuid::new_v4()).quantity(event.standing, STANDING_CAPACITY))
            .await
            .unwrap(),
    );
    assert_eq!(rest.len() as u32, STANDING_CAPACITY);
    assert_eq!(rest[..7], (4..=10).map(|n| event.unit(n)).collect::<Vec<_>>());
    assert!(pending_units
        .iter()
        .filter(|(category, _)| *category == event.standing)
        .all(|unit| rest.contains(unit)));
}

async fn handing_over_gives_units_to_new_holds_and_only_the_rest_returns_to_sale(suite: &Suite) {
    let event = Event::new();
    let store = suite.loaded(&event).await;
    let (buyer, first, second) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    // A sale of 3 standing units and 2 stalls seats, refunded: 2 + 1 seat go to two offers.
    let sale =
        HoldRequest::by(buyer).quantity(event.standing, 3).seat(event.stall("A/1")).seat(event.stall("A/2"));
    let units = held(store.hold(event.id(), &sale).await.unwrap());
    store.confirm(event.id(), sale.booking_id).await.unwrap();
    let rest = HoldRequest::by(Uuid::new_v4()).quantity(event.standing, STANDING_CAPACITY - 3);
    held(store.hold(event.id(), &rest).await.unwrap());
    let offers = [
        Handoff {
            booking_id: Uuid::new_v4(),
            user_id: first,
            units: vec![units[0].clone(), units[1].clone()],
        },
        Handoff { booking_id: Uuid::new_v4(), user_id: second, units: vec![event.stall("A/1")] },
    ];
    assert!(store.hand_over(event.id(), sale.booking_id, &offers).await.unwrap());
    let after = availability(&store, &event).await;
    // Units 1 and 2 are held by the first offer; unit 3 returned to sale and was taken by no one.
    assert_eq!(counts(&after, event.standing), Counts { capacity: STANDING_CAPACITY, held: 9, sold: 0 });
    assert_eq!(counts(&after, event.stalls), Counts { capacity: 8, held: 1, sold: 0 });
    assert_eq!(seat_state(&after, "Stalls/A/1"), Some(UnitState::Held));
    assert_eq!(seat_state(&after, "Stalls/A/2"), None);
    // The handed seat is not for sale; the other is.
    let taken = HoldRequest::by(Uuid::new_v4()).seat(event.stall("A/1"));
    assert_eq!(
        store.hold(event.id(), &taken).await.unwrap(),
        HoldOutcome::SeatUnavailable { seat_id: "Stalls/A/1".to_owned() }
    );
    let last = HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 1);
    assert_eq!(held(store.hold(event.id(), &last).await.unwrap()), [units[2].clone()]);
    // The offers are bookings like any other: one is confirmed, the other released.
    store.confirm(event.id(), offers[0].booking_id).await.unwrap();
    store.release(event.id(), offers[1].booking_id).await.unwrap();
    let after = availability(&store, &event).await;
    assert_eq!(counts(&after, event.standing), Counts { capacity: STANDING_CAPACITY, held: 8, sold: 2 });
    assert_eq!(counts(&after, event.stalls), Counts { capacity: 8, held: 0, sold: 0 });
    // The buyers' allowances moved with the units: the first has 2 live units, the refunded
    // buyer none.
    let capped = HoldRequest::by(first).quantity(event.stalls, 1).cap(2);
    assert_eq!(store.hold(event.id(), &capped).await.unwrap(), HoldOutcome::LimitExceeded { live: 2 });
    let free_again = HoldRequest::by(buyer).quantity(event.stalls, 2).cap(2);
    held(store.hold(event.id(), &free_again).await.unwrap());
    // Handing over a booking that is gone changes nothing and says so.
    assert!(!store.hand_over(event.id(), sale.booking_id, &offers).await.unwrap());
}

async fn a_hand_over_that_names_foreign_units_or_an_unknown_booking_changes_nothing(suite: &Suite) {
    let event = Event::new();
    let store = suite.loaded(&event).await;
    let hold = HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 2);
    let units = held(store.hold(event.id(), &hold).await.unwrap());
    let other = HoldRequest::by(Uuid::new_v4()).seat(event.stall("B/1"));
    held(store.hold(event.id(), &other).await.unwrap());
    let before = availability(&store, &event).await;
    let offer =
        |units: Vec<(Uuid, String)>| Handoff { booking_id: Uuid::new_v4(), user_id: Uuid::new_v4(), units };
    for wrong in [
        vec![offer(vec![event.stall("B/1")])],
        vec![offer(vec![units[0].clone()]), offer(vec![units[0].clone()])],
        vec![Handoff {
            booking_id: other.booking_id,
            user_id: Uuid::new_v4(),
            units: vec![units[0].clone()],
        }],
    ] {
        assert!(store.hand_over(event.id(), hold.booking_id, &wrong).await.is_err(), "{wrong:?}");
        assert_eq!(availability(&store, &event).await, before);
    }
    assert!(!store.hand_over(event.id(), Uuid::new_v4(), &[offer(vec![units[0].clone()])]).await.unwrap());
    assert_eq!(availability(&store, &event).await, before);
    // Forgetting the event makes the next decision find it unloaded.
    store.forget(event.id()).await.unwrap();
    assert_eq!(store.availability(event.id()).await.unwrap(), None);
}

async fn an_event_that_is_not_loaded_refuses_decisions(suite: &Suite) {
    let event = Event::new();
    let store = suite.store().await;
    let request = HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 1);
    assert!(store.hold(event.id(), &request).await.is_err());
    assert!(store.confirm(event.id(), request.booking_id).await.is_err());
    assert!(store.release(event.id(), request.booking_id).await.is_err());
    assert_eq!(store.availability(event.id()).await.unwrap(), None);
    store.ping().await.unwrap();
}

async fn a_rebuild_from_the_snapshot_gives_the_same_inventory(suite: &Suite) {
    let event = Event::new();
    let store = suite.loaded(&event).await;
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let pending = HoldRequest::by(alice).quantity(event.standing, 2).quantity(event.stalls, 2).cap(6);
    let confirmed = HoldRequest::by(alice).quantity(event.standing, 1).seat(event.balcony_seat("A/3")).cap(6);
    let released = HoldRequest::by(bob).quantity(event.standing, 3).seat(event.stall("B/4"));
    let mut live = Vec::new();
    for (request, state) in
        [(&pending, UnitState::Held), (&confirmed, UnitState::Sold), (&released, UnitState::Held)]
    {
        for (category_id, unit_id) in held(store.hold(event.id(), request).await.unwrap()) {
            live.push(LiveUnit {
                category_id,
                unit_id,
                booking_id: request.booking_id,
                user_id: request.user_id,
                state,
            });
        }
    }
    store.confirm(event.id(), confirmed.booking_id).await.unwrap();
    store.release(event.id(), released.booking_id).await.unwrap();
    live.retain(|unit| unit.booking_id != released.booking_id);
    let before = availability(&store, &event).await;

    let rebuilt = suite.store().await;
    let snapshot = Snapshot { live, ..event.snapshot.clone() };
    rebuilt.ensure_loaded(event.id(), &source_of(snapshot)).await.unwrap();
    assert_eq!(availability(&rebuilt, &event).await, before);

    for store in [&store, &rebuilt] {
        assert_eq!(
            store.hold(event.id(), &pending).await.unwrap(),
            HoldOutcome::AlreadyHeld(vec![
                event.unit(1),
                event.unit(2),
                event.stall("A/1"),
                event.stall("A/2")
            ])
        );
        let one_more = HoldRequest::by(alice).quantity(event.standing, 1).cap(6);
        assert_eq!(store.hold(event.id(), &one_more).await.unwrap(), HoldOutcome::LimitExceeded { live: 6 });
        store.confirm(event.id(), pending.booking_id).await.unwrap();
        store.release(event.id(), confirmed.booking_id).await.unwrap();
    }
    assert_eq!(availability(&rebuilt, &event).await, availability(&store, &event).await);
    let after = availability(&rebuilt, &event).await;
    assert_eq!(counts(&after, event.standing), Counts { capacity: STANDING_CAPACITY, held: 0, sold: 2 });
    assert_eq!(seat_state(&after, "Stalls/A/2"), Some(UnitState::Sold));
    assert_eq!(seat_state(&after, "Balcony/A/3"), None);
}

async fn forgetting_every_inventory_drops_holds_the_database_never_recorded(suite: &Suite) {
    let event = Event::new();
    let store = suite.loaded(&event).await;
    // A hold the store made for a process that crashed before recording it.
    let orphan = HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 3);
    held(store.hold(event.id(), &orphan).await.unwrap());
    assert_eq!(counts(&availability(&store, &event).await, event.standing).held, 3);

    store.forget_all().await.unwrap();
    assert_eq!(store.availability(event.id()).await.unwrap(), None, "the event must be rebuilt");
    store.ensure_loaded(event.id(), &source_of(event.snapshot.clone())).await.unwrap();
    assert_eq!(counts(&availability(&store, &event).await, event.standing).held, 0);
}

async fn the_claims_of_holds_are_listed_with_their_age_until_a_rebuild_clears_them(suite: &Suite) {
    let event = Event::new();
    let store = suite.loaded(&event).await;
    let pending = HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 2).seat(event.stall("A/1"));
    let confirmed = HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 1);
    let pending_units = held(store.hold(event.id(), &pending).await.unwrap());
    held(store.hold(event.id(), &confirmed).await.unwrap());
    store.confirm(event.id(), confirmed.booking_id).await.unwrap();

    let claims = store.claims(event.id()).await.unwrap();
    assert_eq!(claims.len(), 1, "only held bookings are claims: {claims:?}");
    let claim = &claims[0];
    assert_eq!((claim.booking_id, claim.user_id), (pending.booking_id, pending.user_id));
    assert_eq!(claim.units, pending_units);
    assert!(claim.age.is_some_and(|age| age < std::time::Duration::from_secs(60)), "{claim:?}");

    // Marked for a rebuild, the store still tells what it held; the rebuild clears it.
    store.forget_all().await.unwrap();
    let kept: Vec<_> = store
        .claims(event.id())
        .await
        .unwrap()
        .into_iter()
        .map(|claim| (claim.booking_id, claim.units))
        .collect();
    assert_eq!(kept, vec![(pending.booking_id, pending_units.clone())]);
    store.ensure_loaded(event.id(), &source_of(event.snapshot.clone())).await.unwrap();
    assert_eq!(store.claims(event.id()).await.unwrap(), vec![]);
    assert_eq!(
        suite.store().await.claims(Event::new().id()).await.unwrap(),
        vec![],
        "an unknown event has none"
    );
}

async fn concurrent_loaders_take_the_snapshot_once(suite: &Suite) {
    const HANDLES: usize = 4;
    const CALLERS_PER_HANDLE: usize = 8;
    let event = Event::new();
    let snapshots_taken = Arc::new(AtomicUsize::new(0));
    let mut callers = tokio::task::JoinSet::new();
    for store in suite.stores_sharing_one_inventory(HANDLES).await {
        for _ in 0..CALLERS_PER_HANDLE {
            let (store, event, snapshots_taken) = (store.clone(), event.clone(), snapshots_taken.clone());
            let event_id = event.id();
            callers.spawn(async move {
                let source = move || -> BoxFuture<'static, Result<Snapshot>> {
                    let (snapshot, snapshots_taken) = (event.snapshot.clone(), snapshots_taken.clone());
                    Box::pin(async move {
                        snapshots_taken.fetch_add(1, Ordering::SeqCst);
                        // A slow database, so that every caller arrives while the load runs.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        Ok(snapshot)
                    })
                };
                store.ensure_loaded(event_id, &source).await.unwrap();
                store.availability(event_id).await.unwrap().is_some()
            });
        }
    }
    while let Some(loaded) = callers.join_next().await {
        assert!(loaded.unwrap(), "every caller returns once the event is loaded");
    }
    assert_eq!(snapshots_taken.load(Ordering::SeqCst), 1);
}

async fn a_failed_or_inconsistent_load_leaves_the_event_unloaded(suite: &Suite) {
    let event = Event::new();
    let store = suite.store().await;
    let failing = || -> BoxFuture<'static, Result<Snapshot>> {
        Box::pin(async { Err(anyhow::anyhow!("the database is unreachable")) })
    };
    assert!(store.ensure_loaded(event.id(), &failing).await.is_err());
    assert_eq!(store.availability(event.id()).await.unwrap(), None);

    let unit_live_twice = |booking_id| LiveUnit {
        category_id: event.stalls,
        unit_id: "Stalls/A/1".to_owned(),
        booking_id,
        user_id: Uuid::new_v4(),
        state: UnitState::Held,
    };
    let inconsistent = [
        vec![unit_live_twice(Uuid::new_v4()), unit_live_twice(Uuid::new_v4())],
        vec![LiveUnit { unit_id: "Balcony/A/1".to_owned(), ..unit_live_twice(Uuid::new_v4()) }],
        vec![LiveUnit {
            category_id: event.standing,
            unit_id: general_admission_unit(event.standing, STANDING_CAPACITY + 1),
            ..unit_live_twice(Uuid::new_v4())
        }],
    ];
    for live in inconsistent {
        let snapshot = Snapshot { live: live.clone(), ..event.snapshot.clone() };
        assert!(store.ensure_loaded(event.id(), &source_of(snapshot)).await.is_err(), "{live:?} is refused");
        assert_eq!(store.availability(event.id()).await.unwrap(), None);
    }
    let of_another_event = Snapshot { event_id: Uuid::new_v4(), ..event.snapshot.clone() };
    assert!(store.ensure_loaded(event.id(), &source_of(of_another_event)).await.is_err());

    store.ensure_loaded(event.id(), &source_of(event.snapshot.clone())).await.unwrap();
    assert!(store.availability(event.id()).await.unwrap().is_some(), "the next caller loads");
}

async fn large_categories_load_in_full(suite: &Suite) {
    // Larger than a load chunk, so that Redis receives them in several.
    const CAPACITY: u32 = 25_000;
    const ROWS: u32 = 60;
    const SEATS_PER_ROW: u32 = 200;
    let (standing, stalls) = (Uuid::new_v4(), Uuid::new_v4());
    let rows: Vec<(String, u32)> = (1..=ROWS).map(|row| (format!("R{row}"), SEATS_PER_ROW)).collect();
    let rows: Vec<(&str, u32)> = rows.iter().map(|(row, seats)| (row.as_str(), *seats)).collect();
    let (booking_id, user_id) = (Uuid::new_v4(), Uuid::new_v4());
    let sold = |category_id, unit_id: String| LiveUnit {
        category_id,
        unit_id,
        booking_id,
        user_id,
        state: UnitState::Sold,
    };
    let snapshot = Snapshot {
        event_id: Uuid::new_v4(),
        categories: vec![
            CategorySpec {
                category_id: standing,
                units: CategoryUnits::GeneralAdmission { capacity: CAPACITY },
            },
            CategorySpec {
                category_id: stalls,
                units: CategoryUnits::Seated { seat_ids: seat_ids("Stalls", &rows) },
            },
        ],
        live: vec![
            sold(standing, general_admission_unit(standing, 1)),
            sold(standing, general_admission_unit(standing, CAPACITY)),
            sold(stalls, "Stalls/R60/200".to_owned()),
        ],
    };
    let event = Event { snapshot, standing, stalls, balcony: Uuid::nil() };
    let store = suite.loaded(&event).await;

    let loaded = availability(&store, &event).await;
    assert_eq!(counts(&loaded, standing), Counts { capacity: CAPACITY, held: 0, sold: 2 });
    assert_eq!(counts(&loaded, stalls), Counts { capacity: ROWS * SEATS_PER_ROW, held: 0, sold: 1 });
    assert_eq!(loaded.seats.len() as u32, ROWS * SEATS_PER_ROW);
    assert_eq!(loaded.seats.last().unwrap(), &("Stalls/R60/200".to_owned(), stalls, Some(UnitState::Sold)));
    assert_eq!(
        held(store.hold(event.id(), &HoldRequest::by(Uuid::new_v4()).quantity(standing, 2)).await.unwrap()),
        [(standing, general_admission_unit(standing, 2)), (standing, general_admission_unit(standing, 3))]
    );
    let everything_else = HoldRequest::by(Uuid::new_v4()).quantity(standing, CAPACITY - 4).cap(CAPACITY);
    assert_eq!(held(store.hold(event.id(), &everything_else).await.unwrap()).len() as u32, CAPACITY - 4);
    assert_eq!(counts(&availability(&store, &event).await, standing).available(), 0);
}

async fn five_hundred_buyers_of_a_hundred_units_get_exactly_a_hundred(suite: &Suite) {
    const CAPACITY: u32 = 100;
    const BUYERS: usize = 500;
    let mut event = Event::new();
    event.snapshot.categories[0].units = CategoryUnits::GeneralAdmission { capacity: CAPACITY };
    let store = suite.loaded(&event).await;

    let mut buyers = tokio::task::JoinSet::new();
    for _ in 0..BUYERS {
        let (store, event_id, standing) = (store.clone(), event.id(), event.standing);
        buyers.spawn(async move {
            store.hold(event_id, &HoldRequest::by(Uuid::new_v4()).quantity(standing, 1)).await.unwrap()
        });
    }
    let mut units = HashSet::new();
    let mut sold_out = 0;
    while let Some(outcome) = buyers.join_next().await {
        match outcome.unwrap() {
            HoldOutcome::Held(held) => units.extend(held),
            HoldOutcome::SoldOut { category_id } if category_id == event.standing => sold_out += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(units.len(), CAPACITY as usize, "a hundred distinct units are held");
    assert_eq!(sold_out, BUYERS - CAPACITY as usize);
    assert_eq!(
        counts(&availability(&store, &event).await, event.standing),
        Counts { capacity: CAPACITY, held: CAPACITY, sold: 0 }
    );
}

async fn two_hundred_buyers_of_one_seat_get_it_once(suite: &Suite) {
    const BUYERS: usize = 200;
    let event = Event::new();
    let store = suite.loaded(&event).await;
    let mut buyers = tokio::task::JoinSet::new();
    for _ in 0..BUYERS {
        let (store, event_id, seat) = (store.clone(), event.id(), event.stall("B/3"));
        buyers.spawn(async move {
            store.hold(event_id, &HoldRequest::by(Uuid::new_v4()).seat(seat)).await.unwrap()
        });
    }
    let mut outcomes = HashMap::new();
    while let Some(outcome) = buyers.join_next().await {
        let kind = match outcome.unwrap() {
            HoldOutcome::Held(units) => {
                assert_eq!(units, [event.stall("B/3")]);
                "held"
            }
            HoldOutcome::SeatUnavailable { seat_id } if seat_id == "Stalls/B/3" => "unavailable",
            other => panic!("unexpected {other:?}"),
        };
        *outcomes.entry(kind).or_insert(0) += 1;
    }
    assert_eq!(outcomes, HashMap::from([("held", 1), ("unavailable", BUYERS - 1)]));
    assert_eq!(counts(&availability(&store, &event).await, event.stalls).held, 1);
}

/// A loader that died leaves its lock (until it expires) and half of its writes; the next load
/// waits for the lock and then replaces the leftovers. Redis only: the memory store has no
/// other process to die.
#[tokio::test]
async fn a_dead_loaders_lock_and_leftovers_do_not_stop_the_next_load_on_redis() {
    let suite = Suite::new(Backend::Redis);
    let event = Event::new();
    let store = suite.store().await;
    let prefix = suite.prefixes.lock().unwrap()[0].clone();
    let base = format!("{prefix}inventory:{{{}}}:", event.id());
    let client = ::redis::Client::open(redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = ::redis::cmd("SET")
        .arg(format!("{base}loading"))
        .arg("a loader that died")
        .arg("PX")
        .arg(300)
        .query_async(&mut connection)
        .await
        .unwrap();
    let _: () =
        connection.rpush(format!("{base}free:{}", event.standing), vec!["1", "1", "1"]).await.unwrap();
    let _: () = connection.rpush(format!("{base}categories"), event.standing.to_string()).await.unwrap();

    let started = std::time::Instant::now();
    store.ensure_loaded(event.id(), &source_of(event.snapshot.clone())).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(250), "the load waits for the lock to expire");
    let everything = HoldRequest::by(Uuid::new_v4()).quantity(event.standing, STANDING_CAPACITY);
    let units = held(store.hold(event.id(), &everything).await.unwrap());
    assert_eq!(units, (1..=STANDING_CAPACITY).map(|n| event.unit(n)).collect::<Vec<_>>());
    assert_eq!(
        store.hold(event.id(), &HoldRequest::by(Uuid::new_v4()).quantity(event.standing, 1)).await.unwrap(),
        HoldOutcome::SoldOut { category_id: event.standing },
        "the dead loader's units are gone"
    );
    suite.clean_up().await;
}

// ---- Properties ----

/// The fixture's ids are fixed, so that both stores see identical requests.
const PROPERTY_BOOKINGS: u128 = 6;
const PROPERTY_USERS: u128 = 3;
/// Small enough that sequences often sell out and hit the cap.
const PROPERTY_CAP: u32 = 5;

#[derive(Clone, Debug)]
enum Operation {
    Hold { booking: u128, user: u128, standing: u32, stalls: u32, seat: Option<usize> },
    Confirm { booking: u128 },
    Release { booking: u128 },
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        3 => (0..PROPERTY_BOOKINGS, 0..PROPERTY_USERS, 0..4u32, 0..4u32, proptest::option::of(0..11usize))
            .prop_map(|(booking, user, standing, stalls, seat)| Operation::Hold { booking, user, standing, stalls, seat }),
        1 => (0..PROPERTY_BOOKINGS).prop_map(|booking| Operation::Confirm { booking }),
        1 => (0..PROPERTY_BOOKINGS).prop_map(|booking| Operation::Release { booking }),
    ]
}

fn property_event() -> Event {
    let mut event = Event::new();
    event.snapshot.event_id = Uuid::from_u128(1);
    for (category, id) in event.snapshot.categories.iter_mut().zip(10u128..) {
        category.category_id = Uuid::from_u128(id);
    }
    (event.standing, event.stalls, event.balcony) =
        (Uuid::from_u128(10), Uuid::from_u128(11), Uuid::from_u128(12));
    event
}

/// A live booking as the store's answers describe it.
struct ModelBooking {
    user_id: Uuid,
    state: UnitState,
    units: Vec<(Uuid, String)>,
}

/// Runs `operations` and checks after each one that every category adds up, that the seat
/// states agree with the counts, that no unit is in two bookings and that no user is above the
/// cap. Returns every answer and availability, to compare stores by.
async fn run_checked(store: Arc<dyn InventoryStore>, event: &Event, operations: &[Operation]) -> Vec<String> {
    store.ensure_loaded(event.id(), &source_of(event.snapshot.clone())).await.unwrap();
    let all_seats: Vec<(Uuid, String)> = event
        .snapshot
        .categories
        .iter()
        .flat_map(|category| match &category.units {
            CategoryUnits::Seated { seat_ids } => {
                seat_ids.iter().map(|seat| (category.category_id, seat.clone())).collect()
            }
            CategoryUnits::GeneralAdmission { .. } => Vec::new(),
        })
        .collect();
    // The model: the live bookings as the answers describe them.
    let mut bookings: HashMap<u128, ModelBooking> = HashMap::new();
    let mut log = Vec::new();
    for operation in operations {
        let answer = match *operation {
            Operation::Hold { booking, user, standing, stalls, seat } => {
                let mut request = HoldRequest {
                    booking_id: Uuid::from_u128(100 + booking),
                    user_id: Uuid::from_u128(200 + user),
                    per_user_cap: PROPERTY_CAP,
                    ..Default::default()
                }
                .quantity(event.standing, standing)
                .quantity(event.stalls, stalls);
                if let Some(seat) = seat {
                    request = request.seat(all_seats[seat].clone());
                }
                let outcome = store.hold(event.id(), &request).await.unwrap();
                match &outcome {
                    HoldOutcome::Held(units) if !units.is_empty() => {
                        let live: HashSet<&(Uuid, String)> =
                            bookings.values().flat_map(|booking| &booking.units).collect();
                        assert!(
                            units.iter().all(|unit| !live.contains(unit)),
                            "a unit is held by two bookings"
                        );
                        assert!(!bookings.contains_key(&booking));
                        let user_id = request.user_id;
                        bookings.insert(
                            booking,
                            ModelBooking { user_id, state: UnitState::Held, units: units.clone() },
                        );
                    }
                    HoldOutcome::AlreadyHeld(units) => assert_eq!(units, &bookings[&booking].units),
                    _ => {}
                }
                format!("{operation:?} → {outcome:?}")
            }
            Operation::Confirm { booking } => {
                store.confirm(event.id(), Uuid::from_u128(100 + booking)).await.unwrap();
                if let Some(booking) = bookings.get_mut(&booking) {
                    booking.state = UnitState::Sold;
                }
                format!("{operation:?}")
            }
            Operation::Release { booking } => {
                store.release(event.id(), Uuid::from_u128(100 + booking)).await.unwrap();
                bookings.remove(&booking);
                format!("{operation:?}")
            }
        };

        let availability = availability(&store, event).await;
        for category in &event.snapshot.categories {
            let id = category.category_id;
            let capacity = match &category.units {
                CategoryUnits::GeneralAdmission { capacity } => *capacity,
                CategoryUnits::Seated { seat_ids } => seat_ids.len() as u32,
            };
            let units_in = |wanted: UnitState| {
                bookings
                    .values()
                    .filter(|booking| booking.state == wanted)
                    .flat_map(|booking| &booking.units)
                    .filter(|(category_id, _)| *category_id == id)
                    .count() as u32
            };
            let counts = counts(&availability, id);
            assert_eq!(counts.capacity, capacity);
            assert!(counts.held + counts.sold <= capacity);
            assert_eq!(counts.held + counts.sold + counts.available(), capacity);
            assert_eq!((counts.held, counts.sold), (units_in(UnitState::Held), units_in(UnitState::Sold)));
            if let CategoryUnits::Seated { .. } = category.units {
                let seats_in = |wanted: Option<UnitState>| {
                    availability
                        .seats
                        .iter()
                        .filter(|(_, category_id, state)| *category_id == id && *state == wanted)
                        .count() as u32
                };
                assert_eq!(seats_in(None), counts.available());
                assert_eq!(seats_in(Some(UnitState::Held)), counts.held);
                assert_eq!(seats_in(Some(UnitState::Sold)), counts.sold);
            }
        }
        for (seat_id, category_id, state) in &availability.seats {
            let owner =
                bookings.values().find(|booking| booking.units.contains(&(*category_id, seat_id.clone())));
            assert_eq!(*state, owner.map(|booking| booking.state), "the state of {seat_id}");
        }
        let mut live_by_user: HashMap<Uuid, usize> = HashMap::new();
        for booking in bookings.values() {
            *live_by_user.entry(booking.user_id).or_default() += booking.units.len();
        }
        assert!(live_by_user.values().all(|&live| live <= PROPERTY_CAP as usize), "a user is above the cap");
        log.push(format!("{answer} / {availability:?}"));
    }
    log
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

proptest! {
    #[test]
    fn random_operations_keep_the_memory_inventory_consistent(
        operations in proptest::collection::vec(operation(), 1..40)
    ) {
        block_on(run_checked(Arc::new(MemoryInventory::new()), &property_event(), &operations));
    }
}

proptest! {
    // Each case costs a few hundred Redis round trips.
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_operations_get_the_same_answers_from_both_stores(
        operations in proptest::collection::vec(operation(), 1..30)
    ) {
        block_on(async {
            let event = property_event();
            let memory = run_checked(Suite::new(Backend::Memory).store().await, &event, &operations).await;
            let suite = Suite::new(Backend::Redis);
            let redis = run_checked(suite.store().await, &event, &operations).await;
            suite.clean_up().await;
            assert_eq!(memory, redis);
        });
    }
}
