//! The events service: venues with seat maps, events with their ticket categories, search, and
//! the inventory the bookings service sells.
//!
//! It owns its database (the `events` schema on PostgreSQL, `events.db` embedded); nothing else
//! reads it. Public event reads are cached in the shared store and dropped on every change.
//! [`build`] makes it from its dependencies; callers reach it over gRPC ([`grpc::server`]).
//!
//! The code is laid out by what it does for the user, one `impl Events` block per feature, so
//! that the next feature (a waiting room, a web page of the seat map) finds one place to land:
//! - [`service`]: the [`Events`] struct, who may change an event, and the read-modify-write loop
//!   every change goes through;
//! - [`venues`], [`editing`] (create, patch, delete), [`lifecycle`] (publish, cancel),
//!   [`search`] (read and list, through [`cache`]), [`inventory`] (what the bookings service
//!   sells), [`door_staff`] (who may check an event's tickets in);
//! - [`domain`]: the values events are made of, parsed once;
//! - [`store`]: the database, one SQL body for both backends;
//! - at the edges, the only code that knows wire types: [`grpc`] (the service's own) and
//!   [`bookings_client`] (the bookings service's, behind the [`sales::Sales`] port).

pub mod bookings_client;
pub mod cache;
pub mod domain;
pub mod domain_events;
pub mod door_staff;
pub mod editing;
pub mod grpc;
pub mod inventory;
pub mod lifecycle;
pub mod sales;
pub mod search;
pub mod service;
pub mod store;
pub mod venues;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use bookings_client::BookingsClient;
pub use boxoffice_db::Database;
use boxoffice_db::Pool;
use boxoffice_kv::Kv;
use boxoffice_runtime::Connection;
pub use service::Events;
use store::{EventStore, PostgresEventStore, SqliteEventStore, MIGRATIONS, POSTGRES_SCHEMA};

/// What the events service needs.
pub struct Deps {
    /// Its own database.
    pub database: Database,
    /// The shared store, for the cache of public event reads.
    pub kv: Kv,
    /// The bookings service, which sells the published events and refunds the cancelled ones.
    pub bookings: Connection,
}

/// The events service, ready to serve: its database opened and migrated.
pub async fn build(deps: Deps) -> anyhow::Result<Events> {
    let store = open_store(&deps.database).await?;
    Ok(Events::new(store, deps.kv, Arc::new(BookingsClient::new(deps.bookings))))
}

/// Opens the store and applies pending migrations, so a fresh database is ready at once.
pub async fn open_store(database: &Database) -> anyhow::Result<Arc<dyn EventStore>> {
    Ok(match boxoffice_db::open_migrated(database, POSTGRES_SCHEMA, &MIGRATIONS).await? {
        Pool::Postgres(pool) => Arc::new(PostgresEventStore::new(pool)),
        Pool::Sqlite(pool) => Arc::new(SqliteEventStore::new(pool)),
    })
}

/// Reverts migrations down to `target` (0 reverts all), for `boxoffice migrate --down-to`.
pub async fn revert_migrations(database: &Database, target: i64) -> anyhow::Result<()> {
    boxoffice_db::revert_migrations(database, POSTGRES_SCHEMA, &MIGRATIONS, target).await
}
