//! The users service's database: PostgreSQL in production, SQLite embedded.
//!
//! Both speak the same SQL (numbered `$n` parameters, `RETURNING`), so one body, written once in
//! [`sql_store!`], implements [`UserStore`] for each pool type. Each transaction that writes
//! starts with its write, so SQLite takes its write lock at once instead of upgrading a read lock
//! (which fails under concurrency instead of waiting).
//!
//! One invariant is kept here rather than in the service, because only a transaction can keep
//! it: **an admin always remains**. A role change or a deletion that would take the admin role
//! from the last admin is refused ([`Guarded::LastAdmin`]), atomically: the condition is part
//! of the `UPDATE` or `DELETE` itself, and on PostgreSQL every admin row is locked first
//! (`SELECT ... FOR UPDATE`, in id order so two such transactions cannot deadlock), so that two
//! admins demoting each other at once are serialised and the second sees the first's change.
//! SQLite needs no lock: it runs one writer at a time, and the statement is the transaction's
//! first, so it reads the latest data.

use boxoffice_outbox::{commit_telling, OutboxDb, RelayHandle};
use std::str::FromStr as _;

use boxoffice_db::database_error;
use boxoffice_errors::{Code, Error};
use boxoffice_types::Role;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use uuid::Uuid;

use crate::domain::Email;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The PostgreSQL schema this service owns; no other service reads it.
pub const POSTGRES_SCHEMA: &str = "users";

pub static MIGRATIONS: boxoffice_db::Migrations =
    boxoffice_db::Migrations { postgres: &POSTGRES_MIGRATIONS, sqlite: &SQLITE_MIGRATIONS };
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// An account as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// A refresh token about to be stored: only its hash is kept.
#[derive(Clone, Debug)]
pub struct NewRefreshToken {
    pub token_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

/// What presenting a refresh token led to.
#[derive(Debug)]
pub enum Rotation {
    /// The token was live; it is now used and `next` is stored in its place.
    Rotated { user: UserRecord, session_id: Uuid },
    /// The token had been used before: the caller must revoke the whole session.
    Reused { session_id: Uuid },
    /// Unknown, expired, or of a revoked session.
    Invalid,
}

/// What became of a change that could take the admin role from an account.
#[derive(Debug, PartialEq, Eq)]
pub enum Guarded<T> {
    Done(T),
    NotFound,
    /// Refused: the account is the only admin, and the change would leave none.
    LastAdmin,
}

/// One login of an account, for the admin who looks at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    /// When its refresh token was last renewed (its newest token made).
    pub last_used_at: DateTime<Utc>,
    /// When its newest refresh token runs out: the session ends then unless renewed.
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[async_trait::async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Fails with `email_taken` when the email is in use. Writes `user.registered` to the outbox
    /// in the same transaction.
    async fn insert_user(&self, user: &UserRecord, now: DateTime<Utc>) -> Result<()>;
    async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>>;
    async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>>;
    async fn update_names(
        &self,
        id: Uuid,
        first_name: Option<&str>,
        last_name: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<UserRecord>>;
    async fn update_password_hash(&self, id: Uuid, hash: &str, now: DateTime<Utc>) -> Result<bool>;
    /// Changes the role, unless that takes it from the last admin.
    async fn set_role(&self, id: Uuid, role: Role, now: DateTime<Utc>) -> Result<Guarded<UserRecord>>;
    /// Deletes the account, unless it is the last admin.
    async fn delete_user(&self, id: Uuid) -> Result<Guarded<()>>;
    /// Whether the account is an admin and no other account is. Only a hint, read without
    /// locks: [`UserStore::set_role`] and [`UserStore::delete_user`] decide.
    async fn is_last_admin(&self, id: Uuid) -> Result<bool>;
    async fn open_session(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        token: &NewRefreshToken,
        now: DateTime<Utc>,
    ) -> Result<()>;
    async fn rotate_refresh_token(
        &self,
        token_hash: &[u8],
        next: &NewRefreshToken,
        now: DateTime<Utc>,
    ) -> Result<Rotation>;
    async fn revoke_session(&self, session_id: Uuid, now: DateTime<Utc>) -> Result<()>;
    /// Revokes every live session of the user but `except`, and returns the ids it revoked.
    async fn revoke_user_sessions(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>>;
    /// Sessions revoked after `since`, whose access tokens may still be alive.
    async fn sessions_revoked_since(&self, since: DateTime<Utc>) -> Result<Vec<Uuid>>;
    /// Accounts whose email contains `text` (all: `None`), by email, after `after`.
    async fn find_users(
        &self,
        text: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserRecord>>;
    /// The account's sessions, at most `limit`: those that may still be used first, newest first.
    async fn sessions_of(&self, user_id: Uuid, limit: u32) -> Result<Vec<SessionRecord>>;
    async fn ping(&self) -> Result<()>;
    /// The outbox of this database, for its relay, and the handle that wakes it.
    fn outbox(&self) -> (OutboxDb, RelayHandle);
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    password_hash: String,
    first_name: String,
    last_name: String,
    role: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for UserRecord {
    type Error = Error;

    fn try_from(row: UserRow) -> Result<Self> {
        let role = Role::from_str(&row.role).map_err(Error::internal)?;
        Ok(UserRecord {
            id: row.id,
            email: row.email,
            password_hash: row.password_hash,
            first_name: row.first_name,
            last_name: row.last_name,
            role,
            created_at: row.created_at,
        })
    }
}

const USER_COLUMNS: &str = "id, email, password_hash, first_name, last_name, role, created_at";

fn into_record(row: Option<UserRow>) -> Result<Option<UserRecord>> {
    row.map(UserRecord::try_from).transpose()
}

/// True of the row of an account (`$1`) that is an admin while no other account is.
const IS_LAST_ADMIN: &str = "role = 'admin' AND NOT EXISTS \
     (SELECT 1 FROM users AS other WHERE other.role = 'admin' AND other.id <> $1)";

macro_rules! sql_store {
    ($name:ident, $database:ty, $outbox:ident, lock_admins = $lock_admins:expr) => {
        #[derive(Clone)]
        pub struct $name {
            pool: sqlx::Pool<$database>,
            /// Woken after every commit that wrote a domain event.
            relay: RelayHandle,
        }

        impl $name {
            pub fn pool(&self) -> &sqlx::Pool<$database> {
                &self.pool
            }

            /// Locks every admin row until the transaction ends, where the backend needs it (see
            /// the module's documentation).
            async fn lock_admins(transaction: &mut sqlx::Transaction<'_, $database>) -> Result<()> {
                let lock: Option<&str> = $lock_admins;
                if let Some(lock) = lock {
                    sqlx::query(lock).execute(&mut **transaction).await.map_err(database_error)?;
                }
                Ok(())
            }

            /// Why a guarded change touched no row: the account does not exist, or it is the
            /// last admin.
            async fn refusal<T>(
                transaction: &mut sqlx::Transaction<'_, $database>,
                id: Uuid,
            ) -> Result<Guarded<T>> {
                let exists: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM users WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut **transaction)
                    .await
                    .map_err(database_error)?;
                Ok(if exists.is_some() { Guarded::LastAdmin } else { Guarded::NotFound })
            }
        }

        #[async_trait::async_trait]
        impl UserStore for $name {
            async fn insert_user(&self, user: &UserRecord, now: DateTime<Utc>) -> Result<()> {
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                let result = sqlx::query(
                    "INSERT INTO users (id, email, password_hash, first_name, last_name, role, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(user.id)
                .bind(&user.email)
                .bind(&user.password_hash)
                .bind(&user.first_name)
                .bind(&user.last_name)
                .bind(user.role.as_str())
                .bind(user.created_at)
                .bind(now)
                .execute(&mut *transaction)
                .await;
                match result {
                    Ok(_) => {
                        let told = crate::domain_events::registered(user, now);
                        commit_telling(transaction, std::slice::from_ref(&told), &self.relay)
                            .await
                            .map_err(database_error)?;
                        Ok(())
                    }
                    Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Err(
                        Error::new(Code::EmailTaken, "an account with this email already exists"),
                    ),
                    Err(error) => Err(database_error(error)),
                }
            }

            async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>> {
                let row = sqlx::query_as::<_, UserRow>(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
                ))
                .bind(email.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(database_error)?;
                into_record(row)
            }

            async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>> {
                let row = sqlx::query_as::<_, UserRow>(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(database_error)?;
                into_record(row)
            }

            async fn update_names(
                &self,
                id: Uuid,
                first_name: Option<&str>,
                last_name: Option<&str>,
                now: DateTime<Utc>,
            ) -> Result<Option<UserRecord>> {
                let row = sqlx::query_as::<_, UserRow>(&format!(
                    "UPDATE users SET first_name = COALESCE($2, first_name), \
                     last_name = COALESCE($3, last_name), updated_at = $4 \
                     WHERE id = $1 RETURNING {USER_COLUMNS}"
                ))
                .bind(id)
                .bind(first_name)
                .bind(last_name)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(database_error)?;
                into_record(row)
            }

            async fn update_password_hash(&self, id: Uuid, hash: &str, now: DateTime<Utc>) -> Result<bool> {
                let result = sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(hash)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(database_error)?;
                Ok(result.rows_affected() == 1)
            }

            async fn set_role(&self, id: Uuid, role: Role, now: DateTime<Utc>) -> Result<Guarded<UserRecord>> {
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                if role != Role::Admin {
                    Self::lock_admins(&mut transaction).await?;
                }
                let row = sqlx::query_as::<_, UserRow>(&format!(
                    "UPDATE users SET role = $2, updated_at = $3 \
                     WHERE id = $1 AND ($2 = 'admin' OR NOT ({IS_LAST_ADMIN})) RETURNING {USER_COLUMNS}"
                ))
                .bind(id)
                .bind(role.as_str())
                .bind(now)
                .fetch_optional(&mut *transaction)
                .await
                .map_err(database_error)?;
                let outcome = match into_record(row)? {
                    Some(user) => Guarded::Done(user),
                    None => Self::refusal(&mut transaction, id).await?,
                };
                transaction.commit().await.map_err(database_error)?;
                Ok(outcome)
            }

            async fn delete_user(&self, id: Uuid) -> Result<Guarded<()>> {
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                Self::lock_admins(&mut transaction).await?;
                let result = sqlx::query(&format!("DELETE FROM users WHERE id = $1 AND NOT ({IS_LAST_ADMIN})"))
                    .bind(id)
                    .execute(&mut *transaction)
                    .await
                    .map_err(database_error)?;
                let outcome = match result.rows_affected() {
                    1 => Guarded::Done(()),
                    _ => Self::refusal(&mut transaction, id).await?,
                };
                transaction.commit().await.map_err(database_error)?;
                Ok(outcome)
            }

            async fn is_last_admin(&self, id: Uuid) -> Result<bool> {
                let last: Option<bool> =
                    sqlx::query_scalar(&format!("SELECT {IS_LAST_ADMIN} FROM users WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(database_error)?;
                Ok(last.unwrap_or(false))
            }

            async fn open_session(
                &self,
                session_id: Uuid,
                user_id: Uuid,
                token: &NewRefreshToken,
                now: DateTime<Utc>,
            ) -> Result<()> {
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                sqlx::query("INSERT INTO sessions (id, user_id, created_at) VALUES ($1, $2, $3)")
                    .bind(session_id)
                    .bind(user_id)
                    .bind(now)
                    .execute(&mut *transaction)
                    .await
                    .map_err(database_error)?;
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&token.token_hash)
                .bind(session_id)
                .bind(now)
                .bind(token.expires_at)
                .execute(&mut *transaction)
                .await
                .map_err(database_error)?;
                transaction.commit().await.map_err(database_error)
            }

            async fn rotate_refresh_token(
                &self,
                token_hash: &[u8],
                next: &NewRefreshToken,
                now: DateTime<Utc>,
            ) -> Result<Rotation> {
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                // Marking the token used is the first statement and a compare-and-set: of two
                // concurrent refreshes with one token, exactly one gets the row.
                let claimed: Option<(Uuid, DateTime<Utc>)> = sqlx::query_as(
                    "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
                     RETURNING session_id, expires_at",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&mut *transaction)
                .await
                .map_err(database_error)?;
                let Some((session_id, expires_at)) = claimed else {
                    transaction.rollback().await.map_err(database_error)?;
                    let used: Option<(Uuid,)> =
                        sqlx::query_as("SELECT session_id FROM refresh_tokens WHERE token_hash = $1")
                            .bind(token_hash)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(database_error)?;
                    return Ok(match used {
                        Some((session_id,)) => Rotation::Reused { session_id },
                        None => Rotation::Invalid,
                    });
                };
                if expires_at <= now {
                    transaction.rollback().await.map_err(database_error)?;
                    return Ok(Rotation::Invalid);
                }
                let live_user = sqlx::query_as::<_, UserRow>(
                    "SELECT u.id, u.email, u.password_hash, u.first_name, u.last_name, u.role, u.created_at \
                     FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.id = $1 AND s.revoked_at IS NULL",
                )
                .bind(session_id)
                .fetch_optional(&mut *transaction)
                .await
                .map_err(database_error)?;
                let Some(user) = into_record(live_user)? else {
                    transaction.rollback().await.map_err(database_error)?;
                    return Ok(Rotation::Invalid);
                };
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&next.token_hash)
                .bind(session_id)
                .bind(now)
                .bind(next.expires_at)
                .execute(&mut *transaction)
                .await
                .map_err(database_error)?;
                transaction.commit().await.map_err(database_error)?;
                Ok(Rotation::Rotated { user, session_id })
            }

            async fn revoke_session(&self, session_id: Uuid, now: DateTime<Utc>) -> Result<()> {
                sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                    .bind(session_id)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(database_error)?;
                Ok(())
            }

            async fn revoke_user_sessions(
                &self,
                user_id: Uuid,
                except: Option<Uuid>,
                now: DateTime<Utc>,
            ) -> Result<Vec<Uuid>> {
                let revoked: Vec<(Uuid,)> = sqlx::query_as(
                    "UPDATE sessions SET revoked_at = $3 \
                     WHERE user_id = $1 AND revoked_at IS NULL AND ($2 IS NULL OR id <> $2) \
                     RETURNING id",
                )
                .bind(user_id)
                .bind(except)
                .bind(now)
                .fetch_all(&self.pool)
                .await
                .map_err(database_error)?;
                Ok(revoked.into_iter().map(|(id,)| id).collect())
            }

            async fn sessions_revoked_since(&self, since: DateTime<Utc>) -> Result<Vec<Uuid>> {
                let revoked: Vec<(Uuid,)> =
                    sqlx::query_as("SELECT id FROM sessions WHERE revoked_at > $1")
                        .bind(since)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(database_error)?;
                Ok(revoked.into_iter().map(|(id,)| id).collect())
            }

            async fn find_users(&self, text: Option<&str>, after: Option<&str>, limit: u32) -> Result<Vec<UserRecord>> {
                let mut sql = sqlx::QueryBuilder::<$database>::new(format!("SELECT {USER_COLUMNS} FROM users WHERE 1 = 1"));
                if let Some(text) = text {
                    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                    sql.push(" AND email LIKE ").push_bind(format!("%{escaped}%")).push(" ESCAPE '\\'");
                }
                if let Some(after) = after {
                    sql.push(" AND email > ").push_bind(after.to_owned());
                }
                sql.push(" ORDER BY email LIMIT ").push_bind(i64::from(limit));
                let rows: Vec<UserRow> = sql.build_query_as().fetch_all(&self.pool).await.map_err(database_error)?;
                rows.into_iter().map(UserRecord::try_from).collect()
            }

            async fn sessions_of(&self, user_id: Uuid, limit: u32) -> Result<Vec<SessionRecord>> {
                let rows: Vec<(Uuid, DateTime<Utc>, Option<DateTime<Utc>>, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
                    "SELECT s.id, s.created_at, s.revoked_at, MAX(t.created_at), MAX(t.expires_at) \
                     FROM sessions s JOIN refresh_tokens t ON t.session_id = s.id \
                     WHERE s.user_id = $1 GROUP BY s.id, s.created_at, s.revoked_at \
                     ORDER BY CASE WHEN s.revoked_at IS NULL AND MAX(t.expires_at) > $3 THEN 0 ELSE 1 END, \
                     s.created_at DESC LIMIT $2",
                )
                .bind(user_id)
                .bind(i64::from(limit))
                .bind(Utc::now())
                .fetch_all(&self.pool)
                .await
                .map_err(database_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, created_at, revoked_at, last_used_at, expires_at)| SessionRecord {
                        id,
                        created_at,
                        last_used_at,
                        expires_at,
                        revoked_at,
                    })
                    .collect())
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await.map_err(Error::unavailable)?;
                Ok(())
            }

            fn outbox(&self) -> (OutboxDb, RelayHandle) {
                (OutboxDb::$outbox(self.pool.clone()), self.relay.clone())
            }
        }
    };
}

sql_store!(
    PostgresUserStore,
    sqlx::Postgres,
    Postgres,
    lock_admins = Some("SELECT id FROM users WHERE role = 'admin' ORDER BY id FOR UPDATE")
);
sql_store!(SqliteUserStore, sqlx::Sqlite, Sqlite, lock_admins = None);

impl PostgresUserStore {
    pub fn new(pool: sqlx::PgPool) -> Self {
        PostgresUserStore { pool, relay: RelayHandle::default() }
    }
}

impl SqliteUserStore {
    pub fn new(pool: sqlx::SqlitePool) -> Self {
        SqliteUserStore { pool, relay: RelayHandle::default() }
    }
}
