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
