//! The rules responder: offline, deterministic, the default.
//!
//! It detects intents in the latest inbound message, answers FAQs from
//! [`CompanySettings`](crate::ai::CompanySettings), asks for the single most
//! valuable missing field, and shapes the text for the channel. Every sentence
//! comes from a template in `templates/ai/*.j2` (minijinja): a file in
//! `{templates_dir}/ai/` wins when it exists (read at each reply, so edits
//! apply without a restart), else the copy embedded in the binary is used. A
//! broken override is logged and the embedded copy used instead, so the rules
//! responder never fails.
//!
//! - [`intents`] (with [`words`]): what a message is about; [`plan`]: what to ask and offer;
//!   [`templates`]: the embedded templates; here: rendering and shaping the reply.

mod intents;
mod plan;
mod templates;
mod words;

use std::path::PathBuf;
use std::sync::Arc;

use minijinja::Environment;
use serde_json::{json, Value};

use crate::ai::text::{self, clean_inline, clean_opt};
use crate::ai::{Reply, ReplyRequest};
use crate::domain::Channel;

pub use intents::{detect_intents, looks_automated, Intent};
use plan::inbound_texts;
pub use plan::{Field, Plan};
use templates::new_env;
pub use templates::EMBEDDED_TEMPLATES;

struct RulesInner {
    dir: Option<PathBuf>,
    embedded: Environment<'static>,
    overrides: Environment<'static>,
}

/// The offline responder. Cheap to clone.
#[derive(Clone)]
pub struct RulesResponder {
    inner: Arc<RulesInner>,
}

impl std::fmt::Debug for RulesResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulesResponder")
            .field("templates_dir", &self.inner.dir)
            .finish()
    }
}

/// One piece of the reply.
struct Part {
    text: String,
    group: Group,
    /// 0 = never dropped; higher ranks are dropped first when a reply is too
    /// long for the channel.
    rank: u8,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Opening,
    Info,
    Action,
}

fn ensure_no_final_period(s: String) -> String {
    s.trim_end_matches(['.', ' ']).to_string()
}

fn join_list(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

impl RulesResponder {
    /// `templates_dir` holds `ai/*.j2` overrides; `None` uses only the
    /// embedded templates.
    pub fn new(templates_dir: Option<PathBuf>) -> Self {
        let mut embedded = new_env();
        for (name, src) in EMBEDDED_TEMPLATES {
            embedded
                .add_template(name, src)
                .expect("embedded templates are valid");
        }
        RulesResponder {
            inner: Arc::new(RulesInner {
                dir: templates_dir,
                embedded,
                overrides: new_env(),
            }),
        }
    }

    pub fn templates_dir(&self) -> Option<&std::path::Path> {
        self.inner.dir.as_deref()
    }

    /// Renders `ai/….j2`: the override file when there is a readable, valid
    /// one, else the embedded copy. Never fails (a broken embedded template
    /// renders as "").
    pub fn render(&self, name: &str, ctx: &Value) -> String {
        if let Some(dir) = &self.inner.dir {
            let path = dir.join(name);
            if let Ok(src) = std::fs::read_to_string(&path) {
                match self.inner.overrides.render_named_str(name, &src, ctx) {
                    Ok(out) => return out,
                    Err(err) => tracing::warn!(
                        template = %path.display(),
                        error = %err,
                        "template override failed; using the built-in copy"
                    ),
                }
            }
        }
        match self
            .inner
            .embedded
            .get_template(name)
            .and_then(|t| t.render(ctx))
        {
            Ok(out) => out,
            Err(err) => {
                tracing::error!(template = name, error = %err, "built-in template failed");
                String::new()
            }
        }
    }

    fn sentence(&self, name: &str, ctx: &Value) -> String {
        text::one_line(&self.render(name, ctx))
    }

    /// The template context: cleaned company facts and lead values.
    fn context(&self, req: &ReplyRequest<'_>, intents: &[Intent], thanks_only: bool) -> Value {
        let c = req.company;
        let fact = |v: &Option<String>, max: usize| {
            clean_opt(v.as_deref(), max).map(ensure_no_final_period)
        };
        let services: Vec<String> = c
            .services
            .iter()
            .filter_map(|s| clean_opt(Some(s), 60))
            .take(6)
            .collect();
        let phone_channel = matches!(req.channel, Channel::Sms | Channel::PhoneCall);
        let lead_phone = clean_opt(req.lead.profile.phone.as_deref(), 32)
            .or_else(|| {
                // As the lead wrote it (the extractor's E.164 form reads oddly in a reply).
                inbound_texts(req)
                    .filter_map(|t| {
                        let (at, _) =
                            crate::tracker::extract::find_phone(t, phonenumber::country::Id::US)?;
                        Some(t[at].trim().to_string())
                    })
                    .last()
                    .map(|p| clean_inline(&p, 32))
            })
            .or_else(|| phone_channel.then(|| "this number".to_string()));
        json!({
            "company_name": clean_opt(c.company_name.as_deref(), 80),
            "services": services,
            "services_text": join_list(&services),
            "service_area": fact(&c.service_area, 200),
            "hours": fact(&c.hours, 200),
            "phone": clean_opt(c.phone.as_deref(), 40),
            "booking_link": clean_opt(c.booking_link.as_deref(), 300),
            "financing": fact(&c.financing, 200),
            "insurance_claims": fact(&c.insurance_claims, 300),
            "first_name": text::first_name(req.lead.profile.name.as_deref()),
            "lead_phone": lead_phone,
            "channel": req.channel.as_str(),
            "short": phone_channel,
            "email": req.channel == Channel::Email,
            "intents": intents.iter().map(|i| i.as_str()).collect::<Vec<_>>(),
            "thanks_only": thanks_only,
        })
    }

    /// The rendered question for a field (as the rules would ask it).
    pub fn question_text(&self, req: &ReplyRequest<'_>, field: Field) -> String {
        self.sentence(field.template(), &self.context(req, &[], false))
    }

    /// The rules reply (synchronous; the [`Responder`](crate::ai::Responder)
    /// impl wraps this).
    pub fn reply_now(&self, req: &ReplyRequest<'_>) -> Reply {
        let plan = self.plan(req);
        let intents = &plan.intents;
        let has_i = |i: Intent| intents.contains(&i);
        let thanks_only = has_i(Intent::Thanks) && intents.iter().all(|i| *i == Intent::Thanks);
        let ctx = self.context(req, intents, thanks_only);
        let mut parts: Vec<Part> = Vec::new();
        let mut add = |name: &str, group: Group, rank: u8| {
            let text = self.sentence(name, &ctx);
            if !text.is_empty() {
                parts.push(Part { text, group, rank });
            }
        };

        if has_i(Intent::Stop) {
            add("ai/stop.j2", Group::Opening, 0);
        } else {
            use Group::*;
            if plan.apologize {
                add("ai/apology.j2", Opening, 1);
            }
            if has_i(Intent::Greeting) && intents.len() == 1 {
                add("ai/greeting.j2", Opening, 0);
            }
            if has_i(Intent::Thanks) {
                add("ai/thanks.j2", Opening, if thanks_only { 0 } else { 4 });
            }
            if has_i(Intent::Human) {
                add("ai/human.j2", Opening, 0);
            }
            if has_i(Intent::PriceObjection) {
                add("ai/price_objection.j2", Opening, 1);
            }
            if has_i(Intent::Leak) {
                add("ai/ack_leak.j2", Opening, 1);
                if !has_i(Intent::Complaint) {
                    add("ai/tip_leak.j2", Opening, 5);
                }
            }
            if has_i(Intent::StormDamage) {
                add("ai/ack_storm.j2", Opening, 3);
            }
            if has_i(Intent::Scheduling)
                && !has_i(Intent::Leak)
                && !has_i(Intent::StormDamage)
                && !has_i(Intent::Complaint)
            {
                add("ai/ack_scheduling.j2", Opening, 3);
            }
            let generic = !intents.iter().any(|i| i.is_topic())
                && !has_i(Intent::Greeting)
                && !thanks_only
                && !plan.apologize;
            if generic {
                add("ai/default_ack.j2", Opening, 4);
            }
            if has_i(Intent::QuoteRequest) {
                add("ai/ack_quote.j2", Info, 3);
            }
            if has_i(Intent::Insurance) {
                add("ai/faq_insurance.j2", Info, 2);
            }
            if has_i(Intent::ServiceArea) {
                add("ai/faq_service_area.j2", Info, 2);
            }
            if has_i(Intent::Hours) {
                add("ai/faq_hours.j2", Info, 2);
            }
            if has_i(Intent::Financing) {
                add("ai/faq_financing.j2", Info, 2);
            }
            if plan.offer_call {
                add("ai/call_offer.j2", Action, 2);
            }
            if let Some(f) = plan.question {
                add(f.template(), Action, 0);
            }
            // Last, so a booking link ends the message.
            if plan.offer_inspection {
                add("ai/inspection_offer.j2", Action, 2);
            }
        }

        let text = self.shape(req, parts);
        Reply {
            text,
            subject: self.subject(req),
            provider: "rules".to_string(),
            model: None,
            fallback_reason: None,
            intents: intents.iter().map(|i| i.as_str().to_string()).collect(),
        }
    }

    /// Email subject ("Re: …" or the default), `None` on other channels.
    pub fn subject(&self, req: &ReplyRequest<'_>) -> Option<String> {
        (req.channel == Channel::Email)
            .then(|| text::reply_subject(req.subject, req.company.company_name.as_deref()))
    }

    /// Joins the parts for the channel, dropping low-value parts (then
    /// cutting) to fit SMS/chat bounds.
    fn shape(&self, req: &ReplyRequest<'_>, mut parts: Vec<Part>) -> String {
        if req.channel == Channel::Email {
            let mut paragraphs: Vec<String> = Vec::new();
            for group in [Group::Opening, Group::Info, Group::Action] {
                let p: Vec<&str> = parts
                    .iter()
                    .filter(|x| x.group == group)
                    .map(|x| x.text.as_str())
                    .collect();
                if !p.is_empty() {
                    paragraphs.push(p.join(" "));
                }
            }
            return self.wrap_email(req, &paragraphs.join("\n\n"));
        }
        let max = text::max_chars(req.channel);
        let joined = |parts: &[Part]| {
            parts
                .iter()
                .map(|p| p.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        while joined(&parts).chars().count() > max {
            // Drop the highest-ranked (least valuable) part, latest first.
            let Some((idx, _)) = parts
                .iter()
                .enumerate()
                .filter(|(_, p)| p.rank > 0)
                .max_by_key(|(i, p)| (p.rank, *i))
            else {
                break;
            };
            parts.remove(idx);
        }
        text::truncate_nicely(&joined(&parts), max)
    }

    /// Wraps an email body with the greeting line and the signature.
    pub fn wrap_email(&self, req: &ReplyRequest<'_>, body: &str) -> String {
        let c = req.company;
        let signature = clean_opt(c.signature.as_deref(), 120).unwrap_or_else(|| {
            match clean_opt(c.company_name.as_deref(), 80) {
                Some(name) => format!("— The {name} team"),
                None => "— The team".to_string(),
            }
        });
        let mut ctx = self.context(req, &[], false);
        ctx["body"] = Value::String(body.to_string());
        ctx["signature"] = Value::String(signature);
        text::clean_multiline(&self.render("ai/email.j2", &ctx))
    }

    /// Shapes a provider's text for the channel: SMS on one line within 320
    /// characters, chat within 600, email wrapped with our greeting and
    /// signature (a greeting/signature/subject line the model added is
    /// removed first).
    pub fn shape_provider_text(&self, req: &ReplyRequest<'_>, raw: &str) -> String {
        let cleaned = text::clean_multiline(raw);
        match req.channel {
            Channel::Sms | Channel::PhoneCall => {
                text::truncate_nicely(&text::one_line(&cleaned), text::SMS_MAX_CHARS)
            }
            Channel::Chat => text::truncate_nicely(&cleaned, text::CHAT_MAX_CHARS),
            Channel::Email | Channel::Form => {
                let mut lines: Vec<&str> = cleaned.lines().collect();
                while lines.first().is_some_and(|l| {
                    let l = l.trim().to_lowercase();
                    l.is_empty()
                        || l.starts_with("subject:")
                        || ((l.starts_with("hi")
                            || l.starts_with("hello")
                            || l.starts_with("dear"))
                            && l.ends_with(',')
                            && l.len() < 60)
                }) {
                    lines.remove(0);
                }
                let signature = clean_opt(req.company.signature.as_deref(), 120);
                while lines.last().is_some_and(|l| {
                    let t = l.trim();
                    t.is_empty()
                        || signature.as_deref() == Some(t)
                        || t.starts_with('—') && t.len() < 80
                }) {
                    lines.pop();
                }
                let body = text::truncate_nicely(&lines.join("\n"), text::EMAIL_MAX_CHARS);
                self.wrap_email(req, &body)
            }
        }
    }
}

#[async_trait::async_trait]
impl crate::ai::Responder for RulesResponder {
    async fn reply(&self, req: &ReplyRequest<'_>) -> Result<Reply, crate::ai::AiError> {
        Ok(self.reply_now(req))
    }
    fn name(&self) -> &'static str {
        "rules"
    }
}
