//! A write as tests run it and read what it said: through the command line, the STATEs it
//! echoed, its TRACE errors, and the lines of its outcomes or reject file; through the crates,
//! its outcomes in input order.

use connector_core::{Outcome, SinkEvent};
use futures::stream::BoxStream;
use futures::StreamExt;
use serde_json::Value;

use crate::{run_cli, temp_json, Run};

/// The outcomes among a linked sink's `events`, by input sequence, in input order.
pub fn outcomes(events: impl IntoIterator<Item = SinkEvent>) -> Vec<(u64, Outcome)> {
    let mut outcomes: Vec<(u64, Outcome)> = events
        .into_iter()
        .filter_map(|e| match e {
            SinkEvent::Outcome(o) => Some((o.sequence, o.outcome)),
            _ => None,
        })
        .collect();
    outcomes.sort_by_key(|(s, _)| *s);
    outcomes
}

/// The next `n` outcomes of a linked sink's `events` (fewer if they end), by sequence.
pub async fn next_outcomes(events: &mut BoxStream<'_, SinkEvent>, n: usize) -> Vec<(u64, Outcome)> {
    let mut got = Vec::new();
    while got.len() < n {
        match events.next().await {
            Some(SinkEvent::Outcome(o)) => got.push((o.sequence, o.outcome)),
            Some(_) => {}
            None => break,
        }
    }
    got.sort_by_key(|(s, _)| *s);
    got
}

/// The `n` of every STATE echoed (states written as `{"n": N}`).
pub fn echoed(run: &Run) -> Vec<u64> {
    run.messages
        .iter()
        .filter(|m| m["type"] == "STATE")
        .filter_map(|m| m["state"]["stream"]["stream_state"]["n"].as_u64())
        .collect()
}

/// `(failure_type, message)` of every TRACE error.
pub fn traces(run: &Run) -> Vec<(String, String)> {
    run.messages
        .iter()
        .filter(|m| m["type"] == "TRACE" && m["trace"]["type"] == "ERROR")
        .map(|m| {
            let e = &m["trace"]["error"];
            (
                e["failure_type"].as_str().unwrap_or_default().to_string(),
                e["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Every line of a JSON-lines file, parsed.
pub fn lines_of(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs `write` on `base_url` with `config` and `catalog` (as files), `file_flag`
/// (`--outcomes-file` or `--reject-file`) naming a temporary file, and the `input` lines on
/// stdin (joined by `\n`): the run and that file's lines as written. Fails if the config's
/// API key is on stdout.
pub async fn write_cli(
    base_url: &str,
    config: &Value,
    catalog: &Value,
    file_flag: &str,
    input: &[String],
) -> (Run, Vec<Value>) {
    let (config_file, catalog_file) = (temp_json(config), temp_json(catalog));
    let file = tempfile::NamedTempFile::new().unwrap();
    let run = run_cli(
        &[
            "write",
            "--config",
            config_file.path().to_str().unwrap(),
            "--catalog",
            catalog_file.path().to_str().unwrap(),
            file_flag,
            file.path().to_str().unwrap(),
        ],
        Some(base_url),
        &input.join("\n"),
    )
    .await;
    let key = config["api_key"].as_str().unwrap_or_default();
    assert!(
        key.is_empty() || !run.stdout.contains(key),
        "the key leaked: {}",
        run.stdout
    );
    (run, lines_of(file.path()))
}
