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
//! A change may come with a deadline (holds do): one already past when the writer takes it is
//! answered `unavailable` without touching the database, and a batch commits only before the
//! earliest deadline among its changes (otherwise it rolls back, and each is retried alone,
//! within its own).
//!
//! Each group commit has one writer: while it commits a batch, the next one gathers, so the
//! batches grow with the load and the database pays one transaction per round trip, however
//! many requests wait. Several writers in parallel made smaller batches and more transactions
//! competing for the same cores: on the project's two-core machine, four writers per group
//! commit gave 3,700 durable holds a second through the split deployment (two bookings
//! replicas) where one gives 4,700 to 5,700, and 4,200 to 4,500 confirmations a second where
//! one gives 5,100 to 6,300 (BENCHMARKS.md, "An eighth session").

use std::sync::Arc;
use std::time::Instant;

use boxoffice_errors::Error;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::inventory::BoxFuture;

/// Changes recorded in one transaction at most.
pub const MAX_BATCH: usize = 256;
/// Changes waiting for the writer at most; beyond that a request waits to be queued.
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
    /// Starts the writer; it stops when the last clone of this is dropped. `name` labels the
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
        tokio::spawn(writer(name, write, receiver, on_failure));
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
            .map_err(|_| Error::unavailable("the writer has stopped"))?;
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
    mut receiver: mpsc::Receiver<Pending<T, O>>,
    on_failure: OnFailure,
) {
    loop {
        // What queued while the last batch was being written; at least one change.
        let Some(first) = receiver.recv().await else { return };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::sync::Semaphore;

    use super::*;

    /// A write that records each batch's changes, then waits for `gate`, and fails any batch
    /// holding a negative change.
    fn gated_write(gate: Arc<Semaphore>, batches: Arc<Mutex<Vec<Vec<i32>>>>) -> WriteBatch<i32, i32> {
        Arc::new(move |changes: Vec<i32>, _now, _deadline| {
            let (gate, batches) = (gate.clone(), batches.clone());
            Box::pin(async move {
                batches.lock().unwrap().push(changes.clone());
                gate.acquire().await.expect("the gate stays open").forget();
                if changes.iter().any(|change| *change < 0) {
                    return Err(Error::validation("a negative change"));
                }
                Ok(changes.iter().map(|change| change * 10).collect())
            })
        })
    }

    /// Waits until `count` changes wait in the queue of `commit`.
    async fn queued(commit: &GroupCommit<i32, i32>, count: usize) {
        while QUEUE_CAPACITY - commit.sender.capacity() < count {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn what_queues_while_a_batch_is_written_is_written_together_next() {
        let gate = Arc::new(Semaphore::new(0));
        let batches = Arc::new(Mutex::new(Vec::new()));
        let commit = GroupCommit::start("test", gated_write(gate.clone(), batches.clone()));
        let first = tokio::spawn({
            let commit = commit.clone();
            async move { commit.record(1, Utc::now(), None).await }
        });
        // The writer took the first change and waits at the gate; ten more arrive meanwhile.
        while batches.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let rest: Vec<_> = (2..=11)
            .map(|change| {
                let commit = commit.clone();
                tokio::spawn(async move { commit.record(change, Utc::now(), None).await })
            })
            .collect();
        queued(&commit, 10).await;
        gate.add_permits(2);
        assert_eq!(first.await.unwrap().unwrap(), 10);
        for (change, answer) in (2..=11).zip(rest) {
            assert_eq!(answer.await.unwrap().unwrap(), change * 10, "each change gets its own outcome");
        }
        assert_eq!(*batches.lock().unwrap(), vec![vec![1], (2..=11).collect::<Vec<_>>()]);
    }

    #[tokio::test]
    async fn a_failed_batch_is_retried_change_by_change() {
        let gate = Arc::new(Semaphore::new(0));
        let batches = Arc::new(Mutex::new(Vec::new()));
        let commit = GroupCommit::start("test", gated_write(gate.clone(), batches.clone()));
        let blocker = tokio::spawn({
            let commit = commit.clone();
            async move { commit.record(0, Utc::now(), None).await }
        });
        while batches.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let answers: Vec<_> = [1, -2, 3]
            .into_iter()
            .map(|change| {
                let commit = commit.clone();
                tokio::spawn(async move { commit.record(change, Utc::now(), None).await })
            })
            .collect();
        queued(&commit, 3).await;
        gate.add_permits(5);
        assert_eq!(blocker.await.unwrap().unwrap(), 0);
        let outcomes: Vec<_> =
            futures::future::join_all(answers).await.into_iter().map(|a| a.unwrap()).collect();
        assert_eq!(outcomes[0].as_ref().unwrap(), &10);
        assert!(outcomes[1].is_err(), "the bad change alone fails");
        assert_eq!(outcomes[2].as_ref().unwrap(), &30);
        assert_eq!(*batches.lock().unwrap(), vec![vec![0], vec![1, -2, 3], vec![1], vec![-2], vec![3]]);
    }

    #[tokio::test]
    async fn a_change_past_its_deadline_is_not_written() {
        let gate = Arc::new(Semaphore::new(10));
        let batches = Arc::new(Mutex::new(Vec::new()));
        let commit = GroupCommit::start("test", gated_write(gate, batches.clone()));
        let past = Instant::now();
        let answer = commit.record(7, Utc::now(), Some(past)).await;
        assert_eq!(answer.unwrap_err().code, boxoffice_errors::Code::Unavailable);
        assert!(batches.lock().unwrap().is_empty());
    }
}
