//! # connector-jsonl
//!
//! A second connector, built only on `connector-core` and `connector-runner`, to prove the
//! contract: each `<stream>.jsonl` file of a directory is a stream of JSON objects, one per
//! line.
//!
//! * [`JsonlCredential`]: a name and the directory; validated by listing it.
//! * [`JsonlSource`]: discover lists the files; read passes each line on as the exact JSON
//!   text in the file, 500 lines a page, each page followed by a checkpoint holding the byte
//!   offset after it (`{"offset": 1234, "line": 40}`). An incremental read resumes at that
//!   offset; a line is read once it ends with a newline (a line being appended is left for
//!   the next read). A line that is not a JSON object fails its stream, naming the file and
//!   the line.
//! * [`JsonlSink`]: appends each record as one line to `<stream>.jsonl` (`created`, with the
//!   byte offset of the line as its id); a checkpoint is acknowledged once the lines before it
//!   are flushed and synced to disk.
//!
//! `main.rs` is one call: `connector_runner::process_main::<Jsonl>()`.

use std::io::Write;
use std::path::{Path, PathBuf};

use connector_core::{Credential, CredentialMeta, Failure, FailureClass, FailureReason, Validation};
use connector_runner::{Connector, Env, NoCommands};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

mod sink;
mod source;

pub use sink::JsonlSink;
pub use source::JsonlSource;

/// The file name ending of a stream's file.
pub const EXTENSION: &str = "jsonl";

/// JSON-lines files
///
/// Read and write the `.jsonl` files of a directory: one stream per file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct JsonlCredential {
    /// The credential's name and description.
    #[serde(flatten)]
    pub meta: CredentialMeta,

    /// Directory
    ///
    /// The directory holding the files: each `<stream>.jsonl` in it is a stream.
    #[schemars(length(min = 1), extend("examples" = ["/data/exports"]))]
    pub directory: PathBuf,
}

#[async_trait::async_trait]
impl Credential for JsonlCredential {
    fn meta(&self) -> &CredentialMeta {
        &self.meta
    }

    async fn validate(&self) -> Validation {
        match std::fs::read_dir(&self.directory) {
            Ok(_) => Validation::Valid {
                warnings: Vec::new(),
                detail: format!("listed {}", self.directory.display()),
            },
            Err(e) => Validation::invalid(
                FailureReason::InvalidConfig,
                format!(
                    "The directory {} cannot be read: {e}. Set `directory` to an existing directory this program may read.",
                    self.directory.display()
                ),
                e.to_string(),
            ),
        }
    }
}

/// Whether `name` can be a stream: a file name of letters, digits, `_`, `-` and `.`, not
/// starting with a dot (so never a path or a hidden file).
pub fn is_stream_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The file of `stream` in `directory`.
pub(crate) fn stream_file(directory: &Path, stream: &str) -> PathBuf {
    directory.join(format!("{stream}.{EXTENSION}"))
}

/// The JSON-lines connector, for the runner.
#[derive(Debug, Clone, Copy)]
pub struct Jsonl;

impl Connector for Jsonl {
    type Credential = JsonlCredential;
    type Source = JsonlSource;
    type Sink = JsonlSink;
    type Commands = NoCommands;

    const NAME: &'static str = "jsonl-connector";
    const ABOUT: &'static str = "The .jsonl files of a directory as streams, speaking the Airbyte protocol.";
    const EXAMPLES: &'static str = "Examples:
  jsonl-connector spec
  jsonl-connector check --config config.json
  jsonl-connector read --config config.json --catalog configured_catalog.json --state state.json

config.json:
  {\"name\": \"Exports\", \"directory\": \"/data/exports\"}";
    const CONFIG_EXAMPLE: &'static str = "{\"name\": \"Exports\", \"directory\": \"/data/exports\"}";
    const STREAM_EXAMPLE: &'static str = "users";

    fn spec() -> Result<Value, connector_core::Error> {
        let form = JsonlCredential::form()?;
        Ok(json!({
            "documentationUrl": "https://jsonlines.org/",
            "connectionSpecification": form.schema,
            "supportsIncremental": true,
            "supportsNormalization": false,
            "supportsDBT": false,
            "supported_destination_sync_modes": ["append"],
        }))
    }

    fn with_base_url(_: JsonlCredential, _: &str) -> Result<JsonlCredential, Failure> {
        Err(Failure {
            class: FailureClass::Config,
            message: "This connector reads local files: it has no base URL to override.".into(),
            internal: "no base URL".into(),
        })
    }

    fn connected(credential: &JsonlCredential) -> String {
        format!("Read the directory {}.", credential.directory.display())
    }

    fn source(credential: &JsonlCredential) -> Result<JsonlSource, Failure> {
        Ok(JsonlSource::new(&credential.directory))
    }

    fn sink(credential: &JsonlCredential) -> Result<JsonlSink, Failure> {
        Ok(JsonlSink::new(&credential.directory))
    }

    async fn run_command(command: NoCommands, _: &Env, _: &mut dyn Write, _: &mut dyn Write) -> i32 {
        match command {}
    }
}
