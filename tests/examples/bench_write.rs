//! Write throughput against the in-process stand-in: records/s created at 0 ms and 100 ms of
//! added latency, with 1 and 8 requests in flight. Figures, not a timed test:
//!
//! ```text
//! cargo run --release -p integration-tests --example bench_write
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use connector_core::{ConfiguredCatalog, Credential, Outcome, Record, Sink, SinkEvent, SinkInput};
use connector_flowlu::FlowluCredential;
use connector_flowlu::FlowluSink;
use flowlu_emulator::{Emulator, EmulatorConfig, Latency};
use futures::StreamExt;
use serde_json::json;

/// One measured run: added latency, requests in flight, records written.
const RUNS: &[(u64, usize, usize)] = &[(0, 1, 2000), (0, 8, 4000), (100, 1, 50), (100, 8, 400)];

#[tokio::main]
async fn main() {
    let emu = Emulator::start(EmulatorConfig {
        records_per_model: 10,
        ..Default::default()
    })
    .await
    .expect("the stand-in starts");
    let catalog: ConfiguredCatalog = serde_json::from_value(json!({"streams": [{
        "stream": {"name": "crm_account", "json_schema": {}},
        "sync_mode": "full_refresh", "destination_sync_mode": "append"
    }]}))
    .expect("a catalog");
    println!("| added latency | requests in flight | records | seconds | records/s |");
    println!("|---|---|---|---|---|");
    for &(latency_ms, concurrency, records) in RUNS {
        emu.set_latency(Latency {
            fixed_ms: latency_ms,
            jitter_ms: 0,
        });
        let config = json!({"name": "bench", "account_domain": "acme", "api_key": emu.api_key(),
            "advanced": {"max_concurrency": concurrency}});
        let credential = FlowluCredential::from_config(&config)
            .expect("a config")
            .with_base_url(emu.base_url());
        let sink = FlowluSink::from_credential(&credential).expect("a sink");
        let elapsed = write(&sink, &catalog, records, &format!("{latency_ms} {concurrency}")).await;
        println!(
            "| {latency_ms} ms | {concurrency} | {records} | {:.2} | {:.0} |",
            elapsed.as_secs_f64(),
            records as f64 / elapsed.as_secs_f64()
        );
    }
    emu.shutdown().await;
}

/// Creates `n` records named after `run` and returns the time taken; panics unless every one
/// was created. Each run's names are its own: a record equal to one of the newest would be
/// found (created by an earlier run), not created.
async fn write(sink: &FlowluSink, catalog: &ConfiguredCatalog, n: usize, run: &str) -> Duration {
    let input = (0..n).map(|i| {
        SinkInput::Record(Record {
            stream: "crm_account".into(),
            data: json!({"name": format!("Bench {run} {i}"), "email": format!("b{i}@example.com"), "active": true}),
        })
    });
    let started = Instant::now();
    let events: Vec<SinkEvent> = sink
        .write(catalog, futures::stream::iter(input).boxed())
        .collect()
        .await;
    let elapsed = started.elapsed();
    let created = events
        .iter()
        .filter(|e| matches!(e, SinkEvent::Outcome(o) if matches!(o.outcome, Outcome::Created { .. })))
        .count();
    assert_eq!(created, n, "every record is created");
    elapsed
}
