//! Peak memory of `flowlu-connector read` against hostile pages, each served to every request
//! (RELIABILITY.md, "Hostile pages"): a 30 MB page of ten million `{}` records for a `limit`
//! of 500, the same records keyed by id, the same page under another success status (read
//! as a tree, within its value budget), and a page of 500 records of 60 KB (as many as asked,
//! large ones) answered to every request, so pages are read concurrently.
//!
//! ```text
//! cargo build -p connector-flowlu && cargo run -p integration-tests --example hostile_pages
//! ```
//!
//! Needs `/usr/bin/time` (GNU time) for the peak resident set size.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use integration_tests::bench::connector_binary;
use serde_json::{json, Value};

/// Answers every request on `stream` with `status` and `body`, counting requests.
fn serve(stream: TcpStream, status: &str, body: &[u8], served: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let mut out = stream;
    loop {
        let mut line = String::new();
        // The request line, then headers up to the blank line (GETs carry no body).
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
        }
        served.fetch_add(1, Ordering::SeqCst);
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if out
            .write_all(head.as_bytes())
            .and_then(|()| out.write_all(body))
            .is_err()
        {
            return;
        }
    }
}

/// One hostile page: its name, the status it is served with, its body.
struct Case {
    name: &'static str,
    status: &'static str,
    body: Vec<u8>,
}

fn cases() -> Vec<Case> {
    let records = 10_000_000;
    let list = format!(
        r#"{{"response":{{"items":[{}{{}}]}}}}"#,
        "{},".repeat(records - 1)
    );
    let mut keyed = String::from(r#"{"response":{"items":{"#);
    let mut n = 1;
    while keyed.len() < list.len() - 20 {
        if n > 1 {
            keyed.push(',');
        }
        keyed.push_str(&format!(r#""{n}":{{}}"#));
        n += 1;
    }
    keyed.push_str("}}}");
    vec![
        Case {
            name: "10,000,000 `{}` in a list",
            status: "200 OK",
            body: list.clone().into_bytes(),
        },
        Case {
            name: "the same size of `{}` keyed by id",
            status: "200 OK",
            body: keyed.into_bytes(),
        },
        Case {
            name: "10,000,000 `{}` under HTTP 203 (read as a tree)",
            status: "203 Non-Authoritative Information",
            body: list.into_bytes(),
        },
        Case {
            name: "500 records of 60 KB, a full page to every request",
            status: "200 OK",
            body: wide_page().into_bytes(),
        },
    ]
}

/// A page that is not hostile by its count: 500 records (the `limit`) of 60,000 characters,
/// ids 1-500, dated; served to every request, so the reader meets the same full page again.
fn wide_page() -> String {
    let text = "a".repeat(60_000);
    let items: Vec<String> = (1..=500)
        .map(|id| format!(r#"{{"id":{id},"updated_date":"2024-01-01 00:00:00","x":"{text}"}}"#))
        .collect();
    format!(
        r#"{{"response":{{"total":100000,"items":[{}]}}}}"#,
        items.join(",")
    )
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let catalog = dir.path().join("catalog.json");
    std::fs::write(
        &config,
        json!({"name": "hostile", "account_domain": "acme", "api_key": "hostile-pages-key"}).to_string(),
    )
    .unwrap();
    std::fs::write(
        &catalog,
        json!({"streams": [{"stream": {"name": "crm_account", "json_schema": {}},
            "sync_mode": "incremental", "destination_sync_mode": "append"}]})
        .to_string(),
    )
    .unwrap();
    println!("| page | bytes | requests served | exit | peak RSS | message |");
    println!("|---|---|---|---|---|---|");
    for case in cases() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let body: Arc<Vec<u8>> = Arc::new(case.body);
        let served = Arc::new(AtomicUsize::new(0));
        let (body2, served2, status) = (Arc::clone(&body), Arc::clone(&served), case.status);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (b, s) = (Arc::clone(&body2), Arc::clone(&served2));
                std::thread::spawn(move || serve(stream, status, &b, &s));
            }
        });
        let output = Command::new("/usr/bin/time")
            .args(["-f", "peak_kb=%M"])
            .arg(connector_binary())
            .args(["read", "--config"])
            .arg(&config)
            .arg("--catalog")
            .arg(&catalog)
            .env("FLOWLU_BASE_URL", &url)
            .output()
            .expect("run /usr/bin/time and the connector");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let peak_kb: u64 = stderr
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("peak_kb="))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let message = stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|m| m["type"] == "TRACE" && m["trace"]["type"] == "ERROR")
            .map(|m| {
                m["trace"]["error"]["internal_message"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default();
        let records = stdout
            .lines()
            .filter(|l| l.contains(r#""type":"RECORD""#))
            .count();
        println!(
            "| {} | {} | {} | {} | {:.1} MiB | {message} ({records} records passed on) |",
            case.name,
            body.len(),
            served.load(Ordering::SeqCst),
            output.status.code().unwrap_or(-1),
            peak_kb as f64 / 1024.0,
        );
    }
}
