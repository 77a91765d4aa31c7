//! The Telnyx API v2 client for sending messages (`POST /v2/messages`), and how its
//! answers map to sent / rate limited / server error / refused / network failure.

use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

/// Telnyx's documented API v2 base URL.
pub const DEFAULT_API_BASE: &str = "https://api.telnyx.com/v2";
/// Longest wait a `Retry-After` may ask for before we cap it.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// A Telnyx client bound to one account's API key.
#[derive(Clone)]
pub struct TelnyxClient {
    http: reqwest::Client,
    base: String,
    api_key: String,
}

impl std::fmt::Debug for TelnyxClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelnyxClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// One message to send.
#[derive(Debug, Clone)]
pub struct OutgoingMessage<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub text: &'a str,
    pub messaging_profile_id: Option<&'a str>,
}

/// What Telnyx accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    /// Telnyx's message id (the `data.id` its webhooks refer to).
    pub id: String,
    /// How many segments Telnyx will send, when it says.
    pub parts: Option<u32>,
}

/// Why a send did not go through.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// 429: try again after `retry_after` when Telnyx said so.
    #[error("Telnyx rate limited the request")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx: Telnyx's side; safe to retry.
    #[error("Telnyx answered {status}: {detail}")]
    Server {
        status: u16,
        detail: String,
        retry_after: Option<Duration>,
    },
    /// 4xx other than 429: the request is refused for good (bad number, bad key…).
    #[error("Telnyx refused the message ({status}): {detail}")]
    Client { status: u16, detail: String },
    /// Could not connect: nothing was sent, safe to retry.
    #[error("could not reach Telnyx: {0}")]
    Network(String),
    /// The request may have reached Telnyx but no answer came: the outcome is unknown.
    #[error("no answer from Telnyx in time; the message may or may not have been sent")]
    Timeout,
    /// 2xx whose body is not a message.
    #[error("unexpected answer from Telnyx: {0}")]
    Unexpected(String),
}

fn shared_http() -> reqwest::Client {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    HTTP.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("leadline/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default()
    })
    .clone()
}

impl TelnyxClient {
    /// A client for `base` (e.g. `https://api.telnyx.com/v2`), 10 s timeout.
    pub fn new(base: &str, api_key: &str) -> Self {
        Self {
            http: shared_http(),
            base: base.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
        }
    }

    /// `POST {base}/messages`.
    #[tracing::instrument(skip_all, fields(to = %msg.to))]
    pub async fn send_message(&self, msg: &OutgoingMessage<'_>) -> Result<SentMessage, SendError> {
        let mut body = json!({"from": msg.from, "to": msg.to, "text": msg.text});
        if let Some(p) = msg.messaging_profile_id {
            body["messaging_profile_id"] = json!(p);
        }
        let resp = self
            .http
            .post(format!("{}/messages", self.base))
            .bearer_auth(&self.api_key)
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    SendError::Network(e.to_string())
                } else {
                    SendError::Timeout
                }
            })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let bytes = resp.bytes().await.map_err(|_| SendError::Timeout)?;
        match status {
            200..=299 => parse_sent(&bytes),
            429 => Err(SendError::RateLimited { retry_after }),
            500..=599 => Err(SendError::Server {
                status,
                detail: error_detail(&bytes),
                retry_after,
            }),
            _ => Err(SendError::Client {
                status,
                detail: error_detail(&bytes),
            }),
        }
    }
}

fn parse_sent(bytes: &[u8]) -> Result<SentMessage, SendError> {
    #[derive(Deserialize)]
    struct Envelope {
        data: Data,
    }
    #[derive(Deserialize)]
    struct Data {
        id: String,
        parts: Option<u32>,
    }
    let env: Envelope = serde_json::from_slice(bytes)
        .map_err(|e| SendError::Unexpected(format!("no message id in the answer ({e})")))?;
    if env.data.id.trim().is_empty() {
        return Err(SendError::Unexpected("empty message id".into()));
    }
    Ok(SentMessage {
        id: env.data.id,
        parts: env.data.parts,
    })
}

/// Telnyx errors look like `{"errors":[{"code":"40310","title":"…","detail":"…"}]}`.
pub fn error_detail(bytes: &[u8]) -> String {
    let text = || {
        let s = String::from_utf8_lossy(bytes);
        let s = s.trim();
        if s.is_empty() {
            "no detail given".to_string()
        } else {
            s.chars().take(300).collect()
        }
    };
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
        return text();
    };
    let Some(errors) = v["errors"].as_array().filter(|e| !e.is_empty()) else {
        return text();
    };
    errors
        .iter()
        .map(|e| {
            let code = e["code"]
                .as_str()
                .map(str::to_string)
                .or_else(|| e["code"].as_i64().map(|c| c.to_string()));
            let words = e["detail"]
                .as_str()
                .or(e["title"].as_str())
                .unwrap_or("error");
            match code {
                Some(c) => format!("{c}: {words}"),
                None => words.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `Retry-After` as delta-seconds or an HTTP date, capped at an hour.
pub fn parse_retry_after(v: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = v.trim();
    let d = if let Ok(secs) = v.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO)
    };
    Some(d.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("99999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn error_detail_joins_telnyx_errors() {
        let body = br#"{"errors":[{"code":"40310","title":"Invalid 'to' address","detail":"The 'to' address is not a valid phone number."}]}"#;
        assert_eq!(
            error_detail(body),
            "40310: The 'to' address is not a valid phone number."
        );
        assert_eq!(error_detail(b""), "no detail given");
        assert_eq!(error_detail(b"oops"), "oops");
    }
}
