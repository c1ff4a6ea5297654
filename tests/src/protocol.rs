//! Airbyte protocol lines as tests write them to a command's stdin and read them from its
//! stdout.

use serde_json::{json, Value};

use crate::Run;

/// A message as one input line (ending in `\n`).
pub fn message_line(message: &Value) -> String {
    format!("{message}\n")
}

/// A RECORD message of `stream` holding `data` (`emitted_at` 1).
pub fn record_message(stream: &str, data: Value) -> Value {
    json!({"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": 1}})
}

/// The per-stream state of `stream` holding `stream_state` (a STATE message's `state`).
pub fn stream_state(stream: &str, stream_state: Value) -> Value {
    json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": stream_state}})
}

/// A STATE message of `stream` holding `stream_state`.
pub fn state_message(stream: &str, state: Value) -> Value {
    json!({"type": "STATE", "state": stream_state(stream, state)})
}

/// [`record_message`] as an input line.
pub fn record_line(stream: &str, data: Value) -> String {
    message_line(&record_message(stream, data))
}

/// [`state_message`] as an input line.
pub fn state_line(stream: &str, state: Value) -> String {
    message_line(&state_message(stream, state))
}

/// The messages of `run` of type `kind` (`RECORD`, `STATE`, `TRACE`, ...), whole.
pub fn messages_of(run: &Run, kind: &str) -> Vec<Value> {
    run.messages
        .iter()
        .filter(|m| m["type"] == kind)
        .cloned()
        .collect()
}

/// The `data` of every RECORD of `run`.
pub fn records_of(run: &Run) -> Vec<Value> {
    messages_of(run, "RECORD")
        .into_iter()
        .map(|m| m["record"]["data"].clone())
        .collect()
}

/// The `state` of every STATE of `run`.
pub fn states_of(run: &Run) -> Vec<Value> {
    messages_of(run, "STATE")
        .into_iter()
        .map(|m| m["state"].clone())
        .collect()
}

/// A LOG message.
pub fn log(level: &str, message: &str) -> Value {
    json!({"type": "LOG", "log": {"level": level, "message": message}})
}

/// A RECORD line of `stream` whose `data` is the exact text `data` (`emitted_at` 1): for
/// tests of what a connector keeps of the text as sent.
pub fn raw_record_line(stream: &str, data: &str) -> String {
    format!(
        "{{\"type\":\"RECORD\",\"record\":{{\"stream\":\"{stream}\",\"data\":{data},\"emitted_at\":1}}}}\n"
    )
}

/// The messages a read emits, as `connector_runner::airbyte::Message` serialises them with
/// `emitted_at` 0: what tests of a source expect line by line.
pub mod emitted {
    use connector_runner::airbyte::Message;
    use serde_json::{json, Value};

    /// A STREAM_STATUS trace of `stream`.
    pub fn status(stream: &str, status: &str) -> Value {
        serde_json::to_value(Message::stream_status(stream, status, None, 0)).unwrap()
    }

    /// A RECORD of `stream` holding `data`.
    pub fn record(stream: &str, data: &Value) -> Value {
        json!({"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": 0}})
    }

    /// A per-stream STATE of `stream`.
    pub fn state(stream: &str, state: Value) -> Value {
        serde_json::to_value(Message::stream_state(stream, state)).unwrap()
    }

    /// A LOG message.
    pub fn log(level: &str, message: &str) -> Value {
        super::log(level, message)
    }

    /// An ERROR trace of `stream`.
    pub fn error(stream: &str, failure_type: &str, message: &str, internal: &str) -> Value {
        json!({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 0, "error": {
            "message": message, "internal_message": internal, "failure_type": failure_type,
            "stream_descriptor": {"name": stream}}}})
    }
}
