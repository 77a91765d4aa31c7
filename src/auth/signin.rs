//! Signing a person in: email and password, then (when they turned it on) a two-factor
//! code or a recovery code. Failures are throttled per client IP and per email address
//! (counted in PostgreSQL, so across replicas); an unknown email, a wrong password, a
//! disabled user and one without a password yet all get the same answer after the same
//! work (one Argon2 check), so the form says nothing about who has an account.

use crate::audit::{self, Entry};
use crate::auth::session::{self, Opener};
use crate::auth::{password, totp, users};
use crate::domain::{AccountId, Email};
use crate::error::Result;
use crate::state::AppState;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// Minutes a password that was right waits for its second factor.
pub const CHALLENGE_MINUTES: i64 = 5;
/// Wrong codes allowed on one challenge before the password must be given again.
pub const CHALLENGE_TRIES: i32 = 5;

/// How a sign-in step ended.
#[derive(Debug)]
pub enum Outcome {
    /// Signed in: the new session's cookie token.
    SignedIn { token: String },
    /// The password was right; the second factor is asked next (this challenge token).
    NeedsCode { challenge: String },
    /// Wrong (and nothing more is said).
    Invalid,
    /// Too many failures: wait this many seconds.
    Throttled(i64),
}

fn email_key(email: &str) -> String {
    format!("email:{}", email.trim().to_lowercase())
}

async fn blocked(state: &AppState, keys: &[&str]) -> Result<Option<i64>> {
    let mut wait = None;
    for k in keys {
        wait = wait.max(crate::throttle::blocked(&state.pool, k).await?);
    }
    Ok(wait)
}

async fn failed(state: &AppState, keys: &[&str]) -> Result<Option<i64>> {
    let mut wait = None;
    for k in keys {
        wait = wait.max(crate::throttle::failed(&state.pool, k).await?);
    }
    Ok(wait)
}

fn failure_entry(
    account: AccountId,
    user_id: i64,
    email: &str,
    reason: &str,
    ip: Option<IpAddr>,
) -> Entry<'static> {
    Entry {
        account,
        user_id: Some(user_id),
        api_key_id: None,
        actor: email.to_string(),
        action: "sign_in.failed",
        target: Some(format!("user:{user_id}")),
        details: json!({ "reason": reason }),
        ip,
    }
}

/// A pending second step, with what checking its code needs.
#[derive(sqlx::FromRow)]
struct Challenge {
    challenge_id: i64,
    user_id: i64,
    account_id: AccountId,
    email: String,
    #[sqlx(flatten)]
    secret: totp::StoredSecret,
    totp_last_step: Option<i64>,
}

/// First step: email and password.
pub async fn with_password(
    state: &AppState,
    email: &str,
    pass: &str,
    ip: Option<IpAddr>,
) -> Result<Outcome> {
    let client = crate::throttle::client_key(ip);
    let by_email = email_key(email);
    let keys = [client.as_str(), by_email.as_str()];
    // While blocked nothing is checked, not even a right password.
    if let Some(wait) = blocked(state, &keys).await? {
        return Ok(Outcome::Throttled(wait));
    }
    let candidates = match Email::parse(email) {
        Some(e) => users::credentials(&state.pool, &e).await?,
        None => Vec::new(),
    };
    let mut matched = None;
    let mut checked = false;
    for c in &candidates {
        if let Some(phc) = &c.password_hash {
            checked = true;
            if password::verify(pass, Some(phc)).await? {
                matched = Some(c.clone());
                break;
            }
        }
    }
    if !checked {
        // Same cost as a real check: the time taken says nothing about the address.
        password::verify(pass, None).await?;
    }
    let user = match matched {
        Some(u) if !u.disabled => u,
        other => {
            for c in &candidates {
                let reason = match (&other, c.password_hash.is_some()) {
                    (Some(m), _) if m.id == c.id => "user disabled",
                    (_, false) => "no password set yet",
                    _ => "wrong password",
                };
                audit::record(
                    &state.pool,
                    failure_entry(c.account_id, c.id, &c.email, reason, ip),
                )
                .await?;
            }
            return Ok(match failed(state, &keys).await? {
                Some(wait) => Outcome::Throttled(wait),
                None => Outcome::Invalid,
            });
        }
    };
    crate::throttle::succeeded(&state.pool, &client).await?;
    crate::throttle::succeeded(&state.pool, &by_email).await?;
    if user.totp_enabled {
        let challenge = session::random_token();
        sqlx::query(
            "insert into sign_in_challenges (token_hash, user_id, expires_at)
             values ($1, $2, now() + make_interval(mins => $3::int))",
        )
        .bind(Sha256::digest(challenge.as_bytes()).to_vec())
        .bind(user.id)
        .bind(CHALLENGE_MINUTES as i32)
        .execute(&state.pool)
        .await?;
        return Ok(Outcome::NeedsCode { challenge });
    }
    complete(state, user.account_id, user.id, &user.email, "password", ip).await
}

/// Second step: a code from the authenticator app, or a recovery code.
pub async fn with_code(
    state: &AppState,
    challenge: &str,
    code: &str,
    ip: Option<IpAddr>,
) -> Result<Outcome> {
    let row: Option<Challenge> = sqlx::query_as(
        "select c.id as challenge_id, u.id as user_id, u.account_id, u.email,
                u.totp_secret, u.totp_nonce, u.totp_key_id, u.totp_last_step
         from sign_in_challenges c join users u on u.id = c.user_id
         where c.token_hash = $1 and c.expires_at > now() and c.attempts < $2 and u.disabled_at is null",
    )
    .bind(Sha256::digest(challenge.as_bytes()).to_vec())
    .bind(CHALLENGE_TRIES)
    .fetch_optional(&state.pool)
    .await?;
    let client = crate::throttle::client_key(ip);
    let Some(Challenge {
        challenge_id,
        user_id,
        account_id: account,
        email,
        secret,
        totp_last_step: last_step,
    }) = row
    else {
        return Ok(Outcome::Invalid);
    };
    let by_email = email_key(&email);
    let keys = [client.as_str(), by_email.as_str()];
    if let Some(wait) = blocked(state, &keys).await? {
        return Ok(Outcome::Throttled(wait));
    }
    let secret = secret.open(&state.secrets);
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let mut method = None;
    if let Some(step) = secret.and_then(|s| totp::matching_step(&s, code, now, last_step)) {
        // Atomic: of two sign-ins racing with one code, one wins.
        let took = sqlx::query(
            "update users set totp_last_step = $2 where id = $1 and (totp_last_step is null or totp_last_step < $2)",
        )
        .bind(user_id)
        .bind(step)
        .execute(&state.pool)
        .await?;
        if took.rows_affected() == 1 {
            method = Some("totp");
        }
    }
    if method.is_none() {
        let used: Option<i64> = sqlx::query_scalar(
            "update recovery_codes set used_at = now() where user_id = $1 and code_hash = $2 and used_at is null returning id",
        )
        .bind(user_id)
        .bind(totp::recovery_hash(code))
        .fetch_optional(&state.pool)
        .await?;
        if used.is_some() {
            method = Some("recovery_code");
        }
    }
    let Some(method) = method else {
        sqlx::query("update sign_in_challenges set attempts = attempts + 1 where id = $1")
            .bind(challenge_id)
            .execute(&state.pool)
            .await?;
        audit::record(
            &state.pool,
            failure_entry(account, user_id, &email, "wrong two-factor code", ip),
        )
        .await?;
        return Ok(match failed(state, &keys).await? {
            Some(wait) => Outcome::Throttled(wait),
            None => Outcome::Invalid,
        });
    };
    sqlx::query("delete from sign_in_challenges where id = $1")
        .bind(challenge_id)
        .execute(&state.pool)
        .await?;
    complete(state, account, user_id, &email, method, ip).await
}

/// Starts the user's session and notes the sign-in.
pub async fn complete(
    state: &AppState,
    account: AccountId,
    user_id: i64,
    email: &str,
    method: &str,
    ip: Option<IpAddr>,
) -> Result<Outcome> {
    sqlx::query("update users set last_sign_in_at = now() where id = $1")
        .bind(user_id)
        .execute(&state.pool)
        .await?;
    audit::record(
        &state.pool,
        Entry {
            account,
            user_id: Some(user_id),
            api_key_id: None,
            actor: email.to_string(),
            action: "sign_in.ok",
            target: Some(format!("user:{user_id}")),
            details: json!({ "method": method }),
            ip,
        },
    )
    .await?;
    let token = session::create(&state.pool, account, Opener::User(user_id)).await?;
    Ok(Outcome::SignedIn { token })
}
