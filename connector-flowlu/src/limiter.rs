//! The per-account request governor, shared by the source and the sink.
//!
//! * **Requests in flight** are bounded by an adaptive limit (AIMD): it starts at the
//!   configured maximum, halves on HTTP 429 (at most once per round of requests in flight) and
//!   grows back by one after each round of successes.
//! * An optional **fixed requests-per-second cap** (`governor`).
//! * **Retries** (`backon`) with exponential backoff and jitter on retryable errors
//!   ([`Error::is_retryable`]), honouring `Retry-After`, bounded in attempts and total time.
//!   The slot is released while waiting, so a backing-off request does not block others.
//! * Every wait is **reported** through a callback ([`Wait`]), so a source can emit
//!   `RateLimited` events and a sink can log.
//!
//! ```no_run
//! # async fn demo(client: connector_flowlu::Client) -> Result<(), connector_flowlu::Error> {
//! use connector_flowlu::limiter::{Limiter, LimiterConfig};
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
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Notify;

use crate::error::Error;
use crate::settings::Settings;

/// How retries are paced and bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first backoff delay (doubled on each retry, with jitter).
    pub min_delay: Duration,
    /// The longest single backoff delay (a longer `Retry-After` is honoured up to
    /// [`RetryPolicy::max_total`]).
    pub max_delay: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// The most time spent waiting between attempts of one request.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retries: 8,
            max_total: Duration::from_secs(300),
        }
    }
}

/// How a [`Limiter`] is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimiterConfig {
    /// The most requests in flight (the limit adapts between 1 and this).
    pub max_concurrency: usize,
    /// An optional fixed cap on requests per second.
    pub requests_per_second: Option<u32>,
    /// Retries of idempotent requests.
    pub retry: RetryPolicy,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        Self {
            max_concurrency: crate::settings::DEFAULT_CONCURRENCY as usize,
            requests_per_second: None,
            retry: RetryPolicy::default(),
        }
    }
}

impl LimiterConfig {
    /// The limits of the account's settings, with the default retry policy.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            max_concurrency: settings.concurrency(),
            requests_per_second: settings.requests_per_second,
            retry: RetryPolicy::default(),
        }
    }
}

/// Why a request waits before its next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// Flowlu answered HTTP 429.
    RateLimited,
    /// Another retryable failure (5xx, error 13, timeout, broken connection).
    Retry,
}

/// A wait before the next attempt of a request, as reported to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// Why.
    pub reason: WaitReason,
    /// How long.
    pub delay: Duration,
    /// The attempt that failed (1 for the first).
    pub attempt: usize,
}

/// The per-account governor. Cheap to share behind an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct Limiter {
    gate: Gate,
    rate: Option<DefaultDirectRateLimiter>,
    retry: RetryPolicy,
}

impl Limiter {
    /// A limiter with `config`.
    pub fn new(config: LimiterConfig) -> Self {
        let rate = config
            .requests_per_second
            .and_then(NonZeroU32::new)
            .map(|n| RateLimiter::direct(Quota::per_second(n)));
        Self {
            gate: Gate::new(config.max_concurrency.max(1)),
            rate,
            retry: config.retry,
        }
    }

    /// The current limit of requests in flight.
    pub fn concurrency(&self) -> usize {
        self.gate.limit()
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
        mut request: F,
        retry_if: impl Fn(&Error) -> bool,
        on_wait: &(dyn Fn(&Wait) + Sync),
    ) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let started = Instant::now();
        let attempts = std::sync::atomic::AtomicUsize::new(0);
        let attempt = || {
            attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.run_once(request())
        };
        attempt
            .retry(self.backoff())
            .when(|e| retry_if(e))
            .adjust(|err, next| self.next_delay(err, next, started.elapsed()))
            .notify(|err, delay| {
                on_wait(&Wait {
                    reason: wait_reason(err),
                    delay,
                    attempt: attempts.load(std::sync::atomic::Ordering::Relaxed),
                });
            })
            .await
    }

    /// Runs a request once (no retry) under the same concurrency and rate limits; a 429 still
    /// slows the account down.
    pub async fn run_once<T, Fut>(&self, request: Fut) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, Error>>,
    {
        let permit = self.gate.acquire().await;
        if let Some(rate) = &self.rate {
            rate.until_ready().await;
        }
        let result = request.await;
        match &result {
            Err(Error::RateLimited { .. }) => permit.throttled(),
            Ok(_) => permit.succeeded(),
            Err(_) => {}
        }
        result
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_jitter()
            .with_factor(2.0)
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.max_retries)
    }

    /// The delay before the next attempt: `Retry-After` when sent, else the backoff; `None`
    /// once the attempts or the total time are used up.
    fn next_delay(&self, err: &Error, backoff: Option<Duration>, elapsed: Duration) -> Option<Duration> {
        let delay = backoff?;
        let delay = err.retry_after().unwrap_or(delay);
        (elapsed + delay <= self.retry.max_total).then_some(delay)
    }
}

fn wait_reason(err: &Error) -> WaitReason {
    match err {
        Error::RateLimited { .. } => WaitReason::RateLimited,
        _ => WaitReason::Retry,
    }
}

/// The adaptive bound on requests in flight.
#[derive(Debug)]
struct Gate {
    state: Mutex<GateState>,
    changed: Notify,
}

#[derive(Debug)]
struct GateState {
    max: usize,
    limit: usize,
    in_flight: usize,
    /// Successes since the limit last changed.
    successes: usize,
    /// Requests started since the last decrease: a 429 of a request started before it does
    /// not decrease again.
    epoch: u64,
}

impl Gate {
    fn new(max: usize) -> Self {
        Self {
            state: Mutex::new(GateState {
                max,
                limit: max,
                in_flight: 0,
                successes: 0,
                epoch: 0,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn limit(&self) -> usize {
        self.lock().limit
    }

    async fn acquire(&self) -> Permit<'_> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                if state.in_flight < state.limit {
                    state.in_flight += 1;
                    return Permit {
                        gate: self,
                        epoch: state.epoch,
                        outcome: Outcome::Other,
                    };
                }
            }
            notified.await;
        }
    }

    fn release(&self, epoch: u64, outcome: Outcome) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Throttled if epoch == state.epoch => {
                state.limit = (state.limit / 2).max(1);
                state.successes = 0;
                state.epoch += 1;
                tracing::info!(limit = state.limit, "rate limited: fewer requests in flight");
            }
            Outcome::Succeeded => {
                state.successes += 1;
                if state.limit < state.max && state.successes >= state.limit {
                    state.limit += 1;
                    state.successes = 0;
                }
            }
            Outcome::Throttled | Outcome::Other => {}
        }
        drop(state);
        self.changed.notify_waiters();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Succeeded,
    Throttled,
    Other,
}

/// A slot in the gate, given back on drop (also when the request is cancelled).
struct Permit<'a> {
    gate: &'a Gate,
    epoch: u64,
    outcome: Outcome,
}

impl Permit<'_> {
    fn succeeded(mut self) {
        self.outcome = Outcome::Succeeded;
    }

    fn throttled(mut self) {
        self.outcome = Outcome::Throttled;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.gate.release(self.epoch, self.outcome);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn fast() -> LimiterConfig {
        LimiterConfig {
            max_concurrency: 4,
            requests_per_second: None,
            retry: RetryPolicy {
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(4),
                max_retries: 3,
                max_total: Duration::from_secs(5),
            },
        }
    }

    #[tokio::test]
    async fn retries_retryable_errors_and_reports_waits() {
        let limiter = Limiter::new(fast());
        let calls = AtomicUsize::new(0);
        let waits = Mutex::new(Vec::new());
        let result = limiter
            .run(
                || async {
                    match calls.fetch_add(1, Ordering::SeqCst) {
                        0 => Err(Error::RateLimited { retry_after: None }),
                        1 => Err(Error::Server { status: 502 }),
                        _ => Ok(7),
                    }
                },
                &|w| waits.lock().unwrap().push((w.reason, w.attempt)),
            )
            .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(
            *waits.lock().unwrap(),
            vec![(WaitReason::RateLimited, 1), (WaitReason::Retry, 2)]
        );
        assert_eq!(limiter.concurrency(), 2, "one 429 halves the limit");
    }

    #[tokio::test]
    async fn gives_up_after_max_retries_and_not_on_fatal_errors() {
        let limiter = Limiter::new(fast());
        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = limiter
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(Error::Server { status: 500 })
                },
                &|_| {},
            )
            .await;
        assert!(matches!(result, Err(Error::Server { status: 500 })));
        assert_eq!(calls.swap(0, Ordering::SeqCst), 4, "1 attempt + 3 retries");
        let result: Result<(), _> = limiter
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(Error::Config {
                        field: "f".into(),
                        message: "m".into(),
                    })
                },
                &|_| {},
            )
            .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn honours_retry_after_within_the_total_bound() {
        let limiter = Limiter::new(fast());
        let err = Error::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        };
        let backoff = Some(Duration::from_millis(3));
        assert_eq!(
            limiter.next_delay(&err, backoff, Duration::ZERO),
            Some(Duration::from_secs(2))
        );
        assert_eq!(limiter.next_delay(&err, backoff, Duration::from_secs(4)), None);
        assert_eq!(limiter.next_delay(&err, None, Duration::ZERO), None);
    }

    #[tokio::test]
    async fn bounds_requests_in_flight_and_recovers_after_429() {
        let limiter = Arc::new(Limiter::new(LimiterConfig {
            max_concurrency: 3,
            ..fast()
        }));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..24)
            .map(|_| {
                let (limiter, in_flight, peak) = (limiter.clone(), in_flight.clone(), peak.clone());
                tokio::spawn(async move {
                    limiter
                        .run_once(async {
                            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            tokio::task::yield_now().await;
                            in_flight.fetch_sub(1, Ordering::SeqCst);
                            Ok::<_, Error>(())
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        let _ = limiter
            .run_once(async { Err::<(), _>(Error::RateLimited { retry_after: None }) })
            .await;
        assert_eq!(limiter.concurrency(), 1);
        for _ in 0..1 + 2 {
            limiter.run_once(async { Ok::<_, Error>(()) }).await.unwrap();
        }
        assert_eq!(limiter.concurrency(), 3, "additive increase back to the maximum");
    }
}
