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

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{json, Map, Value};

use crate::credential::FailureReason;
use crate::error::Error;
use crate::secret::Secret;

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

/// Why a submitted or edited config cannot be split or merged. Messages name the field and
/// never contain a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The submitted document is not a JSON object.
    #[error("the credential must be a JSON object")]
    NotAnObject,
    /// A secret field holds something other than a string.
    #[error("`{field}` must be a string")]
    NotAString {
        /// The secret's dotted path.
        field: String,
    },
    /// A secret value also appears in a public field (pasted in the wrong box).
    #[error("the {secret_title} appears in `{field}`: remove it from there (secrets are only kept in their own field)")]
    SecretInPublicField {
        /// The public field's dotted path.
        field: String,
        /// The secret's dotted path.
        secret: String,
        /// The secret's title.
        secret_title: String,
    },
    /// The mask was sent to keep a secret, but a field the secret is scoped to changed.
    #[error("enter the {secret_title} again: the {scope_title} changed, and a saved {secret_title} is only used with the {scope_title} it was entered for")]
    ScopeChanged {
        /// The secret's dotted path.
        secret: String,
        /// The secret's title.
        secret_title: String,
        /// The scope field that changed.
        scope: String,
        /// Its title.
        scope_title: String,
    },
    /// The mask was sent for a secret that is not stored.
    #[error("enter the {secret_title}: none is saved to keep")]
    NothingToKeep {
        /// The secret's dotted path.
        secret: String,
        /// The secret's title.
        secret_title: String,
    },
    /// The schema's `x-secret-scope` is malformed.
    #[error("`{field}`: {message}")]
    Schema {
        /// The property declaring it.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl HostError {
    /// The dotted path of the field this error belongs to (`""` for the whole credential).
    pub fn field(&self) -> &str {
        match self {
            Self::NotAnObject => "",
            Self::NotAString { field }
            | Self::SecretInPublicField { field, .. }
            | Self::Schema { field, .. } => field,
            Self::ScopeChanged { secret, .. } | Self::NothingToKeep { secret, .. } => secret,
        }
    }

    /// The message a person reads at that field: the error text, capitalised, with a period.
    pub fn message(&self) -> String {
        sentence(&self.to_string())
    }
}

/// Where a validation failure belongs in the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// At one field (dotted path).
    Field(String),
    /// On the whole credential (a warning or error above the form).
    Credential,
}

impl HostSchema {
    /// Reads the secrets and their scopes from a generated form schema
    /// ([`crate::FormDescriptor::schema`]).
    pub fn from_schema(schema: &Value) -> Result<Self, HostError> {
        let mut host = Self {
            secrets: Vec::new(),
            fields: Vec::new(),
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

    /// Which field a validation failure belongs to.
    ///
    /// `hint` (a dotted path the credential or a config error names, e.g. the `path` of
    /// [`Error::Config`]) wins when it is a field of the form. Otherwise a rejected secret
    /// ([`FailureReason::BadCredentials`]) belongs at the secret when there is one, an unknown
    /// account ([`FailureReason::UnknownAccount`]) at the field the secret is scoped to when
    /// there is one, and everything else (a missing permission, a network failure) on the
    /// whole credential.
    pub fn failure_target(&self, reason: FailureReason, hint: Option<&str>) -> Target {
        if let Some(hint) = hint.map(|h| h.trim_start_matches('.')) {
            if self.fields.iter().any(|(f, _)| f == hint) {
                return Target::Field(hint.to_string());
            }
        }
        let one = |mut paths: Vec<&String>| {
            paths.dedup();
            match paths.as_slice() {
                [only] => Target::Field((*only).clone()),
                _ => Target::Credential,
            }
        };
        match reason {
            FailureReason::BadCredentials => one(self.secrets.iter().map(|s| &s.path).collect()),
            FailureReason::UnknownAccount => one(self.secrets.iter().flat_map(|s| &s.scope).collect()),
            _ => Target::Credential,
        }
    }
}

impl HostSchema {
    /// Where a config error belongs (the `path` and `message` of [`Error::Config`], as a
    /// connector's `from_config` gives them) and the sentence to show there: a missing field
    /// at that field ("Enter the API key."), a wrong one at itself, anything else on the whole
    /// credential naming the path.
    pub fn config_error(&self, path: &str, message: &str) -> (Target, String) {
        let path = path.trim_start_matches('.');
        if let Some(name) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            let full = if path.is_empty() {
                name.to_string()
            } else {
                format!("{path}.{name}")
            };
            if self.fields.iter().any(|(f, _)| *f == full) {
                let message = format!("Enter the {}.", self.title(&full));
                return (Target::Field(full), message);
            }
        }
        match self.failure_target(FailureReason::InvalidConfig, Some(path)) {
            Target::Field(f) => (Target::Field(f), sentence(message)),
            Target::Credential if path.is_empty() => (Target::Credential, sentence(message)),
            Target::Credential => (
                Target::Credential,
                sentence(&format!("the `{path}` field is wrong: {message}")),
            ),
        }
    }
}

/// Messages placed at their fields as react-jsonschema-form's `extraErrors`
/// (`{"api_key": {"__errors": ["..."]}}`, nested for dotted paths); messages on the whole
/// credential go under the root's `__errors`.
pub fn rjsf_extra_errors<'a>(placed: impl IntoIterator<Item = (&'a Target, &'a str)>) -> Value {
    let mut out = Map::new();
    for (target, message) in placed {
        let parts: Vec<&str> = match target {
            Target::Field(path) => path.split('.').collect(),
            Target::Credential => Vec::new(),
        };
        push_error(&mut out, &parts, message);
    }
    Value::Object(out)
}

fn push_error(node: &mut Map<String, Value>, parts: &[&str], message: &str) {
    match parts.split_first() {
        Some((first, rest)) => {
            let child = node.entry(first.to_string()).or_insert_with(|| json!({}));
            if let Some(child) = child.as_object_mut() {
                push_error(child, rest, message);
            }
        }
        None => {
            if let Some(list) = node.entry("__errors").or_insert_with(|| json!([])).as_array_mut() {
                list.push(Value::String(message.to_string()));
            }
        }
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
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const CANARY: &str = "canary-host-31f9";

    /// A form like a service credential's, generated from a Rust type: a secret scoped to
    /// the domain, a nested secret without a scope, an optional public object.
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Cred {
        #[serde(flatten)]
        meta: crate::CredentialMeta,
        /// Account domain
        ///
        /// The account.
        domain: String,
        /// API key
        ///
        /// The key.
        #[schemars(extend("x-secret-scope" = ["domain"]))]
        api_key: Secret,
        /// Proxy
        ///
        /// An optional proxy.
        #[serde(default)]
        proxy: Option<Proxy>,
    }

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Proxy {
        /// Proxy user
        ///
        /// The user.
        user: String,
        /// Proxy password
        ///
        /// The password.
        password: Secret,
    }

    fn host() -> HostSchema {
        HostSchema::of::<Cred>().unwrap()
    }

    fn stored() -> (Value, Secrets) {
        let split = host()
            .split(&json!({"name": "CRM", "domain": "acme", "api_key": CANARY, "proxy": {"user": "u", "password": "pw-1"}}))
            .unwrap();
        (split.public, split.secrets)
    }

    #[test]
    fn reads_secrets_and_scopes_from_the_schema() {
        assert_eq!(
            host().secrets(),
            &[
                SecretField {
                    path: "api_key".into(),
                    title: "API key".into(),
                    scope: vec!["domain".into()]
                },
                SecretField {
                    path: "proxy.password".into(),
                    title: "proxy password".into(),
                    scope: vec![]
                },
            ]
        );
        // The scope marker keeps the generated form inside the portable profile.
        let form = crate::FormDescriptor::of::<Cred>().unwrap();
        assert_eq!(
            crate::form::profile_violations(&form.schema),
            Vec::<String>::new()
        );
        assert_eq!(
            form.schema["properties"]["api_key"][SECRET_SCOPE],
            json!(["domain"])
        );
    }

    #[test]
    fn a_scope_must_name_a_public_field() {
        for scope in [json!(["nope"]), json!(["key"])] {
            let schema = json!({"properties": {"key": {"type": "string", "writeOnly": true, "x-secret-scope": scope}}});
            let err = HostSchema::from_schema(&schema).unwrap_err();
            assert_eq!(err.field(), "key");
            assert_eq!(
                err.to_string(),
                format!(
                    "`key`: x-secret-scope names `{}`, which is not a public field of the form",
                    scope[0].as_str().unwrap()
                )
            );
        }
    }

    #[test]
    fn split_takes_every_secret_out() {
        let (public, secrets) = stored();
        assert_eq!(
            public,
            json!({"name": "CRM", "domain": "acme", "proxy": {"user": "u"}})
        );
        assert_eq!(secrets.paths(), vec!["api_key", "proxy.password"]);
        assert_eq!(secrets.get("api_key").unwrap().expose(), CANARY);
        assert_eq!(secrets.get("proxy.password").unwrap().expose(), "pw-1");
        assert_eq!(
            format!("{secrets:?}"),
            r#"{"api_key": "[REDACTED]", "proxy.password": "[REDACTED]"}"#
        );
        // Blank and null secrets are not stored; unknown host fields are kept.
        let split = host()
            .split(&json!({"domain": "acme", "api_key": "  ", "proxy": {"password": null}, "x_host": 1}))
            .unwrap();
        assert_eq!(split.public, json!({"domain": "acme", "proxy": {}, "x_host": 1}));
        assert!(split.secrets.is_empty());
    }

    #[test]
    fn split_refuses_what_it_cannot_store_safely() {
        let h = host();
        assert_eq!(h.split(&json!([1])).unwrap_err(), HostError::NotAnObject);
        let err = h.split(&json!({"domain": "acme", "api_key": 12345})).unwrap_err();
        assert_eq!(
            err,
            HostError::NotAString {
                field: "api_key".into()
            }
        );
        assert_eq!(err.message(), "`api_key` must be a string.");
        let err = h
            .split(&json!({"domain": "acme", "api_key": CANARY, "description": format!("key: {CANARY}")}))
            .unwrap_err();
        assert_eq!(err.field(), "description");
        assert_eq!(
            err.message(),
            "The API key appears in `description`: remove it from there (secrets are only kept in their own field)."
        );
        assert!(!format!("{err:?}").contains(CANARY));
    }

    #[test]
    fn masked_view_shows_the_mask_where_a_secret_is_stored() {
        let (public, secrets) = stored();
        let view = host().masked(&public, &secrets);
        assert_eq!(
            view,
            json!({"name": "CRM", "domain": "acme", "proxy": {"user": "u", "password": MASK}, "api_key": MASK})
        );
        // Nothing stored: no mask.
        assert_eq!(
            host().masked(&json!({"domain": "a"}), &Secrets::new()),
            json!({"domain": "a"})
        );
    }

    #[test]
    fn merge_keeps_masked_secrets_and_takes_new_ones() {
        let (public, secrets) = stored();
        let h = host();
        let edit = json!({"name": "CRM 2", "domain": " acme ", "api_key": MASK, "proxy": {"user": "u2", "password": "pw-2"}});
        let merged = h.merge(&public, &secrets, &edit).unwrap();
        assert_eq!(
            merged.public,
            json!({"name": "CRM 2", "domain": " acme ", "proxy": {"user": "u2"}})
        );
        assert_eq!(merged.secrets.get("api_key").unwrap().expose(), CANARY);
        assert_eq!(merged.secrets.get("proxy.password").unwrap().expose(), "pw-2");
        // Rotation: a new key with the same domain; the cleared proxy password is removed.
        let edit = json!({"name": "CRM", "domain": "acme", "api_key": "new-key", "proxy": {"user": "u"}});
        let merged = h.merge(&public, &secrets, &edit).unwrap();
        assert_eq!(merged.secrets.get("api_key").unwrap().expose(), "new-key");
        assert_eq!(merged.secrets.paths(), vec!["api_key"]);
        // An unscoped secret is kept whatever changes.
        let edit = json!({"domain": "acme", "api_key": MASK, "proxy": {"user": "other", "password": MASK}});
        let merged = h.merge(&public, &secrets, &edit).unwrap();
        assert_eq!(merged.secrets.get("proxy.password").unwrap().expose(), "pw-1");
    }

    #[test]
    fn merge_refuses_to_send_a_kept_secret_to_a_new_scope() {
        let (public, secrets) = stored();
        let h = host();
        for domain in [json!("evil"), Value::Null] {
            let mut edit = json!({"name": "CRM", "api_key": MASK});
            if !domain.is_null() {
                edit["domain"] = domain;
            }
            let err = h.merge(&public, &secrets, &edit).unwrap_err();
            assert_eq!(
                err,
                HostError::ScopeChanged {
                    secret: "api_key".into(),
                    secret_title: "API key".into(),
                    scope: "domain".into(),
                    scope_title: "account domain".into(),
                }
            );
            assert_eq!(err.field(), "api_key");
            assert_eq!(
                err.message(),
                "Enter the API key again: the account domain changed, and a saved API key is only used with the account domain it was entered for."
            );
        }
        // With the key entered again the new domain is accepted.
        let merged = h
            .merge(&public, &secrets, &json!({"domain": "evil", "api_key": "k-evil"}))
            .unwrap();
        assert_eq!(merged.secrets.get("api_key").unwrap().expose(), "k-evil");
        // The mask with nothing stored is refused, not stored as a key.
        let err = h
            .merge(
                &json!({"domain": "acme"}),
                &Secrets::new(),
                &json!({"domain": "acme", "api_key": MASK}),
            )
            .unwrap_err();
        assert_eq!(err.message(), "Enter the API key: none is saved to keep.");
        // A kept key pasted into a public field is refused too.
        let err = h
            .merge(
                &public,
                &secrets,
                &json!({"domain": "acme", "api_key": MASK, "name": CANARY}),
            )
            .unwrap_err();
        assert_eq!(err.field(), "name");
    }

    #[test]
    fn join_rebuilds_the_config() {
        let (public, secrets) = stored();
        assert_eq!(
            host().join(&public, &secrets),
            json!({"name": "CRM", "domain": "acme", "proxy": {"user": "u", "password": "pw-1"}, "api_key": CANARY})
        );
    }

    #[test]
    fn failures_go_to_their_fields() {
        let h = host();
        let at = |p: &str| Target::Field(p.into());
        // Two secrets: a rejected key cannot be placed by the reason alone.
        assert_eq!(
            h.failure_target(FailureReason::BadCredentials, None),
            Target::Credential
        );
        assert_eq!(
            h.failure_target(FailureReason::UnknownAccount, None),
            at("domain")
        );
        assert_eq!(
            h.failure_target(FailureReason::BadCredentials, Some("api_key")),
            at("api_key")
        );
        assert_eq!(
            h.failure_target(FailureReason::InvalidConfig, Some(".proxy.user")),
            at("proxy.user")
        );
        assert_eq!(
            h.failure_target(FailureReason::InvalidConfig, Some("nope")),
            Target::Credential
        );
        for reason in [
            FailureReason::MissingPermission,
            FailureReason::Network,
            FailureReason::Timeout,
            FailureReason::RateLimited,
            FailureReason::ServerError,
            FailureReason::Unexpected,
        ] {
            assert_eq!(h.failure_target(reason, None), Target::Credential, "{reason:?}");
        }
        let single = HostSchema::from_schema(&json!({"properties": {
            "domain": {"type": "string"},
            "key": {"type": "string", "writeOnly": true, "x-secret-scope": "domain"}
        }}))
        .unwrap();
        assert_eq!(
            single.failure_target(FailureReason::BadCredentials, None),
            at("key")
        );
        assert_eq!(
            single.failure_target(FailureReason::UnknownAccount, None),
            at("domain")
        );
    }

    #[test]
    fn config_errors_go_to_their_fields() {
        let h = host();
        let err = |config: Value| match crate::parse_config::<Cred>(&config) {
            Err(Error::Config { path, message }) => (path, message),
            other => panic!("{:?}", other.map(|_| ())),
        };
        let (path, message) = err(json!({"name": "n", "domain": "acme"}));
        assert_eq!(
            h.config_error(&path, &message),
            (Target::Field("api_key".into()), "Enter the API key.".into())
        );
        let (path, message) = err(json!({"name": "n", "api_key": CANARY}));
        assert_eq!(
            h.config_error(&path, &message),
            (Target::Field("domain".into()), "Enter the account domain.".into())
        );
        let (path, message) = err(json!({"name": "n", "domain": 5, "api_key": CANARY}));
        assert_eq!(
            h.config_error(&path, &message),
            (
                Target::Field("domain".into()),
                "Invalid type: integer `5`, expected a string.".into()
            )
        );
        let (path, message) =
            err(json!({"name": "n", "domain": "d", "api_key": "k", "proxy": {"password": "p"}}));
        assert_eq!(
            h.config_error(&path, &message),
            (Target::Field("proxy.user".into()), "Enter the proxy user.".into())
        );
        assert_eq!(
            h.config_error("x.y", "bad"),
            (Target::Credential, "The `x.y` field is wrong: bad.".into())
        );
        assert_eq!(h.config_error(".", "bad"), (Target::Credential, "Bad.".into()));
    }

    #[test]
    fn extra_errors_for_rjsf() {
        let placed = [
            (Target::Field("api_key".into()), "bad key"),
            (Target::Field("proxy.user".into()), "bad user"),
            (Target::Credential, "whole"),
            (Target::Field("api_key".into()), "again"),
        ];
        assert_eq!(
            rjsf_extra_errors(placed.iter().map(|(t, m)| (t, *m))),
            json!({
                "api_key": {"__errors": ["bad key", "again"]},
                "proxy": {"user": {"__errors": ["bad user"]}},
                "__errors": ["whole"]
            })
        );
    }
}
