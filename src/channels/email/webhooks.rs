//! Inbound provider webhooks: Mailgun route forwarding (HMAC-SHA256 signed, fresh,
//! single-use tokens) and SendGrid Inbound Parse (a secret per-account URL token). Both
//! become a `ParsedEmail` and go through the same `ingest` path as IMAP.

use std::collections::HashMap;

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::Form;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::{ApiError, Result};
use crate::extract::Json;
use crate::tracker::model::Direction;

use super::parse::{self, decode_charset, Attachment, ParsedEmail};
use super::{EmailIntegration, INTEGRATION_COLUMNS};

/// How old a Mailgun signature may be.
pub const MAX_SIGNATURE_AGE_SECS: i64 = 15 * 60;
/// Largest single field kept from a webhook form (attachments included).
const MAX_FIELD_BYTES: usize = 25 * 1024 * 1024;
/// Largest webhook body (a message at the providers' 25 MB limit, form-encoded).
pub const MAX_BODY_BYTES: usize = 40 * 1024 * 1024;

/// A posted form: text fields (raw bytes) and files.
#[derive(Debug, Default)]
pub struct FormData {
    pub fields: HashMap<String, Vec<u8>>,
    pub files: Vec<(String, Attachment)>,
}

impl FormData {
    fn text(&self, name: &str) -> Option<String> {
        self.fields
            .get(name)
            .map(|b| String::from_utf8_lossy(b).trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// Reads urlencoded or multipart bodies.
    pub async fn read(req: Request, state: &AppState) -> Result<Self> {
        let ct = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut data = FormData::default();
        if ct.starts_with("multipart/form-data") {
            let mut mp = Multipart::from_request(req, state)
                .await
                .map_err(|e| ApiError::BadRequest("invalid_form", e.body_text()))?;
            while let Some(field) = mp
                .next_field()
                .await
                .map_err(|e| ApiError::BadRequest("invalid_form", e.body_text()))?
            {
                let name = field.name().unwrap_or_default().to_string();
                let file_name = field.file_name().map(str::to_string);
                let content_type = field.content_type().map(str::to_string);
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| ApiError::BadRequest("invalid_form", e.body_text()))?;
                if bytes.len() > MAX_FIELD_BYTES {
                    return Err(ApiError::PayloadTooLarge);
                }
                match file_name {
                    Some(f) if name != "email" && name != "body-mime" => data.files.push((
                        name,
                        Attachment::new(
                            Some(f),
                            content_type.unwrap_or_else(|| "application/octet-stream".into()),
                            None,
                            bytes.to_vec(),
                        ),
                    )),
                    _ => {
                        data.fields.insert(name, bytes.to_vec());
                    }
                }
            }
        } else if ct.starts_with("application/x-www-form-urlencoded") {
            let Form(pairs) = Form::<Vec<(String, String)>>::from_request(req, state)
                .await
                .map_err(|e| ApiError::BadRequest("invalid_form", e.body_text()))?;
            for (k, v) in pairs {
                data.fields.insert(k, v.into_bytes());
            }
        } else {
            return Err(ApiError::UnsupportedMediaType(
                "expected multipart/form-data or application/x-www-form-urlencoded".into(),
            ));
        }
        Ok(data)
    }
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
    /// stored, duplicate or unknown_recipient.
    pub status: &'static str,
}

async fn integration_for_address(
    state: &AppState,
    addresses: &[String],
) -> Result<Option<EmailIntegration>> {
    Ok(sqlx::query_as::<_, EmailIntegration>(&format!(
        "select {INTEGRATION_COLUMNS} from email_integrations where is_active and lower(email) = any($1) order by id limit 1"
    ))
    .bind(addresses)
    .fetch_optional(&state.pool)
    .await?)
}

/// Addresses in a header value such as `Dana <d@x.test>, e@y.test`.
pub fn address_list(v: &str) -> Vec<String> {
    let raw = format!("To: {}\r\n\r\n", v.replace(['\r', '\n'], " "));
    let p = parse::parse(raw.as_bytes());
    p.to
}

/// Text of an HTML body.
fn html_to_text(html: &str) -> String {
    let raw = format!("Content-Type: text/html; charset=utf-8\r\n\r\n{html}");
    parse::parse(raw.as_bytes()).text
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
        .or_else(|| html.as_deref().map(html_to_text))
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

/// Mailgun's forwarded fields (or its `body-mime`) as an email.
pub fn mailgun_email(form: &FormData) -> ParsedEmail {
    if let Some(mime) = form.fields.get("body-mime") {
        return parse::parse(mime);
    }
    let headers = match form
        .text("message-headers")
        .and_then(|h| serde_json::from_str::<Vec<(String, String)>>(&h).ok())
    {
        Some(list) => list
            .into_iter()
            .filter(|(k, _)| {
                !k.eq_ignore_ascii_case("content-type")
                    && !k.eq_ignore_ascii_case("content-transfer-encoding")
            })
            .map(|(k, v)| header_line(&k, Some(v)))
            .collect::<String>(),
        None => [
            header_line("From", form.text("from").or(form.text("sender"))),
            header_line("To", form.text("To").or(form.text("recipient"))),
            header_line("Subject", form.text("subject")),
            header_line("Date", form.text("Date")),
            header_line("Message-Id", form.text("Message-Id")),
            header_line("In-Reply-To", form.text("In-Reply-To")),
            header_line("References", form.text("References")),
        ]
        .concat(),
    };
    let mut p = from_parts(
        &headers,
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
/// 401 unless the signature is valid, fresh and its token unused.
#[utoipa::path(post, path = "/webhooks/email/mailgun", tag = "email",
    responses((status = 200, body = WebhookResult), (status = 401, body = crate::error::ErrorBody)))]
pub async fn mailgun(State(state): State<AppState>, req: Request) -> Result<Json<WebhookResult>> {
    let form = FormData::read(req, &state).await?;
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
    let outcome = mailgun_store(&state, &form, &token).await;
    if outcome.is_err() {
        // Let Mailgun's retry through: the token was not consumed by a stored message.
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
    token: &str,
) -> Result<Json<WebhookResult>> {
    let parsed = mailgun_email(form);
    let mut rcpt = form
        .text("recipient")
        .map(|r| address_list(&r))
        .unwrap_or_default();
    rcpt.extend(parsed.to.iter().cloned());
    let Some(integration) = integration_for_address(state, &rcpt).await? else {
        tracing::warn!("Mailgun message for an address no account has connected");
        return Ok(Json(WebhookResult {
            status: "unknown_recipient",
        }));
    };
    sqlx::query("update webhook_events set account_id = $2, processed_at = now() where provider = 'mailgun' and event_id = $1")
        .bind(token)
        .bind(integration.account_id)
        .execute(&state.pool)
        .await?;
    let fallback = format!("mailgun:{token}");
    let stored = super::ingest(
        state,
        &integration,
        parsed,
        Direction::Inbound,
        "mailgun",
        fallback,
        json!({}),
        true,
    )
    .await?;
    Ok(Json(WebhookResult {
        status: if stored { "stored" } else { "duplicate" },
    }))
}

/// SendGrid Inbound Parse, authenticated by the account's secret token in the path.
#[utoipa::path(post, path = "/webhooks/email/sendgrid/{token}", tag = "email",
    params(("token" = String, Path, description = "the integration's inbound token")),
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
        "select {INTEGRATION_COLUMNS} from email_integrations where inbound_token = $1 and is_active"
    ))
    .bind(&token)
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| ApiError::Unauthorized("unknown inbound token".into()))?;
    let form = FormData::read(req, &state).await?;
    let parsed = sendgrid_email(&form);
    let digest = {
        let mut h = Sha256::new();
        let mut keys: Vec<_> = form.fields.keys().collect();
        keys.sort();
        for k in keys {
            h.update(k.as_bytes());
            h.update(&form.fields[k]);
        }
        hex::encode(&h.finalize()[..16])
    };
    let stored = super::ingest(
        &state,
        &integration,
        parsed,
        Direction::Inbound,
        "sendgrid",
        format!("sendgrid:{digest}"),
        json!({}),
        true,
    )
    .await?;
    Ok(Json(WebhookResult {
        status: if stored { "stored" } else { "duplicate" },
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
