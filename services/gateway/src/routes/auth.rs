//! `/api/v1/auth/*`: signup, login, refresh and logout.
//!
//! The endpoints that take credentials (signup, login, refresh) are limited per client address
//! on top of the users service's per-account lockout, since they are where guessing happens.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use boxoffice_errors::Error;
use boxoffice_proto::user as pb;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::users::UserResponse;
use crate::auth::{catch_up_revocations, AuthUser};
use crate::openapi::fields;
use crate::openapi::responses::{BadBody, RateLimited, Unauthorized, Unavailable, ValidationFailed};
use crate::problem::{ApiJson, ApiResult, Problem};
use crate::rate_limit::limit_auth;
use crate::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    let catch_up = || middleware::from_fn_with_state(state.clone(), catch_up_revocations);
    let credentials = Router::new()
        .route("/auth/signup", post(signup))
        .route("/auth/login", post(login))
        // A reused refresh token revokes its session.
        .route("/auth/refresh", post(refresh).route_layer(catch_up()))
        .route_layer(middleware::from_fn_with_state(state.clone(), limit_auth));
    Router::new().merge(credentials).route("/auth/logout", post(logout).route_layer(catch_up()))
}

#[derive(OpenApi)]
#[openapi(paths(signup, login, refresh, logout))]
pub struct Doc;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[schema(schema_with = fields::email)]
    pub email: String,
    #[schema(schema_with = fields::new_password, example = "correct horse battery")]
    pub password: String,
    #[schema(schema_with = fields::person_name, example = "Ada")]
    pub first_name: String,
    #[schema(schema_with = fields::person_name, example = "Lovelace")]
    pub last_name: String,
}

/// Any email and password: a malformed email is answered like an unknown one, with 401.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(example = "correct horse battery")]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// Any string: one that is not a live refresh token is answered with 401.
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT (HS256) for `Authorization: Bearer`, valid for `expires_in` seconds.
    pub access_token: String,
    /// Single-use: each refresh returns a new one, and presenting a used one ends the session.
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    #[schema(example = 900)]
    pub expires_in: i64,
    pub user: UserResponse,
}

impl TokenResponse {
    fn from_proto(pair: pb::TokenPair) -> ApiResult<Self> {
        let user =
            pair.user.ok_or_else(|| Error::internal("the users service sent tokens without a user"))?;
        Ok(TokenResponse {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
            token_type: "Bearer",
            expires_in: pair.expires_in,
            user: UserResponse::from_proto(user)?,
        })
    }
}

/// Token responses must not be kept by caches along the way (RFC 6749 section 5.1).
fn no_store(body: TokenResponse) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Create a customer account.
#[utoipa::path(post, path = "/auth/signup", tag = "auth", request_body = SignupRequest,
    responses(
        (status = 201, description = "The account", body = UserResponse),
        (status = 409, description = "`email_taken`", body = Problem, content_type = "application/problem+json"),
        BadBody, ValidationFailed, RateLimited, Unavailable,
    ))]
pub async fn signup(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SignupRequest>,
) -> ApiResult<(StatusCode, Json<UserResponse>)> {
    let request = pb::SignupRequest {
        email: body.email,
        password: body.password,
        first_name: body.first_name,
        last_name: body.last_name,
    };
    let user = state.users().signup(request).await?.into_inner();
    Ok((StatusCode::CREATED, Json(UserResponse::from_proto(user)?)))
}

/// Log in with email and password. After repeated failures the account is locked for a while
/// (429, whatever the password).
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "A token pair", body = TokenResponse,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, description = "`invalid_credentials`, the same for an unknown email and a wrong password", body = Problem, content_type = "application/problem+json"),
        BadBody, ValidationFailed, RateLimited, Unavailable,
    ))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let request = pb::LoginRequest { email: body.email, password: body.password };
    let pair = state.users().login(request).await?.into_inner();
    Ok(no_store(TokenResponse::from_proto(pair)?))
}

/// Exchange a refresh token for a new token pair.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; the presented refresh token is used up", body = TokenResponse,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, description = "`unauthorized`: the refresh token is invalid, expired or reused (a reuse revokes the session)", body = Problem, content_type = "application/problem+json"),
        BadBody, ValidationFailed, RateLimited, Unavailable,
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<Response> {
    let request = pb::RefreshRequest { refresh_token: body.refresh_token };
    let pair = state.users().refresh(request).await?.into_inner();
    Ok(no_store(TokenResponse::from_proto(pair)?))
}

/// End the session: its refresh tokens and the current access token stop working.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Logged out"), Unauthorized, Unavailable))]
pub async fn logout(State(state): State<AppState>, caller: AuthUser) -> ApiResult<StatusCode> {
    let request =
        pb::LogoutRequest { user_id: caller.user_id.to_string(), session_id: caller.session_id.to_string() };
    state.users().logout(request).await?;
    Ok(StatusCode::NO_CONTENT)
}
