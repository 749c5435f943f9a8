//! Reading events: one by id (published ones for anyone, through the cache; the others only for
//! their organizer and admins), and listings filtered by text, city and dates, a page at a time.
//!
//! Pages are keyed by `(starts_at, id)` of the last event shown, not by an offset, so that
//! events inserted while someone pages through neither repeat nor push others out of sight.

use boxoffice_errors::Error;
use boxoffice_types::limits::PageSize;
use boxoffice_types::Caller;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{parse_filter, parse_time, EventStatus, CITY_MAX_CHARS, SEARCH_MAX_CHARS};
use crate::service::{event_not_found, Events};
use crate::store::{EventRecord, ListQuery};

/// A listing request, not yet parsed.
#[derive(Clone, Debug)]
pub struct ListRequest {
    pub q: Option<String>,
    pub city: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: PageSize,
    pub cursor: Option<String>,
    pub mine: bool,
}

impl Events {
    /// The event if `caller` may see it: published events are public, the rest only for their
    /// organizer and admins. Public reads come from the cache.
    pub async fn event(&self, caller: Option<Caller>, event_id: Uuid) -> Result<EventRecord, Error> {
        if let Some(event) = self.cache.get(event_id).await {
            return Ok(event);
        }
        let event = self.store.event(event_id).await?.ok_or_else(event_not_found)?;
        if event.status == EventStatus::Published {
            self.cache.put(&event).await;
            return Ok(event);
        }
        match caller {
            Some(caller) if caller.owns(event.organizer_id) => Ok(event),
            _ => Err(event_not_found()),
        }
    }

    /// A page of events and the cursor of the next one.
    pub async fn list(
        &self,
        caller: Option<Caller>,
        request: ListRequest,
    ) -> Result<(Vec<EventRecord>, Option<String>), Error> {
        let limit = request.limit.get();
        let organizer_id = match (request.mine, caller) {
            (false, _) => None,
            (true, Some(caller)) => Some(caller.user_id),
            (true, None) => return Err(Error::unauthorized("listing your own events needs an access token")),
        };
        let query = ListQuery {
            text: parse_filter(request.q.as_deref(), "q", SEARCH_MAX_CHARS)?,
            city: parse_filter(request.city.as_deref(), "city", CITY_MAX_CHARS)?,
            from: request.from.as_deref().map(|from| parse_time(from, "from")).transpose()?,
            to: request.to.as_deref().map(|to| parse_time(to, "to")).transpose()?,
            after: request.cursor.as_deref().map(decode_cursor).transpose()?,
            organizer_id,
            // One more than the page, to learn whether another page follows.
            limit: limit + 1,
        };
        let mut events = self.store.list_events(&query).await?;
        let next_cursor = if events.len() > limit as usize {
            events.truncate(limit as usize);
            events.last().map(|last| boxoffice_db::cursor::encode((last.starts_at, last.id)))
        } else {
            None
        };
        Ok((events, next_cursor))
    }
}

fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, Uuid), Error> {
    boxoffice_db::cursor::decode(cursor)
        .ok_or_else(|| Error::validation("cursor: not a cursor this API gave out"))
}
