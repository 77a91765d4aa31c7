//! Automatic replies to inbound email: the guard that refuses to answer machines, lists,
//! our own addresses and recently answered leads (RFC 3834), and queuing the AI's reply
//! in the lead's thread.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::communications::Communication;
use crate::domain::Channel;
use crate::error::Result;
use crate::state::AppState;

use super::integration::EmailIntegration;
use super::parse::ParsedEmail;
use super::OutgoingEmail;

/// Why no automatic reply is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// `Auto-Submitted` other than `no`.
    AutoSubmitted,
    /// `Precedence: bulk | list | junk`.
    Bulk,
    /// Has a `List-Id`.
    MailingList,
    /// noreply, mailer-daemon, postmaster …
    MachineSender,
    /// One of the roofer's own addresses (a loop).
    OwnAddress,
    /// Auto-replied to this lead within the cooldown.
    Cooldown,
    /// No sender address to answer.
    NoSender,
}

/// What the guard looks at.
#[derive(Debug, Clone, Default)]
pub struct GuardInput<'a> {
    pub from: Option<&'a str>,
    pub auto_submitted: Option<&'a str>,
    pub precedence: Option<&'a str>,
    pub list_id: Option<&'a str>,
    pub own_addresses: &'a [String],
    pub last_auto_reply: Option<DateTime<Utc>>,
}

/// Whether an automatic reply may be sent; `Err` names the first reason it may not.
pub fn guard(i: &GuardInput, now: DateTime<Utc>, cooldown: Duration) -> Result<(), Skip> {
    if i.auto_submitted
        .is_some_and(|v| !v.trim().eq_ignore_ascii_case("no"))
    {
        return Err(Skip::AutoSubmitted);
    }
    if i.precedence.is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "bulk" | "list" | "junk"
        )
    }) {
        return Err(Skip::Bulk);
    }
    if i.list_id.is_some_and(|v| !v.trim().is_empty()) {
        return Err(Skip::MailingList);
    }
    let Some(from) = i.from.map(|f| f.trim().to_ascii_lowercase()) else {
        return Err(Skip::NoSender);
    };
    let local = from.split('@').next().unwrap_or_default();
    let machine = [
        "noreply",
        "no-reply",
        "no_reply",
        "donotreply",
        "do-not-reply",
        "mailer-daemon",
        "postmaster",
        "bounce",
        "bounces",
    ];
    if machine
        .iter()
        .any(|m| local == *m || local.starts_with(&format!("{m}+")))
        || local.contains("noreply")
        || local.contains("no-reply")
    {
        return Err(Skip::MachineSender);
    }
    if i.own_addresses
        .iter()
        .any(|o| o.eq_ignore_ascii_case(&from))
    {
        return Err(Skip::OwnAddress);
    }
    if i.last_auto_reply.is_some_and(|at| now - at < cooldown) {
        return Err(Skip::Cooldown);
    }
    Ok(())
}

/// Answers an inbound email automatically when the integration allows it and the guard
/// passes: asks the AI responder for a reply and queues it in the same thread. Returns
/// the outbox id when one was queued.
pub async fn maybe_reply(
    state: &AppState,
    integration: &EmailIntegration,
    parsed: &ParsedEmail,
    inbound: &Communication,
) -> Result<Option<i64>> {
    if !integration.auto_respond || !integration.is_active {
        return Ok(None);
    }
    let account = integration.account_id;
    let own: Vec<String> =
        sqlx::query_scalar("select lower(email) from email_integrations where account_id = $1")
            .bind(account)
            .fetch_all(&state.pool)
            .await?;
    let last: Option<DateTime<Utc>> = sqlx::query_scalar(
        "select max(created_at) from email_auto_replies where account_id = $1 and lead_id = $2",
    )
    .bind(account)
    .bind(inbound.lead_id)
    .fetch_one(&state.pool)
    .await?;
    let input = GuardInput {
        from: parsed.from.as_deref(),
        auto_submitted: parsed.auto_submitted.as_deref(),
        precedence: parsed.precedence.as_deref(),
        list_id: parsed.list_id.as_deref(),
        own_addresses: &own,
        last_auto_reply: last,
    };
    let cooldown = state.config.email.autoreply_cooldown;
    if let Err(why) = guard(&input, Utc::now(), cooldown) {
        tracing::debug!(?why, communication = inbound.id, "no automatic reply");
        return Ok(None);
    }
    let Some(reply) = crate::ai::service::reply_for_lead(
        state,
        account,
        inbound.lead_id,
        Channel::Email,
        parsed.subject.as_deref(),
    )
    .await?
    else {
        return Ok(None);
    };
    let Some(to) = parsed.from.clone() else {
        return Ok(None);
    };
    // Closed: the answer says when the business opens and how to book.
    let hours = crate::hours::store::of_account(&state.pool, account).await?;
    let now = Utc::now();
    let body_text = if hours.is_open(now) {
        reply.text.clone()
    } else {
        let facts = crate::ai::service::load_company(&state.pool, account).await?;
        let name: String = sqlx::query_scalar("select name from accounts where id = $1")
            .bind(account)
            .fetch_one(&state.pool)
            .await?;
        let company = facts.company_name.clone().unwrap_or(name);
        crate::ai::closed::answer(
            "emailing",
            &company,
            None,
            &hours,
            now,
            facts.booking_link.as_deref(),
        )
    };
    let mut tx = crate::db::begin(&state.pool).await?;
    // The cooldown check and the claim are one statement: concurrent inbound messages
    // from one lead cannot both pass.
    let claimed: Option<i64> = sqlx::query_scalar(
        "insert into email_auto_replies (account_id, lead_id, communication_id)
         select $1, $2, $3
         where not exists (select 1 from email_auto_replies
                           where account_id = $1 and lead_id = $2 and created_at > now() - make_interval(secs => $4))
         returning id",
    )
    .bind(account)
    .bind(inbound.lead_id)
    .bind(inbound.id)
    .bind(cooldown.num_seconds() as f64)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(claim) = claimed else {
        return Ok(None);
    };
    let subject = reply
        .subject
        .clone()
        .unwrap_or_else(|| super::send::reply_subject(parsed.subject.as_deref()));
    let mut references = parsed.references.clone();
    if let Some(id) = &parsed.message_id {
        references.push(id.clone());
    }
    let email = OutgoingEmail {
        to,
        subject,
        body_text,
        body_html: None,
        in_reply_to: parsed.message_id.clone(),
        references,
        thread_key: inbound.thread_key.clone(),
        lead_id: Some(inbound.lead_id),
        ai_generated: true,
        auto_reply: true,
        message_id: None,
        ai: Some(
            json!({"provider": reply.provider, "model": reply.model, "fallback_reason": reply.fallback_reason, "intents": reply.intents}),
        ),
        team: false,
        automation: None,
    };
    let key = format!("email-autoreply:{}", inbound.id);
    let outbox_id = super::send::queue(&mut *tx, integration, email, Some(&key)).await?;
    sqlx::query("update email_auto_replies set outbox_id = $2 where id = $1")
        .bind(claim)
        .bind(outbox_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(outbox_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_refuses_machines_lists_loops_and_recent_leads() {
        let now = Utc::now();
        let own = vec!["roofer@acme.test".to_string()];
        let base = GuardInput {
            from: Some("dana@example.com"),
            own_addresses: &own,
            ..GuardInput::default()
        };
        let cases: Vec<(&str, GuardInput, Result<(), Skip>)> = vec![
            ("a plain lead", base.clone(), Ok(())),
            (
                "Auto-Submitted: no",
                GuardInput {
                    auto_submitted: Some("no"),
                    ..base.clone()
                },
                Ok(()),
            ),
            (
                "Auto-Submitted: auto-replied",
                GuardInput {
                    auto_submitted: Some("auto-replied"),
                    ..base.clone()
                },
                Err(Skip::AutoSubmitted),
            ),
            (
                "Auto-Submitted: auto-generated",
                GuardInput {
                    auto_submitted: Some("Auto-Generated"),
                    ..base.clone()
                },
                Err(Skip::AutoSubmitted),
            ),
            (
                "Precedence: bulk",
                GuardInput {
                    precedence: Some("bulk"),
                    ..base.clone()
                },
                Err(Skip::Bulk),
            ),
            (
                "Precedence: list",
                GuardInput {
                    precedence: Some("List"),
                    ..base.clone()
                },
                Err(Skip::Bulk),
            ),
            (
                "Precedence: junk",
                GuardInput {
                    precedence: Some("junk"),
                    ..base.clone()
                },
                Err(Skip::Bulk),
            ),
            (
                "Precedence: first-class",
                GuardInput {
                    precedence: Some("first-class"),
                    ..base.clone()
                },
                Ok(()),
            ),
            (
                "List-Id",
                GuardInput {
                    list_id: Some("<roofers.lists.test>"),
                    ..base.clone()
                },
                Err(Skip::MailingList),
            ),
            (
                "noreply",
                GuardInput {
                    from: Some("noreply@shop.test"),
                    ..base.clone()
                },
                Err(Skip::MachineSender),
            ),
            (
                "no-reply",
                GuardInput {
                    from: Some("no-reply@shop.test"),
                    ..base.clone()
                },
                Err(Skip::MachineSender),
            ),
            (
                "mailer-daemon",
                GuardInput {
                    from: Some("MAILER-DAEMON@mx.test"),
                    ..base.clone()
                },
                Err(Skip::MachineSender),
            ),
            (
                "postmaster",
                GuardInput {
                    from: Some("postmaster@mx.test"),
                    ..base.clone()
                },
                Err(Skip::MachineSender),
            ),
            (
                "our own address",
                GuardInput {
                    from: Some("Roofer@Acme.test"),
                    ..base.clone()
                },
                Err(Skip::OwnAddress),
            ),
            (
                "auto-replied an hour ago",
                GuardInput {
                    last_auto_reply: Some(now - Duration::hours(1)),
                    ..base.clone()
                },
                Err(Skip::Cooldown),
            ),
            (
                "auto-replied five hours ago",
                GuardInput {
                    last_auto_reply: Some(now - Duration::hours(5)),
                    ..base.clone()
                },
                Ok(()),
            ),
            (
                "no sender",
                GuardInput {
                    from: None,
                    ..base.clone()
                },
                Err(Skip::NoSender),
            ),
        ];
        for (name, input, want) in cases {
            assert_eq!(guard(&input, now, Duration::hours(4)), want, "{name}");
        }
    }
}
