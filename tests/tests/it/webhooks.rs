//! Flowlu's webhooks: the receiver's answers over loopback HTTP (hand-built POSTs), the
//! spool's idempotency and bound, and reads draining the spool into exactly the records and
//! tombstones, in order per record, resumable from every checkpoint, with no request to Flowlu
//! for a change a webhook brought.

use std::path::Path;
use std::sync::Arc;

use connector_core::{ConfiguredCatalog, Credential, Source, SourceEvent, SourceState, Tombstone};
use connector_flowlu::webhook::receiver::ReceiverStats;
use connector_flowlu::{
    FlowluCredential, FlowluSource, WebhookReceiver, WebhookReceiverConfig, WebhookTokens,
};
use connector_spool::SpoolReader;
use flowlu_emulator::{ApiKey, Emulator, EmulatorConfig};
use futures::StreamExt;
use integration_tests::{as_passed_on, config_json, fast_limiter, CANARY_KEY};
use serde_json::{json, Value};

const TOKEN: &str = "tok_0123456789abcdefghijklmnopqrstuvwxyzABCDEF";
const OLD_TOKEN: &str = "old_0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

fn tokens() -> WebhookTokens {
    WebhookTokens {
        current: connector_core::Secret::new(TOKEN),
        previous: Some((connector_core::Secret::new(OLD_TOKEN), i64::MAX)),
    }
}

fn event(module: &str, model: &str, action: &str, current: Value, previous: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "meta": {"module": module, "model": model, "action": action},
        "current": current,
        "previous": previous,
    }))
    .unwrap()
}

fn lead(id: u64, name: &str, updated: &str) -> Value {
    json!({"id": id, "name": name, "budget": 12.5, "deadline": "0000-00-00", "updated_date": updated})
}

fn update(id: u64, name: &str, updated: &str) -> Vec<u8> {
    event("crm", "lead", "update", lead(id, name, updated), Value::Null)
}

fn delete(id: u64, updated: &str) -> Vec<u8> {
    event("crm", "lead", "delete", Value::Null, lead(id, "gone", updated))
}

async fn serve(receiver: &Arc<WebhookReceiver>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = receiver.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_receiver_answers_each_request_by_kind_without_detail() {
    let dir = tempfile::tempdir().unwrap();
    let config = WebhookReceiverConfig {
        max_body_bytes: 4096,
        ..WebhookReceiverConfig::default()
    };
    let receiver = WebhookReceiver::new(dir.path(), tokens(), config);
    let base = serve(&receiver).await;
    let http = reqwest::Client::new();
    let good = update(7, "A", "2026-12-05 10:00:00");
    let hook = format!("{base}/flowlu/webhook/{TOKEN}");
    let big = event(
        "crm",
        "lead",
        "create",
        json!({"id": 1, "name": "x".repeat(5000)}),
        Value::Null,
    );
    let cases: Vec<(&str, String, Vec<u8>, u16)> = vec![
        ("POST", hook.clone(), good.clone(), 200),
        ("POST", hook.clone(), good.clone(), 200),
        (
            "POST",
            format!("{base}/flowlu/webhook/{OLD_TOKEN}"),
            update(8, "B", "2026-12-05 10:00:00"),
            200,
        ),
        (
            "POST",
            format!("{base}/flowlu/webhook/{}", &TOKEN[..TOKEN.len() - 1]),
            good.clone(),
            404,
        ),
        ("POST", format!("{base}/flowlu/webhook/"), good.clone(), 404),
        (
            "POST",
            format!("{base}/flowlu/webhook/{TOKEN}/x"),
            good.clone(),
            404,
        ),
        ("POST", format!("{base}/"), good.clone(), 404),
        ("GET", hook.clone(), Vec::new(), 405),
        ("POST", hook.clone(), b"{not json".to_vec(), 400),
        (
            "POST",
            hook.clone(),
            event("crm", "lead", "create", Value::Null, Value::Null),
            400,
        ),
        ("POST", hook.clone(), big, 413),
        (
            "POST",
            hook.clone(),
            event("crm", "comments", "create", json!({"id": 1}), Value::Null),
            422,
        ),
    ];
    for (method, url, body, expected) in cases {
        let request = match method {
            "GET" => http.get(&url),
            _ => http
                .post(&url)
                .header("content-type", "application/json")
                .body(body),
        };
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap();
        assert_eq!((status, text.as_str()), (expected, ""), "{method} {url}");
    }
    assert_eq!(
        receiver.stats(),
        ReceiverStats {
            spooled: 2,
            duplicates: 1,
            not_found: 4,
            malformed: 3,
            unknown_model: 1,
            unavailable: 0,
            failed: 0,
        }
    );
    // The repeat was written once: two events in crm_lead's spool.
    let held = SpoolReader::new(&dir.path().join("crm_lead"))
        .read(None, 10)
        .unwrap();
    assert_eq!(held.len(), 2);
    assert_eq!(&held[0].payload[8..], &good[..]);
}

#[tokio::test]
async fn a_full_spool_answers_503_with_retry_after_and_drops_nothing_it_answered() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = WebhookReceiverConfig::default();
    // Room for two frames (header, receive time, body) and not three.
    let frame = (24 + 8 + update(1, "A", "2026-12-05 10:00:00").len()) as u64;
    config.spool.max_bytes = 2 * frame + frame / 2;
    let receiver = WebhookReceiver::new(dir.path(), tokens(), config);
    let base = serve(&receiver).await;
    let http = reqwest::Client::new();
    let mut answered = Vec::new();
    for id in 1..=6 {
        let answer = http
            .post(format!("{base}/flowlu/webhook/{TOKEN}"))
            .body(update(id, "A", "2026-12-05 10:00:00"))
            .send()
            .await
            .unwrap();
        let retry = answer
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        answered.push((answer.status().as_u16(), retry));
    }
    let ok = (200, None);
    let full = (503, Some("60".to_string()));
    assert_eq!(
        answered,
        [ok.clone(), ok, full.clone(), full.clone(), full.clone(), full]
    );
    let held = SpoolReader::new(&dir.path().join("crm_lead"))
        .read(None, 10)
        .unwrap();
    assert_eq!(held.len(), 2);
}

async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        seed: 3,
        records_per_model: 4,
        keys: vec![ApiKey::all_modules(CANARY_KEY)],
        ..Default::default()
    })
    .await
    .unwrap()
}

fn source(emu: &Emulator, spool: &Path) -> FlowluSource {
    let mut config = config_json("acme");
    config["advanced"] =
        json!({"webhook_spool": spool.to_str().unwrap(), "webhook_poll_hours": 1, "deletes": 0});
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url());
    FlowluSource::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(2, 3))
}

fn catalog() -> ConfiguredCatalog {
    serde_json::from_value(json!({"streams": [
        {"stream": {"name": "crm_lead", "json_schema": {}}, "sync_mode": "incremental", "destination_sync_mode": "append_dedup"}
    ]}))
    .unwrap()
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Record(Value),
    Delete(Value, Option<(String, Value)>),
    State(Value),
}

async fn read(source: &FlowluSource, state: &SourceState) -> Vec<Item> {
    let catalog = catalog();
    let events: Vec<SourceEvent> = source.read_parsed(&catalog, state).collect().await;
    let mut items = Vec::new();
    for event in events {
        match event {
            SourceEvent::Record(r) => items.push(Item::Record(r.data)),
            SourceEvent::Delete(Tombstone { id, cursor, .. }) => items.push(Item::Delete(id, cursor)),
            SourceEvent::Checkpoint(c) => items.push(Item::State(c.state)),
            SourceEvent::Error { stream, failure } => panic!("{stream:?} failed: {failure:?}"),
            _ => {}
        }
    }
    items
}

fn state_of(items: &[Item]) -> SourceState {
    let last = items.iter().rev().find_map(|i| match i {
        Item::State(s) => Some(s.clone()),
        _ => None,
    });
    lead_state(last.unwrap())
}

fn lead_state(state: Value) -> SourceState {
    SourceState {
        streams: [("crm_lead".to_string(), state)].into_iter().collect(),
    }
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn cursor(value: &str) -> Option<(String, Value)> {
    Some(("updated_date".into(), json!(value)))
}

#[tokio::test]
async fn a_read_drains_records_and_tombstones_in_order_per_record_and_resumes_exactly() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::new(dir.path(), tokens(), WebhookReceiverConfig::default());
    let polled = now();
    let events = [
        event(
            "crm",
            "lead",
            "create",
            lead(501, "new", "2026-12-05 10:00:00"),
            Value::Null,
        ),
        update(501, "edited", "2026-12-05 10:05:00"),
        update(777, "newer", "2026-12-05 10:10:00"),
        // Delivered late: older than what was passed on for 777.
        update(777, "older", "2026-12-05 10:00:00"),
        delete(501, "2026-12-05 10:05:00"),
        // Late updates of a deleted record: it stays deleted.
        update(501, "late", "2026-12-05 10:03:00"),
        update(501, "late same second", "2026-12-05 10:05:00"),
        // A resend of an event already spooled: one change.
        update(501, "edited", "2026-12-05 10:05:00"),
    ];
    for body in &events {
        assert_eq!(receiver.accept(body).await, reqwest::StatusCode::OK);
    }
    assert_eq!(receiver.stats().duplicates, 1);
    let source = source(&emu, dir.path());
    // The poll is not due (polled a moment ago): only the spool is read.
    let state: SourceState = lead_state(json!({"webhooks": {"polled_at": polled}}));
    let items = read(&source, &state).await;
    let end = SpoolReader::new(&dir.path().join("crm_lead"))
        .committed()
        .unwrap();
    let passed = |id, name, updated| Item::Record(as_passed_on("crm_lead", &lead(id, name, updated)));
    assert_eq!(
        items,
        vec![
            passed(501, "new", "2026-12-05 10:00:00"),
            passed(501, "edited", "2026-12-05 10:05:00"),
            passed(777, "newer", "2026-12-05 10:10:00"),
            Item::Delete(json!(501), cursor("2026-12-05 10:05:00")),
            Item::State(json!({"webhooks": {
                "offset": end,
                "polled_at": polled,
                "deleted": [[501, "2026-12-05 10:05:00"]],
            }})),
        ]
    );
    assert_eq!(
        emu.stats().total,
        0,
        "no request to Flowlu for changes a webhook brought"
    );
    // Resumed from its checkpoint: nothing repeated.
    let state = state_of(&items);
    let again = read(&source, &state).await;
    assert_eq!(again, vec![Item::State(state.get("crm_lead").unwrap().clone())]);
    // Later events: a late update still stays deleted (remembered in the state); a strictly
    // newer one is a restore; a delete of a record with no cursor known takes the newest passed.
    for body in [
        update(501, "later but older", "2026-12-05 10:04:00"),
        update(501, "restored", "2026-12-05 11:00:00"),
        update(900, "x", "2026-12-05 12:00:00"),
        event("crm", "lead", "delete", Value::Null, json!({"id": 900})),
    ] {
        assert_eq!(receiver.accept(&body).await, reqwest::StatusCode::OK);
    }
    let more = read(&source, &state).await;
    let end = SpoolReader::new(&dir.path().join("crm_lead"))
        .committed()
        .unwrap();
    assert_eq!(
        more,
        vec![
            passed(501, "restored", "2026-12-05 11:00:00"),
            passed(900, "x", "2026-12-05 12:00:00"),
            Item::Delete(json!(900), cursor("2026-12-05 12:00:00")),
            Item::State(json!({"webhooks": {
                "offset": end,
                "polled_at": polled,
                "deleted": [[900, "2026-12-05 12:00:00"]],
            }})),
        ]
    );
    assert_eq!(emu.stats().total, 0);
}

#[tokio::test]
async fn a_due_poll_runs_after_the_drain_and_its_checkpoints_keep_the_webhook_position() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::new(dir.path(), tokens(), WebhookReceiverConfig::default());
    assert_eq!(
        receiver.accept(&update(501, "hook", "2026-12-05 10:00:00")).await,
        reqwest::StatusCode::OK
    );
    let source = source(&emu, dir.path());
    let before = now();
    let items = read(&source, &SourceState::default()).await;
    let records: Vec<&Value> = items
        .iter()
        .filter_map(|i| match i {
            Item::Record(r) => Some(r),
            _ => None,
        })
        .collect();
    let polled = emu.count("crm", "lead");
    // The spooled change first, then every lead the portal holds.
    assert_eq!(records.len(), 1 + polled);
    assert_eq!(records[0]["name"], json!("hook"));
    let end = SpoolReader::new(&dir.path().join("crm_lead"))
        .committed()
        .unwrap();
    let last = state_of(&items);
    let last = last.get("crm_lead").unwrap();
    assert_eq!(last["webhooks"]["offset"], json!(end));
    assert!(last["webhooks"]["polled_at"].as_i64().unwrap() >= before);
    assert!(
        last.get("cursor").is_some(),
        "the poll's own position is kept: {last}"
    );
    // Every checkpoint of the poll carries the webhook position.
    for item in &items {
        if let Item::State(s) = item {
            assert_eq!(s["webhooks"]["offset"], json!(end), "{s}");
        }
    }
    // The next read within the hour: no poll, no request.
    let requests = emu.stats().total;
    let next = read(&source, &state_of(&items)).await;
    assert_eq!(next, vec![Item::State(last.clone())]);
    assert_eq!(emu.stats().total, requests);
}

#[test]
fn the_token_never_shows_in_a_receiver_debug() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::new(dir.path(), tokens(), WebhookReceiverConfig::default());
    let shown = format!("{receiver:?}");
    assert!(!shown.contains(TOKEN) && !shown.contains(OLD_TOKEN), "{shown}");
}

/// The stand-in sending its webhooks (with `faults`) to a receiver on loopback.
async fn stand_in_sending(
    faults: flowlu_emulator::WebhookFaults,
) -> (Emulator, Arc<WebhookReceiver>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::new(dir.path(), tokens(), WebhookReceiverConfig::default());
    let base = serve(&receiver).await;
    let emu = Emulator::start(EmulatorConfig {
        seed: 11,
        records_per_model: 2,
        model_records: [("crm/lead".to_string(), 40)].into_iter().collect(),
        keys: vec![ApiKey::all_modules(CANARY_KEY)],
        webhook: Some(flowlu_emulator::Webhook {
            url: format!("{base}/flowlu/webhook/{TOKEN}"),
            faults,
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    (emu, receiver, dir)
}

/// Changes made in the stand-in reach a read through its webhooks: exactly the stand-in's
/// records for what was created or changed, a tombstone for each delete, repeats written
/// once, late and reordered deliveries decided per record, and no request to Flowlu.
async fn end_to_end(faults: flowlu_emulator::WebhookFaults) -> Vec<flowlu_emulator::WebhookFault> {
    let (emu, receiver, dir) = stand_in_sending(faults).await;
    let source = source(&emu, dir.path());
    // The first read polls (nothing is known yet): every lead.
    let first = read(&source, &SourceState::default()).await;
    assert_eq!(
        first.iter().filter(|i| matches!(i, Item::Record(_))).count(),
        emu.count("crm", "lead")
    );
    let state = state_of(&first);
    let summary = emu
        .mutate(
            "crm",
            "lead",
            5,
            flowlu_emulator::MutationPlan {
                updates: 8,
                deletes: 4,
                inserts: 5,
            },
        )
        .unwrap();
    emu.flush_webhooks().await;
    let log = emu.webhook_log();
    assert!(
        log.deliveries.iter().all(|d| d.status == Some(200)),
        "{:?}",
        log.deliveries
    );
    let repeats = log
        .events
        .iter()
        .filter(|e| e.fault == Some(flowlu_emulator::WebhookFault::Repeat))
        .count() as u64;
    assert_eq!(receiver.stats().duplicates, repeats);
    let requests = emu.stats().total;
    let items = read(&source, &state).await;
    assert_eq!(
        emu.stats().total,
        requests,
        "no request to Flowlu for what the webhooks brought"
    );
    // The last word per id.
    let mut last: std::collections::BTreeMap<u64, Option<Value>> = Default::default();
    for item in &items {
        match item {
            Item::Record(r) => {
                last.insert(r["id"].as_u64().unwrap(), Some(r.clone()));
            }
            Item::Delete(id, _) => {
                last.insert(id.as_u64().unwrap(), None);
            }
            Item::State(_) => {}
        }
    }
    let portal: std::collections::BTreeMap<u64, Value> = emu
        .records("crm", "lead")
        .into_iter()
        .map(|r| (r["id"].as_u64().unwrap(), r))
        .collect();
    let mut expected: std::collections::BTreeMap<u64, Option<Value>> = Default::default();
    for id in summary.updated.iter().chain(&summary.inserted) {
        expected.insert(*id, portal.get(id).map(|r| as_passed_on("crm_lead", r)));
    }
    for id in &summary.deleted {
        expected.insert(*id, None);
    }
    assert_eq!(last, expected);
    let tombstones: std::collections::BTreeSet<u64> = items
        .iter()
        .filter_map(|i| match i {
            Item::Delete(id, Some((column, _))) if column == "updated_date" => id.as_u64(),
            _ => None,
        })
        .collect();
    assert_eq!(tombstones, summary.deleted.iter().copied().collect());
    // Resumed from the last checkpoint: nothing repeated.
    let again = read(&source, &state_of(&items)).await;
    assert!(again.iter().all(|i| matches!(i, Item::State(_))), "{again:?}");
    log.events.iter().filter_map(|e| e.fault).collect()
}

#[tokio::test]
async fn the_stand_in_s_webhooks_reach_a_read_exactly() {
    assert_eq!(end_to_end(flowlu_emulator::WebhookFaults::default()).await, []);
}

#[tokio::test]
async fn repeated_delayed_and_reordered_webhooks_reach_a_read_exactly() {
    let faults = end_to_end(flowlu_emulator::WebhookFaults {
        drop: 0.0,
        repeat: 0.3,
        delay: 0.2,
        delay_ms: 20,
        reorder: 0.3,
    })
    .await;
    use flowlu_emulator::WebhookFault::{Delay, Reorder, Repeat};
    for fault in [Repeat, Delay, Reorder] {
        assert!(faults.contains(&fault), "the seed drew no {fault:?}: {faults:?}");
    }
}

#[tokio::test]
async fn changes_whose_webhook_was_dropped_come_with_the_next_poll() {
    let (emu, _receiver, dir) = stand_in_sending(flowlu_emulator::WebhookFaults {
        drop: 0.5,
        ..Default::default()
    })
    .await;
    let source = source(&emu, dir.path());
    let state = state_of(&read(&source, &SourceState::default()).await);
    let plan = flowlu_emulator::MutationPlan {
        updates: 8,
        deletes: 0,
        inserts: 4,
    };
    let summary = emu.mutate("crm", "lead", 9, plan).unwrap();
    emu.flush_webhooks().await;
    let dropped = emu
        .webhook_log()
        .events
        .iter()
        .filter(|e| e.fault == Some(flowlu_emulator::WebhookFault::Drop))
        .count();
    assert!(dropped > 0);
    let drained = read(&source, &state).await;
    let records = |items: &[Item]| -> std::collections::BTreeSet<u64> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Record(r) => r["id"].as_u64(),
                _ => None,
            })
            .collect()
    };
    let changed: std::collections::BTreeSet<u64> =
        summary.updated.iter().chain(&summary.inserted).copied().collect();
    assert_eq!(records(&drained).len(), changed.len() - dropped);
    // The hourly poll, made due: it brings every change, the dropped ones included.
    let mut due = state_of(&drained).get("crm_lead").unwrap().clone();
    due["webhooks"]["polled_at"] = json!(0);
    let polled = read(&source, &lead_state(due)).await;
    assert_eq!(records(&polled), changed);
}

#[tokio::test]
async fn listen_prints_a_url_rotates_its_token_and_refuses_a_public_address_unasked() {
    use integration_tests::run_cli;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().to_str().unwrap();
    let first = run_cli(
        &[
            "listen",
            "--spool",
            spool,
            "--print-url",
            "https://hooks.example.com/",
        ],
        None,
        "",
    )
    .await;
    assert_eq!(first.code, 0, "{}", first.stdout);
    let stored = WebhookTokens::load(dir.path()).unwrap().unwrap();
    let url = format!(
        "https://hooks.example.com/flowlu/webhook/{}",
        stored.current.expose()
    );
    assert_eq!(first.messages, vec![json!({ "webhook_url": url })]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("webhook-token.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let rotated = run_cli(
        &[
            "listen",
            "--spool",
            spool,
            "--rotate-token",
            "--grace-hours",
            "2",
            "--print-url",
            "https://h.example",
        ],
        None,
        "",
    )
    .await;
    assert_eq!(rotated.code, 0);
    let after = WebhookTokens::load(dir.path()).unwrap().unwrap();
    assert_eq!(
        rotated.messages,
        vec![
            json!({ "webhook_url": format!("https://h.example/flowlu/webhook/{}", after.current.expose()) })
        ]
    );
    let (previous, until) = after.previous.clone().unwrap();
    assert_eq!(previous, stored.current);
    assert!((until - now() - 7200).abs() <= 5, "{until}");
    for args in [
        vec!["listen", "--spool", spool, "--listen", "0.0.0.0:0"],
        vec!["listen", "--listen", "127.0.0.1:0"],
    ] {
        let run = run_cli(&args, None, "").await;
        assert_eq!((run.code, run.stdout.as_str()), (2, ""), "{args:?}");
    }
}
