//! Sending with lettre over tokio (implicit TLS, STARTTLS, or plain for loopback):
//! building the message (our Message-ID, threading headers, text + HTML alternative,
//! `Auto-Submitted` on automatic replies) and the connection test.

use std::net::SocketAddr;
use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;

use super::{OutgoingEmail, Security};

/// Where and how to send.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password: String,
    /// Whether the host may be on the server's own network (`LEADLINE_ALLOW_PRIVATE_HOSTS`):
    /// checked again at every connection, not only when the settings were saved.
    pub allow_private: bool,
    /// PEM certificates trusted besides the public roots.
    pub extra_roots_pem: Option<std::sync::Arc<Vec<u8>>>,
    /// Bound on each SMTP command, and on a whole connection test (`LEADLINE_MAIL_TIMEOUT_SECS`).
    pub timeout: Duration,
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
    /// The message data may have reached the server (the connection failed after it was
    /// handed over, before the server's answer): sending again could deliver it twice.
    pub maybe_delivered: bool,
}

/// An SMTP error in the server's words: `535 5.7.8 Authentication failed`.
pub fn describe(e: &lettre::transport::smtp::Error) -> String {
    use std::error::Error as _;
    match (e.status(), e.source()) {
        (Some(code), Some(src)) => format!("{code} {}", src.to_string().trim()),
        _ => e.to_string(),
    }
}

fn tls_parameters(s: &SmtpSettings) -> Result<Option<TlsParameters>, String> {
    if s.security == Security::None {
        return Ok(None);
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = TlsParameters::builder(s.host.clone());
    if let Some(pem) = &s.extra_roots_pem {
        for der in super::config::parse_pem_certs(pem) {
            let cert = Certificate::from_der(der.to_vec())
                .map_err(|e| format!("LEADLINE_MAIL_CA_FILE: {e}"))?;
            b = b.add_root_certificate(cert);
        }
    }
    b.build_rustls()
        .map(Some)
        .map_err(|e| format!("TLS setup failed: {e}"))
}

/// Connects, greets, secures and authenticates: nothing of the message has left yet.
/// `addrs` come from `hosts::resolve`, so the host was checked for this very connection.
async fn open(
    s: &SmtpSettings,
    addrs: &[SocketAddr],
    params: Option<TlsParameters>,
) -> Result<AsyncSmtpConnection, lettre::transport::smtp::Error> {
    let hello = ClientId::default();
    let wrapper = if s.security == Security::Tls {
        params.clone()
    } else {
        None
    };
    let mut conn =
        AsyncSmtpConnection::connect_tokio1(addrs, Some(s.timeout), &hello, wrapper, None).await?;
    if let (Security::Starttls, Some(params)) = (s.security, params) {
        conn.starttls(params, &hello).await?;
    }
    if !s.username.is_empty() {
        let creds = Credentials::new(s.username.clone(), s.password.clone());
        conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)
            .await?;
    }
    Ok(conn)
}

/// Connects (and authenticates when a username is set): the connection test, bounded as
/// a whole by `s.timeout` (a server that accepts the connection and never greets would
/// otherwise hold the caller).
pub async fn test(s: &SmtpSettings) -> Result<(), String> {
    let params = tls_parameters(s)?;
    let attempt = async {
        let addrs = resolve(s).await.map_err(|e| e.message)?;
        let mut conn = open(s, &addrs, params).await.map_err(|e| describe(&e))?;
        let alive = conn.test_connected().await;
        let _ = conn.quit().await;
        if alive {
            Ok(())
        } else {
            Err("the server did not answer NOOP".to_string())
        }
    };
    match tokio::time::timeout(s.timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(timed_out(s)),
    }
}

/// The server's addresses, refused when on the server's own network (`hosts::resolve`).
async fn resolve(s: &SmtpSettings) -> Result<Vec<SocketAddr>, SendError> {
    crate::hosts::resolve(&s.host, s.port, s.allow_private)
        .await
        .map_err(|e| SendError {
            permanent: matches!(e, crate::hosts::Refused::Internal(_)),
            message: e.to_string(),
            maybe_delivered: false,
        })
}

fn timed_out(s: &SmtpSettings) -> String {
    format!(
        "timed out waiting for the SMTP greeting or answer from {}:{} ({} s)",
        s.host,
        s.port,
        s.timeout.as_secs()
    )
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

/// A connection ready for a message: greeted, secured and authenticated.
pub struct Ready {
    conn: AsyncSmtpConnection,
    timeout: Duration,
    server: String,
}

/// Connects, greets, secures and authenticates, bounded as a whole by 2 × `s.timeout`.
/// A failure here means nothing of the message left: it may be retried.
pub async fn connect(s: &SmtpSettings) -> Result<Ready, SendError> {
    let params = tls_parameters(s).map_err(|message| SendError {
        message,
        permanent: true,
        maybe_delivered: false,
    })?;
    let addrs = resolve(s).await?;
    match tokio::time::timeout(s.timeout * 2, open(s, &addrs, params)).await {
        Ok(Ok(conn)) => Ok(Ready {
            conn,
            timeout: s.timeout,
            server: format!("{}:{}", s.host, s.port),
        }),
        Ok(Err(e)) => Err(SendError {
            message: describe(&e),
            permanent: e.is_permanent(),
            maybe_delivered: false,
        }),
        Err(_) => Err(SendError {
            message: timed_out(s),
            permanent: false,
            maybe_delivered: false,
        }),
    }
}

/// Sends the envelope and the data, bounded by 2 × the timeout. A server's answer
/// (4xx/5xx) is explicit; a timeout or a dropped connection may come after the server
/// took the message (RFC 1047), so it is `maybe_delivered`: never resent by itself.
pub async fn transmit(ready: Ready, msg: Message) -> Result<(), SendError> {
    let Ready {
        mut conn,
        timeout,
        server,
    } = ready;
    let attempt = async {
        conn.send(msg.envelope(), &msg.formatted()).await?;
        let _ = conn.quit().await;
        Ok::<_, lettre::transport::smtp::Error>(())
    };
    match tokio::time::timeout(timeout * 2, attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(SendError {
            message: describe(&e),
            permanent: e.is_permanent(),
            maybe_delivered: !e.is_response(),
        }),
        Err(_) => Err(SendError {
            message: format!(
                "no answer from {server} within {} s after the message was sent; it may have been delivered",
                (timeout * 2).as_secs()
            ),
            permanent: false,
            maybe_delivered: true,
        }),
    }
}
