//! The responder's bridge to the rest of Leadline: company settings per account, the
//! lead context from the tracker, the one function channels call for a reply, the
//! recording of sent replies, and the settings and preview endpoints.

use axum::extract::State;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::ai::{CompanySettings, LeadContext, Reply, ReplyRequest, Turn};
use crate::auth::AuthAccount;
use crate::communications::{record, LeadRef, NewCommunication, Recorded};
use crate::domain::LeadProfile;
use crate::domain::{AccountId, Channel, Direction, SentimentLabel};
use crate::error::{ApiError, Result};
use crate::extract::Json;
use crate::state::AppState;

/// Turns of recent conversation given to the responder.
pub const CONVERSATION_TURNS: i64 = 12;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_company, put_company))
        .routes(routes!(preview))
}

/// The account's company facts (empty when never set).
pub async fn load_company(pool: &sqlx::PgPool, account: AccountId) -> Result<CompanySettings> {
    let v: Option<serde_json::Value> =
        sqlx::query_scalar("select settings->'company' from accounts where id = $1")
            .bind(account)
            .fetch_optional(pool)
            .await?
            .flatten();
    Ok(CompanySettings::from_stored(v))
}

#[derive(sqlx::FromRow)]
struct ContextRow {
    #[sqlx(flatten)]
    profile: LeadProfile,
    score: i32,
    score_band: String,
    insights: serde_json::Value,
}

/// The responder's view of a lead: its profile and what the tracker stored on it.
pub fn context_of(
    profile: LeadProfile,
    score: i32,
    band: String,
    insights: &serde_json::Value,
) -> LeadContext {
    use serde::Deserialize;
    // A lead never scored yet has `{}`: nothing known.
    let stored = crate::tracker::LeadInsights::deserialize(insights).ok();
    let sentiment: Option<SentimentLabel> = stored.as_ref().and_then(|s| s.most_recent_sentiment);
    LeadContext {
        profile,
        score: Some(score),
        band: Some(band),
        sentiment,
        next_action: stored.map(|s| s.next_action.action),
    }
}

/// What the tracker knows about the lead, and its recent conversation (oldest first).
pub async fn lead_context(
    pool: &sqlx::PgPool,
    account: AccountId,
    lead_id: i64,
) -> Result<(LeadContext, Vec<Turn>)> {
    let row: ContextRow = sqlx::query_as(
        "select name, email, phone, property_address, roof_age_years, issues, timeline, budget, score, score_band, insights
         from leads where id = $1 and account_id = $2",
    )
    .bind(lead_id)
    .bind(account)
    .fetch_optional(pool)
    .await?
    .ok_or(ApiError::NotFound("lead"))?;
    let ctx = context_of(row.profile, row.score, row.score_band, &row.insights);
    let mut rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "select direction, coalesce(nullif(content, ''), subject) from communications
         where lead_id = $1 and account_id = $2 order by \"timestamp\" desc, id desc limit $3",
    )
    .bind(lead_id)
    .bind(account)
    .bind(CONVERSATION_TURNS)
    .fetch_all(pool)
    .await?;
    rows.reverse();
    let turns = rows
        .into_iter()
        .filter_map(|(d, text)| {
            Some(Turn {
                direction: d.parse::<Direction>().ok()?,
                text: text?,
            })
        })
        .collect();
    Ok((ctx, turns))
}

/// The one function chat and email call: a reply to the lead's latest message on
/// `channel`, or `None` when it must not be answered automatically (auto-replies,
/// echoes, already answered). Never fails because a provider did: it falls back to rules.
pub async fn reply_for_lead(
    state: &AppState,
    account: AccountId,
    lead_id: i64,
    channel: Channel,
    subject: Option<&str>,
) -> Result<Option<Reply>> {
    let company = load_company(&state.pool, account).await?;
    let (lead, conversation) = lead_context(&state.pool, account, lead_id).await?;
    let req = ReplyRequest {
        company: &company,
        lead: &lead,
        channel,
        conversation: &conversation,
        subject,
    };
    Ok(state.ai.respond(&req).await)
}

/// Records a reply the responder produced and that was (or is being) delivered, as an
/// outbound AI-generated communication, with which provider answered and why it fell back.
pub async fn record_reply(
    state: &AppState,
    account: AccountId,
    lead_id: i64,
    channel: Channel,
    reply: &Reply,
    provider_message_id: Option<String>,
    thread_key: Option<String>,
) -> Result<Recorded> {
    let mut new = NewCommunication::new(LeadRef::Id(lead_id), channel, Direction::Outbound);
    new.content = Some(reply.text.clone());
    new.subject = reply.subject.clone();
    new.ai_generated = true;
    new.provider_message_id = provider_message_id;
    new.thread_key = thread_key;
    new.metadata = json!({"ai": {"provider": reply.provider, "model": reply.model, "fallback_reason": reply.fallback_reason, "intents": reply.intents}});
    record(state, account, new).await
}

fn validate_company(c: &CompanySettings) -> Result<()> {
    let fields = [
        ("company_name", &c.company_name),
        ("service_area", &c.service_area),
        ("hours", &c.hours),
        ("phone", &c.phone),
        ("booking_link", &c.booking_link),
        ("financing", &c.financing),
        ("insurance_claims", &c.insurance_claims),
        ("signature", &c.signature),
    ];
    for (name, v) in fields {
        if v.as_deref().is_some_and(|s| s.chars().count() > 500) {
            return Err(ApiError::invalid(format!(
                "{name} is longer than 500 characters"
            )));
        }
    }
    if c.services.len() > 30 || c.services.iter().any(|s| s.chars().count() > 100) {
        return Err(ApiError::invalid(
            "services: at most 30 items of at most 100 characters",
        ));
    }
    if let Some(link) = &c.booking_link {
        if !(link.starts_with("https://") || link.starts_with("http://")) {
            return Err(ApiError::invalid("booking_link must be an http(s) URL"));
        }
    }
    Ok(())
}

/// The company facts the AI responder uses.
#[utoipa::path(get, path = "/api/settings/company", tag = "ai",
    responses((status = 200, body = Object)), security(("api_key" = [])))]
async fn get_company(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Result<Json<CompanySettings>> {
    Ok(Json(load_company(&state.pool, account).await?))
}

/// Replaces the company facts (name, services, service area, hours, phone, booking link, financing, insurance, signature).
#[utoipa::path(put, path = "/api/settings/company", tag = "ai", request_body = Object,
    responses((status = 200, body = Object), (status = 422, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn put_company(
    State(state): State<AppState>,
    crate::auth::Admin(caller): crate::auth::Admin,
    Json(body): Json<CompanySettings>,
) -> Result<Json<CompanySettings>> {
    let account = caller.account;
    validate_company(&body)?;
    sqlx::query("update accounts set settings = jsonb_set(settings, '{company}', $2), updated_at = now() where id = $1")
        .bind(account)
        .bind(serde_json::to_value(&body).map_err(anyhow::Error::from)?)
        .execute(&state.pool)
        .await?;
    crate::audit::record(
        &state.pool,
        crate::audit::Entry::by(&caller, "settings.company", None, serde_json::json!({})),
    )
    .await?;
    Ok(Json(body))
}

/// `POST /api/ai/preview`: a lead (its real context and conversation) or a sample conversation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub lead_id: Option<i64>,
    /// Sample conversation, oldest first: `[{"direction":"inbound","text":"…"}]`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub conversation: Option<Vec<Turn>>,
    /// email, sms, phone_call or chat (default chat).
    #[schema(value_type = Option<String>)]
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub channel: Option<Channel>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub subject: Option<String>,
}

/// The reply the responder would send, without sending or recording anything.
#[utoipa::path(post, path = "/api/ai/preview", tag = "ai", request_body = PreviewRequest,
    responses((status = 200, description = "text, subject, provider, model, fallback_reason, intents", body = Object),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn preview(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Json(body): Json<PreviewRequest>,
) -> Result<Json<Reply>> {
    let channel = body.channel.unwrap_or(Channel::Chat);
    let company = load_company(&state.pool, account).await?;
    let (lead, mut conversation) = match body.lead_id {
        Some(id) => lead_context(&state.pool, account, id).await?,
        None => (LeadContext::default(), vec![]),
    };
    if let Some(sample) = body.conversation {
        if sample.len() > 50 || sample.iter().any(|t| t.text.chars().count() > 5000) {
            return Err(ApiError::invalid(
                "conversation: at most 50 turns of at most 5000 characters",
            ));
        }
        conversation = sample;
    }
    if !conversation
        .iter()
        .any(|t| t.direction == Direction::Inbound && !t.text.trim().is_empty())
    {
        return Err(ApiError::invalid("nothing to answer: give a lead_id with an inbound message or a conversation with an inbound turn"));
    }
    let req = ReplyRequest {
        company: &company,
        lead: &lead,
        channel,
        conversation: &conversation,
        subject: body.subject.as_deref(),
    };
    Ok(Json(state.ai.reply(&req).await))
}
