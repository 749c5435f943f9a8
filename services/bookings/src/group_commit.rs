//! Group commit: the changes of concurrent requests (the pending bookings of holds, the tickets
//! of payments) are recorded in one transaction, so a rush of buyers costs the database one
//! commit per batch instead of one per buyer. The same batching serves a read that every
//! payment makes (the booking it pays for, with its units): one statement per batch.
//!
//! A request is still answered only once its own change is committed: each waits for the
//! answer of the batch it joined, with its own outcome in it (a payment whose hold ran out is
//! refused alone). If a batch fails (a unit the database refuses, say), each of its changes is
//! retried alone, so one bad change never fails the others; but a database that cannot be
//! reached fails the whole batch at once (each change alone would wait for it again, in turn).
//!
//! A change may come with a deadline (holds do). Its caller waits for the writer no longer than
//! that: one still queued then is given up and answered `unavailable`, and the writer, which
//! takes each change only if its caller has not given it up, never writes it. A batch commits
//! only before the earliest deadline among its changes; otherwise it rolls back, the changes
//! past their deadline are answered `unavailable`, and the others are written again together.
//!
//! Each group commit has one writer: while it commits a batch, the next one gathers, so the
//! batches grow with the load (up to [`MAX_BATCH`]) and the database pays one transaction per
//! round trip, however many requests wait. Several writers in parallel made smaller batches and
//! more transactions competing for the same cores: on the project's two-core machine, four
//! writers per group commit gave 3,700 durable holds a second through the split deployment (two
//! bookings replicas) where one gives 4,700 to 5,700, and 4,200 to 4,500 confirmations a second
//! where one gives 5,100 to 6,300 (BENCHMARKS.md, "An eighth session").

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use boxoffice_errors::{Code, Error};
use chrono::{DateTime, Utc};
use futures::FutureExt;
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
    /// Set by whichever comes first: the writer taking the change, or its caller giving it up
    /// at its deadline.
    taken: Arc<AtomicBool>,
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
        let (reply, mut answer) = oneshot::channel();
        let taken = Arc::new(AtomicBool::new(false));
        let pending = Pending { change, now, deadline, taken: taken.clone(), reply };
        let stopped = |_| Error::unavailable("the writer has stopped");
        let unanswered = |_| Error::internal("the writer stopped before answering");
        let Some(deadline) = deadline else {
            self.sender.send(pending).await.map_err(stopped)?;
            return answer.await.map_err(unanswered)?;
        };
        match tokio::time::timeout_at(deadline.into(), self.sender.send(pending)).await {
            Err(_) => return Err(too_late()),
            Ok(sent) => sent.map_err(stopped)?,
        }
        tokio::select! {
            answered = &mut answer => return answered.map_err(unanswered)?,
            () = tokio::time::sleep_until(deadline.into()) => {}
        }
        // Still queued: given up, and never written. Taken: its batch commits before the
        // deadline or not at all, and its answer says which.
        if !taken.swap(true, Ordering::AcqRel) {
            return Err(too_late());
        }
        answer.await.map_err(unanswered)?
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
        // What queued while the last batch was being written; at least one change. A change
        // whose caller gave it up is dropped (its caller was answered).
        let Some(first) = receiver.recv().await else { return };
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(pending) = next {
            if !pending.taken.swap(true, Ordering::AcqRel) {
                batch.push(pending);
            }
            next = if batch.len() < MAX_BATCH { receiver.try_recv().ok() } else { None };
        }
        write_batch(name, &write, batch, on_failure).await;
    }
}

/// Writes `batch` and answers each of its changes.
async fn write_batch<T: Clone, O>(
    name: &'static str,
    write: &WriteBatch<T, O>,
    mut batch: Vec<Pending<T, O>>,
    on_failure: OnFailure,
) {
    loop {
        let started = Instant::now();
        let (late, on_time): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|pending| pending.deadline.is_some_and(|deadline| deadline <= started));
        batch = on_time;
        for pending in late {
            let _ = pending.reply.send(Err(too_late()));
        }
        if batch.is_empty() {
            return;
        }
        let deadline = batch.iter().filter_map(|pending| pending.deadline).min();
        let now = batch.iter().map(|pending| pending.now).max().unwrap_or_else(Utc::now);
        let changes: Vec<T> = batch.iter().map(|pending| pending.change.clone()).collect();
        let size = batch.len();
        let error = match guarded(write(changes, now, deadline)).await {
            Ok(outcomes) if outcomes.len() == size => {
                metrics::histogram!("bookings_commit_batch_size", "of" => name).record(size as f64);
                metrics::histogram!("bookings_commit_batch_seconds", "of" => name)
                    .record(started.elapsed().as_secs_f64());
                for (pending, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = pending.reply.send(Ok(outcome));
                }
                return;
            }
            Ok(_) => Error::internal("a batch was answered with too few outcomes"),
            Err(error) => error,
        };
        metrics::counter!("bookings_commit_batch_failures_total", "of" => name).increment(1);
        if size > 1 && deadline.is_some_and(|deadline| deadline <= Instant::now()) {
            // Its earliest deadline passed: those past theirs are answered, the rest go again.
            continue;
        }
        if size == 1 || matches!(on_failure, OnFailure::All) || error.code == Code::Unavailable {
            for pending in batch {
                let _ = pending.reply.send(Err(error.clone()));
            }
            return;
        }
        for pending in batch {
            let alone = guarded(write(vec![pending.change], pending.now, pending.deadline)).await;
            let outcome = alone.and_then(|outcomes| {
                outcomes
                    .into_iter()
                    .next()
                    .ok_or_else(|| Error::internal("a change was answered with no outcome"))
            });
            let _ = pending.reply.send(outcome);
        }
        return;
    }
}

/// A write, with a panic in it turned into an error, so that the writer goes on.
async fn guarded<O>(write: BoxFuture<'static, Result<Vec<O>, Error>>) -> Result<Vec<O>, Error> {
    AssertUnwindSafe(write)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(Error::internal("a batch's write panicked")))
}

/// The answer to a change that could not be recorded before its deadline: the database was too
/// slow or away, and the change was given up, so the caller may try again.
pub(crate) fn too_late() -> Error {
    Error::unavailable("the hold could not be recorded before its deadline")
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::Mutex;
    use std::time::Duration;

    use tokio::sync::Semaphore;
    use tokio::task::JoinHandle;

    use super::*;

    type Batches = Arc<Mutex<Vec<Vec<i32>>>>;

    /// A write that records each batch's changes, waits for `gate`, then answers each change
    /// ten times itself, or fails as `fails` says of the batch.
    fn gated_write(
        gate: Arc<Semaphore>,
        batches: Batches,
        fails: fn(&[i32]) -> Option<BoxFuture<'static, Error>>,
    ) -> WriteBatch<i32, i32> {
        Arc::new(move |changes: Vec<i32>, _now, _deadline| {
            let (gate, batches) = (gate.clone(), batches.clone());
            Box::pin(async move {
                batches.lock().unwrap().push(changes.clone());
                gate.acquire().await.expect("the gate stays open").forget();
                if let Some(failure) = fails(&changes) {
                    return Err(failure.await);
                }
                Ok(changes.iter().map(|change| change * 10).collect())
            })
        })
    }

    /// A failing write's error, once `error` is ready.
    fn failing(error: impl Future<Output = Error> + Send + 'static) -> BoxFuture<'static, Error> {
        Box::pin(error)
    }

    /// Negative changes are bad ones.
    fn negatives_refused(changes: &[i32]) -> Option<BoxFuture<'static, Error>> {
        changes
            .iter()
            .any(|change| *change < 0)
            .then(|| failing(async { Error::validation("a negative change") }))
    }

    struct Harness {
        gate: Arc<Semaphore>,
        batches: Batches,
        commit: GroupCommit<i32, i32>,
    }

    impl Harness {
        fn new(fails: fn(&[i32]) -> Option<BoxFuture<'static, Error>>) -> Harness {
            let gate = Arc::new(Semaphore::new(0));
            let batches = Batches::default();
            let commit = GroupCommit::start("test", gated_write(gate.clone(), batches.clone(), fails));
            Harness { gate, batches, commit }
        }

        fn record(&self, change: i32, deadline: Option<Instant>) -> JoinHandle<Result<i32, Error>> {
            let commit = self.commit.clone();
            tokio::spawn(async move { commit.record(change, Utc::now(), deadline).await })
        }

        /// Records `change`, and waits until the writer is writing it, at the gate.
        async fn block_with(&self, change: i32) -> JoinHandle<Result<i32, Error>> {
            let answer = self.record(change, None);
            while self.batches.lock().unwrap().is_empty() {
                tokio::task::yield_now().await;
            }
            answer
        }

        /// Waits until `count` changes wait in the queue.
        async fn queued(&self, count: usize) {
            while QUEUE_CAPACITY - self.commit.sender.capacity() < count {
                tokio::task::yield_now().await;
            }
        }

        fn batches(&self) -> Vec<Vec<i32>> {
            self.batches.lock().unwrap().clone()
        }
    }

    /// Every test is bounded: a writer that stalls fails it instead of hanging it.
    async fn within<F: Future>(test: F) -> F::Output {
        tokio::time::timeout(Duration::from_secs(20), test).await.expect("the test ends in time")
    }

    async fn answers(answers: Vec<JoinHandle<Result<i32, Error>>>) -> Vec<Result<i32, Error>> {
        futures::future::join_all(answers).await.into_iter().map(|answer| answer.unwrap()).collect()
    }

    #[tokio::test]
    async fn what_queues_while_a_batch_is_written_is_written_together_next() {
        within(async {
            let harness = Harness::new(negatives_refused);
            let first = harness.block_with(1).await;
            let rest: Vec<_> = (2..=11).map(|change| harness.record(change, None)).collect();
            harness.queued(10).await;
            harness.gate.add_permits(2);
            assert_eq!(first.await.unwrap().unwrap(), 10);
            let outcomes: Vec<i32> = answers(rest).await.into_iter().map(Result::unwrap).collect();
            assert_eq!(
                outcomes,
                (2..=11).map(|change| change * 10).collect::<Vec<_>>(),
                "each its own outcome"
            );
            assert_eq!(harness.batches(), vec![vec![1], (2..=11).collect::<Vec<_>>()]);
        })
        .await;
    }

    #[tokio::test]
    async fn a_failed_batch_is_retried_change_by_change() {
        within(async {
            let harness = Harness::new(negatives_refused);
            let blocker = harness.block_with(0).await;
            let rest = [1, -2, 3].into_iter().map(|change| harness.record(change, None)).collect();
            harness.queued(3).await;
            harness.gate.add_permits(5);
            assert_eq!(blocker.await.unwrap().unwrap(), 0);
            let outcomes = answers(rest).await;
            assert_eq!(outcomes[0].as_ref().unwrap(), &10);
            assert_eq!(
                outcomes[1].as_ref().unwrap_err().code,
                Code::ValidationFailed,
                "the bad change alone fails"
            );
            assert_eq!(outcomes[2].as_ref().unwrap(), &30);
            assert_eq!(harness.batches(), vec![vec![0], vec![1, -2, 3], vec![1], vec![-2], vec![3]]);
        })
        .await;
    }

    #[tokio::test]
    async fn a_database_that_cannot_be_reached_fails_the_batch_at_once() {
        fn away(changes: &[i32]) -> Option<BoxFuture<'static, Error>> {
            (changes.len() > 1).then(|| failing(async { Error::unavailable("the database is away") }))
        }
        within(async {
            let harness = Harness::new(away);
            let blocker = harness.block_with(0).await;
            let rest = [1, 2, 3].into_iter().map(|change| harness.record(change, None)).collect();
            harness.queued(3).await;
            harness.gate.add_permits(2);
            assert_eq!(blocker.await.unwrap().unwrap(), 0);
            for outcome in answers(rest).await {
                assert_eq!(outcome.unwrap_err().code, Code::Unavailable);
            }
            assert_eq!(harness.batches(), vec![vec![0], vec![1, 2, 3]], "not written again one by one");
        })
        .await;
    }

    #[tokio::test]
    async fn a_change_still_queued_at_its_deadline_is_given_up_and_never_written() {
        within(async {
            let harness = Harness::new(negatives_refused);
            let blocker = harness.block_with(1).await;
            let given_up = harness.record(2, Some(Instant::now() + Duration::from_millis(50))).await.unwrap();
            assert_eq!(given_up.unwrap_err().code, Code::Unavailable, "answered at its deadline");
            harness.gate.add_permits(2);
            assert_eq!(blocker.await.unwrap().unwrap(), 10);
            assert_eq!(harness.record(3, None).await.unwrap().unwrap(), 30);
            assert_eq!(harness.batches(), vec![vec![1], vec![3]], "the change given up was not written");
        })
        .await;
    }

    #[tokio::test]
    async fn a_change_past_its_deadline_is_not_written() {
        within(async {
            let harness = Harness::new(negatives_refused);
            let answer = harness.commit.record(7, Utc::now(), Some(Instant::now())).await;
            assert_eq!(answer.unwrap_err().code, Code::Unavailable);
            assert!(harness.batches().is_empty());
        })
        .await;
    }

    #[tokio::test]
    async fn when_a_batch_misses_its_earliest_deadline_the_others_go_again_together() {
        /// A batch holding 1 takes long enough to miss 1's deadline, and fails as a write past
        /// its deadline does.
        fn slow_with_one(changes: &[i32]) -> Option<BoxFuture<'static, Error>> {
            changes.contains(&1).then(|| {
                failing(async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    too_late()
                })
            })
        }
        within(async {
            let harness = Harness::new(slow_with_one);
            let blocker = harness.block_with(0).await;
            let soon = Instant::now() + Duration::from_millis(200);
            let later = Instant::now() + Duration::from_secs(10);
            let rest = vec![
                harness.record(1, Some(soon)),
                harness.record(2, Some(later)),
                harness.record(3, Some(later)),
            ];
            harness.queued(3).await;
            harness.gate.add_permits(3);
            assert_eq!(blocker.await.unwrap().unwrap(), 0);
            let outcomes = answers(rest).await;
            assert_eq!(outcomes[0].as_ref().unwrap_err().code, Code::Unavailable);
            assert_eq!(outcomes[1].as_ref().unwrap(), &20);
            assert_eq!(outcomes[2].as_ref().unwrap(), &30);
            assert_eq!(harness.batches(), vec![vec![0], vec![1, 2, 3], vec![2, 3]]);
        })
        .await;
    }

    #[tokio::test]
    async fn a_write_that_panics_fails_its_batch_and_the_writer_goes_on() {
        fn panics_on_thirteen(changes: &[i32]) -> Option<BoxFuture<'static, Error>> {
            assert!(!changes.contains(&13), "thirteen");
            None
        }
        within(async {
            let harness = Harness::new(panics_on_thirteen);
            harness.gate.add_permits(10);
            let panicked = harness.record(13, None).await.unwrap();
            assert_eq!(panicked.unwrap_err().code, Code::Internal);
            assert_eq!(harness.record(5, None).await.unwrap().unwrap(), 50);
        })
        .await;
    }
}
