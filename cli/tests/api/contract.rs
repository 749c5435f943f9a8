//! The contract between the OpenAPI document and the server: integer fields take whole numbers
//! however JSON writes them, and the interactive page of the document is served with its assets.
//! (The document states the services' limits from `boxoffice_types::limits`, where the services
//! read them too.)

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_whole_number_written_with_a_zero_fraction_is_accepted_and_a_fraction_refused,
    the_api_page_is_served_with_its_assets_and_reads_the_document,
);

fn venue(seats: Value) -> Value {
    json!({
        "name": "Hall",
        "city": "Lyon",
        "address": "1 rue",
        "sections": [{"name": "Floor", "rows": [{"label": "A", "seats": seats}]}],
    })
}

async fn a_whole_number_written_with_a_zero_fraction_is_accepted_and_a_fraction_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, organizer) = app.user_with_role("organizer").await;
    // JSON Schema, and so the document, counts 10.0 and 1e1 as the integer 10.
    for seats in [json!(10), json!(10.0), json!(1e1)] {
        let response = app.post("/api/v1/venues", venue(seats.clone()), Some(&organizer.access)).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{seats}");
        let venue: Value = response.json().await.unwrap();
        assert_eq!(venue["sections"][0]["rows"][0]["seats"], 10, "{seats}");
    }
    for seats in [json!(10.5), json!(-1), json!("10")] {
        let response = app.post("/api/v1/venues", venue(seats.clone()), Some(&organizer.access)).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.starts_with("sections[0].rows[0].seats: "), "{seats}: {detail}");
    }
}

async fn the_api_page_is_served_with_its_assets_and_reads_the_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The page's address redirects to its folder, whose relative links name the assets.
    let page = app.get("/api/v1/docs", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.url().path(), "/api/v1/docs/");
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|part| part.starts_with("./") && (part.ends_with(".js") || part.ends_with(".css")))
        .collect();
    assert!(assets.len() >= 3, "{html}");
    for asset in assets {
        let response = app.get(&format!("/api/v1/docs/{}", &asset[2..]), None).await;
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let body = response.text().await.unwrap();
        assert!(!body.is_empty(), "{asset}");
        if asset.ends_with("swagger-initializer.js") {
            assert!(body.contains("/api/v1/openapi.json"), "{body}");
        }
    }
    let document: Value = app.get("/api/v1/openapi.json", None).await.json().await.unwrap();
    assert!(document["paths"]["/api/v1/bookings"]["post"].is_object());
}
