//! The [`Source`] trait: discover streams, read records with checkpoints.

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::catalog::{Catalog, ConfiguredCatalog};
use crate::error::Failure;
use crate::state::SourceState;
use crate::tombstone::Tombstone;
use crate::wait::Wait;

/// One record of a stream, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The stream name.
    pub stream: String,
    /// The record.
    pub data: Value,
}

/// Records of one stream, in order (a page at a time), each the exact JSON text the service
/// sent: a program passes them on without parsing them, a host parses what it needs
/// ([`RawRecords::to_records`]).
#[derive(Debug, Clone)]
pub struct RawRecords {
    stream: String,
    records: Vec<Box<RawValue>>,
}

impl RawRecords {
    /// Records of `stream`, in order.
    pub fn new(stream: impl Into<String>, records: Vec<Box<RawValue>>) -> Self {
        Self {
            stream: stream.into(),
            records,
        }
    }

    /// The stream.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Each record's JSON text, in order.
    pub fn iter(&self) -> impl Iterator<Item = &RawValue> {
        self.records.iter().map(|r| &**r)
    }

    /// The records parsed (a text that is not JSON, which a source never passes on, becomes a
    /// JSON string of itself).
    pub fn to_records(&self) -> Vec<Record> {
        self.iter()
            .map(|raw| Record {
                stream: self.stream.clone(),
                data: serde_json::from_str(raw.get())
                    .unwrap_or_else(|_| Value::String(raw.get().to_string())),
            })
            .collect()
    }
}

impl PartialEq for RawRecords {
    fn eq(&self, other: &Self) -> bool {
        self.stream == other.stream && self.iter().map(RawValue::get).eq(other.iter().map(RawValue::get))
    }
}

/// A checkpoint: every record of `stream` emitted before it is covered by `state`; a read
/// resumed from `state` loses none of what follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The stream name.
    pub stream: String,
    /// Opaque per-stream state to pass back in [`SourceState`].
    pub state: Value,
}

/// The lifecycle of a stream during a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    /// Reading began.
    Started,
    /// Records are flowing.
    Running,
    /// Every record was read.
    Complete,
    /// The stream stopped early (see the accompanying error).
    Incomplete,
}

/// Log levels of [`SourceEvent::Log`] and sink logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Something went wrong.
    Error,
    /// Something the user may want to know.
    Warn,
    /// Progress.
    Info,
    /// Detail.
    Debug,
}

/// What a read produces, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceEvent {
    /// A record.
    Record(Record),
    /// Records as the service sent them (see [`Source::read_parsed`] for one
    /// [`SourceEvent::Record`] each instead).
    Records(RawRecords),
    /// A checkpoint covering every earlier record of its stream.
    Checkpoint(Checkpoint),
    /// A record deleted at the service (see [`Tombstone`]): a host removes its row; the
    /// Airbyte program passes it on as a record with `_ab_cdc_deleted_at` set.
    Delete(Tombstone),
    /// A stream changed status.
    Status {
        /// The stream.
        stream: String,
        /// Its new status.
        status: StreamStatus,
    },
    /// A page of a stream was fetched (for progress displays; no protocol message).
    Page {
        /// The stream.
        stream: String,
        /// Records the page held.
        records: usize,
    },
    /// A request of the read waits (a rate limit or a retry); the read resumes by itself
    /// (shown live by progress displays, a retry a warning in the log).
    Wait(Wait),
    /// A progress or diagnostic message.
    Log {
        /// Severity.
        level: LogLevel,
        /// The message (never a secret).
        message: String,
    },
    /// A failure; with a stream, only that stream stopped.
    Error {
        /// The stream that failed, or `None` for the whole read.
        stream: Option<String>,
        /// What happened and what to do.
        failure: Failure,
    },
}

/// A source of records.
///
/// Object safe: a host holds `Box<dyn Source>`.
#[async_trait]
pub trait Source: Send + Sync {
    /// The streams this source offers with this credential.
    async fn discover(&self) -> Result<Catalog, Failure>;

    /// Reads the configured streams from `state`. The stream ends when every stream is done or
    /// failed; per-stream failures come as [`SourceEvent::Error`] and the others go on.
    /// Records come as [`SourceEvent::Record`] or, exactly as the service sent them, a page at
    /// a time as [`SourceEvent::Records`].
    fn read<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
        state: &'a SourceState,
    ) -> BoxStream<'a, SourceEvent>;

    /// [`Source::read`] with every record parsed: one [`SourceEvent::Record`] each, never
    /// [`SourceEvent::Records`].
    fn read_parsed<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
        state: &'a SourceState,
    ) -> BoxStream<'a, SourceEvent> {
        self.read(catalog, state)
            .flat_map(|event| match event {
                SourceEvent::Records(records) => stream::iter(
                    records
                        .to_records()
                        .into_iter()
                        .map(SourceEvent::Record)
                        .collect::<Vec<_>>(),
                ),
                other => stream::iter(vec![other]),
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn raw_records_keep_the_text_and_parse_on_demand() {
        let raw = |t: &str| RawValue::from_string(t.to_string()).unwrap();
        let page = RawRecords::new("s", vec![raw(r#"{"id": 1,  "a": "x"}"#), raw(r#"{"id":2}"#)]);
        assert_eq!(
            page.iter().map(RawValue::get).collect::<Vec<_>>(),
            [r#"{"id": 1,  "a": "x"}"#, r#"{"id":2}"#]
        );
        assert_eq!((page.stream(), page.len(), page.is_empty()), ("s", 2, false));
        assert_eq!(
            page.to_records(),
            [
                Record {
                    stream: "s".into(),
                    data: serde_json::json!({"id": 1, "a": "x"}),
                },
                Record {
                    stream: "s".into(),
                    data: serde_json::json!({"id": 2}),
                },
            ]
        );
    }
}
