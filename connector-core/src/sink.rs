//! The [`Sink`] trait: write records, report an outcome for every one.

use std::collections::BTreeMap;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use crate::catalog::ConfiguredCatalog;
use crate::error::Failure;
use crate::order::{number, Acks, Finished, Numbered};
use crate::source::LogLevel;

pub use crate::outcome::{Outcome, RecordOutcome, SinkEvent, SinkInput, WriteSummary};

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
    /// first record): [`Sink::prepare`], then [`PreparedWrite::write`]; when the preparation
    /// fails, the events are [`refuse_all`]'s.
    fn write<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
        input: BoxStream<'a, SinkInput>,
    ) -> BoxStream<'a, SinkEvent> {
        // The prepared write lives in the task below, which passes its events on; the
        // channel holds none (the task waits for each to be taken).
        let (mut tell, events) = futures::channel::mpsc::channel(0);
        let task = async move {
            use futures::SinkExt as _;
            let mut written = match self.prepare(catalog).await {
                Ok(prepared) => {
                    let mut events = prepared.write(input);
                    while let Some(event) = events.next().await {
                        if tell.send(event).await.is_err() {
                            return;
                        }
                    }
                    return;
                }
                Err(failure) => refuse_all(failure, input),
            };
            while let Some(event) = written.next().await {
                if tell.send(event).await.is_err() {
                    return;
                }
            }
        };
        let task = stream::once(task).filter_map(|()| futures::future::ready(None));
        stream::select(events, task).boxed()
    }
}

/// The events of a write that cannot start (its preparation failed): a `LOG ERROR` saying
/// nothing is written, every record failed with `failure`'s class and message (nothing is
/// sent), and every checkpoint acknowledged after the records before it.
pub fn refuse_all<'a>(failure: Failure, input: BoxStream<'a, SinkInput>) -> BoxStream<'a, SinkEvent> {
    let first = SinkEvent::Log {
        level: LogLevel::Error,
        message: format!("nothing is written: {}", failure.message),
    };
    let events = number(input).scan(Acks::default(), move |acks, item| {
        let finished = match item {
            Numbered::Record { sequence, record } => Finished::Outcome(RecordOutcome {
                stream: record.stream,
                sequence,
                outcome: Outcome::Failed {
                    class: failure.class,
                    code: None,
                    message: failure.message.clone(),
                    fields: BTreeMap::new(),
                },
                record: Some(record.data),
            }),
            Numbered::Checkpoint {
                ordinal,
                before,
                state,
            } => Finished::Checkpoint {
                ordinal,
                before,
                state,
            },
        };
        futures::future::ready(Some(stream::iter(acks.push(finished))))
    });
    stream::iter([first]).chain(events.flatten()).boxed()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;
    use crate::catalog::ConfiguredCatalog;
    use crate::error::FailureClass;
    use crate::source::Record;

    /// A sink that refuses to prepare when `refuse` is set, and otherwise creates every record
    /// with its sequence as id and acknowledges every checkpoint.
    struct Numbering {
        refuse: bool,
    }

    struct Created;

    impl PreparedWrite for Created {
        fn write<'a>(&'a self, input: BoxStream<'a, SinkInput>) -> BoxStream<'a, SinkEvent> {
            number(input)
                .map(|item| match item {
                    Numbered::Record { sequence, record } => SinkEvent::Outcome(RecordOutcome {
                        stream: record.stream,
                        sequence,
                        outcome: Outcome::Created {
                            id: sequence.to_string(),
                        },
                        record: None,
                    }),
                    Numbered::Checkpoint { state, .. } => SinkEvent::CheckpointAck(state),
                })
                .boxed()
        }
    }

    #[async_trait]
    impl Sink for Numbering {
        async fn prepare<'a>(
            &'a self,
            _: &'a ConfiguredCatalog,
        ) -> Result<Box<dyn PreparedWrite + 'a>, Failure> {
            if self.refuse {
                return Err(Failure {
                    class: FailureClass::Config,
                    message: "no such stream".into(),
                    internal: "plan".into(),
                });
            }
            Ok(Box::new(Created))
        }
    }

    fn input() -> Vec<SinkInput> {
        let record = |n: u64| {
            SinkInput::Record(Record {
                stream: "s".into(),
                data: json!({ "n": n }),
            })
        };
        vec![record(0), SinkInput::Checkpoint(json!(1)), record(1)]
    }

    async fn written(sink: &Numbering) -> Vec<SinkEvent> {
        let catalog = ConfiguredCatalog { streams: vec![] };
        sink.write(&catalog, stream::iter(input()).boxed())
            .collect()
            .await
    }

    #[tokio::test]
    async fn write_is_the_prepared_write_or_refuse_all() {
        let created = |sequence: u64| {
            SinkEvent::Outcome(RecordOutcome {
                stream: "s".into(),
                sequence,
                outcome: Outcome::Created {
                    id: sequence.to_string(),
                },
                record: None,
            })
        };
        assert_eq!(
            written(&Numbering { refuse: false }).await,
            [created(0), SinkEvent::CheckpointAck(json!(1)), created(1)]
        );
        let failed = |sequence: u64| {
            SinkEvent::Outcome(RecordOutcome {
                stream: "s".into(),
                sequence,
                outcome: Outcome::Failed {
                    class: FailureClass::Config,
                    code: None,
                    message: "no such stream".into(),
                    fields: BTreeMap::new(),
                },
                record: Some(json!({ "n": sequence })),
            })
        };
        assert_eq!(
            written(&Numbering { refuse: true }).await,
            [
                SinkEvent::Log {
                    level: LogLevel::Error,
                    message: "nothing is written: no such stream".into(),
                },
                failed(0),
                SinkEvent::CheckpointAck(json!(1)),
                failed(1),
            ]
        );
    }
}
