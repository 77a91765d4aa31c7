//! Inbound provider webhooks: Mailgun route forwarding (HMAC-SHA256 signed, fresh,
//! single-use tokens) and SendGrid Inbound Parse (a secret per-account URL token). Both
//! become a `ParsedEmail` and go through the same `ingest` path as IMAP.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::Sha256;
use utoipa::ToSchema;

use crate::domain::Direction;
use crate::error::{ApiError, Result};
use crate::extract::Json;
use crate::quarantine::Source;
use crate::state::AppState;

use super::form::FormData;
use super::ingest::{Ingested, Received};
use super::integration::{EmailIntegration, INTEGRATION_COLUMNS};
use super::parse::{self, decode_charset, ParsedEmail};

/// How old a Mailgun signature may be.
pub const MAX_SIGNATURE_AGE_SECS: i64 = 15 * 60;
/// Largest webhook body (a message at the providers' 25 MB limit, form-encoded).
pub const MAX_BODY_BYTES: usize = 40 * 1024 * 1024;

/// The body of a webhook post and its content type, as received.
struct Post {
    content_type: String,
    body: Bytes,
}

impl Post {
    async fn read(req: Request, state: &AppState) -> Result<Self> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = crate::extract::body_bytes(req, state).await?;
        Ok(Self { content_type, body })
    }

    fn form(&self) -> std::result::Result<FormData, String> {
        FormData::parse(&self.content_type, &self.body)
    }

    /// What a retry of a quarantined post needs besides its bytes.
    fn context(&self) -> Value {
        json!({"content_type": self.content_type})
    }
}

/// Re-reads a quarantined webhook post (its bytes and context) as an email.
pub fn reparse(
    source: Source,
    raw: &[u8],
    context: &Value,
) -> std::result::Result<ParsedEmail, String> {
    let ct = context["content_type"].as_str().unwrap_or_default();
    let form = FormData::parse(ct, raw)?;
    Ok(match source {
        Source::Mailgun => mailgun_email(&form),
        _ => sendgrid_email(&form),
    })
}

/// Verifies a Mailgun signature: HMAC-SHA256 of `timestamp + token` with the signing
/// key, compared in constant time, and the timestamp within `MAX_SIGNATURE_AGE_SECS`.
pub fn verify_mailgun(key: &str, timestamp: &str, token: &str, signature: &str, now: i64) -> bool {
    let Ok(ts) = timestamp.trim().parse::<i64>() else {
        return false;
    };
    if (now - ts).abs() > MAX_SIGNATURE_AGE_SECS {
        return false;
    }
    let Ok(sig) = hex::decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
        return false;
    };
    mac.update(timestamp.trim().as_bytes());
    mac.update(token.trim().as_bytes());
    mac.verify_slice(&sig).is_ok()
}

/// What a webhook did.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResult {
    /// stored, duplicate, quarantined (kept with the reason it could not be stored) or
    /// unknown_recipient (no mailbox is this envelope recipient: nothing stored).
    pub status: &'static str,
}

/// The active mailboxes (one per account) whose address or a declared alias is one of
/// these envelope recipients.
async fn integrations_for_recipients(
    state: &AppState,
    recipients: &[String],
) -> Result<Vec<EmailIntegration>> {
    Ok(sqlx::query_as::<_, EmailIntegration>(&format!(
        "select distinct on (account_id) {INTEGRATION_COLUMNS} from email_integrations
         where is_active and (lower(email) = any($1) or aliases && $1)
         order by account_id, id"
    ))
    .bind(recipients)
    .fetch_all(&state.pool)
    .await?)
}

/// Addresses in a header value such as `Dana <d@x.test>, e@y.test`.
pub fn address_list(v: &str) -> Vec<String> {
    let raw = format!("To: {}\r\n\r\n", v.replace(['\r', '\n'], " "));
    let p = parse::parse(raw.as_bytes());
    p.to
}

/// Builds an email from a header block and separately posted bodies.
fn from_parts(
    headers: &str,
    text: Option<String>,
    html: Option<String>,
    stripped: Option<String>,
) -> ParsedEmail {
    let mut raw = headers
        .replace("\r\n", "\n")
        .trim_end()
        .replace('\n', "\r\n");
    raw.push_str("\r\n\r\n");
    let mut p = parse::parse(raw.as_bytes());
    p.parse_errors.retain(|e| !e.contains("body"));
    p.text = text
        .filter(|t| !t.trim().is_empty())
        .or_else(|| html.as_deref().map(parse::html_to_text))
        .unwrap_or_default()
        .replace("\r\n", "\n");
    p.content = stripped
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| parse::trim_reply(&p.text));
    p
}

fn header_line(name: &str, v: Option<String>) -> String {
    v.map(|v| format!("{name}: {}\r\n", v.replace(['\r', '\n'], " ")))
        .unwrap_or_default()
}

/// Mailgun's forwarded message: its `body-mime` when posted, else its parsed fields
/// (`message-headers` as JSON pairs, and `from`/`sender`, `To`, `subject`, `Date`,
/// `Message-Id`, `In-Reply-To`, `References` for what the headers lack; `body-plain`,
/// `body-html`, `stripped-text`).
pub fn mailgun_email(form: &FormData) -> ParsedEmail {
    if let Some(mime) = form.fields.get("body-mime").filter(|m| !m.is_empty()) {
        return parse::parse(mime);
    }
    let mut headers: Vec<(String, String)> = form
        .text("message-headers")
        .and_then(|h| serde_json::from_str::<Vec<Vec<Value>>>(&h).ok())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|pair| match pair.as_slice() {
            [Value::String(k), Value::String(v)] => Some((k.clone(), v.clone())),
            _ => None,
        })
        .filter(|(k, _)| {
            !k.eq_ignore_ascii_case("content-type")
                && !k.eq_ignore_ascii_case("content-transfer-encoding")
        })
        .collect();
    for (name, fields) in [
        ("From", &["from", "From", "sender"][..]),
        ("To", &["To", "to"][..]),
        ("Cc", &["Cc", "cc"][..]),
        ("Subject", &["subject", "Subject"][..]),
        ("Date", &["Date", "date"][..]),
        (
            "Message-Id",
            &["Message-Id", "message-id", "Message-ID"][..],
        ),
        ("In-Reply-To", &["In-Reply-To", "in-reply-to"][..]),
        ("References", &["References", "references"][..]),
    ] {
        let present = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        if let Some(v) = fields
            .iter()
            .find_map(|f| form.text(f))
            .filter(|_| !present)
        {
            headers.push((name.to_string(), v));
        }
    }
    let block: String = headers
        .into_iter()
        .map(|(k, v)| header_line(&k, Some(v)))
        .collect();
    let mut p = from_parts(
        &block,
        form.text("body-plain"),
        form.text("body-html"),
        form.text("stripped-text"),
    );
    p.attachments = form.files.iter().map(|(_, a)| a.clone()).collect();
    p
}

/// SendGrid Inbound Parse fields (decoded with `charsets`) or its raw `email`.
pub fn sendgrid_email(form: &FormData) -> ParsedEmail {
    if let Some(raw) = form.fields.get("email") {
        return parse::parse(raw);
    }
    let charsets: HashMap<String, String> = form
        .text("charsets")
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or_default();
    let field = |name: &str| {
        form.fields
            .get(name)
            .map(|b| decode_charset(b, charsets.get(name).map(String::as_str)))
            .filter(|s| !s.trim().is_empty())
    };
    let mut headers = field("headers").unwrap_or_default();
    // The decoded fields win over the raw header block (it may carry encoded words only).
    let has = |h: &str, name: &str| {
        h.lines().any(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
    };
    for name in ["From", "To", "Cc", "Subject"] {
        if !has(&headers, name) {
            headers = format!(
                "{headers}\n{}",
                header_line(name, field(&name.to_ascii_lowercase()))
            );
        }
    }
    let mut p = from_parts(headers.trim(), field("text"), field("html"), None);
    if let Some(subject) = field("subject") {
        p.subject = Some(subject.trim().to_string());
    }
    let info: HashMap<String, Value> = form
        .text("attachment-info")
        .and_then(|i| serde_json::from_str(&i).ok())
        .unwrap_or_default();
    p.attachments = form
        .files
        .iter()
        .map(|(name, a)| {
            let mut a = a.clone();
            if let Some(meta) = info.get(name) {
                if let Some(f) = meta["filename"].as_str() {
                    a.filename = Some(f.to_string());
                }
                if let Some(t) = meta["type"].as_str() {
                    a.content_type = t.to_ascii_lowercase();
                }
                a.content_id = meta["content-id"]
                    .as_str()
                    .map(|c| c.trim_matches(['<', '>']).to_string());
            }
            a
        })
        .collect();
    p
}

/// Mailgun route forwarding (urlencoded or multipart; parsed fields or `body-mime`).
/// 401 unless the signature is valid, fresh and its token unused. The account is the one
/// whose mailbox (or alias) is the envelope `recipient`: never a header of the message.
#[utoipa::path(post, path = "/webhooks/email/mailgun", tag = "email",
    request_body(description = "The provider's form fields (read as bytes: the signature covers them)",
        content((Object = "multipart/form-data"), (Object = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = WebhookResult), (status = 401, body = crate::error::ErrorBody)))]
pub async fn mailgun(State(state): State<AppState>, req: Request) -> Result<Json<WebhookResult>> {
    let post = Post::read(req, &state).await?;
    // Without a readable form there is no signature to trust: refused, not quarantined.
    let form = post
        .form()
        .map_err(|e| ApiError::BadRequest("invalid_form", e))?;
    let (Some(ts), Some(token), Some(sig)) = (
        form.text("timestamp"),
        form.text("token"),
        form.text("signature"),
    ) else {
        return Err(ApiError::Unauthorized("missing Mailgun signature".into()));
    };
    let Some(key) = state.config.email.mailgun_signing_key.as_deref() else {
        return Err(ApiError::Unauthorized(
            "Mailgun webhooks are not configured (MAILGUN_WEBHOOK_SIGNING_KEY)".into(),
        ));
    };
    if !verify_mailgun(key, &ts, &token, &sig, chrono::Utc::now().timestamp()) {
        return Err(ApiError::Unauthorized(
            "invalid or stale Mailgun signature".into(),
        ));
    }
    let fresh = sqlx::query(
        "insert into webhook_events (provider, event_id, event_type, payload) values ('mailgun', $1, 'inbound', $2)
         on conflict (provider, event_id) do nothing",
    )
    .bind(&token)
    .bind(json!({"timestamp": ts}))
    .execute(&state.pool)
    .await?;
    if fresh.rows_affected() == 0 {
        return Err(ApiError::Unauthorized(
            "this Mailgun token was already used".into(),
        ));
    }
    let outcome = mailgun_store(&state, &form, &post, &token).await;
    if outcome.is_err() {
        // Only a transient failure gets here (an unstorable message is quarantined): let
        // Mailgun's retry through, the token was not consumed.
        let _ =
            sqlx::query("delete from webhook_events where provider = 'mailgun' and event_id = $1")
                .bind(&token)
                .execute(&state.pool)
                .await;
    }
    outcome
}

async fn mailgun_store(
    state: &AppState,
    form: &FormData,
    post: &Post,
    token: &str,
) -> Result<Json<WebhookResult>> {
    let recipients = form
        .text("recipient")
        .map(|r| address_list(&r))
        .unwrap_or_default();
    let integrations = integrations_for_recipients(state, &recipients).await?;
    if integrations.is_empty() {
        tracing::warn!("Mailgun message for an address no account has connected");
        sqlx::query("update webhook_events set processed_at = now() where provider = 'mailgun' and event_id = $1")
            .bind(token)
            .execute(&state.pool)
            .await?;
        return Ok(Json(WebhookResult {
            status: "unknown_recipient",
        }));
    }
    let parsed = mailgun_email(form);
    let mut outcomes = vec![];
    for integration in &integrations {
        let mut context = post.context();
        context["recipient"] = json!(recipients);
        outcomes.push(
            super::ingest::ingest_or_quarantine(
                state,
                integration,
                parsed.clone(),
                Direction::Inbound,
                json!({}),
                true,
                Received {
                    source: Source::Mailgun,
                    raw: &post.body,
                    context,
                },
            )
            .await?,
        );
    }
    sqlx::query("update webhook_events set account_id = $2, processed_at = now() where provider = 'mailgun' and event_id = $1")
        .bind(token)
        .bind(integrations[0].account_id)
        .execute(&state.pool)
        .await?;
    Ok(Json(WebhookResult {
        status: Ingested::combined(&outcomes).as_str(),
    }))
}

/// SendGrid Inbound Parse, authenticated by the account's secret token in the path.
#[utoipa::path(post, path = "/webhooks/email/sendgrid/{token}", tag = "email",
    params(("token" = String, Path, description = "the integration's inbound token")),
    request_body(description = "The provider's form fields (read as bytes: the signature covers them)",
        content((Object = "multipart/form-data"), (Object = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = WebhookResult), (status = 401, body = crate::error::ErrorBody)))]
pub async fn sendgrid(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
    req: Request,
) -> Result<Json<WebhookResult>> {
    if token.len() < 20 || token.len() > 200 {
        return Err(ApiError::Unauthorized("unknown inbound token".into()));
    }
    let integration = sqlx::query_as::<_, EmailIntegration>(&format!(
        "select {INTEGRATION_COLUMNS} from email_integrations where inbound_token_hash = $1 and is_active"
    ))
    .bind(super::integration::token_hash(&token))
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| ApiError::Unauthorized("unknown inbound token".into()))?;
    let post = Post::read(req, &state).await?;
    let received = Received {
        source: Source::Sendgrid,
        raw: &post.body,
        context: post.context(),
    };
    let outcome = match post.form() {
        Ok(form) => {
            super::ingest::ingest_or_quarantine(
                &state,
                &integration,
                sendgrid_email(&form),
                Direction::Inbound,
                json!({}),
                true,
                received,
            )
            .await?
        }
        // Authenticated by the token: an unreadable post is kept, not refused.
        Err(e) => {
            super::ingest::quarantine(
                &state,
                &integration,
                format!("unreadable form: {e}"),
                None,
                None,
                received,
            )
            .await?
        }
    };
    Ok(Json(WebhookResult {
        status: outcome.as_str(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(key: &str, ts: &str, token: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(ts.as_bytes());
        mac.update(token.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn mailgun_signatures_must_match_and_be_fresh() {
        let now = 1_800_000_000;
        let ts = now.to_string();
        let sig = sign("key-1", &ts, "tok");
        assert!(verify_mailgun("key-1", &ts, "tok", &sig, now));
        assert!(!verify_mailgun("key-2", &ts, "tok", &sig, now));
        assert!(!verify_mailgun("key-1", &ts, "other", &sig, now));
        assert!(!verify_mailgun("key-1", &ts, "tok", "zz", now));
        assert!(!verify_mailgun("key-1", &ts, "tok", &sig, now + 3600));
    }

    #[test]
    fn sendgrid_fields_are_decoded_with_their_charsets() {
        let mut form = FormData::default();
        form.fields
            .insert("from".into(), b"Ren\xe9 <rene@example.fr>".to_vec());
        form.fields
            .insert("to".into(), b"roofer@acme.test".to_vec());
        form.fields
            .insert("subject".into(), b"Toit ab\xeem\xe9".to_vec());
        form.fields
            .insert("text".into(), b"Le toit fuit.\n\n> old".to_vec());
        form.fields.insert(
            "charsets".into(),
            br#"{"from":"iso-8859-1","to":"UTF-8","subject":"iso-8859-1","text":"iso-8859-1"}"#
                .to_vec(),
        );
        let p = sendgrid_email(&form);
        assert_eq!(p.subject.as_deref(), Some("Toit abîmé"));
        assert_eq!(p.from.as_deref(), Some("rene@example.fr"));
        assert_eq!(p.from_name.as_deref(), Some("René"));
        assert_eq!(p.content, "Le toit fuit.");
    }

    #[test]
    fn address_lists_are_split() {
        assert_eq!(
            address_list("Dana <D@x.test>, e@y.test"),
            vec!["d@x.test", "e@y.test"]
        );
    }
}
