//! Errors of the contract crate, and the failure classes every connector reports with.

use serde::{Deserialize, Serialize};

/// What the caller does next about a failure. Maps one to one onto Airbyte's `failure_type`
/// (see `connector-runner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// The user must fix the configuration or the credential (bad key, unknown account,
    /// missing permission, invalid input).
    Config,
    /// Retrying later may succeed (network, timeout, rate limit, server error).
    Transient,
    /// Something unexpected: a bug here or an API change; report it.
    System,
}

/// A failure as shown to a user: a class, a message saying what to do, and an internal detail
/// for support. Neither text ever contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// What to do next.
    pub class: FailureClass,
    /// A sentence a non-engineer can act on.
    pub message: String,
    /// Technical detail for support and logs.
    pub internal: String,
}

/// Errors of the contract crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value could not be read as the connector's config type.
    #[error("invalid configuration at `{path}`: {message}")]
    Config {
        /// The JSON path of the offending field (`.` for the whole document).
        path: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A type's form schema breaks the portable profile.
    #[error(transparent)]
    Form(#[from] FormError),
    /// An Airbyte protocol document (catalog, state, message) could not be read.
    #[error("invalid {what}: {message}")]
    Protocol {
        /// Which document: `catalog`, `state`, `message on line 3`, ...
        what: String,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// Whether the user must change their input to fix this.
    pub fn is_config(&self) -> bool {
        matches!(self, Self::Config { .. } | Self::Protocol { .. })
    }
}

/// A form schema that breaks the portable profile (see [`crate::form`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormError {
    /// Every rule broken, each naming the property path.
    #[error("form schema breaks the portable profile: {}", .0.join("; "))]
    Profile(Vec<String>),
}
