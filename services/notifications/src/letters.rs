//! The emails themselves: each kind's subject, text and HTML, rendered from the templates in
//! `templates/` (askama checks them against these views at compile time), with each ticket's
//! QR image inline and an `.ics` calendar entry, put together as one MIME message.
//!
//! The message: `multipart/mixed` of a `multipart/alternative` (the text, then a
//! `multipart/related` of the HTML and its QR images) and the calendar entry.

use askama::Template;
use boxoffice_types::money::format_money;
use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use uuid::Uuid;

use crate::domain::{EventInfo, MailDetails, MailJob};
use crate::users_client::Recipient;

/// The longest line of a calendar entry, in octets, before it is folded (RFC 5545, 3.1).
const ICS_LINE_OCTETS: usize = 75;

/// An event as every email shows it.
struct EventView {
    name: String,
    when: String,
    place: String,
}

struct TicketView {
    category: String,
    seat: Option<String>,
    code: String,
    price: String,
    /// The Content-ID of its QR image.
    image_id: String,
}

struct TicketsView {
    first_name: String,
    booking_id: Uuid,
    event: EventView,
    tickets: Vec<TicketView>,
    total: String,
}

struct RefundView {
    first_name: String,
    booking_id: Uuid,
    event: EventView,
    total: String,
    because_event_cancelled: bool,
}

struct OfferView {
    first_name: String,
    booking_id: Uuid,
    event: EventView,
    category: String,
    quantity: u32,
    requested: u32,
    total: String,
    /// Until when the offer holds, in UTC.
    until: String,
}

struct GivenView {
    first_name: String,
    ticket_id: Uuid,
    event: EventView,
}

struct CancelledView {
    first_name: String,
    event: EventView,
}

#[derive(Template)]
#[template(path = "tickets.subject.txt")]
struct TicketsSubject<'a> {
    v: &'a TicketsView,
}

#[derive(Template)]
#[template(path = "tickets.txt")]
struct TicketsText<'a> {
    v: &'a TicketsView,
}

#[derive(Template)]
#[template(path = "tickets.html")]
struct TicketsHtml<'a> {
    v: &'a TicketsView,
}

#[derive(Template)]
#[template(path = "refund.subject.txt")]
struct RefundSubject<'a> {
    v: &'a RefundView,
}

#[derive(Template)]
#[template(path = "refund.txt")]
struct RefundText<'a> {
    v: &'a RefundView,
}

#[derive(Template)]
#[template(path = "refund.html")]
struct RefundHtml<'a> {
    v: &'a RefundView,
}

#[derive(Template)]
#[template(path = "cancelled.subject.txt")]
struct CancelledSubject<'a> {
    v: &'a CancelledView,
}

#[derive(Template)]
#[template(path = "cancelled.txt")]
struct CancelledText<'a> {
    v: &'a CancelledView,
}

#[derive(Template)]
#[template(path = "cancelled.html")]
struct CancelledHtml<'a> {
    v: &'a CancelledView,
}

#[derive(Template)]
#[template(path = "offer.subject.txt")]
struct OfferSubject<'a> {
    v: &'a OfferView,
}

#[derive(Template)]
#[template(path = "offer.txt")]
struct OfferText<'a> {
    v: &'a OfferView,
}

#[derive(Template)]
#[template(path = "offer.html")]
struct OfferHtml<'a> {
    v: &'a OfferView,
}

#[derive(Template)]
#[template(path = "given.subject.txt")]
struct GivenSubject<'a> {
    v: &'a GivenView,
}

#[derive(Template)]
#[template(path = "given.txt")]
struct GivenText<'a> {
    v: &'a GivenView,
}

#[derive(Template)]
#[template(path = "given.html")]
struct GivenHtml<'a> {
    v: &'a GivenView,
}

/// The calendar entry; every value is escaped for it before it goes in.
#[derive(Template)]
#[template(path = "event.ics", escape = "none")]
struct Calendar {
    method: &'static str,
    organizer_name: String,
    organizer_email: String,
    uid: String,
    sequence: i64,
    stamp: String,
    starts: String,
    ends: String,
    summary: String,
    location: String,
    status: &'static str,
}

/// An image shown in the HTML part.
pub struct InlineImage {
    pub content_id: String,
    pub png: Vec<u8>,
}

/// An email, written, before it is addressed.
pub struct Letter {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub images: Vec<InlineImage>,
    /// For the tickets and for a cancelled event.
    pub calendar: Option<CalendarEntry>,
}

/// The `.ics` attachment: the event added to a calendar, or taken off it.
pub struct CalendarEntry {
    pub method: &'static str,
    pub text: String,
}

/// Why an email cannot be written: never better on a second try.
#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    #[error("rendering a template: {0}")]
    Template(#[from] askama::Error),
    #[error("drawing a QR code: {0}")]
    Qr(anyhow::Error),
    #[error("the recipient's address {0:?} is not valid")]
    Address(String),
    #[error("building the message: {0}")]
    Message(#[from] lettre::error::Error),
}

fn when(event: &EventInfo) -> String {
    let starts = event.starts_at.format("%a %-d %b %Y, %H:%M");
    if event.starts_at.date_naive() == event.ends_at.date_naive() {
        format!("{starts} to {} UTC", event.ends_at.format("%H:%M"))
    } else {
        format!("{starts} UTC to {} UTC", event.ends_at.format("%a %-d %b %Y, %H:%M"))
    }
}

fn place(event: &EventInfo) -> String {
    match &event.venue_name {
        Some(venue) => format!("{venue}, {}", event.city),
        None => event.city.clone(),
    }
}

fn event_view(event: &EventInfo) -> EventView {
    EventView { name: event.name.clone(), when: when(event), place: place(event) }
}

/// A subject on one line, whatever the names in it hold.
fn subject(rendered: String) -> String {
    rendered.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Writes the email `job` owes `recipient` about `event`, as at `now`.
pub fn write(
    job: &MailJob,
    recipient: &Recipient,
    event: &EventInfo,
    from: &Mailbox,
    now: DateTime<Utc>,
) -> Result<Letter, LetterError> {
    let first_name = recipient.first_name.clone();
    Ok(match &job.details {
        MailDetails::Tickets { booking_id, total_cents, currency, tickets } => {
            let mut images = Vec::with_capacity(tickets.len());
            let mut views = Vec::with_capacity(tickets.len());
            for ticket in tickets {
                let image_id = format!("qr-{}@boxoffice", ticket.id);
                images.push(InlineImage {
                    content_id: image_id.clone(),
                    png: boxoffice_qr::png(&ticket.code).map_err(LetterError::Qr)?,
                });
                views.push(TicketView {
                    category: event.category_name(ticket.category_id).to_owned(),
                    seat: ticket.seat.clone(),
                    code: ticket.code.clone(),
                    price: format_money(ticket.price_cents, currency),
                    image_id,
                });
            }
            let v = TicketsView {
                first_name,
                booking_id: *booking_id,
                event: event_view(event),
                tickets: views,
                total: format_money(*total_cents, currency),
            };
            Letter {
                subject: subject(TicketsSubject { v: &v }.render()?),
                text: TicketsText { v: &v }.render()?,
                html: TicketsHtml { v: &v }.render()?,
                images,
                calendar: Some(calendar(event, false, from, now)?),
            }
        }
        MailDetails::Refund { booking_id, total_cents, currency, because_event_cancelled } => {
            let v = RefundView {
                first_name,
                booking_id: *booking_id,
                event: event_view(event),
                total: format_money(*total_cents, currency),
                because_event_cancelled: *because_event_cancelled,
            };
            Letter {
                subject: subject(RefundSubject { v: &v }.render()?),
                text: RefundText { v: &v }.render()?,
                html: RefundHtml { v: &v }.render()?,
                images: Vec::new(),
                calendar: None,
            }
        }
        MailDetails::Offer {
            booking_id,
            category_id,
            quantity,
            requested,
            total_cents,
            currency,
            expires_at,
        } => {
            let v = OfferView {
                first_name,
                booking_id: *booking_id,
                event: event_view(event),
                category: event.category_name(*category_id).to_owned(),
                quantity: *quantity,
                requested: *requested,
                total: format_money(*total_cents, currency),
                until: expires_at.format("%A %-d %B %Y, %H:%M UTC").to_string(),
            };
            Letter {
                subject: subject(OfferSubject { v: &v }.render()?),
                text: OfferText { v: &v }.render()?,
                html: OfferHtml { v: &v }.render()?,
                images: Vec::new(),
                calendar: None,
            }
        }
        MailDetails::TicketGiven { ticket_id } => {
            let v = GivenView { first_name, ticket_id: *ticket_id, event: event_view(event) };
            Letter {
                subject: subject(GivenSubject { v: &v }.render()?),
                text: GivenText { v: &v }.render()?,
                html: GivenHtml { v: &v }.render()?,
                images: Vec::new(),
                calendar: Some(calendar(event, false, from, now)?),
            }
        }
        MailDetails::EventCancelled => {
            let v = CancelledView { first_name, event: event_view(event) };
            Letter {
                subject: subject(CancelledSubject { v: &v }.render()?),
                text: CancelledText { v: &v }.render()?,
                html: CancelledHtml { v: &v }.render()?,
                images: Vec::new(),
                calendar: Some(calendar(event, true, from, now)?),
            }
        }
    })
}

/// The event's calendar entry (iTIP, RFC 5546). Its `SEQUENCE` is the event's revision here,
/// so the entry of a later change (its cancellation) replaces an earlier one's in a calendar
/// that honours them.
fn calendar(
    event: &EventInfo,
    cancelled: bool,
    from: &Mailbox,
    now: DateTime<Utc>,
) -> Result<CalendarEntry, LetterError> {
    let ics_time = |at: DateTime<Utc>| at.format("%Y%m%dT%H%M%SZ").to_string();
    let method = if cancelled { "CANCEL" } else { "PUBLISH" };
    let entry = Calendar {
        method,
        organizer_name: ics_param(from.name.as_deref().unwrap_or("boxoffice")),
        organizer_email: from.email.to_string(),
        uid: format!("{}@boxoffice", event.id),
        sequence: event.revision,
        stamp: ics_time(now),
        starts: ics_time(event.starts_at),
        ends: ics_time(event.ends_at),
        summary: ics_text(&event.name),
        location: ics_text(&place(event)),
        status: if cancelled { "CANCELLED" } else { "CONFIRMED" },
    };
    Ok(CalendarEntry { method, text: fold_ics(&entry.render()?) })
}

/// `text` as an iCalendar TEXT value (RFC 5545, 3.3.11).
fn ics_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            ';' => escaped.push_str("\\;"),
            ',' => escaped.push_str("\\,"),
            '\n' => escaped.push_str("\\n"),
            c if c.is_control() => escaped.push(' '),
            c => escaped.push(c),
        }
    }
    escaped
}

/// `text` as an iCalendar parameter value, quoted (RFC 5545, 3.2): no quotes or controls.
fn ics_param(text: &str) -> String {
    let cleaned: String = text.chars().filter(|c| *c != '"' && !c.is_control()).collect();
    format!("\"{cleaned}\"")
}

/// Lines ended by CRLF and folded at 75 octets, never inside a character (RFC 5545, 3.1).
fn fold_ics(rendered: &str) -> String {
    let mut folded = String::with_capacity(rendered.len() + rendered.len() / 32);
    for line in rendered.lines().filter(|line| !line.is_empty()) {
        let mut octets = 0;
        for c in line.chars() {
            if octets + c.len_utf8() > ICS_LINE_OCTETS {
                folded.push_str("\r\n ");
                octets = 1;
            }
            folded.push(c);
            octets += c.len_utf8();
        }
        folded.push_str("\r\n");
    }
    folded
}

/// `letter` as the message to `recipient` from `from`, with a Message-ID made of the email's id,
/// so that a mail server or client that sees it twice can tell.
pub fn message(
    letter: Letter,
    mail_id: Uuid,
    from: &Mailbox,
    recipient: &Recipient,
) -> Result<Message, LetterError> {
    let address = recipient.email.parse().map_err(|_| LetterError::Address(recipient.email.clone()))?;
    let name = format!("{} {}", recipient.first_name, recipient.last_name);
    let to = Mailbox::new(Some(name.trim().to_owned()).filter(|name| !name.is_empty()), address);
    let png = ContentType::parse("image/png").expect("a valid content type");
    let related = letter.images.into_iter().fold(
        MultiPart::related().singlepart(SinglePart::html(letter.html)),
        |related, image| {
            related.singlepart(Attachment::new_inline(image.content_id).body(image.png, png.clone()))
        },
    );
    let alternative = MultiPart::alternative().singlepart(SinglePart::plain(letter.text)).multipart(related);
    let mut body = MultiPart::mixed().multipart(alternative);
    if let Some(entry) = letter.calendar {
        let calendar_type =
            ContentType::parse(&format!("text/calendar; charset=utf-8; method={}", entry.method))
                .expect("a valid content type");
        body = body.singlepart(Attachment::new("event.ics".to_owned()).body(entry.text, calendar_type));
    }
    Ok(Message::builder()
        .from(from.clone())
        .to(to)
        .subject(letter.subject)
        .message_id(Some(format!("<{mail_id}@{}>", from.email.domain())))
        .date_now()
        .multipart(body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_text_is_escaped_and_folded() {
        assert_eq!(ics_text("Rock, Paper; Scissors\\\nNight"), "Rock\\, Paper\\; Scissors\\\\\\nNight");
        let long = format!("SUMMARY:{}", "é".repeat(60));
        let folded = fold_ics(&long);
        for line in folded.split("\r\n") {
            assert!(line.len() <= ICS_LINE_OCTETS, "{line:?} is {} octets", line.len());
        }
        let unfolded = folded.replace("\r\n ", "");
        assert_eq!(unfolded.trim_end(), long);
    }

    #[test]
    fn a_subject_is_one_line() {
        assert_eq!(subject("Cancelled: Evil\r\nBcc: x@y\n".into()), "Cancelled: Evil Bcc: x@y");
    }
}
