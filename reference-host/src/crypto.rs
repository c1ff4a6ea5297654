//! The data key: encrypts each secret at rest (XChaCha20-Poly1305, a random nonce per value,
//! the credential id and field path as associated data so a ciphertext cannot be moved to
//! another credential or field). The key is held outside the database: an environment
//! variable, or a key file created on first run with permissions 0600.

use std::fmt;
use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use connector_core::Secret;

/// The environment variable holding the data key (64 hex digits), when not in a key file.
pub const DATA_KEY_ENV: &str = "REFERENCE_HOST_DATA_KEY";

/// Why the data key could not be had, or a secret not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is not 64 hex digits.
    #[error("the data key in {origin} must be 64 hex digits (32 bytes)")]
    Malformed {
        /// `REFERENCE_HOST_DATA_KEY` or the key file's path.
        origin: String,
    },
    /// The key file could not be read or written.
    #[error("data key file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key file may be read by others.
    #[error("data key file {path} is readable by group or others (mode {mode:o}): run `chmod 600 {path}`")]
    Permissions {
        /// The file.
        path: String,
        /// Its mode.
        mode: u32,
    },
    /// A stored secret does not open with this key (another key, or the row was altered).
    #[error("a stored secret does not open with this data key (was the key file replaced?)")]
    Open,
    /// Encryption failed.
    #[error("a secret could not be encrypted")]
    Seal,
}

/// The key secrets are encrypted with. `Debug` never shows it.
#[derive(Clone)]
pub struct DataKey(Key);

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

/// A sealed secret: the nonce and the ciphertext (with its tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// 24 random bytes.
    pub nonce: Vec<u8>,
    /// The encrypted value and its tag.
    pub ciphertext: Vec<u8>,
}

impl DataKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self(XChaCha20Poly1305::generate_key(&mut OsRng))
    }

    /// Reads 64 hex digits.
    pub fn from_hex(text: &str, origin: &str) -> Result<Self, KeyError> {
        let malformed = || KeyError::Malformed {
            origin: origin.into(),
        };
        let text = text.trim();
        if text.len() != 64 || !text.is_ascii() {
            return Err(malformed());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| malformed())?;
        }
        Ok(Self(Key::from(bytes)))
    }

    fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The key from [`DATA_KEY_ENV`] when set, else from `path`, created (0600) when absent.
    pub fn load(env: Option<String>, path: &Path) -> Result<Self, KeyError> {
        if let Some(hex) = env.filter(|v| !v.trim().is_empty()) {
            return Self::from_hex(&hex, DATA_KEY_ENV);
        }
        let shown = path.display().to_string();
        let file_err = |source| KeyError::File {
            path: shown.clone(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                check_private(path, &shown)?;
                Self::from_hex(&text, &shown)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                let mut file = create_private(path).map_err(file_err)?;
                file.write_all(format!("{}\n", key.to_hex()).as_bytes())
                    .map_err(file_err)?;
                tracing::info!(path = %shown, "generated a new data key file (mode 0600)");
                Ok(key)
            }
            Err(e) => Err(file_err(e)),
        }
    }

    /// Encrypts `secret`, bound to `context` (credential id and field path).
    pub fn seal(&self, secret: &Secret, context: &str) -> Result<Sealed, KeyError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = XChaCha20Poly1305::new(&self.0)
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.expose().as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Seal)?;
        Ok(Sealed {
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Decrypts what [`DataKey::seal`] gave for the same `context`.
    pub fn open(&self, sealed: &Sealed, context: &str) -> Result<Secret, KeyError> {
        if sealed.nonce.len() != 24 {
            return Err(KeyError::Open);
        }
        let nonce = XNonce::from_slice(&sealed.nonce);
        let plain = XChaCha20Poly1305::new(&self.0)
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed.ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Open)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| KeyError::Open)
    }
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn check_private(path: &Path, shown: &str) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|source| KeyError::File {
            path: shown.into(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: shown.into(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path, _: &str) -> Result<(), KeyError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn seals_and_opens_bound_to_its_context() {
        let key = DataKey::generate();
        let sealed = key.seal(&Secret::new("canary-crypto-1"), "1/api_key").unwrap();
        assert_eq!(sealed.nonce.len(), 24);
        assert!(!String::from_utf8_lossy(&sealed.ciphertext).contains("canary-crypto-1"));
        assert_eq!(
            key.open(&sealed, "1/api_key").unwrap().expose(),
            "canary-crypto-1"
        );
        assert!(matches!(key.open(&sealed, "2/api_key"), Err(KeyError::Open)));
        assert!(matches!(
            DataKey::generate().open(&sealed, "1/api_key"),
            Err(KeyError::Open)
        ));
        // Two seals of one value differ (fresh nonce).
        assert_ne!(
            key.seal(&Secret::new("v"), "c").unwrap(),
            key.seal(&Secret::new("v"), "c").unwrap()
        );
        assert_eq!(format!("{key:?}"), "DataKey([REDACTED])");
    }

    #[test]
    fn the_key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.key");
        let key = DataKey::load(None, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = DataKey::load(None, &path).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "data key file {p} is readable by group or others (mode 644): run `chmod 600 {p}`",
                    p = path.display()
                )
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let again = DataKey::load(None, &path).unwrap();
        let sealed = key.seal(&Secret::new("s"), "c").unwrap();
        assert_eq!(again.open(&sealed, "c").unwrap().expose(), "s");
        // The environment wins over the file.
        let env = "00".repeat(32);
        let from_env = DataKey::load(Some(env.clone()), &path).unwrap();
        assert_eq!(from_env.to_hex(), env);
        let err = DataKey::load(Some("abc".into()), &path).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the data key in REFERENCE_HOST_DATA_KEY must be 64 hex digits (32 bytes)"
        );
    }
}
