//! The bookings service: seat holds that expire, confirmation with payment, cancellation and
//! refunds, tickets with signed codes and QR images, and check-in. It never sells a unit twice.
//!
//! Every hold is decided atomically in the inventory store ([`inventory`]: Redis in production,
//! memory embedded) and acknowledged only once its pending booking is committed in the service's
//! own database ([`store`]: the `bookings` schema on PostgreSQL, `bookings.db` embedded), where a
//! unique index on live units is the last guard. Holds expire by the service's [`Clock`].

pub mod clock;
pub mod group_commit;
pub mod grpc;
pub mod inventory;
pub mod payments;
pub mod service;
pub mod store;
pub mod tickets;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
pub use boxoffice_db::Database;
pub use clock::Clock;
pub use service::Bookings;
use store::{BookingStore, PostgresBookingStore, SqliteBookingStore, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use tokio_util::sync::CancellationToken;

/// How often the expirer looks for holds that ran out: a hold is released within this long of
/// its `expires_at`.
pub const EXPIRY_SWEEP_INTERVAL: Duration = Duration::from_millis(200);
/// How often old Idempotency-Keys are purged.
pub const IDEMPOTENCY_PURGE_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Opens the store and applies pending migrations.
pub async fn open_store(database: &Database) -> anyhow::Result<Arc<dyn BookingStore>> {
    Ok(match database {
        Database::Postgres { url, max_connections } => {
            let store = PostgresBookingStore::connect(url, *max_connections).await?;
            POSTGRES_MIGRATIONS.run(store.pool()).await.context("migrating the bookings schema")?;
            Arc::new(store)
        }
        Database::Sqlite { path, max_connections } => {
            let store = SqliteBookingStore::open(path, *max_connections).await?;
            SQLITE_MIGRATIONS.run(store.pool()).await.context("migrating bookings.db")?;
            Arc::new(store)
        }
    })
}

/// Reverts migrations down to `target` (0 reverts all), for `boxoffice migrate --down-to`.
pub async fn revert_migrations(database: &Database, target: i64) -> anyhow::Result<()> {
    match database {
        Database::Postgres { url, max_connections } => {
            let store = PostgresBookingStore::connect(url, *max_connections).await?;
            POSTGRES_MIGRATIONS.undo(store.pool(), target).await.context("reverting the bookings schema")?;
        }
        Database::Sqlite { path, max_connections } => {
            let store = SqliteBookingStore::open(path, *max_connections).await?;
            SQLITE_MIGRATIONS.undo(store.pool(), target).await.context("reverting bookings.db")?;
        }
    }
    Ok(())
}

/// Releases holds as they expire, and purges old Idempotency-Keys, until `shutdown`. Every
/// replica may run it: each expiry is a compare-and-set in the database, so a hold is released
/// once.
pub async fn run_expirer(bookings: Bookings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut sweep = tokio::time::interval(EXPIRY_SWEEP_INTERVAL);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut purge = tokio::time::interval(IDEMPOTENCY_PURGE_INTERVAL);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            _ = sweep.tick() => {
                if let Err(error) = bookings.expire_due().await {
                    tracing::warn!(error = %error, "releasing expired holds fails; retrying");
                }
            }
            _ = purge.tick() => {
                match bookings.purge_idempotency_keys().await {
                    Ok(purged) if purged > 0 => tracing::info!(purged, "purged old idempotency keys"),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(error = %error, "purging idempotency keys fails"),
                }
            }
        }
    }
}
