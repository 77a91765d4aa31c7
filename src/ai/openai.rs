//! OpenAI-compatible chat completions: `POST {base}/v1/chat/completions`
//! (OpenAI, or a local Ollama / vLLM / llama.cpp server without a key).

use reqwest::header::AUTHORIZATION;
use serde_json::{json, Value};

use crate::ai::http::{self, CallSettings};
use crate::ai::{prompt, AiError, Reply, ReplyRequest, Responder, RulesResponder};

/// Answers through an OpenAI-compatible server.
pub struct OpenAiResponder {
    client: reqwest::Client,
    call: CallSettings,
    api_key: Option<String>,
    rules: RulesResponder,
}

impl std::fmt::Debug for OpenAiResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiResponder")
            .field("base_url", &self.call.base_url)
            .field("model", &self.call.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish()
    }
}

impl OpenAiResponder {
    pub(crate) fn new(
        client: reqwest::Client,
        call: CallSettings,
        api_key: Option<String>,
        rules: RulesResponder,
    ) -> Self {
        OpenAiResponder {
            client,
            call,
            api_key,
            rules,
        }
    }
}

/// The request body: the system prompt first, then the conversation.
pub fn request_body(p: &prompt::Prompt, model: &str, max_tokens: u32) -> Value {
    let mut messages = vec![json!({"role": "system", "content": p.system})];
    messages.extend(
        p.messages
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content})),
    );
    json!({
        "model": model,
        "max_tokens": max_tokens,
        "messages": messages,
    })
}

/// `choices[0].message.content` (a string, or an array of text parts).
pub fn response_text(v: &Value) -> Result<String, AiError> {
    let content = v
        .pointer("/choices/0/message/content")
        .ok_or_else(|| AiError::BadResponse("no choices[0].message.content".into()))?;
    let text = match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    };
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(AiError::BadResponse("no text in the response".into()));
    }
    Ok(text)
}

#[async_trait::async_trait]
impl Responder for OpenAiResponder {
    async fn reply(&self, req: &ReplyRequest<'_>) -> Result<Reply, AiError> {
        let wire = http::Wire {
            provider: "openai",
            path: "/v1/chat/completions",
            headers: self
                .api_key
                .iter()
                .map(|k| (AUTHORIZATION, format!("Bearer {k}")))
                .collect(),
            secret: self.api_key.as_deref(),
            body: request_body,
            text: response_text,
        };
        http::exchange(&self.client, &self.call, &self.rules, req, wire).await
    }

    fn name(&self) -> &'static str {
        "openai"
    }
}
