//! The real `flowlu-connector` process: stdout carries only protocol lines, exit codes follow
//! the Airbyte convention, and the key appears in neither stdout nor stderr, even at TRACE.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

const CANARY: &str = "canary-bin-3b8e61d2c4";

fn run(args: &[&str], base_url: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowlu-connector"));
    cmd.args(args)
        .env("RUST_LOG", "trace")
        .env_remove(connector_flowlu::client::BASE_URL_ENV);
    if let Some(url) = base_url {
        cmd.env(connector_flowlu::client::BASE_URL_ENV, url);
    }
    cmd.output().unwrap()
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a protocol line ({e}): {l}")))
        .collect()
}

fn assert_no_canary(out: &Output) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(CANARY), "canary leaked: {all}");
}

#[test]
fn spec_is_one_protocol_line() {
    let out = run(&["spec"], None);
    assert_eq!(out.status.code(), Some(0));
    let lines = lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0]["spec"]["connectionSpecification"]["properties"]["api_key"]["airbyte_secret"],
        true
    );
}

#[test]
fn help_explains_each_command_with_an_example() {
    let out = run(&["--help"], None);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("flowlu-connector check --config config.json"),
        "{text}"
    );
    let out = run(&["check", "--help"], None);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("--config <FILE>") && text.contains("Example:"),
        "{text}"
    );
}

#[test]
fn check_against_a_loopback_server_leaks_no_key_at_trace_level() {
    let mut server = mockito::Server::new();
    let probe = server
        .mock("GET", "/api/v1/module/crm/account/list")
        .match_query(mockito::Matcher::Exact(format!(
            "api_key={CANARY}&page=1&limit=1"
        )))
        .with_status(403)
        .with_body(format!(
            r#"{{"error":{{"error_code":11,"error_msg":"bad key {CANARY}"}}}}"#
        ))
        .expect(1)
        .create();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        format!(r#"{{"name":"n","account_domain":"acme","api_key":"{CANARY}"}}"#),
    )
    .unwrap();
    let out = run(
        &["check", "--config", config.to_str().unwrap()],
        Some(&server.url()),
    );
    assert_eq!(out.status.code(), Some(0));
    let lines = lines(&out);
    assert_eq!(lines.last().unwrap()["connectionStatus"]["status"], "FAILED");
    assert!(!out.stderr.is_empty(), "TRACE logging is on, so stderr has lines");
    assert_no_canary(&out);
    probe.assert();
}

#[test]
fn usage_errors_exit_2() {
    let out = run(&["nope"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pretty_shows_a_summary_on_stderr_and_leaves_stdout_alone() {
    use flowlu_emulator::{Emulator, EmulatorConfig};
    let emu = Emulator::start(EmulatorConfig {
        seed: 3,
        records_per_model: 250,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let key = emu.api_key().to_string();
    std::fs::write(
        &config,
        format!(r#"{{"name":"n","account_domain":"acme","api_key":"{key}"}}"#),
    )
    .unwrap();
    let catalog = dir.path().join("catalog.json");
    std::fs::write(
        &catalog,
        r#"{"streams":[{"stream":{"name":"crm_account","json_schema":{}},"sync_mode":"full_refresh","destination_sync_mode":"append"}]}"#,
    )
    .unwrap();
    let args = [
        "read",
        "--config",
        config.to_str().unwrap(),
        "--catalog",
        catalog.to_str().unwrap(),
    ];
    let url = emu.base_url();
    let records = |out: &Output| -> Vec<serde_json::Value> {
        lines(out)
            .into_iter()
            .filter(|l| l["type"] == "RECORD")
            .map(|l| l["record"]["data"].clone())
            .collect()
    };
    let plain = tokio::task::spawn_blocking({
        let (args, url) = (args.map(String::from), url.clone());
        move || run(&args.iter().map(String::as_str).collect::<Vec<_>>(), Some(&url))
    })
    .await
    .unwrap();
    let mut pretty_args = vec!["--pretty"];
    pretty_args.extend(args);
    let pretty_args: Vec<String> = pretty_args.into_iter().map(String::from).collect();
    let pretty = tokio::task::spawn_blocking(move || {
        run(
            &pretty_args.iter().map(String::as_str).collect::<Vec<_>>(),
            Some(&url),
        )
    })
    .await
    .unwrap();
    assert_eq!((plain.status.code(), pretty.status.code()), (Some(0), Some(0)));
    assert_eq!(records(&plain).len(), 250);
    assert_eq!(
        records(&plain),
        records(&pretty),
        "the protocol output does not change"
    );
    let stderr = String::from_utf8_lossy(&pretty.stderr);
    let row: Vec<&str> = stderr
        .lines()
        .find(|l| l.starts_with("crm_account "))
        .unwrap_or_else(|| panic!("no summary row in {stderr}"))
        .split_whitespace()
        .collect();
    assert_eq!(row[..4], ["crm_account", "complete", "250", "3"]);
    assert!(stderr.lines().any(|l| l.starts_with("stream ")), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&plain.stderr).contains("crm_account "),
        "no table without --pretty"
    );
}
