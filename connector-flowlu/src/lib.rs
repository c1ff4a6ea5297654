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

// The floors, bottom up (see ARCHITECTURE.md): tables and values (`base`), the client, the
// account, the credential, then the source and the sink, then the probe and the binary's
// program.
mod account;
mod base;
mod cli;
mod client;
mod credential;
mod probe;
mod schemas;
mod sink;
mod source;
pub mod webhook;

pub use account::registry::AccountBudget;
pub use account::{Account, WaitWatch};
pub use base::decision::{Cause, Decision, Label, Refusal, Scope};
pub use base::domain::{AccountDomain, DomainError, Region};
pub use base::error::{
    AccountKind, ApiError, Bound, CodeClass, Denied, DnsFailure, Error, Invalid, MalformedKind, Oversize,
    TransportKind, UnavailableKind,
};
pub use base::settings::{CustomFieldColumns, Settings, WriteMode, WriteRule};
pub use cli::listen::ListenArgs;
pub use cli::probe::ProbeArgs;
pub use cli::{process_main, Flowlu, FlowluCommand};
pub use client::limiter::{Limiter, LimiterConfig, RetryPolicy, Wait, WaitReason};
pub use client::pace_memory::{PaceSnapshot, Rejected as PaceRejected};
pub use client::{Client, ClientBuilder, ListPage, BASE_URL_ENV};
pub use credential::FlowluCredential;
pub use sink::{FieldKinds, FlowluSink, StalenessClock, ValueKind};
pub use source::deletes::Method as ReconcileMethod;
pub use source::webhook::Webhooks;
pub use source::{FlowluSource, StreamSummary};
pub use webhook::receiver::{Receiver as WebhookReceiver, ReceiverConfig as WebhookReceiverConfig};
pub use webhook::token::Tokens as WebhookTokens;

/// Internals the workspace's tests, fuzz targets and benchmarks reach (not for hosts: no
/// stability promised).
#[doc(hidden)]
pub mod testing {
    pub use crate::base::streams::{model, CursorKind, Model, MODELS};
    pub use crate::cli::probe::{ProbeArgs, HELP as PROBE_HELP};
    pub use crate::client::{decode, ListPage};
    pub use crate::credential::{validate_with, PROBES};
    pub use crate::probe::report as probe_report;
    pub use crate::probe::{
        compare, plan_budget, Difference, Report as ProbeReport, CURSOR_COLUMNS, CUSTOM_FIELD_PAGES,
        PAGE_SIZES, WRONG_KEY,
    };
    pub use crate::schemas::{credential_form, generated_files};
    pub use crate::source::deletes::{decode_ids, encode_ids};

    /// Runs `flowlu-connector probe` (`cli::probe::run` for [`Flowlu`](crate::Flowlu)).
    pub async fn run_probe(
        args: &ProbeArgs,
        env: &connector_runner::Env,
        out: &mut dyn std::io::Write,
        err: &mut dyn std::io::Write,
    ) -> i32 {
        crate::cli::probe::run::<crate::Flowlu>(args, env, out, err).await
    }
}
