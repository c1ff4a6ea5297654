//! Reconciliation (deletes and restores) as tests drive it: a stand-in of accounts, a source
//! with a fast limiter, the `append_dedup` catalog deletes are applied in, a read or a
//! reconciliation collected as records, tombstones, logs and the last state, a state made due,
//! and a destination merging rows by id.

use std::collections::BTreeMap;

use connector_core::{
    ConfiguredCatalog, Credential, LogLevel, Source, SourceEvent, SourceState, Tombstone, DELETED_AT,
};
use connector_flowlu::{FlowluCredential, FlowluSource};
use flowlu_emulator::Emulator;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::stand_in::StandIn;
use crate::{config_json, fast_limiter, CANARY_KEY};

/// A stand-in of `accounts` accounts and 5 records in every other model (seed 11, the canary
/// key).
pub async fn stand_in(accounts: usize) -> Emulator {
    StandIn::new()
        .seed(11)
        .records_per_model(5)
        .accounts(accounts)
        .key(CANARY_KEY)
        .start()
        .await
}

/// A source on `emu` with `advanced` settings, its limiter fast (2 in flight, 2 retries).
pub fn source(emu: &Emulator, advanced: Value) -> FlowluSource {
    let mut config = config_json("acme");
    config["advanced"] = advanced;
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url());
    FlowluSource::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(2, 2))
}

/// `crm_account`, incremental, deduplicated by id (where deletes are applied).
pub fn dedup_catalog() -> ConfiguredCatalog {
    serde_json::from_value(json!({"streams": [{
        "stream": {"name": "crm_account", "json_schema": {}},
        "sync_mode": "incremental",
        "destination_sync_mode": "append_dedup",
        "primary_key": [["id"]],
        "cursor_field": ["updated_date"],
    }]}))
    .unwrap()
}

/// What a read gave: records, tombstones, logs, the last state.
#[derive(Debug, Default)]
pub struct Read {
    /// Records, as parsed (a page of records as sent is parsed record by record).
    pub records: Vec<Value>,
    /// Tombstones.
    pub tombstones: Vec<Tombstone>,
    /// Every log, with its level.
    pub logs: Vec<(LogLevel, String)>,
    /// The last checkpoint's state.
    pub state: Option<Value>,
    /// Records and tombstones in the order they came.
    pub rows: Vec<Value>,
}

/// Collects `events`; fails on an error event or if the canary key is in any of them.
pub fn collect(events: Vec<SourceEvent>) -> Read {
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

/// `state` as the saved state of `crm_account`.
pub fn saved(state: &Value) -> SourceState {
    let mut saved = SourceState::default();
    saved.streams.insert("crm_account".into(), state.clone());
    saved
}

/// Reads [`dedup_catalog`] from `state` (none: from the start).
pub async fn read(src: &FlowluSource, state: Option<&Value>) -> Read {
    read_catalog(src, &dedup_catalog(), state).await
}

/// Reads `catalog` from `state` (none: from the start).
pub async fn read_catalog(src: &FlowluSource, catalog: &ConfiguredCatalog, state: Option<&Value>) -> Read {
    let saved = state.map(saved).unwrap_or_default();
    collect(src.read_parsed(catalog, &saved).collect().await)
}

/// Reconciles [`dedup_catalog`] from `state`.
pub async fn reconcile(src: &FlowluSource, state: &Value) -> Read {
    collect(src.reconcile(&dedup_catalog(), &saved(state)).collect().await)
}

/// The state with its last reconciliation long ago: one is due.
pub fn due(state: &Value) -> Value {
    let mut state = state.clone();
    state["deletes"]["reconciled_at"] = json!(0);
    state
}

/// The ids of `records`, sorted.
pub fn ids(records: &[Value]) -> Vec<u64> {
    let mut ids: Vec<u64> = records.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    ids
}

/// The ids of the tombstones of `read`, sorted.
pub fn tombstone_ids(read: &Read) -> Vec<u64> {
    let mut ids: Vec<u64> = read.tombstones.iter().map(|t| t.id.as_u64().unwrap()).collect();
    ids.sort_unstable();
    ids
}

/// Append Deduped as destinations do it: per id, the row with the newest cursor wins (a tie:
/// the later row); a winning row with `_ab_cdc_deleted_at` set deletes the id.
pub fn merge(rows: &[Value]) -> BTreeMap<u64, Value> {
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

/// The one INFO log of `read` starting with `starts`.
pub fn info(read: &Read, starts: &str) -> String {
    read.logs
        .iter()
        .find(|(level, m)| *level == LogLevel::Info && m.starts_with(starts))
        .unwrap_or_else(|| panic!("no log starting {starts:?}: {:?}", read.logs))
        .1
        .clone()
}
