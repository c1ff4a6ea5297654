//! [`HostError`]: why a submitted or edited config cannot be split or merged.

use super::text::sentence;

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
