//! The events service's database: PostgreSQL in production, SQLite embedded. One SQL body,
//! written once in [`sql_store!`], implements [`EventStore`] for both; only the substring search
//! differs (a trigram index on PostgreSQL, an FTS5 trigram table on SQLite).

use boxoffice_db::cursor::{push_page, Order};
use boxoffice_db::database_error;
use boxoffice_errors::{Code, Error};
use boxoffice_outbox::{commit_telling, OutboxDb, OutboxEvent, RelayHandle};
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use uuid::Uuid;

use crate::domain::{Category, EventStatus, Layout, WaitingRoom};

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
    /// Bumped by every update, which succeeds only against the version it read.
    pub version: i64,
    /// Set when an event in the venue is published: its seats can no longer change.
    pub seats_locked: bool,
}

/// An account the organizer lets check tickets in for one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoorStaffRecord {
    pub user_id: Uuid,
    pub email: String,
    pub granted_at: DateTime<Utc>,
}

/// A venue whose seats a publication freezes: the publication commits only if the venue is
/// still at the version whose seat map it checked its categories against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VenueLock {
    pub venue_id: Uuid,
    pub version: i64,
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
    #[serde(default)]
    pub waiting_room: Option<WaitingRoom>,
    /// How long an offer from a sold-out category's waiting list lasts; 0: no waiting list.
    #[serde(default)]
    pub waiting_list_offer_minutes: u32,
    /// Whether the door accepts a ticket's static code (print-at-home) beside its rotating one.
    #[serde(default)]
    pub static_codes: bool,
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
    /// Writes `venue` over the stored one if that is still at `venue.version` and, when
    /// `seats_change`, its seats are not locked; bumps the version. False otherwise.
    async fn update_venue(&self, venue: &VenueRecord, seats_change: bool) -> Result<bool>;
    /// The venues of `organizer_id` (of everyone: `None`), newest first, after `after`.
    async fn list_venues(
        &self,
        organizer_id: Option<Uuid>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u32,
    ) -> Result<Vec<VenueRecord>>;
    /// The names of up to `limit` events in the venue that are not drafts.
    async fn events_selling_venue(&self, venue_id: Uuid, limit: u32) -> Result<Vec<String>>;
    /// The drafts in the venue.
    async fn drafts_in_venue(&self, venue_id: Uuid) -> Result<Vec<Uuid>>;
    async fn insert_event(&self, event: &EventRecord) -> Result<()>;
    async fn event(&self, id: Uuid) -> Result<Option<EventRecord>>;
    /// Writes `event` over the stored one if that is still at `event.version`, and bumps the
    /// version, with the domain event that tells of it (if any) in the same transaction. False
    /// when another update came first.
    /// With `lock`, the same transaction locks the venue's seats, and fails (false) if the venue
    /// is no longer at the version the event was checked against.
    async fn update_event(
        &self,
        event: &EventRecord,
        told: Option<&OutboxEvent>,
        lock: Option<VenueLock>,
    ) -> Result<bool>;
    /// Deletes the event only while it is a draft.
    async fn delete_draft(&self, id: Uuid) -> Result<bool>;
    async fn list_events(&self, query: &ListQuery) -> Result<Vec<EventRecord>>;
    /// Lets `user_id` check tickets in for the event (again: nothing changes).
    async fn grant_door_staff(&self, event_id: Uuid, staff: &DoorStaffRecord) -> Result<()>;
    /// False when the account had no such grant.
    async fn revoke_door_staff(&self, event_id: Uuid, user_id: Uuid) -> Result<bool>;
    async fn door_staff(&self, event_id: Uuid) -> Result<Vec<DoorStaffRecord>>;
    async fn is_door_staff(&self, event_id: Uuid, user_id: Uuid) -> Result<bool>;
    /// The published events that `user_id` keeps the door of, soonest first (at most `limit`).
    async fn doors_of(&self, user_id: Uuid, limit: u32) -> Result<Vec<EventRecord>>;
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
    version: i64,
    seats_locked: bool,
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
            version: row.version,
            seats_locked: row.seats_locked,
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
    waiting_room: Option<String>,
    waiting_list_offer_minutes: i64,
    static_codes: bool,
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
            waiting_room: row
                .waiting_room
                .map(|room| serde_json::from_str(&room))
                .transpose()
                .map_err(Error::internal)?,
            waiting_list_offer_minutes: u32::try_from(row.waiting_list_offer_minutes)
                .map_err(Error::internal)?,
            static_codes: row.static_codes,
        })
    }
}

const VENUE_COLUMNS: &str =
    "id, organizer_id, name, city, address, layout, created_at, version, seats_locked";

#[derive(sqlx::FromRow)]
struct DoorStaffRow {
    user_id: Uuid,
    email: String,
    granted_at: DateTime<Utc>,
}
const EVENT_COLUMNS: &str = "id, organizer_id, venue_id, name, description, city, starts_at, ends_at, \
     sale_starts_at, status, max_tickets_per_booking, categories, created_at, updated_at, version, waiting_room, \
     waiting_list_offer_minutes, static_codes";

/// The lower-case text that `q` searches: name and description.
fn search_text(event: &EventRecord) -> String {
    format!("{}\n{}", event.name, event.description).to_lowercase()
}

fn categories_json(event: &EventRecord) -> Result<String> {
    serde_json::to_string(&event.categories).map_err(Error::internal)
}

/// `text` as a LIKE pattern matching it anywhere, with LIKE's own characters escaped.
fn waiting_room_json(event: &EventRecord) -> Result<Option<String>> {
    event.waiting_room.as_ref().map(serde_json::to_string).transpose().map_err(Error::internal)
}

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

            async fn update_venue(&self, venue: &VenueRecord, seats_change: bool) -> Result<bool> {
                let layout = serde_json::to_string(&venue.layout).map_err(Error::internal)?;
                let result = sqlx::query(
                    "UPDATE venues SET name = $3, city = $4, address = $5, layout = $6, capacity = $7, \
                     version = version + 1 WHERE id = $1 AND version = $2 AND (NOT $8 OR NOT seats_locked)",
                )
                .bind(venue.id)
                .bind(venue.version)
                .bind(&venue.name)
                .bind(&venue.city)
                .bind(&venue.address)
                .bind(layout)
                .bind(i64::try_from(venue.layout.capacity()).map_err(Error::internal)?)
                .bind(seats_change)
                .execute(&self.pool)
                .await
                .map_err(database_error)?;
                Ok(result.rows_affected() == 1)
            }

            async fn list_venues(
                &self,
                organizer_id: Option<Uuid>,
                after: Option<(DateTime<Utc>, Uuid)>,
                limit: u32,
            ) -> Result<Vec<VenueRecord>> {
                let mut sql = sqlx::QueryBuilder::<$database>::new(format!("SELECT {VENUE_COLUMNS} FROM venues WHERE 1 = 1"));
                if let Some(organizer_id) = organizer_id {
                    sql.push(" AND organizer_id = ").push_bind(organizer_id);
                }
                push_page(&mut sql, "created_at", Order::Descending, after, limit);
                let rows: Vec<VenueRow> = sql.build_query_as().fetch_all(&self.pool).await.map_err(database_error)?;
                rows.into_iter().map(VenueRecord::try_from).collect()
            }

            async fn events_selling_venue(&self, venue_id: Uuid, limit: u32) -> Result<Vec<String>> {
                sqlx::query_scalar(
                    "SELECT name FROM events WHERE venue_id = $1 AND status <> 'draft' ORDER BY starts_at LIMIT $2",
                )
                .bind(venue_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(database_error)
            }

            async fn doors_of(&self, user_id: Uuid, limit: u32) -> Result<Vec<EventRecord>> {
                let rows: Vec<EventRow> = sqlx::query_as(&format!(
                    "SELECT {EVENT_COLUMNS} FROM events \
                     WHERE id IN (SELECT event_id FROM door_staff WHERE user_id = $1) AND status = 'published' \
                     ORDER BY starts_at, id LIMIT $2"
                ))
                .bind(user_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(database_error)?;
                rows.into_iter().map(EventRecord::try_from).collect()
            }

            async fn drafts_in_venue(&self, venue_id: Uuid) -> Result<Vec<Uuid>> {
                sqlx::query_scalar("SELECT id FROM events WHERE venue_id = $1 AND status = 'draft'")
                    .bind(venue_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(database_error)
            }

            async fn grant_door_staff(&self, event_id: Uuid, staff: &DoorStaffRecord) -> Result<()> {
                sqlx::query(
                    "INSERT INTO door_staff (event_id, user_id, email, granted_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (event_id, user_id) DO NOTHING",
                )
                .bind(event_id)
                .bind(staff.user_id)
                .bind(&staff.email)
                .bind(staff.granted_at)
                .execute(&self.pool)
                .await
                .map_err(database_error)?;
                Ok(())
            }

            async fn revoke_door_staff(&self, event_id: Uuid, user_id: Uuid) -> Result<bool> {
                let result = sqlx::query("DELETE FROM door_staff WHERE event_id = $1 AND user_id = $2")
                    .bind(event_id)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await
                    .map_err(database_error)?;
                Ok(result.rows_affected() == 1)
            }

            async fn door_staff(&self, event_id: Uuid) -> Result<Vec<DoorStaffRecord>> {
                let rows: Vec<DoorStaffRow> = sqlx::query_as(
                    "SELECT user_id, email, granted_at FROM door_staff WHERE event_id = $1 ORDER BY granted_at, email",
                )
                .bind(event_id)
                .fetch_all(&self.pool)
                .await
                .map_err(database_error)?;
                Ok(rows
                    .into_iter()
                    .map(|row| DoorStaffRecord { user_id: row.user_id, email: row.email, granted_at: row.granted_at })
                    .collect())
            }

            async fn is_door_staff(&self, event_id: Uuid, user_id: Uuid) -> Result<bool> {
                let found: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM door_staff WHERE event_id = $1 AND user_id = $2")
                        .bind(event_id)
                        .bind(user_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(database_error)?;
                Ok(found.is_some())
            }

            async fn insert_event(&self, event: &EventRecord) -> Result<()> {
                sqlx::query(
                    "INSERT INTO events (id, organizer_id, venue_id, name, description, city, city_key, search_text, \
                     starts_at, ends_at, sale_starts_at, status, max_tickets_per_booking, categories, created_at, \
                     updated_at, version, waiting_room, waiting_list_offer_minutes, static_codes) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
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
                .bind(waiting_room_json(event)?)
                .bind(i64::from(event.waiting_list_offer_minutes))
                .bind(event.static_codes)
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

            async fn update_event(
                &self,
                event: &EventRecord,
                told: Option<&OutboxEvent>,
                lock: Option<VenueLock>,
            ) -> Result<bool> {
                let query = sqlx::query(
                    "UPDATE events SET venue_id = $3, name = $4, description = $5, city = $6, city_key = $7, \
                     search_text = $8, starts_at = $9, ends_at = $10, sale_starts_at = $11, status = $12, \
                     max_tickets_per_booking = $13, categories = $14, updated_at = $15, waiting_room = $16, \
                     waiting_list_offer_minutes = $17, static_codes = $18, \
                     version = version + 1 WHERE id = $1 AND version = $2",
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
                .bind(event.updated_at)
                .bind(waiting_room_json(event)?)
                .bind(i64::from(event.waiting_list_offer_minutes))
                .bind(event.static_codes);
                // A change that tells nothing (a draft's) is one statement; one that tells commits
                // its domain event with it (and a publication locks its venue's seats).
                if told.is_none() && lock.is_none() {
                    let result = query.execute(&self.pool).await.map_err(update_error)?;
                    return Ok(result.rows_affected() == 1);
                }
                let mut transaction = self.pool.begin().await.map_err(database_error)?;
                if let Some(lock) = lock {
                    // First, so that a concurrent change of the venue's seats waits for this
                    // transaction or makes it fail.
                    let locked = sqlx::query("UPDATE venues SET seats_locked = true WHERE id = $1 AND version = $2")
                        .bind(lock.venue_id)
                        .bind(lock.version)
                        .execute(&mut *transaction)
                        .await
                        .map_err(update_error)?;
                    if locked.rows_affected() != 1 {
                        return Ok(false);
                    }
                }
                match query.execute(&mut *transaction).await.map_err(update_error)? {
                    result if result.rows_affected() == 1 => {
                        commit_telling(transaction, told.map(std::slice::from_ref).unwrap_or_default(), &self.relay)
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
                push_page(&mut sql, "starts_at", Order::Ascending, query.after, query.limit);
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
