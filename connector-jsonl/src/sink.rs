//! [`JsonlSink`]: each record appended as one line to its stream's file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use connector_core::order::{Acks, Finished};
use connector_core::{
    ConfiguredCatalog, DestinationSyncMode, Failure, FailureClass, Outcome, PreparedWrite, Record,
    RecordOutcome, Sink, SinkEvent, SinkInput, Stopped,
};
use futures::stream::{self, BoxStream, StreamExt};

use crate::{is_stream_name, stream_file};

/// Appends records to the `.jsonl` files of a directory.
#[derive(Debug, Clone)]
pub struct JsonlSink {
    directory: PathBuf,
}

impl JsonlSink {
    /// A sink writing to the files of `directory`.
    pub fn new(directory: &Path) -> Self {
        Self {
            directory: directory.to_path_buf(),
        }
    }
}

fn config_failure(message: String) -> Failure {
    Failure {
        class: FailureClass::Config,
        internal: message.clone(),
        message,
    }
}

impl JsonlSink {
    /// The checks of [`Sink::prepare`].
    fn plan(&self, catalog: &ConfiguredCatalog) -> Result<JsonlWrite, Failure> {
        for configured in &catalog.streams {
            let name = &configured.stream.name;
            if !is_stream_name(name) {
                return Err(config_failure(format!(
                    "the stream `{name}` cannot be a file name: use letters, digits, _, - and . (not first)"
                )));
            }
            if configured.destination_sync_mode != DestinationSyncMode::Append {
                return Err(config_failure(format!(
                    "the stream `{name}` is not configured with destination_sync_mode append: this destination only appends"
                )));
            }
        }
        Ok(JsonlWrite {
            directory: self.directory.clone(),
            streams: catalog.streams.iter().map(|c| c.stream.name.clone()).collect(),
            stopped: Arc::new(Mutex::new(None)),
        })
    }
}

#[async_trait]
impl Sink for JsonlSink {
    /// Refuses a stream whose name is not a file name, and a mode other than `append`.
    async fn prepare<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
    ) -> Result<Box<dyn PreparedWrite + 'a>, Failure> {
        Ok(Box::new(self.plan(catalog)?))
    }

    fn write<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
        input: BoxStream<'a, SinkInput>,
    ) -> BoxStream<'a, SinkEvent> {
        match self.plan(catalog) {
            Ok(write) => write.events(input),
            Err(failure) => connector_core::sink::refuse_all(failure, input),
        }
    }
}

/// A prepared write: the catalog's streams, and the failure that stopped it, if one did.
struct JsonlWrite {
    directory: PathBuf,
    streams: HashSet<String>,
    stopped: Arc<Mutex<Option<Stopped>>>,
}

impl JsonlWrite {
    fn events<'a>(&self, input: BoxStream<'a, SinkInput>) -> BoxStream<'a, SinkEvent> {
        let writing = Writing {
            directory: self.directory.clone(),
            streams: self.streams.clone(),
            stopped: Arc::clone(&self.stopped),
            files: HashMap::new(),
            records: 0,
            checkpoints: 0,
            acks: Acks::default(),
        };
        stream::unfold((writing, input), |(mut writing, mut input)| async move {
            match input.next().await {
                Some(item) => {
                    let events = writing.take(item);
                    Some((stream::iter(events), (writing, input)))
                }
                None => {
                    writing.sync();
                    None
                }
            }
        })
        .flatten()
        .boxed()
    }
}

impl PreparedWrite for JsonlWrite {
    fn write<'a>(&'a self, input: BoxStream<'a, SinkInput>) -> BoxStream<'a, SinkEvent> {
        self.events(input)
    }

    fn stopped(&self) -> Vec<Stopped> {
        lock(&self.stopped).iter().cloned().collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An open file of a stream and the offset its next line starts at.
struct File {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    offset: u64,
}

/// Whether the file's last byte is a newline.
fn ends_with_newline(path: &Path) -> Result<bool, String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut last = [0u8; 1];
    std::fs::File::open(path)
        .and_then(|mut f| {
            f.seek(SeekFrom::End(-1))?;
            f.read_exact(&mut last)
        })
        .map_err(|e| format!("{} could not be read: {e}", path.display()))?;
    Ok(last[0] == b'\n')
}

/// The state of one write.
struct Writing {
    directory: PathBuf,
    streams: HashSet<String>,
    stopped: Arc<Mutex<Option<Stopped>>>,
    files: HashMap<String, File>,
    records: u64,
    checkpoints: u64,
    acks: Acks,
}

impl Writing {
    fn take(&mut self, item: SinkInput) -> Vec<SinkEvent> {
        let finished = match item {
            SinkInput::Record(record) => {
                self.records += 1;
                let sequence = self.records - 1;
                let outcome = self.append(&record);
                Finished::Outcome(RecordOutcome {
                    sequence,
                    record: outcome.is_rejected().then_some(record.data),
                    stream: record.stream,
                    outcome,
                })
            }
            SinkInput::Checkpoint(state) => {
                self.checkpoints += 1;
                if !self.sync() {
                    // Not durable: this checkpoint and every later one stay unacknowledged.
                    return Vec::new();
                }
                Finished::Checkpoint {
                    ordinal: self.checkpoints - 1,
                    before: self.records,
                    state,
                }
            }
        };
        self.acks.push(finished)
    }

    fn append(&mut self, record: &Record) -> Outcome {
        let failed = |class, message: String| Outcome::Failed {
            class,
            code: None,
            message,
            fields: BTreeMap::new(),
        };
        if let Some(stopped) = lock(&self.stopped).as_ref() {
            return failed(
                FailureClass::System,
                format!(
                    "not written: an earlier write failed ({})",
                    stopped.failure.message
                ),
            );
        }
        if !self.streams.contains(&record.stream) {
            return failed(
                FailureClass::Config,
                format!("the stream `{}` is not in the configured catalog", record.stream),
            );
        }
        let file = match self.file(&record.stream) {
            Ok(file) => file,
            Err(e) => return failed(FailureClass::System, e),
        };
        let mut line = match serde_json::to_vec(&record.data) {
            Ok(line) => line,
            Err(e) => {
                return failed(
                    FailureClass::Config,
                    format!("the record cannot be written as JSON: {e}"),
                )
            }
        };
        line.push(b'\n');
        match file.out.write_all(&line) {
            Ok(()) => {
                let id = file.offset.to_string();
                file.offset += line.len() as u64;
                Outcome::Created { id }
            }
            Err(e) => {
                let message = format!("{} could not be written: {e}", file.path.display());
                self.stop(message.clone());
                failed(FailureClass::System, message)
            }
        }
    }

    fn file(&mut self, stream: &str) -> Result<&mut File, String> {
        if !self.files.contains_key(stream) {
            let path = stream_file(&self.directory, stream);
            let opened = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|f| Ok((f.metadata()?.len(), f)));
            let (offset, out) =
                opened.map_err(|e| format!("{} could not be opened for appending: {e}", path.display()))?;
            if offset > 0 && !ends_with_newline(&path)? {
                return Err(format!(
                    "{} ends with an incomplete line (no newline at its end): complete or remove that line, then write again",
                    path.display()
                ));
            }
            let out = std::io::BufWriter::new(out);
            self.files.insert(stream.to_string(), File { path, out, offset });
        }
        self.files
            .get_mut(stream)
            .ok_or_else(|| format!("the file of `{stream}` is not open"))
    }

    /// Flushes every file to disk; false (and the write stopped) when one fails.
    fn sync(&mut self) -> bool {
        if lock(&self.stopped).is_some() {
            return false;
        }
        let mut failure = None;
        for file in self.files.values_mut() {
            let synced = file.out.flush().and_then(|()| file.out.get_ref().sync_data());
            if let Err(e) = synced {
                failure.get_or_insert_with(|| {
                    format!("{} could not be flushed to disk: {e}", file.path.display())
                });
            }
        }
        match failure {
            Some(message) => {
                self.stop(message);
                false
            }
            None => true,
        }
    }

    fn stop(&self, message: String) {
        lock(&self.stopped).get_or_insert_with(|| Stopped {
            stream: None,
            failure: Failure {
                class: FailureClass::System,
                message: format!("{message}."),
                internal: message,
            },
        });
    }
}
