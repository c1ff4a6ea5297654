//! Placement of failures in the form: which field a validation failure or a config error
//! belongs to, with the sentence to show there, and react-jsonschema-form's `extraErrors`.

use serde_json::{json, Map, Value};

use super::path::get;
use super::schema::HostSchema;
use super::text::sentence;
use crate::credential::FailureReason;
#[cfg(doc)]
use crate::error::Error;

/// Where a validation failure belongs in the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// At one field (dotted path).
    Field(String),
    /// On the whole credential (a warning or error above the form).
    Credential,
}

impl HostSchema {
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
        // Without the config, a missing field is known only from serde's text.
        if let Some(name) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            if let Some(placed) = self.enter(&join_path(path, name)) {
                return placed;
            }
        }
        self.wrong(path, message)
    }

    /// [`HostSchema::config_error`] for an error raised on `config` (the config given to
    /// `from_config`): a missing field is read from the config and the form, not from the
    /// message: the first property the form requires that the object at `path` lacks.
    pub fn place_config_error(&self, config: &Value, path: &str, message: &str) -> (Target, String) {
        let path = path.trim_start_matches('.');
        let object = if path.is_empty() {
            Some(config)
        } else {
            get(config, path)
        };
        let missing = object.and_then(Value::as_object).and_then(|object| {
            let (_, required) = self.required.iter().find(|(p, _)| p == path)?;
            required.iter().find(|name| !object.contains_key(name.as_str()))
        });
        if let Some(placed) = missing.and_then(|name| self.enter(&join_path(path, name))) {
            return placed;
        }
        self.wrong(path, message)
    }

    /// A missing field of the form, placed at itself: `Enter the API key.`.
    fn enter(&self, field: &str) -> Option<(Target, String)> {
        self.fields.iter().any(|(f, _)| f == field).then(|| {
            (
                Target::Field(field.to_string()),
                format!("Enter the {}.", self.title(field)),
            )
        })
    }

    /// A wrong value: at its field when the form has it, else on the whole credential naming
    /// the path.
    fn wrong(&self, path: &str, message: &str) -> (Target, String) {
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

/// `parent.name` (`name` at the root).
fn join_path(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
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
