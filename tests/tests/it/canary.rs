//! The secret canary across the suite: every command (spec, check, discover, read, write) run
//! in-process against the stand-in, whose valid key is the canary, with faults on, while a
//! subscriber records every tracing event and span at TRACE for every crate (reqwest's and
//! hyper's `log` records included, through the `log` bridge). The canary must appear in no
//! stdout line, no log line, no reject file and no error; and every public type that holds the
//! key must redact it in `Debug`. A second canary holds the characters that change under
//! encoding (`/ + = & % " ' \`, a space, `é` and an emoji), against stand-ins that echo each
//! request (its percent-encoded URL, the URL percent-decoded with `+` kept as PHP's
//! `rawurldecode` does, its decoded parameters as JSON as sent, with `\uXXXX` escapes as
//! Python's `json.dumps` and PHP's `json_encode` write them, its form body, and the key's first
//! ten characters as a log line cut short) into their error answers: neither the key nor its
//! start may appear in any encoding.

use std::io::Write as _;
use std::sync::{Arc, Mutex, Once};

use connector_core::{Credential, Secret};
use connector_flowlu::FlowluSink;
use connector_flowlu::FlowluSource;
use connector_flowlu::{Client, FlowluCredential};
use flowlu_emulator::{Faults, Quirks};
use integration_tests::catalog::Catalog;
use integration_tests::stand_in::StandIn;
use integration_tests::{config_json, run_cli, temp_json, Run, CANARY_KEY};
use serde_json::{json, Value};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Log output, shared with the subscriber.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Routes `log` records (reqwest's, hyper's) into tracing, once for the test binary. The
/// global subscriber only sets the level; each test's own subscriber (a thread default)
/// receives the events of its thread.
fn bridge_log_records() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::TRACE)
            .try_init();
    });
}

/// The canary with reserved characters (a space, `+`, `/`, `=`, `&`, `%`, both quotes, `\\`, a
/// non-ASCII letter and an emoji). Its head `Zx8q` and its tail `r3s3rv3d9q` survive every
/// encoding unchanged, so finding either anywhere means some encoding of the key, or of its
/// start (the stand-ins echo its first ten characters, as a log line cut short), leaked.
const RESERVED_CANARY: &str = "Zx8q/+=& \"\\ %'é😀 key-r3s3rv3d9q";
const RESERVED_HEAD: &str = "Zx8q";
const RESERVED_TAIL: &str = "r3s3rv3d9q";

fn faults() -> Faults {
    Faults {
        rate_limit: 0.05,
        retry_after_secs: 0,
        server_error_500: 0.03,
        error_13: 0.02,
        drop_mid_body: 0.02,
        truncated_json: 0.02,
        ..Faults::none()
    }
}

fn config() -> Value {
    config_with(CANARY_KEY)
}

fn config_with(key: &str) -> Value {
    let mut config = config_json("acme");
    config["api_key"] = json!(key);
    config["advanced"] = json!({"page_size": 25, "max_concurrency": 2});
    config
}

/// The write input: creates (two with a bad e-mail, so they fail with Flowlu's reasons), a
/// record of a stream not in the catalog, a line that is not a message, and states.
fn write_input(key: &str) -> String {
    let mut lines = Vec::new();
    for i in 0..30 {
        let email = if i % 15 == 3 {
            format!("{key}-not-an-email")
        } else {
            format!("c{i}@example.org")
        };
        let record = json!({"type": "RECORD", "record": {"stream": "crm_account", "emitted_at": 0,
            "data": {"name": format!("Canary {i}"), "email": email}}});
        lines.push(record.to_string());
        if i % 10 == 9 {
            lines.push(json!({"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "crm_account"}, "stream_state": {"n": i}}}}).to_string());
        }
    }
    lines.push(
        json!({"type": "RECORD", "record": {"stream": "nope", "emitted_at": 0, "data": {"name": "x"}}})
            .to_string(),
    );
    lines.push(format!("{{\"type\": \"RECORD\", \"api_key\": {}", json!(key)));
    lines.join("\n")
}

/// The state argument for a read following `run`: the last STATE of each stream.
fn state_of(run: &Run) -> Value {
    let mut last = std::collections::BTreeMap::new();
    for m in run.messages.iter().filter(|m| m["type"] == "STATE") {
        last.insert(
            m["state"]["stream"]["stream_descriptor"]["name"].to_string(),
            m["state"].clone(),
        );
    }
    Value::Array(last.into_values().collect())
}

/// The forms of `key` no output may hold: raw, form-encoded (`+` for a space), percent-encoded
/// (`%20`), JSON-escaped; and, for the reserved canary, its tail, which every encoding keeps.
fn leaks(key: &str, text: &str) -> Option<String> {
    let form: String = serde_urlencoded::to_string([("k", key)]).unwrap()[2..].to_string();
    let percent = form.replace('+', "%20");
    let json_escaped = json!(key).to_string().trim_matches('"').to_string();
    let mut forms = vec![key.to_string(), form, percent, json_escaped];
    if key == RESERVED_CANARY {
        forms.push(RESERVED_TAIL.to_string());
        forms.push(RESERVED_HEAD.to_string());
    }
    forms.into_iter().find(|f| text.contains(f.as_str()))
}

fn assert_clean(what: &str, key: &str, run: &Run, allowed_codes: &[i32]) {
    if let Some(form) = leaks(key, &run.stdout) {
        panic!("{what}: the key is on stdout as `{form}`: {}", run.stdout);
    }
    assert!(
        allowed_codes.contains(&run.code),
        "{what}: exit code {}: {}",
        run.code,
        run.stdout
    );
}

/// Every command against every stand-in; returns how many commands ran.
async fn run_everything(key: &str, good: &str, wrong_key: &str, login_page: &str, closed: &str) -> usize {
    let config = temp_json(&config_with(key));
    let catalog = temp_json(
        &Catalog::syncs(&[
            ("crm_account", "incremental"),
            ("crm_pipeline", "full_refresh"),
            ("task_tasks", "incremental"),
        ])
        .json(),
    );
    let (c, k) = (config.path().to_str().unwrap(), catalog.path().to_str().unwrap());
    let mut ran = 0;
    let run = run_cli(&["spec"], None, "").await;
    assert_clean("spec", key, &run, &[0]);
    ran += 1;
    // Nothing listens there: check's one probe fails at once (a read or discover would retry
    // for minutes, as it should for a portal that is briefly unreachable).
    let run = run_cli(&["check", "--config", c], Some(closed), "").await;
    assert_clean("check (closed port)", key, &run, &[0]);
    assert_eq!(run.messages[0]["connectionStatus"]["status"], "FAILED");
    ran += 1;
    for (name, url) in [
        ("good", good),
        ("wrong key", wrong_key),
        ("login page", login_page),
    ] {
        let run = run_cli(&["check", "--config", c], Some(url), "").await;
        assert_clean(&format!("check ({name})"), key, &run, &[0]);
        let run = run_cli(&["discover", "--config", c], Some(url), "").await;
        assert_clean(&format!("discover ({name})"), key, &run, &[0, 1]);
        let first = run_cli(&["read", "--config", c, "--catalog", k], Some(url), "").await;
        assert_clean(&format!("read ({name})"), key, &first, &[0, 1]);
        let state = temp_json(&state_of(&first));
        let s = state.path().to_str().unwrap();
        let run = run_cli(
            &["read", "--config", c, "--catalog", k, "--state", s],
            Some(url),
            "",
        )
        .await;
        assert_clean(&format!("read with state ({name})"), key, &run, &[0, 1]);
        let rejects = tempfile::NamedTempFile::new().unwrap();
        let r = rejects.path().to_str().unwrap();
        let run = run_cli(
            &["write", "--config", c, "--catalog", k, "--reject-file", r],
            Some(url),
            &write_input(key),
        )
        .await;
        assert_clean(&format!("write ({name})"), key, &run, &[1]);
        let rejected = std::fs::read_to_string(rejects.path()).unwrap();
        if let Some(form) = leaks(key, &rejected) {
            panic!("write ({name}): the key is in the reject file as `{form}`: {rejected}");
        }
        assert!(rejected.lines().count() >= 2, "write ({name}): {rejected}");
        ran += 5;
        if name == "good" {
            assert_eq!(first.code, 0, "{}", first.stdout);
            let records = first.messages.iter().filter(|m| m["type"] == "RECORD").count();
            assert_eq!(records, 120 + 60 + 80);
        }
    }
    ran
}

/// Runs every command with `key` against a good stand-in (faults on), one that rejects the key
/// and one that answers a login page, all with `quirks`, while capturing every log line at
/// TRACE; checks that no output holds the key in any encoding.
fn every_command_keeps(key: &str, quirks: Quirks) {
    bridge_log_records();
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Each stand-in on its own runtime (its server's logs are not the connector's).
    let portal = StandIn::new()
        .seed(99)
        .records_per_model(4)
        .model("crm/account", 120)
        .model("crm/pipeline", 60)
        .model("task/tasks", 80)
        .faults(faults())
        .quirks(quirks);
    let good = portal.clone().key(key).start_on(&servers);
    let wrong_key = portal.clone().key("another-key").start_on(&servers);
    let login_page = portal
        .clone()
        .key(key)
        .faults(Faults {
            html_login: 1.0,
            ..Faults::none()
        })
        .start_on(&servers);
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let client_side = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ran = tracing::subscriber::with_default(subscriber, || {
        client_side.block_on(run_everything(
            key,
            &good.base_url(),
            &wrong_key.base_url(),
            &login_page.base_url(),
            &closed,
        ))
    });
    let logs = logs.text();
    let lines = logs.lines().count();
    if let Some(form) = leaks(key, &logs) {
        let at = logs.find(form.as_str()).unwrap_or(0);
        let line = logs[..at].rsplit('\n').next().unwrap_or("");
        panic!("the key is in the logs as `{form}`: {line}...");
    }
    assert!(
        logs.contains("starting new connection"),
        "reqwest's log records reach the capture"
    );
    assert!(
        logs.contains("connector_flowlu"),
        "the connector's own events reach the capture"
    );
    if quirks.echo_request_in_errors {
        // The echoes reached the connector, each form redacted in place.
        for echoed in ["; decoded ", "; ascii {", "; php {", "cut api_key=[REDACTED]"] {
            assert!(logs.contains(echoed), "no echo `{echoed}` in the logs");
        }
    }
    assert!(
        good.stats().status_total(429) + good.stats().status_total(500) > 0,
        "faults were injected"
    );
    let _ = writeln!(
        std::io::stdout(),
        "{ran} commands, {lines} log lines at TRACE, no key"
    );
    drop((good, wrong_key, login_page));
}

#[test]
fn no_command_shows_the_key_in_output_logs_rejects_or_errors_under_faults() {
    every_command_keeps(CANARY_KEY, Quirks::default());
}

#[test]
fn a_key_with_reserved_characters_leaks_in_no_encoding_when_servers_echo_requests() {
    let echo = Quirks {
        echo_request_in_errors: true,
        ..Quirks::default()
    };
    every_command_keeps(RESERVED_CANARY, echo);
}

#[test]
fn every_public_type_holding_the_key_redacts_it_in_debug() {
    let credential = FlowluCredential::from_config(&config()).unwrap();
    let client = credential.client().unwrap();
    let builder = Client::builder(credential.account_domain.clone(), Secret::new(CANARY_KEY));
    let source = FlowluSource::from_credential(&credential).unwrap();
    let sink = FlowluSink::from_credential(&credential).unwrap();
    let settings = credential.settings();
    let shown = [
        (
            "Secret",
            format!("{:?} {:#?}", Secret::new(CANARY_KEY), Secret::new(CANARY_KEY)),
        ),
        ("FlowluCredential", format!("{credential:?} {credential:#?}")),
        ("Client", format!("{client:?} {client:#?}")),
        ("ClientBuilder", format!("{builder:?} {builder:#?}")),
        ("FlowluSource", format!("{source:?} {source:#?}")),
        ("FlowluSink", format!("{sink:?} {sink:#?}")),
        ("Settings", format!("{settings:?} {settings:#?}")),
    ];
    for (name, text) in &shown {
        assert!(!text.contains(CANARY_KEY), "{name} shows the key: {text}");
        if *name != "Settings" {
            assert!(
                text.contains("REDACTED"),
                "{name} holds the key, redacted: {text}"
            );
        }
    }
    assert_eq!(credential.api_key.expose(), CANARY_KEY, "the one accessor");
}
