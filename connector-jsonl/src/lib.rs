//! # connector-jsonl
//!
//! A JSON-lines file connector, built only on `connector-core` (the contract) and
//! `connector-runner` (the Airbyte-protocol program): the second connector that shows the
//! contract is not Flowlu's.
//!
//! * [`JsonlCredential`]: a directory (no secret).
//! * [`JsonlSource`]: one stream per `*.jsonl` file; each line a record, passed on as the exact
//!   text of the line; a checkpoint after each page: the byte offset after its last complete
//!   line (see [`source`]).
//! * [`JsonlSink`]: appends records to `<stream>.jsonl`, one outcome per record, checkpoints
//!   acknowledged once the lines before them are synced to disk (see [`sink`]).
//! * [`Jsonl`]: the [`connector_runner::Connector`] of the `jsonl-connector` binary.
//!
//! ```
//! use connector_core::{Credential, Source};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("orders.jsonl"), "{\"id\":1}\n").unwrap();
//! let credential = connector_jsonl::JsonlCredential::new("exports", dir.path());
//! assert!(credential.validate().await.is_valid());
//! let catalog = connector_jsonl::JsonlSource::new(&credential).discover().await.unwrap();
//! assert_eq!(catalog.streams[0].name, "orders");
//! # }
//! ```

use connector_core::Failure;
use connector_runner::{Connector, NoCommands};

mod credential;
mod directory;
mod lines;
pub mod sink;
pub mod source;

pub use credential::JsonlCredential;
pub use sink::JsonlSink;
pub use source::JsonlSource;

/// Where the file format is described.
pub const DOCUMENTATION_URL: &str = "https://jsonlines.org/";

/// JSON-lines files, for the runner.
#[derive(Debug, Clone, Copy)]
pub struct Jsonl;

const EXAMPLES: &str = "Examples:
  jsonl-connector spec
  jsonl-connector check --config config.json
  jsonl-connector discover --config config.json > catalog.jsonl
  jsonl-connector read --config config.json --catalog configured_catalog.json --state state.json
  jsonl-connector write --config config.json --catalog configured_catalog.json < messages.jsonl

config.json:
  {\"name\": \"exports\", \"directory\": \"/data/exports\"}";

impl Connector for Jsonl {
    type Credential = JsonlCredential;
    type Source = JsonlSource;
    type Sink = JsonlSink;
    type Commands = NoCommands;

    const NAME: &'static str = "jsonl-connector";
    const ABOUT: &'static str =
        "A JSON-lines file connector speaking the Airbyte protocol: each *.jsonl file of a directory is a stream.";
    const EXAMPLES: &'static str = EXAMPLES;
    const CONFIG_EXAMPLE: &'static str = "{\"name\": \"exports\", \"directory\": \"/data/exports\"}";
    const STREAM_EXAMPLE: &'static str = "orders";
    const DOCUMENTATION_URL: &'static str = DOCUMENTATION_URL;

    fn connected(credential: &JsonlCredential) -> String {
        format!(
            "Reading and writing the .jsonl files of {}.",
            credential.directory.display()
        )
    }

    fn source(credential: &JsonlCredential) -> Result<JsonlSource, Failure> {
        Ok(JsonlSource::new(credential))
    }

    fn sink(credential: &JsonlCredential) -> Result<JsonlSink, Failure> {
        Ok(JsonlSink::new(credential))
    }
}
