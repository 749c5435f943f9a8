use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{assert_problem, fresh_settings, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    every_response_carries_a_request_id_and_echoes_the_clients,
    only_a_short_safe_request_id_is_echoed_and_any_other_is_replaced_by_a_new_one,
    unknown_routes_bad_bodies_and_wrong_methods_get_problem_documents,
    health_readiness_metrics_and_the_openapi_document_are_served,
    credential_endpoints_are_rate_limited_per_client_address,
);

async fn every_response_carries_a_request_id_and_echoes_the_clients(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let generated = app.get("/healthz", None).await;
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let error = app.get("/api/v1/users/me", None).await;
    assert!(error.headers().contains_key("x-request-id"), "errors carry one too");
    let echoed =
        app.request(Method::GET, "/healthz").header("x-request-id", "client-chosen-42").send().await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "client-chosen-42");
}

async fn only_a_short_safe_request_id_is_echoed_and_any_other_is_replaced_by_a_new_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let request_id = |sent: String| {
        let request = app.request(Method::GET, "/healthz").header("x-request-id", sent);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.headers()["x-request-id"].to_str().unwrap().to_owned()
        }
    };
    for safe in ["client-chosen-42".to_owned(), "A.b_c-9".to_owned(), "k".repeat(128)] {
        assert_eq!(request_id(safe.clone()).await, safe);
    }
    for unsafe_id in [
        "k".repeat(5_000),
        "k".repeat(129),
        "<script>alert(1)</script>".to_owned(),
        "two words".to_owned(),
        String::new(),
    ] {
        let answered = request_id(unsafe_id.clone()).await;
        assert_ne!(answered, unsafe_id);
        assert!(uuid::Uuid::parse_str(&answered).is_ok(), "{unsafe_id:?} became {answered:?}");
    }
    // Each replacement is new, so two requests are never mistaken for one in the logs.
    assert_ne!(request_id("<b>".to_owned()).await, request_id("<b>".to_owned()).await);
}

async fn unknown_routes_bad_bodies_and_wrong_methods_get_problem_documents(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_problem(app.get("/api/v1/no-such-thing", None).await, StatusCode::NOT_FOUND, "not_found").await;
    let wrong_method = app.request(Method::DELETE, "/api/v1/auth/login").send().await.unwrap();
    assert_problem(wrong_method, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;

    let signup = || app.request(Method::POST, "/api/v1/auth/signup");
    let not_json =
        signup().header("content-type", "application/json").body("{\"email\": ").send().await.unwrap();
    assert_problem(not_json, StatusCode::BAD_REQUEST, "bad_request").await;
    let no_content_type = signup().body("{}").send().await.unwrap();
    assert_problem(no_content_type, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    let array = signup().header("content-type", "application/json").body("[]").send().await.unwrap();
    assert_problem(array, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let huge = format!("{{\"email\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let too_large = signup().header("content-type", "application/json").body(huge).send().await.unwrap();
    assert_problem(too_large, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

async fn health_readiness_metrics_and_the_openapi_document_are_served(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");

    app.get("/api/v1/users/me", None).await;
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("http_requests_total"), "{metrics}");
    assert!(metrics.contains(r#"route="/api/v1/users/me""#), "{metrics}");

    let openapi: Value = app.get("/api/v1/openapi.json", None).await.json().await.unwrap();
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3."));
    let paths = openapi["paths"].as_object().unwrap();
    for path in [
        "/api/v1/auth/signup",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/users/me",
        "/api/v1/users/me/password",
        "/api/v1/users/{id}",
        "/api/v1/users/{id}/role",
        "/api/v1/venues",
        "/api/v1/venues/{id}",
        "/api/v1/events",
        "/api/v1/events/{id}",
        "/api/v1/events/{id}/publish",
        "/api/v1/events/{id}/cancel",
        "/api/v1/events/{id}/availability",
        "/api/v1/events/{id}/stats",
        "/api/v1/events/{id}/bookings",
        "/api/v1/bookings",
        "/api/v1/bookings/{id}",
        "/api/v1/bookings/{id}/confirm",
        "/api/v1/bookings/{id}/cancel",
        "/api/v1/tickets/{id}/qr",
        "/api/v1/checkin",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    assert!(paths["/api/v1/users/me"].get("delete").is_some());
    assert!(openapi["components"]["securitySchemes"]["bearer"].is_object());
}

async fn credential_endpoints_are_rate_limited_per_client_address(backend: Backend) {
    let mut settings = fresh_settings(backend).await;
    settings.auth_rate_limit_per_minute = 5;
    let app = TestApp::start(settings).await;
    for _ in 0..5 {
        let response = app.login("someone@example.com", "whatever it is").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = app.post("/api/v1/auth/signup", serde_json::json!({}), None).await;
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Endpoints that need no credentials are not limited.
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
}
