//! The jobs sharing one pace, and whose turn a free slot is.
//!
//! The limiters of one account in a process (`AccountBudget`) draw from one pace; each is a
//! job with its own requests in flight, retries and `requests_per_second`. A free slot goes to
//! the waiting job served longest ago ([`Turns::turn_of`]), so that a job with one request in
//! flight is not crowded out by one with many.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

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

/// The jobs drawing from a pace.
#[derive(Debug, Default)]
pub(super) struct Turns {
    jobs: HashMap<u64, JobState>,
    /// Slots handed out so far (see [`JobState::turn`]).
    turns: u64,
}

impl Turns {
    /// A request of `job` (whose own requests are at least `gap` apart) starts waiting.
    pub(super) fn join(&mut self, job: u64, gap: Option<Duration>) {
        let entry = self.jobs.entry(job).or_default();
        entry.waiting += 1;
        entry.gap = gap;
    }

    /// A request of `job` stopped waiting without a slot (cancelled).
    pub(super) fn withdraw(&mut self, job: u64) {
        if let Some(entry) = self.jobs.get_mut(&job) {
            entry.waiting = entry.waiting.saturating_sub(1);
        }
    }

    /// The earliest `job`'s own bound lets its next request go.
    pub(super) fn own_next(&self, job: u64) -> Option<Instant> {
        self.jobs.get(&job).and_then(JobState::next)
    }

    /// The job whose request takes a slot free now: of those waiting whose own bound lets
    /// them send, the one served longest ago.
    pub(super) fn turn_of(&self, now: Instant) -> Option<u64> {
        self.jobs
            .iter()
            .filter(|(_, job)| job.waiting > 0 && job.next().is_none_or(|next| next <= now))
            .min_by_key(|(id, job)| (job.turn, **id))
            .map(|(id, _)| *id)
    }

    /// A request of `job` takes the slot at `now`.
    pub(super) fn serve(&mut self, job: u64, now: Instant) {
        self.turns += 1;
        let turn = self.turns;
        if let Some(entry) = self.jobs.get_mut(&job) {
            entry.waiting = entry.waiting.saturating_sub(1);
            entry.turn = turn;
            entry.last = Some(now);
        }
    }

    /// Forgets `job` (its limiter is dropped).
    pub(super) fn leave(&mut self, job: u64) {
        self.jobs.remove(&job);
    }
}
