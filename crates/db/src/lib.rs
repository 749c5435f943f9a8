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
/// How long a migration on PostgreSQL waits for a table's lock before it gives up and tries
/// again. A migration that alters a table waits for the transactions using it to end, and every
/// query on that table, and on the tables the migration has locked already, queues behind it
/// meanwhile: a long transaction open during an upgrade would stop the traffic of the replicas
/// still serving for as long as it lasts. With this bound each try holds them up at most this
/// long; the migration tries again ([`boxoffice_telemetry::retry_at_start`], with growing
/// pauses) and fails after [`boxoffice_telemetry::START_RETRY_FOR`].
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
            migrate_postgres(&pool, migrations.postgres, Direction::Up)
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

/// Which way [`migrate_postgres`] goes.
#[derive(Clone, Copy)]
enum Direction {
    Up,
    /// Reverting those newer than this version.
    DownTo(i64),
}

/// The advisory lock that lets one process migrate a database at a time, whichever service.
const MIGRATION_ADVISORY_LOCK: i64 = 0x626f_786f_6666_6963; // "boxoffic"

/// Applies (or reverts) the migrations on a connection of their own. It first takes the
/// migrations' advisory lock, waiting as long as another process holds it (that holds up no
/// traffic); then it waits at most [`MIGRATION_LOCK_TIMEOUT`] for any table's lock, and tries
/// again while a lock is all that stopped it (or a deadlock with a serving transaction, which
/// PostgreSQL ends by cancelling one of the two). Each migration is a transaction of its own
/// (none of this project's is `-- no-transaction`), so a try that gave up left nothing behind.
async fn migrate_postgres(
    pool: &PgPool,
    migrator: &Migrator,
    direction: Direction,
) -> Result<(), sqlx::migrate::MigrateError> {
    use sqlx::migrate::MigrateError;
    // sqlx's own advisory lock would be waited for under the lock timeout:
    // MIGRATION_ADVISORY_LOCK, taken before the timeout is set, replaces it.
    let migrator = Migrator {
        migrations: migrator.migrations.clone(),
        ignore_missing: migrator.ignore_missing,
        locking: false,
        no_tx: migrator.no_tx,
    };
    let only_a_lock = |error: &MigrateError| {
        let (MigrateError::Execute(cause) | MigrateError::ExecuteMigration(cause, _)) = error else {
            return false;
        };
        // 55P03: lock_not_available, which `lock_timeout` raises; 40P01: deadlock_detected.
        matches!(cause, sqlx::Error::Database(error)
            if matches!(error.code().as_deref(), Some("55P03" | "40P01")))
    };
    let what = "a lock the migrations need is held by another session (a long transaction?)";
    boxoffice_telemetry::retry_at_start(what, only_a_lock, || async {
        let mut connection = pool.acquire().await?;
        let outcome = async {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(MIGRATION_ADVISORY_LOCK)
                .execute(&mut *connection)
                .await?;
            let timeout = format!("SET lock_timeout = {}", MIGRATION_LOCK_TIMEOUT.as_millis());
            sqlx::query(&timeout).execute(&mut *connection).await?;
            match direction {
                Direction::Up => migrator.run(&mut *connection).await,
                Direction::DownTo(target) => migrator.undo(&mut *connection, target).await,
            }
        }
        .await;
        // The connection is closed rather than pooled: it keeps the timeout, and the advisory
        // lock, which ends with the session.
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
            migrate_postgres(&pool, migrations.postgres, Direction::DownTo(target))
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
