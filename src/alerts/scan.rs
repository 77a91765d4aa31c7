//! Finds the alerts that are due (run by the automation tick) and delivers each once:
//! a row per person (unique per person and subject, so replicas racing on one alert
//! make it once), then, as each person chose and unless muted, an email through the
//! account's mailbox and a text from its number (held through quiet hours).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::{announce_at, muted, overdue_at, recipients, Kind, Person};
use crate::auth::Role;
use crate::domain::AccountId;
use crate::error::Result;
use crate::hours::{BusinessHours, Window};
use crate::state::AppState;

/// How far back the scan looks (older things were dealt with, or are history).
const LOOKBACK_DAYS: i64 = 3;

/// Something to alert about.
#[derive(Debug, sqlx::FromRow)]
struct Subject {
    account_id: AccountId,
    lead_id: i64,
    /// The communication, for unanswered messages.
    communication_id: Option<i64>,
    at: DateTime<Utc>,
    assigned_user_id: Option<i64>,
    who: String,
    detail: Option<String>,
    first_minutes: i32,
    escalate_minutes: i32,
}

/// Whom to reach and how.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Recipient {
    id: i64,
    role: Role,
    email: String,
    phone: Option<String>,
    alert_channels: Vec<String>,
    mute_start: Option<chrono::NaiveTime>,
    mute_end: Option<chrono::NaiveTime>,
}

/// Makes and delivers every alert due at `now`; how many people were alerted.
pub async fn run(state: &AppState, now: DateTime<Utc>) -> Result<u64> {
    let since = now - Duration::days(LOOKBACK_DAYS);
    // Accounts with people; only what happened after their first person joined.
    let with_people = "select account_id, min(created_at) as joined from users where disabled_at is null group by account_id";
    let new_leads: Vec<Subject> = sqlx::query_as(&format!(
        "select l.account_id, l.id as lead_id, null::bigint as communication_id, l.created_at as at, l.assigned_user_id,
                coalesce(l.name, l.phone, l.email, 'someone') as who, l.source as detail,
                a.alert_first_minutes as first_minutes, a.alert_escalate_minutes as escalate_minutes
         from ({with_people}) p join leads l on l.account_id = p.account_id join accounts a on a.id = l.account_id
         where l.created_at > $1 and l.created_at >= p.joined
           -- An imported lead is history, not news (src/imports/).
           and l.imported_at is null
           and not exists (select 1 from alerts x where x.account_id = l.account_id and x.dedupe_key = 'new_lead:' || l.id)"
    ))
    .bind(since)
    .fetch_all(&state.pool)
    .await?;
    let hot: Vec<Subject> = sqlx::query_as(&format!(
        "select l.account_id, l.id as lead_id, null::bigint as communication_id, l.last_activity_at as at, l.assigned_user_id,
                coalesce(l.name, l.phone, l.email, 'someone') as who, l.score::text as detail,
                a.alert_first_minutes as first_minutes, a.alert_escalate_minutes as escalate_minutes
         from ({with_people}) p join leads l on l.account_id = p.account_id join accounts a on a.id = l.account_id
         where l.score_band = 'HOT' and l.last_activity_at > $1 and l.last_activity_at >= p.joined
           -- An imported lead counts once something happened after its import.
           and (l.imported_at is null or l.last_activity_at > l.imported_at)
           and not exists (select 1 from alerts x where x.account_id = l.account_id and x.dedupe_key = 'hot_lead:' || l.id)"
    ))
    .bind(since)
    .fetch_all(&state.pool)
    .await?;
    let answered = crate::communications::person_answered_sql("c.lead_id", "c.\"timestamp\"");
    let waiting: Vec<Subject> = sqlx::query_as(&format!(
        "select c.account_id, c.lead_id, c.id as communication_id, c.\"timestamp\" as at, l.assigned_user_id,
                coalesce(l.name, l.phone, l.email, 'someone') as who, left(c.content, 120) as detail,
                a.alert_first_minutes as first_minutes, a.alert_escalate_minutes as escalate_minutes
         from ({with_people}) p
         join communications c on c.account_id = p.account_id and c.\"timestamp\" > $1 and c.\"timestamp\" >= p.joined
         join leads l on l.id = c.lead_id join accounts a on a.id = c.account_id
         where c.direction = 'inbound' and coalesce(c.run_start, true)
           and not {answered}
           and not exists (select 1 from alerts x where x.account_id = c.account_id and x.dedupe_key = 'escalation:' || c.id)"
    ))
    .bind(since)
    .fetch_all(&state.pool)
    .await?;
    if new_leads.is_empty() && hot.is_empty() && waiting.is_empty() {
        return Ok(0);
    }
    let mut ctx = Context {
        state,
        now,
        hours: HashMap::new(),
        people: HashMap::new(),
        alerted: 0,
    };
    for s in &new_leads {
        let at = announce_at(s.at, ctx.hours(s.account_id).await?);
        if now >= at {
            let source = super::came_by(s.detail.as_deref());
            ctx.alert(
                Kind::NewLead,
                s,
                s.lead_id,
                &format!("New lead{source}: {}", s.who),
            )
            .await?;
        }
    }
    for s in &hot {
        ctx.alert(
            Kind::HotLead,
            s,
            s.lead_id,
            &format!(
                "{} is now a HOT lead (score {})",
                s.who,
                s.detail.as_deref().unwrap_or("?")
            ),
        )
        .await?;
    }
    for s in &waiting {
        let hours = ctx.hours(s.account_id).await?.clone();
        let cid = s.communication_id.unwrap_or_default();
        let said = s
            .detail
            .as_deref()
            .map(|d| format!(": \"{d}\""))
            .unwrap_or_default();
        if now >= overdue_at(s.at, &hours, i64::from(s.first_minutes)) {
            let m = format!(
                "{} has waited {} min for an answer{said}",
                s.who, s.first_minutes
            );
            ctx.alert(Kind::Unanswered, s, cid, &m).await?;
        }
        if now >= overdue_at(s.at, &hours, i64::from(s.escalate_minutes)) {
            let m = format!(
                "Still unanswered after {} min: {}{said}",
                s.escalate_minutes, s.who
            );
            ctx.alert(Kind::Escalation, s, cid, &m).await?;
        }
    }
    Ok(ctx.alerted)
}

struct Context<'a> {
    state: &'a AppState,
    now: DateTime<Utc>,
    hours: HashMap<AccountId, BusinessHours>,
    people: HashMap<AccountId, Vec<Recipient>>,
    alerted: u64,
}

impl Context<'_> {
    async fn hours(&mut self, account: AccountId) -> Result<&BusinessHours> {
        if let std::collections::hash_map::Entry::Vacant(v) = self.hours.entry(account) {
            v.insert(crate::hours::store::of_account(&self.state.pool, account).await?);
        }
        Ok(&self.hours[&account])
    }

    async fn people(&mut self, account: AccountId) -> Result<Vec<Recipient>> {
        if let std::collections::hash_map::Entry::Vacant(v) = self.people.entry(account) {
            let rows: Vec<Recipient> = sqlx::query_as(
                "select id, role, email, phone, alert_channels, mute_start, mute_end from users
                 where account_id = $1 and disabled_at is null and password_hash is not null order by id",
            )
            .bind(account)
            .fetch_all(&self.state.pool)
            .await?;
            v.insert(rows);
        }
        Ok(self.people[&account].clone())
    }

    /// One alert of `kind` about `subject` (its id in `key_of`) to each of its people.
    async fn alert(&mut self, kind: Kind, s: &Subject, key_of: i64, message: &str) -> Result<()> {
        let people = self.people(s.account_id).await?;
        let zone = self.hours(s.account_id).await?.zone;
        let persons: Vec<Person> = people
            .iter()
            .map(|p| Person {
                id: p.id,
                role: p.role,
            })
            .collect();
        let key = kind.dedupe_key(key_of);
        for id in recipients(kind, s.assigned_user_id, &persons) {
            let Some(p) = people.iter().find(|p| p.id == id) else {
                continue;
            };
            let made: Option<i64> = sqlx::query_scalar(
                "insert into alerts (account_id, user_id, kind, lead_id, communication_id, message, dedupe_key, created_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (user_id, dedupe_key) do nothing returning id",
            )
            .bind(s.account_id)
            .bind(p.id)
            .bind(kind)
            .bind(s.lead_id)
            .bind(s.communication_id)
            .bind(message)
            .bind(&key)
            .bind(self.now)
            .fetch_optional(&self.state.pool)
            .await?;
            let Some(alert_id) = made else { continue };
            self.alerted += 1;
            let mute = match (p.mute_start, p.mute_end) {
                (Some(start), Some(end)) if start != end => Some(Window { start, end }),
                _ => None,
            };
            if muted(self.now, &zone, mute) {
                continue;
            }
            self.deliver(alert_id, s, p, message).await?;
        }
        Ok(())
    }

    /// The email and text of one alert, as the person chose.
    async fn deliver(
        &self,
        alert_id: i64,
        s: &Subject,
        p: &Recipient,
        message: &str,
    ) -> Result<()> {
        let link = format!(
            "{}/leads/{}",
            self.state.public_base(&axum::http::HeaderMap::new()),
            s.lead_id
        );
        let wants = |c: &str| p.alert_channels.iter().any(|x| x == c);
        let email = match wants("email") {
            true => {
                let body = format!("{message}\n\nOpen the lead: {link}\n\n(You get these alerts as set under My account.)\n");
                crate::channels::email::send::queue_team_email(
                    self.state,
                    s.account_id,
                    &p.email,
                    &format!("[Leadline] {message}"),
                    &body,
                )
                .await?
            }
            false => None,
        };
        let sms = match (wants("sms"), p.phone.as_deref()) {
            (true, Some(phone)) => {
                crate::channels::sms::send::enqueue_from_account(
                    self.state,
                    &self.state.pool,
                    s.account_id,
                    crate::channels::sms::send::SmsJob {
                        team: true,
                        ..crate::channels::sms::send::SmsJob::automatic(
                            phone,
                            &format!("{message} {link}"),
                            "team alert",
                        )
                    },
                    &format!("alert:{alert_id}"),
                )
                .await?
            }
            _ => None,
        };
        if email.is_some() || sms.is_some() {
            sqlx::query("update alerts set email_outbox_id = $2, sms_outbox_id = $3 where id = $1")
                .bind(alert_id)
                .bind(email)
                .bind(sms)
                .execute(&self.state.pool)
                .await?;
        }
        Ok(())
    }
}
