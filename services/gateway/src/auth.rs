//! Authentication at the edge: every request with a bearer token is verified here, locally,
//! with the secret shared with the users service, then checked against the revocation list,
//! which calls that may revoke sessions wait to catch up on ([`catch_up_revocations`]).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use boxoffice_auth::VerifyError;
use boxoffice_errors::Error;
use boxoffice_proto::common::Caller;
use boxoffice_types::Role;
use uuid::Uuid;

use crate::problem::ApiError;
use crate::AppState;

/// The caller, as proven by a valid, unrevoked access token.
#[derive(Clone, Copy, Debug)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub role: Role,
    pub session_id: Uuid,
}

impl AuthUser {
    /// Who is asking, for a service, which checks roles and ownership itself.
    pub fn caller(&self) -> Caller {
        boxoffice_types::Caller::new(self.user_id, self.role).into()
    }
}

/// A caller who may be anonymous: for the endpoints that anyone may use but that show more to
/// the owner of a resource. No `Authorization` header means anonymous; a header that does not
/// hold a valid, unrevoked token is refused with 401 as for [`AuthUser`], so that a client with
/// a stale token learns to refresh instead of silently seeing less.
#[derive(Clone, Copy, Debug)]
pub struct OptionalAuthUser(pub Option<AuthUser>);

impl OptionalAuthUser {
    pub fn caller(&self) -> Option<Caller> {
        self.0.as_ref().map(AuthUser::caller)
    }
}

impl FromRequestParts<AppState> for OptionalAuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if !parts.headers.contains_key(AUTHORIZATION) {
            return Ok(OptionalAuthUser(None));
        }
        let caller = AuthUser::from_request_parts(parts, state).await?;
        Ok(OptionalAuthUser(Some(caller)))
    }
}

/// A caller whose token carries the organizer or admin role: who may create venues and events.
/// As an extractor it runs before the body is read, so a customer gets 403 whatever the body
/// holds. The events service checks the role again; this only answers sooner.
#[derive(Clone, Copy, Debug)]
pub struct Organizer(pub AuthUser);

impl FromRequestParts<AppState> for Organizer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = AuthUser::from_request_parts(parts, state).await?;
        if !matches!(caller.role, Role::Organizer | Role::Admin) {
            return Err(ApiError(Error::forbidden()));
        }
        Ok(Organizer(caller))
    }
}

/// A caller whose token carries the admin role. As an extractor it runs before the body is
/// read, so a non-admin gets 403 whatever the body holds.
#[derive(Clone, Copy, Debug)]
pub struct Admin(pub AuthUser);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = AuthUser::from_request_parts(parts, state).await?;
        if caller.role != Role::Admin {
            return Err(ApiError(Error::forbidden()));
        }
        Ok(Admin(caller))
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| Error::unauthorized("the request needs `Authorization: Bearer <access token>`"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or_else(|| Error::unauthorized("the Authorization header must be `Bearer <access token>`"))?;
        verify_access_token(state, token).await.map_err(ApiError)
    }
}

/// Checks an access token: signed by the users service, current, and of a session that is not
/// revoked. Shared by the bearer header and the web app's session cookie.
pub async fn verify_access_token(state: &AppState, token: &str) -> Result<AuthUser, Error> {
    let claims = state.tokens().verify(token).map_err(|error| match error {
        VerifyError::Expired => Error::unauthorized("the access token has expired; refresh it"),
        VerifyError::Invalid => Error::unauthorized("the access token is invalid"),
    })?;
    let revoked = state
        .revocations()
        .is_revoked(claims.sid)
        .await
        .map_err(|error| Error::unavailable(format!("{error:#}")))?;
    if revoked {
        return Err(Error::unauthorized("the access token has been revoked"));
    }
    Ok(AuthUser { user_id: claims.sub, role: claims.role, session_id: claims.sid })
}

/// After a call that may have revoked sessions (a logout, a reused refresh token, a password or
/// role change, a deleted account), waits until this gateway's copy of the revocation list has
/// it, so that the caller's next request is checked against it.
pub async fn catch_up_revocations(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let changes = !request.method().is_safe();
    let response = next.run(request).await;
    if changes {
        state.revocations().catch_up().await;
    }
    response
}
