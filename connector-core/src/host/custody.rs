//! Custody of a credential's secrets: split a submitted config into its public part and its
//! [`Secrets`], the masked view, merging an edit (the [`MASK`] keeps a stored secret, never
//! across a change of its `x-secret-scope`), and `join` back into the config a connector reads.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::error::HostError;
use super::path::{get, put, take};
use super::schema::{HostSchema, MASK};
use crate::secret::Secret;

/// The secret values of one credential, by dotted path. `Debug` never shows a value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(BTreeMap<String, Secret>);

impl Secrets {
    /// No secrets.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the secret at `path`.
    pub fn insert(&mut self, path: impl Into<String>, secret: Secret) {
        self.0.insert(path.into(), secret);
    }

    /// The secret at `path`.
    pub fn get(&self, path: &str) -> Option<&Secret> {
        self.0.get(path)
    }

    /// The paths and secrets, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Secret)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The paths that hold a secret.
    pub fn paths(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "[REDACTED]")))
            .finish()
    }
}

/// A config split into what may be stored in the clear and shown, and its secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The config without any secret.
    pub public: Value,
    /// The secrets it held (blank ones are left out).
    pub secrets: Secrets,
}

impl HostSchema {
    /// Splits a submitted config: the public part, and the non-blank secrets.
    ///
    /// Refuses a secret that is not a string and a secret value repeated in a public field.
    pub fn split(&self, config: &Value) -> Result<Split, HostError> {
        if !config.is_object() {
            return Err(HostError::NotAnObject);
        }
        let mut public = config.clone();
        let mut secrets = Secrets::new();
        for field in &self.secrets {
            match take(&mut public, &field.path) {
                Some(Value::String(s)) if !s.trim().is_empty() => {
                    secrets.insert(field.path.clone(), Secret::new(s))
                }
                Some(Value::String(_) | Value::Null) | None => {}
                Some(_) => {
                    return Err(HostError::NotAString {
                        field: field.path.clone(),
                    })
                }
            }
        }
        self.refuse_pasted(&public, &secrets)?;
        Ok(Split { public, secrets })
    }

    fn refuse_pasted(&self, public: &Value, secrets: &Secrets) -> Result<(), HostError> {
        for (path, secret) in secrets.iter() {
            let value = secret.expose().trim();
            if value.chars().count() < 8 {
                continue; // too short to tell a paste from a coincidence
            }
            if let Some(field) = find_text(public, "", value) {
                return Err(HostError::SecretInPublicField {
                    field,
                    secret: path.to_string(),
                    secret_title: self.title(path),
                });
            }
        }
        Ok(())
    }

    /// The view sent to a browser: the public part with [`MASK`] at each stored secret.
    pub fn masked(&self, public: &Value, stored: &Secrets) -> Value {
        let mut view = public.clone();
        for field in &self.secrets {
            if stored.get(&field.path).is_some() {
                put(&mut view, &field.path, Value::String(MASK.into()));
            }
        }
        view
    }

    /// Merges an edited form with the stored credential.
    ///
    /// For each secret: the [`MASK`] keeps the stored one (refused when a field in its scope
    /// changed, or when none is stored); a new value replaces it (a rotation); blank or absent
    /// removes it.
    pub fn merge(&self, stored_public: &Value, stored: &Secrets, edit: &Value) -> Result<Split, HostError> {
        if !edit.is_object() {
            return Err(HostError::NotAnObject);
        }
        let mut edit = edit.clone();
        let mut kept = Vec::new();
        for field in &self.secrets {
            if get(&edit, &field.path) != Some(&Value::String(MASK.into())) {
                continue;
            }
            let Some(secret) = stored.get(&field.path) else {
                return Err(HostError::NothingToKeep {
                    secret: field.path.clone(),
                    secret_title: field.title.clone(),
                });
            };
            if let Some(scope) = field
                .scope
                .iter()
                .find(|scope| !same(get(stored_public, scope), get(&edit, scope)))
            {
                return Err(HostError::ScopeChanged {
                    secret: field.path.clone(),
                    secret_title: field.title.clone(),
                    scope: scope.clone(),
                    scope_title: self.title(scope),
                });
            }
            take(&mut edit, &field.path);
            kept.push((field.path.clone(), secret.clone()));
        }
        let mut split = self.split(&edit)?;
        for (path, secret) in kept {
            split.secrets.insert(path, secret);
        }
        self.refuse_pasted(&split.public, &split.secrets)?;
        Ok(split)
    }

    /// The full config a connector reads: the public part with the secrets put back.
    ///
    /// The result holds secret values: pass it to the connector's `from_config` and drop it;
    /// never log, store or send it.
    pub fn join(&self, public: &Value, secrets: &Secrets) -> Value {
        let mut config = public.clone();
        for (path, secret) in secrets.iter() {
            put(&mut config, path, Value::String(secret.expose().to_string()));
        }
        config
    }
}

/// Scope values compared as a person means them: strings trimmed, absent equals null.
fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    let norm = |v: Option<&Value>| match v {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(s)) => Value::String(s.trim().to_string()),
        Some(other) => other.clone(),
    };
    norm(a) == norm(b)
}

/// The dotted path of the first string under `value` containing `needle`.
fn find_text(value: &Value, path: &str, needle: &str) -> Option<String> {
    match value {
        Value::String(s) if s.contains(needle) => {
            Some(if path.is_empty() { ".".into() } else { path.into() })
        }
        Value::Object(obj) => obj.iter().find_map(|(k, v)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            find_text(v, &p, needle)
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_text(v, &format!("{path}[{i}]"), needle)),
        _ => None,
    }
}
