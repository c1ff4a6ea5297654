//! CPU per record of the real `flowlu-connector read` binary against a floor: `read_floor`,
//! a minimal client that fetches the same pages from the same in-process stand-in, parses each
//! page once and writes one `RECORD` line per record. Both are child processes writing to a
//! pipe this benchmark drains, measured the same way: CPU time (user + system) of the waited
//! children (`/proc/self/stat`) around each child's wait, peak memory (VmHWM) sampled from
//! `/proc` every 10 ms. Runs are paired (floor and connector back to back, their order
//! alternating) and medians reported. Figures, not a timed test:
//!
//! ```text
//! cargo build --release -p connector-flowlu --bin flowlu-connector
//! cargo build --release -p integration-tests --example read_floor
//! cargo run --release -p integration-tests --example bench_cpu            # -- --runs 7 --records 100000,400000
//! ```
//!
//! One stream, `crm_account` (the widest model), 500 records a page (the connector's default;
//! the stand-in serves up to 500), full refresh, no added latency, no rate cap. The connector
//! runs with its default settings (4 requests in flight); the floor asks one page at a time.
//! `FLOWLU_CONNECTOR_BIN` / `READ_FLOOR_BIN` name other binaries (e.g. a build before a change).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use flowlu_emulator::{Emulator, EmulatorConfig};
use integration_tests::bench::{arg, read_command, sample_peak, Peak};
use serde_json::json;

const PAGE: usize = 500;

/// What one child's run measured.
#[derive(Debug, Clone, Copy)]
struct Measured {
    /// User + system CPU seconds of the child.
    cpu: f64,
    /// Wall seconds, start to end of output.
    wall: f64,
    /// RECORD lines on its stdout.
    records: u64,
    /// Peak resident memory (VmHWM), KiB.
    peak_kib: u64,
}

/// `READ_FLOOR_BIN`, else the `read_floor` example beside this one.
fn floor_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("READ_FLOOR_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the example's path");
    exe.parent()
        .expect("target/<profile>/examples")
        .join("read_floor")
}

/// User + system CPU seconds of every waited-for child so far: `cutime` and `cstime` of
/// `/proc/self/stat` (what `getrusage(RUSAGE_CHILDREN)` gives, read without `unsafe`), in
/// clock ticks of 10 ms (Linux's `USER_HZ`, 100 on every architecture it exports).
fn children_cpu() -> f64 {
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which may hold spaces), from field 3 (`state`) on.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("a stat line")
        .1
        .split_whitespace()
        .collect();
    let ticks = |field: usize| -> f64 { fields[field - 3].parse().expect("a tick count") };
    (ticks(16) + ticks(17)) / TICKS_PER_SECOND
}

/// RECORD lines on `out`, drained to its end.
fn count_records(mut out: impl Read) -> u64 {
    const RECORD: &[u8] = br#"{"type":"RECORD""#;
    let mut buf = vec![0u8; 1 << 20];
    // The start of the current line, up to RECORD's length, while it is that short.
    let (mut records, mut head, mut at_start) = (0u64, Vec::with_capacity(RECORD.len()), true);
    loop {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            return records;
        }
        let mut chunk = &buf[..n];
        loop {
            if at_start {
                let take = (RECORD.len() - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
                if head.len() == RECORD.len() {
                    records += u64::from(head == RECORD);
                    at_start = false;
                    head.clear();
                }
            }
            match memchr::memchr(b'\n', chunk) {
                Some(at) => {
                    chunk = &chunk[at + 1..];
                    at_start = true;
                    head.clear();
                }
                None => break,
            }
        }
    }
}

/// Runs `command` to its end: its records, CPU, wall time and peak memory.
fn measure(mut command: Command) -> Measured {
    let before = children_cpu();
    let started = Instant::now();
    let mut child: Child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("build the binaries first (see the example's header)");
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(Peak::default());
    let sampler = sample_peak(child.id(), done.clone(), peak.clone());
    let records = count_records(child.stdout.take().unwrap());
    let wall = started.elapsed().as_secs_f64();
    let status = child.wait().unwrap();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    assert!(status.success(), "the read failed: {status}");
    Measured {
        cpu: children_cpu() - before,
        wall,
        records,
        peak_kib: peak.hwm_kib.load(Ordering::Relaxed),
    }
}

fn connector(dir: &Path, base_url: &str, api_key: &str) -> Command {
    read_command(dir, base_url, api_key, &json!({"page_size": PAGE}))
}

fn floor(base_url: &str, api_key: &str) -> Command {
    let mut command = Command::new(floor_binary());
    command
        .args([base_url, "crm/account", "crm_account", &PAGE.to_string()])
        .env("FLOWLU_API_KEY", api_key);
    command
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[tokio::main]
async fn main() {
    let runs: usize = arg("--runs").map_or(5, |r| r.parse().expect("--runs N"));
    let sizes: Vec<usize> = arg("--records").map_or(vec![100_000, 400_000], |r| {
        r.split(',').map(|n| n.parse().expect("--records N,M")).collect()
    });
    println!("| records | runs | floor CPU us/record | connector CPU us/record | ratio (median of pairs) | ratio range | floor peak | connector peak | floor s | connector s |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for records in sizes {
        let emu = Emulator::start(EmulatorConfig {
            records_per_model: 0,
            model_records: [("crm/account".to_string(), records)].into_iter().collect(),
            max_page_size: PAGE,
            ..Default::default()
        })
        .await
        .expect("the stand-in starts");
        let (url, key) = (emu.base_url(), emu.api_key().to_string());
        let pairs = tokio::task::spawn_blocking(move || {
            let dir = tempfile::tempdir().unwrap();
            (0..runs)
                .map(|run| {
                    let (f, c) = if run % 2 == 0 {
                        let f = measure(floor(&url, &key));
                        (f, measure(connector(dir.path(), &url, &key)))
                    } else {
                        let c = measure(connector(dir.path(), &url, &key));
                        (measure(floor(&url, &key)), c)
                    };
                    assert_eq!(f.records, records as u64, "the floor read every record");
                    assert_eq!(c.records, records as u64, "the connector read every record");
                    (f, c)
                })
                .collect::<Vec<(Measured, Measured)>>()
        })
        .await
        .unwrap();
        emu.shutdown().await;
        let per_record = |m: &Measured| m.cpu * 1e6 / records as f64;
        let ratios: Vec<f64> = pairs.iter().map(|(f, c)| c.cpu / f.cpu).collect();
        let (low, high) = ratios
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), r| (l.min(*r), h.max(*r)));
        let mib = |kib: u64| kib as f64 / 1024.0;
        println!(
            "| {records} | {runs} | {:.2} | {:.2} | {:.2} | {low:.2}-{high:.2} | {:.1} MiB | {:.1} MiB | {:.2} | {:.2} |",
            median(pairs.iter().map(|(f, _)| per_record(f)).collect()),
            median(pairs.iter().map(|(_, c)| per_record(c)).collect()),
            median(ratios),
            mib(median(pairs.iter().map(|(f, _)| f.peak_kib as f64).collect()) as u64),
            mib(median(pairs.iter().map(|(_, c)| c.peak_kib as f64).collect()) as u64),
            median(pairs.iter().map(|(f, _)| f.wall).collect()),
            median(pairs.iter().map(|(_, c)| c.wall).collect()),
        );
    }
}
