//! `write --config C --catalog K [--reject-file R]`: Airbyte messages on stdin, written by the
//! connector's sink.
//!
//! * `RECORD` and `STATE` lines are read (as bytes: a line that is not UTF-8 is one bad line,
//!   not the end of the input); other message types are ignored. A line that is not a message
//!   is reported (`LOG ERROR` naming its line number, and the reject file) and every later line
//!   is still read; the run then ends with a `TRACE` error saying how many records were read and
//!   what became of them, and exit code 1.
//! * A fatal refusal (a rejected key, an unknown account, a module the key lacks) stops the
//!   write: no `STATE` after the first record it touched is echoed (the sink withholds it), and the
//!   run ends with a `TRACE` `config_error` and exit code 1, so the host sends those records
//!   again once the credential is fixed.
//! * Each input `STATE` is echoed once every record before it has an outcome, and only when
//!   none of them (of its stream, or of any stream for a state that is not per stream) must be
//!   sent again (failed `transient` or `system`, `unknown`, `not_sent`); the run then ends with
//!   a `TRACE` error counting those records by class and saying what the host does, and exit
//!   code 1.
//! * `--outcomes-file`: one JSON line per input record (its input line, stream, outcome, Flowlu
//!   id, message).
//! * Failed and unknown records go to the reject file (JSON lines) with their reasons, and are
//!   logged; the run ends with a `LOG` count summary per stream.
//! * On SIGTERM or SIGINT no further line is read and the sink is told
//!   (`PreparedWrite::interrupt`): no new request; the records already read get their outcomes
//!   (`not_sent` for those not sent) and the STATEs they allow, then the run ends with a
//!   `TRACE` error saying how far it got, the same on stderr, and the signal's exit code (a
//!   second signal exits at once).
//! * A config, catalog or reject-file problem is a `TRACE` config error and exit code 1 before
//!   anything is read. The config's secrets are redacted from every line written.

use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use connector_core::{
    Failure, FailureClass, LogLevel, Outcome, Record, RecordOutcome, Sink, SinkEvent, SinkInput, Stopped,
    WriteSummary,
};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

use crate::airbyte::{now_ms, Message};
use crate::config::load_config;
use crate::connector::Connector;
use crate::env::{Env, Stdin};
use crate::exit::{EXIT_FAILED, EXIT_OK};
use crate::inputs::{config_error, load_catalog};
use crate::output::{scrub, ProtocolOut};
use crate::progress::Progress;
use crate::signal::Interrupt;

/// The files a write reports to besides stdout.
pub(crate) struct Files<'p> {
    /// `--reject-file`: failed, unknown and not sent records, and unreadable lines.
    pub(crate) rejects: Option<&'p Path>,
    /// `--outcomes-file`: every record's outcome.
    pub(crate) outcomes: Option<&'p Path>,
}

/// Runs `write`; returns the exit code.
#[allow(clippy::too_many_arguments)] // the command's inputs and outputs, each used once
pub(crate) async fn run<C: Connector>(
    config: &Path,
    catalog: &Path,
    files: Files<'_>,
    env: &Env,
    stdin: Stdin,
    output: &mut ProtocolOut<'_>,
    progress: &mut Progress,
    interrupt: Interrupt,
) -> i32 {
    let inputs = load_config::<C>(config, env).and_then(|loaded| {
        output.redact(loaded.secrets.clone());
        let catalog = load_catalog(catalog, C::STREAM_EXAMPLE)?;
        let sink = C::sink(&loaded.credential)?;
        Ok((loaded.secrets, catalog, sink))
    });
    let (secrets, catalog, sink) = match inputs {
        Ok(inputs) => inputs,
        Err(failure) => return output.fail(&failure),
    };
    let prepared = sink.prepare(&catalog).await.map_err(|e| {
        config_error(
            format!("The catalog cannot be written: {}.", e.message),
            e.internal,
        )
    });
    let prepared = prepared.and_then(|write| {
        let rejects = RejectFile::open(files.rejects, secrets.clone(), "--reject-file")?;
        let outcomes = RejectFile::open(files.outcomes, secrets, "--outcomes-file")?;
        Ok((write, rejects, outcomes))
    });
    let (write, rejects, outcomes) = match prepared {
        Ok(prepared) => prepared,
        Err(failure) => return output.fail(&failure),
    };
    let input = Arc::new(Mutex::new(InputLog::default()));
    let lines = read_input(stdin, Arc::clone(&input)).take_until(interrupt.clone().wait());
    let mut events = write.write(lines.boxed());
    let mut run = WriteRun {
        program: C::NAME,
        output,
        progress,
        rejects,
        outcomes,
        summary: WriteSummary::default(),
        input,
        unreadable: Vec::new(),
        acked: 0,
        resend: std::collections::BTreeMap::new(),
    };
    // On a signal the sink stops sending at once; the events still end with every record's
    // outcome (`not sent` for those it did not send).
    let mut signalled = Box::pin(interrupt.clone().wait());
    let mut told = false;
    loop {
        let event = if told {
            events.next().await
        } else {
            tokio::select! {
                event = events.next() => event,
                signal = &mut signalled => {
                    told = true;
                    write.interrupt(&format!(
                        "the write was interrupted by {} before this record was sent",
                        signal.name()
                    ));
                    continue;
                }
            }
        };
        let Some(event) = event else { break };
        run.handle(event);
        run.drain_problems();
    }
    drop(events);
    run.drain_problems();
    run.finish(&write.stopped(), &interrupt)
}

/// What the input reader shares with the run: lines that could not be read, and how far it
/// got.
#[derive(Default)]
struct InputLog {
    problems: Vec<LineProblem>,
    /// Records read so far, and the number of the last line read.
    records: u64,
    line: usize,
    /// The input line of each record read and not yet given its outcome, by sequence.
    record_lines: std::collections::HashMap<u64, usize>,
}

/// An input line that is not a message.
struct LineProblem {
    line: usize,
    message: String,
    input: String,
}

fn lock(log: &Mutex<InputLog>) -> std::sync::MutexGuard<'_, InputLog> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The sink's input: `RECORD` and `STATE` lines of `stdin`, in order.
fn read_input(stdin: Stdin, log: Arc<Mutex<InputLog>>) -> impl futures::Stream<Item = SinkInput> {
    let reader = InputReader {
        stdin,
        buffer: Vec::new(),
        line: 0,
        log,
    };
    futures::stream::unfold(reader, |mut reader| async move {
        let next = reader.next().await;
        next.map(|item| (item, reader))
    })
}

struct InputReader {
    stdin: Stdin,
    buffer: Vec<u8>,
    line: usize,
    /// Where the records read are counted (the sink numbers them the same way:
    /// `connector_core::order::number`).
    log: Arc<Mutex<InputLog>>,
}

impl InputReader {
    /// The next record or checkpoint; `None` at the end of the input (or when it broke).
    async fn next(&mut self) -> Option<SinkInput> {
        loop {
            self.line += 1;
            self.buffer.clear();
            match self.stdin.read_until(b'\n', &mut self.buffer).await {
                Ok(0) => return None,
                Ok(_) => lock(&self.log).line = self.line,
                Err(e) => {
                    self.problem(
                        format!("standard input could not be read after this line: {e}"),
                        String::new(),
                    );
                    return None;
                }
            }
            let bytes = trim_line_end(&self.buffer);
            let text = match std::str::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => {
                    let message = format!(
                        "line {} is not UTF-8 text (invalid byte at column {})",
                        self.line,
                        e.valid_up_to() + 1
                    );
                    let input = String::from_utf8_lossy(bytes).into_owned();
                    self.problem(message, input);
                    continue;
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            match Message::parse_line(text, self.line) {
                Ok(Message::Record { record }) => {
                    {
                        let mut log = lock(&self.log);
                        let sequence = log.records;
                        log.records += 1;
                        log.record_lines.insert(sequence, self.line);
                    }
                    return Some(SinkInput::Record(Record {
                        stream: record.stream,
                        data: record.data,
                    }));
                }
                Ok(Message::State { state }) => return Some(SinkInput::Checkpoint(state)),
                Ok(_) => continue,
                Err(e) => self.problem(e.to_string(), text.to_string()),
            }
        }
    }

    fn problem(&self, message: String, input: String) {
        lock(&self.log).problems.push(LineProblem {
            line: self.line,
            message,
            input,
        });
    }
}

/// A line without its `\n` (or `\r\n`).
fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The reject file: one JSON line per failed or unknown record and per unreadable input line.
struct RejectFile {
    file: Option<std::io::BufWriter<std::fs::File>>,
    secrets: Vec<String>,
    error: Option<String>,
}

impl RejectFile {
    fn open(path: Option<&Path>, secrets: Vec<String>, flag: &str) -> Result<Self, Failure> {
        let file = path
            .map(|p| {
                std::fs::File::create(p).map_err(|e| {
                    config_error(
                        format!(
                            "The file {} could not be created: {e}. Check the path given with {flag}.",
                            p.display()
                        ),
                        e.to_string(),
                    )
                })
            })
            .transpose()?
            .map(std::io::BufWriter::new);
        Ok(Self {
            file,
            secrets,
            error: None,
        })
    }

    fn write(&mut self, line: &Value) {
        let Some(file) = &mut self.file else { return };
        let text = scrub(&line.to_string(), &self.secrets);
        if let Err(e) = writeln!(file, "{text}") {
            self.error.get_or_insert_with(|| e.to_string());
        }
    }

    /// Flushes; the first write error, if any.
    fn finish(&mut self) -> Option<String> {
        if let Some(file) = &mut self.file {
            if let Err(e) = file.flush() {
                self.error.get_or_insert_with(|| e.to_string());
            }
        }
        self.error.clone()
    }
}

/// The state of one `write` run.
struct WriteRun<'o, 'w> {
    /// The program's name, for stderr.
    program: &'static str,
    output: &'o mut ProtocolOut<'w>,
    progress: &'o mut Progress,
    rejects: RejectFile,
    /// `--outcomes-file`: one line per record.
    outcomes: RejectFile,
    summary: WriteSummary,
    input: Arc<Mutex<InputLog>>,
    /// Line numbers that could not be read.
    unreadable: Vec<usize>,
    /// STATEs echoed.
    acked: usize,
    /// Records the host must send again, by class (`transient`, `system`, `unknown`, `not
    /// sent`).
    resend: std::collections::BTreeMap<&'static str, u64>,
}

impl WriteRun<'_, '_> {
    fn handle(&mut self, event: SinkEvent) {
        match event {
            SinkEvent::Outcome(outcome) => self.outcome(outcome),
            SinkEvent::CheckpointAck(state) => {
                self.acked += 1;
                self.output.emit(&Message::State { state });
            }
            SinkEvent::Log { level, message } => self.log(level, message),
            SinkEvent::Wait(wait) => self.progress.wait(&wait),
        }
    }

    fn outcome(&mut self, mut outcome: RecordOutcome) {
        self.summary.add(&outcome);
        self.progress.outcome(&outcome);
        if let Some(class) = outcome.outcome.resend_class() {
            *self.resend.entry(class).or_default() += 1;
        }
        let line = lock(&self.input).record_lines.remove(&outcome.sequence);
        self.outcomes.write(&outcome_line(line, &outcome));
        let data = outcome.record.take();
        if !outcome.outcome.is_rejected() {
            return;
        }
        let mut line = serde_json::to_value(&outcome).unwrap_or_else(|_| json!({}));
        line["record"] = data.unwrap_or(Value::Null);
        self.rejects.write(&line);
        let detail = serde_json::to_string(&outcome.outcome).unwrap_or_default();
        self.log(
            LogLevel::Warn,
            format!("{} record {}: {detail}", outcome.stream, outcome.sequence),
        );
    }

    fn log(&mut self, level: LogLevel, message: String) {
        let message = scrub(&message, &self.rejects.secrets);
        self.output.emit(&Message::log(level, message));
    }

    fn drain_problems(&mut self) {
        let problems = std::mem::take(&mut lock(&self.input).problems);
        for problem in problems {
            self.unreadable.push(problem.line);
            self.rejects.write(&json!({
                "line": problem.line,
                "outcome": "unreadable",
                "message": problem.message,
                "input": problem.input,
            }));
            self.log(
                LogLevel::Error,
                format!("input line {} skipped: {}", problem.line, problem.message),
            );
        }
    }

    fn finish(mut self, stopped: &[Stopped], interrupt: &Interrupt) -> i32 {
        for line in self.summary.lines() {
            self.log(LogLevel::Info, format!("write summary: {line}"));
        }
        // First what became of the records, then why.
        let mut failures: Vec<Failure> = self.resend_failure().into_iter().collect();
        failures.extend(stopped.iter().map(stop_failure));
        if let Some(e) = self.rejects.finish() {
            failures.push(Failure {
                class: FailureClass::System,
                message: format!(
                    "The reject file could not be written ({e}); failed records are only in the log."
                ),
                internal: e,
            });
        }
        if let Some(e) = self.outcomes.finish() {
            failures.push(Failure {
                class: FailureClass::System,
                message: format!(
                    "The outcomes file could not be written ({e}); the outcomes are incomplete."
                ),
                internal: e,
            });
        }
        if !self.unreadable.is_empty() {
            failures.push(self.unreadable_failure());
        }

        let signal = interrupt.fired();
        if let Some(signal) = signal {
            let (records, line) = {
                let log = lock(&self.input);
                (log.records, log.line)
            };
            let message = format!(
                "interrupted by {} after reading {records} records (input line {line}); each has its outcome, and {} STATE(s) were echoed, the last covering every record before it: the host sends the rest again",
                signal.name(),
                self.acked
            );
            eprintln!("{}: write {message}", self.program);
            failures.push(Failure {
                class: FailureClass::Transient,
                message: format!("The write was {message}."),
                internal: format!("write {message}"),
            });
        }
        for failure in &failures {
            let failure = Failure {
                message: scrub(&failure.message, &self.rejects.secrets),
                internal: scrub(&failure.internal, &self.rejects.secrets),
                class: failure.class,
            };
            self.output.emit(&Message::error(&failure, None, now_ms()));
        }
        match (signal, failures.is_empty()) {
            (Some(signal), _) => signal.exit_code(),
            (None, true) => EXIT_OK,
            (None, false) => EXIT_FAILED,
        }
    }

    /// The records the host must send again, counted by class, and what to do; `None` when
    /// every record ended for good.
    fn resend_failure(&self) -> Option<Failure> {
        let total: u64 = self.resend.values().sum();
        if total == 0 {
            return None;
        }
        let count = |class: &str| self.resend.get(class).copied().unwrap_or(0);
        let mut parts = Vec::new();
        for (class, label) in [
            ("transient", "failed for a temporary reason (transient)"),
            ("system", "failed for a reason outside the record (system)"),
            ("unknown", "unknown (sent, result not known)"),
            ("not sent", "not sent"),
        ] {
            if count(class) > 0 {
                parts.push(format!("{} {label}", count(class)));
            }
        }
        let mut message = format!(
            "{total} record(s) did not end for their own sake and must be sent again: {}. No STATE after the first of them was echoed (for a per-stream STATE: the first of its stream), so the host sends them again from the last STATE it received: run the sync again once the cause is fixed.",
            parts.join(", ")
        );
        if count("unknown") > 0 {
            message.push_str(" For an `unknown` record, check Flowlu first (the reject file names it): its create may have been applied.");
        }
        let class = if count("system") + count("unknown") > 0 {
            FailureClass::System
        } else {
            FailureClass::Transient
        };
        Some(Failure {
            class,
            message,
            internal: format!(
                "records to send again: transient {}, system {}, unknown {}, not sent {}",
                count("transient"),
                count("system"),
                count("unknown"),
                count("not sent")
            ),
        })
    }

    /// What became of the input when some lines could not be read: which lines, and the
    /// outcomes of the records that were read.
    fn unreadable_failure(&self) -> Failure {
        let numbers: Vec<String> = self.unreadable.iter().map(usize::to_string).collect();
        let outcomes: Vec<String> = Outcome::summary_kinds()
            .map(|k| format!("{k} {}", self.summary.total(k)))
            .collect();
        let read: u64 = Outcome::summary_kinds().map(|k| self.summary.total(k)).sum();
        Failure {
            class: FailureClass::System,
            message: format!(
                "{} input line(s) could not be read (line {}) and were skipped; every other line was read: {read} record(s), {}.",
                numbers.len(),
                numbers.join(", "),
                outcomes.join(", ")
            ),
            internal: "input lines that are not Airbyte messages".into(),
        }
    }
}

/// One line of the outcomes file: the record's input line, stream, outcome, the id the
/// service gave or found (`null` when none) and the message (`null` when none).
fn outcome_line(line: Option<usize>, outcome: &RecordOutcome) -> Value {
    let (id, message) = match &outcome.outcome {
        Outcome::Created { id }
        | Outcome::Updated { id }
        | Outcome::Unchanged { id }
        | Outcome::Deleted { id } => (Some(id.as_str()), None),
        Outcome::Skipped { reason } | Outcome::NotSent { reason } => (None, Some(reason.as_str())),
        Outcome::Failed { message, .. } | Outcome::Unknown { message } => (None, Some(message.as_str())),
    };
    json!({
        "line": line,
        "stream": outcome.stream,
        "outcome": outcome.outcome.kind(),
        "id": id,
        "message": message,
    })
}

/// The `TRACE` error of a write stopped by a fatal refusal.
fn stop_failure(Stopped { stream, failure }: &Stopped) -> Failure {
    let scope = match stream {
        None => "The write stopped".to_string(),
        Some(stream) => format!("Writing {stream} stopped"),
    };
    Failure {
        // The stop's own class: a fatal refusal is a config failure, a file that cannot be
        // written (a second connector's stop) a system one.
        class: failure.class,
        message: format!(
            "{} {scope}: no STATE after the first refused record was acknowledged, so the host sends the refused records again once this is fixed.",
            failure.message
        ),
        internal: failure.internal.clone(),
    }
}
