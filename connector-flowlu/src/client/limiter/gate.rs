//! The requests in flight of one limiter: an adaptive limit (AIMD), apart from the pace.
//!
//! The limit starts at the configured maximum, halves on a refusal (at most once per round of
//! requests in flight: a refusal of a request admitted before the last decrease does not
//! decrease again) and grows back by one after a round of successes (as many as the limit).
//! Other failures leave it as it is.

use std::sync::{Mutex, PoisonError};

use tokio::sync::Notify;

/// The adaptive bound on requests in flight.
#[derive(Debug)]
pub(super) struct Gate {
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
    /// Decreases so far: a refusal of a request admitted before the last one does not
    /// decrease again.
    epoch: u64,
}

impl Gate {
    /// A gate of at most `max` requests in flight, open to all of them at first.
    pub(super) fn new(max: usize) -> Self {
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

    /// The current limit of requests in flight.
    pub(super) fn limit(&self) -> usize {
        self.lock().limit
    }

    /// Waits until fewer requests than the limit are in flight, and takes a slot.
    pub(super) async fn acquire(&self) -> Permit<'_> {
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

    /// A slot given back: a refusal (of a request admitted since the last decrease) halves the
    /// limit, at least 1; `limit` successes since it last changed raise it by one, up to `max`.
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
pub(super) struct Permit<'a> {
    gate: &'a Gate,
    epoch: u64,
    outcome: Outcome,
}

impl Permit<'_> {
    /// The request was answered: counts towards growing the limit.
    pub(super) fn succeeded(mut self) {
        self.outcome = Outcome::Succeeded;
    }

    /// The request was refused for the rate: halves the limit, once per decrease.
    pub(super) fn throttled(mut self) {
        self.outcome = Outcome::Throttled;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.gate.release(self.epoch, self.outcome);
    }
}
