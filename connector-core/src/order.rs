//! The ordering every sink owes its caller, apart from how it writes: a checkpoint is
//! acknowledged in input order once every record before it has an outcome, and only when none
//! of them must be sent again ([`Acks`]); records touching the same key run one after the other
//! in input order ([`KeyedOrder`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use futures::channel::oneshot;
use futures::stream::{BoxStream, Stream, StreamExt};
use serde_json::Value;

use crate::outcome::{RecordOutcome, SinkEvent, SinkInput};
use crate::source::Record;

/// An input item numbered, the one numbering of a write's input: a record by its `sequence`
/// among the input's records (0-based: [`RecordOutcome::sequence`]), a checkpoint by its
/// `ordinal` among the input's checkpoints and the number of records `before` it.
#[derive(Debug, Clone, PartialEq)]
pub enum Numbered {
    /// A record to write.
    Record {
        /// Its position among the input's records (0-based).
        sequence: u64,
        /// The record.
        record: Record,
    },
    /// A checkpoint.
    Checkpoint {
        /// Its position among the input's checkpoints (0-based).
        ordinal: u64,
        /// How many records came before it.
        before: u64,
        /// The state to acknowledge.
        state: Value,
    },
}

/// `input`, each item numbered ([`Numbered`]).
pub fn number<'a>(input: BoxStream<'a, SinkInput>) -> impl Stream<Item = Numbered> + Send + 'a {
    input.scan((0u64, 0u64), |(records, checkpoints), item| {
        let numbered = match item {
            SinkInput::Record(record) => {
                *records += 1;
                Numbered::Record {
                    sequence: *records - 1,
                    record,
                }
            }
            SinkInput::Checkpoint(state) => {
                *checkpoints += 1;
                Numbered::Checkpoint {
                    ordinal: *checkpoints - 1,
                    before: *records,
                    state,
                }
            }
        };
        futures::future::ready(Some(numbered))
    })
}

/// A finished input item, in completion order: a record's outcome, or a checkpoint (the
/// `ordinal`-th of the input, after `before` records).
#[derive(Debug)]
pub enum Finished {
    /// A record's outcome; its `sequence` is its position among the input's records.
    Outcome(RecordOutcome),
    /// A checkpoint, ready as soon as the records before it have outcomes.
    Checkpoint {
        /// Its position among the input's checkpoints (0-based).
        ordinal: u64,
        /// How many records came before it.
        before: u64,
        /// The state to acknowledge.
        state: Value,
    },
}

/// Whether a checkpoint after `before` records, holding `state`, must not be acknowledged.
pub type Withhold = Arc<dyn Fn(u64, &Value) -> bool + Send + Sync>;

/// Holds checkpoints until every record before them has an outcome; releases them in input
/// order. The one rule of which checkpoints pass: a checkpoint is dropped (never acknowledged)
/// when a record before it must be sent again ([`crate::Outcome::must_resend`], or marked with
/// [`Acks::resend`]) and that record is of the checkpoint's stream, or the checkpoint is not
/// per stream (a `GLOBAL` or legacy state covers every stream); and when the sink's
/// [`Withhold`] rule refuses it.
#[derive(Default)]
pub struct Acks {
    /// Per stream, the first record (by sequence) the host must send again.
    resend: BTreeMap<String, u64>,
    withhold: Option<Withhold>,
    /// Every sequence below this has an outcome.
    watermark: u64,
    /// Sequences at or above the watermark with an outcome.
    finished: BTreeSet<u64>,
    /// Checkpoints not yet acknowledged, by ordinal: (records before, state).
    held: BTreeMap<u64, (u64, Value)>,
    /// The ordinal of the next checkpoint to acknowledge.
    next: u64,
}

impl std::fmt::Debug for Acks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acks")
            .field("watermark", &self.watermark)
            .field("held", &self.held.len())
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl Acks {
    /// Acks that withhold the checkpoints `withhold` refuses.
    pub fn withholding(withhold: Withhold) -> Self {
        Self {
            withhold: Some(withhold),
            ..Self::default()
        }
    }

    /// Marks record `sequence` of `stream` as one the host must send again, whatever its
    /// outcome says (a refusal of the whole portal that reads as a config failure). Effective
    /// for the checkpoints not yet released, so call it before the record's outcome is pushed.
    pub fn resend(&mut self, stream: &str, sequence: u64) {
        let first = self.resend.entry(stream.to_string()).or_insert(sequence);
        *first = (*first).min(sequence);
    }

    /// Whether a record before the checkpoint after `before` records, holding `state`, must be
    /// sent again (of the state's stream, or of any stream for a state not per stream).
    fn covers_a_resend(&self, before: u64, state: &Value) -> bool {
        let stream = state_stream(state);
        self.resend
            .iter()
            .any(|(s, first)| *first < before && stream.is_none_or(|name| name == s))
    }

    /// Takes one finished item; returns the events it releases: the outcome, then every
    /// checkpoint now covered, in input order.
    pub fn push(&mut self, done: Finished) -> Vec<SinkEvent> {
        let mut events = Vec::new();
        match done {
            Finished::Outcome(outcome) => {
                if outcome.outcome.must_resend() {
                    self.resend(&outcome.stream, outcome.sequence);
                }
                self.finished.insert(outcome.sequence);
                while self.finished.remove(&self.watermark) {
                    self.watermark += 1;
                }
                events.push(SinkEvent::Outcome(outcome));
            }
            Finished::Checkpoint {
                ordinal,
                before,
                state,
            } => {
                self.held.insert(ordinal, (before, state));
            }
        }
        while let Some(entry) = self.held.first_entry() {
            if *entry.key() != self.next || entry.get().0 > self.watermark {
                break;
            }
            let (before, state) = entry.remove();
            self.next += 1;
            if self.covers_a_resend(before, &state)
                || self.withhold.as_ref().is_some_and(|w| w(before, &state))
            {
                continue;
            }
            events.push(SinkEvent::CheckpointAck(state));
        }
        events
    }
}

/// The stream a per-stream state (`{"type": "STREAM", "stream": {"stream_descriptor":
/// {"name": ...}}}`) belongs to; `None` for a state that covers every stream (`GLOBAL`, legacy).
pub fn state_stream(state: &Value) -> Option<&str> {
    if state.get("type").and_then(Value::as_str) != Some("STREAM") {
        return None;
    }
    state
        .pointer("/stream/stream_descriptor/name")
        .and_then(Value::as_str)
}

/// One place in a per-key queue: wait for the previous record of the key, and let the next
/// one go when dropped.
#[derive(Debug)]
pub struct Turn {
    previous: Option<oneshot::Receiver<()>>,
    _done: oneshot::Sender<()>,
}

impl Turn {
    /// Waits until the previous record of the key has its outcome. The next record of the key
    /// waits until this turn is dropped.
    pub async fn wait_previous(&mut self) {
        if let Some(previous) = self.previous.take() {
            // An error only means the previous turn was dropped: it is finished either way.
            let _ = previous.await;
        }
    }
}

/// Per-key queues: [`KeyedOrder::enter`] in input order, and each key's records run one after
/// the other.
#[derive(Debug, Default)]
pub struct KeyedOrder {
    last: Mutex<HashMap<String, oneshot::Receiver<()>>>,
}

/// Prune finished keys once the map holds this many.
const PRUNE_AT: usize = 4096;

impl KeyedOrder {
    /// The next turn of `key`: it waits for the turn entered before it with the same key.
    pub fn enter(&self, key: String) -> Turn {
        let (done, next) = oneshot::channel();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.len() >= PRUNE_AT {
            last.retain(|_, rx| matches!(rx.try_recv(), Ok(None)));
        }
        Turn {
            previous: last.insert(key, next),
            _done: done,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::outcome::Outcome;
    use serde_json::json;

    fn outcome(sequence: u64) -> Finished {
        Finished::Outcome(RecordOutcome {
            stream: "s".into(),
            sequence,
            outcome: Outcome::Deleted {
                id: sequence.to_string(),
            },
            record: None,
        })
    }

    fn checkpoint(ordinal: u64, before: u64) -> Finished {
        Finished::Checkpoint {
            ordinal,
            before,
            state: json!(ordinal),
        }
    }

    /// A short name for each event: `o3` for record 3's outcome, `s1` for checkpoint 1.
    fn names(events: Vec<SinkEvent>) -> Vec<String> {
        events
            .into_iter()
            .map(|e| match e {
                SinkEvent::Outcome(o) => format!("o{}", o.sequence),
                SinkEvent::CheckpointAck(s) => format!("s{s}"),
                SinkEvent::Log { message, .. } => message,
                wait => format!("{wait:?}"),
            })
            .collect()
    }

    #[test]
    fn checkpoints_wait_for_every_earlier_record_and_keep_their_order() {
        // Input: r0 r1 S0 r2 S1 S2 r3; completions arrive shuffled.
        let mut acks = Acks::default();
        let mut seen = Vec::new();
        for done in [
            checkpoint(1, 3),
            outcome(1),
            checkpoint(2, 3),
            checkpoint(0, 2),
            outcome(2),
            outcome(3),
            outcome(0),
        ] {
            seen.extend(names(acks.push(done)));
        }
        assert_eq!(seen, ["o1", "o2", "o3", "o0", "s0", "s1", "s2"]);
    }

    #[test]
    fn a_withheld_checkpoint_is_dropped_in_its_turn() {
        // Input: r0 S0 r1 S1 r2 S2; the rule refuses checkpoints after 2 records.
        let mut acks = Acks::withholding(Arc::new(|before, _| before == 2));
        let mut seen = Vec::new();
        for done in [
            checkpoint(2, 3),
            outcome(0),
            checkpoint(1, 2),
            outcome(1),
            checkpoint(0, 1),
            outcome(2),
        ] {
            seen.extend(names(acks.push(done)));
        }
        assert_eq!(seen, ["o0", "o1", "s0", "o2", "s2"]);
    }

    fn finished(stream: &str, sequence: u64, outcome: Outcome) -> Finished {
        Finished::Outcome(RecordOutcome {
            stream: stream.into(),
            sequence,
            outcome,
            record: None,
        })
    }

    fn stream_state(ordinal: u64, before: u64, stream: &str) -> Finished {
        Finished::Checkpoint {
            ordinal,
            before,
            state: json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": ordinal}}),
        }
    }

    fn failed(class: crate::FailureClass) -> Outcome {
        Outcome::Failed {
            class,
            code: None,
            message: "m".into(),
            fields: std::collections::BTreeMap::new(),
        }
    }

    /// Every outcome class: the checkpoints released after `r0(a) S0(a) r1(b) S1(b) S2(global)
    /// r2(a) S3(a)`, where record 0 ends in `outcome` and the others are created.
    fn released_after(outcome: Outcome) -> Vec<String> {
        let mut acks = Acks::default();
        let created = || Outcome::Created { id: "1".into() };
        let mut seen = Vec::new();
        for done in [
            finished("a", 0, outcome),
            stream_state(0, 1, "a"),
            finished("b", 1, created()),
            stream_state(1, 2, "b"),
            Finished::Checkpoint {
                ordinal: 2,
                before: 2,
                state: json!({"type": "GLOBAL", "n": 2}),
            },
            finished("a", 2, created()),
            stream_state(3, 3, "a"),
        ] {
            for event in acks.push(done) {
                if let SinkEvent::CheckpointAck(state) = event {
                    seen.push(format!(
                        "S{}",
                        state["stream"]["stream_state"]
                            .as_u64()
                            .or(state["n"].as_u64())
                            .unwrap_or(99)
                    ));
                }
            }
        }
        seen
    }

    #[test]
    fn final_outcomes_pass_every_later_checkpoint() {
        use crate::FailureClass;
        for outcome in [
            Outcome::Created { id: "1".into() },
            Outcome::Updated { id: "1".into() },
            Outcome::Unchanged { id: "1".into() },
            Outcome::Deleted { id: "1".into() },
            Outcome::Skipped {
                reason: "rule".into(),
            },
            failed(FailureClass::Config),
        ] {
            assert!(!outcome.must_resend(), "{outcome:?}");
            assert_eq!(outcome.resend_class(), None, "{outcome:?}");
            assert_eq!(
                released_after(outcome.clone()),
                ["S0", "S1", "S2", "S3"],
                "{outcome:?}"
            );
        }
    }

    #[test]
    fn a_record_to_send_again_withholds_its_streams_and_global_checkpoints_after_it() {
        use crate::FailureClass;
        for (outcome, class) in [
            (failed(FailureClass::Transient), "transient"),
            (failed(FailureClass::System), "system"),
            (Outcome::Unknown { message: "m".into() }, "unknown"),
            (
                Outcome::NotSent {
                    reason: "signal".into(),
                },
                "not sent",
            ),
        ] {
            assert!(outcome.must_resend(), "{outcome:?}");
            assert_eq!(outcome.resend_class(), Some(class));
            // Stream b's checkpoint passes; a's after the record and the global one do not.
            assert_eq!(released_after(outcome.clone()), ["S1"], "{outcome:?}");
        }
    }

    #[test]
    fn a_record_marked_for_resending_withholds_like_one_that_failed() {
        let mut acks = Acks::default();
        acks.resend("a", 1);
        let mut seen = Vec::new();
        for done in [
            finished("a", 0, Outcome::Created { id: "1".into() }),
            stream_state(0, 1, "a"),
            finished("a", 1, failed(crate::FailureClass::Config)),
            stream_state(1, 2, "a"),
        ] {
            seen.extend(names(acks.push(done)));
        }
        let first = r#"s{"type":"STREAM","stream":{"stream_descriptor":{"name":"a"},"stream_state":0}}"#;
        assert_eq!(seen, ["o0", first, "o1"]);
    }

    #[test]
    fn a_checkpoint_before_any_record_is_acknowledged_at_once() {
        let mut acks = Acks::default();
        assert_eq!(names(acks.push(checkpoint(0, 0))), ["s0"]);
    }

    #[test]
    fn records_of_one_key_take_turns() {
        let order = KeyedOrder::default();
        let mut first = order.enter("k".into());
        let mut second = order.enter("k".into());
        let mut other = order.enter("other".into());
        let mut waiting = Box::pin(second.wait_previous());
        assert!(
            futures::FutureExt::now_or_never(&mut waiting).is_none(),
            "the second turn waits for the first"
        );
        assert!(futures::FutureExt::now_or_never(first.wait_previous()).is_some());
        assert!(futures::FutureExt::now_or_never(other.wait_previous()).is_some());
        drop(first);
        assert!(futures::FutureExt::now_or_never(waiting).is_some());
    }
}
