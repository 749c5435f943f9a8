//! Group commit: the pending bookings of concurrent holds are recorded in one transaction, so a
//! rush of buyers costs the database one commit per batch instead of one per buyer.
//!
//! A hold is still acknowledged only once its own booking is committed: each waits for the
//! answer of the batch it joined. If a batch fails (a unit the database refuses, say), each of
//! its holds is retried alone, so one bad hold never fails the others.
//!
//! Every hold comes with its deadline: one already past when a writer takes it is answered
//! `unavailable` without touching the database, and a batch commits only before the earliest
//! deadline among its holds (otherwise it rolls back, and each is retried alone, within its own).

use std::sync::Arc;
use std::time::Instant;

use boxoffice_errors::Error;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::db::{BookingDb, NewHold};

/// Holds recorded in one transaction at most.
pub const MAX_BATCH: usize = 256;
/// Transactions in flight at once: PostgreSQL commits them in parallel (SQLite in turn).
pub const WRITERS: usize = 4;
/// Holds waiting for a writer at most; beyond that a hold waits to be queued.
const QUEUE_CAPACITY: usize = 4_096;

struct Pending {
    hold: NewHold,
    now: DateTime<Utc>,
    deadline: Instant,
    reply: oneshot::Sender<Result<(), Error>>,
}

#[derive(Clone)]
pub struct GroupCommit {
    sender: mpsc::Sender<Pending>,
}

impl GroupCommit {
    /// Starts the writers; they stop when the last clone of this is dropped.
    pub fn start(db: Arc<dyn BookingDb>) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..WRITERS {
            tokio::spawn(write(db.clone(), receiver.clone()));
        }
        GroupCommit { sender }
    }

    /// Records one hold, in whatever batch it joins, and answers once it is committed; or with
    /// [`too_late`] if it cannot be committed before `deadline`, and then it never is.
    pub async fn insert(&self, hold: NewHold, now: DateTime<Utc>, deadline: Instant) -> Result<(), Error> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Pending { hold, now, deadline, reply })
            .await
            .map_err(|_| Error::unavailable("the booking writers have stopped"))?;
        answer.await.map_err(|_| Error::internal("a booking writer stopped before answering"))?
    }
}

async fn write(db: Arc<dyn BookingDb>, receiver: Arc<Mutex<mpsc::Receiver<Pending>>>) {
    loop {
        let batch = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else { return };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(pending) => batch.push(pending),
                    Err(_) => break,
                }
            }
            batch
        };
        let started = Instant::now();
        let (late, batch): (Vec<Pending>, Vec<Pending>) =
            batch.into_iter().partition(|pending| pending.deadline <= started);
        for pending in late {
            let _ = pending.reply.send(Err(too_late()));
        }
        let Some(deadline) = batch.iter().map(|pending| pending.deadline).min() else { continue };
        let now = batch.iter().map(|pending| pending.now).max().unwrap_or_else(Utc::now);
        let holds: Vec<NewHold> = batch.iter().map(|pending| pending.hold.clone()).collect();
        match db.insert_pending(&holds, now, deadline).await {
            Ok(()) => {
                metrics::histogram!("bookings_commit_batch_size").record(batch.len() as f64);
                for pending in batch {
                    let _ = pending.reply.send(Ok(()));
                }
            }
            Err(error) if batch.len() == 1 => {
                let pending = batch.into_iter().next().expect("a batch of one");
                let _ = pending.reply.send(Err(error));
            }
            Err(_) => {
                for pending in batch {
                    let result = db
                        .insert_pending(std::slice::from_ref(&pending.hold), pending.now, pending.deadline)
                        .await;
                    let _ = pending.reply.send(result);
                }
            }
        }
    }
}

/// The answer to a hold that could not be recorded before its deadline: the database was too
/// slow or away, and the hold was given up, so the caller may try again.
pub(crate) fn too_late() -> Error {
    Error::unavailable("the hold could not be recorded before its deadline")
}
