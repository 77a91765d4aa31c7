//! Each connected mailbox: is it syncing on time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ago, with_quarantine, Details, IntegrationHealth, Kind, Status};
use crate::domain::AccountId;
use crate::state::AppState;

/// Failed syncs in a row that make a mailbox `error`.
const MAILBOX_FAILURES_ERROR: i32 = 3;
/// A failed sync after a success older than this makes a mailbox `error`.
const MAILBOX_STALE_ERROR: Duration = Duration::from_secs(3600);
/// Least sync lag that counts as late: one slow pass over many mailboxes must not make
/// every mailbox look late when the sync interval is short (the default is a minute).
const MAILBOX_LATE_FLOOR: Duration = Duration::from_secs(300);

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailDetails {
    /// Seconds since the last successful sync (`null`: never synced).
    pub sync_lag_seconds: Option<i64>,
    /// The usual time between two scheduled syncs (from `LEADLINE_SYNC_CRON`).
    pub sync_interval_seconds: i64,
    pub next_sync_at: Option<DateTime<Utc>>,
    pub messages_synced: i64,
    pub consecutive_failures: i32,
    pub auto_respond: bool,
    /// The synced folders, in the configured order.
    pub folders: Vec<FolderHealth>,
    /// Messages of this mailbox (IMAP, Mailgun, SendGrid) that could not be stored and
    /// wait in the quarantine (`GET /api/quarantine`).
    pub quarantined: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FolderHealth {
    pub name: String,
    pub uidvalidity: Option<i64>,
    /// Highest UID stored (0: nothing yet).
    pub last_uid: i64,
    pub last_synced_at: Option<DateTime<Utc>>,
}

/// The usual time between two runs of a cron expression with seconds (6 or 7 fields;
/// 5 fields get second 0): the spacing of its finest field that is not a single value
/// (`*/5` in minutes: 5 min; `0,30`: 30 min; `*`: one unit). With seconds, minutes and
/// hours all fixed: a day, or a week when days are restricted, or a month when months
/// are. An estimate: irregular schedules are taken at their shortest spacing.
pub fn cron_period(expr: &str) -> Option<Duration> {
    let mut fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() == 5 {
        fields.insert(0, "0");
    }
    if !(6..=7).contains(&fields.len()) {
        return None;
    }
    const UNITS: [(u64, u64); 3] = [(1, 60), (60, 60), (3600, 24)];
    for (field, (unit, range)) in fields.iter().zip(UNITS) {
        if field.parse::<u64>().is_ok() {
            continue;
        }
        let steps = if let Some((_, step)) = field.split_once('/') {
            step.parse::<u64>().ok().filter(|n| *n > 0)?
        } else if field.contains(',') {
            (range / field.split(',').count() as u64).max(1)
        } else {
            1
        };
        return Some(Duration::from_secs(unit * steps));
    }
    let any = |f: &str| f == "*" || f == "?";
    let days = if !any(fields[4]) {
        31
    } else if !any(fields[3]) || !any(fields[5]) {
        7
    } else {
        1
    };
    Some(Duration::from_secs(days * 86_400))
}

/// What a mailbox's sync bookkeeping says.
#[derive(Debug, Clone, Copy)]
pub struct SyncFacts {
    pub consecutive_failures: i32,
    /// The latest sync attempt failed (`last_error` is set; a success clears it).
    pub last_failed: bool,
    /// Seconds since the last successful sync; `None` when there was none.
    pub lag_seconds: Option<f64>,
    /// Seconds since the mailbox was connected.
    pub age_seconds: f64,
}

/// Mailbox status:
/// * `error` — 3 or more syncs in a row failed; or the latest sync failed and the last
///   success is more than an hour old (or there never was one);
/// * `degraded` — the latest sync failed (after a success within the hour); or the last
///   success is older than 3 sync intervals (at least 5 minutes), or, never synced, the
///   mailbox was connected longer ago than that;
/// * `healthy` — otherwise.
pub fn mailbox_status(f: &SyncFacts, interval: Duration) -> (Status, Option<String>) {
    if f.consecutive_failures >= MAILBOX_FAILURES_ERROR {
        return (
            Status::Error,
            Some(format!("{} syncs in a row failed", f.consecutive_failures)),
        );
    }
    if f.last_failed {
        return match f.lag_seconds {
            None => (
                Status::Error,
                Some("the mailbox never synced successfully and the last sync failed".into()),
            ),
            Some(lag) if lag > MAILBOX_STALE_ERROR.as_secs_f64() => (
                Status::Error,
                Some(format!(
                    "the last sync failed; the last success was {} ago",
                    ago(lag)
                )),
            ),
            Some(_) => (Status::Degraded, Some("the last sync failed".into())),
        };
    }
    let late_after = (interval * 3).max(MAILBOX_LATE_FLOOR).as_secs_f64();
    match f.lag_seconds {
        Some(lag) if lag > late_after => (
            Status::Degraded,
            Some(format!("no successful sync for {}", ago(lag))),
        ),
        None if f.age_seconds > late_after => (
            Status::Degraded,
            Some(format!(
                "not synced yet, {} after connecting",
                ago(f.age_seconds)
            )),
        ),
        _ => (Status::Healthy, None),
    }
}

#[derive(sqlx::FromRow)]
struct MailboxRow {
    id: i64,
    email: String,
    auto_respond: bool,
    folders: Vec<String>,
    last_sync: Option<DateTime<Utc>>,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
    consecutive_failures: i32,
    next_sync_at: Option<DateTime<Utc>>,
    lag_seconds: Option<f64>,
    age_seconds: f64,
}

#[derive(sqlx::FromRow)]
struct FolderRow {
    integration_id: i64,
    folder: String,
    uidvalidity: Option<i64>,
    last_uid: i64,
    last_sync: Option<DateTime<Utc>>,
}

/// Every active mailbox of the account (two queries, whatever their number).
pub async fn mailboxes(
    state: &AppState,
    account: AccountId,
) -> sqlx::Result<Vec<IntegrationHealth>> {
    let rows: Vec<MailboxRow> = sqlx::query_as(
        "select id, email, auto_respond, folders, last_sync, last_error, last_error_at, consecutive_failures,
                next_sync_at,
                extract(epoch from now() - last_sync)::float8 as lag_seconds,
                extract(epoch from now() - created_at)::float8 as age_seconds
         from email_integrations where account_id = $1 and is_active order by id",
    )
    .bind(account)
    .fetch_all(&state.pool)
    .await?;
    if rows.is_empty() {
        return Ok(vec![IntegrationHealth::not_configured(
            Kind::Email,
            "Email",
        )]);
    }
    let folders: Vec<FolderRow> = sqlx::query_as(
        "select s.integration_id, s.folder, s.uidvalidity, s.last_uid, s.last_sync
         from imap_sync_state s join email_integrations e on e.id = s.integration_id
         where e.account_id = $1 and e.is_active",
    )
    .bind(account)
    .fetch_all(&state.pool)
    .await?;
    let held: Vec<(i64, i64)> = sqlx::query_as(
        "select integration_id, count(*) from quarantine
         where account_id = $1 and integration_id is not null group by integration_id",
    )
    .bind(account)
    .fetch_all(&state.pool)
    .await?;
    let interval = cron_period(&state.config.email.sync_cron).unwrap_or(Duration::from_secs(60));
    // One mailbox per account: what is stored from IMAP is this mailbox's.
    let synced = crate::channels::email::integration::messages_synced(&state.pool, account).await?;
    Ok(rows
        .into_iter()
        .map(|m| {
            let facts = SyncFacts {
                consecutive_failures: m.consecutive_failures,
                last_failed: m.last_error.is_some(),
                lag_seconds: m.lag_seconds,
                age_seconds: m.age_seconds,
            };
            let quarantined = held.iter().find(|(id, _)| *id == m.id).map_or(0, |h| h.1);
            let (status, reason) = with_quarantine(mailbox_status(&facts, interval), quarantined);
            let folders = m
                .folders
                .iter()
                .map(|name| {
                    let s = folders
                        .iter()
                        .find(|f| f.integration_id == m.id && &f.folder == name);
                    FolderHealth {
                        name: name.clone(),
                        uidvalidity: s.and_then(|s| s.uidvalidity),
                        last_uid: s.map_or(0, |s| s.last_uid),
                        last_synced_at: s.and_then(|s| s.last_sync),
                    }
                })
                .collect();
            IntegrationHealth {
                kind: Kind::Email,
                name: m.email,
                configured: true,
                status,
                reason,
                last_success_at: m.last_sync,
                last_error_at: m.last_error.as_ref().and(m.last_error_at),
                last_error: m.last_error,
                details: Details::Email(EmailDetails {
                    sync_lag_seconds: m.lag_seconds.map(|l| l.max(0.0).round() as i64),
                    sync_interval_seconds: interval.as_secs() as i64,
                    next_sync_at: m.next_sync_at,
                    messages_synced: synced,
                    consecutive_failures: m.consecutive_failures,
                    auto_respond: m.auto_respond,
                    folders,
                    quarantined,
                }),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn cron_periods_follow_the_finest_field_that_moves() {
        let p = |e| cron_period(e).map(|d| d.as_secs());
        assert_eq!(p("0 * * * * *"), Some(60));
        assert_eq!(p("0 */5 * * * *"), Some(300));
        assert_eq!(p("*/30 * * * * *"), Some(30));
        assert_eq!(p("0 0,30 * * * *"), Some(1800));
        assert_eq!(p("0 0 */2 * * *"), Some(7200));
        assert_eq!(p("0 0 6 * * *"), Some(86_400));
        assert_eq!(p("0 0 6 * * Mon"), Some(7 * 86_400));
        assert_eq!(p("*/10 * * * *"), Some(600));
        assert_eq!(p("not a cron"), None);
    }

    fn facts(failures: i32, failed: bool, lag: Option<f64>) -> SyncFacts {
        SyncFacts {
            consecutive_failures: failures,
            last_failed: failed,
            lag_seconds: lag,
            age_seconds: 86_400.0,
        }
    }

    #[test]
    fn a_mailbox_is_healthy_while_it_syncs_on_time() {
        assert_eq!(
            mailbox_status(&facts(0, false, Some(30.0)), MINUTE).0,
            Status::Healthy
        );
        // A fresh mailbox waits for its first sync.
        let fresh = SyncFacts {
            age_seconds: 20.0,
            ..facts(0, false, None)
        };
        assert_eq!(mailbox_status(&fresh, MINUTE).0, Status::Healthy);
    }

    #[test]
    fn a_mailbox_is_degraded_after_one_failure_or_when_late() {
        assert_eq!(
            mailbox_status(&facts(1, true, Some(120.0)), MINUTE).0,
            Status::Degraded
        );
        // Late: more than 3 intervals, with a floor of 5 minutes.
        assert_eq!(
            mailbox_status(&facts(0, false, Some(240.0)), MINUTE).0,
            Status::Healthy
        );
        assert_eq!(
            mailbox_status(&facts(0, false, Some(400.0)), MINUTE).0,
            Status::Degraded
        );
        let hourly = Duration::from_secs(3600);
        assert_eq!(
            mailbox_status(&facts(0, false, Some(7000.0)), hourly).0,
            Status::Healthy
        );
        assert_eq!(
            mailbox_status(&facts(0, false, None), MINUTE).0,
            Status::Degraded
        );
    }

    #[test]
    fn a_mailbox_is_in_error_after_three_failures_or_a_failure_after_an_old_success() {
        let (s, why) = mailbox_status(&facts(3, true, Some(60.0)), MINUTE);
        assert_eq!(s, Status::Error);
        assert_eq!(why.as_deref(), Some("3 syncs in a row failed"));
        assert_eq!(
            mailbox_status(&facts(1, true, Some(3700.0)), MINUTE).0,
            Status::Error
        );
        assert_eq!(
            mailbox_status(&facts(1, true, None), MINUTE).0,
            Status::Error
        );
    }
}
