//! The API's own documentation: the OpenAPI document at `/api/v1/openapi.json`, and an
//! interactive page for it (Swagger UI) at `/api/v1/docs`, whose assets are embedded in the binary
//! at build time from the `utoipa-swagger-ui-vendored` crate, so the page needs nothing from
//! elsewhere. The page is HTML for people, so the document does not list it.

use axum::body::Bytes;
use axum::http::{header, HeaderValue};
use axum::routing::get;
use axum::Router;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::{openapi, AppState};

pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";
pub const DOCS_PATH: &str = "/api/v1/docs";

/// The document and the page, at their full paths (the page links to the document by it).
pub fn router() -> Router<AppState> {
    // The document is the same for the life of the process: built and serialized once.
    let document = Bytes::from(serde_json::to_vec(&openapi::document()).expect("the document serializes"));
    let openapi_json = get(move || {
        let document = document.clone();
        async move { ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], document) }
    });
    let page = SwaggerUi::new(DOCS_PATH).config(Config::new([OPENAPI_PATH]));
    // The Swagger UI starts itself with inline script: its pages have a policy of their own.
    let page = Router::new().merge(page).layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::web::security::DOCS_POLICY),
    ));
    Router::new().route(OPENAPI_PATH, openapi_json).merge(page)
}
