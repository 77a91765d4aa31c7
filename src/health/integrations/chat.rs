//! Chat sites: can a browser show the widget at all.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::{Details, IntegrationHealth, Kind, Status};
use crate::domain::AccountId;

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatSiteDetails {
    pub site_id: i64,
    pub allowed_origins: Vec<String>,
    /// Chat sessions started in the last 24 h.
    pub sessions_24h: i64,
    pub last_session_at: Option<DateTime<Utc>>,
}

/// * `error` — the site allows no origin, so browsers refuse the widget on every page;
/// * `healthy` — otherwise (a quiet site is not a broken one; failed AI answers show
///   on the `ai` entry).
pub fn chat_site_status(allowed_origins: &[String]) -> (Status, Option<String>) {
    if allowed_origins.is_empty() {
        (
            Status::Error,
            Some("no allowed origins: the widget is refused on every page".into()),
        )
    } else {
        (Status::Healthy, None)
    }
}

#[derive(sqlx::FromRow)]
struct SiteRow {
    id: i64,
    name: String,
    allowed_origins: Vec<String>,
    sessions_24h: i64,
    last_session_at: Option<DateTime<Utc>>,
    last_activity_at: Option<DateTime<Utc>>,
}

/// Every site of the account with its recent sessions (one query).
pub(super) async fn chat_sites(
    pool: &PgPool,
    account: AccountId,
) -> sqlx::Result<Vec<IntegrationHealth>> {
    let rows: Vec<SiteRow> = sqlx::query_as(
        "with c as (
            select site_id,
                   count(*) filter (where started_at > now() - interval '24 hours') as sessions_24h,
                   max(started_at) as last_session_at,
                   greatest(max(started_at), max(last_message_at)) as last_activity_at
            from chat_sessions where account_id = $1 and site_id is not null group by site_id
         )
         select s.id, s.name, s.allowed_origins, coalesce(c.sessions_24h, 0) as sessions_24h,
                c.last_session_at, c.last_activity_at
         from sites s left join c on c.site_id = s.id
         where s.account_id = $1 order by s.id",
    )
    .bind(account)
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        return Ok(vec![IntegrationHealth::not_configured(
            Kind::ChatSite,
            "Website chat",
        )]);
    }
    Ok(rows
        .into_iter()
        .map(|s| {
            let (status, reason) = chat_site_status(&s.allowed_origins);
            IntegrationHealth {
                kind: Kind::ChatSite,
                name: s.name,
                configured: true,
                status,
                reason,
                last_success_at: s.last_activity_at,
                last_error: None,
                last_error_at: None,
                details: Details::ChatSite(ChatSiteDetails {
                    site_id: s.id,
                    allowed_origins: s.allowed_origins,
                    sessions_24h: s.sessions_24h,
                    last_session_at: s.last_session_at,
                }),
            }
        })
        .collect())
}
