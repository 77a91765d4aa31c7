//! The AI responder: an immediate, useful, personalized answer to every chat
//! message and inbound lead email.
//!
//! * [`AiResponder`] is what chat and email call. It uses the configured
//!   provider (Anthropic or an OpenAI-compatible server) and falls back to the
//!   offline [`rules::RulesResponder`] on any failure, so it never fails and
//!   never waits longer than the configured budget.
//! * With `LEADLINE_AI_PROVIDER=rules` (the default) no network request is
//!   ever made.
//! * [`should_skip`] tells the caller when not to answer at all (auto-replies,
//!   echoes, nothing new to answer), which keeps two autoresponders from
//!   looping.
//!
//! API keys never appear in logs, errors or `Debug` output.

pub mod anthropic;
pub mod closed;
mod http;
pub mod openai;
pub mod prompt;
pub mod rules;
pub mod service;
pub mod text;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::{Channel, Direction, SentimentLabel};

pub use rules::{Field, Intent, RulesResponder};

/// A roofing company's facts the responder may use (stored per account). Unknown fields
/// are refused (a misspelt one would otherwise clear the real one on `PUT`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CompanySettings {
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub company_name: Option<String>,
    /// e.g. `["roof repair", "roof replacement", "gutters"]`
    #[serde(default)]
    pub services: Vec<String>,
    /// e.g. "Chicago and the western suburbs"
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub service_area: Option<String>,
    /// e.g. "Mon–Fri 8am–6pm, Sat 9am–1pm"
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub hours: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub booking_link: Option<String>,
    /// Where happy customers leave a review (Google, Yelp…), for review requests.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub review_link: Option<String>,
    /// e.g. "0% for 12 months through GreenSky"; `None` = don't mention.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub financing: Option<String>,
    /// e.g. "We work with all major insurers and meet the adjuster on site"
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub insurance_claims: Option<String>,
    /// e.g. "— Mike, Acme Roofing"
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub signature: Option<String>,
}

impl CompanySettings {
    /// The facts as an account stores them (`accounts.settings->'company'`): none when
    /// unset or unreadable.
    pub fn from_stored(v: Option<serde_json::Value>) -> Self {
        v.and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }
}

/// What the tracker knows about the lead: its profile, and how it stands.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LeadContext {
    #[serde(flatten)]
    pub profile: crate::domain::LeadProfile,
    pub score: Option<i32>,
    /// "HOT" / "WARM" / "COLD"
    pub band: Option<String>,
    /// Most recent inbound sentiment.
    pub sentiment: Option<SentimentLabel>,
    /// The tracker's action, e.g. "schedule_inspection", "address_concerns",
    /// "respond_immediately".
    pub next_action: Option<String>,
}

/// One message of the conversation: `Inbound` = the lead, `Outbound` = us.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Turn {
    pub direction: Direction,
    pub text: String,
}

/// Everything needed to answer the latest inbound message.
#[derive(Debug, Clone, Copy)]
pub struct ReplyRequest<'a> {
    pub company: &'a CompanySettings,
    pub lead: &'a LeadContext,
    pub channel: Channel,
    /// Oldest first; the last inbound turn is what we answer.
    pub conversation: &'a [Turn],
    /// Email thread subject.
    pub subject: Option<&'a str>,
}

impl ReplyRequest<'_> {
    /// Index of the last inbound turn with text.
    pub fn last_inbound_index(&self) -> Option<usize> {
        self.conversation
            .iter()
            .rposition(|t| t.direction == Direction::Inbound && !t.text.trim().is_empty())
    }

    /// Text of the last inbound turn ("" when there is none).
    pub fn last_inbound(&self) -> &str {
        self.last_inbound_index()
            .map(|i| self.conversation[i].text.as_str())
            .unwrap_or("")
    }
}

/// A reply ready to send.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reply {
    pub text: String,
    /// Email only: "Re: …" (or "Your roofing inquiry with {company}").
    pub subject: Option<String>,
    /// "rules" | "anthropic" | "openai"
    pub provider: String,
    pub model: Option<String>,
    /// Set when a provider failed and the rules answered.
    pub fallback_reason: Option<String>,
    /// What the rules detected in the latest inbound message (canonical order).
    pub intents: Vec<String>,
}

/// Anything that can answer a lead.
#[async_trait::async_trait]
pub trait Responder: Send + Sync {
    async fn reply(&self, req: &ReplyRequest<'_>) -> Result<Reply, AiError>;
    fn name(&self) -> &'static str;
}

/// Why a provider call failed. Never contains the API key.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    #[error("timed out")]
    Timeout,
    #[error("rate limited (429)")]
    RateLimited { retry_after: Option<Duration> },
    #[error("HTTP {status}")]
    Http { status: u16, body_excerpt: String },
    #[error("network error: {0}")]
    Network(String),
    #[error("bad response: {0}")]
    BadResponse(String),
    #[error("not configured: {0}")]
    Config(String),
}

impl AiError {
    /// The short reason recorded in [`Reply::fallback_reason`], e.g.
    /// "anthropic: timed out after 8s", "openai: HTTP 500".
    pub fn reason(&self, provider: &str, timeout: Duration) -> String {
        match self {
            AiError::Timeout => format!(
                "{provider}: timed out after {}",
                text::human_duration(timeout)
            ),
            other => format!("{provider}: {other}"),
        }
    }
}

/// Which provider answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Rules,
    Anthropic,
    OpenAi,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Rules => "rules",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::OpenAi => "openai",
        }
    }
}

pub const DEFAULT_ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
pub const DEFAULT_ANTHROPIC_MODEL: &str = "claude-sonnet-4-5";
pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com";
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(8);
pub const DEFAULT_MAX_RETRIES: u32 = 2;
pub const DEFAULT_MAX_TOKENS: u32 = 400;
/// Longest single wait on a `Retry-After` header.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Configuration, usually from the environment ([`AiConfig::from_lookup`]).
#[derive(Clone)]
pub struct AiConfig {
    pub provider: ProviderKind,
    pub api_key: Option<String>,
    /// Without a trailing "/" or "/v1"; "" for rules.
    pub base_url: String,
    /// "" for rules.
    pub model: String,
    /// Bound of one attempt (connect to last byte). Default 8 s.
    pub timeout: Duration,
    /// Retries after the first attempt on 429/5xx/connect failures. Default 2.
    pub max_retries: u32,
    pub max_tokens: u32,
    /// Directory holding `ai/*.j2` overrides (default "templates").
    pub templates_dir: Option<PathBuf>,
}

impl std::fmt::Debug for AiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiConfig")
            .field("provider", &self.provider)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("max_tokens", &self.max_tokens)
            .field("templates_dir", &self.templates_dir)
            .finish()
    }
}

impl Default for AiConfig {
    /// The offline rules responder with embedded templates only.
    fn default() -> Self {
        AiConfig {
            provider: ProviderKind::Rules,
            api_key: None,
            base_url: String::new(),
            model: String::new(),
            timeout: DEFAULT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            max_tokens: DEFAULT_MAX_TOKENS,
            templates_dir: None,
        }
    }
}

fn normalize_base_url(var: &str, raw: &str) -> Result<String, String> {
    let mut url = raw.trim().trim_end_matches('/').to_string();
    if let Some(stripped) = url.strip_suffix("/v1") {
        url = stripped.to_string();
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() <= "https://".len()
    {
        return Err(format!(
            "{var} must be an http:// or https:// URL (got {raw:?})"
        ));
    }
    Ok(url)
}

impl AiConfig {
    /// Reads the configuration through `get` (e.g. `|k| std::env::var(k).ok()`).
    /// Empty values count as unset. The error names the bad variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let provider = match var("LEADLINE_AI_PROVIDER")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("rules") => ProviderKind::Rules,
            Some("anthropic") | Some("claude") => ProviderKind::Anthropic,
            Some("openai") => ProviderKind::OpenAi,
            Some(other) => {
                return Err(format!(
                    "LEADLINE_AI_PROVIDER must be rules, anthropic or openai (got {other:?})"
                ))
            }
        };

        let timeout = match var("LEADLINE_AI_TIMEOUT_SECS") {
            None => DEFAULT_TIMEOUT,
            Some(v) => match v.parse::<f64>() {
                Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= 300.0 => {
                    Duration::from_secs_f64(secs)
                }
                _ => {
                    return Err(format!(
                        "LEADLINE_AI_TIMEOUT_SECS must be a number of seconds between 0 and 300 (got {v:?})"
                    ))
                }
            },
        };
        let max_retries = match var("LEADLINE_AI_MAX_RETRIES") {
            None => DEFAULT_MAX_RETRIES,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n <= 10 => n,
                _ => {
                    return Err(format!(
                        "LEADLINE_AI_MAX_RETRIES must be a whole number from 0 to 10 (got {v:?})"
                    ))
                }
            },
        };
        let max_tokens = match var("LEADLINE_AI_MAX_TOKENS") {
            None => DEFAULT_MAX_TOKENS,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (16..=8192).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "LEADLINE_AI_MAX_TOKENS must be a whole number from 16 to 8192 (got {v:?})"
                    ))
                }
            },
        };
        let templates_dir = Some(PathBuf::from(
            var("LEADLINE_TEMPLATES_DIR").unwrap_or_else(|| "templates".to_string()),
        ));

        let (api_key, base_url, model) = match provider {
            ProviderKind::Rules => (None, String::new(), String::new()),
            ProviderKind::Anthropic => {
                let key = var("ANTHROPIC_API_KEY").ok_or_else(|| {
                    "ANTHROPIC_API_KEY must be set when LEADLINE_AI_PROVIDER=anthropic".to_string()
                })?;
                let base = normalize_base_url(
                    "ANTHROPIC_BASE_URL",
                    &var("ANTHROPIC_BASE_URL")
                        .unwrap_or_else(|| DEFAULT_ANTHROPIC_BASE_URL.to_string()),
                )?;
                let model =
                    var("ANTHROPIC_MODEL").unwrap_or_else(|| DEFAULT_ANTHROPIC_MODEL.to_string());
                (Some(key), base, model)
            }
            ProviderKind::OpenAi => {
                let base = normalize_base_url(
                    "OPENAI_BASE_URL",
                    &var("OPENAI_BASE_URL").unwrap_or_else(|| DEFAULT_OPENAI_BASE_URL.to_string()),
                )?;
                let model = var("OPENAI_MODEL").unwrap_or_else(|| DEFAULT_OPENAI_MODEL.to_string());
                (var("OPENAI_API_KEY"), base, model)
            }
        };

        Ok(AiConfig {
            provider,
            api_key,
            base_url,
            model,
            timeout,
            max_retries,
            max_tokens,
            templates_dir,
        })
    }

    /// [`AiConfig::from_lookup`] over the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// The most time one reply may spend on the provider: every attempt plus
    /// the waits between them.
    pub fn total_budget(&self) -> Duration {
        self.timeout.saturating_mul(1 + self.max_retries)
    }
}

struct Inner {
    cfg: AiConfig,
    rules: RulesResponder,
    provider: Option<Box<dyn Responder>>,
}

/// The one responder chat and email call. Cheap to clone.
#[derive(Clone)]
pub struct AiResponder {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AiResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiResponder")
            .field("cfg", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

impl AiResponder {
    /// Builds the responder. Fails only on an unusable configuration (e.g.
    /// Anthropic without a key).
    pub fn new(cfg: AiConfig) -> Result<Self, String> {
        let rules = RulesResponder::new(cfg.templates_dir.clone());
        let provider: Option<Box<dyn Responder>> = match cfg.provider {
            ProviderKind::Rules => None,
            ProviderKind::Anthropic | ProviderKind::OpenAi => {
                let client = http::build_client(&cfg)?;
                let call = http::CallSettings::from_config(&cfg);
                let shaper = rules.clone();
                if cfg.provider == ProviderKind::Anthropic {
                    let key = cfg.api_key.clone().ok_or_else(|| {
                        "ANTHROPIC_API_KEY must be set when LEADLINE_AI_PROVIDER=anthropic"
                            .to_string()
                    })?;
                    Some(Box::new(anthropic::AnthropicResponder::new(
                        client, call, key, shaper,
                    )))
                } else {
                    Some(Box::new(openai::OpenAiResponder::new(
                        client,
                        call,
                        cfg.api_key.clone(),
                        shaper,
                    )))
                }
            }
        };
        Ok(AiResponder {
            inner: Arc::new(Inner {
                cfg,
                rules,
                provider,
            }),
        })
    }

    /// The offline rules responder, no network ever.
    pub fn rules_only(templates_dir: Option<PathBuf>) -> Self {
        Self::new(AiConfig {
            templates_dir,
            ..AiConfig::default()
        })
        .expect("the rules configuration is always valid")
    }

    /// "rules" | "anthropic" | "openai"
    pub fn provider_name(&self) -> &'static str {
        self.inner.cfg.provider.as_str()
    }

    pub fn config(&self) -> &AiConfig {
        &self.inner.cfg
    }

    /// The rules responder used for fallbacks.
    pub fn rules(&self) -> &RulesResponder {
        &self.inner.rules
    }

    /// Answers the latest inbound message: the configured provider, or the
    /// rules on any failure (with `fallback_reason` set). Opt-outs (STOP) are
    /// always answered by the rules, without a network call.
    pub async fn reply(&self, req: &ReplyRequest<'_>) -> Reply {
        let inner = &self.inner;
        let Some(provider) = inner.provider.as_ref() else {
            return inner.rules.reply_now(req);
        };
        let plan = inner.rules.plan(req);
        if plan.intents.contains(&Intent::Stop) || req.last_inbound_index().is_none() {
            return inner.rules.reply_now(req);
        }
        // The provider bounds itself; this outer bound is a safety net so a
        // chat can never hang.
        let guard = inner.cfg.total_budget() + Duration::from_secs(1);
        let outcome = match tokio::time::timeout(guard, provider.reply(req)).await {
            Ok(r) => r,
            Err(_) => Err(AiError::Timeout),
        };
        match outcome {
            Ok(reply) => reply,
            Err(err) => {
                let reason = err.reason(provider.name(), inner.cfg.timeout);
                let detail = match &err {
                    AiError::Http { body_excerpt, .. } => body_excerpt.as_str(),
                    _ => "",
                };
                tracing::warn!(
                    provider = provider.name(),
                    model = %inner.cfg.model,
                    reason = %reason,
                    detail,
                    "AI provider failed; answering with the rules responder"
                );
                let mut reply = inner.rules.reply_now(req);
                reply.fallback_reason = Some(reason);
                reply
            }
        }
    }

    /// Like [`AiResponder::reply`], but `None` when [`should_skip`] says the
    /// message must not be answered (auto-replies, echoes, nothing new).
    pub async fn respond(&self, req: &ReplyRequest<'_>) -> Option<Reply> {
        if let Some(reason) = should_skip(req) {
            tracing::info!(reason, "not answering this message");
            return None;
        }
        Some(self.reply(req).await)
    }
}

#[async_trait::async_trait]
impl Responder for AiResponder {
    async fn reply(&self, req: &ReplyRequest<'_>) -> Result<Reply, AiError> {
        Ok(AiResponder::reply(self, req).await)
    }
    fn name(&self) -> &'static str {
        self.provider_name()
    }
}

/// Why a message should get no automatic answer, if it should not:
/// * "no inbound message" — nothing from the lead to answer;
/// * "already answered" — the last turn is ours;
/// * "auto-reply" — an out-of-office / automated / bounce message (answering
///   it is how two autoresponders start a loop);
/// * "echo of our own message" — the inbound text repeats one of our replies;
/// * "repeated message" — the same text arrived three times in a row.
pub fn should_skip(req: &ReplyRequest<'_>) -> Option<&'static str> {
    let Some(idx) = req.last_inbound_index() else {
        return Some("no inbound message");
    };
    if req.conversation[idx + 1..]
        .iter()
        .any(|t| t.direction == Direction::Outbound && !t.text.trim().is_empty())
    {
        return Some("already answered");
    }
    let latest = &req.conversation[idx].text;
    if rules::looks_automated(latest) {
        return Some("auto-reply");
    }
    let norm = |s: &str| text::one_line(s).to_lowercase();
    let latest_norm = norm(latest);
    if latest_norm.chars().count() >= 40
        && req.conversation[..idx]
            .iter()
            .any(|t| t.direction == Direction::Outbound && norm(&t.text) == latest_norm)
    {
        return Some("echo of our own message");
    }
    let inbound: Vec<String> = req
        .conversation
        .iter()
        .filter(|t| t.direction == Direction::Inbound && !t.text.trim().is_empty())
        .map(|t| norm(&t.text))
        .collect();
    if inbound.len() >= 3
        && inbound[inbound.len() - 3..]
            .iter()
            .all(|t| *t == latest_norm)
    {
        return Some("repeated message");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| owned.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn defaults_are_rules() {
        let cfg = AiConfig::from_lookup(lookup(&[])).unwrap();
        assert_eq!(cfg.provider, ProviderKind::Rules);
        assert_eq!(cfg.timeout, Duration::from_secs(8));
        assert_eq!(cfg.max_retries, 2);
        assert_eq!(cfg.max_tokens, 400);
        assert_eq!(cfg.templates_dir, Some(PathBuf::from("templates")));
        assert!(cfg.api_key.is_none());
    }

    #[test]
    fn anthropic_needs_a_key() {
        let err =
            AiConfig::from_lookup(lookup(&[("LEADLINE_AI_PROVIDER", "anthropic")])).unwrap_err();
        assert!(err.contains("ANTHROPIC_API_KEY"), "{err}");
        let cfg = AiConfig::from_lookup(lookup(&[
            ("LEADLINE_AI_PROVIDER", "Anthropic"),
            ("ANTHROPIC_API_KEY", "sk-ant-secret"),
        ]))
        .unwrap();
        assert_eq!(cfg.base_url, "https://api.anthropic.com");
        assert_eq!(cfg.model, DEFAULT_ANTHROPIC_MODEL);
        let dbg = format!("{cfg:?}");
        assert!(
            !dbg.contains("sk-ant-secret") && dbg.contains("***"),
            "{dbg}"
        );
    }

    #[test]
    fn openai_key_is_optional_and_base_is_normalized() {
        let cfg = AiConfig::from_lookup(lookup(&[
            ("LEADLINE_AI_PROVIDER", "openai"),
            ("OPENAI_BASE_URL", "http://localhost:11434/v1/"),
            ("OPENAI_MODEL", "llama3.1"),
        ]))
        .unwrap();
        assert_eq!(cfg.base_url, "http://localhost:11434");
        assert_eq!(cfg.model, "llama3.1");
        assert!(cfg.api_key.is_none());
        let cfg = AiConfig::from_lookup(lookup(&[("LEADLINE_AI_PROVIDER", "openai")])).unwrap();
        assert_eq!(cfg.base_url, "https://api.openai.com");
        assert_eq!(cfg.model, "gpt-4o-mini");
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            ("LEADLINE_AI_PROVIDER", "gpt"),
            ("LEADLINE_AI_TIMEOUT_SECS", "abc"),
            ("LEADLINE_AI_TIMEOUT_SECS", "0"),
            ("LEADLINE_AI_MAX_RETRIES", "-1"),
            ("LEADLINE_AI_MAX_TOKENS", "x"),
        ] {
            let err = AiConfig::from_lookup(lookup(&[(k, v)])).unwrap_err();
            assert!(err.contains(k), "{k}: {err}");
        }
        let err = AiConfig::from_lookup(lookup(&[
            ("LEADLINE_AI_PROVIDER", "openai"),
            ("OPENAI_BASE_URL", "localhost:8080"),
        ]))
        .unwrap_err();
        assert!(err.contains("OPENAI_BASE_URL"), "{err}");
        let cfg = AiConfig::from_lookup(lookup(&[
            ("LEADLINE_AI_TIMEOUT_SECS", "2.5"),
            ("LEADLINE_AI_MAX_RETRIES", "0"),
            ("LEADLINE_TEMPLATES_DIR", "/srv/t"),
        ]))
        .unwrap();
        assert_eq!(cfg.timeout, Duration::from_millis(2500));
        assert_eq!(cfg.max_retries, 0);
        assert_eq!(cfg.templates_dir, Some(PathBuf::from("/srv/t")));
    }

    #[test]
    fn reasons() {
        let t = Duration::from_secs(8);
        assert_eq!(
            AiError::Timeout.reason("anthropic", t),
            "anthropic: timed out after 8s"
        );
        assert_eq!(
            AiError::Http {
                status: 500,
                body_excerpt: "x".into()
            }
            .reason("openai", t),
            "openai: HTTP 500"
        );
        assert_eq!(
            AiError::RateLimited { retry_after: None }.reason("anthropic", t),
            "anthropic: rate limited (429)"
        );
    }
}
