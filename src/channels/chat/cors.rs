//! Where a public widget request comes from: its `Origin` (checked against the site's
//! allowed origins, answered with CORS headers only for those) and the visitor's IP.

use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};

use crate::error::{ApiError, Result};
use crate::state::AppState;

use super::sites::normalize_origin;

/// The request's `Origin`, normalized; `None` when absent or not an http(s) origin.
pub fn request_origin(headers: &HeaderMap) -> Option<String> {
    headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(normalize_origin)
}

/// Whether `origin` is this server's own (the dashboard's live preview runs there):
/// `LEADLINE_PUBLIC_URL`, else the address it listens on (and `localhost` for a loopback
/// one). Never the request's `Host`, which the client chooses.
fn is_own_origin(state: &AppState, origin: &str) -> bool {
    if let Some(url) = &state.config.public_url {
        return normalize_origin(url).as_deref() == Some(origin);
    }
    let bind = state.config.bind;
    let mut own = vec![format!("http://{bind}")];
    if bind.ip().is_loopback() {
        own.push(format!("http://localhost:{}", bind.port()));
    }
    own.iter()
        .filter_map(|o| normalize_origin(o))
        .any(|o| o == origin)
}

/// Checks the request's origin against a site's list. `required`: refuse requests
/// without an `Origin` (site-key requests); token requests may come from servers.
pub fn check_origin(
    state: &AppState,
    headers: &HeaderMap,
    allowed: &[String],
    required: bool,
) -> Result<AllowOrigin> {
    match request_origin(headers) {
        Some(o) if allowed.contains(&o) || is_own_origin(state, &o) => {
            Ok(AllowOrigin(HeaderValue::from_str(&o).ok()))
        }
        Some(o) => Err(ApiError::Forbidden(format!(
            "this site does not allow the widget on {o}"
        ))),
        // Browsers send no Origin on same-origin GETs (the dashboard's preview page).
        None if same_origin_fetch(headers) => Ok(AllowOrigin(None)),
        None if required => Err(ApiError::Forbidden(
            "the widget's requests must carry the page's Origin".into(),
        )),
        None => Ok(AllowOrigin(None)),
    }
}

/// The browser says the request comes from a page of this server (`Sec-Fetch-Site`).
fn same_origin_fetch(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"same-origin")
}

/// `Access-Control-Allow-Origin` for a response to an allowed origin.
pub struct AllowOrigin(pub Option<HeaderValue>);

impl IntoResponseParts for AllowOrigin {
    type Error = std::convert::Infallible;

    fn into_response_parts(
        self,
        mut res: ResponseParts,
    ) -> std::result::Result<ResponseParts, Self::Error> {
        allow(res.headers_mut(), self.0);
        Ok(res)
    }
}

/// The CORS headers of a response to `origin` (none when `None`); always `Vary: Origin`.
fn allow(h: &mut HeaderMap, origin: Option<HeaderValue>) {
    if let Some(o) = origin {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("retry-after"),
        );
    }
    h.append(VARY, HeaderValue::from_static("origin"));
}

/// Middleware of the public chat routes: lets the widget read error bodies (never data:
/// handlers add the header to a success only after checking the origin against the
/// session's site).
pub async fn public_cors(req: Request, next: Next) -> Response {
    // A refused preflight must stay refused.
    let origin = request_origin(req.headers()).filter(|_| req.method() != Method::OPTIONS);
    let mut res = next.run(req).await;
    if let Some(o) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        if res.status().is_client_error()
            && !res.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN)
        {
            allow(res.headers_mut(), Some(o));
        }
    }
    res
}

/// `OPTIONS` on a public chat route: a CORS preflight, allowed for origins some site allows.
pub async fn preflight(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let state = &state;
    let headers = &headers;
    let Some(origin) = request_origin(headers) else {
        return ApiError::Forbidden("a preflight must carry an Origin".into()).into_response();
    };
    let own = is_own_origin(state, &origin);
    let known = own
        || sqlx::query_scalar::<_, bool>(
            "select exists (select 1 from sites where allowed_origins @> array[$1])",
        )
        .bind(&origin)
        .fetch_one(&state.pool)
        .await
        .unwrap_or(false);
    if !known {
        return ApiError::Forbidden(format!("no site allows the widget on {origin}"))
            .into_response();
    }
    preflight_answer(&origin, "GET, POST", "content-type, last-event-id")
}

/// The 204 that lets `origin` make the cross-origin requests a preflight asked about
/// (the widget's, and the web forms' of `intake::form`), cached 10 minutes.
pub fn preflight_answer(origin: &str, methods: &'static str, headers: &'static str) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    if let Ok(o) = HeaderValue::from_str(origin) {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, o);
    }
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(methods),
    );
    h.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(headers),
    );
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    h.append(VARY, HeaderValue::from_static("origin"));
    res
}
