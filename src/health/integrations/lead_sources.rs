//! Lead sources: does each one still bring leads in (a Facebook page token that expired
//! keeps its leads waiting; a form that allows no origin is refused by every browser).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::{Details, IntegrationHealth, Kind, Status};
use crate::domain::AccountId;

#[derive(Debug, Serialize, ToSchema)]
pub struct LeadSourceDetails {
    pub source_id: i64,
    /// `web_form`, `google_ads`, `facebook`, `generic`, `homeadvisor` or `angi`.
    pub source_kind: String,
    pub enabled: bool,
    pub leads_count: i64,
    pub spam_count: i64,
    /// Facebook leads notified but not fetched yet.
    pub pending_leads: i64,
    pub oldest_pending_at: Option<DateTime<Utc>>,
}

/// What a source's health is made of.
#[derive(Debug, Default)]
pub struct LeadSourceFacts<'a> {
    pub kind: &'a str,
    pub enabled: bool,
    pub has_secret: bool,
    /// A web form with at least one allowed origin (its own or its chat site's).
    pub has_origins: bool,
    pub last_error: Option<&'a str>,
    pub last_error_code: Option<i32>,
    pub pending_leads: i64,
    /// Seconds the oldest waiting Facebook lead has waited.
    pub oldest_pending_secs: Option<f64>,
}

/// * `error` — a Facebook source without a working page token (none, or Graph said 190:
///   its leads wait), or a web form that allows no origin (browsers' posts are refused);
/// * `degraded` — its last attempt failed, or a lead has waited more than 10 minutes;
/// * `healthy` — otherwise; a disabled source is `not_configured`.
///
/// Leads of the source waiting in the quarantine make a healthy source `degraded` (the
/// route applies `with_quarantine`).
pub fn lead_source_status(f: &LeadSourceFacts) -> (Status, Option<String>) {
    if !f.enabled {
        return (Status::NotConfigured, Some("disabled".into()));
    }
    if f.kind == "facebook" && (!f.has_secret || f.last_error_code == Some(190)) {
        let why = if f.has_secret {
            "the page access token expired or is invalid: set a new one"
        } else {
            "no page access token: set one"
        };
        return (
            Status::Error,
            Some(format!("{why} ({} leads waiting)", f.pending_leads)),
        );
    }
    if f.kind == "web_form" && !f.has_origins {
        return (
            Status::Error,
            Some("no allowed origins: browsers' posts from your pages are refused".into()),
        );
    }
    if let Some(e) = f.last_error {
        return (Status::Degraded, Some(e.to_string()));
    }
    if f.oldest_pending_secs.is_some_and(|s| s > 600.0) {
        return (
            Status::Degraded,
            Some(format!("{} leads waiting to be fetched", f.pending_leads)),
        );
    }
    (Status::Healthy, None)
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    kind: String,
    name: String,
    enabled: bool,
    has_secret: bool,
    has_origins: bool,
    leads_count: i64,
    spam_count: i64,
    last_lead_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    last_error_code: Option<i32>,
    last_error_at: Option<DateTime<Utc>>,
    pending_leads: i64,
    oldest_pending_at: Option<DateTime<Utc>>,
    quarantined: i64,
}

/// Every lead source of the account (one query); none configured: no entry.
pub(super) async fn lead_sources(
    pool: &PgPool,
    account: AccountId,
) -> sqlx::Result<Vec<IntegrationHealth>> {
    let rows: Vec<Row> = sqlx::query_as(
        "with p as (
            select source_id, count(*) as n, min(created_at) as oldest
            from facebook_leads where account_id = $1 and status = 'pending' group by source_id)
         select s.id, s.kind, s.name, s.enabled, s.secret_ciphertext is not null as has_secret,
                (jsonb_array_length(coalesce(s.config->'allowed_origins', '[]'::jsonb)) > 0
                 or exists (select 1 from sites t where t.account_id = s.account_id
                            and t.id = (s.config->>'site_id')::bigint
                            and cardinality(t.allowed_origins) > 0)) as has_origins,
                s.leads_count, s.spam_count, s.last_lead_at, s.last_error, s.last_error_code,
                s.last_error_at, coalesce(p.n, 0) as pending_leads, p.oldest as oldest_pending_at,
                (select count(*) from quarantine q where q.account_id = s.account_id
                   and q.source = 'lead_source' and q.context->>'source_id' = s.id::text) as quarantined
         from lead_sources s left join p on p.source_id = s.id
         where s.account_id = $1 order by s.id",
    )
    .bind(account)
    .fetch_all(pool)
    .await?;
    let now = Utc::now();
    Ok(rows
        .into_iter()
        .map(|r| {
            let facts = LeadSourceFacts {
                kind: &r.kind,
                enabled: r.enabled,
                has_secret: r.has_secret,
                has_origins: r.has_origins,
                last_error: r.last_error.as_deref(),
                last_error_code: r.last_error_code,
                pending_leads: r.pending_leads,
                oldest_pending_secs: r
                    .oldest_pending_at
                    .map(|t| (now - t).num_milliseconds() as f64 / 1000.0),
            };
            let (status, reason) = match lead_source_status(&facts) {
                off @ (Status::NotConfigured, _) => off,
                other => super::with_quarantine(other, r.quarantined),
            };
            IntegrationHealth {
                kind: Kind::LeadSource,
                name: r.name,
                configured: r.enabled,
                status,
                reason,
                last_success_at: r.last_lead_at,
                last_error: r.last_error,
                last_error_at: r.last_error_at,
                details: Details::LeadSource(LeadSourceDetails {
                    source_id: r.id,
                    source_kind: r.kind,
                    enabled: r.enabled,
                    leads_count: r.leads_count,
                    spam_count: r.spam_count,
                    pending_leads: r.pending_leads,
                    oldest_pending_at: r.oldest_pending_at,
                }),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expired_page_token_is_an_error_and_a_failed_attempt_degrades() {
        let fb = LeadSourceFacts {
            kind: "facebook",
            enabled: true,
            has_secret: true,
            last_error_code: Some(190),
            pending_leads: 3,
            ..Default::default()
        };
        let (s, r) = lead_source_status(&fb);
        assert_eq!(s, Status::Error);
        assert!(r.unwrap().contains("3 leads waiting"));
        let busy = LeadSourceFacts {
            last_error_code: Some(4),
            last_error: Some("Graph API error 4"),
            ..fb
        };
        assert_eq!(lead_source_status(&busy).0, Status::Degraded);
        let form = LeadSourceFacts {
            kind: "web_form",
            enabled: true,
            ..Default::default()
        };
        assert_eq!(lead_source_status(&form).0, Status::Error);
        let ok = LeadSourceFacts {
            has_origins: true,
            ..form
        };
        assert_eq!(lead_source_status(&ok).0, Status::Healthy);
    }
}
