//! The bookings service without a running events service: `Bookings` built on a fake
//! [`EventCatalog`], the in-memory inventory and a temporary SQLite database, driven through
//! its public methods as `grpc.rs` drives it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use boxoffice_bookings::catalog::{EventCatalog, EventUnits, SaleCategory, SaleEvent};
use boxoffice_bookings::domain::{BookingStatus, HoldTtl, NewBooking, HOLD_TTL, IDEMPOTENCY_LEASE};
use boxoffice_bookings::inventory::{CategorySpec, CategoryUnits, MemoryInventory, RedisInventory};
use boxoffice_bookings::payments::{TestPaymentProvider, APPROVED_TOKEN};
use boxoffice_bookings::sold_out::SOLD_OUT_MEMO_TTL;
use boxoffice_bookings::tickets::TicketSigner;
use boxoffice_bookings::{open_db, Bookings, Clock, Database};
use boxoffice_errors::{Code, Error};
use boxoffice_types::limits::PageSize;
use boxoffice_types::{Caller, CategoryKind, EventStatus, Role};
use chrono::Utc;
use uuid::Uuid;

const CAPACITY: u32 = 10;
const PRICE_CENTS: i64 = 2_500;
const MAX_TICKETS_PER_BOOKING: u32 = 8;

/// One published event with one general-admission category, as the events service would
/// describe it; counts how often it is asked and how often for the units.
struct FakeCatalog {
    event_id: Uuid,
    organizer_id: Uuid,
    category_id: Uuid,
    asked: AtomicUsize,
    units_asked: AtomicUsize,
    /// How long an answer takes, as a remote service's would.
    latency_ms: AtomicU64,
}

impl FakeCatalog {
    fn new() -> Self {
        FakeCatalog {
            event_id: Uuid::now_v7(),
            organizer_id: Uuid::now_v7(),
            category_id: Uuid::now_v7(),
            asked: AtomicUsize::new(0),
            units_asked: AtomicUsize::new(0),
            latency_ms: AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl EventCatalog for FakeCatalog {
    async fn event(&self, event_id: Uuid, known_units: Option<Arc<EventUnits>>) -> Result<SaleEvent, Error> {
        if event_id != self.event_id {
            return Err(Error::not_found("event"));
        }
        self.asked.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(self.latency_ms.load(Ordering::SeqCst))).await;
        let units = known_units.unwrap_or_else(|| {
            self.units_asked.fetch_add(1, Ordering::SeqCst);
            let units = CategoryUnits::GeneralAdmission { capacity: CAPACITY };
            Arc::new(EventUnits::new(vec![CategorySpec { category_id: self.category_id, units }]))
        });
        let now = Utc::now();
        Ok(SaleEvent {
            id: self.event_id,
            organizer_id: self.organizer_id,
            status: EventStatus::Published,
            starts_at: now + chrono::Duration::days(30),
            ends_at: now + chrono::Duration::days(31),
            sale_starts_at: None,
            max_tickets_per_booking: MAX_TICKETS_PER_BOOKING,
            waiting_list_offer: None,
            static_codes: true,
            categories: vec![SaleCategory {
                id: self.category_id,
                price_cents: PRICE_CENTS,
                currency: "EUR".to_owned(),
                kind: CategoryKind::GeneralAdmission,
            }],
            units,
        })
    }

    async fn is_door_staff(&self, _event_id: Uuid, _user_id: Uuid) -> Result<bool, Error> {
        Ok(false)
    }
}

/// A `Bookings` of its own, with the database file deleted at the end.
struct Service {
    bookings: Bookings,
    catalog: Arc<FakeCatalog>,
    path: PathBuf,
}

impl Service {
    async fn start() -> Self {
        let path = std::env::temp_dir().join(format!("boxoffice-bookings-test-{}.db", Uuid::now_v7()));
        let db = open_db(&Database::Sqlite { path: path.clone(), max_connections: 4 }).await.unwrap();
        let catalog = Arc::new(FakeCatalog::new());
        let bookings = Bookings::new(
            db,
            Arc::new(MemoryInventory::new()),
            catalog.clone(),
            Arc::new(TestPaymentProvider::new()),
            TicketSigner::new(&[7; 32]).unwrap(),
            Clock::system(),
            HoldTtl::default(),
        );
        Service { bookings, catalog, path }
    }

    fn request(&self, quantity: u32) -> NewBooking {
        NewBooking {
            event_id: self.catalog.event_id,
            items: vec![(self.catalog.category_id.to_string(), quantity)],
            ..NewBooking::default()
        }
    }

    /// (available, held, sold) of the category.
    async fn counts(&self) -> (u32, u32, u32) {
        let (_, availability) = self.bookings.availability(None, self.catalog.event_id).await.unwrap();
        let (_, counts) = availability.categories[0];
        (counts.available(), counts.held, counts.sold)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

fn buyer() -> Caller {
    Caller::new(Uuid::now_v7(), Role::Customer)
}

#[tokio::test]
async fn a_hold_then_a_confirmation_issues_one_ticket_per_unit() {
    let service = Service::start().await;
    let buyer = buyer();
    let held = service.bookings.create_booking(buyer, service.request(3)).await.unwrap();
    assert_eq!(held.status, BookingStatus::Pending);
    assert_eq!(held.total_cents, 3 * PRICE_CENTS);
    assert_eq!(held.currency, "EUR");
    assert_eq!(service.counts().await, (CAPACITY - 3, 3, 0));

    let confirmed = service.bookings.confirm(buyer, held.id, APPROVED_TOKEN).await.unwrap();
    assert_eq!(confirmed.status, BookingStatus::Confirmed);
    assert_eq!(confirmed.tickets.len(), 3);
    assert!(confirmed
        .tickets
        .iter()
        .all(|ticket| ticket.price_cents == PRICE_CENTS && ticket.seat.is_none()));
    assert_eq!(service.counts().await, (CAPACITY - 3, 0, 3));
    let qr = service.bookings.ticket_qr(buyer, confirmed.tickets[0].id, false).await.unwrap();
    assert!(qr.starts_with(b"\x89PNG"), "a PNG image");
}

#[tokio::test]
async fn a_hold_of_more_than_is_left_is_sold_out_and_holds_nothing() {
    let service = Service::start().await;
    service.bookings.create_booking(buyer(), service.request(CAPACITY - 2)).await.unwrap();

    let late = buyer();
    for _ in 0..2 {
        // The second refusal comes from the sold-out memo; both must say the same.
        let refused = service.bookings.create_booking(late, service.request(3)).await.unwrap_err();
        assert_eq!(refused.code, Code::SoldOut, "{}", refused.detail);
    }
    assert_eq!(service.counts().await, (2, CAPACITY - 2, 0));
    let (mine, _) = service.bookings.list(late, PageSize::parse(None).unwrap(), None).await.unwrap();
    assert!(mine.is_empty(), "a refused hold records no booking");
    let rest = service.bookings.create_booking(late, service.request(2)).await.unwrap();
    assert_eq!(rest.items[0].quantity, 2, "what is left can still be had");
}

#[tokio::test]
async fn an_expired_hold_cannot_be_confirmed_and_its_units_return() {
    let service = Service::start().await;
    let buyer = buyer();
    let held = service.bookings.create_booking(buyer, service.request(4)).await.unwrap();
    service.bookings.clock().advance(HOLD_TTL + Duration::from_secs(1));

    let refused = service.bookings.confirm(buyer, held.id, APPROVED_TOKEN).await.unwrap_err();
    assert_eq!(refused.code, Code::HoldExpired, "{}", refused.detail);
    let booking = service.bookings.booking(buyer, held.id).await.unwrap();
    assert_eq!(booking.status, BookingStatus::Expired);
    assert!(booking.tickets.is_empty());
    assert_eq!(service.counts().await, (CAPACITY, 0, 0));
    let again = service.bookings.confirm(buyer, held.id, APPROVED_TOKEN).await.unwrap_err();
    assert_eq!(again.code, Code::HoldExpired);
}

#[tokio::test]
async fn every_release_is_told_to_whoever_listens_in_the_process() {
    let service = Service::start().await;
    let told = Arc::new(std::sync::Mutex::new(Vec::new()));
    let heard = told.clone();
    service.bookings.tell_releases_to(Box::new(move |event_id| heard.lock().unwrap().push(event_id)));
    let (first, second) = (buyer(), buyer());
    let cancelled = service.bookings.create_booking(first, service.request(2)).await.unwrap();
    service.bookings.create_booking(second, service.request(2)).await.unwrap();
    assert!(told.lock().unwrap().is_empty(), "a hold releases nothing");
    service.bookings.cancel(first, cancelled.id).await.unwrap();
    assert_eq!(*told.lock().unwrap(), vec![service.catalog.event_id]);
    service.bookings.clock().advance(HOLD_TTL);
    assert_eq!(service.bookings.expire_due().await.unwrap(), 1);
    assert_eq!(*told.lock().unwrap(), vec![service.catalog.event_id; 2], "an expired hold too");
}

#[tokio::test]
async fn the_expirer_releases_due_holds_once() {
    let service = Service::start().await;
    service.bookings.create_booking(buyer(), service.request(2)).await.unwrap();
    assert_eq!(service.bookings.expire_due().await.unwrap(), 0, "nothing is due yet");
    service.bookings.clock().advance(HOLD_TTL);
    assert_eq!(service.bookings.expire_due().await.unwrap(), 1);
    assert_eq!(service.bookings.expire_due().await.unwrap(), 0);
    assert_eq!(service.counts().await, (CAPACITY, 0, 0));
}

#[tokio::test]
async fn a_refunded_ticket_has_no_qr_image_and_does_not_check_in() {
    let service = Service::start().await;
    let buyer = buyer();
    let held = service.bookings.create_booking(buyer, service.request(1)).await.unwrap();
    let confirmed = service.bookings.confirm(buyer, held.id, APPROVED_TOKEN).await.unwrap();
    let refunded = service.bookings.cancel(buyer, held.id).await.unwrap();
    assert_eq!(refunded.status, BookingStatus::Refunded);
    assert_eq!(service.counts().await, (CAPACITY, 0, 0));

    let ticket = &confirmed.tickets[0];
    let qr = service.bookings.ticket_qr(buyer, ticket.id, false).await.unwrap_err();
    assert_eq!(qr.code, Code::TicketRefunded, "{}", qr.detail);
    let organizer = Caller::new(service.catalog.organizer_id, Role::Organizer);
    let at_the_door = service.bookings.check_in(organizer, &ticket.code, None).await.unwrap_err();
    assert_eq!(at_the_door.code, Code::Conflict);
}

#[tokio::test]
async fn the_catalog_is_asked_once_a_second_and_the_units_once() {
    let service = Service::start().await;
    for _ in 0..5 {
        service.bookings.create_booking(buyer(), service.request(1)).await.unwrap();
    }
    assert_eq!(service.catalog.asked.load(Ordering::SeqCst), 1, "holds read the cached event");
    let held = service.bookings.create_booking(buyer(), service.request(1)).await.unwrap();
    // A confirmation asks afresh, but not for the units of a published event.
    let owner = Caller::new(held.user_id, Role::Customer);
    service.bookings.confirm(owner, held.id, APPROVED_TOKEN).await.unwrap();
    assert_eq!(service.catalog.asked.load(Ordering::SeqCst), 2);
    assert_eq!(service.catalog.units_asked.load(Ordering::SeqCst), 1);
    let unknown = service.bookings.availability(None, Uuid::now_v7()).await.unwrap_err();
    assert_eq!(unknown.code, Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_that_miss_the_cache_together_share_one_question_to_the_catalog() {
    let service = Arc::new(Service::start().await);
    service.catalog.latency_ms.store(50, Ordering::SeqCst);
    let rush = || {
        let holds: Vec<_> = (0..100)
            .map(|_| {
                let service = service.clone();
                // Sold out or held, either way each hold reads the event.
                tokio::spawn(
                    async move { service.bookings.create_booking(buyer(), service.request(1)).await },
                )
            })
            .collect();
        futures::future::join_all(holds)
    };
    rush().await;
    assert_eq!(service.catalog.asked.load(Ordering::SeqCst), 1, "one fetch for the whole rush");
    // Once the answer is older than it may be, the next rush asks once more.
    tokio::time::sleep(boxoffice_bookings::domain::EVENT_INFO_TTL + Duration::from_millis(50)).await;
    rush().await;
    assert_eq!(service.catalog.asked.load(Ordering::SeqCst), 2);
    assert_eq!(service.catalog.units_asked.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_hold_on_an_event_cancelled_a_moment_ago_is_refused_though_the_catalog_still_sells_it() {
    let service = Service::start().await;
    let first = service.bookings.create_booking(buyer(), service.request(2)).await.unwrap();
    // The cancellation saga has run; the catalog (a cache of the events service) still says
    // the event is on sale, as it may for up to a second on another replica.
    service.bookings.cancel_event_bookings(service.catalog.event_id).await.unwrap();
    let cancelled =
        service.bookings.booking(Caller::new(first.user_id, Role::Customer), first.id).await.unwrap();
    assert_eq!(cancelled.status, BookingStatus::Cancelled);

    let refused = service.bookings.create_booking(buyer(), service.request(3)).await.unwrap_err();
    assert_eq!(refused.code, Code::NotFound, "{refused:?}");
    // Refused inside the transaction that would have recorded it: its units went back.
    assert_eq!(service.counts().await, (CAPACITY, 0, 0));
    let late = buyer();
    let (bookings, _) = service.bookings.list(late, PageSize::parse(None).unwrap(), None).await.unwrap();
    assert!(bookings.is_empty());
}

#[tokio::test]
async fn a_hold_that_cannot_be_recorded_before_its_deadline_is_given_up_and_leaves_nothing() {
    let service = Service::start().await;
    let caller = buyer();
    let refused =
        service.bookings.create_booking_by(caller, service.request(3), Instant::now()).await.unwrap_err();
    assert_eq!(refused.code, Code::Unavailable, "{refused:?}");
    assert_eq!(service.counts().await, (CAPACITY, 0, 0));
    let (bookings, _) = service.bookings.list(caller, PageSize::parse(None).unwrap(), None).await.unwrap();
    assert!(bookings.is_empty());
    // The same buyer, with time enough, holds.
    service.bookings.create_booking(caller, service.request(3)).await.unwrap();
    assert_eq!(service.counts().await, (CAPACITY - 3, 3, 0));
}

/// The claim of a key whose hold failed while the database was away, not yet given back: the
/// booking the claim names does not exist.
async fn leave_claim_of_failed_hold(service: &Service, key: &str) {
    let url = format!("sqlite://{}", service.path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let left = sqlx::query("UPDATE idempotency_keys SET booking_id = $1 WHERE key = $2")
        .bind(Uuid::now_v7())
        .bind(key)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(left.rows_affected(), 1);
    pool.close().await;
}

#[tokio::test]
async fn a_retry_that_cannot_learn_its_keys_first_answer_in_time_is_told_to_try_again() {
    let service = Service::start().await;
    let caller = buyer();
    let keyed = NewBooking { idempotency_key: Some("order-7".into()), ..service.request(2) };
    let first = service.bookings.create_booking(caller, keyed.clone()).await.unwrap();
    // As if the first hold had failed and its claim were still there (a retry that waited for
    // the database sees it before the failed hold gives it back).
    service.bookings.cancel(caller, first.id).await.unwrap();
    leave_claim_of_failed_hold(&service, "order-7").await;
    let deadline = Instant::now() + Duration::from_millis(300);
    let retry = service.bookings.create_booking_by(caller, keyed.clone(), deadline).await.unwrap_err();
    assert_eq!(retry.code, Code::Unavailable, "a 5xx, so that the client tries again: {retry:?}");
    // Once the claim's lease has ended, the next retry takes the key over and holds.
    service.bookings.clock().advance(IDEMPOTENCY_LEASE + Duration::from_secs(1));
    let held = service.bookings.create_booking(caller, keyed).await.unwrap();
    assert_eq!(held.status, BookingStatus::Pending);
    assert_eq!(service.counts().await, (CAPACITY - 2, 2, 0));
}

/// Two replicas of the service, each with its own sold-out memo, on one database and one Redis
/// inventory, as two processes would be.
async fn two_replicas(service: &Service, prefix: &str) -> [Bookings; 2] {
    let redis = redis_url();
    let inventory = Arc::new(RedisInventory::connect(&redis, prefix).await.expect("Redis answers"));
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let db = open_db(&Database::Sqlite { path: service.path.clone(), max_connections: 4 }).await.unwrap();
        replicas.push(Bookings::new(
            db,
            inventory.clone(),
            service.catalog.clone(),
            Arc::new(TestPaymentProvider::new()),
            TicketSigner::new(&[7; 32]).unwrap(),
            Clock::system(),
            HoldTtl::default(),
        ));
    }
    replicas.try_into().unwrap_or_else(|_| unreachable!())
}

#[tokio::test]
async fn a_unit_returned_on_one_replica_is_on_sale_on_the_other_once_its_memo_has_expired() {
    let service = Service::start().await;
    let prefix = format!("boxoffice-test:{}:", Uuid::now_v7());
    let [first, second] = two_replicas(&service, &prefix).await;
    let holder = buyer();
    let everything =
        first.create_booking(holder, service.request(CAPACITY.min(MAX_TICKETS_PER_BOOKING))).await.unwrap();
    let rest = CAPACITY - CAPACITY.min(MAX_TICKETS_PER_BOOKING);
    if rest > 0 {
        first.create_booking(buyer(), service.request(rest)).await.unwrap();
    }
    // The first replica remembers that the category is gone...
    let refused = first.create_booking(buyer(), service.request(1)).await.unwrap_err();
    assert_eq!(refused.code, Code::SoldOut);
    // ...when the second gives units back.
    second.cancel(holder, everything.id).await.unwrap();
    tokio::time::sleep(SOLD_OUT_MEMO_TTL + Duration::from_millis(20)).await;
    let held = first.create_booking(buyer(), service.request(1)).await;
    assert!(
        held.is_ok(),
        "a returned unit is on sale on every replica within the memo's {SOLD_OUT_MEMO_TTL:?}: {held:?}"
    );
    delete_keys(&prefix).await;
}

fn redis_url() -> String {
    std::env::var("BOXOFFICE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Deletes this test's keys from the shared Redis.
async fn delete_keys(prefix: &str) {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut connection).await.unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query_async(&mut connection).await.unwrap();
    }
}
