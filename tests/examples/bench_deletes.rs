//! Deletes by reconciliation: requests (and so time at Flowlu's pace of about 1 request/s) to
//! find k deletes among N records, counting id ranges against listing every id; and the size
//! of the ids a stream's state keeps. Figures, not a timed test:
//!
//! ```text
//! cargo run -p integration-tests --example bench_deletes
//! ```
//!
//! Requests are counted by the stand-in (unpaced, every request the reconciliation sent,
//! the confirming `get`s included); the time at 1 request/s is that count in seconds. Pages
//! of 100: the stand-in's cap, which the incremental read before a reconciliation learns.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use connector_core::{Credential, SourceEvent, SourceState};
use connector_flowlu::testing::encode_ids;
use connector_flowlu::{FlowluCredential, FlowluSource, ReconcileMethod};
use flowlu_emulator::{Emulator, EmulatorConfig, MutationPlan};
use futures::StreamExt;
use integration_tests::catalog::Stream;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

fn source(emu: &Emulator, method: ReconcileMethod) -> FlowluSource {
    // The guard off: the 1,000-delete cases are over 5% of 10,000 records.
    let config = json!({"name": "bench", "account_domain": "acme", "api_key": emu.api_key(),
        "advanced": {"page_size": 100, "max_deletes_percent": 100}});
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url());
    FlowluSource::from_credential(&credential)
        .unwrap()
        .with_reconcile_method(method)
}

/// The state a read of every record leaves (its ids), without reading them.
fn state_of(records: &[Value]) -> SourceState {
    let ids: roaring::RoaringTreemap = records.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    let mut state = SourceState::default();
    state.streams.insert(
        "crm_account".into(),
        json!({"cursor_field": "updated_date", "cursor": null, "id": null,
               "deletes": {"ids": encode_ids(&ids), "count": ids.len(), "reconciled_at": 0, "max_cursor": null}}),
    );
    state
}

fn sizes() {
    println!("| ids | contiguous | 1 in 10 deleted (random) | 1 id in 3 (random, sparse) |");
    println!("|---|---|---|---|");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(25);
    for n in [10_000u64, 100_000, 1_000_000] {
        let contiguous: roaring::RoaringTreemap = (1..=n).collect();
        let gaps: roaring::RoaringTreemap = (1..=n * 10 / 9)
            .filter(|_| rng.random_range(0..10) != 0)
            .take(n as usize)
            .collect();
        let sparse: roaring::RoaringTreemap = (1..=n * 3)
            .filter(|_| rng.random_range(0..3) == 0)
            .take(n as usize)
            .collect();
        let kib = |ids: &roaring::RoaringTreemap| match encode_ids(ids).len() {
            small if small < 1024 => format!("{small} B"),
            large => format!("{:.1} KiB", large as f64 / 1024.0),
        };
        println!(
            "| {n} | {} | {} | {} |",
            kib(&contiguous),
            kib(&gaps),
            kib(&sparse)
        );
    }
}

#[tokio::main]
async fn main() {
    sizes();
    println!();
    println!("| records | deletes | method | requests | of which get | time at 1 request/s | tombstones |");
    println!("|---|---|---|---|---|---|---|");
    for n in [10_000usize, 100_000] {
        for k in [0usize, 1, 10, 1000] {
            let emu = Emulator::start(EmulatorConfig {
                records_per_model: 1,
                model_records: HashMap::from([("crm/account".to_string(), n)]),
                ..Default::default()
            })
            .await
            .unwrap();
            let state = state_of(&emu.records("crm", "account"));
            let plan = MutationPlan {
                deletes: k,
                inserts: 0,
                updates: 0,
            };
            emu.mutate("crm", "account", 7, plan).unwrap();
            for (name, method) in [("ranges", ReconcileMethod::Auto), ("scan", ReconcileMethod::Scan)] {
                emu.reset_stats();
                let src = source(&emu, method);
                let events: Vec<SourceEvent> = src
                    .reconcile(
                        &Stream::new("crm_account")
                            .sync("incremental")
                            .destination("append_dedup")
                            .key("id")
                            .configured(),
                        &state,
                    )
                    .collect()
                    .await;
                let tombstones = events
                    .iter()
                    .filter(|e| matches!(e, SourceEvent::Delete(_)))
                    .count();
                let stats = emu.stats();
                let gets: u64 = stats
                    .by_path
                    .iter()
                    .filter(|(path, _)| path.contains("/get/"))
                    .map(|(_, by)| by.values().sum::<u64>())
                    .sum();
                let secs = stats.total;
                println!(
                    "| {n} | {k} | {name} | {} | {gets} | {} min {} s | {tombstones} |",
                    stats.total,
                    secs / 60,
                    secs % 60
                );
            }
            emu.shutdown().await;
        }
    }
}
