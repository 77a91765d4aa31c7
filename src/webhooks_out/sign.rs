//! Standard Webhooks signatures (<https://www.standardwebhooks.com>, "Signature scheme"):
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`
//! keyed with the base64-decoded part of the `whsec_` secret. Several signatures, space
//! separated, let a receiver verify with either secret while one is being rotated.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// A new secret: `whsec_` and 24 random bytes in base64 (the reference libraries accept
/// 24 to 64 bytes).
pub fn new_secret() -> String {
    let mut key = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut key);
    format!("{PREFIX}{}", B64.encode(key))
}

/// The key bytes of a `whsec_` secret (`None` when it is not one).
pub fn key_of(secret: &str) -> Option<Vec<u8>> {
    B64.decode(secret.strip_prefix(PREFIX)?).ok()
}

/// One `v1,<signature>` for `id`, `timestamp` (unix seconds) and the exact body bytes.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header value: one signature per key, space separated.
pub fn header(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|k| sign(k, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether any `v1` signature of `header` matches `key` (what a receiver does; used by
/// the tests and the benchmark's receiver). Constant-time comparison.
pub fn verify(key: &[u8], header: &str, id: &str, timestamp: i64, body: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let expected = sign(key, id, timestamp, body);
    header
        .split(' ')
        .any(|s| bool::from(s.as_bytes().ct_eq(expected.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_reference_libraries_vector() {
        // The vector of the Standard Webhooks / Svix reference libraries' tests.
        let key = key_of("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            sign(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_rotation_header_verifies_with_either_secret_and_not_a_third() {
        let (a, b, c) = (new_secret(), new_secret(), new_secret());
        let (ka, kb, kc) = (
            key_of(&a).unwrap(),
            key_of(&b).unwrap(),
            key_of(&c).unwrap(),
        );
        let h = header(&[kb.clone(), ka.clone()], "msg_1", 10, b"{}");
        assert_eq!(h.split(' ').count(), 2);
        assert!(verify(&ka, &h, "msg_1", 10, b"{}"));
        assert!(verify(&kb, &h, "msg_1", 10, b"{}"));
        assert!(!verify(&kc, &h, "msg_1", 10, b"{}"));
        assert!(!verify(&ka, &h, "msg_1", 11, b"{}"));
        assert!(!verify(&ka, &h, "msg_2", 10, b"{}"));
    }

    #[test]
    fn secrets_have_the_whsec_form_and_decode() {
        let s = new_secret();
        assert!(s.starts_with("whsec_"));
        assert_eq!(key_of(&s).unwrap().len(), 24);
        assert!(key_of("nope").is_none());
    }
}
