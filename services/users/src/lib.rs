//! The users service: accounts, roles, argon2id passwords, sessions with rotating refresh
//! tokens, and the Ed25519 key that signs access tokens.
//!
//! It owns its database (the `users` schema on PostgreSQL, `users.db` embedded); nothing else
//! reads it. Callers reach it over gRPC ([`grpc::server`]); the operator CLI calls [`Users`]
//! directly.

pub mod domain;
pub mod grpc;
pub mod password;
pub mod service;
pub mod store;

use std::sync::Arc;

use anyhow::Context as _;

pub use service::{NewAccount, Users};
use store::{PostgresUserStore, SqliteUserStore, UserStore, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

pub use boxoffice_db::Database;

/// Opens the store and applies pending migrations, so a fresh database is ready at once.
pub async fn open_store(database: &Database) -> anyhow::Result<Arc<dyn UserStore>> {
    Ok(match database {
        Database::Postgres { url, max_connections } => {
            let store = PostgresUserStore::connect(url, *max_connections).await?;
            POSTGRES_MIGRATIONS.run(store.pool()).await.context("migrating the users schema")?;
            Arc::new(store)
        }
        Database::Sqlite { path, max_connections } => {
            let store = SqliteUserStore::open(path, *max_connections).await?;
            SQLITE_MIGRATIONS.run(store.pool()).await.context("migrating users.db")?;
            Arc::new(store)
        }
    })
}

/// Reverts migrations down to `target` (0 reverts all), for `boxoffice migrate --down-to`.
pub async fn revert_migrations(database: &Database, target: i64) -> anyhow::Result<()> {
    match database {
        Database::Postgres { url, max_connections } => {
            let store = PostgresUserStore::connect(url, *max_connections).await?;
            POSTGRES_MIGRATIONS.undo(store.pool(), target).await.context("reverting the users schema")?;
        }
        Database::Sqlite { path, max_connections } => {
            let store = SqliteUserStore::open(path, *max_connections).await?;
            SQLITE_MIGRATIONS.undo(store.pool(), target).await.context("reverting users.db")?;
        }
    }
    Ok(())
}
