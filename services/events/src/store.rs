//! The events service's database: PostgreSQL in production, SQLite embedded. One SQL body,
//! written once in [`sql_store!`], implements [`EventStore`] for both; only the substring search
//! differs (a trigram index on PostgreSQL, an FTS5 trigram table on SQLite).

use boxoffice_db::database_error;
use boxoffice_errors::{Code, Error};
use boxoffice_outbox::{commit_telling, OutboxDb, OutboxEvent, RelayHandle};
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use uuid::Uuid;

use crate::domain::{Category, EventStatus, Layout};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The PostgreSQL schema this service owns; no other service reads it.
pub const POSTGRES_SCHEMA: &str = "events";

pub static MIGRATIONS: boxoffice_db::Migrations =
    boxoffice_db::Migrations { postgres: &POSTGRES_MIGRATIONS, sqlite: &SQLITE_MIGRATIONS };
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueRecord {
    pub id: Uuid,
    pub organizer_id: Uuid,
    pub name: String,
    pub city: String,
    pub address: String,
    pub layout: Layout,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventRecord {
    pub id: Uuid,
    pub organizer_id: Uuid,
    pub venue_id: Option<Uuid>,
    pub name: String,
    pub description: String,
    pub city: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub sale_starts_at: Option<DateTime<Utc>>,
    pub status: EventStatus,
    pub max_tickets_per_booking: u32,
    pub categories: Vec<Category>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every update, which succeeds only against the version it read.
    pub version: i64,
}

/// Which events a listing shows, and from where.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    /// A lower-case substring of the name or description.
    pub text: Option<String>,
    /// A lower-case city.
    pub city: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The last event of the previous page: the listing continues after it.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    /// The organizer's own events in every status, instead of the public published ones.
    pub organizer_id: Option<Uuid>,
    pub limit: u32,
}

#[async_trait::async_trait]
pub trait EventStore: Send + Sync + 'static {
    async fn insert_venue(&self, venue: &VenueRecord) -> Result<()>;
    async fn venue(&self, id: Uuid) -> Result<Option<VenueRecord>>;
    async fn insert_event(&self, event: &EventRecord) -> Result<()>;
    async fn event(&self, id: Uuid) -> Result<Option<EventRecord>>;
    /// Writes `event` over the stored one if that is still at `event.version`, and bumps the
    /// version, with the domain event that tells of it (if any) in the same transaction. False
    /// when another update came first.
    async fn update_event(&self, event: &EventRecord, told: Option<&OutboxEvent>) -> Result<bool>;
    /// Deletes the event only while it is a draft.
    async fn delete_draft(&self, id: Uuid) -> Result<bool>;
    async fn list_events(&self, query: &ListQuery) -> Result<Vec<EventRecord>>;
    async fn ping(&self) -> Result<()>;
    /// The outbox of this database, for its relay, and the handle that wakes it.
    fn outbox(&self) -> (OutboxDb, RelayHandle);
}

#[derive(sqlx::FromRow)]
struct VenueRow {
    id: Uuid,
    organizer_id: Uuid,
    name: String,
    city: String,
    address: String,
    layout: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<VenueRow> for VenueRecord {
    type Error = Error;

    fn try_from(row: VenueRow) -> Result<Self> {
        Ok(VenueRecord {
            id: row.id,
            organizer_id: row.organizer_id,
            name: row.name,
            city: row.city,
            address: row.address,
            layout: serde_json::from_str(&row.layout).map_err(Error::internal)?,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: Uuid,
    organizer_id: Uuid,
    venue_id: Option<Uuid>,
    name: String,
    description: String,
    city: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    sale_starts_at: Option<DateTime<Utc>>,
    status: String,
    max_tickets_per_booking: i64,
    categories: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i64,
}

impl TryFrom<EventRow> for EventRecord {
    type Error = Error;

    fn try_from(row: EventRow) -> Result<Self> {
        let status = EventStatus::parse(&row.status)
            .ok_or_else(|| Error::internal(format!("unknown event status {}", row.status)))?;
        Ok(EventRecord {
            id: row.id,
            organizer_id: row.organizer_id,
            venue_id: row.venue_id,
            name: row.name,
            description: row.description,
            city: row.city,
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            sale_starts_at: row.sale_starts_at,
            status,
            max_tickets_per_booking: u32::try_from(row.max_tickets_per_booking).map_err(Error::internal)?,
            categories: serde_json::from_str(&row.categories).map_err(Error::internal)?,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

const VENUE_COLUMNS: &str = "id, organizer_id, name, city, address, layout, created_at";
const EVENT_COLUMNS: &str = "id, organizer_id, venue_id, name, description, city, starts_at, ends_at, \
     sale_starts_at, status, max_tickets_per_booking, categories, created_at, updated_at, version";

/// The lower-case text that `q` searches: name and description.
fn search_text(event: &EventRecord) -> String {
    format!("{}\n{}", event.name, event.description).to_lowercase()
}

fn categories_json(event: &EventRecord) -> Result<String> {
    serde_json::to_string(&event.categories).map_err(Error::internal)
}

/// `text` as a LIKE pattern matching it anywhere, with LIKE's own characters escaped.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// An event update's failure: a venue that does not exist is the caller's mistake.
fn update_error(error: sqlx::Error) -> Error {
    match error {
        sqlx::Error::Database(error) if error.is_foreign_key_violation() => {
            Error::validation("venue_id: no such venue")
        }
        error => database_error(error),
    }
}

macro_rules! sql_store {
    ($name:ident, $database:ty, $outbox:ident, search_prefix = $search_prefix:literal, search_suffix = $search_suffix:literal) => {
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
        }

        #[async_trait::async_trait]
        impl EventStore for $name {
            async fn insert_venue(&self, venue: &VenueRecord) -> Result<()> {
                let layout = serde_json::to_string(&venue.layout).map_err(Error::internal)?;
                sqlx::query(
                    "INSERT INTO venues (id, organizer_id, name, city, address, layout, capacity, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(venue.id)
                .bind(venue.organizer_id)
                .bind(&venue.name)
                .bind(&venue.city)
                .bind(&venue.address)
                .bind(layout)
                .bind(i64::try_from(venue.layout.capacity()).map_err(Error::internal)?)
                .bind(venue.created_at)
                .execute(&self.pool)
                .await
                .map_err(database_error)?;
                Ok(())
            }

            async fn venue(&self, id: Uuid) -> Result<Option<VenueRecord>> {
                let row = sqlx::query_as::<_, VenueRow>(&format!("SELECT {VENUE_COLUMNS} FROM venues WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(database_error)?;
                row.map(VenueRecord::try_from).transpose()
            }

            async fn insert_event(&self, event: &EventRecord) -> Result<()> {
                sqlx::query(
                    "INSERT INTO events (id, organizer_id, venue_id, name, description, city, city_key, search_text, \
                     starts_at, ends_at, sale_starts_at, status, max_tickets_per_booking, categories, created_at, \
                     updated_at, version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
                )
                .bind(event.id)
                .bind(event.organizer_id)
                .bind(event.venue_id)
                .bind(&event.name)
                .bind(&event.description)
                .bind(&event.city)
                .bind(event.city.to_lowercase())
                .bind(search_text(event))
                .bind(event.starts_at)
                .bind(event.ends_at)
                .bind(event.sale_starts_at)
                .bind(event.status.as_str())
                .bind(i64::from(event.max_tickets_per_booking))
                .bind(categories_json(event)?)
                .bind(event.created_at)
                .bind(event.updated_at)
                .bind(event.version)
                .execute(&self.pool)
                .await
                .map_err(database_error)?;
                Ok(())
            }

            async fn event(&self, id: Uuid) -> Result<Option<EventRecord>> {
                let row = sqlx::query_as::<_, EventRow>(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(database_error)?;
                row.map(EventRecord::try_from).transpose()
            }

            async fn update_event(&self, event: &EventRecord, told: Option<&OutboxEvent>) -> Result<bool> {
                let query = sqlx::query(
                    "UPDATE events SET venue_id = $3, name = $4, description = $5, city = $6, city_key = $7, \
                     search_text = $8, starts_at = $9, ends_at = $10, sale_starts_at = $11, status = $12, \
                     max_tickets_per_booking = $13, categories = $14, updated_at = $15, version = version + 1 \
                     WHERE id = $1 AND version = $2",
                )
                .bind(event.id)
                .bind(event.version)
                .bind(event.venue_id)
                .bind(&event.name)
                .bind(&event.description)
                .bind(&event.city)
                .bind(event.city.to_lowercase())
                .bind(search_text(event))
                .bind(event.starts_at)
                .bind(event.ends_at)
                .bind(event.sale_starts_at)
                .bind(event.status.as_str())
                .bind(i64::from(event.max_tickets_per_booking))
                .bind(categories_json(event)?)
                .bind(event.updated_at);
                // A change that tells nothing (a draft's) is one statement; one that tells commits
                // its domain event with it.
                let Some(told) = told else {
                    let result = query.execute(&self.pool).await.map_err(update_error)?;
                    return Ok(result.rows_affected() == 1);
                };
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                match query.execute(&mut *transaction).await.map_err(update_error)? {
                    result if result.rows_affected() == 1 => {
                        commit_telling(transaction, std::slice::from_ref(told), &self.relay)
                            .await
                            .map_err(database_error)?;
                        Ok(true)
                    }
                    _ => Ok(false),
                }
            }

            async fn delete_draft(&self, id: Uuid) -> Result<bool> {
                let result = sqlx::query("DELETE FROM events WHERE id = $1 AND status = 'draft'")
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(database_error)?;
                Ok(result.rows_affected() == 1)
            }

            async fn list_events(&self, query: &ListQuery) -> Result<Vec<EventRecord>> {
                let mut sql = sqlx::QueryBuilder::<$database>::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE "));
                match query.organizer_id {
                    Some(organizer_id) => {
                        sql.push("organizer_id = ").push_bind(organizer_id);
                    }
                    None => {
                        sql.push("status = 'published'");
                    }
                }
                if let Some(text) = &query.text {
                    // SQLite's trigram index serves a LIKE only without an ESCAPE clause, so the
                    // clause is added only when the text has LIKE's own characters.
                    let escape = if text.contains(['%', '_', '\\']) { " ESCAPE '\\'" } else { "" };
                    sql.push(" AND ").push($search_prefix).push_bind(contains_pattern(text)).push(escape).push($search_suffix);
                }
                if let Some(city) = &query.city {
                    sql.push(" AND city_key = ").push_bind(city.clone());
                }
                if let Some(from) = query.from {
                    sql.push(" AND starts_at >= ").push_bind(from);
                }
                if let Some(to) = query.to {
                    sql.push(" AND starts_at <= ").push_bind(to);
                }
                if let Some((starts_at, id)) = query.after {
                    sql.push(" AND (starts_at > ")
                        .push_bind(starts_at)
                        .push(" OR (starts_at = ")
                        .push_bind(starts_at)
                        .push(" AND id > ")
                        .push_bind(id)
                        .push("))");
                }
                sql.push(" ORDER BY starts_at, id LIMIT ").push_bind(i64::from(query.limit));
                let rows: Vec<EventRow> =
                    sql.build_query_as().fetch_all(&self.pool).await.map_err(database_error)?;
                rows.into_iter().map(EventRecord::try_from).collect()
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
    PostgresEventStore,
    sqlx::Postgres,
    Postgres,
    search_prefix = "search_text LIKE ",
    search_suffix = ""
);
sql_store!(
    SqliteEventStore,
    sqlx::Sqlite,
    Sqlite,
    search_prefix = "seq IN (SELECT rowid FROM events_search WHERE search_text LIKE ",
    search_suffix = ")"
);

impl PostgresEventStore {
    pub fn new(pool: sqlx::PgPool) -> Self {
        PostgresEventStore { pool, relay: RelayHandle::default() }
    }
}

impl SqliteEventStore {
    pub fn new(pool: sqlx::SqlitePool) -> Self {
        SqliteEventStore { pool, relay: RelayHandle::default() }
    }
}

/// An update lost a race with another one.
pub fn concurrent_update() -> Error {
    Error::new(Code::Conflict, "the event changed while this request was being handled; try again")
}
