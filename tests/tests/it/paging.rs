//! Paging against what real portals do: totals that lie, empty lists as `[]`, zero dates,
//! saved positions in the future or impossible, refused filters and refused large pages,
//! repeated pages, and the page size a portal honours. Mockito for the exact requests and
//! lines (a catch-all answering 500 "unexpected request" is defined last), the stand-in for
//! request counts and quirks end to end.

use flowlu_emulator::{Emulator, Quirks, TotalField};
use integration_tests::catalog::Catalog;
use integration_tests::flowlu::{read, source};
use integration_tests::mock::{by_cursor, by_id, ids, mock_list, mock_page};
use integration_tests::protocol::emitted::{error, log, record, state, status};
use integration_tests::stand_in::StandIn;
use integration_tests::{config_json, CatchAll, CANARY_KEY};
use mockito::{Mock, Server};
use serde_json::{json, Value};

const T1: &str = "2024-01-02 10:00:00";
const T2: &str = "2024-01-03 08:30:00";

fn filtered(mut params: Vec<(&'static str, String)>, after: &str) -> Vec<(&'static str, String)> {
    params.push((
        "filter[updated_date]",
        json!({"type": "more", "value": after}).to_string(),
    ));
    params
}

fn saved(streams: &[(&str, Value)]) -> Value {
    streams
        .iter()
        .map(|(name, s)| json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": s}}))
        .collect()
}

async fn assert_all(mocks: Vec<Mock>, catch_all: CatchAll) {
    for m in mocks {
        m.assert_async().await;
    }
    catch_all.assert().await;
}

#[tokio::test]
async fn a_total_smaller_than_the_records_ends_no_full_page_and_is_warned() {
    let mut server = Server::new_async().await;
    let items = ids(1..=7);
    let mut mocks = Vec::new();
    for (page, range) in [(1, 0..2), (2, 2..4), (3, 4..6), (4, 6..7)] {
        mocks.push(
            mock_page(
                &mut server,
                "crm/pipeline",
                &by_id(page, 2),
                &items[range],
                json!(3),
            )
            .await,
        );
    }
    let catch_all = CatchAll::register(&mut server).await;
    let src = source(&server.url(), json!({"page_size": 2}));
    let lines = read(
        &src,
        &Catalog::syncs(&[("crm_pipeline", "full_refresh")]).configured(),
        Value::Null,
    )
    .await;
    let s = "crm_pipeline";
    let mut expected = vec![status(s, "STARTED"), status(s, "RUNNING")];
    for (i, chunk) in items.chunks(2).enumerate() {
        if i == 1 {
            expected.push(log("WARN", "crm_pipeline: Flowlu's total (3) is smaller than the records it already sent (4): the total is ignored and the stream read on to its first short page"));
        }
        expected.extend(chunk.iter().map(|r| record(s, r)));
        expected.push(state(s, json!({"after_id": chunk.last().unwrap()["id"]})));
    }
    expected.push(state(s, json!({})));
    expected.push(status(s, "COMPLETE"));
    expected.push(log(
        "INFO",
        "read 1 streams: 1 complete, 0 failed; crm_pipeline: 7 records in 4 pages",
    ));
    assert_eq!(lines, expected);
    assert_all(mocks, catch_all).await;
}

#[tokio::test]
async fn total_result_is_preferred_to_a_nonsense_total() {
    let mut server = Server::new_async().await;
    let items = ids(1..=5);
    let mut mocks = Vec::new();
    // Were `total` (99999) believed, pages 4 and more would be asked ahead (4 in flight).
    for (page, range) in [(1, 0..2), (2, 2..4), (3, 4..5)] {
        let body = json!({"response": {"total": 99999, "total_result": 5, "items": &items[range]}});
        mocks.push(
            mock_list(
                &mut server,
                "crm/pipeline",
                &by_id(page, 2),
                200,
                body.to_string(),
            )
            .await,
        );
    }
    let catch_all = CatchAll::register(&mut server).await;
    let src = source(&server.url(), json!({"page_size": 2, "max_concurrency": 4}));
    let lines = read(
        &src,
        &Catalog::syncs(&[("crm_pipeline", "full_refresh")]).configured(),
        Value::Null,
    )
    .await;
    let records: Vec<Value> = lines
        .iter()
        .filter(|l| l["type"] == "RECORD")
        .map(|l| l["record"]["data"].clone())
        .collect();
    assert_eq!(records, items);
    assert!(lines.iter().all(|l| l["log"]["level"] != "WARN"), "{lines:?}");
    assert_all(mocks, catch_all).await;
}

#[tokio::test]
async fn empty_lists_sent_as_arrays_end_the_stream() {
    let mut server = Server::new_async().await;
    let m1 = mock_list(
        &mut server,
        "crm/pipeline",
        &by_id(1, 500),
        200,
        r#"{"response": []}"#.into(),
    )
    .await;
    let m2 = mock_list(
        &mut server,
        "task/stages",
        &by_id(1, 500),
        200,
        r#"{"response": {"total": 0, "items": []}}"#.into(),
    )
    .await;
    let catch_all = CatchAll::register(&mut server).await;
    let src = source(&server.url(), json!({"max_concurrency": 1}));
    let cat =
        Catalog::syncs(&[("crm_pipeline", "full_refresh"), ("task_stages", "full_refresh")]).configured();
    let lines = read(&src, &cat, Value::Null).await;
    let mut expected = Vec::new();
    for s in ["crm_pipeline", "task_stages"] {
        expected.extend([status(s, "STARTED"), state(s, json!({})), status(s, "COMPLETE")]);
    }
    expected.push(log("INFO", "read 2 streams: 2 complete, 0 failed; crm_pipeline: 0 records in 1 pages; task_stages: 0 records in 1 pages"));
    assert_eq!(lines, expected);
    assert_all(vec![m1, m2], catch_all).await;
}

#[tokio::test]
async fn zero_dates_and_blanks_are_not_set_in_records_and_states() {
    let mut server = Server::new_async().await;
    let items = [
        json!({"id": 3, "updated_date": "0000-00-00 00:00:00"}),
        json!({"id": 5, "updated_date": ""}),
        json!({"id": 6, "updated_date": "0000-00-00"}),
        json!({"id": 1, "updated_date": T1}),
        json!({"id": 2, "updated_date": T2}),
    ];
    // A state at "not set" (id 4): no server filter can say it; the records before it (a
    // blank cursor, id <= 4) are left out on the client.
    let mut mocks = Vec::new();
    for (page, range) in [(1, 0..2), (2, 2..4), (3, 4..5)] {
        mocks.push(
            mock_page(
                &mut server,
                "crm/account",
                &by_cursor(page, 2),
                &items[range],
                json!(5),
            )
            .await,
        );
    }
    let catch_all = CatchAll::register(&mut server).await;
    let src = source(&server.url(), json!({"page_size": 2}));
    let state0 = json!({"cursor_field": "updated_date", "cursor": "0000-00-00 00:00:00", "id": 4});
    let lines = read(
        &src,
        &Catalog::syncs(&[("crm_account", "incremental")]).configured(),
        saved(&[("crm_account", state0)]),
    )
    .await;
    let s = "crm_account";
    let expected = vec![
        status(s, "STARTED"),
        status(s, "RUNNING"),
        // Flowlu's "not set" is passed on as null.
        record(s, &json!({"id": 5, "updated_date": null})),
        state(
            s,
            json!({"cursor_field": "updated_date", "cursor": null, "id": 5}),
        ),
        record(s, &json!({"id": 6, "updated_date": null})),
        record(s, &items[3]),
        state(s, json!({"cursor_field": "updated_date", "cursor": T1, "id": 1})),
        record(s, &items[4]),
        state(s, json!({"cursor_field": "updated_date", "cursor": T2, "id": 2})),
        status(s, "COMPLETE"),
        log(
            "INFO",
            "read 1 streams: 1 complete, 0 failed; crm_account: 4 records in 3 pages",
        ),
    ];
    assert_eq!(lines, expected);
    assert_all(mocks, catch_all).await;

    // The blank-cursor state emitted above is a position to resume from, not a reason to
    // start over: the same unfiltered query, only what follows id 5.
    let mut server = Server::new_async().await;
    let mut mocks = Vec::new();
    for (page, range) in [(1, 0..2), (2, 2..4), (3, 4..5)] {
        mocks.push(
            mock_page(
                &mut server,
                "crm/account",
                &by_cursor(page, 2),
                &items[range],
                json!(5),
            )
            .await,
        );
    }
    let catch_all = CatchAll::register(&mut server).await;
    let src = source(&server.url(), json!({"page_size": 2}));
    let resumed = json!({"cursor_field": "updated_date", "cursor": null, "id": 5});
    let lines = read(
        &src,
        &Catalog::syncs(&[("crm_account", "incremental")]).configured(),
        saved(&[("crm_account", resumed)]),
    )
    .await;
    let passed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["type"] == "RECORD")
        .map(|l| &l["record"]["data"])
        .collect();
    assert_eq!(
        passed,
        [&json!({"id": 6, "updated_date": null}), &items[3], &items[4]]
    );
    assert!(lines.iter().all(|l| l["log"]["level"] != "WARN"), "{lines:?}");
    assert_all(mocks, catch_all).await;
}

#[tokio::test]
async fn future_or_impossible_start_positions_are_config_errors_and_nothing_is_asked() {
    let mut server = Server::new_async().await;
    let catch_all = CatchAll::register(&mut server).await;
    let src = source(
        &server.url(),
        json!({"start_date": "2999-01-01", "max_concurrency": 1}),
    );
    let cat = Catalog::syncs(&[
        ("crm_account", "incremental"),
        ("crm_lead", "incremental"),
        ("crm_source", "incremental"),
    ])
    .configured();
    let states = saved(&[
        (
            "crm_account",
            json!({"cursor_field": "updated_date", "cursor": "9999-12-31 23:59:59", "id": 1}),
        ),
        (
            "crm_lead",
            json!({"cursor_field": "updated_date", "cursor": "2024-02-30 10:00:00", "id": 1}),
        ),
    ]);
    let lines = read(&src, &cat, states).await;
    let state_fix = "Reset this stream's state (or edit the state file) and read again.";
    let cases = [
        ("crm_account", "the saved state's cursor `9999-12-31 23:59:59` lies in the future (more than 2 days after the machine's clock)", state_fix),
        ("crm_lead", "the saved state's cursor `2024-02-30 10:00:00` is not a real date and time", state_fix),
        ("crm_source", "the start date (advanced.start_date) `2999-01-01 00:00:00` lies in the future (more than 2 days after the machine's clock)", "Set a start date in the past, or leave it empty to read everything."),
    ];
    let mut expected = Vec::new();
    for (s, why, fix) in cases {
        let what = why
            .strip_prefix("the saved state's cursor ")
            .or_else(|| why.strip_prefix("the start date (advanced.start_date) "))
            .unwrap();
        expected.push(error(
            s,
            "config_error",
            &format!("{s}: {why}, so nothing after it could ever be read. {fix}"),
            &format!("{s}: unusable start position: {what}"),
        ));
        expected.push(status(s, "INCOMPLETE"));
    }
    expected.push(log("INFO", "read 0 streams: 0 complete, 0 failed"));
    assert_eq!(lines, expected);
    catch_all.assert().await;
}

/// A saved cursor of 10,000 characters is named by its start and an ellipsis, not echoed whole
/// (twice) in one error line.
#[tokio::test]
async fn a_long_saved_cursor_is_shortened_in_the_error() {
    let mut server = Server::new_async().await;
    let catch_all = CatchAll::register(&mut server).await;
    let src = source(&server.url(), json!({"max_concurrency": 1}));
    let cat = Catalog::syncs(&[("crm_account", "incremental")]).configured();
    let long = "9".repeat(10_000);
    let states = saved(&[(
        "crm_account",
        json!({"cursor_field": "updated_date", "cursor": long, "id": 1}),
    )]);
    let lines = read(&src, &cat, states).await;
    let shown = format!("`{}... (9940 more characters)`", "9".repeat(60));
    assert_eq!(
        lines,
        [
            error(
                "crm_account",
                "config_error",
                &format!("crm_account: the saved state's cursor {shown} is not a real date and time, so nothing after it could ever be read. Reset this stream's state (or edit the state file) and read again."),
                &format!("crm_account: unusable start position: {shown} is not a real date and time"),
            ),
            status("crm_account", "INCOMPLETE"),
            log("INFO", "read 0 streams: 0 complete, 0 failed"),
        ]
    );
    catch_all.assert().await;
}

#[tokio::test]
async fn a_refused_filter_is_applied_on_the_client_instead() {
    let mut server = Server::new_async().await;
    let refused = r#"{"error": {"error_code": 21, "error_msg": "Invalid filter"}}"#;
    let m0 = mock_list(
        &mut server,
        "crm/account",
        &filtered(by_cursor(1, 2), "2024-01-02 09:59:59"),
        200,
        refused.into(),
    )
    .await;
    let items = [
        json!({"id": 1, "updated_date": "2024-01-01 00:00:00"}),
        json!({"id": 2, "updated_date": "2024-01-01 00:00:00"}),
        json!({"id": 5, "updated_date": T1}),
        json!({"id": 8, "updated_date": T1}),
        json!({"id": 3, "updated_date": T2}),
    ];
    let mut mocks = vec![m0];
    for (page, range) in [(1, 0..2), (2, 2..4), (3, 4..5)] {
        mocks.push(
            mock_page(
                &mut server,
                "crm/account",
                &by_cursor(page, 2),
                &items[range],
                json!(5),
            )
            .await,
        );
    }
    let catch_all = CatchAll::register(&mut server).await;
    let src = source(&server.url(), json!({"page_size": 2}));
    let state0 = json!({"cursor_field": "updated_date", "cursor": T1, "id": 7});
    let lines = read(
        &src,
        &Catalog::syncs(&[("crm_account", "incremental")]).configured(),
        saved(&[("crm_account", state0)]),
    )
    .await;
    let s = "crm_account";
    let expected = vec![
        status(s, "STARTED"),
        log("WARN", "crm_account: Flowlu refused the filter on `updated_date`: reading the stream without it and keeping only the records after the saved position (error 21: Invalid filter)"),
        status(s, "RUNNING"),
        record(s, &items[3]),
        state(s, json!({"cursor_field": "updated_date", "cursor": T1, "id": 8})),
        record(s, &items[4]),
        state(s, json!({"cursor_field": "updated_date", "cursor": T2, "id": 3})),
        status(s, "COMPLETE"),
        log("INFO", "read 1 streams: 1 complete, 0 failed; crm_account: 2 records in 3 pages"),
    ];
    assert_eq!(lines, expected);
    assert_all(mocks, catch_all).await;
}

#[tokio::test]
async fn a_refused_large_page_is_asked_again_at_100_once_for_the_account() {
    let mut server = Server::new_async().await;
    let refused = r#"{"error": {"error_code": 12, "error_msg": "Invalid request"}}"#;
    let items = ids(1..=250);
    let mut mocks = vec![mock_list(&mut server, "crm/pipeline", &by_id(1, 500), 200, refused.into()).await];
    for (page, range) in [(1, 0..100), (2, 100..200), (3, 200..250)] {
        mocks.push(
            mock_page(
                &mut server,
                "crm/pipeline",
                &by_id(page, 100),
                &items[range],
                json!(250),
            )
            .await,
        );
    }
    // The next stream asks 100 at once.
    let stages = ids(1..=2);
    mocks.push(mock_page(&mut server, "task/stages", &by_id(1, 100), &stages, json!(2)).await);
    let catch_all = CatchAll::register(&mut server).await;
    let src = source(&server.url(), json!({"max_concurrency": 1}));
    let cat =
        Catalog::syncs(&[("crm_pipeline", "full_refresh"), ("task_stages", "full_refresh")]).configured();
    let lines = read(&src, &cat, Value::Null).await;
    let mut expected = vec![
        status("crm_pipeline", "STARTED"),
        log("WARN", "crm_pipeline: Flowlu refused a page of 500 records: asking 100 a page (error 12: Invalid request)"),
        status("crm_pipeline", "RUNNING"),
    ];
    for chunk in items.chunks(100) {
        expected.extend(chunk.iter().map(|r| record("crm_pipeline", r)));
        expected.push(state(
            "crm_pipeline",
            json!({"after_id": chunk.last().unwrap()["id"]}),
        ));
    }
    expected.extend([
        state("crm_pipeline", json!({})),
        status("crm_pipeline", "COMPLETE"),
        status("task_stages", "STARTED"),
        status("task_stages", "RUNNING"),
        record("task_stages", &stages[0]),
        record("task_stages", &stages[1]),
        state("task_stages", json!({"after_id": 2})),
        state("task_stages", json!({})),
        status("task_stages", "COMPLETE"),
        log("INFO", "read 2 streams: 2 complete, 0 failed; crm_pipeline: 250 records in 3 pages; task_stages: 2 records in 1 pages"),
    ]);
    assert_eq!(lines, expected);
    assert_all(mocks, catch_all).await;
}

#[tokio::test]
async fn a_page_repeated_by_an_unordered_incremental_read_is_not_passed_on_twice() {
    let mut server = Server::new_async().await;
    // The server ignores the order, and page 3 is page 1 again.
    let a = vec![
        json!({"id": 3, "updated_date": T2}),
        json!({"id": 1, "updated_date": T1}),
    ];
    let b = vec![
        json!({"id": 4, "updated_date": T2}),
        json!({"id": 2, "updated_date": T1}),
    ];
    let mocks = vec![
        mock_page(&mut server, "crm/account", &by_cursor(1, 2), &a, json!(6)).await,
        mock_page(&mut server, "crm/account", &by_cursor(2, 2), &b, json!(6)).await,
        mock_page(&mut server, "crm/account", &by_cursor(3, 2), &a, json!(6)).await,
    ];
    let catch_all = CatchAll::register(&mut server).await;
    let src = source(&server.url(), json!({"page_size": 2}));
    let lines = read(
        &src,
        &Catalog::syncs(&[("crm_account", "incremental")]).configured(),
        Value::Null,
    )
    .await;
    let s = "crm_account";
    let why = "Flowlu answers the same records whatever the page and filter asked (2 per page), so the rest of the stream cannot be reached";
    let expected = vec![
        status(s, "STARTED"),
        status(s, "RUNNING"),
        log("WARN", "crm_account: Flowlu ignored the requested order: this stream is read without per-page checkpoints"),
        record(s, &a[0]),
        record(s, &a[1]),
        record(s, &b[0]),
        record(s, &b[1]),
        error(
            s,
            "system_error",
            &format!("crm_account could not be read to its end: {why}. Please report this to the connector's maintainers."),
            why,
        ),
        status(s, "INCOMPLETE"),
        log("INFO", &format!("read 1 streams: 0 complete, 1 failed; crm_account: FAILED after 4 records (crm_account could not be read to its end: {why}. Please report this to the connector's maintainers.)")),
    ];
    assert_eq!(lines, expected);
    assert_all(mocks, catch_all).await;
}

// The stand-in end to end: request counts and quirks.

const LIST: &str = "/api/v1/module/crm/account/list";

/// A stand-in of `accounts` accounts and nothing else (the canary key), pages of at most
/// `max_page_size`, with `quirks`.
async fn stand_in(accounts: usize, max_page_size: usize, quirks: Quirks) -> Emulator {
    StandIn::new()
        .records_per_model(0)
        .accounts(accounts)
        .key(CANARY_KEY)
        .max_page_size(max_page_size)
        .quirks(quirks)
        .start()
        .await
}

/// Reads `crm_account` from the stand-in; returns the ids read, the warnings, and the errors.
async fn read_accounts(
    emu: &Emulator,
    advanced: Value,
    mode: &str,
    state: Value,
) -> (Vec<u64>, Vec<String>, Vec<Value>) {
    let src = source(&emu.base_url(), advanced);
    let lines = read(
        &src,
        &Catalog::syncs(&[("crm_account", mode)]).configured(),
        state,
    )
    .await;
    let ids = lines
        .iter()
        .filter(|l| l["type"] == "RECORD")
        .map(|l| l["record"]["data"]["id"].as_u64().unwrap())
        .collect();
    let warnings = lines
        .iter()
        .filter(|l| l["log"]["level"] == "WARN")
        .map(|l| l["log"]["message"].as_str().unwrap().to_string())
        .collect();
    let errors = lines
        .iter()
        .filter(|l| l["trace"]["type"] == "ERROR")
        .cloned()
        .collect();
    (ids, warnings, errors)
}

#[tokio::test]
async fn the_page_size_a_portal_honours_costs_no_extra_request() {
    // (records, largest page the stand-in serves, list requests expected)
    for (records, max_page, requests) in [
        (1000, 500, 3),
        (1001, 500, 3),
        (1000, 100, 11),
        (999, 100, 10),
        (30, 100, 1),
    ] {
        let emu = stand_in(records, max_page, Quirks::default()).await;
        let (ids, warnings, errors) = read_accounts(&emu, json!({}), "full_refresh", Value::Null).await;
        assert_eq!(
            ids,
            (1..=records as u64).collect::<Vec<_>>(),
            "{records}/{max_page}"
        );
        assert_eq!((warnings.len(), errors.len()), (0, 0), "{warnings:?} {errors:?}");
        assert_eq!(
            emu.stats().path_total(LIST),
            requests,
            "{records} records, {max_page} a page"
        );
    }
}

#[tokio::test]
async fn the_stand_ins_quirks_change_nothing_read() {
    // A lying small total.
    let emu = stand_in(
        230,
        100,
        Quirks {
            lying_total: Some(3),
            ..Quirks::default()
        },
    )
    .await;
    let (ids, warnings, errors) =
        read_accounts(&emu, json!({"page_size": 50}), "full_refresh", Value::Null).await;
    assert_eq!((ids, errors.len()), ((1..=230).collect(), 0));
    assert_eq!(warnings, ["crm_account: Flowlu's total (3) is smaller than the records it already sent (50): the total is ignored and the stream read on to its first short page"]);
    assert_eq!(emu.stats().path_total(LIST), 5);

    // A nonsense `total` beside a true `total_result`.
    let quirks = Quirks {
        total_field: TotalField::Both,
        lying_total: Some(99_999),
        ..Quirks::default()
    };
    let emu = stand_in(230, 100, quirks).await;
    let (ids, warnings, _) = read_accounts(&emu, json!({"page_size": 50}), "full_refresh", Value::Null).await;
    assert_eq!((ids, warnings.len()), ((1..=230).collect(), 0));
    assert_eq!(emu.stats().path_total(LIST), 5);

    // A portal refusing pages above 100: one refused request.
    let emu = stand_in(
        230,
        500,
        Quirks {
            refuse_limit_above: Some(100),
            ..Quirks::default()
        },
    )
    .await;
    let (ids, warnings, _) = read_accounts(&emu, json!({}), "full_refresh", Value::Null).await;
    assert_eq!(ids, (1..=230).collect::<Vec<_>>());
    assert_eq!(warnings, ["crm_account: Flowlu refused a page of 500 records: asking 100 a page (error 12: Invalid request: limit must be at most 100)"]);
    assert_eq!(emu.stats().path_total(LIST), 4);

    // A portal refusing filters: the incremental read keeps exactly the records after the
    // saved position.
    let emu = stand_in(
        230,
        100,
        Quirks {
            refuse_filters: Some(12),
            ..Quirks::default()
        },
    )
    .await;
    let all = emu.records("crm", "account");
    let mut keyed: Vec<(String, u64)> = all
        .iter()
        .map(|r| {
            (
                r["updated_date"].as_str().unwrap().to_string(),
                r["id"].as_u64().unwrap(),
            )
        })
        .collect();
    keyed.sort();
    let (cursor, id) = keyed[99].clone();
    let state0 = saved(&[(
        "crm_account",
        json!({"cursor_field": "updated_date", "cursor": cursor, "id": id}),
    )]);
    let (ids, warnings, errors) = read_accounts(&emu, json!({}), "incremental", state0).await;
    assert_eq!(ids, keyed[100..].iter().map(|k| k.1).collect::<Vec<_>>());
    assert_eq!(errors.len(), 0);
    // Error 12 may refuse the page size or the filter: the page size is suspected first.
    assert_eq!(
        warnings,
        [
            "crm_account: Flowlu refused a page of 500 records: asking 100 a page (error 12: Invalid filter on updated_date)",
            "crm_account: Flowlu refused the filter on `updated_date`: reading the stream without it and keeping only the records after the saved position (500 records a page again) (error 12: Invalid filter on updated_date)",
        ]
    );
    assert_eq!(emu.stats().path_total(LIST), 5, "2 refused, then 3 pages of 100");
}

#[tokio::test]
async fn the_binary_exits_1_on_a_saved_cursor_in_the_future_and_saves_no_state() {
    let mut server = Server::new_async().await;
    let catch_all = CatchAll::register(&mut server).await;
    let config = integration_tests::temp_json(&config_json("acme"));
    let cat = integration_tests::temp_json(
        &serde_json::to_value(Catalog::syncs(&[("crm_account", "incremental")]).configured()).unwrap(),
    );
    let state_file = integration_tests::temp_json(&saved(&[(
        "crm_account",
        json!({"cursor_field": "updated_date", "cursor": "9999-12-31 23:59:59", "id": 1}),
    )]));
    let run = integration_tests::run_cli(
        &[
            "read",
            "--config",
            config.path().to_str().unwrap(),
            "--catalog",
            cat.path().to_str().unwrap(),
            "--state",
            state_file.path().to_str().unwrap(),
        ],
        Some(&server.url()),
        "",
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.messages.iter().all(|m| m["type"] != "STATE"),
        "{}",
        run.stdout
    );
    let errors: Vec<&Value> = run
        .messages
        .iter()
        .filter(|m| m["trace"]["type"] == "ERROR")
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert_eq!(errors[0]["trace"]["error"]["failure_type"], "config_error");
    assert_eq!(
        errors[0]["trace"]["error"]["message"],
        "crm_account: the saved state's cursor `9999-12-31 23:59:59` lies in the future (more than 2 days after the machine's clock), so nothing after it could ever be read. Reset this stream's state (or edit the state file) and read again."
    );
    catch_all.assert().await;
}
