//! What the benchmarks share: where the real binary is, a `read` of `crm_account` against a
//! stand-in, the peak memory of a process, and the command line's `--name value` options.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

/// The peak memory of a process, in KiB.
#[derive(Debug, Default)]
pub struct Peak {
    /// The largest VmHWM: every page the process held at once, the pages of its binary and
    /// libraries mapped from disk (shared, clean: a bigger binary shows here) among them.
    pub hwm_kib: AtomicU64,
    /// The largest RssAnon sampled: its heap and stacks, what the data it holds costs.
    pub anon_kib: AtomicU64,
}

/// Samples `pid`'s `/proc` status every 10 ms into `peak` until `done`.
pub fn sample_peak(pid: u32, done: Arc<AtomicBool>, peak: Arc<Peak>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let path = format!("/proc/{pid}/status");
        let kib = |status: &str, field: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        while !done.load(Ordering::Relaxed) {
            if let Ok(status) = std::fs::read_to_string(&path) {
                peak.hwm_kib.fetch_max(kib(&status, "VmHWM:"), Ordering::Relaxed);
                peak.anon_kib
                    .fetch_max(kib(&status, "RssAnon:"), Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    })
}

/// `--name value` from the command line.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// `--name N` from the command line, or `default`; a value that is not a number panics
/// naming it.
pub fn number_arg(name: &str, default: usize) -> usize {
    arg(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} takes a number, not {v}"))
    })
}
