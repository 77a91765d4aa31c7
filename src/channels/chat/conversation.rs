//! What both sides of a chat share: the session as stored, its messages (which are
//! `chat` communications with the thread key `chat:<session id>`), posting a message
//! through the one recording path, merging what the visitor told us into the lead,
//! and the session's score by the product spec's chat rules.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::communications::{self, LeadRef, NewCommunication};
use crate::domain::{AccountId, Channel, Direction};
use crate::error::{unique_violation, ApiError, Result};
use crate::leads::store::band_str;
use crate::state::AppState;
use crate::tracker::model::LeadFacts;
use crate::tracker::scoring::{chat_score, ScoreBreakdown};

use super::realtime::{publish, Event, CHANNEL};
use super::sites::{settings_from_pg_row, WidgetSettings, SETTINGS_COLUMNS};
use crate::domain::LeadProfile;
use crate::tracker::extract::merge;

/// Longest message a visitor or agent may send.
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// A chat session with its site's settings.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub account: AccountId,
    pub session_id: String,
    pub site_id: Option<i64>,
    pub lead_id: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub message_count: i32,
    pub human_takeover: bool,
    pub contact_captured: bool,
    pub page_url: Option<String>,
    pub allowed_origins: Vec<String>,
    pub settings: WidgetSettings,
    /// Messages in the current rate window, this one included (message posts only).
    pub rate_count: i32,
}

type SessionRow = (
    i64,
    i64,
    String,
    Option<i64>,
    Option<i64>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    i32,
    bool,
    bool,
    Option<String>,
    Option<Vec<String>>,
    i32,
);

/// Columns of `chat_sessions c` joined to `sites s` and `widget_settings w`.
pub fn session_select(from: &str) -> String {
    format!(
        "select c.id, c.account_id, c.session_id, c.site_id, c.lead_id, c.started_at, c.ended_at,
                c.message_count, c.human_takeover, c.contact_captured, c.page_url, s.allowed_origins,
                c.rate_count, {SETTINGS_COLUMNS}
         from {from} c left join sites s on s.id = c.site_id left join widget_settings w on w.site_id = c.site_id"
    )
}

/// Reads the row shape `session_select` produces.
pub fn session_from_row(row: &sqlx::postgres::PgRow) -> sqlx::Result<Session> {
    use sqlx::FromRow;
    let s: SessionRow = FromRow::from_row(row)?;
    Ok(Session {
        id: s.0,
        account: AccountId(s.1),
        session_id: s.2,
        site_id: s.3,
        lead_id: s.4,
        started_at: s.5,
        ended_at: s.6,
        message_count: s.7,
        human_takeover: s.8,
        contact_captured: s.9,
        page_url: s.10,
        allowed_origins: s.11.unwrap_or_default(),
        rate_count: s.12,
        settings: settings_from_pg_row(row)?,
    })
}

/// Thread key of a session's messages.
pub fn thread_key(session_id: &str) -> String {
    format!("chat:{session_id}")
}

/// One message as the widget and the roofer see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema, PartialEq)]
pub struct ChatMessage {
    pub id: i64,
    /// visitor, ai or agent (a person of the roofer's team).
    pub author: String,
    pub text: String,
    pub timestamp: DateTime<Utc>,
}

/// Who writes a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Author {
    Visitor,
    /// A person of the team: their user id and name (`None` when an API key answered).
    Agent(Option<(i64, String)>),
}

/// The session's messages with an id above `after`, oldest first.
pub async fn messages_after(
    pool: &sqlx::PgPool,
    session: &Session,
    after: i64,
) -> Result<Vec<ChatMessage>> {
    let rows = sqlx::query_as(
        "select id, case when direction = 'inbound' then 'visitor' when ai_generated then 'ai' else 'agent' end as author,
                coalesce(content, '') as text, \"timestamp\"
         from communications where account_id = $1 and thread_key = $2 and id > $3
         order by id limit 500",
    )
    .bind(session.account)
    .bind(thread_key(&session.session_id))
    .bind(after)
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

/// Checks a message's text: trimmed, 1 to `MAX_MESSAGE_CHARS` characters.
pub fn message_text(raw: &str) -> Result<String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(ApiError::invalid("message is empty"));
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::invalid(format!(
            "message is longer than {MAX_MESSAGE_CHARS} characters"
        )));
    }
    Ok(text.to_string())
}

/// The session's lead, creating an anonymous one when it was deleted.
async fn lead_of(state: &AppState, session: &mut Session) -> Result<i64> {
    if let Some(id) = session.lead_id {
        return Ok(id);
    }
    let (id,): (i64,) = sqlx::query_as(
        "with l as (insert into leads (account_id, source) values ($1, 'chat') returning id)
         update chat_sessions set lead_id = (select id from l) where id = $2 returning lead_id",
    )
    .bind(session.account)
    .bind(session.id)
    .fetch_one(&state.pool)
    .await?;
    session.lead_id = Some(id);
    Ok(id)
}

/// Stores a message of the session through the one recording path and tells every
/// replica's streams about it.
pub async fn post(
    state: &AppState,
    session: &mut Session,
    author: Author,
    text: &str,
) -> Result<ChatMessage> {
    let stored = record_message(state, session, author, text).await?;
    publish(&state.pool, &Event::Message { s: session.id }).await?;
    Ok(to_message(&stored.communication))
}

/// Stores a message of the session through the one recording path (streams are not told:
/// the caller publishes, or announces with the session's update).
pub async fn record_message(
    state: &AppState,
    session: &mut Session,
    author: Author,
    text: &str,
) -> Result<communications::Recorded> {
    let lead_id = lead_of(state, session).await?;
    let direction = match author {
        Author::Visitor => Direction::Inbound,
        Author::Agent(_) => Direction::Outbound,
    };
    let mut new = NewCommunication::new(LeadRef::Id(lead_id), Channel::Chat, direction);
    new.content = Some(text.to_string());
    new.thread_key = Some(thread_key(&session.session_id));
    new.provider = Some("widget".into());
    new.metadata = json!({"chat_session_id": session.session_id, "page_url": session.page_url});
    if let Author::Agent(Some((id, name))) = &author {
        // Who of the team answered, as it was then.
        new.metadata["sent_by"] = json!({"user_id": id, "name": name});
    }
    communications::record(state, session.account, new).await
}

/// Whether nothing has been said to the visitor in this conversation yet.
pub(super) async fn first_answer(state: &AppState, session: &Session) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "select not exists(select 1 from communications where account_id = $1 and thread_key = $2
                           and direction = 'outbound')",
    )
    .bind(session.account)
    .bind(thread_key(&session.session_id))
    .fetch_one(&state.pool)
    .await?)
}

pub(super) fn to_message(c: &communications::Communication) -> ChatMessage {
    let author = match (c.direction.as_str(), c.ai_generated) {
        ("inbound", _) => "visitor",
        (_, true) => "ai",
        _ => "agent",
    };
    ChatMessage {
        id: c.id,
        author: author.into(),
        text: c.content.clone().unwrap_or_default(),
        timestamp: c.timestamp,
    }
}

/// The lead's profile as stored.
async fn lead_fields(pool: &sqlx::PgPool, account: AccountId, lead: i64) -> Result<LeadProfile> {
    let profile: LeadProfile = sqlx::query_as(
        "select name, email, phone, property_address, roof_age_years, issues, timeline, budget
         from leads where id = $1 and account_id = $2",
    )
    .bind(lead)
    .bind(account)
    .fetch_optional(pool)
    .await?
    .ok_or(ApiError::NotFound("lead"))?;
    Ok(profile)
}

async fn write_fields(
    pool: &sqlx::PgPool,
    account: AccountId,
    lead: i64,
    f: &LeadProfile,
) -> sqlx::Result<()> {
    sqlx::query(
        "update leads set name = $3, email = $4, phone = $5, property_address = $6, roof_age_years = $7,
           issues = $8, timeline = $9, budget = $10, updated_at = now()
         where id = $1 and account_id = $2",
    )
    .bind(lead)
    .bind(account)
    .bind(&f.name)
    .bind(&f.email)
    .bind(&f.phone)
    .bind(&f.property_address)
    .bind(f.roof_age_years)
    .bind(&f.issues)
    .bind(&f.timeline)
    .bind(&f.budget)
    .execute(pool)
    .await?;
    Ok(())
}

/// Merges what the visitor told us into the session's lead (never overwriting a known
/// value with a weaker guess) and returns the lead's fields afterwards.
///
/// When the visitor gives an email or phone that another lead of the account already
/// has, they are that lead coming back: the anonymous chat lead is folded into it (its
/// messages and sessions move over) instead of creating a duplicate.
pub async fn absorb(
    state: &AppState,
    session: &mut Session,
    found: &LeadProfile,
) -> Result<LeadProfile> {
    let lead = lead_of(state, session).await?;
    let known = lead_fields(&state.pool, session.account, lead).await?;
    absorb_into(state, session, known, found).await
}

/// `absorb` for a caller that already read the lead's fields (`known`, of the session's
/// lead, which must be set).
pub async fn absorb_into(
    state: &AppState,
    session: &mut Session,
    known: LeadProfile,
    found: &LeadProfile,
) -> Result<LeadProfile> {
    let lead = lead_of(state, session).await?;
    if found.is_empty() {
        return Ok(known);
    }
    let (merged, changed) = merge(&known, found);
    if changed.is_empty() {
        return Ok(known);
    }
    match write_fields(&state.pool, session.account, lead, &merged).await {
        Ok(()) => Ok(merged),
        Err(e) if unique_violation(&e).is_some() => {
            let anonymous = known.email.is_none() && known.phone.is_none();
            let existing = if anonymous {
                fold_into_existing(state, session, lead, &merged).await?
            } else {
                None
            };
            match existing {
                Some(fields) => Ok(fields),
                None => {
                    // A second contact that belongs to someone else: keep the rest.
                    let mut keep = merged;
                    keep.email = known.email.clone();
                    keep.phone = known.phone.clone();
                    write_fields(&state.pool, session.account, lead, &keep).await?;
                    Ok(keep)
                }
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Moves an anonymous chat lead's messages and sessions to the existing lead with the
/// same email or phone, deletes the anonymous lead, and fills the existing lead's blanks.
async fn fold_into_existing(
    state: &AppState,
    session: &mut Session,
    anonymous: i64,
    merged: &LeadProfile,
) -> Result<Option<LeadProfile>> {
    let account = session.account;
    let mut tx = crate::db::begin(&state.pool).await?;
    let existing: Option<(i64,)> = sqlx::query_as(
        "select id from leads where account_id = $1 and id <> $2
           and ((email is not null and email = $3) or (phone is not null and phone = $4))
         order by id limit 1 for update",
    )
    .bind(account)
    .bind(anonymous)
    .bind(&merged.email)
    .bind(&merged.phone)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((target,)) = existing else {
        return Ok(None);
    };
    crate::communications::revise::reassign(&mut *tx, account, anonymous, target).await?;
    sqlx::query("update chat_sessions set lead_id = $1 where lead_id = $2 and account_id = $3")
        .bind(target)
        .bind(anonymous)
        .bind(account)
        .execute(&mut *tx)
        .await?;
    sqlx::query("delete from leads where id = $1 and account_id = $2")
        .bind(anonymous)
        .bind(account)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    session.lead_id = Some(target);
    let known = lead_fields(&state.pool, account, target).await?;
    let (fields, changed) = merge(&known, merged);
    if !changed.is_empty() {
        // A contact that a third lead holds stays out; the rest is kept.
        if let Err(e) = write_fields(&state.pool, account, target, &fields).await {
            if unique_violation(&e).is_none() {
                return Err(e.into());
            }
            return Ok(Some(known));
        }
    }
    crate::leads::store::refresh_lead(&state.pool, account, target).await?;
    Ok(Some(fields))
}

/// The session's score by the chat rules, after `messages` messages in all.
pub fn score(
    fields: &LeadProfile,
    messages: i32,
    session: &Session,
    now: DateTime<Utc>,
) -> ScoreBreakdown {
    let facts = LeadFacts {
        profile: fields.clone(),
        status: None,
    };
    let secs = (now - session.started_at).num_seconds().max(0);
    chat_score(&facts, messages.max(0) as u32, secs)
}

/// Adds `added` messages to the session and stores its lead data and chat score.
pub async fn update_session(
    state: &AppState,
    session: &mut Session,
    fields: &LeadProfile,
    added: i32,
) -> Result<ScoreBreakdown> {
    update_and_announce(state, session, fields, added, None).await
}

/// `update_session`, and in the same statement (so in the same commit) `event` to every
/// replica's streams.
pub async fn update_and_announce(
    state: &AppState,
    session: &mut Session,
    fields: &LeadProfile,
    added: i32,
    event: Option<&Event>,
) -> Result<ScoreBreakdown> {
    let now = Utc::now();
    let count = session.message_count + added;
    let s = score(fields, count, session, now);
    let lead_data = serde_json::to_value(fields).unwrap_or_default();
    let payload = event.map(super::realtime::payload);
    sqlx::query(
        "with u as (
           update chat_sessions set message_count = message_count + $2, last_message_at = $3,
             lead_data = $4, engagement_score = $5, score_band = $6, lead_id = coalesce($7, lead_id), updated_at = now()
           where id = $1)
         select pg_notify($8, $9) where $9::text is not null",
    )
    .bind(session.id)
    .bind(added)
    .bind(now)
    .bind(&lead_data)
    .bind(s.score)
    .bind(band_str(s.band))
    .bind(session.lead_id)
    .bind(CHANNEL)
    .bind(payload)
    .execute(&state.pool)
    .await?;
    session.message_count = count;
    Ok(s)
}
