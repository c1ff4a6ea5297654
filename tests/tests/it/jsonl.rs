//! The second connector (`connector-jsonl`, built only on connector-core and the runner)
//! through the runner in-process: exact lines out, resumed reads that lose and repeat nothing,
//! appends read back, and failures that name the file and line.

use connector_jsonl::Jsonl;
use integration_tests::{run_connector, temp_json, Run};
use serde_json::{json, Value};

async fn run(args: &[&str], stdin: &str) -> Run {
    run_connector::<Jsonl>(args, None, stdin.as_bytes()).await
}

fn config(dir: &std::path::Path) -> tempfile::NamedTempFile {
    temp_json(&json!({"name": "Files", "directory": dir}))
}

fn catalog(stream: &str, sync_mode: &str) -> tempfile::NamedTempFile {
    temp_json(
        &json!({"streams": [{"stream": {"name": stream, "json_schema": {}}, "sync_mode": sync_mode, "destination_sync_mode": "append"}]}),
    )
}

/// The stdout lines of a run without their `emitted_at` (a clock) and stream status traces.
fn lines(run: &Run) -> Vec<Value> {
    run.messages
        .iter()
        .filter(|m| m["trace"]["type"] != "STREAM_STATUS")
        .cloned()
        .map(|mut m| {
            if let Some(record) = m.get_mut("record").and_then(Value::as_object_mut) {
                record.remove("emitted_at");
            }
            if let Some(trace) = m.get_mut("trace").and_then(Value::as_object_mut) {
                trace.remove("emitted_at");
            }
            m
        })
        .collect()
}

fn record(data: Value) -> Value {
    json!({"type": "RECORD", "record": {"stream": "users", "data": data}})
}

fn state(offset: u64, line: u64) -> Value {
    json!({"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"offset": offset, "line": line}}}})
}

#[tokio::test]
async fn spec_check_and_discover_describe_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.jsonl"), "").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "").unwrap();
    std::fs::write(dir.path().join(".hidden.jsonl"), "").unwrap();
    let cfg = config(dir.path());
    let cfg = cfg.path().to_str().unwrap();
    let spec = run(&["spec"], "").await;
    assert_eq!(spec.code, 0);
    let properties = &spec.messages[0]["spec"]["connectionSpecification"]["properties"];
    let names: Vec<&String> = properties.as_object().unwrap().keys().collect();
    assert_eq!(names, ["name", "description", "directory"]);
    let check = run(&["check", "--config", cfg], "").await;
    assert_eq!(
        check.messages,
        [
            json!({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "SUCCEEDED", "message": format!("Read the directory {}.", dir.path().display())}})
        ]
    );
    let discover = run(&["discover", "--config", cfg], "").await;
    assert_eq!(
        discover.messages[0]["catalog"]["streams"],
        json!([{"name": "users", "json_schema": {"type": "object", "description": "The lines of users.jsonl."}, "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true}])
    );
    let missing = config(&dir.path().join("nope"));
    let check = run(&["check", "--config", missing.path().to_str().unwrap()], "").await;
    assert_eq!(check.code, 0);
    let message = check.messages[0]["connectionStatus"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "The directory {} cannot be read: ",
            dir.path().join("nope").display()
        )),
        "{message}"
    );
}

#[tokio::test]
async fn read_passes_complete_lines_as_written_and_resumes_from_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.jsonl");
    std::fs::write(
        &file,
        "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,  \"name\":\"b\"}\r\n\n{\"id\":3}\n{\"id\":",
    )
    .unwrap();
    let cfg = config(dir.path());
    let cat = catalog("users", "incremental");
    let args = [
        "read",
        "--config",
        cfg.path().to_str().unwrap(),
        "--catalog",
        cat.path().to_str().unwrap(),
    ];
    let first = run(&args, "").await;
    assert_eq!(first.code, 0, "{}", first.stdout);
    assert_eq!(
        lines(&first),
        [
            record(json!({"id": 1, "name": "a"})),
            record(json!({"id": 2, "name": "b"})),
            record(json!({"id": 3})),
            state(53, 4),
        ]
    );
    assert!(
        first.stdout.contains(r#""data":{"id":2,  "name":"b"},"#),
        "the record's own text: {}",
        first.stdout
    );
    // The last line is completed and one more is appended: the next read starts after line 4.
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("4}\n{\"id\":5}\n");
    std::fs::write(&file, text).unwrap();
    let saved = temp_json(&json!([first
        .messages
        .iter()
        .find(|m| m["type"] == "STATE")
        .unwrap()["state"]]));
    let mut resumed_args = args.to_vec();
    resumed_args.extend(["--state", saved.path().to_str().unwrap()]);
    let resumed = run(&resumed_args, "").await;
    assert_eq!(
        lines(&resumed),
        [record(json!({"id": 4})), record(json!({"id": 5})), state(71, 6)]
    );
    // Full refresh ignores the state.
    let full = catalog("users", "full_refresh");
    let mut full_args = resumed_args.clone();
    full_args[4] = full.path().to_str().unwrap();
    let all = run(&full_args, "").await;
    assert_eq!(lines(&all).len(), 6, "{}", all.stdout);
}

#[tokio::test]
async fn a_line_that_is_not_an_object_fails_its_stream_after_the_lines_before_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.jsonl"), "{\"id\":1}\n[1, 2]\n{\"id\":3}\n").unwrap();
    let cfg = config(dir.path());
    let cat = catalog("users", "incremental");
    let run = run(
        &[
            "read",
            "--config",
            cfg.path().to_str().unwrap(),
            "--catalog",
            cat.path().to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert_eq!(run.code, 1);
    let path = dir.path().join("users.jsonl");
    assert_eq!(
        lines(&run),
        [
            record(json!({"id": 1})),
            state(9, 1),
            json!({"type": "TRACE", "trace": {"type": "ERROR", "error": {
                "message": format!("Line 2 of {} is not a JSON object (a JSON value that is not an object); the lines before it were read. Fix or remove the line and read again: the read continues after the last STATE.", path.display()),
                "internal_message": "users line 2: a JSON value that is not an object",
                "failure_type": "config_error",
                "stream_descriptor": {"name": "users"}}}}),
        ]
    );
}

#[tokio::test]
async fn write_appends_records_acknowledges_states_and_rejects_what_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.jsonl"), "{\"id\":1}\n").unwrap();
    let cfg = config(dir.path());
    let cat = catalog("users", "incremental");
    let rejects = tempfile::NamedTempFile::new().unwrap();
    let state_line = json!({"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"n": 1}}}});
    let input = [
        json!({"type": "RECORD", "record": {"stream": "users", "data": {"id": 2, "name": "b"}, "emitted_at": 1}}),
        state_line.clone(),
        json!({"type": "RECORD", "record": {"stream": "other", "data": {"id": 3}, "emitted_at": 1}}),
    ]
    .map(|m| m.to_string())
    .join("\n");
    let args = [
        "write",
        "--config",
        cfg.path().to_str().unwrap(),
        "--catalog",
        cat.path().to_str().unwrap(),
        "--reject-file",
        rejects.path().to_str().unwrap(),
    ];
    let written = run(&args, &input).await;
    assert_eq!(written.code, 0, "{}", written.stdout);
    assert_eq!(written.messages[0], state_line);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("users.jsonl")).unwrap(),
        "{\"id\":1}\n{\"id\":2,\"name\":\"b\"}\n"
    );
    let rejected: Value =
        serde_json::from_str(std::fs::read_to_string(rejects.path()).unwrap().trim()).unwrap();
    assert_eq!(
        rejected,
        json!({"stream": "other", "sequence": 1, "outcome": "failed", "class": "config", "message": "the stream `other` is not in the configured catalog", "record": {"id": 3}})
    );
    // A catalog the sink cannot write is refused once, before any line is read.
    let overwrite = temp_json(
        &json!({"streams": [{"stream": {"name": "users", "json_schema": {}}, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}),
    );
    let mut refused_args = args.to_vec();
    refused_args[4] = overwrite.path().to_str().unwrap();
    let refused = run(&refused_args, &input).await;
    assert_eq!(refused.code, 1);
    assert_eq!(refused.messages.len(), 1, "{}", refused.stdout);
    assert_eq!(
        refused.messages[0]["trace"]["error"]["message"],
        "The catalog cannot be written: the stream `users` is not configured with destination_sync_mode append: this destination only appends."
    );
    // Read back: the appended record follows the first.
    let read = run(
        &[
            "read",
            "--config",
            cfg.path().to_str().unwrap(),
            "--catalog",
            cat.path().to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert_eq!(
        lines(&read),
        [
            record(json!({"id": 1})),
            record(json!({"id": 2, "name": "b"})),
            state(29, 2)
        ]
    );
}

#[tokio::test]
async fn write_refuses_to_append_after_an_incomplete_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.jsonl");
    std::fs::write(&path, "{\"id\":1}\n{\"id\":").unwrap();
    let cfg = config(dir.path());
    let cat = catalog("users", "incremental");
    let input = json!({"type": "RECORD", "record": {"stream": "users", "data": {"id": 2}, "emitted_at": 1}})
        .to_string();
    let run = run(
        &[
            "write",
            "--config",
            cfg.path().to_str().unwrap(),
            "--catalog",
            cat.path().to_str().unwrap(),
        ],
        &input,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        run.messages[0]["log"]["message"],
        format!(
            "users record 0: {{\"outcome\":\"failed\",\"class\":\"system\",\"message\":\"{} ends with an incomplete line (no newline at its end): complete or remove that line, then write again\"}}",
            path.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"id\":1}\n{\"id\":",
        "nothing appended"
    );
}
