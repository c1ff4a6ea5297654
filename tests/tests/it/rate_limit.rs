//! A capped account (the stand-in's per-account token bucket) read end to end through the
//! command line, in each refusal form Flowlu is known to send: every record exactly once, few
//! refusals, few extra requests, and the waits visible as `STREAM_STATUS` `RATE_LIMITED`.

use flowlu_emulator::{ApiKey, Emulator, EmulatorConfig, RateCap, Refusal};
use integration_tests::{config_json, run_cli, temp_json, CANARY_KEY};
use serde_json::{json, Value};

const RECORDS: usize = 300;
const PAGE_SIZE: usize = 10;

async fn capped(refusal: Refusal) -> Emulator {
    Emulator::start(EmulatorConfig {
        records_per_model: 0,
        model_records: [("crm/account".to_string(), RECORDS)].into(),
        keys: vec![ApiKey::all_modules(CANARY_KEY)],
        rate_cap: Some(RateCap::new(20.0, refusal)),
        ..Default::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_account_is_read_once_with_few_refusals_in_either_form() {
    let mut config = config_json("acme");
    config["advanced"] = json!({"page_size": PAGE_SIZE, "max_concurrency": 4});
    let config = temp_json(&config);
    let catalog = temp_json(
        &json!({"streams": [{"stream": {"name": "crm_account", "json_schema": {}},
        "sync_mode": "full_refresh", "destination_sync_mode": "append"}]}),
    );
    let (c, k) = (config.path().to_str().unwrap(), catalog.path().to_str().unwrap());
    for refusal in [
        Refusal::TooManyRequests,
        Refusal::JsonError { status: 200 },
        Refusal::JsonError { status: 503 },
    ] {
        let emu = capped(refusal).await;
        let run = run_cli(
            &["read", "--config", c, "--catalog", k],
            Some(&emu.base_url()),
            "",
        )
        .await;
        assert_eq!(run.code, 0, "{refusal:?}: {}", run.stdout);
        let read: Vec<&Value> = run
            .messages
            .iter()
            .filter(|m| m["type"] == "RECORD")
            .map(|m| &m["record"]["data"]["id"])
            .collect();
        let expected: Vec<Value> = emu
            .records("crm", "account")
            .iter()
            .map(|r| r["id"].clone())
            .collect();
        assert_eq!(
            read,
            expected.iter().collect::<Vec<_>>(),
            "{refusal:?}: every record once, in order"
        );

        let stats = emu.stats();
        let pages = RECORDS.div_ceil(PAGE_SIZE) as u64;
        assert!(stats.refused >= 1, "{refusal:?}: the cap was reached: {stats:?}");
        assert!(stats.refused <= 6, "{refusal:?}: few refusals: {stats:?}");
        // Every page once, at most one more (the empty page after a last full one), plus the
        // refused requests sent again.
        let answered = stats.total - stats.refused;
        assert!((pages..=pages + 1).contains(&answered), "{refusal:?}: {stats:?}");

        let limited: Vec<&Value> = run
            .messages
            .iter()
            .filter(|m| m["type"] == "TRACE" && m["trace"]["type"] == "STREAM_STATUS")
            .map(|m| &m["trace"])
            .filter(|t| t["stream_status"]["reasons"][0]["type"] == "RATE_LIMITED")
            .collect();
        assert!(
            !limited.is_empty(),
            "{refusal:?}: waits are visible: {}",
            run.stdout
        );
        for trace in limited {
            let status = &trace["stream_status"];
            assert_eq!(
                (&status["stream_descriptor"]["name"], &status["status"]),
                (&json!("crm_account"), &json!("RUNNING"))
            );
            let reset = status["reasons"][0]["rate_limited"]["quota_reset"]
                .as_i64()
                .unwrap();
            assert!(reset >= trace["emitted_at"].as_i64().unwrap(), "{trace}");
        }
    }
}

/// The `STATE` lines of a run, as a `--state` file takes them (the last of each stream).
fn last_states(run: &integration_tests::Run) -> Value {
    let mut last = std::collections::BTreeMap::new();
    for m in run.messages.iter().filter(|m| m["type"] == "STATE") {
        let name = m["state"]["stream"]["stream_descriptor"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        last.insert(name, m["state"].clone());
    }
    Value::Array(last.into_values().collect())
}

/// On a paused clock (the stand-in's token bucket and the connector's pace both keep tokio's
/// time, which moves only when every task waits): the same pace is found however loaded the
/// machine is.
#[tokio::test(start_paused = true)]
async fn the_pace_learned_rides_in_the_state_and_the_next_read_starts_from_it() {
    let mut config = config_json("acme");
    config["advanced"] = json!({"page_size": PAGE_SIZE, "max_concurrency": 4});
    let config = temp_json(&config);
    let catalog = temp_json(
        &json!({"streams": [{"stream": {"name": "crm_account", "json_schema": {}},
        "sync_mode": "full_refresh", "destination_sync_mode": "append"}]}),
    );
    let (c, k) = (config.path().to_str().unwrap(), catalog.path().to_str().unwrap());
    // 31 pages at 10/s: a read of about 3 s (of the paused clock), long enough for the first to
    // find the cap.
    let emu = Emulator::start(EmulatorConfig {
        records_per_model: 0,
        model_records: [("crm/account".to_string(), RECORDS)].into(),
        keys: vec![ApiKey::all_modules(CANARY_KEY)],
        rate_cap: Some(RateCap::new(10.0, Refusal::TooManyRequests)),
        ..Default::default()
    })
    .await
    .unwrap();
    let first = run_cli(
        &["read", "--config", c, "--catalog", k],
        Some(&emu.base_url()),
        "",
    )
    .await;
    assert_eq!(first.code, 0, "{}", first.stdout);
    let learned = emu.stats();
    assert!(learned.refused >= 1, "the first read met the cap: {learned:?}");
    let states = last_states(&first);
    let pace = &states[0]["stream"]["stream_state"]["account_pace"];
    assert_eq!(pace["version"], 1, "{states}");
    let clean = pace["clean"].as_f64().unwrap();
    assert!(
        (10.0..=20.5).contains(&clean),
        "the rate found is near the cap of 20/s: {pace}"
    );
    // The finished full refresh's position is the empty one, beside the pace.
    let position: Vec<&String> = states[0]["stream"]["stream_state"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(position, ["account_pace"]);

    let state = temp_json(&states);
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
    let stats = emu.stats();
    let refused = stats.refused - learned.refused;
    assert!(
        refused <= 1,
        "the second read starts at the pace found: {refused} refused"
    );
    let records = second.messages.iter().filter(|m| m["type"] == "RECORD").count();
    assert_eq!(records, RECORDS, "read in full again (a finished full refresh)");
    let logs: Vec<&str> = second
        .messages
        .iter()
        .filter(|m| m["type"] == "LOG")
        .filter_map(|m| m["log"]["message"].as_str())
        .collect();
    assert!(
        logs.contains(
            &format!("starting from the account's pace remembered in the state: {clean:.2} requests/s")
                .as_str()
        ),
        "{logs:?}"
    );
    assert!(last_states(&second)[0]["stream"]["stream_state"]["account_pace"]["clean"].is_number());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_or_stale_remembered_pace_is_ignored_with_a_warning() {
    let emu = Emulator::start(EmulatorConfig {
        records_per_model: 0,
        model_records: [("crm/account".to_string(), 30)].into(),
        keys: vec![ApiKey::all_modules(CANARY_KEY)],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut config = config_json("acme");
    config["advanced"] = json!({"page_size": PAGE_SIZE});
    let config = temp_json(&config);
    let catalog = temp_json(
        &json!({"streams": [{"stream": {"name": "crm_account", "json_schema": {}},
        "sync_mode": "full_refresh", "destination_sync_mode": "append"}]}),
    );
    let (c, k) = (config.path().to_str().unwrap(), catalog.path().to_str().unwrap());
    let id_after = emu.records("crm", "account")[9]["id"].clone();
    for (pace, warning) in [
        (json!("fast"), "the account's pace remembered in the state is not a remembered pace (invalid type: string \"fast\", expected struct PaceSnapshot): ignored"),
        (
            json!({"version": 1, "clean": 5.0, "learned_at": 1_000_000_000u64}),
            "learning the account's pace again",
        ),
        (
            json!({"version": 1, "clean": -5.0, "learned_at": 1_000_000_000u64}),
            "the account's pace remembered in the state is not a remembered pace (clean rate -5): ignored",
        ),
    ] {
        let state = temp_json(&json!([{"type": "STREAM", "stream": {
            "stream_descriptor": {"name": "crm_account"},
            "stream_state": {"after_id": id_after, "account_pace": pace}}}]));
        let args = ["read", "--config", c, "--catalog", k, "--state", state.path().to_str().unwrap()];
        let run = run_cli(&args, Some(&emu.base_url()), "").await;
        assert_eq!(run.code, 0, "{}", run.stdout);
        // The position beside it still counts: the 20 records after the tenth.
        let records = run.messages.iter().filter(|m| m["type"] == "RECORD").count();
        assert_eq!(records, 20, "{pace}");
        let warned = run
            .messages
            .iter()
            .filter(|m| m["type"] == "LOG" && m["log"]["level"] == "WARN")
            .filter_map(|m| m["log"]["message"].as_str())
            .any(|m| m.contains(warning));
        assert!(warned, "{pace}: {}", run.stdout);
        // No cap met, nothing usable remembered: the states are the positions alone.
        for state in last_states(&run).as_array().unwrap() {
            assert!(state["stream"]["stream_state"].get("account_pace").is_none(), "{state}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_carries_when_the_portal_said_to_come_back() {
    let emu = Emulator::start(EmulatorConfig {
        records_per_model: 0,
        model_records: [("crm/account".to_string(), 30)].into(),
        keys: vec![ApiKey::all_modules(CANARY_KEY)],
        faults: flowlu_emulator::Faults {
            rate_limit: 0.4,
            retry_after_secs: 2,
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let mut config = config_json("acme");
    config["advanced"] = json!({"page_size": PAGE_SIZE, "max_concurrency": 1});
    let config = temp_json(&config);
    let catalog = temp_json(
        &json!({"streams": [{"stream": {"name": "crm_account", "json_schema": {}},
        "sync_mode": "full_refresh", "destination_sync_mode": "append"}]}),
    );
    let (c, k) = (config.path().to_str().unwrap(), catalog.path().to_str().unwrap());
    let run = run_cli(
        &["read", "--config", c, "--catalog", k],
        Some(&emu.base_url()),
        "",
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let resets: Vec<i64> = run
        .messages
        .iter()
        .filter(|m| m["type"] == "TRACE" && m["trace"]["type"] == "STREAM_STATUS")
        .map(|m| &m["trace"])
        .filter(|t| t["stream_status"]["reasons"][0]["type"] == "RATE_LIMITED")
        .map(|t| {
            t["stream_status"]["reasons"][0]["rate_limited"]["quota_reset"]
                .as_i64()
                .unwrap()
                - t["emitted_at"].as_i64().unwrap()
        })
        .collect();
    // Every refusal said `Retry-After: 2`: the status says when, 2 s after it.
    assert_eq!(
        resets.len() as u64,
        emu.stats().count("/api/v1/module/crm/account/list", 429)
    );
    assert!(!resets.is_empty());
    assert!(resets.iter().all(|r| *r == 2000), "{resets:?}");
}
