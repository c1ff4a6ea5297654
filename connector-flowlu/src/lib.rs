//! # connector-flowlu
//!
//! A Flowlu (<https://www.flowlu.com>) connector implementing the `connector-core` contract:
//!
//! * [`FlowluCredential`]: name, description, account domain and API key, with a validation
//!   call that tells the user exactly what is wrong;
//! * [`source::FlowluSource`]: a [`connector_core::Source`] over every Flowlu model, full
//!   refresh and incremental, resumable from any checkpoint, concurrent, constant memory;
//! * [`sink::FlowluSink`]: a [`connector_core::Sink`] that creates, updates, upserts and
//!   deletes records, with one outcome per record;
//! * [`client::limiter::Limiter`]: the per-account request governor both share (bounded and adaptive
//!   requests in flight, optional rate cap, safe retries);
//! * [`Client`]: the REST client (key in the query string, never shown; no redirects;
//!   timeouts always set);
//! * [`cli`]: the `flowlu-connector` binary's Airbyte-protocol commands.
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

pub mod cli;
pub mod client;
pub mod credential;
mod dates;
pub mod error;
pub mod probe;
pub mod schemas;
pub mod sink;
pub mod source;
pub mod stream_schema;
pub mod streams;

pub use client::limiter::{Limiter, LimiterConfig, RetryPolicy};
pub use client::{Client, ClientBuilder};
pub use credential::domain::AccountDomain;
pub use credential::settings::Settings;
pub use credential::FlowluCredential;
pub use error::Error;
pub use source::FlowluSource;

/// The README's Rust examples, compiled as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
