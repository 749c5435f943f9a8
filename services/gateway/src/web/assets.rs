//! The web app's stylesheets and scripts, embedded in the binary. Each is served under a name
//! that carries a hash of its content (`app.3f2a9c01d4e5.css`), cached for a year and never
//! revalidated: a new build that changes a file changes its name, so a browser never runs an old
//! script against a new page. The plain name (`app.css`) answers too, revalidated every time, for
//! whoever types it.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

use crate::web::page::PageError;

struct Asset {
    /// `app.css`.
    name: &'static str,
    /// `/assets/app.3f2a9c01d4e5.css`.
    url: String,
    etag: String,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! assets {
    ($($name:literal => $content_type:literal),* $(,)?) => {
        [$(($name, $content_type, include_bytes!(concat!("../../assets/", $name)).as_slice())),*]
    };
}

const FILES: [(&str, &str, &[u8]); 12] = assets![
    "app.css" => "text/css; charset=utf-8",
    "page.js" => "text/javascript; charset=utf-8",
    "seatmap.css" => "text/css; charset=utf-8",
    "seatmap.js" => "text/javascript; charset=utf-8",
    "dom.js" => "text/javascript; charset=utf-8",
    "editor.css" => "text/css; charset=utf-8",
    "editor.js" => "text/javascript; charset=utf-8",
    "organize.css" => "text/css; charset=utf-8",
    "dashboard.js" => "text/javascript; charset=utf-8",
    "scanner.js" => "text/javascript; charset=utf-8",
    "queue.js" => "text/javascript; charset=utf-8",
    "ticket.js" => "text/javascript; charset=utf-8",
];

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(name, content_type, body)| {
            let digest = Sha256::digest(body);
            let hash: String = digest.iter().take(6).map(|byte| format!("{byte:02x}")).collect();
            let (stem, extension) = name.rsplit_once('.').expect("every asset has an extension");
            Asset {
                name,
                url: format!("/assets/{stem}.{hash}.{extension}"),
                etag: format!("\"{hash}\""),
                content_type,
                body,
            }
        })
        .collect()
});

/// The URL of an asset by its plain name, with its content hash. A name that is not an asset is
/// a bug in a template, caught by the tests that render every page.
pub fn url(name: &str) -> &'static str {
    ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .map(|asset| asset.url.as_str())
        .unwrap_or_else(|| panic!("no asset named {name}"))
}

/// `GET /assets/{file}`.
pub async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let requested = format!("/assets/{file}");
    let (asset, immutable) = match ASSETS.iter().find(|asset| asset.url == requested) {
        Some(asset) => (asset, true),
        None => match ASSETS.iter().find(|asset| asset.name == file) {
            Some(asset) => (asset, false),
            None => return PageError::not_found().into_response(),
        },
    };
    let cache = if immutable { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut response =
        if headers.get(IF_NONE_MATCH).is_some_and(|tag| tag.as_bytes() == asset.etag.as_bytes()) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            ([(CONTENT_TYPE, HeaderValue::from_static(asset.content_type))], asset.body).into_response()
        };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(ETAG, HeaderValue::try_from(asset.etag.as_str()).expect("a hex tag is a header value"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_url_with_the_hash_of_its_content() {
        for (name, _, body) in FILES {
            let url = url(name);
            let hash: String =
                Sha256::digest(body).iter().take(6).map(|byte| format!("{byte:02x}")).collect();
            assert!(url.contains(&hash), "{url}");
            assert!(url.starts_with("/assets/"));
        }
    }
}
