//! Dashboard sign-in sessions and CSRF protection.
//!
//! Signing in (a user with email and password, or a developer with an API key) creates a
//! row in `dashboard_sessions`; the browser gets a random token in the `leadline_session`
//! cookie (HttpOnly, SameSite=Strict, Path=/, Secure when `LEADLINE_PUBLIC_URL` is https)
//! and only the token's SHA-256 is stored. A session ends 12 hours after sign-in, after 2
//! hours without a request, on sign-out, when its key is revoked, or when its user is
//! disabled, changes role or password.
//!
//! Every session carries a CSRF token: dashboard forms send it in a hidden field, the
//! dashboard's own JavaScript sends it as `X-CSRF-Token` when it calls the JSON API with
//! the cookie (see [`authenticate_api`], used by `auth::AuthAccount`).

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::users::Role;
use crate::domain::AccountId;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::state::AppState;

/// The session cookie.
pub const COOKIE_NAME: &str = "leadline_session";
/// Cookie of the sign-in form's CSRF token (there is no session yet to hold one).
pub const LOGIN_COOKIE_NAME: &str = "leadline_login";
/// Header the dashboard's JavaScript sends with the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session ends this long after sign-in, whatever happens.
pub const ABSOLUTE_HOURS: i64 = 12;
/// A session ends after this long without a request.
pub const IDLE_MINUTES: i64 = 120;
/// Where a user sets up two-factor (the one page open before they have, when required).
pub const ENROL_PAGE: &str = "/account/security";

/// A live dashboard session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub account_id: AccountId,
    pub account_name: String,
    pub csrf_token: String,
    /// The person signed in; `None` when the session was opened with an API key.
    pub user: Option<SessionUser>,
    /// The API key it was opened with (developers): id and prefix.
    pub api_key: Option<(i64, String)>,
    /// A user's role; a key acts as an admin.
    pub role: Role,
    /// The account requires two-factor and this user has not set it up yet: only the
    /// security page (and signing out) until they do.
    pub must_enrol_totp: bool,
}

/// The person behind a session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionUser {
    pub id: i64,
    pub email: String,
    pub name: String,
}

/// Who opens a session.
#[derive(Debug, Clone, Copy)]
pub enum Opener {
    Key(i64),
    User(i64),
}

/// 256 bits of randomness, URL- and cookie-safe.
pub fn random_token() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(43)
        .map(char::from)
        .collect()
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Constant-time comparison of a CSRF token with the expected one.
pub fn csrf_matches(expected: &str, given: Option<&str>) -> bool {
    match given {
        Some(g) if !expected.is_empty() => expected.as_bytes().ct_eq(g.as_bytes()).into(),
        _ => false,
    }
}

/// The value of cookie `name`, from any `Cookie` header of the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// Whether cookies must carry `Secure`: the public URL is https.
pub fn secure(state: &AppState) -> bool {
    state
        .config
        .public_url
        .as_deref()
        .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
}

fn cookie_header(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    // Tokens are alphanumeric, so the header is always valid.
    HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path={path}; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` of a new session.
pub fn session_cookie(token: &str, secure: bool) -> (axum::http::HeaderName, HeaderValue) {
    (
        SET_COOKIE,
        cookie_header(COOKIE_NAME, token, "/", ABSOLUTE_HOURS * 3600, secure),
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie(secure: bool) -> (axum::http::HeaderName, HeaderValue) {
    (SET_COOKIE, cookie_header(COOKIE_NAME, "", "/", 0, secure))
}

/// `Set-Cookie` of a sign-in form's CSRF token (one hour, only sent to `path`: there is
/// no session yet to hold it).
pub fn form_cookie(token: &str, path: &str, secure: bool) -> (axum::http::HeaderName, HeaderValue) {
    form_cookie_named(LOGIN_COOKIE_NAME, token, path, secure)
}

/// `Set-Cookie` of a one-hour cookie `name` only sent to `path`.
pub fn form_cookie_named(
    name: &str,
    value: &str,
    path: &str,
    secure: bool,
) -> (axum::http::HeaderName, HeaderValue) {
    (SET_COOKIE, cookie_header(name, value, path, 3600, secure))
}

/// The account an API key belongs to (not revoked), and the key's id.
pub async fn account_of_key(
    pool: &sqlx::PgPool,
    key: &str,
) -> Result<Option<(AccountId, i64)>, ApiError> {
    Ok(sqlx::query_as(
        "select account_id, id from api_keys where key_hash = $1 and revoked_at is null",
    )
    .bind(crate::auth::hash_key(key.trim()))
    .fetch_optional(pool)
    .await?)
}

/// Starts a session for the account, opened with a key (revoking the key ends it) or by
/// a user; returns the cookie token (shown to the browser only).
pub async fn create(
    pool: &sqlx::PgPool,
    account: AccountId,
    opener: Opener,
) -> Result<String, ApiError> {
    let token = random_token();
    // Housekeeping on the rare write path: sessions past either limit are gone for good.
    sqlx::query(&format!(
        "delete from dashboard_sessions
         where expires_at < now() or last_seen_at < now() - interval '{IDLE_MINUTES} minutes'"
    ))
    .execute(pool)
    .await?;
    let (key_id, user_id) = match opener {
        Opener::Key(k) => (Some(k), None),
        Opener::User(u) => (None, Some(u)),
    };
    sqlx::query(&format!(
        "insert into dashboard_sessions (token_hash, account_id, csrf_token, expires_at, api_key_id, user_id)
         values ($1, $2, $3, now() + interval '{ABSOLUTE_HOURS} hours', $4, $5)"
    ))
    .bind(hash(&token))
    .bind(account)
    .bind(random_token())
    .bind(key_id)
    .bind(user_id)
    .execute(pool)
    .await?;
    Ok(token)
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: i64,
    account_id: AccountId,
    account_name: String,
    csrf_token: String,
    stale: bool,
    api_key_id: Option<i64>,
    key_prefix: Option<String>,
    user_id: Option<i64>,
    email: Option<String>,
    name: Option<String>,
    role: Option<Role>,
    must_enrol_totp: bool,
}

/// The live session of a cookie token; `None` when unknown, expired or idle too long.
pub async fn lookup(pool: &sqlx::PgPool, token: &str) -> Result<Option<Session>, ApiError> {
    let row: Option<SessionRow> = sqlx::query_as(&format!(
        "select s.id, s.account_id, a.name as account_name, s.csrf_token,
                s.last_seen_at < now() - interval '1 minute' as stale,
                s.api_key_id, k.prefix as key_prefix, s.user_id, u.email, u.name, u.role,
                coalesce(a.require_totp and u.totp_enabled_at is null, false) as must_enrol_totp
         from dashboard_sessions s join accounts a on a.id = s.account_id
         left join api_keys k on k.id = s.api_key_id
         left join users u on u.id = s.user_id
         where s.token_hash = $1 and s.expires_at > now()
           and (s.api_key_id is null or k.revoked_at is null)
           and (s.user_id is null or u.disabled_at is null)
           and s.last_seen_at > now() - interval '{IDLE_MINUTES} minutes'"
    ))
    .bind(hash(token))
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else {
        return Ok(None);
    };
    if r.stale {
        // The idle clock only needs minute precision: one write a minute at most.
        let pool = pool.clone();
        let id = r.id;
        tokio::spawn(async move {
            let _ = sqlx::query("update dashboard_sessions set last_seen_at = now() where id = $1")
                .bind(id)
                .execute(&pool)
                .await;
        });
    }
    let user = match (r.user_id, r.email) {
        (Some(id), Some(email)) => Some(SessionUser {
            id,
            email,
            name: r.name.unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(Some(Session {
        id: r.id,
        account_id: r.account_id,
        account_name: r.account_name,
        csrf_token: r.csrf_token,
        role: if user.is_some() {
            r.role.unwrap_or(Role::Member)
        } else {
            Role::Admin
        },
        user,
        api_key: r
            .api_key_id
            .map(|id| (id, r.key_prefix.unwrap_or_default())),
        must_enrol_totp: r.must_enrol_totp,
    }))
}

/// Ends the session of a cookie token, if it is one (a new sign-in replaces the old one).
pub async fn destroy_token(pool: &sqlx::PgPool, token: &str) -> Result<(), ApiError> {
    sqlx::query("delete from dashboard_sessions where token_hash = $1")
        .bind(hash(token))
        .execute(pool)
        .await?;
    Ok(())
}

/// Ends a session.
pub async fn destroy(pool: &sqlx::PgPool, id: i64) -> Result<(), ApiError> {
    sqlx::query("delete from dashboard_sessions where id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

fn csrf_error() -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: "csrf".into(),
            message:
                "missing or wrong X-CSRF-Token header: requests that change something with the \
                      dashboard's session cookie must send the page's CSRF token"
                    .into(),
        },
    };
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

/// The cookie branch of `auth::Caller`: the session, when the cookie names a live one and,
/// for methods that change something, `X-CSRF-Token` matches the session's.
pub async fn authenticate_api(
    parts: &Parts,
    state: &AppState,
    token: &str,
) -> Result<Session, Response> {
    let session = lookup(&state.pool, token)
        .await
        .map_err(IntoResponse::into_response)?
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "the dashboard session has ended: sign in again at /login".into(),
            )
            .into_response()
        })?;
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let given = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !csrf_matches(&session.csrf_token, given) {
            return Err(csrf_error());
        }
    }
    Ok(session)
}

/// Only same-site relative paths are followed after sign-in (no `//host`, no scheme, no
/// backslashes or control characters), so `next` cannot send anyone elsewhere.
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/login")
        && !next.starts_with("/logout")
        && next.len() <= 2000
        && next.chars().all(|c| c.is_ascii_graphic());
    let ok = ok && !next.contains('\\');
    ok.then_some(next)
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn encode_query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A signed-in dashboard user. Pages that take it are private: without a live session
/// the browser is sent (303) to `/login?next=<this page>`.
#[derive(Debug, Clone)]
pub struct Dash(pub Session);

impl FromRequestParts<AppState> for Dash {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = cookie(&parts.headers, COOKIE_NAME);
        let session = match token {
            Some(t) => lookup(&state.pool, t)
                .await
                .map_err(IntoResponse::into_response)?,
            None => None,
        };
        if let Some(s) = session {
            // Two-factor required and not set up: the security page and signing out only.
            let path = parts.uri.path();
            if s.must_enrol_totp && path != ENROL_PAGE && path != "/logout" {
                return Err(Redirect::to(ENROL_PAGE).into_response());
            }
            return Ok(Dash(s));
        }
        let here = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let target = match (parts.method == Method::GET, safe_next(here)) {
            (true, Some(next)) if next != "/" => {
                format!("/login?next={}", encode_query_value(next))
            }
            _ => "/login".to_string(),
        };
        let mut res = Redirect::to(&target).into_response();
        if token.is_some() {
            let (k, v) = clear_session_cookie(secure(state));
            res.headers_mut().insert(k, v);
        }
        Err(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_accepts_only_same_site_relative_paths() {
        assert_eq!(safe_next("/leads?band=HOT"), Some("/leads?band=HOT"));
        assert_eq!(safe_next("/leads/12"), Some("/leads/12"));
        for bad in [
            "//evil.example/x",
            "https://evil.example",
            "evil.example",
            "/\\evil.example",
            "/a b",
            "/login?next=/x",
            "",
            "javascript:alert(1)",
            "/\u{7f}",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cookies_are_read_from_any_cookie_header() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("a=1; leadline_session=abc"),
        );
        h.append(COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, COOKIE_NAME), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "leadline"), None);
    }

    #[test]
    fn session_cookie_flags() {
        let (_, v) = session_cookie("tok", false);
        let v = v.to_str().unwrap();
        assert!(v.starts_with("leadline_session=tok;"));
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
            assert!(v.contains(flag), "{v}");
        }
        assert!(!v.contains("Secure"));
        let (_, v) = session_cookie("tok", true);
        assert!(v.to_str().unwrap().ends_with("; Secure"));
    }

    #[test]
    fn csrf_tokens_compare_exactly() {
        assert!(csrf_matches("abc", Some("abc")));
        assert!(!csrf_matches("abc", Some("abd")));
        assert!(!csrf_matches("abc", Some("")));
        assert!(!csrf_matches("abc", None));
        assert!(!csrf_matches("", Some("")));
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            encode_query_value("/leads?band=HOT&q=a b"),
            "/leads%3Fband%3DHOT%26q%3Da%20b"
        );
    }
}
