//! [`HostSchema`]: a credential kind as a host handles it, read from the generated form
//! schema: its fields and titles, its secrets (by their markers) and their scopes, its required
//! properties; and the dotted-path helpers custody and placement share.

use serde_json::Value;

use super::error::HostError;
use super::text::in_sentence;
use crate::error::Error;

/// What a browser is sent in place of a stored secret, and sends back to keep it.
pub const MASK: &str = "••••••••";

/// The schema keyword declaring a secret's scope: an array of dotted paths of public fields.
pub const SECRET_SCOPE: &str = "x-secret-scope";

/// The markers that make a property a secret (any one of them).
const SECRET_FLAGS: &[&str] = &["writeOnly", "airbyte_secret", "secret"];

/// A credential kind as a host handles it: where its secrets are and what they are scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSchema {
    pub(super) secrets: Vec<SecretField>,
    /// Every field's dotted path and title (lowered for use inside a sentence).
    pub(super) fields: Vec<(String, String)>,
    /// Every object's dotted path (`""` for the root) and its required properties, in order.
    pub(super) required: Vec<(String, Vec<String>)>,
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

    pub(super) fn secret(&self, path: &str) -> Option<&SecretField> {
        self.secrets.iter().find(|s| s.path == path)
    }

    pub(super) fn title(&self, path: &str) -> String {
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
