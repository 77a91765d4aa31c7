//! Live chat events across replicas: every event is a PostgreSQL `NOTIFY` on one
//! channel; each server keeps one `LISTEN` connection and hands events to the streams
//! of its own subscribers. Events carry ids only: a stream reads what it sends from the
//! database, so a lost or late notification costs latency, never a message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::{broadcast, watch};

use crate::db::listen::Note;

/// The `NOTIFY` channel of chat events.
pub const CHANNEL: &str = "leadline_chat";

/// What happened in a session (by its database id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Event {
    /// A message was stored in the session.
    Message { s: i64 },
    /// Someone is typing: `author` is visitor, agent or ai.
    Typing {
        s: i64,
        author: String,
        typing: bool,
    },
    /// The roofer closed the session.
    Closed { s: i64 },
    /// The listener reconnected: events may have been lost, so every stream re-reads.
    Resync,
}

impl Event {
    fn session(&self) -> Option<i64> {
        match self {
            Event::Message { s } | Event::Typing { s, .. } | Event::Closed { s } => Some(*s),
            Event::Resync => None,
        }
    }
}

/// Subscribers of this server, by session; plus a shutdown signal that ends every stream.
#[derive(Clone)]
pub struct ChatHub {
    subscribers: Arc<Mutex<HashMap<i64, broadcast::Sender<Event>>>>,
    shutdown: watch::Sender<bool>,
}

impl Default for ChatHub {
    fn default() -> Self {
        Self::new()
    }
}

impl ChatHub {
    pub fn new() -> Self {
        Self {
            subscribers: Arc::default(),
            shutdown: watch::channel(false).0,
        }
    }

    /// Events of one session, from now on.
    pub fn subscribe(&self, session: i64) -> broadcast::Receiver<Event> {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subs.entry(session)
            .or_insert_with(|| broadcast::channel(64).0)
            .subscribe()
    }

    /// Resolves when the server stops (streams end so graceful shutdown can finish).
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }

    fn dispatch(&self, event: Event) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        match event.session() {
            Some(s) => {
                if let Some(tx) = subs.get(&s) {
                    if tx.send(event).is_err() {
                        subs.remove(&s);
                    }
                }
            }
            None => subs.retain(|_, tx| tx.send(event.clone()).is_ok()),
        }
    }

    /// Runs the `LISTEN` connection until the server stops, reconnecting after errors.
    pub async fn listen(self, pool: PgPool) {
        let mut stopping = self.stopping();
        let listening = crate::db::listen::run(&pool, CHANNEL, "chat", |note| match note {
            Note::Payload(p) => match serde_json::from_str::<Event>(p) {
                Ok(ev) => self.dispatch(ev),
                Err(e) => tracing::warn!(error = %e, "chat: unreadable notification"),
            },
            // Anything sent while we were not listening is picked up by a re-read.
            Note::Connected | Note::Lost => self.dispatch(Event::Resync),
        });
        tokio::select! {
            _ = listening => {}
            _ = stopping.changed() => {}
        }
    }
}

/// The `NOTIFY` payload of an event (for a statement that announces it itself).
pub fn payload(event: &Event) -> String {
    serde_json::to_string(event).unwrap_or_default()
}

/// Announces an event to every replica (delivered after the caller's commit).
pub async fn publish<'e, E>(db: E, event: &Event) -> sqlx::Result<()>
where
    E: sqlx::PgExecutor<'e>,
{
    sqlx::query("select pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload(event))
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_as_small_json() {
        let ev = Event::Typing {
            s: 7,
            author: "ai".into(),
            typing: true,
        };
        let text = serde_json::to_string(&ev).unwrap();
        assert_eq!(text, r#"{"k":"typing","s":7,"author":"ai","typing":true}"#);
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), ev);
    }

    #[test]
    fn dispatch_reaches_only_that_session() {
        let hub = ChatHub::new();
        let mut a = hub.subscribe(1);
        let mut b = hub.subscribe(2);
        hub.dispatch(Event::Message { s: 1 });
        assert_eq!(a.try_recv().unwrap(), Event::Message { s: 1 });
        assert!(b.try_recv().is_err());
        hub.dispatch(Event::Resync);
        assert_eq!(a.try_recv().unwrap(), Event::Resync);
        assert_eq!(b.try_recv().unwrap(), Event::Resync);
        drop(a);
        hub.dispatch(Event::Message { s: 1 });
        assert!(!hub.subscribers.lock().unwrap().contains_key(&1));
    }
}
