//! Sending the emails the consumer queued: claim those due (tickets first), write each for its
//! recipient as the account is now, hand it to the mail server (or write it to a file), and
//! record the outcome. A tickets email whose tickets are void by then (refunded, or the event
//! cancelled) is skipped. A failure is tried again later, waiting twice as long each time
//! ([`retry_wait`]), up to [`MAX_ATTEMPTS`]: the mail server, the users service or the database
//! away, the event not known yet, and every SMTP refusal too, since a 5xx as often means a
//! mail server misconfigured (a password rotated, a sender refused) as a bad recipient; only an
//! email that cannot be written (an invalid address) fails at once. `boxoffice mail
//! requeue-failed` puts failed emails back.
//!
//! Emails are claimed a round at a time ([`ROUND`]) and sent at the same time, and what became
//! of them is recorded as their tries end, those that end within a few milliseconds of one
//! another in one statement: a burst of confirmations costs the database one write for most of
//! a round's emails rather than one each. A process killed before an email's outcome is
//! recorded, or a record that fails, sends it again when its claim runs out ([`CLAIM_LEASE`]),
//! with the same Message-ID. A try never outlasts [`DELIVERY_TIMEOUT`], well within the claim,
//! and its outcome is recorded only while the claim is its own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::domain::{
    retry_wait, MailDetails, MailJob, Tried, TryOutcome, CLAIM_LEASE, DELIVERY_TIMEOUT, KEPT_FOR,
    MAX_ATTEMPTS,
};
use crate::letters;
use crate::service::Notifications;

/// Emails claimed at once, a round, then written and sent at the same time (so at most this many
/// connections to the mail server per replica). Each try ends within [`DELIVERY_TIMEOUT`], and
/// its outcome is recorded within [`RECORD_GATHER`] and [`RECORD_TIMEOUT`] more, all well within
/// the claim ([`CLAIM_LEASE`]).
const ROUND: u32 = 8;
/// How long the outcome of a try waits for the others of its round before they are recorded
/// together, in one statement.
const RECORD_GATHER: Duration = Duration::from_millis(20);
/// The longest wait for a record of outcomes.
const RECORD_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the postman looks for emails due without being woken (retries, other replicas').
const POLL: Duration = Duration::from_secs(1);
/// How often finished emails are purged and the backlog measured.
const HOUSEKEEPING: Duration = Duration::from_secs(60);
/// How long a stop waits for the emails being sent.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
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
    pub fn new(smtp_url: Option<&str>, ca_file: Option<&Path>, folder: PathBuf) -> anyhow::Result<Self> {
        Ok(match smtp_url {
            Some(url) => {
                let parsed = parse_smtp_url(url)?;
                refuse_password_in_clear(&parsed)?;
                let mut transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    // The URL is not repeated: it may hold a password.
                    .map_err(|error| anyhow::anyhow!("BOXOFFICE_SMTP_URL is not a valid SMTP URL: {error}"))?
                    .timeout(Some(SMTP_TIMEOUT));
                if let Some(ca_file) = ca_file {
                    transport = transport.tls(tls_trusting(&parsed, ca_file)?);
                }
                Outgoing::Smtp(transport.build())
            }
            None => {
                // The files hold bearer ticket codes: readable by the service's user only.
                boxoffice_db::create_private_dir(&folder)?;
                Outgoing::Files(folder)
            }
        })
    }

    async fn send(&self, mail_id: Uuid, message: Message) -> Result<(), Failure> {
        match self {
            // Every refusal is worth another try: a 5xx as often means a mail server
            // misconfigured (a password rotated, the sender refused) as a bad recipient.
            Outgoing::Smtp(transport) => transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|error| Failure::Transient(format!("the mail server: {error}"))),
            Outgoing::Files(folder) => {
                let write = async {
                    mail_folder_again(folder)?;
                    // Written aside, then renamed: a reader never sees half an email.
                    let partial = folder.join(format!(".{mail_id}.eml.partial"));
                    let mut options = tokio::fs::OpenOptions::new();
                    options.write(true).create(true).truncate(true);
                    #[cfg(unix)]
                    options.mode(0o600);
                    let mut file = options.open(&partial).await?;
                    tokio::io::AsyncWriteExt::write_all(&mut file, &message.formatted()).await?;
                    file.sync_all().await?;
                    tokio::fs::rename(&partial, folder.join(format!("{mail_id}.eml"))).await
                };
                write
                    .await
                    .map_err(|error| Failure::Transient(format!("writing to {}: {error}", folder.display())))
            }
        }
    }
}

/// The folder of the emails written as files, made again if it was removed, readable by the
/// service's user only (the files hold bearer ticket codes). The data folder it is in is not
/// made again: one that is gone is a deployment being taken away, not a place to write to.
fn mail_folder_again(folder: &Path) -> std::io::Result<()> {
    match boxoffice_db::private_dir_builder().create(folder) {
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        created => created,
    }
}

/// `BOXOFFICE_SMTP_URL`, read once for the checks below; lettre reads it on its own.
fn parse_smtp_url(text: &str) -> anyhow::Result<url::Url> {
    // Errors never repeat the URL: it may hold a password.
    url::Url::parse(text).map_err(|error| anyhow::anyhow!("BOXOFFICE_SMTP_URL is not a URL: {error}"))
}

/// The first `tls` parameter of an SMTP URL, as lettre reads it.
fn tls_parameter(url: &url::Url) -> Option<String> {
    url.query_pairs().find(|(name, _)| name == "tls").map(|(_, value)| value.into_owned())
}

/// The TLS of `url` (implicit for `smtps`, STARTTLS as its `tls` parameter says), trusting
/// the certificate authorities of `ca_file` besides the Mozilla roots.
fn tls_trusting(url: &url::Url, ca_file: &Path) -> anyhow::Result<Tls> {
    let host = url.host_str().ok_or_else(|| anyhow::anyhow!("BOXOFFICE_SMTP_URL names no host"))?;
    let pem = std::fs::read(ca_file)
        .with_context(|| format!("reading BOXOFFICE_SMTP_CA_FILE {}", ca_file.display()))?;
    let authority = Certificate::from_pem(&pem)
        .with_context(|| format!("BOXOFFICE_SMTP_CA_FILE {} is not a PEM certificate", ca_file.display()))?;
    let parameters = TlsParameters::builder(host.to_owned())
        .add_root_certificate(authority)
        .build()
        .context("setting up TLS for the mail server")?;
    Ok(match (url.scheme(), tls_parameter(url).as_deref()) {
        ("smtps", _) => Tls::Wrapper(parameters),
        (_, Some("required")) => Tls::Required(parameters),
        (_, Some("opportunistic")) => Tls::Opportunistic(parameters),
        _ => Tls::None,
    })
}

/// A password sent over a connection without TLS could be read on the way: an SMTP URL with
/// credentials must ask for TLS (`smtps://`, or `smtp://` with `tls=required` for STARTTLS).
fn refuse_password_in_clear(url: &url::Url) -> anyhow::Result<()> {
    let has_credentials = !url.username().is_empty() || url.password().is_some();
    let tls_required = url.scheme() == "smtps" || tls_parameter(url).as_deref() == Some("required");
    anyhow::ensure!(
        !has_credentials || tls_required,
        "BOXOFFICE_SMTP_URL has credentials but does not require TLS, so the password could cross the \
         network in clear: use smtps://... or add ?tls=required (STARTTLS)"
    );
    Ok(())
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
    /// Not sent, and never will be: why.
    Skipped(&'static str),
}

/// Sends the emails due until `shutdown`.
pub async fn run_postman(notifications: Notifications, shutdown: CancellationToken) {
    let mut last_housekeeping: Option<std::time::Instant> = None;
    loop {
        // By the clock, not in the wait below: a long backlog never holds it off.
        if last_housekeeping.is_none_or(|at| at.elapsed() >= HOUSEKEEPING) {
            keep_house(&notifications).await;
            last_housekeeping = Some(std::time::Instant::now());
        }
        let now = Utc::now();
        let lease_until = now + CLAIM_LEASE;
        match notifications.store().claim_due(now, lease_until, ROUND).await {
            Ok(jobs) if !jobs.is_empty() => {
                deliver_round(&notifications, jobs, &shutdown).await;
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
    store.record_pool_usage();
}

/// Tries to send every email of a round at once, and records what became of each as its try
/// ends: those that end within [`RECORD_GATHER`] of one another together, so that a slow try
/// never holds up the others' record. A stop waits a little for the emails being sent; those
/// still unsent are tried again after their claim.
async fn deliver_round(notifications: &Notifications, jobs: Vec<MailJob>, shutdown: &CancellationToken) {
    let mut sending: futures::stream::FuturesUnordered<_> =
        jobs.into_iter().map(|job| deliver(notifications, job)).collect();
    let mut tried = Vec::with_capacity(sending.len());
    let mut record_at: Option<tokio::time::Instant> = None;
    let grace = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::pin!(grace);
    loop {
        tokio::select! {
            next = futures::StreamExt::next(&mut sending) => match next {
                Some(one) => {
                    tried.push(one);
                    record_at.get_or_insert_with(|| tokio::time::Instant::now() + RECORD_GATHER);
                }
                None => break,
            },
            () = tokio::time::sleep_until(record_at.unwrap_or_else(tokio::time::Instant::now)), if record_at.is_some() => {
                record(notifications, std::mem::take(&mut tried)).await;
                record_at = None;
            }
            () = &mut grace => break,
        }
    }
    record(notifications, tried).await;
}

/// Records what became of `tried`, in one statement. An outcome not recorded leaves its email
/// to be tried again after its claim: one sent then goes out twice, with the same Message-ID.
async fn record(notifications: &Notifications, tried: Vec<Tried>) {
    if tried.is_empty() {
        return;
    }
    let error =
        match tokio::time::timeout(RECORD_TIMEOUT, notifications.store().record(&tried, Utc::now())).await {
            Ok(Ok(())) => return,
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {RECORD_TIMEOUT:?}"),
        };
    let mail_ids: Vec<String> = tried.iter().map(|tried| tried.id.to_string()).collect();
    tracing::error!(mail_ids = mail_ids.join(","), error,
        "cannot record what became of these emails; they are tried again after their claim (those sent, twice)");
}

/// Tries to send `job` once; what became of it.
async fn deliver(notifications: &Notifications, job: MailJob) -> Tried {
    let span =
        tracing::info_span!("email", kind = job.details.kind().as_str(), request_id = job.trace.request_id());
    job.trace.adopt(&span);
    deliver_in_span(notifications, job).instrument(span).await
}

async fn deliver_in_span(notifications: &Notifications, job: MailJob) -> Tried {
    let kind = job.details.kind().as_str();
    let outcome = match tokio::time::timeout(DELIVERY_TIMEOUT, send(notifications, &job)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(Failure::Transient(format!("no answer within {DELIVERY_TIMEOUT:?}"))),
    };
    let outcome = match outcome {
        Ok(Sent::Sent) => {
            metrics::counter!("notifications_emails_total", "kind" => kind, "outcome" => "sent").increment(1);
            tracing::info!(mail_id = %job.id, kind, "email sent");
            TryOutcome::Sent
        }
        Ok(Sent::Skipped(why)) => {
            metrics::counter!("notifications_emails_total", "kind" => kind, "outcome" => "skipped")
                .increment(1);
            tracing::info!(mail_id = %job.id, kind, user_id = %job.user_id, why, "email skipped");
            TryOutcome::Skipped(why)
        }
        Err(Failure::Transient(reason)) if job.attempts < MAX_ATTEMPTS => {
            metrics::counter!("notifications_send_retries_total", "kind" => kind).increment(1);
            let wait = retry_wait(job.attempts);
            tracing::warn!(mail_id = %job.id, kind, attempts = job.attempts, ?wait, reason, "email not sent; will try again");
            TryOutcome::Again { at: Utc::now() + wait, error: reason }
        }
        Err(Failure::Transient(reason) | Failure::Permanent(reason)) => {
            metrics::counter!("notifications_emails_total", "kind" => kind, "outcome" => "failed")
                .increment(1);
            tracing::error!(mail_id = %job.id, kind, attempts = job.attempts, reason, "email given up");
            TryOutcome::Failed(reason)
        }
    };
    Tried { id: job.id, attempts: job.attempts, outcome }
}

async fn send(notifications: &Notifications, job: &MailJob) -> Result<Sent, Failure> {
    let store = notifications.store();
    let transient =
        |what: &str, error: boxoffice_errors::Error| Failure::Transient(format!("{what}: {error}"));
    let recipient = notifications
        .users()
        .recipient(job.user_id)
        .await
        .map_err(|error| transient("the users service", error))?;
    let Some(recipient) = recipient else {
        return Ok(Sent::Skipped("no such account"));
    };
    if let MailDetails::Tickets { booking_id, .. } = &job.details {
        if !store.tickets_still_held(*booking_id).await.map_err(|error| transient("the database", error))? {
            return Ok(Sent::Skipped("the tickets were void before they could be sent"));
        }
    }
    let event = match store.event(job.event_id).await.map_err(|error| transient("the database", error))? {
        Some(event) => event,
        // The events topic has not told of it (it may be behind, or told of it before this
        // service ran): the events service knows.
        None => {
            let event = notifications
                .events()
                .event(job.event_id)
                .await
                .map_err(|error| transient("the events service", error))?
                .ok_or_else(|| Failure::Transient(format!("event {} is not known yet", job.event_id)))?;
            store.remember_event(&event).await.map_err(|error| transient("the database", error))?;
            event
        }
    };
    if event.ends_at < Utc::now() {
        // A consumer group new to a topic reads what Kafka still keeps: no email about an
        // event that is over.
        return Ok(Sent::Skipped("the event is over"));
    }
    let written = letters::write(job, &recipient, &event, notifications.from(), Utc::now())
        .and_then(|letter| letters::message(letter, job.id, notifications.from(), &recipient))
        .map_err(|error| Failure::Permanent(error.to_string()))?;
    notifications.outgoing().send(job.id, written).await?;
    Ok(Sent::Sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mail_folder_is_made_again_but_never_a_data_folder_that_is_gone() {
        let data = std::env::temp_dir().join(format!("boxoffice-postman-{}", Uuid::new_v4()));
        std::fs::create_dir(&data).unwrap();
        let folder = data.join("mail");
        mail_folder_again(&folder).unwrap();
        mail_folder_again(&folder).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&folder).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "the emails' folder is the service user's only");
        }
        std::fs::remove_dir_all(&data).unwrap();
        assert!(mail_folder_again(&folder).is_err());
        assert!(!data.exists(), "the data folder stays gone");
    }

    #[test]
    fn a_password_is_never_sent_without_tls() {
        for refused in [
            "smtp://user:secret@mail.example.com:587",
            "smtp://user:secret@mail.example.com?tls=opportunistic",
        ] {
            let error = refuse_password_in_clear(&parse_smtp_url(refused).unwrap()).unwrap_err().to_string();
            assert!(error.contains("does not require TLS"), "{error}");
            assert!(!error.contains("secret"), "the error repeats no password: {error}");
        }
        for accepted in [
            "smtps://user:secret@mail.example.com",
            "smtp://user:secret@mail.example.com:587?tls=required",
            "smtp://127.0.0.1:25",
        ] {
            refuse_password_in_clear(&parse_smtp_url(accepted).unwrap()).unwrap();
        }
    }
}
