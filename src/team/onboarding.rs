//! Invitation and reset links: making them, mailing them through the account's own
//! mailbox (or handing them to the admin when there is none), and using them.

use serde_json::json;

use crate::audit::{self, Entry};
use crate::auth::links::{self, Purpose};
use crate::auth::{password, users};
use crate::domain::{AccountId, Email};
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// A link made for someone: mailed, or to pass on by hand.
#[derive(Debug)]
pub struct Delivered {
    /// The full URL (to show the admin when it was not mailed).
    pub url: String,
    /// The outbox item that mails it, when the account has a mailbox.
    pub outbox_id: Option<i64>,
}

/// Makes a link of `purpose` for the user and mails it when the account can send mail.
pub async fn deliver(
    state: &AppState,
    base: &str,
    account: AccountId,
    user: &users::User,
    purpose: Purpose,
    created_by: Option<i64>,
) -> Result<Delivered> {
    let token = links::issue(&state.pool, account, user.id, purpose, created_by).await?;
    let url = format!("{base}{}", links::path(&token));
    let company: String = sqlx::query_scalar("select name from accounts where id = $1")
        .bind(account)
        .fetch_one(&state.pool)
        .await?;
    let hello = if user.name.is_empty() {
        "Hello".to_string()
    } else {
        format!("Hello {}", user.name)
    };
    let (subject, body) = match purpose {
        Purpose::Invite => (
            format!("You're invited to {company} on Leadline"),
            format!(
                "{hello},\n\nYou have been invited to {company}'s Leadline, where every lead's \
                 emails, texts, calls and chats land in one place.\n\nSet your password here \
                 (the link works once, for {} hours):\n{url}\n\nIf you did not expect this, ignore this email.\n",
                purpose.hours()
            ),
        ),
        Purpose::Reset => (
            format!("Reset your Leadline password for {company}"),
            format!(
                "{hello},\n\nSomeone (hopefully you) asked to reset your Leadline password.\n\
                 Choose a new one here (the link works once, for {} hours):\n{url}\n\n\
                 If you did not ask, ignore this email: your password stays as it is.\n",
                purpose.hours()
            ),
        ),
    };
    let outbox_id = crate::channels::email::send::queue_team_email(
        state,
        account,
        &user.email,
        &subject,
        &body,
    )
    .await?;
    Ok(Delivered { url, outbox_id })
}

/// "Forgot password": mails a reset link to every active user with this address whose
/// account has a mailbox. Says nothing about whether there was one.
pub async fn forgot(
    state: &AppState,
    base: &str,
    email: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<()> {
    let Some(email) = Email::parse(email) else {
        return Ok(());
    };
    // One request per address and per client every minute at most, across replicas.
    let client = crate::throttle::client_key(ip);
    for key in [format!("forgot:{}", &*email), format!("forgot:{client}")] {
        if crate::throttle::hit(&state.pool, &key, 3, 60)
            .await?
            .is_some()
        {
            return Ok(());
        }
    }
    let people: Vec<(AccountId, i64)> =
        sqlx::query_as("select account_id, id from users where email = $1 and disabled_at is null")
            .bind(&*email)
            .fetch_all(&state.pool)
            .await?;
    for (account, id) in people {
        let user = users::get(&state.pool, account, id).await?;
        let sent = deliver(state, base, account, &user, Purpose::Reset, None).await?;
        audit::record(
            &state.pool,
            Entry {
                account,
                user_id: Some(id),
                api_key_id: None,
                actor: user.email.clone(),
                action: "user.reset_requested",
                target: Some(format!("user:{id}")),
                details: json!({ "emailed": sent.outbox_id.is_some() }),
                ip,
            },
        )
        .await?;
    }
    Ok(())
}

/// Who used a link to set their password.
#[derive(Debug)]
pub struct Accepted {
    pub account: AccountId,
    pub user_id: i64,
    pub email: String,
}

/// Sets the password through a link (and the name, for an invitation). The link is used
/// up only when the password is acceptable.
pub async fn accept(
    state: &AppState,
    token: &str,
    name: Option<&str>,
    new_password: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<Accepted> {
    let gone =
        || ApiError::NotFound("link (it was used, has expired, or was replaced by a newer one)");
    let link = links::peek(&state.pool, token).await?.ok_or_else(gone)?;
    password::check_policy(new_password, &link.email)?;
    let name = match name {
        Some(n) => Some(users::clean_name(Some(n))?),
        None => None,
    };
    let phc = password::hash(new_password).await?;
    let link = links::consume(&state.pool, token).await?.ok_or_else(gone)?;
    users::set_password(&state.pool, link.user_id, &phc).await?;
    if let Some(n) = name.filter(|n| !n.is_empty()) {
        sqlx::query("update users set name = $2 where id = $1")
            .bind(link.user_id)
            .bind(n)
            .execute(&state.pool)
            .await?;
    }
    audit::record(
        &state.pool,
        Entry {
            account: link.account_id,
            user_id: Some(link.user_id),
            api_key_id: None,
            actor: link.email.clone(),
            action: "user.password_set",
            target: Some(format!("user:{}", link.user_id)),
            details: json!({ "through": match link.purpose { Purpose::Invite => "invitation", Purpose::Reset => "reset" } }),
            ip,
        },
    )
    .await?;
    Ok(Accepted {
        account: link.account_id,
        user_id: link.user_id,
        email: link.email,
    })
}
