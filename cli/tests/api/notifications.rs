//! The notifications service, end to end: bookings confirmed, refunded and cancelled through the
//! API, and the emails a real SMTP server on loopback receives (aiosmtpd from PyPI, which
//! scripts/test installs: `BOXOFFICE_TEST_AIOSMTPD` is its python), read back as MIME.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mail_parser::{Message, MessageParser, MimeHeaders as _};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::bookings::{category, decode_qr, id, on_sale};
use crate::helpers::{free_port, fresh_settings, wait_for_port, Backend, RefusingPort, TestApp, Tokens};
use crate::on_both_backends;

on_both_backends!(
    a_confirmed_booking_is_emailed_once_with_its_tickets_qr_codes_and_calendar_entry,
    cancelling_an_event_emails_every_holder_and_refunds_them,
    tickets_void_before_the_mail_server_could_take_them_are_not_sent,
    an_event_published_before_the_service_knew_of_it_is_asked_of_the_events_service,
    a_waiting_list_offer_is_emailed_to_its_buyer_with_the_time_to_pay,
    a_ticket_given_away_is_emailed_to_its_new_holder,
);

/// aiosmtpd's maildir handler, refusing the first emails it is given.
const REFUSING_HANDLER: &str = r#"
from aiosmtpd.handlers import Mailbox

class RefuseFirst(Mailbox):
    def __init__(self, refusals, path):
        super().__init__(path)
        self.refusals = int(refusals)

    @classmethod
    def from_cli(cls, parser, *args):
        return cls(args[0], args[1])

    async def handle_DATA(self, server, session, envelope):
        if self.refusals > 0:
            self.refusals -= 1
            return "550 5.7.1 Sender address rejected"
        return await super().handle_DATA(server, session, envelope)
"#;

/// A folder with a certificate authority of the test's own (`ca.pem`) and a certificate for
/// `localhost` it signed (`cert.pem`, its key `key.pem`), made with openssl.
pub(crate) fn localhost_certificate() -> PathBuf {
    let folder = std::env::temp_dir().join(format!("boxoffice-test-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("leaf.ext"), "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n")
        .unwrap();
    let openssl = |args: &str| {
        let made = Command::new("openssl")
            .args(args.split(' '))
            .current_dir(&folder)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(made.success(), "openssl {args}");
    };
    openssl(
        "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=boxoffice-test-ca -keyout ca.key -out ca.pem",
    );
    openssl("req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout key.pem -out leaf.csr");
    openssl("x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile leaf.ext -out cert.pem");
    folder
}

/// A real SMTP server that keeps what it receives in a maildir.
pub(crate) struct MailServer {
    child: Child,
    pub port: u16,
    maildir: PathBuf,
}

impl MailServer {
    pub(crate) fn start() -> MailServer {
        MailServer::start_on(free_port())
    }

    pub(crate) fn start_on(port: u16) -> MailServer {
        MailServer::spawn(port, 0)
    }

    /// A server that refuses the first `refusals` emails with `550 5.7.1` (as one that does not
    /// accept the sender yet), then takes them.
    pub(crate) fn refusing_first(refusals: u32) -> MailServer {
        MailServer::spawn(free_port(), refusals)
    }

    /// A server speaking TLS from the first byte (`smtps`), with a certificate for `localhost`
    /// from a certificate authority of the test's own; returns it and the authority's PEM file,
    /// for BOXOFFICE_SMTP_CA_FILE.
    pub(crate) fn with_tls() -> (MailServer, PathBuf) {
        let folder = localhost_certificate();
        let (cert, key) = (folder.join("cert.pem"), folder.join("key.pem"));
        let server = MailServer::spawn_with(
            free_port(),
            0,
            &["--smtpscert", cert.to_str().unwrap(), "--smtpskey", key.to_str().unwrap()],
        );
        (server, folder.join("ca.pem"))
    }

    fn spawn(port: u16, refusals: u32) -> MailServer {
        MailServer::spawn_with(port, refusals, &[])
    }

    fn spawn_with(port: u16, refusals: u32, options: &[&str]) -> MailServer {
        let python = std::env::var("BOXOFFICE_TEST_AIOSMTPD").unwrap_or_else(|_| {
            format!("{}/.cache/boxoffice/aiosmtpd-venv/bin/python", std::env::var("HOME").unwrap_or_default())
        });
        let maildir = std::env::temp_dir().join(format!("boxoffice-test-mail-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&maildir).unwrap();
        std::fs::write(maildir.join("refusing.py"), REFUSING_HANDLER).unwrap();
        let child = Command::new(&python)
            .env("PYTHONPATH", &maildir)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(options)
            .args(["-c", "refusing.RefuseFirst", &refusals.to_string()])
            .arg(maildir.join("box"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("aiosmtpd starts with {python} (scripts/test installs it): {error}")
            });
        let child = wait_for_port(child, port, "aiosmtpd");
        MailServer { child, port, maildir }
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every email received so far, as it arrived.
    pub(crate) fn received(&self) -> Vec<Vec<u8>> {
        read_folder(&self.maildir.join("box").join("new"))
    }

    /// The emails received, once at least `count` have arrived (or 30 seconds have passed).
    pub(crate) async fn wait_for(&self, count: usize) -> Vec<Vec<u8>> {
        let started = Instant::now();
        loop {
            let received = self.received();
            if received.len() >= count || started.elapsed() > Duration::from_secs(30) {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

fn read_folder(folder: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".eml") || folder.ends_with("new"))
        .filter_map(|entry| std::fs::read(entry.path()).ok())
        .collect()
}

pub(crate) fn parse(raw: &[u8]) -> Message<'_> {
    MessageParser::default().parse(raw).expect("a MIME message")
}

pub(crate) fn recipient(message: &Message<'_>) -> String {
    message.to().and_then(|to| to.first()).and_then(|to| to.address()).unwrap_or_default().to_owned()
}

/// The emails among `raw` sent to `email`.
pub(crate) fn to<'a>(raw: &'a [Vec<u8>], email: &str) -> Vec<Message<'a>> {
    raw.iter().map(|raw| parse(raw)).filter(|message| recipient(message) == email).collect()
}

/// Checks that `message` is the tickets email of `booking` for `event`: every ticket's code in
/// the text, its QR image in the HTML, and the calendar entry.
pub(crate) fn assert_tickets_email(message: &Message<'_>, booking: &Value, event: &Value) {
    let subject = message.subject().unwrap_or_default();
    assert_eq!(subject, format!("Your tickets for {}", event["name"].as_str().unwrap()));
    let text = message.body_text(0).expect("a text part");
    let html = message.body_html(0).expect("an HTML part");
    let tickets = booking["tickets"].as_array().expect("the confirmed booking's tickets");
    assert!(!tickets.is_empty());
    let mut images = Vec::new();
    let mut calendar = None;
    for part in message.attachments() {
        let content_type =
            part.content_type().map(|t| format!("{}/{}", t.ctype(), t.subtype().unwrap_or("")));
        match content_type.as_deref() {
            Some("image/png") => images.push(decode_qr(part.contents())),
            // Mail stores may keep lines with LF alone; the entry's own CRLFs are unit-tested.
            Some("text/calendar") => {
                calendar = Some(String::from_utf8_lossy(part.contents()).replace("\r\n", "\n"))
            }
            other => panic!("an unexpected part {other:?}"),
        }
    }
    for ticket in tickets {
        let code = ticket["code"].as_str().unwrap();
        assert!(text.contains(code), "the text names ticket code {code}:\n{text}");
        assert!(images.iter().any(|image| image == code), "a QR image shows {code}");
        let content_id = format!("cid:qr-{}@boxoffice", ticket["id"].as_str().unwrap());
        assert!(html.contains(&content_id), "the HTML shows the QR image {content_id}");
    }
    assert_eq!(images.len(), tickets.len());
    let calendar = calendar.expect("a calendar entry");
    assert!(calendar.contains("BEGIN:VEVENT\n"), "{calendar}");
    assert!(calendar.contains("METHOD:PUBLISH\n"), "{calendar}");
    let starts = event["starts_at"].as_str().unwrap().replace(['-', ':'], "");
    assert!(calendar.contains(&format!("DTSTART:{starts}")), "{calendar} starts at {starts}");
    assert!(calendar.contains(&format!("UID:{}@boxoffice", id(event))), "{calendar}");
}

async fn app_with_mail(backend: Backend, mail: &MailServer) -> TestApp {
    let mut settings = fresh_settings(backend).await;
    settings.smtp_url = Some(mail.url());
    TestApp::start(settings).await
}

/// A signed-up customer (an account the users service knows) holds `quantity` standing tickets
/// of `event` and pays for them; returns the customer's email, tokens and confirmed booking.
pub(crate) async fn buy(app: &TestApp, event: &Value, quantity: u32) -> (String, Tokens, Value) {
    let (email, buyer) = app.customer().await;
    let body =
        json!({"event_id": id(event), "items": [{"category_id": category(event, 0), "quantity": quantity}]});
    let booking = app.hold_ok(&buyer.access, body).await;
    let confirmed = app.confirm(&buyer.access, &id(&booking), "tok_ok").await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    (email, buyer, confirmed.json().await.unwrap())
}

async fn a_confirmed_booking_is_emailed_once_with_its_tickets_qr_codes_and_calendar_entry(backend: Backend) {
    let mail = MailServer::start();
    let app = app_with_mail(backend, &mail).await;
    let (_, event) = on_sale(&app, 10, 0).await;
    let (email, _, booking) = buy(&app, &event, 2).await;

    let received = mail.wait_for(1).await;
    let emails = to(&received, &email);
    assert_eq!(emails.len(), 1, "one email to the buyer");
    assert_tickets_email(&emails[0], &booking, &event);

    // Restarted on the same data, the service sends nothing again.
    let settings = app.stop().await;
    let app = TestApp::start(settings).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(mail.received().len(), 1, "no second email");
    drop(app);
}

async fn cancelling_an_event_emails_every_holder_and_refunds_them(backend: Backend) {
    let mail = MailServer::start();
    let app = app_with_mail(backend, &mail).await;
    assert_every_holder_hears_of_a_cancellation(&app, &mail).await;
}

/// Two buyers with tickets and one with a pending hold; the event is cancelled. Each buyer with
/// tickets receives the cancellation notice and a refund notice; the one without, nothing.
pub(crate) async fn assert_every_holder_hears_of_a_cancellation(app: &TestApp, mail: &MailServer) {
    let (organizer, event) = on_sale(app, 10, 0).await;
    let (first, _, first_booking) = buy(app, &event, 1).await;
    let (second, _, second_booking) = buy(app, &event, 2).await;
    let (pending_email, pending_buyer) = app.customer().await;
    let body =
        json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}]});
    let pending = app.hold_ok(&pending_buyer.access, body).await;
    assert_eq!(mail.wait_for(2).await.len(), 2, "the two tickets emails");

    let cancel =
        app.post(&format!("/api/v1/events/{}/cancel", id(&event)), json!({}), Some(&organizer)).await;
    assert_eq!(cancel.status(), StatusCode::OK);

    let received = mail.wait_for(6).await;
    let name = event["name"].as_str().unwrap();
    for (email, booking) in [(&first, &first_booking), (&second, &second_booking)] {
        let emails = to(&received, email);
        let subjects: Vec<&str> =
            emails.iter().map(|message| message.subject().unwrap_or_default()).collect();
        assert_eq!(emails.len(), 3, "tickets, cancellation and refund for {email}: {subjects:?}");
        let notice = emails
            .iter()
            .find(|message| message.subject() == Some(&format!("Cancelled: {name}")))
            .unwrap_or_else(|| panic!("a cancellation notice among {subjects:?}"));
        assert!(notice.body_text(0).unwrap().contains("has been cancelled"));
        let calendar = notice.attachments().next().expect("the calendar entry that removes it");
        assert!(String::from_utf8_lossy(calendar.contents()).contains("METHOD:CANCEL"));
        let refund = emails
            .iter()
            .find(|message| message.subject() == Some(&format!("Refund for the cancelled event {name}")))
            .unwrap_or_else(|| panic!("a refund notice among {subjects:?}"));
        let text = refund.body_text(0).unwrap();
        assert!(text.contains(&id(booking)), "{text}");
        assert!(
            text.contains(&format!("EUR {}.00", booking["total_cents"].as_i64().unwrap() / 100)),
            "{text}"
        );
    }
    assert!(to(&received, &pending_email).is_empty(), "a hold without tickets is not emailed");
    let status: Value = app
        .get(&format!("/api/v1/bookings/{}", id(&pending)), Some(&pending_buyer.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "cancelled");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(mail.received().len(), 6, "nothing more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_mail_server_emails_are_written_as_eml_files_in_the_data_directory() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let (_, event) = on_sale(&app, 10, 0).await;
    let (email, _, booking) = buy(&app, &event, 1).await;
    let folder = app.settings.data_dir.join("mail");
    let started = Instant::now();
    let mut files = read_folder(&folder);
    while files.is_empty() && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        files = read_folder(&folder);
    }
    let emails = to(&files, &email);
    assert_eq!(emails.len(), 1, "one .eml file in {}", folder.display());
    assert_tickets_email(&emails[0], &booking, &event);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&folder).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "the tickets' folder is its user's only");
    }

    // Nothing failed, so an operator's requeue finds nothing.
    let output = app.cli(&["mail", "requeue-failed"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("0 failed emails put back"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_the_mail_server_could_not_take_is_sent_once_it_can() {
    // Nothing listens on the mail server's port yet.
    let down = RefusingPort::new();
    let mut settings = fresh_settings(Backend::Embedded).await;
    settings.smtp_url = Some(format!("smtp://127.0.0.1:{}", down.port()));
    let app = TestApp::start(settings).await;
    let (_, event) = on_sale(&app, 10, 0).await;
    let (email, _, booking) = buy(&app, &event, 1).await;
    let failed = || async {
        app.query_text("notifications", "SELECT last_error FROM mail WHERE last_error IS NOT NULL").await
    };
    let started = Instant::now();
    while failed().await.is_empty() {
        assert!(started.elapsed() < Duration::from_secs(60), "the first send fails");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mail = MailServer::start_on(down.release());
    let received = mail.wait_for(1).await;
    let emails = to(&received, &email);
    assert_eq!(emails.len(), 1, "the email arrives once the server is there");
    assert_tickets_email(&emails[0], &booking, &event);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(mail.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_of_someone_without_an_account_is_not_emailed_and_holds_nothing_up() {
    let mail = MailServer::start();
    let app = app_with_mail(Backend::Embedded, &mail).await;
    let (_, event) = on_sale(&app, 10, 0).await;
    // Minted tokens name users the users service has never heard of.
    let (_, nobody) = app.mint_customer();
    let body =
        json!({"event_id": id(&event), "items": [{"category_id": category(&event, 0), "quantity": 1}]});
    let booking = app.hold_ok(&nobody, body).await;
    assert_eq!(app.confirm(&nobody, &id(&booking), "tok_ok").await.status(), StatusCode::OK);
    let (email, _, _) = buy(&app, &event, 1).await;
    let received = mail.wait_for(1).await;
    assert_eq!(to(&received, &email).len(), 1);
    let statuses = || app.query_text("notifications", "SELECT status FROM mail ORDER BY created_at, id");
    let started = Instant::now();
    while statuses().await.contains(&"pending".to_owned()) {
        assert!(started.elapsed() < Duration::from_secs(30), "every email is handled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(statuses().await, ["skipped", "sent"]);
}

/// The mail statuses, once none is pending any more.
async fn settled_statuses(app: &TestApp) -> Vec<String> {
    let statuses =
        || app.query_text("notifications", "SELECT kind || ' ' || status FROM mail ORDER BY created_at, id");
    let started = Instant::now();
    loop {
        let now = statuses().await;
        if !now.iter().any(|status| status.ends_with(" pending")) {
            return now;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "every email is handled: {now:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn tickets_void_before_the_mail_server_could_take_them_are_not_sent(backend: Backend) {
    let down = RefusingPort::new();
    let mut settings = fresh_settings(backend).await;
    settings.smtp_url = Some(format!("smtp://127.0.0.1:{}", down.port()));
    let app = TestApp::start(settings).await;
    let (organizer, event) = on_sale(&app, 10, 0).await;
    let (email, _, _) = buy(&app, &event, 1).await;
    let tried =
        || app.query_text("notifications", "SELECT last_error FROM mail WHERE last_error IS NOT NULL");
    let started = Instant::now();
    while tried().await.is_empty() {
        assert!(started.elapsed() < Duration::from_secs(60), "the first send fails");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cancel =
        app.post(&format!("/api/v1/events/{}/cancel", id(&event)), json!({}), Some(&organizer)).await;
    assert_eq!(cancel.status(), StatusCode::OK);

    let mail = MailServer::start_on(down.release());
    let statuses = settled_statuses(&app).await;
    let received = mail.received();
    let subjects: Vec<String> = to(&received, &email)
        .iter()
        .map(|message| message.subject().unwrap_or_default().to_owned())
        .collect();
    let name = event["name"].as_str().unwrap();
    assert!(!subjects.iter().any(|subject| subject.starts_with("Your tickets")), "{subjects:?}");
    assert!(subjects.contains(&format!("Cancelled: {name}")), "{subjects:?}");
    assert!(subjects.contains(&format!("Refund for the cancelled event {name}")), "{subjects:?}");
    assert!(statuses.contains(&"tickets skipped".to_owned()), "{statuses:?}");
}

async fn an_event_published_before_the_service_knew_of_it_is_asked_of_the_events_service(backend: Backend) {
    let mail = MailServer::start();
    let app = app_with_mail(backend, &mail).await;
    let (_, event) = on_sale(&app, 10, 0).await;
    // The notifications service forgets every event it was told of, as one deployed after them.
    let settings = app.stop().await;
    crate::helpers::execute(&settings, "notifications", "DELETE FROM known_events").await;
    let app = TestApp::start(settings).await;
    let (email, _, booking) = buy(&app, &event, 1).await;
    let received = mail.wait_for(1).await;
    let emails = to(&received, &email);
    assert_eq!(emails.len(), 1);
    assert_tickets_email(&emails[0], &booking, &event);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_the_mail_server_refused_with_a_5xx_is_tried_again() {
    let mail = MailServer::refusing_first(1);
    let app = app_with_mail(Backend::Embedded, &mail).await;
    let (_, event) = on_sale(&app, 10, 0).await;
    let (email, _, booking) = buy(&app, &event, 1).await;
    let received = mail.wait_for(1).await;
    let emails = to(&received, &email);
    assert_eq!(emails.len(), 1, "taken on the second try");
    assert_tickets_email(&emails[0], &booking, &event);
    let statuses = settled_statuses(&app).await;
    assert_eq!(statuses, ["tickets sent"]);
    let errors = app.query_text("notifications", "SELECT last_error FROM mail").await;
    assert!(errors[0].contains("550"), "{errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_go_over_tls_to_a_mail_server_whose_authority_is_configured() {
    let (mail, authority) = MailServer::with_tls();
    let mut settings = fresh_settings(Backend::Embedded).await;
    settings.smtp_url = Some(format!("smtps://localhost:{}", mail.port));
    settings.smtp_ca_file = Some(authority.clone());
    let app = TestApp::start(settings).await;
    let (_, event) = on_sale(&app, 10, 0).await;
    let (email, _, booking) = buy(&app, &event, 1).await;
    let received = mail.wait_for(1).await;
    let emails = to(&received, &email);
    assert_eq!(emails.len(), 1, "the email arrives over TLS");
    assert_tickets_email(&emails[0], &booking, &event);
    let _ = std::fs::remove_dir_all(authority.parent().unwrap());
}

async fn a_waiting_list_offer_is_emailed_to_its_buyer_with_the_time_to_pay(backend: Backend) {
    let mail = MailServer::start();
    let app = app_with_mail(backend, &mail).await;
    let (_, event) = on_sale(&app, 1, 0).await;
    let (_, first, booking) = buy(&app, &event, 1).await;
    let (email, next) = app.customer().await;
    let joined = app
        .post(
            &format!("/api/v1/events/{}/waiting-list", id(&event)),
            json!({"category_id": category(&event, 0), "quantity": 2}),
            Some(&next.access),
        )
        .await;
    assert_eq!(joined.status(), StatusCode::CREATED);
    let refunded =
        app.post(&format!("/api/v1/bookings/{}/cancel", id(&booking)), json!({}), Some(&first.access)).await;
    assert_eq!(refunded.status(), StatusCode::OK);

    let received = mail.wait_for(3).await;
    let emails = to(&received, &email);
    assert_eq!(emails.len(), 1, "one email to the next buyer");
    let subject = emails[0].subject().unwrap_or_default();
    assert!(subject.starts_with("Tickets for On Sale came back"), "{subject}");
    let text = emails[0].body_text(0).expect("a text part");
    assert!(text.contains("1 × Standing (of the 2 you asked for"), "{text}");
    assert!(text.contains("Pay EUR 20.00 before"), "{text}");
}

async fn a_ticket_given_away_is_emailed_to_its_new_holder(backend: Backend) {
    let mail = MailServer::start();
    let app = app_with_mail(backend, &mail).await;
    let (_, event) = on_sale(&app, 5, 0).await;
    let (_, buyer, booking) = buy(&app, &event, 1).await;
    let (email, _) = app.customer().await;
    let ticket = booking["tickets"][0]["id"].as_str().unwrap();
    let given = app
        .post(&format!("/api/v1/tickets/{ticket}/transfer"), json!({"email": email}), Some(&buyer.access))
        .await;
    assert_eq!(given.status(), StatusCode::OK);

    let received = mail.wait_for(2).await;
    let emails = to(&received, &email);
    assert_eq!(emails.len(), 1, "one email to the new holder");
    let subject = emails[0].subject().unwrap_or_default();
    assert_eq!(subject, "A ticket for On Sale is yours now");
    assert!(emails[0].body_text(0).unwrap().contains(ticket));
}
