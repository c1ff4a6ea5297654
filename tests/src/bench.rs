//! What the benchmarks that run the real binary share: where it is, and a `read` of
//! `crm_account` against a stand-in.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

/// The `flowlu-connector` binary: `FLOWLU_CONNECTOR_BIN`, else the one beside the running
/// example's profile directory (`target/<profile>/flowlu-connector`).
pub fn connector_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FLOWLU_CONNECTOR_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the example's path");
    let dir = exe.parent().and_then(|p| p.parent()).expect("target/<profile>");
    dir.join("flowlu-connector")
}

/// `flowlu-connector read` of `crm_account` (full refresh) from the stand-in at `base_url`,
/// with `advanced` settings; its config and catalog are written into `dir`.
pub fn read_command(dir: &Path, base_url: &str, api_key: &str, advanced: &Value) -> Command {
    let config = dir.join("config.json");
    let catalog = dir.join("catalog.json");
    std::fs::write(
        &config,
        json!({"name": "bench", "account_domain": "bench", "api_key": api_key, "advanced": advanced})
            .to_string(),
    )
    .expect("write the config");
    std::fs::write(
        &catalog,
        json!({"streams": [{"stream": {"name": "crm_account", "json_schema": {}},
            "sync_mode": "full_refresh", "destination_sync_mode": "append"}]})
        .to_string(),
    )
    .expect("write the catalog");
    let mut command = Command::new(connector_binary());
    command
        .args(["read", "--config"])
        .arg(&config)
        .arg("--catalog")
        .arg(&catalog)
        .env("FLOWLU_BASE_URL", base_url);
    command
}
