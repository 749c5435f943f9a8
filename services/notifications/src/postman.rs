//! Sending the emails the consumer queued: claim those due, write each for its recipient as the
//! account is now, hand it to the mail server (or write it to a file), and record the outcome.
//! A failure that may pass (the mail server, the users service or the database away; the
//! event not known yet) is tried again later, waiting twice as long each time
//! ([`retry_wait`]), up to [`MAX_ATTEMPTS`]; one that cannot pass (an invalid address, a
//! permanent SMTP refusal) ends the email as failed at once.
//!
//! An email is marked sent right after the mail server took it; a process killed between the
//! two sends it again when its claim runs out ([`CLAIM_LEASE`]), with the same Message-ID.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt as _;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::{retry_wait, MailJob, MailStatus, CLAIM_LEASE, KEPT_FOR, MAX_ATTEMPTS};
use crate::letters;
use crate::service::Notifications;

/// Emails claimed at once.
const CLAIM_BATCH: u32 = 32;
/// Emails being written and sent at the same time.
const SEND_CONCURRENCY: usize = 4;
/// How often the postman looks for emails due without being woken (retries, other replicas').
const POLL: Duration = Duration::from_secs(1);
/// How often finished emails are purged and the backlog measured.
const HOUSEKEEPING: Duration = Duration::from_secs(60);
/// The longest wait for the mail server's answer.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where emails go.
#[derive(Clone)]
pub enum Outgoing {
    /// A mail server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a folder, one per email, named by its id: the embedded default.
    Files(PathBuf),
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The SMTP URL holds the mail server's password: never shown.
        match self {
            Outgoing::Smtp(_) => f.write_str("Outgoing::Smtp"),
            Outgoing::Files(folder) => f.debug_tuple("Outgoing::Files").field(folder).finish(),
        }
    }
}

impl Outgoing {
    /// SMTP at `url` (`smtp://user:password@host:587?tls=required` for STARTTLS, `smtps://...`
    /// for TLS from the first byte, plain `smtp://host:25` on a trusted network), or files in
    /// `folder`.
    pub fn new(smtp_url: Option<&str>, folder: PathBuf) -> anyhow::Result<Self> {
        Ok(match smtp_url {
            Some(url) => Outgoing::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    // The URL is not repeated: it may hold a password.
                    .map_err(|error| anyhow::anyhow!("BOXOFFICE_SMTP_URL is not a valid SMTP URL: {error}"))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
            ),
            None => Outgoing::Files(folder),
        })
    }

    async fn send(&self, mail_id: Uuid, message: Message) -> Result<(), Failure> {
        match self {
            Outgoing::Smtp(transport) => match transport.send(message).await {
                Ok(_) => Ok(()),
                Err(error) if error.is_permanent() => {
                    Err(Failure::Permanent(format!("the mail server refused it: {error}")))
                }
                Err(error) => Err(Failure::Transient(format!("the mail server: {error}"))),
            },
            Outgoing::Files(folder) => {
                let write = async {
                    tokio::fs::create_dir_all(folder).await?;
                    // Written aside, then renamed: a reader never sees half an email.
                    let partial = folder.join(format!(".{mail_id}.eml.partial"));
                    tokio::fs::write(&partial, message.formatted()).await?;
                    tokio::fs::rename(&partial, folder.join(format!("{mail_id}.eml"))).await
                };
                write
                    .await
                    .map_err(|error| Failure::Transient(format!("writing to {}: {error}", folder.display())))
            }
        }
    }
}

/// Why an email was not sent this time.
#[derive(Debug)]
enum Failure {
    /// Trying again may work.
    Transient(String),
    /// Trying again will not.
    Permanent(String),
}

/// What became of an email this time.
enum Sent {
    Sent,
    /// The account does not exist: nobody to write to.
    NoRecipient,
}

/// Sends the emails due until `shutdown`; the emails it was sending are finished first.
pub async fn run_postman(notifications: Notifications, shutdown: CancellationToken) {
    let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
    loop {
        let now = Utc::now();
        let lease_until = now + CLAIM_LEASE;
        match notifications.store().claim_due(now, lease_until, CLAIM_BATCH).await {
            Ok(jobs) if !jobs.is_empty() => {
                futures::stream::iter(jobs)
                    .for_each_concurrent(SEND_CONCURRENCY, |job| deliver(&notifications, job))
                    .await;
                if !shutdown.is_cancelled() {
                    continue;
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot read the emails due; trying again"),
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = notifications.postman_woken() => {}
            () = tokio::time::sleep(POLL) => {}
            _ = housekeeping.tick() => keep_house(&notifications).await,
        }
    }
}

async fn keep_house(notifications: &Notifications) {
    let store = notifications.store();
    let before = Utc::now() - KEPT_FOR;
    if let Err(error) = store.purge(before).await {
        tracing::warn!(%error, "cannot purge old emails");
    }
    match store.pending().await {
        Ok(pending) => metrics::gauge!("notifications_pending").set(pending as f64),
        Err(error) => tracing::warn!(%error, "cannot count the emails waiting"),
    }
}

/// Tries to send `job` once, and records what became of it.
async fn deliver(notifications: &Notifications, job: MailJob) {
    let kind = job.details.kind().as_str();
    let outcome = send(notifications, &job).await;
    let now = Utc::now();
    let store = notifications.store();
    let recorded = match outcome {
        Ok(Sent::Sent) => {
            metrics::counter!("notifications_emails_total", "kind" => kind, "outcome" => "sent").increment(1);
            tracing::info!(mail_id = %job.id, kind, "email sent");
            store.finish(job.id, MailStatus::Sent, None, now).await
        }
        Ok(Sent::NoRecipient) => {
            metrics::counter!("notifications_emails_total", "kind" => kind, "outcome" => "skipped")
                .increment(1);
            tracing::info!(mail_id = %job.id, kind, user_id = %job.user_id, "no account to email; skipped");
            store.finish(job.id, MailStatus::Skipped, Some("no such account"), now).await
        }
        Err(Failure::Transient(reason)) if job.attempts < MAX_ATTEMPTS => {
            metrics::counter!("notifications_send_retries_total", "kind" => kind).increment(1);
            let wait = retry_wait(job.attempts);
            tracing::warn!(mail_id = %job.id, kind, attempts = job.attempts, ?wait, reason, "email not sent; will try again");
            store.retry_at(job.id, now + wait, &reason).await
        }
        Err(Failure::Transient(reason) | Failure::Permanent(reason)) => {
            metrics::counter!("notifications_emails_total", "kind" => kind, "outcome" => "failed")
                .increment(1);
            tracing::error!(mail_id = %job.id, kind, attempts = job.attempts, reason, "email given up");
            store.finish(job.id, MailStatus::Failed, Some(&reason), now).await
        }
    };
    if let Err(error) = recorded {
        tracing::error!(mail_id = %job.id, %error, "cannot record what became of an email; it is tried again after its claim");
    }
}

async fn send(notifications: &Notifications, job: &MailJob) -> Result<Sent, Failure> {
    let recipient = notifications
        .users()
        .recipient(job.user_id)
        .await
        .map_err(|error| Failure::Transient(format!("the users service: {error}")))?;
    let Some(recipient) = recipient else {
        return Ok(Sent::NoRecipient);
    };
    let event = notifications
        .store()
        .event(job.event_id)
        .await
        .map_err(|error| Failure::Transient(format!("reading the event: {error}")))?
        // Its domain events come on another topic, which may be behind this one.
        .ok_or_else(|| Failure::Transient(format!("event {} is not known yet", job.event_id)))?;
    let written = letters::write(job, &recipient, &event, Utc::now())
        .and_then(|letter| letters::message(letter, job.id, notifications.from(), &recipient))
        .map_err(|error| Failure::Permanent(error.to_string()))?;
    notifications.outgoing().send(job.id, written).await?;
    Ok(Sent::Sent)
}
