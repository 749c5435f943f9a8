//! Black-box tests of the public API: the real services, started on port 0 against a fresh
//! database, driven over HTTP. Every test runs on both backends.

mod helpers;

mod auth;
mod bench;
mod bookings;
mod browser;
mod contract;
mod domain_events;
mod events;
mod fair_sale_browser;
mod gateway;
mod kafka;
mod notifications;
mod operations;
mod organize;
mod organizer_browser;
mod replicas;
mod security;
mod service_tls;
mod ticket_codes;
mod traces;
mod users;
mod waiting_list;
mod waiting_room;
mod web;
