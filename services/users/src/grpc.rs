//! The gRPC face of the users service: converts wire types and calls [`Users`]. Nothing here
//! decides anything; every rule is in [`crate::service`] and [`crate::domain`].

use boxoffice_errors::{grpc_reply as reply, Error};
use boxoffice_proto::common::Empty;
use boxoffice_proto::user as pb;
use boxoffice_proto::user::user_service_server::{UserService, UserServiceServer};
use boxoffice_proto::WireEnum as _;
use boxoffice_types::limits::PageSize;
use boxoffice_types::Role;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::service::{NewAccount, Tokens, Users};
use crate::store::UserRecord;

/// The tonic server for [`Users`].
pub fn server(users: Users) -> UserServiceServer<Users> {
    UserServiceServer::new(users)
}

fn role_from_proto(role: i32) -> Result<Role, Error> {
    Role::from_wire(role).ok_or_else(|| Error::validation("role: must be customer, organizer or admin"))
}

fn user_to_proto(user: UserRecord) -> pb::User {
    pb::User {
        id: user.id.to_string(),
        email: user.email,
        first_name: user.first_name,
        last_name: user.last_name,
        role: user.role.to_wire(),
        created_at: format_time(user.created_at),
    }
}

fn format_time(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn tokens_to_proto(tokens: Tokens) -> pb::TokenPair {
    pb::TokenPair {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_in: tokens.expires_in_s,
        user: Some(user_to_proto(tokens.user)),
    }
}

/// Ids come from the gateway, which took them from a verified token or a path; a malformed one
/// names nothing that exists.
fn parse_id(text: &str, what: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(text).map_err(|_| Error::not_found(what))
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl UserService for Users {
    async fn signup(&self, request: Request<pb::SignupRequest>) -> Reply<pb::User> {
        let request = request.into_inner();
        let user = self.sign_up(&request.email, &request.password, &request.first_name, &request.last_name);
        reply(user.await.map(user_to_proto))
    }

    async fn create_user(&self, request: Request<pb::CreateUserRequest>) -> Reply<pb::User> {
        let request = request.into_inner();
        let result = async {
            let account = NewAccount {
                email: &request.email,
                password: &request.password,
                first_name: &request.first_name,
                last_name: &request.last_name,
                role: role_from_proto(request.role)?,
            };
            self.create_account(account).await.map(user_to_proto)
        };
        reply(result.await)
    }

    async fn login(&self, request: Request<pb::LoginRequest>) -> Reply<pb::TokenPair> {
        let request = request.into_inner();
        reply(self.login(&request.email, &request.password).await.map(tokens_to_proto))
    }

    async fn refresh(&self, request: Request<pb::RefreshRequest>) -> Reply<pb::TokenPair> {
        reply(self.refresh(&request.into_inner().refresh_token).await.map(tokens_to_proto))
    }

    async fn logout(&self, request: Request<pb::LogoutRequest>) -> Reply<Empty> {
        let request = request.into_inner();
        let result = async {
            let session_id = parse_id(&request.session_id, "session")?;
            self.logout(session_id).await.map(|()| Empty {})
        };
        reply(result.await)
    }

    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> Reply<pb::User> {
        let result = async {
            let user_id = parse_id(&request.into_inner().user_id, "user")?;
            self.user(user_id).await.map(user_to_proto)
        };
        reply(result.await)
    }

    async fn update_user(&self, request: Request<pb::UpdateUserRequest>) -> Reply<pb::User> {
        let request = request.into_inner();
        let result = async {
            let user_id = parse_id(&request.user_id, "user")?;
            self.update_names(user_id, request.first_name.as_deref(), request.last_name.as_deref())
                .await
                .map(user_to_proto)
        };
        reply(result.await)
    }

    async fn delete_user(&self, request: Request<pb::DeleteUserRequest>) -> Reply<Empty> {
        let result = async {
            let user_id = parse_id(&request.into_inner().user_id, "user")?;
            self.delete(user_id).await.map(|()| Empty {})
        };
        reply(result.await)
    }

    async fn change_password(&self, request: Request<pb::ChangePasswordRequest>) -> Reply<Empty> {
        let request = request.into_inner();
        let result = async {
            let user_id = parse_id(&request.user_id, "user")?;
            let session_id = parse_id(&request.session_id, "session")?;
            self.change_password(user_id, session_id, &request.current_password, &request.new_password)
                .await
                .map(|()| Empty {})
        };
        reply(result.await)
    }

    async fn set_role(&self, request: Request<pb::SetRoleRequest>) -> Reply<pb::User> {
        let request = request.into_inner();
        let result = async {
            let user_id = parse_id(&request.user_id, "user")?;
            let role = role_from_proto(request.role)?;
            Users::set_role(self, user_id, role).await.map(user_to_proto)
        };
        reply(result.await)
    }

    async fn find_users(&self, request: Request<pb::FindUsersRequest>) -> Reply<pb::FindUsersResponse> {
        let request = request.into_inner();
        let result = async {
            let page = request.page.unwrap_or_default();
            let limit = PageSize::from_wire(page.limit)?;
            let (users, next_cursor) =
                Users::find_users(self, &request.email, limit, page.cursor.as_deref()).await?;
            Ok(pb::FindUsersResponse { items: users.into_iter().map(user_to_proto).collect(), next_cursor })
        };
        reply(result.await)
    }

    async fn get_user_by_email(&self, request: Request<pb::GetUserByEmailRequest>) -> Reply<pb::User> {
        let request = request.into_inner();
        reply(Users::user_by_email(self, &request.email).await.map(user_to_proto))
    }

    async fn list_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Reply<pb::ListSessionsResponse> {
        let request = request.into_inner();
        let result = async {
            let user_id = parse_id(&request.user_id, "user")?;
            let items = Users::sessions(self, user_id)
                .await?
                .into_iter()
                .map(|session| pb::Session {
                    id: session.id.to_string(),
                    created_at: format_time(session.created_at),
                    last_used_at: format_time(session.last_used_at),
                    expires_at: format_time(session.expires_at),
                    revoked_at: session.revoked_at.map(format_time),
                })
                .collect();
            Ok(pb::ListSessionsResponse { items })
        };
        reply(result.await)
    }

    async fn revoke_session(&self, request: Request<pb::RevokeSessionRequest>) -> Reply<Empty> {
        let request = request.into_inner();
        let result = async {
            let user_id = parse_id(&request.user_id, "user")?;
            let session_id = parse_id(&request.session_id, "session")?;
            Users::revoke_session_of(self, user_id, session_id).await.map(|()| Empty {})
        };
        reply(result.await)
    }

    async fn revoke_all_sessions(&self, request: Request<pb::ListSessionsRequest>) -> Reply<Empty> {
        let request = request.into_inner();
        let result = async {
            let user_id = parse_id(&request.user_id, "user")?;
            Users::revoke_all_sessions(self, user_id).await.map(|()| Empty {})
        };
        reply(result.await)
    }

    async fn get_token_key_id(&self, _request: Request<Empty>) -> Reply<pb::TokenKeyId> {
        Ok(Response::new(pb::TokenKeyId { key_id: self.token_key_id() }))
    }

    async fn check_ready(&self, _request: Request<Empty>) -> Reply<Empty> {
        reply(Users::check_ready(self).await.map(|()| Empty {}))
    }
}
