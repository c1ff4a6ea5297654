//! The Airbyte protocol messages: what a connector binary prints on stdout and reads on stdin.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use connector_core::{
    Catalog, Error, Failure, FailureClass, LogLevel, RawRecords, SourceEvent, StreamStatus, Wait,
};

/// One line of the protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Message {
    /// A record.
    Record {
        /// The record.
        record: RecordMessage,
    },
    /// A checkpoint (`{type: STREAM, stream: {stream_descriptor, stream_state}}`).
    State {
        /// The state payload, passed back with `--state`.
        state: Value,
    },
    /// A log line.
    Log {
        /// The log.
        log: LogMessage,
    },
    /// An error, a stream status or an estimate (`{type: ERROR | STREAM_STATUS, ...}`).
    Trace {
        /// The trace.
        trace: Value,
    },
    /// The connector specification.
    Spec {
        /// `{connectionSpecification, documentationUrl, ...}`.
        spec: Value,
    },
    /// The answer to `check`.
    ConnectionStatus {
        /// The status.
        #[serde(rename = "connectionStatus")]
        connection_status: ConnectionStatus,
    },
    /// The answer to `discover`.
    Catalog {
        /// The catalog.
        catalog: Catalog,
    },
}

/// A record line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordMessage {
    /// The stream.
    pub stream: String,
    /// The record.
    pub data: Value,
    /// When it was read, epoch milliseconds.
    #[serde(default)]
    pub emitted_at: i64,
    /// The namespace, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A log line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogMessage {
    /// `FATAL`, `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    pub level: String,
    /// The message.
    pub message: String,
}

/// `check`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionStatus {
    /// `SUCCEEDED` or `FAILED`.
    pub status: String,
    /// What to do (on failure) or what was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Message {
    /// `CONNECTION_STATUS SUCCEEDED`.
    pub fn succeeded(message: impl Into<String>) -> Self {
        Self::ConnectionStatus {
            connection_status: ConnectionStatus {
                status: "SUCCEEDED".into(),
                message: Some(message.into()),
            },
        }
    }

    /// `CONNECTION_STATUS FAILED`.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::ConnectionStatus {
            connection_status: ConnectionStatus {
                status: "FAILED".into(),
                message: Some(message.into()),
            },
        }
    }

    /// A `LOG` line.
    pub fn log(level: LogLevel, message: impl Into<String>) -> Self {
        let level = match level {
            LogLevel::Error => "ERROR",
            LogLevel::Warn => "WARN",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
        };
        Self::Log {
            log: LogMessage {
                level: level.into(),
                message: message.into(),
            },
        }
    }

    /// A `TRACE` error, optionally about one stream.
    pub fn error(failure: &Failure, stream: Option<&str>, emitted_at: i64) -> Self {
        let mut error = json!({
            "message": failure.message,
            "internal_message": failure.internal,
            "failure_type": failure_type(failure.class),
        });
        if let Some(name) = stream {
            error["stream_descriptor"] = json!({ "name": name });
        }
        Self::Trace {
            trace: json!({ "type": "ERROR", "emitted_at": emitted_at, "error": error }),
        }
    }

    /// A per-stream `STATE`.
    pub fn stream_state(stream: &str, state: Value) -> Self {
        Self::State {
            state: json!({
                "type": "STREAM",
                "stream": { "stream_descriptor": { "name": stream }, "stream_state": state },
            }),
        }
    }

    /// A `TRACE STREAM_STATUS`, with a `RATE_LIMITED` reason when `quota_reset_ms` is given.
    pub fn stream_status(
        stream: &str,
        status: &str,
        rate_limited_until: Option<i64>,
        emitted_at: i64,
    ) -> Self {
        let mut stream_status = json!({ "stream_descriptor": { "name": stream }, "status": status });
        if let Some(until) = rate_limited_until {
            stream_status["reasons"] =
                json!([{ "type": "RATE_LIMITED", "rate_limited": { "quota_reset": until } }]);
        }
        Self::Trace {
            trace: json!({ "type": "STREAM_STATUS", "emitted_at": emitted_at, "stream_status": stream_status }),
        }
    }

    /// The protocol line of a source event; `None` for events with no protocol form and for
    /// [`SourceEvent::Records`] (their lines: [`write_records`]).
    pub fn from_source_event(event: SourceEvent, emitted_at: i64) -> Option<Self> {
        Some(match event {
            SourceEvent::Record(r) => Self::Record {
                record: RecordMessage {
                    stream: r.stream,
                    data: r.data,
                    emitted_at,
                    namespace: None,
                },
            },
            SourceEvent::Delete(t) => Self::Record {
                record: RecordMessage {
                    data: t.to_record_data(),
                    stream: t.stream,
                    emitted_at,
                    namespace: None,
                },
            },
            SourceEvent::Checkpoint(c) => Self::stream_state(&c.stream, c.state),
            SourceEvent::Status { stream, status } => {
                let status = match status {
                    StreamStatus::Started => "STARTED",
                    StreamStatus::Running => "RUNNING",
                    StreamStatus::Complete => "COMPLETE",
                    StreamStatus::Incomplete => "INCOMPLETE",
                };
                Self::stream_status(&stream, status, None, emitted_at)
            }
            SourceEvent::Wait(Wait::RateLimited {
                stream: Some(stream),
                wait_ms,
            }) => {
                let until = emitted_at.saturating_add(i64::try_from(wait_ms).unwrap_or(i64::MAX));
                Self::stream_status(&stream, "RUNNING", Some(until), emitted_at)
            }
            SourceEvent::Wait(Wait::RateLimited {
                stream: None,
                wait_ms,
            }) => Self::log(LogLevel::Info, format!("rate limited: waiting {wait_ms} ms")),
            SourceEvent::Wait(Wait::Retrying {
                stream,
                attempt,
                wait_ms,
                reason,
            }) => Self::log(
                LogLevel::Warn,
                format!("{stream}: attempt {attempt} failed ({reason}); retrying in {wait_ms} ms"),
            ),
            SourceEvent::Log { level, message } => Self::log(level, message),
            SourceEvent::Page { .. } | SourceEvent::Records(_) => return None,
            SourceEvent::Error { stream, failure } => Self::error(&failure, stream.as_deref(), emitted_at),
        })
    }

    /// Parses one stdin line, naming its line number on failure.
    pub fn parse_line(line: &str, line_number: usize) -> Result<Self, Error> {
        serde_json::from_str(line).map_err(|e| Error::Protocol {
            what: format!("message on line {line_number}"),
            message: e.to_string(),
        })
    }
}

/// Appends the `RECORD` line of a record to `out`, exactly as [`Message::Record`] serializes
/// (a record whose JSON text spans lines is written compact).
pub fn write_record_line(out: &mut Vec<u8>, stream: &str, record: &RawValue, emitted_at: i64) {
    let line = RecordLine::new(stream, emitted_at);
    line.write(out, record);
}

/// Appends the `RECORD` lines of `records` to `out`, every one `emitted_at`: the same bytes as
/// [`write_record_line`] for each, with the parts they share built once.
pub fn write_records(out: &mut Vec<u8>, records: &RawRecords, emitted_at: i64) {
    let line = RecordLine::new(records.stream(), emitted_at);
    let text: usize = records.iter().map(|r| r.get().len()).sum();
    out.reserve(text + records.len() * (line.head.len() + line.tail.len()));
    for record in records.iter() {
        line.write(out, record);
    }
}

/// What every `RECORD` line of one stream and instant shares: the text before the data and
/// after it.
struct RecordLine {
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl RecordLine {
    fn new(stream: &str, emitted_at: i64) -> Self {
        let mut head = br#"{"type":"RECORD","record":{"stream":"#.to_vec();
        // A stream name rarely needs escaping, but stay exact.
        let _ = serde_json::to_writer(&mut head, stream);
        head.extend_from_slice(br#","data":"#);
        let tail = format!(",\"emitted_at\":{emitted_at}}}}}\n").into_bytes();
        Self { head, tail }
    }

    fn write(&self, out: &mut Vec<u8>, record: &RawValue) {
        out.extend_from_slice(&self.head);
        let text = record.get();
        // A JSON text holds a raw line break only between tokens: written compact, the line
        // stays one line. The scan is memchr's (word at a time), not a char-by-char search.
        if memchr::memchr2(b'\n', b'\r', text.as_bytes()).is_some() {
            let compact: Option<Value> = serde_json::from_str(text).ok();
            let _ = serde_json::to_writer(&mut *out, &compact);
        } else {
            out.extend_from_slice(text.as_bytes());
        }
        out.extend_from_slice(&self.tail);
    }
}

/// Airbyte's `failure_type` for a failure class.
pub(crate) fn failure_type(class: FailureClass) -> &'static str {
    match class {
        FailureClass::Config => "config_error",
        FailureClass::Transient => "transient_error",
        FailureClass::System => "system_error",
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_the_protocol() {
        let line = serde_json::to_value(Message::succeeded("ok")).unwrap();
        assert_eq!(
            line,
            json!({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "SUCCEEDED", "message": "ok"}})
        );
        let line = serde_json::to_value(Message::stream_state("s", json!({"c": 1}))).unwrap();
        assert_eq!(
            line,
            json!({"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "s"}, "stream_state": {"c": 1}}}})
        );
        let rec = Message::from_source_event(
            SourceEvent::Record(connector_core::Record {
                stream: "s".into(),
                data: json!({"id": 1}),
            }),
            5,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(rec).unwrap(),
            json!({"type": "RECORD", "record": {"stream": "s", "data": {"id": 1}, "emitted_at": 5}})
        );
        let err = Message::error(
            &Failure {
                class: FailureClass::Transient,
                message: "m".into(),
                internal: "i".into(),
            },
            Some("s"),
            7,
        );
        assert_eq!(
            serde_json::to_value(err).unwrap(),
            json!({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 7, "error": {
                "message": "m", "internal_message": "i", "failure_type": "transient_error",
                "stream_descriptor": {"name": "s"}}}})
        );
    }

    #[test]
    fn a_tombstone_is_a_record_with_the_key_the_cursor_and_deleted_at() {
        let line = Message::from_source_event(
            SourceEvent::Delete(connector_core::Tombstone {
                stream: "crm_lead".into(),
                id: json!(42),
                id_field: "id".into(),
                deleted_at: "2026-12-05T21:00:00Z".into(),
                cursor: Some(("updated_date".into(), json!("2026-12-05 20:00:00"))),
            }),
            5,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(line).unwrap(),
            json!({"type": "RECORD", "record": {"stream": "crm_lead", "emitted_at": 5, "data": {
                "id": 42, "updated_date": "2026-12-05 20:00:00", "_ab_cdc_deleted_at": "2026-12-05T21:00:00Z"}}})
        );
    }

    #[test]
    fn parses_input_lines_ignoring_unknown_fields() {
        let m = Message::parse_line(
            r#"{"type":"RECORD","x":1,"record":{"stream":"s","data":{"a":1},"emitted_at":1,"extra":true}}"#,
            1,
        )
        .unwrap();
        assert!(matches!(m, Message::Record { .. }));
        let err = Message::parse_line("{not json", 3).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid message on line 3: key must be a string"),
            "{err}"
        );
    }

    #[test]
    fn record_lines_are_the_protocol_lines() {
        for text in [r#"{"id":1,"name":"a \"b\""}"#, "{\"id\": 2,\n \"x\": [1, 2]}"] {
            let raw = RawValue::from_string(text.to_string()).unwrap();
            let mut line = Vec::new();
            write_record_line(&mut line, "crm_account", &raw, 42);
            let message = Message::Record {
                record: RecordMessage {
                    stream: "crm_account".into(),
                    data: serde_json::from_str(text).unwrap(),
                    emitted_at: 42,
                    namespace: None,
                },
            };
            let expected = format!("{}\n", serde_json::to_string(&message).unwrap());
            assert_eq!(String::from_utf8(line).unwrap(), expected, "{text}");
        }
        let texts = [r#"{"id":1}"#, "{\"id\":\r\n2}", r#"{"id":"a\nb"}"#];
        let raws: Vec<Box<RawValue>> = texts
            .iter()
            .map(|t| RawValue::from_string((*t).to_string()).unwrap())
            .collect();
        let mut page = Vec::new();
        write_records(&mut page, &RawRecords::new("s\"x", raws), -7);
        let expected: String = texts
            .iter()
            .map(|text| {
                let message = Message::Record {
                    record: RecordMessage {
                        stream: "s\"x".into(),
                        data: serde_json::from_str(text).unwrap(),
                        emitted_at: -7,
                        namespace: None,
                    },
                };
                format!("{}\n", serde_json::to_string(&message).unwrap())
            })
            .collect();
        assert_eq!(String::from_utf8(page).unwrap(), expected);
    }
}
