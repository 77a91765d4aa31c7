//! The instant first answer: a new lead's first text, or the web form, ad form or
//! marketplace lead that created it (when it gave a phone), gets a text within a tick (a few
//! seconds), open or closed — the AI responder's words when open (rules by default),
//! "we're closed until 7:00 am Monday, here is the booking link" when closed. Guards: the
//! account turned it on; the lead did not opt out; nobody (person or bot) has written to
//! the lead yet, and a person who answers before it goes cancels it; once per lead; never
//! to an autoresponder. An answer is a reply, so quiet hours do not hold it. Email has
//! its own automatic answer (with the RFC 3834 guard), chat answers live, and a missed
//! call its text-back.

use chrono::{DateTime, Utc};

use crate::domain::{AccountId, Channel};
use crate::error::Result;
use crate::state::AppState;

/// How old a first message may be and still get its instant answer.
const WINDOW_MINUTES: i64 = 10;

/// Whether a text looks written by a machine (an autoresponder, a bot, a notification):
/// those get no automatic answer, so two machines never talk to each other.
pub fn looks_automated(text: &str) -> bool {
    let t = text.to_lowercase();
    [
        "auto-reply",
        "autoreply",
        "auto reply",
        "automatic reply",
        "automated message",
        "this is an automated",
        "do not reply",
        "don't reply",
        "no-reply",
        "noreply",
        "out of office",
        "verification code",
        "your code is",
        "msg&data rates",
        "msg & data rates",
        "reply stop to",
    ]
    .iter()
    .any(|m| t.contains(m))
}

#[derive(sqlx::FromRow)]
struct First {
    id: i64,
    account_id: AccountId,
    lead_id: i64,
    kind: String,
    content: Option<String>,
    timestamp: DateTime<Utc>,
    phone: Option<String>,
    name: Option<String>,
}

/// Answers the new leads' first texts of the last minutes; how many were queued.
pub async fn run(state: &AppState, now: DateTime<Utc>) -> Result<u64> {
    let firsts: Vec<First> = sqlx::query_as(
        "select c.id, c.account_id, c.lead_id, c.type as kind, c.content, c.\"timestamp\", l.phone, l.name
         from accounts a join communications c on c.account_id = a.id
         join leads l on l.id = c.lead_id
         where a.instant_answers and c.type in ('sms', 'form') and c.direction = 'inbound'
           and c.\"timestamp\" > $1 - make_interval(mins => $2) and l.sms_opted_out_at is null
           and not exists (select 1 from communications o where o.lead_id = c.lead_id and o.direction = 'outbound')
           and not exists (select 1 from communications e where e.lead_id = c.lead_id and e.direction = 'inbound'
                           and (e.\"timestamp\", e.id) < (c.\"timestamp\", c.id))
           and not exists (select 1 from outbox x where x.account_id = c.account_id
                           and x.idempotency_key = 'instant:' || c.lead_id)",
    )
    .bind(now)
    .bind(WINDOW_MINUTES as i32)
    .fetch_all(&state.pool)
    .await?;
    let mut queued = 0;
    for f in firsts {
        let (Some(phone), false) = (
            f.phone.as_deref(),
            looks_automated(f.content.as_deref().unwrap_or("")),
        ) else {
            continue;
        };
        let hours = crate::hours::store::of_account(&state.pool, f.account_id).await?;
        let (text, ai) = if hours.is_open(now) {
            match crate::ai::service::reply_for_lead(
                state,
                f.account_id,
                f.lead_id,
                Channel::Sms,
                None,
            )
            .await?
            {
                Some(reply) => (reply.text, true),
                None => continue,
            }
        } else {
            let company = crate::ai::service::load_company(&state.pool, f.account_id).await?;
            let name: String = sqlx::query_scalar("select name from accounts where id = $1")
                .bind(f.account_id)
                .fetch_one(&state.pool)
                .await?;
            let first = f.name.as_deref().and_then(|n| n.split_whitespace().next());
            let company_name = company.company_name.clone().unwrap_or(name);
            (
                crate::ai::closed::answer(
                    if f.kind == "form" {
                        "reaching out"
                    } else {
                        "texting"
                    },
                    &company_name,
                    first,
                    &hours,
                    now,
                    company.booking_link.as_deref(),
                ),
                false,
            )
        };
        let sent = crate::channels::sms::send::enqueue_from_account(
            state,
            &state.pool,
            f.account_id,
            crate::channels::sms::send::SmsJob {
                lead_id: Some(f.lead_id),
                ai_generated: ai,
                reply_to_since: Some(f.timestamp),
                ..crate::channels::sms::send::SmsJob::automatic(phone, &text, "instant answer")
            },
            &format!("instant:{}", f.lead_id),
        )
        .await?;
        if sent.is_some() {
            queued += 1;
            super::log(
                &state.pool,
                f.account_id,
                now,
                None,
                None,
                Some(f.lead_id),
                None,
                "sent",
                Some(&format!("instant answer to message {}", f.id)),
                sent,
            )
            .await?;
        }
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn machines_get_no_automatic_answer() {
        for t in [
            "Auto-reply: I'm away",
            "Your code is 123456",
            "Out of office until Monday",
            "Msg&data rates may apply. Reply STOP to end",
        ] {
            assert!(looks_automated(t), "{t}");
        }
        for t in [
            "Hail hit my roof last night",
            "Can you come Tuesday?",
            "stop by anytime",
        ] {
            assert!(!looks_automated(t), "{t}");
        }
    }
}
