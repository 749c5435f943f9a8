//! Whom an email goes to: the users service's `GetUser`, asked when the email is sent, so that
//! it goes to the account as it is then (an account deleted meanwhile gets nothing). With
//! `events_client.rs` and `consumer.rs`, the only places in the crate that speak another
//! service's wire types.

use crate::absent_if_not_found;
use boxoffice_errors::Error;
use boxoffice_proto::user as pb;
use boxoffice_proto::user::user_service_client::UserServiceClient;
use boxoffice_runtime::Connection;
use uuid::Uuid;

/// The person an email is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

/// The users service's client. Clones share the connection.
#[derive(Clone)]
pub struct UsersClient(UserServiceClient<Connection>);

impl UsersClient {
    pub fn new(connection: Connection) -> Self {
        UsersClient(UserServiceClient::new(connection))
    }

    /// The account `user_id`, or `None` when there is none.
    pub async fn recipient(&self, user_id: Uuid) -> Result<Option<Recipient>, Error> {
        let request = pb::GetUserRequest { user_id: user_id.to_string() };
        let user = absent_if_not_found(self.0.clone().get_user(request).await)?;
        Ok(user.map(|user| {
            let user = user.into_inner();
            Recipient { email: user.email, first_name: user.first_name, last_name: user.last_name }
        }))
    }
}
