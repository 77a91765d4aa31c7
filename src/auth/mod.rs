//! API keys: generation, hashing, and the extractor that turns `Authorization: Bearer …`
//! (or, without that header, the dashboard's session cookie: see `auth::session`)
//! into the caller's `AccountId`. A handler that takes `AuthAccount` is authenticated.

pub mod session;

use crate::domain::AccountId;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated account of a request.
#[derive(Debug, Clone, Copy)]
pub struct AuthAccount(pub AccountId);

/// A newly generated key: the plaintext is returned once, only the hash is stored.
pub struct NewKey {
    pub plaintext: String,
    pub prefix: String,
    pub hash: Vec<u8>,
}

const KEY_PREFIX: &str = "ll_";

pub fn generate_key() -> NewKey {
    let secret: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let plaintext = format!("{KEY_PREFIX}{secret}");
    NewKey {
        prefix: plaintext[..KEY_PREFIX.len() + 8].to_string(),
        hash: hash_key(&plaintext),
        plaintext,
    }
}

/// The account whose key a presented (wrong) key imitates, by the key's visible prefix:
/// failures aimed at one account are counted for it too, whatever IPs they come from.
pub async fn account_targeted(
    pool: &sqlx::PgPool,
    presented: &str,
) -> Result<Option<AccountId>, ApiError> {
    let len = KEY_PREFIX.len() + 8;
    if presented.len() < len
        || !presented.is_char_boundary(len)
        || !presented.starts_with(KEY_PREFIX)
    {
        return Ok(None);
    }
    Ok(
        sqlx::query_scalar("select account_id from api_keys where prefix = $1 limit 1")
            .bind(&presented[..len])
            .fetch_optional(pool)
            .await?,
    )
}

/// Keys are 238 bits of randomness, so a fast hash is enough (no need for a password KDF).
pub fn hash_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Stores a new key for the account and returns its plaintext (shown once).
pub async fn issue_key(pool: &sqlx::PgPool, account: AccountId) -> anyhow::Result<String> {
    let key = generate_key();
    sqlx::query("insert into api_keys (account_id, key_hash, prefix) values ($1, $2, $3)")
        .bind(account)
        .bind(&key.hash)
        .bind(&key.prefix)
        .execute(pool)
        .await?;
    Ok(key.plaintext)
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::Unauthorized("missing API key: send `Authorization: Bearer <api_key>`".into())
        })?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not valid text".into()))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::Unauthorized(
            "expected `Authorization: Bearer <api_key>`".into(),
        )),
    }
}

impl FromRequestParts<AppState> for AuthAccount {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The dashboard's own calls: no Authorization header, its session cookie instead
        // (with X-CSRF-Token on anything but GET/HEAD/OPTIONS). A Bearer key always wins.
        if !parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            if let Some(token) =
                crate::auth::session::cookie(&parts.headers, crate::auth::session::COOKIE_NAME)
            {
                return crate::auth::session::authenticate_api(parts, state, token)
                    .await
                    .map(AuthAccount);
            }
        }
        bearer_account(parts, state)
            .await
            .map_err(axum::response::IntoResponse::into_response)
    }
}

/// `Authorization: Bearer <api_key>`: the key's account.
async fn bearer_account(parts: &Parts, state: &AppState) -> Result<AuthAccount, ApiError> {
    let token = bearer(parts)?;
    let row: Option<(i64, AccountId, bool)> = sqlx::query_as(
        "select id, account_id, coalesce(last_used_at < now() - interval '1 minute', true)
         from api_keys where key_hash = $1 and revoked_at is null",
    )
    .bind(hash_key(token))
    .fetch_optional(&state.pool)
    .await?;
    let Some((key_id, account, stale)) = row else {
        // Only a failed check is counted: a valid key is never slowed down.
        let client = crate::throttle::client_key(crate::extract::client_ip(
            parts,
            axum::extract::FromRef::from_ref(state),
        ));
        let targeted = account_targeted(&state.pool, token).await?;
        if let Some(wait) = crate::throttle::failed_for(&state.pool, &client, targeted).await? {
            return Err(ApiError::Throttled(wait));
        }
        return Err(ApiError::Unauthorized("invalid or revoked API key".into()));
    };
    if stale {
        // At most once a minute per key, so awaiting it costs nothing measurable, and the
        // key list read right after a request shows the use (a spawned write raced it).
        sqlx::query("update api_keys set last_used_at = now() where id = $1")
            .bind(key_id)
            .execute(&state.pool)
            .await?;
    }
    Ok(AuthAccount(account))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_unique_and_hash_deterministically() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a.plaintext, b.plaintext);
        assert!(a.plaintext.starts_with("ll_") && a.plaintext.len() == 43);
        assert!(a.plaintext.starts_with(&a.prefix));
        assert_eq!(a.hash, hash_key(&a.plaintext));
        assert_ne!(a.hash, b.hash);
    }
}
