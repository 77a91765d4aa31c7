//! Facebook / Instagram Lead Ads.
//!
//! - `GET /webhooks/facebook`: the Graph webhook handshake (`hub.mode=subscribe`,
//!   `hub.verify_token` = `LEADLINE_FACEBOOK_VERIFY_TOKEN` → `hub.challenge` echoed).
//! - `POST /webhooks/facebook`: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
//!   body with the app secret>` checked in constant time against
//!   `LEADLINE_FACEBOOK_APP_SECRET`; each `leadgen` change of a page connected to a source is
//!   stored in `facebook_leads` and only then acknowledged (the notification carries no
//!   lead data, only its id: nothing may be lost before the fetch).
//! - The fetch (`fetch_due`, run in the background and right after a notification): `GET
//!   /{leadgen_id}` from the Graph API with the page's sealed token, mapped and recorded
//!   through `deliver` (deduplicated on the leadgen id). A Graph failure keeps the lead
//!   pending: an expired or invalid token (code 190) marks the source unhealthy until a
//!   person sets a new one (which makes the waiting leads due at once); rate limits (4, 17,
//!   32, 613) and other failures are retried with backoff.
//!
//! References: <https://developers.facebook.com/docs/graph-api/webhooks/getting-started>,
//! <https://developers.facebook.com/docs/marketing-api/guides/lead-ads/retrieving>.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header::CONTENT_TYPE, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::AccountId;
use crate::error::{ApiError, Result};
use crate::extract::{Json, Query};
use crate::state::AppState;

use super::graph::{GraphClient, GraphError, GraphLead};
use super::sources::{self, Source};
use super::Submission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(handshake, notification))
}

/// Leads claimed per step of the fetch.
const BATCH: i64 = 10;
/// How long a claimed lead is held before another worker may take it.
const LEASE_SECS: f64 = 60.0;
/// Retry after an expired token, unless a new token makes it due earlier.
const TOKEN_RETRY_SECS: f64 = 3600.0;
/// Longest wait between two tries of one lead.
const MAX_BACKOFF_SECS: f64 = 3600.0;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    pub verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    pub challenge: Option<String>,
}

/// The subscription handshake: echoes `hub.challenge` when the verify token is ours.
#[utoipa::path(get, path = "/webhooks/facebook", tag = "lead sources", params(Handshake),
    responses((status = 200, description = "the challenge, as text/plain", content_type = "text/plain", body = String),
        (status = 403, body = crate::error::ErrorBody)))]
async fn handshake(State(state): State<AppState>, Query(q): Query<Handshake>) -> Result<Response> {
    let expected = state
        .config
        .intake
        .facebook_verify_token
        .as_deref()
        .unwrap_or("");
    let given = q.verify_token.as_deref().unwrap_or("");
    let same: bool = expected.as_bytes().ct_eq(given.as_bytes()).into();
    let challenge = q.challenge.unwrap_or_default();
    if q.mode.as_deref() != Some("subscribe") || expected.is_empty() || !same {
        return Err(ApiError::Forbidden(
            "hub.verify_token: does not match LEADLINE_FACEBOOK_VERIFY_TOKEN (or hub.mode is not subscribe)".into(),
        ));
    }
    if challenge.is_empty() || challenge.len() > 500 {
        return Err(ApiError::invalid(
            "hub.challenge: required, at most 500 characters",
        ));
    }
    let mut res = challenge.into_response();
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(res)
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` with `secret`
/// (compared in constant time).
pub fn signature_ok(secret: &str, header: Option<&str>, body: &[u8]) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// One `leadgen` change of a notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Leadgen {
    pub page_id: String,
    pub leadgen_id: String,
    pub value: Value,
}

fn id_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The leadgen changes of a page notification (pure); other objects and fields are none.
pub fn leadgens(payload: &Value) -> Result<Vec<Leadgen>> {
    if !payload.is_object() {
        return Err(ApiError::invalid("body: expected a JSON object"));
    }
    if payload.get("object").and_then(Value::as_str) != Some("page") {
        return Ok(vec![]);
    }
    let mut out = vec![];
    let entries = payload
        .get("entry")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for entry in entries {
        let changes = entry
            .get("changes")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for change in changes {
            if change.get("field").and_then(Value::as_str) != Some("leadgen") {
                continue;
            }
            let value = change.get("value").cloned().unwrap_or(Value::Null);
            let leadgen_id = id_of(value.get("leadgen_id"))
                .ok_or_else(|| ApiError::invalid("entry.changes.value.leadgen_id: required"))?;
            let page_id = id_of(value.get("page_id"))
                .or_else(|| id_of(entry.get("id")))
                .ok_or_else(|| ApiError::invalid("entry.id: the page id is required"))?;
            let digits =
                |s: &str| !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_digit());
            if !digits(&leadgen_id) || !digits(&page_id) {
                return Err(ApiError::invalid(
                    "entry.changes.value: leadgen_id and page_id must be numeric ids",
                ));
            }
            out.push(Leadgen {
                page_id,
                leadgen_id,
                value,
            });
        }
    }
    Ok(out)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationAccepted {
    pub ok: bool,
    /// Leads stored for fetching (a repeated notification stores nothing new).
    pub stored: usize,
    /// Leads of pages no lead source is connected to (not stored).
    pub unknown_pages: usize,
}

/// Receives a Lead Ads notification. 200 once every lead it names is stored for fetching;
/// 401 when the signature does not verify (or no app secret is configured).
#[utoipa::path(post, path = "/webhooks/facebook", tag = "lead sources",
    request_body(content = Object, description = "a Graph webhook notification of the page object, signed with X-Hub-Signature-256"),
    params(("X-Hub-Signature-256" = String, Header, description = "sha256=<hex HMAC-SHA256 of the body with the app secret>")),
    responses((status = 200, body = NotificationAccepted),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
async fn notification(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<NotificationAccepted>> {
    let Some(secret) = state.config.intake.facebook_app_secret.as_deref() else {
        return Err(ApiError::Unauthorized(
            "Facebook webhooks are not configured (LEADLINE_FACEBOOK_APP_SECRET)".into(),
        ));
    };
    let sig = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if !signature_ok(secret, sig, &body) {
        tracing::warn!("rejected a Facebook webhook with a bad signature");
        return Err(ApiError::Unauthorized(
            "X-Hub-Signature-256: missing or does not match the body".into(),
        ));
    }
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest("invalid_json", format!("body: not valid JSON: {e}")))?;
    let leads = leadgens(&payload)?;
    let mut stored = 0;
    let mut unknown_pages = 0;
    let mut tx = crate::db::begin(&state.pool).await?;
    let mut by_page: std::collections::HashMap<String, Option<(i64, AccountId)>> =
        Default::default();
    for lead in &leads {
        let found = match by_page.get(&lead.page_id) {
            Some(found) => *found,
            None => {
                let found = sources::by_page(&state.pool, &lead.page_id)
                    .await?
                    .map(|s| (s.id, s.account_id));
                by_page.insert(lead.page_id.clone(), found);
                found
            }
        };
        let Some((source_id, account)) = found else {
            unknown_pages += 1;
            tracing::warn!(page = %lead.page_id, "a Facebook lead of a page no source is connected to");
            continue;
        };
        let n = sqlx::query(
            "insert into facebook_leads (account_id, source_id, leadgen_id, notification)
             values ($1, $2, $3, $4) on conflict (account_id, leadgen_id) do nothing",
        )
        .bind(account)
        .bind(source_id)
        .bind(&lead.leadgen_id)
        .bind(&lead.value)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        stored += n as usize;
    }
    tx.commit().await?;
    if stored > 0 {
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = fetch_due(&state).await {
                tracing::warn!(error = %e, "facebook lead fetch failed");
            }
        });
    }
    Ok(Json(NotificationAccepted {
        ok: true,
        stored,
        unknown_pages,
    }))
}

/// The lead of a Graph answer (pure).
pub fn submission(lead: &GraphLead, leadgen_id: &str, notification: &Value) -> Submission {
    let mut sub = Submission::new("facebook");
    sub.external_id = Some(leadgen_id.to_string());
    for f in lead.field_data.iter().take(200) {
        let value = f.values.join(", ");
        match super::field_for(&f.name) {
            Some(field) => sub.fields.set(field, &value),
            None => sub.keep(&f.name, Value::String(value)),
        }
    }
    sub.timestamp = lead
        .created_time
        .as_deref()
        .and_then(|t| DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%z").ok())
        .map(|t| t.with_timezone(&Utc));
    let mut data = Map::new();
    data.insert("leadgen_id".into(), Value::String(leadgen_id.to_string()));
    let from_note = |k: &str| id_of(notification.get(k));
    for (key, v) in [
        ("page_id", from_note("page_id")),
        (
            "form_id",
            lead.form_id.clone().or_else(|| from_note("form_id")),
        ),
        ("ad_id", lead.ad_id.clone().or_else(|| from_note("ad_id"))),
        ("adgroup_id", from_note("adgroup_id")),
        ("campaign_id", lead.campaign_id.clone()),
        ("platform", lead.platform.clone()),
    ] {
        if let Some(v) = v {
            data.insert(key.into(), Value::String(super::bounded(&v, 200)));
        }
    }
    if let Some(o) = lead.is_organic {
        data.insert("is_organic".into(), Value::Bool(o));
    }
    sub.attribution.campaign = lead.campaign_id.clone();
    for key in [
        "campaign_id",
        "adgroup_id",
        "ad_id",
        "form_id",
        "platform",
        "is_organic",
    ] {
        if let Some(v) = data.get(key) {
            sub.attribution.detail.insert(key.into(), v.clone());
        }
    }
    sub.provider_data = data;
    sub
}

#[derive(Debug, sqlx::FromRow)]
struct Pending {
    id: i64,
    account_id: AccountId,
    source_id: i64,
    leadgen_id: String,
    notification: Value,
    attempts: i32,
}

/// Claims due leads (across replicas: `SKIP LOCKED`, with a lease).
async fn claim(state: &AppState) -> Result<Vec<Pending>> {
    Ok(sqlx::query_as::<_, Pending>(
        "update facebook_leads f set attempts = f.attempts + 1, updated_at = now(),
             next_attempt_at = now() + make_interval(secs => $2)
         where f.id in (select id from facebook_leads
                        where status = 'pending' and next_attempt_at <= now()
                        order by next_attempt_at, id limit $1 for update skip locked)
         returning f.id, f.account_id, f.source_id, f.leadgen_id, f.notification, f.attempts",
    )
    .bind(BATCH)
    .bind(LEASE_SECS)
    .fetch_all(&state.pool)
    .await?)
}

/// Seconds before the next try after `attempts` failed ones.
pub fn backoff_secs(attempts: i32) -> f64 {
    (30.0 * 2f64.powi(attempts.clamp(0, 16) - 1)).clamp(30.0, MAX_BACKOFF_SECS)
}

async fn retry_later(state: &AppState, p: &Pending, secs: f64, error: &str) -> Result<()> {
    sqlx::query(
        "update facebook_leads set next_attempt_at = now() + make_interval(secs => $3),
             last_error = $4, updated_at = now()
         where account_id = $1 and id = $2",
    )
    .bind(p.account_id)
    .bind(p.id)
    .bind(secs)
    .bind(super::bounded(error, 1000))
    .execute(&state.pool)
    .await?;
    Ok(())
}

/// Fetches and records one claimed lead; failures keep it pending.
async fn fetch_one(state: &AppState, graph: &GraphClient, p: Pending) -> Result<()> {
    let Some(source) = sources::by_id(&state.pool, p.account_id, p.source_id).await? else {
        return Ok(()); // deleted with its source
    };
    if !source.enabled {
        return retry_later(state, &p, TOKEN_RETRY_SECS, "the lead source is disabled").await;
    }
    let Some(token) = source.secret(state)? else {
        let msg = "no page access token: set one on the lead source";
        sources::set_error(&state.pool, &source, Some((msg, None))).await?;
        return retry_later(state, &p, TOKEN_RETRY_SECS, msg).await;
    };
    let lead = match graph.lead(&p.leadgen_id, &token).await {
        Ok(lead) => lead,
        Err(e) => return graph_failed(state, &source, &p, e).await,
    };
    let sub = submission(&lead, &p.leadgen_id, &p.notification);
    match super::deliver(state, &source, sub).await {
        Ok(d) => {
            sqlx::query(
                "update facebook_leads set status = 'done', communication_id = $3, last_error = null,
                     updated_at = now()
                 where account_id = $1 and id = $2",
            )
            .bind(p.account_id)
            .bind(p.id)
            .bind(d.communication_id)
            .execute(&state.pool)
            .await?;
            if source.last_error.is_some() {
                sources::set_error(&state.pool, &source, None).await?;
            }
            Ok(())
        }
        Err(e) if e.is_transient() => {
            retry_later(state, &p, backoff_secs(p.attempts), &e.to_string()).await
        }
        // The lead cannot be stored as it is (no email or phone): the fetched lead goes to
        // the quarantine (nothing lost, a person can retry it) and the notification is done.
        Err(e) => {
            let raw = serde_json::to_vec(&lead).map_err(|e| ApiError::Internal(e.into()))?;
            let context =
                serde_json::json!({"leadgen_id": p.leadgen_id, "notification": p.notification});
            let id = super::quarantine(state, &source, &raw, &e, context).await?;
            sqlx::query(
                "update facebook_leads set status = 'done', last_error = $3, updated_at = now()
                 where account_id = $1 and id = $2",
            )
            .bind(p.account_id)
            .bind(p.id)
            .bind(format!("quarantined (item {id}): {e}"))
            .execute(&state.pool)
            .await?;
            Ok(())
        }
    }
}

async fn graph_failed(state: &AppState, source: &Source, p: &Pending, e: GraphError) -> Result<()> {
    let msg = e.to_string();
    tracing::warn!(source = source.id, leadgen = %p.leadgen_id, error = %msg, "facebook lead fetch failed");
    let code = e.code().and_then(|c| i32::try_from(c).ok());
    if e.token_invalid() {
        let msg = format!("the page access token expired or is invalid; set a new one: {msg}");
        sources::set_error(&state.pool, source, Some((&msg, code))).await?;
        return retry_later(state, p, TOKEN_RETRY_SECS, &msg).await;
    }
    if !e.rate_limited() {
        sources::set_error(&state.pool, source, Some((&msg, code))).await?;
    }
    retry_later(state, p, backoff_secs(p.attempts), &msg).await
}

/// Fetches every due lead (until none is due); returns how many were tried.
pub async fn fetch_due(state: &AppState) -> Result<usize> {
    let graph = GraphClient::new(&state.config.intake.facebook_graph_url);
    let mut tried = 0;
    loop {
        let batch = claim(state).await?;
        if batch.is_empty() {
            return Ok(tried);
        }
        tried += batch.len();
        let runs = batch.into_iter().map(|p| fetch_one(state, &graph, p));
        for r in futures_util::future::join_all(runs).await {
            if let Err(e) = r {
                tracing::warn!(error = %e, "facebook lead not settled");
            }
        }
    }
}

/// Runs the fetch every few seconds for as long as the process runs.
pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = fetch_due(&state).await {
                tracing::warn!(error = %e, "facebook lead fetch failed");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::graph::FieldData;
    use serde_json::json;

    #[test]
    fn signatures_are_checked_over_the_raw_body() {
        let body = br#"{"object":"page"}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"appsecret").unwrap();
        mac.update(body);
        let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(signature_ok("appsecret", Some(&good), body));
        assert!(!signature_ok("other", Some(&good), body));
        assert!(!signature_ok("appsecret", Some(&good), b"{}"));
        assert!(!signature_ok("appsecret", Some("sha1=abc"), body));
        assert!(!signature_ok("appsecret", None, body));
    }

    #[test]
    fn leadgen_changes_are_read_from_the_documented_payload() {
        let p = json!({"object": "page", "entry": [{"id": "444", "time": 1700000000, "changes": [
            {"field": "leadgen", "value": {"leadgen_id": "123", "page_id": "444", "form_id": "9",
             "ad_id": "7", "adgroup_id": "6", "created_time": 1700000000}},
            {"field": "feed", "value": {}}
        ]}]});
        let l = leadgens(&p).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(
            (l[0].page_id.as_str(), l[0].leadgen_id.as_str()),
            ("444", "123")
        );
        assert!(leadgens(&json!({"object": "user", "entry": []}))
            .unwrap()
            .is_empty());
        assert!(
            leadgens(&json!({"object": "page", "entry": [{"id": "1", "changes": [
            {"field": "leadgen", "value": {"leadgen_id": "../x"}}]}]}))
            .is_err()
        );
    }

    #[test]
    fn field_data_maps_to_lead_fields_and_custom_questions() {
        let lead = GraphLead {
            created_time: Some("2026-12-07T10:00:00+0000".into()),
            field_data: [
                ("full_name", "Jane Doe"),
                ("email", "jane@x.com"),
                ("phone_number", "+13126412278"),
                ("street_address", "12 Oak St"),
                ("city", "Springfield"),
                ("state", "IL"),
                ("zip_code", "62704"),
                ("how_old_is_your_roof?", "20"),
                ("best_time_to_call", "evenings"),
            ]
            .iter()
            .map(|(n, v)| FieldData {
                name: n.to_string(),
                values: vec![v.to_string()],
            })
            .collect(),
            campaign_id: Some("55".into()),
            ..GraphLead::default()
        };
        let s = submission(&lead, "123", &json!({"page_id": "444", "adgroup_id": "6"}));
        assert_eq!(s.external_id.as_deref(), Some("123"));
        assert_eq!(
            s.fields.full_address().as_deref(),
            Some("12 Oak St, Springfield, IL 62704")
        );
        assert_eq!(s.fields.roof_age.as_deref(), Some("20"));
        assert_eq!(s.extra["best_time_to_call"], "evenings");
        assert_eq!(s.attribution.campaign.as_deref(), Some("55"));
        assert_eq!(s.provider_data["adgroup_id"], "6");
        assert!(s.timestamp.is_some());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_secs(1), 30.0);
        assert_eq!(backoff_secs(2), 60.0);
        assert_eq!(backoff_secs(30), MAX_BACKOFF_SECS);
    }
}
