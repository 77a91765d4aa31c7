//! Sending with lettre over tokio (implicit TLS, STARTTLS, or plain for loopback):
//! building the message (our Message-ID, threading headers, text + HTML alternative,
//! `Auto-Submitted` on automatic replies) and the connection test.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{OutgoingEmail, Security};

/// Where and how to send.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password: String,
    /// PEM certificates trusted besides the public roots.
    pub extra_roots_pem: Option<std::sync::Arc<Vec<u8>>>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

/// Why a send failed, and whether trying again may help.
#[derive(Debug)]
pub struct SendError {
    pub message: String,
    pub permanent: bool,
}

/// An SMTP error in the server's words: `535 5.7.8 Authentication failed`.
pub fn describe(e: &lettre::transport::smtp::Error) -> String {
    use std::error::Error as _;
    match (e.status(), e.source()) {
        (Some(code), Some(src)) => format!("{code} {}", src.to_string().trim()),
        _ => e.to_string(),
    }
}

fn transport(s: &SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = match s.security {
        Security::None => Tls::None,
        Security::Tls | Security::Starttls => {
            let mut b = TlsParameters::builder(s.host.clone());
            if let Some(pem) = &s.extra_roots_pem {
                for der in super::imap::parse_pem_certs(pem) {
                    let cert = Certificate::from_der(der.to_vec())
                        .map_err(|e| format!("LEADLINE_MAIL_CA_FILE: {e}"))?;
                    b = b.add_root_certificate(cert);
                }
            }
            let params = b
                .build_rustls()
                .map_err(|e| format!("TLS setup failed: {e}"))?;
            if s.security == Security::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        }
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.clone())
        .port(s.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(30)));
    if !s.username.is_empty() {
        b = b.credentials(Credentials::new(s.username.clone(), s.password.clone()));
    }
    Ok(b.build())
}

/// Connects (and authenticates when a username is set): the connection test.
pub async fn test(s: &SmtpSettings) -> Result<(), String> {
    let t = transport(s)?;
    match t.test_connection().await {
        Ok(true) => Ok(()),
        Ok(false) => Err("the server did not answer NOOP".into()),
        Err(e) => Err(describe(&e)),
    }
}

fn mailbox(addr: &str, name: Option<&str>) -> Result<Mailbox, String> {
    let a = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an email address"))?;
    Ok(Mailbox::new(name.map(str::to_string), a))
}

fn bracket(id: &str) -> String {
    format!("<{}>", id.trim_matches(|c| c == '<' || c == '>'))
}

/// A new Message-ID on the sender's domain (without brackets).
pub fn new_message_id(from: &str) -> String {
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
        .unwrap_or("leadline.invalid");
    format!("{}@{domain}", uuid::Uuid::new_v4().simple())
}

/// Builds the message; returns it with its Message-ID (without brackets).
pub fn build(from: &str, email: &OutgoingEmail) -> Result<(Message, String), String> {
    let id = email
        .message_id
        .clone()
        .unwrap_or_else(|| new_message_id(from));
    let mut b = Message::builder()
        .from(mailbox(from, None)?)
        .to(mailbox(&email.to, None)?)
        .subject(email.subject.clone())
        .message_id(Some(bracket(&id)))
        .date_now();
    if let Some(parent) = &email.in_reply_to {
        b = b.in_reply_to(bracket(parent));
    }
    if !email.references.is_empty() {
        let refs: Vec<String> = email.references.iter().map(|r| bracket(r)).collect();
        b = b.references(refs.join(" "));
    }
    if email.auto_reply {
        // RFC 3834 §5: mark automatic replies so other responders do not answer them.
        b = b.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-replied".into(),
        ));
    }
    let msg = match &email.body_html {
        Some(html) => b.multipart(MultiPart::alternative_plain_html(
            email.body_text.clone(),
            html.clone(),
        )),
        None => b.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(email.body_text.clone()),
        ),
    }
    .map_err(|e| format!("cannot build the message: {e}"))?;
    Ok((msg, id))
}

/// Sends one message.
pub async fn send(s: &SmtpSettings, msg: Message) -> Result<(), SendError> {
    let t = transport(s).map_err(|message| SendError {
        message,
        permanent: true,
    })?;
    t.send(msg).await.map(|_| ()).map_err(|e| SendError {
        message: describe(&e),
        permanent: e.is_permanent(),
    })
}
