//! Telnyx SMS: numbers, and the latest outcome of a send or an event.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::{with_quarantine, Details, IntegrationHealth, Kind, Status};
use crate::domain::AccountId;

#[derive(Debug, Serialize, ToSchema)]
pub struct SmsDetails {
    pub numbers: Vec<String>,
    /// Telnyx messaging events received for this account in the last 24 h.
    pub webhook_events_24h: i64,
    /// Sends that failed for good in the last 24 h (never accepted by Telnyx).
    pub failed_sends_24h: i64,
    /// Texts Telnyx accepted but reported undelivered in the last 24 h.
    pub failed_deliveries_24h: i64,
    /// Telnyx events that could not be stored and wait in the quarantine.
    pub quarantined: i64,
}

/// What the SMS records say.
#[derive(Debug, Clone, Copy)]
pub struct SmsFacts {
    pub numbers: usize,
    pub last_success_at: Option<DateTime<Utc>>,
    /// When Telnyx last refused a send (a 4xx: bad key, number not on the profile…).
    pub last_error_at: Option<DateTime<Utc>>,
    /// `last_error_at` is within the last 24 h.
    pub error_in_24h: bool,
    pub failed_sends_24h: i64,
    pub failed_deliveries_24h: i64,
}

/// SMS status:
/// * `error` — no number is connected; or Telnyx refused a send more recently than
///   anything was sent, delivered or received (or nothing ever was);
/// * `degraded` — in the last 24 h a send failed for good, a carrier reported a text
///   undelivered, or Telnyx refused a send (even if later ones went through);
/// * `healthy` — otherwise, also before the first text.
pub fn sms_status(f: &SmsFacts) -> (Status, Option<String>) {
    if f.numbers == 0 {
        return (Status::Error, Some("no phone number is connected".into()));
    }
    if let Some(err) = f.last_error_at {
        if f.last_success_at.is_none_or(|ok| err > ok) {
            return (
                Status::Error,
                Some("Telnyx refused the latest send and nothing has worked since".into()),
            );
        }
    }
    let mut why = vec![];
    if f.failed_sends_24h > 0 {
        why.push(format!("{} failed sends in 24 h", f.failed_sends_24h));
    }
    if f.failed_deliveries_24h > 0 {
        why.push(format!(
            "{} undelivered texts in 24 h",
            f.failed_deliveries_24h
        ));
    }
    if f.error_in_24h {
        why.push("Telnyx refused a send in the last 24 h".into());
    }
    if why.is_empty() {
        (Status::Healthy, None)
    } else {
        (Status::Degraded, Some(why.join("; ")))
    }
}

#[derive(sqlx::FromRow)]
struct SmsRow {
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
    error_in_24h: bool,
    numbers: Vec<String>,
    webhook_events_24h: i64,
    failed_sends_24h: i64,
    failed_deliveries_24h: i64,
    last_success_at: Option<DateTime<Utc>>,
    quarantined: i64,
}

/// The account's Telnyx integration (one query).
pub async fn sms(pool: &PgPool, account: AccountId) -> sqlx::Result<Vec<IntegrationHealth>> {
    let row: Option<SmsRow> = sqlx::query_as(
        "select i.last_error, i.last_error_at,
                coalesce(i.last_error_at > now() - interval '24 hours', false) as error_in_24h,
                array(select n.phone_number from sms_numbers n where n.account_id = $1
                      order by n.created_at, n.phone_number) as numbers,
                (select count(*) from webhook_events w
                  where w.account_id = $1 and w.provider = 'telnyx' and w.event_type like 'message.%'
                    and w.received_at > now() - interval '24 hours') as webhook_events_24h,
                (select count(*) from outbox o
                  where o.account_id = $1 and o.status in ('failed', 'unknown') and o.kind = $2
                    and o.updated_at > now() - interval '24 hours') as failed_sends_24h,
                (select count(*) from communications c
                  where c.account_id = $1 and c.type = 'sms' and c.direction = 'outbound'
                    and c.status in ('sending_failed', 'delivery_failed')
                    and c.\"timestamp\" > now() - interval '24 hours') as failed_deliveries_24h,
                (select count(*) from quarantine q where q.account_id = $1 and q.source = 'telnyx') as quarantined,
                (select max(c.\"timestamp\") from communications c
                  where c.account_id = $1 and c.type = 'sms'
                    and (c.direction = 'inbound' or c.status in ('sent', 'delivered'))) as last_success_at
         from sms_integrations i where i.account_id = $1 and i.is_active",
    )
    .bind(account)
    .bind(crate::channels::sms::OUTBOX_KIND)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else {
        return Ok(vec![IntegrationHealth::not_configured(Kind::Sms, "Telnyx")]);
    };
    let (status, reason) = with_quarantine(
        sms_status(&SmsFacts {
            numbers: r.numbers.len(),
            last_success_at: r.last_success_at,
            last_error_at: r.last_error.as_ref().and(r.last_error_at),
            error_in_24h: r.error_in_24h,
            failed_sends_24h: r.failed_sends_24h,
            failed_deliveries_24h: r.failed_deliveries_24h,
        }),
        r.quarantined,
    );
    Ok(vec![IntegrationHealth {
        kind: Kind::Sms,
        name: "Telnyx".into(),
        configured: true,
        status,
        reason,
        last_success_at: r.last_success_at,
        last_error_at: r.last_error.as_ref().and(r.last_error_at),
        last_error: r.last_error,
        details: Details::Sms(SmsDetails {
            numbers: r.numbers,
            webhook_events_24h: r.webhook_events_24h,
            failed_sends_24h: r.failed_sends_24h,
            failed_deliveries_24h: r.failed_deliveries_24h,
            quarantined: r.quarantined,
        }),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sms_facts() -> SmsFacts {
        SmsFacts {
            numbers: 1,
            last_success_at: None,
            last_error_at: None,
            error_in_24h: false,
            failed_sends_24h: 0,
            failed_deliveries_24h: 0,
        }
    }

    #[test]
    fn sms_status_follows_the_latest_outcome_and_the_last_day() {
        assert_eq!(sms_status(&sms_facts()).0, Status::Healthy);
        let now = Utc::now();
        let refused = SmsFacts {
            last_error_at: Some(now),
            error_in_24h: true,
            last_success_at: Some(now - chrono::Duration::hours(1)),
            ..sms_facts()
        };
        assert_eq!(sms_status(&refused).0, Status::Error);
        let recovered = SmsFacts {
            last_success_at: Some(now + chrono::Duration::seconds(5)),
            ..refused
        };
        assert_eq!(sms_status(&recovered).0, Status::Degraded);
        let failed_send = SmsFacts {
            failed_sends_24h: 2,
            ..sms_facts()
        };
        assert_eq!(sms_status(&failed_send).0, Status::Degraded);
        let no_numbers = SmsFacts {
            numbers: 0,
            ..sms_facts()
        };
        assert_eq!(sms_status(&no_numbers).0, Status::Error);
    }
}
