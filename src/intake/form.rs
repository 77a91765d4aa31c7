//! The website quote form: `POST /api/forms/{form_key}` takes JSON, urlencoded or
//! multipart posts from the pages of the source's allowed origins (CORS, preflight
//! included), drops honeypot submissions quietly, limits posts per IP in PostgreSQL (like
//! the chat widget, so the limit holds across replicas), and answers the way the page
//! asked: JSON for fetch clients, a 303 to the source's redirect URL or a small thank-you
//! page for a plain HTML form.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{
    ACCEPT, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, CONTENT_TYPE, LOCATION, RETRY_AFTER, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::channels::chat::cors::request_origin;
use crate::error::{ApiError, Result};
use crate::extract::{ClientIp, Path};
use crate::state::AppState;

use super::sources::{self, Source};
use super::{Delivered, Submission};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit))
        .route("/api/forms/{form_key}", axum::routing::options(preflight))
}

/// Fields whose value marks a bot (hidden from people by the snippet's CSS).
pub const HONEYPOTS: [&str; 2] = ["_gotcha", "website"];
/// Fields that say where the visit came from.
pub const ATTRIBUTION_FIELDS: [&str; 10] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "gclid",
    "fbclid",
    "page_url",
    "referrer",
    "landing_page",
];

/// A form post: any of these fields (and any others, kept with the lead).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct FormFields {
    name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    address: Option<String>,
    message: Option<String>,
    roof_age: Option<String>,
    issues: Option<String>,
    timeline: Option<String>,
    budget: Option<String>,
    utm_source: Option<String>,
    utm_medium: Option<String>,
    utm_campaign: Option<String>,
    utm_term: Option<String>,
    utm_content: Option<String>,
    gclid: Option<String>,
    fbclid: Option<String>,
    page_url: Option<String>,
    referrer: Option<String>,
    /// The honeypot: leave empty (bots fill it).
    _gotcha: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FormAccepted {
    pub ok: bool,
}

/// The posted fields as (name, value) pairs, from JSON, urlencoded or multipart.
pub fn parse_body(content_type: &str, body: &[u8]) -> Result<Vec<(String, Value)>> {
    let lower = content_type.to_ascii_lowercase();
    if lower.starts_with("application/json") || lower.is_empty() && body.first() == Some(&b'{') {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::BadRequest("invalid_json", format!("body: not valid JSON: {e}"))
        })?;
        let Value::Object(map) = v else {
            return Err(ApiError::invalid("body: expected a JSON object of fields"));
        };
        return Ok(map.into_iter().collect());
    }
    if lower.starts_with("application/x-www-form-urlencoded")
        || lower.starts_with("multipart/form-data")
    {
        let data = crate::channels::email::form::FormData::parse(content_type, body)
            .map_err(|e| ApiError::BadRequest("invalid_form", format!("body: {e}")))?;
        let mut fields: Vec<(String, Value)> = data
            .fields
            .into_iter()
            .map(|(k, v)| (k, Value::String(String::from_utf8_lossy(&v).into_owned())))
            .collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        return Ok(fields);
    }
    Err(ApiError::UnsupportedMediaType(
        "send application/json, application/x-www-form-urlencoded or multipart/form-data".into(),
    ))
}

/// What a form post means (pure): `None` when a honeypot is filled.
pub fn submission(fields: Vec<(String, Value)>) -> Option<Submission> {
    let mut sub = Submission::new("web_form");
    let mut detail = Map::new();
    for (name, value) in fields {
        let key = name.trim().to_ascii_lowercase();
        let text = super::scalar_text(&value)
            .map(|t| t.trim().to_string())
            .unwrap_or_default();
        if HONEYPOTS.contains(&key.as_str()) {
            if !text.is_empty() {
                return None;
            }
            continue;
        }
        if text.is_empty() {
            continue;
        }
        let key = match key.as_str() {
            "referer" => "referrer".to_string(),
            "page" | "url" => "page_url".to_string(),
            _ => key,
        };
        if ATTRIBUTION_FIELDS.contains(&key.as_str()) {
            detail.insert(key, Value::String(super::bounded(&text, 2000)));
            continue;
        }
        if key == "submission_id" {
            sub.external_id = Some(text);
            continue;
        }
        match super::field_for(&name) {
            Some(field) => sub.fields.set(field, &text),
            None => sub.keep(&name, value),
        }
    }
    // UTM parameters of the page the form was on, when the form did not copy them.
    for page in ["page_url", "landing_page"] {
        let Some(url) = detail
            .get(page)
            .and_then(Value::as_str)
            .and_then(|u| reqwest::Url::parse(u).ok())
        else {
            continue;
        };
        for (k, v) in url.query_pairs() {
            let k = k.to_ascii_lowercase();
            if ATTRIBUTION_FIELDS[..7].contains(&k.as_str()) && !v.trim().is_empty() {
                detail
                    .entry(k)
                    .or_insert_with(|| Value::String(super::bounded(v.trim(), 2000)));
            }
        }
    }
    sub.attribution.campaign = detail
        .get("utm_campaign")
        .and_then(Value::as_str)
        .map(str::to_string);
    sub.attribution.detail = detail;
    Some(sub)
}

/// The origins a form's pages may post from: its own list and its chat site's.
async fn allowed_origins(state: &AppState, source: &Source) -> Result<Vec<String>> {
    let config = source.settings();
    let mut origins = config.allowed_origins;
    if let Some(site) = config.site_id {
        let site_origins: Option<Vec<String>> = sqlx::query_scalar(
            "select allowed_origins from sites where account_id = $1 and id = $2",
        )
        .bind(source.account_id)
        .bind(site)
        .fetch_optional(&state.pool)
        .await?;
        origins.extend(site_origins.unwrap_or_default());
    }
    Ok(origins)
}

/// How the page wants its answer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reply {
    Json,
    Html,
}

/// A form post from a browser's navigation (its `Accept` names HTML first, not JSON) gets
/// HTML; everything else (fetch, JSON, servers) gets JSON.
fn reply_kind(headers: &HeaderMap) -> Reply {
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let accept = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let form = ct.starts_with("application/x-www-form-urlencoded")
        || ct.starts_with("multipart/form-data");
    if form && accept.contains("text/html") && !accept.contains("application/json") {
        Reply::Html
    } else {
        Reply::Json
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2933}}\
         a{{color:#2563eb}}</style></head><body><h1>{t}</h1><p>{x}</p>\
         <p><a href=\"javascript:history.back()\">Back</a></p></body></html>",
        t = escape(title),
        x = escape(text)
    )
}

fn with_cors(mut res: Response, origin: Option<&str>) -> Response {
    if let Some(o) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        res.headers_mut().insert(ACCESS_CONTROL_ALLOW_ORIGIN, o);
    }
    res.headers_mut()
        .append(VARY, HeaderValue::from_static("origin"));
    res
}

fn error_reply(e: ApiError, reply: Reply, origin: Option<&str>) -> Response {
    let res = match reply {
        Reply::Json => e.into_response(),
        Reply::Html => {
            let message = e.to_string();
            let plain = e.into_response();
            let mut res = (
                plain.status(),
                Html(page("We could not send your request", &message)),
            )
                .into_response();
            if let Some(retry) = plain.headers().get(RETRY_AFTER) {
                res.headers_mut().insert(RETRY_AFTER, retry.clone());
            }
            res
        }
    };
    with_cors(res, origin)
}

/// Receives a website form submission and records it as a `form` communication of the
/// lead (found or created by email / phone). Answers JSON `{ok: true}` to JSON and fetch
/// clients; a plain HTML form post gets a 303 to the source's redirect URL or a thank-you
/// page. A filled honeypot is answered the same and recorded nowhere.
#[utoipa::path(post, path = "/api/forms/{form_key}", tag = "lead sources",
    params(("form_key" = String, Path, description = "the web form source's token")),
    request_body(content(
        (FormFields = "application/json"),
        (FormFields = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = FormAccepted, description = "recorded (HTML posts get a thank-you page)"),
        (status = 303, description = "recorded; redirect to the source's redirect URL"),
        (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "the page's origin is not allowed"),
        (status = 404, body = crate::error::ErrorBody),
        (status = 415, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody)))]
async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(form_key): Path<String>,
    body: Bytes,
) -> Response {
    let reply = reply_kind(&headers);
    let origin = request_origin(&headers);
    match accept(&state, ip, &headers, &form_key, &body).await {
        Ok((source, allowed, _)) => {
            let origin = origin.filter(|_| allowed);
            let res = match reply {
                Reply::Json => axum::Json(FormAccepted { ok: true }).into_response(),
                Reply::Html => {
                    let config = source.settings();
                    match config
                        .redirect_url
                        .and_then(|u| HeaderValue::from_str(&u).ok())
                    {
                        Some(url) => {
                            let mut res = StatusCode::SEE_OTHER.into_response();
                            res.headers_mut().insert(LOCATION, url);
                            res
                        }
                        None => Html(page(
                            "Thank you!",
                            config.thank_you.as_deref().unwrap_or(
                                "We received your request and will get back to you shortly.",
                            ),
                        ))
                        .into_response(),
                    }
                }
            };
            with_cors(res, origin.as_deref())
        }
        // An error may be read by the allowed page's script only.
        Err((e, allowed)) => error_reply(e, reply, origin.as_deref().filter(|_| allowed)),
    }
}

/// Checks, limits and records a post: the source, whether its origin may read the answer,
/// and the delivery (`None`: a honeypot submission).
async fn accept(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    form_key: &str,
    body: &[u8],
) -> std::result::Result<(Source, bool, Option<Delivered>), (ApiError, bool)> {
    let source = sources::by_token(&state.pool, form_key, &["web_form"])
        .await
        .map_err(|e| (e, false))?
        .ok_or((ApiError::NotFound("form"), false))?;
    let allowed = allowed_origins(state, &source)
        .await
        .map_err(|e| (e, false))?;
    let origin = request_origin(headers);
    let origin_ok = match &origin {
        Some(o) => allowed.contains(o),
        // Servers and privacy-stripped posts carry no Origin: they can claim any anyway.
        None => true,
    };
    if !origin_ok {
        return Err((
            ApiError::Forbidden(format!(
                "this form does not accept posts from {}: add the origin to the form's allowed origins",
                origin.unwrap_or_default()
            )),
            false,
        ));
    }
    let key = format!("form:{}", crate::throttle::client_key(ip));
    let limit = state.config.intake.form_submissions_per_ip_hour as i32;
    if let Some(wait) = crate::throttle::hit(&state.pool, &key, limit, 3600)
        .await
        .map_err(|e| (e, true))?
    {
        return Err((
            ApiError::Limited("too many form submissions; try again later", wait),
            true,
        ));
    }
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let fields = parse_body(ct, body).map_err(|e| (e, true))?;
    let Some(sub) = submission(fields) else {
        sources::count_spam(&state.pool, &source)
            .await
            .map_err(|e| (e, true))?;
        return Ok((source, true, None));
    };
    let delivered = super::deliver(state, &source, sub)
        .await
        .map_err(|e| (e, true))?;
    Ok((source, true, Some(delivered)))
}

/// `OPTIONS /api/forms/{form_key}`: the CORS preflight of a fetch post, allowed for the
/// form's origins.
async fn preflight(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(form_key): Path<String>,
) -> Response {
    let Some(origin) = request_origin(&headers) else {
        return ApiError::Forbidden("a preflight must carry an Origin".into()).into_response();
    };
    let allowed = match sources::by_token(&state.pool, &form_key, &["web_form"]).await {
        Ok(Some(source)) => match allowed_origins(&state, &source).await {
            Ok(list) => list.contains(&origin),
            Err(e) => return e.into_response(),
        },
        Ok(None) => return ApiError::NotFound("form").into_response(),
        Err(e) => return e.into_response(),
    };
    if !allowed {
        return ApiError::Forbidden(format!("this form does not accept posts from {origin}"))
            .into_response();
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    if let Ok(o) = HeaderValue::from_str(&origin) {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, o);
    }
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    h.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, accept"),
    );
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    h.append(VARY, HeaderValue::from_static("origin"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Vec<(String, Value)> {
        v.as_object().unwrap().clone().into_iter().collect()
    }

    #[test]
    fn a_filled_honeypot_is_no_submission() {
        assert!(submission(fields(json!({"email": "a@b.com", "_gotcha": "x"}))).is_none());
        assert!(submission(fields(
            json!({"email": "a@b.com", "website": "http://spam"})
        ))
        .is_none());
        assert!(submission(fields(json!({"email": "a@b.com", "_gotcha": ""}))).is_some());
    }

    #[test]
    fn form_fields_map_to_lead_fields_attribution_and_extras() {
        let s = submission(fields(json!({
            "first_name": "Jane", "last_name": "Doe", "email": "JANE@x.com",
            "phone": "(312) 641-2278", "message": "Hail damage", "roof_age": 18,
            "issues": ["leak", "hail"], "utm_source": "google", "utm_campaign": "spring",
            "page_url": "https://acme.com/quote?utm_medium=cpc&gclid=abc", "house_color": "blue",
        })))
        .unwrap();
        assert_eq!(s.fields.full_name().as_deref(), Some("Jane Doe"));
        assert_eq!(s.fields.roof_age.as_deref(), Some("18"));
        assert_eq!(s.fields.issues.as_deref(), Some("leak, hail"));
        assert_eq!(s.attribution.source, "web_form");
        assert_eq!(s.attribution.campaign.as_deref(), Some("spring"));
        assert_eq!(s.attribution.detail["utm_medium"], "cpc");
        assert_eq!(s.attribution.detail["gclid"], "abc");
        assert_eq!(s.extra["house_color"], "blue");
        assert!(!s.extra.contains_key("email"));
    }

    #[test]
    fn bodies_are_read_by_content_type() {
        let f = parse_body(
            "application/x-www-form-urlencoded",
            b"name=Jane+Doe&email=j%40x.com",
        )
        .unwrap();
        assert!(f.contains(&("name".into(), json!("Jane Doe"))));
        assert!(f.contains(&("email".into(), json!("j@x.com"))));
        assert!(parse_body("application/json", b"[1]").is_err());
        assert!(matches!(
            parse_body("text/plain", b"x"),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }
}
