//! Putting boxoffice together: which services run in this process, what they store their data
//! in, and how they reach each other. `main.rs` only parses the command line.

pub mod bench;

use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use boxoffice_auth::TokenKey;
use boxoffice_bookings::inventory::{InventoryStore, MemoryInventory, RedisInventory};
use boxoffice_bookings::payments::TestPaymentProvider;
use boxoffice_bookings::tickets::TicketSigner;
use boxoffice_bookings::{Bookings, Clock};
use boxoffice_config::Settings;
use boxoffice_events::Events;
use boxoffice_kv::Kv;
use boxoffice_proto::booking::booking_service_client::BookingServiceClient;
use boxoffice_proto::event::event_service_client::EventServiceClient;
use boxoffice_proto::internal_auth::AttachToken;
use boxoffice_proto::internal_auth::{RequireToken, MIN_TOKEN_CHARS};
use boxoffice_users::{Database, Users};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint, Server};

/// The file, under the data directory, that keeps the embedded default's access token secret.
pub const TOKEN_SECRET_FILE: &str = "jwt-hs256.key";
/// The file, under the data directory, that keeps the embedded default's ticket secret.
pub const TICKET_SECRET_FILE: &str = "ticket-hmac.key";
/// A call from one service to another that takes longer than this has failed.
pub const INTERNAL_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A service that `serve --service` can start on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceName {
    Users,
    Events,
    Bookings,
    Gateway,
}

impl FromStr for ServiceName {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Self> {
        match text {
            "users" => Ok(ServiceName::Users),
            "events" => Ok(ServiceName::Events),
            "bookings" => Ok(ServiceName::Bookings),
            "gateway" => Ok(ServiceName::Gateway),
            other => anyhow::bail!("unknown service `{other}`; expected users, events, bookings or gateway"),
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
}

impl Running {
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

/// Applies every service's pending migrations.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    boxoffice_users::open_store(&database(settings, "users")).await?;
    boxoffice_events::open_store(&database(settings, "events")).await?;
    boxoffice_bookings::open_store(&database(settings, "bookings")).await?;
    Ok(())
}

/// Reverts every service's migrations newer than `version`.
pub async fn revert_migrations(settings: &Settings, version: i64) -> anyhow::Result<()> {
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

/// The secret that signs and verifies access tokens: from configuration, or, for the embedded
/// default, from a file under the data directory that the first start creates.
pub fn token_key(settings: &Settings) -> anyhow::Result<TokenKey> {
    let text =
        secret(settings, settings.jwt_secret.as_deref(), "BOXOFFICE_JWT_SECRET", TOKEN_SECRET_FILE, || {
            Ok(TokenKey::generate_secret())
        })?;
    let source = match settings.jwt_secret {
        Some(_) => "BOXOFFICE_JWT_SECRET".to_owned(),
        None => settings.data_dir.join(TOKEN_SECRET_FILE).display().to_string(),
    };
    TokenKey::new(&text).with_context(|| format!("reading the access token secret from {source}"))
}

/// The secret that signs ticket codes, found like [`token_key`].
pub fn ticket_signer(settings: &Settings) -> anyhow::Result<TicketSigner> {
    let text = secret(
        settings,
        settings.ticket_secret.as_deref(),
        "BOXOFFICE_TICKET_SECRET",
        TICKET_SECRET_FILE,
        || Ok(boxoffice_auth::random_token()),
    )?;
    TicketSigner::new(text.trim().as_bytes()).context("reading the ticket secret")
}

/// A secret from configuration; embedded, from a file under the data directory that the first
/// start creates with `generate`. With PostgreSQL every replica must share it, so it must be
/// configured.
fn secret(
    settings: &Settings,
    configured: Option<&str>,
    variable: &str,
    file: &str,
    generate: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<String> {
    if let Some(text) = configured {
        return Ok(text.to_owned());
    }
    anyhow::ensure!(
        settings.is_embedded(),
        "{variable} must be set when BOXOFFICE_DATABASE_URL is, so that every replica uses the same \
         secret; create one with `boxoffice keys generate`"
    );
    load_or_create_secret_file(&settings.data_dir.join(file), generate)
}

fn load_or_create_secret_file(
    path: &Path,
    generate: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<String> {
    let read =
        |path: &Path| std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()));
    if path.exists() {
        return read(path);
    }
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    // The secret is written whole to a private file, then linked into place: two processes
    // starting at once (`serve` and `users add`, say) never see a half-written secret, and the
    // loser of the race uses the winner's.
    let secret = generate()?;
    let file_name = path.file_name().and_then(|name| name.to_str()).unwrap_or("secret");
    let temporary = parent.join(format!(".{file_name}.{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary).with_context(|| format!("creating {}", temporary.display()))?;
    std::io::Write::write_all(&mut file, secret.as_bytes())?;
    file.sync_all()?;
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a secret");
            Ok(secret)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read(path),
        Err(error) => Err(error).with_context(|| format!("creating {}", path.display())),
    }
}

/// The users service, ready to serve with `key`: database opened and migrated.
pub async fn build_users(settings: &Settings, kv: Kv, key: TokenKey) -> anyhow::Result<Users> {
    let store = boxoffice_users::open_store(&database(settings, "users")).await?;
    let users = Users::new(store, kv, key);
    let restored = users.restore_revocations().await.map_err(|error| anyhow::anyhow!(error))?;
    if restored > 0 {
        tracing::info!(sessions = restored, "restored recent revocations");
    }
    Ok(users)
}

/// Serves `router` (one service's gRPC server) on `listener` until `shutdown`.
fn spawn_grpc(
    tasks: &mut JoinSet<anyhow::Result<()>>,
    listener: TcpListener,
    router: tonic::transport::server::Router,
    what: &'static str,
    shutdown: CancellationToken,
) {
    tasks.spawn(async move {
        router
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                shutdown.cancelled_owned(),
            )
            .await
            .with_context(|| format!("serving the {what} service"))
    });
}

fn users_grpc(users: Users, internal_token: &str) -> tonic::transport::server::Router {
    let require = RequireToken::new(internal_token);
    Server::builder().add_service(InterceptedService::new(boxoffice_users::grpc::server(users), require))
}

fn events_grpc(events: Events, internal_token: &str) -> tonic::transport::server::Router {
    let require = RequireToken::new(internal_token);
    Server::builder().add_service(InterceptedService::new(boxoffice_events::grpc::server(events), require))
}

/// The events service, ready to serve: database opened and migrated, and the bookings service
/// (which refunds cancelled events) at `bookings`.
pub async fn build_events(
    settings: &Settings,
    kv: Kv,
    bookings: Channel,
    internal_token: &str,
) -> anyhow::Result<Events> {
    let store = boxoffice_events::open_store(&database(settings, "events")).await?;
    let attach = AttachToken::new(internal_token).context("reading the internal token")?;
    let bookings = BookingServiceClient::with_interceptor(bookings, attach);
    Ok(Events::new(store, kv).with_bookings(bookings))
}

/// The bookings service, ready to serve: database opened and migrated, inventory store
/// connected, the events service at `events`.
pub async fn build_bookings(
    settings: &Settings,
    events: Channel,
    internal_token: &str,
    clock: Clock,
) -> anyhow::Result<Bookings> {
    let store = boxoffice_bookings::open_store(&database(settings, "bookings")).await?;
    let inventory: Arc<dyn InventoryStore> = match &settings.redis_url {
        Some(url) => Arc::new(RedisInventory::connect(url, &settings.redis_key_prefix).await?),
        None => Arc::new(MemoryInventory::new()),
    };
    let attach = AttachToken::new(internal_token).context("reading the internal token")?;
    let events = EventServiceClient::with_interceptor(events, attach)
        .max_decoding_message_size(boxoffice_bookings::grpc::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(boxoffice_bookings::grpc::MAX_MESSAGE_BYTES);
    // The database is the record: every inventory is rebuilt from it after a start, so that no
    // hold a crashed process left in the store outlives it.
    inventory.forget_all().await.context("resetting the inventory store")?;
    let payments = Arc::new(TestPaymentProvider::new());
    Ok(Bookings::new(store, inventory, events, payments, ticket_signer(settings)?, clock))
}

fn bookings_grpc(bookings: Bookings, internal_token: &str) -> tonic::transport::server::Router {
    let require = RequireToken::new(internal_token);
    Server::builder()
        .add_service(InterceptedService::new(boxoffice_bookings::grpc::server(bookings), require))
}

fn channel_to(url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("reading the service URL {url}"))?
        .timeout(INTERNAL_CALL_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .connect_lazy())
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
    let mut running = Running {
        http_addr: None,
        users_grpc_addr: None,
        events_grpc_addr: None,
        bookings_grpc_addr: None,
        admin_addr: None,
        tasks: JoinSet::new(),
        shutdown: shutdown.clone(),
    };
    let tasks = &mut running.tasks;
    match only {
        None => {
            let kv = open_kv(settings).await?;
            let internal_token = match &settings.internal_token {
                Some(token) => token.clone(),
                None => boxoffice_auth::random_token(),
            };
            // In one process the services reach each other on ephemeral loopback ports, so two
            // instances never collide. The ports are bound first because the services call each
            // other both ways.
            let loopback = ([127, 0, 0, 1], 0).into();
            let users_listener = bind(loopback, "users service").await?;
            let events_listener = bind(loopback, "events service").await?;
            let bookings_listener = bind(loopback, "bookings service").await?;
            let users_addr = users_listener.local_addr()?;
            let events_addr = events_listener.local_addr()?;
            let bookings_addr = bookings_listener.local_addr()?;
            let events_url = format!("http://{events_addr}");
            let bookings_url = format!("http://{bookings_addr}");

            // One secret signs (users) and verifies (gateway) the access tokens.
            let tokens = token_key(settings)?;
            let users = build_users(settings, kv.clone(), tokens.clone()).await?;
            spawn_grpc(
                tasks,
                users_listener,
                users_grpc(users.clone(), &internal_token),
                "users",
                shutdown.clone(),
            );
            let events =
                build_events(settings, kv.clone(), channel_to(&bookings_url)?, &internal_token).await?;
            spawn_grpc(
                tasks,
                events_listener,
                events_grpc(events.clone(), &internal_token),
                "events",
                shutdown.clone(),
            );
            let bookings = build_bookings(settings, channel_to(&events_url)?, &internal_token, clock).await?;
            tasks.spawn(boxoffice_bookings::run_expirer(bookings.clone(), shutdown.clone()));
            spawn_grpc(
                tasks,
                bookings_listener,
                bookings_grpc(bookings.clone(), &internal_token),
                "bookings",
                shutdown.clone(),
            );

            // The gateway calls the services in this process directly, not over loopback.
            let state = boxoffice_gateway::AppState::new(
                boxoffice_gateway::in_process(boxoffice_users::grpc::server(users)),
                boxoffice_gateway::in_process(boxoffice_events::grpc::server(events)),
                boxoffice_gateway::in_process(boxoffice_bookings::grpc::server(bookings)),
                kv,
                tokens,
            )
            .with_auth_rate_limit(settings.auth_rate_limit_per_minute);
            let listener = bind(settings.http_addr, "public API").await?;
            let http_addr = listener.local_addr()?;
            tasks.spawn(boxoffice_gateway::serve(listener, state, shutdown.clone()));
            tracing::info!(%http_addr, "boxoffice is serving the API");
            running.http_addr = Some(http_addr);
            running.users_grpc_addr = Some(users_addr);
            running.events_grpc_addr = Some(events_addr);
            running.bookings_grpc_addr = Some(bookings_addr);
        }
        Some(ServiceName::Users) => {
            let kv = shared_kv(settings, "users").await?;
            let internal_token = required_internal_token(settings)?;
            let users = build_users(settings, kv, shared_token_key(settings)?).await?;
            let listener = bind(settings.users_grpc_addr, "users service").await?;
            running.users_grpc_addr = Some(listener.local_addr()?);
            spawn_grpc(tasks, listener, users_grpc(users.clone(), internal_token), "users", shutdown.clone());
            let ready = move || {
                let users = users.clone();
                async move { users.check_ready().await }
            };
            running.admin_addr = Some(spawn_admin(tasks, settings, shutdown.clone(), ready).await?);
        }
        Some(ServiceName::Events) => {
            let kv = shared_kv(settings, "events").await?;
            let internal_token = required_internal_token(settings)?;
            let events =
                build_events(settings, kv, channel_to(&settings.bookings_url)?, internal_token).await?;
            let listener = bind(settings.events_grpc_addr, "events service").await?;
            running.events_grpc_addr = Some(listener.local_addr()?);
            spawn_grpc(
                tasks,
                listener,
                events_grpc(events.clone(), internal_token),
                "events",
                shutdown.clone(),
            );
            let ready = move || {
                let events = events.clone();
                async move { events.check_ready().await }
            };
            running.admin_addr = Some(spawn_admin(tasks, settings, shutdown.clone(), ready).await?);
        }
        Some(ServiceName::Bookings) => {
            shared_kv(settings, "bookings").await?;
            let internal_token = required_internal_token(settings)?;
            let bookings =
                build_bookings(settings, channel_to(&settings.events_url)?, internal_token, clock).await?;
            tasks.spawn(boxoffice_bookings::run_expirer(bookings.clone(), shutdown.clone()));
            let listener = bind(settings.bookings_grpc_addr, "bookings service").await?;
            running.bookings_grpc_addr = Some(listener.local_addr()?);
            spawn_grpc(
                tasks,
                listener,
                bookings_grpc(bookings.clone(), internal_token),
                "bookings",
                shutdown.clone(),
            );
            let ready = move || {
                let bookings = bookings.clone();
                async move { bookings.check_ready().await }
            };
            running.admin_addr = Some(spawn_admin(tasks, settings, shutdown.clone(), ready).await?);
        }
        Some(ServiceName::Gateway) => {
            let kv = shared_kv(settings, "gateway").await?;
            let token = required_internal_token(settings)?;
            let state = boxoffice_gateway::AppState::new(
                boxoffice_gateway::over_network(channel_to(&settings.users_url)?, token)?,
                boxoffice_gateway::over_network(channel_to(&settings.events_url)?, token)?,
                boxoffice_gateway::over_network(channel_to(&settings.bookings_url)?, token)?,
                kv,
                shared_token_key(settings)?,
            )
            .with_auth_rate_limit(settings.auth_rate_limit_per_minute);
            let listener = bind(settings.http_addr, "public API").await?;
            let http_addr = listener.local_addr()?;
            tasks.spawn(boxoffice_gateway::serve(listener, state, shutdown.clone()));
            tracing::info!(%http_addr, "the gateway is serving the API");
            running.http_addr = Some(http_addr);
        }
    }
    Ok(running)
}

/// Services in separate processes prove to each other that they are boxoffice's with a secret
/// they share, which therefore must come from configuration.
fn required_internal_token(settings: &Settings) -> anyhow::Result<&str> {
    let token = settings.internal_token.as_deref().unwrap_or_default();
    anyhow::ensure!(
        token.chars().count() >= MIN_TOKEN_CHARS,
        "running services as separate processes needs BOXOFFICE_INTERNAL_TOKEN, a shared secret of \
         at least {MIN_TOKEN_CHARS} characters (for example from `boxoffice keys generate`)"
    );
    Ok(token)
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

async fn spawn_admin<F, Fut>(
    tasks: &mut JoinSet<anyhow::Result<()>>,
    settings: &Settings,
    shutdown: CancellationToken,
    ready: F,
) -> anyhow::Result<SocketAddr>
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), boxoffice_errors::Error>> + Send + 'static,
{
    let listener = bind(settings.admin_addr, "admin endpoint").await?;
    let admin_addr = listener.local_addr()?;
    tracing::info!(%admin_addr, "serving health, readiness and metrics");
    tasks.spawn(boxoffice_gateway::serve_admin(listener, ready, shutdown));
    Ok(admin_addr)
}
