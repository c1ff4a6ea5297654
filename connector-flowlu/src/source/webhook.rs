//! A read with Flowlu's webhooks (see `crate::webhook`, the receiver): each incremental stream's spool drained into records (typed by
//! the stream's [`Shape`], as polled records are) and tombstones, checkpointed by spool offset in
//! the stream's state under [`STATE_KEY`]; and when a stream's poll, the safety net, is due.
//!
//! The stream's state keeps `{"offset": N, "polled_at": unix seconds, "deleted": [[id, cursor], ...]}`
//! beside the poll's own position. Per record, in spool order:
//!
//! * a delete passes a [`Tombstone`] (its cursor the record's last `updated_date` known) and is
//!   remembered (the last [`DELETED_MEMORY`] of them, in the state);
//! * a create or update of a record remembered deleted passes only when its cursor is strictly
//!   newer than the delete's (a restore); a late update stays deleted (streams without a cursor:
//!   always stays deleted);
//! * an update older (by cursor) than one already passed in this read is dropped (a reordered
//!   delivery).

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use connector_core::{
    Checkpoint, ConfiguredCatalog, LogLevel, RawRecords, SourceEvent, SourceState, StreamStatus, SyncMode,
    Tombstone,
};
use connector_spool::{ReadError, SpoolReader};
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::base::streams::Model;
use crate::source::shape::Shape;
use crate::webhook::event::{id_key, Action, Event};
use crate::webhook::receiver::stream_dir;

/// The key of the webhook position in a stream's state.
pub(crate) const STATE_KEY: &str = "webhooks";
/// Deletes remembered per stream (so a late update of a deleted record stays deleted).
pub(crate) const DELETED_MEMORY: usize = 1000;
/// Entries read from the spool at a time (a checkpoint after each batch).
pub(crate) const DRAIN_BATCH: usize = 500;

/// Webhooks configured for a read: the spool's root and how often a stream is polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhooks {
    root: PathBuf,
    poll_every_seconds: i64,
}

/// A stream's webhook position, as kept in its state.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Position {
    /// The spool offset of the next event to pass on (`None`: the oldest held).
    pub offset: Option<u64>,
    /// When the stream's last poll completed (Unix seconds).
    pub polled_at: Option<i64>,
    /// Recent deletes: the id and the cursor of the record deleted.
    pub deleted: VecDeque<(Value, Option<String>)>,
}

impl Position {
    /// The position in a stream's saved state (a default one when absent or unreadable).
    pub(crate) fn of(saved: Option<&Value>) -> Self {
        let Some(hooks) = saved.and_then(|s| s.get(STATE_KEY)) else {
            return Self::default();
        };
        let deleted = hooks
            .get("deleted")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|pair| {
                let id = pair.get(0)?.clone();
                let cursor = pair.get(1).and_then(Value::as_str).map(str::to_string);
                Some((id, cursor))
            })
            .collect();
        Self {
            offset: hooks.get("offset").and_then(Value::as_u64),
            polled_at: hooks.get("polled_at").and_then(Value::as_i64),
            deleted,
        }
    }

    /// The position as a state value.
    pub(crate) fn to_json(&self) -> Value {
        let deleted: Vec<Value> = self
            .deleted
            .iter()
            .map(|(id, cursor)| json!([id, cursor]))
            .collect();
        json!({"offset": self.offset, "polled_at": self.polled_at, "deleted": deleted})
    }

    fn remember_delete(&mut self, id: &Value, cursor: Option<String>) {
        let key = id_key(id);
        self.deleted.retain(|(known, _)| id_key(known) != key);
        self.deleted.push_back((id.clone(), cursor));
        while self.deleted.len() > DELETED_MEMORY {
            self.deleted.pop_front();
        }
    }
}

/// A stream's saved state without its webhook position (what the poll reads); `None` when
/// nothing else is left.
pub(crate) fn poll_state(saved: Option<&Value>) -> Option<Value> {
    let saved = saved?;
    match saved.as_object() {
        Some(object) if object.contains_key(STATE_KEY) => {
            let mut rest = object.clone();
            rest.remove(STATE_KEY);
            (!rest.is_empty()).then_some(Value::Object(rest))
        }
        _ => Some(saved.clone()),
    }
}

/// `state` (an object) with `position` under [`STATE_KEY`].
pub(crate) fn with_position(state: &Value, position: &Position) -> Value {
    let mut object = state.as_object().cloned().unwrap_or_default();
    object.insert(STATE_KEY.into(), position.to_json());
    Value::Object(object)
}

/// What a drain of one stream did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Drained {
    /// Records passed on.
    pub records: u64,
    /// Tombstones passed on.
    pub deletes: u64,
    /// Events passed over: a late update of a deleted record, or older than one passed.
    pub superseded: u64,
    /// Spooled entries that are not events (never written by the receiver): passed over.
    pub unreadable: u64,
}

/// Unix milliseconds as RFC 3339 UTC, to the second (`2026-12-05T21:00:00Z`), as the
/// reconciliation's tombstones.
fn millis_to_rfc3339(millis: u64) -> String {
    let naive = crate::base::dates::format_naive(i64::try_from(millis / 1000).unwrap_or(i64::MAX));
    format!(
        "{}T{}Z",
        &naive[..10.min(naive.len())],
        naive.get(11..).unwrap_or("00:00:00")
    )
}

impl Webhooks {
    /// Webhooks spooled under `root` (the receiver's), polling each stream at most every
    /// `poll_every_seconds` (0: every read).
    pub fn new(root: &Path, poll_every_seconds: i64) -> Self {
        Self {
            root: root.to_path_buf(),
            poll_every_seconds,
        }
    }

    /// The spool root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether a stream with `saved` state is polled by a read at `now`.
    pub fn poll_due(&self, saved: Option<&Value>, now: i64) -> bool {
        match Position::of(saved).polled_at {
            None => true,
            Some(at) => now.saturating_sub(at) >= self.poll_every_seconds,
        }
    }

    /// Moves a stream read in full (not incremental) past every event spooled so far (the read
    /// that follows sees every change made before it): its position, and the segments released.
    pub(crate) fn skip(&self, model: &Model, saved: Option<&Value>) -> (Position, Option<String>) {
        let reader = SpoolReader::new(&stream_dir(&self.root, model.stream));
        let mut position = Position::of(saved);
        match reader.committed() {
            Ok(end) => {
                position.offset = Some(end);
                let _ = reader.release(end);
                (position, None)
            }
            Err(e) => (
                position,
                Some(format!("{}: the webhook spool cannot be read: {e}", model.stream)),
            ),
        }
    }

    /// Drains one incremental stream from its saved position: every event is passed to `send`
    /// (records, tombstones, a checkpoint after each batch, logs); returns the final position.
    /// Segments before the saved offset (a state the host has committed) are released first.
    pub(crate) fn drain(
        &self,
        model: &'static Model,
        shape: &Shape,
        saved: Option<&Value>,
        send: &mut dyn FnMut(SourceEvent) -> bool,
    ) -> (Position, Drained) {
        let stream = model.stream;
        let reader = SpoolReader::new(&stream_dir(&self.root, stream));
        let mut position = Position::of(saved);
        let base = poll_state(saved).unwrap_or_else(|| Value::Object(Map::new()));
        let mut drained = Drained::default();
        if let Some(offset) = position.offset {
            let _ = reader.release(offset);
        }
        let log = |level, message: String| SourceEvent::Log { level, message };
        // The newest cursor passed on per record in this read.
        let mut newest: HashMap<String, Option<String>> = HashMap::new();
        let mut checkpointed = false;
        loop {
            let entries = match reader.read(position.offset, DRAIN_BATCH) {
                Ok(entries) => entries,
                Err(e @ (ReadError::Released { .. } | ReadError::NotAnEntry(_))) => {
                    // Changes spooled since the saved offset may be gone: the next read polls.
                    let message = format!("{stream}: {e}: reading the oldest events held, and the stream is polled at the next read to catch up");
                    if !send(log(LogLevel::Warn, message)) {
                        return (position, drained);
                    }
                    position.offset = None;
                    position.polled_at = None;
                    match reader.read(None, DRAIN_BATCH) {
                        Ok(entries) => entries,
                        Err(e) => {
                            send(log(
                                LogLevel::Error,
                                format!("{stream}: the webhook spool cannot be read: {e}"),
                            ));
                            return (position, drained);
                        }
                    }
                }
                Err(e) => {
                    send(log(
                        LogLevel::Error,
                        format!("{stream}: the webhook spool cannot be read: {e}"),
                    ));
                    return (position, drained);
                }
            };
            let Some(last) = entries.last() else {
                if !checkpointed {
                    // Nothing new: the stream's state is still said once.
                    send(SourceEvent::Checkpoint(Checkpoint {
                        stream: stream.to_string(),
                        state: with_position(&base, &position),
                    }));
                }
                return (position, drained);
            };
            checkpointed = true;
            let end = last.next;
            let mut records: Vec<(Box<RawValue>, ())> = Vec::new();
            let mut batch: Vec<SourceEvent> = Vec::new();
            let flush = |records: &mut Vec<(Box<RawValue>, ())>, batch: &mut Vec<SourceEvent>| {
                if records.is_empty() {
                    return;
                }
                let mut items = std::mem::take(records);
                let shaped = shape.page(&mut items);
                if !shaped.misfits.is_empty() {
                    let fields: Vec<String> =
                        shaped.misfits.iter().map(|(f, n)| format!("{f} ({n})")).collect();
                    batch.push(SourceEvent::Log {
                        level: LogLevel::Warn,
                        message: format!(
                            "{stream}: values that fit no declared type are null in their columns and kept as sent in {}: {}",
                            crate::base::stream_schema::RAW_VALUES,
                            fields.join(", ")
                        ),
                    });
                }
                batch.push(SourceEvent::Records(RawRecords::new(
                    stream,
                    items.into_iter().map(|(r, ())| r).collect(),
                )));
            };
            for entry in entries {
                let (received, body) = match entry.payload.split_first_chunk::<8>() {
                    Some((millis, body)) => (u64::from_le_bytes(*millis), body),
                    None => (0, &entry.payload[..]),
                };
                let event = match Event::parse(body) {
                    Ok(event) if event.model.stream == stream => event,
                    _ => {
                        drained.unreadable += 1;
                        continue;
                    }
                };
                let key = id_key(&event.id);
                let deleted = position
                    .deleted
                    .iter()
                    .find(|(id, _)| id_key(id) == key)
                    .map(|(_, c)| c.clone());
                match event.action {
                    Action::Delete => {
                        flush(&mut records, &mut batch);
                        // Never older than a cursor passed on for the record.
                        let seen = newest.get(&key).cloned().flatten();
                        let cursor = match (event.cursor.clone(), seen) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            (a, b) => a.or(b),
                        };
                        batch.push(SourceEvent::Delete(Tombstone {
                            stream: stream.to_string(),
                            id: event.id.clone(),
                            id_field: "id".into(),
                            deleted_at: millis_to_rfc3339(received),
                            cursor: model.cursor.map(|(column, _)| {
                                (
                                    column.to_string(),
                                    cursor.clone().map_or(Value::Null, Value::String),
                                )
                            }),
                        }));
                        position.remember_delete(&event.id, cursor);
                        newest.remove(&key);
                        drained.deletes += 1;
                    }
                    Action::Create | Action::Update => {
                        let restore = match &deleted {
                            None => true,
                            Some(at) => matches!((&event.cursor, at), (Some(new), Some(old)) if new > old),
                        };
                        let stale = matches!(
                            (newest.get(&key), &event.cursor),
                            (Some(Some(passed)), Some(new)) if new < passed
                        );
                        let Some(record) = event.record.filter(|_| restore && !stale) else {
                            drained.superseded += 1;
                            continue;
                        };
                        if deleted.is_some() {
                            position.deleted.retain(|(id, _)| id_key(id) != key);
                        }
                        newest.insert(key, event.cursor);
                        records.push((record, ()));
                        drained.records += 1;
                    }
                }
            }
            flush(&mut records, &mut batch);
            position.offset = Some(end);
            batch.push(SourceEvent::Checkpoint(Checkpoint {
                stream: stream.to_string(),
                state: with_position(&base, &position),
            }));
            for event in batch {
                if !send(event) {
                    return (position, drained);
                }
            }
        }
    }
}

/// Unix seconds now.
fn unix_now() -> i64 {
    i64::try_from(crate::webhook::receiver::unix_millis() / 1000).unwrap_or(i64::MAX)
}

/// A read with webhooks: each incremental stream's spool drained first (its own checkpoints),
/// the others moved past what is spooled; then `poll` (the streams whose poll is due), each of
/// its checkpoints carrying the stream's webhook position, and a stream's `polled_at` set by
/// one more checkpoint when its poll completes.
pub(crate) fn read<'a>(
    hooks: Arc<Webhooks>,
    catalog: &'a ConfiguredCatalog,
    state: &'a SourceState,
    poll: BoxStream<'a, SourceEvent>,
) -> BoxStream<'a, SourceEvent> {
    let positions: Arc<Mutex<HashMap<String, Position>>> = Arc::default();
    let streams: Vec<(String, bool, Value, Option<Value>)> = catalog
        .streams
        .iter()
        .map(|c| {
            let name = c.stream.name.clone();
            let incremental = c.sync_mode == SyncMode::Incremental;
            (
                name.clone(),
                incremental,
                c.stream.json_schema.clone(),
                state.get(&name).cloned(),
            )
        })
        .collect();
    let (tx, rx) = tokio::sync::mpsc::channel::<SourceEvent>(8);
    let drained_positions = Arc::clone(&positions);
    let drain_hooks = Arc::clone(&hooks);
    let drain = stream::once(async move {
        let task = tokio::task::spawn_blocking(move || {
            for (name, incremental, schema, saved) in streams {
                let Some(model) = crate::base::streams::model(&name) else {
                    continue;
                };
                let position = if incremental && model.cursor.is_some() {
                    let shape = Shape::new(model.stream, &schema);
                    let mut send = |event| tx.blocking_send(event).is_ok();
                    let (position, drained) = drain_hooks.drain(model, &shape, saved.as_ref(), &mut send);
                    let message = format!(
                        "{name}: {} records and {} deletes from webhooks ({} superseded by a later event, {} unreadable)",
                        drained.records, drained.deletes, drained.superseded, drained.unreadable
                    );
                    send(SourceEvent::Log {
                        level: connector_core::LogLevel::Info,
                        message,
                    });
                    position
                } else {
                    let (position, warning) = drain_hooks.skip(model, saved.as_ref());
                    if let Some(message) = warning {
                        let _ = tx.blocking_send(SourceEvent::Log {
                            level: connector_core::LogLevel::Warn,
                            message,
                        });
                    }
                    position
                };
                if let Ok(mut held) = drained_positions.lock() {
                    held.insert(name, position);
                }
            }
        });
        let events = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) });
        // The task ends when every stream is drained; its events end with it.
        events.chain(stream::once(task).filter_map(|_| async { None }))
    })
    .flatten();
    let mut last: HashMap<String, Value> = HashMap::new();
    let injected = poll.flat_map(move |event| {
        let position = |stream: &str| -> Position {
            positions
                .lock()
                .ok()
                .and_then(|held| held.get(stream).cloned())
                .unwrap_or_else(|| Position::of(state.get(stream)))
        };
        let out = match event {
            SourceEvent::Checkpoint(checkpoint) => {
                let position = position(&checkpoint.stream);
                last.insert(checkpoint.stream.clone(), checkpoint.state.clone());
                vec![SourceEvent::Checkpoint(Checkpoint {
                    state: with_position(&checkpoint.state, &position),
                    stream: checkpoint.stream,
                })]
            }
            SourceEvent::Status {
                stream,
                status: StreamStatus::Complete,
            } => {
                let mut position = position(&stream);
                position.polled_at = Some(unix_now());
                let base = last
                    .get(&stream)
                    .cloned()
                    .or_else(|| poll_state(state.get(&stream)))
                    .unwrap_or_else(|| Value::Object(Map::new()));
                let checkpoint = SourceEvent::Checkpoint(Checkpoint {
                    stream: stream.clone(),
                    state: with_position(&base, &position),
                });
                if let Ok(mut held) = positions.lock() {
                    held.insert(stream.clone(), position);
                }
                vec![
                    checkpoint,
                    SourceEvent::Status {
                        stream,
                        status: StreamStatus::Complete,
                    },
                ]
            }
            other => vec![other],
        };
        stream::iter(out)
    });
    let _ = hooks;
    drain.chain(injected).boxed()
}
