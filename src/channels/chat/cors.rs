//! Where a public widget request comes from: its `Origin` (checked against the site's
//! allowed origins, answered with CORS headers only for those) and the visitor's IP.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, HOST, ORIGIN, VARY,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};

use crate::app::AppState;
use crate::error::{ApiError, Result};

use super::sites::normalize_origin;

/// The request's `Origin`, normalized; `None` when absent or not an http(s) origin.
pub fn request_origin(headers: &HeaderMap) -> Option<String> {
    headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(normalize_origin)
}

/// This server's own origin (the dashboard's live preview runs there).
fn own_origin(state: &AppState, headers: &HeaderMap) -> Option<String> {
    if let Some(url) = &state.config.public_url {
        return normalize_origin(url);
    }
    let host = headers.get(HOST)?.to_str().ok()?;
    normalize_origin(&format!("http://{host}"))
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
        Some(o) if allowed.contains(&o) || own_origin(state, headers).as_ref() == Some(&o) => {
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
    let own = own_origin(state, headers).as_ref() == Some(&origin);
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
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    if let Ok(o) = HeaderValue::from_str(&origin) {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, o);
    }
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    h.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, last-event-id"),
    );
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    h.append(VARY, HeaderValue::from_static("origin"));
    res
}

/// The visitor's IP: the socket's peer, or the first `X-Forwarded-For` hop when
/// `LEADLINE_TRUST_PROXY` says a proxy sets it.
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> std::result::Result<Self, Self::Rejection> {
        if state.config.chat.trust_proxy {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok());
            if forwarded.is_some() {
                return Ok(Self(forwarded));
            }
        }
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}
