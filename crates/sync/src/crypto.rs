//! End-to-end mode: record bodies sealed on the device with a key derived
//! from the sync passphrase (Argon2id over the hub's salt), so the hub holds
//! only ciphertext. Each body is bound to its record's kind and name (the
//! AEAD's associated data): the hub cannot swap one record's value for
//! another's.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::SyncError;

/// The marker of an end-to-end body.
pub const E2E_PREFIX: &str = "e2e:v1:";

/// The known text a space's check value seals.
const CHECK_TEXT: &str = "switchyard sync passphrase check";

/// The key derived from a sync passphrase.
#[derive(Clone)]
pub struct SyncKey(Key<Aes256Gcm>);

impl std::fmt::Debug for SyncKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncKey(<redacted>)")
    }
}

impl SyncKey {
    /// Derives the key from `passphrase` and the space's `salt` (base64)
    /// with Argon2id (19 MiB, 2 passes: the `argon2` crate's defaults,
    /// OWASP's recommended minimum).
    pub fn derive(passphrase: &str, salt: &str) -> Result<Self, SyncError> {
        if passphrase.chars().count() < 8 {
            return Err(SyncError::Refused(
                "a sync passphrase has at least 8 characters".into(),
            ));
        }
        let salt = STANDARD
            .decode(salt)
            .map_err(|_| SyncError::Protocol("the hub's passphrase salt is not base64".into()))?;
        let mut key = [0u8; 32];
        argon2::Argon2::default()
            .hash_password_into(passphrase.as_bytes(), &salt, &mut key)
            .map_err(|error| SyncError::Protocol(format!("cannot derive the sync key: {error}")))?;
        Ok(Self(key.into()))
    }

    /// A new random salt (base64).
    pub fn new_salt() -> String {
        let salt: [u8; 16] = rand::random();
        STANDARD.encode(salt)
    }

    /// The key as stored on this device (base64; sealed by the store).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The key stored by [`Self::to_base64`].
    pub fn from_base64(text: &str) -> Result<Self, SyncError> {
        let bytes = STANDARD
            .decode(text)
            .ok()
            .filter(|bytes| bytes.len() == 32)
            .ok_or_else(|| SyncError::Protocol("the stored sync key is damaged".into()))?;
        Ok(Self(*Key::<Aes256Gcm>::from_slice(&bytes)))
    }

    /// Seals `plain` for the record `kind`/`name`.
    pub fn seal(&self, kind: &str, name: &str, plain: &str) -> String {
        let cipher = Aes256Gcm::new(&self.0);
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = associated(kind, name);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: &aad,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer does not fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{E2E_PREFIX}{}", STANDARD.encode(out))
    }

    /// Opens a body sealed for `kind`/`name`; a changed body, another
    /// record's body or another key is refused.
    pub fn open(&self, kind: &str, name: &str, sealed: &str) -> Result<String, SyncError> {
        let tampered = || {
            SyncError::Protocol(format!(
                "{kind} {name}: its end-to-end sealed value does not open with this passphrase (changed or misplaced)"
            ))
        };
        let raw = sealed
            .strip_prefix(E2E_PREFIX)
            .and_then(|text| STANDARD.decode(text).ok())
            .filter(|raw| raw.len() > 12)
            .ok_or_else(tampered)?;
        let (nonce, body) = raw.split_at(12);
        let aad = associated(kind, name);
        let plain = Aes256Gcm::new(&self.0)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .map_err(|_| tampered())?;
        String::from_utf8(plain).map_err(|_| tampered())
    }

    /// The check value a space keeps to tell a wrong passphrase.
    pub fn check_value(&self) -> String {
        self.seal("check", "", CHECK_TEXT)
    }

    /// Whether `check` was made with this key.
    pub fn verifies(&self, check: &str) -> bool {
        self.open("check", "", check)
            .is_ok_and(|text| text == CHECK_TEXT)
    }
}

fn associated(kind: &str, name: &str) -> Vec<u8> {
    format!("switchyard-sync\n{kind}\n{name}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bodies_open_only_for_their_record_and_key() {
        let salt = SyncKey::new_salt();
        let key = SyncKey::derive("correct horse battery", &salt).unwrap();
        let sealed = key.seal("account", "openai/main", "{\"secret\":\"sk-1\"}");
        assert!(!sealed.contains("sk-1"));
        assert_eq!(
            key.open("account", "openai/main", &sealed).unwrap(),
            "{\"secret\":\"sk-1\"}"
        );
        assert!(key.open("account", "openai/other", &sealed).is_err());
        let other = SyncKey::derive("another passphrase", &salt).unwrap();
        assert!(other.open("account", "openai/main", &sealed).is_err());
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 3;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert!(key.open("account", "openai/main", &flipped).is_err());
        assert!(key.verifies(&key.check_value()));
        assert!(!other.verifies(&key.check_value()));
        let again = SyncKey::from_base64(&key.to_base64()).unwrap();
        assert!(again.verifies(&key.check_value()));
        assert!(SyncKey::derive("short", &salt).is_err());
    }
}
