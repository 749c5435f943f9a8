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

use anyhow::Context as _;
pub use boxoffice_db::Database;
use boxoffice_db::Pool;
use boxoffice_proto::event::event_service_client::EventServiceClient;
use boxoffice_runtime::Connection;
use boxoffice_types::limits::MAX_GRPC_MESSAGE_BYTES;
pub use clock::Clock;
use inventory::{InventoryStore, MemoryInventory, RedisInventory};
use payments::TestPaymentProvider;
pub use service::Bookings;
use store::{BookingStore, PostgresBookingStore, SqliteBookingStore, MIGRATIONS, POSTGRES_SCHEMA};
use tickets::TicketSigner;
use tokio_util::sync::CancellationToken;

/// How often the expirer looks for holds that ran out: a hold is released within this long of
/// its `expires_at`.
pub const EXPIRY_SWEEP_INTERVAL: Duration = Duration::from_millis(200);
/// How often old Idempotency-Keys are purged.
pub const IDEMPOTENCY_PURGE_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Where the inventory store keeps its state.
pub enum InventoryBackend {
    /// One process: the embedded default.
    Memory,
    /// Shared by every replica.
    Redis { url: String, key_prefix: String },
}

/// What the bookings service needs.
pub struct Deps {
    /// Its own database, the record of every hold and sale.
    pub database: Database,
    pub inventory: InventoryBackend,
    /// The events service, which says what an event sells.
    pub events: Connection,
    /// Signs and checks ticket codes.
    pub tickets: TicketSigner,
    /// The clock holds expire by; tests move it.
    pub clock: Clock,
}

/// The bookings service, ready to serve: its database opened and migrated, the inventory store
/// connected and every event in it marked for a rebuild.
pub async fn build(deps: Deps) -> anyhow::Result<Bookings> {
    let store = open_store(&deps.database).await?;
    let inventory: Arc<dyn InventoryStore> = match &deps.inventory {
        InventoryBackend::Redis { url, key_prefix } => {
            Arc::new(RedisInventory::connect(url, key_prefix).await?)
        }
        InventoryBackend::Memory => Arc::new(MemoryInventory::new()),
    };
    let events = EventServiceClient::new(deps.events)
        .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_GRPC_MESSAGE_BYTES);
    // The database is the record: every inventory is rebuilt from it after a start, so that no
    // hold a crashed process left in the store outlives it.
    inventory.forget_all().await.context("resetting the inventory store")?;
    let payments = Arc::new(TestPaymentProvider::new());
    Ok(Bookings::new(store, inventory, events, payments, deps.tickets, deps.clock))
}

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
