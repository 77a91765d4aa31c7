//! Telnyx webhook events: Ed25519 verification of the signature over the raw body
//! (before anything is parsed), the cache of the keys they may be signed with, the
//! reading of an event, and its once-only store in `webhook_events`. The handler that
//! hands events to the channels is `channels::telnyx_webhook`.

use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::AccountId;
use crate::error::{ApiError, Result};

/// How far the signed timestamp may be from our clock, either way.
pub const MAX_SKEW_SECS: i64 = 300;
pub const SIGNATURE_HEADER: &str = "telnyx-signature-ed25519";
pub const TIMESTAMP_HEADER: &str = "telnyx-timestamp";
pub const PROVIDER: &str = "telnyx";

/// Why a delivery was not accepted as signed by Telnyx.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("the telnyx-timestamp header is not a number of seconds")]
    BadTimestamp,
    #[error("the telnyx-timestamp is more than 300 seconds from now")]
    StaleTimestamp,
    #[error("the signature is not base64")]
    BadEncoding,
    #[error("the signature is not 64 bytes")]
    BadSignatureLength,
    #[error("no webhook public key is configured")]
    NoKey,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Decodes a base64 Ed25519 public key (32 bytes, a valid curve point).
pub fn parse_public_key(b64: &str) -> Option<VerifyingKey> {
    let bytes = STANDARD.decode(b64.trim()).ok()?;
    let arr: [u8; 32] = bytes.try_into().ok()?;
    VerifyingKey::from_bytes(&arr).ok()
}

/// Checks the Telnyx signature: Ed25519 over `timestamp + "|" + body` by one of `keys`,
/// with the timestamp within `MAX_SKEW_SECS` of `now` (seconds). Returns the key that
/// signed. Pure: no I/O, nothing parsed but the two headers.
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    keys: &[VerifyingKey],
    now: i64,
) -> std::result::Result<VerifyingKey, VerifyError> {
    // HeaderMap lookups are case-insensitive, as HTTP header names are.
    let header = |name: &'static str| {
        headers
            .get(name)
            .ok_or(VerifyError::MissingHeader(name))
            .and_then(|v| v.to_str().map_err(|_| VerifyError::MissingHeader(name)))
            .map(str::trim)
    };
    let sig_b64 = header(SIGNATURE_HEADER)?;
    let ts_text = header(TIMESTAMP_HEADER)?;
    if ts_text.is_empty() || !ts_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::BadTimestamp);
    }
    let ts: i64 = ts_text.parse().map_err(|_| VerifyError::BadTimestamp)?;
    if (now - ts).abs() > MAX_SKEW_SECS {
        return Err(VerifyError::StaleTimestamp);
    }
    let sig_bytes = STANDARD
        .decode(sig_b64)
        .map_err(|_| VerifyError::BadEncoding)?;
    let sig_arr: [u8; 64] = sig_bytes
        .try_into()
        .map_err(|_| VerifyError::BadSignatureLength)?;
    let signature = Signature::from_bytes(&sig_arr);
    if keys.is_empty() {
        return Err(VerifyError::NoKey);
    }
    let mut signed = Vec::with_capacity(ts_text.len() + 1 + body.len());
    signed.extend_from_slice(ts_text.as_bytes());
    signed.push(b'|');
    signed.extend_from_slice(body);
    keys.iter()
        .find(|k| k.verify_strict(&signed, &signature).is_ok())
        .copied()
        .ok_or(VerifyError::Mismatch)
}

/// The integrations' own webhook keys, cached: every delivery is verified against them and
/// they change rarely. The cache only narrows which keys are tried; which key may sign for
/// an account is checked afterwards against the database (`Event::check_key_for`). A
/// delivery that no cached key verifies reloads them (at most once a second, so forged
/// deliveries cannot turn into a query each), and they are reloaded every minute anyway;
/// connecting or disconnecting on this server drops them at once.
#[derive(Clone, Default)]
pub struct KeyCache(Arc<Mutex<CachedKeys>>);

#[derive(Default)]
struct CachedKeys {
    /// `TELNYX_PUBLIC_KEY`, parsed (the configuration does not change while we run).
    global: Option<VerifyingKey>,
    /// `global` and the integrations' own keys.
    all: Vec<VerifyingKey>,
    loaded_at: Option<Instant>,
}

/// The keys a delivery may be signed with: the account-wide key first, then the
/// integrations' own keys.
pub struct Candidates {
    pub global: Option<VerifyingKey>,
    pub all: Vec<VerifyingKey>,
}

const KEYS_MAX_AGE: Duration = Duration::from_secs(60);
const KEYS_MIN_RELOAD: Duration = Duration::from_secs(1);

impl KeyCache {
    /// Drops the cached keys (an integration of this server changed its key).
    pub fn forget(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).loaded_at = None;
    }

    fn cached(&self, max_age: Duration) -> Option<Candidates> {
        let c = self.0.lock().unwrap_or_else(|e| e.into_inner());
        c.loaded_at
            .filter(|t| t.elapsed() < max_age)
            .map(|_| Candidates {
                global: c.global,
                all: c.all.clone(),
            })
    }

    async fn load(&self, pool: &PgPool, global: Option<&str>) -> Result<Candidates> {
        let own: Vec<String> = sqlx::query_scalar(
            "select distinct webhook_public_key from sms_integrations where webhook_public_key is not null",
        )
        .fetch_all(pool)
        .await?;
        let global = global.and_then(parse_public_key);
        let all: Vec<VerifyingKey> = global
            .into_iter()
            .chain(own.iter().filter_map(|k| parse_public_key(k)))
            .collect();
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = CachedKeys {
            global,
            all: all.clone(),
            loaded_at: Some(Instant::now()),
        };
        Ok(Candidates { global, all })
    }

    /// The keys a delivery may be signed with (`global`: `TELNYX_PUBLIC_KEY`); `fresh`
    /// asks for keys read from the database just now (unless read less than a second ago).
    pub async fn candidates(
        &self,
        pool: &PgPool,
        global: Option<&str>,
        fresh: bool,
    ) -> Result<Candidates> {
        let max_age = if fresh { KEYS_MIN_RELOAD } else { KEYS_MAX_AGE };
        match self.cached(max_age) {
            Some(keys) => Ok(keys),
            None => self.load(pool, global).await,
        }
    }
}

/// A verified delivery, parsed.
pub struct Event {
    pub id: String,
    pub event_type: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub payload: Value,
    pub envelope: Value,
    pub signed_by: VerifyingKey,
    pub global_key: Option<VerifyingKey>,
}

impl Event {
    /// A per-integration key overrides the account-wide one: the event must be signed by
    /// the key that belongs to its account.
    pub fn check_key_for(&self, integration_key: Option<&str>) -> Result<()> {
        let allowed = match integration_key.and_then(parse_public_key) {
            Some(k) => Some(k),
            None => self.global_key,
        };
        if allowed == Some(self.signed_by) {
            Ok(())
        } else {
            Err(ApiError::Unauthorized(
                "the event is not signed with this account's webhook key".into(),
            ))
        }
    }
}

/// Whether this event was already stored; `Some(true)` when it was fully processed.
pub enum Stored {
    New,
    Unfinished,
    Done,
}

/// Stores the event once (keyed by Telnyx's `data.id`).
pub async fn store_event(pool: &PgPool, ev: &Event, account: Option<AccountId>) -> Result<Stored> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "insert into webhook_events (provider, event_id, account_id, event_type, payload)
         values ($1, $2, $3, $4, $5)
         on conflict (provider, event_id) do nothing returning id",
    )
    .bind(PROVIDER)
    .bind(&ev.id)
    .bind(account)
    .bind(&ev.event_type)
    .bind(&ev.envelope)
    .fetch_optional(pool)
    .await?;
    if inserted.is_some() {
        return Ok(Stored::New);
    }
    let processed: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
        "select processed_at from webhook_events where provider = $1 and event_id = $2",
    )
    .bind(PROVIDER)
    .bind(&ev.id)
    .fetch_optional(pool)
    .await?;
    Ok(match processed {
        Some(Some(_)) => Stored::Done,
        _ => Stored::Unfinished,
    })
}

/// Stores the event as processed, in one statement: for handlers whose effect is itself
/// idempotent (an inbound message dedupes on its message id), so storing after the
/// effect loses nothing and costs one write instead of two. A redelivery changes nothing.
pub async fn store_processed(pool: &PgPool, ev: &Event, account: Option<AccountId>) -> Result<()> {
    sqlx::query(
        "insert into webhook_events (provider, event_id, account_id, event_type, payload, processed_at)
         values ($1, $2, $3, $4, $5, now())
         on conflict (provider, event_id) do update
             set processed_at = coalesce(webhook_events.processed_at, now()),
                 account_id = coalesce(webhook_events.account_id, excluded.account_id)
             where webhook_events.processed_at is null
                or (webhook_events.account_id is null and excluded.account_id is not null)",
    )
    .bind(PROVIDER)
    .bind(&ev.id)
    .bind(account)
    .bind(&ev.event_type)
    .bind(&ev.envelope)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks events processed (and names their account when it became known).
pub async fn mark_processed<'c, E>(
    exec: E,
    event_ids: &[String],
    account: Option<AccountId>,
) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    sqlx::query(
        "update webhook_events set processed_at = coalesce(processed_at, now()),
             account_id = coalesce(account_id, $3)
         where provider = $1 and event_id = any($2)",
    )
    .bind(PROVIDER)
    .bind(event_ids)
    .bind(account)
    .execute(exec)
    .await?;
    Ok(())
}

/// Reads a verified event: JSON, NUL characters removed (provider input is kept), with
/// `data.id` and `data.event_type`. Pure, so it can be fuzzed.
pub fn parse_event(
    body: &[u8],
    signed_by: VerifyingKey,
    global_key: Option<VerifyingKey>,
) -> Result<Event> {
    let mut envelope: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest("malformed_json", format!("the event is not JSON: {e}"))
    })?;
    crate::sanitize::strip_json(&mut envelope);
    let data = &envelope["data"];
    let (Some(id), Some(event_type)) = (data["id"].as_str(), data["event_type"].as_str()) else {
        return Err(ApiError::BadRequest(
            "malformed_event",
            "the event has no data.id or data.event_type".into(),
        ));
    };
    if id.trim().is_empty() || id.len() > 200 {
        return Err(ApiError::BadRequest(
            "malformed_event",
            "data.id is empty or too long".into(),
        ));
    }
    Ok(Event {
        id: id.to_string(),
        event_type: event_type.to_string(),
        occurred_at: data["occurred_at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc)),
        payload: data["payload"].clone(),
        signed_by,
        global_key,
        envelope: envelope.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderName, HeaderValue};
    use ed25519_dalek::{Signer, SigningKey};

    const NOW: i64 = 1_760_000_000;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn signed(sk: &SigningKey, ts: &str, body: &[u8]) -> HeaderMap {
        let mut msg = ts.as_bytes().to_vec();
        msg.push(b'|');
        msg.extend_from_slice(body);
        let sig = STANDARD.encode(sk.sign(&msg).to_bytes());
        let mut h = HeaderMap::new();
        h.insert(SIGNATURE_HEADER, HeaderValue::from_str(&sig).unwrap());
        h.insert(TIMESTAMP_HEADER, HeaderValue::from_str(ts).unwrap());
        h
    }

    const BODY: &[u8] = br#"{"data":{"id":"e1","event_type":"message.received"}}"#;

    #[test]
    fn a_correct_signature_verifies_and_names_its_key() {
        let (a, b) = (key(1), key(2));
        let h = signed(&b, &NOW.to_string(), BODY);
        let got = verify(&h, BODY, &[a.verifying_key(), b.verifying_key()], NOW).unwrap();
        assert_eq!(got, b.verifying_key());
    }

    #[test]
    fn header_names_are_matched_case_insensitively() {
        let sk = key(1);
        let h = signed(&sk, &NOW.to_string(), BODY);
        let mut mixed = HeaderMap::new();
        for (name, value) in &h {
            let upper = name.as_str().to_ascii_uppercase();
            mixed.insert(
                HeaderName::from_bytes(upper.as_bytes()).unwrap(),
                value.clone(),
            );
        }
        assert!(verify(&mixed, BODY, &[sk.verifying_key()], NOW).is_ok());
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let sk = key(1);
        let keys = [sk.verifying_key()];
        for ts in [NOW - 301, NOW + 301] {
            let h = signed(&sk, &ts.to_string(), BODY);
            assert_eq!(
                verify(&h, BODY, &keys, NOW),
                Err(VerifyError::StaleTimestamp)
            );
        }
        for ts in [NOW - 300, NOW + 300] {
            let h = signed(&sk, &ts.to_string(), BODY);
            assert!(verify(&h, BODY, &keys, NOW).is_ok());
        }
    }

    #[test]
    fn altered_bodies_and_other_keys_are_refused() {
        let sk = key(1);
        let h = signed(&sk, &NOW.to_string(), BODY);
        let mut altered = BODY.to_vec();
        altered[10] ^= 1;
        assert_eq!(
            verify(&h, &altered, &[sk.verifying_key()], NOW),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(&h, BODY, &[key(9).verifying_key()], NOW),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(verify(&h, BODY, &[], NOW), Err(VerifyError::NoKey));
    }

    #[test]
    fn malformed_headers_are_refused_without_panicking() {
        let sk = key(1);
        let keys = [sk.verifying_key()];
        let good = signed(&sk, &NOW.to_string(), BODY);
        let mut h = good.clone();
        h.remove(SIGNATURE_HEADER);
        assert_eq!(
            verify(&h, BODY, &keys, NOW),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        let mut h = good.clone();
        h.remove(TIMESTAMP_HEADER);
        assert_eq!(
            verify(&h, BODY, &keys, NOW),
            Err(VerifyError::MissingHeader(TIMESTAMP_HEADER))
        );
        for ts in ["abc", "-5", "1e9", "", "99999999999999999999999"] {
            let mut h = good.clone();
            h.insert(TIMESTAMP_HEADER, HeaderValue::from_str(ts).unwrap());
            assert_eq!(
                verify(&h, BODY, &keys, NOW),
                Err(VerifyError::BadTimestamp),
                "{ts}"
            );
        }
        let mut h = good.clone();
        h.insert(SIGNATURE_HEADER, HeaderValue::from_static("not base64!!"));
        assert_eq!(verify(&h, BODY, &keys, NOW), Err(VerifyError::BadEncoding));
        let mut h = good;
        h.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(&STANDARD.encode([0u8; 63])).unwrap(),
        );
        assert_eq!(
            verify(&h, BODY, &keys, NOW),
            Err(VerifyError::BadSignatureLength)
        );
    }

    #[test]
    fn public_keys_must_be_32_bytes_of_base64() {
        let sk = key(3);
        let b64 = STANDARD.encode(sk.verifying_key().to_bytes());
        assert_eq!(parse_public_key(&b64), Some(sk.verifying_key()));
        assert_eq!(parse_public_key("nope"), None);
        assert_eq!(parse_public_key(&STANDARD.encode([1u8; 31])), None);
    }
}
