//! One `LISTEN` loop for every part of the server that hears PostgreSQL notifications
//! (chat events, outgoing-webhook wake-ups, Telnyx number changes): it reconnects after
//! errors with a backoff, and says when it (re)connected or lost the connection, because
//! whatever was notified meanwhile was missed.

use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;

/// What a `LISTEN` connection reports to its listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note<'a> {
    /// Listening (again): anything notified before now was missed.
    Connected,
    /// A notification's payload.
    Payload(&'a str),
    /// The connection failed; notifications are missed until the next `Connected`.
    Lost,
}

/// Listens on `channel` until the future is dropped; `what` names the listener in logs.
pub async fn run(pool: &PgPool, channel: &str, what: &str, mut on: impl FnMut(Note<'_>)) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let connected = async {
            let mut l = PgListener::connect_with(pool).await?;
            l.listen(channel).await?;
            Ok::<_, sqlx::Error>(l)
        };
        let mut listener = match connected.await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "{what}: cannot LISTEN; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        backoff = Duration::from_millis(200);
        on(Note::Connected);
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => on(Note::Payload(n.payload())),
                // The connection dropped: a fresh one (and a `Connected`) next.
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "{what}: LISTEN connection failed");
                    break;
                }
            }
        }
        on(Note::Lost);
    }
}
