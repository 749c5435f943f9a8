//! The gateway: the public REST/JSON API. It authenticates every request at the edge, turns
//! every failure into a problem document, tags every response with a request id, and calls the
//! services over gRPC through their typed clients.

pub mod auth;
pub mod openapi;
pub mod problem;
pub mod rate_limit;
pub mod routes;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use boxoffice_auth::TokenKey;
use boxoffice_errors::{Code, Error};
use boxoffice_kv::{Kv, Revocations};
use boxoffice_proto::booking::booking_service_client::BookingServiceClient;
use boxoffice_proto::event::event_service_client::EventServiceClient;
use boxoffice_proto::user::user_service_client::UserServiceClient;
use boxoffice_runtime::Connection;
use boxoffice_types::limits::MAX_GRPC_MESSAGE_BYTES;
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;

use crate::problem::ApiError;

/// The largest request body the gateway reads.
pub const MAX_REQUEST_BODY_BYTES: usize = 1024 * 1024;
pub const REQUEST_ID_HEADER: &str = "x-request-id";
type UsersClient = UserServiceClient<Connection>;
type EventsClient = EventServiceClient<Connection>;
type BookingsClient = BookingServiceClient<Connection>;

/// What every handler shares; clones share one copy.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

struct Shared {
    users: UsersClient,
    events: EventsClient,
    bookings: BookingsClient,
    tokens: TokenKey,
    revocations: Revocations,
    kv: Kv,
    auth_rate_limit_per_minute: u32,
}

impl AppState {
    /// The gateway, calling its services through these connections (which connect lazily: no
    /// service is called until a request needs it) and checking access tokens with `tokens`.
    pub fn new(
        users: Connection,
        events: Connection,
        bookings: Connection,
        kv: Kv,
        tokens: TokenKey,
    ) -> Self {
        let events = EventServiceClient::new(events)
            .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_GRPC_MESSAGE_BYTES);
        let bookings = BookingServiceClient::new(bookings)
            .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_GRPC_MESSAGE_BYTES);
        AppState(Arc::new(Shared {
            users: UserServiceClient::new(users),
            events,
            bookings,
            tokens,
            revocations: kv.revocations(),
            kv,
            auth_rate_limit_per_minute: rate_limit::DEFAULT_AUTH_REQUESTS_PER_MINUTE,
        }))
    }

    /// Sets how many signup, login and refresh requests one client address may make per
    /// minute; 0 turns the limit off. Call it before the state is shared.
    pub fn with_auth_rate_limit(mut self, requests_per_minute: u32) -> Self {
        Arc::get_mut(&mut self.0)
            .expect("the rate limit is set before the state is shared")
            .auth_rate_limit_per_minute = requests_per_minute;
        self
    }

    pub fn tokens(&self) -> &TokenKey {
        &self.0.tokens
    }

    pub fn revocations(&self) -> &Revocations {
        &self.0.revocations
    }

    pub fn kv(&self) -> &Kv {
        &self.0.kv
    }

    pub fn auth_rate_limit_per_minute(&self) -> u32 {
        self.0.auth_rate_limit_per_minute
    }

    /// A client of the users service; clones share one connection.
    pub fn users(&self) -> UsersClient {
        self.0.users.clone()
    }

    /// A client of the events service; clones share one connection.
    pub fn events(&self) -> EventsClient {
        self.0.events.clone()
    }

    /// A client of the bookings service; clones share one connection.
    pub fn bookings(&self) -> BookingsClient {
        self.0.bookings.clone()
    }
}

/// The whole public API with its middleware.
pub fn router(state: AppState) -> Router {
    // The endpoints that take credentials are where guessing happens, so they are limited per
    // client address on top of the per-account lockout.
    let catch_up = || middleware::from_fn_with_state(state.clone(), catch_up_revocations);
    let credentials = Router::new()
        .route("/auth/signup", post(routes::auth::signup))
        .route("/auth/login", post(routes::auth::login))
        .route("/auth/refresh", post(routes::auth::refresh).route_layer(catch_up()))
        .route_layer(middleware::from_fn_with_state(state.clone(), rate_limit::limit_auth));
    // The calls that may revoke sessions.
    let revoking = Router::new()
        .route("/auth/logout", post(routes::auth::logout))
        .route(
            "/users/me",
            get(routes::users::me).patch(routes::users::update_me).delete(routes::users::delete_me),
        )
        .route("/users/me/password", post(routes::users::change_password))
        .route("/users/{id}/role", patch(routes::users::set_role))
        .route_layer(catch_up());
    let api = Router::new()
        .merge(credentials)
        .merge(revoking)
        .route("/users/{id}", get(routes::users::get_user))
        .route("/venues", post(routes::venues::create_venue))
        .route("/venues/{id}", get(routes::venues::get_venue))
        .route("/events", get(routes::events::list_events).post(routes::events::create_event))
        .route(
            "/events/{id}",
            get(routes::events::get_event)
                .patch(routes::events::update_event)
                .delete(routes::events::delete_event),
        )
        .route("/events/{id}/publish", post(routes::events::publish_event))
        .route("/events/{id}/cancel", post(routes::events::cancel_event))
        .route("/events/{id}/availability", get(routes::events::availability))
        .route("/events/{id}/stats", get(routes::events::stats))
        .route("/events/{id}/bookings", get(routes::events::event_bookings))
        .route("/bookings", get(routes::bookings::list_bookings).post(routes::bookings::create_booking))
        .route("/bookings/{id}", get(routes::bookings::get_booking))
        .route("/bookings/{id}/confirm", post(routes::bookings::confirm_booking))
        .route("/bookings/{id}/cancel", post(routes::bookings::cancel_booking))
        .route("/tickets/{id}/qr", get(routes::bookings::ticket_qr))
        .route("/checkin", post(routes::bookings::check_in))
        .route("/openapi.json", get(openapi_json));

    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route("/metrics", get(routes::health::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY_BYTES))
        .layer(middleware::from_fn(record_metrics))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let request_id =
                request.headers().get(REQUEST_ID_HEADER).and_then(|value| value.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %request.method(), uri = %request.uri(), request_id)
        }))
        // Outermost: the id exists before anything else runs and is on every response.
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// After a call that may have revoked sessions (a logout, a reused refresh token, a password or
/// role change, a deleted account), waits until this gateway's copy of the revocation list has
/// it, so that the caller's next request is checked against it.
async fn catch_up_revocations(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let changes = !request.method().is_safe();
    let response = next.run(request).await;
    if changes {
        state.revocations().catch_up().await;
    }
    response
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi::ApiDoc::openapi())
}

async fn not_found() -> ApiError {
    ApiError(Error::new(Code::NotFound, "no such endpoint; see /api/v1/openapi.json"))
}

async fn method_not_allowed() -> ApiError {
    ApiError(Error::new(Code::MethodNotAllowed, "the endpoint does not take this method"))
}

/// Counts requests and their latency by route (the matched pattern, so ids do not explode the
/// number of series), method and status.
async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// Serves the API on `listener` until `shutdown` is cancelled, then finishes the requests in
/// flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .context("serving the public API")
}
