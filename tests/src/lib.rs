//! Shared helpers for the workspace integration tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;

use connector_flowlu::Flowlu;
use connector_runner as cli;
use serde_json::Value;

pub mod bench;
pub mod catalog;
pub mod flowlu;
pub mod mock;
pub mod probe;
pub mod protocol;
pub mod reconcile;
pub mod soak;
pub mod stand_in;
pub mod write;

/// The workspace README's Rust examples, compiled as doc tests (here, in the unpublished tests
/// crate, so that every published crate's docs come from files inside it).
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// A limiter whose retries wait 1-5 ms (tests must not sleep for real backoff), with up to
/// `max_retries` retries per request and `concurrency` requests in flight. Its pace is learnt
/// as in production: failures that are not rate refusals (5xx, dropped connections) teach it
/// nothing, and a 429 with `Retry-After` only pauses.
pub fn fast_limiter(concurrency: usize, max_retries: usize) -> std::sync::Arc<connector_flowlu::Limiter> {
    use connector_flowlu::{Limiter, LimiterConfig, RetryPolicy};
    use std::time::Duration;
    std::sync::Arc::new(Limiter::new(LimiterConfig {
        max_concurrency: concurrency,
        requests_per_second: None,
        retry: RetryPolicy {
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_retries,
            max_total: Duration::from_secs(10),
        },
    }))
}

/// The API key every test uses: it must never appear in any output.
pub const CANARY_KEY: &str = "canary-key-7d1e5f0a9b3c";

/// A config document for `account_domain` with the canary key.
pub fn config_json(account_domain: &str) -> Value {
    serde_json::json!({"name": "Test", "account_domain": account_domain, "api_key": CANARY_KEY})
}

/// What one run of the command line produced.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// stdout, as text.
    pub stdout: String,
    /// stdout, one parsed message per line.
    pub messages: Vec<Value>,
}

/// Runs the CLI in-process with `args`, `stdin` and an optional `FLOWLU_BASE_URL`.
pub async fn run_cli(args: &[&str], base_url: Option<&str>, stdin: &str) -> Run {
    run_cli_bytes(args, base_url, stdin.as_bytes()).await
}

/// [`run_cli`] with any bytes on stdin (not necessarily UTF-8).
pub async fn run_cli_bytes(args: &[&str], base_url: Option<&str>, stdin: &[u8]) -> Run {
    run_connector::<Flowlu>(args, base_url, stdin).await
}

/// Runs connector `C`'s command line in-process with `args`, `stdin` and an optional base URL.
pub async fn run_connector<C: cli::Connector>(args: &[&str], base_url: Option<&str>, stdin: &[u8]) -> Run {
    let env = cli::Env {
        base_url: base_url.map(str::to_string),
        stdout_is_terminal: false,
    };
    let input: cli::Stdin = Box::new(std::io::Cursor::new(stdin.to_vec()));
    let mut out = Vec::new();
    let code = cli::run::<C>(args.iter().map(OsString::from), &env, input, &mut out).await;
    let stdout = String::from_utf8(out).expect("stdout is UTF-8");
    let messages = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}")))
        .collect();
    Run {
        code,
        stdout,
        messages,
    }
}

/// Writes `value` to a temporary file and returns it (kept alive by the handle).
pub fn temp_json(value: &Value) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec(value).unwrap()).unwrap();
    file
}

/// Mocks answering every request no earlier mock expected with 500 "unexpected request", and
/// expecting none. Define it LAST (mockito matches mocks in definition order).
pub struct CatchAll(Vec<mockito::Mock>);

impl CatchAll {
    /// Registers the catch-all for GET and POST.
    pub async fn register(server: &mut mockito::ServerGuard) -> Self {
        let mut mocks = Vec::new();
        for method in ["GET", "POST"] {
            let mock = server
                .mock(method, mockito::Matcher::Any)
                .with_status(500)
                .with_body("unexpected request")
                .expect(0)
                .create_async()
                .await;
            mocks.push(mock);
        }
        Self(mocks)
    }

    /// Fails if any unexpected request arrived.
    pub async fn assert(&self) {
        for mock in &self.0 {
            mock.assert_async().await;
        }
    }
}

/// A stand-in record as the source passes it on, from the committed stream schema
/// (`schemas/flowlu/streams/{stream}.json`), written apart from the connector's shaping: a
/// date or date-time that is blank or zero (`""`, `0000-00-00...`) is `null`, and text in an
/// integer or number column is that integer or number (`""` is `null`). Every other value as
/// sent.
pub fn as_passed_on(stream: &str, record: &Value) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../schemas/flowlu/streams")
        .join(format!("{stream}.json"));
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("a committed stream schema"))
            .expect("a stream schema");
    let mut out = record.clone();
    let Some(map) = out.as_object_mut() else {
        return out;
    };
    for (name, value) in map.iter_mut() {
        let property = &schema["properties"][name.as_str()];
        let Value::String(text) = value else {
            continue;
        };
        let types = property["type"].as_array().cloned().unwrap_or_default();
        if property.get("format").is_some() {
            if text.is_empty() || text.starts_with("0000-00-00") {
                *value = Value::Null;
            }
        } else if types.contains(&Value::from("integer")) || types.contains(&Value::from("number")) {
            *value = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(text).expect("a number sent as text")
            };
        }
    }
    out
}

/// [`as_passed_on`] of every record.
pub fn all_passed_on(stream: &str, records: Vec<Value>) -> Vec<Value> {
    records.iter().map(|r| as_passed_on(stream, r)).collect()
}
