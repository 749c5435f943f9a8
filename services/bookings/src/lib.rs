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
pub mod sold_out;
pub mod store;
pub mod tickets;

use std::sync::Arc;
use std::time::Duration;

pub use boxoffice_db::Database;
use boxoffice_db::Pool;
pub use clock::Clock;
pub use service::Bookings;
use store::{BookingStore, PostgresBookingStore, SqliteBookingStore, MIGRATIONS, POSTGRES_SCHEMA};
use tokio_util::sync::CancellationToken;

/// How often the expirer looks for holds that ran out: a hold is released within this long of
/// its `expires_at`.
pub const EXPIRY_SWEEP_INTERVAL: Duration = Duration::from_millis(200);
/// How often old Idempotency-Keys are purged.
pub const IDEMPOTENCY_PURGE_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Opens the store and applies pending migrations, so a fresh database is ready at once.
pub async fn open_store(database: &Database) -> anyhow::Result<Arc<dyn BookingStore>> {
    Ok(match boxoffice_db::open_migrated(database, POSTGRES_SCHEMA, &MIGRATIONS).await? {
        Pool::Postgres(pool) => Arc::new(PostgresBookingStore::new(pool)),
        Pool::Sqlite(pool) => Arc::new(SqliteBookingStore::new(pool)),
    })
}

/// Reverts migrations down to `target` (0 reverts all), for `boxoffice migrate --down-to`.
pub async fn revert_migrations(database: &Database, target: i64) -> anyhow::Result<()> {
    boxoffice_db::revert_migrations(database, POSTGRES_SCHEMA, &MIGRATIONS, target).await
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
