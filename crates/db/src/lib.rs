//! Opening a service's own database. On PostgreSQL every service has a schema of its own in the
//! configured database; embedded, a SQLite file of its own. Either way no service sees
//! another's tables.

pub mod cursor;

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::Duration;

use anyhow::Context as _;
use boxoffice_errors::Error;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// How long a SQLite writer waits for another writer before failing.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one attempt to connect to PostgreSQL at start may take.
const CONNECT_ATTEMPT: Duration = Duration::from_secs(10);
/// How long a request waits for a pooled connection before failing (`unavailable`): shorter than
/// a caller's wait for a service (`boxoffice_runtime::connection::CALL_TIMEOUT`), so that the
/// service answers, with the status of what failed, before its caller gives up.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a migration on PostgreSQL waits for a lock before it gives up and tries again. A
/// migration that alters a table waits for the transactions using it to end, and every query on
/// that table queues behind it meanwhile: a long transaction open during an upgrade would stop the
/// traffic of the replicas still serving. With this bound the queue clears after at most this
/// long, and the migration tries again ([`boxoffice_telemetry::retry_at_start`]), until
/// [`boxoffice_telemetry::START_RETRY_FOR`].
pub const MIGRATION_LOCK_TIMEOUT: Duration = Duration::from_secs(3);

/// Where one service's data lives.
#[derive(Clone, Debug)]
pub enum Database {
    Postgres { url: String, max_connections: u32 },
    Sqlite { path: PathBuf, max_connections: u32 },
}

/// A service's migrations, one set per backend.
pub struct Migrations {
    pub postgres: &'static Migrator,
    pub sqlite: &'static Migrator,
}

/// An open, migrated database of one service.
pub enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Opens the database of the service that owns `schema` (a PostgreSQL schema, or the SQLite file
/// the configuration names) and applies its pending migrations, so a fresh database is ready.
pub async fn open_migrated(
    database: &Database,
    schema: &str,
    migrations: &Migrations,
) -> anyhow::Result<Pool> {
    Ok(match database {
        Database::Postgres { url, max_connections } => {
            let pool = postgres_pool(url, schema, *max_connections).await?;
            migrate_postgres(&pool, migrations.postgres)
                .await
                .with_context(|| format!("migrating the {schema} schema"))?;
            Pool::Postgres(pool)
        }
        Database::Sqlite { path, max_connections } => {
            let pool = sqlite_pool(path, *max_connections).await?;
            migrations.sqlite.run(&pool).await.with_context(|| format!("migrating {}", path.display()))?;
            Pool::Sqlite(pool)
        }
    })
}

/// Applies the pending migrations on a connection of their own that waits at most
/// [`MIGRATION_LOCK_TIMEOUT`] for any lock (a table's, or the advisory lock another replica
/// holds while it migrates), and tries again while a lock is all that stops it. Each try runs in
/// a transaction per migration, so one that gave up left nothing behind.
async fn migrate_postgres(pool: &PgPool, migrator: &Migrator) -> Result<(), sqlx::migrate::MigrateError> {
    let lock_not_available = |error: &sqlx::migrate::MigrateError| {
        let cause = match error {
            sqlx::migrate::MigrateError::Execute(cause)
            | sqlx::migrate::MigrateError::ExecuteMigration(cause, _) => cause,
            _ => return false,
        };
        // 55P03: lock_not_available, which `lock_timeout` raises.
        matches!(cause, sqlx::Error::Database(error) if error.code().as_deref() == Some("55P03"))
    };
    let what = "a lock the migrations need is held by another session (a long transaction, or a \
                replica migrating)";
    boxoffice_telemetry::retry_at_start(what, lock_not_available, || async {
        let mut connection = pool.acquire().await?;
        let timeout = format!("SET lock_timeout = {}", MIGRATION_LOCK_TIMEOUT.as_millis());
        sqlx::query(&timeout).execute(&mut *connection).await?;
        let outcome = migrator.run(&mut *connection).await;
        // The connection is closed rather than pooled: it keeps the timeout, and a try that
        // failed may still hold the migrations' advisory lock, which ends with the session.
        let _ = sqlx::Connection::close(connection.detach()).await;
        outcome
    })
    .await
}

/// Reverts the service's migrations newer than `target` (0 reverts all), for `boxoffice migrate
/// --down-to`.
pub async fn revert_migrations(
    database: &Database,
    schema: &str,
    migrations: &Migrations,
    target: i64,
) -> anyhow::Result<()> {
    match database {
        Database::Postgres { url, max_connections } => {
            let pool = postgres_pool(url, schema, *max_connections).await?;
            migrations
                .postgres
                .undo(&pool, target)
                .await
                .with_context(|| format!("reverting the {schema} schema"))?;
        }
        Database::Sqlite { path, max_connections } => {
            let pool = sqlite_pool(path, *max_connections).await?;
            migrations
                .sqlite
                .undo(&pool, target)
                .await
                .with_context(|| format!("reverting {}", path.display()))?;
        }
    }
    Ok(())
}

/// Connects to `schema` in the PostgreSQL database at `url`, creating the schema if needed; the
/// pool's connections see that schema first, so the service's SQL names its tables plainly.
pub async fn postgres_pool(url: &str, schema: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url).context("parsing the PostgreSQL URL")?;
    // A database starting with us (Compose, a cluster) refuses connections for a while.
    // Refused, unreachable within CONNECT_ATTEMPT, or up but still starting (57P03).
    let refused = |error: &sqlx::Error| match error {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(error) => error.code().as_deref() == Some("57P03"),
        _ => false,
    };
    let mut connection =
        boxoffice_telemetry::retry_at_start("PostgreSQL refuses connections", refused, || async {
            let attempt = <sqlx::PgConnection as sqlx::Connection>::connect_with(&options);
            tokio::time::timeout(CONNECT_ATTEMPT, attempt).await.unwrap_or_else(|_| {
                Err(sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer")))
            })
        })
        .await
        .context("connecting to PostgreSQL")?;
    let created =
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).execute(&mut connection).await;
    // Two replicas starting at once may race to create the schema; the loser's error is
    // harmless when the schema now exists.
    if let Err(error) = created {
        let exists: Option<(String,)> = sqlx::query_as(
            "SELECT schema_name::text FROM information_schema.schemata WHERE schema_name = $1",
        )
        .bind(schema)
        .fetch_optional(&mut connection)
        .await?;
        anyhow::ensure!(exists.is_some(), "creating the {schema} schema fails: {error}");
    }
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options.options([("search_path", schema)]))
        .await
        .context("opening the PostgreSQL pool")
}

/// Creates the directory (and its missing parents) readable by this user only: it holds the
/// embedded databases (password hashes among them) and the generated secrets. A directory that
/// exists keeps its permissions.
pub fn create_private_dir(path: &Path) -> anyhow::Result<()> {
    private_dir_builder()
        .recursive(true)
        .create(path)
        .with_context(|| format!("creating the data directory {}", path.display()))
}

/// Makes directories readable by this process's user only (mode 0700 on Unix), one at a time
/// unless told `recursive`.
pub fn private_dir_builder() -> std::fs::DirBuilder {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
}

/// Opens (creating if needed) the SQLite file at `path`, in WAL mode.
pub async fn sqlite_pool(path: &Path, max_connections: u32) -> anyhow::Result<SqlitePool> {
    if let Some(parent) = path.parent() {
        create_private_dir(parent)?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // With WAL, NORMAL loses no committed transaction when the process crashes; only a power
        // loss may roll back the last ones, which is the embedded default's trade-off.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true);
    SqlitePoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .with_context(|| format!("opening the SQLite database {}", path.display()))
}

/// Records how many of `service`'s pooled connections are in use and idle.
pub fn record_pool_usage(service: &'static str, size: u32, idle: usize) {
    let idle = idle as f64;
    metrics::gauge!("db_pool_connections", "service" => service, "state" => "in_use")
        .set((f64::from(size) - idle).max(0.0));
    metrics::gauge!("db_pool_connections", "service" => service, "state" => "idle").set(idle);
}

/// A database failure, as the services report it, logged where it happens, its detail never
/// sent to the client. A database that cannot be reached (refused or lost connections, no
/// connection free in time, a server shutting down or starting) is `unavailable` (503: try
/// again), whichever statement met it; anything else is an internal error.
#[track_caller]
pub fn database_error(error: sqlx::Error) -> Error {
    if is_unreachable(&error) {
        Error::unavailable(format!("database: {error}"))
    } else {
        Error::internal(format!("database: {error}"))
    }
}

/// Whether `error` says the database could not be reached, rather than refused the statement.
fn is_unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE class 08 (connection exception), 57P01-57P03 (the server shuts down or is
        // starting), 53300 (too many connections).
        sqlx::Error::Database(error) => error.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}
