//! # connector-core
//!
//! The contract every connector of the host integration platform implements, with nothing
//! service-specific and no HTTP:
//!
//! * [`Credential`]: a credential kind's typed form and its validation call, answering a
//!   [`Validation`] whose failure carries a [`FailureClass`], a message a user acts on, and an
//!   internal detail;
//! * [`Source`]: discover a [`Catalog`], read records as an async stream of [`SourceEvent`]s
//!   with per-stream checkpoints;
//! * [`Source`] records travel parsed ([`Record`]) or as the exact JSON text sent, a page at a
//!   time ([`RawRecords`]);
//! * [`Sink`]: prepare a write of a catalog (fallible, before any record: [`PreparedWrite`]),
//!   then write a stream of [`SinkInput`]s, answering one [`Outcome`] per record and
//!   acknowledging checkpoints; [`order`] holds the ordering every sink owes (checkpoints in
//!   input order after the records before them, one key's records in input order);
//! * [`FormDescriptor`]: the JSON Schema and uiSchemas a host renders a credential form from,
//!   generated with `schemars` in a profile every common renderer accepts;
//! * [`Secret`]: the only type that holds a secret, and [`secret::redact`], which removes one
//!   from a text in every encoding it can take;
//! * [`host`]: the host side of a credential: split a config into its public part and its
//!   [`Secrets`], the masked view, merging an edit (the [`MASK`] keeps a stored secret, never
//!   across a change of its `x-secret-scope`), and where a validation failure belongs.
//!
//! The Airbyte protocol (messages, `--state` forms, exit codes) lives in `connector-runner`.
//!
//! ```
//! use connector_core::{Credential, CredentialMeta, FormDescriptor, Secret, Validation};
//! use schemars::JsonSchema;
//!
//! /// Example service
//! #[derive(serde::Deserialize, JsonSchema)]
//! struct ExampleCredential {
//!     #[serde(flatten)]
//!     meta: CredentialMeta,
//!     /// API key
//!     ///
//!     /// The key from your profile page.
//!     api_key: Secret,
//! }
//!
//! #[async_trait::async_trait]
//! impl Credential for ExampleCredential {
//!     fn meta(&self) -> &CredentialMeta {
//!         &self.meta
//!     }
//!     async fn validate(&self) -> Validation {
//!         Validation::Valid { warnings: vec![], detail: "nothing to check".into() }
//!     }
//! }
//!
//! let form = ExampleCredential::form().unwrap();
//! assert_eq!(form.ui_schema["ui:order"], serde_json::json!(["name", "description", "api_key"]));
//! let cred = ExampleCredential::from_config(&serde_json::json!({"name": "n", "api_key": "k"})).unwrap();
//! assert_eq!(cred.api_key.expose(), "k");
//! ```

pub mod catalog;
pub mod credential;
pub mod error;
pub mod form;
pub mod host;
pub mod order;
pub mod outcome;
pub mod secret;
pub mod sink;
pub mod source;
pub mod state;
pub mod tombstone;
pub mod wait;

pub use catalog::{Catalog, ConfiguredCatalog, ConfiguredStream, DestinationSyncMode, Stream, SyncMode};
pub use credential::{parse_config, Credential, CredentialMeta, FailureReason, Validation};
pub use error::{Error, Failure, FailureClass, FormError};
pub use form::FormDescriptor;
pub use host::{HostError, HostSchema, Secrets, Target, MASK};
pub use secret::Secret;
pub use sink::{Outcome, PreparedWrite, RecordOutcome, Sink, SinkEvent, SinkInput, Stopped, WriteSummary};
pub use source::{Checkpoint, LogLevel, RawRecords, Record, Source, SourceEvent, StreamStatus};
pub use state::SourceState;
pub use tombstone::{Tombstone, DELETED_AT};
pub use wait::Wait;
