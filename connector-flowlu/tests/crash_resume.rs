//! Crash and resume: the real `flowlu-connector read` process is killed (SIGKILL) after a
//! random number of stdout lines, then started again from the last STATE of each stream it had
//! emitted, until a run completes. Together, the runs must have emitted every record of the
//! stand-in at least once, and nothing the stand-in does not hold.
//!
//! The figures (kills, records emitted, records emitted twice) are printed; see them with
//! `cargo test -p connector-flowlu --test crash_resume -- --nocapture`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use flowlu_emulator::{ApiKey, Emulator, EmulatorConfig, Faults};
use serde_json::{json, Value};

const KEY: &str = "crash-canary-5c0ffee1d2";
/// Runs, each killed at least once.
const RUNS: u64 = 12;
/// The most kills in one run before it is let to finish.
const MAX_KILLS: u64 = 3;
/// `(stream, module, model, sync mode, records)`.
const STREAMS: &[(&str, &str, &str, &str, usize)] = &[
    ("crm_account", "crm", "account", "incremental", 700),
    ("crm_pipeline", "crm", "pipeline", "full_refresh", 400),
    ("task_tasks", "task", "tasks", "incremental", 500),
];

/// SplitMix64: a small deterministic generator for the kill points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `1..=n`.
    fn up_to(&mut self, n: u64) -> u64 {
        self.next() % n.max(1) + 1
    }
}

/// What one process printed before it ended or was killed.
struct Attempt {
    /// Complete protocol lines read.
    lines: Vec<Value>,
    /// Whether it was killed (else it exited by itself).
    killed: bool,
    /// Its exit code, when it exited by itself.
    code: Option<i32>,
    stderr: String,
}

/// Runs `read`; kills it once `kill_after` complete lines were read (when given).
fn read(dir: &std::path::Path, base_url: &str, state: &Value, kill_after: Option<u64>) -> Attempt {
    let state_file = dir.join("state.json");
    std::fs::write(&state_file, state.to_string()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowlu-connector"))
        .args(["read", "--config"])
        .arg(dir.join("config.json"))
        .arg("--catalog")
        .arg(dir.join("catalog.json"))
        .arg("--state")
        .arg(&state_file)
        .env(connector_flowlu::BASE_URL_ENV, base_url)
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let mut killed = false;
    let mut buf = String::new();
    loop {
        if kill_after.is_some_and(|k| lines.len() as u64 >= k) {
            child.kill().unwrap();
            killed = true;
            break;
        }
        buf.clear();
        // A line without its newline was cut by the kill: it was never emitted.
        if stdout.read_line(&mut buf).unwrap() == 0 || !buf.ends_with('\n') {
            break;
        }
        lines.push(serde_json::from_str(&buf).unwrap_or_else(|e| panic!("not a protocol line ({e}): {buf}")));
    }
    drop(stdout);
    let status = child.wait().unwrap();
    Attempt {
        lines,
        killed,
        code: if killed { None } else { status.code() },
        stderr: stderr.join().unwrap(),
    }
}

/// A stand-in record as the source passes it on (from the committed stream schema): a date
/// field's blank or zero value is `null`, text in a number or integer field that number.
fn as_passed_on(stream: &str, mut record: Value) -> Value {
    let path = format!(
        "{}/../schemas/flowlu/streams/{stream}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for (name, value) in record.as_object_mut().unwrap().iter_mut() {
        let property = &schema["properties"][name.as_str()];
        let Value::String(text) = value else { continue };
        let types = property["type"].as_array().cloned().unwrap_or_default();
        if property.get("format").is_some() {
            if text.is_empty() || text.starts_with("0000-00-00") {
                *value = Value::Null;
            }
        } else if types.contains(&json!("integer")) || types.contains(&json!("number")) {
            *value = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(text).unwrap()
            };
        }
    }
    record
}

/// Per stream: id -> times emitted.
type Emitted = BTreeMap<String, HashMap<u64, u32>>;

/// Folds an attempt's lines into the records emitted and the last state of each stream.
fn absorb(
    attempt: &Attempt,
    emitted: &mut Emitted,
    expected: &BTreeMap<String, HashMap<u64, Value>>,
    states: &mut BTreeMap<String, Value>,
) {
    for line in &attempt.lines {
        match line["type"].as_str() {
            Some("RECORD") => {
                let stream = line["record"]["stream"].as_str().unwrap();
                let data = &line["record"]["data"];
                let id = data["id"].as_u64().unwrap();
                assert_eq!(
                    expected[stream].get(&id),
                    Some(data),
                    "{stream} record {id} is not the stand-in's"
                );
                *emitted
                    .entry(stream.to_string())
                    .or_default()
                    .entry(id)
                    .or_default() += 1;
            }
            Some("STATE") => {
                let state = &line["state"];
                let stream = state["stream"]["stream_descriptor"]["name"].as_str().unwrap();
                states.insert(stream.to_string(), state.clone());
            }
            Some("TRACE") if line["trace"]["type"] == "ERROR" => panic!("the read failed: {line}"),
            _ => {}
        }
    }
}

#[test]
fn reads_killed_at_random_points_resume_from_their_last_state_and_lose_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let model_records = STREAMS
        .iter()
        .map(|(_, module, model, _, n)| (format!("{module}/{model}"), *n))
        .collect();
    let emu = runtime
        .block_on(Emulator::start(EmulatorConfig {
            seed: 2024,
            records_per_model: 2,
            model_records,
            keys: vec![ApiKey::all_modules(KEY)],
            faults: Faults {
                rate_limit: 0.03,
                retry_after_secs: 0,
                ..Faults::none()
            },
            ..Default::default()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"name": "crash", "account_domain": "acme", "api_key": KEY,
        "advanced": {"page_size": 50, "max_concurrency": 2}});
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let streams: Vec<Value> = STREAMS
        .iter()
        .map(|(name, _, _, mode, _)| json!({"stream": {"name": name, "json_schema": {}}, "sync_mode": mode, "destination_sync_mode": "append"}))
        .collect();
    std::fs::write(
        dir.path().join("catalog.json"),
        json!({ "streams": streams }).to_string(),
    )
    .unwrap();
    let expected: BTreeMap<String, HashMap<u64, Value>> = STREAMS
        .iter()
        .map(|(name, module, model, _, _)| {
            let records = emu
                .records(module, model)
                .into_iter()
                .map(|r| (r["id"].as_u64().unwrap(), as_passed_on(name, r)))
                .collect();
            (name.to_string(), records)
        })
        .collect();
    let total: usize = STREAMS.iter().map(|s| s.4).sum();

    // A reference run, not killed: how many lines a whole read prints.
    let whole = read(dir.path(), &emu.base_url(), &json!([]), None);
    assert_eq!(whole.code, Some(0), "{}", whole.stderr);
    let whole_lines = whole.lines.len() as u64;

    let mut rng = Rng(7);
    let mut figures = Vec::new();
    for run in 1..=RUNS {
        let mut emitted = Emitted::new();
        let mut states = BTreeMap::new();
        let mut kills = Vec::new();
        let mut processes = 0;
        loop {
            processes += 1;
            assert!(processes <= MAX_KILLS + 1, "run {run} did not finish");
            // The first kill anywhere in a whole read; later ones in its first half.
            let kill_after = match kills.len() as u64 {
                0 => Some(rng.up_to(whole_lines - 1)),
                k if k < MAX_KILLS && rng.up_to(2) == 1 => Some(rng.up_to(whole_lines / 2)),
                _ => None,
            };
            let state = Value::Array(states.values().cloned().collect());
            let attempt = read(dir.path(), &emu.base_url(), &state, kill_after);
            let all = format!("{:?}{}", attempt.lines, attempt.stderr);
            assert!(!all.contains(KEY), "the key leaked");
            absorb(&attempt, &mut emitted, &expected, &mut states);
            if attempt.killed {
                kills.push(attempt.lines.len());
                continue;
            }
            assert_eq!(attempt.code, Some(0), "run {run}: {}", attempt.stderr);
            break;
        }
        assert!(!kills.is_empty(), "run {run} was never killed");
        let mut records = 0u64;
        let mut repeated = Vec::new();
        for (stream, want) in &expected {
            let got = emitted.get(stream).cloned().unwrap_or_default();
            let lost: Vec<&u64> = want.keys().filter(|id| !got.contains_key(id)).collect();
            assert!(
                lost.is_empty(),
                "run {run}: {stream} lost {} records: {lost:?}",
                lost.len()
            );
            assert_eq!(got.len(), want.len(), "run {run}: {stream}");
            records += got.values().map(|n| u64::from(*n)).sum::<u64>();
            repeated.push(got.values().map(|n| u64::from(n - 1)).sum::<u64>());
        }
        figures.push((run, kills, records, repeated));
    }
    println!(
        "{total} records in {} streams; a whole read prints {whole_lines} lines",
        STREAMS.len()
    );
    let names: Vec<&str> = STREAMS.iter().map(|s| s.0).collect();
    println!(
        "| run | killed after lines | records emitted | emitted again after a resume ({}) | lost |",
        names.join(", ")
    );
    println!("|---|---|---|---|---|");
    for (run, kills, records, repeated) in &figures {
        println!("| {run} | {kills:?} | {records} | {repeated:?} | 0 |");
    }
    let kills: usize = figures.iter().map(|f| f.1.len()).sum();
    println!("{RUNS} runs, {kills} kills, every record emitted at least once, none lost");
    assert!(kills >= RUNS as usize);
}
