//! `/api/v1/users/*`: the caller's own account, and admin views of any account.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post};
use axum::{middleware, Json, Router};
use boxoffice_errors::{Code, Error};
use boxoffice_proto::user as pb;
use boxoffice_proto::WireEnum as _;
use boxoffice_types::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use super::{PathId, PathIds};
use crate::auth::{catch_up_revocations, Admin, AuthUser};
use crate::openapi::fields;
use crate::openapi::responses::{
    BadBody, Forbidden, NotFound, RateLimited, Unauthorized, Unavailable, ValidationFailed,
};
use crate::problem::{ApiError, ApiJson, ApiQuery, ApiResult, Problem};
use crate::AppState;

/// The account with this email, if there is one, for a request that names someone by it (door
/// staff, a ticket's new holder). A malformed email is a `validation_failed` of the field.
pub async fn find_account(state: &AppState, email: String) -> ApiResult<Option<pb::User>> {
    match state.users().get_user_by_email(pb::GetUserByEmailRequest { email }).await {
        Ok(account) => Ok(Some(account.into_inner())),
        Err(status) => match Error::from_status(&status) {
            error if error.code == Code::NotFound => Ok(None),
            error => Err(ApiError(error)),
        },
    }
}

/// What naming an email without an account answers.
pub fn no_account() -> ApiError {
    ApiError(Error::validation("email: no account has this email; ask them to sign up first"))
}

/// The account with this email; none is a `validation_failed` of the field.
pub async fn account_by_email(state: &AppState, email: String) -> ApiResult<pb::User> {
    find_account(state, email).await?.ok_or_else(no_account)
}

pub fn router(state: &AppState) -> Router<AppState> {
    // Every change here may revoke sessions: a password or role change, a deleted account.
    let revoking = Router::new()
        .route("/users/me", get(me).patch(update_me).delete(delete_me))
        .route("/users/me/password", post(change_password))
        .route("/users/{id}/role", patch(set_role))
        .route("/users/{id}/sessions", delete(revoke_all_sessions))
        .route("/users/{id}/sessions/{session_id}", delete(revoke_session))
        .route_layer(middleware::from_fn_with_state(state.clone(), catch_up_revocations));
    Router::new()
        .merge(revoking)
        .route("/users", get(find_users))
        .route("/users/{id}", get(get_user))
        .route("/users/{id}/sessions", get(list_sessions))
}

#[derive(OpenApi)]
#[openapi(paths(
    me,
    update_me,
    delete_me,
    change_password,
    find_users,
    get_user,
    set_role,
    list_sessions,
    revoke_all_sessions,
    revoke_session
))]
pub struct Doc;

/// A page of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserResponse>,
    /// The `cursor` of the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindUsersQuery {
    /// A case-insensitive part of the email; absent or empty lists every account.
    #[param(max_length = 254, example = "example.com")]
    pub email: Option<String>,
    /// 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One login of an account: a family of refresh tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    pub id: Uuid,
    /// RFC 3339, UTC: when the account logged in.
    #[schema(example = "2026-11-25T06:00:00.000Z")]
    pub created_at: String,
    /// When the session last renewed its tokens.
    #[schema(example = "2026-11-25T06:15:00.000Z")]
    pub last_used_at: String,
    /// When it ends unless renewed before.
    #[schema(example = "2026-12-25T06:15:00.000Z")]
    pub expires_at: String,
    /// When it was ended (logout, password or role change, an admin); `null` while it may be used.
    pub revoked_at: Option<String>,
    /// Neither revoked nor run out.
    pub active: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// Those that may still be used first, then the ended ones; newest first within each; at
    /// most 50 (`DELETE /users/{id}/sessions` ends every one, listed or not).
    pub items: Vec<SessionResponse>,
}

impl SessionResponse {
    pub fn from_proto(session: pb::Session, now: chrono::DateTime<chrono::Utc>) -> ApiResult<Self> {
        let expires = chrono::DateTime::parse_from_rfc3339(&session.expires_at)
            .map_err(|error| Error::internal(format!("the users service sent a bad time: {error}")))?;
        Ok(SessionResponse {
            id: super::service_id("users", &session.id)?,
            active: session.revoked_at.is_none() && expires > now,
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            expires_at: session.expires_at,
            revoked_at: session.revoked_at,
        })
    }
}

/// Find accounts by a part of their email (admin only), by email.
#[utoipa::path(get, path = "/users", tag = "users", security(("bearer" = [])),
    params(FindUsersQuery),
    responses((status = 200, body = UserPage), ValidationFailed, Unauthorized, Forbidden, Unavailable))]
pub async fn find_users(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<FindUsersQuery>,
) -> ApiResult<Json<UserPage>> {
    let request = pb::FindUsersRequest {
        email: query.email.unwrap_or_default(),
        page: Some(super::page_request(query.limit, query.cursor)?),
    };
    let page = state.users().find_users(request).await?.into_inner();
    let items = page.items.into_iter().map(UserResponse::from_proto).collect::<ApiResult<_>>()?;
    Ok(Json(UserPage { items, next_cursor: page.next_cursor }))
}

/// An account's sessions, newest first (admin only).
#[utoipa::path(get, path = "/users/{id}/sessions", tag = "users", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The user id")),
    responses((status = 200, body = SessionList), Unauthorized, Forbidden, NotFound, Unavailable))]
pub async fn list_sessions(
    State(state): State<AppState>,
    _admin: Admin,
    PathId(user_id): PathId,
) -> ApiResult<Json<SessionList>> {
    let request = pb::ListSessionsRequest { user_id: user_id.to_string() };
    let sessions = state.users().list_sessions(request).await?.into_inner();
    let now = chrono::Utc::now();
    let items = sessions
        .items
        .into_iter()
        .map(|session| SessionResponse::from_proto(session, now))
        .collect::<ApiResult<_>>()?;
    Ok(Json(SessionList { items }))
}

/// End every session of an account (admin only), as a role change does.
#[utoipa::path(delete, path = "/users/{id}/sessions", tag = "users", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The user id")),
    responses((status = 204, description = "Revoked"), Unauthorized, Forbidden, NotFound, Unavailable))]
pub async fn revoke_all_sessions(
    State(state): State<AppState>,
    _admin: Admin,
    PathId(user_id): PathId,
) -> ApiResult<StatusCode> {
    state.users().revoke_all_sessions(pb::ListSessionsRequest { user_id: user_id.to_string() }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End one session of an account (admin only): its refresh token stops working and its access
/// tokens are refused from now on.
#[utoipa::path(delete, path = "/users/{id}/sessions/{session_id}", tag = "users", security(("bearer" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The user id"),
        ("session_id" = uuid::Uuid, Path, description = "The session id"),
    ),
    responses((status = 204, description = "Revoked"), Unauthorized, Forbidden, NotFound, Unavailable))]
pub async fn revoke_session(
    State(state): State<AppState>,
    _admin: Admin,
    PathIds(user_id, session_id): PathIds,
) -> ApiResult<StatusCode> {
    let request =
        pb::RevokeSessionRequest { user_id: user_id.to_string(), session_id: session_id.to_string() };
    state.users().revoke_session(request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An account as the API shows it. The password hash never leaves the users service.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(example = "Ada")]
    pub first_name: String,
    #[schema(example = "Lovelace")]
    pub last_name: String,
    pub role: Role,
    /// RFC 3339, UTC.
    #[schema(example = "2026-11-25T06:00:00.000Z")]
    pub created_at: String,
}

impl UserResponse {
    pub fn from_proto(user: pb::User) -> ApiResult<Self> {
        let id = Uuid::parse_str(&user.id)
            .map_err(|error| Error::internal(format!("the users service sent a bad id: {error}")))?;
        Ok(UserResponse {
            id,
            email: user.email,
            first_name: user.first_name,
            last_name: user.last_name,
            role: Role::from_wire(user.role).ok_or_else(|| {
                Error::internal(format!("the users service sent an unknown role {}", user.role))
            })?,
            created_at: user.created_at,
        })
    }
}

/// A patch of the caller's names: absent or `null` keeps a name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    #[schema(schema_with = fields::person_name_patch, example = "Ada")]
    pub first_name: Option<String>,
    #[schema(schema_with = fields::person_name_patch, example = "King")]
    pub last_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// Any string; a wrong one is a 422 and counts towards the account's lockout.
    pub current_password: String,
    #[schema(schema_with = fields::new_password)]
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoleRequest {
    pub role: Role,
}

/// The caller's account.
#[utoipa::path(get, path = "/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserResponse), Unauthorized, Unavailable))]
pub async fn me(State(state): State<AppState>, caller: AuthUser) -> ApiResult<Json<UserResponse>> {
    let request = pb::GetUserRequest { user_id: caller.user_id.to_string() };
    let user = state.users().get_user(request).await?.into_inner();
    Ok(Json(UserResponse::from_proto(user)?))
}

/// Change the caller's names.
#[utoipa::path(patch, path = "/users/me", tag = "users", security(("bearer" = [])),
    request_body = UpdateMeRequest,
    responses(
        (status = 200, body = UserResponse),
        BadBody, ValidationFailed, Unauthorized, Unavailable,
    ))]
pub async fn update_me(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(body): ApiJson<UpdateMeRequest>,
) -> ApiResult<Json<UserResponse>> {
    let request = pb::UpdateUserRequest {
        user_id: caller.user_id.to_string(),
        first_name: body.first_name,
        last_name: body.last_name,
    };
    let user = state.users().update_user(request).await?.into_inner();
    Ok(Json(UserResponse::from_proto(user)?))
}

/// Delete the caller's account and end all of its sessions. Answers with the deleted account.
#[utoipa::path(delete, path = "/users/me", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "The account as it was", body = UserResponse),
        (status = 409, description = "`conflict`: the caller is the only admin", body = Problem, content_type = "application/problem+json"),
        Unauthorized, Unavailable,
    ))]
pub async fn delete_me(State(state): State<AppState>, caller: AuthUser) -> ApiResult<Json<UserResponse>> {
    let mut users = state.users();
    let user_id = caller.user_id.to_string();
    let user = users.get_user(pb::GetUserRequest { user_id: user_id.clone() }).await?.into_inner();
    users.delete_user(pb::DeleteUserRequest { user_id }).await?;
    Ok(Json(UserResponse::from_proto(user)?))
}

/// Change the caller's password. Every other session of the account ends.
#[utoipa::path(post, path = "/users/me/password", tag = "users", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 422, description = "`validation_failed`: a field is missing, unknown or invalid, the current password is wrong, or the new one is weak; `detail` names the field", body = Problem, content_type = "application/problem+json"),
        BadBody, Unauthorized, RateLimited, Unavailable,
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let request = pb::ChangePasswordRequest {
        user_id: caller.user_id.to_string(),
        session_id: caller.session_id.to_string(),
        current_password: body.current_password,
        new_password: body.new_password,
    };
    state.users().change_password(request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Any account, by id (admin only).
#[utoipa::path(get, path = "/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The user id")),
    responses((status = 200, body = UserResponse), Unauthorized, Forbidden, NotFound, Unavailable))]
pub async fn get_user(
    State(state): State<AppState>,
    _admin: Admin,
    PathId(user_id): PathId,
) -> ApiResult<Json<UserResponse>> {
    let user =
        state.users().get_user(pb::GetUserRequest { user_id: user_id.to_string() }).await?.into_inner();
    Ok(Json(UserResponse::from_proto(user)?))
}

/// Change an account's role (admin only). When the role changes, the account's sessions end,
/// so that no token keeps the old role; setting the role it has changes nothing.
#[utoipa::path(patch, path = "/users/{id}/role", tag = "users", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The user id")),
    request_body = SetRoleRequest,
    responses(
        (status = 200, body = UserResponse),
        (status = 409, description = "`conflict`: the account is the only admin's", body = Problem, content_type = "application/problem+json"),
        BadBody, ValidationFailed, Unauthorized, Forbidden, NotFound, Unavailable,
    ))]
pub async fn set_role(
    State(state): State<AppState>,
    _admin: Admin,
    PathId(user_id): PathId,
    ApiJson(body): ApiJson<SetRoleRequest>,
) -> ApiResult<Json<UserResponse>> {
    let request = pb::SetRoleRequest { user_id: user_id.to_string(), role: body.role.to_wire() };
    let user = state.users().set_role(request).await?.into_inner();
    Ok(Json(UserResponse::from_proto(user)?))
}
