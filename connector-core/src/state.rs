//! Per-stream source state: what a read resumes from (`connector-runner` reads it from the
//! forms Airbyte hosts pass with `--state`).

use std::collections::BTreeMap;

use serde_json::Value;

/// Opaque state per stream name, as emitted in earlier checkpoints.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceState {
    /// Stream name -> the `stream_state` of its last checkpoint.
    pub streams: BTreeMap<String, Value>,
}

impl SourceState {
    /// The saved state of a stream.
    pub fn get(&self, stream: &str) -> Option<&Value> {
        self.streams.get(stream)
    }
}
