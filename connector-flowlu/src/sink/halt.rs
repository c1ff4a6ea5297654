//! Fatal refusals: a rejected key or an unknown account stops every stream, a key without
//! the module or a filter the portal ignores or refuses stops its stream; a signal stops every
//! stream; which records they mark for the checkpoint rule, and which requests they stop.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use connector_core::{Failure, FailureClass, Stopped};
use tokio_util::sync::CancellationToken;

use crate::base::decision::Scope;
use crate::base::error::Error;
use crate::credential::internal_detail;

/// Failures no later record can get past: a rejected key or an unknown account stop every
/// stream, a key without the module or a filter the portal ignores stops that stream, and so
/// does a signal. Records after such a failure are `not_sent` at once, without a request,
/// instead of each meeting the same refusal; the record whose own request met a refusal is
/// marked to be sent again ([`Halt::refused`]). The checkpoint rule itself is `Acks`'s.
#[derive(Debug, Default)]
pub(super) struct Halt {
    pub(super) account: Mutex<Option<String>>,
    pub(super) streams: Mutex<HashMap<String, String>>,
    pub(super) touched: Mutex<Touched>,
    /// Cancelled when no request of the write may be sent any more (a signal, or a refusal of
    /// every stream): waits for a slot, the pace or a retry end at once.
    stop: CancellationToken,
    /// Per stream, cancelled when that stream stops (children of `stop`).
    stream_stops: Mutex<HashMap<String, CancellationToken>>,
    /// Why records are not sent after a signal.
    interrupted: Mutex<Option<String>>,
}

/// The records that met a fatal refusal, and the refusals.
#[derive(Debug, Default)]
pub(super) struct Touched {
    /// The records (by sequence) whose own request met a fatal refusal: the host sends them
    /// again, so the checkpoint rule is told ([`connector_core::order::Acks::resend`]).
    pub(super) records: BTreeSet<u64>,
    /// The refusals, by stream (`None`: every stream).
    pub(super) failures: BTreeMap<Option<String>, Stopped>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Halt {
    /// A halt whose stop is `stop` (the account's, so its index reads stop too).
    pub(super) fn new(stop: CancellationToken) -> Self {
        Self {
            stop,
            ..Self::default()
        }
    }

    /// The token that stops `stream`'s requests.
    pub(super) fn token(&self, stream: &str) -> CancellationToken {
        lock(&self.stream_stops)
            .entry(stream.to_string())
            .or_insert_with(|| self.stop.child_token())
            .clone()
    }

    /// After a signal: no request is sent any more, and every record not yet sent ends
    /// `not sent` with `why`.
    pub(super) fn interrupt(&self, why: String) {
        lock(&self.interrupted).get_or_insert(why);
        self.stop.cancel();
    }

    /// Stops `stream` for a refusal that concerns the whole portal but is no error of a request
    /// (a filter the portal ignores): record `sequence` met it; later records are not sent.
    pub(super) fn stop_stream(&self, stream: &str, sequence: u64, why: &str) {
        lock(&self.streams).entry(stream.to_string()).or_insert_with(|| {
            format!("an earlier record of this stream showed that Flowlu {why}, which no record of it can get past; write the stream's records again once that is fixed")
        });
        lock(&self.touched)
            .failures
            .entry(Some(stream.to_string()))
            .or_insert_with(|| Stopped {
                stream: Some(stream.to_string()),
                failure: Failure {
                    class: FailureClass::System,
                    message: format!("Flowlu {why} (record {sequence} showed it), so the stream's records were not written, to avoid duplicates."),
                    internal: format!("stream stopped: {why}"),
                },
            });
        self.token(stream).cancel();
    }

    /// Why a request of `stream` that the stop ended was not sent.
    pub(super) fn not_sent(&self, stream: &str) -> String {
        if let Some(why) = lock(&self.interrupted).clone() {
            return why;
        }
        if let Some(why) = lock(&self.account).clone() {
            return why;
        }
        lock(&self.streams)
            .get(stream)
            .cloned()
            .unwrap_or_else(|| "the write stopped before this record's request was sent".into())
    }

    /// Records `err` of record `sequence` if it stops the account or `stream`.
    pub(super) fn note(&self, stream: &str, sequence: u64, err: &Error, host: &str) {
        let why = || {
            format!(
                "an earlier request of this write failed with `{}`, which no record can get past; fix the credential or the key's permissions (Flowlu: Portal Settings -> API Settings) and write the rejected records again",
                internal_detail(err)
            )
        };
        let scope = match err.decision().scope {
            Scope::Portal => {
                lock(&self.account).get_or_insert_with(why);
                self.stop.cancel();
                None
            }
            Scope::Stream => {
                lock(&self.streams).entry(stream.to_string()).or_insert_with(why);
                self.token(stream).cancel();
                Some(stream.to_string())
            }
            Scope::Request => return,
        };
        let mut touched = lock(&self.touched);
        touched.records.insert(sequence);
        touched.failures.entry(scope.clone()).or_insert_with(|| Stopped {
            stream: scope,
            failure: crate::credential::explain_at(err, host).1,
        });
    }

    /// Why a record of `stream` is no longer sent, if it is not (it ends `not_sent`,
    /// which withholds the checkpoints after it by the checkpoint rule).
    pub(super) fn reason(&self, stream: &str) -> Option<String> {
        if let Some(why) = lock(&self.interrupted).clone() {
            return Some(why);
        }
        if let Some(why) = lock(&self.account).clone() {
            return Some(why);
        }
        lock(&self.streams).get(stream).cloned()
    }

    /// Whether record `sequence`'s own request met a fatal refusal.
    pub(super) fn refused(&self, sequence: u64) -> bool {
        lock(&self.touched).records.contains(&sequence)
    }
}
