//! A visitor's message, from the token to the answer, in few database round trips:
//!
//! 1. one statement authenticates the token, counts the message in its rate window and
//!    reads the session with its site's settings, the lead's fields, the account's
//!    settings version and the lead's recent conversation (`open`);
//! 2. only when the message told something new about the lead: its fields are written;
//! 3. the message is recorded (the writer's read and write, batched with other requests);
//! 4. the answer is made in memory: company facts and opening hours from the accounts
//!    cache (checked against the version read in 1), the lead's context from 1 and from
//!    what 3 stored on the lead;
//! 5. the answer is recorded (as 3);
//! 6. one statement stores the session's counters, lead data and score and tells every
//!    replica's streams (both messages are read by the streams from the database).
//!
//! Before: 13 statements for a message that told nothing new (each read the session, the
//! lead, the company, the hours and the conversation again), 6 now.

use chrono::{DateTime, Utc};

use crate::ai::{ReplyRequest, Turn};
use crate::communications::Recorded;
use crate::domain::{Channel, Direction, LeadProfile};
use crate::error::Result;
use crate::state::AppState;

use super::conversation::{
    self, first_answer, session_from_row, session_select, thread_key, to_message, Author,
    ChatMessage, Session,
};
use super::realtime::{publish, Event};

/// A message's session as `open` read it.
pub struct Opened {
    pub session: Session,
    /// The lead's fields (`None` when the session has no lead any more).
    lead: Option<LeadProfile>,
    /// `accounts.config_version`: what the accounts cache is checked against.
    config_version: i64,
    /// The lead's latest communications before this message, oldest first; empty when
    /// the AI will not answer.
    recent: Vec<Said>,
}

/// One earlier communication of the lead, for the responder.
struct Said {
    id: i64,
    at: DateTime<Utc>,
    direction: String,
    text: Option<String>,
}

/// The statement of step 1 (`$1` the token's hash, `$2` the turns the responder gets).
static OPEN_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "with bumped as (
           update chat_sessions set
             rate_count = case when rate_window_start <= now() - interval '1 minute' then 1 else rate_count + 1 end,
             rate_window_start = case when rate_window_start <= now() - interval '1 minute' then now() else rate_window_start end
           where token_hash = $1 returning *)
         select x.*, a.config_version, l.id is not null as lead_found, l.name, l.email, l.phone,
                l.property_address, l.roof_age_years, l.issues, l.timeline, l.budget,
                r.recent_ids, r.recent_at, r.recent_directions, r.recent_texts
         from ({session}) x
         join accounts a on a.id = x.account_id
         left join leads l on l.id = x.lead_id and l.account_id = x.account_id
         left join lateral (
           select array_agg(t.id order by t.at, t.id) as recent_ids,
                  array_agg(t.at order by t.at, t.id) as recent_at,
                  array_agg(t.direction order by t.at, t.id) as recent_directions,
                  array_agg(t.text order by t.at, t.id) as recent_texts
           from (select id, \"timestamp\" as at, direction, coalesce(nullif(content, ''), subject) as text
                 from communications
                 where lead_id = l.id and account_id = x.account_id
                   and not x.human_takeover and coalesce((x.settings->>'ai_responses')::boolean, true)
                 order by \"timestamp\" desc, id desc limit $2) t) r on true",
        session = session_select("bumped")
    )
});

/// Step 1: the session of `token_hash` with its message counted (its `rate_count` says
/// whether it is over the limit); `None` when no session has that token.
pub async fn open(state: &AppState, token_hash: &[u8]) -> Result<Option<Opened>> {
    use sqlx::{FromRow, Row};
    let Some(row) = sqlx::query(OPEN_SQL.as_str())
        .bind(token_hash)
        .bind(crate::ai::service::CONVERSATION_TURNS)
        .fetch_optional(&state.pool)
        .await?
    else {
        return Ok(None);
    };
    let session = session_from_row(&row)?;
    let lead = if row.try_get::<bool, _>("lead_found")? {
        Some(LeadProfile::from_row(&row)?)
    } else {
        None
    };
    let ids: Option<Vec<i64>> = row.try_get("recent_ids")?;
    let at: Option<Vec<DateTime<Utc>>> = row.try_get("recent_at")?;
    let directions: Option<Vec<String>> = row.try_get("recent_directions")?;
    let texts: Option<Vec<Option<String>>> = row.try_get("recent_texts")?;
    let recent = ids
        .unwrap_or_default()
        .into_iter()
        .zip(at.unwrap_or_default())
        .zip(directions.unwrap_or_default())
        .zip(texts.unwrap_or_default())
        .map(|(((id, at), direction), text)| Said {
            id,
            at,
            direction,
            text,
        })
        .collect();
    Ok(Some(Opened {
        session,
        lead,
        config_version: row.try_get("config_version")?,
        recent,
    }))
}

/// Steps 2 to 6 for the visitor's `text` (checked) and what was found in it: the stored
/// message and the answer, if one was given.
pub async fn answer(
    state: &AppState,
    opened: Opened,
    text: &str,
    found: &LeadProfile,
) -> Result<(ChatMessage, Option<ChatMessage>)> {
    let Opened {
        mut session,
        lead,
        config_version,
        recent,
    } = opened;
    let session = &mut session;
    let fields = match lead {
        Some(known) if session.lead_id.is_some() => {
            conversation::absorb_into(state, session, known, found).await?
        }
        _ => conversation::absorb(state, session, found).await?,
    };
    let answers = session.settings.ai_responses && !session.human_takeover;
    // A real model takes seconds: the roofer sees the message and a typing indicator
    // meanwhile. The rules answer in microseconds: one announcement for both messages.
    let slow = answers && state.ai.provider_name() != "rules";
    let visitor = conversation::record_message(state, session, Author::Visitor, text).await?;
    let message = to_message(&visitor.communication);
    let typing = |on: bool| Event::Typing {
        s: session.id,
        author: "ai".into(),
        typing: on,
    };
    if slow {
        publish(&state.pool, &Event::Message { s: session.id }).await?;
        publish(&state.pool, &typing(true)).await?;
    }
    let reply = if answers {
        ai_answer(state, session, &visitor, recent, &fields, config_version).await
    } else {
        Ok(None)
    };
    if slow {
        publish(&state.pool, &typing(false)).await?;
    }
    // The visitor's message is stored whatever became of the answer: count it, and tell
    // the streams, in one statement.
    let added = 1 + i32::from(matches!(reply, Ok(Some(_))));
    let event = Event::Message { s: session.id };
    conversation::update_and_announce(state, session, &fields, added, Some(&event)).await?;
    Ok((message, reply?))
}

/// Step 4 and 5: the AI's answer to the visitor's message (`visitor`, just recorded), when
/// the responder gives one.
async fn ai_answer(
    state: &AppState,
    session: &Session,
    visitor: &Recorded,
    recent: Vec<Said>,
    fields: &LeadProfile,
    config_version: i64,
) -> Result<Option<ChatMessage>> {
    let account = session.account;
    let lead_id = visitor.communication.lead_id;
    let settings = state
        .accounts
        .get(&state.pool, account, config_version)
        .await?;
    let lead = match &visitor.lead_insights {
        Some(s) => {
            crate::ai::service::context_of(fields.clone(), s.score, s.band.to_string(), &s.insights)
        }
        None => {
            crate::ai::service::lead_context(&state.pool, account, lead_id)
                .await?
                .0
        }
    };
    let conversation = conversation_with(recent, visitor);
    let req = ReplyRequest {
        company: &settings.company,
        lead: &lead,
        channel: Channel::Chat,
        conversation: &conversation,
        subject: None,
    };
    let Some(mut reply) = state.ai.respond(&req).await else {
        return Ok(None);
    };
    // The first answer of a conversation while closed says when the business opens (the
    // visitor may not stay); later ones are the responder's.
    let now = Utc::now();
    if !settings.hours.is_open(now) && first_answer(state, session).await? {
        let company = settings
            .company
            .company_name
            .clone()
            .or(session.settings.company_name.clone())
            .unwrap_or_else(|| settings.name.clone());
        reply.text = crate::ai::closed::answer(
            "chatting with",
            &company,
            None,
            &settings.hours,
            now,
            settings.company.booking_link.as_deref(),
        );
    }
    let stored = crate::ai::service::record_reply(
        state,
        account,
        lead_id,
        Channel::Chat,
        &reply,
        None,
        Some(thread_key(&session.session_id)),
    )
    .await?;
    Ok(Some(to_message(&stored.communication)))
}

/// The lead's latest turns with the visitor's new message, oldest first: what the
/// responder would read from the database now (the newest `CONVERSATION_TURNS`).
fn conversation_with(mut recent: Vec<Said>, visitor: &Recorded) -> Vec<Turn> {
    let c = &visitor.communication;
    recent.push(Said {
        id: c.id,
        at: c.timestamp,
        direction: c.direction.clone(),
        text: c
            .content
            .clone()
            .filter(|t| !t.is_empty())
            .or(c.subject.clone()),
    });
    recent.sort_by_key(|s| (s.at, s.id));
    let keep = crate::ai::service::CONVERSATION_TURNS as usize;
    let skip = recent.len().saturating_sub(keep);
    recent
        .into_iter()
        .skip(skip)
        .filter_map(|s| {
            Some(Turn {
                direction: s.direction.parse::<Direction>().ok()?,
                text: s.text?,
            })
        })
        .collect()
}
