//! Configuration: defaults, then an optional TOML file, then `BOXOFFICE_*` environment variables.
//!
//! Every setting is a flat key, so the environment variable is the key in upper case with the
//! `BOXOFFICE_` prefix: `http_addr` is `BOXOFFICE_HTTP_ADDR`. No database URL means the embedded
//! default: SQLite files and an in-memory store under `data_dir`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use figment::providers::{Env, Format as _, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

pub const ENV_PREFIX: &str = "BOXOFFICE_";

/// The name of every setting; `keys_name_every_setting` keeps it in step with [`Settings`].
pub const KEYS: &[&str] = &[
    "http_addr",
    "data_dir",
    "database_url",
    "redis_url",
    "redis_key_prefix",
    "kafka_brokers",
    "kafka_topic_users",
    "kafka_topic_events",
    "kafka_topic_bookings",
    "kafka_topic_dead_letters",
    "kafka_partitions",
    "kafka_replication_factor",
    "kafka_group_prefix",
    "outbox_retention_s",
    "smtp_url",
    "smtp_ca_file",
    "mail_from",
    "users_grpc_addr",
    "users_url",
    "events_grpc_addr",
    "events_url",
    "bookings_grpc_addr",
    "bookings_url",
    "admin_addr",
    "jwt_secret",
    "ticket_secret",
    "internal_token",
    "grpc_tls_cert_file",
    "grpc_tls_key_file",
    "grpc_tls_ca_file",
    "log_format",
    "otlp_endpoint",
    "database_max_connections",
    "auth_rate_limit_per_minute",
    "secure_cookies",
    "hold_minutes",
];

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The gateway's public listen address.
    pub http_addr: SocketAddr,
    /// Where the embedded default keeps its SQLite files and generated secrets.
    #[serde(deserialize_with = "text::required")]
    pub data_dir: PathBuf,
    /// PostgreSQL; when unset, SQLite files under `data_dir` are used.
    #[serde(default, deserialize_with = "text::optional")]
    pub database_url: Option<String>,
    /// Redis; when unset, an in-memory store is used.
    #[serde(default, deserialize_with = "text::optional")]
    pub redis_url: Option<String>,
    /// Prefixed to every Redis key, so that deployments sharing one Redis stay apart.
    #[serde(deserialize_with = "text::required")]
    pub redis_key_prefix: String,
    /// Kafka brokers (`host:port,...`) for domain events; when unset, they go over an
    /// in-process bus (the embedded default).
    #[serde(default, deserialize_with = "text::optional")]
    pub kafka_brokers: Option<String>,
    /// The topic of each aggregate's domain events, and of the messages no consumer could read.
    #[serde(deserialize_with = "text::required")]
    pub kafka_topic_users: String,
    #[serde(deserialize_with = "text::required")]
    pub kafka_topic_events: String,
    #[serde(deserialize_with = "text::required")]
    pub kafka_topic_bookings: String,
    #[serde(deserialize_with = "text::required")]
    pub kafka_topic_dead_letters: String,
    /// Partitions and replicas of the topics boxoffice creates (it never changes existing ones).
    pub kafka_partitions: i32,
    pub kafka_replication_factor: i32,
    /// Each consumer's group is this prefix and its name (`boxoffice-notifications`, ...).
    #[serde(deserialize_with = "text::required")]
    pub kafka_group_prefix: String,
    /// How long a published domain event stays in its service's outbox before it is deleted.
    pub outbox_retention_s: u64,
    /// The mail server the notifications service sends through: `smtps://user:password@host`
    /// (TLS), `smtp://user:password@host:587?tls=required` (STARTTLS) or `smtp://host:25`
    /// (plain, for a relay on a trusted network). When unset, emails are written as `.eml` files
    /// under `data_dir/mail/`.
    #[serde(default, deserialize_with = "text::optional")]
    pub smtp_url: Option<String>,
    /// A PEM file of certificate authorities the mail server's certificate may also chain to
    /// (a relay with a private CA), besides the Mozilla roots.
    #[serde(default)]
    pub smtp_ca_file: Option<PathBuf>,
    /// The sender of every email.
    #[serde(deserialize_with = "text::required")]
    pub mail_from: String,
    /// The users service's gRPC listen address when it runs on its own (`--service users`).
    pub users_grpc_addr: SocketAddr,
    /// Where the gateway reaches the users service when they run as separate processes.
    #[serde(deserialize_with = "text::required")]
    pub users_url: String,
    /// The events service's gRPC listen address when it runs on its own (`--service events`).
    pub events_grpc_addr: SocketAddr,
    /// Where the gateway reaches the events service when they run as separate processes.
    #[serde(deserialize_with = "text::required")]
    pub events_url: String,
    /// The bookings service's gRPC listen address when it runs on its own (`--service bookings`).
    pub bookings_grpc_addr: SocketAddr,
    /// Where the gateway and the events service reach the bookings service when they run as
    /// separate processes.
    #[serde(deserialize_with = "text::required")]
    pub bookings_url: String,
    /// Health, readiness and metrics of a service that runs on its own and has no public API.
    pub admin_addr: SocketAddr,
    /// The secret (32+ characters, `boxoffice keys generate`) that signs and verifies access
    /// tokens; the users service and the gateway need the same one. Required with PostgreSQL;
    /// generated under `data_dir` when embedded.
    #[serde(default, deserialize_with = "text::optional")]
    pub jwt_secret: Option<String>,
    /// The secret (32+ characters) that signs ticket codes. Required with PostgreSQL; generated
    /// under `data_dir` when embedded.
    #[serde(default, deserialize_with = "text::optional")]
    pub ticket_secret: Option<String>,
    /// The shared secret of internal gRPC calls. Required when services run as separate
    /// processes; generated at start when they all run in one.
    #[serde(default, deserialize_with = "text::optional")]
    pub internal_token: Option<String>,
    /// The PEM certificate chain and key a service run on its own serves its gRPC with, over
    /// TLS only; both or neither.
    #[serde(default)]
    pub grpc_tls_cert_file: Option<PathBuf>,
    #[serde(default)]
    pub grpc_tls_key_file: Option<PathBuf>,
    /// A PEM file of certificate authorities that the services' certificates may chain to (a
    /// private CA), besides the Mozilla roots; used for every `https://` service URL.
    #[serde(default)]
    pub grpc_tls_ca_file: Option<PathBuf>,
    /// `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// Where spans are exported over OTLP/gRPC (`http://otel-collector:4317`); when unset, no
    /// traces are exported. The standard `OTEL_BSP_*` variables tune the batches.
    #[serde(default, deserialize_with = "text::optional")]
    pub otlp_endpoint: Option<String>,
    /// The largest pool of database connections one service opens.
    pub database_max_connections: u32,
    /// Signup, login and refresh requests one client address may make per minute; 0 turns the
    /// limit off.
    pub auth_rate_limit_per_minute: u32,
    /// Marks the web app's cookies `Secure` (sent over HTTPS only) and names them with the
    /// `__Host-` prefix: set it when a TLS proxy serves the gateway.
    pub secure_cookies: bool,
    /// How long a hold lasts before it expires, in minutes (the bookings service checks the
    /// range).
    pub hold_minutes: u32,
}

/// Environment variables arrive as text, but figment reads `123` or `true` as a number or a
/// boolean; settings that are text take any scalar back as its text.
mod text {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Unsigned(u64),
        Signed(i64),
        Float(f64),
        Bool(bool),
    }

    impl Scalar {
        fn into_text(self) -> String {
            match self {
                Scalar::Text(text) => text,
                Scalar::Unsigned(number) => number.to_string(),
                Scalar::Signed(number) => number.to_string(),
                Scalar::Float(number) => number.to_string(),
                Scalar::Bool(value) => value.to_string(),
            }
        }
    }

    pub fn required<'de, D: Deserializer<'de>, T: From<String>>(deserializer: D) -> Result<T, D::Error> {
        Scalar::deserialize(deserializer).map(|scalar| T::from(scalar.into_text()))
    }

    pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
        Option::<Scalar>::deserialize(deserializer).map(|scalar| scalar.map(Scalar::into_text))
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http_addr: ([127, 0, 0, 1], 8080).into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            redis_url: None,
            redis_key_prefix: "boxoffice:".to_owned(),
            kafka_brokers: None,
            kafka_topic_users: "boxoffice.users".to_owned(),
            kafka_topic_events: "boxoffice.events".to_owned(),
            kafka_topic_bookings: "boxoffice.bookings".to_owned(),
            kafka_topic_dead_letters: "boxoffice.dead-letters".to_owned(),
            kafka_partitions: 12,
            kafka_replication_factor: 1,
            kafka_group_prefix: "boxoffice-".to_owned(),
            outbox_retention_s: 24 * 60 * 60,
            smtp_url: None,
            smtp_ca_file: None,
            mail_from: "boxoffice <tickets@boxoffice.localhost>".to_owned(),
            users_grpc_addr: ([127, 0, 0, 1], 50051).into(),
            users_url: "http://127.0.0.1:50051".to_owned(),
            events_grpc_addr: ([127, 0, 0, 1], 50052).into(),
            events_url: "http://127.0.0.1:50052".to_owned(),
            bookings_grpc_addr: ([127, 0, 0, 1], 50053).into(),
            bookings_url: "http://127.0.0.1:50053".to_owned(),
            admin_addr: ([127, 0, 0, 1], 9090).into(),
            jwt_secret: None,
            ticket_secret: None,
            internal_token: None,
            grpc_tls_cert_file: None,
            grpc_tls_key_file: None,
            grpc_tls_ca_file: None,
            log_format: LogFormat::Text,
            otlp_endpoint: None,
            database_max_connections: 16,
            auth_rate_limit_per_minute: 120,
            secure_cookies: false,
            hold_minutes: 10,
        }
    }
}

impl Settings {
    /// Loads the layers in order; a later layer overrides an earlier one.
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<Settings> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config_file {
            anyhow::ensure!(path.exists(), "the config file {} does not exist", path.display());
            figment = figment.merge(Toml::file(path));
        }
        // Empty variables count as unset, so `BOXOFFICE_DATABASE_URL=` selects the embedded default.
        // Only variables that name a setting are read, so that other `BOXOFFICE_*` variables
        // (a test's own, say) are not mistaken for unknown settings.
        let env = Env::prefixed(ENV_PREFIX).filter(|key| {
            if !KEYS.iter().any(|known| key.as_str().eq_ignore_ascii_case(known)) {
                return false;
            }
            let name = format!("{ENV_PREFIX}{}", key.as_str().to_ascii_uppercase());
            std::env::var_os(name).is_some_and(|value| !value.is_empty())
        });
        figment = figment.merge(env);
        let settings: Settings = figment.extract().context("reading the configuration")?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        // First: a wrong database is the mistake that makes every later message misleading.
        if let Some(url) = &self.database_url {
            let scheme = url.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
            anyhow::ensure!(
                matches!(scheme.as_deref(), Some("postgres" | "postgresql")),
                "BOXOFFICE_DATABASE_URL (database_url) must be a PostgreSQL URL such as \
                 postgres://user:password@host:5432/boxoffice (?sslmode=require for TLS); leave it \
                 unset for the embedded SQLite under BOXOFFICE_DATA_DIR"
            );
        }
        if let Some(url) = &self.redis_url {
            let scheme = url.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
            anyhow::ensure!(
                matches!(scheme.as_deref(), Some("redis" | "rediss")),
                "BOXOFFICE_REDIS_URL (redis_url) must be a Redis URL such as redis://host:6379 (rediss:// for TLS); leave it unset for the in-memory store"
            );
        }
        if let Some(endpoint) = &self.otlp_endpoint {
            anyhow::ensure!(
                endpoint.starts_with("http://") || endpoint.starts_with("https://"),
                "BOXOFFICE_OTLP_ENDPOINT (otlp_endpoint) must be the http:// or https:// URL of an OTLP/gRPC receiver, such as http://otel-collector:4317"
            );
        }
        anyhow::ensure!(self.database_max_connections >= 1, "database_max_connections must be at least 1");
        anyhow::ensure!(self.kafka_partitions >= 1, "kafka_partitions must be at least 1");
        let topics = [
            &self.kafka_topic_users,
            &self.kafka_topic_events,
            &self.kafka_topic_bookings,
            &self.kafka_topic_dead_letters,
        ];
        let distinct: std::collections::HashSet<_> = topics.iter().collect();
        anyhow::ensure!(
            distinct.len() == topics.len(),
            "kafka_topic_users, kafka_topic_events, kafka_topic_bookings and kafka_topic_dead_letters must differ"
        );
        anyhow::ensure!(self.kafka_replication_factor >= 1, "kafka_replication_factor must be at least 1");
        Ok(())
    }

    /// True when no database URL is configured: SQLite and the in-memory store.
    pub fn is_embedded(&self) -> bool {
        self.database_url.is_none()
    }

    /// Where emails are written when no mail server is configured.
    pub fn mail_folder(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    /// The SQLite file of one service under `data_dir`.
    pub fn sqlite_path(&self, service: &str) -> PathBuf {
        self.data_dir.join(format!("{service}.db"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_select_the_embedded_default() {
        let settings = Settings::default();
        assert!(settings.is_embedded());
        assert_eq!(settings.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.sqlite_path("users"), PathBuf::from("./data/users.db"));
    }

    #[test]
    fn a_file_then_the_environment_override_the_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("boxoffice.toml", "http_addr = \"127.0.0.1:9000\"\ndata_dir = \"/tmp/x\"")?;
            jail.set_env("BOXOFFICE_DATA_DIR", "/tmp/y");
            jail.set_env("BOXOFFICE_DATABASE_URL", "");
            jail.set_env("BOXOFFICE_NOT_A_SETTING", "ignored");
            let settings = Settings::load(Some(Path::new("boxoffice.toml"))).expect("loads");
            assert_eq!(settings.http_addr.to_string(), "127.0.0.1:9000");
            assert_eq!(settings.data_dir, PathBuf::from("/tmp/y"));
            assert!(settings.is_embedded(), "an empty variable counts as unset");
            Ok(())
        });
    }

    #[test]
    fn keys_name_every_setting() {
        // Adding a field breaks this destructuring until the field is added here and to KEYS.
        let Settings {
            http_addr: _,
            data_dir: _,
            database_url: _,
            redis_url: _,
            redis_key_prefix: _,
            kafka_brokers: _,
            kafka_topic_users: _,
            kafka_topic_events: _,
            kafka_topic_bookings: _,
            kafka_topic_dead_letters: _,
            kafka_partitions: _,
            kafka_replication_factor: _,
            kafka_group_prefix: _,
            outbox_retention_s: _,
            smtp_url: _,
            smtp_ca_file: _,
            mail_from: _,
            users_grpc_addr: _,
            users_url: _,
            events_grpc_addr: _,
            events_url: _,
            bookings_grpc_addr: _,
            bookings_url: _,
            admin_addr: _,
            jwt_secret: _,
            ticket_secret: _,
            internal_token: _,
            grpc_tls_cert_file: _,
            grpc_tls_key_file: _,
            grpc_tls_ca_file: _,
            log_format: _,
            otlp_endpoint: _,
            database_max_connections: _,
            auth_rate_limit_per_minute: _,
            secure_cookies: _,
            hold_minutes: _,
        } = Settings::default();
        assert_eq!(KEYS.len(), 36);
    }

    #[test]
    fn text_settings_accept_values_that_look_like_numbers() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BOXOFFICE_REDIS_KEY_PREFIX", "123");
            jail.set_env("BOXOFFICE_DATA_DIR", "2024");
            jail.set_env("BOXOFFICE_JWT_SECRET", "true");
            let settings = Settings::load(None).expect("loads");
            assert_eq!(settings.redis_key_prefix, "123");
            assert_eq!(settings.data_dir, PathBuf::from("2024"));
            assert_eq!(settings.jwt_secret.as_deref(), Some("true"));
            Ok(())
        });
    }

    #[test]
    fn a_pool_of_no_connections_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BOXOFFICE_DATABASE_MAX_CONNECTIONS", "0");
            let error = Settings::load(None).unwrap_err();
            assert!(format!("{error:#}").contains("database_max_connections"));
            Ok(())
        });
    }

    #[test]
    fn an_unknown_setting_is_an_error() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("boxoffice.toml", "no_such_setting = 1")?;
            assert!(Settings::load(Some(Path::new("boxoffice.toml"))).is_err());
            Ok(())
        });
    }
}
