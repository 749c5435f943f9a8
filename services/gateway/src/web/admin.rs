//! The admin's pages: find accounts by email, change an account's role, see its sessions and
//! end them. Admins only; the users service makes the same changes for the API.

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use boxoffice_errors::{Code, Error};
use boxoffice_proto::common::PageRequest;
use boxoffice_proto::user as pb;
use boxoffice_proto::WireEnum as _;
use boxoffice_types::limits::PageSize;
use boxoffice_types::Role;
use serde::Deserialize;
use uuid::Uuid;

use crate::routes::non_empty;
use crate::routes::users::{SessionResponse, UserResponse};
use crate::web::page::{
    for_people, render, Chrome, Notice, PageError, PageForm, PageId, PageIds, PageQuery, Viewer, When,
};
use crate::AppState;

/// Accounts per page of a search.
const USERS_PER_PAGE: u32 = 25;

/// A page for admins; anyone else logged in gets a 403 page.
pub struct AdminViewer {
    pub chrome: Chrome,
}

impl FromRequestParts<AppState> for AdminViewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Viewer { user, chrome } = Viewer::from_request_parts(parts, state).await?;
        if user.role != Role::Admin {
            return Err(PageError(Error::new(Code::Forbidden, "these pages are for admins")).into_response());
        }
        Ok(AdminViewer { chrome })
    }
}

struct UserLine {
    id: Uuid,
    email: String,
    name: String,
    role: &'static str,
    created_at: When,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    chrome: Chrome,
    email: String,
    /// `email`, as a query string value.
    email_query: String,
    users: Vec<UserLine>,
    next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UsersQuery {
    pub email: Option<String>,
    pub cursor: Option<String>,
}

/// `GET /admin/users?email=`.
pub async fn users(
    State(state): State<AppState>,
    AdminViewer { chrome }: AdminViewer,
    PageQuery(query): PageQuery<UsersQuery>,
) -> Result<Response, PageError> {
    let email = query.email.unwrap_or_default();
    let request = pb::FindUsersRequest {
        email: email.clone(),
        page: Some(PageRequest::new(PageSize::parse(Some(USERS_PER_PAGE))?, non_empty(query.cursor))),
    };
    let page = state.users().find_users(request).await?.into_inner();
    let users = page
        .items
        .into_iter()
        .map(|user| {
            let user = UserResponse::from_proto(user)?;
            Ok(UserLine {
                id: user.id,
                name: format!("{} {}", user.first_name, user.last_name),
                role: user.role.as_str(),
                created_at: When::parse(&user.created_at),
                email: user.email,
            })
        })
        .collect::<Result<_, PageError>>()?;
    let email_query = form_urlencoded::byte_serialize(email.as_bytes()).collect();
    Ok(render(&UsersPage { chrome, email, email_query, users, next_cursor: page.next_cursor }))
}

struct SessionLine {
    id: Uuid,
    created_at: When,
    last_used_at: When,
    expires_at: When,
    revoked_at: Option<When>,
    active: bool,
}

#[derive(Template)]
#[template(path = "admin_user.html")]
struct UserPage {
    chrome: Chrome,
    id: Uuid,
    email: String,
    name: String,
    role: &'static str,
    roles: &'static [Role],
    created_at: When,
    sessions: Vec<SessionLine>,
    problem: Option<String>,
    done: Option<String>,
}

/// `GET /admin/users/{id}`.
pub async fn user(
    State(state): State<AppState>,
    AdminViewer { chrome }: AdminViewer,
    PageId(user_id): PageId,
    PageQuery(notice): PageQuery<Notice>,
) -> Result<Response, PageError> {
    Ok(render(&user_page(&state, chrome, user_id, None, notice.done).await?))
}

async fn user_page(
    state: &AppState,
    chrome: Chrome,
    user_id: Uuid,
    problem: Option<String>,
    done: Option<String>,
) -> Result<UserPage, PageError> {
    let mut users = state.users();
    let user = users.get_user(pb::GetUserRequest { user_id: user_id.to_string() }).await?.into_inner();
    let user = UserResponse::from_proto(user)?;
    let sessions = users.list_sessions(pb::ListSessionsRequest { user_id: user_id.to_string() }).await?;
    let now = chrono::Utc::now();
    let sessions = sessions
        .into_inner()
        .items
        .into_iter()
        .map(|session| {
            let session = SessionResponse::from_proto(session, now)?;
            Ok(SessionLine {
                id: session.id,
                created_at: When::parse(&session.created_at),
                last_used_at: When::parse(&session.last_used_at),
                expires_at: When::parse(&session.expires_at),
                revoked_at: session.revoked_at.as_deref().map(When::parse),
                active: session.active,
            })
        })
        .collect::<Result<_, PageError>>()?;
    Ok(UserPage {
        chrome,
        id: user.id,
        name: format!("{} {}", user.first_name, user.last_name),
        role: user.role.as_str(),
        roles: Role::ALL,
        created_at: When::parse(&user.created_at),
        email: user.email,
        sessions,
        problem,
        done,
    })
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    pub role: String,
}

/// `POST /admin/users/{id}/role`.
pub async fn set_role(
    State(state): State<AppState>,
    AdminViewer { chrome }: AdminViewer,
    PageId(user_id): PageId,
    PageForm(form): PageForm<RoleForm>,
) -> Result<Response, PageError> {
    let role = Role::parse(&form.role).ok_or_else(|| Error::validation("role: not a role"))?;
    let request = pb::SetRoleRequest { user_id: user_id.to_string(), role: role.to_wire() };
    match state.users().set_role(request).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/admin/users/{user_id}?done=The+role+is+now+{role}%3B+the+account%27s+sessions+were+ended"
        ))
        .into_response()),
        Err(status) => {
            let error = Error::from_status(&status);
            if error.code != Code::Conflict {
                return Err(PageError(error));
            }
            let page = user_page(&state, chrome, user_id, Some(for_people(&error.detail)), None).await?;
            Ok(crate::web::page::render_with_status(error.http_status(), &page))
        }
    }
}

/// `POST /admin/users/{id}/sessions/revoke`: every session.
pub async fn revoke_all_sessions(
    State(state): State<AppState>,
    _admin: AdminViewer,
    PageId(user_id): PageId,
) -> Result<Response, PageError> {
    state.users().revoke_all_sessions(pb::ListSessionsRequest { user_id: user_id.to_string() }).await?;
    Ok(Redirect::to(&format!("/admin/users/{user_id}?done=Every+session+was+ended")).into_response())
}

/// `POST /admin/users/{id}/sessions/{session_id}/revoke`.
pub async fn revoke_session(
    State(state): State<AppState>,
    _admin: AdminViewer,
    PageIds(user_id, session_id): PageIds,
) -> Result<Response, PageError> {
    let request =
        pb::RevokeSessionRequest { user_id: user_id.to_string(), session_id: session_id.to_string() };
    state.users().revoke_session(request).await?;
    Ok(Redirect::to(&format!("/admin/users/{user_id}?done=The+session+was+ended")).into_response())
}
