//! The per-account request governor, shared by the source and the sink. In the shape of an
//! adaptive concurrency limiter, one idea a file:
//!
//! * [`controller`]: the **pace** (requests per second) learnt from the account's answers,
//!   because Flowlu caps each account at an unknown rate and refuses the rest: a start that
//!   costs nothing without a cap, a bisection between the last clean and the refused rate,
//!   then a ceiling held and probed. A refusal is any [`Error::RateLimited`]; nothing else
//!   teaches the pace.
//! * [`pace`]: the **slots**: when each request may go at that rate, never a burst; an
//!   optional fixed `requests_per_second` as a hard upper bound; `Retry-After` pausing every
//!   request of the account.
//! * [`turns`]: the jobs **sharing** one pace (`AccountBudget`): each limiter a job with its
//!   own requests in flight, retries and `requests_per_second`; a free slot goes to the
//!   waiting job served longest ago.
//! * [`gate`]: the **requests in flight**, an adaptive limit (AIMD) apart from the pace.
//! * [`retry`]: **retries** with backoff and jitter, and every wait **reported** through a
//!   callback ([`Wait`]), so a source can emit `RateLimited` events and a sink can log.
//! * This file: the [`Limiter`] that puts them together around one request
//!   ([`Limiter::run_until`]), and what the pace learned **remembered** between runs
//!   ([`Limiter::snapshot`], [`Limiter::restore`], the form in `pace_memory`).
//!
//! The simulated portal the algorithm is measured against (a token bucket, in paused time)
//! lives in the tests (`tests/portal.rs`).
//!
//! ```no_run
//! # async fn demo(client: connector_flowlu::Client) -> Result<(), connector_flowlu::Error> {
//! use connector_flowlu::{Limiter, LimiterConfig};
//!
//! let limiter = Limiter::new(LimiterConfig::default());
//! let params = [("page".to_string(), "1".to_string())];
//! let page = limiter
//!     .run(|| client.list("crm", "account", &params), &|wait| eprintln!("{wait:?}"))
//!     .await?;
//! // A create is not idempotent: run it once, under the same limits.
//! let created = limiter.run_once(client.create("crm", "account", &[])).await?;
//! # let _ = (page, created); Ok(()) }
//! ```

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::base::error::Error;
use crate::base::settings::Settings;
use crate::client::pace_memory::{PaceSnapshot, Rejected};

mod controller;
mod gate;
mod pace;
mod retry;
mod turns;

use controller::{Phase, UNPACED};
use gate::Gate;
pub(crate) use pace::Pace;
pub(crate) use retry::cause;
use retry::wait_reason;
pub use retry::{RetryPolicy, Wait, WaitReason};

/// How a [`Limiter`] is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimiterConfig {
    /// The most requests in flight (the limit adapts between 1 and this).
    pub max_concurrency: usize,
    /// An optional fixed cap on requests per second: a hard upper bound of the learnt pace.
    pub requests_per_second: Option<u32>,
    /// Retries of idempotent requests.
    pub retry: RetryPolicy,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        Self {
            max_concurrency: crate::base::settings::DEFAULT_CONCURRENCY as usize,
            requests_per_second: None,
            retry: RetryPolicy::default(),
        }
    }
}

impl LimiterConfig {
    /// The limits of the account's settings: the default retry policy, within the settings'
    /// retry budget (`max_retry_seconds`).
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            max_concurrency: settings.concurrency(),
            requests_per_second: settings.requests_per_second,
            retry: RetryPolicy {
                max_total: settings.max_retry(),
                ..RetryPolicy::default()
            },
        }
    }
}

/// The per-account governor. Cheap to share behind an `Arc`; every method takes `&self`.
///
/// A limiter built with [`Limiter::new`] learns its pace alone; the limiters of an
/// [`Account`](crate::Account) share one pace per portal (see [`AccountBudget`](crate::AccountBudget)), each with
/// its own requests in flight, retries and `requests_per_second`.
#[derive(Debug)]
pub struct Limiter {
    gate: Gate,
    pace: Arc<Pace>,
    /// This limiter's job in the pace.
    job: u64,
    /// This job's `requests_per_second` over a shared pace, as the least time between two of
    /// its requests (a pace of its own holds it as its upper bound).
    gap: Option<Duration>,
    retry: RetryPolicy,
}

impl Drop for Limiter {
    fn drop(&mut self) {
        self.pace.leave(self.job);
    }
}

impl Limiter {
    /// A limiter with `config`.
    pub fn new(config: LimiterConfig) -> Self {
        let cap = config.requests_per_second.and_then(NonZeroU32::new);
        Self {
            gate: Gate::new(config.max_concurrency.max(1)),
            pace: Arc::new(Pace::new(cap.map(|n| f64::from(n.get())))),
            job: JOBS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            gap: None,
            retry: config.retry,
        }
    }

    /// A limiter with `config` drawing from `pace`, which other limiters of the same account
    /// share; `requests_per_second` bounds this limiter's requests only.
    pub(crate) fn sharing(config: LimiterConfig, pace: Arc<Pace>) -> Self {
        let cap = config.requests_per_second.and_then(NonZeroU32::new);
        Self {
            gate: Gate::new(config.max_concurrency.max(1)),
            pace,
            job: JOBS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            gap: cap.map(|n| Duration::from_secs_f64(1.0 / f64::from(n.get()))),
            retry: config.retry,
        }
    }

    /// Whether this limiter and `other` draw from the same pace (the same account's budget).
    pub fn shares_pace_with(&self, other: &Limiter) -> bool {
        Arc::ptr_eq(&self.pace, &other.pace)
    }

    /// What the pace has learned about the account so far, to keep for the next run (`None`
    /// while it knows nothing: no refusal met yet, nor a pace restored).
    pub fn snapshot(&self) -> Option<PaceSnapshot> {
        self.pace.snapshot()
    }

    /// Starts the pace from what an earlier run learned: at the rate found, probing above it
    /// as usual (a raised cap is found again; a refusal lowers it as any refusal does). Refused
    /// when the snapshot is stale or invalid, or the pace already learns from answers.
    pub fn restore(&self, snapshot: &PaceSnapshot) -> Result<(), Rejected> {
        self.pace.restore(snapshot)
    }

    /// The current limit of requests in flight.
    pub fn concurrency(&self) -> usize {
        self.gate.limit()
    }

    /// A limiter whose pace is not learnt from refusals (they are still retried, and
    /// `Retry-After` still pauses): for stand-ins whose refusals are random draws, not a cap.
    pub fn without_pace_learning(self) -> Self {
        self.pace.lock().learning = false;
        self
    }

    /// The current pace in requests per second (`None` while not enforced: before the first
    /// refusal, or beyond what any timer can space).
    pub fn pace(&self) -> Option<f64> {
        let state = self.pace.lock();
        (state.phase != Phase::Start && state.rate < UNPACED).then_some(state.rate)
    }

    /// The learnt ceiling, if any: while the pace searches, a rate refused; once it is steady,
    /// the rate it holds just below and probes above (`None` before the search began).
    pub fn ceiling(&self) -> Option<f64> {
        self.pace.lock().ceiling
    }

    /// Runs an idempotent request, retrying it while [`Error::is_retryable`]; `on_wait` hears
    /// of every wait before it starts.
    pub async fn run<T, F, Fut>(&self, request: F, on_wait: &(dyn Fn(&Wait) + Sync)) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        self.run_when(request, Error::is_retryable, on_wait).await
    }

    /// Runs a request, retrying it while `retry_if` says so (for example only on 429 and
    /// connection failures for a create); `on_wait` hears of every wait.
    pub async fn run_when<T, F, Fut>(
        &self,
        request: F,
        retry_if: impl Fn(&Error) -> bool,
        on_wait: &(dyn Fn(&Wait) + Sync),
    ) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        self.run_until(&CancellationToken::new(), request, retry_if, on_wait)
            .await
    }

    /// [`Limiter::run_when`] until `stop` is cancelled: from then on no attempt is sent (a wait
    /// for a slot, for the pace or before a retry ends at once with [`Error::Stopped`]); an
    /// attempt already sent runs to its answer or its timeout.
    pub async fn run_until<T, F, Fut>(
        &self,
        stop: &CancellationToken,
        mut request: F,
        retry_if: impl Fn(&Error) -> bool,
        on_wait: &(dyn Fn(&Wait) + Sync),
    ) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        if stop.is_cancelled() {
            return Err(Error::Stopped);
        }
        let started = Instant::now();
        let attempts = std::sync::atomic::AtomicUsize::new(0);
        let count = || attempts.load(std::sync::atomic::Ordering::Relaxed);
        let attempt = || {
            attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.run_once_until(stop, request())
        };
        let sleeper = {
            let stop = stop.clone();
            move |delay: Duration| {
                let stop = stop.clone();
                async move {
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = stop.cancelled() => {}
                    }
                }
            }
        };
        attempt
            .retry(self.backoff())
            .sleep(sleeper)
            .when(|e| retry_if(e))
            .adjust(|err, next| self.next_delay(err, next, started.elapsed(), count()))
            .notify(|err, delay| {
                let reason = wait_reason(err);
                // A refused request also waits for its slot in the (lowered) pace.
                let delay = match reason {
                    WaitReason::RateLimited => delay.max(self.pace.wait()),
                    WaitReason::Retry => delay,
                };
                on_wait(&Wait {
                    reason,
                    delay,
                    attempt: count(),
                    cause: cause(err),
                });
            })
            .await
    }

    /// Runs a request once (no retry) under the same pace, concurrency and rate limits; a
    /// refusal still slows the account down.
    pub async fn run_once<T, Fut>(&self, request: Fut) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, Error>>,
    {
        self.run_once_until(&CancellationToken::new(), request).await
    }

    /// [`Limiter::run_once`], not sent once `stop` is cancelled (a wait for a slot or for the
    /// pace then ends at once with [`Error::Stopped`]).
    async fn run_once_until<T, Fut>(&self, stop: &CancellationToken, request: Fut) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, Error>>,
    {
        let asked = Instant::now();
        let permit = tokio::select! {
            biased;
            () = stop.cancelled() => return Err(Error::Stopped),
            permit = self.gate.acquire() => permit,
        };
        let admitted = Instant::now();
        let ticket = tokio::select! {
            biased;
            () = stop.cancelled() => return Err(Error::Stopped),
            ticket = self.pace.acquire(self.job, self.gap) => ticket,
        };
        if stop.is_cancelled() {
            return Err(Error::Stopped);
        }
        let sent = Instant::now();
        // Once stopped, a request on the wire gets its answer or, after a grace, is abandoned
        // (so a signalled process ends in time whatever the request timeout).
        let abandon = async {
            stop.cancelled().await;
            tokio::time::sleep(IN_FLIGHT_GRACE).await;
        };
        let result = tokio::select! {
            biased;
            result = request => result,
            () = abandon => Err(Error::Abandoned),
        };
        tracing::debug!(
            gate_ms = (admitted - asked).as_millis() as u64,
            pace_ms = (sent - admitted).as_millis() as u64,
            answer_ms = sent.elapsed().as_millis() as u64,
            rate = ticket.rate,
            outcome = match &result {
                Ok(_) => "ok",
                Err(Error::RateLimited { .. }) => "rate limited",
                Err(_) => "failed",
            },
            "request"
        );
        match &result {
            Err(Error::RateLimited { retry_after }) => {
                ticket.refused(*retry_after);
                permit.throttled();
            }
            Ok(_) => {
                ticket.clean();
                permit.succeeded();
            }
            // Not an answer about the rate: the pace learns nothing.
            Err(_) => {}
        }
        result
    }

    fn backoff(&self) -> ExponentialBuilder {
        self.retry.backoff()
    }

    /// See [`RetryPolicy::next_delay`].
    fn next_delay(
        &self,
        err: &Error,
        backoff: Option<Duration>,
        elapsed: Duration,
        attempts: usize,
    ) -> Option<Duration> {
        self.retry.next_delay(err, backoff, elapsed, attempts)
    }
}

/// How long a request already sent when its write stops may still wait for its answer before
/// it is abandoned ([`Error::Abandoned`]): within the 10 s a container runtime grants after
/// SIGTERM (Docker's default), with room to report.
pub(crate) const IN_FLIGHT_GRACE: Duration = Duration::from_secs(7);

/// Limiters so far (each a job of its pace).
static JOBS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[cfg(test)]
mod tests;
