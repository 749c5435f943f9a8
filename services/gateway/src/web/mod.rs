//! The web app: the buyers' shop, served by the gateway beside the API. Pages are rendered on
//! the server from askama templates (`templates/`, checked at compile time) and work as plain
//! forms; small hand-written script modules (`assets/`, embedded in the binary) add what must be
//! live: the seat map with its availability stream, the hold's countdown, local times.
//!
//! - `session.rs`: cookie sessions and CSRF, for pages and for the API calls of the page's script;
//!   `security.rs`: the headers of pages (CSP, framing, referrer) and of every response (sniffing).
//! - `page.rs`: the frame of every page, the viewer a page requires, errors as pages.
//! - `shop.rs` (home, search, event, hold), `checkout.rs` (booking, pay, cancel, my tickets),
//!   `account.rs` (signup, login, logout, account), `queue.rs` (an on-sale's waiting room);
//!   `assets.rs` serves the files by content hash.
//! - For organizers: `organize.rs` (their events and venues, the venue editor's page),
//!   `event_editor.rs` (the event form, publish, cancel), `dashboard.rs` (the live sales
//!   dashboard), `door_staff.rs` (who keeps the door), `door.rs` (the door scanner, also for door
//!   staff); for admins, `admin.rs` (accounts, roles, sessions).
//!
//! Every page calls the services through the same clients and shapes their answers with the same
//! conversions as the API (`routes/*/dto.rs`), so a page and the API never disagree.

pub mod account;
pub mod admin;
pub mod assets;
pub mod checkout;
pub mod dashboard;
pub mod door;
pub mod door_staff;
pub mod event_editor;
pub mod organize;
pub mod page;
pub mod queue;
pub mod security;
pub mod session;
pub mod shop;
pub mod ticket;
pub mod waiting_list;

use axum::http::Uri;
use axum::middleware;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;

use crate::rate_limit::{limit_auth, limit_queue_joins};
use crate::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    let credentials = Router::new()
        .route("/login", post(account::login))
        .route("/signup", post(account::signup))
        .route_layer(middleware::from_fn_with_state(state.clone(), limit_auth));
    Router::new()
        .route("/", get(shop::home))
        .route("/events/{id}", get(shop::event))
        .route("/events/{id}/hold", get(back_to_page).post(shop::hold))
        .route("/events/{id}/queue", get(queue::queue_page))
        .merge(
            Router::new()
                .route("/events/{id}/queue", post(queue::join))
                .route_layer(middleware::from_fn_with_state(state.clone(), limit_queue_joins)),
        )
        .route("/events/{id}/waiting-list", get(back_to_page).post(waiting_list::join))
        .route("/waiting-list/{id}/leave", get(back_to_page).post(waiting_list::leave))
        .route("/tickets/{id}", get(ticket::ticket))
        .route("/tickets/{id}/qr.png", get(ticket::live_qr))
        .route("/tickets/{id}/transfer", get(back_to_page).post(ticket::give))
        .route("/bookings", get(checkout::bookings))
        .route("/bookings/{id}", get(checkout::booking))
        .route("/bookings/{id}/pay", get(back_to_page).post(checkout::pay))
        .route("/bookings/{id}/cancel", get(checkout::confirm_cancel).post(checkout::cancel))
        .route("/login", get(account::login_page))
        .route("/signup", get(account::signup_page))
        .merge(credentials)
        .route("/logout", post(account::logout))
        .route("/account", get(account::account).post(account::update_names))
        .route("/account/password", get(back_to_page).post(account::change_password))
        .route("/account/delete", get(account::confirm_delete).post(account::delete))
        .route("/organize", get(organize::overview))
        .route("/organize/venues/new", get(organize::new_venue))
        .route("/organize/venues/{id}", get(organize::edit_venue))
        .route("/organize/events/new", get(event_editor::new_event).post(event_editor::create_event))
        .route("/organize/events/{id}", get(dashboard::dashboard))
        .route("/organize/events/{id}/edit", get(event_editor::edit_event).post(event_editor::update_event))
        .route(
            "/organize/events/{id}/publish",
            get(event_editor::confirm_publish).post(event_editor::publish),
        )
        .route("/organize/events/{id}/cancel", get(event_editor::confirm_cancel).post(event_editor::cancel))
        .route("/organize/events/{id}/staff", get(door_staff::staff).post(door_staff::grant_staff))
        .route("/organize/events/{id}/staff/{user_id}/revoke", post(door_staff::revoke_staff))
        .route("/scan/{id}", get(door::scanner).post(door::scan))
        .route("/admin/users", get(admin::users))
        .route("/admin/users/{id}", get(admin::user))
        .route("/admin/users/{id}/role", get(back_to_page).post(admin::set_role))
        .route("/admin/users/{id}/sessions/revoke", post(admin::revoke_all_sessions))
        .route("/admin/users/{id}/sessions/{session_id}/revoke", post(admin::revoke_session))
        .route("/assets/{file}", get(assets::serve))
}

/// A form's address opened with GET (a reload of the page a refused form showed, a bookmark):
/// the page the form belongs to.
async fn back_to_page(uri: Uri) -> Redirect {
    let path = uri.path();
    Redirect::to(path.rsplit_once('/').map_or("/", |(page, _)| page))
}
