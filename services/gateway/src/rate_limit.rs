//! Request limits per client address, counted in the shared store so that every gateway replica
//! counts together.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use boxoffice_errors::Error;

use crate::AppState;

pub const DEFAULT_AUTH_REQUESTS_PER_MINUTE: u32 = 120;
/// Joins of waiting rooms one client address may make per minute (a join is one account's place
/// in one event's queue: more from one address is a farm of accounts).
pub const QUEUE_JOINS_PER_MINUTE: u32 = 30;
const WINDOW: Duration = Duration::from_secs(60);

/// Limits signup, login and refresh per client address (the TCP peer; a forwarded-for header
/// is not trusted, since any client can write one).
pub async fn limit_auth(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.auth_rate_limit_per_minute();
    limit_per_address(
        state,
        request,
        next,
        "auth",
        limit,
        "too many signup, login or refresh requests from this address; slow down",
    )
    .await
}

/// Limits joins of waiting rooms per client address (off with the auth limit, for load tests).
/// A request without credentials is not counted: it is refused anyway, and must not spend the
/// budget of the buyers behind the same address.
pub async fn limit_queue_joins(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let anonymous = !request.headers().contains_key(axum::http::header::AUTHORIZATION);
    let limit = if state.auth_rate_limit_per_minute() == 0 || anonymous { 0 } else { QUEUE_JOINS_PER_MINUTE };
    limit_per_address(
        state,
        request,
        next,
        "queue",
        limit,
        "too many waiting room joins from this address; slow down",
    )
    .await
}

async fn limit_per_address(
    state: AppState,
    request: Request,
    next: Next,
    scope: &'static str,
    limit: u32,
    refusal: &'static str,
) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    let (Some(peer), true) = (peer, limit > 0) else {
        return next.run(request).await;
    };
    // The web app's login and signup forms are limited with the API's endpoints, and answered
    // as pages.
    // Inside the API's nested router the path has lost its `/api/v1`: the original URI has it.
    let is_api = crate::web::page::is_api_path(
        request
            .extensions()
            .get::<axum::extract::OriginalUri>()
            .map_or(request.uri(), |original| &original.0)
            .path(),
    );
    let answer = move |error: Error| crate::web::page::failure(is_api, error);
    let key = format!("rate:{scope}:{peer}");
    match state.kv().incr_in_window(&key, WINDOW).await {
        Ok(count) if count > u64::from(limit) => {
            let retry_after = state.kv().ttl(&key).await.ok().flatten().unwrap_or(WINDOW);
            metrics::counter!("http_rate_limited_total", "scope" => scope).increment(1);
            answer(Error::rate_limited(refusal, retry_after.max(Duration::from_secs(1))))
        }
        Ok(_) => next.run(request).await,
        Err(error) => answer(Error::unavailable(format!("{error:#}"))),
    }
}
