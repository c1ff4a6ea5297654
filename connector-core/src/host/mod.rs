//! The host side of a credential: what to store, what to show, how to merge an edit, and where
//! a validation failure belongs in the form. Generic: everything is read from the generated
//! form schema's markers, nothing is specific to a service.
//!
//! * A property is a **secret** when its schema carries `writeOnly: true` (or `airbyte_secret`
//!   / `secret`, the other markers [`crate::Secret`] sets).
//! * A secret may declare its **scope** with `x-secret-scope`: the (dotted) paths of the
//!   public fields that say where the secret may be sent (an account domain, a tenant, a
//!   region). A stored secret is never kept across a change of its scope: the user must enter
//!   it again, so an edit cannot send a saved key to another account.
//!
//! [`HostSchema::split`] splits a submitted config into its public part (stored in the clear,
//! shown again) and its [`Secrets`] (stored encrypted, never shown);
//! [`HostSchema::masked`] is the view sent back to a browser ([`MASK`] where a secret is
//! stored); [`HostSchema::merge`] merges an edited form with the stored secrets (the mask
//! means "keep"); [`HostSchema::join`] rebuilds the config a connector reads;
//! [`HostSchema::failure_target`] tells which field a validation failure belongs to.
//!
//! ```
//! use connector_core::host::{HostSchema, MASK};
//! use serde_json::json;
//!
//! let schema = json!({"type": "object", "properties": {
//!     "domain": {"type": "string"},
//!     "key": {"type": "string", "writeOnly": true, "x-secret-scope": ["domain"]},
//! }});
//! let host = HostSchema::from_schema(&schema).unwrap();
//! let split = host.split(&json!({"domain": "acme", "key": "k-1"})).unwrap();
//! assert_eq!(split.public, json!({"domain": "acme"}));
//! assert_eq!(host.masked(&split.public, &split.secrets), json!({"domain": "acme", "key": MASK}));
//! // The key left as the mask is kept...
//! let kept = host.merge(&split.public, &split.secrets, &json!({"domain": "acme", "key": MASK})).unwrap();
//! assert_eq!(kept.secrets.get("key").unwrap().expose(), "k-1");
//! // ...but not when the domain it belongs to changed.
//! let err = host.merge(&split.public, &split.secrets, &json!({"domain": "other", "key": MASK})).unwrap_err();
//! assert_eq!(err.field(), "key");
//! ```

use serde_json::{json, Value};

use crate::error::Error;

mod custody;
mod placement;

pub use custody::{HostError, Secrets, Split};
pub use placement::{rjsf_extra_errors, Target};

/// What a browser is sent in place of a stored secret, and sends back to keep it.
pub const MASK: &str = "••••••••";

/// The schema keyword declaring a secret's scope: an array of dotted paths of public fields.
pub const SECRET_SCOPE: &str = "x-secret-scope";

/// The markers that make a property a secret (any one of them).
const SECRET_FLAGS: &[&str] = &["writeOnly", "airbyte_secret", "secret"];

/// A credential kind as a host handles it: where its secrets are and what they are scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSchema {
    secrets: Vec<SecretField>,
    /// Every field's dotted path and title (lowered for use inside a sentence).
    fields: Vec<(String, String)>,
    /// Every object's dotted path (`""` for the root) and its required properties, in order.
    required: Vec<(String, Vec<String>)>,
}

/// One secret property of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretField {
    /// Its dotted path (`api_key`, `auth.password`).
    pub path: String,
    /// Its title, for messages.
    pub title: String,
    /// The dotted paths of the public fields it is scoped to.
    pub scope: Vec<String>,
}

impl HostSchema {
    /// Reads the secrets and their scopes from a generated form schema
    /// ([`crate::FormDescriptor::schema`]).
    pub fn from_schema(schema: &Value) -> Result<Self, HostError> {
        let mut host = Self {
            secrets: Vec::new(),
            fields: Vec::new(),
            required: Vec::new(),
        };
        host.collect(schema, "");
        for secret in &host.secrets {
            for scope in &secret.scope {
                if !host.fields.iter().any(|(f, _)| f == scope) || host.secret(scope).is_some() {
                    return Err(HostError::Schema {
                        field: secret.path.clone(),
                        message: format!(
                            "{SECRET_SCOPE} names `{scope}`, which is not a public field of the form"
                        ),
                    });
                }
            }
        }
        Ok(host)
    }

    /// The host schema of a credential type, from its generated form.
    pub fn of<T: schemars::JsonSchema>() -> Result<Self, Error> {
        let form = crate::FormDescriptor::of::<T>()?;
        Self::from_schema(&form.schema).map_err(|e| Error::Config {
            path: e.field().to_string(),
            message: e.to_string(),
        })
    }

    fn collect(&mut self, node: &Value, prefix: &str) {
        let Some(props) = node.get("properties").and_then(Value::as_object) else {
            return;
        };
        let required = node
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).map(String::from).collect());
        self.required
            .push((prefix.to_string(), required.unwrap_or_default()));
        for (key, prop) in props {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            let title = prop
                .get("title")
                .and_then(Value::as_str)
                .map_or_else(|| key.replace('_', " "), in_sentence);
            self.fields.push((path.clone(), title.clone()));
            if is_secret(prop) {
                let scope = match prop.get(SECRET_SCOPE) {
                    Some(Value::Array(items)) => {
                        items.iter().filter_map(Value::as_str).map(String::from).collect()
                    }
                    Some(Value::String(one)) => vec![one.clone()],
                    _ => Vec::new(),
                };
                self.secrets.push(SecretField { path, title, scope });
            } else {
                self.collect(prop, &path);
            }
        }
    }

    /// The secret fields.
    pub fn secrets(&self) -> &[SecretField] {
        &self.secrets
    }

    fn secret(&self, path: &str) -> Option<&SecretField> {
        self.secrets.iter().find(|s| s.path == path)
    }

    fn title(&self, path: &str) -> String {
        self.fields
            .iter()
            .find(|(f, _)| f == path)
            .map_or_else(|| path.to_string(), |(_, t)| t.clone())
    }
}

fn is_secret(prop: &Value) -> bool {
    SECRET_FLAGS
        .iter()
        .any(|flag| prop.get(*flag) == Some(&Value::Bool(true)))
}

fn get<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |node, part| node.get(part))
}

fn take(value: &mut Value, path: &str) -> Option<Value> {
    let (parent, last) = match path.rsplit_once('.') {
        Some((parent, last)) => (
            parent
                .split('.')
                .try_fold(&mut *value, |node, part| node.get_mut(part))?,
            last,
        ),
        None => (value, path),
    };
    parent.as_object_mut()?.remove(last)
}

fn put(value: &mut Value, path: &str, new: Value) {
    let mut node = value;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let Some(obj) = node.as_object_mut() else { return };
        if parts.peek().is_none() {
            obj.insert(part.to_string(), new);
            return;
        }
        node = obj.entry(part.to_string()).or_insert_with(|| json!({}));
    }
}

/// `Account domain` -> `account domain`; `API key` stays.
fn in_sentence(title: &str) -> String {
    let mut chars = title.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && second.is_lowercase() => {
            first.to_lowercase().chain(title.chars().skip(1)).collect()
        }
        _ => title.to_string(),
    }
}

/// `enter the API key again: ...` -> `Enter the API key again: ....`
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests;
