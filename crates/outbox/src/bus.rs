//! The in-process bus of the embedded default: the relays publish to it, and it hands each
//! relay round's messages to every subscribed handler, as one batch per handler, before the
//! relay marks them sent, so delivery is at least once here too, across restarts (unsent rows
//! are published again on start).

use std::sync::{Arc, RwLock};

use crate::consumer::{Delivered, Handler};
use crate::relay::Publisher;
use crate::Pending;

#[derive(Clone, Default)]
pub struct Bus {
    handlers: Arc<RwLock<Vec<Arc<dyn Handler>>>>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").finish_non_exhaustive()
    }
}

impl Bus {
    pub fn new() -> Self {
        Bus::default()
    }

    /// Adds a handler for the messages published from now on.
    pub fn subscribe(&self, handler: Arc<dyn Handler>) {
        self.handlers.write().unwrap_or_else(|poisoned| poisoned.into_inner()).push(handler);
    }
}

#[async_trait::async_trait]
impl Publisher for Bus {
    async fn publish(&self, rows: &[Pending]) -> anyhow::Result<()> {
        let handlers = self.handlers.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        let mut messages = Vec::with_capacity(rows.len());
        for row in rows {
            match Delivered::parse(row.topic, &row.envelope) {
                Ok(message) => messages.push(message.traced(row.trace.clone())),
                Err(reason) => dead_letter(row.topic.as_str(), &reason),
            }
        }
        // Each handler gets the messages of its topics as one batch, in the rows' order.
        for handler in &handlers {
            let theirs: Vec<Delivered> = messages
                .iter()
                .filter(|message| handler.topics().contains(&message.topic))
                .cloned()
                .collect();
            if theirs.is_empty() {
                continue;
            }
            let dead = handler
                .handle_batch(&theirs)
                .await
                .map_err(|error| error.context(format!("{} handling domain events", handler.name())))?;
            for (_, reason) in dead {
                dead_letter(handler.name(), &reason);
            }
        }
        Ok(())
    }
}

/// In one process there is no dead-letter topic: the message is logged, counted and skipped.
fn dead_letter(consumer: &str, reason: &str) {
    metrics::counter!("domain_events_dead_lettered_total", "consumer" => consumer.to_owned()).increment(1);
    tracing::error!(consumer, reason, "a domain event cannot be handled; skipped");
}
