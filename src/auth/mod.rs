//! Who is calling: API keys (generation, hashing) and the extractors that turn
//! `Authorization: Bearer …` (or, without that header, the dashboard's session cookie:
//! see `auth::session`) into a [`Caller`]. A handler that takes `AuthAccount` (any role),
//! `Caller`, or `Admin` (admins and owners; keys act as admins) is authenticated.
//!
//! - [`users`]: people, roles and who may change whom; [`password`]: Argon2id;
//!   [`links`]: invitation and reset links; [`totp`]: two-factor codes;
//!   [`signin`]: the sign-in procedure; [`session`]: dashboard sessions and CSRF.

pub mod links;
pub mod password;
pub mod session;
pub mod signin;
pub mod totp;
pub mod users;

pub use users::Role;

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

/// Whoever makes a request: a signed-in user, or an API key.
#[derive(Debug, Clone)]
pub enum Actor {
    User {
        id: i64,
        email: String,
        name: String,
    },
    Key {
        id: i64,
        prefix: String,
    },
}

/// The authenticated caller: account, role, who, and from where.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: AccountId,
    pub role: Role,
    pub actor: Actor,
    pub ip: Option<std::net::IpAddr>,
}

impl Caller {
    /// The user's id (`None` for an API key).
    pub fn user_id(&self) -> Option<i64> {
        match &self.actor {
            Actor::User { id, .. } => Some(*id),
            Actor::Key { .. } => None,
        }
    }

    /// The API key's id (`None` for a user).
    pub fn key_id(&self) -> Option<i64> {
        match &self.actor {
            Actor::Key { id, .. } => Some(*id),
            Actor::User { .. } => None,
        }
    }

    /// How the audit log names the caller: the user's email, or "API key ll_1a2b3c4d".
    pub fn label(&self) -> String {
        match &self.actor {
            Actor::User { email, .. } => email.clone(),
            Actor::Key { prefix, .. } => format!("API key {prefix}"),
        }
    }

    /// The person's name and id, for "who replied" (`None` for an API key).
    pub fn person(&self) -> Option<(i64, String)> {
        match &self.actor {
            Actor::User { id, name, email } => Some((
                *id,
                if name.is_empty() {
                    email.clone()
                } else {
                    name.clone()
                },
            )),
            Actor::Key { .. } => None,
        }
    }

    /// 403 `forbidden`, naming the role needed, unless the caller has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            return Ok(());
        }
        let needed = match role {
            Role::Owner => "the owner role",
            Role::Admin => "the admin or owner role",
            Role::Member => "a user of the account",
        };
        Err(ApiError::Forbidden(format!(
            "this needs {needed}; you are {} {}",
            if self.role == Role::Admin { "an" } else { "a" },
            self.role.as_str()
        )))
    }
}

/// The caller of a request; `enrolling` lets a user who must still set up two-factor
/// through (the two-factor endpoints themselves).
async fn caller(
    parts: &Parts,
    state: &AppState,
    enrolling: bool,
) -> Result<Caller, axum::response::Response> {
    use axum::response::IntoResponse;
    let ip = crate::extract::client_ip(parts, axum::extract::FromRef::from_ref(state));
    // The dashboard's own calls: no Authorization header, its session cookie instead
    // (with X-CSRF-Token on anything but GET/HEAD/OPTIONS). A Bearer key always wins.
    if !parts
        .headers
        .contains_key(axum::http::header::AUTHORIZATION)
    {
        if let Some(token) = session::cookie(&parts.headers, session::COOKIE_NAME) {
            let s = session::authenticate_api(parts, state, token).await?;
            if s.must_enrol_totp && !enrolling {
                return Err(ApiError::Forbidden(
                    "this account requires two-factor sign-in: set it up at /account/security first".into(),
                )
                .into_response());
            }
            let actor = match (s.user, s.api_key) {
                (Some(u), _) => Actor::User {
                    id: u.id,
                    email: u.email,
                    name: u.name,
                },
                (None, key) => {
                    let (id, prefix) = key.unwrap_or_default();
                    Actor::Key { id, prefix }
                }
            };
            return Ok(Caller {
                account: s.account_id,
                role: s.role,
                actor,
                ip,
            });
        }
    }
    bearer_caller(parts, state, ip)
        .await
        .map_err(IntoResponse::into_response)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        caller(parts, state, false).await
    }
}

impl FromRequestParts<AppState> for AuthAccount {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        caller(parts, state, false)
            .await
            .map(|c| AuthAccount(c.account))
    }
}

/// A caller with the admin or owner role (API keys act as admins); others get 403.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let c = caller(parts, state, false).await?;
        c.require(Role::Admin)
            .map_err(IntoResponse::into_response)?;
        Ok(Admin(c))
    }
}

/// A caller who may still have to set up two-factor (the security endpoints).
#[derive(Debug, Clone)]
pub struct Enrolling(pub Caller);

impl FromRequestParts<AppState> for Enrolling {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        caller(parts, state, true).await.map(Enrolling)
    }
}

/// `Authorization: Bearer <api_key>`: the key's account; a key acts as an admin.
async fn bearer_caller(
    parts: &Parts,
    state: &AppState,
    ip: Option<std::net::IpAddr>,
) -> Result<Caller, ApiError> {
    let token = bearer(parts)?;
    let row: Option<(i64, AccountId, String, bool)> = sqlx::query_as(
        "select id, account_id, prefix, coalesce(last_used_at < now() - interval '1 minute', true)
         from api_keys where key_hash = $1 and revoked_at is null",
    )
    .bind(hash_key(token))
    .fetch_optional(&state.pool)
    .await?;
    let Some((key_id, account, prefix, stale)) = row else {
        // Only a failed check is counted: a valid key is never slowed down.
        let client = crate::throttle::client_key(ip);
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
    Ok(Caller {
        account,
        role: Role::Admin,
        actor: Actor::Key { id: key_id, prefix },
        ip,
    })
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
