//! Serves the widget script (`widget/widget.js`, built into the binary) with caching
//! headers and an ETag, so a site's visitors fetch it once per change.

use std::sync::LazyLock;

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The script every embed loads.
pub const SCRIPT: &str = include_str!("../../../widget/widget.js");

static ETAG_VALUE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "\"{}\"",
        &hex::encode(Sha256::digest(SCRIPT.as_bytes()))[..20]
    )
});

/// `GET /widget.js`
pub async fn script(headers: HeaderMap) -> Response {
    let etag = ETAG_VALUE.as_str();
    let cached = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let common = [
        // Short: the URL is not versioned, and a fix must reach every site within minutes.
        (
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300, stale-while-revalidate=86400"),
        ),
        (
            ETAG,
            HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"0\"")),
        ),
        (ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
    ];
    if cached {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("application/javascript; charset=utf-8"),
        )],
        SCRIPT,
    )
        .into_response()
}
