//! The events service: venues with seat maps, events with their ticket categories, search, and
//! the inventory the bookings service sells.
//!
//! It owns its database (the `events` schema on PostgreSQL, `events.db` embedded); nothing else
//! reads it. Public event reads are cached in the shared store and dropped on every change.

pub mod domain;
pub mod grpc;
pub mod service;
pub mod store;

use std::sync::Arc;

use anyhow::Context as _;
pub use boxoffice_db::Database;
pub use service::Events;
use store::{EventStore, PostgresEventStore, SqliteEventStore, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

/// Opens the store and applies pending migrations.
pub async fn open_store(database: &Database) -> anyhow::Result<Arc<dyn EventStore>> {
    Ok(match database {
        Database::Postgres { url, max_connections } => {
            let store = PostgresEventStore::connect(url, *max_connections).await?;
            POSTGRES_MIGRATIONS.run(store.pool()).await.context("migrating the events schema")?;
            Arc::new(store)
        }
        Database::Sqlite { path, max_connections } => {
            let store = SqliteEventStore::open(path, *max_connections).await?;
            SQLITE_MIGRATIONS.run(store.pool()).await.context("migrating events.db")?;
            Arc::new(store)
        }
    })
}

/// Reverts migrations down to `target` (0 reverts all), for `boxoffice migrate --down-to`.
pub async fn revert_migrations(database: &Database, target: i64) -> anyhow::Result<()> {
    match database {
        Database::Postgres { url, max_connections } => {
            let store = PostgresEventStore::connect(url, *max_connections).await?;
            POSTGRES_MIGRATIONS.undo(store.pool(), target).await.context("reverting the events schema")?;
        }
        Database::Sqlite { path, max_connections } => {
            let store = SqliteEventStore::open(path, *max_connections).await?;
            SQLITE_MIGRATIONS.undo(store.pool(), target).await.context("reverting events.db")?;
        }
    }
    Ok(())
}
