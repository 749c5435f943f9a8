use base64::Engine as _;
use boxoffice_auth::{Claims, TokenKey};
use boxoffice_types::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{assert_problem, Backend, TestApp, PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    forged_expired_and_foreign_tokens_are_refused_with_401,
    a_signup_that_sets_its_own_role_or_unknown_fields_creates_nobody,
    stored_password_hashes_are_argon2id,
);

fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn forged_expired_and_foreign_tokens_are_refused_with_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, tokens) = app.customer().await;
    let me = app.me(&tokens.access).await;
    let user_id = Uuid::parse_str(me["id"].as_str().unwrap()).unwrap();
    let key = app.token_key();
    let now = chrono::Utc::now();

    // The same claims, made an admin, with the signature of the original.
    let parts: Vec<&str> = tokens.access.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap())
            .unwrap();
    payload["role"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], base64url(payload.to_string().as_bytes()), parts[2]);

    let unsigned = format!(
        "{}.{}.",
        base64url(br#"{"alg":"none","typ":"JWT"}"#),
        base64url(payload.to_string().as_bytes())
    );
    // The same claims under another algorithm: HS512 with an unrelated key, and EdDSA.
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &payload,
        &jsonwebtoken::EncodingKey::from_secret(TokenKey::generate_secret().as_bytes()),
    )
    .unwrap();
    let eddsa_key =
        ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let eddsa = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &payload,
        &jsonwebtoken::EncodingKey::from_ed_der(eddsa_key.as_ref()),
    )
    .unwrap();

    let session_id = Uuid::now_v7();
    let other_key = TokenKey::new(&TokenKey::generate_secret()).unwrap();
    let wrong_key = other_key.sign(&Claims::new(user_id, Role::Admin, session_id, now)).unwrap();
    let expired = key
        .sign(&Claims::new(user_id, Role::Customer, session_id, now - chrono::Duration::hours(1)))
        .unwrap();
    let mut foreign = Claims::new(user_id, Role::Customer, session_id, now);
    foreign.aud = "another-api".to_owned();
    let wrong_audience = key.sign(&foreign).unwrap();
    let mut issuer = Claims::new(user_id, Role::Customer, session_id, now);
    issuer.iss = "someone-else".to_owned();
    let wrong_issuer = key.sign(&issuer).unwrap();

    for (name, token) in [
        ("tampered payload", tampered),
        ("alg none", unsigned),
        ("HS512", hs512),
        ("EdDSA", eddsa),
        ("wrong key", wrong_key),
        ("expired", expired),
        ("wrong audience", wrong_audience),
        ("wrong issuer", wrong_issuer),
        ("garbage", "not.a.token".to_owned()),
    ] {
        let response = app.get("/api/v1/users/me", Some(&token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let basic = app
        .request(reqwest::Method::GET, "/api/v1/users/me")
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_problem(basic, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // The genuine token still works: the refusals above were for the forgeries.
    app.me(&tokens.access).await;
}

async fn a_signup_that_sets_its_own_role_or_unknown_fields_creates_nobody(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let base =
        json!({"email": "mallory@example.com", "password": PASSWORD, "first_name": "M", "last_name": "X"});
    for (field, value) in [
        ("role", json!("admin")),
        ("role", json!("customer")),
        ("id", json!(Uuid::now_v7().to_string())),
        ("is_admin", json!(true)),
        ("password_hash", json!("$argon2id$...")),
    ] {
        let mut body = base.clone();
        body[field] = value;
        let response = app.post("/api/v1/auth/signup", body, None).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(problem["detail"].as_str().unwrap().contains(field), "{problem}");
    }
    assert_problem(
        app.login("mallory@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let user = app.signup("mallory@example.com").await;
    assert_eq!(user["role"], "customer");
}

async fn stored_password_hashes_are_argon2id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.customer().await;
    app.user_with_role("organizer").await;
    let hashes = app.query_text("users", "SELECT password_hash FROM users").await;
    assert_eq!(hashes.len(), 2);
    for hash in hashes {
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(!hash.contains(PASSWORD));
    }
}
