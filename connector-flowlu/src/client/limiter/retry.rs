//! Retries of one request: which errors wait before another attempt, for how long, and how a
//! wait is reported ([`Wait`]).
//!
//! Retries (`backon`) use exponential backoff with jitter on retryable errors
//! ([`Error::is_retryable`]), never waiting longer than [`RetryPolicy::max_delay`] at a time,
//! bounded in attempts and total time ([`RetryPolicy::next_delay`]). The slot in flight is
//! released while waiting, so a backing-off request does not block others.

use std::time::Duration;

use backon::ExponentialBuilder;
use connector_core::Wait as WaitEvent;

use crate::base::decision::{Cause, Label};
use crate::base::error::Error;

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

impl RetryPolicy {
    /// The backoff between attempts: exponential from `min_delay`, doubling, with jitter,
    /// `max_retries` times at most.
    pub(super) fn backoff(&self) -> ExponentialBuilder {
        // backon's jitter adds up to the delay again: half the longest delay, doubled at most.
        ExponentialBuilder::default()
            .with_jitter()
            .with_factor(2.0)
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay / 2)
            .with_max_times(self.max_retries)
    }

    /// The delay before the next attempt (`attempts` made so far): `Retry-After` when sent;
    /// none of its own for the first [`PACED_RETRIES`] refusals without one (the lowered pace
    /// spaces the retry: a request refused for the first time is sent again in the pace's next
    /// slot); else the backoff, at most [`RetryPolicy::max_delay`]. `Retry-After` is honoured
    /// beyond `max_delay` while the request stays within [`RetryPolicy::max_total`]. `None` once
    /// the attempts (`backoff` is `None`) or the total time are used up.
    pub(super) fn next_delay(
        &self,
        err: &Error,
        backoff: Option<Duration>,
        elapsed: Duration,
        attempts: usize,
    ) -> Option<Duration> {
        let backoff = backoff?.min(self.max_delay);
        let delay = match err.decision().cause {
            Cause::RateLimited {
                retry_after: Some(after),
            } => after,
            // The lowered pace spaces the retry: a backoff of its own would stop the read,
            // whose other pages wait for this one, and empty the pace's window of evidence.
            Cause::RateLimited { retry_after: None } if attempts <= PACED_RETRIES => Duration::ZERO,
            _ => backoff,
        };
        if elapsed + delay > self.max_total {
            if err.retry_after().is_some() {
                tracing::warn!(
                    retry_after_s = delay.as_secs(),
                    max_total_s = self.max_total.as_secs(),
                    "Flowlu asked to wait longer than a request may spend waiting: giving up on this request"
                );
            }
            return None;
        }
        if delay > self.max_delay {
            tracing::info!(
                retry_after_s = delay.as_secs(),
                "honouring Retry-After beyond the longest backoff"
            );
        }
        Some(delay)
    }
}

/// Refusals of one request (without `Retry-After`) sent again in the pace's next slot, before
/// backing off.
pub(super) const PACED_RETRIES: usize = 3;

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
    /// What the failed attempt met, in a few words for a person (`cause`): `rate limited`,
    /// `HTTP 502`, `timeout`, `connection dropped`, `HTTP 200 with an HTML page`, ...
    pub cause: String,
}

impl Wait {
    /// The wait as the event a progress display and the log show for `stream`:
    /// [`WaitEvent::RateLimited`] or [`WaitEvent::Retrying`] (with [`Wait::cause`]).
    pub fn event(&self, stream: &str) -> WaitEvent {
        let wait_ms = u64::try_from(self.delay.as_millis()).unwrap_or(u64::MAX);
        match self.reason {
            WaitReason::RateLimited => WaitEvent::RateLimited {
                stream: Some(stream.to_string()),
                wait_ms,
            },
            WaitReason::Retry => WaitEvent::Retrying {
                stream: stream.to_string(),
                attempt: self.attempt,
                wait_ms,
                reason: self.cause.clone(),
            },
        }
    }
}

/// What a retried request met, in a few words for a progress line or a log (never a body
/// text, which may echo what was sent): the decision's [`Cause`](crate::base::decision::Cause).
pub(crate) fn cause(err: &Error) -> String {
    err.decision().cause.to_string()
}

/// Why a request that met `err` waits: the decision's label.
pub(super) fn wait_reason(err: &Error) -> WaitReason {
    match err.decision().label {
        Label::RateLimited => WaitReason::RateLimited,
        _ => WaitReason::Retry,
    }
}
