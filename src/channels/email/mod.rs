//! Email: connecting a mailbox (IMAP + SMTP, password sealed with the master key), IMAP
//! sync, sending through the outbox, inbound provider webhooks (Mailgun, SendGrid), the
//! thread inbox, and automatic replies. Every message goes through `parse` and then
//! `communications::record`.

pub mod autoreply;
pub mod imap;
pub mod parse;
pub mod smtp;
pub mod sync;
pub mod webhooks;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::app::AppState;
use crate::auth::{AccountId, AuthAccount};
use crate::communications::{self, LeadRef, NewCommunication};
use crate::crypto::Sealed;
use crate::error::{unique_violation, ApiError, Result};
use crate::extract::{Json, Query};
use crate::leads::Identity;
use crate::outbox::{self, OutboxItem, Outcome};
use crate::phone::normalize_email;
use crate::tracker::model::{Channel, Direction};

use self::imap::ImapSettings;
use self::parse::ParsedEmail;
use self::smtp::SmtpSettings;
use self::sync::SyncReport;

/// Outbox kind of an email send.
pub const OUTBOX_KIND: &str = "email";

/// Email settings read from the environment.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// `LEADLINE_ALLOW_INSECURE_MAIL`: allow `security: "none"` for non-loopback hosts.
    pub allow_insecure: bool,
    /// `LEADLINE_SYNC_CRON` (six fields, with seconds): when every mailbox is synced.
    pub sync_cron: String,
    /// `LEADLINE_AUTOREPLY_COOLDOWN` (seconds, or with an `m`/`h` suffix): at most one
    /// automatic reply per lead in this window.
    pub autoreply_cooldown: Duration,
    /// `MAILGUN_WEBHOOK_SIGNING_KEY`.
    pub mailgun_signing_key: Option<String>,
    /// `LEADLINE_IMAP_BATCH`: messages fetched per IMAP command (default 100).
    pub imap_batch: usize,
    /// `LEADLINE_MAIL_CA_FILE`: PEM certificates trusted for IMAP/SMTP TLS besides the
    /// public roots (a self-hosted mail server's own CA).
    pub extra_roots_pem: Option<std::sync::Arc<Vec<u8>>>,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            allow_insecure: false,
            sync_cron: "0 * * * * *".into(),
            autoreply_cooldown: Duration::hours(4),
            mailgun_signing_key: None,
            imap_batch: sync::BATCH,
            extra_roots_pem: None,
        }
    }
}

impl EmailConfig {
    /// From any key lookup; the error names the bad setting.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> std::result::Result<Self, String> {
        let non_empty = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut c = Self::default();
        if let Some(v) = non_empty("LEADLINE_ALLOW_INSECURE_MAIL") {
            c.allow_insecure = matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = non_empty("LEADLINE_SYNC_CRON") {
            let fields = v.split_whitespace().count();
            c.sync_cron = match fields {
                // A classic five-field expression: run at second 0.
                5 => format!("0 {v}"),
                6 | 7 => v.clone(),
                _ => {
                    return Err(format!(
                        "LEADLINE_SYNC_CRON {v:?} must have 5 to 7 cron fields"
                    ))
                }
            };
            let parsed = tokio_cron_scheduler::Job::new_async(c.sync_cron.as_str(), |_, _| {
                Box::pin(async {})
            });
            if parsed.is_err() {
                return Err(format!("LEADLINE_SYNC_CRON {v:?} is not a cron expression"));
            }
        }
        if let Some(v) = non_empty("LEADLINE_AUTOREPLY_COOLDOWN") {
            c.autoreply_cooldown = parse_duration(&v).ok_or_else(|| {
                format!("LEADLINE_AUTOREPLY_COOLDOWN {v:?} must be seconds, or like 30m or 4h")
            })?;
        }
        c.mailgun_signing_key = non_empty("MAILGUN_WEBHOOK_SIGNING_KEY");
        if let Some(path) = non_empty("LEADLINE_MAIL_CA_FILE") {
            let pem = std::fs::read(&path)
                .map_err(|e| format!("LEADLINE_MAIL_CA_FILE {path:?} cannot be read: {e}"))?;
            if imap::parse_pem_certs(&pem).is_empty() {
                return Err(format!(
                    "LEADLINE_MAIL_CA_FILE {path:?} holds no PEM certificate"
                ));
            }
            c.extra_roots_pem = Some(std::sync::Arc::new(pem));
        }
        if let Some(v) = non_empty("LEADLINE_IMAP_BATCH") {
            c.imap_batch = v
                .parse()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| format!("LEADLINE_IMAP_BATCH {v:?} must be 1 to 10000"))?;
        }
        Ok(c)
    }
}

fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let (num, unit) = match v.char_indices().last()? {
        (i, 's') => (&v[..i], 1),
        (i, 'm') => (&v[..i], 60),
        (i, 'h') => (&v[..i], 3600),
        _ => (v, 1),
    };
    let n: i64 = num.trim().parse().ok()?;
    (n >= 0).then(|| Duration::seconds(n * unit))
}

/// Transport security of a mail server connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Implicit TLS (IMAPS 993, SMTPS 465).
    Tls,
    /// Plain connection upgraded with STARTTLS (143, 587).
    Starttls,
    /// No encryption: loopback hosts only, unless `LEADLINE_ALLOW_INSECURE_MAIL=true`.
    None,
}

impl Security {
    fn as_str(self) -> &'static str {
        match self {
            Self::Tls => "tls",
            Self::Starttls => "starttls",
            Self::None => "none",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "tls" => Self::Tls,
            "starttls" => Self::Starttls,
            _ => Self::None,
        }
    }
}

pub(crate) const INTEGRATION_COLUMNS: &str = "id, account_id, email, username, encrypted_password, password_nonce, key_id, \
     imap_host, imap_port, imap_security, smtp_host, smtp_port, smtp_security, folders, backfill_days, auto_respond, \
     is_active, last_sync, last_error, consecutive_failures, next_sync_at, messages_synced, inbound_token";

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
    pub messages_synced: i64,
    pub inbound_token: Option<String>,
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
        })
    }
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

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(connect))
        .routes(routes!(status))
        .routes(routes!(test_settings))
        .routes(routes!(disconnect))
        .routes(routes!(sync_now))
        .routes(routes!(inbox))
        .routes(routes!(send_email))
        .merge(
            // Forwarded mail carries its attachments: a larger limit than the API's.
            OpenApiRouter::new()
                .routes(routes!(webhooks::mailgun))
                .routes(routes!(webhooks::sendgrid))
                .layer(axum::extract::DefaultBodyLimit::max(
                    webhooks::MAX_BODY_BYTES,
                )),
        )
}

// ---------------------------------------------------------------------------
// Connecting

/// Mailbox settings: `POST /api/integrations/email/connect` and `/test`.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectEmail {
    pub email: String,
    /// Login name; the email address when absent.
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
    pub folders: Option<Vec<String>>,
    #[serde(default)]
    pub auto_respond: bool,
    /// How far back the first sync reaches (days, default 30).
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
        if let Some(d) = self.backfill_days {
            if !(0..=3650).contains(&d) {
                return Err(ApiError::invalid("backfill_days must be 0 to 3650"));
            }
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

fn scrub(msg: String, password: &str) -> String {
    if password.len() >= 3 {
        msg.replace(password, "***")
    } else {
        msg
    }
}

async fn run_test(imap: &ImapSettings, smtp: &SmtpSettings) -> TestReport {
    let (i, s) = tokio::join!(imap::test(imap), smtp::test(smtp));
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
    pub folders: Vec<FolderStatus>,
    pub last_sync: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: i32,
    pub messages_synced: i64,
    /// When the cron will next sync this mailbox (after a backoff, or the next tick).
    pub next_sync: Option<DateTime<Utc>>,
    /// Path of the SendGrid Inbound Parse webhook; only in the response to `connect`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sendgrid_inbound_path: Option<String>,
}

async fn status_of(state: &AppState, account: AccountId) -> Result<EmailStatus> {
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
            folders: vec![],
            last_sync: None,
            last_error: None,
            consecutive_failures: 0,
            messages_synced: 0,
            next_sync: None,
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
        folders,
        last_sync: i.last_sync,
        last_error: i.last_error.clone(),
        consecutive_failures: i.consecutive_failures,
        messages_synced: i.messages_synced,
        next_sync,
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
async fn connect(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Json(body): Json<ConnectEmail>,
) -> Result<Json<EmailStatus>> {
    body.validate(&state.config.email)?;
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
    let sealed = state.secrets.seal(&body.password);
    let token = random_token();
    let mut tx = state.pool.begin().await?;
    // One mailbox per account: connecting again replaces the settings.
    let existing: Option<(i64, String)> = sqlx::query_as(
        "select id, lower(email) from email_integrations where account_id = $1 order by is_active desc, id limit 1 for update",
    )
    .bind(account)
    .fetch_optional(&mut *tx)
    .await?;
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
                     inbound_token = $16, updated_at = now()
                 where id = $1 returning id",
            )
            .bind(id)
        }
        None => sqlx::query_scalar(
            "insert into email_integrations (account_id, email, username, encrypted_password, password_nonce, key_id,
                 imap_host, imap_port, imap_security, smtp_host, smtp_port, smtp_security, folders, backfill_days,
                 auto_respond, inbound_token)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) returning id",
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
    .bind(&token)
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
    Ok(Json(status))
}

fn random_token() -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect()
}

/// The account's email integration and sync state.
#[utoipa::path(get, path = "/api/integrations/email/status", tag = "email",
    responses((status = 200, body = EmailStatus)), security(("api_key" = [])))]
async fn status(
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
async fn test_settings(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    body: axum::body::Bytes,
) -> Result<Json<TestReport>> {
    let (imap, smtp) = if body.iter().all(u8::is_ascii_whitespace) {
        let i = integration(&state, account)
            .await?
            .filter(|i| i.is_active)
            .ok_or(ApiError::NotFound("email integration"))?;
        let imap = i.imap_settings(&state).map_err(ApiError::invalid)?;
        let smtp = i.smtp_settings(&state).map_err(ApiError::invalid)?;
        (imap, smtp)
    } else {
        let c: ConnectEmail = serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest("invalid_json", format!("invalid JSON body: {e}")))?;
        c.validate(&state.config.email)?;
        (c.imap(&state.config.email), c.smtp(&state.config.email))
    };
    Ok(Json(run_test(&imap, &smtp).await))
}

/// Stops syncing and erases the stored password; synced communications stay.
#[utoipa::path(delete, path = "/api/integrations/email/disconnect", tag = "email",
    responses((status = 200, body = EmailStatus), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn disconnect(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Result<Json<EmailStatus>> {
    let done = sqlx::query(
        "update email_integrations set is_active = false, encrypted_password = null, password_nonce = null,
             key_id = null, inbound_token = null, sync_lease_until = null, updated_at = now()
         where account_id = $1 and is_active",
    )
    .bind(account)
    .execute(&state.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("email integration"));
    }
    Ok(Json(status_of(&state, account).await?))
}

/// The account's active mailbox; 409 `email_not_connected` when there is none (as for SMS:
/// the request is fine, the account is not in a state to serve it).
async fn connected(state: &AppState, account: AccountId) -> Result<EmailIntegration> {
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

/// Runs a sync now.
#[utoipa::path(post, path = "/api/integrations/email/sync", tag = "email",
    responses((status = 200, body = SyncReport),
        (status = 409, description = "no mailbox is connected, or a sync is already running", body = crate::error::ErrorBody),
        (status = 503, description = "the mailbox could not be synced", body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn sync_now(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Result<Json<SyncReport>> {
    let i = connected(&state, account).await?;
    Ok(Json(sync::sync_integration(&state, i.id).await?))
}

// ---------------------------------------------------------------------------
// Inbox

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxParams {
    /// 1 to 100 threads (default 25).
    pub limit: Option<i64>,
    /// Threads to skip.
    pub offset: Option<i64>,
}

/// One email thread.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Thread {
    pub thread_key: String,
    pub subject: Option<String>,
    pub lead_id: i64,
    pub lead_name: Option<String>,
    pub lead_email: Option<String>,
    pub last_message_at: DateTime<Utc>,
    pub last_direction: String,
    pub last_snippet: Option<String>,
    pub last_communication_id: i64,
    pub count: i64,
    /// Inbound messages after the last outbound one.
    pub unread_inbound: i64,
}

/// A page of threads.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxPage {
    pub threads: Vec<Thread>,
    pub limit: i64,
    pub offset: i64,
    pub has_more: bool,
}

/// Recent email communications grouped by thread, newest thread first.
#[utoipa::path(get, path = "/api/integrations/email/inbox", tag = "email", params(InboxParams),
    responses((status = 200, body = InboxPage)), security(("api_key" = [])))]
async fn inbox(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Query(p): Query<InboxParams>,
) -> Result<Json<InboxPage>> {
    let limit = p.limit.unwrap_or(25);
    let offset = p.offset.unwrap_or(0);
    if !(1..=100).contains(&limit) || offset < 0 {
        return Err(ApiError::invalid(
            "limit must be 1 to 100 and offset at least 0",
        ));
    }
    let mut threads = sqlx::query_as::<_, Thread>(
        "with c as (
            select id, lead_id, direction, \"timestamp\", subject, content,
                   coalesce(thread_key, provider_message_id, 'comm-' || id) as tk
            from communications where account_id = $1 and type = 'email'),
         t as (
            select tk, count(*) as count, max(\"timestamp\") as last_at,
                   max(\"timestamp\") filter (where direction = 'outbound') as last_out
            from c group by tk)
         select t.tk as thread_key,
                (select c2.subject from c c2 where c2.tk = t.tk order by c2.\"timestamp\", c2.id limit 1) as subject,
                l.lead_id, ld.name as lead_name, ld.email as lead_email,
                t.last_at as last_message_at, l.direction as last_direction,
                left(l.content, 200) as last_snippet, l.id as last_communication_id, t.count,
                (select count(*) from c c3 where c3.tk = t.tk and c3.direction = 'inbound'
                    and (t.last_out is null or c3.\"timestamp\" > t.last_out)) as unread_inbound
         from t
         join lateral (select * from c where c.tk = t.tk order by \"timestamp\" desc, id desc limit 1) l on true
         join leads ld on ld.id = l.lead_id and ld.account_id = $1
         order by t.last_at desc, t.tk
         limit $2 offset $3",
    )
    .bind(account)
    .bind(limit + 1)
    .bind(offset)
    .fetch_all(&state.pool)
    .await?;
    let has_more = threads.len() as i64 > limit;
    threads.truncate(limit as usize);
    Ok(Json(InboxPage {
        threads,
        limit,
        offset,
        has_more,
    }))
}

// ---------------------------------------------------------------------------
// Sending

/// What the outbox sends (its payload).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    /// Parent Message-ID (without brackets).
    pub in_reply_to: Option<String>,
    /// Oldest first.
    #[serde(default)]
    pub references: Vec<String>,
    pub thread_key: Option<String>,
    pub lead_id: Option<i64>,
    #[serde(default)]
    pub ai_generated: bool,
    /// An automatic reply: carries `Auto-Submitted: auto-replied`.
    #[serde(default)]
    pub auto_reply: bool,
    /// Fixed when queued, so the recorded row and the sent message agree.
    pub message_id: Option<String>,
    /// The AI responder's provider metadata, for AI replies.
    pub ai: Option<Value>,
}

/// `Re: subject`, without stacking prefixes.
pub fn reply_subject(subject: Option<&str>) -> String {
    let s = subject.unwrap_or("").trim();
    if s.to_ascii_lowercase().starts_with("re:") {
        s.to_string()
    } else if s.is_empty() {
        "Re: your message".into()
    } else {
        format!("Re: {s}")
    }
}

/// Queues an email; returns the outbox id.
pub async fn queue<'c, E>(
    exec: E,
    integration: &EmailIntegration,
    mut email: OutgoingEmail,
    idempotency_key: Option<&str>,
) -> Result<i64>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    if email.message_id.is_none() {
        email.message_id = Some(smtp::new_message_id(&integration.email));
    }
    if email.thread_key.is_none() {
        email.thread_key = email
            .references
            .first()
            .cloned()
            .or_else(|| email.in_reply_to.clone())
            .or_else(|| email.message_id.clone());
    }
    let payload = serde_json::to_value(&email).map_err(anyhow::Error::from)?;
    outbox::enqueue(
        exec,
        integration.account_id,
        OUTBOX_KIND,
        &payload,
        idempotency_key,
        None,
    )
    .await
}

/// Body of `POST /api/integrations/email/send`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendEmail {
    /// The recipient; or give `lead_id`.
    pub to: Option<String>,
    pub lead_id: Option<i64>,
    /// Defaults to `Re: <parent subject>` when replying.
    pub subject: Option<String>,
    pub body_text: String,
    pub body_html: Option<String>,
    /// Reply in this communication's thread (In-Reply-To / References set).
    pub in_reply_to_communication_id: Option<i64>,
}

/// Accepted for sending.
#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    pub outbox_id: i64,
    pub message_id: String,
}

/// Queues an email through the outbox; 202 with the outbox id. Recorded as an outbound
/// email communication once the SMTP server accepts it.
#[utoipa::path(post, path = "/api/integrations/email/send", tag = "email", request_body = SendEmail,
    responses((status = 202, body = Queued), (status = 409, description = "no mailbox is connected", body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn send_email(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Json(body): Json<SendEmail>,
) -> Result<(StatusCode, Json<Queued>)> {
    let i = connected(&state, account).await?;
    if body.body_text.trim().is_empty() || body.body_text.len() > 200_000 {
        return Err(ApiError::invalid(
            "body_text must be 1 to 200000 characters",
        ));
    }
    if body.body_html.as_ref().is_some_and(|h| h.len() > 500_000) {
        return Err(ApiError::invalid(
            "body_html is longer than 500000 characters",
        ));
    }
    let parent = match body.in_reply_to_communication_id {
        Some(id) => Some(
            sqlx::query_as::<_, (i64, Option<String>, Option<String>, Option<String>, Value, Option<String>, String)>(
                "select lead_id, provider_message_id, thread_key, subject, metadata, from_address, direction
                 from communications where id = $1 and account_id = $2 and type = 'email'",
            )
            .bind(id)
            .bind(account)
            .fetch_optional(&state.pool)
            .await?
            .ok_or(ApiError::NotFound("communication"))?,
        ),
        None => None,
    };
    let lead_id = body.lead_id.or(parent.as_ref().map(|p| p.0));
    let to = match (&body.to, lead_id) {
        (Some(to), _) => {
            normalize_email(to).ok_or_else(|| ApiError::invalid("to is not an email address"))?
        }
        (None, Some(lead)) => {
            let email: Option<Option<String>> =
                sqlx::query_scalar("select email from leads where id = $1 and account_id = $2")
                    .bind(lead)
                    .bind(account)
                    .fetch_optional(&state.pool)
                    .await?;
            email
                .ok_or(ApiError::NotFound("lead"))?
                .ok_or_else(|| ApiError::invalid("the lead has no email address"))?
        }
        (None, None) => return Err(ApiError::invalid("give to or lead_id")),
    };
    if let (Some(lead), Some(_)) = (body.lead_id, &body.to) {
        let exists: bool = sqlx::query_scalar(
            "select exists(select 1 from leads where id = $1 and account_id = $2)",
        )
        .bind(lead)
        .bind(account)
        .fetch_one(&state.pool)
        .await?;
        if !exists {
            return Err(ApiError::NotFound("lead"));
        }
    }
    let (in_reply_to, references, thread_key, parent_subject) = match &parent {
        Some((_, pmid, tk, subject, meta, _, _)) => {
            let mut refs: Vec<String> = meta["email"]["references"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let parent_id = meta["email"]["message_id"]
                .as_str()
                .map(str::to_string)
                .or(pmid.clone());
            if let Some(p) = &parent_id {
                refs.push(p.clone());
            }
            (parent_id, refs, tk.clone(), subject.clone())
        }
        None => (None, vec![], None, None),
    };
    let subject = match body
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => s.to_string(),
        None if parent.is_some() => reply_subject(parent_subject.as_deref()),
        None => return Err(ApiError::invalid("subject is required")),
    };
    if subject.chars().count() > 998 || subject.contains(['\r', '\n']) {
        return Err(ApiError::invalid(
            "subject must be one line of at most 998 characters",
        ));
    }
    let email = OutgoingEmail {
        to,
        subject,
        body_text: body.body_text,
        body_html: body.body_html,
        in_reply_to,
        references,
        thread_key,
        lead_id,
        ai_generated: false,
        auto_reply: false,
        message_id: Some(smtp::new_message_id(&i.email)),
        ai: None,
    };
    let message_id = email.message_id.clone().unwrap_or_default();
    let outbox_id = queue(&state.pool, &i, email, None).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Queued {
            outbox_id,
            message_id,
        }),
    ))
}

/// Sends one claimed email outbox item, then records it as an outbound communication.
pub async fn deliver(state: &AppState, item: &OutboxItem) -> Outcome {
    let email: OutgoingEmail = match serde_json::from_value(item.payload.clone()) {
        Ok(e) => e,
        Err(e) => {
            return Outcome::Failed {
                error: format!("unreadable email payload: {e}"),
            }
        }
    };
    let i = match integration(state, item.account_id).await {
        Ok(Some(i)) if i.is_active => i,
        Ok(_) => {
            return Outcome::Failed {
                error: "email is not connected".into(),
            }
        }
        Err(e) => {
            return Outcome::Retry {
                error: e.to_string(),
                after: None,
            }
        }
    };
    let settings = match i.smtp_settings(state) {
        Ok(s) => s,
        Err(e) => return Outcome::Failed { error: e },
    };
    let (msg, message_id) = match smtp::build(&i.email, &email) {
        Ok(m) => m,
        Err(e) => return Outcome::Failed { error: e },
    };
    if let Err(e) = smtp::send(&settings, msg).await {
        let error = scrub(e.message, &settings.password);
        return if e.permanent {
            Outcome::Failed { error }
        } else {
            Outcome::Retry { error, after: None }
        };
    }
    let lead = match email.lead_id {
        Some(id) => LeadRef::Id(id),
        None => LeadRef::Identity(Identity::default()),
    };
    let mut new = NewCommunication::new(lead, Channel::Email, Direction::Outbound);
    new.from_address = Some(i.email.clone());
    new.to_address = Some(email.to.clone());
    new.subject = Some(email.subject.clone());
    new.content = Some(email.body_text.clone());
    new.status = Some("sent".into());
    new.provider = Some("smtp".into());
    new.provider_message_id = Some(message_id.clone());
    new.thread_key = email.thread_key.clone();
    new.ai_generated = email.ai_generated;
    new.metadata = json!({
        "email": {"message_id": message_id, "in_reply_to": email.in_reply_to, "references": email.references,
                  "to": [email.to], "body_html": email.body_html, "auto_submitted": email.auto_reply.then_some("auto-replied")},
        "outbox_id": item.id,
    });
    if let Some(ai) = &email.ai {
        new.metadata["ai"] = ai.clone();
    }
    match communications::record(state, item.account_id, new).await {
        Ok(r) => Outcome::Sent {
            communication_id: Some(r.communication.id),
        },
        Err(e) => {
            // Sent already: never retry (that would send twice); the row is missing.
            tracing::error!(item = item.id, error = %e, "email sent but not recorded");
            Outcome::Sent {
                communication_id: None,
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Ingest (IMAP and webhooks)

/// Stores one parsed email through the recording path (attachments stored once by
/// SHA-256) and, for a new inbound message, considers an automatic reply. Returns
/// whether a new communication was stored (false: a duplicate).
#[allow(clippy::too_many_arguments)]
pub async fn ingest(
    state: &AppState,
    integration: &EmailIntegration,
    mut parsed: ParsedEmail,
    direction: Direction,
    provider: &str,
    fallback_id: String,
    extra: Value,
    may_auto_reply: bool,
) -> Result<bool> {
    parsed.clamp();
    for a in &parsed.attachments {
        sqlx::query(
            "insert into attachments (sha256, content_type, size, content) values ($1, $2, $3, $4)
             on conflict (sha256) do nothing",
        )
        .bind(&a.sha256)
        .bind(&a.content_type)
        .bind(a.size as i64)
        .bind(&a.data)
        .execute(&state.pool)
        .await?;
    }
    let ours = integration.email.clone();
    let (from, to) = match direction {
        Direction::Inbound => (
            Some(parsed.from.clone().unwrap_or_else(|| UNKNOWN_SENDER.into())),
            parsed.to.first().cloned().or(Some(ours)),
        ),
        Direction::Outbound => (
            parsed.from.clone().or(Some(ours)),
            Some(
                parsed
                    .to
                    .first()
                    .or(parsed.cc.first())
                    .cloned()
                    .unwrap_or_else(|| UNKNOWN_SENDER.into()),
            ),
        ),
    };
    let who = Identity {
        name: match direction {
            Direction::Inbound => parsed.from_name.clone(),
            Direction::Outbound => None,
        },
        ..Identity::default()
    };
    let mut new = NewCommunication::new(LeadRef::Identity(who), Channel::Email, direction);
    new.timestamp = parsed.date.map(|d| d.min(Utc::now()));
    new.from_address = from;
    new.to_address = to;
    new.subject = parsed.subject.clone();
    new.content = Some(parsed.content.clone())
        .filter(|c| !c.is_empty())
        .or(Some(parsed.text.clone()));
    new.attachments = Value::Array(
        parsed
            .attachments
            .iter()
            .map(parse::Attachment::meta)
            .collect(),
    );
    new.metadata = parsed.metadata(extra);
    new.provider = Some(provider.to_string());
    new.provider_message_id = Some(parsed.message_id.clone().unwrap_or(fallback_id));
    new.thread_key = parsed.thread_key();
    if !parsed.parse_errors.is_empty() {
        new.tags = vec!["parse_error".into()];
    }
    let recorded = communications::record(state, integration.account_id, new).await?;
    if !recorded.duplicate && direction == Direction::Inbound && may_auto_reply {
        if let Err(e) =
            autoreply::maybe_reply(state, integration, &parsed, &recorded.communication).await
        {
            tracing::warn!(communication = recorded.communication.id, error = %e, "automatic reply not queued");
        }
    }
    Ok(!recorded.duplicate)
}

/// The sender recorded for a message whose From could not be read.
pub const UNKNOWN_SENDER: &str = "unknown-sender@unknown.invalid";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_cron_and_cooldown() {
        let vars = |k: &str| match k {
            "LEADLINE_SYNC_CRON" => Some("*/5 * * * *".to_string()),
            "LEADLINE_AUTOREPLY_COOLDOWN" => Some("30m".to_string()),
            "LEADLINE_ALLOW_INSECURE_MAIL" => Some("true".to_string()),
            _ => None,
        };
        let c = EmailConfig::from_lookup(&vars).unwrap();
        assert_eq!(c.sync_cron, "0 */5 * * * *");
        assert_eq!(c.autoreply_cooldown, Duration::minutes(30));
        assert!(c.allow_insecure);
        let bad = |k: &str| (k == "LEADLINE_AUTOREPLY_COOLDOWN").then(|| "soon".to_string());
        assert!(EmailConfig::from_lookup(&bad).is_err());
        let bad = |k: &str| (k == "LEADLINE_SYNC_CRON").then(|| "* * * * 99".to_string());
        assert!(EmailConfig::from_lookup(&bad).is_err());
    }

    #[test]
    fn loopback_hosts_are_recognized() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]"));
        assert!(!is_loopback("imap.example.com"));
        assert!(!is_loopback("10.0.0.1"));
    }

    #[test]
    fn reply_subjects_do_not_stack() {
        assert_eq!(reply_subject(Some("Quote")), "Re: Quote");
        assert_eq!(reply_subject(Some("RE: Quote")), "RE: Quote");
    }
}
