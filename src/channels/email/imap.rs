//! IMAP connections over tokio: implicit TLS, STARTTLS (rustls with the ring provider and
//! the webpki roots) or plain TCP, login, and fetching messages by UID.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::{Client, Session};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::Security;

/// How long connecting, the greeting and login may take (Dovecot delays a failed login ~2 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one command may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Where and how to reach a mailbox.
#[derive(Clone)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password: String,
    /// Whether the host may be on the server's own network (`LEADLINE_ALLOW_PRIVATE_HOSTS`):
    /// checked again at every connection, not only when the settings were saved.
    pub allow_private: bool,
    /// PEM certificates trusted besides the public roots.
    pub extra_roots_pem: Option<Arc<Vec<u8>>>,
}

impl std::fmt::Debug for ImapSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A TCP stream, with or without TLS.
pub enum MailStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl std::fmt::Debug for MailStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Plain(_) => "MailStream::Plain",
            Self::Tls(_) => "MailStream::Tls",
        })
    }
}

impl AsyncRead for MailStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MailStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A logged-in IMAP session.
pub type ImapSession = Session<MailStream>;

/// The TLS client configuration (ring provider, webpki roots plus `extra` PEM roots).
pub fn tls_config(extra: Option<&[u8]>) -> Arc<rustls::ClientConfig> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = extra {
        roots.add_parsable_certificates(super::config::parse_pem_certs(pem));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .unwrap_or_else(|_| {
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        });
    Arc::new(config)
}

async fn wrap_tls(tcp: TcpStream, host: &str, extra: Option<&[u8]>) -> Result<MailStream, String> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| format!("{host:?} is not a valid TLS server name"))?;
    let tls = tokio_rustls::TlsConnector::from(tls_config(extra))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake failed: {e}"))?;
    Ok(MailStream::Tls(Box::new(tls)))
}

async fn greeting(client: &mut Client<MailStream>) -> Result<(), String> {
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err("the server closed the connection before its greeting".into()),
        Err(e) => Err(format!("reading the server greeting failed: {e}")),
    }
}

/// An IMAP error in the server's own words (never containing the password).
pub fn describe(e: &async_imap::error::Error) -> String {
    use async_imap::error::Error;
    match e {
        Error::No(s) | Error::Bad(s) => server_words(s),
        other => other.to_string(),
    }
}

/// async-imap formats NO/BAD as `code: …, info: Some("…")`: keep the server's text.
fn server_words(s: &str) -> String {
    let Some((start, marker)) = ["info: Some(\"", "information: Some(\""]
        .iter()
        .find_map(|m| s.find(m).map(|i| (i, *m)))
    else {
        return s.trim().to_string();
    };
    let inner = &s[start + marker.len()..];
    let inner = inner
        .trim_end_matches([')', ' ', '}'])
        .trim_end_matches('"');
    inner
        .replace("\\\"", "\"")
        .replace("\\\\", "\\")
        .trim()
        .to_string()
}

async fn open(s: &ImapSettings) -> Result<ImapSession, String> {
    let addrs = crate::hosts::resolve(&s.host, s.port, s.allow_private)
        .await
        .map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect(&addrs[..])
        .await
        .map_err(|e| format!("cannot connect to {}:{}: {e}", s.host, s.port))?;
    let _ = tcp.set_nodelay(true);
    let client = match s.security {
        Security::Tls => {
            let mut c = Client::new(
                wrap_tls(
                    tcp,
                    &s.host,
                    s.extra_roots_pem.as_deref().map(Vec::as_slice),
                )
                .await?,
            );
            greeting(&mut c).await?;
            c
        }
        Security::None => {
            let mut c = Client::new(MailStream::Plain(tcp));
            greeting(&mut c).await?;
            c
        }
        Security::Starttls => {
            let mut c = Client::new(MailStream::Plain(tcp));
            greeting(&mut c).await?;
            c.run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| format!("STARTTLS refused: {}", describe(&e)))?;
            let MailStream::Plain(tcp) = c.into_inner() else {
                return Err("STARTTLS on a TLS stream".into());
            };
            // No second greeting after STARTTLS (RFC 3501 §6.2.1).
            Client::new(
                wrap_tls(
                    tcp,
                    &s.host,
                    s.extra_roots_pem.as_deref().map(Vec::as_slice),
                )
                .await?,
            )
        }
    };
    client
        .login(&s.username, &s.password)
        .await
        .map_err(|(e, _)| describe(&e))
}

/// Connects and logs in, bounded by `CONNECT_TIMEOUT`.
pub async fn connect(s: &ImapSettings) -> Result<ImapSession, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, open(s)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "timed out after {}s connecting to {}:{}",
            CONNECT_TIMEOUT.as_secs(),
            s.host,
            s.port
        )),
    }
}

/// Connects, logs in and out: the connection test.
pub async fn test(s: &ImapSettings) -> Result<(), String> {
    let mut session = connect(s).await?;
    let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
    Ok(())
}

/// One fetched message.
#[derive(Debug)]
pub struct Fetched {
    pub uid: u32,
    pub raw: Vec<u8>,
    pub internal_date: Option<chrono::DateTime<chrono::Utc>>,
}

/// Runs `f` under `COMMAND_TIMEOUT`.
pub async fn timed<T>(
    what: &str,
    f: impl std::future::Future<Output = async_imap::error::Result<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(COMMAND_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {}", describe(&e))),
        Err(_) => Err(format!("{what}: timed out")),
    }
}

/// How a streamed fetch ended.
#[derive(Debug, PartialEq, Eq)]
pub enum FetchEnd {
    /// The server answered the whole command.
    Complete,
    /// The receiver went away: the rest was not read.
    Abandoned,
}

/// Fetches the messages with these UIDs (full source, not marking them seen) in one
/// command and sends each to `tx` as soon as it has arrived, so the caller works on the
/// first while the server sends the next. Every wait on the server is bounded: the next
/// message within `COMMAND_TIMEOUT`, and all the waits of the command within
/// `COMMAND_TIMEOUT` per 100 messages (time spent waiting on `tx` does not count).
/// `uids` are sorted.
pub async fn fetch_each<T>(
    session: &mut ImapSession,
    uids: &[u32],
    tx: &tokio::sync::mpsc::Sender<T>,
    wrap: impl Fn(Fetched) -> T,
) -> Result<FetchEnd, String> {
    use futures_util::StreamExt;
    if uids.is_empty() {
        return Ok(FetchEnd::Complete);
    }
    let budget = COMMAND_TIMEOUT * u32::try_from(uids.len().div_ceil(100)).unwrap_or(u32::MAX);
    let mut waited = Duration::ZERO;
    let mut seen = std::collections::HashSet::with_capacity(uids.len());
    let started = tokio::time::Instant::now();
    let mut stream = timed(
        "UID FETCH",
        session.uid_fetch(uid_set(uids), "(UID INTERNALDATE BODY.PEEK[])"),
    )
    .await?;
    waited += started.elapsed();
    loop {
        let left = budget.saturating_sub(waited).min(COMMAND_TIMEOUT);
        let t = tokio::time::Instant::now();
        let next = tokio::select! {
            () = tx.closed() => return Ok(FetchEnd::Abandoned),
            n = tokio::time::timeout(left, stream.next()) => n,
        };
        waited += t.elapsed();
        let item = match next {
            Err(_) => return Err("UID FETCH: timed out".into()),
            Ok(None) => return Ok(FetchEnd::Complete),
            Ok(Some(Err(e))) => return Err(format!("UID FETCH: {}", describe(&e))),
            Ok(Some(Ok(f))) => f,
        };
        // A response without the message (a flag change another client made) or for a
        // message not asked for, or a second one for a message, is not an answer.
        let (Some(uid), Some(body)) = (item.uid, item.body()) else {
            continue;
        };
        if uids.binary_search(&uid).is_err() || !seen.insert(uid) {
            continue;
        }
        let fetched = Fetched {
            uid,
            raw: body.to_vec(),
            internal_date: item.internal_date().map(|d| d.with_timezone(&chrono::Utc)),
        };
        drop(item);
        if tx.send(wrap(fetched)).await.is_err() {
            return Ok(FetchEnd::Abandoned);
        }
    }
}

/// `1:3,7,9:10` for sorted UIDs.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = vec![];
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::uid_set;

    #[test]
    fn server_words_are_unwrapped() {
        assert_eq!(
            super::server_words(
                r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#
            ),
            "[AUTHENTICATIONFAILED] Authentication failed."
        );
        assert_eq!(
            super::server_words(
                r#"outcome: Outcome { code: None, information: Some("Mailbox doesn't exist: Sent") }"#
            ),
            "Mailbox doesn't exist: Sent"
        );
        assert_eq!(super::server_words("plain"), "plain");
    }

    #[test]
    fn uid_sets_collapse_runs() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[3, 1, 2, 2]), "1:3");
    }
}
