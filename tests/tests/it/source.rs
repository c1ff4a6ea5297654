//! The source against mockito: the exact requests (path, `api_key`, `page`, `limit`,
//! `order_by`, filters) and the exact protocol lines for paging, quirks, retries, per-stream
//! failures, resumed and incremental reads, discover and the command's input errors. A
//! catch-all answering 500 "unexpected request" is defined last in every test; the canary key
//! appears in no output.

use std::time::Duration;

use connector_runner::airbyte::Message;
use integration_tests::catalog::Catalog;
use integration_tests::flowlu::{read, source};
use integration_tests::mock::{by_cursor, by_id, ids, list_path, mock_list, mock_page, page_body, query};
use integration_tests::protocol::emitted::{log, record, state, status};
use integration_tests::{config_json, run_cli, temp_json, CatchAll, CANARY_KEY};
use mockito::{Matcher, Server};
use serde_json::{json, Value};

const T1: &str = "2024-01-02 10:00:00";
const T2: &str = "2024-01-03 08:30:00";
const T3: &str = "2024-01-04 00:00:00";

fn with_filter(
    mut params: Vec<(&'static str, String)>,
    field: &'static str,
    more_than: Value,
) -> Vec<(&'static str, String)> {
    params.push((field, json!({"type": "more", "value": more_than}).to_string()));
    params
}

/// `STARTED`, `RUNNING`, then each page's records followed by its state, the final state,
/// `COMPLETE`.
fn stream_lines(stream: &str, pages: &[(&[Value], Option<Value>)], last: Option<Value>) -> Vec<Value> {
    let mut lines = vec![status(stream, "STARTED")];
    if pages.iter().any(|(records, _)| !records.is_empty()) {
        lines.push(status(stream, "RUNNING"));
    }
    for (records, checkpoint) in pages {
        lines.extend(records.iter().map(|r| record(stream, r)));
        lines.extend(checkpoint.clone().map(|s| state(stream, s)));
    }
    lines.extend(last.map(|s| state(stream, s)));
    lines.push(status(stream, "COMPLETE"));
    lines
}

/// The lines minus waits reported while retrying (their delays carry jitter), and how many
/// of those there were.
fn without_waits(lines: Vec<Value>) -> (Vec<Value>, usize) {
    let is_wait = |l: &Value| {
        l["trace"]["stream_status"]["reasons"][0]["type"] == "RATE_LIMITED"
            || (l["type"] == "LOG" && l["log"]["level"] == "WARN")
    };
    let waits = lines.iter().filter(|l| is_wait(l)).count();
    (lines.into_iter().filter(|l| !is_wait(l)).collect(), waits)
}

#[tokio::test]
async fn three_pages_with_a_short_last_page() {
    let mut server = Server::new_async().await;
    let items = ids(1..=5);
    let m1 = mock_page(&mut server, "crm/pipeline", &by_id("1", "2"), &items[0..2], 5).await;
    let m2 = mock_page(&mut server, "crm/pipeline", &by_id("2", "2"), &items[2..4], 5).await;
    let m3 = mock_page(&mut server, "crm/pipeline", &by_id("3", "2"), &items[4..5], 5).await;
    let catch_all = CatchAll::register(&mut server).await;
    let src = source(&server.url(), json!({"page_size": 2}));
    let lines = read(
        &src,
        &Catalog::syncs(&[("crm_pipeline", "full_refresh")]).configured(),
        Value::Null,
    )
    .await;
    let mut expected = stream_lines(
        "crm_pipeline",
        &[
            (&items[0..2], Some(json!({"after_id": 2}))),
            (&items[2..4], Some(json!({"after_id": 4}))),
            (&items[4..5], Some(json!({"after_id": 5}))),
        ],
        Some(json!({})),
    );
    expected.push(log(
        "INFO",
        "read 1 streams: 1 complete, 0 failed; crm_pipeline: 5 records in 3 pages",
    ));
    assert_eq!(lines, expected);
    for m in [m1, m2, m3] {
        m.assert_async().await;
    }
    catch_all.assert().await;
}

#[tokio::test]
async fn an_empty_first_page_ends_the_stream_with_a_state() {
    let mut server = Server::new_async().await;
    let m1 = mock_page(&mut server, "crm/pipeline", &by_id("1", "500"), &[], 0).await;
    let m2 = mock_page(&mut server, "crm/account", &by_cursor("1", "500"), &[], 0).await;
    let catch_all = CatchAll::register(&mut server).await;
    let src = source(&server.url(), json!({"max_concurrency": 1}));
    let cat =
        Catalog::syncs(&[("crm_pipeline", "full_refresh"), ("crm_account", "incremental")]).configured();
    let lines = read(&src, &cat, Value::Null).await;
    let mut expected = stream_lines("crm_pipeline", &[(&[], None)], Some(json!({})));
    expected.extend(stream_lines("crm_account", &[(&[], None)], Some(json!({}))));
    expected.push(log(
        "INFO",
        "read 2 streams: 2 complete, 0 failed; crm_pipeline: 0 records in 1 pages; crm_account: 0 records in 1 pages",
    ));
    assert_eq!(lines, expected);
    m1.assert_async().await;
    m2.assert_async().await;
    catch_all.assert().await;
}

#[tokio::test]
async fn a_server_capping_the_page_size_is_read_to_the_end() {
    let mut server = Server::new_async().await;
    let items = ids(1..=5);
    let mocks = [
        // 500 asked, 2 served while the total says 5: the server caps pages at 2, and the next
        // pages ask for 2 (an offset then means the same in asked and in served records).
        mock_page(&mut server, "crm/pipeline", &by_id("1", "500"), &items[0..2], 5).await,
        mock_page(&mut server, "crm/pipeline", &by_id("2", "2"), &items[2..4], 5).await,
        mock_page(&mut server, "crm/pipeline", &by_id("3", "2"), &items[4..5], 5).await,
    ];
    let catch_all = CatchAll::register(&mut server).await;
    let lines = read(
        &source(&server.url(), json!({})),
        &Catalog::syncs(&[("crm_pipeline", "full_refresh")]).configured(),
        Value::Null,
    )
    .await;
    let mut expected = stream_lines(
        "crm_pipeline",
        &[
            (&items[0..2], Some(json!({"after_id": 2}))),
            (&items[2..4], Some(json!({"after_id": 4}))),
            (&items[4..5], Some(json!({"after_id": 5}))),
        ],
        Some(json!({})),
    );
    expected.push(log(
        "INFO",
        "read 1 streams: 1 complete, 0 failed; crm_pipeline: 5 records in 3 pages",
    ));
    assert_eq!(lines, expected);
    for m in mocks {
        m.assert_async().await;
    }
    catch_all.assert().await;
}

#[tokio::test]
async fn a_server_ignoring_order_by_is_read_whole_and_checkpointed_at_the_end() {
    let mut server = Server::new_async().await;
    let items = vec![
        json!({"id": 1, "updated_date": T3}),
        json!({"id": 2, "updated_date": T1}),
        json!({"id": 3, "updated_date": T2}),
    ];
    let m1 = mock_page(&mut server, "crm/account", &by_cursor("1", "3"), &items, 3).await;
    // A full page is never the end, whatever the total says.
    let m2 = mock_page(&mut server, "crm/account", &by_cursor("2", "3"), &[], 3).await;
    let catch_all = CatchAll::register(&mut server).await;
    let src = source(&server.url(), json!({"page_size": 3}));
    let lines = read(
        &src,
        &Catalog::syncs(&[("crm_account", "incremental")]).configured(),
        Value::Null,
    )
    .await;
    let mut expected = vec![
        status("crm_account", "STARTED"),
        status("crm_account", "RUNNING"),
        log(
            "WARN",
            "crm_account: Flowlu ignored the requested order: this stream is read without per-page checkpoints",
        ),
    ];
    expected.extend(items.iter().map(|r| record("crm_account", r)));
    expected.push(state(
        "crm_account",
        json!({"cursor_field": "updated_date", "cursor": T3, "id": 1}),
    ));
    expected.push(status("crm_account", "COMPLETE"));
    expected.push(log(
        "INFO",
        "read 1 streams: 1 complete, 0 failed; crm_account: 3 records in 2 pages",
    ));
    assert_eq!(lines, expected);
    m1.assert_async().await;
    m2.assert_async().await;
    catch_all.assert().await;
}

#[tokio::test]
async fn a_server_ignoring_page_is_read_on_from_the_last_id() {
    let mut server = Server::new_async().await;
    let items = ids(1..=5);
    let m1 = mock_page(&mut server, "crm/pipeline", &by_id("1", "2"), &items[0..2], 5).await;
    let m2 = mock_page(&mut server, "crm/pipeline", &by_id("2", "2"), &items[0..2], 5).await;
    // Asked ahead together with page 2, then dropped: it may or may not arrive.
    let m3 = mock_page(&mut server, "crm/pipeline", &by_id("3", "2"), &items[0..2], 5)
        .await
        .expect_at_most(1);
    let k1 = mock_page(
        &mut server,
        "crm/pipeline",
        &with_filter(by_id("1", "2"), "filter[id]", json!(2)),
        &items[2..4],
        3,
    )
    .await;
    let k2 = mock_page(
        &mut server,
        "crm/pipeline",
        &with_filter(by_id("1", "2"), "filter[id]", json!(4)),
        &items[4..5],
        1,
    )
    .await;
    let catch_all = CatchAll::register(&mut server).await;
    let lines = read(
        &source(&server.url(), json!({"page_size": 2})),
        &Catalog::syncs(&[("crm_pipeline", "full_refresh")]).configured(),
        Value::Null,
    )
    .await;
    let mut expected = stream_lines(
        "crm_pipeline",
        &[(&items[0..2], Some(json!({"after_id": 2})))],
        None,
    );
    expected.pop();
    expected.push(log(
        "WARN",
        "crm_pipeline: Flowlu repeated a page (it ignores `page`): reading on from the last record instead",
    ));
    expected.extend(items[2..4].iter().map(|r| record("crm_pipeline", r)));
    expected.push(state("crm_pipeline", json!({"after_id": 4})));
    expected.extend(items[4..5].iter().map(|r| record("crm_pipeline", r)));
    expected.push(state("crm_pipeline", json!({"after_id": 5})));
    expected.push(state("crm_pipeline", json!({})));
    expected.push(status("crm_pipeline", "COMPLETE"));
    expected.push(log(
        "INFO",
        "read 1 streams: 1 complete, 0 failed; crm_pipeline: 5 records in 4 pages",
    ));
    assert_eq!(lines, expected);
    for m in [m1, m2, k1, k2] {
        m.assert_async().await;
    }
    drop(m3);
    catch_all.assert().await;
}

/// One page read after a first answer of `status` and `body` (with `headers`); returns the
/// lines without waits, and the number of waits reported.
async fn read_after_failure(status: usize, headers: &[(&str, &str)], body: &str) -> (Vec<Value>, usize) {
    let mut server = Server::new_async().await;
    let items = ids(1..=2);
    let pairs: Vec<(&str, String)> = by_id("1", "500");
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut failing = server
        .mock("GET", list_path("crm/pipeline").as_str())
        .match_query(query(&refs))
        .with_status(status)
        .with_body(body);
    for (name, value) in headers {
        failing = failing.with_header(*name, value);
    }
    let failing = failing.create_async().await;
    let ok = mock_page(&mut server, "crm/pipeline", &pairs, &items, 2).await;
    let catch_all = CatchAll::register(&mut server).await;
    let lines = read(
        &source(&server.url(), json!({})),
        &Catalog::syncs(&[("crm_pipeline", "full_refresh")]).configured(),
        Value::Null,
    )
    .await;
    failing.assert_async().await;
    ok.assert_async().await;
    catch_all.assert().await;
    let (lines, waits) = without_waits(lines);
    let mut expected = stream_lines(
        "crm_pipeline",
        &[(&items, Some(json!({"after_id": 2})))],
        Some(json!({})),
    );
    expected.push(log(
        "INFO",
        "read 1 streams: 1 complete, 0 failed; crm_pipeline: 2 records in 1 pages",
    ));
    assert_eq!(lines, expected);
    (lines, waits)
}

#[tokio::test]
async fn a_429_with_retry_after_waits_as_told_and_says_so() {
    let mut server = Server::new_async().await;
    let items = ids(1..=1);
    let pairs = by_id("1", "500");
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let limited = server
        .mock("GET", list_path("crm/pipeline").as_str())
        .match_query(query(&refs))
        .with_status(429)
        .with_header("retry-after", "1")
        .create_async()
        .await;
    let ok = mock_page(&mut server, "crm/pipeline", &pairs, &items, 1).await;
    let catch_all = CatchAll::register(&mut server).await;
    let started = std::time::Instant::now();
    let lines = read(
        &source(&server.url(), json!({})),
        &Catalog::syncs(&[("crm_pipeline", "full_refresh")]).configured(),
        Value::Null,
    )
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After is honoured"
    );
    let rate_limited =
        serde_json::to_value(Message::stream_status("crm_pipeline", "RUNNING", Some(1000), 0)).unwrap();
    assert_eq!(
        lines.iter().filter(|l| **l == rate_limited).count(),
        1,
        "{lines:#?}"
    );
    let (rest, waits) = without_waits(lines);
    assert_eq!(waits, 1);
    let mut expected = stream_lines(
        "crm_pipeline",
        &[(&items, Some(json!({"after_id": 1})))],
        Some(json!({})),
    );
    expected.push(log(
        "INFO",
        "read 1 streams: 1 complete, 0 failed; crm_pipeline: 1 records in 1 pages",
    ));
    assert_eq!(rest, expected);
    limited.assert_async().await;
    ok.assert_async().await;
    catch_all.assert().await;
}

#[tokio::test]
async fn a_429_without_retry_after_backs_off_and_says_so() {
    let (_, waits) = read_after_failure(429, &[], "Too Many Requests").await;
    assert_eq!(waits, 1);
}

#[tokio::test]
async fn a_500_then_success_is_retried() {
    let (_, waits) = read_after_failure(500, &[("content-type", "text/html")], "<html>oops</html>").await;
    assert_eq!(waits, 1);
}

#[tokio::test]
async fn error_13_is_retried() {
    let body = r#"{"error": {"error_code": 13, "error_msg": "Internal server error, try again later"}}"#;
    let (_, waits) = read_after_failure(200, &[("content-type", "application/json")], body).await;
    assert_eq!(waits, 1);
}

#[tokio::test]
async fn error_22_on_one_stream_does_not_stop_the_others() {
    let mut server = Server::new_async().await;
    let items = ids(1..=2);
    let denied = r#"{"error": {"error_code": 22, "error_msg": "Access denied"}}"#.to_string();
    let m1 = mock_list(&mut server, "crm/account", &by_cursor("1", "500"), 200, denied).await;
    let m2 = mock_page(&mut server, "task/stages", &by_id("1", "500"), &items, 2).await;
    let catch_all = CatchAll::register(&mut server).await;
    let config = temp_json(
        &json!({"name": "T", "account_domain": "acme", "api_key": CANARY_KEY, "advanced": {"max_concurrency": 1}}),
    );
    let cat = temp_json(
        &serde_json::to_value(
            Catalog::syncs(&[("crm_account", "incremental"), ("task_stages", "full_refresh")]).configured(),
        )
        .unwrap(),
    );
    let run = run_cli(
        &[
            "read",
            "--config",
            config.path().to_str().unwrap(),
            "--catalog",
            cat.path().to_str().unwrap(),
        ],
        Some(&server.url()),
        "",
    )
    .await;
    assert_eq!(run.code, 1, "a failed stream fails the run, after the others");
    assert!(!run.stdout.contains(CANARY_KEY));
    let lines: Vec<Value> = run
        .messages
        .into_iter()
        .map(|mut m| {
            if let Some(t) = m.get_mut("trace") {
                t["emitted_at"] = json!(0);
            }
            if let Some(r) = m.get_mut("record") {
                r["emitted_at"] = json!(0);
            }
            m
        })
        .collect();
    let message = &format!("The API key may not use the crm module of {}. Allow it for this key in Flowlu: Portal Settings -> API Settings.", server.host_with_port());
    let mut expected = vec![
        status("crm_account", "STARTED"),
        json!({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 0, "error": {
            "message": message,
            "internal_message": "crm/account: error 22: Access denied",
            "failure_type": "config_error",
            "stream_descriptor": {"name": "crm_account"}}}}),
        status("crm_account", "INCOMPLETE"),
    ];
    expected.extend(stream_lines(
        "task_stages",
        &[(&items, Some(json!({"after_id": 2})))],
        Some(json!({})),
    ));
    expected.push(log(
        "INFO",
        &format!("read 2 streams: 1 complete, 1 failed; crm_account: FAILED after 0 records ({message}); task_stages: 2 records in 1 pages"),
    ));
    assert_eq!(lines, expected);
    m1.assert_async().await;
    m2.assert_async().await;
    catch_all.assert().await;
}

#[tokio::test]
async fn a_full_refresh_resumes_after_the_last_id_of_a_mid_stream_state() {
    let mut server = Server::new_async().await;
    let items = ids(3..=5);
    let m1 = mock_page(
        &mut server,
        "crm/pipeline",
        &with_filter(by_id("1", "500"), "filter[id]", json!(2)),
        &items,
        3,
    )
    .await;
    let catch_all = CatchAll::register(&mut server).await;
    let saved = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "crm_pipeline"}, "stream_state": {"after_id": 2}}}]);
    let lines = read(
        &source(&server.url(), json!({})),
        &Catalog::syncs(&[("crm_pipeline", "full_refresh")]).configured(),
        saved,
    )
    .await;
    let mut expected = stream_lines(
        "crm_pipeline",
        &[(&items, Some(json!({"after_id": 5})))],
        Some(json!({})),
    );
    expected.push(log(
        "INFO",
        "read 1 streams: 1 complete, 0 failed; crm_pipeline: 3 records in 1 pages",
    ));
    assert_eq!(lines, expected);
    m1.assert_async().await;
    catch_all.assert().await;
}

#[tokio::test]
async fn incremental_ties_on_the_cursor_are_compared_by_id() {
    let mut server = Server::new_async().await;
    // The saved state stopped at (T1, 7): records at T1 with ids up to 7 were read.
    let page1 = vec![
        json!({"id": 5, "updated_date": T1}),
        json!({"id": 7, "updated_date": T1}),
        json!({"id": 8, "updated_date": T1}),
        json!({"id": 2, "updated_date": T2}),
    ];
    let filtered = |page: &str| {
        with_filter(
            by_cursor(page, "4"),
            "filter[updated_date]",
            json!("2024-01-02 09:59:59"),
        )
    };
    // A total above what there is: the empty page 2 still ends the stream.
    let m1 = mock_page(&mut server, "crm/account", &filtered("1"), &page1, 5).await;
    let m2 = mock_page(&mut server, "crm/account", &filtered("2"), &[], 5).await;
    let catch_all = CatchAll::register(&mut server).await;
    let saved = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "crm_account"},
        "stream_state": {"cursor_field": "updated_date", "cursor": T1, "id": 7}}}]);
    let lines = read(
        &source(&server.url(), json!({"page_size": 4})),
        &Catalog::syncs(&[("crm_account", "incremental")]).configured(),
        saved,
    )
    .await;
    let mut expected = stream_lines(
        "crm_account",
        &[
            (
                &page1[2..4],
                Some(json!({"cursor_field": "updated_date", "cursor": T2, "id": 2})),
            ),
            (&[], None),
        ],
        None,
    );
    expected.insert(
        expected.len() - 1,
        log(
            "WARN",
            "crm_account: Flowlu's total (5) does not match the records its pages held (4): the pages were read to the first short page, the total ignored",
        ),
    );
    expected.push(log(
        "INFO",
        "read 1 streams: 1 complete, 0 failed; crm_account: 2 records in 2 pages",
    ));
    assert_eq!(lines, expected);
    m1.assert_async().await;
    m2.assert_async().await;
    catch_all.assert().await;
}

#[tokio::test]
async fn discover_adds_custom_fields_and_marks_streams_the_key_cannot_read() {
    let mut server = Server::new_async().await;
    let probe = query(&[("page", "1"), ("limit", "1")]);
    let denied = server
        .mock("GET", list_path("crm/lead").as_str())
        .match_query(probe.clone())
        .with_body(r#"{"error": {"error_code": 22, "error_msg": "Access denied"}}"#)
        .create_async()
        .await;
    let probes = server
        .mock(
            "GET",
            Matcher::Regex(r"^/api/v1/module/[a-z]+/[a-z_]+/list$".into()),
        )
        .match_query(probe)
        .with_body(page_body(&[], 0))
        .expect(48)
        .create_async()
        .await;
    // Flowlu names the entity in the singular (`project`), or only by field set (5 organization).
    let fields = [
        json!({"id": 1, "name": "Budget", "type": "number", "module": "st", "model": "project", "fieldset_id": 1}),
        json!({"id": 2, "name": "Vip", "type": "checkbox", "module": "crm", "model": "account"}),
        json!({"id": 3, "name": "Tier", "type": "select", "fieldset_id": 5, "alias": "tier", "api_use_alias": 1}),
    ];
    let custom = mock_page(&mut server, "customfields/fields", &by_id("1", "500"), &fields, 3).await;
    let catch_all = CatchAll::register(&mut server).await;
    let config = temp_json(&config_json("acme"));
    let run = run_cli(
        &["discover", "--config", config.path().to_str().unwrap()],
        Some(&server.url()),
        "",
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(!run.stdout.contains(CANARY_KEY));
    let streams = run.messages[0]["catalog"]["streams"].as_array().unwrap().clone();
    assert_eq!(streams.len(), 49);
    let stream = |name: &str| streams.iter().find(|s| s["name"] == name).unwrap().clone();
    let account = stream("crm_account");
    assert_eq!(
        account["supported_sync_modes"],
        json!(["full_refresh", "incremental"])
    );
    assert_eq!(account["default_cursor_field"], json!(["updated_date"]));
    assert_eq!(account["source_defined_primary_key"], json!([["id"]]));
    // Each custom field a column named from its Flowlu name, typed from its Flowlu type,
    // its Flowlu key in `x-flowlu-field`.
    assert_eq!(
        stream("st_projects")["json_schema"]["properties"]["budget"],
        json!({"type": ["number", "null"], "description": "Custom field (number): Budget; a number, null when not set",
               "x-flowlu-field": {"id": "1", "key": "cf_1", "name": "Budget", "type": "number", "part": "value"}})
    );
    let props = &account["json_schema"]["properties"];
    assert_eq!(
        props["vip"],
        json!({"type": ["integer", "null"], "description": "Custom field (checkbox): Vip; 1 checked, 0 not, null when not set",
               "x-flowlu-field": {"id": "2", "key": "cf_2", "name": "Vip", "type": "checkbox", "part": "value"}})
    );
    assert_eq!(props["tier"]["x-flowlu-field"]["key"], json!("tier"));
    assert_eq!(props["tier"]["type"], json!(["string", "null"]));
    assert_eq!(
        props["tier_label"],
        json!({"type": ["string", "null"], "readOnly": true,
               "description": "Custom field (select): Tier; the chosen option's label (read only: write the option id)",
               "x-flowlu-field": {"id": "3", "key": "tier_value", "name": "Tier", "type": "select", "part": "label"}})
    );
    for key in ["cf_1", "cf_2", "cf_3", "tier_value", "budget"] {
        assert!(props.get(key).is_none(), "{key}");
    }
    assert_eq!(props["id"]["type"], json!("integer"));
    assert_eq!(props["web"]["type"], json!(["string", "null"]));
    assert_eq!(
        stream("crm_lead")["json_schema"]["description"],
        json!(format!("Not readable with this API key: The API key may not use the crm module of {}. Allow it for this key in Flowlu: Portal Settings -> API Settings. (crm/lead: error 22: Access denied)", server.host_with_port()))
    );
    assert_eq!(
        stream("crm_pipeline")["supported_sync_modes"],
        json!(["full_refresh"])
    );
    assert_eq!(
        stream("core_user")["supported_sync_modes"],
        json!(["full_refresh"])
    );
    assert_eq!(stream("core_user").get("default_cursor_field"), None);
    assert_eq!(
        stream("crm_lead_accounts")["supported_sync_modes"],
        json!(["full_refresh"])
    );
    for m in [denied, probes, custom] {
        m.assert_async().await;
    }
    catch_all.assert().await;
}

#[tokio::test]
async fn read_inputs_that_cannot_be_used_are_config_errors_naming_the_fix() {
    let config = temp_json(&config_json("acme"));
    let good_catalog = temp_json(
        &serde_json::to_value(Catalog::syncs(&[("crm_pipeline", "full_refresh")]).configured()).unwrap(),
    );
    let bad_catalog = temp_json(
        &json!({"streams": [{"stream": {"name": "crm_pipeline", "json_schema": {}}, "sync_mode": "sometimes"}]}),
    );
    let bad_state = temp_json(&json!([{"type": "STREAM"}]));
    let cfg = config.path().to_str().unwrap();
    let cases: [(Vec<&str>, &str); 3] = [
        (
            vec!["read", "--config", cfg, "--catalog", "/nonexistent/catalog.json"],
            "The catalog file /nonexistent/catalog.json could not be read",
        ),
        (
            vec![
                "read",
                "--config",
                cfg,
                "--catalog",
                bad_catalog.path().to_str().unwrap(),
            ],
            "The catalog field `streams[0].sync_mode` is wrong: unknown variant `sometimes`",
        ),
        (
            vec![
                "read",
                "--config",
                cfg,
                "--catalog",
                good_catalog.path().to_str().unwrap(),
                "--state",
                bad_state.path().to_str().unwrap(),
            ],
            "The state file is wrong: invalid state: entry 0: a STREAM state without `stream`",
        ),
    ];
    for (args, start) in cases {
        let run = run_cli(&args, Some("http://127.0.0.1:9"), "").await;
        assert_eq!(run.code, 1, "{args:?}");
        assert_eq!(run.messages.len(), 1, "{}", run.stdout);
        let error = &run.messages[0]["trace"]["error"];
        assert_eq!(error["failure_type"], "config_error");
        let message = error["message"].as_str().unwrap();
        assert!(message.starts_with(start), "{message}");
    }
}

#[tokio::test]
async fn the_binary_passes_records_through_byte_for_byte() {
    let mut server = Server::new_async().await;
    let records = [
        r#"{"id": 1, "price": 10.50, "tags": [ ]}"#,
        r#"{"id":"2","name":"\u00fc \"q\""}"#,
    ];
    let body = format!(
        r#"{{"response": {{"total": 2, "items": [{}]}}}}"#,
        records.join(", ")
    );
    let m1 = mock_list(&mut server, "crm/pipeline", &by_id("1", "500"), 200, body).await;
    let catch_all = CatchAll::register(&mut server).await;
    let config = temp_json(&config_json("acme"));
    let cat = temp_json(
        &serde_json::to_value(Catalog::syncs(&[("crm_pipeline", "full_refresh")]).configured()).unwrap(),
    );
    let run = run_cli(
        &[
            "read",
            "--config",
            config.path().to_str().unwrap(),
            "--catalog",
            cat.path().to_str().unwrap(),
        ],
        Some(&server.url()),
        "",
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with(r#"{"type":"RECORD""#))
        .collect();
    assert_eq!(lines.len(), 2);
    for (line, record) in lines.iter().zip(records) {
        let prefix =
            format!(r#"{{"type":"RECORD","record":{{"stream":"crm_pipeline","data":{record},"emitted_at":"#);
        assert!(line.starts_with(&prefix), "{line}");
    }
    m1.assert_async().await;
    catch_all.assert().await;
}
