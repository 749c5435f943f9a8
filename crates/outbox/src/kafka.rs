//! Kafka: the publisher the relays use in production, and the consumer loop of a [`Handler`].
//! Through rdkafka, with the librdkafka it bundles.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use boxoffice_telemetry::TraceHeaders;
use futures::FutureExt as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{Header, Headers as _, Message as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, ClientContext};
use tokio_util::sync::CancellationToken;

use crate::consumer::{DeadLetters, Delivered, Handler};
use crate::relay::Publisher;
use crate::{Pending, TopicNames};

/// How long a message may take to be acknowledged before its batch counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a consumer commits the offsets of the messages it has handled (and once more as
/// it stops); a crash redelivers at most what it handled since, which the handlers deduplicate.
const COMMIT_INTERVAL: Duration = Duration::from_secs(1);
/// How long a stopping consumer waits for the broker to see it leave its group.
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// How long the broker waits for a consumer that stopped sending heartbeats (a process killed
/// or frozen) before it hands that consumer's partitions to the others, or to the process
/// started in its place: the events it would have handled wait that long. librdkafka's default
/// is 45 s; its heartbeats are sent from a thread of its own, every third of this, so a busy
/// handler does not miss them.
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// Messages a consumer hands its handler at most at once: those already fetched when it takes
/// one, so that a handler can make a burst's effects in a few transactions.
const CONSUMER_BATCH_MAX: usize = 500;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaSettings {
    /// `host:port,host:port`
    pub brokers: String,
    pub topics: TopicNames,
    /// Partitions of each topic boxoffice creates (it creates only topics that do not exist).
    pub partitions: i32,
    pub replication_factor: i32,
    /// The consumer groups are `<prefix><handler name>`.
    pub group_prefix: String,
}

fn client_config(settings: &KafkaSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &settings.brokers).set("client.id", "boxoffice");
    config
}

/// Rounds that may fail in a row before the producer is made anew (a broker that came back
/// without the producer's state refuses it for good).
const FAILURES_BEFORE_NEW_PRODUCER: u32 = 3;

/// Publishes outbox rows: idempotent producer, `acks=all`, so a retried send is neither lost
/// nor doubled by the producer, and each partition keeps the order of the rows. Clones share
/// the producer, which is made anew when it cannot go on (see [`FAILURES_BEFORE_NEW_PRODUCER`]).
#[derive(Clone)]
pub struct KafkaPublisher {
    producer: Arc<Mutex<FutureProducer>>,
    failures: Arc<AtomicU32>,
    settings: Arc<KafkaSettings>,
}

fn new_producer(settings: &KafkaSettings) -> anyhow::Result<FutureProducer> {
    client_config(settings)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", DELIVERY_TIMEOUT.as_millis().to_string())
        .create()
        .context("creating the Kafka producer")
}

impl KafkaPublisher {
    /// Connects lazily, and creates the topics that do not exist yet in the background: a
    /// broker that is away delays publishing, never the start.
    pub async fn connect(settings: &KafkaSettings) -> anyhow::Result<Self> {
        let producer = Arc::new(Mutex::new(new_producer(settings)?));
        let settings = Arc::new(settings.clone());
        let topics = settings.clone();
        tokio::spawn(async move {
            if let Err(error) = create_topics(&topics).await {
                tracing::warn!(error = %format!("{error:#}"), "creating the Kafka topics fails; publishing makes them later");
            }
        });
        Ok(KafkaPublisher { producer, failures: Arc::new(AtomicU32::new(0)), settings })
    }

    fn producer(&self) -> FutureProducer {
        self.producer.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// After a failed round: a producer that cannot go on (a fatal error, a broker that does
    /// not know its id) or that failed too many rounds in a row is made anew.
    fn after_failure(&self, producer: &FutureProducer, code: Option<RDKafkaErrorCode>) -> anyhow::Result<()> {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let lost_state = matches!(
            code,
            Some(RDKafkaErrorCode::UnknownProducerId | RDKafkaErrorCode::OutOfOrderSequenceNumber)
        );
        if producer.client().fatal_error().is_some() || lost_state || failures >= FAILURES_BEFORE_NEW_PRODUCER
        {
            tracing::warn!(failures, "the Kafka producer is made anew");
            *self.producer.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
                new_producer(&self.settings)?;
            self.failures.store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Sends a dead letter: the message as it came, with why it could not be handled.
    async fn dead_letter(
        &self,
        message: &rdkafka::message::BorrowedMessage<'_>,
        consumer: &str,
        reason: &str,
    ) -> anyhow::Result<()> {
        let headers = OwnedHeaders::new()
            .insert(Header { key: "reason", value: Some(reason) })
            .insert(Header { key: "consumer", value: Some(consumer) })
            .insert(Header { key: "topic", value: Some(message.topic()) })
            .insert(Header { key: "partition", value: Some(&message.partition().to_string()) })
            .insert(Header { key: "offset", value: Some(&message.offset().to_string()) });
        let mut record = FutureRecord::to(&self.settings.topics.dead_letters)
            .payload(message.payload().unwrap_or_default())
            .headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        self.producer().send(record, DELIVERY_TIMEOUT).await.map_err(|(error, _)| error)?;
        metrics::counter!("domain_events_dead_lettered_total", "consumer" => consumer.to_owned())
            .increment(1);
        Ok(())
    }
}

async fn create_topics(settings: &KafkaSettings) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = client_config(settings).create()?;
    let names = [
        &settings.topics.users,
        &settings.topics.events,
        &settings.topics.bookings,
        &settings.topics.dead_letters,
    ];
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|name| {
            NewTopic::new(name, settings.partitions, TopicReplication::Fixed(settings.replication_factor))
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(DELIVERY_TIMEOUT));
    for result in admin.create_topics(&topics, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => anyhow::bail!("creating the topic {topic}: {code}"),
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Publisher for KafkaPublisher {
    async fn publish(&self, rows: &[Pending]) -> anyhow::Result<()> {
        // All sent at once (librdkafka batches them), then every acknowledgement awaited.
        let producer = self.producer();
        let deliveries: Vec<_> = rows
            .iter()
            .map(|row| {
                let headers = row.trace.pairs().fold(OwnedHeaders::new(), |headers, (key, value)| {
                    headers.insert(Header { key, value: Some(value) })
                });
                let record = FutureRecord::to(self.settings.topics.name(row.topic))
                    .key(&row.key)
                    .payload(&row.envelope)
                    .headers(headers);
                producer.send(record, DELIVERY_TIMEOUT)
            })
            .collect();
        for delivery in futures::future::join_all(deliveries).await {
            if let Err((error, _)) = delivery {
                if error.rdkafka_error_code() == Some(RDKafkaErrorCode::UnknownTopicOrPartition) {
                    // A broker that lost its topics (or never had them): they are made again
                    // before the batch is sent again.
                    create_topics(&self.settings).await?;
                }
                self.after_failure(&producer, error.rdkafka_error_code())?;
                return Err(error).context("a domain event was not acknowledged by Kafka");
            }
        }
        self.failures.store(0, Ordering::Relaxed);
        Ok(())
    }
}

/// What a consumer's group gives it and takes back, in the log: a consumer given no partition
/// handles nothing, which the log makes plain.
struct GroupLog {
    consumer: &'static str,
}

impl ClientContext for GroupLog {}

impl ConsumerContext for GroupLog {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let partitions = |list: &rdkafka::TopicPartitionList| {
            list.elements()
                .iter()
                .map(|e| format!("{}[{}]", e.topic(), e.partition()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match rebalance {
            Rebalance::Assign(list) => {
                tracing::info!(
                    consumer = self.consumer,
                    partitions = partitions(list),
                    "the group assigns partitions"
                )
            }
            Rebalance::Revoke(list) => {
                tracing::info!(
                    consumer = self.consumer,
                    partitions = partitions(list),
                    "the group takes partitions back"
                )
            }
            // rdkafka logs it already.
            Rebalance::Error(_) => {}
        }
    }
}

/// A consumer closed on a thread of its own: rdkafka's close leaves the group and waits for the
/// broker, so a process stopping while Kafka is away would wait for it forever. The thread ends
/// with the close, or with the process.
struct Closing(Option<StreamConsumer<GroupLog>>);

impl Closing {
    /// Closes the consumer on a thread of its own: a receiver told when it has closed, or None
    /// when no thread could be made (the consumer is then left open).
    fn close_aside(&mut self) -> Option<tokio::sync::oneshot::Receiver<()>> {
        let consumer = self.0.take()?;
        let name = consumer.context().consumer;
        let (closed, done) = tokio::sync::oneshot::channel();
        let closing = std::thread::Builder::new().name("kafka-consumer-close".into());
        match closing.spawn(move || {
            drop(consumer);
            let _ = closed.send(());
        }) {
            Ok(_) => Some(done),
            Err(error) => {
                tracing::warn!(consumer = name, %error, "no thread to close a Kafka consumer on; it is left open");
                None
            }
        }
    }

    /// Closes the consumer, waiting at most [`CLOSE_WAIT`] for the broker. A consumer that has
    /// left its group is not waited for by the group: the process that replaces it (a rolling
    /// restart) is given its partitions at once, not after the broker's session timeout.
    async fn close(mut self) {
        let name = self.context().consumer;
        let Some(done) = self.close_aside() else { return };
        if tokio::time::timeout(CLOSE_WAIT, done).await.is_err() {
            tracing::warn!(consumer = name, wait = ?CLOSE_WAIT,
                "the broker did not see the Kafka consumer leave its group; its partitions wait for the session timeout");
        }
    }
}

impl std::ops::Deref for Closing {
    type Target = StreamConsumer<GroupLog>;

    fn deref(&self) -> &StreamConsumer<GroupLog> {
        self.0.as_ref().expect("present until dropped")
    }
}

impl Drop for Closing {
    fn drop(&mut self) {
        self.close_aside();
    }
}

/// Feeds a handler from Kafka: its own consumer group, the messages already fetched handed over
/// as one batch (up to [`CONSUMER_BATCH_MAX`]), a message's offset stored only after it is
/// handled (or dead-lettered), so a crash redelivers, and a batch that fails for now is retried
/// before any message after it. Stored offsets are committed (asynchronously) every
/// [`COMMIT_INTERVAL`] and as the consumer stops, not per message: a consumer that ignores most
/// of a topic (the notifications service and an on-sale's holds) would otherwise cost the broker
/// a commit per hold. librdkafka's own auto-commit is off: its last commit as the consumer is
/// dropped waits for the broker, and would hang a process stopping while Kafka is away.
pub struct KafkaConsumer {
    consumer: Closing,
    publisher: KafkaPublisher,
    handler: Arc<dyn Handler>,
}

impl KafkaConsumer {
    pub fn new(
        settings: &KafkaSettings,
        publisher: KafkaPublisher,
        handler: Arc<dyn Handler>,
    ) -> anyhow::Result<Self> {
        let group = format!("{}{}", settings.group_prefix, handler.name());
        let consumer: StreamConsumer<GroupLog> = client_config(settings)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // A topic made after the consumer subscribed (by the first relay to start) is
            // found within seconds, not at librdkafka's default five minutes.
            .set("topic.metadata.refresh.interval.ms", "2000")
            // A message that fails for now is retried (with backoff) before any after it, which
            // may take longer than librdkafka's default 5 minutes between reads; the consumer
            // stays in its group meanwhile instead of handing its partitions to another.
            .set("max.poll.interval.ms", "3600000")
            // The classic group protocol, whose session and heartbeats the client sets (the
            // newer one, KIP-848, refuses both settings).
            .set("group.protocol", "classic")
            .set("session.timeout.ms", SESSION_TIMEOUT.as_millis().to_string())
            .set("heartbeat.interval.ms", (SESSION_TIMEOUT / 3).as_millis().to_string())
            .create_with_context(GroupLog { consumer: handler.name() })
            .context("creating the Kafka consumer")?;
        let names: Vec<&str> = handler.topics().iter().map(|&topic| settings.topics.name(topic)).collect();
        consumer.subscribe(&names).with_context(|| format!("subscribing {group} to {names:?}"))?;
        Ok(KafkaConsumer { consumer: Closing(Some(consumer)), publisher, handler })
    }

    /// Commits the offsets stored since the last commit, without waiting for the broker.
    fn commit_stored(&self, uncommitted: &mut bool) {
        if !std::mem::take(uncommitted) {
            return;
        }
        if let Err(error) = self.consumer.commit_consumer_state(CommitMode::Async) {
            // The messages may be delivered again after a restart; the handler deduplicates.
            tracing::warn!(consumer = self.handler.name(), %error, "committing consumer offsets fails");
        }
    }

    /// Consumes until `shutdown`, then commits what it handled and leaves its group.
    pub async fn run(self, shutdown: CancellationToken) {
        self.consume(&shutdown).await;
        self.consumer.close().await;
    }

    /// Consumes until `shutdown`, and commits the offsets stored.
    async fn consume(&self, shutdown: &CancellationToken) {
        let name = self.handler.name();
        let mut commits = tokio::time::interval(COMMIT_INTERVAL);
        commits.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut uncommitted = false;
        loop {
            let message = tokio::select! {
                () = shutdown.cancelled() => {
                    self.commit_stored(&mut uncommitted);
                    return;
                }
                _ = commits.tick() => {
                    self.commit_stored(&mut uncommitted);
                    continue;
                }
                message = self.consumer.recv() => message,
            };
            let message = match message {
                Ok(message) => message,
                Err(error) => {
                    tracing::warn!(consumer = name, %error, "reading from Kafka fails");
                    tokio::time::sleep(RETRY_MIN).await;
                    continue;
                }
            };
            // What librdkafka has fetched already joins the batch, without waiting for more.
            let mut batch = vec![message];
            while batch.len() < CONSUMER_BATCH_MAX {
                match self.consumer.recv().now_or_never() {
                    Some(Ok(message)) => batch.push(message),
                    Some(Err(error)) => {
                        tracing::warn!(consumer = name, %error, "reading from Kafka fails");
                        break;
                    }
                    None => break,
                }
            }
            let mut readable = Vec::with_capacity(batch.len());
            let mut places = Vec::with_capacity(batch.len());
            let mut dead = DeadLetters::new();
            for (place, message) in batch.iter().enumerate() {
                match self.read(message) {
                    Ok(delivered) => {
                        readable.push(delivered);
                        places.push(place);
                    }
                    Err(reason) => dead.push((place, reason)),
                }
            }
            // A batch that fails for now is handled again, with backoff, before any message after it.
            let mut backoff = RETRY_MIN;
            let mut unhandled = loop {
                let error = match self.handler.handle_batch(&readable).await {
                    Ok(unhandled) => break unhandled,
                    Err(error) => error,
                };
                tracing::warn!(consumer = name, error = %format!("{error:#}"), retry_in = ?backoff,
                    "handling domain events fails; retrying them");
                if self.wait_or_stop(shutdown, &mut backoff, &mut uncommitted).await {
                    return;
                }
            };
            unhandled.iter_mut().for_each(|(place, _)| *place = places[*place]);
            dead.extend(unhandled);
            dead.sort_by_key(|(place, _)| *place);
            for (place, reason) in dead {
                let message = &batch[place];
                tracing::error!(
                    consumer = name,
                    reason,
                    topic = message.topic(),
                    offset = message.offset(),
                    "a domain event cannot be handled; sent to the dead letters"
                );
                let mut backoff = RETRY_MIN;
                while let Err(error) = self.publisher.dead_letter(message, name, &reason).await {
                    tracing::warn!(consumer = name, error = %format!("{error:#}"), retry_in = ?backoff,
                        "sending a dead letter fails; retrying it");
                    if self.wait_or_stop(shutdown, &mut backoff, &mut uncommitted).await {
                        return;
                    }
                }
            }
            for message in &batch {
                match self.consumer.store_offset_from_message(message) {
                    Ok(()) => uncommitted = true,
                    // The message may be delivered again after a restart; the handler deduplicates.
                    Err(error) => tracing::warn!(consumer = name, %error, "storing a consumer offset fails"),
                }
            }
        }
    }

    /// A message as the handler reads it; the error is why it cannot be read (a dead letter).
    fn read(&self, message: &rdkafka::message::BorrowedMessage<'_>) -> Result<Delivered, String> {
        match self.publisher.settings.topics.topic(message.topic()) {
            None => Err(format!("{} is not a topic of boxoffice", message.topic())),
            Some(topic) => Delivered::parse(topic, message.payload().unwrap_or_default())
                .map(|delivered| delivered.traced(trace_headers(message))),
        }
    }

    /// Waits `backoff` before trying again (and doubles it, up to [`RETRY_MAX`]); true if the
    /// consumer is to stop instead, after committing the offsets stored.
    async fn wait_or_stop(
        &self,
        shutdown: &CancellationToken,
        backoff: &mut Duration,
        uncommitted: &mut bool,
    ) -> bool {
        tokio::select! {
            () = shutdown.cancelled() => {
                self.commit_stored(uncommitted);
                return true;
            }
            () = tokio::time::sleep(*backoff) => {}
        }
        *backoff = (*backoff * 2).min(RETRY_MAX);
        false
    }
}

/// The trace headers a message came with.
fn trace_headers(message: &rdkafka::message::BorrowedMessage<'_>) -> TraceHeaders {
    let Some(headers) = message.headers() else { return TraceHeaders::default() };
    TraceHeaders::from_pairs(headers.iter().filter_map(|header| Some((header.key, header.value?))))
}
