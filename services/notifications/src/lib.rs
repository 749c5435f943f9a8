//! The notifications service: it emails buyers their tickets when a booking is confirmed, a
//! notice when one is refunded, and every ticket holder when an event is cancelled.
//!
//! It has no API: it consumes the `events` and `bookings` topics ([`consumer`]), where it
//! learns each event's name, place and times and who holds its tickets, and queues the emails
//! it owes in its own database ([`store`]), in the transaction that records the domain event
//! processed, so that no redelivery or replay emails anyone twice. Its postman ([`postman`])
//! sends them, through SMTP (lettre) when `BOXOFFICE_SMTP_URL` is set, or as `.eml` files; it
//! asks the users service whom to write to at that moment ([`users_client`]), and the events
//! service about an event the topic has not told of ([`events_client`]). [`letters`]
//! writes them from the templates in `templates/`.

pub mod consumer;
pub mod domain;
pub mod events_client;
pub mod letters;
pub mod postman;
pub mod service;
pub mod store;
pub mod users_client;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
pub use boxoffice_db::Database;
use boxoffice_db::Pool;
use boxoffice_runtime::Connection;
use events_client::EventsClient;
use lettre::message::Mailbox;
pub use postman::{run_postman, Outgoing};
pub use service::Notifications;
use store::{MailStore, PostgresMailStore, SqliteMailStore, MIGRATIONS, POSTGRES_SCHEMA};
use users_client::UsersClient;

/// The answer of a call to another service, `None` when it answered that there is no such
/// thing: for the clients of `users_client.rs` and `events_client.rs`.
fn absent_if_not_found<T>(result: Result<T, tonic::Status>) -> Result<Option<T>, boxoffice_errors::Error> {
    match result {
        Ok(found) => Ok(Some(found)),
        Err(status) => {
            let error = boxoffice_errors::Error::from_status(&status);
            if error.code == boxoffice_errors::Code::NotFound {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}

/// What the notifications service needs.
pub struct Deps {
    /// Its own database: the events it knows, the holders of their tickets, the emails.
    pub database: Database,
    /// The users service, which says whom an email goes to.
    pub users: Connection,
    /// The events service, asked about an event the events topic has not told of.
    pub events: Connection,
    /// The mail server's URL; without one, emails are written to `mail_folder`.
    pub smtp_url: Option<String>,
    /// Certificate authorities the mail server's certificate may chain to, besides the usual.
    pub smtp_ca_file: Option<PathBuf>,
    pub mail_folder: PathBuf,
    /// The sender of every email, e.g. `boxoffice <tickets@example.com>`.
    pub from: String,
}

/// The notifications service, ready to consume and send: its database opened and migrated.
pub async fn build(deps: Deps) -> anyhow::Result<Notifications> {
    let from: Mailbox = deps
        .from
        .parse()
        .with_context(|| format!("BOXOFFICE_MAIL_FROM {:?} is not a valid address", deps.from))?;
    if deps.smtp_url.is_some() && from.email.domain().ends_with("localhost") {
        tracing::warn!(
            from = %from.email,
            "BOXOFFICE_MAIL_FROM is not set to an address of this deployment's domain: a real mail \
             server is likely to refuse every email from it"
        );
    }
    let outgoing = Outgoing::new(deps.smtp_url.as_deref(), deps.smtp_ca_file.as_deref(), deps.mail_folder)?;
    let store = open_store(&deps.database).await?;
    Ok(Notifications::new(
        store,
        UsersClient::new(deps.users),
        EventsClient::new(deps.events),
        outgoing,
        from,
    ))
}

/// Opens the database and applies pending migrations, so a fresh database is ready at once.
pub async fn open_store(database: &Database) -> anyhow::Result<Arc<dyn MailStore>> {
    Ok(match boxoffice_db::open_migrated(database, POSTGRES_SCHEMA, &MIGRATIONS).await? {
        Pool::Postgres(pool) => Arc::new(PostgresMailStore::new(pool)),
        Pool::Sqlite(pool) => Arc::new(SqliteMailStore::new(pool)),
    })
}

/// Reverts migrations down to `target` (0 reverts all), for `boxoffice migrate --down-to`.
pub async fn revert_migrations(database: &Database, target: i64) -> anyhow::Result<()> {
    boxoffice_db::revert_migrations(database, POSTGRES_SCHEMA, &MIGRATIONS, target).await
}
