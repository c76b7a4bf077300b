//! A redacting holder for secret values.
//!
//! [`SecretString`] never shows its value through `Debug` or `Display` and is not
//! `Serialize`, so a secret cannot end up in state files, events, logs or error messages
//! by accident. Call [`SecretString::expose`] at the one place the value is needed.

use std::fmt;

use rand::Rng;
use sha2::{Digest, Sha256};

/// A secret value whose `Debug`/`Display` print `[REDACTED]`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Generates a random secret of `length` characters from an alphabet that is safe for
    /// database passwords on both clouds (letters, digits and `-_.~`; no `/`, `@`, `"` or
    /// spaces, which RDS and PostgreSQL flexible server reject).
    pub fn generate(length: usize) -> Self {
        const ALPHABET: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
        let mut rng = rand::rng();
        let value = (0..length)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        Self(value)
    }

    /// The value itself. Keep the result out of logs.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length of the value in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A short, non-reversible fingerprint (first 8 hex digits of SHA-256), safe to log,
    /// useful to tell two versions apart.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        hex::encode(&digest[..4])
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([REDACTED])")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// A reference to a stored secret (never its value).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SecretRef {
    /// The name in the secret store.
    pub name: String,
    /// Its cloud id (ARN / Key Vault secret id).
    pub id: String,
    /// Version id, if known.
    pub version: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = SecretString::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "SecretString([REDACTED])");
        assert_eq!(format!("{s}"), "[REDACTED]");
        assert!(!format!("{:#?}", vec![s.clone()]).contains("hunter2"));
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn generated_secrets_have_the_length_and_alphabet_asked_for() {
        let a = SecretString::generate(32);
        let b = SecretString::generate(32);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(
            a.expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c))
        );
        assert_eq!(a.fingerprint().len(), 8);
    }
}
