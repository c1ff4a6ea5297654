//! What a [`Limiter`](super::limiter::Limiter) learned about an account's pace, kept between
//! runs: a [`PaceSnapshot`] a host stores with the credential (or the binary in its `STATE`)
//! and hands back to the next run, which then starts at the rate found instead of learning
//! it again from refusals.
//!
//! A snapshot holds rates and a time, never the key nor the account's address. One older than
//! [`MAX_AGE`], from the future, or not a pace this version wrote is ignored (with a warning)
//! and the pace is learned again; one the portal contradicts (a refusal before any clean
//! answer, or clean answers above it) is corrected by the pace's own learning.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The key of the remembered pace inside a stream's `STATE` (see [`strip`]).
pub(crate) const STATE_KEY: &str = "account_pace";

/// The version of the snapshot's form.
pub(crate) const VERSION: u32 = 1;

/// A remembered pace older than this is learned again (a portal's cap follows its plan, which
/// rarely changes; a daily or weekly sync still starts from what the last one learned).
pub(crate) const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// A snapshot dated later than now by more than this (a clock set wrong, a hand edit) is
/// ignored.
const FUTURE_TOLERANCE: Duration = Duration::from_secs(300);

/// The pace an account was found to answer, as kept between runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaceSnapshot {
    /// The form's version (1).
    pub version: u32,
    /// The highest rate (requests per second) the account answered without refusals.
    pub clean: f64,
    /// The lowest rate above it the account refused, when one was met.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<f64>,
    /// When the portal last answered at this pace, in Unix seconds.
    pub learned_at: u64,
}

/// Why a snapshot was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// Older than 7 days: learned again.
    Stale {
        /// Its age in seconds.
        age_s: u64,
    },
    /// Not a pace this version writes (a hand edit, another version's form), or dated in the
    /// future.
    Invalid(String),
    /// The account's pace was already being learned in this process (another job on the same
    /// portal): what it learns now is newer.
    AlreadyLearning,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stale { age_s } => write!(
                f,
                "learned {age_s} s ago, more than {} s: learning the account's pace again",
                MAX_AGE.as_secs()
            ),
            Self::Invalid(why) => write!(f, "not a remembered pace ({why}): ignored"),
            Self::AlreadyLearning => {
                f.write_str("the account's pace is already being learned in this process")
            }
        }
    }
}

impl PaceSnapshot {
    /// Reads a snapshot from JSON, checking it: `Err` says why it cannot be used.
    pub fn from_value(value: &Value) -> Result<Self, Rejected> {
        let snapshot: Self =
            serde_json::from_value(value.clone()).map_err(|e| Rejected::Invalid(e.to_string()))?;
        snapshot.check(SystemTime::now())?;
        Ok(snapshot)
    }

    /// The snapshot as JSON.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Whether the snapshot can be used at `now`.
    pub fn check(&self, now: SystemTime) -> Result<(), Rejected> {
        let rate_ok = |r: f64| r.is_finite() && (0.1..=2000.0).contains(&r);
        if self.version != VERSION {
            return Err(Rejected::Invalid(format!("version {}", self.version)));
        }
        if !rate_ok(self.clean) {
            return Err(Rejected::Invalid(format!("clean rate {}", self.clean)));
        }
        if let Some(refused) = self.refused {
            if !rate_ok(refused) || refused <= self.clean {
                return Err(Rejected::Invalid(format!(
                    "refused rate {refused} not above the clean rate {}",
                    self.clean
                )));
            }
        }
        let Some(learned) = UNIX_EPOCH.checked_add(Duration::from_secs(self.learned_at)) else {
            return Err(Rejected::Invalid(format!("learned at {}", self.learned_at)));
        };
        match now.duration_since(learned) {
            Ok(age) if age > MAX_AGE => Err(Rejected::Stale { age_s: age.as_secs() }),
            Ok(_) => Ok(()),
            Err(ahead) if ahead.duration() > FUTURE_TOLERANCE => Err(Rejected::Invalid(format!(
                "dated {} s in the future",
                ahead.duration().as_secs()
            ))),
            Err(_) => Ok(()),
        }
    }
}

/// Unix seconds of `time`.
pub(crate) fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The newest usable pace among stream states (each may carry one under [`STATE_KEY`]), and
/// why each other one cannot be used, by stream. A state without one is not looked at.
pub(crate) fn newest_in_states<'a>(
    states: impl IntoIterator<Item = (&'a str, &'a Value)>,
) -> (Option<PaceSnapshot>, Vec<(&'a str, Rejected)>) {
    let mut newest: Option<PaceSnapshot> = None;
    let mut rejected = Vec::new();
    for (stream, state) in states {
        let Some(value) = state.get(STATE_KEY) else {
            continue;
        };
        match PaceSnapshot::from_value(value) {
            Ok(snapshot) => {
                if newest.is_none_or(|n| snapshot.learned_at > n.learned_at) {
                    newest = Some(snapshot);
                }
            }
            Err(why) => rejected.push((stream, why)),
        }
    }
    (newest, rejected)
}

/// `state` without the remembered pace: the stream's own position.
pub(crate) fn strip(state: &Value) -> Value {
    match state {
        Value::Object(map) if map.contains_key(STATE_KEY) => {
            let mut map = map.clone();
            map.remove(STATE_KEY);
            Value::Object(map)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn now() -> u64 {
        unix_seconds(SystemTime::now())
    }

    #[test]
    fn reads_the_newest_usable_pace_and_ignores_the_rest() {
        let at = now();
        let states = [
            ("a", json!({"after_id": 4})),
            (
                "b",
                json!({"after_id": 4, "account_pace": {"version": 1, "clean": 1.9, "refused": 2.1, "learned_at": at - 60}}),
            ),
            (
                "c",
                json!({"account_pace": {"version": 1, "clean": 1.8, "learned_at": at - 10}}),
            ),
            (
                "d",
                json!({"account_pace": {"version": 1, "clean": "fast", "learned_at": at}}),
            ),
            (
                "e",
                json!({"account_pace": {"version": 1, "clean": 9.0, "learned_at": at - 8 * 24 * 3600}}),
            ),
            (
                "f",
                json!({"account_pace": {"version": 1, "clean": 9.0, "learned_at": at + 3600}}),
            ),
            (
                "g",
                json!({"account_pace": {"version": 1, "clean": 9.0, "refused": 8.0, "learned_at": at}}),
            ),
            (
                "h",
                json!({"account_pace": {"version": 2, "clean": 9.0, "learned_at": at}}),
            ),
            (
                "i",
                json!({"account_pace": {"version": 1, "clean": 9.0, "learned_at": at, "api_key": "x"}}),
            ),
            ("j", json!({"account_pace": [1, 2]})),
        ];
        let (newest, rejected) = newest_in_states(states.iter().map(|(s, v)| (*s, v)));
        let rejected: Vec<&str> = rejected.iter().map(|(stream, _)| *stream).collect();
        assert_eq!(rejected, ["d", "e", "f", "g", "h", "i", "j"]);
        assert_eq!(
            newest,
            Some(PaceSnapshot {
                version: 1,
                clean: 1.8,
                refused: None,
                learned_at: at - 10
            })
        );
    }

    #[test]
    fn says_why_a_pace_is_not_used() {
        let at = now();
        let check = |v: Value| PaceSnapshot::from_value(&v).unwrap_err().to_string();
        assert_eq!(
            check(json!({"version": 1, "clean": 2.0, "learned_at": at - 8 * 24 * 3600})),
            format!(
                "learned {} s ago, more than 604800 s: learning the account's pace again",
                8 * 24 * 3600
            )
        );
        assert_eq!(
            check(json!({"version": 1, "clean": 2.0, "refused": 1.0, "learned_at": at})),
            "not a remembered pace (refused rate 1 not above the clean rate 2): ignored"
        );
        assert_eq!(
            check(json!({"version": 1, "clean": 0.0, "learned_at": at})),
            "not a remembered pace (clean rate 0): ignored"
        );
        assert_eq!(
            check(json!({"version": 7, "clean": 2.0, "learned_at": at})),
            "not a remembered pace (version 7): ignored"
        );
        let never = check(json!({"version": 1, "clean": 2.0, "learned_at": u64::MAX}));
        assert!(never.starts_with("not a remembered pace ("), "{never}");
        assert_eq!(
            check(json!({"version": 1, "clean": 2.0, "learned_at": -1})),
            "not a remembered pace (invalid value: integer `-1`, expected u64): ignored"
        );
        assert_eq!(
            check(json!({"version": 1, "clean": 2.0, "learned_at": at + 100_000})),
            "not a remembered pace (dated 99999 s in the future): ignored"
        );
    }

    #[test]
    fn strips_the_pace_and_keeps_the_position() {
        let pace = json!({"version": 1, "clean": 2.0, "learned_at": 1});
        assert_eq!(
            strip(&json!({"after_id": 3, "account_pace": pace})),
            json!({"after_id": 3})
        );
        assert_eq!(strip(&json!({"account_pace": pace})), json!({}));
        assert_eq!(strip(&json!({"cursor": "x"})), json!({"cursor": "x"}));
    }
}
