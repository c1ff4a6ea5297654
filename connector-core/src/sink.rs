//! The [`Sink`] trait: write records, report an outcome for every one.

use std::collections::BTreeMap;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use serde::Serialize;
use serde_json::Value;

use crate::catalog::ConfiguredCatalog;
use crate::error::{Failure, FailureClass};
use crate::order::{Acks, Finished};
use crate::source::{LogLevel, Record};

/// What a sink is given, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkInput {
    /// A record to write.
    Record(Record),
    /// A checkpoint: acknowledge it once every record before it has an outcome.
    Checkpoint(Value),
}

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A new record was created.
    Created {
        /// Its id.
        id: String,
    },
    /// An existing record was updated.
    Updated {
        /// Its id.
        id: String,
    },
    /// The record already held every value sent: nothing was sent.
    Unchanged {
        /// Its id.
        id: String,
    },
    /// A record was deleted.
    Deleted {
        /// Its id.
        id: String,
    },
    /// Nothing was sent, deliberately.
    Skipped {
        /// Why.
        reason: String,
    },
    /// The service refused the record, or it could not be sent.
    Failed {
        /// What to do next.
        class: FailureClass,
        /// The service's own error code, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<i64>,
        /// What went wrong.
        message: String,
        /// Per-field reasons.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        fields: BTreeMap<String, String>,
    },
    /// The request was sent but its result is unknown (the record may or may not exist).
    Unknown {
        /// What happened.
        message: String,
    },
    /// Nothing was sent for this record: the write stopped before it (a signal, or a refusal
    /// that concerns the whole portal). The host sends it again.
    NotSent {
        /// Why.
        reason: String,
    },
}

impl Outcome {
    /// The outcome's name: `created`, `updated`, `unchanged`, `deleted`, `skipped`, `failed`,
    /// `unknown`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Created { .. } => "created",
            Self::Updated { .. } => "updated",
            Self::Unchanged { .. } => "unchanged",
            Self::Deleted { .. } => "deleted",
            Self::Skipped { .. } => "skipped",
            Self::Failed { .. } => "failed",
            Self::Unknown { .. } => "unknown",
            Self::NotSent { .. } => "not_sent",
        }
    }

    /// Whether the record needs attention (failed, unknown or not sent).
    pub fn is_rejected(&self) -> bool {
        matches!(
            self,
            Self::Failed { .. } | Self::Unknown { .. } | Self::NotSent { .. }
        )
    }

    /// Whether the host must send the record again: it did not end for its own sake. This is
    /// the rule every checkpoint follows ([`crate::order::Acks`]).
    ///
    /// * Final (the host must not send it again): `created`, `updated`, `unchanged`,
    ///   `deleted`, `skipped` by a rule, and `failed` with class [`FailureClass::Config`]:
    ///   rejected for its own content, which no retry can fix (it is in the reject file).
    /// * Sent again: `failed` for a reason outside the record ([`FailureClass::Transient`],
    ///   [`FailureClass::System`]), `unknown`, and `not sent`. A sink whose refusal of the
    ///   whole portal reads as a config failure (a rejected key, a module the key lacks) marks
    ///   the record itself ([`crate::order::Acks::resend`]).
    pub fn must_resend(&self) -> bool {
        match self {
            Self::Created { .. }
            | Self::Updated { .. }
            | Self::Unchanged { .. }
            | Self::Deleted { .. }
            | Self::Skipped { .. } => false,
            Self::Failed { class, .. } => *class != FailureClass::Config,
            Self::Unknown { .. } | Self::NotSent { .. } => true,
        }
    }

    /// The class a record the host must send again is counted under (`transient`, `system`,
    /// `unknown`, `not sent`); `None` for a final outcome.
    pub fn resend_class(&self) -> Option<&'static str> {
        match self {
            Self::Failed {
                class: FailureClass::Transient,
                ..
            } => Some("transient"),
            Self::Failed {
                class: FailureClass::System,
                ..
            } => Some("system"),
            Self::Unknown { .. } => Some("unknown"),
            Self::NotSent { .. } => Some("not sent"),
            _ => None,
        }
    }
}

/// The outcome of the `sequence`-th record (0-based, counted over all input records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordOutcome {
    /// The stream.
    pub stream: String,
    /// The position of the record in the input.
    pub sequence: u64,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The record's data, given back with a rejected outcome (failed or unknown) so the caller
    /// can report it without keeping every record; `None` otherwise.
    #[serde(skip)]
    pub record: Option<Value>,
}

/// Counts of outcomes per stream, for the end-of-run summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSummary {
    counts: BTreeMap<String, BTreeMap<&'static str, u64>>,
}

impl WriteSummary {
    /// Counts one outcome.
    pub fn add(&mut self, outcome: &RecordOutcome) {
        *self
            .counts
            .entry(outcome.stream.clone())
            .or_default()
            .entry(outcome.outcome.kind())
            .or_default() += 1;
    }

    /// The count of `kind` (`created`, `failed`, ...) in `stream`.
    pub fn count(&self, stream: &str, kind: &str) -> u64 {
        self.counts
            .get(stream)
            .and_then(|c| c.get(kind))
            .copied()
            .unwrap_or(0)
    }

    /// The count of `kind` over every stream.
    pub fn total(&self, kind: &str) -> u64 {
        self.counts.values().filter_map(|c| c.get(kind)).sum()
    }

    /// One line per stream (`crm_account: created 3, failed 1`) and a total line.
    pub fn lines(&self) -> Vec<String> {
        let kinds = [
            "created",
            "updated",
            "unchanged",
            "deleted",
            "skipped",
            "failed",
            "unknown",
        ];
        let describe = |count: &dyn Fn(&str) -> u64| {
            kinds
                .iter()
                .map(|k| format!("{k} {}", count(k)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut lines: Vec<String> = self
            .counts
            .keys()
            .map(|stream| format!("{stream}: {}", describe(&|k| self.count(stream, k))))
            .collect();
        lines.push(format!("total: {}", describe(&|k| self.total(k))));
        // Records a stopped write never sent, only when there are some.
        let not_sent = self.total("not_sent");
        if not_sent > 0 {
            for (line, stream) in lines.iter_mut().zip(self.counts.keys()) {
                line.push_str(&format!(", not sent {}", self.count(stream, "not_sent")));
            }
            if let Some(total) = lines.last_mut() {
                total.push_str(&format!(", not sent {not_sent}"));
            }
        }
        lines
    }
}

/// What a write produces.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkEvent {
    /// One record's outcome (exactly one per input record).
    Outcome(RecordOutcome),
    /// An input checkpoint: every record before it has an outcome.
    CheckpointAck(Value),
    /// A diagnostic message.
    Log {
        /// Severity.
        level: LogLevel,
        /// The message (never a secret).
        message: String,
    },
    /// The service asked a request of `stream` to wait; the write resumes by itself (for
    /// progress displays, as it happens; no protocol message).
    RateLimited {
        /// The stream waiting (or `None` when the whole account waits).
        stream: Option<String>,
        /// How long, in milliseconds.
        wait_ms: u64,
    },
    /// A request of `stream` failed with a temporary error and is tried again after a wait
    /// (for progress displays, as it happens; no protocol message).
    Retrying {
        /// The stream whose request is retried.
        stream: String,
        /// The attempt that failed (1 for the first).
        attempt: usize,
        /// How long until the next attempt, in milliseconds.
        wait_ms: u64,
        /// What the failed attempt met, in a few words (`HTTP 502`, `timeout`).
        reason: String,
    },
}

/// A fatal refusal that stopped a write (a rejected key, an unknown account, a stream the
/// credential may not write): no checkpoint after the first record it touched was acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// The stream it stopped; `None` when it stopped every stream.
    pub stream: Option<String>,
    /// What it means and what to do (never a secret).
    pub failure: Failure,
}

/// A write of one catalog, prepared: every check that needs no record has passed.
pub trait PreparedWrite: Send + Sync {
    /// Writes `input`. Every input record gets exactly one [`SinkEvent::Outcome`]; every input
    /// checkpoint is acknowledged, in input order, after the outcomes of every record before
    /// it (unless a fatal refusal withholds it: see [`PreparedWrite::stopped`]).
    fn write<'a>(&'a self, input: BoxStream<'a, SinkInput>) -> BoxStream<'a, SinkEvent>;

    /// Stops the write as soon as it can (after a signal): no new request is sent, requests in
    /// flight run to their answer or their timeout, and every record taken from the input and
    /// not sent ends [`Outcome::NotSent`] with `why` (which withholds the checkpoints after it).
    /// The events still end with one outcome per record. The default does nothing.
    fn interrupt(&self, why: &str) {
        let _ = why;
    }

    /// Once the events of [`PreparedWrite::write`] have ended: the fatal refusals that stopped
    /// the write or some of its streams, the write-wide one first, then by stream name.
    fn stopped(&self) -> Vec<Stopped> {
        Vec::new()
    }
}

/// A destination of records.
///
/// Object safe: a host holds `Box<dyn Sink>`.
#[async_trait]
pub trait Sink: Send + Sync {
    /// Prepares a write of the streams of `catalog`: a config failure (a stream it cannot
    /// write, a mode it does not support) before any record is read.
    async fn prepare<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
    ) -> Result<Box<dyn PreparedWrite + 'a>, Failure>;

    /// Prepares and writes `input` in one call (for hosts that need no failure before the
    /// first record): when the preparation fails, the events are [`refuse_all`]'s.
    fn write<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
        input: BoxStream<'a, SinkInput>,
    ) -> BoxStream<'a, SinkEvent>;
}

/// The events of a write that cannot start (its preparation failed): a `LOG ERROR` saying
/// nothing is written, every record failed with `failure`'s class and message (nothing is
/// sent), and every checkpoint acknowledged after the records before it.
pub fn refuse_all<'a>(failure: Failure, input: BoxStream<'a, SinkInput>) -> BoxStream<'a, SinkEvent> {
    let first = SinkEvent::Log {
        level: LogLevel::Error,
        message: format!("nothing is written: {}", failure.message),
    };
    let events = input.scan(
        (0u64, 0u64, Acks::default()),
        move |(records, checkpoints, acks), item| {
            let finished = match item {
                SinkInput::Record(record) => {
                    *records += 1;
                    Finished::Outcome(RecordOutcome {
                        stream: record.stream,
                        sequence: *records - 1,
                        outcome: Outcome::Failed {
                            class: failure.class,
                            code: None,
                            message: failure.message.clone(),
                            fields: BTreeMap::new(),
                        },
                        record: Some(record.data),
                    })
                }
                SinkInput::Checkpoint(state) => {
                    *checkpoints += 1;
                    Finished::Checkpoint {
                        ordinal: *checkpoints - 1,
                        before: *records,
                        state,
                    }
                }
            };
            futures::future::ready(Some(stream::iter(acks.push(finished))))
        },
    );
    stream::iter([first]).chain(events.flatten()).boxed()
}
