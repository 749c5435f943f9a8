//! The users service: accounts, roles, argon2id passwords, sessions with rotating refresh
//! tokens, and the secret that signs access tokens.
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

pub use service::{NewAccount, Users};
use store::{PostgresUserStore, SqliteUserStore, UserStore, MIGRATIONS, POSTGRES_SCHEMA};

pub use boxoffice_db::Database;
use boxoffice_db::Pool;

/// Opens the store and applies pending migrations, so a fresh database is ready at once.
pub async fn open_store(database: &Database) -> anyhow::Result<Arc<dyn UserStore>> {
    Ok(match boxoffice_db::open_migrated(database, POSTGRES_SCHEMA, &MIGRATIONS).await? {
        Pool::Postgres(pool) => Arc::new(PostgresUserStore::new(pool)),
        Pool::Sqlite(pool) => Arc::new(SqliteUserStore::new(pool)),
    })
}

/// Reverts migrations down to `target` (0 reverts all), for `boxoffice migrate --down-to`.
pub async fn revert_migrations(database: &Database, target: i64) -> anyhow::Result<()> {
    boxoffice_db::revert_migrations(database, POSTGRES_SCHEMA, &MIGRATIONS, target).await
}
