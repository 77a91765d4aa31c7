//! Users' passwords: Argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), stored
//! as PHC strings so the parameters travel with each hash. Hashing runs on the blocking
//! pool, at most `CONCURRENT` at once, so sign-ins never stall the async workers.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{ApiError, Result};

/// OWASP Password Storage Cheat Sheet, Argon2id: m = 19 MiB, t = 2, p = 1.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const PASSES: u32 = 2;
pub const LANES: u32 = 1;
/// Shortest and longest password accepted (the cap bounds the work a request can cause).
pub const MIN_CHARS: usize = 10;
pub const MAX_CHARS: usize = 128;
/// Hashes computed at once (each takes 19 MiB and one core for tens of milliseconds).
const CONCURRENT: usize = 4;

static SLOTS: Semaphore = Semaphore::const_new(CONCURRENT);

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a random password nobody knows: checked when there is no user (or no
/// password yet), so an unknown email costs the same time as a wrong password.
static DUMMY: LazyLock<String> =
    LazyLock::new(|| hash_now(&crate::auth::session::random_token()).unwrap_or_default());

fn hash_now(password: &str) -> std::result::Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

fn verify_now(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Whether a password is acceptable: why not, naming the rule, when it is not.
pub fn check_policy(password: &str, email: &str) -> Result<()> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(ApiError::Unprocessable(
            "weak_password",
            format!("password must be at least {MIN_CHARS} characters"),
        ));
    }
    if chars > MAX_CHARS {
        return Err(ApiError::Unprocessable(
            "weak_password",
            format!("password must be at most {MAX_CHARS} characters"),
        ));
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or("");
    if lower == email || (local.len() >= 4 && lower.contains(local)) {
        return Err(ApiError::Unprocessable(
            "weak_password",
            "password must not contain your email address".into(),
        ));
    }
    if COMMON.iter().any(|c| lower.starts_with(c))
        || password
            .chars()
            .all(|c| c == password.chars().next().unwrap_or(' '))
    {
        return Err(ApiError::Unprocessable(
            "weak_password",
            "this password is too easy to guess: choose another".into(),
        ));
    }
    Ok(())
}

/// Beginnings of the passwords attackers try first (lists of leaked passwords).
const COMMON: [&str; 12] = [
    "password",
    "123456789",
    "qwertyuiop",
    "1q2w3e4r",
    "iloveyou",
    "letmein",
    "welcome1",
    "abc123456",
    "roofing123",
    "passw0rd",
    "admin1234",
    "changeme",
];

/// The Argon2id PHC string of a password.
pub async fn hash(password: &str) -> Result<String> {
    let password = password.to_string();
    let _slot = SLOTS.acquire().await.map_err(anyhow::Error::from)?;
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(anyhow::Error::from)?
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}

/// Whether `password` matches `phc`; with `None` a dummy hash is checked (same cost) and
/// the answer is false.
pub async fn verify(password: &str, phc: Option<&str>) -> Result<bool> {
    let password = password.to_string();
    let (phc, real) = match phc {
        Some(p) => (p.to_string(), true),
        None => (DUMMY.clone(), false),
    };
    let _slot = SLOTS.acquire().await.map_err(anyhow::Error::from)?;
    let ok = tokio::task::spawn_blocking(move || verify_now(&password, &phc))
        .await
        .map_err(anyhow::Error::from)?;
    Ok(ok && real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let h = hash_now("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_now("correct horse battery", &h));
        assert!(!verify_now("correct horse batterz", &h));
        assert!(!verify_now("x", "not a phc string"));
        assert_ne!(h, hash_now("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn the_policy_names_the_rule_broken() {
        let msg = |p: &str| match check_policy(p, "sam@acme.com") {
            Ok(()) => String::new(),
            Err(e) => e.to_string(),
        };
        assert!(msg("short").contains("at least 10"));
        assert!(msg(&"a".repeat(129)).contains("at most 128"));
        assert!(msg("Password123!").contains("too easy"));
        assert!(msg("zzzzzzzzzzzz").contains("too easy"));
        assert!(msg("sam@acme.com").contains("email"));
        assert_eq!(msg("shingles-and-gutters-7"), "");
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        assert!(!verify("anything at all", None).await.unwrap());
    }
}
