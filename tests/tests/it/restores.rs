//! Reconciliation beyond deletes: a record deleted (tombstoned) and then restored with its old
//! `updated_date`, which no incremental read brings, is sent again by the next reconciliation,
//! once, with Flowlu's content, and a destination merging by id keeps it; with a start date,
//! counting id ranges counts only the records the destination was given (those updated since
//! the start date), so it costs a few requests instead of a scan and never tombstones a record
//! older than the start date.

use std::collections::BTreeMap;

use connector_core::{
    ConfiguredCatalog, Credential, LogLevel, Source, SourceEvent, SourceState, Tombstone, DELETED_AT,
};
use connector_flowlu::{FlowluCredential, FlowluSource, ReconcileMethod};
use flowlu_emulator::{ApiKey, Emulator, EmulatorConfig};
use futures::StreamExt;
use integration_tests::{as_passed_on, config_json, fast_limiter, CANARY_KEY};
use serde_json::{json, Value};

const LIST: &str = "/api/v1/module/crm/account/list";

async fn emulator(accounts: usize) -> Emulator {
    Emulator::start(EmulatorConfig {
        seed: 11,
        records_per_model: 5,
        model_records: [("crm/account".to_string(), accounts)].into_iter().collect(),
        keys: vec![ApiKey::all_modules(CANARY_KEY)],
        ..Default::default()
    })
    .await
    .unwrap()
}

fn source(emu: &Emulator, advanced: Value) -> FlowluSource {
    let mut config = config_json("acme");
    config["advanced"] = advanced;
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url());
    FlowluSource::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(2, 2))
}

fn dedup_catalog() -> ConfiguredCatalog {
    serde_json::from_value(json!({"streams": [{
        "stream": {"name": "crm_account", "json_schema": {}},
        "sync_mode": "incremental",
        "destination_sync_mode": "append_dedup",
        "primary_key": [["id"]],
        "cursor_field": ["updated_date"],
    }]}))
    .unwrap()
}

#[derive(Debug, Default)]
struct Read {
    records: Vec<Value>,
    tombstones: Vec<Tombstone>,
    logs: Vec<(LogLevel, String)>,
    state: Option<Value>,
    rows: Vec<Value>,
}

fn collect(events: Vec<SourceEvent>) -> Read {
    assert!(!format!("{events:?}").contains(CANARY_KEY), "the key leaked");
    let mut read = Read::default();
    let record = |read: &mut Read, data: Value| {
        read.rows.push(data.clone());
        read.records.push(data);
    };
    for event in events {
        match event {
            SourceEvent::Record(r) => record(&mut read, r.data),
            SourceEvent::Records(page) => {
                for raw in page.iter() {
                    record(&mut read, serde_json::from_str(raw.get()).unwrap());
                }
            }
            SourceEvent::Delete(t) => {
                read.rows.push(t.to_record_data());
                read.tombstones.push(t);
            }
            SourceEvent::Checkpoint(c) => read.state = Some(c.state),
            SourceEvent::Log { level, message } => read.logs.push((level, message)),
            SourceEvent::Error { stream, failure } => panic!("{stream:?} failed: {failure:?}"),
            _ => {}
        }
    }
    read
}

fn saved(state: &Value) -> SourceState {
    let mut saved = SourceState::default();
    saved.streams.insert("crm_account".into(), state.clone());
    saved
}

async fn read(src: &FlowluSource, state: Option<&Value>) -> Read {
    let saved = state.map(saved).unwrap_or_default();
    collect(src.read_parsed(&dedup_catalog(), &saved).collect().await)
}

async fn reconcile(src: &FlowluSource, state: &Value) -> Read {
    collect(src.reconcile(&dedup_catalog(), &saved(state)).collect().await)
}

/// The state with its last reconciliation long ago: one is due.
fn due(state: &Value) -> Value {
    let mut state = state.clone();
    state["deletes"]["reconciled_at"] = json!(0);
    state
}

fn ids(records: &[Value]) -> Vec<u64> {
    let mut ids: Vec<u64> = records.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    ids
}

fn tombstone_ids(read: &Read) -> Vec<u64> {
    let mut ids: Vec<u64> = read.tombstones.iter().map(|t| t.id.as_u64().unwrap()).collect();
    ids.sort_unstable();
    ids
}

/// Append Deduped as destinations do it: per id, the row with the newest cursor wins (a tie:
/// the later row); a winning row with `_ab_cdc_deleted_at` set deletes the id.
fn merge(rows: &[Value]) -> BTreeMap<u64, Value> {
    let mut table: BTreeMap<u64, Value> = BTreeMap::new();
    for row in rows {
        let id = row["id"].as_u64().unwrap();
        let newer = table
            .get(&id)
            .is_none_or(|old| row["updated_date"].as_str() >= old["updated_date"].as_str());
        if newer {
            table.insert(id, row.clone());
        }
    }
    table.retain(|_, row| row.get(DELETED_AT).is_none_or(Value::is_null));
    table
}

fn info(read: &Read, starts: &str) -> String {
    read.logs
        .iter()
        .find(|(level, m)| *level == LogLevel::Info && m.starts_with(starts))
        .unwrap_or_else(|| panic!("no log starting {starts:?}: {:?}", read.logs))
        .1
        .clone()
}

#[tokio::test]
async fn a_record_restored_with_its_old_updated_date_is_sent_again_once_and_kept() {
    let emu = emulator(230).await;
    let src = source(&emu, json!({"page_size": 50, "deletes": 1}));
    let first = read(&src, None).await;
    assert_eq!(first.records.len(), 230);
    let state = first.state.clone().unwrap();
    let id = 117;
    let original = emu
        .records("crm", "account")
        .into_iter()
        .find(|r| r["id"] == json!(id))
        .unwrap();

    emu.second_client().delete_record("crm", "account", id).unwrap();
    let second = read(&src, Some(&due(&state))).await;
    assert_eq!(tombstone_ids(&second), [id]);
    assert!(second.records.is_empty());
    let tombstone_cursor = second.tombstones[0].cursor.clone().unwrap().1;
    let state = second.state.clone().unwrap();
    assert_eq!(state["deletes"]["count"], json!(229));
    assert_eq!(state["deletes"]["top"], json!(230));

    // Restored as it was, its old `updated_date` included: the stand-in refuses it twice.
    emu.second_client()
        .restore_record("crm", "account", &original)
        .unwrap();
    assert!(emu
        .second_client()
        .restore_record("crm", "account", &original)
        .is_err());
    assert_eq!(emu.count("crm", "account"), 230);
    let early = read(&src, Some(&state)).await;
    assert!(
        early.records.is_empty() && early.tombstones.is_empty(),
        "no incremental read sees a restore"
    );

    emu.reset_stats();
    let third = read(&src, Some(&due(&state))).await;
    assert!(third.tombstones.is_empty(), "{:?}", third.tombstones);
    // Flowlu's content, the cursor raised to the tombstone's (so a destination keeping the
    // newest cursor of an id keeps the record), Flowlu's value kept beside it.
    let mut expected = as_passed_on("crm_account", &original);
    expected["updated_date"] = tombstone_cursor.clone();
    expected["_flowlu_raw_values"] = json!({"updated_date": original["updated_date"]});
    assert_eq!(third.records, [expected.clone()]);
    // The incremental read: one empty page. The reconciliation: the counts above id 0 and
    // the highest id given (230), then halving the 229 ids given (the counts above ids 114,
    // 172 and 143) down to the 28 ids given in 115..=143, one list of them; no `get` (nothing
    // to confirm).
    let stats = emu.stats();
    assert_eq!(stats.path_total(LIST), 1 + 6);
    assert_eq!(
        stats.path_total(&format!("/api/v1/module/crm/account/get/{id}")),
        0
    );
    assert_eq!(
        info(&third, "crm_account: reconciled"),
        "crm_account: reconciled 229 ids given with Flowlu in 6 requests (id ranges counted): 0 deleted, 1 sent again"
    );
    assert_eq!(
        info(&third, "crm_account: 1 records"),
        "crm_account: 1 records Flowlu holds that the destination was not given and no incremental read brings (restored with their old cursor) sent again, their cursor raised to the newest passed on (the value Flowlu sent kept in _flowlu_raw_values): ids 117"
    );
    let last = third.state.clone().unwrap();
    assert_eq!(last["deletes"]["count"], json!(230));

    // A destination merging by id ends with the portal's records (the restored one as sent).
    let rows: Vec<Value> = [&first, &second, &third]
        .iter()
        .flat_map(|r| r.rows.iter().cloned())
        .collect();
    let mut portal: BTreeMap<u64, Value> = emu
        .records("crm", "account")
        .into_iter()
        .map(|r| (r["id"].as_u64().unwrap(), as_passed_on("crm_account", &r)))
        .collect();
    portal.insert(id, expected.clone());
    assert_eq!(merge(&rows), portal);

    // Listing every id finds it the same way.
    let scanned = reconcile(
        &src.clone().with_reconcile_method(ReconcileMethod::Scan),
        &due(&state),
    )
    .await;
    assert_eq!((scanned.records, scanned.tombstones.len()), (vec![expected], 0));

    // Sent once: the next reconciliation finds nothing.
    let fourth = read(&src, Some(&due(&last))).await;
    assert!(fourth.records.is_empty() && fourth.tombstones.is_empty());
    assert_eq!(
        info(&fourth, "crm_account: reconciled"),
        "crm_account: reconciled 230 ids given with Flowlu in 2 requests (id ranges counted): 0 deleted, 0 sent again"
    );
}

#[tokio::test]
async fn with_a_start_date_id_ranges_count_only_the_records_given() {
    let emu = emulator(2000).await;
    let mut updated: Vec<String> = emu
        .records("crm", "account")
        .iter()
        .map(|r| r["updated_date"].as_str().unwrap().to_string())
        .collect();
    updated.sort();
    let start_date = updated[1000][..10].to_string();
    let since = format!("{start_date} 00:00:00");
    let advanced = json!({"page_size": 100, "deletes": 24, "start_date": start_date});
    let src = source(&emu, advanced.clone());
    let first = read(&src, None).await;
    let records = emu.records("crm", "account");
    let (given, older): (Vec<&Value>, Vec<&Value>) = records
        .iter()
        .partition(|r| r["updated_date"].as_str().unwrap() >= since.as_str());
    let given = ids(&given.into_iter().cloned().collect::<Vec<_>>());
    let older = ids(&older.into_iter().cloned().collect::<Vec<_>>());
    assert_eq!(ids(&first.records), given);
    assert!(
        given.len() > 900 && older.len() > 900,
        "{} {}",
        given.len(),
        older.len()
    );
    let state = first.state.unwrap();
    assert_eq!(state["deletes"]["since"], json!(since));

    // One record given and one never given (older than the start date) deleted.
    let (gone, gone_older) = (given[given.len() / 2], older[older.len() / 2]);
    emu.second_client().delete_record("crm", "account", gone).unwrap();
    emu.second_client()
        .delete_record("crm", "account", gone_older)
        .unwrap();
    let mut requests = Vec::new();
    for method in [ReconcileMethod::Auto, ReconcileMethod::Scan] {
        emu.reset_stats();
        let src = source(&emu, advanced.clone()).with_reconcile_method(method);
        let found = reconcile(&src, &state).await;
        assert_eq!(tombstone_ids(&found), [gone], "{method:?}");
        assert!(found.records.is_empty(), "{method:?}: {:?}", found.records);
        let stats = emu.stats();
        requests.push((
            stats.path_total(LIST),
            stats.path_total(&format!("/api/v1/module/crm/account/get/{gone}")),
        ));
        let log = info(&found, "crm_account: reconciled");
        let how = match method {
            ReconcileMethod::Auto => "(id ranges counted)",
            ReconcileMethod::Scan => "(every id listed)",
        };
        assert!(log.contains(how), "{log}");
    }
    // Counting the records updated since the start date: 2 bounds, about log2(1000/100)
    // halvings, one list of the changed range (before the counts were filtered by the start
    // date, every range differed and the reconciliation listed every id); listing every id:
    // 19 pages of 100 and the last, short one. Each: one `get` confirming the delete.
    assert_eq!(requests, [(7, 1), (20, 1)]);
}
