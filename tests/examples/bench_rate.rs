//! Reads of an account capped at 1, 2, 5 and 10 requests per second, in each refusal form
//! Flowlu is known to send, by the real `flowlu-connector read` binary against the in-process
//! stand-in (a token bucket of one request, shared by every key). Figures, not a timed test:
//!
//! ```text
//! cargo build --release -p connector-flowlu --bin flowlu-connector
//! cargo run --release -p integration-tests --example bench_rate [-- --quick] [--cap 2] [--form json|429] [--runs 3]
//! ```
//!
//! `--twice` instead reads 3,000 records (31 pages) twice per cap, the second read given the
//! first's last `STATE` (`--state`), as a host hands it over: the first read learns the
//! account's pace, the second starts from the one remembered in the state; then a portal whose
//! cap was lowered between the two reads (2/s, then 1/s).
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

/// Seconds, RECORD lines, `RATE_LIMITED` lines and the last `STATE` of one read, given `state`.
fn read_with_state(
    base_url: &str,
    api_key: &str,
    state: Option<&serde_json::Value>,
) -> (f64, u64, u64, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let advanced = json!({"max_concurrency": 4, "page_size": PAGE_SIZE});
    let mut command = read_command(dir.path(), base_url, api_key, &advanced);
    if let Some(state) = state {
        let path = dir.path().join("state.json");
        std::fs::write(&path, json!([state]).to_string()).unwrap();
        command.arg("--state").arg(&path);
    }
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("build the binary first: cargo build --release -p connector-flowlu --bin flowlu-connector");
    let (mut records, mut limited, mut last) = (0, 0, serde_json::Value::Null);
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        records += u64::from(line.starts_with(r#"{"type":"RECORD""#));
        limited += u64::from(line.contains("\"RATE_LIMITED\""));
        if line.starts_with(r#"{"type":"STATE""#) {
            last = serde_json::from_str::<serde_json::Value>(&line).unwrap()["state"].clone();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let status = child.wait().unwrap();
    assert!(status.success(), "the read failed: {status}");
    (seconds, records, limited, last)
}

/// One read of `--twice`: its figures as table cells.
struct Run {
    seconds: f64,
    requests: u64,
    refused: u64,
}

impl Run {
    fn cells(&self, ideal: f64) -> String {
        format!(
            "{:.1} | {:.3} | {} | {}",
            self.seconds,
            self.seconds / ideal,
            self.requests,
            self.refused
        )
    }
}

/// `--twice`: per cap, a first read and a second one from the first's state; then a cap
/// lowered between the two.
async fn twice(only_cap: Option<f64>) {
    const RECORDS: usize = 3_000;
    let pages = RECORDS / PAGE_SIZE + 1;
    println!("| cap | pages | ideal s | first: s | x ideal | requests | refused | second: s | x ideal | requests | refused | pace remembered |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut rows: Vec<(f64, f64)> = CAPS.iter().map(|&c| (c, c)).collect();
    rows.push((2.0, 1.0));
    for (first_cap, second_cap) in rows.into_iter().filter(|(c, _)| only_cap.is_none_or(|o| o == *c)) {
        let emu = Emulator::start(EmulatorConfig {
            records_per_model: 0,
            model_records: [("crm/account".to_string(), RECORDS)].into_iter().collect(),
            rate_cap: Some(RateCap::new(first_cap, Refusal::TooManyRequests)),
            ..Default::default()
        })
        .await
        .expect("the stand-in starts");
        let mut runs = Vec::new();
        let mut state = None;
        for cap in [first_cap, second_cap] {
            emu.set_rate_cap(Some(RateCap::new(cap, Refusal::TooManyRequests)));
            let before = emu.stats();
            let (url, key, given) = (emu.base_url(), emu.api_key().to_string(), state.clone());
            let (seconds, read, _, last) =
                tokio::task::spawn_blocking(move || read_with_state(&url, &key, given.as_ref()))
                    .await
                    .unwrap();
            assert_eq!(read, RECORDS as u64, "every record was read");
            let after = emu.stats();
            runs.push(Run {
                seconds,
                requests: after.total - before.total,
                refused: after.refused - before.refused,
            });
            state = Some(last);
        }
        let remembered = state
            .as_ref()
            .map(|s| s["stream"]["stream_state"]["account_pace"].to_string())
            .unwrap_or_default();
        let cap = if first_cap == second_cap {
            format!("{first_cap}")
        } else {
            format!("{first_cap}, then {second_cap}")
        };
        println!(
            "| {cap} | {pages} | {:.1} | {} | {} | `{remembered}` |",
            pages as f64 / first_cap,
            runs[0].cells(pages as f64 / first_cap),
            runs[1].cells(pages as f64 / second_cap),
        );
        emu.shutdown().await;
    }
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
    if args.iter().any(|a| a == "--twice") {
        twice(only_cap).await;
        return;
    }
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
