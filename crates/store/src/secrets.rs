//! Provider secrets at rest: API keys and OAuth tokens are sealed with
//! AES-256-GCM before they reach the database. The 32-byte key lives in the
//! OS keychain (Keychain, Credential Manager, Secret Service) where there is
//! one, else in `secret.key` next to the database, readable by its owner
//! only. Where it lives is recorded in the database, so a keychain that is
//! unavailable later is an error rather than a new key that cannot open
//! what was stored.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::{StoreError, StoreResult};

/// Prefix of a sealed value in the database.
const SEALED_PREFIX: &str = "enc:v1:";
/// File holding the key when there is no keychain.
pub const KEY_FILE: &str = "secret.key";
/// Environment variable choosing where a new key goes: `auto` (default),
/// `keychain` or `file`.
pub const SECRET_STORE_ENV: &str = "SWITCHYARD_SECRET_STORE";
/// Keychain service name.
const KEYCHAIN_SERVICE: &str = "switchyard";

/// Where the database key is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLocation {
    /// The operating system's keychain.
    Keychain,
    /// `secret.key` in the data directory.
    File,
    /// The `SWITCHYARD_SECRET_KEY` environment variable (replicas sharing
    /// one PostgreSQL database share the key this way).
    Environment,
}

impl KeyLocation {
    /// Name recorded in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keychain => "keychain",
            Self::File => "file",
            Self::Environment => "environment",
        }
    }
}

/// Seals and opens secrets with the database's key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    location: KeyLocation,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl SecretBox {
    fn new(key: &[u8; 32], location: KeyLocation) -> Self {
        Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)),
            location,
        }
    }

    /// Where the key is kept.
    pub fn location(&self) -> KeyLocation {
        self.location
    }

    /// Encrypts `plain` under a fresh random nonce.
    pub fn seal(&self, plain: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", STANDARD.encode(bytes))
    }

    /// Decrypts a sealed value; a value stored before encryption existed is
    /// returned as it is.
    pub fn open(&self, stored: &str) -> StoreResult<String> {
        let Some(encoded) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(stored.to_owned());
        };
        let corrupt = || {
            StoreError::Corrupt(
                "a stored secret cannot be decrypted with this machine's key".into(),
            )
        };
        let bytes = STANDARD.decode(encoded).map_err(|_| corrupt())?;
        if bytes.len() < 12 {
            return Err(corrupt());
        }
        let (nonce, sealed) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| corrupt())?;
        String::from_utf8(plain).map_err(|_| corrupt())
    }

    /// Whether a stored value is sealed.
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(SEALED_PREFIX)
    }
}

/// Environment variable holding the key itself (32 bytes, base64) for a
/// PostgreSQL database: every replica must seal and open with the same key.
pub const SECRET_KEY_ENV: &str = "SWITCHYARD_SECRET_KEY";

/// The key given in [`SECRET_KEY_ENV`], or in the file
/// `SWITCHYARD_SECRET_KEY_FILE` names (a container secret), if any.
pub(crate) fn from_environment() -> StoreResult<Option<SecretBox>> {
    let encoded = match std::env::var(SECRET_KEY_ENV) {
        Ok(encoded) => encoded,
        Err(_) => match std::env::var_os(format!("{SECRET_KEY_ENV}_FILE")) {
            Some(path) => std::fs::read_to_string(&path).map_err(|error| {
                StoreError::SecretKey(format!(
                    "{SECRET_KEY_ENV}_FILE: cannot read {}: {error}",
                    Path::new(&path).display()
                ))
            })?,
            None => return Ok(None),
        },
    };
    let key: [u8; 32] = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| {
            StoreError::SecretKey(format!(
                "{SECRET_KEY_ENV} must be 32 bytes in base64 (for example the output of `openssl rand -base64 32`)"
            ))
        })?;
    Ok(Some(SecretBox::new(&key, KeyLocation::Environment)))
}

/// Loads the key recorded for this database, or makes one and records
/// where it went (`recorded` is that record, if any).
pub(crate) fn load_or_create(
    data_dir: &Path,
    recorded: Option<&str>,
) -> StoreResult<(SecretBox, Option<KeyLocation>)> {
    let keychain_user = format!("database-key {}", canonical(data_dir).display());
    let key_file = data_dir.join(KEY_FILE);
    match recorded {
        Some("keychain") => {
            let key = keychain_get(&keychain_user).map_err(|reason| {
                StoreError::SecretKey(format!(
                    "the key to the stored provider secrets is in the OS keychain, which cannot be read now ({reason}); unlock the keychain and retry"
                ))
            })?;
            Ok((SecretBox::new(&key, KeyLocation::Keychain), None))
        }
        Some("file") => {
            let key = read_key_file(&key_file)?;
            Ok((SecretBox::new(&key, KeyLocation::File), None))
        }
        Some(other) => Err(StoreError::Corrupt(format!(
            "unknown secret key location {other:?}"
        ))),
        None => {
            // A key file left by an earlier run that did not record itself.
            if key_file.exists() {
                let key = read_key_file(&key_file)?;
                return Ok((
                    SecretBox::new(&key, KeyLocation::File),
                    Some(KeyLocation::File),
                ));
            }
            let key: [u8; 32] = Aes256Gcm::generate_key(&mut OsRng).into();
            let mode = std::env::var(SECRET_STORE_ENV).unwrap_or_default();
            if mode != "file" {
                match keychain_set(&keychain_user, &key) {
                    Ok(()) => {
                        return Ok((
                            SecretBox::new(&key, KeyLocation::Keychain),
                            Some(KeyLocation::Keychain),
                        ));
                    }
                    Err(reason) if mode == "keychain" => {
                        return Err(StoreError::SecretKey(format!(
                            "{SECRET_STORE_ENV}=keychain but the OS keychain cannot be used: {reason}"
                        )));
                    }
                    Err(_) => {}
                }
            }
            write_key_file(&key_file, &key)?;
            Ok((
                SecretBox::new(&key, KeyLocation::File),
                Some(KeyLocation::File),
            ))
        }
    }
}

fn canonical(dir: &Path) -> PathBuf {
    dir.canonicalize().unwrap_or_else(|_| dir.to_owned())
}

/// Runs a keychain call on a thread of its own: the Secret Service backend
/// (D-Bus, libdbus compiled in) blocks, and the desktop opens the store
/// from async tasks, whose worker it would otherwise hold.
fn off_runtime<T: Send>(call: impl FnOnce() -> Result<T, String> + Send) -> Result<T, String> {
    std::thread::scope(|scope| {
        scope
            .spawn(call)
            .join()
            .unwrap_or_else(|_| Err("the keychain call failed".into()))
    })
}

fn keychain_set(user: &str, key: &[u8; 32]) -> Result<(), String> {
    off_runtime(|| {
        let entry = keyring::Entry::new(KEYCHAIN_SERVICE, user).map_err(|e| e.to_string())?;
        entry
            .set_password(&STANDARD.encode(key))
            .map_err(|e| e.to_string())
    })?;
    // Only a key that reads back is trusted with secrets.
    match keychain_get(user) {
        Ok(read) if &read == key => Ok(()),
        Ok(_) => Err("the keychain returned a different key".into()),
        Err(reason) => Err(reason),
    }
}

fn keychain_get(user: &str) -> Result<[u8; 32], String> {
    let encoded = off_runtime(|| {
        let entry = keyring::Entry::new(KEYCHAIN_SERVICE, user).map_err(|e| e.to_string())?;
        entry.get_password().map_err(|e| e.to_string())
    })?;
    decode_key(encoded.trim()).ok_or_else(|| "the stored key is not 32 bytes".into())
}

fn decode_key(encoded: &str) -> Option<[u8; 32]> {
    STANDARD.decode(encoded).ok()?.try_into().ok()
}

fn read_key_file(path: &Path) -> StoreResult<[u8; 32]> {
    let text = std::fs::read_to_string(path).map_err(|source| StoreError::Io {
        path: path.to_owned(),
        source,
    })?;
    decode_key(text.trim()).ok_or_else(|| {
        StoreError::SecretKey(format!("{} does not hold a 32-byte key", path.display()))
    })
}

fn write_key_file(path: &Path, key: &[u8; 32]) -> StoreResult<()> {
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    let mut file = options.open(path).map_err(io)?;
    file.write_all(STANDARD.encode(key).as_bytes())
        .map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_and_differ_each_time() {
        let secrets = SecretBox::new(&[7; 32], KeyLocation::File);
        let first = secrets.seal("sk-secret");
        let second = secrets.seal("sk-secret");
        assert_ne!(first, second);
        assert!(!first.contains("sk-secret"));
        assert_eq!(secrets.open(&first).unwrap(), "sk-secret");
        assert_eq!(secrets.open("plain-legacy").unwrap(), "plain-legacy");
        let other = SecretBox::new(&[8; 32], KeyLocation::File);
        assert!(other.open(&first).is_err());
    }

    #[test]
    fn the_keychain_is_asked_safely_from_inside_an_async_runtime() {
        // The desktop opens stores from async tasks; an earlier Secret
        // Service backend ran its own runtime, which panicked there. Whatever
        // this machine's keychain holds, the answer is a value, not a panic.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let answer = runtime.block_on(async { keychain_get("switchyard test: no such entry") });
        assert!(answer.is_err());
    }
}
