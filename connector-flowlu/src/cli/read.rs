//! `discover` and `read`: the source side of the protocol.

use std::path::Path;

use connector_core::airbyte::{now_ms, Message};
use connector_core::{Failure, Source, SourceEvent};
use futures::StreamExt;

use super::inputs::{load_catalog, load_state};
use super::progress::Progress;
use super::{load_config, Env, ProtocolOut, EXIT_FAILED, EXIT_OK};
use crate::raw_page::write_record_line;
use crate::source::{FlowluSource, ReadItem};

/// `discover --config C`: prints the CATALOG.
pub(super) async fn discover(config: &Path, env: &Env, output: &mut ProtocolOut<'_>) -> i32 {
    let source = match source(config, env) {
        Ok(source) => source,
        Err(failure) => return output.fail(&failure),
    };
    match source.discover().await {
        Ok(catalog) => output.emit(&Message::Catalog { catalog }),
        Err(failure) => output.fail(&failure),
    }
}

/// `read --config C --catalog K [--state S]`: prints RECORD, STATE and TRACE lines; fails
/// (exit 1) when any stream failed, after every other stream was read.
pub(super) async fn read(
    config: &Path,
    catalog: &Path,
    state: Option<&Path>,
    env: &Env,
    output: &mut ProtocolOut<'_>,
    progress: &mut Progress,
) -> i32 {
    let inputs = source(config, env).and_then(|source| {
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
    while let Some(item) = items.next().await {
        let written = match item {
            ReadItem::Records { stream, records } => {
                progress.records(stream, records.len());
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

fn source(config: &Path, env: &Env) -> Result<FlowluSource, Failure> {
    let credential = load_config(config, env)?;
    FlowluSource::from_credential(&credential)
        .map_err(|e| crate::credential::explain(&e, &credential.account_domain).1)
}
