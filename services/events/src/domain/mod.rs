//! What venues and events are made of, and the rules their fields obey. Every input is parsed
//! here once; the rest of the service handles only values that passed.
//!
//! One module per part of an event an organizer describes, each with its limits beside it:
//! - [`text`]: names, descriptions, cities, search terms and times;
//! - [`layout`]: a venue's seat map and the seat ids derived from it;
//! - [`categories`]: what an event sells (ticket categories, prices, tickets per booking);
//! - [`schedule`]: when it happens and when its sales open;
//! - [`waiting_room`]: the virtual waiting room in front of its on-sale.
//!
//! Their types, parsers and the text limits are re-exported here, so the rest of the service
//! writes `crate::domain::Layout`; the other limits are reached through their module.

pub mod categories;
pub mod layout;
pub mod schedule;
pub mod text;
pub mod waiting_room;

/// Where an event stands: the one definition every service shares.
pub use boxoffice_types::EventStatus;
pub use categories::{
    parse_categories, parse_currency, parse_max_tickets, Category, NewCategory, NewPlacement, Placement,
};
pub use layout::{seat_id, Layout, Numbering, RowLayout, SectionLayout, SectionShape, ShapeInput};
pub use schedule::{check_schedule, check_start_is_ahead};
pub use text::{
    format_time, parse_filter, parse_optional_text, parse_text, parse_time, ADDRESS_MAX_CHARS,
    CITY_MAX_CHARS, DESCRIPTION_MAX_CHARS, NAME_MAX_CHARS, SEARCH_MAX_CHARS,
};
pub use waiting_room::{NewWaitingRoom, WaitingRoom};
