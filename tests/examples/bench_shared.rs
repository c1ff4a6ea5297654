//! A read and a write of the same Flowlu account at once, in one process, against the
//! in-process stand-in capped at 2 requests/s (a token bucket of one request, shared by every
//! key): the source and the sink, built from two credential objects, draw from the account's
//! one budget. Figures, not a timed test:
//!
//! ```text
//! cargo run --release -p integration-tests --example bench_shared [-- --cap 2 --each 40]
//! ```
//!
//! The read: `crm_account`, 100 records a page, 4 requests in flight; the write: creates into
//! `crm_lead`, 4 in flight; `--each` pages and creates each (default 40). Rates "while both
//! run" count the pages and outcomes each had by the time the first of them ended.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use connector_core::{
    Credential, Outcome, Record, Sink, SinkEvent, SinkInput, Source, SourceEvent, SourceState,
};
use connector_flowlu::{FlowluCredential, FlowluSink, FlowluSource};
use flowlu_emulator::{Emulator, EmulatorConfig, RateCap, Refusal};
use futures::StreamExt;
use integration_tests::catalog::Stream;
use serde_json::json;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let cap: f64 = value("--cap").map_or(2.0, |v| v.parse().unwrap());
    let each: usize = value("--each").map_or(40, |v| v.parse().unwrap());
    let emu = Emulator::start(EmulatorConfig {
        records_per_model: 0,
        model_records: [("crm/account".to_string(), (each - 1) * 100)]
            .into_iter()
            .collect(),
        rate_cap: Some(RateCap::new(cap, Refusal::TooManyRequests)),
        ..Default::default()
    })
    .await
    .unwrap();
    let credential = || {
        let config = json!({"name": "bench", "account_domain": "bench", "api_key": emu.api_key(),
            "advanced": {"max_concurrency": 4, "page_size": 100}});
        FlowluCredential::from_config(&config)
            .unwrap()
            .with_base_url(emu.base_url())
    };
    let source = FlowluSource::from_credential(&credential()).unwrap();
    let sink = FlowluSink::from_credential(&credential()).unwrap();
    let started = Instant::now();
    let (read_catalog, write_catalog) = (
        Stream::new("crm_account").configured(),
        Stream::new("crm_lead").configured(),
    );
    let state = SourceState::default();
    let read = async {
        let mut pages = Vec::new();
        let mut events = source.read(&read_catalog, &state);
        while let Some(event) = events.next().await {
            if matches!(event, SourceEvent::Page { .. }) {
                pages.push(started.elapsed().as_secs_f64());
            }
        }
        pages
    };
    let write = async {
        let input = (0..each).map(|i| {
            SinkInput::Record(Record {
                stream: "crm_lead".into(),
                data: json!({"name": format!("Lead {i}")}),
            })
        });
        let mut done = Vec::new();
        let mut events = sink.write(&write_catalog, futures::stream::iter(input).boxed());
        while let Some(event) = events.next().await {
            if let SinkEvent::Outcome(o) = &event {
                assert!(matches!(o.outcome, Outcome::Created { .. }), "{o:?}");
                done.push(started.elapsed().as_secs_f64());
            }
        }
        done
    };
    let (pages, creates) = tokio::join!(read, write);
    let both = pages.last().unwrap().min(*creates.last().unwrap());
    let during = |t: &[f64]| t.iter().filter(|t| **t <= both).count() as f64 / both;
    let stats = emu.stats();
    let total = started.elapsed().as_secs_f64();
    println!("| cap | pages read | records created | seconds | while both ran: s | read/s | write/s | together, share of the cap | requests | refused |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {cap} | {} | {} | {total:.1} | {both:.1} | {:.2} | {:.2} | {:.3} | {} | {} ({:.1}%) |",
        pages.len(),
        creates.len(),
        during(&pages),
        during(&creates),
        (during(&pages) + during(&creates)) / cap,
        stats.total,
        stats.refused,
        100.0 * stats.refused as f64 / stats.total as f64
    );
    emu.shutdown().await;
}
