//! Phone calls: the call-log API (idempotent on `call_id`, with transcript-derived
//! summary, sentiment, action items and follow-up), Telnyx voice events folded into one
//! call communication per `call_session_id` whatever their order, missed-call text-back,
//! and the call list.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Datelike, TimeDelta, Utc, Weekday};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::app::AppState;
use crate::auth::{AccountId, AuthAccount};
use crate::channels::sms::webhook::{self, mark_processed, store_event, Event, Stored};
use crate::communications::{self, Communication, LeadRef, NewCommunication};
use crate::error::{ApiError, Result};
use crate::extract::{Json, Query};
use crate::leads::{clean, Identity};
use crate::pagination::{Cursor, Page, PageParams};
use crate::phone::normalize_phone;
use crate::tracker::model::{Channel, Direction};

/// The text sent to a caller whose call was missed; `{company}` is the account's name.
pub const MISSED_CALL_TEMPLATE: &str =
    "Sorry we missed your call! This is {company}. How can we help? Reply here and we'll get right back to you.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(log_call))
        .routes(routes!(list_calls))
}

// ---------------------------------------------------------------------------
// Transcript derivation

/// What the rules read out of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Derived {
    pub summary: String,
    pub sentiment: String,
    pub sentiment_score: f32,
    pub action_items: Vec<String>,
    pub next_follow_up: Option<DateTime<Utc>>,
}

const ACTIONS: &[(&[&str], &str)] = &[
    (
        &[
            "send a quote",
            "send the quote",
            "send you a quote",
            "send quote",
            "send an estimate",
            "send you an estimate",
            "send the estimate",
            "get you a quote",
            "email the quote",
        ],
        "Send quote",
    ),
    (
        &[
            "schedule an inspection",
            "schedule inspection",
            "schedule the inspection",
            "book an inspection",
            "come out and inspect",
            "come out to inspect",
            "set up an inspection",
        ],
        "Schedule inspection",
    ),
    (
        &["call you back", "call back", "give you a call", "follow up"],
        "Call back",
    ),
    (
        &[
            "send photos",
            "send pictures",
            "send the photos",
            "text me photos",
            "text you photos",
        ],
        "Get photos",
    ),
    (
        &["insurance claim", "adjuster"],
        "Help with the insurance claim",
    ),
];

const TOPICS: &[(&str, &str)] = &[
    ("leak", "a leak"),
    ("hail", "hail damage"),
    ("storm", "storm damage"),
    ("missing shingle", "missing shingles"),
    ("shingle", "shingles"),
    ("replace", "a replacement"),
    ("repair", "a repair"),
    ("insurance", "insurance"),
    ("gutter", "gutters"),
    ("quote", "a quote"),
    ("estimate", "an estimate"),
    ("inspection", "an inspection"),
];

/// When a follow-up was mentioned ("Friday", "tomorrow", "next week"), counted from `at`.
pub fn follow_up_date(text: &str, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.contains(&"tomorrow") {
        return Some(at + TimeDelta::days(1));
    }
    let days = [
        ("monday", Weekday::Mon),
        ("tuesday", Weekday::Tue),
        ("wednesday", Weekday::Wed),
        ("thursday", Weekday::Thu),
        ("friday", Weekday::Fri),
        ("saturday", Weekday::Sat),
        ("sunday", Weekday::Sun),
    ];
    for w in &words {
        if let Some((_, day)) = days.iter().find(|(name, _)| name == w) {
            let ahead = (day.num_days_from_monday() as i64
                - at.weekday().num_days_from_monday() as i64)
                .rem_euclid(7);
            return Some(at + TimeDelta::days(if ahead == 0 { 7 } else { ahead }));
        }
    }
    if lower.contains("next week") {
        return Some(at + TimeDelta::days(7));
    }
    None
}

/// Rules over a transcript: sentiment (the tracker's), a one-paragraph summary, the
/// action items mentioned, and a follow-up date.
pub fn derive(transcript: &str, at: DateTime<Utc>) -> Derived {
    let lower = transcript.to_lowercase();
    let s = crate::tracker::sentiment::analyze(transcript);
    let action_items: Vec<String> = ACTIONS
        .iter()
        .filter(|(phrases, _)| phrases.iter().any(|p| lower.contains(p)))
        .map(|(_, item)| item.to_string())
        .collect();
    let mut topics: Vec<&str> = vec![];
    for (needle, topic) in TOPICS {
        if lower.contains(needle) && !topics.contains(topic) {
            if *needle == "shingle" && topics.contains(&"missing shingles") {
                continue;
            }
            topics.push(topic);
        }
    }
    let next_follow_up = follow_up_date(transcript, at);
    let mut summary = if topics.is_empty() {
        let first: String = transcript
            .split_terminator(['.', '?', '!', '\n'])
            .map(str::trim)
            .find(|p| !p.is_empty())
            .unwrap_or("")
            .chars()
            .take(160)
            .collect();
        if first.is_empty() {
            "Call with no transcript content.".to_string()
        } else {
            format!("Call: \"{first}\".")
        }
    } else {
        format!("Call about {}.", join_words(&topics))
    };
    if !action_items.is_empty() {
        summary.push_str(&format!(
            " Next: {}.",
            action_items.join("; ").to_lowercase()
        ));
    }
    if let Some(f) = next_follow_up {
        summary.push_str(&format!(" Follow up on {}.", f.format("%A %Y-%m-%d")));
    }
    summary.push_str(&format!(" Tone: {}.", s.label.as_str()));
    Derived {
        summary,
        sentiment: s.label.as_str().to_string(),
        sentiment_score: s.score,
        action_items,
        next_follow_up,
    }
}

fn join_words(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

// ---------------------------------------------------------------------------
// Call log API

/// Body of `POST /api/calls/log`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogCall {
    /// Your id for the call; a repeat returns the existing row.
    pub call_id: String,
    pub lead_id: Option<i64>,
    /// Or the lead's phone (found or created).
    pub phone: Option<String>,
    /// inbound or outbound.
    #[schema(value_type = String, example = "inbound")]
    pub direction: Direction,
    pub duration_seconds: Option<i32>,
    /// RFC 3339; now when absent.
    pub timestamp: Option<DateTime<Utc>>,
    /// E.g. completed, missed, voicemail, no_answer.
    pub outcome: Option<String>,
    pub recording_url: Option<String>,
    pub transcript: Option<String>,
    pub ai_summary: Option<String>,
    /// positive, neutral or negative.
    pub sentiment: Option<String>,
    pub action_items: Option<Vec<String>>,
    pub next_follow_up: Option<DateTime<Utc>>,
}

/// Records one phone call (201), or returns the existing one for a known `call_id` (200).
/// Without summary, sentiment or action items, they are derived from the transcript.
#[utoipa::path(post, path = "/api/calls/log", tag = "calls", request_body = LogCall,
    responses((status = 201, body = Communication), (status = 200, description = "duplicate call_id", body = Communication),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn log_call(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Json(body): Json<LogCall>,
) -> Result<(StatusCode, Json<Communication>)> {
    let call_id = body.call_id.trim();
    if call_id.is_empty() || call_id.len() > 200 {
        return Err(ApiError::invalid("call_id must be 1 to 200 characters"));
    }
    let lead = match (body.lead_id, clean(&body.phone)) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("give either lead_id or phone, not both"))
        }
        (None, None) => return Err(ApiError::invalid("give lead_id or phone")),
        (Some(id), None) => LeadRef::Id(id),
        (None, Some(p)) => LeadRef::Identity(Identity {
            phone: Some(
                normalize_phone(&p, state.config.default_region).ok_or_else(|| {
                    ApiError::invalid(format!("phone {p:?} is not a valid phone number"))
                })?,
            ),
            ..Default::default()
        }),
    };
    if let Some(s) = &body.sentiment {
        if !["positive", "neutral", "negative"].contains(&s.as_str()) {
            return Err(ApiError::invalid(
                "sentiment must be positive, neutral or negative",
            ));
        }
    }
    let recording_url = clean(&body.recording_url);
    if let Some(u) = &recording_url {
        if !(u.starts_with("https://") || u.starts_with("http://")) || u.len() > 2000 {
            return Err(ApiError::invalid("recording_url must be an http(s) URL"));
        }
    }
    let action_items: Option<Vec<String>> = body.action_items.map(|items| {
        items
            .into_iter()
            .map(|i| i.trim().to_string())
            .filter(|i| !i.is_empty())
            .collect()
    });
    if action_items
        .as_ref()
        .is_some_and(|a| a.len() > 50 || a.iter().any(|i| i.chars().count() > 500))
    {
        return Err(ApiError::invalid(
            "action_items: at most 50 items of at most 500 characters",
        ));
    }
    let at = body.timestamp.unwrap_or_else(Utc::now);
    let transcript = clean(&body.transcript);
    let mut summary = clean(&body.ai_summary);
    let mut sentiment = body.sentiment.clone();
    let mut items = action_items;
    let mut follow_up = body.next_follow_up;
    let mut derived_fields = vec![];
    if let Some(t) = &transcript {
        let d = derive(t, at);
        if summary.is_none() {
            summary = Some(d.summary);
            derived_fields.push("ai_summary");
        }
        if sentiment.is_none() {
            sentiment = Some(d.sentiment);
            derived_fields.push("sentiment");
        }
        if items.is_none() {
            items = Some(d.action_items);
            derived_fields.push("action_items");
        }
        if follow_up.is_none() && d.next_follow_up.is_some() {
            follow_up = d.next_follow_up;
            derived_fields.push("next_follow_up");
        }
    }
    let outcome = clean(&body.outcome).map(|o| o.to_lowercase());
    let mut new = NewCommunication::new(lead, Channel::PhoneCall, body.direction);
    new.timestamp = Some(at);
    new.content = transcript.clone().or_else(|| summary.clone());
    new.status = outcome.clone();
    new.duration = body.duration_seconds;
    new.provider = Some("api".into());
    new.provider_message_id = Some(call_id.to_string());
    new.attachments = match &recording_url {
        Some(u) => json!([{"type": "recording", "url": u}]),
        None => json!([]),
    };
    new.metadata = json!({
        "call_id": call_id,
        "outcome": outcome,
        "duration": body.duration_seconds,
        "recording_url": recording_url,
        "ai_summary": summary,
        "sentiment": sentiment,
        "action_items": items.unwrap_or_default(),
        "next_follow_up": follow_up.map(|f| f.to_rfc3339()),
        "derived": derived_fields,
    });
    let recorded = communications::record(&state, account, new).await?;
    let status = if recorded.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(recorded.communication)))
}

// ---------------------------------------------------------------------------
// Call list

/// One call in the list.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct CallSummary {
    pub id: i64,
    pub lead_id: i64,
    pub lead_name: Option<String>,
    pub lead_phone: Option<String>,
    pub direction: String,
    pub timestamp: DateTime<Utc>,
    /// completed, missed, no_answer, voicemail, in_progress…
    pub outcome: Option<String>,
    /// Seconds.
    pub duration: Option<i32>,
    pub recording_url: Option<String>,
    pub summary: Option<String>,
    pub sentiment: Option<String>,
    /// The call id (or Telnyx `call_session_id`).
    pub call_id: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallFilter {
    /// Only calls with this outcome (e.g. missed).
    pub outcome: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The account's calls, newest first, with outcome, duration and lead.
#[utoipa::path(get, path = "/api/calls", tag = "calls", params(CallFilter),
    responses((status = 200, body = Page<CallSummary>)), security(("api_key" = [])))]
async fn list_calls(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Query(f): Query<CallFilter>,
) -> Result<Json<Page<CallSummary>>> {
    let page = PageParams {
        limit: f.limit,
        cursor: f.cursor.clone(),
    };
    let (limit, cursor) = (page.limit()?, page.cursor()?);
    let rows = sqlx::query_as::<_, CallSummary>(
        "select c.id, c.lead_id, l.name as lead_name, l.phone as lead_phone, c.direction, c.\"timestamp\",
                c.status as outcome, c.duration,
                coalesce(c.metadata->>'recording_url', c.attachments->0->>'url') as recording_url,
                c.metadata->>'ai_summary' as summary, c.sentiment, c.provider_message_id as call_id
         from communications c join leads l on l.id = c.lead_id and l.account_id = c.account_id
         where c.account_id = $1 and c.type = 'phone_call'
           and ($2::text is null or c.status = $2)
           and ($3::timestamptz is null or (c.\"timestamp\", c.id) < ($3, $4))
         order by c.\"timestamp\" desc, c.id desc limit $5",
    )
    .bind(account)
    .bind(clean(&f.outcome))
    .bind(cursor.map(|c| c.at))
    .bind(cursor.map(|c| c.id).unwrap_or(0))
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(Page::from_rows(rows, limit, |c| Cursor {
        at: c.timestamp,
        id: c.id,
    })))
}

// ---------------------------------------------------------------------------
// Telnyx voice events

/// Everything known about one call, folded from its events in any order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallFold {
    pub session_id: String,
    pub from: Option<String>,
    pub to: Option<String>,
    /// "incoming" / "outgoing" as Telnyx says, when an event said it.
    pub telnyx_direction: Option<String>,
    pub initiated_at: Option<DateTime<Utc>>,
    pub answered: bool,
    pub answered_at: Option<DateTime<Utc>>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub hung_up: bool,
    pub hangup_cause: Option<String>,
    pub hangup_source: Option<String>,
    pub recording_urls: Vec<(String, String)>,
    /// (occurred_at, event_type, event_id), in time order.
    pub events: Vec<(Option<DateTime<Utc>>, String, String)>,
}

fn ts(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn min_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

impl CallFold {
    /// Folds Telnyx event envelopes; the result does not depend on their order or repeats.
    pub fn from_events(session_id: &str, envelopes: &[Value]) -> Self {
        let mut f = CallFold {
            session_id: session_id.to_string(),
            ..Default::default()
        };
        let mut seen = std::collections::BTreeSet::new();
        for env in envelopes {
            let data = &env["data"];
            let id = data["id"].as_str().unwrap_or_default().to_string();
            if !seen.insert(id.clone()) {
                continue;
            }
            let kind = data["event_type"].as_str().unwrap_or_default().to_string();
            let at = ts(&data["occurred_at"]);
            let p = &data["payload"];
            let from = p["from"].as_str().map(str::to_string);
            let to = p["to"].as_str().map(str::to_string);
            // Every event of a call names the same parties; taking the max keeps the
            // fold independent of arrival order all the same.
            f.from = f.from.take().max(from);
            f.to = f.to.take().max(to);
            if let Some(d) = p["direction"].as_str() {
                f.telnyx_direction = Some(d.to_string());
            }
            f.start_time = min_opt(f.start_time, ts(&p["start_time"]));
            match kind.as_str() {
                "call.initiated" => f.initiated_at = min_opt(f.initiated_at, at),
                "call.answered" => {
                    f.answered = true;
                    f.answered_at = min_opt(f.answered_at, at);
                }
                "call.hangup" => {
                    f.hung_up = true;
                    f.end_time = max_opt(f.end_time, ts(&p["end_time"]).or(at));
                    f.hangup_cause = p["hangup_cause"].as_str().map(str::to_string);
                    f.hangup_source = p["hangup_source"].as_str().map(str::to_string);
                }
                "call.recording.saved" => {
                    for field in ["recording_urls", "public_recording_urls"] {
                        if let Some(urls) = p[field].as_object() {
                            for (format, url) in urls {
                                if let Some(u) = url.as_str().filter(|u| !u.is_empty()) {
                                    let pair = (format.clone(), u.to_string());
                                    if !f.recording_urls.contains(&pair) {
                                        f.recording_urls.push(pair);
                                    }
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
            f.events.push((at, kind, id));
        }
        f.recording_urls.sort();
        f.events.sort();
        f
    }

    /// Inbound unless Telnyx or our own number says otherwise.
    pub fn direction(&self, our_number_is_from: bool) -> Direction {
        match self.telnyx_direction.as_deref() {
            Some("outgoing") => Direction::Outbound,
            Some("incoming") => Direction::Inbound,
            _ if our_number_is_from => Direction::Outbound,
            _ => Direction::Inbound,
        }
    }

    pub fn started(&self) -> Option<DateTime<Utc>> {
        self.start_time
            .or(self.initiated_at)
            .or_else(|| self.events.iter().filter_map(|e| e.0).min())
    }

    /// Seconds from start to end, once the call has ended.
    pub fn duration(&self) -> Option<i32> {
        let (s, e) = (self.started()?, self.end_time?);
        Some((e - s).num_seconds().clamp(0, 7 * 24 * 3600) as i32)
    }

    pub fn outcome(&self, direction: Direction) -> &'static str {
        match (self.hung_up, self.answered) {
            (true, true) => "completed",
            (true, false) if direction == Direction::Inbound => "missed",
            (true, false) => match self.hangup_cause.as_deref() {
                Some("busy") => "busy",
                _ => "no_answer",
            },
            (false, true) => "in_progress",
            (false, false) => "ringing",
        }
    }
}

async fn session_events(state: &AppState, session: &str) -> Result<Vec<Value>> {
    Ok(sqlx::query_scalar(
        "select payload from webhook_events
         where provider = 'telnyx' and payload->'data'->'payload'->>'call_session_id' = $1
         order by id",
    )
    .bind(session)
    .fetch_all(&state.pool)
    .await?)
}

/// Which side of the call is ours: (account, integration key, our number is `from`).
async fn call_account(
    state: &AppState,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Option<(AccountId, Option<String>, bool)>> {
    let region = state.config.default_region;
    for (number, ours_is_from) in [(to, false), (from, true)] {
        if let Some(n) = number.and_then(|n| normalize_phone(n, region)) {
            if let Some((a, k)) = webhook::account_for_number(state, &n).await? {
                return Ok(Some((a, k, ours_is_from)));
            }
        }
    }
    Ok(None)
}

/// A `call.*` event: stored once, then the session's events are folded into its one
/// phone_call communication.
pub(crate) async fn handle_event(state: &AppState, ev: &Event) -> Result<&'static str> {
    let p = &ev.payload;
    let Some(session) = p["call_session_id"]
        .as_str()
        .filter(|s| !s.trim().is_empty())
    else {
        if let Stored::Done = store_event(state, ev, None).await? {
            return Ok("duplicate");
        }
        mark_processed(&state.pool, std::slice::from_ref(&ev.id), None).await?;
        return Ok("ignored");
    };
    let own = call_account(state, p["from"].as_str(), p["to"].as_str()).await?;
    if let Some((_, key, _)) = &own {
        ev.check_key_for(key.as_deref())?;
    }
    if let Stored::Done = store_event(state, ev, own.as_ref().map(|o| o.0)).await? {
        return Ok("duplicate");
    }
    let events = session_events(state, session).await?;
    let fold = CallFold::from_events(session, &events);
    let Some((account, _, ours_is_from)) =
        call_account(state, fold.from.as_deref(), fold.to.as_deref()).await?
    else {
        // Not identifiable yet (e.g. a recording event first): kept until an event with
        // the parties arrives; when none ever does, the number is not ours.
        if fold.from.is_some() || fold.to.is_some() {
            tracing::warn!(event = %ev.id, "call event for a number no account has connected; stored only");
            mark_processed(&state.pool, std::slice::from_ref(&ev.id), None).await?;
            return Ok("unknown_number");
        }
        return Ok("pending");
    };
    let direction = fold.direction(ours_is_from);
    let lead_phone = match direction {
        Direction::Inbound => fold.from.clone(),
        Direction::Outbound => fold.to.clone(),
    }
    .and_then(|n| normalize_phone(&n, state.config.default_region));
    let Some(lead_phone) = lead_phone else {
        tracing::warn!(event = %ev.id, "call with an unusable caller number; stored only");
        mark_processed(&state.pool, std::slice::from_ref(&ev.id), Some(account)).await?;
        return Ok("ignored");
    };
    let mut new = NewCommunication::new(
        LeadRef::Identity(Identity {
            phone: Some(lead_phone.clone()),
            ..Default::default()
        }),
        Channel::PhoneCall,
        direction,
    );
    new.provider = Some(webhook::PROVIDER.into());
    new.provider_message_id = Some(session.to_string());
    new.timestamp = fold
        .started()
        .filter(|t| *t <= Utc::now() + TimeDelta::hours(1));
    new.from_address = fold.from.clone();
    new.to_address = fold.to.clone();
    fill(&mut new, &fold, direction);
    // Creates the row once (a racing or later event finds it), then every event
    // rewrites it from all events stored so far, under the row lock.
    communications::record(state, account, new).await?;
    let mut tx = state.pool.begin().await?;
    let row: Option<(i64,)> = sqlx::query_as(
        "select id from communications where account_id = $1 and type = 'phone_call' and provider_message_id = $2 for update",
    )
    .bind(account)
    .bind(session)
    .fetch_optional(&mut *tx)
    .await?;
    let events: Vec<Value> = sqlx::query_scalar(
        "select payload from webhook_events
         where provider = 'telnyx' and payload->'data'->'payload'->>'call_session_id' = $1 order by id",
    )
    .bind(session)
    .fetch_all(&mut *tx)
    .await?;
    let fold = CallFold::from_events(session, &events);
    let mut now = NewCommunication::new(LeadRef::Id(0), Channel::PhoneCall, direction);
    fill(&mut now, &fold, direction);
    if let Some((id,)) = row {
        sqlx::query(
            "update communications set direction = $3, status = $4, duration = $5, metadata = metadata || $6,
                 attachments = $7, \"timestamp\" = coalesce($8, \"timestamp\"),
                 from_address = coalesce($9, from_address), to_address = coalesce($10, to_address)
             where id = $1 and account_id = $2",
        )
        .bind(id)
        .bind(account)
        .bind(direction.as_str())
        .bind(&now.status)
        .bind(now.duration)
        .bind(&now.metadata)
        .bind(&now.attachments)
        .bind(fold.started().filter(|t| *t <= Utc::now() + TimeDelta::hours(1)))
        .bind(&fold.from)
        .bind(&fold.to)
        .execute(&mut *tx)
        .await?;
    }
    let ids: Vec<String> = fold.events.iter().map(|e| e.2.clone()).collect();
    mark_processed(&mut *tx, &ids, Some(account)).await?;
    tx.commit().await?;
    if now.status.as_deref() == Some("missed") {
        text_back(state, account, &fold, &lead_phone).await?;
    }
    Ok("recorded")
}

/// Status, duration, metadata and recording attachments from the fold.
fn fill(new: &mut NewCommunication, fold: &CallFold, direction: Direction) {
    let outcome = fold.outcome(direction);
    new.status = Some(outcome.to_string());
    new.duration = fold.duration();
    new.attachments = Value::Array(
        fold.recording_urls
            .iter()
            .map(|(format, url)| json!({"type": "recording", "format": format, "url": url}))
            .collect(),
    );
    let recording_url = fold
        .recording_urls
        .iter()
        .find(|(f, _)| f == "mp3")
        .or(fold.recording_urls.first())
        .map(|(_, u)| u.clone());
    new.metadata = json!({
        "call_session_id": fold.session_id,
        "outcome": outcome,
        "duration": fold.duration(),
        "answered_at": fold.answered_at.map(|t| t.to_rfc3339()),
        "start_time": fold.started().map(|t| t.to_rfc3339()),
        "end_time": fold.end_time.map(|t| t.to_rfc3339()),
        "hangup_cause": fold.hangup_cause,
        "hangup_source": fold.hangup_source,
        "recording_url": recording_url,
        "events": fold.events.iter().map(|(at, kind, id)| json!({"type": kind, "at": at.map(|t| t.to_rfc3339()), "id": id})).collect::<Vec<_>>(),
    });
}

/// Queues the missed-call text (once per call) when the account enables it.
async fn text_back(
    state: &AppState,
    account: AccountId,
    fold: &CallFold,
    caller: &str,
) -> Result<()> {
    let Some((_, true)) = crate::channels::sms::settings(state, account).await? else {
        return Ok(());
    };
    let Some(ours) = fold
        .to
        .as_deref()
        .and_then(|n| normalize_phone(n, state.config.default_region))
    else {
        return Ok(());
    };
    let company: String = sqlx::query_scalar("select name from accounts where id = $1")
        .bind(account)
        .fetch_one(&state.pool)
        .await?;
    let job = crate::channels::sms::SmsJob {
        to: caller.to_string(),
        from: ours,
        text: MISSED_CALL_TEMPLATE.replace("{company}", &company),
        lead_id: None,
        automatic: true,
        ai_generated: false,
        only_if_missed_call: Some(fold.session_id.clone()),
    };
    crate::channels::sms::enqueue_automatic(
        state,
        account,
        job,
        &format!("missed-call:{}", fold.session_id),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn transcript_yields_action_items_and_a_friday_follow_up() {
        // 2026-03-03 is a Tuesday.
        let d = derive(
            "Hi, we have a leak over the kitchen after the hail storm. Can you send a quote and schedule an inspection? Friday works great, thanks!",
            at("2026-03-03T15:00:00Z"),
        );
        assert_eq!(d.action_items, vec!["Send quote", "Schedule inspection"]);
        assert_eq!(d.next_follow_up, Some(at("2026-03-06T15:00:00Z")));
        assert!(d.summary.contains("a leak"), "{}", d.summary);
        assert!(d.summary.contains("hail damage"), "{}", d.summary);
        assert!(d.summary.contains("send quote"), "{}", d.summary);
        assert_eq!(d.sentiment, "positive");
    }

    #[test]
    fn follow_up_words_count_from_the_call() {
        let t = at("2026-03-06T10:00:00Z"); // a Friday
        assert_eq!(
            follow_up_date("call me tomorrow", t),
            Some(at("2026-03-07T10:00:00Z"))
        );
        assert_eq!(
            follow_up_date("see you friday", t),
            Some(at("2026-03-13T10:00:00Z"))
        );
        assert_eq!(
            follow_up_date("Monday is fine", t),
            Some(at("2026-03-09T10:00:00Z"))
        );
        assert_eq!(
            follow_up_date("maybe next week", t),
            Some(at("2026-03-13T10:00:00Z"))
        );
        assert_eq!(follow_up_date("no plans", t), None);
    }

    #[test]
    fn an_angry_transcript_is_negative_without_actions() {
        let d = derive(
            "This is terrible, the crew ruined my gutters and nobody answers.",
            Utc::now(),
        );
        assert_eq!(d.sentiment, "negative");
        assert!(d.action_items.is_empty());
        assert!(d.summary.contains("gutters"));
    }

    fn ev(id: &str, kind: &str, at: &str, payload: Value) -> Value {
        json!({"data": {"id": id, "event_type": kind, "occurred_at": at, "payload": payload}})
    }

    #[test]
    fn folding_is_independent_of_order_and_repeats() {
        let base = json!({"call_session_id": "s1", "from": "+13125550111", "to": "+13125550100"});
        let mut init = base.clone();
        init["direction"] = json!("incoming");
        let mut hang = base.clone();
        hang["start_time"] = json!("2026-03-03T15:00:00Z");
        hang["end_time"] = json!("2026-03-03T15:02:05Z");
        hang["hangup_cause"] = json!("normal_clearing");
        let rec = json!({"call_session_id": "s1", "recording_urls": {"mp3": "https://r/1.mp3", "wav": "https://r/1.wav"}});
        let events = vec![
            ev("a", "call.initiated", "2026-03-03T15:00:00Z", init),
            ev("b", "call.answered", "2026-03-03T15:00:04Z", base.clone()),
            ev("c", "call.hangup", "2026-03-03T15:02:05Z", hang),
            ev("d", "call.recording.saved", "2026-03-03T15:02:09Z", rec),
        ];
        let forward = CallFold::from_events("s1", &events);
        let mut shuffled = vec![
            events[3].clone(),
            events[2].clone(),
            events[0].clone(),
            events[2].clone(),
            events[1].clone(),
        ];
        let backward = CallFold::from_events("s1", &shuffled);
        assert_eq!(forward, backward);
        assert_eq!(forward.duration(), Some(125));
        assert_eq!(forward.outcome(Direction::Inbound), "completed");
        assert_eq!(forward.recording_urls.len(), 2);
        shuffled.retain(|e| e["data"]["event_type"] != "call.answered");
        let missed = CallFold::from_events("s1", &shuffled);
        assert_eq!(missed.outcome(missed.direction(false)), "missed");
    }
}
