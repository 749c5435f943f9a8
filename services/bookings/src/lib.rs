//! The bookings service: seat holds that expire, confirmation with payment, cancellation and
//! refunds, tickets with signed codes and QR images, and check-in. It never sells a unit twice.
//!
//! It has two stores, named apart: the **inventory** ([`inventory`]: Redis in production, memory
//! embedded), where every hold is decided atomically, and the **database** ([`db`]: the
//! `bookings` schema on PostgreSQL, `bookings.db` embedded), the record, where a unique index on
//! live units is the last guard. A hold is acknowledged only once its pending booking is
//! committed in the database. Holds expire by the service's [`Clock`].
//!
//! The code follows what a user does: [`hold`], [`confirm`], [`cancel`], [`check_in`],
//! [`queries`] and [`expiry`], each an `impl Bookings` block over the struct in [`service`].
//! [`domain`] holds the booking, its statuses' transitions and the limits; [`catalog`] is what
//! the service needs of the events service, and [`events_client`] its gRPC adapter.

pub mod cancel;
pub mod catalog;
pub mod check_in;
pub mod clock;
pub mod confirm;
pub mod consumers;
pub mod db;
pub mod domain;
pub mod domain_events;
pub mod events_client;
pub mod expiry;
pub mod group_commit;
pub mod grpc;
pub mod hold;
pub mod inventory;
pub mod payments;
pub mod queries;
pub mod service;
pub mod sold_out;
pub mod tickets;
pub mod transfer;
pub mod waiting_list;

use std::sync::Arc;

use anyhow::Context as _;
pub use boxoffice_db::Database;
use boxoffice_db::Pool;
use boxoffice_runtime::Connection;
pub use clock::Clock;
use db::{BookingDb, PostgresBookingDb, SqliteBookingDb, MIGRATIONS, POSTGRES_SCHEMA};
pub use domain::HoldTtl;
use events_client::EventsClient;
pub use expiry::run_expirer;
use inventory::{InventoryStore, MemoryInventory, RedisInventory};
use payments::TestPaymentProvider;
pub use service::Bookings;
use tickets::TicketSigner;

/// Where the inventory keeps its state.
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
    /// How long a hold lasts.
    pub hold_ttl: HoldTtl,
}

/// The bookings service, ready to serve: its database opened and migrated, the inventory
/// connected and every event in it marked for a rebuild.
pub async fn build(deps: Deps) -> anyhow::Result<Bookings> {
    let db = open_db(&deps.database).await?;
    let inventory: Arc<dyn InventoryStore> = match &deps.inventory {
        InventoryBackend::Redis { url, key_prefix } => {
            Arc::new(RedisInventory::connect(url, key_prefix).await?)
        }
        InventoryBackend::Memory => Arc::new(MemoryInventory::new()),
    };
    // The database is the record: every inventory is rebuilt from it after a start, so that no
    // hold a crashed process left in the inventory outlives it.
    inventory.forget_all().await.context("resetting the inventory")?;
    let events = Arc::new(EventsClient::new(deps.events));
    let payments = Arc::new(TestPaymentProvider::new());
    Ok(Bookings::new(db, inventory, events, payments, deps.tickets, deps.clock, deps.hold_ttl))
}

/// Opens the database and applies pending migrations, so a fresh database is ready at once.
pub async fn open_db(database: &Database) -> anyhow::Result<Arc<dyn BookingDb>> {
    Ok(match boxoffice_db::open_migrated(database, POSTGRES_SCHEMA, &MIGRATIONS).await? {
        Pool::Postgres(pool) => Arc::new(PostgresBookingDb::new(pool)),
        Pool::Sqlite(pool) => Arc::new(SqliteBookingDb::new(pool)),
    })
}

/// Reverts migrations down to `target` (0 reverts all), for `boxoffice migrate --down-to`.
pub async fn revert_migrations(database: &Database, target: i64) -> anyhow::Result<()> {
    boxoffice_db::revert_migrations(database, POSTGRES_SCHEMA, &MIGRATIONS, target).await
}
