//! Anthropic Messages API: `POST {base}/v1/messages`.

use reqwest::header::HeaderName;
use serde_json::{json, Value};

use crate::ai::http::{self, CallSettings};
use crate::ai::{prompt, AiError, Reply, ReplyRequest, Responder, RulesResponder};

pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Answers through Claude.
pub struct AnthropicResponder {
    client: reqwest::Client,
    call: CallSettings,
    api_key: String,
    rules: RulesResponder,
}

impl std::fmt::Debug for AnthropicResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicResponder")
            .field("base_url", &self.call.base_url)
            .field("model", &self.call.model)
            .field("api_key", &"***")
            .finish()
    }
}

impl AnthropicResponder {
    pub(crate) fn new(
        client: reqwest::Client,
        call: CallSettings,
        api_key: String,
        rules: RulesResponder,
    ) -> Self {
        AnthropicResponder {
            client,
            call,
            api_key,
            rules,
        }
    }
}

/// The request body for `req`.
pub fn request_body(p: &prompt::Prompt, model: &str, max_tokens: u32) -> Value {
    json!({
        "model": model,
        "max_tokens": max_tokens,
        "system": p.system,
        "messages": p.messages,
    })
}

/// The text of a Messages API response: its `text` content blocks, joined.
pub fn response_text(v: &Value) -> Result<String, AiError> {
    if v.get("type").and_then(Value::as_str) == Some("error") {
        let msg = v
            .pointer("/error/type")
            .and_then(Value::as_str)
            .unwrap_or("error");
        return Err(AiError::BadResponse(format!("error object: {msg}")));
    }
    let blocks = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| AiError::BadResponse("no content array".into()))?;
    let text: Vec<&str> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let text = text.join("").trim().to_string();
    if text.is_empty() {
        return Err(AiError::BadResponse("no text in the response".into()));
    }
    Ok(text)
}

#[async_trait::async_trait]
impl Responder for AnthropicResponder {
    async fn reply(&self, req: &ReplyRequest<'_>) -> Result<Reply, AiError> {
        let wire = http::Wire {
            provider: "anthropic",
            path: "/v1/messages",
            headers: vec![
                (HeaderName::from_static("x-api-key"), self.api_key.clone()),
                (
                    HeaderName::from_static("anthropic-version"),
                    ANTHROPIC_VERSION.to_string(),
                ),
            ],
            secret: Some(&self.api_key),
            body: request_body,
            text: response_text,
        };
        http::exchange(&self.client, &self.call, &self.rules, req, wire).await
    }

    fn name(&self) -> &'static str {
        "anthropic"
    }
}
