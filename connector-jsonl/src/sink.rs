//! [`JsonlSink`]: appends each record to `<stream>.jsonl` as one line of compact JSON.
//!
//! * Records are gathered in memory (at most [`BATCH_BYTES`] or [`BATCH_RECORDS`]), then
//!   written and `fsync`ed on a thread of their own; only then do their outcomes come, in
//!   input order: `created` with the byte offset where the record's line starts as its id.
//! * Every checkpoint writes and syncs what came before it, then is acknowledged: an
//!   acknowledged checkpoint covers records that are on disk.
//! * A record of a stream not in the catalog, or whose data is not a JSON object (the source
//!   could not read it back), fails alone.
//! * A file that cannot be opened, written or synced stops the write: its records in that
//!   batch are `unknown` (some may be in the file), every later record `failed` (of any
//!   stream: appending what the host sends again would make it twice), and no checkpoint is
//!   acknowledged after it, so the host sends them again. The other streams' records of that
//!   same batch are written and synced; a resend appends them again.
//! * A file whose last line has no `\n` (a write cut short) gets one before the first record
//!   appended, with a warning: the cut line stays a bad line the source reports, and the new
//!   records are whole lines.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use connector_core::order::{number, Numbered};
use connector_core::{
    ConfiguredCatalog, DestinationSyncMode, Failure, FailureClass, LogLevel, Outcome, PreparedWrite, Record,
    RecordOutcome, Sink, SinkEvent, SinkInput, Stopped,
};
use futures::stream::BoxStream;
use futures::StreamExt;
use serde_json::Value;

use crate::credential::JsonlCredential;
use crate::directory::{config_failure, read_dir, stream_path};

/// Bytes of encoded records gathered before they are written.
pub const BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Records gathered before they are written.
pub const BATCH_RECORDS: usize = 10_000;

/// The sink appending to a directory's `.jsonl` files.
#[derive(Debug, Clone)]
pub struct JsonlSink {
    directory: PathBuf,
}

/// The streams a write stopped (a file that could not be written), shared with its events.
#[derive(Debug, Clone, Default)]
struct StopList(Arc<Mutex<Vec<Stopped>>>);

impl StopList {
    fn get(&self) -> Vec<Stopped> {
        let mut stopped = self.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        stopped.sort_by(|a, b| a.stream.cmp(&b.stream));
        stopped
    }

    fn push(&self, stream: &str, failure: Failure) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Stopped {
                stream: Some(stream.to_string()),
                failure,
            });
    }
}

impl JsonlSink {
    /// The sink of `credential`'s directory.
    pub fn new(credential: &JsonlCredential) -> Self {
        Self {
            directory: credential.directory.clone(),
        }
    }

    /// Checks that `catalog` can be written before any record: the directory exists, every
    /// stream is a file name and asks for `append` (the only mode: records are added).
    fn check(&self, catalog: &ConfiguredCatalog) -> Result<(), Failure> {
        read_dir(&self.directory).map_err(|(_, failure)| failure)?;
        for configured in &catalog.streams {
            let name = &configured.stream.name;
            stream_path(&self.directory, name)?;
            if configured.destination_sync_mode != DestinationSyncMode::Append {
                let mode = serde_json::to_value(configured.destination_sync_mode)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                return Err(config_failure(format!(
                    "stream `{name}` asks for destination_sync_mode `{mode}`, but this connector only appends: configure it with `append`"
                )));
            }
        }
        Ok(())
    }

    fn prepared<'a>(&'a self, catalog: &'a ConfiguredCatalog) -> Result<JsonlWrite<'a>, Failure> {
        self.check(catalog)?;
        Ok(JsonlWrite {
            directory: &self.directory,
            catalog,
            stopped: StopList::default(),
        })
    }
}

#[async_trait]
impl Sink for JsonlSink {
    /// A config failure when the directory is missing, a stream name is not a file name or a
    /// stream asks for another mode than `append`.
    async fn prepare<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
    ) -> Result<Box<dyn PreparedWrite + 'a>, Failure> {
        Ok(Box::new(self.prepared(catalog)?))
    }
}

/// A prepared write of a [`JsonlSink`]; [`PreparedWrite::stopped`] names the streams whose
/// file could not be written.
struct JsonlWrite<'a> {
    directory: &'a Path,
    catalog: &'a ConfiguredCatalog,
    stopped: StopList,
}

impl<'a> JsonlWrite<'a> {
    fn run<'i>(&self, input: BoxStream<'i, SinkInput>) -> WriteRun<'i>
    where
        'a: 'i,
    {
        WriteRun {
            input: number(input).boxed(),
            catalog: self.catalog,
            directory: self.directory.to_path_buf(),
            files: None,
            batch: BTreeMap::new(),
            batch_bytes: 0,
            pending: Vec::new(),
            out: VecDeque::new(),
            stopped: self.stopped.clone(),
            failed_streams: HashMap::new(),
            ended: false,
        }
    }
}

impl PreparedWrite for JsonlWrite<'_> {
    fn write<'a>(&'a self, input: BoxStream<'a, SinkInput>) -> BoxStream<'a, SinkEvent> {
        events(self.run(input))
    }

    fn stopped(&self) -> Vec<Stopped> {
        self.stopped.get()
    }
}

/// The events of a write.
fn events(run: WriteRun<'_>) -> BoxStream<'_, SinkEvent> {
    futures::stream::unfold(run, |mut run| async move {
        let event = run.next().await;
        event.map(|e| (e, run))
    })
    .boxed()
}

/// A record waiting for its outcome, in input order.
enum Pending {
    /// Its line is in the batch of `stream`, at byte `at`.
    Line { stream: String, sequence: u64, at: u64 },
    /// Its outcome is known.
    Done(RecordOutcome),
}

/// The state of one write.
struct WriteRun<'a> {
    /// The input, numbered ([`Numbered`]).
    input: BoxStream<'a, Numbered>,
    catalog: &'a ConfiguredCatalog,
    directory: PathBuf,
    /// The file thread, started at the first batch.
    files: Option<FileThread>,
    /// Encoded lines per stream, not written yet.
    batch: BTreeMap<String, Vec<u8>>,
    batch_bytes: usize,
    pending: Vec<Pending>,
    out: VecDeque<SinkEvent>,
    stopped: StopList,
    /// Streams whose file failed, with what happened.
    failed_streams: HashMap<String, String>,
    ended: bool,
}

impl WriteRun<'_> {
    async fn next(&mut self) -> Option<SinkEvent> {
        loop {
            if let Some(event) = self.out.pop_front() {
                return Some(event);
            }
            if self.ended {
                return None;
            }
            match self.input.next().await {
                None => {
                    self.commit().await;
                    self.ended = true;
                }
                Some(Numbered::Record { sequence, record }) => {
                    self.record(sequence, record);
                    if self.batch_bytes >= BATCH_BYTES || self.pending.len() >= BATCH_RECORDS {
                        self.commit().await;
                    }
                }
                Some(Numbered::Checkpoint { state, .. }) => {
                    self.commit().await;
                    if self.failed_streams.is_empty() {
                        self.out.push_back(SinkEvent::CheckpointAck(state));
                    }
                }
            }
        }
    }

    fn record(&mut self, sequence: u64, record: Record) {
        let failed = |class, message: String| {
            Pending::Done(RecordOutcome {
                stream: record.stream.clone(),
                sequence,
                outcome: Outcome::Failed {
                    class,
                    code: None,
                    message,
                    fields: BTreeMap::new(),
                },
                record: Some(record.data.clone()),
            })
        };
        let pending = if self.catalog.get(&record.stream).is_none() {
            failed(
                FailureClass::Config,
                format!(
                    "stream `{}` is not in the catalog: add it to the catalog to write it",
                    record.stream
                ),
            )
        } else if let Some(why) = self.failed_streams.get(&record.stream) {
            failed(
                FailureClass::System,
                format!(
                    "not written: writing {}.jsonl failed earlier ({why})",
                    record.stream
                ),
            )
        } else if let Some((stream, why)) = self.failed_streams.iter().next() {
            // No checkpoint is acknowledged any more, so the host sends this record again:
            // appending it now would make it twice.
            failed(
                FailureClass::System,
                format!("not written: the write stopped when writing {stream}.jsonl failed ({why})"),
            )
        } else if !record.data.is_object() {
            failed(
                FailureClass::Config,
                format!(
                    "the record's data is {}, not a JSON object: only objects are lines the source reads back",
                    kind(&record.data)
                ),
            )
        } else {
            let lines = self.batch.entry(record.stream.clone()).or_default();
            let at = lines.len() as u64;
            let before = lines.len();
            // Writing a `Value` into a `Vec` cannot fail; compact JSON has no raw newline.
            let _ = serde_json::to_writer(&mut *lines, &record.data);
            lines.push(b'\n');
            self.batch_bytes += lines.len() - before;
            Pending::Line {
                stream: record.stream,
                sequence,
                at,
            }
        };
        self.pending.push(pending);
    }

    /// Writes and syncs the batch, then passes on the outcomes of every pending record.
    async fn commit(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        let mut written = HashMap::new();
        let mut unwritten = HashMap::new();
        if !batch.is_empty() {
            let writes: Vec<Write1> = batch
                .into_iter()
                .map(|(stream, lines)| Write1 {
                    path: self
                        .directory
                        .join(format!("{stream}.{}", crate::directory::EXTENSION)),
                    stream,
                    lines,
                })
                .collect();
            let reply = match &mut self.files {
                Some(files) => files.write(writes).await,
                None => match FileThread::start(&self.directory) {
                    Ok(files) => self.files.insert(files).write(writes).await,
                    Err(e) => Err((e, writes)),
                },
            };
            match reply {
                Ok(reply) => {
                    for warning in reply.warnings {
                        self.out.push_back(SinkEvent::Log {
                            level: LogLevel::Warn,
                            message: warning,
                        });
                    }
                    written = reply.streams;
                    unwritten = reply.unwritten;
                }
                Err((e, writes)) => {
                    for write in writes {
                        written.insert(write.stream.clone(), Err(Written::unknown(e.clone())));
                        unwritten.insert(write.stream, write.lines);
                    }
                }
            }
        }
        for (stream, result) in &written {
            if let Err(failure) = result {
                self.failed_streams
                    .insert(stream.clone(), failure.message.clone());
                self.stopped.push(
                    stream,
                    Failure {
                        class: FailureClass::System,
                        message: format!("{}.jsonl could not be written: {}.", stream, failure.message),
                        internal: failure.message.clone(),
                    },
                );
            }
        }
        for pending in std::mem::take(&mut self.pending) {
            let outcome = match pending {
                Pending::Done(outcome) => outcome,
                Pending::Line { stream, sequence, at } => {
                    let outcome = match written.get(&stream) {
                        Some(Ok(start)) => Outcome::Created {
                            id: (start + at).to_string(),
                        },
                        Some(Err(Written { maybe_written: true, message })) => Outcome::Unknown {
                            message: format!("{stream}.jsonl could not be written and may hold part of this batch: {message}"),
                        },
                        Some(Err(Written { message, .. })) => Outcome::Failed {
                            class: FailureClass::System,
                            code: None,
                            message: format!("not written: {message}"),
                            fields: BTreeMap::new(),
                        },
                        None => Outcome::Unknown {
                            message: format!("{stream}.jsonl: the file thread gave no answer"),
                        },
                    };
                    let record = outcome.is_rejected().then(|| {
                        unwritten
                            .get(&stream)
                            .and_then(|lines| line_at(lines, at))
                            .unwrap_or(Value::Null)
                    });
                    RecordOutcome {
                        stream,
                        sequence,
                        outcome,
                        record,
                    }
                }
            };
            self.out.push_back(SinkEvent::Outcome(outcome));
        }
    }
}

/// The record whose line starts at byte `at` of `lines`.
fn line_at(lines: &[u8], at: u64) -> Option<Value> {
    let rest = lines.get(usize::try_from(at).ok()?..)?;
    let end = memchr::memchr(b'\n', rest)?;
    serde_json::from_slice(&rest[..end]).ok()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The lines of one stream to append.
struct Write1 {
    stream: String,
    path: PathBuf,
    lines: Vec<u8>,
}

/// Why a stream's lines were not (all) written.
#[derive(Debug, Clone)]
struct Written {
    /// Whether some of the lines may be in the file.
    maybe_written: bool,
    message: String,
}

impl Written {
    fn unknown(message: String) -> Self {
        Self {
            maybe_written: true,
            message,
        }
    }
}

/// The answer of the file thread to one batch.
struct Reply {
    /// Per stream: the byte offset where its lines start, or why they were not written.
    streams: HashMap<String, Result<u64, Written>>,
    /// The lines of the streams not written, given back (their records go with the outcomes).
    unwritten: HashMap<String, Vec<u8>>,
    warnings: Vec<String>,
}

type Request = (Vec<Write1>, tokio::sync::oneshot::Sender<Reply>);

/// The thread owning the open files: writes and syncs a batch at a time.
struct FileThread {
    requests: std::sync::mpsc::Sender<Request>,
}

impl FileThread {
    fn start(directory: &Path) -> Result<Self, String> {
        let (requests, rx) = std::sync::mpsc::channel::<Request>();
        let directory = directory.to_path_buf();
        std::thread::Builder::new()
            .name("jsonl-write".into())
            .spawn(move || {
                let mut files = Files {
                    directory,
                    open: HashMap::new(),
                };
                while let Ok((writes, reply)) = rx.recv() {
                    let _ = reply.send(files.write(writes));
                }
            })
            .map_err(|e| format!("no thread for writing files ({e})"))?;
        Ok(Self { requests })
    }

    /// The thread's reply; when it stopped, why, with the writes it did not take.
    async fn write(&mut self, writes: Vec<Write1>) -> Result<Reply, (String, Vec<Write1>)> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let stopped = "the file thread stopped".to_string();
        if let Err(std::sync::mpsc::SendError((writes, _))) = self.requests.send((writes, tx)) {
            return Err((stopped, writes));
        }
        rx.await.map_err(|_| (stopped, Vec::new()))
    }
}

/// An open file and its length.
struct OpenFile {
    file: std::fs::File,
    len: u64,
}

struct Files {
    directory: PathBuf,
    open: HashMap<String, OpenFile>,
}

impl Files {
    fn write(&mut self, writes: Vec<Write1>) -> Reply {
        let mut reply = Reply {
            streams: HashMap::new(),
            unwritten: HashMap::new(),
            warnings: Vec::new(),
        };
        let mut created = false;
        let mut synced = Vec::new();
        for write in writes {
            let result = self.append(&write, &mut created, &mut reply.warnings);
            if result.is_ok() {
                synced.push(write.stream.clone());
            } else {
                self.open.remove(&write.stream);
            }
            reply.streams.insert(write.stream, result);
        }
        for stream in synced {
            let Some(open) = self.open.get(&stream) else {
                continue;
            };
            if let Err(e) = open.file.sync_data() {
                let message = format!("syncing it to disk failed: {e}");
                reply
                    .streams
                    .insert(stream.clone(), Err(Written::unknown(message)));
                self.open.remove(&stream);
            }
        }
        if created {
            // A new file's name is durable once its directory is synced.
            if let Err(e) = std::fs::File::open(&self.directory).and_then(|d| d.sync_all()) {
                for result in reply.streams.values_mut() {
                    if result.is_ok() {
                        *result = Err(Written::unknown(format!("syncing the directory failed: {e}")));
                    }
                }
            }
        }
        reply
    }

    /// Appends one stream's lines; the offset where they start.
    fn append(
        &mut self,
        write: &Write1,
        created: &mut bool,
        warnings: &mut Vec<String>,
    ) -> Result<u64, Written> {
        if !self.open.contains_key(&write.stream) {
            let open = open_for_append(&write.path, created, warnings)?;
            self.open.insert(write.stream.clone(), open);
        }
        let Some(open) = self.open.get_mut(&write.stream) else {
            return Err(Written::unknown("the file was not open".into()));
        };
        let start = open.len;
        open.file
            .write_all(&write.lines)
            .map_err(|e| Written::unknown(format!("writing failed: {e}")))?;
        open.len += write.lines.len() as u64;
        Ok(start)
    }
}

/// Opens (or creates) a stream's file for appending, ending a cut-short last line first.
fn open_for_append(path: &Path, created: &mut bool, warnings: &mut Vec<String>) -> Result<OpenFile, Written> {
    let failed = |e: std::io::Error| Written {
        maybe_written: false,
        message: format!("{} cannot be opened for appending: {e}", path.display()),
    };
    let existed = path.exists();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(failed)?;
    *created |= !existed;
    let mut len = file.metadata().map_err(failed)?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(len - 1))
            .and_then(|_| file.read_exact(&mut last))
            .map_err(failed)?;
        if last[0] != b'\n' {
            file.write_all(b"\n")
                .map_err(|e| Written::unknown(format!("ending its last line failed: {e}")))?;
            warnings.push(format!(
                "{}: its last line (before byte {len}) had no newline (a write cut short?); a newline was added so the records appended are whole lines, and that line is now a bad line the source reports",
                path.display()
            ));
            len += 1;
        }
    }
    Ok(OpenFile { file, len })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn catalog(streams: &[&str]) -> ConfiguredCatalog {
        let streams: Vec<Value> = streams
            .iter()
            .map(|name| json!({"stream": {"name": name, "json_schema": {}}, "sync_mode": "incremental", "destination_sync_mode": "append"}))
            .collect();
        serde_json::from_value(json!({ "streams": streams })).unwrap()
    }

    /// More records than a batch holds, two streams interleaved, no checkpoint: every record
    /// gets its outcome in input order, each id the byte offset of its line, on any executor
    /// (no Tokio runtime here).
    #[test]
    fn outcomes_come_in_input_order_across_batches_with_each_lines_offset() {
        let dir = tempfile::tempdir().unwrap();
        let sink = JsonlSink::new(&JsonlCredential::new("t", dir.path()));
        let catalog = catalog(&["a", "b"]);
        let n = BATCH_RECORDS * 2 + 7;
        let input: Vec<SinkInput> = (0..n)
            .map(|i| {
                SinkInput::Record(Record {
                    stream: if i % 3 == 0 { "b" } else { "a" }.into(),
                    data: json!({ "i": i }),
                })
            })
            .collect();
        let events: Vec<SinkEvent> = futures::executor::block_on(
            sink.write(&catalog, futures::stream::iter(input).boxed())
                .collect(),
        );
        assert_eq!(events.len(), n);
        let mut offsets: HashMap<&str, u64> = HashMap::new();
        for (i, event) in events.iter().enumerate() {
            let stream = if i % 3 == 0 { "b" } else { "a" };
            let at = offsets.entry(stream).or_default();
            let expected = SinkEvent::Outcome(RecordOutcome {
                stream: stream.into(),
                sequence: i as u64,
                outcome: Outcome::Created { id: at.to_string() },
                record: None,
            });
            assert_eq!(event, &expected);
            *at += format!("{{\"i\":{i}}}\n").len() as u64;
        }
        let a = std::fs::read_to_string(dir.path().join("a.jsonl")).unwrap();
        let expected: String = (0..n)
            .filter(|i| i % 3 != 0)
            .map(|i| format!("{{\"i\":{i}}}\n"))
            .collect();
        assert_eq!(a, expected);
    }

    #[test]
    fn a_catalog_that_cannot_be_written_fails_every_record_through_the_one_call_write() {
        let dir = tempfile::tempdir().unwrap();
        let sink = JsonlSink::new(&JsonlCredential::new("t", dir.path()));
        let catalog = catalog(&["a/b"]);
        let input = vec![
            SinkInput::Record(Record {
                stream: "a/b".into(),
                data: json!({}),
            }),
            SinkInput::Checkpoint(json!({"n": 1})),
        ];
        let events: Vec<SinkEvent> = futures::executor::block_on(
            sink.write(&catalog, futures::stream::iter(input).boxed())
                .collect(),
        );
        let message = format!(
            "The stream name `a/b` cannot be a file name in {}: use a name without `/`, `\\` or NUL (a stream is the file <name>.jsonl).",
            dir.path().display()
        );
        assert_eq!(
            events,
            [
                SinkEvent::Log {
                    level: LogLevel::Error,
                    message: format!("nothing is written: {message}"),
                },
                SinkEvent::Outcome(RecordOutcome {
                    stream: "a/b".into(),
                    sequence: 0,
                    outcome: Outcome::Failed {
                        class: FailureClass::Config,
                        code: None,
                        message,
                        fields: BTreeMap::new(),
                    },
                    record: Some(json!({})),
                }),
                SinkEvent::CheckpointAck(json!({"n": 1})),
            ]
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no file made");
    }

    #[test]
    fn the_line_of_an_unwritten_record_is_found_by_its_offset() {
        let lines = b"{\"a\":1}\n{\"b\":[2]}\n";
        assert_eq!(line_at(lines, 0), Some(json!({"a": 1})));
        assert_eq!(line_at(lines, 8), Some(json!({"b": [2]})));
        assert_eq!(line_at(lines, 99), None);
    }
}
