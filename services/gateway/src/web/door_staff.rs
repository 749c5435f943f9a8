//! The event's door staff: the organizer adds accounts by email and removes them (the API's
//! `routes/door.rs` does the work); they may then check the event's tickets in at `door.rs`.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use boxoffice_errors::Code;
use serde::Deserialize;
use uuid::Uuid;

use crate::routes::door;
use crate::web::event_editor::load_event;
use crate::web::organize::OrganizerViewer;
use crate::web::page::{
    for_people, render, render_with_status, Chrome, Notice, PageError, PageForm, PageId, PageIds, PageQuery,
    When,
};
use crate::AppState;

struct StaffLine {
    user_id: Uuid,
    email: String,
    granted_at: When,
}

#[derive(Template)]
#[template(path = "staff.html")]
struct StaffPage {
    chrome: Chrome,
    event_id: Uuid,
    event_name: String,
    staff: Vec<StaffLine>,
    email: String,
    problem: Option<String>,
    done: Option<String>,
}

fn staff_lines(list: door::DoorStaffList) -> Vec<StaffLine> {
    list.items
        .into_iter()
        .map(|staff| StaffLine {
            user_id: staff.user_id,
            email: staff.email,
            granted_at: When::parse(&staff.granted_at),
        })
        .collect()
}

/// `GET /organize/events/{id}/staff`.
pub async fn staff(
    State(state): State<AppState>,
    OrganizerViewer { user, chrome }: OrganizerViewer,
    PageId(event_id): PageId,
    PageQuery(notice): PageQuery<Notice>,
) -> Result<Response, PageError> {
    let event = load_event(&state, user, event_id).await?;
    let list = door::staff_of(&state, user, event_id).await?;
    Ok(render(&StaffPage {
        chrome,
        event_id,
        event_name: event.name,
        staff: staff_lines(list),
        email: String::new(),
        problem: None,
        done: notice.done,
    }))
}

#[derive(Debug, Deserialize)]
pub struct GrantForm {
    pub email: String,
}

/// `POST /organize/events/{id}/staff`.
pub async fn grant_staff(
    State(state): State<AppState>,
    OrganizerViewer { user, chrome }: OrganizerViewer,
    PageId(event_id): PageId,
    PageForm(form): PageForm<GrantForm>,
) -> Result<Response, PageError> {
    let event = load_event(&state, user, event_id).await?;
    match door::grant(&state, user, event_id, form.email.clone()).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/organize/events/{event_id}/staff?done=Door+staff+added"))
                .into_response())
        }
        Err(error) if matches!(error.0.code, Code::ValidationFailed | Code::LimitExceeded) => {
            let list = door::staff_of(&state, user, event_id).await?;
            let status = error.0.http_status();
            let page = StaffPage {
                chrome,
                event_id,
                event_name: event.name,
                staff: staff_lines(list),
                email: form.email,
                problem: Some(for_people(&error.0.detail)),
                done: None,
            };
            Ok(render_with_status(status, &page))
        }
        Err(error) => Err(error.into()),
    }
}

/// `POST /organize/events/{id}/staff/{user_id}/revoke`.
pub async fn revoke_staff(
    State(state): State<AppState>,
    OrganizerViewer { user, .. }: OrganizerViewer,
    PageIds(event_id, user_id): PageIds,
) -> Result<Response, PageError> {
    door::revoke(&state, user, event_id, user_id).await?;
    Ok(Redirect::to(&format!("/organize/events/{event_id}/staff?done=Door+staff+removed")).into_response())
}
