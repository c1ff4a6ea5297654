//! [`Account`]: one Flowlu account as the source and the sink use it: its client, its limiter
//! drawn from the portal's budget (`registry`), its settings.

pub(crate) mod registry;

use std::sync::Arc;

use connector_core::Wait as WaitEvent;

use self::registry::AccountBudget;
use crate::base::settings::Settings;
use crate::client::limiter::{Limiter, LimiterConfig, Wait};
use crate::client::pace_memory::{PaceSnapshot, Rejected};
use crate::client::Client;

/// Where the waits of an account's requests are told as they start (a progress display),
/// besides the log: a [`WaitEvent`] per wait.
#[derive(Clone, Default)]
pub struct WaitWatch(Option<Arc<dyn Fn(WaitEvent) + Send + Sync>>);

impl WaitWatch {
    /// Tells every wait to `watch`.
    pub fn new(watch: impl Fn(WaitEvent) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(watch)))
    }
}

impl std::fmt::Debug for WaitWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "WaitWatch(on)"
        } else {
            "WaitWatch(off)"
        })
    }
}

/// A Flowlu account: its client, its request governor and the settings. Every account of the
/// same portal in a process draws from one pace ([`AccountBudget`]), so sources, sinks, checks
/// and discovers together stay within the account's limits; [`Account::with_limiter`] replaces
/// the limiter.
#[derive(Debug, Clone)]
pub struct Account {
    pub(crate) client: Client,
    pub(crate) limiter: Arc<Limiter>,
    pub(crate) settings: Settings,
    pub(crate) waits: WaitWatch,
    /// Cancelled when this account's write stops: no request is sent any more.
    pub(crate) stop: tokio_util::sync::CancellationToken,
}

impl Account {
    /// An account reached through `client`, limited as `settings` say.
    pub fn new(client: Client, settings: Settings) -> Self {
        let budget = AccountBudget::of(&client);
        let limiter = Arc::new(budget.limiter(LimiterConfig::from_settings(&settings)));
        Self {
            client,
            limiter,
            settings,
            waits: WaitWatch::default(),
            stop: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// Replaces the limiter (a shared one, or faster retries in tests).
    pub fn with_limiter(mut self, limiter: Arc<Limiter>) -> Self {
        self.limiter = limiter;
        self
    }

    /// Tells the waits of this account's requests to `waits` (besides the log).
    pub fn with_waits(mut self, waits: WaitWatch) -> Self {
        self.waits = waits;
        self
    }

    /// Stops this account's requests when `stop` is cancelled.
    pub(crate) fn with_stop(mut self, stop: tokio_util::sync::CancellationToken) -> Self {
        self.stop = stop;
        self
    }

    /// A request of `stream` waits before its next attempt: logged, and told to the watch.
    pub(crate) fn waited(&self, stream: &str, wait: &Wait) {
        tracing::debug!(
            stream,
            ?wait.reason,
            cause = %wait.cause,
            delay_ms = wait.delay.as_millis() as u64,
            attempt = wait.attempt,
            "waiting before retrying a request"
        );
        if let Some(watch) = &self.waits.0 {
            watch(wait.event(stream));
        }
    }

    /// The account's limiter, to share with another source or sink.
    pub fn limiter(&self) -> Arc<Limiter> {
        Arc::clone(&self.limiter)
    }

    /// What the account's pace learned so far (see [`Limiter::snapshot`]).
    pub fn pace_snapshot(&self) -> Option<PaceSnapshot> {
        self.limiter.snapshot()
    }

    /// Starts the account's pace from an earlier run's (see [`Limiter::restore`]).
    pub fn restore_pace(&self, snapshot: &PaceSnapshot) -> Result<(), Rejected> {
        self.limiter.restore(snapshot)
    }
}
