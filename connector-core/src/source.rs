//! The [`Source`] trait: discover streams, read records with checkpoints.

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde_json::Value;

use crate::catalog::{Catalog, ConfiguredCatalog};
use crate::error::Failure;
use crate::state::SourceState;

/// One record of a stream, passed on exactly as the service sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The stream name.
    pub stream: String,
    /// The record.
    pub data: Value,
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
    /// A checkpoint covering every earlier record of its stream.
    Checkpoint(Checkpoint),
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
    /// The service asked us to wait; the read resumes by itself.
    RateLimited {
        /// The stream waiting (or `None` when the whole account waits).
        stream: Option<String>,
        /// How long, in milliseconds.
        wait_ms: u64,
    },
    /// A request of `stream` failed with a temporary error and is tried again after a wait;
    /// the read resumes by itself (shown live by progress displays, a warning in the log).
    Retrying {
        /// The stream whose request is retried.
        stream: String,
        /// The attempt that failed (1 for the first): the coming try is retry `attempt`.
        attempt: usize,
        /// How long until the next attempt, in milliseconds.
        wait_ms: u64,
        /// What the failed attempt met, in a few words (`HTTP 502`, `timeout`, `connection
        /// dropped`, `HTTP 200 with an HTML page`, ...; never a body text).
        reason: String,
    },
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
    fn read<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
        state: &'a SourceState,
    ) -> BoxStream<'a, SourceEvent>;
}
