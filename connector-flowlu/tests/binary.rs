//! The real `flowlu-connector` process: stdout carries only protocol lines, exit codes follow
//! the Airbyte convention, and the key appears in neither stdout nor stderr, even at TRACE.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

const CANARY: &str = "canary-bin-3b8e61d2c4";

fn run(args: &[&str], base_url: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowlu-connector"));
    cmd.args(args)
        .env("RUST_LOG", "trace")
        .env_remove(connector_flowlu::BASE_URL_ENV);
    if let Some(url) = base_url {
        cmd.env(connector_flowlu::BASE_URL_ENV, url);
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

mod signals {
    //! SIGTERM and SIGINT end `read` and `write` cleanly: every stdout line is whole, the last
    //! STATE resumes without loss, stderr and a TRACE say what happened, and the exit code is
    //! 128 + the signal.
    use std::collections::{BTreeMap, BTreeSet};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Child, ChildStdout, Command, Stdio};

    use flowlu_emulator::{ApiKey, Emulator, EmulatorConfig, Latency};
    use serde_json::{json, Value};

    const KEY: &str = "signal-canary-41d7";
    const RECORDS: usize = 600;

    fn stand_in(runtime: &tokio::runtime::Runtime) -> Emulator {
        runtime
            .block_on(Emulator::start(EmulatorConfig {
                records_per_model: 1,
                model_records: [("crm/account".to_string(), RECORDS)].into_iter().collect(),
                keys: vec![ApiKey::all_modules(KEY)],
                // Slow enough that the read is still running when the signal comes.
                latency: Latency {
                    fixed_ms: 10,
                    jitter_ms: 0,
                },
                ..Default::default()
            }))
            .unwrap()
    }

    fn files(dir: &std::path::Path) {
        let config = json!({"name": "sig", "account_domain": "acme", "api_key": KEY,
            "advanced": {"page_size": 10, "max_concurrency": 1}});
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
        let catalog = json!({"streams": [{"stream": {"name": "crm_account", "json_schema": {}},
            "sync_mode": "incremental", "destination_sync_mode": "append"}]});
        std::fs::write(dir.join("catalog.json"), catalog.to_string()).unwrap();
    }

    fn spawn(dir: &std::path::Path, base_url: &str, args: &[&str], stdin: Stdio) -> Child {
        Command::new(env!("CARGO_BIN_EXE_flowlu-connector"))
            .args(args)
            .arg("--config")
            .arg(dir.join("config.json"))
            .arg("--catalog")
            .arg(dir.join("catalog.json"))
            .env(connector_flowlu::BASE_URL_ENV, base_url)
            .env_remove("RUST_LOG")
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn kill(child: &Child, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Reads stdout lines until `until` holds for one; returns them.
    fn read_until(stdout: &mut BufReader<ChildStdout>, mut until: impl FnMut(&Value) -> bool) -> Vec<Value> {
        let mut lines = Vec::new();
        let mut buf = String::new();
        loop {
            buf.clear();
            assert!(stdout.read_line(&mut buf).unwrap() > 0, "stdout ended early");
            let line: Value = serde_json::from_str(&buf).unwrap();
            let done = until(&line);
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// The rest of stdout: every line must be whole (end in a newline) and JSON.
    fn rest(stdout: &mut BufReader<ChildStdout>) -> Vec<Value> {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "a partial last line: {text:?}"
        );
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    fn ids(lines: &[Value]) -> Vec<u64> {
        lines
            .iter()
            .filter(|l| l["type"] == "RECORD")
            .map(|l| l["record"]["data"]["id"].as_u64().unwrap())
            .collect()
    }

    fn trace_error(lines: &[Value]) -> (String, String) {
        let last = lines.last().unwrap();
        assert_eq!(last["type"], "TRACE", "{last}");
        let e = &last["trace"]["error"];
        (
            e["failure_type"].as_str().unwrap().to_string(),
            e["message"].as_str().unwrap().to_string(),
        )
    }

    #[test]
    fn sigterm_ends_a_read_on_a_whole_line_and_its_last_state_resumes_without_loss() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let emu = stand_in(&runtime);
        let dir = tempfile::tempdir().unwrap();
        files(dir.path());
        let mut child = spawn(dir.path(), &emu.base_url(), &["read"], Stdio::null());
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        // Three pages in (three STATEs), ask it to stop.
        let mut states = 0;
        let mut lines = read_until(&mut stdout, |l| {
            if l["type"] == "STATE" {
                states += 1;
            }
            states == 3
        });
        kill(&child, "TERM");
        lines.extend(rest(&mut stdout));
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert_eq!(status.code(), Some(143), "{stderr}");
        let emitted = ids(&lines);
        assert!(
            emitted.len() < RECORDS,
            "the read stopped early: {}",
            emitted.len()
        );
        let last_state = lines.iter().rposition(|l| l["type"] == "STATE").unwrap();
        let covered = ids(&lines[..last_state]);
        let (failure_type, message) = trace_error(&lines);
        let expected = format!(
            "interrupted by SIGTERM after {} records; the last STATE of each stream covers the records before it (crm_account {} of {}): a read with those states continues without loss",
            emitted.len(),
            covered.len(),
            emitted.len()
        );
        assert_eq!(
            (failure_type.as_str(), message.as_str()),
            ("transient_error", format!("The read was {expected}.").as_str())
        );
        assert!(
            stderr.contains(&format!("flowlu-connector: {expected}")),
            "{stderr}"
        );

        // Resume from the last STATE: together, nothing lost, nothing covered read again.
        let state = json!([lines[last_state]["state"]]);
        std::fs::write(dir.path().join("state.json"), state.to_string()).unwrap();
        let resumed = Command::new(env!("CARGO_BIN_EXE_flowlu-connector"))
            .args(["read", "--config"])
            .arg(dir.path().join("config.json"))
            .arg("--catalog")
            .arg(dir.path().join("catalog.json"))
            .arg("--state")
            .arg(dir.path().join("state.json"))
            .env(connector_flowlu::BASE_URL_ENV, emu.base_url())
            .output()
            .unwrap();
        assert_eq!(resumed.status.code(), Some(0));
        let resumed: Vec<Value> = String::from_utf8(resumed.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let again = ids(&resumed);
        let covered: BTreeSet<u64> = covered.into_iter().collect();
        assert!(
            again.iter().all(|id| !covered.contains(id)),
            "a covered record was read again"
        );
        let all: BTreeSet<u64> = covered.iter().copied().chain(again).collect();
        assert_eq!(all, (1..=RECORDS as u64).collect::<BTreeSet<u64>>());
    }

    #[test]
    fn sigint_ends_a_write_after_the_records_read_with_their_states() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let emu = stand_in(&runtime);
        let dir = tempfile::tempdir().unwrap();
        files(dir.path());
        let before = emu.count("crm", "account");
        let mut child = spawn(dir.path(), &emu.base_url(), &["write"], Stdio::piped());
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        for i in 0..5 {
            let record = json!({"type": "RECORD", "record": {"stream": "crm_account", "emitted_at": 0, "data": {"name": format!("S{i}")}}});
            writeln!(stdin, "{record}").unwrap();
        }
        let state = json!({"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "crm_account"}, "stream_state": {"n": 5}}}});
        writeln!(stdin, "{state}").unwrap();
        stdin.flush().unwrap();
        // The STATE is echoed once the five records are written; stdin stays open.
        let mut lines = read_until(&mut stdout, |l| l["type"] == "STATE");
        kill(&child, "INT");
        lines.extend(rest(&mut stdout));
        let status = child.wait().unwrap();
        drop(stdin);
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert_eq!(status.code(), Some(130), "{stderr}");
        let expected = "interrupted by SIGINT after reading 5 records (input line 6); each has its outcome, and 1 STATE(s) were echoed, the last covering every record before it: the host sends the rest again";
        assert_eq!(
            trace_error(&lines),
            (
                "transient_error".to_string(),
                format!("The write was {expected}.")
            )
        );
        assert!(
            stderr.contains(&format!("flowlu-connector: write {expected}")),
            "{stderr}"
        );
        let states: Vec<&Value> = lines.iter().filter(|l| l["type"] == "STATE").collect();
        assert_eq!(states, [&state]);
        let summary: BTreeMap<&str, &str> = lines
            .iter()
            .filter_map(|l| l["log"]["message"].as_str())
            .filter_map(|m| m.strip_prefix("write summary: "))
            .filter_map(|m| m.split_once(": "))
            .collect();
        assert_eq!(
            summary.get("total").copied(),
            Some("created 5, updated 0, unchanged 0, deleted 0, skipped 0, failed 0, unknown 0")
        );
        assert_eq!(emu.count("crm", "account"), before + 5);
    }

    #[test]
    fn sigterm_ends_a_discover_waiting_on_a_silent_server() {
        // A server that accepts the connection and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let dir = tempfile::tempdir().unwrap();
        files(dir.path());
        let mut child = Command::new(env!("CARGO_BIN_EXE_flowlu-connector"))
            .args(["discover", "--config"])
            .arg(dir.path().join("config.json"))
            .env(connector_flowlu::BASE_URL_ENV, &base_url)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (_connection, _) = listener.accept().unwrap();
        kill(&child, "TERM");
        let status = child.wait().unwrap();
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert_eq!(status.code(), Some(143), "{stderr}");
        assert_eq!(out, "");
        assert_eq!(stderr, "flowlu-connector: discover interrupted by SIGTERM\n");
    }
}
