use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{assert_problem, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_user_changes_their_names_and_nothing_else,
    admin_endpoints_refuse_customers_and_organizers,
    admins_read_any_account_and_change_roles,
    a_role_change_ends_the_sessions_that_carry_the_old_role,
    the_only_admin_cannot_demote_themselves_and_stays_admin,
    the_only_admin_cannot_delete_their_account_but_one_of_two_admins_can,
    of_two_admins_one_may_demote_the_other_and_then_the_remaining_one_cannot_demote_themselves,
    two_admins_demoting_each_other_at_once_always_leave_exactly_one_admin,
    two_admins_deleting_themselves_at_once_always_leave_exactly_one_admin,
);

async fn a_user_changes_their_names_and_nothing_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, tokens) = app.customer().await;
    let patch = |body: Value| {
        app.request(Method::PATCH, "/api/v1/users/me").bearer_auth(&tokens.access).json(&body).send()
    };
    let response = patch(json!({"first_name": "  Grace "})).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["first_name"], "Grace");
    assert_eq!(user["last_name"], "Lovelace");

    for forbidden in [json!({"role": "admin"}), json!({"email": "x@example.com"}), json!({"id": "x"})] {
        let response = patch(forbidden).await.unwrap();
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let response = patch(json!({"last_name": "x".repeat(101)})).await.unwrap();
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let me = app.me(&tokens.access).await;
    assert_eq!(me["role"], "customer");
    assert_eq!(me["first_name"], "Grace");
}

async fn admin_endpoints_refuse_customers_and_organizers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, customer) = app.customer().await;
    let (_, organizer) = app.user_with_role("organizer").await;
    let me = app.me(&customer.access).await;
    let id = me["id"].as_str().unwrap();
    for token in [&customer.access, &organizer.access] {
        let read = app.get(&format!("/api/v1/users/{id}"), Some(token)).await;
        assert_problem(read, StatusCode::FORBIDDEN, "forbidden").await;
        let promote = app.patch(&format!("/api/v1/users/{id}/role"), json!({"role": "admin"}), token).await;
        assert_problem(promote, StatusCode::FORBIDDEN, "forbidden").await;
        // Even a malformed body gets 403: who may call is checked before what is sent.
        let garbage = app.patch(&format!("/api/v1/users/{id}/role"), json!({"role": "emperor"}), token).await;
        assert_problem(garbage, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let still = app.me(&customer.access).await;
    assert_eq!(still["role"], "customer");
    let anonymous = app.get(&format!("/api/v1/users/{id}"), None).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

async fn admins_read_any_account_and_change_roles(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, admin) = app.user_with_role("admin").await;
    let (email, customer) = app.customer().await;
    let me = app.me(&customer.access).await;
    let id = me["id"].as_str().unwrap();

    let read = app.get(&format!("/api/v1/users/{id}"), Some(&admin.access)).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.json::<Value>().await.unwrap(), me);

    let set_role = |role: Value| {
        app.request(Method::PATCH, &format!("/api/v1/users/{id}/role"))
            .bearer_auth(&admin.access)
            .json(&json!({"role": role}))
            .send()
    };
    let promoted = set_role(json!("organizer")).await.unwrap();
    assert_eq!(promoted.status(), StatusCode::OK);
    let promoted: Value = promoted.json().await.unwrap();
    assert_eq!(promoted["role"], "organizer");
    assert_eq!(promoted["email"], email.as_str());

    for bad in [json!("emperor"), json!("Admin"), json!(3)] {
        assert_problem(set_role(bad).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
            .await;
    }
    let missing = app.get("/api/v1/users/0192f0e0-0000-7000-8000-000000000000", Some(&admin.access)).await;
    assert_problem(missing, StatusCode::NOT_FOUND, "not_found").await;
    let malformed = app.get("/api/v1/users/not-a-uuid", Some(&admin.access)).await;
    assert_problem(malformed, StatusCode::NOT_FOUND, "not_found").await;
}

async fn a_role_change_ends_the_sessions_that_carry_the_old_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, admin) = app.user_with_role("admin").await;
    let (email, customer) = app.customer().await;
    let me = app.me(&customer.access).await;
    let id = me["id"].as_str().unwrap();
    // The role the account has already: nothing changes, and its sessions go on.
    let same =
        app.patch(&format!("/api/v1/users/{id}/role"), json!({"role": "customer"}), &admin.access).await;
    assert_eq!(same.status(), StatusCode::OK);
    assert_eq!(same.json::<Value>().await.unwrap()["role"], "customer");
    app.me(&customer.access).await;

    let response =
        app.patch(&format!("/api/v1/users/{id}/role"), json!({"role": "admin"}), &admin.access).await;
    assert_eq!(response.status(), StatusCode::OK);

    app.assert_token_refused(&customer.access).await;
    let fresh = app.tokens(&email).await;
    let read = app.get(&format!("/api/v1/users/{id}"), Some(&fresh.access)).await;
    assert_eq!(read.status(), StatusCode::OK, "the new role is in the new token");
}

/// An admin: created with `boxoffice users add`, as an operator creates the first one, and its
/// id and access token.
async fn admin(app: &TestApp) -> (String, String) {
    let (_, tokens) = app.user_with_role("admin").await;
    let id = app.me(&tokens.access).await["id"].as_str().unwrap().to_owned();
    (id, tokens.access)
}

/// An admin access token for `user_id`, minted with the server's key as an operator tool can.
/// A role change ends the sessions of its target, so a logged-in token would die each round of
/// the concurrent tests, and logging in again each round would run into the login rate limit. A
/// minted token names a session the database does not know, so nothing ends it; the users
/// service decides from the roles in its database, never from the token, which is what those
/// tests are about.
fn minted_admin_token(app: &TestApp, user_id: &str) -> String {
    let claims = boxoffice_auth::Claims::new(
        Uuid::parse_str(user_id).unwrap(),
        boxoffice_types::Role::Admin,
        Uuid::now_v7(),
        chrono::Utc::now(),
    );
    app.token_key().sign(&claims).unwrap()
}

/// The emails of the accounts that are admins, read from the users service's database.
async fn admins(app: &TestApp) -> Vec<String> {
    app.query_text("users", "SELECT email FROM users WHERE role = 'admin'").await
}

async fn set_role(app: &TestApp, user_id: &str, role: &str, token: &str) -> reqwest::Response {
    app.patch(&format!("/api/v1/users/{user_id}/role"), json!({"role": role}), token).await
}

async fn delete_me(app: &TestApp, token: &str) -> reqwest::Response {
    app.request(Method::DELETE, "/api/v1/users/me").bearer_auth(token).send().await.unwrap()
}

async fn assert_only_admin_refusal(response: reqwest::Response) {
    let problem = assert_problem(response, StatusCode::CONFLICT, "conflict").await;
    assert!(problem["detail"].as_str().unwrap().contains("only admin"), "{problem}");
}

async fn the_only_admin_cannot_demote_themselves_and_stays_admin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, token) = admin(&app).await;
    for role in ["customer", "organizer"] {
        assert_only_admin_refusal(set_role(&app, &id, role, &token).await).await;
    }
    let me = app.me(&token).await;
    assert_eq!(me["role"], "admin", "still admin, and still logged in");
    assert_eq!(admins(&app).await.len(), 1);
}

async fn the_only_admin_cannot_delete_their_account_but_one_of_two_admins_can(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = admin(&app).await;
    assert_only_admin_refusal(delete_me(&app, &token).await).await;
    assert_eq!(app.me(&token).await["role"], "admin", "still there, and still logged in");

    let (_, second) = admin(&app).await;
    let deleted = delete_me(&app, &second).await;
    assert_eq!(deleted.status(), StatusCode::OK, "another admin remains");
    app.assert_token_refused(&second).await;
    assert_only_admin_refusal(delete_me(&app, &token).await).await;
    assert_eq!(admins(&app).await.len(), 1);
}

async fn of_two_admins_one_may_demote_the_other_and_then_the_remaining_one_cannot_demote_themselves(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (first, first_token) = admin(&app).await;
    let (second, second_token) = admin(&app).await;
    let demoted = set_role(&app, &second, "organizer", &first_token).await;
    assert_eq!(demoted.status(), StatusCode::OK);
    assert_eq!(demoted.json::<Value>().await.unwrap()["role"], "organizer");
    app.assert_token_refused(&second_token).await;

    assert_only_admin_refusal(set_role(&app, &first, "customer", &first_token).await).await;
    assert_eq!(app.me(&first_token).await["role"], "admin");
    let promoted = set_role(&app, &second, "admin", &first_token).await;
    assert_eq!(promoted.status(), StatusCode::OK, "promoting is never refused");
    let demoted_self = set_role(&app, &first, "customer", &first_token).await;
    assert_eq!(demoted_self.status(), StatusCode::OK, "with two admins, one may step down");
    assert_eq!(admins(&app).await.len(), 1);
}

async fn two_admins_demoting_each_other_at_once_always_leave_exactly_one_admin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = admin(&app).await;
    let (second, _) = admin(&app).await;
    let first_token = minted_admin_token(&app, &first);
    let second_token = minted_admin_token(&app, &second);
    for round in 0..25 {
        let (by_first, by_second) = tokio::join!(
            set_role(&app, &second, "customer", &first_token),
            set_role(&app, &first, "customer", &second_token),
        );
        let statuses = [by_first.status(), by_second.status()];
        let winners = statuses.iter().filter(|&&status| status == StatusCode::OK).count();
        assert_eq!(winners, 1, "round {round}: {statuses:?}");
        // The demotion that went through decides who is still admin.
        let (demoted, refusal, remaining_token) = if statuses[0] == StatusCode::OK {
            (&second, by_second, &first_token)
        } else {
            (&first, by_first, &second_token)
        };
        assert_only_admin_refusal(refusal).await;
        assert_eq!(admins(&app).await.len(), 1, "round {round}: exactly one admin remains");
        let promoted = set_role(&app, demoted, "admin", remaining_token).await;
        assert_eq!(promoted.status(), StatusCode::OK, "round {round}");
    }
}

async fn two_admins_deleting_themselves_at_once_always_leave_exactly_one_admin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = admin(&app).await;
    let mut remaining = minted_admin_token(&app, &first);
    for round in 0..5 {
        let (other, _) = admin(&app).await;
        let other = minted_admin_token(&app, &other);
        let (by_remaining, by_other) = tokio::join!(delete_me(&app, &remaining), delete_me(&app, &other));
        let statuses = [by_remaining.status(), by_other.status()];
        let deleted = statuses.iter().filter(|&&status| status == StatusCode::OK).count();
        assert_eq!(deleted, 1, "round {round}: {statuses:?}");
        let refusal = if statuses[0] == StatusCode::OK { by_other } else { by_remaining };
        assert_only_admin_refusal(refusal).await;
        assert_eq!(admins(&app).await.len(), 1, "round {round}: exactly one admin remains");
        if statuses[0] == StatusCode::OK {
            remaining = other;
        }
    }
}
