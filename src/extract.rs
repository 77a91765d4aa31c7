//! Request extractors whose rejections speak the API's error shape instead of axum's plain
//! text, and the serde helpers request bodies share. This is where input from our own
//! clients meets `sanitize`: a NUL character in a JSON string, a query parameter or a path
//! segment is refused with 422 naming the field.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::ApiError;
use crate::sanitize;

/// JSON body (request) and JSON response.
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "expected a JSON body with Content-Type: application/json".into(),
            ));
        }
        Self::from_bytes(&body_bytes(req, state).await?)
    }
}

/// The whole body, within the route's limit (413 above it).
pub async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest("unreadable_body", e.body_text())
        }
    })
}

impl<T: DeserializeOwned> Json<T> {
    /// Parses a JSON body: 400 when malformed, 422 naming the field when a value does not
    /// fit or a string holds a NUL character.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ApiError> {
        if sanitize::may_hold_escaped_nul(bytes) {
            if let Some(path) = serde_json::from_slice::<Value>(bytes)
                .ok()
                .as_ref()
                .and_then(sanitize::find_nul)
            {
                return Err(ApiError::Unprocessable(
                    "invalid_field",
                    format!("{path}: must not contain the NUL character (\\u0000)"),
                ));
            }
        }
        match axum::Json::<T>::from_bytes(bytes) {
            Ok(axum::Json(v)) => Ok(Json(v)),
            // JSON does not tell 3 from 3.0 (JSON Schema's integer takes both): a whole
            // number written with a fraction is read as the whole number.
            Err(JsonRejection::JsonDataError(e))
                if e.body_text().contains("invalid type: floating point") =>
            {
                let whole = serde_json::from_slice::<Value>(bytes)
                    .ok()
                    .and_then(|mut v| whole_numbers(&mut v).then_some(v))
                    .and_then(|v| serde_json::to_vec(&v).ok());
                match whole {
                    Some(b) => axum::Json::<T>::from_bytes(&b)
                        .map(|axum::Json(v)| Json(v))
                        .map_err(ApiError::from),
                    None => Err(JsonRejection::JsonDataError(e).into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Rewrites floats without a fraction (`156.0`) as integers; whether any was.
fn whole_numbers(v: &mut Value) -> bool {
    match v {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                *v = Value::from(f as i64);
                true
            }
            _ => false,
        },
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |any, x| whole_numbers(x) | any),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |any, x| whole_numbers(x) | any),
        _ => false,
    }
}

/// The query string, 400 naming the parameter when a value does not fit. An empty value
/// (`?status=`) means the parameter is absent, as a blank optional field does in a body.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        // A pair without a value (`status=`, or a bare `status`) is left out.
        let blank = |pair: &str| pair.split_once('=').is_none_or(|(_, v)| v.is_empty());
        let query = parts.uri.query().unwrap_or("");
        let parsed = if query.is_empty() || !query.split('&').any(blank) {
            axum::extract::Query::<T>::try_from_uri(&parts.uri)
        } else {
            let kept: Vec<&str> = query.split('&').filter(|p| !blank(p)).collect();
            let uri: Uri = format!("/?{}", kept.join("&")).parse().map_err(|_| {
                ApiError::BadRequest("invalid_query", "unreadable query string".into())
            })?;
            axum::extract::Query::<T>::try_from_uri(&uri)
        };
        parsed
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(ApiError::from)
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => {
                // serde's message names the field and the expected type; the outer
                // text ("Failed to deserialize…") adds nothing.
                ApiError::Unprocessable("invalid_field", body_text(&e.body_text()))
            }
            JsonRejection::JsonSyntaxError(e) => {
                ApiError::BadRequest("malformed_json", body_text(&e.body_text()))
            }
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                "expected a JSON body with Content-Type: application/json".into(),
            ),
            JsonRejection::BytesRejection(e) => {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::BadRequest("unreadable_body", e.body_text())
                }
            }
            other => ApiError::BadRequest("bad_request", other.body_text()),
        }
    }
}

fn body_text(t: &str) -> String {
    t.split_once(": ")
        .map(|(_, rest)| rest.to_string())
        .unwrap_or_else(|| t.to_string())
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::BadRequest("invalid_query", body_text(&r.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::BadRequest("invalid_path", body_text(&r.body_text()))
    }
}

/// Middleware: the framework's own plain-text refusals (a body over the limit read by a
/// plain `Bytes` extractor, a method the path does not take) speak the API's error shape.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let plain = !res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let replacement = match res.status() {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE if plain => ApiError::PayloadTooLarge,
        axum::http::StatusCode::METHOD_NOT_ALLOWED if plain => ApiError::MethodNotAllowed,
        _ => return res,
    };
    let allow = res.headers().get(axum::http::header::ALLOW).cloned();
    let mut out = replacement.into_response();
    if let Some(a) = allow {
        out.headers_mut().insert(axum::http::header::ALLOW, a);
    }
    out
}

/// Middleware: a NUL character (`%00`) in a path segment or a query parameter is refused
/// with 422 naming it, before any handler reads it.
pub async fn refuse_nul_in_uri(req: Request, next: Next) -> Response {
    match nul_in_uri(req.uri()) {
        Some(e) => e.into_response(),
        None => next.run(req).await,
    }
}

fn decodes_to_nul(s: &str) -> bool {
    percent_encoding::percent_decode_str(s).any(|b| b == 0)
}

fn nul_in_uri(uri: &Uri) -> Option<ApiError> {
    if uri.path().contains("%00") {
        let segment = uri
            .path()
            .split('/')
            .position(decodes_to_nul)
            .unwrap_or_default();
        return Some(ApiError::Unprocessable(
            "invalid_path",
            format!("path segment {segment} must not contain the NUL character (%00)"),
        ));
    }
    let query = uri.query().filter(|q| q.contains("%00"))?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decodes_to_nul(k) || decodes_to_nul(v)).then(|| {
            let name = percent_encoding::percent_decode_str(k)
                .decode_utf8_lossy()
                .replace('\0', "\\u0000");
            ApiError::Unprocessable(
                "invalid_query",
                format!("query parameter {name}: must not contain the NUL character (%00)"),
            )
        })
    })
}

/// The client's IP: the socket's peer, or the first `X-Forwarded-For` hop when
/// `LEADLINE_TRUST_PROXY` says a proxy sets it.
pub struct ClientIp(pub Option<std::net::IpAddr>);

/// The client's IP of a request (see `ClientIp`).
pub fn client_ip(
    parts: &axum::http::request::Parts,
    TrustProxy(trust_proxy): TrustProxy,
) -> Option<std::net::IpAddr> {
    if trust_proxy {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Whether `X-Forwarded-For` is to be believed (`LEADLINE_TRUST_PROXY`), taken from the
/// state by `FromRef` (so this module needs nothing of the application above it).
#[derive(Debug, Clone, Copy)]
pub struct TrustProxy(pub bool);

impl<S> FromRequestParts<S> for ClientIp
where
    S: Send + Sync,
    TrustProxy: axum::extract::FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(
            parts,
            axum::extract::FromRef::from_ref(state),
        )))
    }
}

/// For optional body fields (`#[serde(default, deserialize_with = …)]`): an empty or
/// all-blank string means absent, as `null` and a missing field do.
pub fn blank_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => T::deserialize(v).map(Some).map_err(D::Error::custom),
    }
}

const DATE_FORMS: &str = "expected a date (2025-01-12) or an RFC 3339 date-time";

/// A date (`2025-01-12`, taken as noon UTC so it is the same calendar day in every US
/// time zone) or an RFC 3339 date-time.
pub fn parse_date_or_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .map(|t| t.and_utc())
}

/// For optional date-time body fields: a date, an RFC 3339 date-time, or blank (absent).
pub fn date_or_datetime<'de, D>(d: D) -> Result<Option<DateTime<Utc>>, D::Error>
where
    D: Deserializer<'de>,
{
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => parse_date_or_datetime(&s)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("{DATE_FORMS}, got {s:?}"))),
        Some(other) => Err(D::Error::custom(format!("{DATE_FORMS}, got {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "blank_as_none")]
        name: Option<String>,
        #[serde(default, deserialize_with = "blank_as_none")]
        count: Option<i32>,
        #[serde(default, deserialize_with = "date_or_datetime")]
        when: Option<DateTime<Utc>>,
    }

    #[test]
    fn blanks_are_absent_and_dates_take_both_forms() {
        let b: Body = serde_json::from_str(r#"{"name":" ","count":"","when":""}"#).unwrap();
        assert!(b.name.is_none() && b.count.is_none() && b.when.is_none());
        let b: Body =
            serde_json::from_str(r#"{"name":"x","count":3,"when":"2025-01-12"}"#).unwrap();
        assert_eq!(b.name.as_deref(), Some("x"));
        assert_eq!(b.count, Some(3));
        assert_eq!(b.when.unwrap().to_rfc3339(), "2025-01-12T12:00:00+00:00");
        let b: Body = serde_json::from_str(r#"{"when":"2025-01-12T08:30:00-05:00"}"#).unwrap();
        assert_eq!(b.when.unwrap().to_rfc3339(), "2025-01-12T13:30:00+00:00");
        let e = serde_json::from_str::<Body>(r#"{"when":"tomorrow"}"#)
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("expected a date (2025-01-12)"),
            "{e}"
        );
        assert!(serde_json::from_str::<Body>(r#"{"count":"x"}"#).is_err());
    }

    #[test]
    fn nul_in_a_uri_names_the_segment_or_parameter() {
        let e = nul_in_uri(&"/api/chat/sessions/%00".parse().unwrap()).unwrap();
        assert_eq!(e.status(), 422);
        assert!(e.to_string().contains("segment 4"), "{e}");
        let e = nul_in_uri(&"/api/leads?q=a%00b".parse().unwrap()).unwrap();
        assert!(e.to_string().contains("query parameter q"), "{e}");
        assert!(nul_in_uri(&"/api/leads?q=a%20b".parse().unwrap()).is_none());
    }

    #[test]
    fn a_nul_in_a_json_string_names_the_field() {
        let e = Json::<Value>::from_bytes(br#"{"lead":{"name":"a\u0000b"}}"#)
            .err()
            .unwrap();
        assert_eq!(e.status(), 422);
        assert!(e.to_string().starts_with("lead.name:"), "{e}");
        // An escaped backslash before "u0000" is no NUL.
        assert!(Json::<Value>::from_bytes(br#"{"a":"\\u0000"}"#).is_ok());
    }
}
