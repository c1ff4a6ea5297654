//! The source against the local stand-in: exactly the stand-in's records, incremental reads
//! that see exactly what changed in between, reads resumed from every emitted state that lose
//! and repeat nothing, and the same records whatever quirks and faults the server has (a table
//! of stand-ins, one row per quirk, run by one driver).

use std::collections::BTreeMap;

use connector_core::{ConfiguredCatalog, Credential, Source, SourceEvent, SourceState};
use connector_flowlu::FlowluCredential;
use connector_flowlu::FlowluSource;
use flowlu_emulator::{Emulator, Faults, MutationPlan, Quirks, TotalField};
use futures::StreamExt;
use integration_tests::catalog::Catalog;
use integration_tests::stand_in::StandIn;
use integration_tests::{config_json, fast_limiter, CANARY_KEY};
use serde_json::{json, Value};

const ACCOUNTS: usize = 230;
const PIPELINES: usize = 120;

fn source(emu: &Emulator, page_size: u32) -> FlowluSource {
    let mut config = config_json("acme");
    config["advanced"] = json!({"page_size": page_size, "max_concurrency": 4});
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url());
    FlowluSource::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(4, 10))
}

/// What a read produced for one stream: records and checkpoints, in order.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Record(Value),
    State(Value),
}

/// Reads and groups the records and states by stream; fails on any error.
async fn read(
    source: &FlowluSource,
    catalog: &ConfiguredCatalog,
    state: &SourceState,
) -> BTreeMap<String, Vec<Item>> {
    let events: Vec<SourceEvent> = source.read_parsed(catalog, state).collect().await;
    assert!(!format!("{events:?}").contains(CANARY_KEY), "the key leaked");
    let mut streams: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    for event in events {
        match event {
            SourceEvent::Record(r) => streams.entry(r.stream).or_default().push(Item::Record(r.data)),
            SourceEvent::Checkpoint(c) => streams.entry(c.stream).or_default().push(Item::State(c.state)),
            SourceEvent::Error { stream, failure } => panic!("{stream:?} failed: {failure:?}"),
            _ => {}
        }
    }
    streams
}

fn records(items: &[Item]) -> Vec<Value> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Record(r) => Some(r.clone()),
            Item::State(_) => None,
        })
        .collect()
}

fn by_id(mut records: Vec<Value>) -> Vec<Value> {
    records.sort_by_key(|r| r["id"].as_u64());
    records
}

/// The state after a read: the last checkpoint of every stream.
fn final_state(read: &BTreeMap<String, Vec<Item>>) -> SourceState {
    let mut state = SourceState::default();
    for (stream, items) in read {
        if let Some(Item::State(s)) = items.iter().rev().find(|i| matches!(i, Item::State(_))) {
            state.streams.insert(stream.clone(), s.clone());
        }
    }
    state
}

/// The records read, by id, are exactly `expected` as the source passes them on (ids compared first, for a short message).
fn same(read: &[Item], stream: &str, expected: Vec<Value>, case: &str) {
    let expected = integration_tests::all_passed_on(stream, expected);
    let got = by_id(records(read));
    let ids = |r: &[Value]| r.iter().map(|r| r["id"].as_u64().unwrap()).collect::<Vec<_>>();
    assert_eq!(ids(&got), ids(&expected), "{case}");
    assert!(got == expected, "{case}: same ids, different data");
}

fn both() -> ConfiguredCatalog {
    Catalog::syncs(&[("crm_account", "incremental"), ("crm_pipeline", "full_refresh")])
        .without_destination()
        .configured()
}

/// A first read, a mutation, a second read from the first one's state: the first read holds
/// exactly the stand-in's records, the second exactly the changed and new accounts and every
/// pipeline again.
async fn read_mutate_read(emu: &Emulator, page_size: u32, case: &str) {
    let src = source(emu, page_size);
    let first = read(&src, &both(), &SourceState::default()).await;
    same(
        &first["crm_account"],
        "crm_account",
        emu.records("crm", "account"),
        case,
    );
    same(
        &first["crm_pipeline"],
        "crm_pipeline",
        emu.records("crm", "pipeline"),
        case,
    );
    let changed = emu
        .mutate(
            "crm",
            "account",
            3,
            MutationPlan {
                updates: 7,
                deletes: 3,
                inserts: 4,
            },
        )
        .unwrap();
    let second = read(&src, &both(), &final_state(&first)).await;
    let touched: Vec<u64> = changed.updated.iter().chain(&changed.inserted).copied().collect();
    let expected: Vec<Value> = emu
        .records("crm", "account")
        .into_iter()
        .filter(|r| r["id"].as_u64().is_some_and(|id| touched.contains(&id)))
        .collect();
    assert_eq!(expected.len(), 11);
    same(&second["crm_account"], "crm_account", expected, case);
    same(
        &second["crm_pipeline"],
        "crm_pipeline",
        emu.records("crm", "pipeline"),
        case,
    );
}

/// The stand-in every test here reads: 230 accounts, 120 pipelines, 5 records in every other
/// model (seed 7, the canary key).
async fn portal() -> Emulator {
    StandIn::new()
        .seed(7)
        .records_per_model(5)
        .accounts(ACCOUNTS)
        .model("crm/pipeline", PIPELINES)
        .key(CANARY_KEY)
        .start()
        .await
}

/// A row of the read-mutate-read table: the stand-in's quirks and faults, and whether a third
/// read checks that incremental records come in (cursor, id) order.
struct ReadRow {
    name: String,
    quirks: Quirks,
    faults: Faults,
    ordered: bool,
}

/// The table: the stand-in as it is (the records in order), then each quirk under faults.
fn read_rows() -> Vec<ReadRow> {
    let faults = Faults {
        rate_limit: 0.05,
        rate_limit_no_retry_after: 0.03,
        retry_after_secs: 0,
        server_error_500: 0.03,
        unavailable_503: 0.03,
        error_13: 0.03,
        drop_mid_body: 0.02,
        truncated_json: 0.02,
        ..Faults::none()
    };
    let quirks = [
        Quirks {
            page_size_cap: Some(30),
            ..Quirks::default()
        },
        Quirks {
            ignore_order_by: true,
            ..Quirks::default()
        },
        Quirks {
            ignore_page: true,
            ..Quirks::default()
        },
        Quirks {
            ignore_filters: true,
            ..Quirks::default()
        },
        Quirks {
            total_field: TotalField::TotalResult,
            ..Quirks::default()
        },
    ];
    let mut rows = vec![ReadRow {
        name: "no quirks".to_string(),
        quirks: Quirks::default(),
        faults: Faults::none(),
        ordered: true,
    }];
    rows.extend(quirks.into_iter().map(|quirks| ReadRow {
        name: format!("{quirks:?}"),
        quirks,
        faults,
        ordered: false,
    }));
    rows
}

/// Every row of the table on a stand-in of its own: incremental reads see exactly what changed
/// in between, and quirks and faults do not change what is read (faults were injected: some
/// answers were refusals or server errors).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_see_exactly_what_changed_in_between_whatever_the_quirks_and_faults() {
    let rows = read_rows();
    assert_eq!(rows.len(), 6);
    let mut failed_answers = 0;
    for row in &rows {
        let emu = portal().await;
        emu.set_quirks(row.quirks);
        emu.set_faults(row.faults);
        read_mutate_read(&emu, 50, &row.name).await;
        let stats = emu.stats();
        if row.faults.any() {
            failed_answers += [429, 500, 503].map(|s| stats.status_total(s)).iter().sum::<u64>();
        }
        if row.ordered {
            let src = source(&emu, 50);
            let first = read(&src, &both(), &SourceState::default()).await;
            let keys: Vec<(String, u64)> = records(&first["crm_account"])
                .iter()
                .map(|r| {
                    (
                        r["updated_date"].as_str().unwrap().to_string(),
                        r["id"].as_u64().unwrap(),
                    )
                })
                .collect();
            assert!(
                keys.windows(2).all(|w| w[0] < w[1]),
                "{}: incremental records come in (cursor, id) order",
                row.name
            );
        }
    }
    assert!(failed_answers > 0, "faults were injected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_resumed_from_any_emitted_state_loses_and_repeats_nothing() {
    let emu = portal().await;
    let src = source(&emu, 40);
    let full = read(&src, &both(), &SourceState::default()).await;
    for (stream, items) in &full {
        let mode = if stream == "crm_account" {
            "incremental"
        } else {
            "full_refresh"
        };
        let one = Catalog::syncs(&[(stream.as_str(), mode)])
            .without_destination()
            .configured();
        let checkpoints: Vec<usize> = (0..items.len())
            .filter(|&i| matches!(items[i], Item::State(_)))
            .collect();
        assert!(checkpoints.len() >= 4, "{stream}: a checkpoint per page");
        for &at in &checkpoints[..checkpoints.len() - 1] {
            let Item::State(saved) = &items[at] else {
                unreachable!()
            };
            let state = SourceState {
                streams: [(stream.clone(), saved.clone())].into(),
            };
            let resumed = read(&src, &one, &state).await;
            assert_eq!(
                records(&resumed[stream]),
                records(&items[at + 1..]),
                "{stream} resumed from {saved}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_changed_during_an_incremental_read_shift_no_record_out_of_it() {
    let emu = portal().await;
    let mut config = config_json("acme");
    config["advanced"] = json!({"page_size": 20, "max_concurrency": 1});
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url());
    let src = FlowluSource::from_credential(&credential).unwrap();
    let cat = Catalog::syncs(&[("crm_account", "incremental")])
        .without_destination()
        .configured();
    let state = SourceState::default();
    let mut events = src.read_parsed(&cat, &state);
    let (mut ids, mut checkpoints) = (Vec::new(), 0);
    while let Some(event) = events.next().await {
        match event {
            SourceEvent::Record(r) => ids.push(r.data["id"].as_u64().unwrap()),
            SourceEvent::Checkpoint(_) => {
                checkpoints += 1;
                if checkpoints == 2 {
                    // Records early in the order move to its end while the read goes on.
                    emu.mutate(
                        "crm",
                        "account",
                        11,
                        MutationPlan {
                            updates: 40,
                            deletes: 0,
                            inserts: 0,
                        },
                    )
                    .unwrap();
                }
            }
            SourceEvent::Error { failure, .. } => panic!("{failure:?}"),
            _ => {}
        }
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids,
        (1..=ACCOUNTS as u64).collect::<Vec<_>>(),
        "every record was read at least once"
    );
}

#[tokio::test]
async fn a_state_this_connector_did_not_write_restarts_the_stream_with_a_warning() {
    let emu = portal().await;
    let source = source(&emu, 100);
    let foreign = json!({"updated_at": "yesterday"});
    let state = SourceState {
        streams: [("crm_account".to_string(), foreign)].into(),
    };
    let events: Vec<SourceEvent> = source
        .read_parsed(
            &Catalog::syncs(&[("crm_account", "incremental")])
                .without_destination()
                .configured(),
            &state,
        )
        .collect()
        .await;
    let warnings: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            SourceEvent::Log {
                level: connector_core::LogLevel::Warn,
                message,
            } => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        warnings,
        ["crm_account: the saved state {\"updated_at\":\"yesterday\"} is not a position this connector wrote for this sync mode: reading the stream from the start"]
    );
    let records = events
        .iter()
        .filter(|e| matches!(e, SourceEvent::Record(_)))
        .count();
    assert_eq!(records, ACCOUNTS, "every record is read again");
    // The states the connector writes are recognised: a second read from them warns of nothing.
    let last = events
        .iter()
        .rev()
        .find_map(|e| match e {
            SourceEvent::Checkpoint(c) => Some(c.state.clone()),
            _ => None,
        })
        .unwrap();
    let state = SourceState {
        streams: [("crm_account".to_string(), last)].into(),
    };
    let again: Vec<SourceEvent> = source
        .read_parsed(
            &Catalog::syncs(&[("crm_account", "incremental")])
                .without_destination()
                .configured(),
            &state,
        )
        .collect()
        .await;
    assert!(
        !again.iter().any(|e| matches!(
            e,
            SourceEvent::Log {
                level: connector_core::LogLevel::Warn,
                ..
            }
        )),
        "{again:?}"
    );
}

#[tokio::test]
async fn read_passes_pages_of_records_as_sent_which_parse_to_what_read_parsed_gives() {
    let emu = portal().await;
    let source = source(&emu, 100);
    let cat = Catalog::syncs(&[("crm_account", "full_refresh")])
        .without_destination()
        .configured();
    let state = SourceState::default();
    let events: Vec<SourceEvent> = source.read(&cat, &state).collect().await;
    assert!(
        !events.iter().any(|e| matches!(e, SourceEvent::Record(_))),
        "records come a page at a time"
    );
    let pages: Vec<&connector_core::RawRecords> = events
        .iter()
        .filter_map(|e| match e {
            SourceEvent::Records(page) => Some(page),
            _ => None,
        })
        .collect();
    let sizes: Vec<(&str, usize)> = pages.iter().map(|p| (p.stream(), p.len())).collect();
    assert_eq!(
        sizes,
        [("crm_account", 100), ("crm_account", 100), ("crm_account", 30)]
    );
    for page in &pages {
        for text in page.iter() {
            let compact = serde_json::to_string(&serde_json::from_str::<Value>(text.get()).unwrap()).unwrap();
            assert_eq!(text.get(), compact, "one compact JSON text per record");
        }
    }
    let raw: Vec<Value> = pages
        .iter()
        .flat_map(|p| p.to_records())
        .map(|r| r.data)
        .collect();
    let parsed: Vec<Value> = source
        .read_parsed(&cat, &state)
        .filter_map(|e| async move {
            match e {
                SourceEvent::Record(r) => Some(r.data),
                _ => None,
            }
        })
        .collect()
        .await;
    assert_eq!(raw.len(), ACCOUNTS);
    assert_eq!(raw, parsed);
}
