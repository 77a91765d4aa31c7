//! Leads: identity (find-or-create by normalized email / E.164 phone) and the lead API.

pub mod aggregates;
pub mod attribution;
pub mod insights;
pub mod store;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{AuthAccount, Caller};
use crate::domain::{AccountId, Email, Identity, LeadProfile, Phone};
use crate::error::{unique_violation, ApiError, Result};
use crate::extract::{Json, Path, Query};
use crate::pagination::{Cursor, Page, PageParams};
use crate::phone::{normalize_email, normalize_phone};
use crate::state::AppState;

pub const STATUSES: [&str; 7] = [
    "new",
    "contacted",
    "inspection_scheduled",
    "inspected",
    "quoted",
    "won",
    "lost",
];
const LEAD_COLUMNS: &str = "id, name, email, phone, property_address, roof_age_years, issues, timeline, budget, \
     source, campaign, attribution, status, assigned_user_id, score, score_band, score_breakdown, insights, sms_opted_out_at, last_activity_at, created_at, updated_at";

/// A lead as the API returns it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Lead {
    pub id: i64,
    /// Name, contact, address, roof age, issues, timeline, budget (same JSON fields).
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub profile: LeadProfile,
    /// How the lead first came: `chat`, `web_form`, `google_ads`, `facebook`, a
    /// marketplace, `import`, or the channel of its first message (`email`, `sms`, …).
    pub source: Option<String>,
    /// The campaign it came from (`utm_campaign`, the ad campaign), when known.
    pub campaign: Option<String>,
    /// UTM parameters, click ids, landing page, referrer, ad and form ids.
    #[schema(value_type = Object)]
    pub attribution: serde_json::Value,
    /// Pipeline stage: new, contacted, inspection_scheduled, inspected, quoted, won, lost.
    pub status: String,
    /// The person of the team the lead is assigned to (`null`: nobody).
    pub assigned_user_id: Option<i64>,
    pub score: i32,
    /// HOT (80–100), WARM (60–79) or COLD (0–59).
    pub score_band: String,
    /// Which rule added what to the score: base and every rule that fired, in order.
    #[schema(value_type = Vec<crate::tracker::scoring::ScoreRule>)]
    pub score_breakdown: serde_json::Value,
    /// Tracker output kept current on the row: engagement and next action.
    #[schema(value_type = Object)]
    pub insights: serde_json::Value,
    pub sms_opted_out_at: Option<DateTime<Utc>>,
    pub last_activity_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who a communication is with, when the caller does not give a `lead_id`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadIdentity {
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub property_address: Option<String>,
}

/// Normalizes caller-given identity fields; an email or phone that is present but invalid is an error.
pub fn normalize_identity(
    raw: &LeadIdentity,
    region: phonenumber::country::Id,
) -> Result<Identity> {
    let email = match clean(&raw.email) {
        None => None,
        Some(e) => Some(Email::parse(&e).ok_or_else(|| {
            ApiError::invalid(format!("lead.email {e:?} is not an email address"))
        })?),
    };
    let phone = match clean(&raw.phone) {
        None => None,
        Some(p) => Some(Phone::parse(&p, region).ok_or_else(|| {
            ApiError::invalid(format!("lead.phone {p:?} is not a valid phone number"))
        })?),
    };
    Ok(Identity {
        name: bounded(clean(&raw.name), "lead.name", 200)?,
        email,
        phone,
        property_address: bounded(clean(&raw.property_address), "lead.property_address", 500)?,
    })
}

pub(crate) fn clean(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

pub(crate) fn bounded(v: Option<String>, field: &str, max: usize) -> Result<Option<String>> {
    match v {
        Some(s) if s.chars().count() > max => Err(ApiError::invalid(format!(
            "{field} is longer than {max} characters"
        ))),
        other => Ok(other),
    }
}

/// The lead if it belongs to the account; another account's lead is "not found".
pub async fn get(pool: &sqlx::PgPool, account: AccountId, id: i64) -> Result<Lead> {
    sqlx::query_as::<_, Lead>(&format!(
        "select {LEAD_COLUMNS} from leads where id = $1 and account_id = $2"
    ))
    .bind(id)
    .bind(account)
    .fetch_optional(pool)
    .await?
    .ok_or(ApiError::NotFound("lead"))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_leads, create_lead))
        .routes(routes!(get_lead, update_lead))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeadFilter {
    /// Pipeline stage.
    #[param(pattern = "^(new|contacted|inspection_scheduled|inspected|quoted|won|lost)$")]
    pub status: Option<String>,
    /// HOT, WARM or COLD (any case).
    #[param(pattern = "^(HOT|WARM|COLD|hot|warm|cold)$")]
    pub band: Option<String>,
    /// Matches name, email or phone (case-insensitive substring).
    pub q: Option<String>,
    /// `me` (the signed-in user's leads), `unassigned`, or a user id.
    #[param(pattern = "^(me|unassigned|[0-9]+)$")]
    pub assigned: Option<String>,
    /// The lead's first source (`web_form`, `google_ads`, `chat`, `sms`, …).
    pub source: Option<String>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

/// The `assigned` filter of lead lists and exports: `me`, `unassigned` or a user id, as
/// (only unassigned, only this assignee).
pub fn assigned_filter(assigned: Option<&str>, caller: &Caller) -> Result<(bool, Option<i64>)> {
    Ok(match assigned.map(str::trim) {
        None | Some("") => (false, None),
        Some("unassigned") => (true, None),
        Some("me") => (
            false,
            Some(caller.user_id().ok_or_else(|| {
                ApiError::invalid(
                    "assigned=me needs a signed-in user (an API key is nobody): give a user id",
                )
            })?),
        ),
        Some(id) => {
            (
                false,
                Some(id.parse::<i64>().map_err(|_| {
                    ApiError::invalid("assigned must be me, unassigned or a user id")
                })?),
            )
        }
    })
}

/// Leads, most recent activity first.
#[utoipa::path(get, path = "/api/leads", tag = "leads", params(LeadFilter),
    responses((status = 200, body = Page<Lead>), (status = 401, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn list_leads(
    State(state): State<AppState>,
    caller: Caller,
    Query(f): Query<LeadFilter>,
) -> Result<Json<Page<Lead>>> {
    let account = caller.account;
    let (unassigned, assignee) = assigned_filter(f.assigned.as_deref(), &caller)?;
    let page = PageParams {
        limit: f.limit,
        cursor: f.cursor.clone(),
    };
    let limit = page.limit()?;
    let cursor = page.cursor()?;
    if let Some(s) = &f.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(ApiError::invalid(format!(
                "status must be one of {}",
                STATUSES.join(", ")
            )));
        }
    }
    let band = f.band.as_deref().map(str::to_ascii_uppercase);
    if let Some(b) = &band {
        if !["HOT", "WARM", "COLD"].contains(&b.as_str()) {
            return Err(ApiError::invalid("band must be HOT, WARM or COLD"));
        }
    }
    let q = clean(&f.q).map(|q| {
        format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let rows = sqlx::query_as::<_, Lead>(&format!(
        "select {LEAD_COLUMNS} from leads
         where account_id = $1
           and ($2::text is null or status = $2)
           and ($3::text is null or score_band = $3)
           and ($4::text is null or name ilike $4 or email ilike $4 or phone ilike $4)
           and ($5::timestamptz is null or (last_activity_at, id) < ($5, $6))
           and (not $8 or assigned_user_id is null)
           and ($9::bigint is null or assigned_user_id = $9)
           and ($10::text is null or source = $10)
         order by last_activity_at desc, id desc
         limit $7"
    ))
    .bind(account)
    .bind(&f.status)
    .bind(&band)
    .bind(&q)
    .bind(cursor.map(|c| c.at))
    .bind(cursor.map(|c| c.id).unwrap_or(0))
    .bind(limit + 1)
    .bind(unassigned)
    .bind(assignee)
    .bind(clean(&f.source))
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(Page::from_rows(rows, limit, |l| Cursor {
        at: l.last_activity_at,
        id: l.id,
    })))
}

/// Fields a roofer may set on a lead. In a PATCH, an absent field is left alone and `null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadFields {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub property_address: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 200)]
    pub roof_age_years: Option<Option<i32>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub issues: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub timeline: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub budget: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub source: Option<Option<String>>,
    /// Pipeline stage (cannot be cleared).
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub status: Option<String>,
    /// Assign to this user of the account (`null`: unassign).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub assigned_user_id: Option<Option<i64>>,
}

/// Distinguishes "absent" (outer None, via `default`) from `null` (Some(None)); an empty
/// string means absent too.
fn present<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    use serde::de::Error;
    match Option::<serde_json::Value>::deserialize(d)? {
        None => Ok(Some(None)),
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => T::deserialize(v)
            .map(|t| Some(Some(t)))
            .map_err(D::Error::custom),
    }
}

/// Validated lead fields: `Some(v)` = set to v (v may be None = clear).
struct LeadChanges {
    name: Option<Option<String>>,
    email: Option<Option<String>>,
    phone: Option<Option<String>>,
    property_address: Option<Option<String>>,
    roof_age_years: Option<Option<i32>>,
    issues: Option<Vec<String>>,
    timeline: Option<Option<String>>,
    budget: Option<Option<String>>,
    source: Option<Option<String>>,
    status: Option<String>,
    assigned_user_id: Option<Option<i64>>,
}

fn validate_fields(f: LeadFields, region: phonenumber::country::Id) -> Result<LeadChanges> {
    let text =
        |v: Option<Option<String>>, field: &str, max: usize| -> Result<Option<Option<String>>> {
            v.map(|inner| bounded(clean(&inner), field, max))
                .transpose()
        };
    let email = f
        .email
        .map(|e| match clean(&e) {
            None => Ok(None),
            Some(e) => normalize_email(&e)
                .map(Some)
                .ok_or_else(|| ApiError::invalid(format!("email {e:?} is not an email address"))),
        })
        .transpose()?;
    let phone = f
        .phone
        .map(|p| match clean(&p) {
            None => Ok(None),
            Some(p) => normalize_phone(&p, region).map(Some).ok_or_else(|| {
                ApiError::invalid(format!("phone {p:?} is not a valid phone number"))
            }),
        })
        .transpose()?;
    if let Some(Some(age)) = f.roof_age_years {
        if !(0..=200).contains(&age) {
            return Err(ApiError::invalid(
                "roof_age_years must be between 0 and 200",
            ));
        }
    }
    if let Some(s) = &f.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(ApiError::invalid(format!(
                "status must be one of {}",
                STATUSES.join(", ")
            )));
        }
    }
    let issues = match f.issues {
        None => None,
        Some(list) => {
            let list: Vec<String> = list
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if list.len() > 50 || list.iter().any(|s| s.chars().count() > 200) {
                return Err(ApiError::invalid(
                    "issues: at most 50 items of at most 200 characters",
                ));
            }
            Some(list)
        }
    };
    Ok(LeadChanges {
        name: text(f.name, "name", 200)?,
        email,
        phone,
        property_address: text(f.property_address, "property_address", 500)?,
        roof_age_years: f.roof_age_years,
        issues,
        timeline: text(f.timeline, "timeline", 200)?,
        budget: text(f.budget, "budget", 200)?,
        source: text(f.source, "source", 200)?,
        status: f.status,
        assigned_user_id: f.assigned_user_id,
    })
}

fn conflict_on_identity(e: sqlx::Error) -> ApiError {
    match unique_violation(&e) {
        Some("leads_account_email") => ApiError::Conflict(
            "duplicate_email",
            "another lead already has this email".into(),
        ),
        Some("leads_account_phone") => ApiError::Conflict(
            "duplicate_phone",
            "another lead already has this phone number".into(),
        ),
        _ => e.into(),
    }
}

/// A lead may be assigned only to an active user of its account.
async fn check_assignee(pool: &sqlx::PgPool, account: AccountId, user: i64) -> Result<()> {
    let ok: bool = sqlx::query_scalar(
        "select exists(select 1 from users where account_id = $1 and id = $2 and disabled_at is null)",
    )
    .bind(account)
    .bind(user)
    .fetch_one(pool)
    .await?;
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "assigned_user_id must be an active user of this account",
        ))
    }
}

/// Creates a lead.
#[utoipa::path(post, path = "/api/leads", tag = "leads", request_body = LeadFields,
    responses((status = 201, body = Lead), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn create_lead(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Json(body): Json<LeadFields>,
) -> Result<(StatusCode, Json<Lead>)> {
    let c = validate_fields(body, state.config.default_region)?;
    let assignee = c.assigned_user_id.flatten();
    if let Some(user) = assignee {
        check_assignee(&state.pool, account, user).await?;
    }
    // Without an assignee given, the account's assignment rule picks one (a trigger).
    let id: i64 = sqlx::query_scalar(
        "insert into leads (account_id, name, email, phone, property_address, roof_age_years, issues, timeline, budget, source, status, assigned_user_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, 'manual'), coalesce($11, 'new'), $12) returning id",
    )
    .bind(account)
    .bind(c.name.flatten())
    .bind(c.email.flatten())
    .bind(c.phone.flatten())
    .bind(c.property_address.flatten())
    .bind(c.roof_age_years.flatten())
    .bind(c.issues.unwrap_or_default())
    .bind(c.timeline.flatten())
    .bind(c.budget.flatten())
    .bind(c.source.flatten())
    .bind(c.status)
    .bind(assignee)
    .fetch_one(&state.pool)
    .await
    .map_err(conflict_on_identity)?;
    crate::leads::store::refresh_lead(&state.pool, account, id).await?;
    Ok((
        StatusCode::CREATED,
        Json(get(&state.pool, account, id).await?),
    ))
}

/// One lead.
#[utoipa::path(get, path = "/api/leads/{id}", tag = "leads", params(("id" = i64, Path)),
    responses((status = 200, body = Lead), (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn get_lead(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Path(id): Path<i64>,
) -> Result<Json<Lead>> {
    Ok(Json(get(&state.pool, account, id).await?))
}

/// Updates some fields of a lead; the score is recomputed.
#[utoipa::path(patch, path = "/api/leads/{id}", tag = "leads", params(("id" = i64, Path)), request_body = LeadFields,
    responses((status = 200, body = Lead), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn update_lead(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<LeadFields>,
) -> Result<Json<Lead>> {
    let account = caller.account;
    let c = validate_fields(body, state.config.default_region)?;
    if let Some(Some(user)) = c.assigned_user_id {
        check_assignee(&state.pool, account, user).await?;
    }
    let before: Option<Option<i64>> = match c.assigned_user_id {
        Some(_) => Some(
            sqlx::query_scalar::<_, Option<i64>>(
                "select assigned_user_id from leads where id = $1 and account_id = $2",
            )
            .bind(id)
            .bind(account)
            .fetch_optional(&state.pool)
            .await?
            .ok_or(ApiError::NotFound("lead"))?,
        ),
        None => None,
    };
    let updated = sqlx::query(
        "update leads set
            name = case when $3 then $4 else name end,
            email = case when $5 then $6 else email end,
            phone = case when $7 then $8 else phone end,
            property_address = case when $9 then $10 else property_address end,
            roof_age_years = case when $11 then $12 else roof_age_years end,
            issues = coalesce($13, issues),
            timeline = case when $14 then $15 else timeline end,
            budget = case when $16 then $17 else budget end,
            source = case when $18 then $19 else source end,
            status = coalesce($20, status),
            assigned_user_id = case when $21 then $22 else assigned_user_id end,
            updated_at = now()
         where id = $1 and account_id = $2",
    )
    .bind(id)
    .bind(account)
    .bind(c.name.is_some())
    .bind(c.name.flatten())
    .bind(c.email.is_some())
    .bind(c.email.flatten())
    .bind(c.phone.is_some())
    .bind(c.phone.flatten())
    .bind(c.property_address.is_some())
    .bind(c.property_address.flatten())
    .bind(c.roof_age_years.is_some())
    .bind(c.roof_age_years.flatten())
    .bind(c.issues)
    .bind(c.timeline.is_some())
    .bind(c.timeline.flatten())
    .bind(c.budget.is_some())
    .bind(c.budget.flatten())
    .bind(c.source.is_some())
    .bind(c.source.flatten())
    .bind(c.status)
    .bind(c.assigned_user_id.is_some())
    .bind(c.assigned_user_id.flatten())
    .execute(&state.pool)
    .await
    .map_err(conflict_on_identity)?;
    if updated.rows_affected() == 0 {
        return Err(ApiError::NotFound("lead"));
    }
    if let (Some(from), Some(to)) = (before, c.assigned_user_id) {
        if from != to {
            let entry = crate::audit::Entry::by(
                &caller,
                "lead.assigned",
                Some(format!("lead:{id}")),
                serde_json::json!({ "from": from, "to": to }),
            );
            crate::audit::record(&state.pool, entry).await?;
        }
    }
    crate::leads::store::refresh_lead(&state.pool, account, id).await?;
    Ok(Json(get(&state.pool, account, id).await?))
}
