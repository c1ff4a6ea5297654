//! The webhook URL's token: 32 random bytes (base64url, 43 characters), a
//! [`connector_core::Secret`] compared in constant time, kept in a 0600 file beside the spool,
//! rotatable with the previous token still accepted for a grace period.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use connector_core::Secret;
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// The token file's name in the spool directory.
pub const TOKEN_FILE: &str = "webhook-token.json";
/// Random bytes in a token.
pub const TOKEN_BYTES: usize = 32;
/// Default grace: how long a rotated-out token keeps working (seconds), time to paste the new
/// URL into Flowlu.
pub const DEFAULT_GRACE_SECONDS: i64 = 24 * 3600;

/// The tokens a receiver accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// The token of the URL to give Flowlu.
    pub current: Secret,
    /// The token before the last rotation, and the Unix time until which it is accepted.
    pub previous: Option<(Secret, i64)>,
}

#[derive(Deserialize)]
struct Stored {
    current: Secret,
    #[serde(default)]
    previous: Option<Secret>,
    #[serde(default)]
    previous_valid_until: Option<i64>,
}

/// A new random token.
pub fn generate() -> io::Result<Secret> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(format!("no randomness: {e}")))?;
    Ok(Secret::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
    ))
}

fn well_formed(token: &str) -> bool {
    token.len() >= 32
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Tokens {
    /// Whether `offered` is the current token, or the previous one before `now` passed its
    /// grace. Both are always compared (in constant time), so the time taken tells nothing.
    pub fn accepts(&self, offered: &str, now: i64) -> bool {
        let current = self.current.expose().as_bytes().ct_eq(offered.as_bytes());
        let previous = match &self.previous {
            Some((token, until)) => {
                token.expose().as_bytes().ct_eq(offered.as_bytes())
                    & subtle::Choice::from(u8::from(now < *until))
            }
            None => subtle::Choice::from(0),
        };
        bool::from(current | previous)
    }

    /// The tokens in `dir`'s token file, created (with a new token) when there is none.
    pub fn load_or_create(dir: &Path) -> io::Result<Self> {
        match Self::load(dir)? {
            Some(tokens) => Ok(tokens),
            None => {
                let tokens = Self {
                    current: generate()?,
                    previous: None,
                };
                tokens.store(dir)?;
                Ok(tokens)
            }
        }
    }

    /// The tokens in `dir`'s token file, if there is one.
    pub fn load(dir: &Path) -> io::Result<Option<Self>> {
        let text = match fs::read(path(dir)) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        // The parse error is not shown: it could quote the file.
        let stored: Stored = serde_json::from_slice(&text).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{TOKEN_FILE} is not a token file"),
            )
        })?;
        if !well_formed(stored.current.expose()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{TOKEN_FILE} holds a token too short or with characters a URL path cannot hold"),
            ));
        }
        let previous = stored.previous.zip(stored.previous_valid_until);
        Ok(Some(Self {
            current: stored.current,
            previous,
        }))
    }

    /// A new current token; the current one stays accepted for `grace_seconds` from `now`.
    pub fn rotate(self, now: i64, grace_seconds: i64) -> io::Result<Self> {
        Ok(Self {
            current: generate()?,
            previous: Some((self.current, now.saturating_add(grace_seconds))),
        })
    }

    /// Writes the token file (0600, replaced atomically: written beside, synced, renamed).
    pub fn store(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)?;
        let mut object = serde_json::Map::new();
        object.insert("current".into(), self.current.expose().into());
        if let Some((token, until)) = &self.previous {
            object.insert("previous".into(), token.expose().into());
            object.insert("previous_valid_until".into(), (*until).into());
        }
        let text = serde_json::to_vec_pretty(&object).map_err(io::Error::other)?;
        let temporary = dir.join(format!("{TOKEN_FILE}.new"));
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&temporary)?;
        file.write_all(&text)?;
        file.sync_all()?;
        fs::rename(&temporary, path(dir))?;
        fs::File::open(dir)?.sync_all()
    }
}

/// The token file of `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(TOKEN_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_stored_private_and_rotated_with_grace() {
        let dir = tempfile::tempdir().unwrap();
        let first = Tokens::load_or_create(dir.path()).unwrap();
        assert_eq!(first.current.expose().len(), 43);
        assert!(well_formed(first.current.expose()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path(dir.path())).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            Tokens::load_or_create(dir.path()).unwrap(),
            first,
            "kept, not replaced"
        );
        let old = first.current.expose().to_string();
        assert!(first.accepts(&old, 0));
        assert!(!first.accepts(&old[..42], 0));
        assert!(!first.accepts("", 0));
        let rotated = first.rotate(1000, 60).unwrap();
        rotated.store(dir.path()).unwrap();
        let loaded = Tokens::load(dir.path()).unwrap().unwrap();
        assert_eq!(loaded, rotated);
        let new = loaded.current.expose().to_string();
        assert_ne!(new, old);
        assert!(loaded.accepts(&new, 5000));
        assert!(loaded.accepts(&old, 1059), "the previous token within its grace");
        assert!(!loaded.accepts(&old, 1060), "and not after");
        // Debug never shows a token.
        assert!(!format!("{loaded:?}").contains(&new));
    }

    #[test]
    fn a_bad_token_file_is_refused_without_quoting_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(path(dir.path()), r#"{"current": "short-secret-text"}"#).unwrap();
        let err = Tokens::load(dir.path()).unwrap_err();
        assert!(!err.to_string().contains("short-secret-text"), "{err}");
        fs::write(path(dir.path()), "garbage-secret-text").unwrap();
        let err = Tokens::load(dir.path()).unwrap_err();
        assert_eq!(err.to_string(), "webhook-token.json is not a token file");
    }
}
