//! The Flowlu source, [`FlowluSource`] (its documentation says what it does).

pub(crate) mod deletes;
mod discover;
pub(crate) mod pager;
mod read;
mod session;
pub(crate) mod shape;
pub(crate) mod webhook;

pub use read::StreamSummary;

use session::Session;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::{Catalog, ConfiguredCatalog, Failure, Source, SourceEvent, SourceState};
use futures::stream::BoxStream;

use crate::account::Account;
use crate::base::error::Error;
use crate::base::settings::Settings;
use crate::client::limiter::Limiter;
use crate::client::Client;
use crate::credential::FlowluCredential;

/// The Flowlu source for one account.
///
/// The Flowlu source: one stream per model, discovered with the account's custom fields, read
/// in full or incrementally with a checkpoint after every page.
///
/// * Streams are read concurrently (as many as requests in flight are allowed), and pages of a
///   stream are asked ahead of the one being passed on; every request goes through the
///   account's [`Limiter`], which bounds requests in flight, retries and slows down on 429.
/// * Records of a stream come out in order, a page at a time as the exact JSON text Flowlu
///   sent (`SourceEvent::Records`; `Source::read_parsed` parses them), each page followed by
///   its checkpoint (see `pager`); pages are fetched and parsed on their own tasks and at most a few
///   pages per stream are held, so memory does not grow with the number of records.
/// * A stream that fails (for example a key without access to its module) ends with an
///   `Error` and `Incomplete`; the others go on. The read ends with a per-stream summary.
///
/// ```no_run
/// # async fn demo(credential: connector_flowlu::FlowluCredential) -> Result<(), connector_flowlu::Error> {
/// use connector_core::{ConfiguredCatalog, Source, SourceState};
/// use connector_flowlu::FlowluSource;
/// use futures::StreamExt;
///
/// let source = FlowluSource::from_credential(&credential)?;
/// let catalog = source.discover().await.map_err(|f| connector_flowlu::Error::config("discover", f.message))?;
/// let configured = ConfiguredCatalog::from_catalog(&catalog);
/// let state = SourceState::default();
/// let mut events = source.read(&configured, &state);
/// while let Some(event) = events.next().await {
///     println!("{event:?}");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FlowluSource {
    session: Session,
}

impl FlowluSource {
    /// A source over `client` with `settings` (and the limits they set).
    pub fn new(client: Client, settings: Settings) -> Self {
        Self::of(Account::new(client, settings))
    }

    fn of(account: Account) -> Self {
        Self {
            session: Session::new(account),
        }
    }

    /// A source for a credential, with its advanced settings (a `webhook_spool` drains it).
    pub fn from_credential(credential: &FlowluCredential) -> Result<Self, Error> {
        let source = Self::of(Account::from_credential(credential)?);
        let settings = &source.session.account.settings;
        let hooks = settings
            .webhook_spool()
            .map(|root| crate::source::webhook::Webhooks::new(root, settings.webhook_poll_seconds()));
        Ok(match hooks {
            Some(hooks) => source.with_webhooks(hooks),
            None => source,
        })
    }

    /// Reads drain the webhooks spooled under `hooks` (see "Webhooks" in the crate's README):
    /// records and tombstones from each incremental stream's spool, then a poll of each stream
    /// whose poll is due.
    pub fn with_webhooks(mut self, hooks: crate::source::webhook::Webhooks) -> Self {
        self.session.webhooks = Some(Arc::new(hooks));
        self
    }

    /// Replaces the limiter (for example a shared one, or faster retries in tests).
    pub fn with_limiter(self, limiter: Arc<Limiter>) -> Self {
        let account = self.session.account.clone().with_limiter(limiter);
        Self {
            session: self.session.with_account(account),
        }
    }

    /// Reads the portal's ids in every reconciliation with `method` (by default counting id
    /// ranges where the portal honours it; [`crate::ReconcileMethod::Scan`] lists every id).
    pub fn with_reconcile_method(mut self, method: deletes::Method) -> Self {
        self.session.method = method;
        self
    }

    /// Reconciles now, whatever the schedule: for each incremental stream of `catalog` whose
    /// state in `state` holds the ids given to the destination (a read of a stream configured
    /// `append_dedup` or `overwrite` with `deletes` on keeps them), the ids Flowlu no longer holds come as
    /// [`SourceEvent::Delete`] (proved complete, confirmed and within
    /// `max_deletes_percent`), followed by the stream's new [`SourceEvent::Checkpoint`]; logs say what
    /// was done or why nothing was sent (see "Deletes" in the crate's README). A host that is not Airbyte applies the deletes its
    /// own way and keeps the checkpoint as the stream's state.
    pub fn reconcile<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
        state: &'a SourceState,
    ) -> BoxStream<'a, SourceEvent> {
        use futures::StreamExt;
        futures::stream::iter(catalog.streams.iter())
            .then(move |configured| self.session.reconcile_stream(configured, state))
            .flat_map(futures::stream::iter)
            .boxed()
    }

    /// The account (client, limiter, settings) this reads or writes.
    pub fn account(&self) -> &Account {
        &self.session.account
    }
}

#[async_trait]
impl Source for FlowluSource {
    async fn discover(&self) -> Result<Catalog, Failure> {
        self.session.catalog().await
    }

    fn read<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
        state: &'a SourceState,
    ) -> BoxStream<'a, SourceEvent> {
        let poll = self.session.events(catalog, state);
        match &self.session.webhooks {
            Some(hooks) => crate::source::webhook::read(Arc::clone(hooks), catalog, state, poll),
            None => poll,
        }
    }
}
