//! A write through the command line as tests run it and read what it said: the STATEs it
//! echoed, its TRACE errors, and the lines of its outcomes or reject file.

use serde_json::Value;

use crate::{run_cli, temp_json, Run};

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
