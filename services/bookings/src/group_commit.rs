//! Group commit: the changes of concurrent requests (the pending bookings of holds, the tickets
//! of payments) are recorded in one transaction, so a rush of buyers costs the database one
//! commit per batch instead of one per buyer. The same batching serves a read that every
//! payment makes (the booking it pays for, with its units): one statement per batch.
//!
//! A request is still answered only once its own change is committed: each waits for the
//! answer of the batch it joined, with its own outcome in it (a payment whose hold ran out is
//! refused alone). If a batch fails (a unit the database refuses, say), each of its changes is
//! retried alone, so one bad change never fails the others.
//!
//! A change may come with a deadline (holds do): one already past when a writer takes it is
//! answered `unavailable` without touching the database, and a batch commits only before the
//! earliest deadline among its changes (otherwise it rolls back, and each is retried alone,
//! within its own).

use std::sync::Arc;
use std::time::Instant;

use boxoffice_errors::Error;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::inventory::BoxFuture;

/// Changes recorded in one transaction at most.
pub const MAX_BATCH: usize = 256;
/// Transactions in flight at once: PostgreSQL commits them in parallel (SQLite in turn).
pub const WRITERS: usize = 4;
/// Changes waiting for a writer at most; beyond that a request waits to be queued.
const QUEUE_CAPACITY: usize = 4_096;

/// Writes a batch of changes in one transaction, committed before the deadline if one is given,
/// and gives each its outcome, in order; or fails them all (nothing of the batch is committed).
pub type WriteBatch<T, O> = Arc<
    dyn Fn(Vec<T>, DateTime<Utc>, Option<Instant>) -> BoxFuture<'static, Result<Vec<O>, Error>> + Send + Sync,
>;

struct Pending<T, O> {
    change: T,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
    reply: oneshot::Sender<Result<O, Error>>,
}

/// Records changes of type `T` in shared transactions; each gets its outcome `O`.
pub struct GroupCommit<T, O> {
    sender: mpsc::Sender<Pending<T, O>>,
}

impl<T, O> Clone for GroupCommit<T, O> {
    fn clone(&self) -> Self {
        GroupCommit { sender: self.sender.clone() }
    }
}

impl<T: Clone + Send + 'static, O: Send + 'static> GroupCommit<T, O> {
    /// Starts the writers; they stop when the last clone of this is dropped. `name` labels the
    /// batch metrics (size and seconds). A batch that fails is retried change by change.
    pub fn start(name: &'static str, write: WriteBatch<T, O>) -> Self {
        Self::start_with(name, write, OnFailure::EachAlone)
    }

    /// As [`GroupCommit::start`], for reads: a batch that fails answers every change of it with
    /// its error, since reading them one by one would fail the same way, only slower.
    pub fn start_reads(name: &'static str, read: WriteBatch<T, O>) -> Self {
        Self::start_with(name, read, OnFailure::All)
    }

    fn start_with(name: &'static str, write: WriteBatch<T, O>, on_failure: OnFailure) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..WRITERS {
            tokio::spawn(writer(name, write.clone(), receiver.clone(), on_failure));
        }
        GroupCommit { sender }
    }

    /// Records one change, in whatever batch it joins, and answers with its outcome once it is
    /// committed; or with [`too_late`] if it cannot be committed before `deadline`, and then it
    /// never is.
    pub async fn record(&self, change: T, now: DateTime<Utc>, deadline: Option<Instant>) -> Result<O, Error> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Pending { change, now, deadline, reply })
            .await
            .map_err(|_| Error::unavailable("the writers have stopped"))?;
        answer.await.map_err(|_| Error::internal("a writer stopped before answering"))?
    }
}

/// What a writer does with a batch that failed.
#[derive(Clone, Copy)]
enum OnFailure {
    /// Writes each change of it alone, so that one bad change never fails the others.
    EachAlone,
    /// Answers every change of it with the batch's error.
    All,
}

async fn writer<T: Clone, O>(
    name: &'static str,
    write: WriteBatch<T, O>,
    receiver: Arc<Mutex<mpsc::Receiver<Pending<T, O>>>>,
    on_failure: OnFailure,
) {
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
        let (late, batch): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|pending| pending.deadline.is_some_and(|deadline| deadline <= started));
        for pending in late {
            let _ = pending.reply.send(Err(too_late()));
        }
        if batch.is_empty() {
            continue;
        }
        let deadline = batch.iter().filter_map(|pending| pending.deadline).min();
        let now = batch.iter().map(|pending| pending.now).max().unwrap_or_else(Utc::now);
        let changes: Vec<T> = batch.iter().map(|pending| pending.change.clone()).collect();
        let size = batch.len();
        match write(changes, now, deadline).await {
            Ok(outcomes) if outcomes.len() == size => {
                metrics::histogram!("bookings_commit_batch_size", "of" => name).record(size as f64);
                metrics::histogram!("bookings_commit_batch_seconds", "of" => name)
                    .record(started.elapsed().as_secs_f64());
                for (pending, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = pending.reply.send(Ok(outcome));
                }
            }
            Ok(_) => {
                for pending in batch {
                    let _ = pending
                        .reply
                        .send(Err(Error::internal("a batch was answered with too few outcomes")));
                }
            }
            Err(error) if size == 1 || matches!(on_failure, OnFailure::All) => {
                for pending in batch {
                    let _ = pending.reply.send(Err(error.clone()));
                }
            }
            Err(_) => {
                for pending in batch {
                    let alone = write(vec![pending.change], pending.now, pending.deadline).await;
                    let outcome = alone.and_then(|outcomes| {
                        outcomes
                            .into_iter()
                            .next()
                            .ok_or_else(|| Error::internal("a change was answered with no outcome"))
                    });
                    let _ = pending.reply.send(outcome);
                }
            }
        }
    }
}

/// The answer to a change that could not be recorded before its deadline: the database was too
/// slow or away, and the change was given up, so the caller may try again.
pub(crate) fn too_late() -> Error {
    Error::unavailable("the hold could not be recorded before its deadline")
}
