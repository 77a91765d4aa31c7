//! The account's lead sources (`lead_sources`): each with its kind, a public token for
//! its URL, its settings (allowed origins, redirect, thank-you text, field mapping) and one
//! secret sealed with `crate::crypto` (Google's `google_key`, a Facebook page token, a
//! shared secret), which the API never returns. Admin CRUD under `/api/sources`, audited.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Admin;
use crate::crypto::Sealed;
use crate::domain::AccountId;
use crate::error::{unique_violation, ApiError, Result};
use crate::extract::{Json, Path};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, delete))
}

/// The kinds of source.
pub const KINDS: [&str; 6] = [
    "web_form",
    "google_ads",
    "facebook",
    "generic",
    "homeadvisor",
    "angi",
];

/// The fields a generic mapping may point at.
pub const MAPPABLE: [&str; 17] = [
    "name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address",
    "city",
    "region",
    "postal_code",
    "message",
    "roof_age",
    "issues",
    "timeline",
    "budget",
    "external_id",
    "campaign",
    "timestamp",
];

/// A source as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Source {
    pub id: i64,
    pub account_id: AccountId,
    pub kind: String,
    pub name: String,
    pub token: String,
    pub config: Value,
    pub page_id: Option<String>,
    pub enabled: bool,
    pub secret_ciphertext: Option<Vec<u8>>,
    pub secret_nonce: Option<Vec<u8>>,
    pub secret_key_id: Option<String>,
    pub spam_count: i64,
    pub leads_count: i64,
    pub last_lead_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_code: Option<i32>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, account_id, kind, name, token, config, page_id, enabled, secret_ciphertext, \
    secret_nonce, secret_key_id, spam_count, leads_count, last_lead_at, last_error, last_error_code, \
    last_error_at, created_at, updated_at";

impl Source {
    /// The settings (defaults for what is missing).
    pub fn settings(&self) -> SourceConfig {
        serde_json::from_value(self.config.clone()).unwrap_or_default()
    }

    /// The sealed secret, opened; `None` when none is set.
    pub fn secret(&self, state: &AppState) -> Result<Option<String>> {
        let (Some(ciphertext), Some(nonce), Some(key_id)) = (
            &self.secret_ciphertext,
            &self.secret_nonce,
            &self.secret_key_id,
        ) else {
            return Ok(None);
        };
        let sealed = Sealed {
            ciphertext: ciphertext.clone(),
            nonce: nonce.clone(),
            key_id: key_id.clone(),
        };
        state
            .secrets
            .open(&sealed)
            .map(Some)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("lead source {} secret: {e}", self.id)))
    }
}

/// A source's settings (`config`); each kind reads the part it needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SourceConfig {
    /// Web form: origins whose pages may post it (`https://acmeroofing.com`), up to 50.
    #[schema(max_items = 50)]
    pub allowed_origins: Vec<String>,
    /// Web form: also allow the origins of this chat site (one list for both).
    pub site_id: Option<i64>,
    /// Web form: where a plain HTML post is sent after success (303).
    pub redirect_url: Option<String>,
    /// Web form: the thank-you text of the page shown after a plain HTML post.
    pub thank_you: Option<String>,
    /// Generic: a JSON pointer (`/contact/email`) per lead field (`name`, `first_name`,
    /// `last_name`, `email`, `phone`, `address`, `city`, `region`, `postal_code`,
    /// `message`, `roof_age`, `issues`, `timeline`, `budget`, `external_id`, `campaign`,
    /// `timestamp`).
    pub mapping: BTreeMap<String, String>,
    /// Generic: the request header that must carry the source's secret (when one is set);
    /// default `X-Leadline-Secret`.
    pub secret_header: Option<String>,
    /// Generic: who sends it, recorded as the provider: `generic` (default), `zapier`, `make`.
    pub provider: Option<String>,
}

/// A source as the API shows it (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceView {
    pub id: i64,
    /// `web_form`, `google_ads`, `facebook`, `generic`, `homeadvisor` or `angi`.
    pub kind: String,
    pub name: String,
    /// Public: part of the source's URL (the form key of a web form).
    pub token: String,
    /// Where the source posts its leads.
    pub endpoint: String,
    pub enabled: bool,
    pub config: SourceConfig,
    /// Facebook: the page whose leads it receives.
    pub page_id: Option<String>,
    /// Whether a secret (google_key, page token, shared secret) is stored.
    pub has_secret: bool,
    pub leads_count: i64,
    /// Honeypot submissions answered and dropped.
    pub spam_count: i64,
    pub last_lead_at: Option<DateTime<Utc>>,
    /// Facebook: leads notified but not fetched yet (kept until they are).
    pub pending_leads: i64,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a source of this kind posts (relative to the server's public base).
pub fn endpoint_path(kind: &str, token: &str) -> String {
    match kind {
        "web_form" => format!("/api/forms/{token}"),
        "google_ads" => format!("/webhooks/google-ads/{token}"),
        "facebook" => "/webhooks/facebook".into(),
        _ => format!("/webhooks/leads/{token}"),
    }
}

fn view(s: Source, pending: i64, base: &str) -> SourceView {
    SourceView {
        endpoint: format!("{base}{}", endpoint_path(&s.kind, &s.token)),
        config: s.settings(),
        has_secret: s.secret_ciphertext.is_some(),
        id: s.id,
        kind: s.kind,
        name: s.name,
        token: s.token,
        enabled: s.enabled,
        page_id: s.page_id,
        leads_count: s.leads_count,
        spam_count: s.spam_count,
        last_lead_at: s.last_lead_at,
        pending_leads: pending,
        last_error: s.last_error,
        last_error_at: s.last_error_at,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

fn new_token() -> String {
    let tail: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    format!("src_{tail}")
}

/// An enabled source of one of `kinds` by its public token.
pub async fn by_token(pool: &PgPool, token: &str, kinds: &[&str]) -> Result<Option<Source>> {
    if token.len() > 100 {
        return Ok(None);
    }
    let kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
    Ok(sqlx::query_as::<_, Source>(&format!(
        "select {COLUMNS} from lead_sources where token = $1 and kind = any($2) and enabled"
    ))
    .bind(token)
    .bind(&kinds)
    .fetch_optional(pool)
    .await?)
}

/// The account's source by id.
pub async fn by_id(pool: &PgPool, account: AccountId, id: i64) -> Result<Option<Source>> {
    Ok(sqlx::query_as::<_, Source>(&format!(
        "select {COLUMNS} from lead_sources where account_id = $1 and id = $2"
    ))
    .bind(account)
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// The source a quarantined item came through, of the item's own account.
pub async fn of_quarantined(
    pool: &PgPool,
    quarantine_id: i64,
    source_id: i64,
) -> Result<Option<Source>> {
    Ok(sqlx::query_as::<_, Source>(&format!(
        "select {COLUMNS} from lead_sources
         where id = $2 and account_id = (select account_id from quarantine where id = $1)"
    ))
    .bind(quarantine_id)
    .bind(source_id)
    .fetch_optional(pool)
    .await?)
}

/// The Facebook source of a page (also a disabled one: its leads wait until it is enabled).
pub async fn by_page(pool: &PgPool, page_id: &str) -> Result<Option<Source>> {
    Ok(sqlx::query_as::<_, Source>(&format!(
        "select {COLUMNS} from lead_sources where kind = 'facebook' and page_id = $1"
    ))
    .bind(page_id)
    .fetch_optional(pool)
    .await?)
}

/// Counts a recorded lead (and clears the source's last error: it works).
pub async fn count_lead(pool: &PgPool, source: &Source) -> Result<()> {
    sqlx::query(
        "update lead_sources set leads_count = leads_count + 1, last_lead_at = now()
         where account_id = $1 and id = $2",
    )
    .bind(source.account_id)
    .bind(source.id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Counts a honeypot submission.
pub async fn count_spam(pool: &PgPool, source: &Source) -> Result<()> {
    sqlx::query(
        "update lead_sources set spam_count = spam_count + 1 where account_id = $1 and id = $2",
    )
    .bind(source.account_id)
    .bind(source.id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records the source's failure (`code`: the provider's error code), or clears it (`None`).
pub async fn set_error(
    pool: &PgPool,
    source: &Source,
    error: Option<(&str, Option<i32>)>,
) -> Result<()> {
    sqlx::query(
        "update lead_sources set last_error = $3, last_error_code = $4,
             last_error_at = case when $3::text is null then last_error_at else now() end
         where account_id = $1 and id = $2",
    )
    .bind(source.account_id)
    .bind(source.id)
    .bind(error.map(|(e, _)| crate::intake::bounded(e, 1000)))
    .bind(error.and_then(|(_, c)| c))
    .execute(pool)
    .await?;
    Ok(())
}

/// Body of `POST /api/sources`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSource {
    /// `web_form`, `google_ads`, `facebook`, `generic`, `homeadvisor` or `angi`.
    #[schema(pattern = "^(web_form|google_ads|facebook|generic|homeadvisor|angi)$")]
    pub kind: String,
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    pub config: Option<SourceConfig>,
    /// Google Ads: the `google_key` set in the lead form (required); Facebook: the page
    /// access token; generic: the shared secret its sender puts in `secret_header`; Angi:
    /// the `x-api-key` given to Angi. Stored sealed, never shown again.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    #[schema(max_length = 2000)]
    pub secret: Option<String>,
    /// Facebook: the page id (required).
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    #[schema(pattern = "^[0-9]{1,64}$")]
    pub page_id: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Body of `PATCH /api/sources/{id}`: absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourcePatch {
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    #[serde(default)]
    pub config: Option<SourceConfig>,
    /// A new secret (a fixed Facebook page token sends the waiting leads at once).
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    #[schema(max_length = 2000)]
    pub secret: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    #[schema(pattern = "^[0-9]{1,64}$")]
    pub page_id: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// A new public token (the old URL stops working).
    #[serde(default)]
    pub rotate_token: Option<bool>,
}

fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.contains('\0') {
        return Err(ApiError::invalid("name must be 1 to 200 characters"));
    }
    Ok(name.to_string())
}

fn validate_secret(secret: &str) -> Result<()> {
    if secret.trim().is_empty() || secret.chars().count() > 2000 || secret.contains('\0') {
        return Err(ApiError::invalid("secret must be 1 to 2000 characters"));
    }
    Ok(())
}

fn validate_page_id(page: &str) -> Result<String> {
    let page = page.trim();
    if page.is_empty() || page.len() > 64 || !page.chars().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::invalid("page_id must be the page's numeric id"));
    }
    Ok(page.to_string())
}

fn http_url(field: &str, v: &str) -> Result<()> {
    let ok = v.len() <= 2000
        && reqwest::Url::parse(v)
            .ok()
            .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if !ok {
        return Err(ApiError::invalid(format!(
            "{field}: must be an http(s) URL of at most 2000 characters"
        )));
    }
    Ok(())
}

/// Checks and normalizes a source's settings (origins normalized, the chat site the
/// account's own, pointers well-formed).
async fn validate_config(
    pool: &PgPool,
    account: AccountId,
    mut c: SourceConfig,
) -> Result<SourceConfig> {
    if c.allowed_origins.len() > 50 {
        return Err(ApiError::invalid(
            "config.allowed_origins: at most 50 origins",
        ));
    }
    let mut origins: Vec<String> = vec![];
    for o in &c.allowed_origins {
        let n = crate::channels::chat::sites::normalize_origin(o).ok_or_else(|| {
            ApiError::invalid(format!(
                "config.allowed_origins: {o:?} is not an origin such as https://acmeroofing.com (scheme and host, no path)"
            ))
        })?;
        if !origins.contains(&n) {
            origins.push(n);
        }
    }
    c.allowed_origins = origins;
    if let Some(site) = c.site_id {
        let mine: bool = sqlx::query_scalar(
            "select exists (select 1 from sites where account_id = $1 and id = $2)",
        )
        .bind(account)
        .bind(site)
        .fetch_one(pool)
        .await?;
        if !mine {
            return Err(ApiError::invalid(format!(
                "config.site_id: no chat site {site} in this account"
            )));
        }
    }
    c.redirect_url = c.redirect_url.filter(|u| !u.trim().is_empty());
    if let Some(u) = &c.redirect_url {
        http_url("config.redirect_url", u)?;
    }
    c.thank_you = c.thank_you.filter(|t| !t.trim().is_empty());
    if c.thank_you
        .as_deref()
        .is_some_and(|t| t.chars().count() > 2000 || t.contains('\0'))
    {
        return Err(ApiError::invalid(
            "config.thank_you: at most 2000 characters",
        ));
    }
    if c.mapping.len() > MAPPABLE.len() {
        return Err(ApiError::invalid("config.mapping: too many fields"));
    }
    for (field, pointer) in &c.mapping {
        if !MAPPABLE.contains(&field.as_str()) {
            return Err(ApiError::invalid(format!(
                "config.mapping: {field:?} is not one of {}",
                MAPPABLE.join(", ")
            )));
        }
        if !(pointer.is_empty() || pointer.starts_with('/'))
            || pointer.len() > 500
            || pointer.contains('\0')
        {
            return Err(ApiError::invalid(format!(
                "config.mapping.{field}: a JSON pointer starts with / (e.g. /contact/email)"
            )));
        }
    }
    c.secret_header = c.secret_header.filter(|h| !h.trim().is_empty());
    if let Some(h) = &c.secret_header {
        if h.len() > 100 || axum::http::HeaderName::from_bytes(h.trim().as_bytes()).is_err() {
            return Err(ApiError::invalid(
                "config.secret_header: not a valid header name",
            ));
        }
    }
    c.provider = c.provider.filter(|p| !p.trim().is_empty());
    if let Some(p) = &c.provider {
        if !["generic", "zapier", "make"].contains(&p.as_str()) {
            return Err(ApiError::invalid(
                "config.provider: one of generic, zapier, make",
            ));
        }
    }
    Ok(c)
}

async fn pending_of(pool: &PgPool, account: AccountId) -> Result<BTreeMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "select source_id, count(*) from facebook_leads
         where account_id = $1 and status = 'pending' group by source_id",
    )
    .bind(account)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// The account's sources with their URLs.
pub async fn list_views(
    state: &AppState,
    account: AccountId,
    base: &str,
) -> Result<Vec<SourceView>> {
    let rows = sqlx::query_as::<_, Source>(&format!(
        "select {COLUMNS} from lead_sources where account_id = $1 order by id"
    ))
    .bind(account)
    .fetch_all(&state.pool)
    .await?;
    let pending = pending_of(&state.pool, account).await?;
    Ok(rows
        .into_iter()
        .map(|s| {
            let p = pending.get(&s.id).copied().unwrap_or(0);
            view(s, p, base)
        })
        .collect())
}

async fn one_view(state: &AppState, account: AccountId, id: i64, base: &str) -> Result<SourceView> {
    let s = by_id(&state.pool, account, id)
        .await?
        .ok_or(ApiError::NotFound("lead source"))?;
    let pending = pending_of(&state.pool, account).await?;
    let p = pending.get(&s.id).copied().unwrap_or(0);
    Ok(view(s, p, base))
}

/// The account's lead sources (never their secrets).
#[utoipa::path(get, path = "/api/sources", tag = "lead sources",
    responses((status = 200, body = Vec<SourceView>), (status = 401, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    Admin(caller): Admin,
    headers: HeaderMap,
) -> Result<Json<Vec<SourceView>>> {
    let base = state.public_base(&headers);
    Ok(Json(list_views(&state, caller.account, &base).await?))
}

/// Adds a lead source: its token (the URL it posts to) is made here.
#[utoipa::path(post, path = "/api/sources", tag = "lead sources", request_body = NewSource,
    responses((status = 201, body = SourceView), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn create(
    State(state): State<AppState>,
    Admin(caller): Admin,
    headers: HeaderMap,
    Json(body): Json<NewSource>,
) -> Result<(StatusCode, Json<SourceView>)> {
    let account = caller.account;
    let kind = KINDS
        .iter()
        .find(|k| **k == body.kind)
        .ok_or_else(|| ApiError::invalid(format!("kind: one of {}", KINDS.join(", "))))?;
    let name = validate_name(&body.name)?;
    let config = validate_config(&state.pool, account, body.config.unwrap_or_default()).await?;
    if let Some(s) = &body.secret {
        validate_secret(s)?;
    }
    let page_id = match (&body.page_id, *kind) {
        (Some(p), "facebook") => Some(validate_page_id(p)?),
        (None, "facebook") => {
            return Err(ApiError::invalid("page_id: required for a facebook source"))
        }
        (Some(_), _) => return Err(ApiError::invalid("page_id: only for a facebook source")),
        (None, _) => None,
    };
    if *kind == "google_ads" && body.secret.is_none() {
        return Err(ApiError::invalid(
            "secret: the google_key you set in the Google Ads lead form is required",
        ));
    }
    let sealed = body.secret.as_deref().map(|s| state.secrets.seal(s.trim()));
    let id: i64 = sqlx::query_scalar(
        "insert into lead_sources (account_id, kind, name, token, config, page_id, enabled,
             secret_ciphertext, secret_nonce, secret_key_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning id",
    )
    .bind(account)
    .bind(kind)
    .bind(&name)
    .bind(new_token())
    .bind(serde_json::to_value(&config).map_err(|e| ApiError::Internal(e.into()))?)
    .bind(&page_id)
    .bind(body.enabled.unwrap_or(true))
    .bind(sealed.as_ref().map(|s| s.ciphertext.clone()))
    .bind(sealed.as_ref().map(|s| s.nonce.clone()))
    .bind(sealed.as_ref().map(|s| s.key_id.clone()))
    .fetch_one(&state.pool)
    .await
    .map_err(|e| match unique_violation(&e) {
        Some("lead_sources_facebook_page") => ApiError::Conflict(
            "page_taken",
            "page_id: this Facebook page is already connected to a lead source".into(),
        ),
        _ => e.into(),
    })?;
    crate::audit::record(
        &state.pool,
        crate::audit::Entry::by(
            &caller,
            "source.created",
            Some(format!("source:{id}")),
            json!({"kind": kind, "name": name, "secret": body.secret.is_some()}),
        ),
    )
    .await?;
    let base = state.public_base(&headers);
    Ok((
        StatusCode::CREATED,
        Json(one_view(&state, account, id, &base).await?),
    ))
}

/// One lead source.
#[utoipa::path(get, path = "/api/sources/{id}", tag = "lead sources", params(("id" = i64, Path)),
    responses((status = 200, body = SourceView), (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn get_one(
    State(state): State<AppState>,
    Admin(caller): Admin,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<SourceView>> {
    let base = state.public_base(&headers);
    Ok(Json(one_view(&state, caller.account, id, &base).await?))
}

/// Changes a lead source. A new secret of a Facebook source makes its waiting leads due
/// at once (the background fetch takes them within seconds).
#[utoipa::path(patch, path = "/api/sources/{id}", tag = "lead sources", params(("id" = i64, Path)),
    request_body = SourcePatch,
    responses((status = 200, body = SourceView), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn update(
    State(state): State<AppState>,
    Admin(caller): Admin,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(body): Json<SourcePatch>,
) -> Result<Json<SourceView>> {
    let account = caller.account;
    let current = by_id(&state.pool, account, id)
        .await?
        .ok_or(ApiError::NotFound("lead source"))?;
    let name = body.name.as_deref().map(validate_name).transpose()?;
    let config = match body.config {
        Some(c) => Some(validate_config(&state.pool, account, c).await?),
        None => None,
    };
    if let Some(s) = &body.secret {
        validate_secret(s)?;
    }
    let page_id = match (&body.page_id, current.kind.as_str()) {
        (Some(p), "facebook") => Some(validate_page_id(p)?),
        (Some(_), _) => return Err(ApiError::invalid("page_id: only for a facebook source")),
        (None, _) => None,
    };
    let sealed = body.secret.as_deref().map(|s| state.secrets.seal(s.trim()));
    let token = body.rotate_token.unwrap_or(false).then(new_token);
    let mut tx = crate::db::begin(&state.pool).await?;
    sqlx::query(
        "update lead_sources set
             name = coalesce($3, name),
             config = coalesce($4, config),
             page_id = coalesce($5, page_id),
             enabled = coalesce($6, enabled),
             token = coalesce($7, token),
             secret_ciphertext = coalesce($8, secret_ciphertext),
             secret_nonce = coalesce($9, secret_nonce),
             secret_key_id = coalesce($10, secret_key_id),
             last_error = case when $8::bytea is null then last_error end,
             last_error_code = case when $8::bytea is null then last_error_code end,
             updated_at = now()
         where account_id = $1 and id = $2",
    )
    .bind(account)
    .bind(id)
    .bind(&name)
    .bind(
        config
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| ApiError::Internal(e.into()))?,
    )
    .bind(&page_id)
    .bind(body.enabled)
    .bind(&token)
    .bind(sealed.as_ref().map(|s| s.ciphertext.clone()))
    .bind(sealed.as_ref().map(|s| s.nonce.clone()))
    .bind(sealed.as_ref().map(|s| s.key_id.clone()))
    .execute(&mut *tx)
    .await
    .map_err(|e| match unique_violation(&e) {
        Some("lead_sources_facebook_page") => ApiError::Conflict(
            "page_taken",
            "page_id: this Facebook page is already connected to a lead source".into(),
        ),
        _ => e.into(),
    })?;
    if sealed.is_some() || body.enabled == Some(true) {
        // A fixed token, a source enabled again: what waited for it is due now.
        sqlx::query(
            "update facebook_leads set next_attempt_at = now(), updated_at = now()
             where account_id = $1 and source_id = $2 and status = 'pending'",
        )
        .bind(account)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    crate::audit::record(
        &mut *tx,
        crate::audit::Entry::by(
            &caller,
            "source.updated",
            Some(format!("source:{id}")),
            json!({
                "name": name, "config": config.is_some(), "secret": sealed.is_some(),
                "page_id": page_id, "enabled": body.enabled, "token_rotated": token.is_some(),
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    let base = state.public_base(&headers);
    Ok(Json(one_view(&state, account, id, &base).await?))
}

/// Removes a lead source (its URL stops working; recorded leads stay).
#[utoipa::path(delete, path = "/api/sources/{id}", tag = "lead sources", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn delete(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    let mut tx = crate::db::begin(&state.pool).await?;
    let gone = sqlx::query("delete from lead_sources where account_id = $1 and id = $2")
        .bind(caller.account)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if gone == 0 {
        return Err(ApiError::NotFound("lead source"));
    }
    crate::audit::record(
        &mut *tx,
        crate::audit::Entry::by(
            &caller,
            "source.deleted",
            Some(format!("source:{id}")),
            json!({}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
