//! IMAP sync: per integration and folder, UIDVALIDITY and the highest UID stored; new
//! messages streamed from the server, parsed on a thread of their own and recorded many at
//! once (idempotent on Message-ID, or a digest of its content without one) or, when one
//! cannot be stored, quarantined; the watermark is saved only below every message not yet
//! committed. A crash only re-fetches messages that `record()` dedupes: nothing lost,
//! nothing doubled.
//! Integrations are claimed with a lease taken under `FOR UPDATE SKIP LOCKED`, so several
//! servers never sync one mailbox at once; failures back off and show in `status`.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::domain::Direction;
use crate::error::{ApiError, Result};
use crate::state::AppState;

use crate::quarantine::Source;

use super::imap::{self, ImapSession};
use super::ingest::{Ingested, Received};
use super::integration::{EmailIntegration, INTEGRATION_COLUMNS};
use super::parse;

/// Messages fetched per IMAP command, by default.
pub const BATCH: usize = super::config::IMAP_BATCH;
/// How long a claim holds without being renewed: the holder renews it every third of
/// that while it works, so a crashed holder's mailbox is free again within this time.
pub const LEASE_SECONDS: f64 = 30.0;

/// What one sync did.
#[derive(Debug, Default, Clone, Copy, Serialize, ToSchema, PartialEq, Eq)]
pub struct SyncReport {
    /// Messages downloaded from the server.
    pub fetched: u64,
    /// Newly stored communications.
    pub stored: u64,
    /// Messages that were already stored.
    pub duplicates: u64,
    /// Messages that could not be stored, kept in the quarantine with the reason.
    pub quarantined: u64,
}

/// Whether a folder holds what the roofer sent.
pub fn is_sent_folder(folder: &str) -> bool {
    let f = folder.to_ascii_lowercase();
    let leaf = f.rsplit(['/', '.']).next().unwrap_or(&f);
    matches!(
        leaf,
        "sent" | "sent items" | "sent mail" | "sent messages" | "gesendet" | "envoyés"
    )
}

fn prefixed(alias: &str) -> String {
    INTEGRATION_COLUMNS
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Takes the sync lease of one integration; `None` when another sync holds it.
pub async fn claim(state: &AppState, integration_id: i64) -> Result<Option<EmailIntegration>> {
    Ok(sqlx::query_as::<_, EmailIntegration>(&format!(
        "with c as (
            select id from email_integrations
            where id = $1 and is_active and (sync_lease_until is null or sync_lease_until < now())
            for update skip locked)
         update email_integrations e set sync_lease_until = now() + make_interval(secs => $2)
         from c where e.id = c.id
         returning {}",
        prefixed("e")
    ))
    .bind(integration_id)
    .bind(LEASE_SECONDS)
    .fetch_optional(&state.pool)
    .await?)
}

/// Claims one due integration (any account) not synced since `since`.
async fn claim_due(state: &AppState, since: DateTime<Utc>) -> Result<Option<EmailIntegration>> {
    Ok(sqlx::query_as::<_, EmailIntegration>(&format!(
        "with c as (
            select id from email_integrations
            where is_active and encrypted_password is not null
              and (next_sync_at is null or next_sync_at <= now())
              and (sync_lease_until is null or sync_lease_until < now())
              and (last_sync is null or last_sync < $2)
            order by next_sync_at nulls first, id
            for update skip locked limit 1)
         update email_integrations e set sync_lease_until = now() + make_interval(secs => $1)
         from c where e.id = c.id
         returning {}",
        prefixed("e")
    ))
    .bind(LEASE_SECONDS)
    .bind(since)
    .fetch_optional(&state.pool)
    .await?)
}

/// Seconds until the next try after `failures` consecutive failures: 1, 2, 4 … 60 minutes.
pub fn backoff(failures: i32) -> Duration {
    Duration::minutes(2i64.pow(failures.clamp(1, 7) as u32 - 1).min(60))
}

async fn release(
    state: &AppState,
    id: i64,
    outcome: &std::result::Result<SyncReport, String>,
) -> Result<()> {
    match outcome {
        Ok(r) => {
            sqlx::query(
                "update email_integrations set sync_lease_until = null, last_sync = now(), last_error = null,
                     last_error_at = null, consecutive_failures = 0, next_sync_at = null,
                     messages_fetched = messages_fetched + $2, updated_at = now()
                 where id = $1",
            )
            .bind(id)
            .bind(r.fetched as i64)
            .execute(&state.pool)
            .await?;
        }
        Err(e) => {
            let failures: i32 = sqlx::query_scalar(
                "select consecutive_failures + 1 from email_integrations where id = $1",
            )
            .bind(id)
            .fetch_optional(&state.pool)
            .await?
            .unwrap_or(1);
            sqlx::query(
                "update email_integrations set sync_lease_until = null, last_error = $2, last_error_at = now(),
                     consecutive_failures = $3, next_sync_at = now() + make_interval(secs => $4), updated_at = now()
                 where id = $1",
            )
            .bind(id)
            .bind(e)
            .bind(failures)
            .bind(backoff(failures).num_seconds() as f64)
            .execute(&state.pool)
            .await?;
        }
    }
    Ok(())
}

/// Syncs one integration now (the `sync` endpoint). 409 when another sync holds it; a
/// mailbox failure is recorded (backoff, `last_error`) and returned as 503.
pub async fn sync_integration(state: &AppState, integration_id: i64) -> Result<SyncReport> {
    let Some(integration) = claim(state, integration_id).await? else {
        return Err(ApiError::Conflict(
            "sync_in_progress",
            "a sync of this mailbox is already running".into(),
        ));
    };
    run_claimed(state, &integration).await
}

/// Keeps a claim alive while its sync works (never returns).
async fn renew_lease(state: &AppState, id: i64) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs_f64(LEASE_SECONDS / 3.0));
    tick.tick().await;
    loop {
        tick.tick().await;
        let renewed = sqlx::query(
            "update email_integrations set sync_lease_until = now() + make_interval(secs => $2)
             where id = $1 and sync_lease_until is not null",
        )
        .bind(id)
        .bind(LEASE_SECONDS)
        .execute(&state.pool)
        .await;
        if let Err(e) = renewed {
            tracing::warn!(integration = id, error = %e, "sync lease not renewed");
        }
    }
}

async fn run_claimed(state: &AppState, integration: &EmailIntegration) -> Result<SyncReport> {
    let outcome = tokio::select! {
        o = sync_folders(state, integration) => o,
        () = renew_lease(state, integration.id) => unreachable!("the lease renewer never ends"),
    };
    let reported = match &outcome {
        Ok(r) => Ok(*r),
        Err(SyncError::Mailbox(e)) => Err(e.clone()),
        Err(SyncError::Store(e)) => Err(format!("storing messages failed: {e}")),
    };
    release(state, integration.id, &reported).await?;
    match outcome {
        Ok(r) => Ok(r),
        Err(SyncError::Mailbox(e)) => {
            Err(ApiError::Unavailable(format!("mailbox sync failed: {e}")))
        }
        Err(SyncError::Store(e)) => Err(e),
    }
}

/// Syncs every due integration once; returns how many were synced.
pub async fn sync_due_once(state: &AppState) -> Result<usize> {
    // Each integration once per pass: a success clears `next_sync_at`, so without this
    // bound the loop would take the same mailbox again.
    let started: DateTime<Utc> = sqlx::query_scalar("select now()")
        .fetch_one(&state.pool)
        .await?;
    // Mailboxes sync side by side, so one tenant's slow server never holds the others'.
    let mut running = tokio::task::JoinSet::new();
    let mut n = 0;
    loop {
        while running.len() < PARALLEL_SYNCS {
            let Some(integration) = claim_due(state, started).await? else {
                break;
            };
            n += 1;
            let state = state.clone();
            running.spawn(async move {
                if let Err(e) = run_claimed(&state, &integration).await {
                    tracing::warn!(integration = integration.id, error = %e, "email sync failed");
                }
            });
        }
        if running.join_next().await.is_none() {
            break;
        }
    }
    Ok(n)
}

/// Mailboxes a replica syncs at once.
const PARALLEL_SYNCS: usize = 8;

enum SyncError {
    Mailbox(String),
    Store(ApiError),
}

impl From<ApiError> for SyncError {
    fn from(e: ApiError) -> Self {
        Self::Store(e)
    }
}

impl From<sqlx::Error> for SyncError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

async fn sync_folders(
    state: &AppState,
    i: &EmailIntegration,
) -> std::result::Result<SyncReport, SyncError> {
    let settings = i.imap_settings(state).map_err(SyncError::Mailbox)?;
    let mut session = imap::connect(&settings).await.map_err(SyncError::Mailbox)?;
    let mut total = SyncReport::default();
    for folder in &i.folders {
        let r = sync_folder(state, i, &mut session, folder).await?;
        total.fetched += r.fetched;
        total.stored += r.stored;
        total.duplicates += r.duplicates;
        total.quarantined += r.quarantined;
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), session.logout()).await;
    Ok(total)
}

fn imap_date(d: DateTime<Utc>) -> String {
    d.format("%d-%b-%Y").to_string()
}

async fn sync_folder(
    state: &AppState,
    i: &EmailIntegration,
    session: &mut ImapSession,
    folder: &str,
) -> std::result::Result<SyncReport, SyncError> {
    let mailbox = match tokio::time::timeout(imap::COMMAND_TIMEOUT, session.examine(folder)).await {
        Ok(Ok(m)) => m,
        // A folder the mailbox does not have (e.g. no "Sent" yet) is skipped, not fatal.
        Ok(Err(async_imap::error::Error::No(e))) => {
            tracing::info!(integration = i.id, folder, error = %e, "folder not synced");
            return Ok(SyncReport::default());
        }
        Ok(Err(e)) => {
            return Err(SyncError::Mailbox(format!(
                "SELECT {folder}: {}",
                imap::describe(&e)
            )))
        }
        Err(_) => return Err(SyncError::Mailbox(format!("SELECT {folder}: timed out"))),
    };
    let uidvalidity = mailbox.uid_validity.unwrap_or(0) as i64;
    let stored: Option<(Option<i64>, i64)> = sqlx::query_as(
        "select uidvalidity, last_uid from imap_sync_state where integration_id = $1 and folder = $2",
    )
    .bind(i.id)
    .bind(folder)
    .fetch_optional(&state.pool)
    .await?;
    let first_sync = stored.is_none();
    let last_uid = match stored {
        Some((Some(v), last)) if v == uidvalidity => last,
        // UIDVALIDITY changed: rescan; record() dedupes by Message-ID.
        _ => 0,
    };
    sqlx::query(
        "insert into imap_sync_state (integration_id, folder, uidvalidity, last_uid)
         values ($1, $2, $3, $4)
         on conflict (integration_id, folder) do update set uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid",
    )
    .bind(i.id)
    .bind(folder)
    .bind(uidvalidity)
    .bind(last_uid)
    .execute(&state.pool)
    .await?;
    let mut report = SyncReport::default();
    let scan = first_sync || last_uid == 0;
    let nothing_new = mailbox.exists == 0
        || mailbox
            .uid_next
            .is_some_and(|next| i64::from(next) <= last_uid + 1);
    if !nothing_new {
        let query = if scan {
            let since = Utc::now() - Duration::days(i64::from(i.backfill_days.max(0)));
            format!("SINCE {}", imap_date(since))
        } else {
            format!("UID {}:*", last_uid + 1)
        };
        let found = imap::timed("UID SEARCH", session.uid_search(&query))
            .await
            .map_err(SyncError::Mailbox)?;
        let mut uids: Vec<u32> = found
            .into_iter()
            .filter(|u| i64::from(*u) > last_uid)
            .collect();
        uids.sort_unstable();
        let direction = if is_sent_folder(folder) {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        let prepare = Preparer {
            email: i.email.clone(),
            // Old mail is never auto-answered: not from before the mailbox was (last)
            // connected (however a first sync was interrupted; senders' clocks may be
            // minutes off), nor older than a day.
            connected: i.connected_at - Duration::minutes(5),
            folder: folder.to_string(),
            uidvalidity,
            direction,
            may_auto_reply: !first_sync,
        };
        let batch = state.config.email.imap_batch.max(1);
        // Three stages: this task reads the server (one command per `batch` messages, each
        // message handed on as it arrives), a thread parses, and this task records many
        // messages at once (see `record_all`). Bounded channels between them.
        let (raw_tx, raw_rx) = tokio::sync::mpsc::channel::<Step<imap::Fetched>>(PIPE_DEPTH);
        let (ready_tx, ready_rx) = tokio::sync::mpsc::channel::<Step<Prepared>>(PIPE_DEPTH);
        tokio::task::spawn_blocking(move || parse_stage(raw_rx, ready_tx, &prepare));
        let producer = async move {
            for chunk in uids.chunks(batch) {
                match imap::fetch_each(session, chunk, &raw_tx, Step::Message).await {
                    Ok(imap::FetchEnd::Complete) => {
                        let last = chunk.last().copied().unwrap_or(0);
                        if raw_tx.send(Step::Through(last)).await.is_err() {
                            break;
                        }
                    }
                    Ok(imap::FetchEnd::Abandoned) => break,
                    Err(e) => {
                        let _ = raw_tx.send(Step::Failed(e)).await;
                        break;
                    }
                }
            }
        };
        let consumer = record_all(state, i, folder, ready_rx, &mut report);
        tokio::pin!(producer, consumer);
        // The recorder ends first only on a failure: then the fetching stops too.
        let recorded = tokio::select! {
            r = &mut consumer => r,
            () = &mut producer => consumer.await,
        };
        // The parsing thread ends once both its channels are closed (with this block).
        recorded?;
    }
    // After a (backfill) scan, what lies before the window counts as seen too.
    let seen = if scan {
        mailbox.uid_next.map_or(0, |n| i64::from(n) - 1)
    } else {
        0
    };
    sqlx::query(
        "update imap_sync_state set last_sync = now(), last_uid = greatest(last_uid, $3)
         where integration_id = $1 and folder = $2",
    )
    .bind(i.id)
    .bind(folder)
    .bind(seen)
    .execute(&state.pool)
    .await?;
    Ok(report)
}

/// Messages of different leads being recorded at once (one lead's stay in order): enough
/// for the writer to fill its batches while the previous batch commits.
const RECORD_CONCURRENCY: usize = 128;
/// Messages received by the recording stage and not recorded yet, at most (in flight and
/// waiting behind an earlier message of their lead) …
const MAX_PENDING: usize = 512;
/// … and their bytes at most (one larger message is still taken when nothing is pending).
const MAX_PENDING_BYTES: usize = 64 << 20;
/// Messages queued between two stages.
const PIPE_DEPTH: usize = 64;
/// Recorded messages between two saves of the watermark (also saved at the end of
/// every fetch command and of the folder).
const SAVE_EVERY: usize = 1000;

/// What flows from one stage to the next, in the server's order.
enum Step<T> {
    Message(T),
    /// The fetch command for UIDs up to this one has ended: each message it returned
    /// came before.
    Through(u32),
    /// Fetching failed: what came before is recorded, then the sync stops with this.
    Failed(String),
    /// Every message was handed on.
    End,
}

/// What a fetched message needs to become ready to record.
struct Preparer {
    email: String,
    connected: DateTime<Utc>,
    folder: String,
    uidvalidity: i64,
    direction: Direction,
    may_auto_reply: bool,
}

/// One fetched message, parsed and ready to record.
struct Prepared {
    uid: u32,
    /// Whose messages are recorded in order: the lead's address.
    key: String,
    /// `Err`: the parser failed on it (it is quarantined with the reason).
    parsed: std::result::Result<parse::ParsedEmail, String>,
    raw: Vec<u8>,
    direction: Direction,
    /// Where it is: folder, UID, UIDVALIDITY.
    imap: serde_json::Value,
    may_auto_reply: bool,
}

impl Preparer {
    fn prepare(&self, f: imap::Fetched) -> Prepared {
        let parsed =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse::parse(&f.raw)))
                .map_err(|_| {
                    "the message could not be parsed (the parser failed on it)".to_string()
                });
        let Ok(mut parsed) = parsed else {
            return Prepared {
                uid: f.uid,
                key: String::new(),
                parsed,
                imap: self.imap(f.uid),
                raw: f.raw,
                direction: self.direction,
                may_auto_reply: false,
            };
        };
        parsed.received = f.internal_date;
        let own = parsed
            .from
            .as_deref()
            .is_some_and(|from| from.eq_ignore_ascii_case(&self.email));
        let direction = if own {
            Direction::Outbound
        } else {
            self.direction
        };
        let recent = parsed
            .date
            .or(parsed.received)
            .is_some_and(|d| Utc::now() - d < Duration::days(1) && d >= self.connected);
        let key = match direction {
            Direction::Inbound => parsed.from.clone(),
            Direction::Outbound => parsed.to.first().cloned(),
        }
        .unwrap_or_default();
        Prepared {
            uid: f.uid,
            key,
            parsed: Ok(parsed),
            imap: self.imap(f.uid),
            raw: f.raw,
            direction,
            may_auto_reply: self.may_auto_reply && recent,
        }
    }

    fn imap(&self, uid: u32) -> serde_json::Value {
        json!({"folder": self.folder, "uid": uid, "uidvalidity": self.uidvalidity})
    }
}

/// The parsing stage (a blocking thread): parses each message in order, passes the rest on.
fn parse_stage(
    mut rx: tokio::sync::mpsc::Receiver<Step<imap::Fetched>>,
    tx: tokio::sync::mpsc::Sender<Step<Prepared>>,
    prepare: &Preparer,
) {
    while let Some(step) = rx.blocking_recv() {
        let step = match step {
            Step::Message(f) => Step::Message(prepare.prepare(f)),
            Step::Through(uid) => Step::Through(uid),
            Step::Failed(e) => Step::Failed(e),
            Step::End => Step::End,
        };
        if tx.blocking_send(step).is_err() {
            return;
        }
    }
    let _ = tx.blocking_send(Step::End);
}

/// Stores one prepared message, or quarantines it.
async fn record_one(state: &AppState, i: &EmailIntegration, p: Prepared) -> Result<Ingested> {
    let imap = p.imap;
    let received = Received {
        source: Source::Imap,
        raw: &p.raw,
        context: json!({"imap": imap, "received": p.parsed.as_ref().ok().and_then(|m| m.received)}),
    };
    match p.parsed {
        Ok(parsed) => {
            super::ingest::ingest_or_quarantine(
                state,
                i,
                parsed,
                p.direction,
                json!({"imap": imap}),
                p.may_auto_reply,
                received,
            )
            .await
        }
        Err(reason) => {
            let mut received = received;
            received.context["direction"] = json!(p.direction.as_str());
            super::ingest::quarantine(state, i, reason, None, None, received).await
        }
    }
}

/// The recording stage: records up to `RECORD_CONCURRENCY` messages of different leads at
/// once (so the writer batches them), one lead's in the server's order, and saves the
/// folder's watermark as it goes, never past a message not yet stored or quarantined.
/// A message that cannot be stored is quarantined and the sync goes on; only a transient
/// failure stops it, before the watermark passes that message.
async fn record_all(
    state: &AppState,
    i: &EmailIntegration,
    folder: &str,
    mut rx: tokio::sync::mpsc::Receiver<Step<Prepared>>,
    report: &mut SyncReport,
) -> std::result::Result<(), SyncError> {
    use futures_util::stream::{FuturesUnordered, StreamExt};
    use std::collections::{HashMap, VecDeque};

    let mut mark = super::watermark::Watermark::default();
    let mut saved = 0u32;
    let mut since_save = 0usize;
    // Per lead key: the messages waiting behind the one being recorded.
    let mut lanes: HashMap<String, VecDeque<Prepared>> = HashMap::new();
    let mut in_flight = FuturesUnordered::new();
    let (mut pending, mut pending_bytes) = (0usize, 0usize);
    let mut input_open = true;
    let mut failed: Option<String> = None;
    let mut stopped: Option<ApiError> = None;
    let start = |p: Prepared| {
        let (uid, key, size) = (p.uid, p.key.clone(), p.raw.len());
        async move { (uid, key, size, record_one(state, i, p).await) }
    };
    loop {
        let room = pending < MAX_PENDING
            && (pending == 0 || pending_bytes < MAX_PENDING_BYTES)
            && in_flight.len() < RECORD_CONCURRENCY;
        let mut save = false;
        tokio::select! {
            step = rx.recv(), if input_open && room => match step {
                Some(Step::Message(p)) => {
                    report.fetched += 1;
                    mark.started(p.uid);
                    pending += 1;
                    pending_bytes += p.raw.len();
                    match lanes.get_mut(&p.key) {
                        Some(waiting) => waiting.push_back(p),
                        None => {
                            lanes.insert(p.key.clone(), VecDeque::new());
                            in_flight.push(start(p));
                        }
                    }
                }
                Some(Step::Through(uid)) => {
                    mark.fetched_through(uid);
                    save = true;
                }
                Some(Step::Failed(e)) => {
                    failed = Some(e);
                    input_open = false;
                }
                Some(Step::End) => input_open = false,
                None => {
                    failed = Some("parsing stopped before the end".into());
                    input_open = false;
                }
            },
            Some((uid, key, size, outcome)) = in_flight.next() => {
                match outcome {
                    Ok(Ingested::Stored) => report.stored += 1,
                    Ok(Ingested::Duplicate) => report.duplicates += 1,
                    Ok(Ingested::Quarantined) => report.quarantined += 1,
                    // Transient: this message stays unrecorded; what is in flight finishes
                    // and the watermark is saved below it, then the sync stops.
                    Err(e) => {
                        stopped.get_or_insert(e);
                        input_open = false;
                        continue;
                    }
                }
                mark.finished(uid);
                pending -= 1;
                pending_bytes -= size;
                since_save += 1;
                save = since_save >= SAVE_EVERY;
                // The next message of this lead, if one waits.
                match lanes.get_mut(&key).and_then(VecDeque::pop_front) {
                    Some(next) if stopped.is_none() => in_flight.push(start(next)),
                    _ => {
                        lanes.remove(&key);
                    }
                }
            },
            else => break,
        }
        if save && mark.safe() > saved {
            saved = mark.safe();
            since_save = 0;
            save_watermark(state, i.id, folder, saved).await?;
        }
    }
    if mark.safe() > saved {
        save_watermark(state, i.id, folder, mark.safe()).await?;
    }
    if let Some(e) = stopped {
        return Err(SyncError::Store(e));
    }
    match failed {
        Some(e) => Err(SyncError::Mailbox(e)),
        None => Ok(()),
    }
}

/// Saves that every message of the folder up to `uid` is stored or quarantined.
async fn save_watermark(
    state: &AppState,
    integration: i64,
    folder: &str,
    uid: u32,
) -> std::result::Result<(), SyncError> {
    sqlx::query(
        "update imap_sync_state set last_uid = greatest(last_uid, $3), last_sync = now()
         where integration_id = $1 and folder = $2",
    )
    .bind(integration)
    .bind(folder)
    .bind(i64::from(uid))
    .execute(&state.pool)
    .await?;
    Ok(())
}

/// Starts the cron job that syncs every due integration on `LEADLINE_SYNC_CRON`.
pub fn spawn_cron(state: AppState) {
    let cron = state.config.email.sync_cron.clone();
    tokio::spawn(async move {
        let run = async {
            let sched = tokio_cron_scheduler::JobScheduler::new().await?;
            let job = tokio_cron_scheduler::Job::new_async(cron.as_str(), move |_, _| {
                let state = state.clone();
                Box::pin(async move {
                    if let Err(e) = sync_due_once(&state).await {
                        tracing::warn!(error = %e, "scheduled email sync failed");
                    }
                })
            })?;
            sched.add(job).await?;
            sched.start().await?;
            Ok::<_, tokio_cron_scheduler::JobSchedulerError>(sched)
        };
        match run.await {
            Ok(sched) => {
                // The scheduler runs while this task holds it.
                std::future::pending::<()>().await;
                drop(sched);
            }
            Err(e) => tracing::error!(error = %e, "the email sync scheduler did not start"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_folders_are_recognized() {
        assert!(is_sent_folder("Sent"));
        assert!(is_sent_folder("INBOX.Sent"));
        assert!(is_sent_folder("[Gmail]/Sent Mail"));
        assert!(!is_sent_folder("INBOX"));
        assert!(!is_sent_folder("Consent"));
    }

    #[test]
    fn the_default_cron_expression_is_accepted() {
        let job = tokio_cron_scheduler::Job::new_async(
            crate::channels::email::config::EmailConfig::default()
                .sync_cron
                .as_str(),
            |_, _| Box::pin(async {}),
        );
        assert!(job.is_ok());
    }

    #[test]
    fn failures_back_off_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::minutes(1));
        assert_eq!(backoff(3), Duration::minutes(4));
        assert_eq!(backoff(20), Duration::minutes(60));
    }
}
