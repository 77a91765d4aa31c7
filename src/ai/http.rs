//! One JSON POST with a per-attempt timeout, bounded retries and an overall
//! budget, shared by the providers.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use serde_json::Value;

use crate::ai::prompt::{self, Prompt};
use crate::ai::text::clean_inline;
use crate::ai::{AiConfig, AiError, Reply, ReplyRequest, RulesResponder, MAX_RETRY_AFTER};

/// What one provider call may spend.
#[derive(Debug, Clone)]
pub(crate) struct CallSettings {
    pub base_url: String,
    pub model: String,
    pub timeout: Duration,
    pub max_retries: u32,
    pub max_tokens: u32,
}

impl CallSettings {
    pub fn from_config(cfg: &AiConfig) -> Self {
        CallSettings {
            base_url: cfg.base_url.clone(),
            model: cfg.model.clone(),
            timeout: cfg.timeout,
            max_retries: cfg.max_retries,
            max_tokens: cfg.max_tokens,
        }
    }

    fn budget(&self) -> Duration {
        self.timeout.saturating_mul(1 + self.max_retries)
    }
}

pub(crate) fn build_client(cfg: &AiConfig) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(cfg.timeout.min(Duration::from_secs(5)))
        // API endpoints don't redirect; never forward a key elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("leadline-ai/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("could not build the HTTP client: {e}"))
}

/// An attempt's failure and whether another attempt may help.
struct Failure {
    error: AiError,
    retryable: bool,
    retry_after: Option<Duration>,
}

fn redact(s: &str, secret: Option<&str>) -> String {
    match secret {
        Some(k) if k.len() >= 4 => s.replace(k, "***"),
        _ => s.to_string(),
    }
}

fn describe(err: &reqwest::Error) -> String {
    // The innermost cause is the useful part ("Connection refused").
    let mut msg = if err.is_connect() {
        "could not connect".to_string()
    } else if err.is_body() || err.is_decode() {
        "could not read the response".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(err);
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    if let Some(cause) = last {
        msg.push_str(": ");
        msg.push_str(&cause);
    }
    msg
}

fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = v.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

async fn attempt(
    client: &reqwest::Client,
    url: &str,
    headers: &HeaderMap,
    body: &Value,
    per_attempt: Duration,
    secret: Option<&str>,
) -> Result<Value, Failure> {
    let send = async {
        let resp = client
            .post(url)
            .headers(headers.clone())
            .json(body)
            .timeout(per_attempt)
            .send()
            .await?;
        let status = resp.status();
        let retry_after = parse_retry_after(resp.headers());
        let text = resp.text().await?;
        Ok::<_, reqwest::Error>((status, retry_after, text))
    };
    let (status, retry_after, text) = match tokio::time::timeout(per_attempt, send).await {
        Err(_) => {
            return Err(Failure {
                error: AiError::Timeout,
                retryable: false,
                retry_after: None,
            })
        }
        Ok(Err(e)) if e.is_timeout() && !e.is_connect() => {
            return Err(Failure {
                error: AiError::Timeout,
                retryable: false,
                retry_after: None,
            })
        }
        Ok(Err(e)) => {
            return Err(Failure {
                retryable: e.is_connect(),
                error: AiError::Network(redact(&describe(&e), secret)),
                retry_after: None,
            })
        }
        Ok(Ok(r)) => r,
    };
    if status.is_success() {
        return serde_json::from_str(&text).map_err(|e| Failure {
            error: AiError::BadResponse(format!("invalid JSON: {e}")),
            retryable: false,
            retry_after: None,
        });
    }
    let code = status.as_u16();
    if code == 429 {
        return Err(Failure {
            error: AiError::RateLimited { retry_after },
            retryable: true,
            retry_after,
        });
    }
    Err(Failure {
        error: AiError::Http {
            status: code,
            body_excerpt: redact(&clean_inline(&text, 300), secret),
        },
        retryable: status.is_server_error() || code == 408,
        retry_after,
    })
}

/// POSTs `body` as JSON to `url`, retrying 429/5xx/connect failures up to
/// `max_retries` times (honouring `Retry-After`, capped at 5 s), never past
/// `timeout × (1 + max_retries)` in total. Returns the parsed JSON of a 2xx.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    provider: &'static str,
    url: &str,
    extra_headers: &[(HeaderName, String)],
    body: &Value,
    call: &CallSettings,
    secret: Option<&str>,
) -> Result<Value, AiError> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in extra_headers {
        let mut v = HeaderValue::from_str(value)
            .map_err(|_| AiError::Config(format!("invalid value for header {name}")))?;
        v.set_sensitive(true);
        headers.insert(name.clone(), v);
    }

    let start = Instant::now();
    let budget = call.budget();
    let mut retries = 0;
    loop {
        let remaining = budget.saturating_sub(start.elapsed());
        if remaining.is_zero() {
            return Err(AiError::Timeout);
        }
        let per_attempt = call.timeout.min(remaining);
        let failure = match attempt(client, url, &headers, body, per_attempt, secret).await {
            Ok(v) => return Ok(v),
            Err(f) => f,
        };
        if !failure.retryable || retries >= call.max_retries {
            return Err(failure.error);
        }
        let backoff = Duration::from_millis(200 * (1 << retries.min(4)));
        let wait = failure
            .retry_after
            .map(|d| d.min(MAX_RETRY_AFTER))
            .unwrap_or(backoff);
        if start.elapsed() + wait >= budget {
            return Err(failure.error);
        }
        retries += 1;
        tracing::debug!(
            provider,
            attempt = retries + 1,
            wait_ms = wait.as_millis() as u64,
            error = %failure.error,
            "retrying AI provider call"
        );
        tokio::time::sleep(wait).await;
    }
}

/// A provider's raw text turned into a reply: shaped to the channel by the rules
/// responder (length, greeting, signature), with the subject, model and intents.
pub(crate) fn provider_reply(
    rules: &crate::ai::RulesResponder,
    req: &crate::ai::ReplyRequest<'_>,
    plan: &crate::ai::rules::Plan,
    provider: &str,
    raw: &str,
    resp: &Value,
    default_model: &str,
) -> Result<crate::ai::Reply, AiError> {
    let text = rules.shape_provider_text(req, raw);
    if text.trim().is_empty() {
        return Err(AiError::BadResponse("empty text after shaping".into()));
    }
    Ok(crate::ai::Reply {
        text,
        subject: rules.subject(req),
        provider: provider.into(),
        model: Some(
            resp.get("model")
                .and_then(Value::as_str)
                .unwrap_or(default_model)
                .to_string(),
        ),
        fallback_reason: None,
        intents: plan
            .intents
            .iter()
            .map(|i| i.as_str().to_string())
            .collect(),
    })
}

/// What tells one provider's wire format from another's.
pub(crate) struct Wire<'a> {
    pub provider: &'static str,
    /// Appended to the base URL, e.g. `/v1/messages`.
    pub path: &'static str,
    pub headers: Vec<(HeaderName, String)>,
    /// Redacted from any error text.
    pub secret: Option<&'a str>,
    pub body: fn(&Prompt, &str, u32) -> Value,
    pub text: fn(&Value) -> Result<String, AiError>,
}

/// One provider reply, the same steps for every provider: the rules' plan and question,
/// the prompt, the POST, and the provider's text shaped for the channel.
pub(crate) async fn exchange(
    client: &reqwest::Client,
    call: &CallSettings,
    rules: &RulesResponder,
    req: &ReplyRequest<'_>,
    wire: Wire<'_>,
) -> Result<Reply, AiError> {
    let (plan, question) = prompt::plan_and_question(rules, req);
    let p = prompt::build(req, &plan, question.as_deref());
    if p.messages.is_empty() {
        return Err(AiError::Config("no inbound message to answer".into()));
    }
    let body = (wire.body)(&p, &call.model, call.max_tokens);
    let url = format!("{}{}", call.base_url, wire.path);
    let resp = post_json(
        client,
        wire.provider,
        &url,
        &wire.headers,
        &body,
        call,
        wire.secret,
    )
    .await?;
    let raw = (wire.text)(&resp)?;
    provider_reply(rules, req, &plan, wire.provider, &raw, &resp, &call.model)
}
