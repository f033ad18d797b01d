//! The dashboard password: hashed with Argon2id (the `argon2` crate's
//! defaults, OWASP's minimum: 19 MiB, two passes) into a PHC string with
//! its own salt, and checked against it.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use switchyard_api_types::CommandError;

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// The longest password accepted (hashing cost stays bounded).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks `password`'s length and hashes it into a PHC string.
pub fn hash_password(password: &str) -> Result<String, CommandError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(CommandError {
            kind: "invalid".into(),
            message: format!("the password needs at least {MIN_PASSWORD_CHARS} characters"),
        });
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(CommandError {
            kind: "invalid".into(),
            message: format!("the password may have at most {MAX_PASSWORD_BYTES} bytes"),
        });
    }
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| CommandError {
            kind: "internal".into(),
            message: format!("cannot hash the password: {error}"),
        })
}

/// Whether `password` matches the stored PHC string `hash`.
pub fn verify_password(hash: &str, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    PasswordHash::new(hash)
        .and_then(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed))
        .is_ok()
}

/// A hash no password matches (of a random one, made once per process):
/// an unknown user name is checked against it, so it costs the same time
/// as a known one.
pub fn unusable_hash() -> String {
    static HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let random = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        hash_password(&format!("unusable-{}", random.as_str())).unwrap_or_default()
    });
    HASH.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let first = hash_password("correct horse battery").unwrap();
        let second = hash_password("correct horse battery").unwrap();
        assert!(first.starts_with("$argon2id$"));
        assert_ne!(first, second);
        assert!(verify_password(&first, "correct horse battery"));
        assert!(!verify_password(&first, "correct horse batterx"));
        assert!(!verify_password("not a hash", "correct horse battery"));
        assert!(hash_password("short").is_err());
    }
}
