//! The Flowlu source: one stream per model, discovered with the account's custom fields, read
//! in full or incrementally with a checkpoint after every page.
//!
//! * Streams are read concurrently (as many as requests in flight are allowed), and pages of a
//!   stream are asked ahead of the one being passed on; every request goes through the
//!   account's [`Limiter`], which bounds requests in flight, retries and slows down on 429.
//! * Records of a stream come out in order, a page at a time as the exact JSON text Flowlu
//!   sent (`SourceEvent::Records`; `Source::read_parsed` parses them), each page followed by
//!   its checkpoint (see [`crate::pager`]); pages are fetched and parsed on their own tasks and at most a few
//!   pages per stream are held, so memory does not grow with the number of records.
//! * A stream that fails (for example a key without access to its module) ends with an
//!   `Error` and `Incomplete`; the others go on. The read ends with a per-stream summary.
//!
//! ```no_run
//! # async fn demo(credential: connector_flowlu::FlowluCredential) -> Result<(), connector_flowlu::Error> {
//! use connector_core::{ConfiguredCatalog, Source, SourceState};
//! use connector_flowlu::FlowluSource;
//! use futures::StreamExt;
//!
//! let source = FlowluSource::from_credential(&credential)?;
//! let catalog = source.discover().await.map_err(|f| connector_flowlu::Error::Config { field: "discover".into(), message: f.message })?;
//! let configured = ConfiguredCatalog::from_catalog(&catalog);
//! let state = SourceState::default();
//! let mut events = source.read(&configured, &state);
//! while let Some(event) = events.next().await {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```

pub mod cursor;
mod discover;
pub mod pager;
mod read;

pub use read::StreamSummary;

use std::sync::atomic::AtomicU32;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::{Catalog, ConfiguredCatalog, Failure, Source, SourceEvent, SourceState};
use futures::stream::BoxStream;

use crate::client::limiter::Limiter;
use crate::client::Client;
use crate::credential::account::Account;
use crate::credential::settings::Settings;
use crate::credential::{explain_at, FlowluCredential};
use crate::error::Error;

/// The Flowlu source for one account.
#[derive(Debug, Clone)]
pub struct FlowluSource {
    account: Account,
    /// The `limit` streams ask first: the setting, lowered for the rest of the run when a
    /// stream shows the account refuses it or caps pages below it.
    page_limit: Arc<AtomicU32>,
}

impl FlowluSource {
    /// A source over `client` with `settings` (and the limits they set).
    pub fn new(client: Client, settings: Settings) -> Self {
        Self::of(Account::new(client, settings))
    }

    fn of(account: Account) -> Self {
        let page_limit = Arc::new(AtomicU32::new(account.settings.page_size()));
        Self { account, page_limit }
    }

    /// A source for a credential, with its advanced settings.
    pub fn from_credential(credential: &FlowluCredential) -> Result<Self, Error> {
        Ok(Self::of(Account::from_credential(credential)?))
    }

    /// Replaces the limiter (for example a shared one, or faster retries in tests).
    pub fn with_limiter(self, limiter: Arc<Limiter>) -> Self {
        Self {
            account: self.account.with_limiter(limiter),
            page_limit: self.page_limit,
        }
    }

    /// The account (client, limiter, settings) this reads or writes.
    pub fn account(&self) -> &Account {
        &self.account
    }

    fn failure(&self, err: &Error) -> Failure {
        explain_at(err, self.account.client.host()).1
    }
}

#[async_trait]
impl Source for FlowluSource {
    async fn discover(&self) -> Result<Catalog, Failure> {
        self.catalog().await
    }

    fn read<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
        state: &'a SourceState,
    ) -> BoxStream<'a, SourceEvent> {
        self.events(catalog, state)
    }
}
