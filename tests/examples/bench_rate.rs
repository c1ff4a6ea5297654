//! Reads of an account capped at 1, 2, 5 and 10 requests per second, in each refusal form
//! Flowlu is known to send, by the real `flowlu-connector read` binary against the in-process
//! stand-in (a token bucket of one request, shared by every key). Figures, not a timed test:
//!
//! ```text
//! cargo build --release -p connector-flowlu --bin flowlu-connector
//! cargo run --release -p integration-tests --example bench_rate [-- --quick] [--cap 2] [--form json|429] [--runs 3]
//! ```
//!
//! `--cap` and `--form` run only those rows (`--form json`: the JSON error at 200; `429`: the
//! text 429); `--runs` repeats each row; `--records` reads that many instead (at 10/s the
//! default 30,000 is 30 s of pages: `--cap 10 --records 60000` reads for a minute).
//!
//! One stream (`crm_account`, full refresh, 100 records per page, 4 requests in flight) of
//! about a minute's worth of pages at the cap (`cap * 60 * 100` records, at most 30,000);
//! `--quick` reads a tenth of that. Ideal = pages / cap; throughput = ideal / wall time;
//! requests and refusals are the stand-in's counts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Instant;

use flowlu_emulator::{Emulator, EmulatorConfig, RateCap, Refusal};
use integration_tests::bench::read_command;
use serde_json::json;

const CAPS: &[f64] = &[1.0, 2.0, 5.0, 10.0];
const FORMS: &[(Refusal, &str)] = &[
    (Refusal::TooManyRequests, "429 text"),
    (Refusal::JsonError { status: 200 }, "JSON error, 200"),
];
const PAGE_SIZE: usize = 100;

/// Seconds, RECORD lines and `RATE_LIMITED` lines of one read.
fn read(base_url: &str, api_key: &str) -> (f64, u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let advanced = json!({"max_concurrency": 4, "page_size": PAGE_SIZE});
    let started = Instant::now();
    let mut child = read_command(dir.path(), base_url, api_key, &advanced)
        .stdout(Stdio::piped())
        .spawn()
        .expect("build the binary first: cargo build --release -p connector-flowlu --bin flowlu-connector");
    let (mut records, mut limited) = (0, 0);
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        records += u64::from(line.starts_with(r#"{"type":"RECORD""#));
        limited += u64::from(line.contains("\"RATE_LIMITED\""));
    }
    let seconds = started.elapsed().as_secs_f64();
    let status = child.wait().unwrap();
    assert!(status.success(), "the read failed: {status}");
    (seconds, records, limited)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let only_cap: Option<f64> = value("--cap").map(|v| v.parse().expect("--cap takes a number"));
    let only_form = value("--form");
    let runs: usize = value("--runs").map_or(1, |v| v.parse().expect("--runs takes a number"));
    let only_records: Option<usize> =
        value("--records").map(|v| v.parse().expect("--records takes a number"));
    println!("| cap | refusal | records | pages | seconds | ideal | throughput | requests | refused | refused share | requests per record | RATE_LIMITED lines |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &cap in CAPS.iter().filter(|&&c| only_cap.is_none_or(|o| o == c)) {
        let mut records = only_records.unwrap_or(((cap * 60.0) as usize * PAGE_SIZE).min(30_000));
        if quick {
            records /= 10;
        }
        let forms = FORMS.iter().filter(|(refusal, _)| match only_form.as_deref() {
            None => true,
            Some("json") => matches!(refusal, Refusal::JsonError { .. }),
            Some("429") => matches!(refusal, Refusal::TooManyRequests),
            Some(other) => panic!("--form is json or 429, not {other}"),
        });
        for &(refusal, form) in forms.flat_map(|f| std::iter::repeat_n(f, runs)) {
            let emu = Emulator::start(EmulatorConfig {
                records_per_model: 0,
                model_records: [("crm/account".to_string(), records)].into_iter().collect(),
                rate_cap: Some(RateCap::new(cap, refusal)),
                ..Default::default()
            })
            .await
            .expect("the stand-in starts");
            let (url, key) = (emu.base_url(), emu.api_key().to_string());
            let (seconds, read, limited) = tokio::task::spawn_blocking(move || read(&url, &key))
                .await
                .unwrap();
            assert_eq!(read, records as u64, "every record was read");
            let stats = emu.stats();
            let pages = records.div_ceil(PAGE_SIZE);
            let ideal = pages as f64 / cap;
            println!(
                "| {cap} | {form} | {records} | {pages} | {seconds:.1} | {ideal:.1} | {:.3} | {} | {} | {:.1}% | {:.4} | {limited} |",
                ideal / seconds,
                stats.total,
                stats.refused,
                100.0 * stats.refused as f64 / stats.total as f64,
                stats.total as f64 / records as f64,
            );
            emu.shutdown().await;
        }
    }
}
