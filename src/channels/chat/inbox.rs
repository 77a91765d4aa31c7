//! The roofer's conversations: the session list with lead data and scores, a
//! transcript, human replies (which take over from the AI), typing, closing, a live
//! stream, and extraction on its own.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, Sse};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::AuthAccount;
use crate::domain::AccountId;
use crate::error::{ApiError, Result};
use crate::extract::{Json, Path, Query};
use crate::pagination::{Cursor, Page, PageParams};
use crate::state::AppState;

use super::conversation::{
    self, message_text, messages_after, session_from_row, session_select, Author, ChatMessage,
    Session,
};
use super::realtime::{publish, Event};
use super::session::{event_stream, last_event_id};
use crate::domain::LeadProfile;
use crate::tracker::extract::extract;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions))
        .routes(routes!(get_session))
        .routes(routes!(reply))
        .routes(routes!(takeover))
        .routes(routes!(close))
        .routes(routes!(agent_typing))
        .routes(routes!(stream))
        .routes(routes!(extract_lead))
}

/// A session in the roofer's list.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct SessionSummary {
    pub session_id: String,
    pub site_id: Option<i64>,
    pub site_name: Option<String>,
    pub page_url: Option<String>,
    pub referrer: Option<String>,
    pub started_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// open or closed
    pub status: String,
    /// A person answers; the AI stays quiet.
    pub human_takeover: bool,
    pub message_count: i32,
    /// The chat score (product spec's chat rules) and its band.
    pub engagement_score: Option<i32>,
    pub score_band: Option<String>,
    pub lead_id: Option<i64>,
    pub lead_name: Option<String>,
    pub lead_email: Option<String>,
    pub lead_phone: Option<String>,
    /// What the visitor told us (extracted and merged).
    #[schema(value_type = Object)]
    pub lead_data: Value,
    /// The latest message: `{author, text, timestamp}`.
    #[schema(value_type = Object)]
    pub last_message: Option<Value>,
    #[serde(skip)]
    pub sort_at: DateTime<Utc>,
    #[serde(skip)]
    pub id: i64,
}

const SUMMARY_SQL: &str = "select c.id, c.session_id, c.site_id, s.name as site_name, c.page_url, c.referrer, c.started_at,
        c.last_message_at, c.ended_at, case when c.ended_at is null then 'open' else 'closed' end as status,
        c.human_takeover, c.message_count, c.engagement_score, c.score_band, c.lead_id,
        l.name as lead_name, l.email as lead_email, l.phone as lead_phone, c.lead_data,
        (select json_build_object('author', case when m.direction = 'inbound' then 'visitor' when m.ai_generated then 'ai' else 'agent' end,
                 'text', left(coalesce(m.content, ''), 200), 'timestamp', m.\"timestamp\")::jsonb
           from communications m where m.account_id = c.account_id and m.thread_key = 'chat:' || c.session_id
           order by m.id desc limit 1) as last_message,
        coalesce(c.last_message_at, c.started_at) as sort_at
     from chat_sessions c
     left join sites s on s.id = c.site_id
     left join leads l on l.id = c.lead_id";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionFilter {
    /// open, closed or all (default all).
    #[param(pattern = "^(open|closed|all)$")]
    pub status: Option<String>,
    pub site_id: Option<i64>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

/// Chat sessions, most recent activity first.
#[utoipa::path(get, path = "/api/chat/sessions", tag = "chat", params(SessionFilter),
    responses((status = 200, body = Page<SessionSummary>)), security(("api_key" = [])))]
async fn list_sessions(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Query(f): Query<SessionFilter>,
) -> Result<Json<Page<SessionSummary>>> {
    let page = PageParams {
        limit: f.limit,
        cursor: f.cursor.clone(),
    };
    let limit = page.limit()?;
    let cursor = page.cursor()?;
    let open = match f.status.as_deref() {
        None | Some("all") => None,
        Some("open") => Some(true),
        Some("closed") => Some(false),
        Some(_) => return Err(ApiError::invalid("status must be open, closed or all")),
    };
    let rows: Vec<SessionSummary> = sqlx::query_as(&format!(
        "{SUMMARY_SQL}
         where c.account_id = $1
           and ($2::bool is null or (c.ended_at is null) = $2)
           and ($3::bigint is null or c.site_id = $3)
           and ($4::timestamptz is null or (coalesce(c.last_message_at, c.started_at), c.id) < ($4, $5))
         order by coalesce(c.last_message_at, c.started_at) desc, c.id desc
         limit $6"
    ))
    .bind(account)
    .bind(open)
    .bind(f.site_id)
    .bind(cursor.map(|c| c.at))
    .bind(cursor.map(|c| c.id).unwrap_or(0))
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(Page::from_rows(rows, limit, |s| Cursor {
        at: s.sort_at,
        id: s.id,
    })))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDetail {
    #[serde(flatten)]
    pub session: SessionSummary,
    /// The chat score with its rules (which rule added what).
    #[schema(value_type = crate::tracker::scoring::ScoreBreakdown)]
    pub score_breakdown: Value,
    pub messages: Vec<ChatMessage>,
}

async fn load(state: &AppState, account: AccountId, session_id: &str) -> Result<Session> {
    let row = sqlx::query(&format!(
        "{} where c.session_id = $1 and c.account_id = $2",
        session_select("chat_sessions")
    ))
    .bind(session_id)
    .bind(account)
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::NotFound("chat session"))?;
    Ok(session_from_row(&row)?)
}

/// One session with its transcript.
#[utoipa::path(get, path = "/api/chat/sessions/{session_id}", tag = "chat",
    responses((status = 200, body = SessionDetail), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn get_session(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Path(session_id): Path<String>,
) -> Result<Json<SessionDetail>> {
    let session = load(&state, account, &session_id).await?;
    let summary: SessionSummary = sqlx::query_as(&format!("{SUMMARY_SQL} where c.id = $1"))
        .bind(session.id)
        .fetch_one(&state.pool)
        .await?;
    let fields = serde_json::from_value(summary.lead_data.clone()).unwrap_or_default();
    let breakdown = conversation::score(
        &fields,
        session.message_count,
        &session,
        summary.last_message_at.unwrap_or(session.started_at),
    );
    let messages = messages_after(&state.pool, &session, 0).await?;
    Ok(Json(SessionDetail {
        session: summary,
        score_breakdown: serde_json::to_value(&breakdown).unwrap_or_default(),
        messages,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    /// 1 to 2000 characters.
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub text: String,
}

/// A person's reply, pushed to the visitor live. The AI stops answering this session.
#[utoipa::path(post, path = "/api/chat/sessions/{session_id}/reply", tag = "chat", request_body = ReplyBody,
    responses((status = 201, body = ChatMessage), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn reply(
    State(state): State<AppState>,
    caller: crate::auth::Caller,
    Path(session_id): Path<String>,
    Json(body): Json<ReplyBody>,
) -> Result<(StatusCode, Json<ChatMessage>)> {
    let account = caller.account;
    let text = message_text(&body.text)?;
    let mut session = load(&state, account, &session_id).await?;
    if session.ended_at.is_some() {
        return Err(ApiError::Conflict(
            "session_closed",
            "this conversation is closed".into(),
        ));
    }
    sqlx::query(
        "update chat_sessions set human_takeover = true, human_takeover_by = coalesce($2, human_takeover_by),
         updated_at = now() where id = $1",
    )
    .bind(session.id)
    .bind(caller.user_id())
    .execute(&state.pool)
    .await?;
    session.human_takeover = true;
    let message =
        conversation::post(&state, &mut session, Author::Agent(caller.person()), &text).await?;
    let fields = serde_json::from_value(
        sqlx::query_scalar::<_, Value>("select lead_data from chat_sessions where id = $1")
            .bind(session.id)
            .fetch_one(&state.pool)
            .await?,
    )
    .unwrap_or_default();
    conversation::update_session(&state, &mut session, &fields, 1).await?;
    Ok((StatusCode::CREATED, Json(message)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeoverBody {
    /// true: a person answers (the AI stays quiet); false: hand back to the AI.
    pub takeover: bool,
}

/// Takes the conversation over from the AI, or hands it back.
#[utoipa::path(post, path = "/api/chat/sessions/{session_id}/takeover", tag = "chat", request_body = TakeoverBody,
    responses((status = 200, body = Object), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn takeover(
    State(state): State<AppState>,
    caller: crate::auth::Caller,
    Path(session_id): Path<String>,
    Json(body): Json<TakeoverBody>,
) -> Result<Json<Value>> {
    let account = caller.account;
    // Who took over (a person; an API key leaves it unnamed); handing back clears it.
    let done = sqlx::query(
        "update chat_sessions set human_takeover = $3,
             human_takeover_by = case when $3 then $4 else null end, updated_at = now()
         where session_id = $1 and account_id = $2",
    )
    .bind(&session_id)
    .bind(account)
    .bind(body.takeover)
    .bind(caller.user_id())
    .execute(&state.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("chat session"));
    }
    Ok(Json(
        serde_json::json!({"session_id": session_id, "human_takeover": body.takeover}),
    ))
}

/// Ends the conversation; the visitor's widget is told live.
#[utoipa::path(post, path = "/api/chat/sessions/{session_id}/close", tag = "chat",
    responses((status = 200, body = Object), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn close(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Path(session_id): Path<String>,
) -> Result<Json<Value>> {
    let (id, ended_at): (i64, DateTime<Utc>) = sqlx::query_as(
        "update chat_sessions set ended_at = coalesce(ended_at, now()), updated_at = now()
         where session_id = $1 and account_id = $2 returning id, ended_at",
    )
    .bind(&session_id)
    .bind(account)
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::NotFound("chat session"))?;
    publish(&state.pool, &Event::Closed { s: id }).await?;
    Ok(Json(
        serde_json::json!({"session_id": session_id, "status": "closed", "ended_at": ended_at}),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypingBody {
    pub typing: bool,
}

/// A person of the team is typing (shown in the visitor's widget).
#[utoipa::path(post, path = "/api/chat/sessions/{session_id}/typing", tag = "chat", request_body = TypingBody,
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn agent_typing(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Path(session_id): Path<String>,
    Json(body): Json<TypingBody>,
) -> Result<StatusCode> {
    let session = load(&state, account, &session_id).await?;
    publish(
        &state.pool,
        &Event::Typing {
            s: session.id,
            author: "agent".into(),
            typing: body.typing,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AfterParam {
    /// Replay messages after this id (also read from `Last-Event-ID`).
    pub after: Option<i64>,
}

/// The session's live events for the roofer (also the visitor's typing).
#[utoipa::path(get, path = "/api/chat/sessions/{session_id}/stream", tag = "chat", params(AfterParam),
    responses((status = 200, content_type = "text/event-stream", description = "events"), (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn stream(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Path(session_id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<AfterParam>,
) -> Result<Sse<impl Stream<Item = std::result::Result<SseEvent, Infallible>>>> {
    let session = load(&state, account, &session_id).await?;
    let after = last_event_id(&headers).or(q.after);
    event_stream(state, session, after, true).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtractBody {
    pub text: String,
}

/// The lead details found in a free text (what the chat merges into the lead).
#[utoipa::path(post, path = "/api/chat/lead/extract", tag = "chat", request_body = ExtractBody,
    responses((status = 200, body = LeadProfile), (status = 422, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn extract_lead(
    State(state): State<AppState>,
    AuthAccount(_account): AuthAccount,
    Json(body): Json<ExtractBody>,
) -> Result<Json<LeadProfile>> {
    if body.text.chars().count() > 20_000 {
        return Err(ApiError::invalid("text is longer than 20000 characters"));
    }
    use chrono::Datelike;
    Ok(Json(extract(
        &body.text,
        state.config.default_region,
        Utc::now().year(),
    )))
}
