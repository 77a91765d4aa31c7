//! The secret box for stored credentials (mailbox passwords, provider API keys):
//! AES-256-GCM with a random 96-bit nonce per value and the key's id stored beside the
//! ciphertext, so keys can rotate. Plaintexts are never logged or returned by the API.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// One sealed value, as stored in the database.
#[derive(Debug, Clone, PartialEq)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
    pub key_id: String,
}

/// The master key. `Debug` never prints it.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    key_id: String,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error(
        "LEADLINE_MASTER_KEY must be 32 bytes encoded in base64 (e.g. `openssl rand -base64 32`)"
    )]
    BadKey,
    #[error("the value was sealed with key {0:?}, which is not the current master key")]
    UnknownKey(String),
    #[error("the sealed value is corrupt or was sealed with another key")]
    Corrupt,
}

impl SecretBox {
    /// From the base64 text of `LEADLINE_MASTER_KEY`.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| CryptoError::BadKey)?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != 32 {
            return Err(CryptoError::BadKey);
        }
        // The id names the key without revealing it: the first 8 hex digits of its SHA-256.
        let key_id = hex::encode(&Sha256::digest(bytes)[..4]);
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes)),
            key_id,
        })
    }

    /// The key kept in the embedded data folder (created once, mode 0600) when
    /// `LEADLINE_MASTER_KEY` is unset.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if let Ok(text) = fs::read_to_string(path) {
            return Ok(Self::from_base64(&text)?);
        }
        let key = Aes256Gcm::generate_key(OsRng);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(STANDARD.encode(key).as_bytes())?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
        tracing::warn!(path = %path.display(), "LEADLINE_MASTER_KEY is unset: generated a master key in the data folder; back it up, stored secrets cannot be read without it");
        Ok(Self::from_bytes(&key)?)
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn seal(&self, plaintext: &str) -> Sealed {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        Sealed {
            ciphertext,
            nonce: nonce.to_vec(),
            key_id: self.key_id.clone(),
        }
    }

    pub fn open(&self, sealed: &Sealed) -> Result<String, CryptoError> {
        if sealed.key_id != self.key_id {
            return Err(CryptoError::UnknownKey(sealed.key_id.clone()));
        }
        if sealed.nonce.len() != 12 {
            return Err(CryptoError::Corrupt);
        }
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(&sealed.nonce),
                sealed.ciphertext.as_slice(),
            )
            .map_err(|_| CryptoError::Corrupt)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb() -> SecretBox {
        SecretBox::from_bytes(&[7u8; 32]).unwrap()
    }

    #[test]
    fn sealed_values_open_and_never_contain_the_plaintext() {
        let s = sb().seal("hunter2-app-password");
        assert!(!s.ciphertext.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(sb().open(&s).unwrap(), "hunter2-app-password");
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let (a, b) = (sb().seal("x"), sb().seal("x"));
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn tampering_or_another_key_is_refused() {
        let mut s = sb().seal("secret");
        s.ciphertext[0] ^= 1;
        assert!(matches!(sb().open(&s), Err(CryptoError::Corrupt)));
        let other = SecretBox::from_bytes(&[8u8; 32]).unwrap();
        assert!(matches!(
            other.open(&sb().seal("x")),
            Err(CryptoError::UnknownKey(_))
        ));
    }

    #[test]
    fn bad_master_keys_are_rejected_and_debug_hides_the_key() {
        assert!(SecretBox::from_base64("not base64!").is_err());
        assert!(SecretBox::from_base64(&STANDARD.encode([1u8; 16])).is_err());
        assert!(!format!("{:?}", sb()).contains("7, 7"));
    }

    #[test]
    fn the_generated_key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let a = SecretBox::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = SecretBox::load_or_create(&path).unwrap();
        assert_eq!(b.open(&a.seal("v")).unwrap(), "v");
    }
}
