//! `spec` and `check` through the command line, in-process: protocol lines, exit codes, config
//! errors naming the field and the fix, and the canary key in no output.

use integration_tests::{config_json, run_cli, temp_json, CatchAll, CANARY_KEY};
use mockito::{Matcher, Server};
use serde_json::{json, Value};

fn status(run: &integration_tests::Run) -> (&str, &str) {
    assert_eq!(run.messages.len(), 1, "{}", run.stdout);
    let s = &run.messages[0]["connectionStatus"];
    (s["status"].as_str().unwrap(), s["message"].as_str().unwrap())
}

#[tokio::test]
async fn spec_prints_the_committed_specification() {
    let run = run_cli(&["spec"], None, "").await;
    assert_eq!(run.code, 0);
    assert_eq!(run.messages.len(), 1);
    assert_eq!(run.messages[0]["type"], "SPEC");
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../schemas/flowlu/spec.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(run.messages[0]["spec"], committed);
}

#[tokio::test]
async fn check_succeeds_against_a_good_portal() {
    let mut server = Server::new_async().await;
    let probe = server
        .mock("GET", "/api/v1/module/crm/account/list")
        .match_query(Matcher::Exact(format!("api_key={CANARY_KEY}&page=1&limit=1")))
        .with_body(r#"{"response":{"total":0,"page":1,"count":0,"items":[]}}"#)
        .expect(1)
        .create_async()
        .await;
    let other = CatchAll::register(&mut server).await;
    let config = temp_json(&config_json("acme"));
    let run = run_cli(
        &["check", "--config", config.path().to_str().unwrap()],
        Some(&server.url()),
        "",
    )
    .await;
    assert_eq!(
        (run.code, status(&run)),
        (
            0,
            (
                "SUCCEEDED",
                format!("Connected to {}.", server.host_with_port()).as_str()
            )
        )
    );
    probe.assert_async().await;
    other.assert().await;
}

#[tokio::test]
async fn check_reports_a_bad_key_as_failed_status() {
    let mut server = Server::new_async().await;
    let _probe = server
        .mock("GET", "/api/v1/module/crm/account/list")
        .match_query(Matcher::Any)
        .with_status(401)
        .create_async()
        .await;
    let config = temp_json(&config_json("acme"));
    let run = run_cli(
        &["check", "--config", config.path().to_str().unwrap()],
        Some(&server.url()),
        "",
    )
    .await;
    let (s, message) = status(&run);
    assert_eq!((run.code, s), (0, "FAILED"));
    assert!(
        message.starts_with(&format!(
            "Flowlu rejected the API key for {}.",
            server.host_with_port()
        )),
        "{message}"
    );
    assert!(!run.stdout.contains(CANARY_KEY));
}

#[tokio::test]
async fn check_names_the_field_and_the_fix_for_bad_configs() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"account_domain": "acme", "api_key": CANARY_KEY}),
            "The config is incomplete: missing field `name`. Required fields: name, account_domain, api_key.",
        ),
        (
            json!({"name": "n", "account_domain": "acme"}),
            "The config is incomplete: missing field `api_key`. Required fields: name, account_domain, api_key.",
        ),
        (
            json!({"name": "n", "account_domain": "acme.flowlu.com.evil.io", "api_key": CANARY_KEY}),
            "The config field `account_domain` is wrong: `acme.flowlu.com.evil.io` is not a Flowlu address; enter the first part of your Flowlu address: for https://mycompany.flowlu.com enter mycompany.",
        ),
        (
            json!({"name": "n", "account_domain": "acme", "api_key": 7_123_456_789_u64}),
            "The config field `api_key` is wrong: expected a string, found a number (put it in quotes).",
        ),
        (
            json!({"name": "n", "account_domain": "acme", "api_key": CANARY_KEY, "advanced": {"start_date": "yesterday"}}),
            "The config field `advanced.start_date` is wrong: `yesterday` is not a date; use YYYY-MM-DD, for example 2024-01-31.",
        ),
        (
            json!({"name": "n", "account_domain": "acme", "api_key": CANARY_KEY, "advanced": {"page_size": "big"}}),
            "The config field `advanced.page_size` is wrong: must be a whole number, like 5, but is a string.",
        ),
        (json!([1, 2]), "The config is incomplete: invalid type: sequence, expected struct FlowluCredential. Required fields: name, account_domain, api_key."),
    ];
    for (config, expected) in cases {
        let file = temp_json(&config);
        let run = run_cli(&["check", "--config", file.path().to_str().unwrap()], None, "").await;
        assert_eq!((run.code, status(&run)), (0, ("FAILED", expected)), "{config}");
        assert!(!run.stdout.contains(CANARY_KEY) && !run.stdout.contains("7123456789"));
    }
}

/// `check` refuses a start date in the future with the sentence every incremental `read`
/// refuses it with, before any request.
#[tokio::test]
async fn check_refuses_a_future_start_date_with_the_sentence_read_refuses_it_with() {
    let mut server = Server::new_async().await;
    let catch_all = CatchAll::register(&mut server).await;
    let mut config = config_json("acme");
    config["advanced"] = json!({"start_date": "2999-01-01"});
    let file = temp_json(&config);
    let path = file.path().to_str().unwrap();
    let sentence = "the start date (advanced.start_date) `2999-01-01 00:00:00` lies in the future (more than 2 days after the machine's clock), so nothing after it could ever be read. Set a start date in the past, or leave it empty to read everything.";
    let run = run_cli(&["check", "--config", path], Some(&server.url()), "").await;
    let expected = format!("T{}", &sentence[1..]);
    assert_eq!((run.code, status(&run)), (0, ("FAILED", expected.as_str())));
    let catalog = temp_json(
        &json!({"streams": [{"stream": {"name": "crm_account", "json_schema": {}},
        "sync_mode": "incremental", "destination_sync_mode": "append"}]}),
    );
    let read = run_cli(
        &[
            "read",
            "--config",
            path,
            "--catalog",
            catalog.path().to_str().unwrap(),
        ],
        Some(&server.url()),
        "",
    )
    .await;
    let trace = read
        .messages
        .iter()
        .find(|m| m["type"] == "TRACE" && m["trace"]["type"] == "ERROR")
        .unwrap();
    assert_eq!(
        trace["trace"]["error"]["message"],
        json!(format!("crm_account: {sentence}"))
    );
    catch_all.assert().await;
}

#[tokio::test]
async fn check_explains_unreadable_files_and_bad_base_urls() {
    let run = run_cli(&["check", "--config", "/nonexistent/config.json"], None, "").await;
    assert_eq!(
        (run.code, status(&run)),
        (0, ("FAILED", "The config file /nonexistent/config.json could not be read: No such file or directory (os error 2). Check the path given with --config."))
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("{{\"api_key\": \"{CANARY_KEY}\",")).unwrap();
    let path = file.path().to_str().unwrap().to_string();
    let run = run_cli(&["check", "--config", &path], None, "").await;
    let expected = format!("The config file {path} is not valid JSON (line 1, column 38). It should be an object such as {{\"name\": \"CRM\", \"account_domain\": \"mycompany\", \"api_key\": \"...\"}}.");
    assert_eq!((run.code, status(&run)), (0, ("FAILED", expected.as_str())));
    assert!(!run.stdout.contains(CANARY_KEY));
    let config = temp_json(&config_json("acme"));
    let run = run_cli(
        &["check", "--config", config.path().to_str().unwrap()],
        Some("https://evil.io"),
        "",
    )
    .await;
    assert_eq!(
        (run.code, status(&run)),
        (0, ("FAILED", "invalid `FLOWLU_BASE_URL`: the host is not a Flowlu portal; use a loopback http URL such as http://127.0.0.1:8080 or an https Flowlu address such as https://acme.flowlu.com."))
    );
}

#[tokio::test]
async fn usage_errors_exit_2_with_nothing_on_stdout() {
    for args in [&["frobnicate"][..], &["check"][..], &[][..]] {
        let run = run_cli(args, None, "").await;
        assert_eq!((run.code, run.stdout.as_str()), (2, ""), "{args:?}");
    }
}
