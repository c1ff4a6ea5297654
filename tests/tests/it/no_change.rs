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

async fn portal() -> Emulator {
    Emulator::start(EmulatorConfig {
        records_per_model: RECORDS,
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
    let emu = portal().await;
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
    let (mut incremental, mut full) = (0, 0);
    for model in MODELS {
        let n = requests[model.stream];
        if model.cursor.is_some() {
            // The page after the saved cursor (the second before it and on, so that a
            // record saved within that second is not missed): the saved position's records
            // only, and nothing after it.
            assert_eq!(n, 1, "{}: one page from the saved cursor", model.stream);
            incremental += 1;
        } else {
            // No change time: the stream is read in full (30 records, one page).
            assert_eq!(n, 1, "{}: read in full", model.stream);
            full += 1;
        }
    }
    assert_eq!((incremental, full), (30, 19), "stream kinds");
    // The full-refresh streams' records again, as the first read sent them.
    let per_stream = |run: &integration_tests::Run| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for m in run.messages.iter().filter(|m| m["type"] == "RECORD") {
            *counts
                .entry(m["record"]["stream"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        counts
    };
    let (was, now) = (per_stream(&first), per_stream(&second));
    for model in MODELS.iter().filter(|m| m.cursor.is_none()) {
        assert_eq!(now.get(model.stream), was.get(model.stream), "{}", model.stream);
    }
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
