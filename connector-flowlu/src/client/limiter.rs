//! The per-account request governor, shared by the source and the sink.
//!
//! * **Pace** (requests per second), learnt from the account's answers, because Flowlu caps
//!   each account at an unknown number of requests per second (about one on the portals seen)
//!   and refuses the rest (HTTP 429, or `{"error":"Request rate per second exceeded"}` at any
//!   status). Like TCP's congestion control:
//!   - *slow start*: requests are not spaced; as many go at once as half the clean answers so
//!     far, plus one (1, 1, 2, 2, 3 ...: free without a cap, and a cap is met by one request
//!     at a time rather than by a burst), until the first refusal; then a *paced start* from
//!     one request per second, doubling with every clean answer, until the next;
//!   - that refusal puts the cap between the last clean rate and the refused one: the pace
//!     *bisects* that interval, each try of the middle held for 20 clean answers in a row before
//!     it counts as clean (a refusal makes it the new upper end), and holds at the lower end
//!     while one more refusal would exceed 4% of the requests (those sent and the next 30 s
//!     of them at that rate); once the ends are within 13%, the lower end is the *ceiling*;
//!   - on a later refusal (once per change: a refusal of a request sent before the last
//!     decrease does not decrease again) the last rate answered clean becomes the ceiling and
//!     the pace drops to 85% of the refused one; when that refusal found the cap where the
//!     ceiling already was, the hold before the next probe doubles (60 answers, then 120, ...
//!     up to 1,920), so that a cap that does not move costs fewer and fewer refusals;
//!   - below the ceiling the pace climbs back quickly (5% per clean answer) to 97% of it, then
//!     slowly (0.05% per answer) up to it, then probes above it (0.2% per answer, times the
//!     clean answers above it so far, up to 20; 13% above it clean, that is the new ceiling),
//!     so that a raised cap is found again and a refusal is rare (about one in 65 requests
//!     once settled).
//!   - a refusal with `Retry-After` pauses every request of the account until it has passed,
//!     and does not change the pace (the portal said when to come back; both forms Flowlu is
//!     known to send have none).
//!   - when the pace was far above what the account answered clean over the last 2 s (a burst
//!     allowance drained), it drops to that at once (the bisection to between that and twice
//!     that), given at least 4 clean answers in those 2 s (fewer measure how little was
//!     asked, not the account); a refusal soon after another also lowers the ceiling; a
//!     refusal before any clean answer since the last one halves the pace.
//!   - once the ceiling is found, the pace holds at it for 60 answers before probing (a cap of
//!     exactly that rate costs a refusal per probe).
//!
//!   Requests are spaced by at least `1 / pace`, plus 2% and 2 ms of slack (a cap is usually
//!   a round rate, as are the rates tried, and a request spaced exactly `1 / cap` is refused
//!   whenever it arrives a little early): never a burst. Above 1,000 requests per second
//!   the pace is not enforced (no cap of that size is known; timers are too coarse for it).
//! * An optional **fixed requests-per-second cap** (`requests_per_second`): a hard upper
//!   bound of the pace, no burst: requests are at least `1 / cap` apart. (The pace is kept on
//!   tokio's clock, so tests can run it in paused time; `governor`, which keeps its own
//!   clock, is no longer needed.)
//! * **Requests in flight** are bounded by an adaptive limit (AIMD): it starts at the
//!   configured maximum, halves on a refusal (at most once per round of requests in flight)
//!   and grows back by one after each round of successes.
//! * **Retries** (`backon`) with exponential backoff and jitter on retryable errors
//!   ([`Error::is_retryable`]), never waiting longer than [`RetryPolicy::max_delay`] at a time,
//!   honouring `Retry-After` (also beyond `max_delay`, as long as the request stays within
//!   [`RetryPolicy::max_total`]; a longer one ends the retries, and a warning says so), bounded
//!   in attempts and total time. A request refused for the first time is sent again in the
//!   next slot of the (lowered) pace, without a backoff of its own, up to its third refusal
//!   (the other pages of a read wait for it: a backoff would stop the read). The slot in flight is
//!   released while waiting, so a backing-off request does not block others.
//! * Every wait is **reported** through a callback ([`Wait`]), so a source can emit
//!   `RateLimited` events and a sink can log.
//! * The pace is **remembered** ([`Limiter::snapshot`], [`Limiter::restore`], the form in
//!   `pace_memory`): a run restored from what an earlier one learned starts at that rate and
//!   holds it for 15 s of requests before probing above it; a refusal at or below it before
//!   any other (the cap was lowered) searches again from half the refused rate.
//! * The pace is **shared** by the jobs of one account in a process (`AccountBudget`): each
//!   limiter is a job with its own requests in flight, retries and `requests_per_second`;
//!   a free slot goes to the waiting job served longest ago.
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
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use backon::{ExponentialBuilder, Retryable};
use connector_core::SourceEvent;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::pace_memory::{unix_seconds, PaceSnapshot, Rejected};
use crate::base::error::Error;
use crate::base::settings::Settings;

/// How retries are paced and bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first backoff delay (doubled on each retry, with jitter).
    pub min_delay: Duration,
    /// The longest single backoff delay, jitter included (a longer `Retry-After` is honoured
    /// while the request stays within [`RetryPolicy::max_total`]).
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
    /// Flowlu refused the request for the account's rate limit (HTTP 429 or a rate-limit
    /// `error` text).
    RateLimited,
    /// Another retryable failure (5xx, error 13, timeout, broken connection).
    Retry,
}

/// A wait before the next attempt of a request, as reported to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    /// Why.
    pub reason: WaitReason,
    /// How long.
    pub delay: Duration,
    /// The attempt that failed (1 for the first).
    pub attempt: usize,
    /// What the failed attempt met, in a few words for a person ([`cause`]): `rate limited`,
    /// `HTTP 502`, `timeout`, `connection dropped`, `HTTP 200 with an HTML page`, ...
    pub cause: String,
}

impl Wait {
    /// The wait as the event a progress display and the log show for `stream`:
    /// [`SourceEvent::RateLimited`] or [`SourceEvent::Retrying`] (with [`Wait::cause`]).
    pub fn event(&self, stream: &str) -> SourceEvent {
        let wait_ms = u64::try_from(self.delay.as_millis()).unwrap_or(u64::MAX);
        match self.reason {
            WaitReason::RateLimited => SourceEvent::RateLimited {
                stream: Some(stream.to_string()),
                wait_ms,
            },
            WaitReason::Retry => SourceEvent::Retrying {
                stream: stream.to_string(),
                attempt: self.attempt,
                wait_ms,
                reason: self.cause.clone(),
            },
        }
    }
}

/// What a retried request met, in a few words for a progress line or a log (never a body
/// text, which may echo what was sent).
pub(crate) fn cause(err: &Error) -> String {
    use crate::base::error::{MalformedKind, TransportKind, UnavailableKind};
    match err {
        Error::RateLimited {
            retry_after: Some(after),
        } => format!("rate limited, Retry-After {} s", after.as_secs()),
        Error::RateLimited { retry_after: None } => "rate limited".into(),
        Error::Server { status } => format!("HTTP {status}"),
        Error::Unavailable {
            status,
            kind: UnavailableKind::HtmlPage,
            ..
        } => {
            format!("HTTP {status} with an HTML page")
        }
        Error::Unavailable { status, .. } => format!("HTTP {status}"),
        Error::Transport { kind, .. } => match kind {
            TransportKind::Timeout => "timeout".into(),
            TransportKind::Connect => "connection refused".into(),
            TransportKind::Body => "connection dropped".into(),
            TransportKind::Dns => "name did not resolve".into(),
            TransportKind::Other => "request failed".into(),
        },
        Error::Malformed {
            kind: MalformedKind::Truncated,
            ..
        } => "connection dropped (body cut short)".into(),
        Error::Api(api) => match api.code {
            Some(code) => format!("Flowlu error {code}"),
            None => "a Flowlu error".into(),
        },
        Error::Malformed { status, .. } => format!("an answer not understood (HTTP {status})"),
        _ => "temporary error".into(),
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

    /// The rate last refused, if any: the learnt ceiling the pace probes around.
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
        // backon's jitter adds up to the delay again: half the longest delay, doubled at most.
        ExponentialBuilder::default()
            .with_jitter()
            .with_factor(2.0)
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay / 2)
            .with_max_times(self.retry.max_retries)
    }

    /// The delay before the next attempt (`attempts` made so far): `Retry-After` when sent;
    /// none after the first [`PACED_RETRIES`] refusals without one (the lowered pace spaces the
    /// retry); else the
    /// backoff, at most [`RetryPolicy::max_delay`]. `None` once the attempts or the total time
    /// are used up.
    fn next_delay(
        &self,
        err: &Error,
        backoff: Option<Duration>,
        elapsed: Duration,
        attempts: usize,
    ) -> Option<Duration> {
        let backoff = backoff?.min(self.retry.max_delay);
        let delay = match err {
            Error::RateLimited {
                retry_after: Some(after),
            } => *after,
            // The lowered pace spaces the retry: a backoff of its own would stop the read,
            // whose other pages wait for this one, and empty the pace's window of evidence.
            Error::RateLimited { retry_after: None } if attempts <= PACED_RETRIES => Duration::ZERO,
            _ => backoff,
        };
        if elapsed + delay > self.retry.max_total {
            if err.retry_after().is_some() {
                tracing::warn!(
                    retry_after_s = delay.as_secs(),
                    max_total_s = self.retry.max_total.as_secs(),
                    "Flowlu asked to wait longer than a request may spend waiting: giving up on this request"
                );
            }
            return None;
        }
        if delay > self.retry.max_delay {
            tracing::info!(
                retry_after_s = delay.as_secs(),
                "honouring Retry-After beyond the longest backoff"
            );
        }
        Some(delay)
    }
}

/// How long a request already sent when its write stops may still wait for its answer before
/// it is abandoned ([`Error::Abandoned`]): within the 10 s a container runtime grants after
/// SIGTERM (Docker's default), with room to report.
pub(crate) const IN_FLIGHT_GRACE: Duration = Duration::from_secs(7);

/// Above this pace (requests per second) requests are not spaced.
const UNPACED: f64 = 1000.0;
/// The lowest pace: one request every ten seconds.
const MIN_RATE: f64 = 0.1;
/// The pace of the first request's slot, before any answer (public clients pace at one a
/// second).
const START_RATE: f64 = 1.0;
/// After a refusal, the pace is this share of the refused rate.
const BACKOFF: f64 = 0.85;
/// Growth per clean answer below [`RECOVERED`] of the ceiling.
const RECOVER: f64 = 1.05;
/// The share of the ceiling where quick recovery ends.
const RECOVERED: f64 = 0.97;
/// Growth per clean answer from [`RECOVERED`] of the ceiling up to it.
const APPROACH: f64 = 1.0005;
/// Growth per clean answer above the ceiling, times the clean answers above it so far (up to
/// [`PROBE_STEPS`]): probing starts gently and speeds up while the answers stay clean.
const PROBE: f64 = 0.002;
/// A refusal within this many clean answers of the last one lowers the ceiling too.
const SOON: u32 = 20;
/// See [`PROBE`].
const PROBE_STEPS: u32 = 20;
/// Clean answers held at the ceiling the bisection found before probing above it (a cap of
/// exactly that rate costs a refusal per probe: the fewer probes, the fewer refusals).
const HOLD: u32 = 60;
/// Refusals of one request (without `Retry-After`) sent again in the pace's next slot, before
/// backing off.
const PACED_RETRIES: usize = 3;
/// Clean answers in [`WINDOW`] before what they deliver may bound the pace after a refusal.
const EVIDENCE: usize = 4;
/// A refused probe whose last clean rate is unknown puts the ceiling this factor below it.
const PROBE_FLOOR: f64 = 1.02;
/// At most this many doublings of [`HOLD`] (60 answers to 60 x 32).
const MAX_CONFIRMED: u32 = 5;
/// [`Phase::Bisect`]: clean answers in a row at a rate before it counts as clean.
const BISECT_HOLD: u32 = 20;
/// [`Phase::Bisect`]: the share of requests the search may have refused.
const BUDGET: f64 = 0.04;
/// [`Phase::Bisect`]: the requests [`BUDGET`] counts beyond those sent: this long at `low`.
const HORIZON: Duration = Duration::from_secs(30);
/// [`Phase::Bisect`] ends once the refused rate is within this factor of the clean one.
const CLOSE: f64 = 1.13;
/// See [`spacing`]: the share of `1 / rate` added between two requests.
const SLACK: f64 = 0.02;
/// See [`spacing`]: the milliseconds added between two requests.
const SLACK_MS: u64 = 2;
/// The window over which clean requests are counted to bound the pace after a refusal (when
/// the pace was far above what was answered clean: a burst allowance drained).
const WINDOW: Duration = Duration::from_secs(2);

/// The time between two requests at `rate`: `1 / rate`, plus [`SLACK`] of it and
/// [`SLACK_MS`]. A portal's cap is usually a round rate (1, 2, 5, 10 per second), the rates
/// the paced start and the bisection try are round too, and a request spaced exactly `1 / cap`
/// after the last one is refused whenever it reaches the portal a little sooner than the last
/// did (a timer woken late, a slower answer): without slack, a pace at the cap is refused half
/// the time, and the search settles 10-15% below it.
fn spacing(rate: f64) -> Duration {
    Duration::from_secs_f64((1.0 + SLACK) / rate) + Duration::from_millis(SLACK_MS)
}

/// Where the pace is in its search for the account's cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No refusal yet: a request goes as soon as the last one was answered clean (or its slot
    /// came), the rate doubling with every clean answer. Costs nothing without a cap.
    Start,
    /// Refused during [`Phase::Start`] (which says nothing of the cap's size): from
    /// [`START_RATE`] up, doubling the rate with every clean answer, each request in its slot.
    PacedStart,
    /// Refused during [`Phase::PacedStart`]: the cap lies between the last clean rate and the
    /// refused one; the pace bisects that interval (see [`PaceState::bisect`]).
    Bisect,
    /// A ceiling is known; the pace stays just below it and probes above it.
    Steady,
}

/// One job (limiter) drawing from a pace.
#[derive(Debug, Default)]
struct JobState {
    /// Its requests waiting for a slot.
    waiting: usize,
    /// The pace's turn count when it was last served (0: never).
    turn: u64,
    /// When its last request was let through.
    last: Option<Instant>,
    /// Its own `requests_per_second`, as the least time between two of its requests.
    gap: Option<Duration>,
}

impl JobState {
    /// The earliest its own bound lets its next request go.
    fn next(&self) -> Option<Instant> {
        self.last.zip(self.gap).map(|(last, gap)| last + gap)
    }
}

/// A request of a job waiting for a slot; counted while it waits (also when cancelled).
struct Waiting<'a> {
    pace: &'a Pace,
    job: u64,
    waiting: bool,
}

impl<'a> Waiting<'a> {
    fn new(pace: &'a Pace, job: u64, gap: Option<Duration>) -> Self {
        let mut state = pace.lock();
        let entry = state.jobs.entry(job).or_default();
        entry.waiting += 1;
        entry.gap = gap;
        Self {
            pace,
            job,
            waiting: true,
        }
    }

    /// Served: no longer waiting (the count was taken down under the lock).
    fn done(mut self) {
        self.waiting = false;
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.waiting {
            if let Some(entry) = self.pace.lock().jobs.get_mut(&self.job) {
                entry.waiting = entry.waiting.saturating_sub(1);
            }
            self.pace.changed.notify_waiters();
        }
    }
}

/// Limiters so far (each a job of its pace).
static JOBS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How long a restored pace holds at the remembered rate before probing above it (a short
/// read never probes; a raised cap is still found within a minute), in answers at that rate,
/// at least [`RESTORED_HOLD_MIN`] and at most [`HOLD`].
const RESTORED_HOLD: Duration = Duration::from_secs(15);
/// See [`RESTORED_HOLD`].
const RESTORED_HOLD_MIN: u32 = 10;

/// The learnt pace of the account: the slot of each request.
#[derive(Debug)]
pub(crate) struct Pace {
    state: Mutex<PaceState>,
    changed: Notify,
}

#[derive(Debug)]
struct PaceState {
    /// Requests per second now.
    rate: f64,
    /// The hard upper bound (`requests_per_second`), or infinity.
    max: f64,
    /// The rate last refused; `None` in slow start.
    ceiling: Option<f64>,
    phase: Phase,
    /// Clean answers since the last decrease.
    clean_since: u32,
    /// Clean answers in a row above the ceiling.
    above: u32,
    /// Clean answers still to hold before probing (in [`Phase::Bisect`]: before the next step).
    hold: u32,
    /// [`Phase::Bisect`]: the highest rate answered clean for [`BISECT_HOLD`] answers.
    low: f64,
    /// [`Phase::Bisect`]: the lowest rate refused.
    high: f64,
    /// [`Phase::Bisect`]: the pace tries the middle of `low..high` (else it holds at `low`).
    trying: bool,
    /// Requests let through so far.
    sent: u64,
    /// Refusals heard so far (every one, also those that did not lower the pace).
    refusals: u64,
    /// When the requests answered clean in the last [`WINDOW`] were let through.
    delivered: std::collections::VecDeque<Instant>,
    /// When the last request was let through.
    last: Option<Instant>,
    /// No request before this (`Retry-After`).
    resume_at: Option<Instant>,
    /// Requests let through and not answered yet.
    in_flight: usize,
    /// Decreases so far: a refusal of a request let through before the last one is not news.
    epoch: u64,
    /// Whether refusals lower the pace.
    learning: bool,
    /// The rate of the last request answered clean.
    clean_rate: f64,
    /// [`Phase::Steady`]: refusals in a row that found the cap where the ceiling said (each
    /// doubles the hold before the next probe above it).
    confirmed: u32,
    /// The rate last refused (forgotten once a rate as high is answered clean).
    refused_rate: Option<f64>,
    /// Answers (clean or refused) heard so far.
    answers: u64,
    /// When the pace restored was learned (Unix seconds).
    restored_at: Option<u64>,
    /// A pace restored and not refused since: a refusal at or below it contradicts it.
    restored_fresh: bool,
    /// The jobs drawing from this pace.
    jobs: std::collections::HashMap<u64, JobState>,
    /// Slots handed out so far (see [`JobState::turn`]).
    turns: u64,
}

impl Pace {
    /// A pace shared by the limiters of one account, with no bound of its own.
    pub(crate) fn shared() -> Self {
        Self::new(None)
    }

    /// See [`Limiter::snapshot`].
    pub(crate) fn snapshot(&self) -> Option<PaceSnapshot> {
        self.lock().snapshot(SystemTime::now())
    }

    /// See [`Limiter::restore`].
    pub(crate) fn restore(&self, snapshot: &PaceSnapshot) -> Result<(), Rejected> {
        snapshot.check(SystemTime::now())?;
        let restored = self.lock().restore(snapshot);
        if restored.is_ok() {
            tracing::info!(
                requests_per_second = format!("{:.2}", snapshot.clean),
                "starting from the account's remembered pace"
            );
            self.changed.notify_waiters();
        }
        restored
    }

    fn new(max: Option<f64>) -> Self {
        let max = max.unwrap_or(f64::INFINITY);
        Self {
            state: Mutex::new(PaceState {
                rate: START_RATE.min(max),
                max,
                ceiling: None,
                phase: Phase::Start,
                clean_since: 0,
                above: 0,
                hold: 0,
                low: 0.0,
                high: 0.0,
                trying: false,
                sent: 0,
                refusals: 0,
                delivered: std::collections::VecDeque::new(),
                last: None,
                resume_at: None,
                in_flight: 0,
                epoch: 0,
                learning: true,
                clean_rate: 0.0,
                confirmed: 0,
                refused_rate: None,
                answers: 0,
                restored_at: None,
                restored_fresh: false,
                jobs: std::collections::HashMap::new(),
                turns: 0,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PaceState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the next slot of `job` (whose own requests are at least `gap` apart): `1 /
    /// rate` after the last request (in slow start, also as soon as the last request was
    /// answered clean), not before a `Retry-After` has passed, and in turn with the other jobs
    /// waiting: a slot goes to the waiting job served longest ago, so that a job with one
    /// request in flight is not crowded out by one with many.
    async fn acquire(&self, job: u64, gap: Option<Duration>) -> Ticket<'_> {
        let waiting = Waiting::new(self, job, gap);
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let at = {
                let mut state = self.lock();
                let now = Instant::now();
                let own = state.jobs.get(&job).and_then(JobState::next);
                let at = own.map_or(state.next_slot(now), |own| state.next_slot(now).max(own));
                if at <= now && state.turn_of(now) == Some(job) {
                    state.turns += 1;
                    let turn = state.turns;
                    if let Some(entry) = state.jobs.get_mut(&job) {
                        entry.waiting = entry.waiting.saturating_sub(1);
                        entry.turn = turn;
                        entry.last = Some(now);
                    }
                    waiting.done();
                    state.last = Some(now);
                    state.in_flight += 1;
                    state.sent += 1;
                    let ticket = Ticket {
                        pace: self,
                        epoch: state.epoch,
                        rate: state.rate,
                        sent: now,
                        done: false,
                    };
                    drop(state);
                    self.changed.notify_waiters();
                    return ticket;
                }
                if at <= now {
                    // Another job's turn: woken when it takes the slot.
                    now + Duration::from_secs(3600)
                } else {
                    at
                }
            };
            tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                () = notified => {}
            }
        }
    }

    /// Forgets `job` (its limiter is dropped).
    fn leave(&self, job: u64) {
        self.lock().jobs.remove(&job);
        self.changed.notify_waiters();
    }

    /// How long a request asking now would wait for its slot.
    fn wait(&self) -> Duration {
        let state = self.lock();
        let now = Instant::now();
        // Slow start spaces nothing.
        let gap = if state.rate < UNPACED && state.phase != Phase::Start {
            spacing(state.rate)
        } else {
            Duration::ZERO
        };
        let paced = state.last.map_or(now, |last| last + gap);
        state
            .resume_at
            .map_or(paced, |r| r.max(paced))
            .saturating_duration_since(now)
    }

    fn answered(&self, epoch: u64, rate: f64, sent: Instant, outcome: PaceOutcome) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if !matches!(outcome, PaceOutcome::Dropped) {
            state.answers += 1;
        }
        match outcome {
            PaceOutcome::Clean => state.clean(rate, sent),
            PaceOutcome::Refused(retry_after) => {
                state.refusals += 1;
                match retry_after {
                    // The portal said when to come back: every request of the account waits.
                    Some(after) => {
                        let until = Instant::now() + after;
                        state.resume_at = Some(state.resume_at.map_or(until, |r| r.max(until)));
                    }
                    None if epoch == state.epoch && state.learning => state.refused(rate, Instant::now()),
                    None => {}
                }
            }
            PaceOutcome::Dropped => {}
        }
        drop(state);
        self.changed.notify_waiters();
    }
}

impl PaceState {
    /// The job whose request takes a slot free now: of those waiting whose own bound lets
    /// them send, the one served longest ago.
    fn turn_of(&self, now: Instant) -> Option<u64> {
        self.jobs
            .iter()
            .filter(|(_, job)| job.waiting > 0 && job.next().is_none_or(|next| next <= now))
            .min_by_key(|(id, job)| (job.turn, **id))
            .map(|(id, _)| *id)
    }

    fn next_slot(&self, now: Instant) -> Instant {
        let bound = match self.last {
            Some(last) if self.max.is_finite() => last + Duration::from_secs_f64(1.0 / self.max),
            _ => now,
        };
        let paced = match self.last {
            None => now,
            Some(_) if self.rate >= UNPACED => now,
            // Slow start: not spaced; as many in flight as clean answers so far, plus one.
            Some(_) if self.phase == Phase::Start => {
                if self.in_flight * 2 <= self.clean_since as usize {
                    now
                } else {
                    // Woken by the next answer.
                    now + Duration::from_secs(3600)
                }
            }
            Some(last) => last + spacing(self.rate),
        };
        let paced = paced.max(bound);
        match self.resume_at {
            Some(resume) if resume > paced => resume,
            _ => paced,
        }
    }

    /// What has been learned, to keep for the next run.
    fn snapshot(&self, now: SystemTime) -> Option<PaceSnapshot> {
        let (clean, refused) = match self.phase {
            Phase::Bisect => (self.low, Some(self.high)),
            Phase::Steady => (self.ceiling?, self.refused_rate),
            Phase::Start | Phase::PacedStart => return None,
        };
        // A ceiling put at a refused rate (refused before any clean answer) is not clean.
        let clean = match refused {
            Some(r) if r <= clean => r / CLOSE,
            _ => clean,
        };
        let learned_at = if self.answers > 0 {
            unix_seconds(now)
        } else {
            self.restored_at?
        };
        Some(PaceSnapshot {
            version: super::pace_memory::VERSION,
            clean,
            refused: refused.filter(|r| *r > clean),
            learned_at,
        })
    }

    /// Starts from `snapshot` (checked by the caller) unless requests already teach the pace.
    fn restore(&mut self, snapshot: &PaceSnapshot) -> Result<(), Rejected> {
        // Restored before (by another job of the account) and nothing sent since: the newer
        // snapshot wins; once requests were sent, the answers teach the pace.
        if self.sent > 0 || (self.phase != Phase::Start && self.restored_at.is_none()) {
            return Err(Rejected::AlreadyLearning);
        }
        let clean = snapshot.clean.clamp(MIN_RATE, self.max);
        self.phase = Phase::Steady;
        self.ceiling = Some(clean);
        self.rate = clean;
        self.clean_rate = clean;
        let hold = (RESTORED_HOLD.as_secs_f64() * clean) as u32;
        self.hold = hold.clamp(RESTORED_HOLD_MIN, HOLD);
        self.above = 0;
        self.confirmed = 0;
        self.refused_rate = snapshot.refused;
        self.restored_at = Some(snapshot.learned_at);
        self.restored_fresh = true;
        Ok(())
    }

    fn clean(&mut self, rate: f64, sent: Instant) {
        if self.refused_rate.is_some_and(|r| rate >= r) {
            self.refused_rate = None;
        }
        self.clean_since = self.clean_since.saturating_add(1);
        self.clean_rate = rate;
        self.delivered.push_back(sent);
        while self.delivered.len() > 1 && self.delivered.front().is_some_and(|t| *t + WINDOW < sent) {
            self.delivered.pop_front();
        }
        let rate = match (self.phase, self.ceiling) {
            (Phase::Bisect, _) => self.bisect_clean(),
            (Phase::Start | Phase::PacedStart, _) | (Phase::Steady, None) => self.rate * 2.0,
            (Phase::Steady, Some(c)) if self.rate < c * RECOVERED => (self.rate * RECOVER).min(c * RECOVERED),
            (Phase::Steady, Some(_)) if self.hold > 0 => {
                self.hold -= 1;
                self.rate
            }
            (Phase::Steady, Some(c)) if self.rate < c => self.rate * APPROACH,
            // Clean answers 10% above the ceiling: the cap was raised (or a burst allowance is
            // being spent); that is the new ceiling, probed gently again.
            (Phase::Steady, Some(c)) if self.rate >= c * CLOSE => {
                self.ceiling = Some(self.rate);
                self.above = 0;
                self.confirmed = 0;
                self.rate
            }
            (Phase::Steady, Some(_)) => {
                self.above = (self.above + 1).min(PROBE_STEPS);
                self.rate * (1.0 + PROBE * f64::from(self.above))
            }
        };
        self.rate = rate.min(self.max).min(UNPACED * 2.0);
    }

    /// [`Phase::Bisect`]: the pace after a clean answer. [`BISECT_HOLD`] clean answers in a
    /// row at the middle of `low..high` make it the new low; the pace holds at the low while
    /// one more refusal would exceed [`BUDGET`] of the requests (those sent so far and the
    /// next [`BISECT_HOLD`]). Once `high` is within [`CLOSE`] of `low`, the pace is steady.
    fn bisect_clean(&mut self) -> f64 {
        if self.trying {
            if self.hold > 0 {
                self.hold -= 1;
                return self.rate;
            }
            self.low = self.rate;
        }
        if self.high <= self.low * CLOSE {
            return self.settle();
        }
        let horizon = HORIZON.as_secs_f64() * self.low;
        let allowed = (self.refusals + 1) as f64 <= BUDGET * (self.sent as f64 + horizon);
        if !allowed {
            self.trying = false;
            return self.low;
        }
        self.trying = true;
        self.hold = BISECT_HOLD;
        (self.low + self.high) / 2.0
    }

    /// From [`Phase::Bisect`] to [`Phase::Steady`]: at `low`, the ceiling (the cap lies
    /// between it and `high`, within [`CLOSE`]); probing above it finds the rest.
    fn settle(&mut self) -> f64 {
        self.phase = Phase::Steady;
        self.ceiling = Some(self.low);
        self.hold = HOLD;
        self.above = 0;
        self.low
    }

    /// A refusal of a request let through at `rate`.
    fn refused(&mut self, rate: f64, now: Instant) {
        self.refused_rate = Some(rate);
        // The portal contradicts the remembered pace (the cap was lowered since): search
        // again as after a first paced refusal, between half this rate and this one.
        if std::mem::take(&mut self.restored_fresh) && self.ceiling.is_some_and(|c| rate <= c * PROBE_FLOOR) {
            tracing::info!(
                requests_per_second = format!("{rate:.2}"),
                "the remembered pace was refused: learning the account's pace again"
            );
            self.phase = Phase::PacedStart;
        }
        let (ceiling, next) = match self.phase {
            Phase::Start => (None, START_RATE),
            // The rate before the last doubling was clean: the cap lies between the two.
            Phase::PacedStart => {
                self.low = rate / 2.0;
                self.high = rate;
                self.trying = false;
                (Some(rate), rate / 2.0)
            }
            Phase::Bisect => {
                if self.trying {
                    self.high = rate;
                } else {
                    // Refused at the low (a burst allowance made it look clean): lower it.
                    self.high = self.low;
                    self.low *= BACKOFF;
                }
                self.trying = false;
                (Some(self.high), self.low)
            }
            // Refused again before any clean answer: far above the cap.
            Phase::Steady if self.clean_since == 0 => (Some(rate), rate / 2.0),
            // Refused again soon after the last refusal: still above the cap (a burst
            // allowance draining), step down faster.
            Phase::Steady if self.clean_since < SOON => (Some(rate * 0.9), rate * 0.75),
            // A probe above the ceiling refused: the cap lies between the last rate answered
            // clean and this one. That clean rate is the ceiling (approached again without a
            // refusal); when the cap is found where the ceiling was, the next probe waits
            // twice as long (a cap that does not move costs fewer and fewer refusals).
            Phase::Steady => {
                let clean = if self.clean_rate > 0.0 && self.clean_rate < rate {
                    self.clean_rate
                } else {
                    rate / PROBE_FLOOR
                };
                let same = self
                    .ceiling
                    .is_some_and(|c| rate <= c * CLOSE && rate >= c / CLOSE);
                self.confirmed = if same {
                    (self.confirmed + 1).min(MAX_CONFIRMED)
                } else {
                    0
                };
                self.hold = HOLD << self.confirmed;
                (Some(clean), rate * BACKOFF)
            }
        };
        // Far above what the account answered clean over the last window (a burst allowance
        // was drained): down to that at once rather than by one refusal per step.
        while self.delivered.front().is_some_and(|t| *t + WINDOW < now) {
            self.delivered.pop_front();
        }
        // Fewer clean answers than [`EVIDENCE`] in the window say how little was asked (the
        // paced start, a pause), not how little the account answers: without this bound, a
        // refusal early in the search once pulled the pace to 0.5/s and a read of a minute at
        // a cap of 5/s took six.
        let evidence = self.delivered.len() >= EVIDENCE;
        let delivered = self.delivered.len() as f64 / WINDOW.as_secs_f64();
        let next = if self.phase != Phase::Start && evidence && next > 4.0 * delivered {
            // The cap is near what was delivered: bisect around that.
            self.low = self.low.min(delivered);
            self.high = self.high.min(2.0 * delivered);
            delivered
        } else {
            next
        };
        self.phase = match self.phase {
            Phase::Start => Phase::PacedStart,
            Phase::PacedStart | Phase::Bisect => Phase::Bisect,
            Phase::Steady => Phase::Steady,
        };

        self.ceiling = ceiling.map(|c| c.max(MIN_RATE)).or(self.ceiling);
        let next = if self.phase == Phase::Bisect && self.high <= self.low * CLOSE {
            self.settle()
        } else {
            next
        };
        self.rate = next.clamp(MIN_RATE, self.max);
        self.clean_since = 0;
        self.above = 0;
        self.epoch += 1;
        tracing::info!(
            requests_per_second = format!("{:.2}", self.rate),
            "rate limited: pacing the account more slowly"
        );
    }
}

#[derive(Debug, Clone, Copy)]
enum PaceOutcome {
    Clean,
    Refused(Option<Duration>),
    Dropped,
}

/// A request let through by the pace; its answer (or its drop, when cancelled) is told back.
struct Ticket<'a> {
    pace: &'a Pace,
    epoch: u64,
    rate: f64,
    sent: Instant,
    done: bool,
}

impl Ticket<'_> {
    fn clean(mut self) {
        self.done = true;
        self.pace
            .answered(self.epoch, self.rate, self.sent, PaceOutcome::Clean);
    }

    fn refused(mut self, retry_after: Option<Duration>) {
        self.done = true;
        self.pace.answered(
            self.epoch,
            self.rate,
            self.sent,
            PaceOutcome::Refused(retry_after),
        );
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.pace
                .answered(self.epoch, self.rate, self.sent, PaceOutcome::Dropped);
        }
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
    use super::tests_support::*;
    use super::*;
    use crate::base::error::{MalformedKind, UnavailableKind};
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

    #[tokio::test(start_paused = true)]
    async fn a_stopped_write_sends_nothing_new_and_abandons_an_answer_that_does_not_come() {
        let limiter = Limiter::new(LimiterConfig {
            max_concurrency: 1,
            requests_per_second: None,
            retry: RetryPolicy::default(),
        });
        let stop = CancellationToken::new();
        let sent = AtomicUsize::new(0);
        // Stopped before: nothing is sent.
        let stopped = CancellationToken::new();
        stopped.cancel();
        let result: Result<(), Error> = limiter
            .run_until(
                &stopped,
                || async {
                    sent.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                },
                Error::is_retryable,
                &|_| {},
            )
            .await;
        assert!(matches!(result, Err(Error::Stopped)), "{result:?}");
        assert_eq!(sent.load(Ordering::SeqCst), 0);
        // On the wire when the stop comes, no answer: abandoned after the grace.
        let started = Instant::now();
        let hanging = limiter.run_until(
            &stop,
            || async {
                sent.fetch_add(1, Ordering::SeqCst);
                futures::future::pending::<Result<(), Error>>().await
            },
            Error::is_retryable,
            &|_| {},
        );
        let (result, ()) = tokio::join!(hanging, async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            stop.cancel();
        });
        assert!(matches!(result, Err(Error::Abandoned)), "{result:?}");
        assert_eq!(started.elapsed(), Duration::from_secs(1) + IN_FLIGHT_GRACE);
        assert_eq!(sent.load(Ordering::SeqCst), 1);
        assert!(Error::Abandoned.may_have_been_applied() && !Error::Abandoned.is_retryable());
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
                &|w| waits.lock().unwrap().push((w.reason, w.attempt, w.cause.clone())),
            )
            .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(
            *waits.lock().unwrap(),
            vec![
                (WaitReason::RateLimited, 1, "rate limited".to_string()),
                (WaitReason::Retry, 2, "HTTP 502".to_string())
            ]
        );
        assert_eq!(limiter.concurrency(), 2, "one 429 halves the limit");
    }

    #[test]
    fn a_wait_names_what_the_attempt_met() {
        let api = |code| {
            Error::Api(Box::new(crate::base::error::ApiError {
                code,
                message: "the body's words, canary".into(),
                fields: Default::default(),
            }))
        };
        let cases = [
            (Error::RateLimited { retry_after: None }, "rate limited"),
            (
                Error::RateLimited {
                    retry_after: Some(Duration::from_secs(3)),
                },
                "rate limited, Retry-After 3 s",
            ),
            (Error::Server { status: 502 }, "HTTP 502"),
            (
                Error::Unavailable {
                    status: 503,
                    kind: UnavailableKind::Message,
                    detail: "Service Unavailable canary".into(),
                },
                "HTTP 503",
            ),
            (
                Error::Unavailable {
                    status: 200,
                    kind: UnavailableKind::HtmlPage,
                    detail: format!("{}, after good answers", crate::base::error::HTML_PAGE),
                },
                "HTTP 200 with an HTML page",
            ),
            (
                // The kind decides, not the words of the detail.
                Error::Unavailable {
                    status: 503,
                    kind: UnavailableKind::Message,
                    detail: format!("{}, canary", crate::base::error::HTML_PAGE),
                },
                "HTTP 503",
            ),
            (
                Error::Malformed {
                    status: 200,
                    kind: MalformedKind::Truncated,
                    detail: format!("{}: canary", crate::base::error::TRUNCATED),
                },
                "connection dropped (body cut short)",
            ),
            (
                Error::Malformed {
                    status: 200,
                    kind: MalformedKind::NotJson,
                    detail: format!("{}: canary", crate::base::error::TRUNCATED),
                },
                "an answer not understood (HTTP 200)",
            ),
            (api(Some(13)), "Flowlu error 13"),
            (api(None), "a Flowlu error"),
        ];
        for (err, expected) in cases {
            assert_eq!(cause(&err), expected, "{err:?}");
        }
    }

    #[tokio::test]
    async fn a_wait_names_a_timeout_and_a_dropped_connection() {
        // Real transport errors: a listener that never answers (timeout), and one that
        // closes the connection at once (dropped before an answer).
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closing = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let urls =
            [silent.local_addr().unwrap(), closing.local_addr().unwrap()].map(|a| format!("http://{a}/"));
        let _keep = silent;
        tokio::spawn(async move {
            while let Ok((conn, _)) = closing.accept().await {
                drop(conn);
            }
        });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let mut causes = Vec::new();
        for url in urls {
            let err = http.get(url).send().await.map(|_| ()).unwrap_err();
            causes.push(cause(&Error::transport(err)));
        }
        assert_eq!(causes, ["timeout", "connection dropped"]);
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
                    Err(Error::config("f", "m"))
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
            limiter.next_delay(&err, backoff, Duration::ZERO, 1),
            Some(Duration::from_secs(2))
        );
        assert_eq!(limiter.next_delay(&err, backoff, Duration::from_secs(4), 1), None);
        assert_eq!(limiter.next_delay(&err, None, Duration::ZERO, 1), None);
    }

    #[tokio::test(start_paused = true)]
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

    /// `(cap, burst, latency ms, least throughput, most refused share)`: every cap, between
    /// the rates the paced start tries or not, with a burst allowance or not, meets the
    /// targets (0.9 of the cap, 5% refused) over a read of a minute.
    const CAPS: &[(f64, u32, u64, f64, f64)] = &[
        (1.0, 1, 5, 0.9, 0.05),
        (2.0, 1, 5, 0.9, 0.05),
        (5.0, 1, 5, 0.9, 0.05),
        (10.0, 1, 5, 0.9, 0.05),
        (1.0, 1, 300, 0.9, 0.05),
        (10.0, 10, 5, 0.9, 0.05),
        (5.0, 5, 150, 0.9, 0.05),
        (3.0, 1, 80, 0.9, 0.05),
        (3.0, 1, 5, 0.9, 0.05),
        (3.0, 5, 5, 0.9, 0.05),
        (2.0, 5, 150, 0.9, 0.05),
        (10.0, 5, 40, 0.9, 0.05),
    ];

    #[tokio::test(start_paused = true)]
    async fn a_pause_in_asking_does_not_pull_the_pace_down_to_what_was_asked() {
        // The search tries 6/s between 4 (clean) and 8 (refused); one clean answer in the last
        // 2 s, because the read asked for nothing while a page waited. The refusal of 6 says
        // the cap lies below 6, not that the account answers 0.5/s: the pace holds at 4.
        // (It once dropped to 0.5/s, and a read of a minute at a cap of 5/s took six.)
        let pace = Pace::new(None);
        {
            let mut state = pace.lock();
            state.phase = Phase::Bisect;
            (state.rate, state.low, state.high, state.trying) = (6.0, 4.0, 8.0, true);
            state.delivered.push_back(Instant::now());
        }
        tokio::time::advance(Duration::from_millis(1900)).await;
        let mut state = pace.lock();
        state.refused(6.0, Instant::now());
        assert_eq!((state.rate, state.low, state.high), (4.0, 4.0, 6.0));
        // With the evidence of a full window (8 clean answers in 2 s, 4/s), a refusal far
        // above what was answered (a burst allowance drained) still bounds the pace by it.
        state.phase = Phase::Steady;
        (state.rate, state.ceiling, state.clean_since) = (20.0, Some(20.0), 100);
        let now = Instant::now();
        state.delivered = (0..8u32).map(|i| now - Duration::from_millis(250) * i).collect();
        state.refused(20.0, now);
        assert_eq!(state.rate, 4.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_refused_again_is_sent_in_the_next_slot_before_backing_off() {
        let limiter = Limiter::new(LimiterConfig::default());
        let err = Error::RateLimited { retry_after: None };
        let backoff = Some(Duration::from_millis(700));
        let delays: Vec<_> = (1..=5)
            .map(|attempts| limiter.next_delay(&err, backoff, Duration::ZERO, attempts))
            .collect();
        let zero = Some(Duration::ZERO);
        assert_eq!(delays, [zero, zero, zero, backoff, backoff]);
    }

    #[tokio::test(start_paused = true)]
    async fn converges_on_the_cap_of_the_account() {
        let mut report = Vec::new();
        let mut ok = true;
        for &(cap, burst, latency_ms, least, most) in CAPS {
            // A read of a minute at the cap, four pages in flight.
            let pages = (cap * 60.0) as usize;
            let limiter = Arc::new(Limiter::new(paced()));
            let read = simulate(limiter.clone(), Portal::new(cap, burst, latency_ms), pages, 4).await;
            let throughput = read.ideal / read.seconds;
            let refused = read.refused as f64 / (pages + read.refused) as f64;
            let pace = limiter.pace().unwrap();
            report.push(format!(
                "cap {cap}/s burst {burst} latency {latency_ms} ms: {:.1} s (ideal {:.1}), throughput {throughput:.3}, {} refused ({:.1}%), pace {pace:.2}",
                read.seconds, read.ideal, read.refused, refused * 100.0
            ));
            // The pace ends near the cap; a burst allowance lets it probe above for a while
            // (3/s with a burst of 5 ends its minute at about 3.9).
            let above = if burst > 1 { 1.35 } else { 1.1 };
            ok &= throughput >= least && refused <= most && pace <= cap * above;
        }
        eprintln!("{}", report.join("\n"));
        assert!(ok, "{}", report.join("\n"));
    }

    #[tokio::test(start_paused = true)]
    async fn failures_that_are_not_rate_refusals_do_not_teach_the_pace() {
        // No cap, one request in five failing (a 503 or a dropped body): retried after a
        // backoff, never paced, every request still in flight.
        let limiter = Arc::new(Limiter::new(paced()));
        let portal = Portal::failing(1e9, 1_000_000, 4, 5);
        let read = simulate(limiter.clone(), portal.clone(), 1_000, 4).await;
        // 1,249 requests: 1,000 answered, every fifth failed.
        assert_eq!(portal.failed.load(Ordering::SeqCst), 249, "{read:?}");
        assert_eq!((read.refused, limiter.pace(), limiter.ceiling()), (0, None, None));
        assert_eq!(limiter.concurrency(), 4);
        // Capped, one request in seven failing: the pace finds the cap and holds it as it
        // does without failures (the same read without them beside it).
        for (cap, burst, latency_ms) in [(1.0, 1, 5), (2.0, 1, 5), (5.0, 1, 150), (3.0, 1, 80)] {
            let pages = (cap * 60.0) as usize;
            let clean = Arc::new(Limiter::new(paced()));
            let baseline = simulate(clean.clone(), Portal::new(cap, burst, latency_ms), pages, 4).await;
            let limiter = Arc::new(Limiter::new(paced()));
            let portal = Portal::failing(cap, burst, latency_ms, 7);
            let read = simulate(limiter.clone(), portal.clone(), pages, 4).await;
            let failed = portal.failed.load(Ordering::SeqCst);
            // A failed request takes its slot of the pace too: the ideal counts it.
            let throughput = (pages + failed) as f64 / cap / read.seconds;
            let (pace, ceiling) = (limiter.pace().unwrap(), limiter.ceiling().unwrap());
            let report = format!(
                "cap {cap}: {read:?}, throughput {throughput:.3}, pace {pace:.2}, ceiling {ceiling:.2}, failed {failed}; without failures: {baseline:?}, pace {:.2}",
                clean.pace().unwrap()
            );
            assert!(failed >= pages / 7, "{report}");
            assert!(throughput >= 0.9, "{report}");
            assert!(read.refused <= baseline.refused + 1, "{report}");
            assert!((pace - clean.pace().unwrap()).abs() <= cap * 0.1, "{report}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_leaves_a_learnt_pace_and_the_requests_in_flight_as_they_were() {
        let limiter = Arc::new(Limiter::new(paced()));
        simulate(limiter.clone(), Portal::new(3.0, 1, 5), 120, 4).await;
        let before = (limiter.pace(), limiter.ceiling(), limiter.concurrency());
        assert!(before.0.is_some() && before.1.is_some(), "{before:?}");
        let failures: [fn() -> Error; 3] = [
            || Error::Server { status: 500 },
            || Error::Unavailable {
                status: 502,
                kind: UnavailableKind::Message,
                detail: "Bad gateway".into(),
            },
            || Error::Malformed {
                status: 200,
                kind: MalformedKind::Truncated,
                detail: format!("{} (3 bytes)", crate::base::error::TRUNCATED),
            },
        ];
        for failure in failures {
            for _ in 0..10 {
                let failed = limiter.run_once(async { Err::<(), _>(failure()) }).await;
                assert!(failed.is_err());
            }
            assert_eq!((limiter.pace(), limiter.ceiling(), limiter.concurrency()), before);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn converges_on_the_cap_when_requests_arrive_early_or_late() {
        // The way to the portal takes 1-3 ms, or 1-6 ms, drawn per request: a request spaced
        // exactly `1 / cap` after the last reaches the portal sooner than that about half the
        // time. Every cap still meets the targets over a read of a minute.
        let mut report = Vec::new();
        let mut ok = true;
        for jitter_ms in [2, 5] {
            for cap in [1.0, 2.0, 3.0, 5.0, 10.0] {
                let pages = (cap * 60.0) as usize;
                let limiter = Arc::new(Limiter::new(paced()));
                let portal = Portal::jittered(cap, 1, 2, jitter_ms);
                let read = simulate(limiter.clone(), portal, pages, 4).await;
                let throughput = read.ideal / read.seconds;
                let refused = read.refused as f64 / (pages + read.refused) as f64;
                report.push(format!(
                    "jitter {jitter_ms} ms, cap {cap}/s: {:.1} s (ideal {:.1}), throughput {throughput:.3}, {} refused ({:.1}%), pace {:.2}",
                    read.seconds,
                    read.ideal,
                    read.refused,
                    refused * 100.0,
                    limiter.pace().unwrap()
                ));
                ok &= throughput >= 0.9 && refused <= 0.05;
            }
        }
        eprintln!("{}", report.join("\n"));
        assert!(ok, "{}", report.join("\n"));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_cap_the_pace_costs_nothing() {
        let limiter = Arc::new(Limiter::new(paced()));
        let portal = Portal::new(1e9, 1_000_000, 4);
        let read = simulate(limiter.clone(), portal, 1_000, 4).await;
        // 1,000 answers of 4 ms, 4 at a time, is 1.0 s; the first dozen go one at a time.
        assert!(read.seconds < 1.06, "{read:?}");
        assert_eq!((read.refused, limiter.pace()), (0, None));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_cap_slow_answers_are_not_slowed_down() {
        let limiter = Arc::new(Limiter::new(paced()));
        let portal = Portal::new(1e9, 1_000_000, 100);
        let read = simulate(limiter.clone(), portal, 100, 4).await;
        // 100 answers of 100 ms, 4 at a time, is 2.5 s; the slow start (1, then 1, 2, 3, 4 in
        // flight) costs a few answers' time.
        assert!((2.5..2.9).contains(&read.seconds), "{read:?}");
        assert_eq!((read.refused, limiter.pace()), (0, None));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_per_second_is_a_hard_bound() {
        let limiter = Arc::new(Limiter::new(LimiterConfig {
            requests_per_second: Some(5),
            ..paced()
        }));
        let read = simulate(limiter.clone(), Portal::new(1e9, 1_000_000, 4), 51, 4).await;
        // 50 gaps of 200 ms (no burst), and the answer of the last; the slow start is not
        // slower than the bound.
        assert!((10.0..10.01).contains(&read.seconds), "{read:?}");
        assert_eq!(read.refused, 0);
        // Refused far above the bound, the pace stays within it.
        let limiter = Arc::new(Limiter::new(LimiterConfig {
            requests_per_second: Some(5),
            ..paced()
        }));
        // A read of a minute at 2/s: at most 5% refused.
        let read = simulate(limiter.clone(), Portal::new(2.0, 1, 4), 120, 4).await;
        assert!(read.refused <= 6, "{read:?}");
        assert!(limiter.pace().unwrap() <= 5.0);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_pauses_every_request_of_the_account_and_keeps_the_pace() {
        let limiter = Arc::new(Limiter::new(paced()));
        let started = Instant::now();
        let refused = limiter
            .run_once(async {
                Err::<(), _>(Error::RateLimited {
                    retry_after: Some(Duration::from_secs(3)),
                })
            })
            .await;
        assert!(matches!(refused, Err(Error::RateLimited { .. })));
        let other = limiter.clone();
        let waited = tokio::spawn(async move {
            other.run_once(async { Ok::<_, Error>(()) }).await.unwrap();
            started.elapsed()
        });
        assert_eq!(waited.await.unwrap(), Duration::from_secs(3));
        assert_eq!(limiter.pace(), None, "the portal said when: no pace learnt");
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_refusal_is_retried_in_the_next_slot_and_reported() {
        let limiter = Limiter::new(paced());
        let calls = AtomicUsize::new(0);
        let waits = Mutex::new(Vec::new());
        let started = Instant::now();
        limiter
            .run(
                || async {
                    match calls.fetch_add(1, Ordering::SeqCst) {
                        0 | 2 => Ok(()),
                        _ => Err(Error::RateLimited { retry_after: None }),
                    }
                },
                &|w| waits.lock().unwrap().push((w.reason, w.delay)),
            )
            .await
            .unwrap();
        limiter
            .run(
                || async {
                    match calls.fetch_add(1, Ordering::SeqCst) {
                        0 | 2 => Ok(()),
                        _ => Err(Error::RateLimited { retry_after: None }),
                    }
                },
                &|w| waits.lock().unwrap().push((w.reason, w.delay)),
            )
            .await
            .unwrap();
        // The second request was refused once: the paced start sends it one second after it
        // (and the slack: 2% and 2 ms).
        let slot = Duration::from_millis(1022);
        assert_eq!(*waits.lock().unwrap(), [(WaitReason::RateLimited, slot)]);
        assert_eq!(started.elapsed(), slot);
        assert_eq!(limiter.pace(), Some(2.0), "doubled by the clean retry");
    }

    #[test]
    fn no_single_wait_exceeds_the_longest_delay() {
        let limiter = Limiter::new(LimiterConfig::default());
        let max = RetryPolicy::default().max_delay;
        let mut longest = Duration::ZERO;
        for _ in 0..200 {
            for (attempt, backoff) in backon::BackoffBuilder::build(limiter.backoff()).enumerate() {
                let delay = limiter
                    .next_delay(
                        &Error::Server { status: 502 },
                        Some(backoff),
                        Duration::ZERO,
                        attempt + 1,
                    )
                    .unwrap();
                assert!(delay <= max, "{delay:?}");
                longest = longest.max(delay);
            }
        }
        assert!(
            longest > max / 2,
            "jitter still spreads the longest waits: {longest:?}"
        );
        // A Retry-After beyond the longest backoff is honoured within the total bound only.
        let after = |secs| Error::RateLimited {
            retry_after: Some(Duration::from_secs(secs)),
        };
        let backoff = Some(Duration::from_secs(1));
        assert_eq!(
            limiter.next_delay(&after(90), backoff, Duration::from_secs(200), 2),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            limiter.next_delay(&after(90), backoff, Duration::from_secs(211), 2),
            None
        );
        // The first refusals without Retry-After wait for the pace only; a fourth backs off.
        let bare = Error::RateLimited { retry_after: None };
        assert_eq!(
            limiter.next_delay(&bare, backoff, Duration::ZERO, PACED_RETRIES),
            Some(Duration::ZERO)
        );
        assert_eq!(
            limiter.next_delay(&bare, backoff, Duration::ZERO, PACED_RETRIES + 1),
            backoff
        );
    }
}

#[cfg(test)]
mod tests_support {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A portal capping the account with a token bucket, as the stand-in does, under paused
    /// time: each request arrives `latency / 2` after it is sent and is answered `latency`
    /// after; `Retry-After` is never sent.
    pub(super) struct Portal {
        pub(super) per_second: f64,
        burst: f64,
        latency: Duration,
        bucket: Mutex<(f64, Instant)>,
        pub(super) refused: AtomicUsize,
        pub(super) served: AtomicUsize,
        /// Every `n`th request fails, not for the rate (a 503 or a body cut short, in turn),
        /// before it reaches the bucket.
        fail_every: Option<usize>,
        seen: AtomicUsize,
        pub(super) failed: AtomicUsize,
        /// The way to the portal takes up to this much longer, drawn per request (a
        /// deterministic spread): requests paced exactly at the cap then arrive early or late.
        jitter: Duration,
    }

    impl Portal {
        pub(super) fn new(per_second: f64, burst: u32, latency_ms: u64) -> Arc<Self> {
            Arc::new(Self {
                per_second,
                burst: f64::from(burst),
                latency: Duration::from_millis(latency_ms),
                bucket: Mutex::new((f64::from(burst), Instant::now())),
                refused: AtomicUsize::new(0),
                served: AtomicUsize::new(0),
                fail_every: None,
                seen: AtomicUsize::new(0),
                failed: AtomicUsize::new(0),
                jitter: Duration::ZERO,
            })
        }

        /// [`Portal::new`] whose requests take up to `jitter_ms` longer to arrive.
        pub(super) fn jittered(per_second: f64, burst: u32, latency_ms: u64, jitter_ms: u64) -> Arc<Self> {
            let mut portal = Arc::into_inner(Self::new(per_second, burst, latency_ms)).unwrap();
            portal.jitter = Duration::from_millis(jitter_ms);
            Arc::new(portal)
        }

        /// [`Portal::new`] where every `every`th request fails with a 503 or a dropped body.
        pub(super) fn failing(per_second: f64, burst: u32, latency_ms: u64, every: usize) -> Arc<Self> {
            let mut portal = Arc::into_inner(Self::new(per_second, burst, latency_ms)).unwrap();
            portal.fail_every = Some(every);
            Arc::new(portal)
        }

        pub(super) async fn request(&self) -> Result<(), Error> {
            let n = self.seen.fetch_add(1, Ordering::SeqCst);
            if let Some(every) = self.fail_every.filter(|every| n % every == every - 1) {
                tokio::time::sleep(self.latency).await;
                self.failed.fetch_add(1, Ordering::SeqCst);
                return Err(if (n / every).is_multiple_of(2) {
                    Error::Server { status: 503 }
                } else {
                    Error::Malformed {
                        status: 200,
                        kind: crate::base::error::MalformedKind::Truncated,
                        detail: format!("{} (10 bytes)", crate::base::error::TRUNCATED),
                    }
                });
            }
            // A spread in 0..1 from the request's number (a multiplicative hash).
            let spread = f64::from((n as u32).wrapping_mul(2_654_435_761) >> 8) / f64::from(1u32 << 24);
            tokio::time::sleep(self.latency / 2 + self.jitter.mul_f64(spread)).await;
            let admitted = {
                let mut bucket = self.bucket.lock().unwrap();
                let now = Instant::now();
                let refill = (now - bucket.1).as_secs_f64() * self.per_second;
                bucket.0 = (bucket.0 + refill).min(self.burst);
                bucket.1 = now;
                let ok = bucket.0 >= 1.0;
                if ok {
                    bucket.0 -= 1.0;
                }
                ok
            };
            tokio::time::sleep(self.latency / 2).await;
            if admitted {
                self.served.fetch_add(1, Ordering::SeqCst);
                Ok(())
            } else {
                self.refused.fetch_add(1, Ordering::SeqCst);
                Err(Error::RateLimited { retry_after: None })
            }
        }
    }

    /// What a simulated read measured.
    #[derive(Debug)]
    pub(super) struct Read {
        pub(super) seconds: f64,
        pub(super) refused: usize,
        pub(super) ideal: f64,
    }

    /// `pages` requests through `limiter` by `workers` concurrent tasks against `portal`.
    pub(super) async fn simulate(
        limiter: Arc<Limiter>,
        portal: Arc<Portal>,
        pages: usize,
        workers: usize,
    ) -> Read {
        let started = Instant::now();
        let next = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let (limiter, portal, next) = (limiter.clone(), portal.clone(), next.clone());
                tokio::spawn(async move {
                    while next.fetch_add(1, Ordering::SeqCst) < pages {
                        limiter.run(|| portal.request(), &|_| {}).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(portal.served.load(Ordering::SeqCst), pages);
        Read {
            seconds: started.elapsed().as_secs_f64(),
            refused: portal.refused.load(Ordering::SeqCst),
            ideal: pages as f64 / portal.per_second,
        }
    }

    pub(super) fn paced() -> LimiterConfig {
        LimiterConfig {
            retry: RetryPolicy {
                max_retries: 8,
                ..RetryPolicy::default()
            },
            ..LimiterConfig::default()
        }
    }
}

#[cfg(test)]
mod remembered {
    #![allow(clippy::unwrap_used)]
    use super::tests_support::*;
    use super::*;
    use std::sync::Arc;

    /// A short read: 31 pages (3,000 records, 100 a page, and the
    /// empty page that ends it), four in flight.
    const PAGES: usize = 31;

    #[tokio::test(start_paused = true)]
    async fn a_second_run_starts_from_the_pace_the_first_learned() {
        let mut report = Vec::new();
        let mut ok = true;
        for cap in [1.0, 2.0, 5.0, 10.0] {
            let first = Arc::new(Limiter::new(paced()));
            let one = simulate(first.clone(), Portal::new(cap, 1, 5), PAGES, 4).await;
            let snapshot = first.snapshot().unwrap();
            let second = Arc::new(Limiter::new(paced()));
            second.restore(&snapshot).unwrap();
            let two = simulate(second.clone(), Portal::new(cap, 1, 5), PAGES, 4).await;
            report.push(format!(
                "cap {cap}: first {one:?}; {snapshot:?}; second {two:?} ({:.3}x ideal)",
                two.seconds / two.ideal
            ));
            ok &= two.refused <= 1 && two.seconds <= 1.05 * two.ideal;
        }
        eprintln!("{}", report.join("\n"));
        assert!(ok, "{}", report.join("\n"));
    }
}

#[cfg(test)]
mod remembered_moves {
    #![allow(clippy::unwrap_used)]
    use super::tests_support::*;
    use super::*;
    use std::sync::Arc;

    /// A read of `pages` from a pace restored at `was` against a portal now capped at `now`:
    /// the read, and when the pace first reached 0.9 of the new cap (seconds from the start).
    async fn moved(was: f64, now: f64, pages: usize) -> (Read, Option<f64>) {
        let first = Arc::new(Limiter::new(paced()));
        simulate(first.clone(), Portal::new(was, 1, 5), (was * 30.0) as usize, 4).await;
        let snapshot = first.snapshot().unwrap();
        let limiter = Arc::new(Limiter::new(paced()));
        limiter.restore(&snapshot).unwrap();
        let started = Instant::now();
        let watched = limiter.clone();
        let watch = tokio::spawn(async move {
            loop {
                if watched.pace().is_some_and(|p| p >= 0.9 * now) {
                    return started.elapsed().as_secs_f64();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let read = simulate(limiter, Portal::new(now, 1, 5), pages, 4).await;
        let found = if watch.is_finished() {
            Some(watch.await.unwrap())
        } else {
            watch.abort();
            None
        };
        (read, found)
    }

    #[tokio::test(start_paused = true)]
    async fn a_raised_cap_is_found_again_within_a_minute() {
        for (was, now) in [(1.0, 2.0), (2.0, 4.0), (2.0, 5.0), (5.0, 10.0), (10.0, 20.0)] {
            let (read, found) = moved(was, now, (now * 70.0) as usize).await;
            eprintln!("{was} -> {now}: {read:?}, 0.9 of the new cap after {found:?} s");
            assert!(
                found.is_some_and(|s| s <= 60.0),
                "{was} -> {now}: {read:?} {found:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_lowered_cap_costs_a_few_refusals() {
        for (was, now) in [(2.0, 1.0), (5.0, 2.0), (10.0, 5.0), (2.0, 1.5)] {
            let (read, _) = moved(was, now, (now * 60.0) as usize).await;
            eprintln!(
                "{was} -> {now}: {read:?} ({:.3}x ideal)",
                read.seconds / read.ideal
            );
            // Measured: 3 to 6 refusals over a read of a minute at the new cap (2-5%).
            let pages = (now * 60.0) as usize;
            assert!(read.refused <= 6, "{was} -> {now}: {read:?}");
            assert!(read.refused * 100 <= pages * 5, "{was} -> {now}: {read:?}");
        }
    }
}

#[cfg(test)]
mod shared {
    #![allow(clippy::unwrap_used)]
    use super::tests_support::*;
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// `requests` through `limiter` by `workers` tasks against `portal`: when each answer came.
    async fn job(limiter: Arc<Limiter>, portal: Arc<Portal>, requests: usize, workers: usize) -> Vec<f64> {
        let started = Instant::now();
        let next = Arc::new(AtomicUsize::new(0));
        let times = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let (limiter, portal, next, times) =
                    (limiter.clone(), portal.clone(), next.clone(), times.clone());
                tokio::spawn(async move {
                    while next.fetch_add(1, Ordering::SeqCst) < requests {
                        limiter.run(|| portal.request(), &|_| {}).await.unwrap();
                        times.lock().unwrap().push(started.elapsed().as_secs_f64());
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        Arc::into_inner(times).unwrap().into_inner().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn requests_per_second_bounds_its_own_job_only() {
        // No cap at the portal: the job bounded at 2/s sends 11 requests in 5 s (0.5 s apart,
        // no burst) while the other, unbounded, is not held back by it.
        let pace = Arc::new(Pace::shared());
        let bounded = Arc::new(Limiter::sharing(
            LimiterConfig {
                requests_per_second: Some(2),
                ..paced()
            },
            pace.clone(),
        ));
        let free = Arc::new(Limiter::sharing(paced(), pace));
        let portal = Portal::new(1e9, 1_000_000, 4);
        let (slow, fast) = tokio::join!(job(bounded, portal.clone(), 11, 4), job(free, portal, 400, 4));
        assert!((5.0..5.01).contains(slow.last().unwrap()), "{slow:?}");
        assert!(*fast.last().unwrap() < 0.5, "{:?}", fast.last());
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_and_a_write_of_one_account_share_its_cap() {
        // A read (4 in flight) and a write (4, or 1 in flight) of the same account at once,
        // capped at 2 requests/s, each with a limiter of its own on the account's one pace.
        let mut report = Vec::new();
        let mut ok = true;
        for (cap, writers) in [(2.0, 4), (2.0, 1), (1.0, 4), (5.0, 2)] {
            let pace = Arc::new(Pace::shared());
            let read = Arc::new(Limiter::sharing(paced(), pace.clone()));
            let write = Arc::new(Limiter::sharing(paced(), pace));
            let portal = Portal::new(cap, 1, 5);
            let n = (cap * 60.0) as usize;
            let (reads, writes) = tokio::join!(
                job(read, portal.clone(), n, 4),
                job(write, portal.clone(), n, writers)
            );
            // While both run: until the first of them ends.
            let both = reads.last().unwrap().min(*writes.last().unwrap());
            let during = |t: &[f64]| t.iter().filter(|t| **t <= both).count() as f64 / both;
            let (r, w) = (during(&reads), during(&writes));
            let refused = portal.refused.load(Ordering::SeqCst);
            let share = refused as f64 / (2 * n + refused) as f64;
            report.push(format!(
                "cap {cap}, writes {writers} in flight: both for {both:.1} s: read {r:.2}/s, write {w:.2}/s, together {:.3} of the cap; {refused} refused ({:.1}%)",
                (r + w) / cap,
                share * 100.0
            ));
            ok &= (r + w) >= 0.9 * cap && share <= 0.05 && r >= cap / 3.0 && w >= cap / 3.0;
        }
        eprintln!("{}", report.join("\n"));
        assert!(ok, "{}", report.join("\n"));
    }
}
