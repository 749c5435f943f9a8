//! The schemas of request fields that the services check beyond their JSON type, built from the
//! services' rules so that the document accepts exactly what the server accepts: the schemathesis
//! run (`scripts/schemathesis`) sends what the document allows and what it refuses, and expects
//! the server to agree.
//!
//! Most text is trimmed by the service before it is checked, so a length or a forbidden character
//! applies to the trimmed text; the patterns below say so (`maxLength` would count the spaces
//! around it too). "Whitespace" is what `str::trim` removes (Unicode `White_Space`), and
//! "control characters" what `char::is_control` finds (Unicode `Cc`).
//!
//! The numbers come from `boxoffice_types::limits`, where the services read them too, so the
//! document cannot drift from what the services enforce.

use utoipa::openapi::schema::{
    AnyOfBuilder, KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::RefOr;

use boxoffice_types::limits::{accounts as users, events};

/// Unicode `White_Space`, which `str::trim` removes, as the body of a regex class.
const WHITESPACE: &str = r"\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// Unicode `Cc`, which `char::is_control` finds.
const CONTROL: &str = r"\x00-\x1F\x7F-\x9F";
/// The control characters that the events service refuses in text: all but tab and line breaks.
const CONTROL_BUT_LINE_BREAKS: &str = r"\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F";

/// Text that the service trims, then checks for its length and its characters.
struct Trimmed {
    max_chars: usize,
    may_be_empty: bool,
    /// The characters refused in the trimmed text, as the body of a regex class.
    refused: &'static str,
    description: &'static str,
}

impl Trimmed {
    /// `^<whitespace>*(<first>(<any>{0,max-2}<last>)?)?<whitespace>*$`, where the first and last
    /// characters of the trimmed text are neither whitespace nor refused, and those between are
    /// not refused.
    fn pattern(&self) -> String {
        let Trimmed { max_chars, refused, .. } = *self;
        assert!(max_chars >= 2, "a trimmed text pattern needs room for a first and a last character");
        let edge = format!("[^{refused}{WHITESPACE}]");
        let inner = format!("[^{refused}]");
        let text = format!("{edge}(?:{inner}{{0,{}}}{edge})?", max_chars - 2);
        let text = if self.may_be_empty { format!("(?:{text})?") } else { text };
        format!("^[{WHITESPACE}]*{text}[{WHITESPACE}]*$")
    }

    fn schema(&self, nullable: bool) -> Object {
        let at_least = if self.may_be_empty { 0 } else { 1 };
        let description =
            format!("{} {at_least} to {} characters once trimmed.", self.description, self.max_chars);
        string(nullable).pattern(Some(self.pattern())).description(Some(description)).build()
    }
}

fn string(nullable: bool) -> ObjectBuilder {
    let schema_type = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::new(Type::String)
    };
    ObjectBuilder::new().schema_type(schema_type)
}

const PERSON_NAME: Trimmed = Trimmed {
    max_chars: users::NAME_MAX_CHARS,
    may_be_empty: false,
    refused: CONTROL,
    description: "No control characters;",
};

/// A first or last name (`PersonName` of the users service).
pub fn person_name() -> Object {
    PERSON_NAME.schema(false)
}

/// A first or last name to change; `null` or absent keeps it.
pub fn person_name_patch() -> Object {
    PERSON_NAME.schema(true)
}

/// A new password (`Password` of the users service): counted in characters, not trimmed. Common
/// passwords and those of fewer than three different characters are refused too, which no
/// schema can say.
pub fn new_password() -> Object {
    let (min, max) = (users::PASSWORD_MIN_CHARS, users::PASSWORD_MAX_CHARS);
    string(false)
        .min_length(Some(min))
        .max_length(Some(max))
        .pattern(Some(format!("^[^{CONTROL}]*$")))
        .description(Some(format!(
            "{min} to {max} characters, no control characters; common passwords and those of \
             fewer than three different characters are refused."
        )))
        .build()
}

/// An email address of a new account (`Email` of the users service): trimmed and put in lower
/// case, so one mailbox is one account.
pub fn email() -> Object {
    string(false)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .max_length(Some(users::EMAIL_MAX_CHARS))
        .description(Some(format!(
            "At most {} characters; kept trimmed and in lower case.",
            users::EMAIL_MAX_CHARS
        )))
        .examples(["ada@example.com"])
        .build()
}

/// Text of the events service (`parse_text`): a name, a city, an address.
fn event_text(max_chars: usize) -> Trimmed {
    Trimmed {
        max_chars,
        may_be_empty: false,
        refused: CONTROL_BUT_LINE_BREAKS,
        description: "No control characters but tabs and line breaks;",
    }
}

pub fn event_name() -> Object {
    event_text(events::NAME_MAX_CHARS).schema(false)
}

pub fn event_name_patch() -> Object {
    event_text(events::NAME_MAX_CHARS).schema(true)
}

pub fn category_name() -> Object {
    event_text(events::NAME_MAX_CHARS).schema(false)
}

pub fn venue_name() -> Object {
    event_text(events::NAME_MAX_CHARS).schema(false)
}

pub fn city() -> Object {
    event_text(events::CITY_MAX_CHARS).schema(false)
}

pub fn city_patch() -> Object {
    event_text(events::CITY_MAX_CHARS).schema(true)
}

pub fn address() -> Object {
    event_text(events::ADDRESS_MAX_CHARS).schema(false)
}

const DESCRIPTION: Trimmed = Trimmed {
    max_chars: events::DESCRIPTION_MAX_CHARS,
    may_be_empty: true,
    refused: CONTROL_BUT_LINE_BREAKS,
    description: "No control characters but tabs and line breaks;",
};

/// An event's description (`parse_optional_text`); absent is empty.
pub fn description() -> Object {
    DESCRIPTION.schema(false)
}

pub fn description_patch() -> Object {
    DESCRIPTION.schema(true)
}

/// A section name or row label of a seat map: text without `/`, the separator of seat ids.
fn label(max_chars: usize) -> Trimmed {
    Trimmed {
        max_chars,
        may_be_empty: false,
        refused: concat!(r"\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F", "/"),
        description: "No `/` and no control characters but tabs and line breaks;",
    }
}

pub fn section_name() -> Object {
    label(events::SECTION_NAME_MAX_CHARS).schema(false)
}

pub fn row_label() -> Object {
    label(events::ROW_LABEL_MAX_CHARS).schema(false)
}

/// A search filter of the events service (`parse_filter`): empty means no filter.
fn filter(max_chars: usize) -> Object {
    Trimmed { max_chars, may_be_empty: true, refused: CONTROL, description: "No control characters;" }
        .schema(false)
}

pub fn search() -> Object {
    filter(events::SEARCH_MAX_CHARS)
}

pub fn city_filter() -> Object {
    filter(events::CITY_MAX_CHARS)
}

/// An ISO 4217 code, trimmed and put in upper case by the events service.
pub fn currency() -> Object {
    string(false)
        .pattern(Some(format!("^[{WHITESPACE}]*[A-Za-z]{{3}}[{WHITESPACE}]*$")))
        .description(Some(
            "ISO 4217, three letters; kept in upper case. The same for every category of an event.",
        ))
        .examples(["EUR"])
        .build()
}

/// An RFC 3339 time in the years the events service keeps (1970 to 9999, in UTC).
fn time(nullable: bool, description: &str) -> Object {
    string(nullable)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .pattern(Some(format!("^[{WHITESPACE}]*(?:19[7-9][0-9]|[2-9][0-9]{{3}})-")))
        .description(Some(format!("{description} RFC 3339, in the years 1970 to 9999 (UTC).")))
        .examples(["2026-12-12T19:00:00Z"])
        .build()
}

pub fn starts_at() -> Object {
    time(false, "When the event starts.")
}

pub fn ends_at() -> Object {
    time(false, "When the event ends, after `starts_at`.")
}

pub fn sale_starts_at() -> Object {
    time(true, "When tickets go on sale, not after `starts_at`; absent or `null`: as soon as published.")
}

pub fn starts_at_patch() -> Object {
    time(true, "When the event starts.")
}

pub fn ends_at_patch() -> Object {
    time(true, "When the event ends, after `starts_at`.")
}

/// A filter of a list: `schema`, or empty for none (an HTML form sends its empty fields).
pub fn or_empty(schema: impl Into<RefOr<Schema>>) -> Schema {
    let empty = string(false).enum_values(Some([""])).description(Some("No filter"));
    Schema::AnyOf(AnyOfBuilder::new().item(empty).item(schema).build())
}

fn time_filter(description: &str) -> Schema {
    or_empty(time(false, description))
}

pub fn from_filter() -> Schema {
    time_filter("Only events starting at or after this.")
}

pub fn to_filter() -> Schema {
    time_filter("Only events starting at or before this.")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What the services do: trim, then count the characters and look for refused ones.
    fn accepted(text: &str, max_chars: usize, may_be_empty: bool, refused: impl Fn(char) -> bool) -> bool {
        let trimmed = text.trim();
        let count = trimmed.chars().count();
        (may_be_empty || count > 0) && count <= max_chars && !trimmed.chars().any(refused)
    }

    /// Whether the service refuses a character of the trimmed text.
    type Refused = fn(char) -> bool;

    fn events_control(c: char) -> bool {
        c.is_control() && !matches!(c, '\n' | '\r' | '\t')
    }

    fn regex(trimmed: &Trimmed) -> regex::Regex {
        // JSON Schema's dialect is ECMA-262; these patterns use only what it shares with the
        // regex crate (classes, `\xHH`, `\uHHHH`, bounded repeats).
        regex::Regex::new(&trimmed.pattern()).unwrap()
    }

    /// Text made mostly of the characters that matter here: letters, whitespace of every kind,
    /// control characters, and `/`.
    fn text() -> impl Strategy<Value = String> {
        let interesting = prop::sample::select(vec![
            'a', 'Z', '7', ' ', '\t', '\n', '\r', '\u{0B}', '\u{0C}', '\u{85}', '\u{A0}', '\u{2003}',
            '\u{3000}', '\u{FEFF}', '\u{1C}', '\u{0}', '\u{7F}', '\u{9F}', '/', 'é', '😀',
        ]);
        prop::collection::vec(prop_oneof![interesting, any::<char>()], 0..12)
            .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn a_trimmed_text_pattern_accepts_exactly_what_the_service_accepts(text in text()) {
            let cases: [(Trimmed, Refused); 4] = [
                (Trimmed { max_chars: 5, ..PERSON_NAME }, char::is_control),
                (Trimmed { max_chars: 5, ..event_text(5) }, events_control),
                (Trimmed { max_chars: 5, ..DESCRIPTION }, events_control),
                (label(5), |c| events_control(c) || c == '/'),
            ];
            for (trimmed, refused) in cases {
                let expected = accepted(&text, trimmed.max_chars, trimmed.may_be_empty, refused);
                prop_assert_eq!(regex(&trimmed).is_match(&text), expected, "{:?} with {}", text, trimmed.pattern());
            }
        }
    }

    #[test]
    fn a_trimmed_text_pattern_counts_characters_once_trimmed() {
        let name = regex(&PERSON_NAME);
        let longest = "é".repeat(users::NAME_MAX_CHARS);
        assert!(name.is_match(&format!("  {longest}\t")));
        assert!(!name.is_match(&format!("{longest}x")));
        assert!(!name.is_match(" \u{3000} "));
        assert!(name.is_match("Ada Lovelace"));
        assert!(!name.is_match("Ada\nLovelace"));
        assert!(regex(&event_text(20)).is_match("Ada\nLovelace"));
        assert!(regex(&Trimmed { max_chars: 5, ..DESCRIPTION }).is_match(" \n "));
    }
}
