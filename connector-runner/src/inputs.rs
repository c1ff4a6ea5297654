//! Reading the input files of the commands (catalog, state), with errors that name the file,
//! the field and the fix.

use std::path::Path;

use connector_core::{ConfiguredCatalog, Failure, FailureClass, SourceState};
use serde_json::Value;

/// A configuration failure.
pub(crate) fn config_error(message: String, internal: String) -> Failure {
    Failure {
        class: FailureClass::Config,
        message,
        internal,
    }
}

/// What the internal detail of a file that is not JSON says.
#[derive(Debug, Clone, Copy)]
pub(crate) enum JsonErrorDetail {
    /// serde_json's message (line and column; a catalog or a state holds no secret).
    Message,
    /// Only the error's category (`syntax error`, ...): the config file may hold a key.
    Category,
}

/// Reads a JSON file given with `--{flag}`, which should be `shape`.
pub(crate) fn load_json(
    path: &Path,
    flag: &str,
    shape: &str,
    detail: JsonErrorDetail,
) -> Result<Value, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        config_error(
            format!(
                "The {flag} file {} could not be read: {e}. Check the path given with --{flag}.",
                path.display()
            ),
            e.to_string(),
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        config_error(
            format!(
                "The {flag} file {} is not valid JSON (line {}, column {}). It should be {shape}.",
                path.display(),
                e.line(),
                e.column()
            ),
            match detail {
                JsonErrorDetail::Message => e.to_string(),
                JsonErrorDetail::Category => category(&e).to_string(),
            },
        )
    })
}

/// The category of a JSON error, in words.
fn category(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "io error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "data error",
        serde_json::error::Category::Eof => "unexpected end of file",
    }
}

/// Reads a ConfiguredAirbyteCatalog file (`--catalog`); `example_stream` names a stream in
/// the example an error shows.
pub(crate) fn load_catalog(path: &Path, example_stream: &str) -> Result<ConfiguredCatalog, Failure> {
    let shape = format!("a configured catalog such as {{\"streams\": [{{\"stream\": {{\"name\": \"{example_stream}\", \"json_schema\": {{}}}}, \"sync_mode\": \"incremental\", \"destination_sync_mode\": \"append\"}}]}} (the output of discover, configured)");
    let shape = shape.as_str();
    let value = load_json(path, "catalog", shape, JsonErrorDetail::Message)?;
    let catalog: ConfiguredCatalog = serde_path_to_error::deserialize(&value).map_err(|e| {
        let field = e.path().to_string();
        config_error(
            format!(
                "The catalog field `{field}` is wrong: {}. The catalog should be {shape}.",
                e.inner()
            ),
            format!("catalog at `{field}`: {}", e.inner()),
        )
    })?;
    refuse_repeated_streams(&catalog)?;
    Ok(catalog)
}

/// A stream listed twice would be read twice (concurrently) or written under two plans: the
/// catalog is refused, naming the stream and both places.
fn refuse_repeated_streams(catalog: &ConfiguredCatalog) -> Result<(), Failure> {
    let mut seen = std::collections::HashMap::new();
    for (index, configured) in catalog.streams.iter().enumerate() {
        let name = configured.stream.name.as_str();
        if let Some(first) = seen.insert(name, index) {
            return Err(config_error(
                format!(
                    "The catalog names the stream `{name}` twice (streams[{first}] and streams[{index}]). List each stream once, with the sync mode you want."
                ),
                format!("catalog stream `{name}` repeated at streams[{first}] and streams[{index}]"),
            ));
        }
    }
    Ok(())
}

/// Reads a state file (`--state`) in any of the forms Airbyte hosts pass.
pub(crate) fn load_state(path: &Path) -> Result<SourceState, Failure> {
    let shape = "a JSON array of the `state` objects of earlier STATE messages";
    let value = load_json(path, "state", shape, JsonErrorDetail::Message)?;
    crate::state::source_state(&value).map_err(|e| {
        config_error(
            format!("The state file is wrong: {e}. It should be {shape}, or [] to start over."),
            e.to_string(),
        )
    })
}
