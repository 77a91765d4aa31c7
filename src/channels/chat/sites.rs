//! The roofer's side of the widget: sites (one per website, each with its public key and
//! the origins allowed to embed it), the widget's settings per site, and the embed code.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::AuthAccount;
use crate::domain::AccountId;
use crate::error::{ApiError, Result};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_site, list_sites))
        .routes(routes!(update_site, delete_site))
        .routes(routes!(put_settings, get_settings))
        .routes(routes!(widget_code))
}

/// A website that embeds the widget.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Site {
    pub id: i64,
    pub name: String,
    /// Public: it is in the embed code.
    pub site_key: String,
    /// Pages of these origins may embed the widget (`https://acmeroofing.com`).
    pub allowed_origins: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SITE_COLUMNS: &str = "id, name, site_key, allowed_origins, created_at, updated_at";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSite {
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// Up to 50 origins (scheme and host, e.g. `https://acmeroofing.com`).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SitePatch {
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    #[schema(max_items = 50)]
    pub allowed_origins: Option<Vec<String>>,
}

/// Normalizes an origin (`https://Acme.com/` → `https://acme.com`); `None` when it is
/// not a bare http(s) origin (no path, query or credentials).
pub fn normalize_origin(raw: &str) -> Option<String> {
    let url = reqwest::Url::parse(raw.trim()).ok()?;
    let bare = matches!(url.path(), "" | "/")
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || !bare {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("name must be 1 to 200 characters"));
    }
    Ok(name.to_string())
}

fn validate_origins(raw: &[String]) -> Result<Vec<String>> {
    if raw.len() > 50 {
        return Err(ApiError::invalid("allowed_origins: at most 50 origins"));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for o in raw {
        let n = normalize_origin(o).ok_or_else(|| {
            ApiError::invalid(format!(
                "allowed_origins: {o:?} is not an origin such as https://acmeroofing.com (scheme and host, no path)"
            ))
        })?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

fn new_site_key() -> String {
    let tail: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!("ws_{tail}")
}

/// Adds a website; its widget starts with default settings.
#[utoipa::path(post, path = "/api/integrations/chat/sites", tag = "chat", request_body = NewSite,
    responses((status = 201, body = Site), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn create_site(
    State(state): State<AppState>,
    crate::auth::Admin(caller): crate::auth::Admin,
    Json(body): Json<NewSite>,
) -> Result<(StatusCode, Json<Site>)> {
    let account = caller.account;
    let name = validate_name(&body.name)?;
    let origins = validate_origins(&body.allowed_origins)?;
    let site: Site = sqlx::query_as(&format!(
        "with s as (insert into sites (account_id, name, site_key, allowed_origins) values ($1, $2, $3, $4)
           returning {SITE_COLUMNS}),
         w as (insert into widget_settings (account_id, site_id, company_name)
           select $1, s.id, (select name from accounts where id = $1) from s)
         select {SITE_COLUMNS} from s"
    ))
    .bind(account)
    .bind(name)
    .bind(new_site_key())
    .bind(origins)
    .fetch_one(&state.pool)
    .await?;
    crate::audit::record(
        &state.pool,
        crate::audit::Entry::by(
            &caller,
            "integration.connected",
            None,
            serde_json::json!({"integration": "chat"}),
        ),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(site)))
}

/// The account's websites.
#[utoipa::path(get, path = "/api/integrations/chat/sites", tag = "chat",
    responses((status = 200, body = Vec<Site>)), security(("api_key" = [])))]
async fn list_sites(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Result<Json<Vec<Site>>> {
    let sites = sqlx::query_as(&format!(
        "select {SITE_COLUMNS} from sites where account_id = $1 order by id"
    ))
    .bind(account)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(sites))
}

/// Renames a site or replaces its allowed origins.
#[utoipa::path(patch, path = "/api/integrations/chat/sites/{id}", tag = "chat", request_body = SitePatch,
    responses((status = 200, body = Site), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn update_site(
    State(state): State<AppState>,
    crate::auth::Admin(caller): crate::auth::Admin,
    Path(id): Path<i64>,
    Json(body): Json<SitePatch>,
) -> Result<Json<Site>> {
    let account = caller.account;
    let name = body.name.as_deref().map(validate_name).transpose()?;
    let origins = body
        .allowed_origins
        .as_deref()
        .map(validate_origins)
        .transpose()?;
    let site = sqlx::query_as(&format!(
        "update sites set name = coalesce($3, name), allowed_origins = coalesce($4, allowed_origins), updated_at = now()
         where id = $1 and account_id = $2 returning {SITE_COLUMNS}"
    ))
    .bind(id)
    .bind(account)
    .bind(name)
    .bind(origins)
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::NotFound("site"))?;
    Ok(Json(site))
}

/// Removes a site: its widget stops working; its conversations stay.
#[utoipa::path(delete, path = "/api/integrations/chat/sites/{id}", tag = "chat",
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn delete_site(
    State(state): State<AppState>,
    crate::auth::Admin(caller): crate::auth::Admin,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    let account = caller.account;
    let done = sqlx::query("delete from sites where id = $1 and account_id = $2")
        .bind(id)
        .bind(account)
        .execute(&state.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("site"));
    }
    crate::audit::record(
        &state.pool,
        crate::audit::Entry::by(
            &caller,
            "integration.disconnected",
            Some(format!("site:{id}")),
            serde_json::json!({"integration": "chat"}),
        ),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How the widget looks and behaves on one site.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct WidgetSettings {
    pub company_name: Option<String>,
    /// `#RRGGBB`
    pub color_theme: String,
    /// `bottom-right` or `bottom-left`
    pub position: String,
    pub greeting_message: Option<String>,
    pub collect_email: bool,
    pub collect_phone: bool,
    /// Answer with the AI responder until a person takes over.
    pub ai_responses: bool,
    /// Shown when nobody (and no AI) answers.
    pub offline_message: Option<String>,
}

/// What the widget itself receives (nothing internal).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicSettings {
    pub company_name: Option<String>,
    pub color_theme: String,
    pub position: String,
    pub greeting_message: Option<String>,
    pub collect_email: bool,
    pub collect_phone: bool,
    pub offline_message: Option<String>,
}

impl WidgetSettings {
    pub fn public(&self) -> PublicSettings {
        PublicSettings {
            company_name: self.company_name.clone(),
            color_theme: self.color_theme.clone(),
            position: self.position.clone(),
            greeting_message: self.greeting_message.clone(),
            collect_email: self.collect_email,
            collect_phone: self.collect_phone,
            offline_message: self.offline_message.clone(),
        }
    }
}

/// The row's columns as stored; `settings` holds the toggles.
pub type SettingsRow = (
    Option<String>,
    String,
    String,
    Option<String>,
    serde_json::Value,
);

/// SQL expressions that select a `SettingsRow` from `widget_settings w`.
pub const SETTINGS_COLUMNS: &str =
    "w.company_name, w.color_theme, w.position, w.greeting_message, w.settings";

/// The settings in a row that selected `SETTINGS_COLUMNS`; a missing settings row (a
/// left join) reads as the defaults.
pub fn settings_from_pg_row(row: &sqlx::postgres::PgRow) -> sqlx::Result<WidgetSettings> {
    use sqlx::Row;
    Ok(settings_from_row((
        row.try_get("company_name")?,
        row.try_get::<Option<String>, _>("color_theme")?
            .unwrap_or_else(|| "#1f6feb".into()),
        row.try_get::<Option<String>, _>("position")?
            .unwrap_or_else(|| "bottom-right".into()),
        row.try_get("greeting_message")?,
        row.try_get::<Option<serde_json::Value>, _>("settings")?
            .unwrap_or_default(),
    )))
}

pub fn settings_from_row(row: SettingsRow) -> WidgetSettings {
    let (company_name, color_theme, position, greeting_message, extra) = row;
    let flag = |k: &str, default: bool| extra[k].as_bool().unwrap_or(default);
    WidgetSettings {
        company_name,
        color_theme,
        position,
        greeting_message: greeting_message
            .or_else(|| Some("Hi! How can we help with your roof today?".into())),
        collect_email: flag("collect_email", true),
        collect_phone: flag("collect_phone", true),
        ai_responses: flag("ai_responses", true),
        offline_message: extra["offline_message"].as_str().map(str::to_string),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    pub site_id: i64,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub company_name: Option<String>,
    /// A hex color such as `#1f6feb`.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    #[schema(pattern = "^\\s*(#[0-9A-Fa-f]{6})?\\s*$")]
    pub color_theme: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub position: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub greeting_message: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub collect_email: Option<bool>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub collect_phone: Option<bool>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub ai_responses: Option<bool>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub offline_message: Option<String>,
}

fn text_field(name: &str, v: &Option<String>, max: usize) -> Result<Option<String>> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.chars().count() > max => Err(ApiError::invalid(format!(
            "{name} is longer than {max} characters"
        ))),
        Some(s) => Ok(Some(s.to_string())),
    }
}

fn is_hex_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
}

async fn load_settings(
    pool: &sqlx::PgPool,
    account: AccountId,
    site_id: i64,
) -> Result<WidgetSettings> {
    let row: SettingsRow = sqlx::query_as(&format!(
        "select {SETTINGS_COLUMNS} from widget_settings w where w.site_id = $1 and w.account_id = $2"
    ))
    .bind(site_id)
    .bind(account)
    .fetch_optional(pool)
    .await?
    .ok_or(ApiError::NotFound("site"))?;
    Ok(settings_from_row(row))
}

/// Sets the widget of one site; fields left out keep their value.
#[utoipa::path(post, path = "/api/integrations/chat/settings", tag = "chat", request_body = SettingsInput,
    responses((status = 200, body = WidgetSettings), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn put_settings(
    State(state): State<AppState>,
    crate::auth::Admin(caller): crate::auth::Admin,
    Json(body): Json<SettingsInput>,
) -> Result<Json<WidgetSettings>> {
    let account = caller.account;
    let mut s = load_settings(&state.pool, account, body.site_id).await?;
    if let Some(name) = &body.company_name {
        s.company_name = text_field("company_name", &Some(name.clone()), 200)?;
    }
    if let Some(color) = &body.color_theme {
        let color = color.trim();
        if !is_hex_color(color) {
            return Err(ApiError::invalid(
                "color_theme must be a hex color such as #1f6feb",
            ));
        }
        s.color_theme = color.to_ascii_lowercase();
    }
    if let Some(pos) = &body.position {
        if !matches!(pos.as_str(), "bottom-right" | "bottom-left") {
            return Err(ApiError::invalid(
                "position must be bottom-right or bottom-left",
            ));
        }
        s.position = pos.clone();
    }
    if body.greeting_message.is_some() {
        s.greeting_message = text_field("greeting_message", &body.greeting_message, 500)?;
    }
    if body.offline_message.is_some() {
        s.offline_message = text_field("offline_message", &body.offline_message, 500)?;
    }
    s.collect_email = body.collect_email.unwrap_or(s.collect_email);
    s.collect_phone = body.collect_phone.unwrap_or(s.collect_phone);
    s.ai_responses = body.ai_responses.unwrap_or(s.ai_responses);
    sqlx::query(
        "update widget_settings set company_name = $3, color_theme = $4, position = $5, greeting_message = $6,
           settings = $7, updated_at = now()
         where site_id = $1 and account_id = $2",
    )
    .bind(body.site_id)
    .bind(account)
    .bind(&s.company_name)
    .bind(&s.color_theme)
    .bind(&s.position)
    .bind(&s.greeting_message)
    .bind(json!({"collect_email": s.collect_email, "collect_phone": s.collect_phone,
        "ai_responses": s.ai_responses, "offline_message": s.offline_message}))
    .execute(&state.pool)
    .await?;
    Ok(Json(s))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SiteParam {
    pub site_id: i64,
}

/// The widget settings of one site.
#[utoipa::path(get, path = "/api/integrations/chat/settings", tag = "chat", params(SiteParam),
    responses((status = 200, body = WidgetSettings), (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn get_settings(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Query(q): Query<SiteParam>,
) -> Result<Json<WidgetSettings>> {
    Ok(Json(load_settings(&state.pool, account, q.site_id).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetCode {
    pub site_key: String,
    /// The one line to paste before `</body>`.
    pub code: String,
}

/// The embed code of one site.
#[utoipa::path(get, path = "/api/integrations/chat/widget-code", tag = "chat", params(SiteParam),
    responses((status = 200, body = WidgetCode), (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn widget_code(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    headers: HeaderMap,
    Query(q): Query<SiteParam>,
) -> Result<Json<WidgetCode>> {
    let (site_key,): (String,) =
        sqlx::query_as("select site_key from sites where id = $1 and account_id = $2")
            .bind(q.site_id)
            .bind(account)
            .fetch_optional(&state.pool)
            .await?
            .ok_or(ApiError::NotFound("site"))?;
    let base = state.public_base(&headers);
    let code = format!(r#"<script src="{base}/widget.js" data-site="{site_key}" async></script>"#);
    Ok(Json(WidgetCode { site_key, code }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalized_and_paths_refused() {
        assert_eq!(
            normalize_origin("https://AcmeRoofing.com/").as_deref(),
            Some("https://acmeroofing.com")
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:8081").as_deref(),
            Some("http://127.0.0.1:8081")
        );
        assert_eq!(
            normalize_origin("https://acme.com:443").as_deref(),
            Some("https://acme.com")
        );
        assert_eq!(normalize_origin("https://acme.com/contact"), None);
        assert_eq!(normalize_origin("ftp://acme.com"), None);
        assert_eq!(normalize_origin("acme.com"), None);
        assert_eq!(normalize_origin("https://user:pw@acme.com"), None);
    }

    #[test]
    fn colors_are_hex_only() {
        assert!(is_hex_color("#1F6feb"));
        assert!(!is_hex_color("1f6feb"));
        assert!(!is_hex_color("#1f6fe"));
        assert!(!is_hex_color("#1f6feg"));
        assert!(!is_hex_color("#ééé"));
    }
}
