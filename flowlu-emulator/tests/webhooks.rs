//! Flowlu's outgoing webhook, sent by the stand-in to a receiver on loopback: exact payloads
//! of creates, updates and deletes (through the API, the second client, scheduled edits and
//! mutations), each delivery fault, seeded faults, and API answers that never wait on the
//! receiver.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use flowlu_emulator::{
    Emulator, EmulatorConfig, Error, MutationPlan, Webhook, WebhookDelivery, WebhookFault, WebhookFaults,
};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

/// One POST the receiver got: its content type, JSON body and when it arrived.
type Post = (String, Value, Instant);

/// What the receiver got, in the order received.
#[derive(Clone)]
struct Receiver {
    url: String,
    posts: Arc<Mutex<Vec<Post>>>,
}

impl Receiver {
    fn bodies(&self) -> Vec<Value> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b, _)| b.clone())
            .collect()
    }

    fn content_types(&self) -> Vec<String> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _, _)| t.clone())
            .collect()
    }

    fn arrivals(&self) -> Vec<Instant> {
        self.posts.lock().unwrap().iter().map(|(_, _, at)| *at).collect()
    }
}

#[derive(Clone)]
struct ReceiverState {
    posts: Arc<Mutex<Vec<Post>>>,
    status: StatusCode,
    /// When set, each POST takes a permit before it is answered.
    gate: Option<Arc<Semaphore>>,
}

async fn hook(State(state): State<ReceiverState>, headers: HeaderMap, body: String) -> StatusCode {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    state
        .posts
        .lock()
        .unwrap()
        .push((content_type, body, Instant::now()));
    if let Some(gate) = &state.gate {
        gate.acquire().await.unwrap().forget();
    }
    state.status
}

/// A receiver on a free loopback port answering every POST to `/hook` with `status`.
async fn receiver_with(status: StatusCode, gate: Option<Arc<Semaphore>>) -> Receiver {
    let posts = Arc::new(Mutex::new(Vec::new()));
    let state = ReceiverState {
        posts: Arc::clone(&posts),
        status,
        gate,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = Router::new().route("/hook", post(hook)).with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, posts }
}

async fn receiver() -> Receiver {
    receiver_with(StatusCode::OK, None).await
}

fn config(url: &str, faults: WebhookFaults) -> EmulatorConfig {
    EmulatorConfig {
        seed: 42,
        records_per_model: 3,
        webhook: Some(Webhook {
            url: url.to_owned(),
            faults,
        }),
        ..Default::default()
    }
}

async fn start(url: &str, faults: WebhookFaults) -> Emulator {
    Emulator::start(config(url, faults)).await.unwrap()
}

fn api(emu: &Emulator, path: &str) -> String {
    format!(
        "{}/api/v1/module/{path}?api_key={}",
        emu.base_url(),
        emu.api_key()
    )
}

async fn post_form(emu: &Emulator, path: &str, form: &[(&str, &str)]) -> Value {
    let answer = reqwest::Client::new()
        .post(api(emu, path))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap()
}

fn event(module: &str, model: &str, action: &str, current: &Value, previous: &Value) -> Value {
    json!({
        "meta": {"module": module, "model": model, "action": action},
        "current": current,
        "previous": previous,
    })
}

fn record(emu: &Emulator, module: &str, model: &str, id: u64) -> Value {
    emu.records(module, model)
        .into_iter()
        .find(|r| r["id"] == id)
        .unwrap()
}

fn ok(seqs: &[u64]) -> Vec<WebhookDelivery> {
    seqs.iter()
        .map(|seq| WebhookDelivery {
            seq: *seq,
            status: Some(200),
            error: None,
        })
        .collect()
}

/// `n` accounts created by the second client, named `A0`, `A1`, ...
fn create_accounts(emu: &Emulator, n: usize) {
    for i in 0..n {
        emu.second_client()
            .create_record("crm", "account", &[("name", json!(format!("A{i}")))])
            .unwrap();
    }
}

fn names(bodies: &[Value]) -> Vec<String> {
    bodies
        .iter()
        .map(|b| b["current"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn api_create_update_delete_of_an_account_post_the_records_as_the_api_answers_them() {
    let hooks = receiver().await;
    let emu = start(&hooks.url, WebhookFaults::default()).await;
    let created = post_form(&emu, "crm/account/create", &[("name", "Acme"), ("cf_1", "note")]).await;
    let created = &created["response"];
    assert_eq!(created["id"], 4);
    assert_eq!(created["name"], "Acme");
    assert_eq!(created["cf_1"], "note");
    let updated = post_form(&emu, "crm/account/update/4", &[("name", "Acme 2")]).await;
    let updated = &updated["response"];
    assert_eq!(updated["name"], "Acme 2");
    let deleted = post_form(&emu, "crm/account/delete/4", &[]).await;
    assert_eq!(deleted, json!({"response": {"id": 4}}));
    emu.flush_webhooks().await;

    let expected = vec![
        event("crm", "account", "create", created, &Value::Null),
        event("crm", "account", "update", updated, created),
        event("crm", "account", "delete", &Value::Null, updated),
    ];
    assert_eq!(hooks.bodies(), expected);
    assert_eq!(hooks.content_types(), vec!["application/json"; 3]);
    let log = emu.webhook_log();
    assert_eq!(log.deliveries, ok(&[0, 1, 2]));
    assert_eq!(log.sent_payloads(), expected);
    assert_eq!(
        log.events.iter().map(|e| (e.seq, e.fault)).collect::<Vec<_>>(),
        vec![(0, None), (1, None), (2, None)]
    );
    // The custom fields ride along, the select's label too.
    let custom: Vec<&String> = expected[0]["current"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("cf_"))
        .collect();
    assert_eq!(custom, ["cf_1", "cf_7", "cf_13", "cf_19_value", "cf_19", "cf_25"]);
}

#[tokio::test]
async fn a_refused_write_and_reads_post_nothing() {
    let hooks = receiver().await;
    let emu = start(&hooks.url, WebhookFaults::default()).await;
    // A create missing its name (error 21), an update of a missing record (error 20), a list.
    let refused = post_form(&emu, "crm/account/create", &[("phone", "1")]).await;
    assert_eq!(refused["error"]["error_code"], 21);
    let missing = post_form(&emu, "crm/account/update/99", &[("name", "x")]).await;
    assert_eq!(missing["error"]["error_code"], 20);
    let list = reqwest::get(api(&emu, "crm/account/list")).await.unwrap();
    assert_eq!(list.status(), 200);
    emu.flush_webhooks().await;
    assert_eq!(hooks.bodies(), Vec::<Value>::new());
    assert_eq!(emu.webhook_log(), Default::default());
}

#[tokio::test]
async fn second_client_and_scheduled_edits_of_tasks_are_posted() {
    let hooks = receiver().await;
    let emu = start(&hooks.url, WebhookFaults::default()).await;
    let client = emu.second_client();
    let id = client
        .create_record("task", "tasks", &[("name", json!("Call back"))])
        .unwrap();
    assert_eq!(id, 4);
    let created = record(&emu, "task", "tasks", id);
    client
        .edit_record("task", "tasks", id, &[("name", json!("Call back today"))])
        .unwrap();
    let edited = record(&emu, "task", "tasks", id);
    assert_eq!(edited["name"], "Call back today");
    // An edit scheduled after the next API request lands before its answer.
    emu.schedule(1, move |c| {
        c.edit_record("task", "tasks", 4, &[("name", json!("Scheduled"))])
            .unwrap();
    });
    let list = reqwest::get(api(&emu, "crm/account/list")).await.unwrap();
    assert_eq!(list.status(), 200);
    let scheduled = record(&emu, "task", "tasks", id);
    assert_eq!(scheduled["name"], "Scheduled");
    emu.second_client().delete_record("task", "tasks", id).unwrap();
    emu.flush_webhooks().await;

    assert_eq!(
        hooks.bodies(),
        vec![
            event("task", "tasks", "create", &created, &Value::Null),
            event("task", "tasks", "update", &edited, &created),
            event("task", "tasks", "update", &scheduled, &edited),
            event("task", "tasks", "delete", &Value::Null, &scheduled),
        ]
    );
    assert_eq!(emu.webhook_log().deliveries, ok(&[0, 1, 2, 3]));
}

#[tokio::test]
async fn a_mutation_posts_its_deletes_updates_and_creates() {
    let hooks = receiver().await;
    let emu = start(&hooks.url, WebhookFaults::default()).await;
    let before = emu.records("crm", "lead");
    let summary = emu
        .mutate(
            "crm",
            "lead",
            7,
            MutationPlan {
                updates: 1,
                deletes: 1,
                inserts: 1,
            },
        )
        .unwrap();
    emu.flush_webhooks().await;
    let old = |id: u64| before.iter().find(|r| r["id"] == id).unwrap().clone();
    let [deleted] = summary.deleted[..] else {
        panic!("{summary:?}")
    };
    let [updated] = summary.updated[..] else {
        panic!("{summary:?}")
    };
    assert_eq!(summary.inserted, [4]);
    assert_eq!(
        hooks.bodies(),
        vec![
            event("crm", "lead", "delete", &Value::Null, &old(deleted)),
            event(
                "crm",
                "lead",
                "update",
                &record(&emu, "crm", "lead", updated),
                &old(updated)
            ),
            event(
                "crm",
                "lead",
                "create",
                &record(&emu, "crm", "lead", 4),
                &Value::Null
            ),
        ]
    );
}

#[tokio::test]
async fn dropped_events_are_never_sent() {
    let hooks = receiver().await;
    let faults = WebhookFaults {
        drop: 1.0,
        ..WebhookFaults::default()
    };
    let emu = start(&hooks.url, faults).await;
    create_accounts(&emu, 3);
    emu.flush_webhooks().await;
    let log = emu.webhook_log();
    assert_eq!(
        log.events.iter().map(|e| (e.seq, e.fault)).collect::<Vec<_>>(),
        vec![
            (0, Some(WebhookFault::Drop)),
            (1, Some(WebhookFault::Drop)),
            (2, Some(WebhookFault::Drop))
        ]
    );
    assert_eq!(log.deliveries, ok(&[]));
    assert_eq!(hooks.bodies(), Vec::<Value>::new());
}

#[tokio::test]
async fn repeated_events_are_sent_twice_in_a_row() {
    let hooks = receiver().await;
    let faults = WebhookFaults {
        repeat: 1.0,
        ..WebhookFaults::default()
    };
    let emu = start(&hooks.url, faults).await;
    create_accounts(&emu, 2);
    emu.flush_webhooks().await;
    assert_eq!(emu.webhook_log().deliveries, ok(&[0, 0, 1, 1]));
    assert_eq!(names(&hooks.bodies()), ["A0", "A0", "A1", "A1"]);
}

#[tokio::test]
async fn a_delayed_event_holds_the_ones_after_it_until_it_is_sent() {
    let hooks = receiver().await;
    let faults = WebhookFaults {
        delay: 1.0,
        delay_ms: 300,
        ..WebhookFaults::default()
    };
    let emu = start(&hooks.url, faults).await;
    let changed = Instant::now();
    create_accounts(&emu, 1);
    emu.set_webhook_faults(WebhookFaults::default()).unwrap();
    emu.second_client()
        .create_record("crm", "account", &[("name", json!("A1"))])
        .unwrap();
    emu.flush_webhooks().await;
    let log = emu.webhook_log();
    assert_eq!(
        log.events.iter().map(|e| e.fault).collect::<Vec<_>>(),
        [Some(WebhookFault::Delay), None]
    );
    assert_eq!(log.deliveries, ok(&[0, 1]));
    assert_eq!(names(&hooks.bodies()), ["A0", "A1"]);
    // A lower bound only (a sleep never ends early): the first arrived no sooner than its
    // delay after the change, and the second, undelayed, waited behind it.
    let waited: Vec<bool> = hooks
        .arrivals()
        .iter()
        .map(|at| at.duration_since(changed) >= Duration::from_millis(300))
        .collect();
    assert_eq!(waited, [true, true]);
}

#[tokio::test]
async fn a_reordered_event_is_sent_after_the_next_one() {
    let hooks = receiver().await;
    let faults = WebhookFaults {
        reorder: 1.0,
        ..WebhookFaults::default()
    };
    let emu = start(&hooks.url, faults).await;
    create_accounts(&emu, 3);
    // The third is held until a fourth event comes, or a flush.
    while emu.webhook_log().deliveries.len() < 2 {
        tokio::task::yield_now().await;
    }
    assert_eq!(emu.webhook_log().deliveries, ok(&[1, 0]));
    emu.flush_webhooks().await;
    let log = emu.webhook_log();
    assert_eq!(log.deliveries, ok(&[1, 0, 2]));
    // The event sent as "the next one" is not held itself, whatever its draw.
    assert_eq!(
        log.events.iter().map(|e| e.fault).collect::<Vec<_>>(),
        [Some(WebhookFault::Reorder); 3]
    );
    assert_eq!(names(&hooks.bodies()), ["A1", "A0", "A2"]);
}

/// The order in which events are sent, derived from their faults by the documented rules.
fn expected_order(faults: &[Option<WebhookFault>]) -> Vec<u64> {
    let mut sent = Vec::new();
    let mut held = None;
    for (seq, fault) in (0u64..).zip(faults) {
        match fault {
            Some(WebhookFault::Drop) => {}
            Some(WebhookFault::Repeat) => sent.extend([seq, seq]),
            Some(WebhookFault::Reorder) if held.is_none() => {
                held = Some(seq);
                continue;
            }
            // A reorder while one is held is sent as if drawn none.
            Some(WebhookFault::Reorder | WebhookFault::Delay) | None => sent.push(seq),
        }
        sent.extend(held.take());
    }
    sent.extend(held);
    sent
}

#[tokio::test]
async fn faults_are_seeded_and_follow_the_rules() {
    let faults = WebhookFaults {
        drop: 0.2,
        repeat: 0.2,
        delay: 0.2,
        delay_ms: 1,
        reorder: 0.2,
    };
    let mut runs = Vec::new();
    for seed in [42, 42, 7] {
        let hooks = receiver().await;
        let emu = Emulator::start(EmulatorConfig {
            seed,
            ..config(&hooks.url, faults)
        })
        .await
        .unwrap();
        create_accounts(&emu, 40);
        emu.flush_webhooks().await;
        let log = emu.webhook_log();
        let drawn: Vec<Option<WebhookFault>> = log.events.iter().map(|e| e.fault).collect();
        assert_eq!(log.sent(), expected_order(&drawn));
        assert_eq!(hooks.bodies(), log.sent_payloads());
        for fault in [
            None,
            Some(WebhookFault::Drop),
            Some(WebhookFault::Repeat),
            Some(WebhookFault::Delay),
            Some(WebhookFault::Reorder),
        ] {
            assert!(drawn.contains(&fault), "seed {seed}: no {fault:?} in {drawn:?}");
        }
        runs.push(drawn);
    }
    assert_eq!(runs[0], runs[1], "same seed, same faults");
    assert_ne!(runs[0], runs[2], "another seed, other faults");
}

#[tokio::test]
async fn a_refusing_or_missing_receiver_is_logged_and_not_retried() {
    let hooks = receiver_with(StatusCode::INTERNAL_SERVER_ERROR, None).await;
    let emu = start(&hooks.url, WebhookFaults::default()).await;
    create_accounts(&emu, 2);
    emu.flush_webhooks().await;
    assert_eq!(
        emu.webhook_log().deliveries,
        [0, 1].map(|seq| WebhookDelivery {
            seq,
            status: Some(500),
            error: None
        })
    );
    assert_eq!(names(&hooks.bodies()), ["A0", "A1"]);

    // A port nobody listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let emu = start(&url, WebhookFaults::default()).await;
    create_accounts(&emu, 1);
    emu.flush_webhooks().await;
    let log = emu.webhook_log();
    assert_eq!(log.deliveries.len(), 1);
    assert_eq!((log.deliveries[0].seq, log.deliveries[0].status), (0, None));
    assert!(log.deliveries[0].error.is_some());
    // The record is created all the same.
    assert_eq!(emu.count("crm", "account"), 4);
}

#[tokio::test]
async fn api_answers_do_not_wait_on_a_stuck_receiver() {
    let gate = Arc::new(Semaphore::new(0));
    let hooks = receiver_with(StatusCode::OK, Some(Arc::clone(&gate))).await;
    let emu = start(&hooks.url, WebhookFaults::default()).await;
    // The receiver holds the first POST unanswered; every create is answered all the same.
    let created = post_form(&emu, "crm/account/create", &[("name", "A0")]).await;
    assert_eq!(created["response"]["name"], "A0");
    while hooks.bodies().is_empty() {
        tokio::task::yield_now().await;
    }
    for name in ["A1", "A2"] {
        let created = post_form(&emu, "crm/account/create", &[("name", name)]).await;
        assert_eq!(created["response"]["name"], name);
    }
    assert_eq!(names(&hooks.bodies()), ["A0"]);
    assert_eq!(emu.webhook_log().deliveries, ok(&[]));
    gate.add_permits(3);
    emu.flush_webhooks().await;
    assert_eq!(emu.webhook_log().deliveries, ok(&[0, 1, 2]));
    assert_eq!(names(&hooks.bodies()), ["A0", "A1", "A2"]);
}

#[tokio::test]
async fn without_a_webhook_nothing_is_logged() {
    let emu = Emulator::start(EmulatorConfig {
        records_per_model: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    create_accounts(&emu, 1);
    emu.flush_webhooks().await;
    assert_eq!(emu.webhook_log(), Default::default());
}

#[tokio::test]
async fn bad_webhook_settings_are_refused() {
    let refused = |r: Result<Emulator, Error>| match r {
        Err(Error::InvalidConfig(msg)) => msg,
        other => panic!("{other:?}"),
    };
    let msg = refused(Emulator::start(config("ftp://127.0.0.1/hook", WebhookFaults::default())).await);
    assert_eq!(msg, "webhook URL \"ftp://127.0.0.1/hook\": must be http or https");
    let msg = refused(Emulator::start(config("not a url", WebhookFaults::default())).await);
    assert_eq!(msg, "webhook URL \"not a url\": relative URL without a base");
    let too_much = WebhookFaults {
        drop: 0.6,
        repeat: 0.6,
        ..WebhookFaults::default()
    };
    let msg = refused(Emulator::start(config("http://127.0.0.1:9/hook", too_much)).await);
    assert_eq!(
        msg,
        "webhook fault shares must be within 0..=1 and add up to at most 1"
    );
    let emu = start("http://127.0.0.1:9/hook", WebhookFaults::default()).await;
    let negative = WebhookFaults {
        reorder: -0.1,
        ..WebhookFaults::default()
    };
    assert!(matches!(
        emu.set_webhook_faults(negative),
        Err(Error::InvalidConfig(_))
    ));
}
