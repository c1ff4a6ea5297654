//! What a write is given and what it answers: [`SinkInput`], one [`Outcome`] per record
//! ([`RecordOutcome`]), [`SinkEvent`], and the per-stream counts ([`WriteSummary`]).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::error::FailureClass;
use crate::source::{LogLevel, Record};
use crate::wait::Wait;

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
    /// Every outcome's name ([`Outcome::kind`]), in the order summaries list them; `not_sent`
    /// last (a summary shows it only when some record was not sent).
    pub const KINDS: [&'static str; 8] = [
        "created",
        "updated",
        "unchanged",
        "deleted",
        "skipped",
        "failed",
        "unknown",
        "not_sent",
    ];

    /// The kinds a summary always shows: every one of [`Outcome::KINDS`] but `not_sent`.
    pub fn summary_kinds() -> impl Iterator<Item = &'static str> {
        Self::KINDS.into_iter().filter(|kind| *kind != "not_sent")
    }

    /// The outcome's name, one of [`Outcome::KINDS`]: `created`, `updated`, `unchanged`,
    /// `deleted`, `skipped`, `failed`, `unknown`, `not_sent`.
    pub fn kind(&self) -> &'static str {
        let index = match self {
            Self::Created { .. } => 0,
            Self::Updated { .. } => 1,
            Self::Unchanged { .. } => 2,
            Self::Deleted { .. } => 3,
            Self::Skipped { .. } => 4,
            Self::Failed { .. } => 5,
            Self::Unknown { .. } => 6,
            Self::NotSent { .. } => 7,
        };
        Self::KINDS[index]
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
        let describe = |count: &dyn Fn(&str) -> u64| {
            Outcome::summary_kinds()
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
    /// A request of the write waits (a rate limit or a retry) and the write resumes by itself
    /// (for progress displays, as it happens; no protocol message).
    Wait(Wait),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_kind_is_listed_once_in_order() {
        let failed = Outcome::Failed {
            class: FailureClass::Config,
            code: None,
            message: "m".into(),
            fields: BTreeMap::new(),
        };
        let id = || "1".to_string();
        let kinds: Vec<&str> = [
            Outcome::Created { id: id() },
            Outcome::Updated { id: id() },
            Outcome::Unchanged { id: id() },
            Outcome::Deleted { id: id() },
            Outcome::Skipped { reason: "r".into() },
            failed,
            Outcome::Unknown { message: "m".into() },
            Outcome::NotSent { reason: "r".into() },
        ]
        .iter()
        .map(Outcome::kind)
        .collect();
        assert_eq!(kinds, Outcome::KINDS);
        assert_eq!(
            Outcome::summary_kinds().collect::<Vec<_>>(),
            [
                "created",
                "updated",
                "unchanged",
                "deleted",
                "skipped",
                "failed",
                "unknown"
            ]
        );
    }
}
