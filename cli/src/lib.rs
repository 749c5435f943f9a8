//! Putting boxoffice together: which services run in this process, and what each is given to
//! run with. Each service builds itself from its `Deps` (`boxoffice_users::build`, ...); this
//! crate only reads the settings into those, and decides where each service runs. `main.rs`
//! parses the command line.

pub mod bench;
mod data_dir;
pub mod live_bench;
mod messaging;
pub mod queue_bench;
mod secrets;
pub mod soak_bench;

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context as _;
use boxoffice_auth::TokenKey;
use boxoffice_bookings::consumers::EventCancellations;
use boxoffice_bookings::{Bookings, Clock, InventoryBackend};
use boxoffice_config::Settings;
use boxoffice_events::Events;
use boxoffice_kv::Kv;
use boxoffice_notifications::Notifications;
use boxoffice_proto::booking::booking_service_server::SERVICE_NAME as BOOKINGS_SERVICE;
use boxoffice_proto::event::event_service_server::SERVICE_NAME as EVENTS_SERVICE;
use boxoffice_proto::user::user_service_server::SERVICE_NAME as USERS_SERVICE;
use boxoffice_runtime::connection::{in_process, over_network, PROBE_EVERY, PROBE_TIMEOUT};
use boxoffice_runtime::internal_token::MIN_TOKEN_CHARS;
use boxoffice_runtime::{Connection, GrpcServer, InternalToken, ServiceTls};
use boxoffice_users::{Database, Users};
pub use data_dir::{data_dir_is_new, describe_database, where_it_went, DataDirLock};
use messaging::Messaging;
pub use secrets::{ticket_signer, token_key, TICKET_SECRET_FILE, TOKEN_SECRET_FILE};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A service that `serve --service` can start on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceName {
    Users,
    Events,
    Bookings,
    Notifications,
    Gateway,
}

impl FromStr for ServiceName {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Self> {
        ServiceName::ALL.into_iter().find(|service| service.as_str() == text).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown service `{text}`; expected users, events, bookings, notifications or gateway"
            )
        })
    }
}

impl ServiceName {
    pub const ALL: [ServiceName; 5] = [
        ServiceName::Users,
        ServiceName::Events,
        ServiceName::Bookings,
        ServiceName::Notifications,
        ServiceName::Gateway,
    ];

    /// Its name, as `serve --service` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Users => "users",
            ServiceName::Events => "events",
            ServiceName::Bookings => "bookings",
            ServiceName::Notifications => "notifications",
            ServiceName::Gateway => "gateway",
        }
    }
}

/// The services started by [`start`], running until their shutdown token is cancelled.
pub struct Running {
    /// The gateway's public address, when the gateway runs here.
    pub http_addr: Option<SocketAddr>,
    /// The users service's gRPC address, when it runs here.
    pub users_grpc_addr: Option<SocketAddr>,
    /// The events service's gRPC address, when it runs here.
    pub events_grpc_addr: Option<SocketAddr>,
    /// The bookings service's gRPC address, when it runs here.
    pub bookings_grpc_addr: Option<SocketAddr>,
    /// Health, readiness and metrics of a service running on its own.
    pub admin_addr: Option<SocketAddr>,
    tasks: JoinSet<anyhow::Result<()>>,
    shutdown: CancellationToken,
    /// Cancelled when the process is asked to stop: readiness fails from then on, while the
    /// services go on serving until `shutdown` ([`Running::stopper`]).
    draining: CancellationToken,
    /// Held while the services run: no second process serves the same embedded data.
    _data_dir_lock: Option<DataDirLock>,
}

impl Running {
    fn new(shutdown: CancellationToken) -> Self {
        Running {
            http_addr: None,
            users_grpc_addr: None,
            events_grpc_addr: None,
            bookings_grpc_addr: None,
            admin_addr: None,
            tasks: JoinSet::new(),
            shutdown,
            draining: CancellationToken::new(),
            _data_dir_lock: None,
        }
    }

    /// How to stop the services gracefully: readiness fails at once (a load balancer or an
    /// orchestrator that watches it stops sending), the services go on serving for
    /// [`DRAIN_BEFORE_STOP`], then the listeners close and the requests in flight finish.
    pub fn stopper(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let (draining, shutdown) = (self.draining.clone(), self.shutdown.clone());
        async move {
            draining.cancel();
            tokio::time::sleep(DRAIN_BEFORE_STOP).await;
            shutdown.cancel();
        }
    }

    /// Waits until every service has stopped. The first failure stops the others.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut outcome = Ok(());
        while let Some(joined) = self.tasks.join_next().await {
            let result = joined.context("a service task panicked").and_then(|result| result);
            if let Err(error) = result {
                self.shutdown.cancel();
                if outcome.is_ok() {
                    outcome = Err(error);
                }
            }
        }
        outcome
    }

    /// Serves one service's gRPC server on `listener`, behind the internal token.
    fn serve_grpc<S>(&mut self, listener: TcpListener, server: S, token: &InternalToken, tls: &ServiceTls)
    where
        S: GrpcServer + tonic::server::NamedService,
    {
        let serving = boxoffice_runtime::grpc::serve(
            listener,
            server,
            token.clone(),
            tls.clone(),
            self.draining.clone(),
            self.shutdown.clone(),
        );
        self.tasks.spawn(serving);
    }

    /// Serves the admin endpoint (`/healthz`, `/readyz`, `/metrics`) on `BOXOFFICE_ADMIN_ADDR`.
    async fn serve_admin<F, Fut>(&mut self, settings: &Settings, ready: F) -> anyhow::Result<()>
    where
        F: Fn() -> Fut + Clone + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), boxoffice_errors::Error>> + Send + 'static,
    {
        let listener = bind(settings.admin_addr, "admin endpoint").await?;
        let admin_addr = listener.local_addr()?;
        tracing::info!(%admin_addr, "serving health, readiness and metrics");
        let draining = self.draining.clone();
        let ready = move || {
            let (ready, draining) = (ready.clone(), draining.clone());
            async move {
                if draining.is_cancelled() {
                    return Err(boxoffice_errors::Error::unavailable("shutting down"));
                }
                ready().await
            }
        };
        self.tasks.spawn(boxoffice_runtime::admin::serve(listener, ready, self.shutdown.clone()));
        self.admin_addr = Some(admin_addr);
        Ok(())
    }

    /// Serves the public API with `gateway`.
    async fn serve_gateway(
        &mut self,
        settings: &Settings,
        gateway: boxoffice_gateway::AppState,
    ) -> anyhow::Result<()> {
        let listener = bind(settings.http_addr, "public API").await?;
        let http_addr = listener.local_addr()?;
        self.tasks.spawn(boxoffice_gateway::serve(
            listener,
            gateway,
            self.draining.clone(),
            self.shutdown.clone(),
        ));
        tracing::info!(%http_addr, "serving the public API");
        self.http_addr = Some(http_addr);
        Ok(())
    }
}

/// The database of `service` as configured: its own schema in PostgreSQL, or its own SQLite
/// file under the data directory.
pub fn database(settings: &Settings, service: &str) -> Database {
    match &settings.database_url {
        Some(url) => {
            Database::Postgres { url: url.clone(), max_connections: settings.database_max_connections }
        }
        None => Database::Sqlite {
            path: settings.sqlite_path(service),
            max_connections: settings.database_max_connections,
        },
    }
}

/// The services that keep data of their own, each in its own database or schema.
pub const SERVICES_WITH_DATA: [&str; 4] = ["users", "events", "bookings", "notifications"];

/// How long a process asked to stop keeps serving with its readiness failed, so that whoever
/// sends it requests stops first: a load balancer that checks readiness, an orchestrator
/// removing it from a service (Kubernetes also waits in its preStop hook), and the other
/// services, whose probes find it not ready within one round (2 s: a probe's period and time,
/// and a margin).
pub const DRAIN_BEFORE_STOP: std::time::Duration =
    PROBE_EVERY.saturating_add(PROBE_TIMEOUT).saturating_add(std::time::Duration::from_millis(200));

/// Applies every service's pending migrations.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    boxoffice_users::open_store(&database(settings, "users")).await?;
    boxoffice_events::open_store(&database(settings, "events")).await?;
    boxoffice_bookings::open_db(&database(settings, "bookings")).await?;
    boxoffice_notifications::open_store(&database(settings, "notifications")).await?;
    Ok(())
}

/// Puts the notifications service's failed emails back in its queue (`boxoffice mail
/// requeue-failed`); a running postman sends them within its next poll.
pub async fn requeue_failed_mail(settings: &Settings) -> anyhow::Result<u64> {
    let store = boxoffice_notifications::open_store(&database(settings, "notifications")).await?;
    Ok(store.requeue_failed(chrono::Utc::now()).await?)
}

/// Reverts every service's migrations newer than `version`.
pub async fn revert_migrations(settings: &Settings, version: i64) -> anyhow::Result<()> {
    boxoffice_notifications::revert_migrations(&database(settings, "notifications"), version).await?;
    boxoffice_bookings::revert_migrations(&database(settings, "bookings"), version).await?;
    boxoffice_events::revert_migrations(&database(settings, "events"), version).await?;
    boxoffice_users::revert_migrations(&database(settings, "users"), version).await?;
    Ok(())
}

/// The shared store: Redis when configured, otherwise memory (for one process only).
pub async fn open_kv(settings: &Settings) -> anyhow::Result<Kv> {
    match &settings.redis_url {
        Some(url) => Kv::redis(url, &settings.redis_key_prefix).await,
        None => Ok(Kv::memory()),
    }
}

/// The users service as configured, signing with `tokens`: what `serve` runs, and what the
/// operator CLI (`users add`) calls directly.
pub async fn users(settings: &Settings, kv: Kv, tokens: TokenKey) -> anyhow::Result<Users> {
    boxoffice_users::build(boxoffice_users::Deps { database: database(settings, "users"), kv, tokens }).await
}

async fn events(settings: &Settings, kv: Kv, bookings: Connection) -> anyhow::Result<Events> {
    boxoffice_events::build(boxoffice_events::Deps { database: database(settings, "events"), kv, bookings })
        .await
}

async fn bookings(settings: &Settings, events: Connection, clock: Clock) -> anyhow::Result<Bookings> {
    let inventory = match &settings.redis_url {
        Some(url) => {
            InventoryBackend::Redis { url: url.clone(), key_prefix: settings.redis_key_prefix.clone() }
        }
        None => InventoryBackend::Memory,
    };
    boxoffice_bookings::build(boxoffice_bookings::Deps {
        database: database(settings, "bookings"),
        inventory,
        events,
        tickets: ticket_signer(settings)?,
        clock,
        hold_ttl: boxoffice_bookings::HoldTtl::from_minutes(settings.hold_minutes)
            .map_err(|error| anyhow::anyhow!("BOXOFFICE_HOLD_MINUTES: {error}"))?,
    })
    .await
}

/// The notifications service as configured, asking `users` whom to write to and `events` about
/// events their topic has not told of.
async fn notifications(
    settings: &Settings,
    users: Connection,
    events: Connection,
) -> anyhow::Result<Notifications> {
    boxoffice_notifications::build(boxoffice_notifications::Deps {
        database: database(settings, "notifications"),
        users,
        events,
        smtp_url: settings.smtp_url.clone(),
        smtp_ca_file: settings.smtp_ca_file.clone(),
        mail_folder: settings.mail_folder(),
        from: settings.mail_from.clone(),
    })
    .await
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| format!("binding the {what} to {addr}"))
}

/// Starts `only` one service, or every service in this process, and returns once they listen.
/// They stop when `shutdown` is cancelled.
pub async fn start(
    settings: &Settings,
    only: Option<ServiceName>,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    start_with_clock(settings, only, shutdown, Clock::system()).await
}

/// [`start`] with the bookings service on `clock`, which tests move forward to expire holds.
pub async fn start_with_clock(
    settings: &Settings,
    only: Option<ServiceName>,
    shutdown: CancellationToken,
    clock: Clock,
) -> anyhow::Result<Running> {
    // Installing the recorder first means no metric recorded at start-up is lost.
    boxoffice_telemetry::metrics();
    let mut running = Running::new(shutdown);
    match only {
        None => start_all(&mut running, settings, clock).await?,
        Some(ServiceName::Users) => {
            let kv = shared_kv(settings, "users").await?;
            let token = required_internal_token(settings)?;
            let tls = service_tls(settings, &[])?;
            let users = users(settings, kv, shared_token_key(settings)?).await?;
            let messaging = Messaging::connect(settings, false).await?;
            messaging.relay(&mut running.tasks, users.outbox(), settings, running.shutdown.clone());
            let listener = bind(settings.users_grpc_addr, "users service").await?;
            running.users_grpc_addr = Some(listener.local_addr()?);
            running.serve_grpc(listener, boxoffice_users::grpc::server(users.clone()), &token, &tls);
            let ready = move || {
                let users = users.clone();
                async move { users.check_ready().await }
            };
            running.serve_admin(settings, ready).await?;
        }
        Some(ServiceName::Events) => {
            let kv = shared_kv(settings, "events").await?;
            let token = required_internal_token(settings)?;
            let tls = service_tls(settings, &[&settings.bookings_url])?;
            let events =
                events(settings, kv, over_network(BOOKINGS_SERVICE, &settings.bookings_url, &token, &tls)?)
                    .await?;
            let messaging = Messaging::connect(settings, false).await?;
            messaging.relay(&mut running.tasks, events.outbox(), settings, running.shutdown.clone());
            let listener = bind(settings.events_grpc_addr, "events service").await?;
            running.events_grpc_addr = Some(listener.local_addr()?);
            running.serve_grpc(listener, boxoffice_events::grpc::server(events.clone()), &token, &tls);
            let ready = move || {
                let events = events.clone();
                async move { events.check_ready().await }
            };
            running.serve_admin(settings, ready).await?;
        }
        Some(ServiceName::Bookings) => {
            shared_kv(settings, "bookings").await?;
            let token = required_internal_token(settings)?;
            let tls = service_tls(settings, &[&settings.events_url])?;
            let bookings =
                bookings(settings, over_network(EVENTS_SERVICE, &settings.events_url, &token, &tls)?, clock)
                    .await?;
            running.tasks.spawn(boxoffice_bookings::run_expirer(bookings.clone(), running.shutdown.clone()));
            let messaging = Messaging::connect(settings, false).await?;
            let saga = Arc::new(EventCancellations::new(bookings.clone()));
            messaging.consume(&mut running.tasks, saga, running.shutdown.clone())?;
            messaging.relay(&mut running.tasks, bookings.outbox(), settings, running.shutdown.clone());
            let listener = bind(settings.bookings_grpc_addr, "bookings service").await?;
            running.bookings_grpc_addr = Some(listener.local_addr()?);
            running.serve_grpc(listener, boxoffice_bookings::grpc::server(bookings.clone()), &token, &tls);
            let ready = move || {
                let bookings = bookings.clone();
                async move { bookings.check_ready().await }
            };
            running.serve_admin(settings, ready).await?;
        }
        Some(ServiceName::Notifications) => {
            let token = required_internal_token(settings)?;
            let tls = service_tls(settings, &[&settings.users_url, &settings.events_url])?;
            // It learns everything from the topics: alone, without Kafka, it would do nothing.
            anyhow::ensure!(
                settings.kafka_brokers.is_some(),
                "running the notifications service on its own needs BOXOFFICE_KAFKA_BROKERS, where it \
                 reads the domain events it emails about; without Kafka, run `boxoffice serve`"
            );
            let users = over_network(USERS_SERVICE, &settings.users_url, &token, &tls)?;
            let notifications = notifications(
                settings,
                users,
                over_network(EVENTS_SERVICE, &settings.events_url, &token, &tls)?,
            )
            .await?;
            let messaging = Messaging::connect(settings, false).await?;
            messaging.consume(
                &mut running.tasks,
                Arc::new(notifications.clone()),
                running.shutdown.clone(),
            )?;
            running.tasks.spawn(postman(notifications.clone(), running.shutdown.clone()));
            let ready = move || {
                let notifications = notifications.clone();
                async move { notifications.check_ready().await }
            };
            running.serve_admin(settings, ready).await?;
        }
        Some(ServiceName::Gateway) => {
            let kv = shared_kv(settings, "gateway").await?;
            let token = required_internal_token(settings)?;
            let tls =
                service_tls(settings, &[&settings.users_url, &settings.events_url, &settings.bookings_url])?;
            let gateway = boxoffice_gateway::AppState::new(
                over_network(USERS_SERVICE, &settings.users_url, &token, &tls)?,
                over_network(EVENTS_SERVICE, &settings.events_url, &token, &tls)?,
                over_network(BOOKINGS_SERVICE, &settings.bookings_url, &token, &tls)?,
                kv,
                shared_token_key(settings)?,
            )
            .with_auth_rate_limit(settings.auth_rate_limit_per_minute)
            .with_secure_cookies(settings.secure_cookies);
            let ready = {
                let gateway = gateway.clone();
                move || {
                    let gateway = gateway.clone();
                    async move { boxoffice_gateway::routes::health::check_ready(&gateway).await }
                }
            };
            running.serve_admin(settings, ready).await?;
            running.serve_gateway(settings, gateway).await?;
        }
    }
    Ok(running)
}

/// Every service in this process. They reach each other on ephemeral loopback ports, so two
/// instances never collide; the gateway calls them directly, without the network.
async fn start_all(running: &mut Running, settings: &Settings, clock: Clock) -> anyhow::Result<()> {
    running._data_dir_lock = DataDirLock::acquire_if_needed(settings).await?;
    let kv = open_kv(settings).await?;
    let token = match &settings.internal_token {
        Some(token) => InternalToken::parse(token).context("reading BOXOFFICE_INTERNAL_TOKEN")?,
        None => InternalToken::parse(&boxoffice_auth::random_token()).expect("a random token is valid"),
    };
    // They call each other on loopback, in the clear.
    let tls = ServiceTls::none();
    // The ports are bound first because the events and bookings services call each other.
    let loopback = ([127, 0, 0, 1], 0).into();
    let users_listener = bind(loopback, "users service").await?;
    let events_listener = bind(loopback, "events service").await?;
    let bookings_listener = bind(loopback, "bookings service").await?;
    let events_url = format!("http://{}", events_listener.local_addr()?);
    let bookings_url = format!("http://{}", bookings_listener.local_addr()?);
    running.users_grpc_addr = Some(users_listener.local_addr()?);
    running.events_grpc_addr = Some(events_listener.local_addr()?);
    running.bookings_grpc_addr = Some(bookings_listener.local_addr()?);

    // One secret signs (users) and verifies (gateway) the access tokens.
    let tokens = token_key(settings)?;
    let users = users(settings, kv.clone(), tokens.clone()).await?;
    let events =
        events(settings, kv.clone(), over_network(BOOKINGS_SERVICE, &bookings_url, &token, &tls)?).await?;
    let bookings =
        bookings(settings, over_network(EVENTS_SERVICE, &events_url, &token, &tls)?, clock).await?;
    // The gateway repeats the bookings service's "sold out" answers, as a gateway of its own
    // does (the in-process call still costs a gRPC request), and forgets them at its releases.
    let sold_out_echo = Arc::new(boxoffice_gateway::sold_out::SoldOutAnswers::default());
    let echo = sold_out_echo.clone();
    bookings.tell_releases_to(Box::new(move |event_id| echo.released(event_id)));
    let users_server = boxoffice_users::grpc::server(users.clone());
    let events_server = boxoffice_events::grpc::server(events.clone());
    let notifications =
        notifications(settings, in_process(users_server.clone()), in_process(events_server.clone())).await?;
    running.tasks.spawn(boxoffice_bookings::run_expirer(bookings.clone(), running.shutdown.clone()));
    running.tasks.spawn(postman(notifications.clone(), running.shutdown.clone()));
    // The admin endpoint in this mode too (the public port keeps /healthz and /readyz): the
    // process is ready when every service in it is.
    let ready = {
        let services = (users.clone(), events.clone(), bookings.clone(), notifications.clone());
        move || {
            let (users, events, bookings, notifications) = services.clone();
            async move {
                users.check_ready().await?;
                events.check_ready().await?;
                bookings.check_ready().await?;
                notifications.check_ready().await
            }
        }
    };
    running.serve_admin(settings, ready).await?;
    let messaging = Messaging::connect(settings, true).await?;
    // Consumers first: the bus hands a message to the consumers subscribed when it is published.
    let saga = Arc::new(EventCancellations::new(bookings.clone()));
    messaging.consume(&mut running.tasks, saga, running.shutdown.clone())?;
    messaging.consume(&mut running.tasks, Arc::new(notifications), running.shutdown.clone())?;
    messaging.relay(&mut running.tasks, users.outbox(), settings, running.shutdown.clone());
    messaging.relay(&mut running.tasks, events.outbox(), settings, running.shutdown.clone());
    messaging.relay(&mut running.tasks, bookings.outbox(), settings, running.shutdown.clone());

    let users = users_server;
    let events = events_server;
    let bookings = boxoffice_bookings::grpc::server(bookings);
    running.serve_grpc(users_listener, users.clone(), &token, &tls);
    running.serve_grpc(events_listener, events.clone(), &token, &tls);
    running.serve_grpc(bookings_listener, bookings.clone(), &token, &tls);
    let gateway = boxoffice_gateway::AppState::new(
        in_process(users),
        in_process(events),
        in_process(bookings),
        kv,
        tokens,
    )
    .with_auth_rate_limit(settings.auth_rate_limit_per_minute)
    .with_secure_cookies(settings.secure_cookies)
    .with_sold_out_answers(sold_out_echo);
    running.serve_gateway(settings, gateway).await
}

/// The notifications service's postman, as a task of [`Running`].
async fn postman(notifications: Notifications, shutdown: CancellationToken) -> anyhow::Result<()> {
    boxoffice_notifications::run_postman(notifications, shutdown).await;
    Ok(())
}

/// The TLS of a service run on its own: its gRPC server's certificate, and the authorities its
/// calls to `https://` service URLs trust; a warning for each of the URLs it `calls` that is
/// plain while TLS is configured.
fn service_tls(settings: &Settings, calls: &[&str]) -> anyhow::Result<ServiceTls> {
    let tls_set = settings.grpc_tls_cert_file.is_some() || settings.grpc_tls_ca_file.is_some();
    for url in calls.iter().flat_map(|urls| urls.split(',')).map(str::trim) {
        if tls_set && url.starts_with("http://") {
            tracing::warn!(
                url,
                "gRPC TLS is configured, but this service URL is http://: calls to it are not encrypted"
            );
        }
    }
    ServiceTls::load(
        settings.grpc_tls_cert_file.as_deref(),
        settings.grpc_tls_key_file.as_deref(),
        settings.grpc_tls_ca_file.as_deref(),
    )
}

/// Services in separate processes prove to each other that they are boxoffice's with a secret
/// they share, which therefore must come from configuration.
fn required_internal_token(settings: &Settings) -> anyhow::Result<InternalToken> {
    let token = settings.internal_token.as_deref().unwrap_or_default();
    anyhow::ensure!(
        token.chars().count() >= MIN_TOKEN_CHARS,
        "running services as separate processes needs BOXOFFICE_INTERNAL_TOKEN, a shared secret of \
         at least {MIN_TOKEN_CHARS} characters (for example from `boxoffice keys generate`)"
    );
    InternalToken::parse(token).context("reading BOXOFFICE_INTERNAL_TOKEN")
}

/// The token secret of a service in its own process: the users service signs with it and the
/// gateway verifies with it, so both must be configured with the same one; a secret generated
/// under each one's data directory would differ.
fn shared_token_key(settings: &Settings) -> anyhow::Result<TokenKey> {
    anyhow::ensure!(
        settings.jwt_secret.is_some(),
        "running the users service or the gateway on its own needs BOXOFFICE_JWT_SECRET, the same \
         in both (for example from `boxoffice keys generate`)"
    );
    token_key(settings)
}

/// Services in separate processes must share revocations and lockouts, which memory cannot.
async fn shared_kv(settings: &Settings, service: &str) -> anyhow::Result<Kv> {
    anyhow::ensure!(
        settings.redis_url.is_some(),
        "running the {service} on its own needs BOXOFFICE_REDIS_URL, so that every process sees \
         the same revoked sessions; without it, run `boxoffice serve` (all services in one process)"
    );
    open_kv(settings).await
}
