//! Where the services' domain events go: Kafka when `BOXOFFICE_KAFKA_BROKERS` is set, otherwise
//! the in-process bus, which reaches the consumers of this process only.

use std::sync::Arc;
use std::time::Duration;

use boxoffice_config::Settings;
use boxoffice_outbox::{
    Bus, Handler, KafkaConsumer, KafkaPublisher, KafkaSettings, Outbox, Publisher, Relay, TopicNames,
};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub enum Messaging {
    Kafka {
        publisher: KafkaPublisher,
        settings: Box<KafkaSettings>,
    },
    /// Every service runs in this process (`serve`).
    Bus(Bus),
    /// A service runs on its own without Kafka: its events wait in its outbox, never lost,
    /// until it is started with Kafka.
    Nowhere,
}

pub fn kafka_settings(settings: &Settings) -> Option<KafkaSettings> {
    settings.kafka_brokers.as_ref().map(|brokers| KafkaSettings {
        brokers: brokers.clone(),
        topics: TopicNames {
            users: settings.kafka_topic_users.clone(),
            events: settings.kafka_topic_events.clone(),
            bookings: settings.kafka_topic_bookings.clone(),
            dead_letters: settings.kafka_topic_dead_letters.clone(),
        },
        partitions: settings.kafka_partitions,
        replication_factor: settings.kafka_replication_factor,
        group_prefix: settings.kafka_group_prefix.clone(),
    })
}

impl Messaging {
    /// Kafka if configured; otherwise the bus when every service shares this process.
    pub async fn connect(settings: &Settings, all_in_one: bool) -> anyhow::Result<Self> {
        Ok(match kafka_settings(settings) {
            Some(kafka) => Messaging::Kafka {
                publisher: KafkaPublisher::connect(&kafka).await?,
                settings: Box::new(kafka),
            },
            None if all_in_one => Messaging::Bus(Bus::new()),
            None => {
                tracing::warn!(
                    "BOXOFFICE_KAFKA_BROKERS is not set: this service's domain events wait in its outbox \
                     until it runs with Kafka"
                );
                Messaging::Nowhere
            }
        })
    }

    /// Relays `outbox` to the publisher, until `shutdown`.
    pub fn relay(
        &self,
        tasks: &mut JoinSet<anyhow::Result<()>>,
        outbox: Outbox,
        settings: &Settings,
        shutdown: CancellationToken,
    ) {
        let publisher: Arc<dyn Publisher> = match self {
            Messaging::Kafka { publisher, .. } => Arc::new(publisher.clone()),
            Messaging::Bus(bus) => Arc::new(bus.clone()),
            Messaging::Nowhere => return,
        };
        let relay = Relay::new(outbox, publisher, Duration::from_secs(settings.outbox_retention_s));
        tasks.spawn(async move {
            relay.run(shutdown).await;
            Ok(())
        });
    }

    /// Feeds `handler` the domain events of its topics, until `shutdown`.
    pub fn consume(
        &self,
        tasks: &mut JoinSet<anyhow::Result<()>>,
        handler: Arc<dyn Handler>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        match self {
            Messaging::Kafka { publisher, settings } => {
                let consumer = KafkaConsumer::new(settings, publisher.clone(), handler)?;
                tasks.spawn(async move {
                    consumer.run(shutdown).await;
                    Ok(())
                });
            }
            Messaging::Bus(bus) => bus.subscribe(handler),
            Messaging::Nowhere => {}
        }
        Ok(())
    }
}
