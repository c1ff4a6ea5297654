//! Webhooks: events per second sustained into the spool with durability on (every 200 after an
//! fsync), the time from an event's POST to its record passed on by a read (p50, p99), the
//! requests to Flowlu those reads sent, and events lost over repeated `kill -9` of the
//! `flowlu-connector listen` process during a burst. Figures, not a timed test:
//!
//! ```text
//! cargo build -p connector-flowlu --bin flowlu-connector
//! cargo run -p integration-tests --example bench_webhooks
//! ```
//!
//! All on loopback. `FLOWLU_CONNECTOR` names the binary (default `target/debug/flowlu-connector`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connector_core::{ConfiguredCatalog, Credential, Source, SourceEvent, SourceState};
use connector_flowlu::{
    FlowluCredential, FlowluSource, WebhookReceiver, WebhookReceiverConfig, WebhookTokens,
};
use connector_spool::SpoolReader;
use flowlu_emulator::{Emulator, EmulatorConfig};
use futures::StreamExt;
use serde_json::{json, Value};

fn body(id: u64, round: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "meta": {"module": "crm", "model": "lead", "action": "update"},
        "current": {"id": id, "name": format!("lead {id} round {round}"), "budget": 100.5,
            "updated_date": "2026-12-05 10:00:00", "deadline": "0000-00-00"},
        "previous": null,
    }))
    .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

async fn serve(receiver: &Arc<WebhookReceiver>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = receiver.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn throughput(concurrency: usize, events: u64) {
    let dir = tempfile::tempdir().unwrap();
    let tokens = WebhookTokens::load_or_create(dir.path()).unwrap();
    let url = format!("{}/flowlu/webhook/{}", "{base}", tokens.current.expose());
    let receiver = WebhookReceiver::new(dir.path(), tokens, WebhookReceiverConfig::default());
    let url = url.replace("{base}", &serve(&receiver).await);
    let http = reqwest::Client::new();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, next) = (http.clone(), url.clone(), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            loop {
                let id = next.fetch_add(1, Ordering::Relaxed);
                if id >= events {
                    break;
                }
                let answer = http.post(&url).body(body(id, 0)).send().await.unwrap();
                assert_eq!(answer.status().as_u16(), 200);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let held = SpoolReader::new(&dir.path().join("crm_lead"))
        .read(None, usize::MAX)
        .unwrap()
        .len();
    assert_eq!(held as u64, events);
    println!(
        "spool throughput: {events} events, {concurrency} senders: {:.0} events/s ({:.1} s, every one fsynced before its 200)",
        events as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}

async fn latency(samples: usize) {
    let emu = Emulator::start(EmulatorConfig {
        records_per_model: 2,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tokens = WebhookTokens::load_or_create(dir.path()).unwrap();
    let path = format!("/flowlu/webhook/{}", tokens.current.expose());
    let receiver = WebhookReceiver::new(dir.path(), tokens, WebhookReceiverConfig::default());
    let url = format!("{}{path}", serve(&receiver).await);
    let config = json!({"name": "bench", "account_domain": "acme", "api_key": emu.api_key(),
        "advanced": {"webhook_spool": dir.path().to_str().unwrap(), "deletes": 0}});
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url());
    let source = FlowluSource::from_credential(&credential).unwrap();
    let catalog: ConfiguredCatalog = serde_json::from_value(json!({"streams": [{
        "stream": {"name": "crm_lead", "json_schema": {}},
        "sync_mode": "incremental", "destination_sync_mode": "append_dedup"}]}))
    .unwrap();
    // A first read polls (the safety net is due); every later one within the hour drains only.
    let mut state = SourceState::default();
    let last_state = |events: &[SourceEvent], state: &mut SourceState| {
        for event in events {
            if let SourceEvent::Checkpoint(c) = event {
                state.streams.insert(c.stream.clone(), c.state.clone());
            }
        }
    };
    let first: Vec<SourceEvent> = source.read(&catalog, &state).collect().await;
    last_state(&first, &mut state);
    let requests_before = emu.stats().total;
    let http = reqwest::Client::new();
    let mut times = Vec::with_capacity(samples);
    for n in 0..samples as u64 {
        let started = Instant::now();
        let answer = http.post(&url).body(body(10_000 + n, 1)).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 200);
        let events: Vec<SourceEvent> = source.read(&catalog, &state).collect().await;
        let records: usize = events
            .iter()
            .map(|e| match e {
                SourceEvent::Records(r) => r.len(),
                _ => 0,
            })
            .sum();
        times.push(started.elapsed());
        assert_eq!(records, 1);
        last_state(&events, &mut state);
    }
    times.sort();
    println!(
        "event to record (POST, fsync, 200, a read draining it; {samples} events one at a time): p50 {:.2} ms, p99 {:.2} ms",
        percentile(&times, 0.5).as_secs_f64() * 1000.0,
        percentile(&times, 0.99).as_secs_f64() * 1000.0
    );
    println!(
        "requests to Flowlu for those {samples} changes: {}",
        emu.stats().total - requests_before
    );
}

fn binary() -> PathBuf {
    std::env::var_os("FLOWLU_CONNECTOR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/flowlu-connector"),
        PathBuf::from,
    )
}

/// Starts `listen` on a free port: the child and its address.
fn listen(spool: &Path) -> (Child, String) {
    let mut child = Command::new(binary())
        .args([
            "listen",
            "--spool",
            spool.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("flowlu-connector (build it first, see the example's documentation)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let said: Value = serde_json::from_str(&line).unwrap();
    (child, said["listening"].as_str().unwrap().to_string())
}

async fn kill_nine(rounds: u64, senders: usize) {
    let dir = tempfile::tempdir().unwrap();
    let token = WebhookTokens::load_or_create(dir.path())
        .unwrap()
        .current
        .expose()
        .to_string();
    let acknowledged: Arc<Mutex<BTreeSet<u64>>> = Arc::default();
    let mut sent = 0u64;
    for round in 0..rounds {
        let (mut child, addr) = listen(dir.path());
        let url = format!("http://{addr}/flowlu/webhook/{token}");
        let stop = Arc::new(AtomicBool::new(false));
        let next = Arc::new(std::sync::atomic::AtomicU64::new(round * 1_000_000));
        let http = reqwest::Client::new();
        let mut tasks = Vec::new();
        for _ in 0..senders {
            let (http, url, stop, next, acknowledged) = (
                http.clone(),
                url.clone(),
                Arc::clone(&stop),
                Arc::clone(&next),
                Arc::clone(&acknowledged),
            );
            tasks.push(tokio::spawn(async move {
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let id = next.fetch_add(1, Ordering::Relaxed);
                    sent += 1;
                    if let Ok(answer) = http.post(&url).body(body(id, round)).send().await {
                        if answer.status().as_u16() == 200 {
                            acknowledged.lock().unwrap().insert(id);
                        }
                    }
                }
                sent
            }));
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        // SIGKILL in the middle of the burst: no shutdown, no flush.
        child.kill().unwrap();
        child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            sent += task.await.unwrap();
        }
    }
    // A restart recovers the spool (a torn tail cut); then every acknowledged event is there.
    let (mut child, _) = listen(dir.path());
    child.kill().unwrap();
    child.wait().unwrap();
    let held: BTreeSet<u64> = SpoolReader::new(&dir.path().join("crm_lead"))
        .read(None, usize::MAX)
        .unwrap()
        .iter()
        .map(|entry| {
            let event: Value = serde_json::from_slice(&entry.payload[8..]).unwrap();
            event["current"]["id"].as_u64().unwrap()
        })
        .collect();
    let acknowledged = acknowledged.lock().unwrap();
    let lost = acknowledged.difference(&held).count();
    println!(
        "kill -9 of listen during a burst, {rounds} times ({senders} senders): {sent} sent, {} answered 200, {} spooled, {lost} answered 200 and lost",
        acknowledged.len(),
        held.len()
    );
    assert_eq!(lost, 0);
}

#[tokio::main]
async fn main() {
    for concurrency in [1, 16, 64] {
        throughput(concurrency, 2000).await;
    }
    latency(200).await;
    kill_nine(5, 32).await;
}
