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
    "users_grpc_addr",
    "users_url",
    "admin_addr",
    "jwt_private_key",
    "log_format",
    "database_max_connections",
    "auth_rate_limit_per_minute",
];

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The gateway's public listen address.
    pub http_addr: SocketAddr,
    /// Where the embedded default keeps its SQLite files and generated secrets.
    pub data_dir: PathBuf,
    /// PostgreSQL; when unset, SQLite files under `data_dir` are used.
    pub database_url: Option<String>,
    /// Redis; when unset, an in-memory store is used.
    pub redis_url: Option<String>,
    /// Prefixed to every Redis key, so that deployments sharing one Redis stay apart.
    pub redis_key_prefix: String,
    /// Kafka brokers for domain events (used by a later release; accepted now so that
    /// deployments can set it).
    pub kafka_brokers: Option<String>,
    /// The users service's gRPC listen address when it runs on its own (`--service users`).
    pub users_grpc_addr: SocketAddr,
    /// Where the gateway reaches the users service when they run as separate processes.
    pub users_url: String,
    /// Health, readiness and metrics of a service that runs on its own and has no public API.
    pub admin_addr: SocketAddr,
    /// The Ed25519 private key that signs access tokens, base64 PKCS#8 (`boxoffice keys
    /// generate`). Required with PostgreSQL; generated under `data_dir` when embedded.
    pub jwt_private_key: Option<String>,
    /// `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// The largest pool of database connections one service opens.
    pub database_max_connections: u32,
    /// Signup, login and refresh requests one client address may make per minute; 0 turns the
    /// limit off.
    pub auth_rate_limit_per_minute: u32,
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
            users_grpc_addr: ([127, 0, 0, 1], 50051).into(),
            users_url: "http://127.0.0.1:50051".to_owned(),
            admin_addr: ([127, 0, 0, 1], 9090).into(),
            jwt_private_key: None,
            log_format: LogFormat::Text,
            database_max_connections: 16,
            auth_rate_limit_per_minute: 120,
        }
    }
}

impl Settings {
    /// Loads the layers in order; a later layer overrides an earlier one.
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<Settings> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config_file {
            anyhow::ensure!(
                path.exists(),
                "the config file {} does not exist",
                path.display()
            );
            figment = figment.merge(Toml::file(path));
        }
        // Empty variables count as unset, so `BOXOFFICE_DATABASE_URL=` selects the embedded default.
        // Only variables that name a setting are read, so that other `BOXOFFICE_*` variables
        // (a test's own, say) are not mistaken for unknown settings.
        let env = Env::prefixed(ENV_PREFIX).filter(|key| {
            if !KEYS
                .iter()
                .any(|known| key.as_str().eq_ignore_ascii_case(known))
            {
                return false;
            }
            let name = format!("{ENV_PREFIX}{}", key.as_str().to_ascii_uppercase());
            std::env::var_os(name).is_some_and(|value| !value.is_empty())
        });
        figment = figment.merge(env);
        figment.extract().context("reading the configuration")
    }

    /// True when no database URL is configured: SQLite and the in-memory store.
    pub fn is_embedded(&self) -> bool {
        self.database_url.is_none()
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
        assert_eq!(
            settings.sqlite_path("users"),
            PathBuf::from("./data/users.db")
        );
    }

    #[test]
    fn a_file_then_the_environment_override_the_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "boxoffice.toml",
                "http_addr = \"127.0.0.1:9000\"\ndata_dir = \"/tmp/x\"",
            )?;
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
            users_grpc_addr: _,
            users_url: _,
            admin_addr: _,
            jwt_private_key: _,
            log_format: _,
            database_max_connections: _,
            auth_rate_limit_per_minute: _,
        } = Settings::default();
        assert_eq!(KEYS.len(), 13);
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
