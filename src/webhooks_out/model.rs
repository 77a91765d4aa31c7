//! Subscriptions: where an account's events go, which events, and the secret they are
//! signed with. The secret (`whsec_…`) is sealed with the master key, shown once at
//! creation and once at each rotation; after a rotation the previous secret signs beside
//! the new one for [`ROTATION_OVERLAP`], so receivers can switch without missing a beat.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::crypto::{Sealed, SecretBox};
use crate::domain::AccountId;
use crate::error::{ApiError, Result};

/// How long the previous secret still signs after a rotation.
pub const ROTATION_OVERLAP: Duration = Duration::hours(24);

/// A subscription as the API shows it (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Subscription {
    pub id: i64,
    /// Where events are POSTed.
    pub url: String,
    /// The events sent there (see `EVENT_TYPES`).
    pub events: Vec<String>,
    pub enabled: bool,
    pub description: Option<String>,
    /// Since when every attempt failed; after 3 days the subscription is disabled.
    pub failing_since: Option<DateTime<Utc>>,
    /// Why Leadline disabled it (410 Gone, or failing for 3 days), if it did.
    pub disabled_reason: Option<String>,
    /// Until when the previous secret still signs beside the current one (after a rotation).
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, url, events, enabled, description, failing_since, disabled_reason,
    case when previous_secret_until > now() then previous_secret_until end as previous_secret_until,
    created_at, updated_at";

/// Checks a subscription URL: https (http only with private hosts allowed), a host, no
/// credentials, at most 2,000 characters, and — unless private hosts are allowed — a host
/// that is not (and does not resolve to) an address of the server's own network. The
/// host is resolved again at every delivery (see `deliver`).
pub async fn check_url(raw: &str, allow_private: bool) -> Result<reqwest::Url> {
    let bad = |why: &str| ApiError::invalid(format!("url: {why}"));
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 2000 {
        return Err(bad("must be 1 to 2000 characters"));
    }
    let url = reqwest::Url::parse(raw).map_err(|e| bad(&format!("not a URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err(bad("must use https")),
        _ => return Err(bad("must be an https URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry a user name or password"));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("has no host"))?;
    let port = url.port_or_known_default().unwrap_or(443);
    if !allow_private {
        match crate::hosts::resolve(host, port, false).await {
            Ok(_) => {}
            Err(crate::hosts::Refused::Internal(m)) => {
                return Err(bad(&m.replace("mail servers", "webhook receivers")))
            }
            Err(crate::hosts::Refused::Unresolved(m)) => return Err(bad(&m)),
        }
    }
    Ok(url)
}

/// Checks the event list: known names, at least one; returned sorted without repeats.
pub fn check_events(events: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for e in events {
        if !super::EVENT_TYPES.contains(&e.as_str()) {
            return Err(ApiError::invalid(format!(
                "events: unknown event {e:?} (one of {})",
                super::EVENT_TYPES.join(", ")
            )));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    if out.is_empty() {
        return Err(ApiError::invalid("events: subscribe to at least one event"));
    }
    out.sort();
    Ok(out)
}

/// Checks a description: at most 500 characters; blank is none.
pub fn check_description(d: Option<&str>) -> Result<Option<String>> {
    match d.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(None),
        Some(d) if d.chars().count() > 500 => Err(ApiError::invalid(
            "description: must be at most 500 characters",
        )),
        Some(d) => Ok(Some(d.to_string())),
    }
}

/// The account's subscriptions, oldest first.
pub async fn list(pool: &PgPool, account: AccountId) -> Result<Vec<Subscription>> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from webhook_subscriptions where account_id = $1 order by id"
    ))
    .bind(account)
    .fetch_all(pool)
    .await?)
}

/// One subscription of the account.
pub async fn get(pool: &PgPool, account: AccountId, id: i64) -> Result<Subscription> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from webhook_subscriptions where account_id = $1 and id = $2"
    ))
    .bind(account)
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or(ApiError::NotFound("webhook subscription"))
}

/// A new subscription (checked values); returns it with its secret (shown once).
pub async fn create<'c, E>(
    exec: E,
    secrets: &SecretBox,
    account: AccountId,
    url: &str,
    events: &[String],
    enabled: bool,
    description: Option<&str>,
) -> Result<(Subscription, String)>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    let secret = super::sign::new_secret();
    let sealed = secrets.seal(&secret);
    let sub = sqlx::query_as(&format!(
        "insert into webhook_subscriptions (account_id, url, events, enabled, description, secret, secret_nonce, secret_key_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning {COLUMNS}"
    ))
    .bind(account)
    .bind(url)
    .bind(events)
    .bind(enabled)
    .bind(description)
    .bind(&sealed.ciphertext)
    .bind(&sealed.nonce)
    .bind(&sealed.key_id)
    .fetch_one(exec)
    .await?;
    Ok((sub, secret))
}

/// What a change sets (`None` = unchanged; `description: Some(None)` clears it).
#[derive(Debug, Default)]
pub struct Change {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub description: Option<Option<String>>,
}

/// Applies a change; turning a subscription on clears why it was off and its failures.
pub async fn update<'c, E>(exec: E, account: AccountId, id: i64, c: &Change) -> Result<Subscription>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    sqlx::query_as(&format!(
        "update webhook_subscriptions set
             url = coalesce($3, url), events = coalesce($4, events),
             enabled = coalesce($5, enabled),
             description = case when $6 then $7 else description end,
             disabled_reason = case when $5 then null else disabled_reason end,
             failing_since = case when $5 and not enabled then null else failing_since end,
             updated_at = now()
         where account_id = $1 and id = $2 returning {COLUMNS}"
    ))
    .bind(account)
    .bind(id)
    .bind(&c.url)
    .bind(&c.events)
    .bind(c.enabled)
    .bind(c.description.is_some())
    .bind(c.description.clone().flatten())
    .fetch_optional(exec)
    .await?
    .ok_or(ApiError::NotFound("webhook subscription"))
}

/// Deletes a subscription and its deliveries' log. False when the account has none such.
pub async fn delete<'c, E>(exec: E, account: AccountId, id: i64) -> Result<bool>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    Ok(
        sqlx::query("delete from webhook_subscriptions where account_id = $1 and id = $2")
            .bind(account)
            .bind(id)
            .execute(exec)
            .await?
            .rows_affected()
            > 0,
    )
}

/// A new secret; the current one keeps signing beside it until `now + ROTATION_OVERLAP`.
pub async fn rotate<'c, E>(
    exec: E,
    secrets: &SecretBox,
    account: AccountId,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(Subscription, String)>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    let secret = super::sign::new_secret();
    let sealed = secrets.seal(&secret);
    let sub = sqlx::query_as(&format!(
        "update webhook_subscriptions set
             previous_secret = secret, previous_secret_nonce = secret_nonce,
             previous_secret_key_id = secret_key_id, previous_secret_until = $6,
             secret = $3, secret_nonce = $4, secret_key_id = $5, updated_at = now()
         where account_id = $1 and id = $2 returning {COLUMNS}"
    ))
    .bind(account)
    .bind(id)
    .bind(&sealed.ciphertext)
    .bind(&sealed.nonce)
    .bind(&sealed.key_id)
    .bind(now + ROTATION_OVERLAP)
    .fetch_optional(exec)
    .await?
    .ok_or(ApiError::NotFound("webhook subscription"))?;
    Ok((sub, secret))
}

/// The sealed secrets of a subscription as the worker reads them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SealedSecrets {
    pub secret: Vec<u8>,
    pub secret_nonce: Vec<u8>,
    pub secret_key_id: String,
    pub previous_secret: Option<Vec<u8>>,
    pub previous_secret_nonce: Option<Vec<u8>>,
    pub previous_secret_key_id: Option<String>,
    pub previous_secret_until: Option<DateTime<Utc>>,
}

impl SealedSecrets {
    /// The keys that sign at `now`: the current one, and the previous one during the
    /// rotation overlap. `None` when the current one cannot be opened (another master key).
    pub fn keys(&self, secrets: &SecretBox, now: DateTime<Utc>) -> Option<Vec<Vec<u8>>> {
        let open = |c: &[u8], n: &[u8], k: &str| {
            secrets
                .open(&Sealed {
                    ciphertext: c.to_vec(),
                    nonce: n.to_vec(),
                    key_id: k.to_string(),
                })
                .ok()
                .and_then(|s| super::sign::key_of(&s))
        };
        let mut keys = vec![open(&self.secret, &self.secret_nonce, &self.secret_key_id)?];
        if let (Some(c), Some(n), Some(k), Some(until)) = (
            &self.previous_secret,
            &self.previous_secret_nonce,
            &self.previous_secret_key_id,
            self.previous_secret_until,
        ) {
            if until > now {
                keys.extend(open(c, n, k));
            }
        }
        Some(keys)
    }
}
