//! What the users service tells the others (`proto/domain_events.proto`): an account was
//! created. Like `grpc.rs`, an edge; the store writes it to the outbox in the transaction that
//! creates the account (`store.rs`).

use boxoffice_outbox::event_type::USER_REGISTERED;
use boxoffice_outbox::{OutboxEvent, Topic};
use boxoffice_proto::domain as pb;
use chrono::{DateTime, Utc};

use crate::store::UserRecord;

pub fn registered(user: &UserRecord, at: DateTime<Utc>) -> OutboxEvent {
    let payload = pb::UserRegistered {
        user_id: user.id.to_string(),
        email: user.email.clone(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        role: user.role.as_str().to_owned(),
    };
    OutboxEvent::new(Topic::Users, USER_REGISTERED, user.id, &payload, at)
}
