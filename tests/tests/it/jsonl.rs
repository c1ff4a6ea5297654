//! The JSON-lines connector (`connector-jsonl`), the second connector on the runner: its
//! protocol commands in-process, exact lines out, exact files on disk.

use std::path::Path;

use connector_core::{
    ConfiguredCatalog, DestinationSyncMode, Outcome, Record, RecordOutcome, Sink, SinkEvent, SinkInput,
    Source, SourceEvent, SourceState,
};
use connector_jsonl::{Jsonl, JsonlCredential, JsonlSink, JsonlSource};
use futures::StreamExt;
use integration_tests::catalog::{Catalog, Stream};
use integration_tests::protocol::{log, raw_record_line, records_of, state_line, states_of};
use integration_tests::{run_connector, temp_json, Run};
use serde_json::{json, Value};

/// A directory with a config file naming it.
struct Dir {
    dir: tempfile::TempDir,
    config: tempfile::NamedTempFile,
}

impl Dir {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = temp_json(&json!({"name": "files", "directory": dir.path()}));
        Self { dir, config }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn put(&self, file: &str, content: &[u8]) {
        std::fs::write(self.path().join(file), content).unwrap();
    }

    fn contents(&self, file: &str) -> String {
        std::fs::read_to_string(self.path().join(file)).unwrap()
    }

    fn config(&self) -> &str {
        self.config.path().to_str().unwrap()
    }

    fn credential(&self) -> JsonlCredential {
        JsonlCredential::new("files", self.path())
    }

    /// `read` of `streams` (incremental), from `state` (a JSON array of STATE payloads).
    async fn read(&self, streams: &[&str], state: Option<Value>) -> Run {
        let catalog = temp_json(
            &Catalog::of(streams.iter().map(|name| {
                Stream::new(name)
                    .schema(json!({"type": "object"}))
                    .supported(&["full_refresh", "incremental"])
                    .sync("incremental")
                    .destination("append")
            }))
            .json(),
        );
        let state = state.map(|s| temp_json(&s));
        let mut args = vec![
            "read",
            "--config",
            self.config(),
            "--catalog",
            catalog.path().to_str().unwrap(),
        ];
        if let Some(state) = &state {
            args.extend(["--state", state.path().to_str().unwrap()]);
        }
        run_connector::<Jsonl>(&args, None, b"").await
    }

    async fn write(&self, streams: &[&str], mode: &str, stdin: &str, rejects: &Path) -> Run {
        let catalog = temp_json(
            &Catalog::of(streams.iter().map(|name| {
                Stream::new(name)
                    .schema(json!({"type": "object"}))
                    .supported(&["full_refresh", "incremental"])
                    .sync("incremental")
                    .destination(mode)
            }))
            .json(),
        );
        let args = [
            "write",
            "--config",
            self.config(),
            "--catalog",
            catalog.path().to_str().unwrap(),
            "--reject-file",
            rejects.to_str().unwrap(),
        ];
        run_connector::<Jsonl>(&args, None, stdin.as_bytes()).await
    }
}

/// The messages without their `emitted_at` (the only field that is not fixed).
fn lines(run: &Run) -> Vec<Value> {
    run.messages
        .iter()
        .cloned()
        .map(|mut m| {
            for key in ["record", "trace"] {
                if let Some(inner) = m.get_mut(key).and_then(Value::as_object_mut) {
                    assert!(inner
                        .remove("emitted_at")
                        .is_some_and(|t| t.as_i64().unwrap() > 0));
                }
            }
            m
        })
        .collect()
}

fn status(stream: &str, status: &str) -> Value {
    json!({"type": "TRACE", "trace": {"type": "STREAM_STATUS", "stream_status": {"stream_descriptor": {"name": stream}, "status": status}}})
}

fn record(stream: &str, data: Value) -> Value {
    json!({"type": "RECORD", "record": {"stream": stream, "data": data}})
}

fn state(stream: &str, offset: u64, line: u64) -> Value {
    json!({"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": {"offset": offset, "line": line}}}})
}

fn error(stream: Option<&str>, failure_type: &str, message: &str, internal: &str) -> Value {
    let mut error = json!({"message": message, "internal_message": internal, "failure_type": failure_type});
    if let Some(stream) = stream {
        error["stream_descriptor"] = json!({ "name": stream });
    }
    json!({"type": "TRACE", "trace": {"type": "ERROR", "error": error}})
}

#[tokio::test]
async fn spec_is_the_directory_form_and_appends_only() {
    let run = run_connector::<Jsonl>(&["spec"], None, b"").await;
    assert_eq!(run.code, 0);
    let spec = &run.messages[0]["spec"];
    assert_eq!(run.messages.len(), 1);
    assert_eq!(spec["documentationUrl"], "https://jsonlines.org/");
    assert_eq!(spec["supported_destination_sync_modes"], json!(["append"]));
    assert_eq!(spec["supportsIncremental"], true);
    let form = &spec["connectionSpecification"];
    assert_eq!(form["required"], json!(["name", "directory"]));
    assert_eq!(form["properties"]["directory"]["type"], "string");
    assert_eq!(form["properties"]["directory"]["title"], "Directory");
}

#[tokio::test]
async fn check_names_a_missing_directory_a_file_and_a_blank_path() {
    let dir = Dir::new();
    let run = run_connector::<Jsonl>(&["check", "--config", dir.config()], None, b"").await;
    let ok = format!(
        "Reading and writing the .jsonl files of {}.",
        dir.path().display()
    );
    assert_eq!(
        (run.code, lines(&run)),
        (
            0,
            vec![
                json!({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "SUCCEEDED", "message": ok}})
            ]
        )
    );

    let missing = dir.path().join("nowhere");
    dir.put("file.txt", b"x");
    let blank = temp_json(&json!({"name": "files", "directory": "  "}));
    let cases = [
        (
            temp_json(&json!({"name": "files"})),
            "The config is incomplete: missing field `directory`. Required fields: name, directory.".to_string(),
        ),
        (
            temp_json(&json!({"name": "files", "directory": missing})),
            format!("The directory {} does not exist. Create it, or correct the path in the config.", missing.display()),
        ),
        (
            temp_json(&json!({"name": "files", "directory": dir.path().join("file.txt")})),
            format!("{} is a file, not a directory. Enter the folder that holds the .jsonl files.", dir.path().join("file.txt").display()),
        ),
        (
            blank,
            "The config field `directory` is wrong: the directory is blank: enter the path of the folder holding the .jsonl files.".into(),
        ),
    ];
    for (config, message) in cases {
        let run =
            run_connector::<Jsonl>(&["check", "--config", config.path().to_str().unwrap()], None, b"").await;
        assert_eq!(run.code, 0, "a failed check is an answer");
        assert_eq!(
            lines(&run),
            [
                json!({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "FAILED", "message": message}})
            ]
        );
    }
}

#[tokio::test]
async fn discover_offers_one_open_stream_per_jsonl_file() {
    let dir = Dir::new();
    dir.put("orders.jsonl", b"{\"id\":1}\n");
    dir.put("customers.jsonl", b"");
    dir.put("notes.txt", b"{}\n");
    dir.put("orders.jsonl.bak", b"{}\n");
    std::fs::create_dir(dir.path().join("folder.jsonl")).unwrap();
    let run = run_connector::<Jsonl>(&["discover", "--config", dir.config()], None, b"").await;
    assert_eq!(run.code, 0);
    let stream = |name: &str| {
        json!({
            "name": name,
            "json_schema": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": true},
            "supported_sync_modes": ["full_refresh", "incremental"],
            "source_defined_cursor": true,
        })
    };
    assert_eq!(
        lines(&run),
        [json!({"type": "CATALOG", "catalog": {"streams": [stream("customers"), stream("orders")]}})]
    );
}

#[tokio::test]
async fn read_passes_each_line_on_as_sent_and_leaves_an_unfinished_last_line() {
    let dir = Dir::new();
    dir.put(
        "orders.jsonl",
        b"{\"id\":1,\"n\":\"a\"}\n\n{\"id\": 2, \"n\": 1.50}\r\n{\"id\":3",
    );
    let run = dir.read(&["orders"], None).await;
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains(r#""data":{"id": 2, "n": 1.50}"#),
        "the exact text: {}",
        run.stdout
    );
    assert_eq!(
        lines(&run),
        [
            status("orders", "STARTED"),
            record("orders", json!({"id": 1, "n": "a"})),
            record("orders", json!({"id": 2, "n": 1.50})),
            state("orders", 40, 3),
            log("WARN", "orders.jsonl: the last line (line 4, 7 bytes from byte 40) has no newline yet, so it is not read; the next read takes it once it ends with a newline"),
            status("orders", "COMPLETE"),
        ]
    );

    // The writer finishes the line and adds one: the read from the state takes exactly those.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("orders.jsonl"))
        .unwrap();
    std::io::Write::write_all(&mut file, b"}\n{\"id\":4}\n").unwrap();
    let run = dir.read(&["orders"], Some(json!(states_of(&run)))).await;
    assert_eq!(run.code, 0);
    assert_eq!(
        lines(&run),
        [
            status("orders", "STARTED"),
            record("orders", json!({"id": 3})),
            record("orders", json!({"id": 4})),
            state("orders", 58, 5),
            status("orders", "COMPLETE"),
        ]
    );

    // Nothing new: the same state again, no record.
    let run = dir.read(&["orders"], Some(json!(states_of(&run)))).await;
    assert_eq!(
        lines(&run),
        [
            status("orders", "STARTED"),
            state("orders", 58, 5),
            status("orders", "COMPLETE")
        ]
    );
}

#[tokio::test]
async fn a_read_resumed_from_any_state_loses_and_repeats_nothing() {
    let dir = Dir::new();
    let mut content = String::new();
    let all: Vec<Value> = (0..20_000)
        .map(|i| json!({"id": i, "name": format!("record number {i}")}))
        .collect();
    for record in &all {
        content.push_str(&record.to_string());
        content.push('\n');
    }
    dir.put("big.jsonl", content.as_bytes());
    dir.put("small.jsonl", b"{\"x\":1}\n");
    let full = dir.read(&["big", "small"], None).await;
    assert_eq!(full.code, 0);
    let big: Vec<Value> = full
        .messages
        .iter()
        .filter(|m| m["type"] == "RECORD" && m["record"]["stream"] == "big")
        .map(|m| m["record"]["data"].clone())
        .collect();
    assert_eq!(big, all);
    let emitted = states_of(&full);
    let big_states: Vec<&Value> = emitted
        .iter()
        .filter(|s| s["stream"]["stream_descriptor"]["name"] == "big")
        .collect();
    assert!(
        big_states.len() >= 3,
        "the file spans pages: {}",
        big_states.len()
    );
    assert_eq!(
        big_states.last().unwrap()["stream"]["stream_state"],
        json!({"offset": content.len(), "line": 20_000})
    );
    for saved in big_states {
        let offset = saved["stream"]["stream_state"]["offset"].as_u64().unwrap() as usize;
        let line = saved["stream"]["stream_state"]["line"].as_u64().unwrap() as usize;
        assert_eq!(content.as_bytes()[offset - 1], b'\n');
        let resumed = dir.read(&["big"], Some(json!([saved]))).await;
        assert_eq!(resumed.code, 0);
        assert_eq!(records_of(&resumed), all[line..], "resumed at byte {offset}");
    }
}

#[tokio::test]
async fn bad_lines_are_named_skipped_and_fail_the_stream_after_the_rest_is_read() {
    let dir = Dir::new();
    dir.put(
        "orders.jsonl",
        b"{\"id\":1}\n{\"id\":\n{\"id\":3}\n[4]\n{\"id\":5}\n",
    );
    dir.put("other.jsonl", b"{\"ok\":true}\n");
    let run = dir.read(&["orders", "other"], None).await;
    assert_eq!(run.code, 1, "a stream with skipped lines fails the run");
    let path = dir.path().join("orders.jsonl");
    assert_eq!(
        lines(&run),
        [
            status("orders", "STARTED"),
            log("ERROR", "orders.jsonl line 2 skipped: it is not JSON (EOF while parsing a value at line 1 column 6)"),
            log("ERROR", "orders.jsonl line 4 skipped: it is an array, not a JSON object"),
            record("orders", json!({"id": 1})),
            record("orders", json!({"id": 3})),
            record("orders", json!({"id": 5})),
            state("orders", 38, 5),
            error(
                Some("orders"),
                "config_error",
                &format!("2 line(s) of {} are not JSON objects and were skipped (line 2, 4); every other line was read. Fix those lines (the log says what is wrong with each) and read them again from a reset state, or ignore them.", path.display()),
                "orders.jsonl: 2 bad line(s)",
            ),
            status("orders", "INCOMPLETE"),
            status("other", "STARTED"),
            record("other", json!({"ok": true})),
            state("other", 12, 1),
            status("other", "COMPLETE"),
        ]
    );
}

#[tokio::test]
async fn a_state_past_the_file_or_inside_a_line_stops_that_stream_only() {
    let dir = Dir::new();
    dir.put("orders.jsonl", b"{\"id\":1}\n{\"id\":2}\n");
    let saved = |offset: u64, line: u64| json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "orders"}, "stream_state": {"offset": offset, "line": line}}});
    let path = dir.path().join("orders.jsonl");
    let cases = [
        (saved(99, 4), format!("{} has only 18 bytes", path.display())),
        (
            saved(4, 0),
            format!("byte 4 of {} does not end a line", path.display()),
        ),
    ];
    for (state, why) in cases {
        let offset = &state["stream"]["stream_state"]["offset"];
        let line = &state["stream"]["stream_state"]["line"];
        let message = format!("The state of stream `orders` is at byte {offset} (after line {line}), but {why}: the file was truncated or replaced since that state. Reset the stream's state to read it from the start.");
        let run = dir.read(&["orders"], Some(json!([state]))).await;
        assert_eq!(run.code, 1);
        assert_eq!(
            lines(&run),
            [
                status("orders", "STARTED"),
                error(Some("orders"), "config_error", &message, &message),
                status("orders", "INCOMPLETE"),
            ]
        );
    }
    let run = dir.read(&["orders"], Some(json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "orders"}, "stream_state": {"offset": "9"}}}]))).await;
    let message = "The state of stream `orders` is wrong: `offset` is \"9\", not a whole number of bytes or lines. Pass the state this connector emitted, or reset the stream.";
    assert_eq!(
        lines(&run)[1],
        error(Some("orders"), "config_error", message, message)
    );
}

#[tokio::test]
async fn a_stream_without_a_file_or_with_a_path_for_a_name_fails_alone() {
    let dir = Dir::new();
    dir.put("orders.jsonl", b"{\"id\":1}\n");
    let run = dir.read(&["gone", "../orders", "orders"], None).await;
    assert_eq!(run.code, 1);
    let gone = format!(
        "The stream `gone` has no file: {} does not exist. Run discover again, or take the stream out of the catalog.",
        dir.path().join("gone.jsonl").display()
    );
    let path = format!(
        "The stream name `../orders` cannot be a file name in {}: use a name without `/`, `\\` or NUL (a stream is the file <name>.jsonl).",
        dir.path().display()
    );
    assert_eq!(
        lines(&run),
        [
            status("gone", "STARTED"),
            error(
                Some("gone"),
                "config_error",
                &gone,
                "open gone.jsonl: No such file or directory (os error 2)"
            ),
            status("gone", "INCOMPLETE"),
            status("../orders", "STARTED"),
            error(Some("../orders"), "config_error", &path, &path),
            status("../orders", "INCOMPLETE"),
            status("orders", "STARTED"),
            record("orders", json!({"id": 1})),
            state("orders", 9, 1),
            status("orders", "COMPLETE"),
        ]
    );
}

#[tokio::test]
async fn write_appends_lines_that_read_back_exactly() {
    let dir = Dir::new();
    dir.put("orders.jsonl", b"{\"id\":0}\n");
    let rejects = dir.path().join("rejects.out");
    let stdin = [
        raw_record_line("orders", r#"{"id": 1, "name": "a\nb", "price": 1.5}"#),
        raw_record_line("orders", r#"{"id":2,"tags":["x"]}"#),
        state_line("orders", json!({"n": 1})),
        raw_record_line("unknown", r#"{"id":3}"#),
        raw_record_line("orders", r#"[4]"#),
        raw_record_line("orders", r#"{"id":5}"#),
        state_line("orders", json!({"n": 2})),
    ]
    .concat();
    let run = dir.write(&["orders"], "append", &stdin, &rejects).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        dir.contents("orders.jsonl"),
        "{\"id\":0}\n{\"id\":1,\"name\":\"a\\nb\",\"price\":1.5}\n{\"id\":2,\"tags\":[\"x\"]}\n{\"id\":5}\n"
    );
    let ack = |n: u64| json!({"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "orders"}, "stream_state": {"n": n}}}});
    assert_eq!(
        lines(&run),
        [
            ack(1),
            log("WARN", r#"unknown record 2: {"outcome":"failed","class":"config","message":"stream `unknown` is not in the catalog: add it to the catalog to write it"}"#),
            log("WARN", r#"orders record 3: {"outcome":"failed","class":"config","message":"the record's data is an array, not a JSON object: only objects are lines the source reads back"}"#),
            ack(2),
            log("INFO", "write summary: orders: created 3, updated 0, unchanged 0, deleted 0, skipped 0, failed 1, unknown 0"),
            log("INFO", "write summary: unknown: created 0, updated 0, unchanged 0, deleted 0, skipped 0, failed 1, unknown 0"),
            log("INFO", "write summary: total: created 3, updated 0, unchanged 0, deleted 0, skipped 0, failed 2, unknown 0"),
        ]
    );
    let rejected: Vec<Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        rejected,
        [
            json!({"stream": "unknown", "sequence": 2, "outcome": "failed", "class": "config", "message": "stream `unknown` is not in the catalog: add it to the catalog to write it", "record": {"id": 3}}),
            json!({"stream": "orders", "sequence": 3, "outcome": "failed", "class": "config", "message": "the record's data is an array, not a JSON object: only objects are lines the source reads back", "record": [4]}),
        ]
    );

    let read = dir.read(&["orders"], None).await;
    assert_eq!(
        records_of(&read),
        [
            json!({"id": 0}),
            json!({"id": 1, "name": "a\nb", "price": 1.5}),
            json!({"id": 2, "tags": ["x"]}),
            json!({"id": 5})
        ]
    );
}

#[tokio::test]
async fn write_refuses_modes_other_than_append_before_reading_anything() {
    let dir = Dir::new();
    let rejects = dir.path().join("rejects.out");
    let run = dir
        .write(
            &["orders"],
            "overwrite",
            &raw_record_line("orders", "{}"),
            &rejects,
        )
        .await;
    assert_eq!(run.code, 1);
    let message = "The catalog cannot be written: stream `orders` asks for destination_sync_mode `overwrite`, but this connector only appends: configure it with `append`.";
    let internal = "stream `orders` asks for destination_sync_mode `overwrite`, but this connector only appends: configure it with `append`";
    assert_eq!(lines(&run), [error(None, "config_error", message, internal)]);
    assert!(!dir.path().join("orders.jsonl").exists());
}

#[tokio::test]
async fn a_file_that_cannot_be_written_stops_the_write_and_withholds_later_states() {
    let dir = Dir::new();
    std::fs::create_dir(dir.path().join("orders.jsonl")).unwrap();
    let rejects = dir.path().join("rejects.out");
    let stdin = [
        raw_record_line("good", r#"{"g":0}"#),
        raw_record_line("orders", r#"{"id":1}"#),
        state_line("orders", json!({"n": 1})),
        raw_record_line("good", r#"{"g":1}"#),
        raw_record_line("orders", r#"{"id":2}"#),
        state_line("orders", json!({"n": 2})),
    ]
    .concat();
    let run = dir.write(&["orders", "good"], "append", &stdin, &rejects).await;
    assert_eq!(run.code, 1);
    let path = dir.path().join("orders.jsonl");
    let cannot = format!(
        "{} cannot be opened for appending: Is a directory (os error 21)",
        path.display()
    );
    let got = lines(&run);
    assert!(
        got.iter().all(|m| m["type"] != "STATE"),
        "no STATE is echoed: {got:?}"
    );
    let failed = |stream: &str, sequence: u64, message: &str| {
        log(
            "WARN",
            &format!(
                r#"{stream} record {sequence}: {{"outcome":"failed","class":"system","message":"{message}"}}"#
            ),
        )
    };
    assert_eq!(
        got[..3],
        [
            failed("orders", 1, &format!("not written: {cannot}")),
            failed(
                "good",
                2,
                &format!("not written: the write stopped when writing orders.jsonl failed ({cannot})")
            ),
            failed(
                "orders",
                3,
                &format!("not written: writing orders.jsonl failed earlier ({cannot})")
            ),
        ]
    );
    assert_eq!(
        dir.contents("good.jsonl"),
        "{\"g\":0}\n",
        "the batch before the failure only"
    );
    let stopped = format!("orders.jsonl could not be written: {cannot}. Writing orders stopped: no STATE after the first refused record was acknowledged, so the host sends the refused records again once this is fixed.");
    assert_eq!(
        got.last().unwrap(),
        &error(None, "system_error", &stopped, &cannot)
    );
}

#[tokio::test]
async fn an_append_after_a_cut_line_starts_on_a_new_line() {
    let dir = Dir::new();
    dir.put("orders.jsonl", b"{\"id\":1}\n{\"id\"");
    let rejects = dir.path().join("rejects.out");
    let run = dir
        .write(
            &["orders"],
            "append",
            &[
                raw_record_line("orders", r#"{"id":2}"#),
                state_line("orders", json!({"n": 1})),
            ]
            .concat(),
            &rejects,
        )
        .await;
    assert_eq!(run.code, 0);
    assert_eq!(dir.contents("orders.jsonl"), "{\"id\":1}\n{\"id\"\n{\"id\":2}\n");
    let warning = format!(
        "{}: its last line (before byte 14) had no newline (a write cut short?); a newline was added so the records appended are whole lines, and that line is now a bad line the source reports",
        dir.path().join("orders.jsonl").display()
    );
    assert_eq!(lines(&run)[0], log("WARN", &warning));
}

/// The traits a host links: outcomes carry the byte offset of each record's line, a catalog
/// that cannot be written fails at `prepare`, records come as the exact text of their lines.
#[tokio::test]
async fn through_the_traits_outcomes_name_each_lines_offset() {
    let dir = Dir::new();
    dir.put("orders.jsonl", b"{\"id\":0}\n");
    let credential = dir.credential();
    let sink = JsonlSink::new(&credential);
    let catalog: ConfiguredCatalog = Stream::new("orders")
        .schema(json!({"type": "object"}))
        .supported(&["full_refresh", "incremental"])
        .sync("incremental")
        .configured();
    let input = futures::stream::iter(vec![
        SinkInput::Record(Record {
            stream: "orders".into(),
            data: json!({"id": 1}),
        }),
        SinkInput::Record(Record {
            stream: "orders".into(),
            data: json!({"id": 22}),
        }),
        SinkInput::Checkpoint(json!({"n": 1})),
    ])
    .boxed();
    let prepared = sink.prepare(&catalog).await.unwrap();
    let events: Vec<SinkEvent> = prepared.write(input).collect().await;
    let created = |sequence, id: &str| {
        SinkEvent::Outcome(RecordOutcome {
            stream: "orders".into(),
            sequence,
            outcome: Outcome::Created { id: id.into() },
            record: None,
        })
    };
    assert_eq!(
        events,
        [
            created(0, "9"),
            created(1, "18"),
            SinkEvent::CheckpointAck(json!({"n": 1}))
        ]
    );
    assert!(prepared.stopped().is_empty());

    let mut dedup = catalog.clone();
    dedup.streams[0].destination_sync_mode = DestinationSyncMode::AppendDedup;
    let refused = sink.prepare(&dedup).await.err().unwrap();
    assert_eq!(
        refused.message,
        "stream `orders` asks for destination_sync_mode `append_dedup`, but this connector only appends: configure it with `append`"
    );

    let source = JsonlSource::new(&credential);
    let events: Vec<SourceEvent> = source.read(&catalog, &SourceState::default()).collect().await;
    let SourceEvent::Records(page) = &events[1] else {
        panic!("{events:?}")
    };
    let texts: Vec<&str> = page.iter().map(|r| r.get()).collect();
    assert_eq!(texts, ["{\"id\":0}", "{\"id\":1}", "{\"id\":22}"]);
}
