//! `discover` and `read`: the source side of the protocol.

use std::collections::BTreeMap;
use std::path::Path;

use connector_core::{Failure, Source, SourceEvent};
use futures::StreamExt;

use crate::airbyte::{now_ms, write_records, Message};
use crate::config::load_config;
use crate::connector::Connector;
use crate::env::Env;
use crate::exit::{EXIT_FAILED, EXIT_OK};
use crate::inputs::{load_catalog, load_state};
use crate::output::ProtocolOut;
use crate::progress::Progress;
use crate::signal::{Interrupt, Signal};

/// `discover --config C`: prints the CATALOG.
pub(crate) async fn discover<C: Connector>(config: &Path, env: &Env, output: &mut ProtocolOut<'_>) -> i32 {
    let source = match source::<C>(config, env, output) {
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
pub(crate) async fn read<C: Connector>(
    config: &Path,
    catalog: &Path,
    state: Option<&Path>,
    env: &Env,
    output: &mut ProtocolOut<'_>,
    progress: &mut Progress,
    interrupt: Interrupt,
) -> i32 {
    let inputs = source::<C>(config, env, output).and_then(|source| {
        let catalog = load_catalog(catalog, C::STREAM_EXAMPLE)?;
        let state = state.map(load_state).transpose()?.unwrap_or_default();
        Ok((source, catalog, state))
    });
    let (source, catalog, state) = match inputs {
        Ok(inputs) => inputs,
        Err(failure) => return output.fail(&failure),
    };
    let mut items = source.read(&catalog, &state);
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
                return counts.interrupted(C::NAME, signal, output);
            }
            item = items.next() => item,
        };
        let Some(item) = item else { break };
        let written = match item {
            SourceEvent::Records(records) => {
                progress.records(records.stream(), records.len());
                counts.records(records.stream(), records.len());
                lines.clear();
                write_records(&mut lines, &records, now_ms());
                output.emit_lines(&lines)
            }
            event => {
                if matches!(event, SourceEvent::Error { .. }) {
                    code = EXIT_FAILED;
                }
                match &event {
                    SourceEvent::Checkpoint(checkpoint) => counts.checkpoint(&checkpoint.stream),
                    SourceEvent::Record(record) => counts.records(&record.stream, 1),
                    SourceEvent::Delete(tombstone) => counts.records(&tombstone.stream, 1),
                    _ => {}
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
    fn interrupted(&self, program: &str, signal: Signal, output: &mut ProtocolOut<'_>) -> i32 {
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
        eprintln!("{program}: {message}");
        signal.exit_code()
    }
}

fn source<C: Connector>(
    config: &Path,
    env: &Env,
    output: &mut ProtocolOut<'_>,
) -> Result<C::Source, Failure> {
    let loaded = load_config::<C>(config, env)?;
    output.redact(loaded.secrets);
    C::source(&loaded.credential)
}
