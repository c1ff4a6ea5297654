//! Malformed config, catalog, state and stdin messages: each gives a clear error naming what
//! is wrong and the exit code Airbyte expects (a `TRACE` error with `failure_type` and exit 1;
//! `check` answers `CONNECTION_STATUS FAILED` with exit 0, see check_cli.rs). Nothing is sent
//! to Flowlu for a config, catalog or state problem (the stand-in counts no request).

use integration_tests::catalog::Stream;
use integration_tests::stand_in::StandIn;
use integration_tests::{config_json, run_cli, run_cli_bytes, temp_json, Run, CANARY_KEY};
use serde_json::{json, Value};

const CATALOG_SHAPE: &str = "a configured catalog such as {\"streams\": [{\"stream\": {\"name\": \"crm_account\", \"json_schema\": {}}, \"sync_mode\": \"incremental\", \"destination_sync_mode\": \"append\"}]} (the output of discover, configured)";
const STATE_SHAPE: &str = "a JSON array of the `state` objects of earlier STATE messages";
const INCOMPLETE: &str = "Required fields: name, account_domain, api_key.";

/// The one TRACE error of a run: (exit code, failure_type, message).
fn error(run: &Run) -> (i32, String, String) {
    let errors: Vec<&Value> = run
        .messages
        .iter()
        .filter(|m| m["type"] == "TRACE" && m["trace"]["type"] == "ERROR")
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    let e = &errors[0]["trace"]["error"];
    (
        run.code,
        e["failure_type"].as_str().unwrap().to_string(),
        e["message"].as_str().unwrap().to_string(),
    )
}

fn config_error(message: String) -> (i32, String, String) {
    (1, "config_error".into(), message)
}

#[tokio::test]
async fn malformed_configs_fail_every_command_naming_the_field() {
    let emu = StandIn::new().records_per_model(3).key(CANARY_KEY).start().await;
    let catalog = temp_json(&Stream::new("crm_account").sync("incremental").json());
    let k = catalog.path().to_str().unwrap();
    let bad = tempfile::NamedTempFile::new().unwrap();
    let path = bad.path().to_str().unwrap();
    let cases: Vec<(String, String)> = vec![
        ("".into(), format!("The config file {path} is not valid JSON (line 1, column 0). It should be an object such as {{\"name\": \"CRM\", \"account_domain\": \"mycompany\", \"api_key\": \"...\"}}.")),
        ("{\"name\": ".into(), format!("The config file {path} is not valid JSON (line 1, column 9). It should be an object such as {{\"name\": \"CRM\", \"account_domain\": \"mycompany\", \"api_key\": \"...\"}}.")),
        ("[]".into(), format!("The config is incomplete: invalid type: sequence, expected struct FlowluCredential. {INCOMPLETE}")),
        ("{\"name\": \"n\"}".into(), format!("The config is incomplete: missing field `account_domain`. {INCOMPLETE}")),
        (
            json!({"name": "n", "account_domain": "a b", "api_key": CANARY_KEY}).to_string(),
            "The config field `account_domain` is wrong: `a b` is not a valid account name; enter the first part of your Flowlu address: for https://mycompany.flowlu.com enter mycompany.".into(),
        ),
        (
            json!({"name": "n", "account_domain": "acme", "api_key": ""}).to_string(),
            "The `api_key` setting is wrong: the API key is empty; copy it from Flowlu: Portal Settings -> API Settings.".into(),
        ),
        (
            json!({"name": "n", "account_domain": "acme", "api_key": CANARY_KEY, "advanced": {"max_concurrency": "many"}}).to_string(),
            "The config field `advanced.max_concurrency` is wrong: must be a whole number, like 5, but is a string.".into(),
        ),
        (
            json!({"name": "n", "account_domain": "acme", "api_key": CANARY_KEY, "advanced": {"max_concurrency": 0}}).to_string(),
            "The `advanced.max_concurrency` setting is wrong: 0 is out of range; use a whole number from 1 to 32, or leave it empty for the default.".into(),
        ),
        (
            json!({"name": "n", "account_domain": "acme", "api_key": CANARY_KEY, "advanced": {"page_size": 1001}}).to_string(),
            "The `advanced.page_size` setting is wrong: 1001 is out of range; use a whole number from 1 to 1000, or leave it empty for the default.".into(),
        ),
        (
            json!({"name": "n", "account_domain": "acme", "api_key": CANARY_KEY, "advanced": {"start_date": "2024-13-45"}}).to_string(),
            "The config field `advanced.start_date` is wrong: `2024-13-45` is not a real date (no such month or day); use YYYY-MM-DD, for example 2024-01-31.".into(),
        ),
        (
            json!({"name": "n", "account_domain": "acme", "api_key": CANARY_KEY, "advanced": {"start_date": "2023-02-29"}}).to_string(),
            "The config field `advanced.start_date` is wrong: `2023-02-29` is not a real date (no such month or day); use YYYY-MM-DD, for example 2024-01-31.".into(),
        ),
    ];
    for (body, expected) in cases {
        std::fs::write(bad.path(), &body).unwrap();
        for command in [
            &["discover", "--config", path][..],
            &["read", "--config", path, "--catalog", k],
            &["write", "--config", path, "--catalog", k],
        ] {
            let run = run_cli(command, Some(&emu.base_url()), "").await;
            assert_eq!(
                error(&run),
                config_error(expected.clone()),
                "{command:?} with {body}"
            );
            assert!(!run.stdout.contains(CANARY_KEY));
        }
    }
    let run = run_cli(
        &["read", "--config", "/nonexistent/config.json", "--catalog", k],
        None,
        "",
    )
    .await;
    assert_eq!(
        error(&run),
        config_error("The config file /nonexistent/config.json could not be read: No such file or directory (os error 2). Check the path given with --config.".into())
    );
    assert_eq!(emu.stats().total, 0, "nothing was sent");
}

#[tokio::test]
async fn malformed_catalogs_fail_read_and_write_naming_the_field() {
    let emu = StandIn::new().records_per_model(3).key(CANARY_KEY).start().await;
    let config = temp_json(&config_json("acme"));
    let c = config.path().to_str().unwrap();
    let bad = tempfile::NamedTempFile::new().unwrap();
    let path = bad.path().to_str().unwrap();
    let field = |f: &str, what: &str| {
        format!("The catalog field `{f}` is wrong: {what}. The catalog should be {CATALOG_SHAPE}.")
    };
    let cases: Vec<(String, String)> = vec![
        ("".into(), format!("The catalog file {path} is not valid JSON (line 1, column 0). It should be {CATALOG_SHAPE}.")),
        ("{\"streams\": [".into(), format!("The catalog file {path} is not valid JSON (line 1, column 13). It should be {CATALOG_SHAPE}.")),
        ("{}".into(), field(".", "missing field `streams`")),
        ("{\"streams\": {}}".into(), field("streams", "invalid type: map, expected a sequence")),
        ("{\"streams\": [{}]}".into(), field("streams[0]", "missing field `stream`")),
        (
            json!({"streams": [{"stream": {"name": "crm_account"}, "sync_mode": "full_refresh"}]}).to_string(),
            field("streams[0].stream", "missing field `json_schema`"),
        ),
        (
            json!({"streams": [{"stream": {"name": "crm_account", "json_schema": {}}, "sync_mode": "sometimes"}]}).to_string(),
            field("streams[0].sync_mode", "unknown variant `sometimes`, expected `full_refresh` or `incremental`"),
        ),
    ];
    for (body, expected) in cases {
        std::fs::write(bad.path(), &body).unwrap();
        for command in ["read", "write"] {
            let run = run_cli(
                &[command, "--config", c, "--catalog", path],
                Some(&emu.base_url()),
                "",
            )
            .await;
            assert_eq!(
                error(&run),
                config_error(expected.clone()),
                "{command} with {body}"
            );
        }
    }
    // A stream Flowlu does not have: read reports it on the stream, write refuses the catalog.
    std::fs::write(bad.path(), json!({"streams": [{"stream": {"name": "nope", "json_schema": {}}, "sync_mode": "full_refresh", "destination_sync_mode": "append"}]}).to_string()).unwrap();
    let run = run_cli(
        &["read", "--config", c, "--catalog", path],
        Some(&emu.base_url()),
        "",
    )
    .await;
    assert_eq!(error(&run), config_error("The catalog asks for a stream `nope` that Flowlu does not have. Run discover again and select streams from its catalog.".into()));
    let run = run_cli(
        &["write", "--config", c, "--catalog", path],
        Some(&emu.base_url()),
        "",
    )
    .await;
    assert_eq!(error(&run), config_error("The catalog cannot be written: invalid `catalog stream nope`: not a Flowlu stream; use a stream name such as crm_account (see discover).".into()));
    assert_eq!(emu.stats().total, 0, "nothing was sent");
}

#[tokio::test]
async fn malformed_states_fail_the_read_and_unknown_stream_states_read_from_the_start() {
    let emu = StandIn::new().records_per_model(3).key(CANARY_KEY).start().await;
    let config = temp_json(&config_json("acme"));
    let catalog = temp_json(&Stream::new("crm_account").sync("incremental").json());
    let (c, k) = (config.path().to_str().unwrap(), catalog.path().to_str().unwrap());
    let bad = tempfile::NamedTempFile::new().unwrap();
    let path = bad.path().to_str().unwrap();
    let wrong = |what: &str| {
        format!("The state file is wrong: invalid state: {what}. It should be {STATE_SHAPE}, or [] to start over.")
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "",
            format!(
                "The state file {path} is not valid JSON (line 1, column 0). It should be {STATE_SHAPE}."
            ),
        ),
        ("5", wrong("expected a JSON array of state objects")),
        ("\"x\"", wrong("expected a JSON array of state objects")),
        ("[5]", wrong("entry 0: expected a state object")),
        (
            "[{\"type\": \"PER_STREAM\"}]",
            wrong("entry 0: unknown state type `PER_STREAM` (expected STREAM, GLOBAL or LEGACY)"),
        ),
        (
            "[{\"type\": \"STREAM\"}]",
            wrong("entry 0: a STREAM state without `stream`"),
        ),
    ];
    for (body, expected) in cases {
        std::fs::write(bad.path(), body).unwrap();
        let run = run_cli(
            &["read", "--config", c, "--catalog", k, "--state", path],
            Some(&emu.base_url()),
            "",
        )
        .await;
        assert_eq!(error(&run), config_error(expected), "state {body}");
    }
    assert_eq!(emu.stats().total, 0, "nothing was sent");
    // A stream state this connector never wrote loses nothing: the stream is read from the start.
    for stream_state in [json!("garbage"), json!({"cursor": [1, 2]})] {
        let state = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "crm_account"}, "stream_state": stream_state}}]);
        std::fs::write(bad.path(), state.to_string()).unwrap();
        let run = run_cli(
            &["read", "--config", c, "--catalog", k, "--state", path],
            Some(&emu.base_url()),
            "",
        )
        .await;
        let records: Vec<&Value> = run
            .messages
            .iter()
            .filter(|m| m["type"] == "RECORD")
            .map(|m| &m["record"]["data"])
            .collect();
        assert_eq!(run.code, 0, "{}", run.stdout);
        assert_eq!(records.len(), 3, "{stream_state}");
    }
}

#[tokio::test]
async fn malformed_stdin_lines_are_reported_by_line_and_the_others_written() {
    let emu = StandIn::new().records_per_model(3).key(CANARY_KEY).start().await;
    let config = temp_json(&config_json("acme"));
    let catalog = temp_json(&Stream::new("crm_account").sync("incremental").json());
    let (c, k) = (config.path().to_str().unwrap(), catalog.path().to_str().unwrap());
    // A new name each run: the same record sent run after run would be found among the
    // newest records and created once (two identical records of one input are both created).
    let good = |i: usize| {
        json!({"type": "RECORD", "record": {"stream": "crm_account", "emitted_at": 0, "data": {"name": format!("Fine {i}")}}}).to_string()
    };
    let cases = [
        ("not json", "expected ident at line 1 column 2"),
        ("{}", "missing field `type` at line 1 column 2"),
        ("[1]", "invalid type: integer `1`, expected variant identifier at line 1 column 2"),
        ("{\"type\":\"RECORD\"}", "missing field `record`"),
        ("{\"type\":\"RECORD\",\"record\":{\"data\":{},\"emitted_at\":0}}", "missing field `stream`"),
        ("{\"type\":\"STATE\"}", "missing field `state`"),
        ("{\"type\":\"NOPE\"}", "unknown variant `NOPE`, expected one of `RECORD`, `STATE`, `LOG`, `TRACE`, `SPEC`, `CONNECTION_STATUS`, `CATALOG` at line 1 column 14"),
    ];
    let before = emu.count("crm", "account");
    for (i, (line, why)) in cases.iter().enumerate() {
        let rejects = tempfile::NamedTempFile::new().unwrap();
        let r = rejects.path().to_str().unwrap();
        let good = good(i);
        let stdin = format!("{good}\n{line}\n{good}\n");
        let run = run_cli(
            &["write", "--config", c, "--catalog", k, "--reject-file", r],
            Some(&emu.base_url()),
            &stdin,
        )
        .await;
        assert_eq!(
            error(&run),
            (
                1,
                "system_error".into(),
                "1 input line(s) could not be read (line 2) and were skipped; every other line was read: 2 record(s), created 2, updated 0, unchanged 0, deleted 0, skipped 0, failed 0, unknown 0.".into()
            ),
            "{line}"
        );
        let logged = run.messages.iter().any(|m| {
            m["log"]["message"] == format!("input line 2 skipped: invalid message on line 2: {why}")
        });
        assert!(logged, "{line}: {}", run.stdout);
        let rejected: Value =
            serde_json::from_str(std::fs::read_to_string(rejects.path()).unwrap().trim()).unwrap();
        assert_eq!(
            (&rejected["line"], &rejected["outcome"], &rejected["input"]),
            (&json!(2), &json!("unreadable"), &json!(line))
        );
        assert_eq!(
            emu.count("crm", "account"),
            before + 2 * (i + 1),
            "both good records were written"
        );
    }
}

#[tokio::test]
async fn a_catalog_naming_a_stream_twice_fails_read_and_write_naming_it() {
    let emu = StandIn::new().records_per_model(3).key(CANARY_KEY).start().await;
    let config = temp_json(&config_json("acme"));
    let c = config.path().to_str().unwrap();
    let stream = |name: &str, mode: &str| json!({"stream": {"name": name, "json_schema": {}}, "sync_mode": mode, "destination_sync_mode": "append"});
    let catalog = temp_json(&json!({"streams": [
        stream("crm_account", "incremental"),
        stream("task_tasks", "full_refresh"),
        stream("crm_account", "full_refresh"),
    ]}));
    let k = catalog.path().to_str().unwrap();
    let record = json!({"type": "RECORD", "record": {"stream": "crm_account", "emitted_at": 0, "data": {"name": "x"}}});
    for command in ["read", "write"] {
        let run = run_cli(
            &[command, "--config", c, "--catalog", k],
            Some(&emu.base_url()),
            &record.to_string(),
        )
        .await;
        assert_eq!(
            error(&run),
            config_error("The catalog names the stream `crm_account` twice (streams[0] and streams[2]). List each stream once, with the sync mode you want.".into()),
            "{command}"
        );
        assert_eq!(run.messages.len(), 1, "{command}: {}", run.stdout);
    }
    assert_eq!(emu.stats().total, 0, "nothing was sent");
}

/// A ConfiguredAirbyteCatalog exactly as airbyte-cdk serialises one (its standard tests write
/// this): every unset optional field is an explicit `null`.
fn cdk_catalog(stream: &str, sync_mode: &str, destination_sync_mode: Value) -> Value {
    json!({"streams": [{
        "stream": {
            "name": stream,
            "json_schema": {"type": "object", "properties": {}},
            "supported_sync_modes": ["full_refresh", "incremental"],
            "source_defined_cursor": null,
            "default_cursor_field": null,
            "source_defined_primary_key": null,
            "namespace": null,
            "is_resumable": null,
            "is_file_based": null
        },
        "sync_mode": sync_mode,
        "cursor_field": null,
        "destination_sync_mode": destination_sync_mode,
        "primary_key": null,
        "generation_id": null,
        "minimum_generation_id": null,
        "sync_id": null,
        "include_files": null
    }]})
}

#[tokio::test]
async fn catalogs_with_explicit_nulls_are_read_and_written() {
    let emu = StandIn::new().records_per_model(3).key(CANARY_KEY).start().await;
    let config = temp_json(&config_json("acme"));
    let c = config.path().to_str().unwrap();
    for sync_mode in ["incremental", "full_refresh"] {
        let catalog = temp_json(&cdk_catalog("crm_account", sync_mode, json!("append")));
        let k = catalog.path().to_str().unwrap();
        let run = run_cli(
            &["read", "--config", c, "--catalog", k],
            Some(&emu.base_url()),
            "",
        )
        .await;
        assert_eq!(run.code, 0, "{}", run.stdout);
        let records = run.messages.iter().filter(|m| m["type"] == "RECORD").count();
        assert_eq!(records, 3, "{sync_mode}: {}", run.stdout);
        let states = run.messages.iter().filter(|m| m["type"] == "STATE").count();
        assert!(states >= 1, "{sync_mode}: {}", run.stdout);
    }
    let before = emu.count("crm", "account");
    for destination_sync_mode in [json!(null), json!("append")] {
        let catalog = temp_json(&cdk_catalog(
            "crm_account",
            "full_refresh",
            destination_sync_mode.clone(),
        ));
        let k = catalog.path().to_str().unwrap();
        let state = json!({"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "crm_account", "namespace": null}, "stream_state": {"n": 1}}}});
        let stdin = format!(
            "{}\n{state}\n",
            json!({"type": "RECORD", "record": {"stream": "crm_account", "emitted_at": 0, "namespace": null, "data": {"name": format!("From the CDK ({destination_sync_mode})")}}})
        );
        let run = run_cli(
            &["write", "--config", c, "--catalog", k],
            Some(&emu.base_url()),
            &stdin,
        )
        .await;
        assert_eq!(run.code, 0, "{destination_sync_mode}: {}", run.stdout);
        let acked: Vec<&Value> = run.messages.iter().filter(|m| m["type"] == "STATE").collect();
        assert_eq!(acked, [&state], "{destination_sync_mode}");
    }
    assert_eq!(
        emu.count("crm", "account"),
        before + 2,
        "both records were created"
    );
}

/// One invalid UTF-8 byte is one unreadable line: every later record and STATE is still read,
/// written and echoed, and the summary counts what really happened.
#[tokio::test]
async fn a_line_that_is_not_utf8_is_rejected_by_number_and_every_later_line_is_read() {
    let emu = StandIn::new().records_per_model(3).key(CANARY_KEY).start().await;
    let config = temp_json(&config_json("acme"));
    let catalog = temp_json(&Stream::new("crm_account").sync("incremental").json());
    let (c, k) = (config.path().to_str().unwrap(), catalog.path().to_str().unwrap());
    let record = |name: &str| {
        json!({"type": "RECORD", "record": {"stream": "crm_account", "emitted_at": 0, "data": {"name": name}}}).to_string()
    };
    let state = |n: u64| json!({"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "crm_account"}, "stream_state": {"n": n}}}});
    let mut stdin = Vec::new();
    for line in [record("A"), state(1).to_string()] {
        stdin.extend_from_slice(line.as_bytes());
        stdin.push(b'\n');
    }
    stdin.extend_from_slice(b"{\"type\": \"RECORD\", \"record\": {\"stream\": \"crm_account\", \"data\": {\"name\": \"caf\xe9\"}}}\r\n");
    for line in [
        record("B"),
        state(2).to_string(),
        "{\"type\": \"RECORD\"".into(),
        record("C"),
    ] {
        stdin.extend_from_slice(line.as_bytes());
        stdin.push(b'\n');
    }
    stdin.extend_from_slice(state(3).to_string().as_bytes());
    let rejects = tempfile::NamedTempFile::new().unwrap();
    let r = rejects.path().to_str().unwrap();
    let before = emu.count("crm", "account");
    let run = run_cli_bytes(
        &["write", "--config", c, "--catalog", k, "--reject-file", r],
        Some(&emu.base_url()),
        &stdin,
    )
    .await;
    assert_eq!(
        error(&run),
        (
            1,
            "system_error".into(),
            "2 input line(s) could not be read (line 3, 6) and were skipped; every other line was read: 3 record(s), created 3, updated 0, unchanged 0, deleted 0, skipped 0, failed 0, unknown 0.".into()
        )
    );
    let acked: Vec<Value> = run
        .messages
        .iter()
        .filter(|m| m["type"] == "STATE")
        .cloned()
        .collect();
    assert_eq!(acked, [state(1), state(2), state(3)]);
    let logged: Vec<&str> = run
        .messages
        .iter()
        .filter(|m| m["log"]["level"] == "ERROR")
        .filter_map(|m| m["log"]["message"].as_str())
        .collect();
    assert_eq!(
        logged,
        [
            "input line 3 skipped: line 3 is not UTF-8 text (invalid byte at column 77)",
            "input line 6 skipped: invalid message on line 6: EOF while parsing an object at line 1 column 17",
        ]
    );
    let rejected: Vec<Value> = std::fs::read_to_string(rejects.path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        rejected,
        [
            json!({"line": 3, "outcome": "unreadable", "message": "line 3 is not UTF-8 text (invalid byte at column 77)",
                "input": "{\"type\": \"RECORD\", \"record\": {\"stream\": \"crm_account\", \"data\": {\"name\": \"caf\u{fffd}\"}}}"}),
            json!({"line": 6, "outcome": "unreadable", "message": "invalid message on line 6: EOF while parsing an object at line 1 column 17",
                "input": "{\"type\": \"RECORD\""}),
        ]
    );
    assert_eq!(emu.count("crm", "account"), before + 3, "A, B and C were created");
}
