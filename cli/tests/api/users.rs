use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_user_changes_their_names_and_nothing_else,
    admin_endpoints_refuse_customers_and_organizers,
    admins_read_any_account_and_change_roles,
    a_role_change_ends_the_sessions_that_carry_the_old_role,
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
    let response =
        app.patch(&format!("/api/v1/users/{id}/role"), json!({"role": "admin"}), &admin.access).await;
    assert_eq!(response.status(), StatusCode::OK);

    app.assert_token_refused(&customer.access).await;
    let fresh = app.tokens(&email).await;
    let read = app.get(&format!("/api/v1/users/{id}"), Some(&fresh.access)).await;
    assert_eq!(read.status(), StatusCode::OK, "the new role is in the new token");
}
