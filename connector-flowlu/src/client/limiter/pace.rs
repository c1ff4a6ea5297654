//! The slots of an account's requests: when each may go at the learnt rate
//! ([`super::controller`]), under `requests_per_second` and `Retry-After`, in turn with the
//! other jobs of the account ([`super::turns`]); and each answer told back to the controller
//! ([`Ticket`]).
//!
//! The pace is kept on tokio's clock, so tests can run it in paused time.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::controller::{PaceState, Phase, UNPACED};
use crate::client::pace_memory::{PaceSnapshot, Rejected};

/// See [`spacing`]: the share of `1 / rate` added between two requests.
const SLACK: f64 = 0.02;
/// See [`spacing`]: the milliseconds added between two requests.
const SLACK_MS: u64 = 2;

/// The time between two requests at `rate`: `1 / rate`, plus [`SLACK`] of it and
/// [`SLACK_MS`]. A portal's cap is usually a round rate (1, 2, 5, 10 per second), the rates
/// the paced start and the bisection try are round too, and a request spaced exactly `1 / cap`
/// after the last one is refused whenever it reaches the portal a little sooner than the last
/// did (a timer woken late, a slower answer): without slack, a pace at the cap is refused half
/// the time, and the search settles 10-15% below it.
fn spacing(rate: f64) -> Duration {
    Duration::from_secs_f64((1.0 + SLACK) / rate) + Duration::from_millis(SLACK_MS)
}

/// The learnt pace of the account: the slot of each request.
#[derive(Debug)]
pub(crate) struct Pace {
    state: Mutex<PaceState>,
    pub(super) changed: Notify,
}

impl Pace {
    /// A pace shared by the limiters of one account, with no bound of its own.
    pub(crate) fn shared() -> Self {
        Self::new(None)
    }

    /// See [`Limiter::snapshot`](super::Limiter::snapshot).
    pub(crate) fn snapshot(&self) -> Option<PaceSnapshot> {
        self.lock().snapshot(SystemTime::now())
    }

    /// See [`Limiter::restore`](super::Limiter::restore).
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

    /// A pace bounded by `max` requests per second (`requests_per_second`), if any.
    pub(super) fn new(max: Option<f64>) -> Self {
        let max = max.unwrap_or(f64::INFINITY);
        Self {
            state: Mutex::new(PaceState::new(max)),
            changed: Notify::new(),
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, PaceState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the next slot of `job` (whose own requests are at least `gap` apart): `1 /
    /// rate` after the last request (in slow start, also as soon as the last request was
    /// answered clean), not before a `Retry-After` has passed, and in turn with the other jobs
    /// waiting: a slot goes to the waiting job served longest ago, so that a job with one
    /// request in flight is not crowded out by one with many.
    pub(super) async fn acquire(&self, job: u64, gap: Option<Duration>) -> Ticket<'_> {
        let waiting = Waiting::new(self, job, gap);
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let at = {
                let mut state = self.lock();
                let now = Instant::now();
                let own = state.turns.own_next(job);
                let at = own.map_or(state.next_slot(now), |own| state.next_slot(now).max(own));
                if at <= now && state.turns.turn_of(now) == Some(job) {
                    state.turns.serve(job, now);
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
    pub(super) fn leave(&self, job: u64) {
        self.lock().turns.leave(job);
        self.changed.notify_waiters();
    }

    /// How long a request asking now would wait for its slot.
    pub(super) fn wait(&self) -> Duration {
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

    /// The answer to a request let through at `rate` (`sent` then, in the controller's
    /// `epoch`). A refusal with `Retry-After` pauses every request of the account until it has
    /// passed and does not change the pace (the portal said when to come back; both forms
    /// Flowlu is known to send have none). A refusal without one lowers the pace once per
    /// decrease: a refusal of a request let through before the last decrease is not news. A
    /// dropped request (cancelled) teaches nothing.
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
    /// When the next request may go (asked at `now`): `1 / rate` after the last one, plus the
    /// slack of [`spacing`] (never a burst); at least `1 / max` after it (`requests_per_second`,
    /// a hard bound); not before `Retry-After` has passed. In [`Phase::Start`] requests are not
    /// spaced: one goes while fewer than half the clean answers so far, plus one, are in
    /// flight (else it is woken by the next answer). Above [`UNPACED`] the pace is not
    /// enforced.
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
}

/// A request of a job waiting for a slot; counted while it waits (also when cancelled).
struct Waiting<'a> {
    pace: &'a Pace,
    job: u64,
    waiting: bool,
}

impl<'a> Waiting<'a> {
    fn new(pace: &'a Pace, job: u64, gap: Option<Duration>) -> Self {
        pace.lock().turns.join(job, gap);
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
            self.pace.lock().turns.withdraw(self.job);
            self.pace.changed.notify_waiters();
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum PaceOutcome {
    Clean,
    Refused(Option<Duration>),
    Dropped,
}

/// A request let through by the pace; its answer (or its drop, when cancelled) is told back.
pub(super) struct Ticket<'a> {
    pace: &'a Pace,
    epoch: u64,
    /// The rate it was let through at.
    pub(super) rate: f64,
    sent: Instant,
    done: bool,
}

impl Ticket<'_> {
    /// Answered clean: the pace grows.
    pub(super) fn clean(mut self) {
        self.done = true;
        self.pace
            .answered(self.epoch, self.rate, self.sent, PaceOutcome::Clean);
    }

    /// Refused for the rate: the pace drops, or (with `retry_after`) the account pauses.
    pub(super) fn refused(mut self, retry_after: Option<Duration>) {
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
