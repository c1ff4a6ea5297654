//! Fatal refusals: a rejected key or an unknown account stops every stream, a key without
//! the module stops its stream; which checkpoints they withhold.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use connector_core::Stopped;
use serde_json::Value;

use crate::credential::internal_detail;
use crate::error::Error;

/// Failures no later record can get past: a rejected key or an unknown account stop every
/// stream, a key without the module stops that stream. Records after such a failure fail at
/// once, without a request, instead of each meeting the same refusal; the first record (in
/// input order) each refusal touched decides which checkpoints are withheld.
#[derive(Debug, Default)]
pub(super) struct Halt {
    pub(super) account: Mutex<Option<String>>,
    pub(super) streams: Mutex<HashMap<String, String>>,
    pub(super) touched: Mutex<Touched>,
}

/// The first record each fatal refusal touched, and the refusal.
#[derive(Debug, Default)]
pub(super) struct Touched {
    /// The smallest sequence touched by an account-wide refusal.
    pub(super) account: Option<u64>,
    /// Per stream, the smallest sequence touched by a refusal of that stream.
    pub(super) streams: HashMap<String, u64>,
    /// The refusals, by stream (`None`: every stream).
    pub(super) failures: BTreeMap<Option<String>, Stopped>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Halt {
    /// Records `err` of record `sequence` if it stops the account or `stream`.
    pub(super) fn note(&self, stream: &str, sequence: u64, err: &Error, host: &str) {
        let why = || {
            format!(
                "not sent: an earlier request of this write failed with `{}`, which no record can get past; fix the credential or the key's permissions (Flowlu: Portal Settings -> API Settings) and write the rejected records again",
                internal_detail(err)
            )
        };
        let scope = match err {
            Error::Auth { .. }
            | Error::UnknownAccount { .. }
            | Error::Transport {
                kind: crate::error::TransportKind::Dns,
                ..
            } => {
                lock(&self.account).get_or_insert_with(why);
                None
            }
            Error::Permission { .. } => {
                lock(&self.streams).entry(stream.to_string()).or_insert_with(why);
                Some(stream.to_string())
            }
            _ => return,
        };
        let mut touched = lock(&self.touched);
        touched.touch(scope.as_deref(), sequence);
        touched.failures.entry(scope.clone()).or_insert_with(|| Stopped {
            stream: scope,
            failure: crate::credential::explain_at(err, host).1,
        });
    }

    /// Why record `sequence` of `stream` is no longer sent, if it is not (the record counts
    /// as touched by that refusal).
    pub(super) fn reason(&self, stream: &str, sequence: u64) -> Option<String> {
        let account = lock(&self.account).clone();
        if let Some(why) = account {
            lock(&self.touched).touch(None, sequence);
            return Some(why);
        }
        let why = lock(&self.streams).get(stream).cloned()?;
        lock(&self.touched).touch(Some(stream), sequence);
        Some(why)
    }

    /// Whether the checkpoint after `before` records, holding `state`, covers a record a fatal
    /// refusal touched (of every stream, or of the state's stream, or of any stream for a state
    /// that is not per stream).
    pub(super) fn withholds(&self, before: u64, state: &Value) -> bool {
        let touched = lock(&self.touched);
        if touched.account.is_some_and(|first| first < before) {
            return true;
        }
        let state_stream = (state.get("type").and_then(Value::as_str) == Some("STREAM"))
            .then(|| {
                state
                    .pointer("/stream/stream_descriptor/name")
                    .and_then(Value::as_str)
            })
            .flatten();
        touched
            .streams
            .iter()
            .any(|(stream, first)| *first < before && state_stream.is_none_or(|s| s == stream))
    }
}

impl Touched {
    pub(super) fn touch(&mut self, stream: Option<&str>, sequence: u64) {
        let first = match stream {
            None => self.account.get_or_insert(sequence),
            Some(stream) => self.streams.entry(stream.to_string()).or_insert(sequence),
        };
        *first = (*first).min(sequence);
    }
}
