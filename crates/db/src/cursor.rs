//! Cursors of keyset pagination: the position (a time and an id) of the last item of a page,
//! opaque to clients.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Where a page ends: the sort time and the id that breaks ties.
pub type Position = (DateTime<Utc>, Uuid);

/// Which way a list runs along its sort key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Ascending,
    Descending,
}

/// Ends a query with one page of a list sorted by `key` (a column of times) and then by `id`:
/// the rows after `after` in `order`, `limit` of them.
///
/// `after` is compared as a row, `(key, id) < (…)`, which an index on (…, key, id) answers from
/// where the page starts. Written `key < x OR (key = x AND id < y)`, every page read the rows
/// of the pages before it again, so listing a big sale's bookings took quadratic time.
pub fn push_page<'a, DB: sqlx::Database>(
    sql: &mut sqlx::QueryBuilder<'a, DB>,
    key: &'static str,
    order: Order,
    after: Option<Position>,
    limit: u32,
) where
    DateTime<Utc>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Uuid: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let (beyond, direction) = match order {
        Order::Ascending => (">", "ASC"),
        Order::Descending => ("<", "DESC"),
    };
    if let Some((time, id)) = after {
        sql.push(format!(" AND ({key}, id) {beyond} (")).push_bind(time).push(", ").push_bind(id).push(")");
    }
    sql.push(format!(" ORDER BY {key} {direction}, id {direction} LIMIT ")).push_bind(i64::from(limit));
}

pub fn encode((time, id): Position) -> String {
    let position = format!("{}|{id}", time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(position)
}

/// The position in a cursor this API gave out; `None` for anything else.
pub fn decode(cursor: &str) -> Option<Position> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (time, id) = text.split_once('|')?;
    let time = DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&Utc);
    Some((time, Uuid::parse_str(id).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let time = DateTime::parse_from_rfc3339("2027-05-01T19:30:00.123456Z").unwrap().with_timezone(&Utc);
        let id = Uuid::now_v7();
        assert_eq!(decode(&encode((time, id))), Some((time, id)));
        for forged in ["", "!!!", "bm90IGEgY3Vyc29y"] {
            assert_eq!(decode(forged), None, "{forged}");
        }
    }
}
