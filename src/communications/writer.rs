//! The recording path's writer: what `record()` has validated is queued here and written
//! in batches. Each shard is one task that takes everything queued to it, reads the
//! snapshots of all their leads in one statement, computes each lead's score and insights,
//! then inserts all the communications and updates all their leads in one statement (and
//! creates the new leads with their first communications in one more).
//!
//! Why: a communication costs a read and a write whatever the batch size; per statement
//! and per commit costs are paid once per batch instead of once per request, so under load
//! the database does several times less work per communication. At low load a batch is one
//! job and nothing waits.
//!
//! Jobs are sharded by their lead key, so the jobs of one lead run one after the other in
//! one task: each sees the touches of those before it, and the insights stored on the lead
//! are computed from every touch (no lost update between concurrent writers of a lead).
//! A batch holds each lead at most once; a second job of the same lead waits for the next
//! round. When the batch statement fails (a repeated provider id, an email another lead
//! took), nothing of it was written, and its jobs are written one by one, so each gets its
//! own answer.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::model::{find_by_provider_id, Communication, NewCommunication, Recorded, COMM_COLUMNS};
use crate::domain::LeadProfile;
use crate::domain::{AccountId, Direction, Identity};
use crate::error::{refused_for_concurrency, unique_violation, ApiError, Result};
use crate::hours::Zone;
use crate::leads::store::{self, LeadKey, LeadSnapshot, StoredInsights, REFRESH_WINDOW};
use crate::tracker;
use crate::tracker::model::{LeadFacts, Touch};

/// The most jobs one batch statement carries.
const MAX_BATCH: usize = 64;
/// Jobs queued per shard before `record()` waits (back-pressure).
const QUEUE: usize = 1024;
/// Times a job is re-read after its lead's identity changed under it.
const MAX_ATTEMPTS: u8 = 3;

/// One validated communication, ready to be written.
pub(super) struct Work {
    pub account: AccountId,
    /// The lead by id, or else by `who`'s email / phone.
    pub lead_id: Option<i64>,
    pub who: Identity,
    pub new: NewCommunication,
    pub at: DateTime<Utc>,
    pub sentiment: Option<tracker::sentiment::Sentiment>,
    /// The touch this communication adds to its lead's history.
    pub touch: Touch,
}

/// Work waiting in a queue, with where its outcome goes.
struct Job {
    work: Work,
    /// `work.key_hash()`, computed once.
    key: u64,
    attempts: u8,
    reply: oneshot::Sender<Result<Recorded>>,
}

impl Work {
    fn key(&self) -> LeadKey<'_> {
        match self.lead_id {
            Some(id) => LeadKey::Id(id),
            None => LeadKey::Contact {
                email: self.who.email.as_deref(),
                phone: self.who.phone.as_deref(),
            },
        }
    }

    /// A hash of the lead key: jobs with the same key always land on the same shard.
    fn key_hash(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (
            self.account,
            self.lead_id,
            self.who.email.as_deref(),
            self.who.phone.as_deref(),
        )
            .hash(&mut h);
        h.finish()
    }
}

impl Job {
    fn answer(self, outcome: Result<Recorded>) {
        // The caller may have gone away (client disconnected): nothing to tell then.
        let _ = self.reply.send(outcome);
    }
}

/// The writer's queues; started on first use (inside the runtime that serves requests).
#[derive(Clone)]
pub struct Recorder {
    /// Shards (writer tasks): `LEADLINE_RECORD_WRITERS`.
    writers: usize,
    shards: Arc<OnceLock<Vec<mpsc::Sender<Job>>>>,
    batched: Arc<AtomicU64>,
}

impl Recorder {
    pub fn new(writers: usize) -> Self {
        Self {
            writers: writers.max(1),
            shards: Default::default(),
            batched: Default::default(),
        }
    }

    /// Communications written so far by statements that carried more than one.
    pub fn batched(&self) -> u64 {
        self.batched.load(Ordering::Relaxed)
    }

    /// Queues the job on its shard and waits until it is committed (or refused).
    pub(super) async fn submit(&self, pool: &PgPool, work: Work) -> Result<Recorded> {
        let shards = self.shards.get_or_init(|| {
            (0..self.writers)
                .map(|_| {
                    let (tx, rx) = mpsc::channel(QUEUE);
                    tokio::spawn(run_shard(pool.clone(), rx, self.batched.clone()));
                    tx
                })
                .collect()
        });
        let key = work.key_hash();
        let shard = &shards[(key % shards.len() as u64) as usize];
        let (reply, rx) = oneshot::channel();
        let job = Job {
            work,
            key,
            attempts: 0,
            reply,
        };
        shard
            .send(job)
            .await
            .map_err(|_| anyhow::anyhow!("the recording writer has stopped"))?;
        rx.await
            .map_err(|_| anyhow::anyhow!("the recording writer dropped a job"))?
    }
}

/// One shard: takes what is queued (up to `MAX_BATCH`) and writes it, until the queue closes.
async fn run_shard(pool: PgPool, mut rx: mpsc::Receiver<Job>, batched: Arc<AtomicU64>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Its own task: a panic fails this batch's callers (their replies drop), not the shard.
        let (pool, batched) = (pool.clone(), batched.clone());
        let _ = tokio::spawn(async move { write_all(&pool, batch, &batched).await }).await;
    }
}

/// Writes the jobs in rounds until each has its answer.
async fn write_all(pool: &PgPool, mut pending: Vec<Job>, batched: &AtomicU64) {
    while !pending.is_empty() {
        // One job per key per round: the next job of a key must see this one's touch
        // (a hash collision only defers a job a round).
        let mut keys = HashSet::new();
        let (round, later): (Vec<Job>, Vec<Job>) =
            pending.into_iter().partition(|job| keys.insert(job.key));
        let mut retry = write_round(pool, round, batched).await;
        retry.extend(later);
        pending = retry;
    }
}

/// A job that is ready to write: its lead exists (or is to be created) and its insights
/// are computed.
struct Ready {
    job: Job,
    /// The existing lead; `None`: the job creates its lead.
    lead_id: Option<i64>,
    /// The id taken for the lead this job creates, when new leads are written in a batch.
    new_id: Option<i64>,
    stored: StoredInsights,
}

/// The time zones of the accounts that get a new lead in this round (one query, only
/// when there is one), so a new lead's contact hours are read on its account's clock.
async fn zones_of_new_leads(
    pool: &PgPool,
    jobs: &[Job],
    snaps: &[Option<LeadSnapshot>],
) -> std::result::Result<HashMap<AccountId, Zone>, sqlx::Error> {
    let accounts: Vec<AccountId> = jobs
        .iter()
        .zip(snaps)
        .filter(|(j, s)| s.is_none() && j.work.lead_id.is_none())
        .map(|(j, _)| j.work.account)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if accounts.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(AccountId, String)> =
        sqlx::query_as("select id, timezone from accounts where id = any($1)")
            .bind(&accounts)
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(a, tz)| (a, Zone::parse(&tz).unwrap_or_default()))
        .collect())
}

/// One round: reads every job's lead, writes those of existing leads in one statement and
/// creates the new leads (with their first communications) in another. Returns the jobs
/// to run again.
async fn write_round(pool: &PgPool, jobs: Vec<Job>, batched: &AtomicU64) -> Vec<Job> {
    let keys: Vec<(AccountId, LeadKey<'_>)> = jobs
        .iter()
        .map(|j| (j.work.account, j.work.key()))
        .collect();
    let snaps = match store::snapshots(pool, &keys, REFRESH_WINDOW - 1).await {
        Ok(snaps) => snaps,
        Err(e) => {
            tracing::error!(error = %e, jobs = jobs.len(), "recording: reading the leads failed");
            for job in jobs {
                job.answer(Err(ApiError::database(&e)));
            }
            return vec![];
        }
    };
    drop(keys);
    let zones = match zones_of_new_leads(pool, &jobs, &snaps).await {
        Ok(z) => z,
        Err(e) => {
            tracing::error!(error = %e, jobs = jobs.len(), "recording: reading account time zones failed");
            for job in jobs {
                job.answer(Err(ApiError::database(&e)));
            }
            return vec![];
        }
    };
    let now = Utc::now();
    let mut retry = vec![];
    let mut existing = vec![];
    let mut creating = vec![];
    let mut leads_in_round = HashSet::new();
    for (job, snap) in jobs.into_iter().zip(snaps) {
        let outbound = job.work.new.direction == Direction::Outbound;
        match snap {
            None if job.work.lead_id.is_some() => job.answer(Err(ApiError::NotFound("lead"))),
            None => {
                let mut facts = LeadFacts {
                    profile: LeadProfile {
                        name: job.work.who.name.clone(),
                        email: job.work.who.email.clone().map(String::from),
                        phone: job.work.who.phone.clone().map(String::from),
                        property_address: job.work.who.property_address.clone(),
                        ..LeadProfile::default()
                    },
                    ..LeadFacts::default()
                };
                let zone = zones.get(&job.work.account).copied().unwrap_or_default();
                let stored = store::compute(
                    &mut facts,
                    std::slice::from_ref(&job.work.touch),
                    zone,
                    now,
                    outbound,
                );
                creating.push(Ready {
                    job,
                    lead_id: None,
                    new_id: None,
                    stored,
                });
            }
            // Two keys (an email, a phone) of one lead: the second waits for the next round.
            Some(snap) if !leads_in_round.insert(snap.lead_id) => retry.push(job),
            Some(mut snap) => {
                snap.touches.push(job.work.touch.clone());
                let stored =
                    store::compute(&mut snap.facts, &snap.touches, snap.zone, now, outbound);
                existing.push(Ready {
                    job,
                    lead_id: Some(snap.lead_id),
                    new_id: None,
                    stored,
                });
            }
        }
    }
    if existing.len() > 1 {
        match write_existing(pool, &existing).await {
            Ok(rows) => {
                let mut rows = by_lead(rows, batched);
                for ready in existing {
                    let row = ready.lead_id.and_then(|id| rows.remove(&id));
                    let outcome = match row {
                        Some(communication) => {
                            Ok(recorded(&ready.job, ready.stored, communication))
                        }
                        None => {
                            Err(anyhow::anyhow!("a batched communication was not stored").into())
                        }
                    };
                    ready.job.answer(outcome);
                }
            }
            // Nothing of the batch was written: one by one, each gets its own outcome.
            Err(e) => {
                tracing::debug!(error = %e, jobs = existing.len(), "recording: batch refused, writing one by one");
                creating.splice(0..0, existing);
            }
        }
    } else {
        creating.splice(0..0, existing);
    }
    let (new_leads, mut one_by_one): (Vec<Ready>, Vec<Ready>) =
        creating.into_iter().partition(|r| r.lead_id.is_none());
    if new_leads.len() > 1 {
        match write_new_leads(pool, new_leads, batched).await {
            Ok(again) => retry.extend(again),
            Err(refused) => one_by_one.extend(refused),
        }
    } else {
        one_by_one.extend(new_leads);
    }
    for ready in one_by_one {
        if let Some(job) = write_one(pool, ready).await {
            retry.push(job);
        }
    }
    retry
}

/// Creates the leads of `batch` (each job a new lead) with their first communications in
/// one statement, and answers the jobs; returns those to read again (a lead whose email
/// or phone another lead took meanwhile, or took first in this batch). When the statement
/// is refused nothing was written: the jobs come back to be written one by one.
async fn write_new_leads(
    pool: &PgPool,
    mut batch: Vec<Ready>,
    batched: &AtomicU64,
) -> std::result::Result<Vec<Job>, Vec<Ready>> {
    // The ids first, so each job knows its row.
    let ids: std::result::Result<Vec<i64>, sqlx::Error> = sqlx::query_scalar(
        "select nextval(pg_get_serial_sequence('leads', 'id')) from generate_series(1, $1)",
    )
    .bind(batch.len() as i64)
    .fetch_all(pool)
    .await;
    match ids {
        Ok(ids) if ids.len() == batch.len() => {
            for (ready, id) in batch.iter_mut().zip(ids) {
                ready.new_id = Some(id);
            }
        }
        _ => return Err(batch),
    }
    let rows = match bind_rows(sqlx::query_as(WRITE_NEW_LEADS.as_str()), &batch)
        .fetch_all(pool)
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            tracing::debug!(error = %e, jobs = batch.len(), "recording: new-lead batch refused, writing one by one");
            for ready in &mut batch {
                ready.new_id = None;
            }
            return Err(batch);
        }
    };
    let mut rows = by_lead(rows, batched);
    let mut again = vec![];
    for ready in batch {
        match ready.new_id.and_then(|id| rows.remove(&id)) {
            Some(communication) => {
                let outcome = recorded(&ready.job, ready.stored, communication);
                ready.job.answer(Ok(outcome));
            }
            None => again.extend(retry(ready.job)),
        }
    }
    Ok(again)
}

/// A multi-row statement's rows by lead (it holds each lead once), counted as batched.
fn by_lead(rows: Vec<Communication>, batched: &AtomicU64) -> HashMap<i64, Communication> {
    batched.fetch_add(rows.len() as u64, Ordering::Relaxed);
    rows.into_iter().map(|c| (c.lead_id, c)).collect()
}

/// A job's communication as its statement stored it (with its receipt, if it had one),
/// and what it stored on the lead.
fn recorded(job: &Job, stored: StoredInsights, communication: Communication) -> Recorded {
    Recorded {
        communication,
        duplicate: false,
        receipt_stored: job.work.new.receipt.is_some(),
        lead_insights: Some(stored),
    }
}

/// Writes one job (creating its lead when `lead_id` is `None`) and answers it; returns the
/// job when it must be read again (its lead's identity changed concurrently).
async fn write_one(pool: &PgPool, ready: Ready) -> Option<Job> {
    let written = match ready.lead_id {
        Some(_) => write_existing(pool, std::slice::from_ref(&ready))
            .await
            .map(|mut rows| rows.pop()),
        None => write_new_lead(pool, &ready).await,
    };
    let Ready { job, stored, .. } = ready;
    let outcome = match written {
        Ok(Some(communication)) => Ok(recorded(&job, stored, communication)),
        Ok(None) => return retry(job),
        Err(e) if unique_violation(&e) == Some("communications_provider_message") => {
            let pmid = job
                .work
                .new
                .provider_message_id
                .as_deref()
                .unwrap_or_default();
            match find_by_provider_id(pool, job.work.account, job.work.new.channel, pmid).await {
                Ok(Some(communication)) => Ok(Recorded {
                    communication,
                    duplicate: true,
                    receipt_stored: false,
                    lead_insights: None,
                }),
                Ok(None) => Err(anyhow::anyhow!("conflicting communication vanished").into()),
                Err(e) => Err(e),
            }
        }
        Err(e)
            if matches!(
                unique_violation(&e),
                Some("leads_account_email" | "leads_account_phone")
            ) =>
        {
            return retry(job);
        }
        // Refused for a deadlock with another writer's multi-row statement (rows lock their
        // lead in lead order, but a past day's stats cache row in row order): nothing was
        // written, so the job runs again, up to MAX_ATTEMPTS times.
        Err(e) if refused_for_concurrency(&e) => return retry_or(job, e.into()),
        Err(e) => Err(e.into()),
    };
    job.answer(outcome);
    None
}

/// Another try for a job whose lead's identity was changed by a concurrent writer.
fn retry(job: Job) -> Option<Job> {
    retry_or(
        job,
        ApiError::Conflict(
            "identity_race",
            "the lead was being changed concurrently; retry".into(),
        ),
    )
}

/// The job again, unless it has had `MAX_ATTEMPTS`: then it is answered with `last`.
fn retry_or(mut job: Job, last: ApiError) -> Option<Job> {
    job.attempts += 1;
    if job.attempts < MAX_ATTEMPTS {
        return Some(job);
    }
    job.answer(Err(last));
    None
}

const INSERT_COLUMNS: &str = "account_id, lead_id, type, direction, \"timestamp\", from_address, to_address, \
     subject, content, metadata, status, duration, attachments, ai_generated, sentiment, sentiment_score, \
     tags, provider, provider_message_id, thread_key";

/// The rows to write as CTE `v`: `$1..$36` arrays bound by `bind_rows`, one element per job
/// (the communication's columns, then the lead's insights and identity, then its receipt).
const ROWS_CTE: &str = "v as (
            select * from unnest($1::int8[], $2::int8[], $3::text[], $4::text[], $5::timestamptz[],
                $6::text[], $7::text[], $8::text[], $9::text[], $10::jsonb[], $11::text[], $12::int4[],
                $13::jsonb[], $14::bool[], $15::text[], $16::float4[], $17::jsonb[], $18::text[],
                $19::text[], $20::text[], $21::int4[], $22::text[], $23::jsonb[], $24::jsonb[],
                $25::text[], $26::text[], $27::text[], $28::text[], $29::text[], $30::text[],
                $31::text[], $32::jsonb[], $33::text[], $34::text[], $35::text[], $36::jsonb[])
            as v(account_id, lead_id, type, direction, at, from_address, to_address, subject, content,
                 metadata, status, duration, attachments, ai_generated, sentiment, sentiment_score,
                 tags, provider, provider_message_id, thread_key, score, band, breakdown, insights,
                 new_status, name, property_address, email, phone, source, campaign, attribution,
                 ev_provider, ev_id, ev_type, ev_payload)
         )";

/// Stores the receipts (`webhook_events`, processed) of the communications inserted by
/// CTE `ins`, each `v` row matched to its inserted row by `matched`. As
/// `telnyx::events::store_processed`: a stored event only gains its processing time and
/// account.
fn receipts_cte(matched: &str) -> String {
    format!(
        "ev as (
            insert into webhook_events (provider, event_id, account_id, event_type, payload, processed_at)
            select v.ev_provider, v.ev_id, v.account_id, v.ev_type, v.ev_payload, now()
            from v {matched}
            where v.ev_id is not null
            on conflict (provider, event_id) do update
                set processed_at = coalesce(webhook_events.processed_at, now()),
                    account_id = coalesce(webhook_events.account_id, excluded.account_id)
                where webhook_events.processed_at is null
                   or (webhook_events.account_id is null and excluded.account_id is not null)
         )"
    )
}

/// The communication's values selected from `v`, with `lead` as its lead id.
fn comm_values(lead: &str) -> String {
    format!(
        "v.account_id, {lead}, v.type, v.direction, v.at, v.from_address, v.to_address, v.subject,
         v.content, v.metadata, v.status, v.duration, v.attachments, v.ai_generated, v.sentiment,
         v.sentiment_score, array(select jsonb_array_elements_text(v.tags)), v.provider,
         v.provider_message_id, v.thread_key"
    )
}

/// The batch write: one row per job of an existing lead (each lead once).
/// Inserts in lead order (the insert trigger locks each lead row: always in the same order,
/// so concurrent batches never deadlock), then updates every lead it inserted for, filling
/// identity fields the lead lacks (never taking an email/phone another lead has).
static WRITE_EXISTING: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "with {ROWS_CTE}, ins as (
            insert into communications ({INSERT_COLUMNS})
            select {values} from v order by v.lead_id
            returning {COMM_COLUMNS}
         ), upd as (
            update leads l set score = v.score, score_band = v.band, score_breakdown = v.breakdown,
                insights = v.insights,
                status = coalesce(v.new_status, l.status),
                last_activity_at = greatest(l.last_activity_at, v.at),
                name = coalesce(l.name, v.name),
                property_address = coalesce(l.property_address, v.property_address),
                campaign = case when l.source is null and v.source is not null then v.campaign else l.campaign end,
                attribution = case when l.source is null and v.source is not null then v.attribution else l.attribution end,
                source = coalesce(l.source, v.source),
                email = coalesce(l.email, case when exists (select 1 from leads o where o.account_id = v.account_id and o.email = v.email) then null else v.email end),
                phone = coalesce(l.phone, case when exists (select 1 from leads o where o.account_id = v.account_id and o.phone = v.phone) then null else v.phone end),
                updated_at = now()
            from v
            where l.id = v.lead_id and l.account_id = v.account_id and v.lead_id in (select lead_id from ins)
         ), {receipts}
         select * from ins",
        values = comm_values("v.lead_id"),
        // a statement holds each lead once
        receipts = receipts_cte("join ins on ins.lead_id = v.lead_id")
    )
});

/// A new lead and its first communication (one job), in one statement; no row when the
/// identity was created concurrently (the job is read again).
static WRITE_WITH_NEW_LEAD: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "with {ROWS_CTE}, nl as (
            insert into leads (account_id, name, email, phone, property_address, last_activity_at,
                               score, score_band, score_breakdown, insights, status, source,
                               campaign, attribution)
            select account_id, name, email, phone, property_address, at, score, band, breakdown,
                   insights, coalesce(new_status, 'new'), source, campaign, attribution
            from v
            on conflict do nothing returning id
         ), ins as (
            insert into communications ({INSERT_COLUMNS})
            select {values} from v, nl returning {COMM_COLUMNS}
         ), {receipts}
         select * from ins",
        values = comm_values("nl.id"),
        // `v` has no lead id yet: its one row goes with the one inserted.
        receipts = receipts_cte("cross join ins")
    )
});

/// New leads (ids taken beforehand, in `v.lead_id`) with their first communications. A
/// lead whose email or phone is taken (by another lead, or by an earlier row here) is not
/// created, nor its communication. Leads are inserted in identity order, so two servers'
/// batches wait on each other's identities in the same order (no deadlock).
static WRITE_NEW_LEADS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "with {ROWS_CTE}, nl as (
            insert into leads (id, account_id, name, email, phone, property_address, last_activity_at,
                               score, score_band, score_breakdown, insights, status, source,
                               campaign, attribution)
            select lead_id, account_id, name, email, phone, property_address, at, score, band, breakdown,
                   insights, coalesce(new_status, 'new'), source, campaign, attribution
            from v order by account_id, email, phone
            on conflict do nothing returning id
         ), ins as (
            insert into communications ({INSERT_COLUMNS})
            select {values} from v where v.lead_id in (select id from nl) order by v.lead_id
            returning {COMM_COLUMNS}
         ), {receipts}
         select * from ins",
        values = comm_values("v.lead_id"),
        receipts = receipts_cte("join ins on ins.lead_id = v.lead_id")
    )
});

/// Inserts the communications of `batch` (each an existing, distinct lead) and updates their
/// leads, atomically; returns the stored rows (in any order).
async fn write_existing(pool: &PgPool, batch: &[Ready]) -> Result<Vec<Communication>, sqlx::Error> {
    bind_rows(sqlx::query_as(WRITE_EXISTING.as_str()), batch)
        .fetch_all(pool)
        .await
}

async fn write_new_lead(
    pool: &PgPool,
    ready: &Ready,
) -> Result<Option<Communication>, sqlx::Error> {
    bind_rows(
        sqlx::query_as(WRITE_WITH_NEW_LEAD.as_str()),
        std::slice::from_ref(ready),
    )
    .fetch_optional(pool)
    .await
}

/// Binds the `$1..$36` arrays of `ROWS_CTE`, one element per job of `batch`.
fn bind_rows<'q>(
    q: sqlx::query::QueryAs<'q, sqlx::Postgres, Communication, sqlx::postgres::PgArguments>,
    batch: &'q [Ready],
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, Communication, sqlx::postgres::PgArguments> {
    let n = batch.len();
    let mut account = Vec::with_capacity(n);
    let mut lead = Vec::with_capacity(n);
    let mut kind = Vec::with_capacity(n);
    let mut direction = Vec::with_capacity(n);
    let mut at = Vec::with_capacity(n);
    let mut from = Vec::with_capacity(n);
    let mut to = Vec::with_capacity(n);
    let mut subject = Vec::with_capacity(n);
    let mut content = Vec::with_capacity(n);
    let mut metadata = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut duration = Vec::with_capacity(n);
    let mut attachments = Vec::with_capacity(n);
    let mut ai = Vec::with_capacity(n);
    let mut sentiment = Vec::with_capacity(n);
    let mut sentiment_score = Vec::with_capacity(n);
    let mut tags = Vec::with_capacity(n);
    let mut provider = Vec::with_capacity(n);
    let mut pmid = Vec::with_capacity(n);
    let mut thread = Vec::with_capacity(n);
    let mut score = Vec::with_capacity(n);
    let mut band = Vec::with_capacity(n);
    let mut breakdown = Vec::with_capacity(n);
    let mut insights = Vec::with_capacity(n);
    let mut new_status = Vec::with_capacity(n);
    let mut name = Vec::with_capacity(n);
    let mut address = Vec::with_capacity(n);
    let mut email = Vec::with_capacity(n);
    let mut phone = Vec::with_capacity(n);
    let mut source = Vec::with_capacity(n);
    let mut campaign = Vec::with_capacity(n);
    let mut attribution = Vec::with_capacity(n);
    let mut ev_provider = Vec::with_capacity(n);
    let mut ev_id = Vec::with_capacity(n);
    let mut ev_type = Vec::with_capacity(n);
    let mut ev_payload = Vec::with_capacity(n);
    for Ready {
        job,
        lead_id,
        new_id,
        stored,
    } in batch
    {
        let (work, new) = (&job.work, &job.work.new);
        account.push(work.account);
        lead.push(lead_id.or(*new_id));
        kind.push(new.channel.as_str());
        direction.push(new.direction.as_str());
        at.push(work.at);
        from.push(new.from_address.as_deref());
        to.push(new.to_address.as_deref());
        subject.push(new.subject.as_deref());
        content.push(new.content.as_deref());
        metadata.push(&new.metadata);
        status.push(new.status.as_deref());
        duration.push(new.duration);
        attachments.push(&new.attachments);
        ai.push(new.ai_generated);
        sentiment.push(work.sentiment.map(|s| s.label.as_str()));
        sentiment_score.push(work.sentiment.map(|s| s.score));
        // text[] arrays cannot be ragged: each job's tags travel as one jsonb array.
        tags.push(serde_json::Value::from(new.tags.clone()));
        provider.push(new.provider.as_deref());
        pmid.push(new.provider_message_id.as_deref());
        thread.push(new.thread_key.as_deref());
        score.push(stored.score);
        band.push(stored.band);
        breakdown.push(&stored.breakdown);
        insights.push(&stored.insights);
        new_status.push(stored.new_status);
        name.push(work.who.name.as_deref());
        address.push(work.who.property_address.as_deref());
        email.push(work.who.email.as_deref());
        phone.push(work.who.phone.as_deref());
        // A new lead's source is how it came: the intake's, else the channel's.
        let first = new.attribution.as_ref();
        source.push(match (first, lead_id) {
            (Some(a), _) => Some(a.source.as_str()),
            (None, None) => Some(new.channel.as_str()),
            (None, Some(_)) => None,
        });
        campaign.push(first.and_then(|a| a.campaign.as_deref()));
        attribution.push(first.map_or_else(|| serde_json::json!({}), |a| a.detail_json()));
        let receipt = new.receipt.as_ref();
        ev_provider.push(receipt.map(|r| r.provider));
        ev_id.push(receipt.map(|r| r.event_id.as_str()));
        ev_type.push(receipt.map(|r| r.event_type.as_str()));
        ev_payload.push(receipt.map(|r| &r.payload));
    }
    q.bind(account)
        .bind(lead)
        .bind(kind)
        .bind(direction)
        .bind(at)
        .bind(from)
        .bind(to)
        .bind(subject)
        .bind(content)
        .bind(metadata)
        .bind(status)
        .bind(duration)
        .bind(attachments)
        .bind(ai)
        .bind(sentiment)
        .bind(sentiment_score)
        .bind(tags)
        .bind(provider)
        .bind(pmid)
        .bind(thread)
        .bind(score)
        .bind(band)
        .bind(breakdown)
        .bind(insights)
        .bind(new_status)
        .bind(name)
        .bind(address)
        .bind(email)
        .bind(phone)
        .bind(source)
        .bind(campaign)
        .bind(attribution)
        .bind(ev_provider)
        .bind(ev_id)
        .bind(ev_type)
        .bind(ev_payload)
}
