//! [`JsonlSource`]: each `<stream>.jsonl` file a stream, read a page of lines at a time from a
//! byte-offset checkpoint.

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use connector_core::{
    Catalog, Checkpoint, ConfiguredCatalog, ConfiguredStream, Failure, FailureClass, RawRecords, Source,
    SourceEvent, SourceState, Stream, StreamStatus, SyncMode,
};
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::{is_stream_name, stream_file, EXTENSION};

/// Lines per page (each page is followed by a checkpoint).
pub const PAGE_LINES: usize = 500;

/// The `.jsonl` files of a directory as streams.
#[derive(Debug, Clone)]
pub struct JsonlSource {
    directory: PathBuf,
}

impl JsonlSource {
    /// A source over the files of `directory`.
    pub fn new(directory: &Path) -> Self {
        Self {
            directory: directory.to_path_buf(),
        }
    }
}

/// One stream's read, a page at a time: its events in order.
struct StreamRead {
    phase: Phase,
    pending: std::collections::VecDeque<SourceEvent>,
}

enum Phase {
    Start {
        directory: PathBuf,
        configured: ConfiguredStream,
        saved: Option<Value>,
    },
    Reading(StreamReader),
    Done,
}

impl StreamRead {
    fn new(directory: &Path, configured: &ConfiguredStream, state: &SourceState) -> Self {
        let saved = match configured.sync_mode {
            SyncMode::Incremental => state.get(&configured.stream.name).cloned(),
            SyncMode::FullRefresh => None,
        };
        Self {
            phase: Phase::Start {
                directory: directory.to_path_buf(),
                configured: configured.clone(),
                saved,
            },
            pending: std::collections::VecDeque::new(),
        }
    }

    fn end(&mut self, stream: &str, result: Result<(), Failure>) {
        if let Err(failure) = result {
            self.pending.push_back(SourceEvent::Error {
                stream: Some(stream.to_string()),
                failure,
            });
            self.pending.push_back(status(stream, StreamStatus::Incomplete));
        } else {
            self.pending.push_back(status(stream, StreamStatus::Complete));
        }
        self.phase = Phase::Done;
    }
}

impl Iterator for StreamRead {
    type Item = SourceEvent;

    fn next(&mut self) -> Option<SourceEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Done => return None,
                Phase::Start {
                    directory,
                    configured,
                    saved,
                } => {
                    let name = configured.stream.name;
                    self.pending.push_back(status(&name, StreamStatus::Started));
                    let start = saved.as_ref().map(Position::from_state).transpose();
                    match start
                        .and_then(|start| StreamReader::open(&directory, &name, start.unwrap_or_default()))
                    {
                        Ok(reader) => self.phase = Phase::Reading(reader),
                        Err(failure) => self.end(&name, Err(failure)),
                    }
                }
                Phase::Reading(mut reader) => match reader.page(&mut self.pending) {
                    Ok(false) => self.phase = Phase::Reading(reader),
                    Ok(true) => self.end(&reader.stream, Ok(())),
                    Err(failure) => self.end(&reader.stream, Err(failure)),
                },
            }
        }
    }
}

fn status(stream: &str, status: StreamStatus) -> SourceEvent {
    SourceEvent::Status {
        stream: stream.to_string(),
        status,
    }
}

fn config_failure(message: String, internal: String) -> Failure {
    Failure {
        class: FailureClass::Config,
        message,
        internal,
    }
}

/// Where a read is in a file: the byte offset after the last line passed on, and its number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Position {
    offset: u64,
    line: u64,
}

impl Position {
    fn from_state(state: &Value) -> Result<Self, Failure> {
        let field = |name: &str| state.get(name).and_then(Value::as_u64);
        match (field("offset"), field("line")) {
            (Some(offset), Some(line)) => Ok(Self { offset, line }),
            _ => Err(config_failure(
                format!("The saved state {state} is not a position in the file (it should be {{\"offset\": N, \"line\": N}}). Reset this stream's state and read again."),
                format!("unusable state {state}"),
            )),
        }
    }

    fn state(self) -> Value {
        json!({"offset": self.offset, "line": self.line})
    }
}

/// One stream's file being read.
struct StreamReader {
    stream: String,
    path: PathBuf,
    file: BufReader<std::fs::File>,
    at: Position,
    /// The position of the last checkpoint passed on.
    checkpointed: Option<Position>,
    line: Vec<u8>,
}

impl StreamReader {
    fn open(directory: &Path, stream: &str, start: Position) -> Result<Self, Failure> {
        let path = stream_file(directory, stream);
        let unreadable = |e: std::io::Error| {
            config_failure(
                format!("The file {} cannot be read: {e}. Run discover again and select streams from its catalog.", path.display()),
                e.to_string(),
            )
        };
        if !is_stream_name(stream) {
            return Err(config_failure(
                format!("`{stream}` is not a stream of this connector (a stream is a file name of letters, digits, _, - and .). Run discover again and select streams from its catalog."),
                format!("bad stream name {stream}"),
            ));
        }
        let mut file = std::fs::File::open(&path).map_err(unreadable)?;
        let length = file.metadata().map_err(unreadable)?.len();
        if start.offset > length {
            return Err(config_failure(
                format!(
                    "The saved state of {stream} is at byte {} but {} holds {length} bytes: the file was truncated or replaced. Reset this stream's state and read again.",
                    start.offset,
                    path.display()
                ),
                format!("offset {} past the end ({length})", start.offset),
            ));
        }
        file.seek(SeekFrom::Start(start.offset)).map_err(unreadable)?;
        Ok(Self {
            stream: stream.to_string(),
            path,
            file: BufReader::new(file),
            at: start,
            checkpointed: None,
            line: Vec::new(),
        })
    }

    /// The next page of complete lines and the checkpoint after it; whether the file ended.
    fn page(&mut self, events: &mut std::collections::VecDeque<SourceEvent>) -> Result<bool, Failure> {
        let mut page = Vec::new();
        while page.len() < PAGE_LINES {
            self.line.clear();
            let read = self.file.read_until(b'\n', &mut self.line).map_err(|e| {
                config_failure(
                    format!(
                        "The file {} could not be read after line {}: {e}.",
                        self.path.display(),
                        self.at.line
                    ),
                    e.to_string(),
                )
            })?;
            if read == 0 || !self.line.ends_with(b"\n") {
                // The end, or a last line still being written: left for the next read.
                self.pass_on(page, events);
                return Ok(true);
            }
            let number = self.at.line + 1;
            match self.record(&self.line, number) {
                Ok(record) => {
                    page.extend(record);
                    self.at = Position {
                        offset: self.at.offset + read as u64,
                        line: number,
                    };
                }
                Err(failure) => {
                    self.pass_on(page, events);
                    return Err(failure);
                }
            }
        }
        self.pass_on(page, events);
        Ok(false)
    }

    /// A line's record (`None` for a blank line), or why it is not one.
    fn record(&self, line: &[u8], number: u64) -> Result<Option<Box<RawValue>>, Failure> {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let bad = |why: String| {
            config_failure(
                format!(
                    "Line {number} of {} is not a JSON object ({why}); the lines before it were read. Fix or remove the line and read again: the read continues after the last STATE.",
                    self.path.display()
                ),
                format!("{} line {number}: {why}", self.stream),
            )
        };
        let text = std::str::from_utf8(text)
            .map_err(|e| bad(format!("not UTF-8 at byte {}", e.valid_up_to() + 1)))?;
        let raw: Box<RawValue> = serde_json::from_str(text.trim()).map_err(|e| bad(e.to_string()))?;
        if !raw.get().starts_with('{') {
            return Err(bad("a JSON value that is not an object".into()));
        }
        Ok(Some(raw))
    }

    /// The page's records and the checkpoint after them (a checkpoint even for no records, so
    /// every stream read has a state).
    fn pass_on(&mut self, page: Vec<Box<RawValue>>, events: &mut std::collections::VecDeque<SourceEvent>) {
        if !page.is_empty() {
            events.push_back(SourceEvent::Records(RawRecords::new(self.stream.clone(), page)));
        }
        if self.checkpointed == Some(self.at) {
            return;
        }
        self.checkpointed = Some(self.at);
        events.push_back(SourceEvent::Checkpoint(Checkpoint {
            stream: self.stream.clone(),
            state: self.at.state(),
        }));
    }
}

#[async_trait]
impl Source for JsonlSource {
    async fn discover(&self) -> Result<Catalog, Failure> {
        let entries = std::fs::read_dir(&self.directory).map_err(|e| {
            config_failure(
                format!("The directory {} cannot be read: {e}.", self.directory.display()),
                e.to_string(),
            )
        })?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let stem = name.strip_suffix(&format!(".{EXTENSION}"))?;
                (is_stream_name(stem) && entry.file_type().ok()?.is_file()).then(|| stem.to_string())
            })
            .collect();
        names.sort();
        let streams = names
            .into_iter()
            .map(|name| Stream {
                json_schema: json!({"type": "object", "description": format!("The lines of {name}.{EXTENSION}.")}),
                name,
                supported_sync_modes: vec![SyncMode::FullRefresh, SyncMode::Incremental],
                source_defined_cursor: true,
                default_cursor_field: Vec::new(),
                source_defined_primary_key: Vec::new(),
                namespace: None,
            })
            .collect();
        Ok(Catalog { streams })
    }

    fn read<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
        state: &'a SourceState,
    ) -> BoxStream<'a, SourceEvent> {
        stream::iter(&catalog.streams)
            .flat_map(move |configured| stream::iter(StreamRead::new(&self.directory, configured, state)))
            .boxed()
    }
}
