//! The [`Credential`] trait: a credential kind's form, parsing and validation call.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Failure, FailureClass};
use crate::form::FormDescriptor;

/// Metadata every credential has, shown by hosts above the connector's own fields.
///
/// Flatten it first into a connector's credential type:
/// `#[serde(flatten)] pub meta: CredentialMeta`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
pub struct CredentialMeta {
    /// Credential name
    ///
    /// A name for this credential, shown in lists of credentials.
    #[schemars(length(min = 1), extend("examples" = ["Production CRM"]))]
    pub name: String,
    /// Description
    ///
    /// Optional notes: what this credential is for and who owns it.
    #[schemars(extend("x-widget" = "textarea"))]
    #[serde(default)]
    pub description: Option<String>,
}

/// Why a validation failed, finer than its [`FailureClass`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureReason {
    /// The configuration is malformed (a field is missing or has the wrong form).
    InvalidConfig,
    /// The service refused the key or password.
    BadCredentials,
    /// The account, tenant or host does not exist.
    UnknownAccount,
    /// The credential is valid but may not use what was probed.
    MissingPermission,
    /// The service could not be reached.
    Network,
    /// The service did not answer in time.
    Timeout,
    /// The service asked us to slow down.
    RateLimited,
    /// The service failed (5xx or its own "try later" error).
    ServerError,
    /// Anything else: an answer we do not understand.
    Unexpected,
}

impl FailureReason {
    /// The class a user acts on for this reason.
    pub fn class(self) -> FailureClass {
        match self {
            Self::InvalidConfig | Self::BadCredentials | Self::UnknownAccount | Self::MissingPermission => {
                FailureClass::Config
            }
            Self::Network | Self::Timeout | Self::RateLimited | Self::ServerError => FailureClass::Transient,
            Self::Unexpected => FailureClass::System,
        }
    }
}

/// The outcome of validating a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validation {
    /// The credential works.
    Valid {
        /// What the user may want to know (a module the key cannot read, ...).
        warnings: Vec<String>,
        /// What was checked, for logs.
        detail: String,
    },
    /// The credential does not work.
    Invalid {
        /// Why, finely.
        reason: FailureReason,
        /// What to do, and the internal detail.
        failure: Failure,
    },
}

impl Validation {
    /// A failed validation; the class follows from the reason.
    pub fn invalid(reason: FailureReason, message: impl Into<String>, internal: impl Into<String>) -> Self {
        Self::Invalid {
            reason,
            failure: Failure {
                class: reason.class(),
                message: message.into(),
                internal: internal.into(),
            },
        }
    }

    /// Whether the credential works.
    pub fn is_valid(&self) -> bool {
        matches!(self, Self::Valid { .. })
    }

    /// The failure, if any.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Self::Valid { .. } => None,
            Self::Invalid { failure, .. } => Some(failure),
        }
    }
}

/// A credential kind: a typed form the host renders, and a validation call.
///
/// The static part (`form`, `from_config`) describes the kind; the object-safe part
/// (`meta`, `validate`) lets a host hold any credential as `Box<dyn Credential>`.
#[async_trait]
pub trait Credential: Send + Sync {
    /// The form a host renders for this kind of credential.
    fn form() -> Result<FormDescriptor, Error>
    where
        Self: Sized + JsonSchema,
    {
        Ok(FormDescriptor::of::<Self>()?)
    }

    /// Reads a credential from the JSON a form produced, naming the field that is wrong.
    ///
    /// Unknown fields are ignored (hosts add their own). Errors never echo a secret value.
    fn from_config(value: &Value) -> Result<Self, Error>
    where
        Self: Sized + DeserializeOwned + JsonSchema,
    {
        parse_config(value)
    }

    /// The name and description.
    fn meta(&self) -> &CredentialMeta;

    /// Checks the credential against the service with one cheap call.
    async fn validate(&self) -> Validation;
}

/// Deserialises `value` into `T`, reporting the JSON path of the first field that fails.
///
/// The message never echoes a secret: serde's quoting of the offending string is removed, and
/// the values the input holds at `T`'s secret properties (`writeOnly` in its schema) are
/// redacted wherever they appear (a key pasted into another field, say).
pub fn parse_config<T: DeserializeOwned + JsonSchema>(value: &Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let mut message = scrub_quoted_strings(&err.into_inner().to_string());
        for secret in secret_values::<T>(value) {
            message = message.replace(&secret, "[REDACTED]");
        }
        Error::Config { path, message }
    })
}

/// The non-empty strings `value` holds at the secret properties of `T`'s schema (`writeOnly`,
/// as [`crate::Secret`] marks them): what a program scrubs from its output.
pub fn secret_values<T: JsonSchema>(value: &Value) -> Vec<String> {
    let mut settings = schemars::generate::SchemaSettings::draft07();
    settings.inline_subschemas = true;
    let schema = settings.into_generator().into_root_schema_for::<T>().to_value();
    let mut out = Vec::new();
    collect_secrets(&schema, value, &mut out);
    out
}

fn collect_secrets(schema: &Value, value: &Value, out: &mut Vec<String>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (key, prop) in props {
        let Some(v) = value.get(key) else { continue };
        if prop.get("writeOnly") == Some(&Value::Bool(true)) {
            match v {
                Value::String(s) if !s.is_empty() => out.push(s.clone()),
                Value::Null | Value::String(_) => {}
                other => out.push(other.to_string()),
            }
        } else {
            collect_secrets(prop, v, out);
        }
    }
}

/// `invalid type: string "abc", expected ...` -> `invalid type: a string, expected ...`: serde
/// quotes the offending value, which may be a secret.
fn scrub_quoted_strings(message: &str) -> String {
    const MARK: &str = "string \"";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(MARK) {
        out.push_str(&rest[..start]);
        out.push_str("a string");
        let quoted = &rest[start + MARK.len()..];
        let mut escaped = false;
        let mut end = quoted.len();
        for (i, ch) in quoted.char_indices() {
            match ch {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = i + 1;
                    break;
                }
                _ => escaped = false,
            }
        }
        rest = &quoted[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_quoted_strings() {
        assert_eq!(
            scrub_quoted_strings(r#"invalid type: string "k\"ey", expected u32"#),
            "invalid type: a string, expected u32"
        );
        assert_eq!(scrub_quoted_strings("missing field `x`"), "missing field `x`");
        assert_eq!(scrub_quoted_strings(r#"string "unterminated"#), "a string");
    }

    #[derive(Debug, serde::Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Cfg {
        /// Host
        ///
        /// A host.
        host: u32,
        /// Key
        ///
        /// A key.
        key: crate::Secret,
    }

    #[test]
    fn redacts_secret_values_pasted_elsewhere() {
        let err =
            parse_config::<Cfg>(&serde_json::json!({"host": "sekrit-123", "key": "sekrit-123"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration at `host`: invalid type: a string, expected u32"
        );
        let err = parse_config::<Cfg>(&serde_json::json!({"host": 1, "key": 12345})).unwrap_err();
        assert!(!err.to_string().contains("12345"), "{err}");
    }
}
