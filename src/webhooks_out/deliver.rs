//! The delivery worker: claims due deliveries, POSTs them signed, settles them in
//! batches and logs every attempt.
//!
//! - **Claim** (`claim`): per enabled subscription, its due deliveries that are first in
//!   their lead's order (a lead's next event waits until the previous one is delivered or
//!   given up), at most `per_subscription` in flight per subscription across replicas,
//!   `FOR UPDATE SKIP LOCKED`, under an advisory lock so the caps hold across replicas.
//!   A claim sets `status = 'sending'` and a lease (`next_attempt_at`); a worker that dies
//!   leaves the delivery due again when the lease ends (re-sending is what at-least-once
//!   means; receivers dedupe on `webhook-id`).
//! - **Send** (`attempt`): the host is resolved at every attempt and internal addresses
//!   refused (unless `LEADLINE_ALLOW_PRIVATE_HOSTS`), through the client's resolver, so
//!   the address checked is the address connected to (no DNS rebinding); no redirects;
//!   bounded by `LEADLINE_WEBHOOKS_TIMEOUT_SECS`.
//! - **Settle** (`settle`): one statement for the deliveries, one for the attempt log, a
//!   few for the subscriptions' health, per batch. 2xx = delivered; otherwise again after
//!   an exponential back-off with jitter, until 3 days after the event (or its replay);
//!   410 Gone disables the subscription at once; a subscription whose every attempt
//!   failed for 3 days is disabled, and its account's owners are alerted.
//!
//! [`spawn`] runs it in the server (woken by the triggers' `NOTIFY`, a finished batch or
//! a 250 ms poll); [`tick`] is one synchronous pass at a given time, for tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::{mpsc, Notify, Semaphore};

use super::model::SealedSecrets;
use crate::domain::AccountId;
use crate::error::Result;
use crate::state::AppState;

/// How long deliveries are retried (from the event, or from its replay).
pub const RETRY_WINDOW: chrono::Duration = chrono::Duration::days(3);
/// A subscription failing for this long is disabled.
pub const DISABLE_AFTER: chrono::Duration = chrono::Duration::days(3);
/// Response bodies are logged up to this many bytes.
const LOGGED_BODY: usize = 2048;
/// Claims of all replicas take turns under this advisory lock.
const CLAIM_LOCK: i64 = 0x0077_686f_7574; // "whout"

/// A claimed delivery with what sending it needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub account_id: AccountId,
    pub subscription_id: i64,
    pub event_type: String,
    pub body: String,
    /// This attempt's number (1 = first).
    pub attempts: i32,
    pub retry_from: DateTime<Utc>,
    pub url: String,
    #[sqlx(flatten)]
    pub secrets: SealedSecrets,
}

impl Claimed {
    /// The `webhook-id`: the same on every attempt and replay of this delivery.
    pub fn webhook_id(&self) -> String {
        webhook_id(self.id)
    }
}

/// The `webhook-id` of a delivery.
pub fn webhook_id(delivery: i64) -> String {
    format!("msg_{delivery}")
}

/// What one attempt gave.
#[derive(Debug, Clone)]
pub struct Attempted {
    pub delivery: Claimed,
    pub at: DateTime<Utc>,
    pub request_headers: serde_json::Value,
    pub status: Option<u16>,
    pub elapsed_ms: i32,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

impl Attempted {
    fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The HTTP client of the worker: bounded, no redirects, and a resolver that refuses
/// internal addresses unless allowed.
pub fn client(cfg: &super::WebhooksConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(cfg.timeout)
        .connect_timeout(cfg.timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .user_agent(concat!("Leadline-Webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(Guarded {
            allow_private: cfg.allow_private_hosts,
        }))
        .build()
        .expect("a reqwest client with rustls builds")
}

/// Resolves through `hosts::resolve`: every connection goes to addresses it checked.
struct Guarded {
    allow_private: bool,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow_private;
        Box::pin(async move {
            match crate::hosts::resolve(name.as_str(), 0, allow).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs),
                Err(e) => Err(refusal(&e.to_string()).into()),
            }
        })
    }
}

fn refusal(m: &str) -> String {
    m.replace("mail servers", "webhook receivers")
}

/// Claims up to `limit` due deliveries at `now` (see the module docs).
pub async fn claim(
    pool: &PgPool,
    now: DateTime<Utc>,
    limit: i64,
    per_subscription: i64,
    lease: Duration,
) -> Result<Vec<Claimed>> {
    let mut tx = crate::db::begin(pool).await?;
    // A plan cached while the table was small (a fresh install, the first events) scans
    // every pending row: 100+ ms a claim at 20,000 pending. Planned anew each time, the
    // claim stays a few index probes whatever the table's size when the plan was made.
    sqlx::query(
        "select pg_advisory_xact_lock($1), set_config('plan_cache_mode', 'force_custom_plan', true)",
    )
    .bind(CLAIM_LOCK)
    .execute(&mut *tx)
    .await?;
    let rows = sqlx::query_as::<_, Claimed>(
        "with busy as (
            select subscription_id, count(*) as n from webhook_deliveries
            where status = 'sending' and next_attempt_at > $1 group by subscription_id),
         cand as (
            select x.id, x.next_attempt_at,
                   row_number() over (partition by s.id order by x.next_attempt_at, x.id)
                       + coalesce(b.n, 0) as place
            from webhook_subscriptions s
            left join busy b on b.subscription_id = s.id
            cross join lateral (
                select d.id, d.next_attempt_at from webhook_deliveries d
                where d.subscription_id = s.id and d.status in ('pending','sending')
                  and d.next_attempt_at <= $1
                  -- A subquery per candidate (not an anti join, which a plan from
                  -- early statistics runs as a scan of every pending row of the
                  -- subscription per candidate): one probe of the lead-order index.
                  and (select p.id from webhook_deliveries p
                       where p.subscription_id = d.subscription_id and p.lead_id = d.lead_id
                         and p.ord < d.ord and p.status in ('pending','sending')
                       limit 1) is null
                order by d.next_attempt_at, d.id limit $3) x
            where s.enabled),
         picked as (
            select d.id from webhook_deliveries d
            where d.id in (select id from cand where place <= $3 order by next_attempt_at, id limit $2)
            for update of d skip locked)
         update webhook_deliveries d set status = 'sending', attempts = d.attempts + 1,
             next_attempt_at = $1 + make_interval(secs => $4), updated_at = $1
         from picked, webhook_subscriptions s
         where d.id = picked.id and s.id = d.subscription_id
           and d.status in ('pending','sending') and d.next_attempt_at <= $1
         returning d.id, d.account_id, d.subscription_id, d.event_type, d.body, d.attempts,
                   d.retry_from, s.url, s.secret, s.secret_nonce, s.secret_key_id,
                   s.previous_secret, s.previous_secret_nonce, s.previous_secret_key_id,
                   s.previous_secret_until",
    )
    .bind(now)
    .bind(limit)
    .bind(per_subscription)
    .bind(lease.as_secs_f64())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut rows = rows;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Sends one delivery, signed for `now`.
pub async fn attempt(
    http: &reqwest::Client,
    state: &AppState,
    d: Claimed,
    now: DateTime<Utc>,
) -> Attempted {
    let id = d.webhook_id();
    let ts = now.timestamp();
    let mut out = Attempted {
        at: now,
        request_headers: serde_json::json!({}),
        status: None,
        elapsed_ms: 0,
        response_body: None,
        error: None,
        delivery: d,
    };
    let d = &out.delivery;
    let Some(keys) = d.secrets.keys(&state.secrets, now) else {
        out.error =
            Some("the subscription's secret cannot be opened with this server's master key".into());
        return out;
    };
    let signature = super::sign::header(&keys, &id, ts, d.body.as_bytes());
    out.request_headers = serde_json::json!({
        "content-type": "application/json",
        "webhook-id": id,
        "webhook-timestamp": ts.to_string(),
        "webhook-signature": signature,
    });
    let url = match reqwest::Url::parse(&d.url) {
        Ok(u) => u,
        Err(e) => {
            out.error = Some(format!("the URL does not parse: {e}"));
            return out;
        }
    };
    // Names are checked by the resolver; an address written in the URL never reaches it.
    let host = url.host_str().unwrap_or_default();
    if host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok()
    {
        let port = url.port_or_known_default().unwrap_or(443);
        if let Err(e) =
            crate::hosts::resolve(host, port, state.config.webhooks_out.allow_private_hosts).await
        {
            out.error = Some(refusal(&e.to_string()));
            return out;
        }
    }
    let started = Instant::now();
    let sent = http
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", &signature)
        .body(d.body.clone())
        .send()
        .await;
    match sent {
        Ok(mut resp) => {
            out.status = Some(resp.status().as_u16());
            let mut body = Vec::new();
            loop {
                match resp.chunk().await {
                    Ok(Some(c)) => {
                        let room = LOGGED_BODY - body.len();
                        body.extend_from_slice(&c[..c.len().min(room)]);
                        if body.len() >= LOGGED_BODY {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        out.error = Some(format!("reading the answer: {e}"));
                        break;
                    }
                }
            }
            if !body.is_empty() {
                out.response_body = Some(String::from_utf8_lossy(&body).replace('\0', ""));
            }
        }
        Err(e) => {
            let why = if e.is_timeout() {
                format!(
                    "no answer within {} s",
                    state.config.webhooks_out.timeout.as_secs()
                )
            } else {
                // The resolver's refusal is the innermost cause; say it, not "error sending request".
                let mut m = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    m = s.to_string();
                    src = s.source();
                }
                m
            };
            out.error = Some(why);
        }
    }
    out.elapsed_ms = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
    out
}

/// Seconds until attempt `attempts + 1`: `base` (5 s) doubling, at most 2 h, ±20 % jitter
/// (so the retries of a receiver that was down do not all arrive at once).
pub fn backoff_secs(attempts: i32, base: Duration) -> f64 {
    let secs = (base.as_secs_f64() * 2f64.powi(attempts.clamp(1, 30) - 1)).min(7200.0);
    secs * rand::thread_rng().gen_range(0.8..1.2)
}

/// What settling a batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Report {
    pub delivered: u64,
    /// Attempts that failed and will be retried.
    pub retrying: u64,
    /// Deliveries given up (3 days passed, or the subscription answered 410).
    pub given_up: u64,
    /// Subscriptions disabled.
    pub disabled: u64,
}

impl std::ops::AddAssign for Report {
    fn add_assign(&mut self, o: Self) {
        self.delivered += o.delivered;
        self.retrying += o.retrying;
        self.given_up += o.given_up;
        self.disabled += o.disabled;
    }
}

/// Records a batch of attempts at `now`: the deliveries, the log, the subscriptions'
/// health (and who to tell). A few statements whatever the batch's size.
pub async fn settle(
    pool: &PgPool,
    batch: &[Attempted],
    now: DateTime<Utc>,
    retry_base: Duration,
) -> Result<Report> {
    let mut report = Report::default();
    if batch.is_empty() {
        return Ok(report);
    }
    let n = batch.len();
    let (mut ids, mut oks, mut give_ups, mut statuses, mut errors, mut next_at) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut ok_subs, mut failed_subs, mut gone_subs) = (Vec::new(), Vec::new(), Vec::new());
    let (mut log_at, mut log_headers, mut log_ms, mut log_body, mut log_attempt, mut log_account) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for a in batch {
        let d = &a.delivery;
        let ok = a.ok();
        let gone = a.status == Some(410);
        let next = now
            + chrono::Duration::milliseconds(
                (backoff_secs(d.attempts, retry_base) * 1000.0) as i64,
            );
        let give_up = !ok && (gone || next > d.retry_from + RETRY_WINDOW);
        let error = match (&a.error, a.status) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(s)) if !ok => Some(format!("the receiver answered {s}")),
            _ => None,
        };
        if ok {
            report.delivered += 1;
            ok_subs.push(d.subscription_id);
        } else {
            if give_up {
                report.given_up += 1;
            } else {
                report.retrying += 1;
            }
            failed_subs.push(d.subscription_id);
            if gone {
                gone_subs.push(d.subscription_id);
            }
        }
        ids.push(d.id);
        oks.push(ok);
        give_ups.push(give_up);
        statuses.push(a.status.map(i32::from));
        errors.push(error);
        next_at.push(next);
        log_at.push(a.at);
        log_headers.push(a.request_headers.clone());
        log_ms.push(a.elapsed_ms);
        log_body.push(a.response_body.clone());
        log_attempt.push(d.attempts);
        log_account.push(d.account_id.0);
    }
    ok_subs.sort_unstable();
    ok_subs.dedup();
    failed_subs.sort_unstable();
    failed_subs.dedup();
    // The deliveries, their log and the successes' health in one statement: the whole
    // settlement of a healthy batch is one round trip.
    let main = sqlx::query(
        "with r as (
            select * from unnest($1::int8[], $2::bool[], $3::bool[], $4::int4[], $5::text[],
                $6::timestamptz[], $8::int8[], $9::int4[], $10::timestamptz[], $11::jsonb[],
                $12::int4[], $13::text[])
                as r(id, ok, give_up, status, error, next_at, account_id, attempt, at, headers, ms, body)),
         u as (
            update webhook_deliveries d set
                status = case when r.ok then 'delivered' when r.give_up then 'failed' else 'pending' end,
                delivered_at = case when r.ok then $7 else d.delivered_at end,
                next_attempt_at = case when r.ok or r.give_up then $7 else r.next_at end,
                last_status = r.status, last_error = r.error, updated_at = $7
            from r where d.id = r.id and d.status = 'sending' returning d.id),
         a as (
            insert into webhook_attempts (delivery_id, account_id, attempt, at, request_headers,
                response_status, response_ms, response_body, error)
            select id, account_id, attempt, at, headers, status, ms, body, error from r returning 1),
         s as (
            update webhook_subscriptions set failing_since = null
            where id = any($14) and failing_since is not null returning 1)
         select (select count(*) from u), (select count(*) from a), (select count(*) from s)",
    )
    .bind(&ids)
    .bind(&oks)
    .bind(&give_ups)
    .bind(&statuses)
    .bind(&errors)
    .bind(&next_at)
    .bind(now)
    .bind(&log_account)
    .bind(&log_attempt)
    .bind(&log_at)
    .bind(&log_headers)
    .bind(&log_ms)
    .bind(&log_body)
    .bind(&ok_subs);
    if failed_subs.is_empty() {
        main.execute(pool).await?;
        return Ok(report);
    }
    let mut tx = crate::db::begin(pool).await?;
    main.execute(&mut *tx).await?;
    // A subscription counts as failing only when nothing of it went through in the batch.
    failed_subs.retain(|s| ok_subs.binary_search(s).is_err());
    let mut disabled: Vec<(i64, AccountId, String, String)> = Vec::new();
    if !gone_subs.is_empty() {
        disabled.extend(
            sqlx::query_as::<_, (i64, AccountId, String, String)>(
                "update webhook_subscriptions set enabled = false, updated_at = $2,
                     disabled_reason = 'the receiver answered 410 Gone'
                 where id = any($1) and enabled returning id, account_id, url, disabled_reason",
            )
            .bind(&gone_subs)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?,
        );
    }
    if !failed_subs.is_empty() {
        sqlx::query(
            "update webhook_subscriptions set failing_since = $2
             where id = any($1) and failing_since is null",
        )
        .bind(&failed_subs)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        disabled.extend(
            sqlx::query_as::<_, (i64, AccountId, String, String)>(
                "update webhook_subscriptions set enabled = false, updated_at = $2,
                     disabled_reason = 'every delivery failed for 3 days'
                 where id = any($1) and enabled
                   and failing_since <= $2 - make_interval(secs => $3)
                 returning id, account_id, url, disabled_reason",
            )
            .bind(&failed_subs)
            .bind(now)
            .bind(DISABLE_AFTER.num_seconds() as f64)
            .fetch_all(&mut *tx)
            .await?,
        );
    }
    for (sub, account, url, reason) in &disabled {
        report.disabled += 1;
        tracing::warn!(subscription = sub, account = account.0, %reason, "webhook subscription disabled");
        // The owners see it in the bell (and its live stream).
        sqlx::query(
            "insert into alerts (account_id, user_id, kind, message, dedupe_key, created_at)
             select $1, u.id, 'webhook_disabled', $2, $3, $4 from users u
             where u.account_id = $1 and u.role = 'owner' and u.disabled_at is null
             on conflict (user_id, dedupe_key) do nothing",
        )
        .bind(account)
        .bind(format!(
            "Webhook to {url} was turned off: {reason}. Fix the receiver, then turn it on again under Settings → Webhooks."
        ))
        .bind(format!(
            "{}:{}",
            crate::alerts::Kind::WebhookDisabled.dedupe_key(*sub),
            now.timestamp()
        ))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(report)
}

/// One synchronous pass at `now` (tests drive time with it): claims what is due, sends
/// it, settles it, again until nothing is due (a delivered event lets its lead's next
/// one through).
pub async fn tick(state: &AppState, now: DateTime<Utc>) -> Result<Report> {
    let cfg = &state.config.webhooks_out;
    let http = client(cfg);
    let mut report = Report::default();
    loop {
        let claimed = claim(
            &state.pool,
            now,
            cfg.concurrency as i64,
            cfg.per_subscription,
            lease(cfg),
        )
        .await?;
        if claimed.is_empty() {
            return Ok(report);
        }
        let done = futures_util::future::join_all(
            claimed.into_iter().map(|d| attempt(&http, state, d, now)),
        )
        .await;
        report += settle(&state.pool, &done, now, cfg.retry_base).await?;
    }
}

fn lease(cfg: &super::WebhooksConfig) -> Duration {
    cfg.timeout + Duration::from_secs(20)
}

/// Wakes `wake` on every `NOTIFY` of the triggers, and on (re)connecting (a delivery may
/// have been queued meanwhile).
async fn listen(pool: PgPool, wake: Arc<Notify>) {
    crate::db::listen::run(&pool, super::emit::CHANNEL, "webhooks", |note| {
        if note != crate::db::listen::Note::Lost {
            wake.notify_one();
        }
    })
    .await
}

/// Starts the worker of this process (unless `LEADLINE_WEBHOOKS_WORKER=false`).
pub fn spawn(state: AppState) {
    let cfg = state.config.webhooks_out.clone();
    if !cfg.worker {
        return;
    }
    let wake = Arc::new(Notify::new());
    tokio::spawn(listen(state.pool.clone(), wake.clone()));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Attempted>();
    // The settler: everything finished since its last write, in one batch.
    {
        let (state, wake) = (state.clone(), wake.clone());
        tokio::spawn(async move {
            let mut buf = Vec::new();
            while done_rx.recv_many(&mut buf, 1000).await > 0 {
                let mut tries = 0;
                loop {
                    match settle(
                        &state.pool,
                        &buf,
                        Utc::now(),
                        state.config.webhooks_out.retry_base,
                    )
                    .await
                    {
                        Ok(_) => break,
                        Err(e) if tries < 5 => {
                            tries += 1;
                            tracing::warn!(error = %e, "webhooks: settling failed; retrying");
                            tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                        }
                        // The leases run out and the deliveries are sent again.
                        Err(e) => {
                            tracing::warn!(error = %e, "webhooks: settling failed; the deliveries will be retried");
                            break;
                        }
                    }
                }
                buf.clear();
                wake.notify_one();
            }
        });
    }
    tokio::spawn(async move {
        let http = client(&cfg);
        let slots = Arc::new(Semaphore::new(cfg.concurrency));
        let mut poll = tokio::time::interval(Duration::from_millis(250));
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = poll.tick() => {}
                _ = wake.notified() => {}
            }
            loop {
                let free = slots.available_permits();
                if free == 0 {
                    break;
                }
                let claimed = match claim(
                    &state.pool,
                    Utc::now(),
                    free as i64,
                    cfg.per_subscription,
                    lease(&cfg),
                )
                .await
                {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhooks: claim failed");
                        break;
                    }
                };
                let got = claimed.len();
                for d in claimed {
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        break;
                    };
                    let (state, http, done) = (state.clone(), http.clone(), done_tx.clone());
                    tokio::spawn(async move {
                        let a = attempt(&http, &state, d, Utc::now()).await;
                        drop(slot);
                        let _ = done.send(a);
                    });
                }
                if got < free {
                    break;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let base = Duration::from_secs(5);
        for _ in 0..50 {
            let a = backoff_secs(1, base);
            assert!((4.0..=6.0).contains(&a), "{a}");
            let c = backoff_secs(3, base);
            assert!((16.0..=24.0).contains(&c), "{c}");
            assert!(backoff_secs(40, base) <= 7200.0 * 1.2);
        }
    }
}
