//! A sync where nothing changed costs what it must and no more: per stream kind, the requests
//! a second read makes from the first one's states; and discover's per-model probe is not
//! repeated by a read of the same source.

use std::collections::BTreeMap;

use connector_core::{ConfiguredCatalog, Credential, Source, SourceState};
use connector_flowlu::testing::MODELS;
use connector_flowlu::{FlowluCredential, FlowluSource};
use flowlu_emulator::{ApiKey, Emulator, EmulatorConfig};
use futures::StreamExt;
use integration_tests::{config_json, run_cli, temp_json, CANARY_KEY};
use serde_json::{json, Value};

const RECORDS: usize = 30;
/// The full-refresh streams' pages at 300 records a model (measured; some models hold fewer).
const FULL_AT_300: u64 = 70;

async fn portal() -> Emulator {
    portal_of(RECORDS).await
}

async fn portal_of(records: usize) -> Emulator {
    Emulator::start(EmulatorConfig {
        records_per_model: records,
        keys: vec![ApiKey::all_modules(CANARY_KEY)],
        ..Default::default()
    })
    .await
    .unwrap()
}

/// List requests per stream since `before`.
fn lists(emu: &Emulator, before: &flowlu_emulator::Stats) -> BTreeMap<&'static str, u64> {
    let after = emu.stats();
    MODELS
        .iter()
        .map(|m| {
            let path = format!("/api/v1/module/{}/{}/list", m.module, m.model);
            (m.stream, after.path_total(&path) - before.path_total(&path))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_where_nothing_changed_reads_one_page_per_incremental_stream() {
    no_change_sync(RECORDS, 19).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_300_records_a_stream_the_full_refresh_streams_cost_their_pages() {
    // The stand-in answers at most 100 records a page: 3 full pages and the empty one for
    // the models of 300 records.
    no_change_sync(300, FULL_AT_300).await;
}

/// Reads every stream twice, the second time from the first's states, and checks the second
/// read's list requests: one per incremental stream, each full-refresh stream's pages
/// (`expected_full_requests` together).
async fn no_change_sync(records_per_model: usize, expected_full_requests: u64) {
    let emu = portal_of(records_per_model).await;
    let config = temp_json(&config_json("acme"));
    let c = config.path().to_str().unwrap();
    let discovered = run_cli(&["discover", "--config", c], Some(&emu.base_url()), "").await;
    assert_eq!(discovered.code, 0);
    let streams: Vec<Value> = discovered.messages[0]["catalog"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let incremental = s["supported_sync_modes"]
                .as_array()
                .unwrap()
                .contains(&json!("incremental"));
            json!({"stream": s, "sync_mode": if incremental {"incremental"} else {"full_refresh"},
                   "destination_sync_mode": "append"})
        })
        .collect();
    let catalog = temp_json(&json!({ "streams": streams }));
    let k = catalog.path().to_str().unwrap();
    let first = run_cli(
        &["read", "--config", c, "--catalog", k],
        Some(&emu.base_url()),
        "",
    )
    .await;
    assert_eq!(first.code, 0, "{}", first.stdout);
    let states: Vec<Value> = first
        .messages
        .iter()
        .filter(|m| m["type"] == "STATE")
        .map(|m| m["state"].clone())
        .collect();
    let state = temp_json(&Value::Array(states));
    let before = emu.stats();
    let args = [
        "read",
        "--config",
        c,
        "--catalog",
        k,
        "--state",
        state.path().to_str().unwrap(),
    ];
    let second = run_cli(&args, Some(&emu.base_url()), "").await;
    assert_eq!(second.code, 0, "{}", second.stdout);
    let records = second.messages.iter().filter(|m| m["type"] == "RECORD").count();
    let requests = lists(&emu, &before);
    assert_eq!(
        emu.stats().total - before.total,
        requests.values().sum::<u64>(),
        "list requests only"
    );
    let per_stream = |run: &integration_tests::Run| {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for m in run.messages.iter().filter(|m| m["type"] == "RECORD") {
            *counts
                .entry(m["record"]["stream"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        counts
    };
    let (was, now) = (per_stream(&first), per_stream(&second));
    let (mut incremental, mut full, mut full_requests) = (0, 0, 0);
    for model in MODELS {
        let n = requests[model.stream];
        if model.cursor.is_some() {
            // The page after the saved cursor (the second before it and on, so that a
            // record saved within that second is not missed): needed to learn that nothing
            // is newer.
            assert_eq!(n, 1, "{}: one page from the saved cursor", model.stream);
            incremental += 1;
        } else {
            // No change time: read in full (the stand-in answers at most 100 a page; a read
            // ends on a short or empty page), the same records again.
            let records = was.get(model.stream).copied().unwrap_or(0);
            assert_eq!(n, records / 100 + 1, "{}: read in full", model.stream);
            assert_eq!(now.get(model.stream), was.get(model.stream), "{}", model.stream);
            full += 1;
            full_requests += n;
        }
    }
    assert_eq!((incremental, full), (30, 19), "stream kinds");
    assert_eq!(
        full_requests, expected_full_requests,
        "the full-refresh streams' pages"
    );
    eprintln!(
        "no-change sync: {} list requests ({incremental} incremental streams, {full} full refresh), {records} records",
        requests.values().sum::<u64>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_after_discover_on_the_same_source_does_not_probe_again() {
    let emu = portal().await;
    let credential = || {
        FlowluCredential::from_config(&config_json("acme"))
            .unwrap()
            .with_base_url(emu.base_url())
    };
    let catalog = {
        let source = FlowluSource::from_credential(&credential()).unwrap();
        source.discover().await.unwrap()
    };
    let configured = ConfiguredCatalog::from_catalog(&catalog);
    let state = SourceState::default();
    let start = emu.stats();
    let source = FlowluSource::from_credential(&credential()).unwrap();
    source.discover().await.unwrap();
    let discover = emu.stats().total - start.total;
    let before = emu.stats();
    source.read(&configured, &state).for_each(|_| async {}).await;
    let after_discover = emu.stats().total - before.total;
    let before = emu.stats();
    let alone = FlowluSource::from_credential(&credential()).unwrap();
    alone.read(&configured, &state).for_each(|_| async {}).await;
    let read_alone = emu.stats().total - before.total;
    // 49 probes (one per model) and one page of custom fields; the read after it sends no
    // probe: exactly what a read alone sends.
    assert_eq!(discover, 50);
    assert_eq!(after_discover, read_alone);
}
