//! Telnyx voice events folded into one call communication per `call_session_id`,
//! whatever their order, and the missed call the switchboard texts back.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use crate::communications::{self, LeadRef, NewCommunication};
use crate::domain::{AccountId, Channel, Direction, Identity, Phone};
use crate::error::Result;
use crate::phone::normalize_phone;
use crate::state::AppState;
use crate::telnyx::events::{self as webhook, mark_processed, store_event, Event, Stored};

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
            if let Some((a, k)) = state.telnyx_numbers.owner(&state.pool, &n).await? {
                return Ok(Some((a, k, ours_is_from)));
            }
        }
    }
    Ok(None)
}

/// A missed call, reported to the switchboard (which asks SMS for the text-back).
pub struct MissedCall {
    pub account: AccountId,
    /// Our number that was called.
    pub our_number: String,
    pub caller: String,
    pub session_id: String,
}

/// What became of a call event.
pub struct Handled {
    pub status: &'static str,
    pub missed: Option<MissedCall>,
}

impl From<&'static str> for Handled {
    fn from(status: &'static str) -> Self {
        Handled {
            status,
            missed: None,
        }
    }
}

/// A `call.*` event: stored once, then the session's events are folded into its one
/// phone_call communication.
pub async fn handle_event(state: &AppState, ev: &Event) -> Result<Handled> {
    let p = &ev.payload;
    let Some(session) = p["call_session_id"]
        .as_str()
        .filter(|s| !s.trim().is_empty())
    else {
        if let Stored::Done = store_event(&state.pool, ev, None).await? {
            return Ok("duplicate".into());
        }
        mark_processed(&state.pool, std::slice::from_ref(&ev.id), None).await?;
        return Ok("ignored".into());
    };
    let own = call_account(state, p["from"].as_str(), p["to"].as_str()).await?;
    if let Some((_, key, _)) = &own {
        ev.check_key_for(key.as_deref())?;
    }
    if let Stored::Done = store_event(&state.pool, ev, own.as_ref().map(|o| o.0)).await? {
        return Ok("duplicate".into());
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
            return Ok("unknown_number".into());
        }
        return Ok("pending".into());
    };
    let direction = fold.direction(ours_is_from);
    let lead_phone = match direction {
        Direction::Inbound => fold.from.clone(),
        Direction::Outbound => fold.to.clone(),
    }
    .and_then(|n| Phone::parse(&n, state.config.default_region));
    let Some(lead_phone) = lead_phone else {
        tracing::warn!(event = %ev.id, "call with an unusable caller number; stored only");
        mark_processed(&state.pool, std::slice::from_ref(&ev.id), Some(account)).await?;
        return Ok("ignored".into());
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
    let mut tx = crate::db::begin(&state.pool).await?;
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
        let revision = communications::revise::Revision {
            direction,
            status: now.status.as_deref(),
            duration: now.duration,
            metadata: &now.metadata,
            attachments: &now.attachments,
            timestamp: fold
                .started()
                .filter(|t| *t <= Utc::now() + TimeDelta::hours(1)),
            from_address: fold.from.as_deref(),
            to_address: fold.to.as_deref(),
        };
        communications::revise::revise(&mut *tx, account, id, &revision).await?;
    }
    let ids: Vec<String> = fold.events.iter().map(|e| e.2.clone()).collect();
    mark_processed(&mut *tx, &ids, Some(account)).await?;
    tx.commit().await?;
    let missed = (now.status.as_deref() == Some("missed"))
        .then(|| {
            let ours = normalize_phone(fold.to.as_deref()?, state.config.default_region)?;
            Some(MissedCall {
                account,
                our_number: ours,
                caller: lead_phone.to_string(),
                session_id: fold.session_id.clone(),
            })
        })
        .flatten();
    Ok(Handled {
        status: "recorded",
        missed,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

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
