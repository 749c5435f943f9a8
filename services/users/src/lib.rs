//! The users service: accounts, roles, argon2id passwords, sessions with rotating refresh
//! tokens, and the secret that signs access tokens.
//!
//! It owns its database (the `users` schema on PostgreSQL, `users.db` embedded); nothing else
//! reads it. [`build`] makes it from its dependencies; callers reach it over gRPC
//! ([`grpc::server`]); the operator CLI calls [`Users`] directly.

pub mod domain;
pub mod domain_events;
pub mod grpc;
pub mod password;
pub mod service;
pub mod store;

use std::sync::Arc;

pub use service::{NewAccount, Users};
use store::{PostgresUserStore, SqliteUserStore, UserStore, MIGRATIONS, POSTGRES_SCHEMA};

use boxoffice_auth::TokenKey;
pub use boxoffice_db::Database;
use boxoffice_db::Pool;
use boxoffice_kv::Kv;

/// What the users service needs.
pub struct Deps {
    /// Its own database.
    pub database: Database,
    /// The shared store: revocations and login lockouts.
    pub kv: Kv,
    /// The secret that signs access tokens; the gateway verifies with the same one.
    pub tokens: TokenKey,
}

/// The users service, ready to serve: its database opened and migrated, and the sessions
/// revoked within an access token's lifetime back on the revocation list (a Redis that lost its
/// data has lost them).
pub async fn build(deps: Deps) -> anyhow::Result<Users> {
    let store = open_store(&deps.database).await?;
    let users = Users::new(store, deps.kv, deps.tokens);
    let restored = users.restore_revocations().await.map_err(|error| anyhow::anyhow!(error))?;
    if restored > 0 {
        tracing::info!(sessions = restored, "restored recent revocations");
    }
    Ok(users)
}

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
