//! What every read and discover of one source holds: the account, and the page size the
//! account showed it honours (learned once per run, shared by its streams).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use connector_core::Failure;

use crate::account::Account;
use crate::base::decision::Refusal;
use crate::base::error::Error;
use crate::credential::explain_at;
use crate::source::pager::Pager;

/// How a reconciliation read the portal's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Count id ranges, list only those whose count changed; a scan where counts are not
    /// honoured.
    Auto,
    /// Every id, a page at a time.
    Scan,
}

/// The account and the page size its streams ask first.
#[derive(Debug, Clone)]
pub(super) struct Session {
    pub(super) account: Account,
    /// The `limit` streams ask first: the setting, lowered for the rest of the run when a
    /// stream shows the account refuses it or caps pages below it.
    page_limit: Arc<AtomicU32>,
    /// How reconciliations read the portal's ids.
    pub(super) method: Method,
    /// Webhooks spooled for this source: reads drain them and poll only when due.
    pub(super) webhooks: Option<Arc<crate::source::webhook::Webhooks>>,
}

impl Session {
    pub(super) fn new(account: Account) -> Self {
        let page_limit = Arc::new(AtomicU32::new(account.settings.page_size()));
        Self {
            account,
            page_limit,
            method: Method::Auto,
            webhooks: None,
        }
    }

    /// The same page size learned, over another account (another limiter).
    pub(super) fn with_account(self, account: Account) -> Self {
        Self {
            account,
            page_limit: self.page_limit,
            method: self.method,
            webhooks: self.webhooks,
        }
    }

    /// A user-facing failure of `err`.
    pub(super) fn failure(&self, err: &Error) -> Failure {
        explain_at(err, self.account.client.host()).1
    }

    /// The `limit` a stream asks first.
    pub(super) fn first_limit(&self) -> u32 {
        self.page_limit.load(Ordering::Relaxed)
    }

    /// Keeps a page size the portal showed it caps pages at (a short page that was not the
    /// last), for the account's later requests.
    pub(super) fn learn_cap(&self, served: u32) {
        if served > 0 {
            self.page_limit.fetch_min(served, Ordering::Relaxed);
        }
    }

    /// Keeps for the account's later streams a page size a stream showed it honours.
    pub(super) fn learn(&self, pager: &Pager) {
        if let Some(limit) = pager.learned_limit() {
            self.page_limit.fetch_min(limit, Ordering::Relaxed);
        }
    }
}

/// Whether an error answer to a list request may refuse how the page was asked (its `limit`
/// or its filter: Flowlu's error 10 (unknown), 12 (invalid request) or 21 (validation), never
/// a key's, a module's or a rate limit), and if so whether it is 12 or 21 (what a refused
/// filter answers).
pub(super) fn refusal(err: &Error) -> Option<bool> {
    err.decision().refused.map(|refused| refused == Refusal::Filter)
}
