//! How each touch is written: texts and emails through `communications::record` as the
//! channels store them, calls through the call-log API, website chats and their
//! `chat_sessions` row, the AI's replies, and the lead's stage.

use axum::http::Method;
use chrono::{DateTime, Duration, Utc};
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};

use crate::channels::email::parse::ParsedEmail;
use crate::communications::{record, LeadRef, NewCommunication};
use crate::domain::LeadProfile;
use crate::domain::{Channel, Direction};
use crate::tracker::model::LeadFacts;

use super::clock::{secs, Actor, Gap};
use super::{Demo, Run};

/// An email conversation: its subject and the Message-IDs so far (oldest first).
pub(super) struct Thread {
    subject: String,
    ids: Vec<String>,
}

/// A website chat session being written.
pub(super) struct Session {
    id: String,
    thread_key: String,
    page_url: String,
    /// The widget opened.
    started: DateTime<Utc>,
    /// The first message.
    first: DateTime<Utc>,
    messages: u32,
    /// What the visitor told us.
    pub(super) fields: LeadProfile,
}

impl Demo {
    fn id(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.ids.gen())
            .into_uuid()
            .to_string()
    }

    pub(super) fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit(self.ids.gen_range(0..16), 16).unwrap_or('0'))
            .collect()
    }

    // ---- channels

    async fn store(&self, new: NewCommunication) -> anyhow::Result<()> {
        record(&self.state, self.account, new).await?;
        Ok(())
    }

    pub(super) async fn sms_in(
        &mut self,
        l: &mut Run,
        gap: Gap,
        text: String,
    ) -> anyhow::Result<()> {
        let at = self.step(l, gap, Actor::Lead);
        let mut new = NewCommunication::new(LeadRef::Id(l.id), Channel::Sms, Direction::Inbound);
        new.timestamp = Some(at);
        new.from_address = Some(l.p.phone.clone());
        new.to_address = Some(self.company.phone.clone());
        new.status = Some("received".into());
        new.provider = Some(crate::telnyx::events::PROVIDER.into());
        new.provider_message_id = Some(self.id());
        let (parts, _) = crate::channels::sms::rules::segments(&text);
        new.metadata = json!({"event_id": self.id(), "type": "SMS", "parts": parts,
                              "messaging_profile_id": "demo-messaging-profile"});
        new.content = Some(text);
        self.store(new).await
    }

    pub(super) async fn sms_out(
        &mut self,
        l: &mut Run,
        gap: Gap,
        actor: Actor,
        text: String,
        automatic: bool,
    ) -> anyhow::Result<()> {
        let at = self.step(l, gap, actor);
        self.sms_out_at(l, at, text, automatic, vec![]).await
    }

    pub(super) async fn sms_out_at(
        &mut self,
        l: &mut Run,
        at: DateTime<Utc>,
        text: String,
        automatic: bool,
        media: Vec<Value>,
    ) -> anyhow::Result<()> {
        let mut new = NewCommunication::new(LeadRef::Id(l.id), Channel::Sms, Direction::Outbound);
        new.timestamp = Some(at);
        new.from_address = Some(self.company.phone.clone());
        new.to_address = Some(l.p.phone.clone());
        new.status = Some("delivered".into());
        new.provider = Some(crate::telnyx::events::PROVIDER.into());
        new.provider_message_id = Some(self.id());
        let (segments, encoding) = crate::channels::sms::rules::segments(&text);
        let delivered = at + Duration::seconds(l.clock.gen_range(2..9));
        new.metadata = json!({
            "segments": segments, "encoding": encoding, "automatic": automatic,
            "status_history": [{"status": "queued", "at": at.to_rfc3339()},
                               {"status": "delivered", "at": delivered.to_rfc3339()}],
        });
        new.attachments = Value::Array(media);
        new.content = Some(text);
        self.store(new).await
    }

    /// An inbound email (as IMAP sync stores it); `subject` starts a new thread, `None`
    /// replies in the current one.
    pub(super) async fn email_in(
        &mut self,
        l: &mut Run,
        gap: Gap,
        subject: Option<String>,
        body: String,
    ) -> anyhow::Result<()> {
        let Some(from) = l.p.email.clone() else {
            return self.sms_in(l, gap, body).await;
        };
        let at = self.step(l, gap, Actor::Lead);
        let domain = from
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("example.com");
        let message_id = format!("{}@mail.{domain}", self.hex(24));
        let (subject, in_reply_to, references) = threading(l, subject, &message_id);
        let parsed = ParsedEmail {
            message_id: Some(message_id.clone()),
            in_reply_to,
            references,
            from: Some(from.clone()),
            from_name: Some(l.p.name()),
            to: vec![self.company.email()],
            subject: Some(subject.clone()),
            date: Some(at),
            text: body.clone(),
            content: body.clone(),
            ..ParsedEmail::default()
        };
        self.uid += 1;
        let mut new = NewCommunication::new(LeadRef::Id(l.id), Channel::Email, Direction::Inbound);
        new.timestamp = Some(at);
        new.from_address = Some(from);
        new.to_address = Some(self.company.email());
        new.subject = Some(subject);
        new.content = Some(body);
        new.metadata = parsed
            .metadata(json!({"imap": {"folder": "INBOX", "uid": self.uid, "uidvalidity": 1}}));
        new.provider = Some("imap".into());
        new.provider_message_id = Some(message_id);
        new.thread_key = parsed.thread_key();
        self.store(new).await
    }

    /// An email we sent (as the outbox records it after SMTP accepted it).
    pub(super) async fn email_out(
        &mut self,
        l: &mut Run,
        at: DateTime<Utc>,
        subject: Option<String>,
        body: String,
        ai: Option<Value>,
    ) -> anyhow::Result<()> {
        let Some(to) = l.p.email.clone() else {
            return self.sms_out_at(l, at, body, false, vec![]).await;
        };
        let message_id = format!("{}@{}", self.hex(32), self.company.domain);
        let (subject, in_reply_to, references) = threading(l, subject, &message_id);
        let thread_key = references
            .first()
            .or(in_reply_to.as_ref())
            .cloned()
            .unwrap_or_else(|| message_id.clone());
        let mut new = NewCommunication::new(LeadRef::Id(l.id), Channel::Email, Direction::Outbound);
        new.timestamp = Some(at);
        new.from_address = Some(self.company.email());
        new.to_address = Some(to.clone());
        new.subject = Some(subject);
        new.content = Some(body);
        new.status = Some("sent".into());
        new.provider = Some("smtp".into());
        new.provider_message_id = Some(message_id.clone());
        new.thread_key = Some(thread_key);
        new.metadata = json!({"email": {"message_id": message_id, "in_reply_to": in_reply_to,
            "references": references, "to": [to], "body_html": null,
            "auto_submitted": ai.as_ref().map(|_| "auto-replied")}});
        if let Some(ai) = ai {
            new.ai_generated = true;
            new.metadata["ai"] = ai;
        }
        self.store(new).await
    }

    /// A call through the call-log API, which derives summary, sentiment, action items
    /// and follow-up from the transcript as for any logged call.
    pub(super) async fn call(
        &mut self,
        l: &mut Run,
        at: DateTime<Utc>,
        direction: Direction,
        outcome: &str,
        duration: i32,
        transcript: Option<String>,
    ) -> anyhow::Result<()> {
        let call_id = format!("call_{}", self.hex(24));
        let mut body = json!({
            "call_id": call_id, "lead_id": l.id, "direction": direction.as_str(),
            "duration_seconds": duration, "timestamp": at.to_rfc3339(), "outcome": outcome,
        });
        if duration > 0 && matches!(outcome, "completed" | "voicemail") {
            body["recording_url"] = json!(format!(
                "https://recordings.example.com/{}/{call_id}.mp3",
                self.account
            ));
        }
        if let Some(t) = transcript {
            body["transcript"] = json!(t);
        }
        self.api.call(Method::POST, "/api/calls/log", body).await?;
        // What follows happens after the call ended.
        self.set(l, at + Duration::seconds(i64::from(duration)));
        Ok(())
    }

    /// Opens a website chat session (its messages are `chat` communications in the
    /// thread `chat:<session>`).
    pub(super) fn chat_start(&mut self, l: &mut Run, gap: Gap) -> Session {
        let start = self.step(l, gap, Actor::Lead);
        let id = format!("cs_{}", self.hex(20));
        let page = [
            "roof-repair",
            "storm-damage",
            "roof-replacement",
            "",
            "contact",
        ]
        .choose(&mut l.rng)
        .copied()
        .unwrap_or("");
        Session {
            thread_key: crate::channels::chat::conversation::thread_key(&id),
            id,
            page_url: format!("{}/{page}", self.company.origin()),
            started: start - Duration::seconds(l.clock.gen_range(8..40)),
            first: start,
            messages: 0,
            fields: LeadProfile {
                name: None,
                email: None,
                phone: None,
                property_address: None,
                roof_age_years: None,
                issues: vec![l.p.issue.key.to_string()],
                timeline: None,
                budget: None,
            },
        }
    }

    pub(super) async fn chat_visitor(
        &mut self,
        l: &mut Run,
        s: &mut Session,
        text: String,
    ) -> anyhow::Result<()> {
        let at = if s.messages == 0 {
            s.first
        } else {
            self.step(l, secs(20, 95), Actor::Instant)
        };
        let mut new = NewCommunication::new(LeadRef::Id(l.id), Channel::Chat, Direction::Inbound);
        new.timestamp = Some(at);
        new.content = Some(text);
        new.provider = Some("widget".into());
        new.thread_key = Some(s.thread_key.clone());
        new.metadata = json!({"chat_session_id": s.id, "page_url": s.page_url});
        self.store(new).await?;
        s.messages += 1;
        Ok(())
    }

    /// The AI responder answers the visitor (a person of the team does when it stays
    /// quiet); returns what was said.
    pub(super) async fn chat_ai(&mut self, l: &mut Run, s: &mut Session) -> anyhow::Result<String> {
        let reply = crate::ai::service::reply_for_lead(
            &self.state,
            self.account,
            l.id,
            Channel::Chat,
            None,
        )
        .await?;
        let at = self.step(l, secs(2, 7), Actor::Instant);
        let mut new = NewCommunication::new(LeadRef::Id(l.id), Channel::Chat, Direction::Outbound);
        new.timestamp = Some(at);
        new.thread_key = Some(s.thread_key.clone());
        let text = match reply {
            // As `ai::service::record_reply` stores it.
            Some(r) => {
                new.ai_generated = true;
                new.metadata = json!({"ai": {"provider": r.provider, "model": r.model,
                    "fallback_reason": r.fallback_reason, "intents": r.intents}});
                r.text
            }
            None => {
                new.provider = Some("widget".into());
                new.metadata = json!({"chat_session_id": s.id, "page_url": s.page_url});
                format!(
                    "Thanks! This is {} at {}. We'll text you shortly to set up a time.",
                    self.company.office, self.company.name
                )
            }
        };
        new.content = Some(text.clone());
        self.store(new).await?;
        s.messages += 1;
        Ok(text)
    }

    /// Closes the session: its row in the Conversations view, with what the visitor told
    /// us and the chat score; the lead gets the facts the chat revealed.
    pub(super) async fn chat_end(&mut self, l: &mut Run, s: Session) -> anyhow::Result<()> {
        let f = &s.fields;
        let facts = LeadFacts {
            profile: LeadProfile {
                name: f.name.clone(),
                email: f.email.clone(),
                phone: f.phone.clone(),
                property_address: f.property_address.clone(),
                roof_age_years: f.roof_age_years,
                issues: f.issues.clone(),
                timeline: f.timeline.clone(),
                budget: f.budget.clone(),
            },
            status: None,
        };
        let last = l.at;
        let score = crate::tracker::scoring::chat_score(
            &facts,
            s.messages,
            (last - s.started).num_seconds().max(0),
        );
        let linger = Duration::minutes(l.clock.gen_range(5..30));
        let ended = (self.now - last > Duration::hours(2)).then(|| (last + linger).min(self.now));
        let referrer = ["https://www.google.com/", "https://www.facebook.com/", ""]
            .choose(&mut l.rng)
            .copied()
            .filter(|r| !r.is_empty());
        sqlx::query(
            "insert into chat_sessions (account_id, site_id, session_id, lead_id, visitor_id, page_url, referrer,
                 visitor_location, started_at, ended_at, last_message_at, message_count, lead_data,
                 engagement_score, score_band, contact_captured, rate_window_start, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $9, $9, $11)",
        )
        .bind(self.account)
        .bind(self.site_id)
        .bind(&s.id)
        .bind(l.id)
        .bind(format!("v_{}", self.hex(16)))
        .bind(&s.page_url)
        .bind(referrer)
        .bind(format!("{}, TX", l.p.city))
        .bind(s.started)
        .bind(ended)
        .bind(last)
        .bind(s.messages as i32)
        .bind(serde_json::to_value(f)?)
        .bind(score.score)
        .bind(crate::leads::store::band_str(score.band))
        .bind(f.email.is_some() || f.phone.is_some())
        .execute(&self.state.pool)
        .await?;
        // What the chat revealed beyond the lead's identity, as extraction would file it.
        let mut learned = serde_json::Map::new();
        if let Some(age) = f.roof_age_years {
            learned.insert("roof_age_years".into(), json!(age));
        }
        if let Some(t) = &f.timeline {
            learned.insert("timeline".into(), json!(t));
        }
        if !learned.is_empty() {
            self.api
                .call(
                    Method::PATCH,
                    &format!("/api/leads/{}", l.id),
                    Value::Object(learned),
                )
                .await?;
        }
        Ok(())
    }

    /// The AI responder answers the lead's latest email, as the auto-reply does.
    pub(super) async fn ai_email_reply(&mut self, l: &mut Run) -> anyhow::Result<bool> {
        let subject = l.thread.as_ref().map(|t| t.subject.clone());
        let reply = crate::ai::service::reply_for_lead(
            &self.state,
            self.account,
            l.id,
            Channel::Email,
            subject.as_deref(),
        )
        .await?;
        let Some(r) = reply else {
            return Ok(false);
        };
        let at = self.step(l, secs(40, 150), Actor::Instant);
        let ai = json!({"provider": r.provider, "model": r.model,
                        "fallback_reason": r.fallback_reason, "intents": r.intents});
        self.email_out(l, at, None, r.text, Some(ai)).await?;
        Ok(true)
    }

    pub(super) async fn stage(&self, l: &Run, status: &str) -> anyhow::Result<()> {
        self.api
            .call(
                Method::PATCH,
                &format!("/api/leads/{}", l.id),
                json!({ "status": status }),
            )
            .await?;
        Ok(())
    }
}

/// Subject, In-Reply-To and References of the next message in the lead's current email
/// thread (a new thread when `subject` is given), which then includes `message_id`.
fn threading(
    l: &mut Run,
    subject: Option<String>,
    message_id: &str,
) -> (String, Option<String>, Vec<String>) {
    let mut thread = match (subject, l.thread.take()) {
        (Some(subject), _) => Thread {
            subject,
            ids: vec![],
        },
        (None, Some(thread)) => thread,
        (None, None) => Thread {
            subject: format!("Your roof at {}", l.p.street),
            ids: vec![],
        },
    };
    let subject = if thread.ids.is_empty() {
        thread.subject.clone()
    } else {
        crate::channels::email::send::reply_subject(Some(&thread.subject))
    };
    let in_reply_to = thread.ids.last().cloned();
    let references = thread.ids.clone();
    thread.ids.push(message_id.to_string());
    l.thread = Some(thread);
    (subject, in_reply_to, references)
}
