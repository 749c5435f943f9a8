//! Putting boxoffice together: which services run in this process, what they store their data
//! in, and how they reach each other. `main.rs` only parses the command line.

use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use boxoffice_auth::SigningKey;
use boxoffice_config::Settings;
use boxoffice_kv::Kv;
use boxoffice_proto::internal_auth::{RequireToken, MIN_TOKEN_CHARS};
use boxoffice_users::{Database, Users};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint, Server};

/// The file, under the data directory, that keeps the embedded default's signing key.
pub const SIGNING_KEY_FILE: &str = "jwt-ed25519.key";
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
            other => anyhow::bail!(
                "unknown service `{other}`; expected users, events, bookings or gateway"
            ),
        }
    }
}

/// The services started by [`start`], running until their shutdown token is cancelled.
pub struct Running {
    /// The gateway's public address, when the gateway runs here.
    pub http_addr: Option<SocketAddr>,
    /// The users service's gRPC address, when it runs here.
    pub users_grpc_addr: Option<SocketAddr>,
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
            let result = joined
                .context("a service task panicked")
                .and_then(|result| result);
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

/// The users service's database as configured.
pub fn users_database(settings: &Settings) -> Database {
    match &settings.database_url {
        Some(url) => Database::Postgres {
            url: url.clone(),
            max_connections: settings.database_max_connections,
        },
        None => Database::Sqlite {
            path: settings.sqlite_path("users"),
            max_connections: settings.database_max_connections,
        },
    }
}

/// The shared store: Redis when configured, otherwise memory (for one process only).
pub async fn open_kv(settings: &Settings) -> anyhow::Result<Kv> {
    match &settings.redis_url {
        Some(url) => Kv::redis(url, &settings.redis_key_prefix).await,
        None => Ok(Kv::memory()),
    }
}

/// The key that signs access tokens: from configuration, or, for the embedded default, from a
/// file under the data directory that the first start creates.
pub fn signing_key(settings: &Settings) -> anyhow::Result<SigningKey> {
    if let Some(key) = &settings.jwt_private_key {
        return SigningKey::from_base64(key).context("reading BOXOFFICE_JWT_PRIVATE_KEY");
    }
    anyhow::ensure!(
        settings.is_embedded(),
        "BOXOFFICE_JWT_PRIVATE_KEY must be set when BOXOFFICE_DATABASE_URL is, so that every \
         replica signs with the same key; create one with `boxoffice keys generate`"
    );
    load_or_create_key_file(&settings.data_dir.join(SIGNING_KEY_FILE))
}

fn load_or_create_key_file(path: &Path) -> anyhow::Result<SigningKey> {
    let read = |path: &Path| -> anyhow::Result<SigningKey> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        SigningKey::from_base64(&text).with_context(|| format!("reading {}", path.display()))
    };
    if path.exists() {
        return read(path);
    }
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    // The key is written whole to a private file, then linked into place: two processes starting
    // at once (`serve` and `users add`, say) never see a half-written key, and the loser of the
    // race uses the winner's.
    let key = SigningKey::generate()?;
    let temporary = parent.join(format!(".{SIGNING_KEY_FILE}.{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&temporary)
        .with_context(|| format!("creating {}", temporary.display()))?;
    std::io::Write::write_all(&mut file, key.to_base64().as_bytes())?;
    file.sync_all()?;
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated the access token signing key");
            Ok(key)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read(path),
        Err(error) => Err(error).with_context(|| format!("creating {}", path.display())),
    }
}

/// The users service, ready to serve: database opened and migrated, key loaded.
pub async fn build_users(settings: &Settings, kv: Kv) -> anyhow::Result<Users> {
    let key = signing_key(settings)?;
    let store = boxoffice_users::open_store(&users_database(settings)).await?;
    let users = Users::new(store, kv, Arc::new(key));
    let restored = users
        .restore_revocations()
        .await
        .map_err(|error| anyhow::anyhow!(error))?;
    if restored > 0 {
        tracing::info!(sessions = restored, "restored recent revocations");
    }
    Ok(users)
}

fn spawn_users_grpc(
    tasks: &mut JoinSet<anyhow::Result<()>>,
    listener: TcpListener,
    users: Users,
    internal_token: &str,
    shutdown: CancellationToken,
) {
    let require = RequireToken::new(internal_token);
    tasks.spawn(async move {
        Server::builder()
            .add_service(InterceptedService::new(
                boxoffice_users::grpc::server(users),
                require,
            ))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                shutdown.cancelled_owned(),
            )
            .await
            .context("serving the users service")
    });
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
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the {what} to {addr}"))
}

/// Starts `only` one service, or every implemented one in this process, and returns once they
/// listen. They stop when `shutdown` is cancelled.
pub async fn start(
    settings: &Settings,
    only: Option<ServiceName>,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    // Installing the recorder first means no metric recorded at start-up is lost.
    boxoffice_telemetry::metrics();
    let mut tasks = JoinSet::new();
    let running = |tasks, http_addr, users_grpc_addr, admin_addr| Running {
        http_addr,
        users_grpc_addr,
        admin_addr,
        tasks,
        shutdown: shutdown.clone(),
    };
    match only {
        None => {
            let kv = open_kv(settings).await?;
            let users = build_users(settings, kv.clone()).await?;
            // In one process the services reach each other on ephemeral loopback ports, so two
            // instances never collide.
            let users_listener = bind(([127, 0, 0, 1], 0).into(), "users service").await?;
            let users_addr = users_listener.local_addr()?;
            let internal_token = match &settings.internal_token {
                Some(token) => token.clone(),
                None => boxoffice_auth::random_token(),
            };
            spawn_users_grpc(
                &mut tasks,
                users_listener,
                users,
                &internal_token,
                shutdown.clone(),
            );
            let state = boxoffice_gateway::AppState::connect(
                channel_to(&format!("http://{users_addr}"))?,
                &internal_token,
                kv,
            )
            .await?
            .with_auth_rate_limit(settings.auth_rate_limit_per_minute);
            let listener = bind(settings.http_addr, "public API").await?;
            let http_addr = listener.local_addr()?;
            tasks.spawn(boxoffice_gateway::serve(listener, state, shutdown.clone()));
            tracing::info!(%http_addr, "boxoffice is serving the API");
            Ok(running(tasks, Some(http_addr), Some(users_addr), None))
        }
        Some(ServiceName::Users) => {
            let kv = shared_kv(settings, "users").await?;
            let users = build_users(settings, kv).await?;
            let listener = bind(settings.users_grpc_addr, "users service").await?;
            let users_addr = listener.local_addr()?;
            let internal_token = required_internal_token(settings)?;
            spawn_users_grpc(
                &mut tasks,
                listener,
                users.clone(),
                internal_token,
                shutdown.clone(),
            );
            let admin_addr = spawn_admin(&mut tasks, settings, shutdown.clone(), move || {
                let users = users.clone();
                async move { users.check_ready().await }
            })
            .await?;
            tracing::info!(%users_addr, "the users service is serving gRPC");
            Ok(running(tasks, None, Some(users_addr), Some(admin_addr)))
        }
        Some(ServiceName::Gateway) => {
            let kv = shared_kv(settings, "gateway").await?;
            let state = boxoffice_gateway::AppState::connect(
                channel_to(&settings.users_url)?,
                required_internal_token(settings)?,
                kv,
            )
            .await?
            .with_auth_rate_limit(settings.auth_rate_limit_per_minute);
            let listener = bind(settings.http_addr, "public API").await?;
            let http_addr = listener.local_addr()?;
            tasks.spawn(boxoffice_gateway::serve(listener, state, shutdown.clone()));
            tracing::info!(%http_addr, "the gateway is serving the API");
            Ok(running(tasks, Some(http_addr), None, None))
        }
        Some(service @ (ServiceName::Events | ServiceName::Bookings)) => anyhow::bail!(
            "the {service:?} service is not implemented in this release; its contract is in proto/"
        ),
    }
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
