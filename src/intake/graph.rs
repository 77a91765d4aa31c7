//! The Facebook Graph API client of the lead fetch: `GET /{leadgen_id}` with the page's
//! access token, time-bounded, and Graph's documented error shape
//! (`{"error":{"message","type","code","error_subcode","fbtrace_id"}}`) read into
//! [`GraphError`] so the caller can tell an expired token (code 190) and rate limits
//! (4, 17, 32, 613) from the rest.
//! Reference: <https://developers.facebook.com/docs/marketing-api/guides/lead-ads/retrieving>
//! and <https://developers.facebook.com/docs/graph-api/guides/error-handling>.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The lead's fields the fetch asks for.
pub const FIELDS: &str = "field_data,created_time,ad_id,form_id,campaign_id,is_organic,platform";
/// Bound on one fetch.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A lead as Graph returns it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GraphLead {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub created_time: Option<String>,
    #[serde(default)]
    pub field_data: Vec<FieldData>,
    #[serde(default)]
    pub ad_id: Option<String>,
    #[serde(default)]
    pub form_id: Option<String>,
    #[serde(default)]
    pub campaign_id: Option<String>,
    #[serde(default)]
    pub is_organic: Option<bool>,
    #[serde(default)]
    pub platform: Option<String>,
}

/// One answer of the lead form.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FieldData {
    pub name: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorEnvelope {
    error: ApiErrorBody,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiErrorBody {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

/// Why a fetch failed.
#[derive(Debug, Clone)]
pub enum GraphError {
    /// Graph answered with its error object.
    Api { status: u16, error: ApiErrorBody },
    /// No usable answer (network, timeout, a body that is not Graph's).
    Transport(String),
}

impl GraphError {
    /// Graph's error code (190: the access token expired or is invalid).
    pub fn code(&self) -> Option<i64> {
        match self {
            GraphError::Api { error, .. } => error.code,
            GraphError::Transport(_) => None,
        }
    }

    /// The page token no longer works: a person must reconnect the page.
    pub fn token_invalid(&self) -> bool {
        self.code() == Some(190)
    }

    /// Graph's rate limits (application, user, page, custom): try again later.
    pub fn rate_limited(&self) -> bool {
        matches!(self.code(), Some(4 | 17 | 32 | 613))
    }
}

impl std::fmt::Display for GraphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GraphError::Api { status, error } => {
                write!(f, "Graph API error")?;
                if let Some(c) = error.code {
                    write!(f, " {c}")?;
                }
                if let Some(s) = error.error_subcode {
                    write!(f, "/{s}")?;
                }
                write!(f, " (HTTP {status}): {}", error.message)?;
                if let Some(t) = &error.fbtrace_id {
                    write!(f, " [fbtrace_id {t}]")?;
                }
                Ok(())
            }
            GraphError::Transport(e) => write!(f, "Graph API unreachable: {e}"),
        }
    }
}

/// Reads a Graph answer (pure): the lead, or the error it carries.
pub fn read_answer(status: u16, body: &[u8]) -> Result<GraphLead, GraphError> {
    if (200..300).contains(&status) {
        return serde_json::from_slice::<GraphLead>(body)
            .map_err(|e| GraphError::Transport(format!("unreadable lead (HTTP {status}): {e}")));
    }
    match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(env) => Err(GraphError::Api {
            status,
            error: env.error,
        }),
        Err(_) => Err(GraphError::Transport(format!(
            "HTTP {status} without a Graph error object"
        ))),
    }
}

/// A Graph client at `base` (`https://graph.facebook.com/v21.0`).
#[derive(Clone)]
pub struct GraphClient {
    base: String,
    http: reqwest::Client,
}

impl GraphClient {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            base: base.trim_end_matches('/').to_string(),
            http,
        }
    }

    /// Fetches one lead with the page's access token.
    #[tracing::instrument(skip(self, token))]
    pub async fn lead(&self, leadgen_id: &str, token: &str) -> Result<GraphLead, GraphError> {
        let mut url = reqwest::Url::parse(&self.base)
            .map_err(|e| GraphError::Transport(format!("bad Graph base URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|_| GraphError::Transport("bad Graph base URL".into()))?
            .push(leadgen_id);
        url.query_pairs_mut()
            .append_pair("access_token", token)
            .append_pair("fields", FIELDS);
        let res = self
            .http
            .get(url)
            .send()
            .await
            // Without the URL: it carries the token.
            .map_err(|e| GraphError::Transport(e.without_url().to_string()))?;
        let status = res.status().as_u16();
        let body = res
            .bytes()
            .await
            .map_err(|e| GraphError::Transport(e.without_url().to_string()))?;
        read_answer(status, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_errors_are_read_and_classified() {
        let e = read_answer(
            400,
            br#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbC"}}"#,
        )
        .unwrap_err();
        assert!(e.token_invalid());
        assert!(!e.rate_limited());
        assert!(e.to_string().contains("190/463"));
        let e = read_answer(
            400,
            br#"{"error":{"message":"Application request limit reached","type":"OAuthException","code":4,"fbtrace_id":"x"}}"#,
        )
        .unwrap_err();
        assert!(e.rate_limited());
        let e = read_answer(502, b"<html>bad gateway</html>").unwrap_err();
        assert!(matches!(e, GraphError::Transport(_)));
    }

    #[test]
    fn a_lead_is_read_with_its_field_data() {
        let lead = read_answer(
            200,
            br#"{"created_time":"2026-12-07T10:00:00+0000","id":"123","ad_id":"9","form_id":"8",
                "field_data":[{"name":"full_name","values":["Jane Doe"]},{"name":"email","values":["jane@x.com"]}]}"#,
        )
        .unwrap();
        assert_eq!(lead.field_data.len(), 2);
        assert_eq!(lead.field_data[0].values[0], "Jane Doe");
        assert_eq!(lead.form_id.as_deref(), Some("8"));
    }
}
