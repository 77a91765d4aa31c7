//! Connecting a mailbox: the connect, status, test, disconnect, inbound-token and
//! sync-now endpoints, with the settings' checks and the connection test.

use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthAccount;
use crate::domain::AccountId;
use crate::error::{unique_violation, ApiError, Result};
use crate::extract::Json;
use crate::phone::normalize_email;
use crate::quarantine;
use crate::state::AppState;

use super::config::EmailConfig;
use super::imap::ImapSettings;
use super::smtp::SmtpSettings;
use super::sync::SyncReport;

use super::integration::{
    connected, integration, messages_synced, random_token, scrub, token_hash,
};
use super::Security;
use super::{imap, smtp, sync};

/// Mailbox settings: `POST /api/integrations/email/connect` and `/test`.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectEmail {
    pub email: String,
    /// Login name; the email address when absent.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub username: Option<String>,
    /// Stored encrypted, never returned.
    pub password: String,
    pub imap_server: String,
    pub imap_port: u16,
    pub imap_security: Security,
    pub smtp_server: String,
    pub smtp_port: u16,
    pub smtp_security: Security,
    /// Folders to sync; `["INBOX", "Sent"]` by default.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub folders: Option<Vec<String>>,
    /// Other addresses of this mailbox: inbound mail forwarded by Mailgun to one of them
    /// is this account's too.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub aliases: Option<Vec<String>>,
    #[serde(default)]
    pub auto_respond: bool,
    /// How far back the first sync reaches (days, default 30).
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub backfill_days: Option<i32>,
    /// Store without testing the connection first.
    #[serde(default)]
    pub skip_test: bool,
}

impl std::fmt::Debug for ConnectEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectEmail")
            .field("email", &self.email)
            .field("imap_server", &self.imap_server)
            .field("smtp_server", &self.smtp_server)
            .finish_non_exhaustive()
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl ConnectEmail {
    fn validate(&self, config: &EmailConfig) -> Result<()> {
        if normalize_email(&self.email).is_none() {
            return Err(ApiError::invalid("email is not an email address"));
        }
        if self.password.is_empty() || self.password.len() > 1000 {
            return Err(ApiError::invalid("password must be 1 to 1000 characters"));
        }
        for (name, host, port, sec) in [
            (
                "imap",
                &self.imap_server,
                self.imap_port,
                self.imap_security,
            ),
            (
                "smtp",
                &self.smtp_server,
                self.smtp_port,
                self.smtp_security,
            ),
        ] {
            let h = host.trim();
            if h.is_empty() || h.len() > 255 || h.contains(char::is_whitespace) {
                return Err(ApiError::invalid(format!(
                    "{name}_server must be a host name"
                )));
            }
            if port == 0 {
                return Err(ApiError::invalid(format!("{name}_port must be 1 to 65535")));
            }
            if sec == Security::None && !is_loopback(h) && !config.allow_insecure {
                return Err(ApiError::invalid(format!(
                    "{name}_security \"none\" sends the password in the clear: allowed only for loopback hosts (or with LEADLINE_ALLOW_INSECURE_MAIL=true)"
                )));
            }
        }
        if let Some(f) = &self.folders {
            if f.is_empty()
                || f.len() > 20
                || f.iter()
                    .any(|x| x.trim().is_empty() || x.len() > 200 || x.contains(['"', '\r', '\n']))
            {
                return Err(ApiError::invalid("folders: 1 to 20 folder names"));
            }
        }
        if let Some(a) = &self.aliases {
            if a.len() > 20 {
                return Err(ApiError::invalid("aliases: at most 20 addresses"));
            }
            if let Some(bad) = a.iter().find(|x| normalize_email(x).is_none()) {
                return Err(ApiError::invalid(format!(
                    "aliases: {bad:?} is not an email address"
                )));
            }
        }
        if let Some(d) = self.backfill_days {
            if !(0..=3650).contains(&d) {
                return Err(ApiError::invalid("backfill_days must be 0 to 3650"));
            }
        }
        Ok(())
    }

    /// Refuses mail servers on the server's own network before anything is saved or tried
    /// (`hosts::resolve`; every later connection checks again).
    async fn check_hosts(&self, config: &EmailConfig) -> Result<()> {
        if config.allow_private_hosts {
            return Ok(());
        }
        for (name, host, port) in [
            ("imap_server", &self.imap_server, self.imap_port),
            ("smtp_server", &self.smtp_server, self.smtp_port),
        ] {
            crate::hosts::resolve(host, port, false)
                .await
                .map_err(|e| ApiError::invalid(format!("{name}: {e}")))?;
        }
        Ok(())
    }

    fn username(&self) -> String {
        self.username
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .unwrap_or(self.email.trim())
            .to_string()
    }

    fn imap(&self, config: &EmailConfig) -> ImapSettings {
        ImapSettings {
            host: self.imap_server.trim().to_string(),
            port: self.imap_port,
            security: self.imap_security,
            username: self.username(),
            password: self.password.clone(),
            extra_roots_pem: config.extra_roots_pem.clone(),
            allow_private: config.allow_private_hosts,
        }
    }

    fn smtp(&self, config: &EmailConfig) -> SmtpSettings {
        SmtpSettings {
            host: self.smtp_server.trim().to_string(),
            port: self.smtp_port,
            security: self.smtp_security,
            username: self.username(),
            password: self.password.clone(),
            extra_roots_pem: config.extra_roots_pem.clone(),
            allow_private: config.allow_private_hosts,
            timeout: config.timeout,
        }
    }
}

/// The result of one side of a connection test.
#[derive(Debug, Serialize, ToSchema)]
pub struct Check {
    pub ok: bool,
    /// The server's own words when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// IMAP and SMTP, tested separately.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestReport {
    pub imap: Check,
    pub smtp: Check,
}

impl TestReport {
    fn ok(&self) -> bool {
        self.imap.ok && self.smtp.ok
    }
}

async fn run_test(imap: &ImapSettings, smtp: &SmtpSettings) -> TestReport {
    // Each side bounded as a whole (the SMTP side also inside `smtp::test`).
    let bound = smtp.timeout;
    let imap_test = async {
        tokio::time::timeout(bound, imap::test(imap))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "timed out after {} s waiting for the IMAP server",
                    bound.as_secs()
                ))
            })
    };
    let (i, s) = tokio::join!(imap_test, smtp::test(smtp));
    let check = |r: std::result::Result<(), String>, pw: &str| match r {
        Ok(()) => Check {
            ok: true,
            error: None,
        },
        Err(e) => Check {
            ok: false,
            error: Some(scrub(e, pw)),
        },
    };
    TestReport {
        imap: check(i, &imap.password),
        smtp: check(s, &smtp.password),
    }
}

/// A folder's sync position.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct FolderStatus {
    pub folder: String,
    pub uidvalidity: Option<i64>,
    pub last_uid: i64,
    pub last_sync: Option<DateTime<Utc>>,
}

/// The account's email integration; never any secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailStatus {
    pub connected: bool,
    pub email: Option<String>,
    pub username: Option<String>,
    pub imap_server: Option<String>,
    pub imap_port: Option<i32>,
    pub imap_security: Option<String>,
    pub smtp_server: Option<String>,
    pub smtp_port: Option<i32>,
    pub smtp_security: Option<String>,
    pub auto_respond: bool,
    pub backfill_days: Option<i32>,
    /// Other addresses routed to this mailbox.
    pub aliases: Vec<String>,
    pub folders: Vec<FolderStatus>,
    pub last_sync: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: i32,
    pub messages_synced: i64,
    /// When the cron will next sync this mailbox (after a backoff, or the next tick).
    pub next_sync: Option<DateTime<Utc>>,
    /// Messages that could not be stored (kept with the reason; retry or discard them
    /// under `/api/quarantine`): the newest 20, and how many in all.
    pub quarantine: Vec<quarantine::Quarantined>,
    pub quarantined: i64,
    /// Path of the SendGrid Inbound Parse webhook; only in the response to `connect`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sendgrid_inbound_path: Option<String>,
}

async fn status_of(state: &AppState, account: AccountId) -> Result<EmailStatus> {
    let sources = quarantine::Source::EMAIL;
    let (held, quarantined) = tokio::try_join!(
        quarantine::list(&state.pool, account, &sources, 20),
        quarantine::count(&state.pool, account, &sources),
    )?;
    let Some(i) = integration(state, account).await?.filter(|i| i.is_active) else {
        return Ok(EmailStatus {
            connected: false,
            email: None,
            username: None,
            imap_server: None,
            imap_port: None,
            imap_security: None,
            smtp_server: None,
            smtp_port: None,
            smtp_security: None,
            auto_respond: false,
            backfill_days: None,
            aliases: vec![],
            folders: vec![],
            last_sync: None,
            last_error: None,
            consecutive_failures: 0,
            messages_synced: 0,
            next_sync: None,
            quarantine: held,
            quarantined,
            sendgrid_inbound_path: None,
        });
    };
    let states: Vec<FolderStatus> = sqlx::query_as(
        "select folder, uidvalidity, last_uid, last_sync from imap_sync_state where integration_id = $1",
    )
    .bind(i.id)
    .fetch_all(&state.pool)
    .await?;
    let folders = i
        .folders
        .iter()
        .map(|f| {
            states
                .iter()
                .find(|s| &s.folder == f)
                .map(|s| FolderStatus {
                    folder: s.folder.clone(),
                    uidvalidity: s.uidvalidity,
                    last_uid: s.last_uid,
                    last_sync: s.last_sync,
                })
                .unwrap_or(FolderStatus {
                    folder: f.clone(),
                    uidvalidity: None,
                    last_uid: 0,
                    last_sync: None,
                })
        })
        .collect();
    let next_sync = i.next_sync_at.or_else(next_tick);
    Ok(EmailStatus {
        connected: true,
        email: Some(i.email.clone()),
        username: Some(i.username.clone()),
        imap_server: Some(i.imap_host.clone()),
        imap_port: Some(i.imap_port),
        imap_security: Some(i.imap_security.clone()),
        smtp_server: Some(i.smtp_host.clone()),
        smtp_port: Some(i.smtp_port),
        smtp_security: Some(i.smtp_security.clone()),
        auto_respond: i.auto_respond,
        backfill_days: Some(i.backfill_days),
        aliases: i.aliases.clone(),
        folders,
        last_sync: i.last_sync,
        last_error: i.last_error.clone(),
        consecutive_failures: i.consecutive_failures,
        messages_synced: messages_synced(&state.pool, account).await?,
        next_sync,
        quarantine: held,
        quarantined,
        sendgrid_inbound_path: None,
    })
}

/// The next cron tick: the next whole minute (the default schedule; a sparser
/// `LEADLINE_SYNC_CRON` runs at one of the following minutes).
fn next_tick() -> Option<DateTime<Utc>> {
    use chrono::Timelike;
    let now = Utc::now();
    Some(now.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1))
}

/// Connects a mailbox (or replaces the account's settings): tests IMAP and SMTP first
/// unless `skip_test`, then stores the password sealed.
#[utoipa::path(post, path = "/api/integrations/email/connect", tag = "email", request_body = ConnectEmail,
    responses((status = 200, body = EmailStatus), (status = 422, description = "invalid settings or the connection test failed", body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
pub(super) async fn connect(
    State(state): State<AppState>,
    crate::auth::Admin(caller): crate::auth::Admin,
    Json(body): Json<ConnectEmail>,
) -> Result<Json<EmailStatus>> {
    let account = caller.account;
    body.validate(&state.config.email)?;
    body.check_hosts(&state.config.email).await?;
    if !body.skip_test {
        let report = run_test(
            &body.imap(&state.config.email),
            &body.smtp(&state.config.email),
        )
        .await;
        if !report.ok() {
            let mut why = vec![];
            if let Some(e) = &report.imap.error {
                why.push(format!("IMAP: {e}"));
            }
            if let Some(e) = &report.smtp.error {
                why.push(format!("SMTP: {e}"));
            }
            return Err(ApiError::Unprocessable(
                "connection_failed",
                format!("the connection test failed — {}", why.join("; ")),
            ));
        }
    }
    let email =
        normalize_email(&body.email).unwrap_or_else(|| body.email.trim().to_ascii_lowercase());
    let folders = body
        .folders
        .clone()
        .unwrap_or_else(|| vec!["INBOX".into(), "Sent".into()])
        .into_iter()
        .map(|f| f.trim().to_string())
        .collect::<Vec<_>>();
    let mut aliases: Vec<String> = body
        .aliases
        .iter()
        .flatten()
        .filter_map(|a| normalize_email(a))
        .filter(|a| *a != email)
        .collect();
    aliases.sort();
    aliases.dedup();
    let sealed = state.secrets.seal(&body.password);
    let token = random_token();
    let mut tx = crate::db::begin(&state.pool).await?;
    // One mailbox per account: connecting again replaces the settings.
    let existing: Option<(i64, String)> = sqlx::query_as(
        "select id, lower(email) from email_integrations where account_id = $1 order by is_active desc, id limit 1 for update",
    )
    .bind(account)
    .fetch_optional(&mut *tx)
    .await?;
    let taken: Option<String> = sqlx::query_scalar(
        "select a from email_integrations, unnest(aliases || lower(email)) a
         where account_id <> $1 and is_active and a = any($2) limit 1",
    )
    .bind(account)
    .bind(&aliases)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(a) = taken {
        return Err(ApiError::Conflict(
            "alias_taken",
            format!("aliases: {a} is another account's address"),
        ));
    }
    let username = body.username();
    let id: i64 = match existing {
        Some((id, old_email)) => {
            if old_email != email {
                // Another mailbox: its sync positions do not apply.
                sqlx::query("delete from imap_sync_state where integration_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query_scalar(
                "update email_integrations set email = $2, username = $3, encrypted_password = $4, password_nonce = $5,
                     key_id = $6, imap_host = $7, imap_port = $8, imap_security = $9, smtp_host = $10, smtp_port = $11,
                     smtp_security = $12, folders = $13, backfill_days = $14, auto_respond = $15, is_active = true,
                     last_error = null, last_error_at = null, consecutive_failures = 0, next_sync_at = null,
                     inbound_token_hash = $16, aliases = $17, updated_at = now(),
                     connected_at = case when is_active and email = $2 then connected_at else now() end
                 where id = $1 returning id",
            )
            .bind(id)
        }
        None => sqlx::query_scalar(
            "insert into email_integrations (account_id, email, username, encrypted_password, password_nonce, key_id,
                 imap_host, imap_port, imap_security, smtp_host, smtp_port, smtp_security, folders, backfill_days,
                 auto_respond, inbound_token_hash, aliases)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) returning id",
        )
        .bind(account),
    }
    .bind(&email)
    .bind(&username)
    .bind(&sealed.ciphertext)
    .bind(&sealed.nonce)
    .bind(&sealed.key_id)
    .bind(body.imap_server.trim())
    .bind(i32::from(body.imap_port))
    .bind(body.imap_security.as_str())
    .bind(body.smtp_server.trim())
    .bind(i32::from(body.smtp_port))
    .bind(body.smtp_security.as_str())
    .bind(&folders)
    .bind(body.backfill_days.unwrap_or(30))
    .bind(body.auto_respond)
    .bind(token_hash(&token))
    .bind(&aliases)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match unique_violation(&e) {
        Some(_) => ApiError::Conflict("email_taken", "this mailbox is already connected".into()),
        None => e.into(),
    })?;
    tx.commit().await?;
    tracing::info!(integration = id, "email connected");
    let mut status = status_of(&state, account).await?;
    status.sendgrid_inbound_path = Some(format!("/webhooks/email/sendgrid/{token}"));
    crate::audit::record(
        &state.pool,
        crate::audit::Entry::by(
            &caller,
            "integration.connected",
            None,
            serde_json::json!({"integration": "email"}),
        ),
    )
    .await?;
    Ok(Json(status))
}

/// The account's email integration and sync state.
#[utoipa::path(get, path = "/api/integrations/email/status", tag = "email",
    responses((status = 200, body = EmailStatus)), security(("api_key" = [])))]
pub(super) async fn status(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Result<Json<EmailStatus>> {
    Ok(Json(status_of(&state, account).await?))
}

/// Tests the given settings, or the saved ones without a body. IMAP and SMTP are
/// reported separately, with the server's own words on failure.
#[utoipa::path(post, path = "/api/integrations/email/test", tag = "email", request_body(content = Option<ConnectEmail>),
    responses((status = 200, body = TestReport), (status = 404, description = "no body and no saved settings", body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
pub(super) async fn test_settings(
    State(state): State<AppState>,
    crate::auth::Admin(caller): crate::auth::Admin,
    body: axum::body::Bytes,
) -> Result<Json<TestReport>> {
    let account = caller.account;
    let (imap, smtp) = if body.iter().all(u8::is_ascii_whitespace) {
        let i = integration(&state, account)
            .await?
            .filter(|i| i.is_active)
            .ok_or(ApiError::NotFound("email integration"))?;
        let imap = i.imap_settings(&state).map_err(ApiError::invalid)?;
        let smtp = i.smtp_settings(&state).map_err(ApiError::invalid)?;
        (imap, smtp)
    } else {
        let crate::extract::Json(c) = crate::extract::Json::<ConnectEmail>::from_bytes(&body)?;
        c.validate(&state.config.email)?;
        c.check_hosts(&state.config.email).await?;
        (c.imap(&state.config.email), c.smtp(&state.config.email))
    };
    Ok(Json(run_test(&imap, &smtp).await))
}

/// Stops syncing and erases the stored password; synced communications stay.
#[utoipa::path(delete, path = "/api/integrations/email/disconnect", tag = "email",
    responses((status = 200, body = EmailStatus), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub(super) async fn disconnect(
    State(state): State<AppState>,
    crate::auth::Admin(caller): crate::auth::Admin,
) -> Result<Json<EmailStatus>> {
    let account = caller.account;
    let done = sqlx::query(
        "update email_integrations set is_active = false, encrypted_password = null, password_nonce = null,
             key_id = null, inbound_token_hash = null, sync_lease_until = null, updated_at = now()
         where account_id = $1 and is_active",
    )
    .bind(account)
    .execute(&state.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("email integration"));
    }
    crate::audit::record(
        &state.pool,
        crate::audit::Entry::by(
            &caller,
            "integration.disconnected",
            None,
            serde_json::json!({"integration": "email"}),
        ),
    )
    .await?;
    Ok(Json(status_of(&state, account).await?))
}

/// The new SendGrid inbound path (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub struct InboundPath {
    pub sendgrid_inbound_path: String,
}

/// Replaces the SendGrid inbound token: the old path stops working at once; the new one
/// is shown in this response only.
#[utoipa::path(post, path = "/api/integrations/email/rotate-inbound-token", tag = "email",
    responses((status = 200, body = InboundPath), (status = 409, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub(super) async fn rotate_inbound_token(
    State(state): State<AppState>,
    crate::auth::Admin(caller): crate::auth::Admin,
) -> Result<Json<InboundPath>> {
    let account = caller.account;
    let i = connected(&state, account).await?;
    let token = random_token();
    sqlx::query(
        "update email_integrations set inbound_token_hash = $2, updated_at = now() where id = $1",
    )
    .bind(i.id)
    .bind(token_hash(&token))
    .execute(&state.pool)
    .await?;
    Ok(Json(InboundPath {
        sendgrid_inbound_path: format!("/webhooks/email/sendgrid/{token}"),
    }))
}

/// Runs a sync now.
#[utoipa::path(post, path = "/api/integrations/email/sync", tag = "email",
    responses((status = 200, body = SyncReport),
        (status = 409, description = "no mailbox is connected, or a sync is already running", body = crate::error::ErrorBody),
        (status = 503, description = "the mailbox could not be synced", body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
pub(super) async fn sync_now(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Result<Json<SyncReport>> {
    let i = connected(&state, account).await?;
    Ok(Json(sync::sync_integration(&state, i.id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognized() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]"));
        assert!(!is_loopback("imap.example.com"));
        assert!(!is_loopback("10.0.0.1"));
    }
}
