//! The notifications service as a value: its store, whom it asks for recipients, where its
//! emails go, and the signal that wakes its postman. Clones share all of it.

use std::sync::Arc;

use boxoffice_errors::Error;
use lettre::message::Mailbox;
use tokio::sync::Notify;

use crate::events_client::EventsClient;
use crate::postman::Outgoing;
use crate::store::MailStore;
use crate::users_client::UsersClient;

#[derive(Clone)]
pub struct Notifications {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn MailStore>,
    users: UsersClient,
    events: EventsClient,
    outgoing: Outgoing,
    from: Mailbox,
    postman: Notify,
}

impl Notifications {
    pub fn new(
        store: Arc<dyn MailStore>,
        users: UsersClient,
        events: EventsClient,
        outgoing: Outgoing,
        from: Mailbox,
    ) -> Self {
        Notifications {
            inner: Arc::new(Inner { store, users, events, outgoing, from, postman: Notify::new() }),
        }
    }

    pub fn store(&self) -> &dyn MailStore {
        self.inner.store.as_ref()
    }

    pub fn users(&self) -> &UsersClient {
        &self.inner.users
    }

    pub fn events(&self) -> &EventsClient {
        &self.inner.events
    }

    pub fn outgoing(&self) -> &Outgoing {
        &self.inner.outgoing
    }

    /// The sender of every email.
    pub fn from(&self) -> &Mailbox {
        &self.inner.from
    }

    /// Tells the postman that emails were queued.
    pub fn wake_postman(&self) {
        self.inner.postman.notify_one();
    }

    /// Returns when [`Notifications::wake_postman`] was called (or had been, since the last).
    pub async fn postman_woken(&self) {
        self.inner.postman.notified().await;
    }

    /// OK when the database answers.
    pub async fn check_ready(&self) -> Result<(), Error> {
        self.inner.store.ping().await
    }
}
