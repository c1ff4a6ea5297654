//! Deletes reach the destination: records deleted in the stand-in come out of a read with
//! reconciliation due as tombstones (and nothing else does), a destination merging by id ends
//! with exactly the portal's records; a scan that proves nothing sends no tombstone and says
//! why; the guard holds back a mass delete until overridden; counting id ranges costs a few
//! requests where a scan costs every page.

use std::collections::BTreeMap;

use connector_core::{ConfiguredCatalog, Credential, LogLevel, SourceState, Tombstone, DELETED_AT};
use connector_flowlu::{FlowluCredential, ReconcileMethod};
use flowlu_emulator::{Emulator, Faults, MutationPlan, Quirks};
use futures::StreamExt;
use integration_tests::reconcile::{
    collect, dedup_catalog, due, ids, merge, read, read_catalog, source, stand_in, tombstone_ids,
};
use integration_tests::{as_passed_on, config_json};
use serde_json::{json, Value};

#[tokio::test]
async fn three_deletes_and_two_creates_arrive_as_three_tombstones_and_two_records() {
    let emu = stand_in(230).await;
    let src = source(&emu, json!({"page_size": 50, "deletes": 1}));
    let first = read(&src, None).await;
    assert_eq!(ids(&first.records), ids(&emu.records("crm", "account")));
    assert!(first.tombstones.is_empty());
    let state = first.state.unwrap();
    assert_eq!(state["deletes"]["count"], json!(230));
    let changed = emu
        .mutate(
            "crm",
            "account",
            5,
            MutationPlan {
                deletes: 3,
                inserts: 2,
                updates: 0,
            },
        )
        .unwrap();

    // Not due yet: the new records, no tombstone.
    let early = read(&src, Some(&state)).await;
    assert_eq!(ids(&early.records), changed.inserted);
    assert!(early.tombstones.is_empty(), "{:?}", early.tombstones);

    let second = read(&src, Some(&due(&state))).await;
    assert_eq!(ids(&second.records), changed.inserted);
    assert_eq!(tombstone_ids(&second), changed.deleted);
    let newest = second
        .records
        .iter()
        .filter_map(|r| r["updated_date"].as_str())
        .max()
        .unwrap();
    for tombstone in &second.tombstones {
        let data = tombstone.to_record_data();
        assert_eq!(data.as_object().unwrap().len(), 3, "{data}");
        assert_eq!(data["updated_date"], json!(newest), "the newest cursor passed on");
        assert!(data[DELETED_AT].as_str().unwrap().ends_with('Z'), "{data}");
    }
    let last = second.state.clone().unwrap();
    assert_eq!(last["deletes"]["count"], json!(229));
    assert!(last["deletes"]["reconciled_at"].as_i64().unwrap() > 0);
    assert!(
        second
            .logs
            .iter()
            .any(|(_, m)| m.contains("crm_account: reconciled 232 ids given") && m.contains(": 3 deleted")),
        "{:?}",
        second.logs
    );

    // A destination merging by id ends with exactly the portal's records.
    let rows: Vec<Value> = first.rows.iter().chain(&second.rows).cloned().collect();
    let table = merge(&rows);
    let portal: BTreeMap<u64, Value> = emu
        .records("crm", "account")
        .into_iter()
        .map(|r| (r["id"].as_u64().unwrap(), as_passed_on("crm_account", &r)))
        .collect();
    assert_eq!(table, portal);

    // The next read, reconciled just now: nothing.
    let third = read(&src, Some(&last)).await;
    assert!(third.records.is_empty() && third.tombstones.is_empty());
}

#[tokio::test]
async fn the_guard_holds_back_a_mass_delete_until_overridden() {
    let emu = stand_in(100).await;
    let src = source(&emu, json!({"deletes": 24}));
    let state = read(&src, None).await.state.unwrap();
    let plan = MutationPlan {
        deletes: 10,
        inserts: 0,
        updates: 0,
    };
    let changed = emu.mutate("crm", "account", 9, plan).unwrap();
    let held = read(&src, Some(&due(&state))).await;
    assert!(held.tombstones.is_empty());
    let warning = held
        .logs
        .iter()
        .find(|(level, m)| *level == LogLevel::Warn && m.contains("held back"))
        .unwrap();
    assert!(
        warning.1.starts_with("crm_account: held back 10 deletes of 100 records (10% > the 5% one reconciliation may delete, advanced.max_deletes_percent): no tombstone sent (ids "),
        "{}",
        warning.1
    );
    assert!(
        warning
            .1
            .ends_with("set max_deletes_percent to 10 or more for one read"),
        "{}",
        warning.1
    );
    // Still due, the ids unchanged.
    let after = held.state.unwrap_or_else(|| state.clone());
    assert_eq!(after["deletes"]["count"], json!(100));

    let overridden = source(&emu, json!({"deletes": 24, "max_deletes_percent": 10}));
    let sent = read(&overridden, Some(&due(&state))).await;
    assert_eq!(tombstone_ids(&sent), changed.deleted);
}

#[tokio::test]
async fn a_scan_that_proves_nothing_sends_no_tombstone_and_says_why() {
    let emu = stand_in(120).await;
    let src = source(&emu, json!({"page_size": 50, "deletes": 24}));
    let state = read(&src, None).await.state.unwrap();
    let plan = MutationPlan {
        deletes: 2,
        inserts: 0,
        updates: 0,
    };
    emu.mutate("crm", "account", 3, plan).unwrap();
    let mut saved = SourceState::default();
    saved.streams.insert("crm_account".into(), state.clone());

    // A portal that ignores `filter[id]`: counts cannot be trusted, and the scan's second
    // page repeats the first.
    emu.set_quirks(Quirks {
        ignore_filters: true,
        ..Quirks::default()
    });
    let ignored = collect(src.reconcile(&dedup_catalog(), &saved).collect().await);
    assert!(ignored.tombstones.is_empty() && ignored.state.is_none());
    assert_eq!(
        ignored.logs,
        [(
            LogLevel::Warn,
            "crm_account: deletes not checked this time, no tombstone sent: the portal ignored the `filter[id]` of a page (an id at or below the last one came back). Tried again at the next read".to_string()
        )]
    );

    // Every request failing: the error, no tombstone.
    emu.set_quirks(Quirks::default());
    emu.set_faults(Faults {
        server_error_500: 1.0,
        ..Faults::default()
    });
    let failing = collect(src.reconcile(&dedup_catalog(), &saved).collect().await);
    assert!(failing.tombstones.is_empty() && failing.state.is_none());
    assert_eq!(failing.logs.len(), 1, "{:?}", failing.logs);
    assert!(
        failing.logs[0]
            .1
            .starts_with("crm_account: deletes not checked this time, no tombstone sent: "),
        "{:?}",
        failing.logs
    );

    // Back to normal: the two deletes, and the new state.
    emu.set_faults(Faults::default());
    let fine = collect(src.reconcile(&dedup_catalog(), &saved).collect().await);
    assert_eq!(fine.tombstones.len(), 2);
    assert_eq!(fine.state.unwrap()["deletes"]["count"], json!(118));
}

#[tokio::test]
async fn counting_id_ranges_costs_a_few_requests_where_a_scan_reads_every_page() {
    let emu = stand_in(5000).await;
    let src = source(&emu, json!({"page_size": 100, "deletes": 24}));
    let state = read(&src, None).await.state.unwrap();
    let plan = MutationPlan {
        deletes: 1,
        inserts: 0,
        updates: 0,
    };
    let changed = emu.mutate("crm", "account", 2, plan).unwrap();
    let mut saved = SourceState::default();
    saved.streams.insert("crm_account".into(), state);
    let mut requests = Vec::new();
    for method in [ReconcileMethod::Auto, ReconcileMethod::Scan] {
        emu.reset_stats();
        let src = source(&emu, json!({"page_size": 100, "deletes": 24})).with_reconcile_method(method);
        let found = collect(src.reconcile(&dedup_catalog(), &saved).collect().await);
        assert_eq!(tombstone_ids(&found), changed.deleted, "{method:?}");
        let stats = emu.stats();
        requests.push((
            stats.path_total("/api/v1/module/crm/account/list"),
            stats.path_total(&format!("/api/v1/module/crm/account/get/{}", changed.deleted[0])),
        ));
    }
    // Counting: 2 boundaries, one more per level of log2(5000/100) ~ 6, one list of the
    // changed range; the scan: 50 pages of 100 and the empty 51st (no total == 0 shortcut
    // before it). Each: one `get` confirming the delete.
    let (counted, scanned) = (requests[0], requests[1]);
    assert_eq!(scanned, (50, 1));
    assert_eq!(counted.1, 1);
    assert!((8..=10).contains(&counted.0), "{counted:?}");
}

/// Writes one tombstone of `crm_account` record `id` with `advanced` settings, catalog mode
/// `append_dedup`: its outcome.
async fn write_tombstone(emu: &Emulator, advanced: Value, id: u64) -> connector_core::Outcome {
    use connector_core::{Record, Sink, SinkEvent, SinkInput};
    let mut config = config_json("acme");
    config["advanced"] = advanced;
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url());
    let sink = connector_flowlu::FlowluSink::from_credential(&credential).unwrap();
    let tombstone = Tombstone {
        stream: "crm_account".into(),
        id: json!(id),
        id_field: "id".into(),
        deleted_at: "2026-12-05T21:00:00Z".into(),
        cursor: Some(("updated_date".into(), json!("2026-12-05 20:00:00"))),
    };
    let input = vec![SinkInput::Record(Record {
        stream: "crm_account".into(),
        data: tombstone.to_record_data(),
    })];
    let events: Vec<SinkEvent> = sink
        .write(&dedup_catalog(), futures::stream::iter(input).boxed())
        .collect()
        .await;
    let mut outcomes = events.into_iter().filter_map(|e| match e {
        SinkEvent::Outcome(o) => Some(o.outcome),
        _ => None,
    });
    let outcome = outcomes.next().unwrap();
    assert!(outcomes.next().is_none());
    outcome
}

#[tokio::test]
async fn a_tombstone_on_write_deletes_where_the_rule_allows_deletes_and_is_refused_elsewhere() {
    use connector_core::{FailureClass, Outcome};
    let emu = stand_in(10).await;
    let before = ids(&emu.records("crm", "account"));
    let (first, second, third) = (before[0], before[1], before[2]);

    // append_dedup without a rule: upsert, which does not delete.
    let refused = write_tombstone(&emu, json!({}), first).await;
    let Outcome::Failed { class, message, .. } = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(class, FailureClass::Config);
    assert_eq!(
        message,
        "a deleted record (`_ab_cdc_deleted_at` set) arrived, but this stream is written with upsert and its write rule does not allow deletes: nothing was changed in Flowlu. To delete such records in Flowlu, give the stream a write rule with \"apply_deletes\": true (or the mode delete); otherwise leave deleted records out of what is written"
    );
    assert_eq!(ids(&emu.records("crm", "account")), before);

    let rule = |mode: &str, apply: bool| json!({"write_rules": [{"stream": "crm_account", "mode": mode, "apply_deletes": apply}]});
    assert_eq!(
        write_tombstone(&emu, rule("upsert", true), first).await,
        Outcome::Deleted {
            id: first.to_string()
        }
    );
    assert_eq!(
        write_tombstone(&emu, rule("delete", false), second).await,
        Outcome::Deleted {
            id: second.to_string()
        }
    );
    assert!(matches!(
        write_tombstone(&emu, rule("update", false), third).await,
        Outcome::Failed { .. }
    ));
    let after = ids(&emu.records("crm", "account"));
    assert_eq!(
        after,
        before
            .into_iter()
            .filter(|id| *id != first && *id != second)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_stand_in_never_lists_a_deleted_record_again() {
    let emu = stand_in(40).await;
    let plan = MutationPlan {
        deletes: 4,
        inserts: 0,
        updates: 0,
    };
    let changed = emu.mutate("crm", "account", 1, plan).unwrap();
    let src = source(&emu, json!({"page_size": 7}));
    let catalog: ConfiguredCatalog = serde_json::from_value(json!({"streams": [
        {"stream": {"name": "crm_account", "json_schema": {}}, "sync_mode": "full_refresh"}
    ]}))
    .unwrap();
    let listed = read_catalog(&src, &catalog, None).await;
    assert_eq!(listed.records.len(), 36);
    for id in &changed.deleted {
        assert!(listed.records.iter().all(|r| r["id"] != json!(id)), "{id} listed");
        let client = FlowluCredential::from_config(&config_json("acme"))
            .unwrap()
            .with_base_url(emu.base_url())
            .client()
            .unwrap();
        let err = client.get("crm", "account", *id).await.unwrap_err();
        assert!(
            matches!(err, connector_flowlu::Error::Api(ref api) if api.code == Some(20)),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn an_append_table_gets_no_tombstones_and_its_state_no_ids() {
    let emu = stand_in(20).await;
    let src = source(&emu, json!({"deletes": 1}));
    let mut catalog = dedup_catalog();
    catalog.streams[0].destination_sync_mode = connector_core::DestinationSyncMode::Append;
    let first = read_catalog(&src, &catalog, None).await;
    let state = first.state.unwrap();
    assert_eq!(state.get("deletes"), None, "{state}");
    let plan = MutationPlan {
        deletes: 1,
        inserts: 0,
        updates: 0,
    };
    emu.mutate("crm", "account", 4, plan).unwrap();
    let second = read_catalog(&src, &catalog, Some(&state)).await;
    assert!(second.tombstones.is_empty() && second.records.is_empty());
}
