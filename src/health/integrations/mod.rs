//! `GET /api/health/integrations`: for the caller's account, whether each integration
//! works — the database, every connected mailbox, Telnyx SMS, the AI responder and every
//! chat site — with when it last worked, its last error, and what it did lately.
//!
//! Everything is read from what the channels already record (sync state on the mailbox
//! rows, Telnyx errors on the SMS row, outbox failures, webhook events, and the
//! `metadata.ai` that every recorded AI reply carries), so any replica answers the same.
//! Each kind is checked once for the whole account (no query per mailbox or site), all
//! kinds at once, each bounded in time; a kind whose check fails becomes one `error`
//! entry and leaves the others alone. Nothing secret is read, so nothing secret is shown.
//!
//! One file a kind ([`database`], [`email`], [`sms`], [`ai`], [`chat`]): its check, the pure
//! status rule the check applies, and the details it reports.

mod ai;
mod chat;
mod database;
mod email;
mod lead_sources;
mod sms;

use std::future::Future;
use std::time::Duration;

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::AuthAccount;
use crate::extract::Json;
use crate::state::AppState;

use ai::ai;
pub use ai::{ai_status, AiDetails};
use chat::chat_sites;
pub use chat::{chat_site_status, ChatSiteDetails};
use database::database;
pub use database::{database_status, DatabaseDetails};
pub use email::mailboxes as email_health;
use email::mailboxes;
pub use email::{cron_period, mailbox_status, EmailDetails, FolderHealth, SyncFacts};
use lead_sources::lead_sources;
pub use lead_sources::{lead_source_status, LeadSourceDetails, LeadSourceFacts};
pub use sms::sms as sms_health;
use sms::sms;
pub use sms::{sms_status, SmsDetails, SmsFacts};

/// Longest one kind's check may take before its entry reports a timeout.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(integrations))
}

/// How an integration is doing. Ordered from best to worst; `not_configured` never
/// counts towards `overall`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    NotConfigured,
    Healthy,
    Degraded,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Database,
    Email,
    Sms,
    Ai,
    ChatSite,
    LeadSource,
}

/// The account's integrations, one entry per instance (each mailbox, each site).
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationsHealth {
    pub checked_at: DateTime<Utc>,
    /// The worst status of the configured integrations: `healthy`, `degraded` or `error`.
    pub overall: Status,
    pub integrations: Vec<IntegrationHealth>,
}

/// One integration instance.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationHealth {
    pub kind: Kind,
    /// The mailbox address, the site's name, the AI provider, "Telnyx", "PostgreSQL".
    pub name: String,
    /// False when the account has not set this up (then `status` is `not_configured`).
    pub configured: bool,
    pub status: Status,
    /// Why the status is not `healthy`, in words.
    pub reason: Option<String>,
    /// When it last worked (last successful sync, send, reply, session…).
    pub last_success_at: Option<DateTime<Utc>>,
    /// The last failure the integration recorded (or why checking it failed).
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// What each kind reports: see the `*Details` schemas (`{}` when not configured).
    pub details: Details,
}

/// Kind-specific details.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Details {
    Database(DatabaseDetails),
    Email(EmailDetails),
    Sms(SmsDetails),
    Ai(AiDetails),
    ChatSite(ChatSiteDetails),
    LeadSource(LeadSourceDetails),
    /// Not configured, or the check failed.
    Empty {},
}

// `anyOf`, not the derive's `oneOf`: the variants share no tag, and every object matches
// `{}`, so a body always matched more than one variant (and failed `oneOf`).
impl utoipa::PartialSchema for Details {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
        use utoipa::openapi::Ref;
        AnyOfBuilder::new()
            .item(Ref::from_schema_name(DatabaseDetails::name()))
            .item(Ref::from_schema_name(EmailDetails::name()))
            .item(Ref::from_schema_name(SmsDetails::name()))
            .item(Ref::from_schema_name(AiDetails::name()))
            .item(Ref::from_schema_name(ChatSiteDetails::name()))
            .item(Ref::from_schema_name(LeadSourceDetails::name()))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some("Not configured, or the check failed")),
            )
            .description(Some("Kind-specific details"))
            .into()
    }
}

impl ToSchema for Details {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        fn add<T: ToSchema>(
            schemas: &mut Vec<(
                String,
                utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
            )>,
        ) {
            schemas.push((T::name().into(), T::schema()));
            T::schemas(schemas);
        }
        add::<DatabaseDetails>(schemas);
        add::<EmailDetails>(schemas);
        add::<SmsDetails>(schemas);
        add::<AiDetails>(schemas);
        add::<ChatSiteDetails>(schemas);
        add::<LeadSourceDetails>(schemas);
    }
}

impl IntegrationHealth {
    fn not_configured(kind: Kind, name: &str) -> Self {
        Self {
            kind,
            name: name.to_string(),
            configured: false,
            status: Status::NotConfigured,
            reason: None,
            last_success_at: None,
            last_error: None,
            last_error_at: None,
            details: Details::Empty {},
        }
    }

    fn check_failed(kind: Kind, name: &str, error: String) -> Self {
        Self {
            kind,
            name: name.to_string(),
            configured: true,
            status: Status::Error,
            reason: Some("its health could not be checked".into()),
            last_success_at: None,
            last_error: Some(error),
            last_error_at: Some(Utc::now()),
            details: Details::Empty {},
        }
    }
}

/// The worst status among the configured integrations (`healthy` when none is).
pub fn overall(entries: &[IntegrationHealth]) -> Status {
    entries
        .iter()
        .map(|e| e.status)
        .filter(|s| *s != Status::NotConfigured)
        .max()
        .unwrap_or(Status::Healthy)
        .max(Status::Healthy)
}

/// Health of the account's integrations: database, each mailbox, SMS, the AI responder
/// and each chat site. Always 200 when authenticated: a failing integration, or a failing
/// check of one, is reported in its entry.
#[utoipa::path(get, path = "/api/health/integrations", tag = "health",
    responses((status = 200, body = IntegrationsHealth), (status = 401, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn integrations(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Json<IntegrationsHealth> {
    let checked_at = Utc::now();
    let ai_name = state.ai.provider_name();
    let (db, email, sms, ai, sites, sources) = tokio::join!(
        database(&state.pool),
        guarded(Kind::Email, "Email", mailboxes(&state, account)),
        guarded(Kind::Sms, "Telnyx", sms(&state.pool, account)),
        guarded(Kind::Ai, ai_name, ai(&state, account)),
        guarded(
            Kind::ChatSite,
            "Website chat",
            chat_sites(&state.pool, account)
        ),
        guarded(
            Kind::LeadSource,
            "Lead sources",
            lead_sources(&state.pool, account)
        ),
    );
    let mut entries = vec![db];
    for part in [email, sms, ai, sites, sources] {
        entries.extend(part);
    }
    Json(IntegrationsHealth {
        checked_at,
        overall: overall(&entries),
        integrations: entries,
    })
}

/// Runs one kind's check within [`CHECK_TIMEOUT`]; a failure becomes one `error` entry.
async fn guarded(
    kind: Kind,
    name: &str,
    check: impl Future<Output = sqlx::Result<Vec<IntegrationHealth>>>,
) -> Vec<IntegrationHealth> {
    let error = match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(entries)) => return entries,
        Ok(Err(e)) => format!("checking failed: {e}"),
        Err(_) => format!("checking timed out after {} s", CHECK_TIMEOUT.as_secs()),
    };
    tracing::warn!(kind = ?kind, error = %error, "integration health check failed");
    vec![IntegrationHealth::check_failed(kind, name, error)]
}

/// "45 s", "12 min", "3 h", "2 days".
fn ago(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as i64;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

/// Items waiting in the quarantine make a healthy integration `degraded` (something it
/// received is not stored) and are named in the reason of any other status.
pub fn with_quarantine(
    (status, reason): (Status, Option<String>),
    quarantined: i64,
) -> (Status, Option<String>) {
    if quarantined == 0 {
        return (status, reason);
    }
    let held = format!(
        "{quarantined} received {} could not be stored (see the quarantine)",
        if quarantined == 1 {
            "message"
        } else {
            "messages"
        }
    );
    match (status, reason) {
        (Status::Healthy, _) => (Status::Degraded, Some(held)),
        (s, Some(r)) => (s, Some(format!("{r}; {held}"))),
        (s, None) => (s, Some(held)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantined_items_degrade_a_healthy_integration_and_join_other_reasons() {
        assert_eq!(
            with_quarantine((Status::Healthy, None), 0),
            (Status::Healthy, None)
        );
        let (s, r) = with_quarantine((Status::Healthy, None), 2);
        assert_eq!(s, Status::Degraded);
        assert!(r
            .unwrap()
            .starts_with("2 received messages could not be stored"));
        let (s, r) = with_quarantine((Status::Error, Some("3 syncs in a row failed".into())), 1);
        assert_eq!(s, Status::Error);
        assert_eq!(
            r.unwrap(),
            "3 syncs in a row failed; 1 received message could not be stored (see the quarantine)"
        );
    }

    #[test]
    fn overall_is_the_worst_configured_status() {
        let entry = |status| IntegrationHealth {
            status,
            ..IntegrationHealth::not_configured(Kind::Sms, "x")
        };
        assert_eq!(overall(&[entry(Status::NotConfigured)]), Status::Healthy);
        assert_eq!(
            overall(&[
                entry(Status::Healthy),
                entry(Status::Degraded),
                entry(Status::NotConfigured)
            ]),
            Status::Degraded
        );
        assert_eq!(
            overall(&[entry(Status::Error), entry(Status::Degraded)]),
            Status::Error
        );
    }
}
