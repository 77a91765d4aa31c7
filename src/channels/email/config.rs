//! Email settings read from the environment (a leaf: the configuration reads it without
//! reaching the channel's handlers).

use chrono::Duration;

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
    /// `LEADLINE_ALLOW_PRIVATE_HOSTS`: mail servers may be on the server's own network.
    pub allow_private_hosts: bool,
    /// `LEADLINE_IMAP_BATCH`: messages fetched per IMAP command (default 1000).
    pub imap_batch: usize,
    /// `LEADLINE_MAIL_CA_FILE`: PEM certificates trusted for IMAP/SMTP TLS besides the
    /// public roots (a self-hosted mail server's own CA).
    pub extra_roots_pem: Option<std::sync::Arc<Vec<u8>>>,
    /// `LEADLINE_MAIL_TIMEOUT_SECS` (default 30): bound on each SMTP command and on a
    /// whole connection test of either server.
    pub timeout: std::time::Duration,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            allow_insecure: false,
            allow_private_hosts: false,
            sync_cron: "0 * * * * *".into(),
            autoreply_cooldown: Duration::hours(4),
            mailgun_signing_key: None,
            imap_batch: IMAP_BATCH,
            extra_roots_pem: None,
            timeout: std::time::Duration::from_secs(30),
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
        if let Some(v) = non_empty("LEADLINE_ALLOW_PRIVATE_HOSTS") {
            c.allow_private_hosts = matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes");
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
            if parse_pem_certs(&pem).is_empty() {
                return Err(format!(
                    "LEADLINE_MAIL_CA_FILE {path:?} holds no PEM certificate"
                ));
            }
            c.extra_roots_pem = Some(std::sync::Arc::new(pem));
        }
        if let Some(v) = non_empty("LEADLINE_MAIL_TIMEOUT_SECS") {
            c.timeout = v
                .parse()
                .ok()
                .filter(|n| (1..=300).contains(n))
                .map(std::time::Duration::from_secs)
                .ok_or_else(|| format!("LEADLINE_MAIL_TIMEOUT_SECS {v:?} must be 1 to 300"))?;
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

/// Messages per IMAP fetch unless `LEADLINE_IMAP_BATCH` says otherwise.
pub const IMAP_BATCH: usize = 1000;

/// The certificates of a PEM bundle (unparsable entries skipped).
pub fn parse_pem_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .filter_map(|c| c.ok())
        .collect()
}
