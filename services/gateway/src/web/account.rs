//! Accounts in the browser: signing up, logging in and out (the session's tokens go into the
//! cookies of `session.rs`), and the account page: names, password, deleting the account.

use askama::Template;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use boxoffice_errors::{Code, Error};
use boxoffice_proto::user as pb;
use serde::Deserialize;

use crate::routes::users::UserResponse;
use crate::web::page::{
    render, render_refusal, safe_next, Chrome, ConfirmPage, Notice, PageError, PageForm, PageQuery, Viewer,
};
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    next: String,
    next_encoded: String,
    email: String,
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    chrome: Chrome,
    next: String,
    next_encoded: String,
    email: String,
    first_name: String,
    last_name: String,
    problem: Option<String>,
}

fn encoded(next: &str) -> String {
    form_urlencoded::byte_serialize(next.as_bytes()).collect()
}

/// Where the browser goes once logged in, with the session's cookies and a new CSRF token.
fn logged_in(state: &AppState, pair: &pb::TokenPair, next: &str) -> Response {
    let policy = state.cookie_policy();
    let mut response = Redirect::to(next).into_response();
    let headers = response.headers_mut();
    for cookie in policy.session(pair) {
        headers.append(SET_COOKIE, cookie);
    }
    headers.append(SET_COOKIE, policy.new_csrf().1);
    response
}

/// `GET /login`.
pub async fn login_page(chrome: Chrome, PageQuery(query): PageQuery<NextQuery>) -> Response {
    let next = safe_next(query.next.as_deref()).to_owned();
    if chrome.viewer.is_some() {
        return Redirect::to(&next).into_response();
    }
    render(&LoginPage { chrome, next_encoded: encoded(&next), next, email: String::new(), problem: None })
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub email: String,
    pub password: String,
    pub next: Option<String>,
}

/// `POST /login`. The API's per-address limit on credentials applies here too (the route is
/// behind the same layer).
pub async fn login(
    State(state): State<AppState>,
    chrome: Chrome,
    PageForm(form): PageForm<LoginForm>,
) -> Result<Response, PageError> {
    let next = safe_next(form.next.as_deref()).to_owned();
    let request = pb::LoginRequest { email: form.email.clone(), password: form.password };
    match state.users().login(request).await {
        Ok(pair) => Ok(logged_in(&state, &pair.into_inner(), &next)),
        Err(status) => {
            let error = Error::from_status(&status);
            let problem = match error.code {
                Code::InvalidCredentials => "Wrong email or password.".to_owned(),
                Code::RateLimited => error.detail.clone(),
                _ => return Err(PageError(error)),
            };
            let page = LoginPage {
                chrome,
                next_encoded: encoded(&next),
                next,
                email: form.email,
                problem: Some(problem),
            };
            Ok(render_refusal(&error, &page))
        }
    }
}

/// `GET /signup`.
pub async fn signup_page(chrome: Chrome, PageQuery(query): PageQuery<NextQuery>) -> Response {
    let next = safe_next(query.next.as_deref()).to_owned();
    render(&SignupPage {
        chrome,
        next_encoded: encoded(&next),
        next,
        email: String::new(),
        first_name: String::new(),
        last_name: String::new(),
        problem: None,
    })
}

#[derive(Debug, Deserialize)]
pub struct SignupForm {
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub next: Option<String>,
}

/// `POST /signup`: creates the account and logs it in.
pub async fn signup(
    State(state): State<AppState>,
    chrome: Chrome,
    PageForm(form): PageForm<SignupForm>,
) -> Result<Response, PageError> {
    let next = safe_next(form.next.as_deref()).to_owned();
    let request = pb::SignupRequest {
        email: form.email.clone(),
        password: form.password.clone(),
        first_name: form.first_name.clone(),
        last_name: form.last_name.clone(),
    };
    let refused = match state.users().signup(request).await {
        Ok(_) => {
            let pair = state
                .users()
                .login(pb::LoginRequest { email: form.email, password: form.password })
                .await?
                .into_inner();
            return Ok(logged_in(&state, &pair, &next));
        }
        Err(status) => Error::from_status(&status),
    };
    let problem = match refused.code {
        Code::EmailTaken => "An account with this email exists already: log in instead.".to_owned(),
        Code::ValidationFailed | Code::RateLimited => refused.detail.clone(),
        _ => return Err(PageError(refused)),
    };
    let page = SignupPage {
        chrome,
        next_encoded: encoded(&next),
        next,
        email: form.email,
        first_name: form.first_name,
        last_name: form.last_name,
        problem: Some(problem),
    };
    Ok(render_refusal(&refused, &page))
}

/// `POST /logout`: ends the session everywhere (its refresh tokens and access token) and clears
/// the cookies. Without a session it only clears them.
pub async fn logout(State(state): State<AppState>, chrome: Chrome) -> Result<Response, PageError> {
    if let Some(viewer) = chrome.viewer {
        let request = pb::LogoutRequest {
            user_id: viewer.user_id.to_string(),
            session_id: viewer.session_id.to_string(),
        };
        state.users().logout(request).await?;
        state.revocations().catch_up().await;
    }
    let mut response = Redirect::to("/").into_response();
    for cookie in state.cookie_policy().clear_session() {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    Ok(response)
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    email: String,
    role: &'static str,
    first_name: String,
    last_name: String,
    problem: Option<String>,
    done: Option<String>,
}

async fn account_page(
    state: &AppState,
    viewer: Viewer,
    problem: Option<String>,
    done: Option<String>,
) -> Result<AccountPage, PageError> {
    let user =
        state.users().get_user(pb::GetUserRequest { user_id: viewer.user.user_id.to_string() }).await?;
    let user = UserResponse::from_proto(user.into_inner())?;
    Ok(AccountPage {
        chrome: viewer.chrome,
        email: user.email,
        role: user.role.as_str(),
        first_name: user.first_name,
        last_name: user.last_name,
        problem,
        done,
    })
}

/// `GET /account`.
pub async fn account(
    State(state): State<AppState>,
    viewer: Viewer,
    PageQuery(notice): PageQuery<Notice>,
) -> Result<Response, PageError> {
    let done = match notice.done.as_deref() {
        Some("names") => Some("Saved.".to_owned()),
        Some("password") => Some("Password changed; your other sessions are logged out.".to_owned()),
        _ => None,
    };
    Ok(render(&account_page(&state, viewer, None, done).await?))
}

#[derive(Debug, Deserialize)]
pub struct NamesForm {
    pub first_name: String,
    pub last_name: String,
}

/// `POST /account`: new names.
pub async fn update_names(
    State(state): State<AppState>,
    viewer: Viewer,
    PageForm(form): PageForm<NamesForm>,
) -> Result<Response, PageError> {
    let request = pb::UpdateUserRequest {
        user_id: viewer.user.user_id.to_string(),
        first_name: Some(form.first_name),
        last_name: Some(form.last_name),
    };
    refused_or(&state, viewer, state.users().update_user(request).await.map(drop), "/account?done=names")
        .await
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    pub current_password: String,
    pub new_password: String,
}

/// `POST /account/password`: this session stays, the others end.
pub async fn change_password(
    State(state): State<AppState>,
    viewer: Viewer,
    PageForm(form): PageForm<PasswordForm>,
) -> Result<Response, PageError> {
    let request = pb::ChangePasswordRequest {
        user_id: viewer.user.user_id.to_string(),
        session_id: viewer.user.session_id.to_string(),
        current_password: form.current_password,
        new_password: form.new_password,
    };
    let result = state.users().change_password(request).await.map(drop);
    if result.is_ok() {
        state.revocations().catch_up().await;
    }
    refused_or(&state, viewer, result, "/account?done=password").await
}

/// Goes to `done` after a change, or shows the account page with what was refused.
async fn refused_or(
    state: &AppState,
    viewer: Viewer,
    result: Result<(), tonic::Status>,
    done: &str,
) -> Result<Response, PageError> {
    let Err(status) = result else {
        return Ok(Redirect::to(done).into_response());
    };
    let error = Error::from_status(&status);
    let problem = match error.code {
        Code::ValidationFailed | Code::RateLimited => error.detail.clone(),
        _ => return Err(PageError(error)),
    };
    Ok(render_refusal(&error, &account_page(state, viewer, Some(problem), None).await?))
}

/// `GET /account/delete`: asks first.
pub async fn confirm_delete(viewer: Viewer) -> Response {
    render(&ConfirmPage {
        chrome: viewer.chrome,
        title: "Delete your account?".to_owned(),
        question: "Your account and all its sessions end at once, and you will no longer see your \
                   bookings here. This cannot be undone."
            .to_owned(),
        action: "/account/delete".to_owned(),
        confirm: "Delete my account".to_owned(),
        back: "/account".to_owned(),
    })
}

/// `POST /account/delete`.
pub async fn delete(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    state.users().delete_user(pb::DeleteUserRequest { user_id: viewer.user.user_id.to_string() }).await?;
    state.revocations().catch_up().await;
    let mut response =
        (StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, HeaderValue::from_static("/"))])
            .into_response();
    for cookie in state.cookie_policy().clear_session() {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    Ok(response)
}
