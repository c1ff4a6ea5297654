//! Request economy of writes against the in-process stand-in: requests per record and wall
//! time for the cases of the write's request economy. Figures, not a timed test:
//!
//! ```text
//! cargo run --release -p integration-tests --example bench_economy
//! cargo run --release -p integration-tests --example bench_economy -- --capped-only
//! cargo run --release -p integration-tests --example bench_economy -- --only b
//! cargo run --release -p integration-tests --example bench_economy -- --only b --capped-only --capped-full
//! cargo run --release -p integration-tests --example bench_economy -- --uncapped-only
//! ```
//!
//! `--only` takes the letters of the cases to run (`abcd`; `c` includes `c'`).
//! `--staleness W` writes with `staleness_seconds = W` (the default otherwise), `--rps N`
//! caps the capped runs at N requests/s (default 2), `--capped-size (b)=N` runs case (b)
//! at N records under the cap:
//!
//! ```text
//! cargo run -p integration-tests --example bench_economy -- --staleness 10 --rps 1 --capped-size 300
//! ```
//!
//! `RUST_LOG=connector_flowlu=debug` logs the write's requests and index reads to stderr
//! (on the write's clock: seconds since the process started).
//!
//! Every case runs twice: at full size without a cap (requests per record; wall time is the
//! stand-in's local speed), and under the connector's `requests_per_second = 2` at the size
//! given in the `capped` column (wall time at Flowlu's pace; `--capped-full`: at full size).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use connector_core::{
    ConfiguredCatalog, Credential, Outcome, Record, Sink, SinkEvent, SinkInput, Source, SourceEvent,
    SourceState,
};
use connector_flowlu::FlowluCredential;
use connector_flowlu::FlowluSink;
use connector_flowlu::FlowluSource;
use flowlu_emulator::Emulator;
use futures::StreamExt;
use integration_tests::catalog::Stream;
use integration_tests::stand_in::accounts_portal;
use serde_json::{json, Value};

/// `--staleness W`, if given.
fn staleness() -> Option<u32> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == "--staleness")?;
    args.get(at + 1)?.parse().ok()
}

fn credential(emu: &Emulator, rps: Option<u32>) -> FlowluCredential {
    let mut advanced =
        json!({"write_rules": [{"stream": "crm_account", "mode": "upsert", "match_field": "email"}]});
    if let Some(rps) = rps {
        advanced["requests_per_second"] = json!(rps);
    }
    if let Some(w) = staleness() {
        advanced["staleness_seconds"] = json!(w);
    }
    let config =
        json!({"name": "bench", "account_domain": "acme", "api_key": emu.api_key(), "advanced": advanced});
    FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url())
}

/// Gives every account without an e-mail one (set-up, not measured); returns the accounts.
async fn with_emails(emu: &Emulator) -> Vec<Value> {
    let client = credential(emu, None).client().unwrap();
    let blank: Vec<u64> = emu
        .records("crm", "account")
        .iter()
        .filter(|r| r["email"].as_str().is_none_or(str::is_empty))
        .filter_map(|r| r["id"].as_u64())
        .collect();
    futures::stream::iter(blank)
        .for_each_concurrent(16, |id| {
            let client = &client;
            async move {
                let form = [("email".to_string(), format!("filled.{id}@example.net"))];
                client.update("crm", "account", id, &form).await.unwrap();
            }
        })
        .await;
    emu.reset_stats();
    emu.records("crm", "account")
}

/// Writes `input`; returns (requests, wall time, outcome counts).
async fn write(emu: &Emulator, rps: Option<u32>, input: Vec<Value>) -> (u64, Duration, String) {
    emu.reset_stats();
    let sink = FlowluSink::from_credential(&credential(emu, rps)).unwrap();
    let catalog = Stream::new("crm_account").configured();
    let records = input.into_iter().map(|data| {
        SinkInput::Record(Record {
            stream: "crm_account".into(),
            data,
        })
    });
    let started = Instant::now();
    let events: Vec<SinkEvent> = sink
        .write(&catalog, futures::stream::iter(records).boxed())
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut counts: std::collections::BTreeMap<&str, u64> = Default::default();
    for event in &events {
        if let SinkEvent::Outcome(o) = event {
            *counts.entry(o.outcome.kind()).or_default() += 1;
            if let Outcome::Failed { message, .. } | Outcome::Unknown { message } = &o.outcome {
                panic!("record {} was not written: {message}", o.sequence);
            }
        }
    }
    let counts = counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    (emu.stats().total, elapsed, counts)
}

fn upserts(accounts: &[Value], changed_every: usize) -> Vec<Value> {
    accounts
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let name = r["name"].as_str().unwrap_or_default();
            let name = if changed_every > 0 && i % changed_every == 0 {
                format!("{name} (changed)")
            } else {
                name.to_string()
            };
            json!({"name": name, "email": r["email"]})
        })
        .collect()
}

fn new_records(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"name": format!("New {i}"), "email": format!("new.{i}@example.org")}))
        .collect()
}

/// One case: its name, the model's size, and the input at a given size.
struct Case {
    name: &'static str,
    model: usize,
    full: usize,
    capped: usize,
    input: fn(&[Value], usize) -> Vec<Value>,
}

fn row(case: &str, size: usize, cap: &str, (requests, elapsed, counts): (u64, Duration, String)) {
    println!(
        "| {case} | {size} | {cap} | {requests} | {:.4} | {:.1} | {counts} |",
        requests as f64 / size as f64,
        elapsed.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_timer(tracing_subscriber::fmt::time::uptime())
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().collect();
    let capped_only = args.iter().any(|a| a == "--capped-only");
    // The capped runs at the full size too ((b): 10,000 creates at 2 requests/s, 84 minutes).
    let capped_full = args.iter().any(|a| a == "--capped-full");
    let uncapped_only = args.iter().any(|a| a == "--uncapped-only");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|at| args.get(at + 1))
        .cloned()
        .unwrap_or_else(|| "abcd".into());
    let runs = |case: &str| case.chars().nth(1).is_some_and(|letter| only.contains(letter));
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|at| args.get(at + 1))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let rps = flag("--rps").map_or(2, |n| n as u32);
    let cap_name = format!("{rps} req/s");
    let b_capped = flag("--capped-size");
    let cases = [
        Case {
            name: "(a) upserts by e-mail, 1% changed, into a 10,000-record model",
            model: 10_000,
            full: 10_000,
            capped: 10_000,
            input: |accounts, n| upserts(&accounts[..n], 100),
        },
        Case {
            name: "(b) upserts by e-mail into an empty model",
            model: 0,
            full: 10_000,
            capped: b_capped.unwrap_or(2_000),
            input: |_, n| new_records(n),
        },
        Case {
            name: "(c) upserts by e-mail, 1% changed, into a 100,000-record model",
            model: 100_000,
            full: 100,
            capped: 100,
            input: |accounts, n| upserts(&accounts[..n], 100),
        },
        Case {
            name: "(c') upserts by e-mail, all changed, into a 100,000-record model",
            model: 100_000,
            full: 100,
            capped: 100,
            input: |accounts, n| upserts(&accounts[..n], 1),
        },
    ];
    println!("| case | records | cap | requests | requests/record | seconds | outcomes |");
    println!("|---|---|---|---|---|---|---|");
    for case in cases.iter().filter(|c| runs(c.name)) {
        let emu = accounts_portal(case.model).await;
        let accounts = if case.model > 1_000 && case.full <= 100 {
            // Only the accounts written need an e-mail.
            let all = emu.records("crm", "account");
            all.into_iter()
                .filter(|r| r["email"].as_str().is_some_and(|e| !e.is_empty()))
                .take(case.full)
                .collect()
        } else {
            with_emails(&emu).await
        };
        if !capped_only {
            let figures = write(&emu, None, (case.input)(&accounts, case.full)).await;
            row(case.name, case.full, "none", figures);
        }
        drop(emu);
        if uncapped_only {
            continue;
        }
        let capped = if capped_full { case.full } else { case.capped };
        let emu = accounts_portal(case.model).await;
        let accounts = if case.model > 1_000 && capped <= 100 {
            let all = emu.records("crm", "account");
            all.into_iter()
                .filter(|r| r["email"].as_str().is_some_and(|e| !e.is_empty()))
                .take(capped)
                .collect()
        } else {
            with_emails(&emu).await
        };
        let figures = write(&emu, Some(rps), (case.input)(&accounts, capped)).await;
        row(case.name, capped, &cap_name, figures);
    }
    if runs("(d)") {
        let caps = match (capped_only, uncapped_only) {
            (true, _) => vec![Some(rps)],
            (false, true) => vec![None],
            (false, false) => vec![None, Some(rps)],
        };
        for cap in caps {
            round_trip(1_739, cap).await;
        }
    }
}

/// (d) The reported case: 1,739 accounts read from the stand-in and written straight back as
/// upserts by e-mail, nothing changed.
async fn round_trip(accounts: usize, cap: Option<u32>) {
    let emu = accounts_portal(accounts).await;
    with_emails(&emu).await;
    let source = FlowluSource::from_credential(&credential(&emu, cap)).unwrap();
    let catalog: ConfiguredCatalog = serde_json::from_value(json!({"streams": [{
        "stream": {"name": "crm_account", "json_schema": {}}, "sync_mode": "full_refresh"
    }]}))
    .unwrap();
    let started = Instant::now();
    let state = SourceState::default();
    let read: Vec<Value> = source
        .read_parsed(&catalog, &state)
        .filter_map(|e| async move {
            match e {
                SourceEvent::Record(r) => Some(r.data),
                _ => None,
            }
        })
        .collect()
        .await;
    let read_time = started.elapsed();
    let read_requests = emu.stats().total;
    assert_eq!(read.len(), accounts);
    let cap_name = match cap {
        Some(rps) => format!("{rps} req/s"),
        None => "none".into(),
    };
    row(
        "(d) accounts read (source, 100 a page)",
        accounts,
        &cap_name,
        (read_requests, read_time, format!("{} read", read.len())),
    );
    let figures = write(&emu, cap, read).await;
    row(
        "(d) the same accounts written back as upserts by e-mail, unchanged",
        accounts,
        &cap_name,
        figures,
    );
}
