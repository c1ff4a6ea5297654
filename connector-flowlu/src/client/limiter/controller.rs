//! The pace controller: the learnt rate of an account (requests per second) and how each answer
//! moves it ([`PaceState::clean`], [`PaceState::refused`]).
//!
//! Flowlu caps each account at an unknown number of requests per second (about one on the
//! portals seen) and refuses the rest (HTTP 429, or `{"error":"Request rate per second
//! exceeded"}` at any status). The pace finds that cap the way TCP's congestion control finds
//! a link's: a start that costs nothing without a cap ([`Phase::Start`], [`Phase::PacedStart`]),
//! a search between the last clean and the refused rate ([`Phase::Bisect`]), then a ceiling
//! held and probed ([`Phase::Steady`]). Each step is explained on the function that takes it.
//! When each request may go at that rate is [`super::pace`]'s job.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::turns::Turns;
use crate::client::pace_memory::{unix_seconds, PaceSnapshot, Rejected};

/// Above this pace (requests per second) requests are not spaced: no cap of that size is
/// known, and timers are too coarse for it.
pub(super) const UNPACED: f64 = 1000.0;
/// The lowest pace: one request every ten seconds.
const MIN_RATE: f64 = 0.1;
/// The pace of the first request's slot, before any answer (public clients pace at one a
/// second).
pub(super) const START_RATE: f64 = 1.0;
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
/// [`Phase::Bisect`] ends once the refused rate is within this factor (13%) of the clean one;
/// in [`Phase::Steady`], clean answers this far above the ceiling make a new ceiling, and a
/// refusal within this factor of the ceiling confirms it.
const CLOSE: f64 = 1.13;
/// The window over which clean requests are counted to bound the pace after a refusal (when
/// the pace was far above what was answered clean: a burst allowance drained).
const WINDOW: Duration = Duration::from_secs(2);
/// How long a restored pace holds at the remembered rate before probing above it (a short
/// read never probes; a raised cap is still found within a minute), in answers at that rate,
/// at least [`RESTORED_HOLD_MIN`] and at most [`HOLD`].
const RESTORED_HOLD: Duration = Duration::from_secs(15);
/// See [`RESTORED_HOLD`].
const RESTORED_HOLD_MIN: u32 = 10;

/// Where the pace is in its search for the account's cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// No refusal yet: requests are not spaced; as many go at once as half the clean answers
    /// so far, plus one (1, 1, 2, 2, 3 ...: free without a cap, and a cap is met by one request
    /// at a time rather than by a burst), the rate doubling with every clean answer
    /// ([`PaceState::clean`]). Costs nothing without a cap.
    Start,
    /// Refused during [`Phase::Start`] (which says nothing of the cap's size): from
    /// [`START_RATE`] up, doubling the rate with every clean answer, each request in its slot.
    PacedStart,
    /// Refused during [`Phase::PacedStart`]: the cap lies between the last clean rate and the
    /// refused one; the pace bisects that interval (see [`PaceState::bisect_clean`] and
    /// [`PaceState::refused_in_bisect`]).
    Bisect,
    /// A ceiling is known; the pace stays just below it and probes above it
    /// ([`PaceState::clean`], [`PaceState::refused_in_steady`]).
    Steady,
}

/// The learnt pace of an account and where its requests stand. Behind the lock of
/// [`super::pace::Pace`].
#[derive(Debug)]
pub(super) struct PaceState {
    /// Requests per second now.
    pub(super) rate: f64,
    /// The hard upper bound (`requests_per_second`), or infinity.
    pub(super) max: f64,
    /// The learnt ceiling; `None` until the first refusal during the search (or a restore).
    /// In [`Phase::Bisect`], the upper end, a rate refused; once [`Phase::Steady`], the rate
    /// the pace climbs back to and probes above: the lower end the bisection settled on, the
    /// remembered rate, the last rate answered clean below a refused probe, or a rate answered
    /// clean [`CLOSE`] above the old ceiling (refusals in quick succession put it at or just
    /// below the refused rate instead, [`PaceState::refused_in_steady`]).
    pub(super) ceiling: Option<f64>,
    pub(super) phase: Phase,
    /// Clean answers since the last decrease.
    pub(super) clean_since: u32,
    /// Clean answers in a row above the ceiling.
    pub(super) above: u32,
    /// Clean answers still to hold before probing (in [`Phase::Bisect`]: before the next step).
    pub(super) hold: u32,
    /// [`Phase::Bisect`]: the highest rate answered clean for [`BISECT_HOLD`] answers.
    pub(super) low: f64,
    /// [`Phase::Bisect`]: the lowest rate refused.
    pub(super) high: f64,
    /// [`Phase::Bisect`]: the pace tries the middle of `low..high` (else it holds at `low`).
    pub(super) trying: bool,
    /// Requests let through so far.
    pub(super) sent: u64,
    /// Refusals heard so far (every one, also those that did not lower the pace).
    pub(super) refusals: u64,
    /// When the requests answered clean in the last [`WINDOW`] were let through.
    pub(super) delivered: VecDeque<Instant>,
    /// When the last request was let through.
    pub(super) last: Option<Instant>,
    /// No request before this (`Retry-After`).
    pub(super) resume_at: Option<Instant>,
    /// Requests let through and not answered yet.
    pub(super) in_flight: usize,
    /// Decreases so far: a refusal of a request let through before the last one is not news.
    pub(super) epoch: u64,
    /// Whether refusals lower the pace.
    pub(super) learning: bool,
    /// The rate of the last request answered clean.
    pub(super) clean_rate: f64,
    /// [`Phase::Steady`]: refusals in a row that found the cap where the ceiling said (each
    /// doubles the hold before the next probe above it).
    pub(super) confirmed: u32,
    /// The rate last refused (forgotten once a rate as high is answered clean).
    pub(super) refused_rate: Option<f64>,
    /// Answers (clean or refused) heard so far.
    pub(super) answers: u64,
    /// When the pace restored was learned (Unix seconds).
    pub(super) restored_at: Option<u64>,
    /// A pace restored and not refused since: a refusal at or below it contradicts it.
    pub(super) restored_fresh: bool,
    /// The jobs drawing from this pace, and whose turn it is.
    pub(super) turns: Turns,
}

impl PaceState {
    /// A pace that knows nothing yet ([`Phase::Start`]), bounded by `max` requests per second.
    pub(super) fn new(max: f64) -> Self {
        Self {
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
            delivered: VecDeque::new(),
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
            turns: Turns::default(),
        }
    }

    /// What has been learned, to keep for the next run: the clean rate and the refused one
    /// (`None` before the bisection).
    pub(super) fn snapshot(&self, now: SystemTime) -> Option<PaceSnapshot> {
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
            version: crate::client::pace_memory::VERSION,
            clean,
            refused: refused.filter(|r| *r > clean),
            learned_at,
        })
    }

    /// Starts from `snapshot` (checked by the caller) unless requests already teach the pace:
    /// at the remembered rate, as the ceiling, held for [`RESTORED_HOLD`] of requests before
    /// probing above it as usual (a raised cap is found again). A refusal at or below it
    /// before any other (the cap was lowered) searches again ([`PaceState::refused`]).
    pub(super) fn restore(&mut self, snapshot: &PaceSnapshot) -> Result<(), Rejected> {
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

    /// A clean answer to a request let through at `rate` (`sent` then): the pace grows.
    ///
    /// * In [`Phase::Start`] and [`Phase::PacedStart`] it doubles.
    /// * In [`Phase::Bisect`], see [`PaceState::bisect_clean`].
    /// * In [`Phase::Steady`], below the ceiling it climbs back quickly ([`RECOVER`], 5% per
    ///   clean answer) to [`RECOVERED`] (97%) of it, then holds while a hold is left (after the
    ///   bisection, [`HOLD`] answers), then climbs slowly ([`APPROACH`], 0.05% per answer) up to
    ///   it, then probes above it ([`PROBE`], 0.2% per answer, times the clean answers above it
    ///   so far, up to [`PROBE_STEPS`]); answered clean [`CLOSE`] (13%) above it, that rate is
    ///   the new ceiling. So a raised cap is found again, and a refusal is rare (about one in 65
    ///   requests once settled).
    ///
    /// The rate is never above `max` (`requests_per_second`).
    pub(super) fn clean(&mut self, rate: f64, sent: Instant) {
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
            // Clean answers 13% above the ceiling: the cap was raised (or a burst allowance is
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
    /// one more refusal would exceed [`BUDGET`] (4%) of the requests (those sent so far and
    /// those [`HORIZON`], 30 s, at the low would send). Once `high` is within [`CLOSE`] (13%)
    /// of `low`, the pace is steady ([`PaceState::settle`]).
    pub(super) fn bisect_clean(&mut self) -> f64 {
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
    /// between it and `high`, within [`CLOSE`]); the pace holds at it for [`HOLD`] answers (a
    /// cap of exactly that rate costs a refusal per probe), then probing above it finds the
    /// rest.
    fn settle(&mut self) -> f64 {
        self.phase = Phase::Steady;
        self.ceiling = Some(self.low);
        self.hold = HOLD;
        self.above = 0;
        self.low
    }

    /// A refusal of a request let through at `rate` (heard at `now`; only one per decrease,
    /// and none with `Retry-After`: [`super::pace::Pace::answered`] filters them): the pace
    /// drops, by phase ([`PaceState::refused_in_paced_start`],
    /// [`PaceState::refused_in_bisect`], [`PaceState::refused_in_steady`]; a first refusal in
    /// [`Phase::Start`] goes to a paced start from [`START_RATE`]), and never above what the
    /// account answered clean of late ([`PaceState::bound_by_delivered`]).
    pub(super) fn refused(&mut self, rate: f64, now: Instant) {
        self.refused_rate = Some(rate);
        self.doubt_restored(rate);
        let (ceiling, next) = match self.phase {
            Phase::Start => (None, START_RATE),
            Phase::PacedStart => self.refused_in_paced_start(rate),
            Phase::Bisect => self.refused_in_bisect(rate),
            Phase::Steady => self.refused_in_steady(rate),
        };
        let next = self.bound_by_delivered(next, now);
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

    /// The first refusal after a restore, at or about the remembered rate: the portal
    /// contradicts it (the cap was lowered since), so the pace searches again as after a first
    /// paced refusal, between half this rate and this one.
    fn doubt_restored(&mut self, rate: f64) {
        if std::mem::take(&mut self.restored_fresh) && self.ceiling.is_some_and(|c| rate <= c * PROBE_FLOOR) {
            tracing::info!(
                requests_per_second = format!("{rate:.2}"),
                "the remembered pace was refused: learning the account's pace again"
            );
            self.phase = Phase::PacedStart;
        }
    }

    /// [`Phase::PacedStart`] refused at `rate`: the rate before the last doubling was clean,
    /// so the cap lies between the two; the bisection starts there. Returns the ceiling and
    /// the next rate.
    fn refused_in_paced_start(&mut self, rate: f64) -> (Option<f64>, f64) {
        self.low = rate / 2.0;
        self.high = rate;
        self.trying = false;
        (Some(rate), rate / 2.0)
    }

    /// [`Phase::Bisect`] refused at `rate`: a try of the middle makes it the new `high`; a
    /// refusal at the low (a burst allowance made it look clean) lowers the low by
    /// [`BACKOFF`]. The pace goes back to the low. Returns the ceiling and the next rate.
    fn refused_in_bisect(&mut self, rate: f64) -> (Option<f64>, f64) {
        if self.trying {
            self.high = rate;
        } else {
            self.high = self.low;
            self.low *= BACKOFF;
        }
        self.trying = false;
        (Some(self.high), self.low)
    }

    /// [`Phase::Steady`] refused at `rate`. Returns the ceiling and the next rate:
    ///
    /// * refused again before any clean answer since the last refusal: far above the cap, the
    ///   pace halves;
    /// * refused again within [`SOON`] clean answers of the last refusal: still above the cap
    ///   (a burst allowance draining), the ceiling goes to 90% of the refused rate and the pace
    ///   to 75%;
    /// * otherwise a probe above the ceiling was refused: the cap lies between the last rate
    ///   answered clean and this one. That clean rate is the ceiling (approached again without
    ///   a refusal), and the pace drops to [`BACKOFF`] (85%) of the refused rate. When the cap
    ///   was found where the ceiling already was (within [`CLOSE`]), the hold before the next
    ///   probe doubles ([`HOLD`] answers, then 120, ... up to [`MAX_CONFIRMED`] doublings), so
    ///   that a cap that does not move costs fewer and fewer refusals.
    fn refused_in_steady(&mut self, rate: f64) -> (Option<f64>, f64) {
        if self.clean_since == 0 {
            return (Some(rate), rate / 2.0);
        }
        if self.clean_since < SOON {
            return (Some(rate * 0.9), rate * 0.75);
        }
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

    /// The `next` rate after a refusal at `now`, bounded by what the account answered clean
    /// over the last [`WINDOW`] (2 s): far above it (4 times), a burst allowance was drained,
    /// so the pace drops to that at once (the bisection to between that and twice that)
    /// rather than by one refusal per step. Only with at least [`EVIDENCE`] clean answers in
    /// the window, and not in [`Phase::Start`].
    fn bound_by_delivered(&mut self, next: f64, now: Instant) -> f64 {
        while self.delivered.front().is_some_and(|t| *t + WINDOW < now) {
            self.delivered.pop_front();
        }
        // Fewer clean answers than [`EVIDENCE`] in the window say how little was asked (the
        // paced start, a pause), not how little the account answers: without this bound, a
        // refusal early in the search once pulled the pace to 0.5/s and a read of a minute at
        // a cap of 5/s took six.
        let evidence = self.delivered.len() >= EVIDENCE;
        let delivered = self.delivered.len() as f64 / WINDOW.as_secs_f64();
        if self.phase != Phase::Start && evidence && next > 4.0 * delivered {
            // The cap is near what was delivered: bisect around that.
            self.low = self.low.min(delivered);
            self.high = self.high.min(2.0 * delivered);
            delivered
        } else {
            next
        }
    }
}
