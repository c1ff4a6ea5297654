//! [`JsonlSource`]: one stream per `*.jsonl` file of the directory; a read passes each line
//! on as a record, a page at a time, each page followed by a checkpoint (the byte offset
//! after its last complete line).
//!
//! * A stream's state is `{"offset": N, "line": L}`: the byte offset just after the last
//!   complete line read and the number of lines before it. A read resumed from any emitted
//!   state starts at that byte: it loses and repeats nothing. A state whose offset is not
//!   just after a line of the file (the file was truncated or replaced) stops that stream with
//!   a config error saying to reset it.
//! * A last line without its `\n` is a line still being written: it is not passed on, the
//!   state stays before it, and a log says so; the next read takes it once it is complete.
//! * A line that is not a JSON object is logged (file and line number) and skipped, the rest
//!   is still read and covered by the states; the stream then ends with an error listing
//!   the skipped lines, so the run fails and someone looks.
//! * `full_refresh` reads every file from its start whatever the state; `incremental` reads
//!   on from the state.
//!
//! Files are read on a thread of their own (blocking file reads never stall the caller's
//! executor), at most a few pages ahead of the consumer.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use connector_core::{
    Catalog, Checkpoint, ConfiguredCatalog, Failure, FailureClass, LogLevel, RawRecords, Source, SourceEvent,
    SourceState, Stream, StreamStatus, SyncMode,
};
use futures::stream::BoxStream;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::credential::JsonlCredential;
use crate::directory::{config_failure, list_streams, stream_path};
use crate::lines::{LineReader, Position};

pub use crate::directory::EXTENSION;

/// Bad lines logged one by one per stream; the error at the end counts every one.
const LOGGED_BAD_LINES: usize = 100;

/// The source of a directory's `.jsonl` files.
#[derive(Debug, Clone)]
pub struct JsonlSource {
    directory: PathBuf,
}

impl JsonlSource {
    /// The source of `credential`'s directory.
    pub fn new(credential: &JsonlCredential) -> Self {
        Self {
            directory: credential.directory.clone(),
        }
    }

    /// The configured streams of `catalog` read from `state` on a thread of their own, one
    /// after the other.
    fn read_on_thread<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
        state: &'a SourceState,
    ) -> BoxStream<'a, SourceEvent> {
        let plans: Vec<StreamPlan> = catalog
            .streams
            .iter()
            .map(|configured| {
                let name = configured.stream.name.clone();
                let start = match configured.sync_mode {
                    SyncMode::FullRefresh => Ok(Position::default()),
                    SyncMode::Incremental => state
                        .get(&name)
                        .map_or(Ok(Position::default()), |s| parse_state(&name, s)),
                };
                StreamPlan {
                    path: stream_path(&self.directory, &name),
                    name,
                    start,
                }
            })
            .collect();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let spawned = std::thread::Builder::new()
            .name("jsonl-read".into())
            .spawn(move || {
                for plan in plans {
                    if !read_stream(plan, &tx) {
                        return;
                    }
                }
            });
        let failed = spawned.err().map(|e| SourceEvent::Error {
            stream: None,
            failure: Failure {
                class: FailureClass::System,
                message: format!("The read could not start: no thread for reading files ({e})."),
                internal: e.to_string(),
            },
        });
        let received =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
        futures::stream::iter(failed).chain(received).boxed()
    }
}

#[async_trait]
impl Source for JsonlSource {
    async fn discover(&self) -> Result<Catalog, Failure> {
        let streams = list_streams(&self.directory).map_err(|(_, failure)| failure)?;
        Ok(Catalog {
            streams: streams.into_iter().map(stream).collect(),
        })
    }

    /// Records come a page at a time as [`SourceEvent::Records`], each the exact text of its
    /// line (without the line's `\r`).
    fn read<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
        state: &'a SourceState,
    ) -> BoxStream<'a, SourceEvent> {
        self.read_on_thread(catalog, state)
    }
}

/// The catalog entry of a stream: an open object, read whole or on from its offset.
fn stream(name: String) -> Stream {
    Stream {
        name,
        json_schema: json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": true,
        }),
        supported_sync_modes: vec![SyncMode::FullRefresh, SyncMode::Incremental],
        source_defined_cursor: true,
        default_cursor_field: Vec::new(),
        source_defined_primary_key: Vec::new(),
        namespace: None,
    }
}

/// A stream's saved state; a config failure naming the stream and the field.
fn parse_state(stream: &str, state: &Value) -> Result<Position, Failure> {
    let field = |name: &str| {
        match state.get(name) {
        Some(value) => value.as_u64().ok_or_else(|| {
            config_failure(format!(
                "The state of stream `{stream}` is wrong: `{name}` is {value}, not a whole number of bytes or lines. Pass the state this connector emitted, or reset the stream."
            ))
        }),
        None => Err(config_failure(format!(
            "The state of stream `{stream}` is wrong: it has no `{name}` (expected {{\"offset\": <bytes>, \"line\": <lines>}}). Pass the state this connector emitted, or reset the stream."
        ))),
    }
    };
    Ok(Position {
        offset: field("offset")?,
        line: field("line")?,
    })
}

/// The state of a position.
pub(crate) fn state_of(position: Position) -> Value {
    json!({ "offset": position.offset, "line": position.line })
}

/// One stream to read: its file and where to start.
struct StreamPlan {
    name: String,
    path: Result<PathBuf, Failure>,
    start: Result<Position, Failure>,
}

/// Sends the items of one stream; `false` once the receiver is gone (stop reading).
fn read_stream(plan: StreamPlan, tx: &tokio::sync::mpsc::Sender<SourceEvent>) -> bool {
    let event = |event: SourceEvent| tx.blocking_send(event).is_ok();
    let status = |status: StreamStatus| {
        event(SourceEvent::Status {
            stream: plan.name.clone(),
            status,
        })
    };
    let fail = |failure: Failure| {
        event(SourceEvent::Error {
            stream: Some(plan.name.clone()),
            failure,
        }) && status(StreamStatus::Incomplete)
    };
    if !status(StreamStatus::Started) {
        return false;
    }
    let opened = plan.path.and_then(|path| {
        let start = plan.start?;
        let file = open_at(&path, start, &plan.name)?;
        Ok((path, file, start))
    });
    let (path, file, start) = match opened {
        Ok(opened) => opened,
        Err(failure) => return fail(failure),
    };
    let file_name = format!("{}.{EXTENSION}", plan.name);
    let mut reader = LineReader::new(file, start);
    let mut bad_lines = Vec::new();
    let mut at = start;
    loop {
        let page = match reader.next_page() {
            Ok(Some(page)) => page,
            Ok(None) => break,
            Err(e) => {
                return fail(Failure {
                    class: FailureClass::Transient,
                    message: format!(
                        "{} could not be read after line {} (byte {}): {e}. The states emitted cover every record before; read again to continue.",
                        path.display(),
                        at.line,
                        at.offset
                    ),
                    internal: format!("read {file_name}: {e}"),
                })
            }
        };
        for bad in &page.bad {
            if bad_lines.len() < LOGGED_BAD_LINES {
                let message = format!("{file_name} line {} skipped: {}", bad.line, bad.message);
                if !event(SourceEvent::Log {
                    level: LogLevel::Error,
                    message,
                }) {
                    return false;
                }
            }
            bad_lines.push(bad.line);
        }
        if !page.records.is_empty()
            && !event(SourceEvent::Records(RawRecords::new(
                plan.name.clone(),
                page.records,
            )))
        {
            return false;
        }
        at = page.end;
        if !event(SourceEvent::Checkpoint(Checkpoint {
            stream: plan.name.clone(),
            state: state_of(at),
        })) {
            return false;
        }
    }
    if at == start
        && !event(SourceEvent::Checkpoint(Checkpoint {
            stream: plan.name.clone(),
            state: state_of(at),
        }))
    {
        return false;
    }
    if let Some(tail) = reader.tail() {
        let message = format!(
            "{file_name}: the last line (line {}, {} bytes from byte {}) has no newline yet, so it is not read; the next read takes it once it ends with a newline",
            at.line + 1,
            tail.len,
            tail.offset
        );
        if !event(SourceEvent::Log {
            level: LogLevel::Warn,
            message,
        }) {
            return false;
        }
    }
    if !bad_lines.is_empty() {
        return fail(bad_lines_failure(&path, &file_name, &bad_lines));
    }
    status(StreamStatus::Complete)
}

/// The error ending a stream some lines of which were skipped.
fn bad_lines_failure(path: &Path, file_name: &str, lines: &[u64]) -> Failure {
    let shown: Vec<String> = lines.iter().take(20).map(u64::to_string).collect();
    let more = if lines.len() > shown.len() {
        format!(" and {} more", lines.len() - shown.len())
    } else {
        String::new()
    };
    Failure {
        class: FailureClass::Config,
        message: format!(
            "{} line(s) of {} are not JSON objects and were skipped (line {}{more}); every other line was read. Fix those lines (the log says what is wrong with each) and read them again from a reset state, or ignore them.",
            lines.len(),
            path.display(),
            shown.join(", ")
        ),
        internal: format!("{file_name}: {} bad line(s)", lines.len()),
    }
}

/// Opens `path` at `start`, which must be 0 or just after a `\n` of the file.
fn open_at(path: &Path, start: Position, stream: &str) -> Result<std::fs::File, Failure> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "The stream `{stream}` has no file: {} does not exist. Run discover again, or take the stream out of the catalog.",
                path.display()
            )
        } else {
            format!("{} cannot be opened: {e}.", path.display())
        };
        Failure {
            class: FailureClass::Config,
            message,
            internal: format!("open {stream}.{EXTENSION}: {e}"),
        }
    })?;
    if start.offset == 0 {
        return Ok(file);
    }
    let replaced = |why: String| {
        config_failure(format!(
            "The state of stream `{stream}` is at byte {} (after line {}), but {}: the file was truncated or replaced since that state. Reset the stream's state to read it from the start.",
            start.offset,
            start.line,
            why
        ))
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if start.offset > len {
        return Err(replaced(format!("{} has only {len} bytes", path.display())));
    }
    let mut before = [0u8; 1];
    let at_line_end = file
        .seek(SeekFrom::Start(start.offset - 1))
        .and_then(|_| file.read_exact(&mut before))
        .is_ok_and(|()| before[0] == b'\n');
    if !at_line_end {
        return Err(replaced(format!(
            "byte {} of {} does not end a line",
            start.offset,
            path.display()
        )));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::value::RawValue;

    fn catalog(mode: &str) -> ConfiguredCatalog {
        serde_json::from_value(
            json!({"streams": [{"stream": {"name": "s", "json_schema": {}}, "sync_mode": mode}]}),
        )
        .unwrap()
    }

    /// Pages, checkpoints and statuses in order, on any executor (no Tokio runtime here);
    /// `full_refresh` starts over whatever the state, `incremental` goes on from it.
    #[test]
    fn full_refresh_reads_from_the_start_and_incremental_from_the_state() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.jsonl"), "{\"a\":1}\n{\"a\":2}\n").unwrap();
        let source = JsonlSource::new(&JsonlCredential::new("t", dir.path()));
        let state = SourceState {
            streams: [("s".to_string(), json!({"offset": 8, "line": 1}))].into(),
        };
        let raw = |texts: &[&str]| {
            let records = texts
                .iter()
                .map(|t| RawValue::from_string((*t).to_string()).unwrap())
                .collect();
            SourceEvent::Records(RawRecords::new("s", records))
        };
        let checkpoint = |offset: u64, line: u64| {
            SourceEvent::Checkpoint(Checkpoint {
                stream: "s".into(),
                state: json!({"offset": offset, "line": line}),
            })
        };
        let status = |status| SourceEvent::Status {
            stream: "s".into(),
            status,
        };
        for (mode, expected) in [
            ("full_refresh", raw(&["{\"a\":1}", "{\"a\":2}"])),
            ("incremental", raw(&["{\"a\":2}"])),
        ] {
            let catalog = catalog(mode);
            let events: Vec<SourceEvent> =
                futures::executor::block_on(source.read(&catalog, &state).collect());
            assert_eq!(
                events,
                [
                    status(StreamStatus::Started),
                    expected,
                    checkpoint(16, 2),
                    status(StreamStatus::Complete)
                ],
                "{mode}"
            );
        }
    }

    #[test]
    fn a_state_names_its_missing_or_wrong_field() {
        let err = parse_state("s", &json!({"offset": 3})).unwrap_err();
        assert_eq!(err.message, "The state of stream `s` is wrong: it has no `line` (expected {\"offset\": <bytes>, \"line\": <lines>}). Pass the state this connector emitted, or reset the stream.");
        let err = parse_state("s", &json!({"offset": -1, "line": 0})).unwrap_err();
        assert_eq!(err.message, "The state of stream `s` is wrong: `offset` is -1, not a whole number of bytes or lines. Pass the state this connector emitted, or reset the stream.");
        assert_eq!(
            parse_state("s", &json!({"offset": 3, "line": 1})).unwrap(),
            Position { offset: 3, line: 1 }
        );
    }

    #[test]
    fn only_plain_file_names_are_streams() {
        let dir = Path::new("/d");
        assert_eq!(stream_path(dir, "orders").unwrap(), Path::new("/d/orders.jsonl"));
        for name in ["", "a/b", "..\\x", "n\0ul", "/etc/passwd"] {
            assert_eq!(
                stream_path(dir, name).unwrap_err().class,
                FailureClass::Config,
                "{name:?}"
            );
        }
    }
}
