//! Two-factor codes (TOTP, RFC 6238: HMAC-SHA1, 6 digits, 30-second steps, one step of
//! clock drift either way) and one-time recovery codes. A code is accepted once: the
//! step it matched is remembered and no code of that step or before is taken again.

use qrcode::render::svg;
use qrcode::QrCode;
use rand::Rng;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, TOTP};

pub const STEP_SECS: u64 = 30;
pub const DIGITS: usize = 6;
/// Recovery codes made at enrolment (each works once).
pub const RECOVERY_CODES: usize = 10;

/// A user's two-factor secret as stored: sealed with the master key (hex inside).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredSecret {
    pub totp_secret: Option<Vec<u8>>,
    pub totp_nonce: Option<Vec<u8>>,
    pub totp_key_id: Option<String>,
}

impl StoredSecret {
    /// The secret's bytes; `None` when there is none or it cannot be opened.
    pub fn open(&self, secrets: &crate::crypto::SecretBox) -> Option<Vec<u8>> {
        let sealed = crate::crypto::Sealed {
            ciphertext: self.totp_secret.clone()?,
            nonce: self.totp_nonce.clone()?,
            key_id: self.totp_key_id.clone()?,
        };
        secrets.open(&sealed).ok().and_then(|h| hex::decode(h).ok())
    }
}

/// 160 random bits, the size RFC 4226 recommends for HMAC-SHA1.
pub fn new_secret() -> Vec<u8> {
    let mut s = vec![0u8; 20];
    rand::thread_rng().fill(&mut s[..]);
    s
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Option<TOTP> {
    // The otpauth label uses ':' between issuer and account, so neither may contain one.
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS,
        secret.to_vec(),
        Some(issuer.replace(':', " ")),
        account.replace(':', " "),
    )
    .ok()
}

/// The secret as authenticator apps ask for it when typed by hand.
pub fn secret_base32(secret: &[u8]) -> String {
    totp(secret, "Leadline", "user")
        .map(|t| t.get_secret_base32())
        .unwrap_or_default()
}

/// `otpauth://totp/…` for the QR code.
pub fn otpauth_url(secret: &[u8], issuer: &str, account: &str) -> String {
    totp(secret, issuer, account)
        .map(|t| t.get_url())
        .unwrap_or_default()
}

/// The otpauth URL as an inline SVG QR code.
pub fn qr_svg(url: &str) -> String {
    match QrCode::new(url.as_bytes()) {
        Ok(code) => code
            .render::<svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

/// The step a 6-digit `code` matches at `now` (Unix seconds), when it is later than
/// `last_step` (so a code seen once, or an older one, is refused).
pub fn matching_step(secret: &[u8], code: &str, now: u64, last_step: Option<i64>) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, "Leadline", "user")?;
    let current = (now / STEP_SECS) as i64;
    let mut found = None;
    // Every candidate is computed, so the time taken does not say which one matched.
    for step in [current - 1, current, current + 1] {
        if step < 0 {
            continue;
        }
        let expected = t.generate(step as u64 * STEP_SECS);
        let same: bool = subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes()).into();
        if same && last_step.is_none_or(|l| step > l) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// Fresh recovery codes (`xxxx-xxxx-xxxx`, 60 bits each), shown once.
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..12)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect();
            format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
        })
        .collect()
}

/// How a recovery code is stored: SHA-256 of its letters (case, spaces and dashes ignored).
pub fn recovery_hash(code: &str) -> Vec<u8> {
    let norm: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Sha256::digest(norm.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 seed "12345678901234567890", truncated to 6 digits.
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        let t = totp(secret, "Leadline", "a@b.c").unwrap();
        for (time, code) in [
            (59u64, "287082"),
            (1111111109, "081804"),
            (1111111111, "050471"),
            (1234567890, "005924"),
            (2000000000, "279037"),
        ] {
            assert_eq!(t.generate(time), code, "at {time}");
        }
    }

    #[test]
    fn a_code_is_taken_within_one_step_of_drift_and_only_once() {
        let secret = new_secret();
        let t = totp(&secret, "Leadline", "a@b.c").unwrap();
        let now = 1_800_000_000u64;
        let code = t.generate(now);
        let step = matching_step(&secret, &code, now, None).unwrap();
        assert_eq!(step as u64, now / STEP_SECS);
        assert_eq!(
            matching_step(&secret, &code, now + 30, None),
            Some(step),
            "late by one step"
        );
        assert_eq!(
            matching_step(&secret, &code, now + 90, None),
            None,
            "too late"
        );
        assert_eq!(
            matching_step(&secret, &code, now, Some(step)),
            None,
            "replayed"
        );
        assert_eq!(matching_step(&secret, "12345", now, None), None);
        assert_eq!(matching_step(&secret, "abcdef", now, None), None);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(matching_step(&secret, &spaced, now, None), Some(step));
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_forgivingly() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut set = codes.clone();
        set.sort();
        set.dedup();
        assert_eq!(set.len(), RECOVERY_CODES);
        let c = &codes[0];
        assert_eq!(
            recovery_hash(c),
            recovery_hash(&c.to_uppercase().replace('-', " "))
        );
        assert_ne!(recovery_hash(c), recovery_hash(&codes[1]));
    }

    #[test]
    fn the_enrolment_url_and_qr_code_name_the_company_and_user() {
        let url = otpauth_url(b"12345678901234567890", "Acme: Roofing", "sam@acme.com");
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        assert!(
            url.contains("sam%40acme.com") || url.contains("sam@acme.com"),
            "{url}"
        );
        assert!(
            url.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{url}"
        );
        assert!(qr_svg(&url).starts_with("<?xml") || qr_svg(&url).contains("<svg"));
    }
}
