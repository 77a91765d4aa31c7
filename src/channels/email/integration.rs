//! The stored email integration: its columns, the password sealed with the master key,
//! the IMAP and SMTP settings it opens into, and the inbound token's hash.

use chrono::{DateTime, Utc};

use crate::crypto::Sealed;
use crate::domain::AccountId;
use crate::error::{ApiError, Result};
use crate::state::AppState;

use super::imap::ImapSettings;
use super::smtp::SmtpSettings;

use super::Security;

pub(crate) const INTEGRATION_COLUMNS: &str = "id, account_id, email, username, encrypted_password, password_nonce, key_id, \
     imap_host, imap_port, imap_security, smtp_host, smtp_port, smtp_security, folders, backfill_days, auto_respond, \
     is_active, last_sync, last_error, consecutive_failures, next_sync_at, inbound_token_hash, aliases, created_at, connected_at";

/// A stored email integration (the password stays sealed).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EmailIntegration {
    pub id: i64,
    pub account_id: AccountId,
    pub email: String,
    pub username: String,
    pub encrypted_password: Option<Vec<u8>>,
    pub password_nonce: Option<Vec<u8>>,
    pub key_id: Option<String>,
    pub imap_host: String,
    pub imap_port: i32,
    pub imap_security: String,
    pub smtp_host: String,
    pub smtp_port: i32,
    pub smtp_security: String,
    pub folders: Vec<String>,
    pub backfill_days: i32,
    pub auto_respond: bool,
    pub is_active: bool,
    pub last_sync: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: i32,
    pub next_sync_at: Option<DateTime<Utc>>,
    /// SHA-256 (hex) of the SendGrid inbound token; the token itself is never stored.
    pub inbound_token_hash: Option<String>,
    /// Other addresses whose mail is this mailbox's (lower-cased).
    pub aliases: Vec<String>,
    /// When the mailbox was first connected: older mail is never auto-answered.
    pub created_at: DateTime<Utc>,
    /// The last connection (a reconnection after a disconnect, or of another mailbox).
    pub connected_at: DateTime<Utc>,
}

impl EmailIntegration {
    fn password(&self, state: &AppState) -> std::result::Result<String, String> {
        match (&self.encrypted_password, &self.password_nonce, &self.key_id) {
            (Some(c), Some(n), Some(k)) => state
                .secrets
                .open(&Sealed {
                    ciphertext: c.clone(),
                    nonce: n.clone(),
                    key_id: k.clone(),
                })
                .map_err(|e| e.to_string()),
            _ => Err("the mailbox is disconnected (no stored password)".into()),
        }
    }

    /// IMAP settings with the opened password.
    pub fn imap_settings(&self, state: &AppState) -> std::result::Result<ImapSettings, String> {
        Ok(ImapSettings {
            host: self.imap_host.clone(),
            port: self.imap_port as u16,
            security: Security::parse(&self.imap_security),
            username: self.username.clone(),
            password: self.password(state)?,
            extra_roots_pem: state.config.email.extra_roots_pem.clone(),
            allow_private: state.config.email.allow_private_hosts,
        })
    }

    /// SMTP settings with the opened password.
    pub fn smtp_settings(&self, state: &AppState) -> std::result::Result<SmtpSettings, String> {
        Ok(SmtpSettings {
            host: self.smtp_host.clone(),
            port: self.smtp_port as u16,
            security: Security::parse(&self.smtp_security),
            username: self.username.clone(),
            password: self.password(state)?,
            extra_roots_pem: state.config.email.extra_roots_pem.clone(),
            allow_private: state.config.email.allow_private_hosts,
            timeout: state.config.email.timeout,
        })
    }
}

/// Messages synced from the account's mailbox, counted from what is stored (a counter
/// kept by each sync would miss the messages of a sync that crashed before its end).
pub async fn messages_synced(pool: &sqlx::PgPool, account: AccountId) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "select count(*) from communications where account_id = $1 and type = 'email' and provider = 'imap'",
    )
    .bind(account)
    .fetch_one(pool)
    .await
}

/// The account's integration (active or not).
pub async fn integration(state: &AppState, account: AccountId) -> Result<Option<EmailIntegration>> {
    Ok(sqlx::query_as::<_, EmailIntegration>(&format!(
        "select {INTEGRATION_COLUMNS} from email_integrations where account_id = $1 order by is_active desc, id limit 1"
    ))
    .bind(account)
    .fetch_optional(&state.pool)
    .await?)
}

/// How an inbound token is kept and looked up.
pub fn token_hash(token: &str) -> String {
    hex::encode(crate::auth::hash_key(token))
}

pub(super) fn random_token() -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect()
}

/// The account's active mailbox; 409 `email_not_connected` when there is none (as for SMS:
/// the request is fine, the account is not in a state to serve it).
pub(super) async fn connected(state: &AppState, account: AccountId) -> Result<EmailIntegration> {
    integration(state, account)
        .await?
        .filter(|i| i.is_active)
        .ok_or_else(|| {
            ApiError::Conflict(
                "email_not_connected",
                "connect a mailbox first: POST /api/integrations/email/connect".into(),
            )
        })
}

pub(super) fn scrub(msg: String, password: &str) -> String {
    if password.len() >= 3 {
        msg.replace(password, "***")
    } else {
        msg
    }
}
