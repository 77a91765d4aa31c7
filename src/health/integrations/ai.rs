//! The AI responder: how many replies in a row fell back to the rules.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Details, IntegrationHealth, Kind, Status};
use crate::domain::AccountId;
use crate::state::AppState;

/// Replies in a row that fell back to the rules that make the AI provider `error`.
const AI_FALLBACKS_ERROR: i64 = 3;

#[derive(Debug, Serialize, ToSchema)]
pub struct AiDetails {
    /// "rules", "anthropic" or "openai".
    pub provider: String,
    /// `null` for the rules responder.
    pub model: Option<String>,
    /// AI replies recorded in the last 24 h (any channel).
    pub replies_24h: i64,
    /// Of those, how many the rules answered because the provider failed.
    pub fallbacks_24h: i64,
    /// Replies that fell back since the provider last answered.
    pub fallbacks_since_last_success: i64,
    pub last_reply_at: Option<DateTime<Utc>>,
}

/// AI responder status:
/// * the rules responder is always `healthy`: it is offline and cannot fail;
/// * a provider (Anthropic, OpenAI-compatible) is `error` when its last 3 or more
///   recorded replies all fell back to the rules, `degraded` when the latest one or two
///   did, and `healthy` otherwise (also before its first reply).
pub fn ai_status(rules: bool, fallbacks_since_last_success: i64) -> (Status, Option<String>) {
    match fallbacks_since_last_success {
        _ if rules => (Status::Healthy, None),
        0 => (Status::Healthy, None),
        n if n >= AI_FALLBACKS_ERROR => (
            Status::Error,
            Some(format!(
                "the provider failed on the last {n} replies; the rules answered"
            )),
        ),
        n => (
            Status::Degraded,
            Some(format!(
                "the provider failed on the last {n} {}; the rules answered",
                if n == 1 { "reply" } else { "replies" }
            )),
        ),
    }
}

#[derive(sqlx::FromRow)]
struct AiRow {
    last_success_at: Option<DateTime<Utc>>,
    last_error_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    fallbacks_since_last_success: i64,
    replies_24h: i64,
    fallbacks_24h: i64,
    last_reply_at: Option<DateTime<Utc>>,
}

/// The configured responder, judged by the account's recorded AI replies: each carries
/// `metadata.ai.provider` and, when the provider failed and the rules answered,
/// `metadata.ai.fallback_reason` ("anthropic: timed out after 8s"). Only this provider's
/// failures count, so a past provider's errors do not linger. One query, on the
/// `communications_ai_replies` partial index.
pub(super) async fn ai(
    state: &AppState,
    account: AccountId,
) -> sqlx::Result<Vec<IntegrationHealth>> {
    let provider = state.ai.provider_name();
    let rules = state.ai.config().provider == crate::ai::ProviderKind::Rules;
    let row: AiRow = sqlx::query_as(
        "with replies as (
            select \"timestamp\" as at, metadata->'ai'->>'provider' as provider,
                   metadata->'ai'->>'fallback_reason' as reason
            from communications
            where account_id = $1 and ai_generated and jsonb_typeof(metadata->'ai') = 'object'
         ),
         ok as (select max(at) as at from replies where provider = $2 and reason is null),
         bad as (select at, reason from replies where reason like $3 order by at desc limit 1)
         select (select at from ok) as last_success_at,
                (select at from bad) as last_error_at,
                (select reason from bad) as last_error,
                (select count(*) from replies
                  where reason like $3 and at > coalesce((select at from ok), '-infinity')) as fallbacks_since_last_success,
                (select count(*) from replies where at > now() - interval '24 hours') as replies_24h,
                (select count(*) from replies
                  where reason like $3 and at > now() - interval '24 hours') as fallbacks_24h,
                (select max(at) from replies) as last_reply_at",
    )
    .bind(account)
    .bind(provider)
    .bind(format!("{provider}: %"))
    .fetch_one(&state.pool)
    .await?;
    let (status, reason) = ai_status(rules, row.fallbacks_since_last_success);
    let model = state.ai.config().model.clone();
    Ok(vec![IntegrationHealth {
        kind: Kind::Ai,
        name: provider.into(),
        configured: true,
        status,
        reason,
        last_success_at: row.last_success_at,
        last_error: row.last_error,
        last_error_at: row.last_error_at,
        details: Details::Ai(AiDetails {
            provider: provider.into(),
            model: (!model.is_empty()).then_some(model),
            replies_24h: row.replies_24h,
            fallbacks_24h: row.fallbacks_24h,
            fallbacks_since_last_success: row.fallbacks_since_last_success,
            last_reply_at: row.last_reply_at,
        }),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ai_status_counts_fallbacks_since_the_provider_last_answered() {
        assert_eq!(ai_status(true, 5).0, Status::Healthy);
        assert_eq!(ai_status(false, 0).0, Status::Healthy);
        assert_eq!(ai_status(false, 2).0, Status::Degraded);
        assert_eq!(ai_status(false, 3).0, Status::Error);
    }
}
