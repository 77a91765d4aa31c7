//! Serves the widget script (`widget/widget.js`, built into the binary) gzipped when the
//! browser accepts it, with caching headers and an ETag, so a site's visitors fetch it
//! once per change.

use std::io::Write;
use std::sync::LazyLock;

use axum::http::header::{
    ACCEPT_ENCODING, ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE,
    ETAG, IF_NONE_MATCH, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// The script every embed loads.
pub const SCRIPT: &str = include_str!("../../../widget/widget.js");

/// The script compressed once, at first use.
pub static GZIPPED: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(SCRIPT.as_bytes());
    gz.finish().unwrap_or_default()
});

static HASH: LazyLock<String> =
    LazyLock::new(|| hex::encode(Sha256::digest(SCRIPT.as_bytes()))[..20].to_string());

/// `GET /widget.js`
pub async fn script(headers: HeaderMap) -> Response {
    let gzip = headers
        .get(ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    // One ETag per representation (plain or gzipped).
    let etag = if gzip {
        format!("\"{}-gz\"", *HASH)
    } else {
        format!("\"{}\"", *HASH)
    };
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
            HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\"")),
        ),
        (ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
        (VARY, HeaderValue::from_static("accept-encoding")),
    ];
    if cached {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let js = HeaderValue::from_static("application/javascript; charset=utf-8");
    if gzip {
        (
            common,
            [
                (CONTENT_TYPE, js),
                (CONTENT_ENCODING, HeaderValue::from_static("gzip")),
            ],
            GZIPPED.as_slice(),
        )
            .into_response()
    } else {
        (common, [(CONTENT_TYPE, js)], SCRIPT).into_response()
    }
}
