//! [`JsonlCredential`]: the directory of the files, and its check.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use connector_core::{Credential, CredentialMeta, Failure, FailureClass, FailureReason, Validation};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// JSON-lines files
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
pub struct JsonlCredential {
    /// The credential's name and description.
    #[serde(flatten)]
    pub meta: CredentialMeta,

    /// Directory
    ///
    /// The folder holding the files: each `.jsonl` file in it is a stream named after the
    /// file (orders.jsonl is the stream orders), and writing a stream appends to its file.
    #[schemars(
        with = "String",
        length(min = 1),
        extend("examples" = ["/data/exports"], "x-placeholder" = "/data/exports")
    )]
    #[serde(deserialize_with = "directory")]
    pub directory: PathBuf,
}

/// A directory path that is not blank.
fn directory<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() {
        return Err(serde::de::Error::custom(
            "the directory is blank: enter the path of the folder holding the .jsonl files",
        ));
    }
    Ok(PathBuf::from(text))
}

impl JsonlCredential {
    /// A credential for the files of `directory`.
    pub fn new(name: impl Into<String>, directory: impl Into<PathBuf>) -> Self {
        Self {
            meta: CredentialMeta {
                name: name.into(),
                description: None,
            },
            directory: directory.into(),
        }
    }
}

/// A failure about the directory itself: a config failure naming it.
pub(crate) fn directory_failure(directory: &Path, e: &std::io::Error) -> (FailureReason, Failure) {
    let shown = directory.display();
    let (reason, message) = match e.kind() {
        std::io::ErrorKind::NotFound => (
            FailureReason::InvalidConfig,
            format!("The directory {shown} does not exist. Create it, or correct the path in the config."),
        ),
        std::io::ErrorKind::PermissionDenied => (
            FailureReason::MissingPermission,
            format!("The directory {shown} cannot be read by this program (permission denied). Give it read access, or choose another directory."),
        ),
        std::io::ErrorKind::NotADirectory => (
            FailureReason::InvalidConfig,
            format!("{shown} is a file, not a directory. Enter the folder that holds the .jsonl files."),
        ),
        _ => (
            FailureReason::Unexpected,
            format!("The directory {shown} cannot be read: {e}."),
        ),
    };
    let failure = Failure {
        class: reason.class(),
        message,
        internal: format!("directory {shown}: {e}"),
    };
    (reason, failure)
}

/// Opens `directory` for listing; a failure naming it.
pub(crate) fn read_dir(directory: &Path) -> Result<std::fs::ReadDir, (FailureReason, Failure)> {
    let metadata = std::fs::metadata(directory).map_err(|e| directory_failure(directory, &e))?;
    if !metadata.is_dir() {
        let e = std::io::Error::from(std::io::ErrorKind::NotADirectory);
        return Err(directory_failure(directory, &e));
    }
    std::fs::read_dir(directory).map_err(|e| directory_failure(directory, &e))
}

#[async_trait]
impl Credential for JsonlCredential {
    fn meta(&self) -> &CredentialMeta {
        &self.meta
    }

    /// The directory exists and can be listed; a warning when it is read-only (writes fail).
    async fn validate(&self) -> Validation {
        let streams = match crate::source::list_streams(&self.directory) {
            Ok(streams) => streams,
            Err((reason, failure)) => return Validation::Invalid { reason, failure },
        };
        let mut warnings = Vec::new();
        let read_only = std::fs::metadata(&self.directory).is_ok_and(|m| m.permissions().readonly());
        if read_only {
            warnings.push(format!(
                "The directory {} is read-only: reading works, writing will fail.",
                self.directory.display()
            ));
        }
        Validation::Valid {
            warnings,
            detail: format!("{} .jsonl file(s) in {}", streams.len(), self.directory.display()),
        }
    }
}

/// A config failure (what to fix, and the detail).
pub(crate) fn config_failure(message: String) -> Failure {
    Failure {
        class: FailureClass::Config,
        internal: message.clone(),
        message,
    }
}
