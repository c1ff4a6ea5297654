//! [`JsonlCredential`]: the directory of the files, and its check.

use std::path::PathBuf;

use async_trait::async_trait;
use connector_core::{Credential, CredentialMeta, Validation};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use crate::directory::list_streams;

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

#[async_trait]
impl Credential for JsonlCredential {
    fn meta(&self) -> &CredentialMeta {
        &self.meta
    }

    /// The directory exists and can be listed; a warning when it is read-only (writes fail).
    async fn validate(&self) -> Validation {
        let streams = match list_streams(&self.directory) {
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
