//! `discover` and `read`: the source side of the protocol.

use std::collections::BTreeMap;
use std::path::Path;

use connector_core::airbyte::{now_ms, Message};
use connector_core::{Failure, Source, SourceEvent};
use futures::StreamExt;

use super::inputs::{load_catalog, load_state};
use super::progress::Progress;
use super::{load_config, Env, Interrupt, ProtocolOut, Signal, EXIT_FAILED, EXIT_OK};
use crate::raw_page::write_record_line;
use crate::source::{FlowluSource, ReadItem};

/// `discover --config C`: prints the CATALOG.
pub(super) async fn discover(config: &Path, env: &Env, output: &mut ProtocolOut<'_>) -> i32 {
    let source = match source(config, env, output) {
        Ok(source) => source,
        Err(failure) => return output.fail(&failure),
    };
    match source.discover().await {
        Ok(catalog) => output.emit(&Message::Catalog { catalog }),
        Err(failure) => output.fail(&failure),
    }
}

/// `read --config C --catalog K [--state S]`: prints RECORD, STATE and TRACE lines; fails
/// (exit 1) when any stream failed, after every other stream was read. When `interrupt`
/// fires, stops between two items (every line written is whole) and says what the last
/// STATE of each stream covers.
pub(super) async fn read(
    config: &Path,
    catalog: &Path,
    state: Option<&Path>,
    env: &Env,
    output: &mut ProtocolOut<'_>,
    progress: &mut Progress,
    interrupt: Interrupt,
) -> i32 {
    let inputs = source(config, env, output).and_then(|source| {
        let catalog = load_catalog(catalog)?;
        let state = state.map(load_state).transpose()?.unwrap_or_default();
        Ok((source, catalog, state))
    });
    let (source, catalog, state) = match inputs {
        Ok(inputs) => inputs,
        Err(failure) => return output.fail(&failure),
    };
    let mut items = source.read_items(&catalog, &state);
    let mut code = EXIT_OK;
    let mut lines = Vec::new();
    let mut counts = Counts::default();
    let stop = interrupt.wait();
    tokio::pin!(stop);
    loop {
        let item = tokio::select! {
            biased;
            signal = &mut stop => {
                drop(items);
                return counts.interrupted(signal, output);
            }
            item = items.next() => item,
        };
        let Some(item) = item else { break };
        let written = match item {
            ReadItem::Records { stream, records } => {
                progress.records(stream, records.len());
                counts.records(stream, records.len());
                lines.clear();
                let emitted_at = now_ms();
                for record in &records {
                    write_record_line(&mut lines, stream, record, emitted_at);
                }
                output.emit_lines(&lines)
            }
            ReadItem::Event(event) => {
                if matches!(event, SourceEvent::Error { .. }) {
                    code = EXIT_FAILED;
                }
                if let SourceEvent::Checkpoint(checkpoint) = &event {
                    counts.checkpoint(&checkpoint.stream);
                }
                progress.source_event(&event);
                Message::from_source_event(event, now_ms()).map_or(EXIT_OK, |m| output.emit(&m))
            }
        };
        if written != EXIT_OK {
            return EXIT_FAILED;
        }
    }
    code
}

/// Records emitted per stream, and how many of them the stream's last STATE covers.
#[derive(Default)]
struct Counts {
    streams: BTreeMap<String, (usize, usize)>,
}

impl Counts {
    fn records(&mut self, stream: &str, n: usize) {
        self.streams.entry(stream.to_string()).or_default().0 += n;
    }

    fn checkpoint(&mut self, stream: &str) {
        let entry = self.streams.entry(stream.to_string()).or_default();
        entry.1 = entry.0;
    }

    /// Flushes, says what the last states cover (stderr and a `TRACE`), and returns the exit
    /// code of `signal`.
    fn interrupted(&self, signal: Signal, output: &mut ProtocolOut<'_>) -> i32 {
        let total: usize = self.streams.values().map(|(n, _)| n).sum();
        let covered: Vec<String> = self
            .streams
            .iter()
            .map(|(stream, (n, at_state))| format!("{stream} {at_state} of {n}"))
            .collect();
        let covers = if covered.is_empty() {
            "no STATE was emitted: the next read starts where this one started".to_string()
        } else {
            format!(
                "the last STATE of each stream covers the records before it ({}): a read with those states continues without loss",
                covered.join(", ")
            )
        };
        let message = format!("interrupted by {} after {total} records; {covers}", signal.name());
        output.fail(&Failure {
            class: connector_core::FailureClass::Transient,
            message: format!("The read was {message}."),
            internal: format!("read {message}"),
        });
        eprintln!("flowlu-connector: {message}");
        signal.exit_code()
    }
}

fn source(config: &Path, env: &Env, output: &mut ProtocolOut<'_>) -> Result<FlowluSource, Failure> {
    let credential = load_config(config, env)?;
    output.redact(&credential.api_key);
    FlowluSource::from_credential(&credential)
        .map_err(|e| crate::credential::explain_at(&e, &credential.host()).1)
}
