//! The gateway: the public REST/JSON API. It authenticates every request at the edge, turns
//! every failure into a problem document, tags every response with a request id, and calls the
//! services over gRPC through their typed clients.
//!
//! - `routes/`: one module per feature (auth, users, venues, events, sales, bookings, tickets,
//!   health, docs), each with its routes, its part of the OpenAPI document, its requests and
//!   responses and their conversions to and from the services' wire types.
//! - `auth.rs`: the extractors that verify the caller (`AuthUser`, `OptionalAuthUser`,
//!   `Organizer`, `Admin`) and the catch-up on the revocation list after calls that revoke.
//! - `problem.rs`: errors as problem documents, and the JSON and query extractors whose every
//!   rejection is one; `whole_number.rs`: integer fields that take `10.0`.
//! - `request_id.rs`: the safe request id; `request_metrics.rs`: requests counted and timed by
//!   route, method and status; `rate_limit.rs`: the per-address limit on credentials.
//! - `openapi/`: the document served at `/api/v1/openapi.json` (the Swagger UI of
//!   `/api/v1/docs` reads it): `responses.rs`, the failure responses many operations share;
//!   `fields.rs`, the schemas of the fields that the services check beyond their JSON type. The
//!   document is exact, and `scripts/schemathesis` checks the running server against it.

pub mod auth;
pub mod live;
pub mod openapi;
pub mod problem;
pub mod rate_limit;
pub mod request_id;
pub mod request_metrics;
pub mod routes;
pub mod sold_out;
pub mod waiting_room;
pub mod web;
pub mod whole_number;

use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::Router;
use boxoffice_auth::TokenKey;
use boxoffice_errors::{Code, Error};
use boxoffice_kv::{Kv, Revocations};
use boxoffice_proto::booking::booking_service_client::BookingServiceClient;
use boxoffice_proto::event::event_service_client::EventServiceClient;
use boxoffice_proto::user::user_service_client::UserServiceClient;
use boxoffice_runtime::Connection;
use boxoffice_types::limits::MAX_GRPC_MESSAGE_BYTES;
use tokio_util::sync::CancellationToken;

/// The largest request body the gateway reads.
pub const MAX_REQUEST_BODY_BYTES: usize = 1024 * 1024;
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
    cookies: web::session::CookiePolicy,
    refreshes: web::session::Refreshes,
    live: live::AvailabilityHub,
    rooms: waiting_room::Rooms,
    /// The repeats of the bookings service's "sold out" answers.
    sold_out: Arc<sold_out::SoldOutAnswers>,
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
            cookies: web::session::CookiePolicy::default(),
            refreshes: web::session::Refreshes::default(),
            live: live::AvailabilityHub::default(),
            rooms: waiting_room::Rooms::default(),
            sold_out: Arc::default(),
        }))
    }

    /// Keeps the repeats of the bookings service's "sold out" answers ([`sold_out`]) in `memo`,
    /// which a bookings service in the same process tells of its releases. Call it before the
    /// state is shared.
    pub fn with_sold_out_answers(mut self, memo: Arc<sold_out::SoldOutAnswers>) -> Self {
        Arc::get_mut(&mut self.0).expect("the memo is set before the state is shared").sold_out = memo;
        self
    }

    /// Holds tickets through the bookings service: a hold with an Idempotency-Key may go to
    /// another replica after one failed it (a repeat returns it), and a hold like one refused
    /// as sold out a moment ago is refused here ([`sold_out`]).
    pub async fn hold(
        &self,
        request: boxoffice_proto::booking::CreateBookingRequest,
    ) -> Result<boxoffice_proto::booking::Booking, Error> {
        let memo = &self.0.sold_out;
        let asked = memo.check(&request).inspect_err(|_| {
            metrics::counter!("gateway_sold_out_echoes_total").increment(1);
        })?;
        let keyed = request.idempotency_key.is_some();
        let call = boxoffice_runtime::connection::request(request, keyed);
        let answer = self.bookings().create_booking(call).await.map_err(|status| Error::from_status(&status));
        if let Some(asked) = asked {
            memo.answered(asked, answer.as_ref().map(|_| ()));
        }
        Ok(answer?.into_inner())
    }

    /// Sets how many signup, login and refresh requests one client address may make per
    /// minute; 0 turns the limit off. Call it before the state is shared.
    pub fn with_auth_rate_limit(mut self, requests_per_minute: u32) -> Self {
        Arc::get_mut(&mut self.0)
            .expect("the rate limit is set before the state is shared")
            .auth_rate_limit_per_minute = requests_per_minute;
        self
    }

    /// Marks the web app's cookies `Secure`, for a gateway behind HTTPS. Call it before the state
    /// is shared.
    pub fn with_secure_cookies(mut self, secure: bool) -> Self {
        Arc::get_mut(&mut self.0).expect("cookies are set before the state is shared").cookies =
            web::session::CookiePolicy { secure };
        self
    }

    pub fn cookie_policy(&self) -> web::session::CookiePolicy {
        self.0.cookies
    }

    pub fn refreshes(&self) -> &web::session::Refreshes {
        &self.0.refreshes
    }

    /// What this gateway read of events' waiting rooms.
    pub fn rooms(&self) -> &waiting_room::Rooms {
        &self.0.rooms
    }

    /// The availability streams of this gateway: one upstream watch per event.
    pub fn live(&self) -> &live::AvailabilityHub {
        &self.0.live
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

/// The whole public API with its middleware: the features' routes under `/api/v1`, the
/// documentation, and the operations endpoints at the root.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(routes::auth::router(&state))
        .merge(routes::users::router(&state))
        .merge(routes::venues::router())
        .merge(routes::events::router())
        .merge(routes::sales::router())
        .merge(routes::bookings::router())
        .merge(routes::tickets::router())
        .merge(routes::door::router())
        .merge(routes::waiting_list::router())
        .merge(routes::attendees::router())
        .merge(routes::queue::router(&state));
    let app = Router::new()
        .nest("/api/v1", api)
        .merge(web::router(&state))
        .merge(routes::docs::router())
        .merge(routes::health::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), web::session::cookie_session))
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY_BYTES))
        .layer(middleware::from_fn(request_metrics::record));
    let app = web::security::with_nosniff(app);
    // Outermost: the id exists before anything else runs and is on every response.
    request_id::tag_requests(app)
}

/// An unknown path: a problem for API clients, a page for people.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    let for_api = web::page::is_api_path(uri.path());
    let error = if for_api {
        Error::new(Code::NotFound, "no such endpoint; see /api/v1/openapi.json")
    } else {
        web::page::PageError::not_found().0
    };
    web::page::failure(for_api, error)
}

async fn method_not_allowed(uri: axum::http::Uri) -> axum::response::Response {
    let error = Error::new(Code::MethodNotAllowed, "the endpoint does not take this method");
    web::page::failure(web::page::is_api_path(uri.path()), error)
}

/// Serves the API on `listener` until `shutdown` is cancelled, then finishes the requests in
/// flight; from `draining` on, each answer closes its connection.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    draining: CancellationToken,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // While the process drains before it stops, every answer closes its connection, so that no
    // client sends a request on a kept-alive connection just as the listener goes away.
    let app = router(state)
        .layer(axum::middleware::map_response(move |mut response: axum::response::Response| {
            let draining = draining.clone();
            async move {
                if draining.is_cancelled() {
                    response
                        .headers_mut()
                        .insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
                }
                response
            }
        }))
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    // Each answer is written as soon as it is ready, not held back until the client acknowledges
    // the one before (Nagle's algorithm), as `boxoffice_runtime::grpc` does for the services.
    let listener = axum::serve::ListenerExt::tap_io(listener, |connection| {
        if let Err(error) = connection.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on a connection");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .context("serving the public API")
}
