//! `/api/v1/users/*`: the caller's own account, and admin views of any account.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use boxoffice_proto::user as pb;
use boxoffice_proto::WireEnum as _;
use boxoffice_types::Role;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{PathId, UserResponse};
use crate::auth::{Admin, AuthUser};
use crate::problem::{ApiJson, ApiResult, Problem};
use crate::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    #[schema(example = "Ada", max_length = 100)]
    pub first_name: Option<String>,
    #[schema(example = "King", max_length = 100)]
    pub last_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 8 to 128 characters; common passwords are refused.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoleRequest {
    pub role: Role,
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, body = UserResponse),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn me(State(state): State<AppState>, caller: AuthUser) -> ApiResult<Json<UserResponse>> {
    let request = pb::GetUserRequest { user_id: caller.user_id.to_string() };
    let user = state.users().get_user(request).await?.into_inner();
    Ok(Json(UserResponse::from_proto(user)?))
}

/// Change the caller's names.
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    request_body = UpdateMeRequest,
    responses(
        (status = 200, body = UserResponse),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
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
#[utoipa::path(delete, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "The account as it was", body = UserResponse),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_me(State(state): State<AppState>, caller: AuthUser) -> ApiResult<Json<UserResponse>> {
    let mut users = state.users();
    let user_id = caller.user_id.to_string();
    let user = users.get_user(pb::GetUserRequest { user_id: user_id.clone() }).await?.into_inner();
    users.delete_user(pb::DeleteUserRequest { user_id }).await?;
    Ok(Json(UserResponse::from_proto(user)?))
}

/// Change the caller's password. Every other session of the account ends.
#[utoipa::path(post, path = "/api/v1/users/me/password", tag = "users", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 422, description = "`validation_failed`: the current password is wrong or the new one is weak", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many wrong passwords", body = Problem, content_type = "application/problem+json"),
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
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The user id")),
    responses(
        (status = 200, body = UserResponse),
        (status = 403, description = "`forbidden`: not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    _admin: Admin,
    PathId(user_id): PathId,
) -> ApiResult<Json<UserResponse>> {
    let user =
        state.users().get_user(pb::GetUserRequest { user_id: user_id.to_string() }).await?.into_inner();
    Ok(Json(UserResponse::from_proto(user)?))
}

/// Change an account's role (admin only). The account's sessions end, so that no token keeps
/// the old role.
#[utoipa::path(patch, path = "/api/v1/users/{id}/role", tag = "users", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The user id")),
    request_body = SetRoleRequest,
    responses(
        (status = 200, body = UserResponse),
        (status = 403, description = "`forbidden`: not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: not a role", body = Problem, content_type = "application/problem+json"),
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
