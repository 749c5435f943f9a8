//! Starting the real boxoffice for a test: on port 0, against a fresh database, on either
//! backend, and driving it over HTTP.

use boxoffice_proto::domain::Envelope;
use std::process::Command;

use boxoffice::Running;
use boxoffice_auth::TokenKey;
use boxoffice_bookings::Clock;
use boxoffice_config::Settings;
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery";

/// The ports [`free_port`] hands out: below the kernel's ephemeral range (32768 and up on
/// Linux), where a server bound to port 0 or a client's outgoing connection never lands, so a
/// port handed out stays free until the caller binds it (the scripts of `scripts/lib` take theirs
/// from 20000 up).
const TEST_PORTS: std::ops::Range<u16> = 12_000..20_000;

/// A loopback port that was free when asked, never handed out before by this process: the
/// caller binds it next.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = u32::from(TEST_PORTS.end - TEST_PORTS.start);
    // Each test process starts somewhere else, so that two running at once seldom meet.
    let start = std::process::id().wrapping_mul(7_919) % span;
    loop {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = TEST_PORTS.start + u16::try_from(offset).unwrap();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A loopback port bound but not listening: a connection to it is refused at once, as to a
/// server that is down, and no other server takes it until [`RefusingPort::release`] hands it
/// to the one meant for it.
pub struct RefusingPort(tokio::net::TcpSocket);

impl RefusingPort {
    pub fn new() -> RefusingPort {
        loop {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            if socket.bind(([127, 0, 0, 1], free_port()).into()).is_ok() {
                return RefusingPort(socket);
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    /// Frees the port for the server about to bind it.
    pub fn release(self) -> u16 {
        self.port()
    }
}

/// Waits until `child` listens on `port`; kills it and panics after 30 s.
pub fn wait_for_port(mut child: std::process::Child, port: u16, what: &str) -> std::process::Child {
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} does not listen on {port}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite files and the in-memory store.
    Embedded,
    /// PostgreSQL and Redis, as in production.
    Postgres,
}

/// Runs each named test on both backends: `on_both_backends!(a, b)` makes `embedded::a`,
/// `postgres::a`, and so on, each calling `a(Backend)` from the enclosing module.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Embedded).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}

fn admin_database_url() -> String {
    std::env::var("BOXOFFICE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn redis_url() -> String {
    std::env::var("BOXOFFICE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A running boxoffice with its own database, and a client for it.
pub struct TestApp {
    pub settings: Settings,
    pub address: String,
    pub client: Client,
    /// The bookings service's clock: tests move it forward to expire holds.
    pub clock: Clock,
    shutdown: CancellationToken,
    running: Option<Running>,
    keep_data: bool,
}

/// Settings for a fresh, empty deployment on `backend`.
pub async fn fresh_settings(backend: Backend) -> Settings {
    let mut settings = Settings {
        http_addr: ([127, 0, 0, 1], 0).into(),
        admin_addr: ([127, 0, 0, 1], 0).into(),
        data_dir: std::env::temp_dir().join(format!("boxoffice-test-{}", Uuid::new_v4())),
        ..Settings::default()
    };
    if backend == Backend::Postgres {
        let name = format!("boxoffice_test_{}", Uuid::new_v4().simple());
        let admin_url = admin_database_url();
        let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
            .await
            .expect("PostgreSQL is reachable for the tests (scripts/test starts it)");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut connection).await.unwrap();
        let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
        settings.database_url = Some(format!("{base}/{name}"));
        settings.redis_url = Some(redis_url());
        settings.redis_key_prefix = format!("boxoffice-test:{}:", Uuid::new_v4());
        settings.jwt_secret = Some(TokenKey::generate_secret());
        settings.ticket_secret = Some(boxoffice_auth::random_token());
        settings.database_max_connections = 5;
    }
    settings
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::start(fresh_settings(backend).await).await
    }

    /// Starts boxoffice on `settings`, which may hold the data of an earlier run.
    pub async fn start(settings: Settings) -> TestApp {
        let _ = boxoffice_telemetry::init_logs(&boxoffice_telemetry::LogSettings::default());
        let shutdown = CancellationToken::new();
        let clock = Clock::system();
        let running = boxoffice::start_with_clock(&settings, None, shutdown.clone(), clock.clone())
            .await
            .expect("boxoffice starts");
        let address = format!("http://{}", running.http_addr.expect("the gateway runs"));
        TestApp {
            settings,
            address,
            client: Client::new(),
            clock,
            shutdown,
            running: Some(running),
            keep_data: false,
        }
    }

    /// The admin endpoint's address (`/healthz`, `/readyz`, `/metrics`).
    pub fn admin_url(&self, path: &str) -> String {
        let admin =
            self.running.as_ref().and_then(|running| running.admin_addr).expect("the admin endpoint runs");
        format!("http://{admin}{path}")
    }

    /// Stops the services gracefully and waits for them. The data stays, for a restart.
    pub async fn stop(mut self) -> Settings {
        self.shutdown.cancel();
        self.running.take().unwrap().wait().await.expect("boxoffice stops cleanly");
        self.keep_data = true;
        self.settings.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Response {
        let mut request = self.request(Method::POST, path).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.request(Method::GET, path);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn patch(&self, path: &str, body: Value, token: &str) -> Response {
        self.request(Method::PATCH, path).bearer_auth(token).json(&body).send().await.unwrap()
    }

    /// The caller's own account, as `GET /users/me` shows it.
    pub async fn me(&self, token: &str) -> Value {
        let response = self.get("/api/v1/users/me", Some(token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Checks that `token` no longer opens anything.
    pub async fn assert_token_refused(&self, token: &str) {
        let response = self.get("/api/v1/users/me", Some(token)).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }

    pub async fn signup(&self, email: &str) -> Value {
        let response = self
            .post(
                "/api/v1/auth/signup",
                json!({"email": email, "password": PASSWORD, "first_name": "Ada", "last_name": "Lovelace"}),
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post("/api/v1/auth/login", json!({"email": email, "password": password}), None).await
    }

    /// Logs in and returns the token pair.
    pub async fn tokens(&self, email: &str) -> Tokens {
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        Tokens {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A new customer, logged in.
    pub async fn customer(&self) -> (String, Tokens) {
        let email = format!("customer-{}@example.com", Uuid::new_v4().simple());
        self.signup(&email).await;
        let tokens = self.tokens(&email).await;
        (email, tokens)
    }

    /// A new account with `role`, created the way an operator does: with `boxoffice users add`
    /// in another process, while the server runs.
    pub async fn user_with_role(&self, role: &str) -> (String, Tokens) {
        let email = format!("{role}-{}@example.com", Uuid::new_v4().simple());
        let output = self
            .cli(&["users", "add", "--email", &email, "--password", PASSWORD, "--role", role])
            .output()
            .expect("the boxoffice binary runs");
        assert!(output.status.success(), "users add fails: {}", String::from_utf8_lossy(&output.stderr));
        let tokens = self.tokens(&email).await;
        (email, tokens)
    }

    /// The `boxoffice` binary, configured like this app.
    pub fn cli(&self, args: &[&str]) -> Command {
        cli(&self.settings, args)
    }

    /// A customer's access token, minted with the server's key the way an operator tool can,
    /// so that tests with hundreds of buyers need not hash hundreds of passwords. Bookings knows
    /// users only by the id in their token.
    pub fn mint_customer(&self) -> (Uuid, String) {
        let user_id = Uuid::now_v7();
        let claims = boxoffice_auth::Claims::new(
            user_id,
            boxoffice_types::Role::Customer,
            Uuid::now_v7(),
            chrono::Utc::now(),
        );
        (user_id, self.token_key().sign(&claims).unwrap())
    }

    /// The secret the server signs tokens with: from the settings, or the file the embedded
    /// default made.
    pub fn token_key(&self) -> TokenKey {
        boxoffice::token_key(&self.settings).unwrap()
    }

    /// Runs `sql` (one text column) against `service`'s own database.
    pub async fn query_text(&self, service: &str, sql: &str) -> Vec<String> {
        query_text(&self.settings, service, sql).await
    }

    /// `service`'s outbox in order: each row's domain event, read, and whether it was sent.
    pub async fn outbox(&self, service: &str) -> Vec<(Envelope, bool)> {
        outbox(&self.settings, service).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        // The data folder holds the embedded database, and on both backends the emails written
        // to files.
        if !self.keep_data {
            remove_data_dir(&self.settings.data_dir);
        }
    }
}

/// A data folder removed when dropped: for a test that starts the services itself.
pub struct RemovedAtEnd(pub std::path::PathBuf);

impl Drop for RemovedAtEnd {
    fn drop(&mut self) {
        remove_data_dir(&self.0);
    }
}

/// Removes a test's data folder. Services stopping in the background may still write into it
/// (SQLite's `-wal` file) while it is being removed, which then fails on a folder no longer
/// empty and left it behind: so it is tried again for a moment.
fn remove_data_dir(path: &std::path::Path) {
    for _ in 0..40 {
        match std::fs::remove_dir_all(path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            _ => return,
        }
    }
}

/// Processes of the test's own (`boxoffice serve --service ...`, started by [`cli`] with one
/// `settings`), killed when dropped, and then their data folder removed.
pub struct Children {
    pub processes: Vec<std::process::Child>,
    // Declared after the processes: dropped once they are stopped.
    _data_dir: RemovedAtEnd,
}

impl Children {
    pub fn of(settings: &Settings) -> Children {
        Children { processes: Vec::new(), _data_dir: RemovedAtEnd(settings.data_dir.clone()) }
    }

    pub fn push(&mut self, child: std::process::Child) {
        self.processes.push(child);
    }

    /// Kills the processes (their data folder goes when this is dropped).
    pub fn stop(&mut self) {
        for mut child in self.processes.drain(..) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `boxoffice` binary, configured by `settings` through the environment.
pub fn cli(settings: &Settings, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_boxoffice"));
    // A free admin port, so that processes of tests running at once never meet on the default.
    command
        .args(args)
        .env("BOXOFFICE_DATA_DIR", &settings.data_dir)
        .env("BOXOFFICE_ADMIN_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn");
    for key in
        ["DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX", "JWT_SECRET", "TICKET_SECRET", "KAFKA_BROKERS"]
    {
        command.env_remove(format!("BOXOFFICE_{key}"));
    }
    if let Some(url) = &settings.database_url {
        command.env("BOXOFFICE_DATABASE_URL", url);
    }
    if let Some(url) = &settings.redis_url {
        command.env("BOXOFFICE_REDIS_URL", url).env("BOXOFFICE_REDIS_KEY_PREFIX", &settings.redis_key_prefix);
    }
    if let Some(secret) = &settings.jwt_secret {
        command.env("BOXOFFICE_JWT_SECRET", secret);
    }
    if let Some(secret) = &settings.ticket_secret {
        command.env("BOXOFFICE_TICKET_SECRET", secret);
    }
    if let Some(brokers) = &settings.kafka_brokers {
        command.env("BOXOFFICE_KAFKA_BROKERS", brokers);
    }
    command
}

/// `$body` with `$connection` open on `$service`'s own database: its PostgreSQL schema, or its
/// SQLite file.
macro_rules! on_database {
    ($settings:expr, $service:expr, |$connection:ident| $body:expr) => {
        match &$settings.database_url {
            Some(url) => {
                let options = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(url)
                    .unwrap()
                    .options([("search_path", $service)]);
                let mut $connection =
                    <sqlx::PgConnection as sqlx::Connection>::connect_with(&options).await.unwrap();
                $body
            }
            None => {
                let url = format!("sqlite://{}", $settings.sqlite_path($service).display());
                let mut $connection =
                    <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
                $body
            }
        }
    };
}

/// The rows (of type `$row`) of `$sql` on `$service`'s own database.
macro_rules! fetch_all {
    ($settings:expr, $service:expr, $sql:expr, $row:ty) => {
        on_database!($settings, $service, |connection| {
            let rows: Vec<$row> = sqlx::query_as($sql).fetch_all(&mut connection).await.unwrap();
            rows
        })
    };
}

/// Signs `email` up through the gateway at `api` (with [`PASSWORD`]) and logs in: its access
/// token.
pub async fn signed_up_through(api: &str, email: &str) -> String {
    let client = reqwest::Client::new();
    let signup = client
        .post(format!("{api}/api/v1/auth/signup"))
        .json(&json!({"email": email, "password": PASSWORD, "first_name": "Ada", "last_name": "L"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), StatusCode::CREATED);
    let login: Value = client
        .post(format!("{api}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["access_token"].as_str().unwrap().to_owned()
}

/// Runs `sql`, a statement that returns nothing, against `service`'s own database.
pub async fn execute(settings: &Settings, service: &str, sql: &str) {
    on_database!(settings, service, |connection| {
        sqlx::query(sql).execute(&mut connection).await.unwrap();
    })
}

/// Runs `sql` (one text column) against `service`'s own database.
pub async fn query_text(settings: &Settings, service: &str, sql: &str) -> Vec<String> {
    fetch_all!(settings, service, sql, (String,)).into_iter().map(|(text,)| text).collect()
}

/// `service`'s outbox in order: each row's domain event, read, and whether it was sent.
pub async fn outbox(settings: &Settings, service: &str) -> Vec<(Envelope, bool)> {
    const SQL: &str = "SELECT envelope, sent_at IS NOT NULL FROM outbox ORDER BY id";
    fetch_all!(settings, service, SQL, (Vec<u8>, bool))
        .into_iter()
        .map(|(envelope, sent)| (<Envelope as prost::Message>::decode(envelope.as_slice()).unwrap(), sent))
        .collect()
}

pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

/// Reads a problem document and checks its shape and code.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
    body
}
