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
        Self: Sized + DeserializeOwned,
    {
        parse_config(value)
    }

    /// The name and description.
    fn meta(&self) -> &CredentialMeta;

    /// Checks the credential against the service with one cheap call.
    async fn validate(&self) -> Validation;
}

/// Deserialises `value` into `T`, reporting the JSON path of the first field that fails.
pub fn parse_config<T: DeserializeOwned>(value: &Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        Error::Config { path, message }
    })
}
