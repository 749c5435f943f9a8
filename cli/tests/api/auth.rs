use futures::FutureExt as _;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{assert_problem, Backend, TestApp, PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    signup_login_me_refresh_and_logout_work_end_to_end,
    reusing_a_refresh_token_revokes_its_whole_session,
    logout_revokes_the_access_token_and_the_refresh_token,
    a_duplicate_email_is_refused_with_409,
    weak_passwords_and_malformed_emails_are_refused_with_422_and_create_nobody,
    an_unknown_email_and_a_wrong_password_get_the_same_answer,
    repeated_failed_logins_lock_the_account,
    changing_the_password_ends_the_other_sessions,
    deleting_the_account_ends_its_sessions_and_frees_the_email,
    of_concurrent_refreshes_with_one_token_exactly_one_succeeds,
    a_burst_of_parallel_guesses_cannot_outrun_the_lockout,
);

async fn signup_login_me_refresh_and_logout_work_end_to_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.signup("Ada@Example.com").await;
    assert_eq!(user["email"], "ada@example.com", "emails are normalized");
    assert_eq!(user["role"], "customer");
    assert_eq!(user["first_name"], "Ada");
    assert!(Uuid::parse_str(user["id"].as_str().unwrap()).is_ok());
    assert!(chrono::DateTime::parse_from_rfc3339(user["created_at"].as_str().unwrap()).is_ok());
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());

    let response = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let login: Value = response.json().await.unwrap();
    assert_eq!(login["token_type"], "Bearer");
    assert_eq!(login["expires_in"], 900);
    assert_eq!(login["user"], user);

    let access = login["access_token"].as_str().unwrap();
    let me = app.get("/api/v1/users/me", Some(access)).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<Value>().await.unwrap(), user);

    let refresh = login["refresh_token"].as_str().unwrap();
    let response = app.post("/api/v1/auth/refresh", json!({"refresh_token": refresh}), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let refreshed: Value = response.json().await.unwrap();
    assert_ne!(refreshed["refresh_token"], login["refresh_token"], "refresh tokens rotate");
    let new_access = refreshed["access_token"].as_str().unwrap();
    app.me(new_access).await;

    let response = app.post("/api/v1/auth/logout", json!({}), Some(new_access)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.assert_token_refused(new_access).await;
}

async fn reusing_a_refresh_token_revokes_its_whole_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, tokens) = app.customer().await;
    let first = app.post("/api/v1/auth/refresh", json!({"refresh_token": tokens.refresh}), None).await;
    assert_eq!(first.status(), StatusCode::OK);
    let rotated: Value = first.json().await.unwrap();

    // The old token again: someone has a copy. The whole family goes.
    let reuse = app.post("/api/v1/auth/refresh", json!({"refresh_token": tokens.refresh}), None).await;
    assert_problem(reuse, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let next =
        app.post("/api/v1/auth/refresh", json!({"refresh_token": rotated["refresh_token"]}), None).await;
    assert_problem(next, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let rotated_access = rotated["access_token"].as_str().unwrap();
    app.assert_token_refused(rotated_access).await;
    app.assert_token_refused(&tokens.access).await;

    let garbage = app.post("/api/v1/auth/refresh", json!({"refresh_token": "not-a-token"}), None).await;
    assert_problem(garbage, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

async fn logout_revokes_the_access_token_and_the_refresh_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (email, tokens) = app.customer().await;
    let other_session = app.tokens(&email).await;
    let response = app.post("/api/v1/auth/logout", json!({}), Some(&tokens.access)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    app.assert_token_refused(&tokens.access).await;
    let refresh = app.post("/api/v1/auth/refresh", json!({"refresh_token": tokens.refresh}), None).await;
    assert_problem(refresh, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let again = app.post("/api/v1/auth/logout", json!({}), Some(&tokens.access)).await;
    assert_problem(again, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(
        app.get("/api/v1/users/me", Some(&other_session.access)).await.status(),
        StatusCode::OK,
        "another session of the same account is untouched"
    );
    let anonymous = app.post("/api/v1/auth/logout", json!({}), None).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

async fn a_duplicate_email_is_refused_with_409(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.signup("grace@example.com").await;
    for email in ["grace@example.com", " GRACE@example.COM "] {
        let response = app
            .post(
                "/api/v1/auth/signup",
                json!({"email": email, "password": "another good one", "first_name": "G", "last_name": "H"}),
                None,
            )
            .await;
        assert_problem(response, StatusCode::CONFLICT, "email_taken").await;
    }
}

async fn weak_passwords_and_malformed_emails_are_refused_with_422_and_create_nobody(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cases = [
        (
            json!({"email": "a@example.com", "password": "short", "first_name": "A", "last_name": "B"}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "x".repeat(129), "first_name": "A", "last_name": "B"}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "password123", "first_name": "A", "last_name": "B"}),
            "password",
        ),
        (
            json!({"email": "not-an-email", "password": PASSWORD, "first_name": "A", "last_name": "B"}),
            "email",
        ),
        (json!({"email": "a@example", "password": PASSWORD, "first_name": "A", "last_name": "B"}), "email"),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "first_name": " ", "last_name": "B"}),
            "first_name",
        ),
        (json!({"email": "a@example.com", "password": PASSWORD, "first_name": "A"}), "last_name"),
        (
            json!({"email": "a@example.com", "password": 12345678, "first_name": "A", "last_name": "B"}),
            "password",
        ),
    ];
    for (body, field) in cases {
        let response = app.post("/api/v1/auth/signup", body.clone(), None).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(problem["detail"].as_str().unwrap().contains(field), "{body}: {problem}");
    }
    // Nobody was created: the address is still free.
    app.signup("a@example.com").await;
}

async fn an_unknown_email_and_a_wrong_password_get_the_same_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (email, _) = app.customer().await;
    let wrong_password = assert_problem(
        app.login(&email, "not the password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let unknown_email = assert_problem(
        app.login("nobody@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let malformed_email =
        assert_problem(app.login("nobody", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials")
            .await;
    assert_eq!(wrong_password, unknown_email);
    assert_eq!(wrong_password, malformed_email);
}

async fn repeated_failed_logins_lock_the_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (email, _) = app.customer().await;
    for _ in 0..5 {
        assert_problem(
            app.login(&email, "wrong password!").await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    // Locked now, even for the right password.
    let response = app.login(&email, PASSWORD).await;
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after > 0 && retry_after <= 15 * 60);
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // Unknown emails lock the same way, so the lock reveals nothing about who has an account.
    for _ in 0..5 {
        app.login("ghost@example.com", "wrong password!").await;
    }
    assert_problem(
        app.login("ghost@example.com", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;

    // Other accounts are not affected.
    let (_, other) = app.customer().await;
    assert!(!other.access.is_empty());
}

async fn changing_the_password_ends_the_other_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (email, this_session) = app.customer().await;
    let other_session = app.tokens(&email).await;

    let wrong = app
        .post(
            "/api/v1/users/me/password",
            json!({"current_password": "not it at all", "new_password": "a brand new secret"}),
            Some(&this_session.access),
        )
        .await;
    assert_problem(wrong, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let weak = app
        .post(
            "/api/v1/users/me/password",
            json!({"current_password": PASSWORD, "new_password": "short"}),
            Some(&this_session.access),
        )
        .await;
    assert_problem(weak, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let response = app
        .post(
            "/api/v1/users/me/password",
            json!({"current_password": PASSWORD, "new_password": "a brand new secret"}),
            Some(&this_session.access),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    app.me(&this_session.access).await;
    assert_problem(
        app.get("/api/v1/users/me", Some(&other_session.access)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let refresh =
        app.post("/api/v1/auth/refresh", json!({"refresh_token": other_session.refresh}), None).await;
    assert_problem(refresh, StatusCode::UNAUTHORIZED, "unauthorized").await;

    assert_problem(app.login(&email, PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(app.login(&email, "a brand new secret").await.status(), StatusCode::OK);
}

async fn deleting_the_account_ends_its_sessions_and_frees_the_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (email, tokens) = app.customer().await;
    let response = app
        .request(reqwest::Method::DELETE, "/api/v1/users/me")
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let deleted: Value = response.json().await.unwrap();
    assert_eq!(deleted["email"], email.as_str());

    app.assert_token_refused(&tokens.access).await;
    assert_problem(app.login(&email, PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    app.signup(&email).await;
}

async fn of_concurrent_refreshes_with_one_token_exactly_one_succeeds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, tokens) = app.customer().await;
    let body = json!({"refresh_token": tokens.refresh});
    let attempts = (0..20).map(|_| app.post("/api/v1/auth/refresh", body.clone(), None));
    let statuses: Vec<StatusCode> =
        futures::future::join_all(attempts).await.into_iter().map(|response| response.status()).collect();
    let succeeded = statuses.iter().filter(|&&status| status == StatusCode::OK).count();
    assert_eq!(succeeded, 1, "{statuses:?}");
    assert!(statuses.iter().all(|&status| status == StatusCode::OK || status == StatusCode::UNAUTHORIZED));
}

async fn a_burst_of_parallel_guesses_cannot_outrun_the_lockout(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (email, _) = app.customer().await;
    let passwords: Vec<String> = (0..30).map(|guess| format!("wrong guess {guess}")).collect();
    let guesses =
        passwords.iter().map(|password| app.login(&email, password).map(|response| response.status()));
    let statuses: Vec<StatusCode> = futures::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|&&status| status == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|&&status| status == StatusCode::TOO_MANY_REQUESTS).count();
    assert!(checked <= 5, "at most five guesses are checked: {statuses:?}");
    assert_eq!(checked + refused, 30, "{statuses:?}");
    // The right password, after the burst, is refused too: the account is locked.
    assert_problem(app.login(&email, PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}
