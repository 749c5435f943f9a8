//! Domain events on a real Kafka-compatible broker: tansu, started by each test on a free
//! loopback port with in-memory storage and reached through a proxy the test can cut (`BOXOFFICE_TEST_TANSU`, which scripts/test builds and
//! caches), and read back with a Kafka consumer of the test's own.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use boxoffice_proto::domain::Envelope;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::{ClientConfig, Message as _};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::bookings::{category, id, on_sale};
use crate::helpers::{
    cli, free_port, fresh_settings, outbox, wait_for_port, Backend, Children, RemovedAtEnd, TestApp,
};
use crate::notifications::{
    assert_every_holder_hears_of_a_cancellation, assert_tickets_email, buy, to, MailServer,
};
use crate::on_both_backends;

on_both_backends!(
    a_confirmed_booking_is_told_on_kafka_once_after_its_hold,
    with_the_broker_down_sales_go_on_and_every_event_arrives_when_it_returns,
    events_committed_by_a_process_killed_before_publishing_them_are_published_after_its_restart,
    a_cancelled_event_is_refunded_through_kafka_and_a_garbage_message_goes_to_the_dead_letters,
    a_confirmation_is_emailed_once_and_a_replay_of_the_topics_from_the_beginning_sends_nothing,
    cancelling_an_event_emails_every_holder_through_kafka,
);

/// A tansu broker, reached through a TCP proxy of the test's own on the address it advertises,
/// so that the test can cut the network to it and restore it while the broker keeps its data.
pub(crate) struct Broker {
    child: Child,
    proxy_port: u16,
    broker_port: u16,
    proxy: Option<CancellationToken>,
}

/// Waits until `child` listens on `port`; a child that does not is stopped before the test
/// fails, so that no process outlives it.
impl Broker {
    pub(crate) async fn start() -> Broker {
        let (proxy_port, broker_port) = (free_port(), free_port());
        let child = Broker::spawn(proxy_port, broker_port);
        let mut broker = Broker { child, proxy_port, broker_port, proxy: None };
        broker.restore().await;
        broker
    }

    fn spawn(proxy_port: u16, broker_port: u16) -> Child {
        let binary = std::env::var("BOXOFFICE_TEST_TANSU").unwrap_or_else(|_| {
            format!("{}/.cache/boxoffice/tansu/bin/tansu", std::env::var("HOME").unwrap_or_default())
        });
        let child = Command::new(&binary)
            .args(["broker", "--listener-url", &format!("tcp://127.0.0.1:{broker_port}")])
            .args(["--advertised-listener-url", &format!("tcp://127.0.0.1:{proxy_port}")])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("tansu starts from {binary} (scripts/test builds it): {error}"));
        wait_for_port(child, broker_port, "tansu")
    }

    pub(crate) fn address(&self) -> String {
        format!("127.0.0.1:{}", self.proxy_port)
    }

    /// Closes every connection to the broker and refuses new ones.
    fn cut(&mut self) {
        if let Some(proxy) = self.proxy.take() {
            proxy.cancel();
        }
    }

    /// Accepts connections to the broker again, on the same address.
    async fn restore(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.proxy_port)).await.unwrap();
        let cancel = CancellationToken::new();
        let upstream = self.broker_port;
        let stop = cancel.clone();
        tokio::spawn(async move {
            loop {
                let (mut client, _) = tokio::select! {
                    () = stop.cancelled() => return,
                    accepted = listener.accept() => accepted.unwrap(),
                };
                let stop = stop.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    tokio::select! {
                        () = stop.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        self.proxy = Some(cancel);
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.cut();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn app_on(broker: &Broker, backend: Backend) -> TestApp {
    let mut settings = fresh_settings(backend).await;
    settings.kafka_brokers = Some(broker.address());
    settings.kafka_partitions = 3;
    TestApp::start(settings).await
}

/// Reads the bookings topic from its beginning until `done` says the messages are all there
/// (or 30 seconds pass): every message as (key, envelope).
async fn read_bookings_topic(
    broker: &Broker,
    done: impl Fn(&[(String, Envelope)]) -> bool,
) -> Vec<(String, Envelope)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .set("group.id", format!("test-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .unwrap();
    consumer.subscribe(&["boxoffice.bookings"]).unwrap();
    let mut messages = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(&messages) && Instant::now() < deadline {
        let Ok(Ok(message)) = tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await else {
            continue;
        };
        let key = String::from_utf8(message.key().unwrap_or_default().to_vec()).unwrap();
        let envelope: Envelope = prost::Message::decode(message.payload().unwrap_or_default()).unwrap();
        assert_eq!(key, envelope.aggregate_id, "the key is the aggregate id");
        messages.push((key, envelope));
    }
    messages
}

/// The types told of each booking, in the order they arrived, each event id once.
fn by_booking(messages: &[(String, Envelope)]) -> HashMap<String, Vec<String>> {
    let mut seen = std::collections::HashSet::new();
    let mut told: HashMap<String, Vec<String>> = HashMap::new();
    for (key, envelope) in messages {
        if seen.insert(envelope.event_id.clone()) {
            told.entry(key.clone()).or_default().push(envelope.r#type.clone());
        }
    }
    told
}

async fn a_confirmed_booking_is_told_on_kafka_once_after_its_hold(backend: Backend) {
    let broker = Broker::start().await;
    let app = app_on(&broker, backend).await;
    let (_, event) = on_sale(&app, 10, 0).await;
    let (_, buyer) = app.mint_customer();
    let items =
        json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 2}]});
    let booking = app.hold_ok(&buyer, items).await;
    let confirmed: Value = app.confirm(&buyer, &id(&booking), "tok_ok").await.json().await.unwrap();
    assert_eq!(confirmed["status"], "confirmed");

    let messages = read_bookings_topic(&broker, |messages| {
        by_booking(messages).get(&id(&booking)).is_some_and(|told| told.len() >= 2)
    })
    .await;
    let told = by_booking(&messages);
    assert_eq!(told[&id(&booking)], ["booking.held", "booking.confirmed"]);
    let confirmations: Vec<&Envelope> = messages
        .iter()
        .map(|(_, envelope)| envelope)
        .filter(|envelope| envelope.r#type == "booking.confirmed")
        .collect();
    assert_eq!(confirmations.len(), 1, "one booking.confirmed, delivered once");
    let payload: boxoffice_proto::domain::BookingConfirmed =
        prost::Message::decode(confirmations[0].payload.as_slice()).unwrap();
    let codes: Vec<&str> = confirmed["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ticket| ticket["code"].as_str().unwrap())
        .collect();
    assert_eq!(payload.tickets.iter().map(|ticket| ticket.code.as_str()).collect::<Vec<_>>(), codes);
}

async fn with_the_broker_down_sales_go_on_and_every_event_arrives_when_it_returns(backend: Backend) {
    let mut broker = Broker::start().await;
    let app = app_on(&broker, backend).await;
    let (_, event) = on_sale(&app, 100, 0).await;
    broker.cut();

    // Holds and confirmations answer as ever; their events wait in the outbox.
    let mut bookings = Vec::new();
    for _ in 0..10 {
        let (_, buyer) = app.mint_customer();
        let items =
            json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}]});
        let booking = app.hold_ok(&buyer, items).await;
        let response = app.confirm(&buyer, &id(&booking), "tok_ok").await;
        assert_eq!(response.status(), StatusCode::OK);
        bookings.push(id(&booking));
    }
    let pending = app.outbox("bookings").await.iter().filter(|(_, sent)| !sent).count();
    assert_eq!(pending, 20, "every event waits while the broker is away");

    // The broker is reachable again: the relay publishes every waiting event.
    broker.restore().await;
    let started = Instant::now();
    while app.outbox("bookings").await.iter().any(|(_, sent)| !sent) {
        assert!(started.elapsed() < Duration::from_secs(30), "the relay publishes what waited");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let messages = read_bookings_topic(&broker, |messages| {
        let told = by_booking(messages);
        bookings.iter().all(|booking| told.get(booking).is_some_and(|told| told.len() >= 2))
    })
    .await;
    let told = by_booking(&messages);
    for booking in &bookings {
        let expected = ["booking.held".to_owned(), "booking.confirmed".to_owned()];
        assert_eq!(told.get(booking).map(Vec::as_slice), Some(&expected[..]), "in order, for {booking}");
    }
}

/// `boxoffice serve` as its own process on `settings`, killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(settings: &boxoffice_config::Settings) -> Server {
        let port = free_port();
        let child = cli(settings, &["serve"])
            .env("BOXOFFICE_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let child = wait_for_port(child, port, "boxoffice");
        Server { child, address: format!("http://127.0.0.1:{port}") }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Through the gateway at `api` of a deployment on `settings`: an event called `name` with five
/// standing places, published by an organizer, and the access token of a buyer who signed up
/// as `email`.
pub(crate) async fn on_sale_through(
    api: &str,
    settings: &boxoffice_config::Settings,
    name: &str,
    email: &str,
) -> (Value, String) {
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value, token: &str| {
        client.post(format!("{api}{path}")).bearer_auth(token).json(&body).send()
    };
    let organizer = minted(settings, boxoffice_types::Role::Organizer);
    let mut body = crate::events::event_body(name, "2030-05-01T20:00:00Z");
    body["categories"] = json!([{"name": "Standing", "price_cents": 1500, "currency": "EUR", "capacity": 5}]);
    let event: Value = post("/api/v1/events", body, &organizer).await.unwrap().json().await.unwrap();
    let published =
        post(&format!("/api/v1/events/{}/publish", id(&event)), json!({}), &organizer).await.unwrap();
    assert_eq!(published.status(), StatusCode::OK);
    let event: Value = published.json().await.unwrap();
    (event, crate::helpers::signed_up_through(api, email).await)
}

/// A hold of `quantity` tickets of `event`'s first category by `buyer`, paid, through the
/// gateway at `api`: the confirmed booking.
pub(crate) async fn paid_through(api: &str, event: &Value, buyer: &str, quantity: u32) -> Value {
    let client = reqwest::Client::new();
    let items = json!([{"category_id": category(event, 0), "quantity": quantity}]);
    let hold = client
        .post(format!("{api}/api/v1/bookings"))
        .bearer_auth(buyer)
        .json(&json!({"event_id": id(event), "items": items}))
        .send()
        .await
        .unwrap();
    assert_eq!(hold.status(), StatusCode::CREATED);
    let booking: Value = hold.json().await.unwrap();
    let confirmed = client
        .post(format!("{api}/api/v1/bookings/{}/confirm", id(&booking)))
        .bearer_auth(buyer)
        .json(&json!({"payment_token": "tok_ok"}))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    confirmed.json().await.unwrap()
}

pub(crate) fn minted(settings: &boxoffice_config::Settings, role: boxoffice_types::Role) -> String {
    let claims =
        boxoffice_auth::Claims::new(uuid::Uuid::now_v7(), role, uuid::Uuid::now_v7(), chrono::Utc::now());
    boxoffice::token_key(settings).unwrap().sign(&claims).unwrap()
}

async fn events_committed_by_a_process_killed_before_publishing_them_are_published_after_its_restart(
    backend: Backend,
) {
    let mut broker = Broker::start().await;
    broker.cut();
    let mut settings = fresh_settings(backend).await;
    // Dropped after the servers below, which use it.
    let _folder = RemovedAtEnd(settings.data_dir.clone());
    settings.kafka_brokers = Some(broker.address());
    let mut server = Server::start(&settings);
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value, token: &str| {
        client.post(format!("{}{path}", server.address)).bearer_auth(token).json(&body).send()
    };
    let organizer = minted(&settings, boxoffice_types::Role::Organizer);
    let mut body = crate::events::event_body("Killed", "2030-05-01T20:00:00Z");
    body["categories"] =
        json!([{"name": "Standing", "price_cents": 2000, "currency": "EUR", "capacity": 10}]);
    let event: Value = post("/api/v1/events", body, &organizer).await.unwrap().json().await.unwrap();
    let published =
        post(&format!("/api/v1/events/{}/publish", id(&event)), json!({}), &organizer).await.unwrap();
    assert_eq!(published.status(), StatusCode::OK);
    let buyer = minted(&settings, boxoffice_types::Role::Customer);
    let booking = paid_through(&server.address, &event, &buyer, 1).await;
    assert_eq!(outbox(&settings, "bookings").await.iter().filter(|(_, sent)| !sent).count(), 2);

    // Killed with its events committed and unpublished; restarted with the broker back.
    server.kill();
    broker.restore().await;
    let _server = Server::start(&settings);
    let started = Instant::now();
    for service in ["events", "bookings"] {
        while outbox(&settings, service).await.iter().any(|(_, sent)| !sent) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the restarted relay publishes {service}' events"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let messages = read_bookings_topic(&broker, |messages| {
        by_booking(messages).get(&id(&booking)).is_some_and(|told| told.len() >= 2)
    })
    .await;
    assert_eq!(by_booking(&messages)[&id(&booking)], ["booking.held", "booking.confirmed"]);
}

async fn a_cancelled_event_is_refunded_through_kafka_and_a_garbage_message_goes_to_the_dead_letters(
    backend: Backend,
) {
    let broker = Broker::start().await;
    let app = app_on(&broker, backend).await;
    let (organizer, event) = on_sale(&app, 10, 0).await;
    let (_, buyer) = app.mint_customer();
    let items =
        json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}]});
    let pending = app.hold_ok(&buyer, items.clone()).await;
    let paid = app.hold_ok(&buyer, items).await;
    assert_eq!(app.confirm(&buyer, &id(&paid), "tok_ok").await.status(), StatusCode::OK);

    // A message no consumer can read, ahead of the cancellation on the same topic.
    let producer: rdkafka::producer::FutureProducer =
        ClientConfig::new().set("bootstrap.servers", broker.address()).create().unwrap();
    let key = id(&event);
    let garbage =
        rdkafka::producer::FutureRecord::to("boxoffice.events").key(&key).payload("not an envelope");
    producer.send(garbage, Duration::from_secs(10)).await.unwrap();
    let cancel =
        app.post(&format!("/api/v1/events/{}/cancel", id(&event)), json!({}), Some(&organizer)).await;
    assert_eq!(cancel.status(), StatusCode::OK);

    // The bookings service's consumer skips the garbage and refunds the event's bookings.
    let status = |booking: Value| {
        let (app, buyer) = (&app, &buyer);
        async move {
            let read: Value = app
                .get(&format!("/api/v1/bookings/{}", id(&booking)), Some(buyer))
                .await
                .json()
                .await
                .unwrap();
            read["status"].as_str().unwrap().to_owned()
        }
    };
    let started = Instant::now();
    while status(paid.clone()).await != "refunded" {
        assert!(started.elapsed() < Duration::from_secs(30), "the saga refunds the paid booking");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status(pending).await, "cancelled");

    // The garbage is in the dead letters, as it came, with the reason.
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .set("group.id", format!("test-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .unwrap();
    consumer.subscribe(&["boxoffice.dead-letters"]).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv()).await.unwrap().unwrap();
    assert_eq!(message.payload(), Some(&b"not an envelope"[..]));
    use rdkafka::message::Headers as _;
    let headers = message.headers().unwrap();
    let reason =
        headers.iter().find(|header| header.key == "reason").and_then(|header| header.value).unwrap();
    assert!(
        String::from_utf8_lossy(reason).contains("not an envelope"),
        "{}",
        String::from_utf8_lossy(reason)
    );
}

async fn app_with_mail_on(broker: &Broker, backend: Backend, mail: &MailServer) -> TestApp {
    let mut settings = fresh_settings(backend).await;
    settings.kafka_brokers = Some(broker.address());
    settings.kafka_partitions = 3;
    settings.smtp_url = Some(mail.url());
    TestApp::start(settings).await
}

/// Waits until consumer group `group` has committed, on every partition of `topics`, the
/// offset after the last message: it has read them all.
async fn wait_until_read_to_the_end(broker: &Broker, group: &str, topics: &[&str]) {
    use rdkafka::consumer::BaseConsumer;
    use rdkafka::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let timeout = Duration::from_secs(5);
    let started = Instant::now();
    loop {
        let caught_up = tokio::task::block_in_place(|| {
            let mut wanted = TopicPartitionList::new();
            let mut ends = HashMap::new();
            for topic in topics {
                let metadata = consumer.fetch_metadata(Some(topic), timeout).unwrap();
                for partition in metadata.topics()[0].partitions() {
                    let (_, end) = consumer.fetch_watermarks(topic, partition.id(), timeout).unwrap();
                    wanted.add_partition(topic, partition.id());
                    ends.insert((topic.to_string(), partition.id()), end);
                }
            }
            let committed = consumer.committed_offsets(wanted, timeout).unwrap();
            committed.elements().iter().all(|element| {
                let end = ends[&(element.topic().to_owned(), element.partition())];
                match element.offset() {
                    Offset::Offset(offset) => offset >= end,
                    _ => end == 0,
                }
            })
        });
        if caught_up {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{group} reads {topics:?} to the end");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn a_confirmation_is_emailed_once_and_a_replay_of_the_topics_from_the_beginning_sends_nothing(
    backend: Backend,
) {
    let broker = Broker::start().await;
    let mail = MailServer::start();
    let app = app_with_mail_on(&broker, backend, &mail).await;
    let (_, event) = on_sale(&app, 10, 0).await;
    let (email, _, booking) = buy(&app, &event, 2).await;

    let received = mail.wait_for(1).await;
    let emails = to(&received, &email);
    assert_eq!(emails.len(), 1, "one email");
    assert_tickets_email(&emails[0], &booking, &event);
    let messages = read_bookings_topic(&broker, |messages| {
        by_booking(messages).get(&id(&booking)).is_some_and(|told| told.len() >= 2)
    })
    .await;
    let confirmed: Vec<_> = messages
        .iter()
        .filter(|(key, envelope)| key == &id(&booking) && envelope.r#type == "booking.confirmed")
        .collect();
    assert_eq!(confirmed.len(), 1, "one booking.confirmed on the topic");

    // The same deployment, restarted with consumer groups of another name: they read every topic
    // from its beginning, and the notifications service handles every message again.
    let mut settings = app.stop().await;
    settings.kafka_group_prefix = "replay-".to_owned();
    let app = TestApp::start(settings).await;
    wait_until_read_to_the_end(&broker, "replay-notifications", &["boxoffice.events", "boxoffice.bookings"])
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(mail.received().len(), 1, "the replay sends no second email");
    drop(app);
}

async fn cancelling_an_event_emails_every_holder_through_kafka(backend: Backend) {
    let broker = Broker::start().await;
    let mail = MailServer::start();
    let app = app_with_mail_on(&broker, backend, &mail).await;
    assert_every_holder_hears_of_a_cancellation(&app, &mail).await;
}

/// Every service in a process of its own, as a scaled-out deployment runs them on PostgreSQL,
/// Redis and Kafka: a sale made through the gateway is emailed by `serve --service
/// notifications`, which learnt the event from the events topic. That process stopped with
/// SIGTERM leaves its consumer group as it goes, so the one started in its place is given the
/// partitions at once. A member that never left keeps them until its session times out (10 s)
/// on Kafka; tansu 0.6 has been seen to give the newcomer no partition at all, for good (see
/// BENCHMARKS.md, "Faults under load"), which is what this test would then show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_in_a_process_of_its_own_sells_and_emails_through_kafka() {
    use boxoffice::ServiceName;
    let broker = Broker::start().await;
    let mail = MailServer::start();
    let mut settings = fresh_settings(Backend::Postgres).await;
    let mut children = Children::of(&settings);
    settings.kafka_brokers = Some(broker.address());
    settings.kafka_partitions = 3;
    settings.smtp_url = Some(mail.url());
    settings.internal_token = Some(boxoffice_auth::random_token());
    settings.admin_addr = ([127, 0, 0, 1], 0).into();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    settings.users_grpc_addr = ([127, 0, 0, 1], ports[0]).into();
    settings.events_grpc_addr = ([127, 0, 0, 1], ports[1]).into();
    settings.bookings_grpc_addr = ([127, 0, 0, 1], ports[2]).into();
    settings.users_url = format!("http://127.0.0.1:{}", ports[0]);
    settings.events_url = format!("http://127.0.0.1:{}", ports[1]);
    settings.bookings_url = format!("http://127.0.0.1:{}", ports[2]);
    let shutdown = CancellationToken::new();
    let mut running = Vec::new();
    for service in [ServiceName::Users, ServiceName::Events, ServiceName::Bookings, ServiceName::Gateway] {
        running.push(boxoffice::start(&settings, Some(service), shutdown.clone()).await.unwrap());
    }
    let notifications_admin = free_port();
    let notifications = || {
        let mut command = cli(&settings, &["serve", "--service", "notifications"]);
        command
            .env("BOXOFFICE_ADMIN_ADDR", format!("127.0.0.1:{notifications_admin}"))
            .env("BOXOFFICE_SMTP_URL", mail.url())
            .env("BOXOFFICE_KAFKA_PARTITIONS", "3")
            .env("BOXOFFICE_INTERNAL_TOKEN", settings.internal_token.as_deref().unwrap())
            .env("BOXOFFICE_USERS_URL", &settings.users_url)
            .env("BOXOFFICE_EVENTS_URL", &settings.events_url)
            .env("BOXOFFICE_BOOKINGS_URL", &settings.bookings_url);
        wait_for_port(command.spawn().unwrap(), notifications_admin, "notifications")
    };
    children.push(notifications());
    let api = format!("http://{}", running[3].http_addr.unwrap());
    let client = reqwest::Client::new();

    let (event, buyer) = on_sale_through(&api, &settings, "Split", "split-buyer@example.com").await;
    let email = "split-buyer@example.com";
    let booking = paid_through(&api, &event, &buyer, 2).await;
    let received = mail.wait_for(1).await;
    let emails = to(&received, email);
    assert_eq!(emails.len(), 1, "the notifications service emails the tickets");
    assert_tickets_email(&emails[0], &booking, &event);
    let admin = format!("http://127.0.0.1:{notifications_admin}");
    assert_eq!(client.get(format!("{admin}/readyz")).send().await.unwrap().status(), StatusCode::OK);

    // SIGTERM, as an orchestrator stops a container; then another process in its place.
    let stopped = children.processes.pop().unwrap();
    let term = Command::new("kill").args(["-TERM", &stopped.id().to_string()]).status().unwrap();
    assert!(term.success());
    let exit = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || {
            let mut stopped = stopped;
            stopped.wait().unwrap()
        }),
    )
    .await
    .expect("notifications stops within 30 s of SIGTERM")
    .unwrap();
    assert!(exit.success(), "notifications stops cleanly: {exit}");
    children.push(notifications());
    let second = paid_through(&api, &event, &buyer, 1).await;
    let received = mail.wait_for(2).await;
    let emails = to(&received, email);
    assert_eq!(
        emails.len(),
        2,
        "the notifications service started in place of the stopped one emails at once"
    );
    // The mail folder is read in no particular order: the second email is the one with the
    // second booking's ticket.
    let code = second["tickets"][0]["code"].as_str().unwrap();
    let second_email = emails.iter().find(|email| email.body_text(0).is_some_and(|text| text.contains(code)));
    assert_tickets_email(second_email.expect("an email with the second booking's ticket"), &second, &event);

    children.stop();
    shutdown.cancel();
    for service in running {
        service.wait().await.unwrap();
    }
}
