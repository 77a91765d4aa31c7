//! Structured logs with `tracing`; `RUST_LOG` chooses what is shown.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (once). `LEADLINE_LOG_FORMAT=json` switches to JSON lines.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if std::env::var("LEADLINE_LOG_FORMAT").is_ok_and(|v| v == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Paths whose last segment is a secret (the SendGrid inbound token).
const SECRET_PATHS: &[&str] = &["/webhooks/email/sendgrid/"];

/// The request path as logged: a secret segment becomes `{redacted}`.
pub fn redacted_path(path: &str) -> std::borrow::Cow<'_, str> {
    match SECRET_PATHS.iter().find(|p| path.starts_with(**p)) {
        Some(prefix) => format!("{prefix}{{redacted}}").into(),
        None => path.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_paths_are_redacted() {
        assert_eq!(
            redacted_path("/webhooks/email/sendgrid/MMSorpg6abcdefghijklmnop"),
            "/webhooks/email/sendgrid/{redacted}"
        );
        assert_eq!(redacted_path("/api/leads/7"), "/api/leads/7");
    }
}
