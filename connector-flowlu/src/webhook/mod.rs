//! Flowlu's outgoing webhooks: the receiver a host mounts (or `flowlu-connector listen`
//! serves), which spools each event durably before answering, and the read side that drains
//! the spool into records and tombstones. See "Webhooks" in the crate's README.
//!
//! * `event.rs`: one event checked and mapped to its stream (the source's table); its
//!   idempotency key.
//! * `token.rs`: the URL's secret token (generated, stored 0600, rotated with a grace period).
//! * `receiver.rs`: the axum router and its answers.
//! * `drain.rs`: a stream's spool into records and tombstones, its position in the state, the
//!   poll schedule.

pub mod drain;
pub mod event;
pub mod receiver;
pub mod token;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use connector_core::{Checkpoint, ConfiguredCatalog, SourceEvent, SourceState, StreamStatus, SyncMode};
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::{Map, Value};

use crate::source::shape::Shape;
use drain::{poll_state, with_position, Position, Webhooks};

/// Unix seconds now.
fn unix_now() -> i64 {
    i64::try_from(receiver::unix_millis() / 1000).unwrap_or(i64::MAX)
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
                let Some(model) = crate::streams::model(&name) else {
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
