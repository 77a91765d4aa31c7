//! API keys: generation, hashing, and the extractor that turns `Authorization: Bearer …`
//! (or, without that header, the dashboard's session cookie: see `dashboard::session`)
//! into the caller's `AccountId`. A handler that takes `AuthAccount` is authenticated.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::error::ApiError;

pub type AccountId = i64;

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
            if let Some(token) = crate::dashboard::session::cookie(
                &parts.headers,
                crate::dashboard::session::COOKIE_NAME,
            ) {
                return crate::dashboard::session::authenticate_api(parts, state, token)
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
    let (key_id, account, stale) =
        row.ok_or_else(|| ApiError::Unauthorized("invalid or revoked API key".into()))?;
    if stale {
        // Bookkeeping only: at most once a minute per key, off the request path.
        let pool = state.pool.clone();
        tokio::spawn(async move {
            let _ = sqlx::query("update api_keys set last_used_at = now() where id = $1")
                .bind(key_id)
                .execute(&pool)
                .await;
        });
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
