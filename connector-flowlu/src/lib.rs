//! # connector-flowlu
//!
//! A Flowlu (<https://www.flowlu.com>) connector implementing the `connector-core` contract:
//!
//! * [`FlowluCredential`]: name, description, account domain and API key, with a validation
//!   call that tells the user exactly what is wrong;
//! * [`FlowluSource`]: a [`connector_core::Source`] over every Flowlu model, full
//!   refresh and incremental, resumable from any checkpoint, concurrent, constant memory;
//! * [`FlowluSink`]: a [`connector_core::Sink`] that creates, updates, upserts and
//!   deletes records, with one outcome per record;
//! * [`Limiter`]: the per-account request governor both share (bounded and adaptive
//!   requests in flight, optional rate cap, safe retries);
//! * [`Client`]: the REST client (key in the query string, never shown; no redirects;
//!   timeouts always set);
//! * [`Flowlu`]: the `flowlu-connector` binary's Airbyte-protocol program ([`process_main`]).
//!
//! `examples/quickstart.rs` runs the whole flow against the local stand-in;
//! `examples/host.rs` shows how a host platform links the crates.
//!
//! ```no_run
//! use connector_core::Credential;
//! use connector_flowlu::FlowluCredential;
//!
//! # async fn demo() -> Result<(), connector_core::Error> {
//! let form = FlowluCredential::form()?; // schema + uiSchemas for the host to render
//! let value = serde_json::json!({"name": "CRM", "account_domain": "acme", "api_key": "..."});
//! let credential = FlowluCredential::from_config(&value)?;
//! let outcome = credential.validate().await;
//! println!("{outcome:?}");
//! # Ok(()) }
//! ```

// The rooms, bottom up (see ARCHITECTURE.md): values and tables first, then the client, then
// the credential's account, then the source and the sink, then the binary's program.
mod cli;
mod client;
mod columns;
mod credential;
mod dates;
mod error;
mod probe;
mod schemas;
mod sink;
mod source;
mod stream_schema;
mod streams;
pub mod webhook;

pub use cli::{process_main, Flowlu};
pub use client::limiter::{Limiter, LimiterConfig, RetryPolicy};
pub use client::pace_memory::{PaceSnapshot, Rejected as PaceRejected};
pub use client::{Client, ClientBuilder, ListPage, RawListPage, BASE_URL_ENV};
pub use credential::account::Account;
pub use credential::domain::AccountDomain;
pub use credential::registry::AccountBudget;
pub use credential::settings::Settings;
pub use credential::FlowluCredential;
pub use error::{ApiError, Bound, CodeClass, DnsFailure, Error, TransportKind};
pub use sink::{FieldKinds, FlowluSink, StalenessClock, StreamPlan, ValueKind, WritePlan};
pub use source::deletes::Method as ReconcileMethod;
pub use source::{FlowluSource, StreamSummary};
pub use webhook::drain::Webhooks;
pub use webhook::receiver::{Receiver as WebhookReceiver, ReceiverConfig as WebhookReceiverConfig};
pub use webhook::token::Tokens as WebhookTokens;

/// Internals the workspace's tests, fuzz targets and benchmarks reach (not for hosts: no
/// stability promised).
#[doc(hidden)]
pub mod testing {
    pub use crate::cli::probe::{run as run_probe, ProbeArgs, HELP as PROBE_HELP};
    pub use crate::client::{decode, ListPage};
    pub use crate::credential::{validate_with, PROBES};
    pub use crate::probe::{compare, plan_budget, CURSOR_COLUMNS, CUSTOM_FIELD_PAGES, PAGE_SIZES, WRONG_KEY};
    pub use crate::schemas::{credential_form, generated_files};
    pub use crate::source::deletes::{decode_ids, encode_ids};
    pub use crate::streams::{model, MODELS};
}
