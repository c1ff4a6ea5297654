//! Read throughput and peak memory of the real `flowlu-connector read` binary against the
//! in-process stand-in: Airbyte protocol lines counted on the binary's stdout, peak memory of
//! the binary sampled from `/proc` every 10 ms (VmHWM, every page it held, its code mapped from
//! disk among them; and of that, RssAnon: its heap and stacks). Figures, not a timed test:
//!
//! ```text
//! cargo build --release -p connector-flowlu --bin flowlu-connector
//! cargo run --release -p integration-tests --example bench_read
//! cargo run --release -p integration-tests --example bench_read -- --requests
//! FLOWLU_CONNECTOR_BIN=<another build> cargo run --release -p integration-tests --example bench_read -- --records 1000000
//! ```
//!
//! `--records N` runs only the first table's rows of N records (and not the second table), to
//! pair one binary against another.
//!
//! `--requests` runs only the second table: requests per record with the connector's default
//! page size (500 asked first) against a stand-in serving at most 500, then at most 100
//! records a page (its `max_page_size`), without a cap and at 2 requests/s
//! (`advanced.requests_per_second`). Requests are counted by the stand-in (its stats).
//!
//! One stream (`crm_account`, full refresh, 100 records per page) holds all the records. At
//! 100 ms added latency only 10k records are read (a page a round trip: 1M records at one
//! request in flight would take over 15 minutes).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use flowlu_emulator::{Emulator, EmulatorConfig, Latency};
use integration_tests::bench::{number_arg, read_command, sample_peak, Peak};
use serde_json::json;

/// `(records, added latency in ms, requests in flight)`.
const RUNS: &[(usize, u64, u32)] = &[
    (10_000, 0, 1),
    (10_000, 0, 4),
    (10_000, 0, 8),
    (100_000, 0, 1),
    (100_000, 0, 4),
    (100_000, 0, 8),
    (1_000_000, 0, 1),
    (1_000_000, 0, 4),
    (1_000_000, 0, 8),
    (10_000, 100, 1),
    (10_000, 100, 4),
    (10_000, 100, 8),
];

/// What one run measured.
struct Measured {
    seconds: f64,
    lines: u64,
    records: u64,
    peak_kib: u64,
    anon_kib: u64,
}

fn run(base_url: &str, api_key: &str, concurrency: u32) -> Measured {
    let advanced = json!({"max_concurrency": concurrency, "page_size": 100});
    run_with(base_url, api_key, &advanced)
}

fn run_with(base_url: &str, api_key: &str, advanced: &serde_json::Value) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = read_command(dir.path(), base_url, api_key, advanced)
        .stdout(Stdio::piped())
        .spawn()
        .expect("build the binary first: cargo build --release -p connector-flowlu --bin flowlu-connector");
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(Peak::default());
    let sampler = sample_peak(child.id(), done.clone(), peak.clone());
    let (lines, records) = count_lines(child.stdout.take().unwrap());
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "the read failed: {status}");
    Measured {
        seconds,
        lines,
        records,
        peak_kib: peak.hwm_kib.load(Ordering::Relaxed),
        anon_kib: peak.anon_kib.load(Ordering::Relaxed),
    }
}

/// Lines and RECORD lines on the binary's stdout.
fn count_lines(mut out: impl Read) -> (u64, u64) {
    const RECORD: &[u8] = br#"{"type":"RECORD""#;
    let mut buf = vec![0u8; 1 << 20];
    let (mut lines, mut records, mut at_line_start, mut carry) = (0u64, 0u64, true, Vec::new());
    loop {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            return (lines, records);
        }
        for &b in &buf[..n] {
            if at_line_start {
                carry.push(b);
                if carry.len() == RECORD.len() {
                    records += u64::from(carry == RECORD);
                    at_line_start = false;
                    carry.clear();
                }
            }
            if b == b'\n' {
                lines += 1;
                at_line_start = true;
                carry.clear();
            }
        }
    }
}

/// `(records, the stand-in's max_page_size, requests_per_second)`.
const REQUEST_RUNS: &[(usize, usize, Option<u32>)] = &[
    (10_000, 500, None),
    (10_000, 100, None),
    (100_000, 500, None),
    (100_000, 100, None),
    (10_000, 500, Some(2)),
    (10_000, 100, Some(2)),
];

async fn requests_table() {
    println!(
        "| records | stand-in max page | requests/s cap | list requests | requests per record | seconds |"
    );
    println!("|---|---|---|---|---|---|");
    for &(records, max_page_size, rps) in REQUEST_RUNS {
        let emu = Emulator::start(EmulatorConfig {
            records_per_model: 0,
            model_records: [("crm/account".to_string(), records)].into_iter().collect(),
            max_page_size,
            ..Default::default()
        })
        .await
        .expect("the stand-in starts");
        let mut advanced = json!({"max_concurrency": 4});
        if let Some(rps) = rps {
            advanced["requests_per_second"] = json!(rps);
        }
        let (url, key) = (emu.base_url(), emu.api_key().to_string());
        let m = tokio::task::spawn_blocking(move || run_with(&url, &key, &advanced))
            .await
            .unwrap();
        assert_eq!(m.records, records as u64, "every record was read");
        let requests = emu.stats().path_total("/api/v1/module/crm/account/list");
        println!(
            "| {records} | {max_page_size} | {} | {requests} | {:.4} | {:.2} |",
            rps.map_or("none".to_string(), |r| r.to_string()),
            requests as f64 / records as f64,
            m.seconds
        );
        emu.shutdown().await;
    }
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--requests") {
        requests_table().await;
        return;
    }
    println!("| records | added latency | requests in flight | seconds | records/s | protocol lines/s | peak memory | of which heap and stacks |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut current: Option<(usize, Emulator)> = None;
    let only = number_arg("--records", 0);
    for &(records, latency_ms, concurrency) in RUNS.iter().filter(|(n, _, _)| only == 0 || *n == only) {
        if current.as_ref().is_none_or(|(n, _)| *n != records) {
            let emu = Emulator::start(EmulatorConfig {
                records_per_model: 0,
                model_records: [("crm/account".to_string(), records)].into_iter().collect(),
                ..Default::default()
            })
            .await
            .expect("the stand-in starts");
            current = Some((records, emu));
        }
        let (_, emu) = current.as_ref().unwrap();
        emu.set_latency(Latency {
            fixed_ms: latency_ms,
            jitter_ms: 0,
        });
        let (url, key) = (emu.base_url(), emu.api_key().to_string());
        let m = tokio::task::spawn_blocking(move || run(&url, &key, concurrency))
            .await
            .unwrap();
        assert_eq!(m.records, records as u64, "every record was read");
        println!(
            "| {records} | {latency_ms} ms | {concurrency} | {:.2} | {:.0} | {:.0} | {:.1} MiB | {:.1} MiB |",
            m.seconds,
            m.records as f64 / m.seconds,
            m.lines as f64 / m.seconds,
            m.peak_kib as f64 / 1024.0,
            m.anon_kib as f64 / 1024.0
        );
    }
    if only == 0 {
        println!();
        requests_table().await;
    }
}
