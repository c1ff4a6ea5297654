//! Reconciliation beyond deletes: a record deleted (tombstoned) and then restored with its old
//! `updated_date`, which no incremental read brings, is sent again by the next reconciliation,
//! once, with Flowlu's content, and a destination merging by id keeps it; with a start date,
//! counting id ranges counts only the records the destination was given (those updated since
//! the start date), so it costs a few requests instead of a scan and never tombstones a record
//! older than the start date.

use std::collections::BTreeMap;

use connector_flowlu::ReconcileMethod;
use integration_tests::as_passed_on;
use integration_tests::reconcile::{due, ids, info, merge, read, reconcile, source, stand_in, tombstone_ids};
use serde_json::{json, Value};

const LIST: &str = "/api/v1/module/crm/account/list";

#[tokio::test]
async fn a_record_restored_with_its_old_updated_date_is_sent_again_once_and_kept() {
    let emu = stand_in(230).await;
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
    let emu = stand_in(2000).await;
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
