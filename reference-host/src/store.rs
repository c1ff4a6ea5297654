//! The credential store: SQLite. Public parts in the clear (shown again), each secret sealed
//! with the [`DataKey`] in its own table; deleting a credential deletes its secrets
//! (a foreign key with `ON DELETE CASCADE`, checked by a test), and a deleted or replaced
//! secret cannot be recovered from the database file, not even with the data key: SQLite's
//! `secure_delete` overwrites deleted content with zeros, and a checkpoint after each delete
//! and rotation moves the overwritten pages out of a write-ahead log into the file (a test
//! scans the file's bytes for the sealed secret).

use std::path::Path;
use std::sync::Mutex;

use connector_core::Secrets;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use crate::crypto::{DataKey, KeyError, Sealed};

const SCHEMA: &str = "
PRAGMA foreign_keys = ON;
PRAGMA secure_delete = ON;
CREATE TABLE IF NOT EXISTS credentials (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    kind           TEXT NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT,
    account        TEXT NOT NULL,
    public_config  TEXT NOT NULL,
    status         TEXT NOT NULL,
    status_message TEXT,
    warnings       TEXT NOT NULL DEFAULT '[]',
    last_validated TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS credential_secrets (
    credential_id INTEGER NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,
    path          TEXT NOT NULL,
    nonce         BLOB NOT NULL,
    ciphertext    BLOB NOT NULL,
    PRIMARY KEY (credential_id, path)
);
";

/// Store failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("credential database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A secret could not be sealed or opened.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A stored public part is not JSON (the row was altered).
    #[error("credential {id}: the stored form is not JSON")]
    Corrupt {
        /// The credential.
        id: i64,
    },
}

/// The outcome of the last validation, as stored and shown on the tile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// `valid`, `warning` (valid with warnings) or `invalid`.
    pub status: String,
    /// The failure message, when invalid.
    pub message: Option<String>,
    /// The warnings, when valid with warnings.
    pub warnings: Vec<String>,
    /// When (RFC 3339, UTC).
    pub last_validated: String,
}

/// What a tile shows: everything but the secrets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tile {
    /// The id.
    pub id: i64,
    /// The connector kind (`flowlu`).
    pub kind: String,
    /// The credential's name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The account it connects to (`acme.flowlu.com`).
    pub account: String,
    /// `valid`, `warning` or `invalid`.
    pub status: String,
    /// The failure message, when invalid.
    pub status_message: Option<String>,
    /// The warnings of the last validation.
    pub warnings: Vec<String>,
    /// When it was last validated.
    pub last_validated: Option<String>,
}

/// A credential to write: the tile's fields, the public part and the secrets.
#[derive(Debug)]
pub struct NewCredential<'a> {
    /// The connector kind.
    pub kind: &'a str,
    /// Name.
    pub name: &'a str,
    /// Description.
    pub description: Option<&'a str>,
    /// The account.
    pub account: &'a str,
    /// The config without secrets.
    pub public: &'a Value,
    /// The secrets (sealed before they are written).
    pub secrets: &'a Secrets,
    /// The validation outcome.
    pub status: &'a Status,
}

/// The SQLite credential store.
pub struct Store {
    db: Mutex<Connection>,
    key: DataKey,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path, key: DataKey) -> Result<Self, StoreError> {
        Self::with(Connection::open(path)?, key)
    }

    /// An in-memory store (tests).
    pub fn in_memory(key: DataKey) -> Result<Self, StoreError> {
        Self::with(Connection::open_in_memory()?, key)
    }

    fn with(db: Connection, key: DataKey) -> Result<Self, StoreError> {
        db.execute_batch(SCHEMA)?;
        Ok(Self {
            db: Mutex::new(db),
            key,
        })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (every write is one
        // transaction): keep going.
        self.db.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Inserts a credential; its id.
    pub fn insert(&self, c: &NewCredential<'_>) -> Result<i64, StoreError> {
        let now = crate::now();
        let mut db = self.db();
        let tx = db.transaction()?;
        tx.execute(
            "INSERT INTO credentials (kind, name, description, account, public_config, status, status_message, warnings, last_validated, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
            params![
                c.kind,
                c.name,
                c.description,
                c.account,
                c.public.to_string(),
                c.status.status,
                c.status.message,
                serde_json::to_string(&c.status.warnings).unwrap_or_else(|_| "[]".into()),
                c.status.last_validated,
                now
            ],
        )?;
        let id = tx.last_insert_rowid();
        write_secrets(&tx, &self.key, id, c.secrets)?;
        tx.commit()?;
        Ok(id)
    }

    /// Replaces a credential's public part, secrets and status; false when it does not exist.
    pub fn update(&self, id: i64, c: &NewCredential<'_>) -> Result<bool, StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let changed = tx.execute(
            "UPDATE credentials SET name = ?2, description = ?3, account = ?4, public_config = ?5, status = ?6,
             status_message = ?7, warnings = ?8, last_validated = ?9, updated_at = ?10 WHERE id = ?1",
            params![
                id,
                c.name,
                c.description,
                c.account,
                c.public.to_string(),
                c.status.status,
                c.status.message,
                serde_json::to_string(&c.status.warnings).unwrap_or_else(|_| "[]".into()),
                c.status.last_validated,
                crate::now()
            ],
        )?;
        if changed == 0 {
            return Ok(false);
        }
        tx.execute(
            "DELETE FROM credential_secrets WHERE credential_id = ?1",
            params![id],
        )?;
        write_secrets(&tx, &self.key, id, c.secrets)?;
        tx.commit()?;
        checkpoint(&db)?;
        Ok(true)
    }

    /// Records a new validation outcome; false when the credential does not exist.
    pub fn set_status(&self, id: i64, status: &Status) -> Result<bool, StoreError> {
        let changed = self.db().execute(
            "UPDATE credentials SET status = ?2, status_message = ?3, warnings = ?4, last_validated = ?5 WHERE id = ?1",
            params![
                id,
                status.status,
                status.message,
                serde_json::to_string(&status.warnings).unwrap_or_else(|_| "[]".into()),
                status.last_validated
            ],
        )?;
        Ok(changed > 0)
    }

    /// Every credential, oldest first.
    pub fn list(&self) -> Result<Vec<Tile>, StoreError> {
        let db = self.db();
        let mut stmt = db.prepare(&format!("{TILE_SELECT} ORDER BY id"))?;
        let rows = stmt.query_map([], tile_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One credential's tile, public part and secrets.
    pub fn get(&self, id: i64) -> Result<Option<(Tile, Value, Secrets)>, StoreError> {
        let db = self.db();
        let found = db
            .query_row(&format!("{TILE_SELECT} WHERE id = ?1"), params![id], |row| {
                Ok((tile_row(row)?, row.get::<_, String>(9)?))
            })
            .optional()?;
        let Some((tile, public)) = found else {
            return Ok(None);
        };
        let public: Value = serde_json::from_str(&public).map_err(|_| StoreError::Corrupt { id })?;
        let mut stmt = db.prepare(
            "SELECT path, nonce, ciphertext FROM credential_secrets WHERE credential_id = ?1 ORDER BY path",
        )?;
        let rows = stmt.query_map(params![id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                Sealed {
                    nonce: row.get(1)?,
                    ciphertext: row.get(2)?,
                },
            ))
        })?;
        let mut secrets = Secrets::new();
        for row in rows {
            let (path, sealed) = row?;
            let secret = self.key.open(&sealed, &context(id, &path))?;
            secrets.insert(path, secret);
        }
        Ok(Some((tile, public, secrets)))
    }

    /// Deletes a credential and its secrets; false when it did not exist.
    pub fn delete(&self, id: i64) -> Result<bool, StoreError> {
        let db = self.db();
        let deleted = db.execute("DELETE FROM credentials WHERE id = ?1", params![id])? > 0;
        checkpoint(&db)?;
        Ok(deleted)
    }

    /// How many sealed secrets the database holds (all credentials).
    pub fn secret_rows(&self) -> Result<i64, StoreError> {
        Ok(self
            .db()
            .query_row("SELECT COUNT(*) FROM credential_secrets", [], |r| r.get(0))?)
    }
}

/// Writes a write-ahead log (if the database uses one) back into the file and empties it, so
/// the zeros `secure_delete` wrote replace the deleted bytes in the file itself. A no-op in
/// the default rollback-journal mode, where they are written at commit.
fn checkpoint(db: &Connection) -> Result<(), StoreError> {
    db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

const TILE_SELECT: &str = "SELECT id, kind, name, description, account, status, status_message, warnings, last_validated, public_config FROM credentials";

fn tile_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Tile> {
    let warnings: String = row.get(7)?;
    Ok(Tile {
        id: row.get(0)?,
        kind: row.get(1)?,
        name: row.get(2)?,
        description: row.get(3)?,
        account: row.get(4)?,
        status: row.get(5)?,
        status_message: row.get(6)?,
        warnings: serde_json::from_str(&warnings).unwrap_or_default(),
        last_validated: row.get(8)?,
    })
}

/// The associated data a secret is sealed with: it opens only for this credential and field.
fn context(id: i64, path: &str) -> String {
    format!("credential/{id}/{path}")
}

fn write_secrets(
    tx: &rusqlite::Transaction<'_>,
    key: &DataKey,
    id: i64,
    secrets: &Secrets,
) -> Result<(), StoreError> {
    for (path, secret) in secrets.iter() {
        let sealed = key.seal(secret, &context(id, path))?;
        tx.execute(
            "INSERT INTO credential_secrets (credential_id, path, nonce, ciphertext) VALUES (?1, ?2, ?3, ?4)",
            params![id, path, sealed.nonce, sealed.ciphertext],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use connector_core::Secret;
    use serde_json::json;

    const CANARY: &str = "canary-store-5b2e";

    fn status() -> Status {
        Status {
            status: "valid".into(),
            message: None,
            warnings: vec!["w".into()],
            last_validated: "2026-12-01T22:00:00Z".into(),
        }
    }

    fn secrets(key: &str) -> Secrets {
        let mut s = Secrets::new();
        s.insert("api_key", Secret::new(key));
        s
    }

    #[test]
    fn round_trip_encrypted_at_rest_and_delete_removes_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.sqlite3");
        let key = DataKey::generate();
        let store = Store::open(&path, key.clone()).unwrap();
        let public = json!({"name": "CRM", "account_domain": "demo"});
        let (s, st) = (secrets(CANARY), status());
        let new = NewCredential {
            kind: "flowlu",
            name: "CRM",
            description: Some("notes"),
            account: "demo.flowlu.com",
            public: &public,
            secrets: &s,
            status: &st,
        };
        let id = store.insert(&new).unwrap();
        let other = store.insert(&new).unwrap();
        assert_eq!((id, other), (1, 2));
        let (tile, stored_public, stored) = store.get(id).unwrap().unwrap();
        assert_eq!(
            tile,
            Tile {
                id: 1,
                kind: "flowlu".into(),
                name: "CRM".into(),
                description: Some("notes".into()),
                account: "demo.flowlu.com".into(),
                status: "valid".into(),
                status_message: None,
                warnings: vec!["w".into()],
                last_validated: Some("2026-12-01T22:00:00Z".into()),
            }
        );
        assert_eq!(stored_public, public);
        assert_eq!(stored.get("api_key").unwrap().expose(), CANARY);
        drop(store);
        // The database file never holds the key in the clear.
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()));
        // Another data key cannot open it.
        let wrong = Store::open(&path, DataKey::generate()).unwrap();
        assert_eq!(
            wrong.get(id).unwrap_err().to_string(),
            "a stored secret does not open with this data key (was the key file replaced?)"
        );
        let store = Store::open(&path, key).unwrap();
        // Rotation replaces the secret.
        let rotated = secrets("rotated-1");
        assert!(store
            .update(
                id,
                &NewCredential {
                    secrets: &rotated,
                    ..new
                }
            )
            .unwrap());
        assert_eq!(
            store.get(id).unwrap().unwrap().2.get("api_key").unwrap().expose(),
            "rotated-1"
        );
        assert_eq!(store.secret_rows().unwrap(), 2);
        assert!(store.delete(id).unwrap());
        assert!(!store.delete(id).unwrap());
        assert!(store.get(id).unwrap().is_none());
        assert_eq!(store.secret_rows().unwrap(), 1);
        assert_eq!(
            store.list().unwrap().iter().map(|t| t.id).collect::<Vec<_>>(),
            vec![2]
        );
        assert!(!store.update(id, &new).unwrap());
    }

    /// Every sealed secret (nonce, ciphertext) the database holds.
    fn sealed_rows(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
        let db = Connection::open(path).unwrap();
        let mut stmt = db
            .prepare("SELECT nonce, ciphertext FROM credential_secrets ORDER BY credential_id")
            .unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    fn holds(path: &Path, bytes: &[u8]) -> bool {
        let mut all = std::fs::read(path).unwrap();
        // A write-ahead log or journal beside the file counts as the file.
        for extra in ["-wal", "-journal"] {
            let mut side = path.as_os_str().to_owned();
            side.push(extra);
            if let Ok(more) = std::fs::read(&side) {
                all.extend(more);
            }
        }
        all.windows(bytes.len()).any(|w| w == bytes)
    }

    #[test]
    fn a_deleted_or_replaced_secret_is_gone_from_the_file_even_with_the_data_key() {
        for wal in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("host.sqlite3");
            if wal {
                let db = Connection::open(&path).unwrap();
                let mode: String = db
                    .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(mode, "wal");
            }
            let key = DataKey::generate();
            let store = Store::open(&path, key.clone()).unwrap();
            let public = json!({"name": "CRM", "account_domain": "demo"});
            let (first, kept, st) = (secrets(CANARY), secrets("kept-key-0a9c"), status());
            let new = |s| NewCredential {
                kind: "flowlu",
                name: "CRM",
                description: None,
                account: "demo.flowlu.com",
                public: &public,
                secrets: s,
                status: &st,
            };
            let id = store.insert(&new(&first)).unwrap();
            store.insert(&new(&kept)).unwrap();
            let sealed = sealed_rows(&path);
            let (nonce, ciphertext) = sealed[0].clone();
            // With the data key the stored bytes open to the key: what must not survive.
            let opened = key
                .open(
                    &Sealed {
                        nonce: nonce.clone(),
                        ciphertext: ciphertext.clone(),
                    },
                    &context(id, "api_key"),
                )
                .unwrap();
            assert_eq!(opened.expose(), CANARY);
            drop(store);
            assert!(
                holds(&path, &ciphertext),
                "wal={wal}: the sealed secret is in the file before the delete"
            );
            let store = Store::open(&path, key.clone()).unwrap();
            // A rotation replaces it: the old sealed bytes are gone.
            let rotated = secrets("rotated-key-77e1");
            assert!(store.update(id, &new(&rotated)).unwrap());
            assert!(
                !holds(&path, &ciphertext),
                "wal={wal}: the replaced secret is still in the file"
            );
            assert!(
                !holds(&path, &nonce),
                "wal={wal}: the replaced secret's nonce is still in the file"
            );
            // A delete removes the rotated one.
            let (nonce, ciphertext) = sealed_rows(&path)[0].clone();
            assert!(holds(&path, &ciphertext));
            assert!(store.delete(id).unwrap());
            assert!(
                !holds(&path, &ciphertext),
                "wal={wal}: the deleted secret is still in the file"
            );
            assert!(
                !holds(&path, &nonce),
                "wal={wal}: the deleted secret's nonce is still in the file"
            );
            // The other credential's secret is untouched.
            assert!(holds(&path, &sealed[1].1));
            assert_eq!(
                store.get(2).unwrap().unwrap().2.get("api_key").unwrap().expose(),
                "kept-key-0a9c"
            );
        }
    }
}
