//! Deletes by reconciliation: requests (and so time at Flowlu's pace of about 1 request/s) to
//! find k deletes among N records, counting id ranges against listing every id; and the size
//! of the ids a stream's state keeps. Figures, not a timed test:
//!
//! ```text
//! cargo run -p integration-tests --example bench_deletes [-- scoped]
//! ```
//!
//! The second table (`-- scoped` prints only it): a start date leaving half the records given,
//! and records the destination lacks that no incremental read brings (restores).
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
    // `-- scoped`: only the second table (start date and restores).
    if std::env::args().any(|a| a == "scoped") {
        scoped().await;
        return;
    }
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
    println!();
    scoped().await;
}

/// The state a read from `since` leaves (the ids of the records updated at or after it, less
/// `lacking`: records tombstoned and then restored), positioned at the newest record.
fn state_since(records: &[Value], since: Option<&str>, lacking: &[u64]) -> SourceState {
    let given: Vec<&Value> = records
        .iter()
        .filter(|r| since.is_none_or(|s| r["updated_date"].as_str().unwrap() >= s))
        .collect();
    let id = |r: &Value| r["id"].as_u64().unwrap();
    let ids: roaring::RoaringTreemap = given
        .iter()
        .map(|r| id(r))
        .filter(|i| !lacking.contains(i))
        .collect();
    let (cursor, last) = given
        .iter()
        .map(|r| (r["updated_date"].as_str().unwrap().to_string(), id(r)))
        .max()
        .unwrap();
    let mut deletes = json!({"ids": encode_ids(&ids), "count": ids.len(), "reconciled_at": 0,
        "max_cursor": cursor, "top": given.iter().map(|r| id(r)).max()});
    if let Some(since) = since {
        deletes["since"] = json!(since);
    }
    let mut state = SourceState::default();
    state.streams.insert(
        "crm_account".into(),
        json!({"cursor_field": "updated_date", "cursor": cursor, "id": last, "deletes": deletes}),
    );
    state
}

/// A start date that leaves half the records given, and restores (records the destination
/// lacks that no incremental read brings): one reconciliation each way.
async fn scoped() {
    println!("| records | given | case | method | requests | of which get | time at 1 request/s | tombstones | sent again |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for n in [10_000usize, 100_000] {
        let emu = Emulator::start(EmulatorConfig {
            records_per_model: 1,
            model_records: HashMap::from([("crm/account".to_string(), n)]),
            ..Default::default()
        })
        .await
        .unwrap();
        let records = emu.records("crm", "account");
        let mut updated: Vec<&str> = records
            .iter()
            .map(|r| r["updated_date"].as_str().unwrap())
            .collect();
        updated.sort_unstable();
        let since = format!("{} 00:00:00", &updated[n / 2][..10]);
        let given: Vec<u64> = records
            .iter()
            .filter(|r| r["updated_date"].as_str().unwrap() >= since.as_str())
            .map(|r| r["id"].as_u64().unwrap())
            .collect();
        let all: Vec<u64> = records.iter().map(|r| r["id"].as_u64().unwrap()).collect();
        let restored_one = [all[n / 3]];
        let restored_ten: Vec<u64> = (1..=10).map(|i| all[i * n / 11]).collect();
        let gone = given[given.len() / 2];
        let cases = [
            (
                "start date, 1 delete",
                state_since(&records, Some(&since), &[]),
                given.len(),
            ),
            ("1 restore", state_since(&records, None, &restored_one), n - 1),
            ("10 restores", state_since(&records, None, &restored_ten), n - 10),
        ];
        let original = records.iter().find(|r| r["id"] == json!(gone)).unwrap();
        emu.second_client().delete_record("crm", "account", gone).unwrap();
        for (i, (case, state, given)) in cases.into_iter().enumerate() {
            if i == 1 {
                // The restore cases: every record there.
                emu.second_client()
                    .restore_record("crm", "account", original)
                    .unwrap();
            }
            for (name, method) in [("ranges", ReconcileMethod::Auto), ("scan", ReconcileMethod::Scan)] {
                emu.reset_stats();
                let src = source(&emu, method);
                let catalog = Stream::new("crm_account")
                    .sync("incremental")
                    .destination("append_dedup")
                    .key("id")
                    .configured();
                let events: Vec<SourceEvent> = src.reconcile(&catalog, &state).collect().await;
                let tombstones = events
                    .iter()
                    .filter(|e| matches!(e, SourceEvent::Delete(_)))
                    .count();
                let resent: usize = events
                    .iter()
                    .map(|e| match e {
                        SourceEvent::Records(page) => page.len(),
                        _ => 0,
                    })
                    .sum();
                let stats = emu.stats();
                let gets: u64 = stats
                    .by_path
                    .iter()
                    .filter(|(path, _)| path.contains("/get/"))
                    .map(|(_, by)| by.values().sum::<u64>())
                    .sum();
                let secs = stats.total;
                println!(
                    "| {n} | {given} | {case} | {name} | {} | {gets} | {} min {} s | {tombstones} | {resent} |",
                    stats.total,
                    secs / 60,
                    secs % 60
                );
            }
        }
        emu.shutdown().await;
    }
}
