//! The reference host's webhooks: a credential's URL (token included, rotatable with the
//! previous one kept for a grace period), Flowlu's POSTs to it spooled for that credential,
//! the change shown by the preview at once, and the token never in a log line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use flowlu_emulator::{ApiKey, Emulator, EmulatorConfig};
use reference_host::crypto::DataKey;
use reference_host::portals::{start_no_portal, Portals};
use reference_host::store::Store;
use reference_host::{authorities, router, Host};
use serde_json::{json, Value};

const KEY: &str = "canary-webhook-host-key-3d9a";

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http.request(method.clone(), format!("{base}{path}"));
    if method != reqwest::Method::GET {
        req = req
            .header("origin", base)
            .header("content-type", "application/json");
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        },
    )
}

/// Flowlu's POST: no Origin, its own content type.
async fn hook(http: &reqwest::Client, url: &str, body: &Value) -> (u16, String) {
    let res = http.post(url).body(body.to_string()).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn a_credential_s_webhook_url_receives_rotates_and_feeds_the_preview() {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let emulator = Emulator::start(EmulatorConfig {
        seed: 7,
        records_per_model: 3,
        keys: vec![ApiKey::all_modules(KEY)],
        ..Default::default()
    })
    .await
    .unwrap();
    let (no_portal, _) = start_no_portal().await.unwrap();
    let portals = Portals::stand_in([("demo.flowlu.com".into(), emulator.base_url())], no_portal);
    let data = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let host = Arc::new(
        Host::new(
            Store::in_memory(DataKey::generate()).unwrap(),
            portals,
            "does-not-exist".into(),
        )
        .unwrap()
        .answering_to(authorities(addr, &[]))
        .with_webhooks(&data.path().join("webhooks")),
    );
    let app = router(host);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();

    let (status, body) = call(
        &http,
        &base,
        "POST",
        "/api/credentials",
        Some(json!({"name": "CRM", "account_domain": "demo", "api_key": KEY})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["credential"]["id"].as_i64().unwrap();
    let (status, shown) = call(
        &http,
        &base,
        "GET",
        &format!("/api/credentials/{id}/webhook"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{shown}");
    let url = shown["url"].as_str().unwrap().to_string();
    let prefix = format!("{base}/hooks/{id}/flowlu/webhook/");
    assert!(url.starts_with(&prefix), "{url}");
    let token = url[prefix.len()..].to_string();
    assert_eq!(token.len(), 43);
    assert_eq!(shown["steps"].as_array().unwrap().len(), 4);
    assert_eq!(shown["previous_valid_until"], Value::Null);
    // Shown again: the same URL (the token is kept, not remade).
    let (_, again) = call(
        &http,
        &base,
        "GET",
        &format!("/api/credentials/{id}/webhook"),
        None,
    )
    .await;
    assert_eq!(again["url"], json!(url));

    let change = json!({"meta": {"module": "crm", "model": "lead", "action": "update"},
        "current": {"id": 2, "name": "Renamed in Flowlu", "updated_date": "2026-12-06 01:00:00"}, "previous": null});
    assert_eq!(hook(&http, &url, &change).await, (200, String::new()));
    assert_eq!(
        hook(&http, &format!("{prefix}{}x", &token[..42]), &change).await,
        (404, String::new())
    );
    assert_eq!(
        hook(
            &http,
            &format!("{base}/hooks/999/flowlu/webhook/{token}"),
            &change
        )
        .await,
        (404, String::new())
    );

    // The preview shows the change the webhook brought, at once.
    let (status, preview) = call(
        &http,
        &base,
        "POST",
        &format!("/api/credentials/{id}/preview"),
        Some(json!({"stream": "crm_lead", "limit": 2})),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        preview["webhook_changes"],
        json!([{"action": "update", "id": 2, "cursor": "2026-12-06 01:00:00",
            "record": {"id": 2, "name": "Renamed in Flowlu", "updated_date": "2026-12-06 01:00:00"}}])
    );

    // What the page asks every second: the spool only, no request to Flowlu.
    let requests = emulator.stats().total;
    let (status, changes) = call(
        &http,
        &base,
        "GET",
        &format!("/api/credentials/{id}/webhook/changes?stream=crm_lead"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{changes}");
    assert_eq!(changes["changes"], preview["webhook_changes"]);
    assert_eq!(emulator.stats().total, requests);
    let (status, _) = call(
        &http,
        &base,
        "GET",
        &format!("/api/credentials/{id}/webhook/changes?stream=nope"),
        None,
    )
    .await;
    assert_eq!(status, 404);

    // Rotation: a new URL; the previous token keeps working for its grace period.
    let (status, rotated) = call(
        &http,
        &base,
        "POST",
        &format!("/api/credentials/{id}/webhook/rotate"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let new_url = rotated["url"].as_str().unwrap().to_string();
    assert_ne!(new_url, url);
    assert!(rotated["previous_valid_until"].as_str().is_some());
    let second = json!({"meta": {"module": "crm", "model": "lead", "action": "delete"}, "current": null,
        "previous": {"id": 3, "updated_date": "2026-12-06 01:00:05"}});
    assert_eq!(hook(&http, &new_url, &second).await, (200, String::new()));
    let third = json!({"meta": {"module": "crm", "model": "lead", "action": "create"},
        "current": {"id": 9, "updated_date": "2026-12-06 01:00:06"}, "previous": null});
    assert_eq!(hook(&http, &url, &third).await, (200, String::new()));

    // A deleted credential's URL answers 404.
    let (status, _) = call(&http, &base, "DELETE", &format!("/api/credentials/{id}"), None).await;
    assert_eq!(status, 204);
    assert_eq!(hook(&http, &new_url, &change).await, (404, String::new()));
    assert!(!data.path().join("webhooks").join(id.to_string()).exists());

    let logged = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let new_token = &new_url[prefix.len()..];
    assert!(
        !logged.contains(&token) && !logged.contains(new_token),
        "a token was logged"
    );
    assert!(!logged.contains(KEY));
}

#[tokio::test]
async fn a_change_made_in_the_stand_in_reaches_its_credentials_through_the_relay() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let relay = connector_flowlu::webhook::token::generate().unwrap();
    let emulator = Emulator::start(EmulatorConfig {
        seed: 7,
        records_per_model: 3,
        keys: vec![ApiKey::all_modules(KEY)],
        webhook: Some(flowlu_emulator::Webhook::new(format!(
            "{base}{}{}",
            reference_host::webhooks::RELAY_PREFIX,
            relay.expose()
        ))),
        ..Default::default()
    })
    .await
    .unwrap();
    let (no_portal, _) = start_no_portal().await.unwrap();
    let portals = Portals::stand_in([("demo.flowlu.com".into(), emulator.base_url())], no_portal);
    let data = tempfile::tempdir().unwrap();
    let host = Arc::new(
        Host::new(
            Store::in_memory(DataKey::generate()).unwrap(),
            portals,
            "does-not-exist".into(),
        )
        .unwrap()
        .answering_to(authorities(addr, &[]))
        .with_webhooks(&data.path().join("webhooks"))
        .with_stand_in_relay(relay.clone(), "demo.flowlu.com"),
    );
    let app = router(host);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for name in ["First", "Second"] {
        let (status, body) = call(
            &http,
            &base,
            "POST",
            "/api/credentials",
            Some(json!({"name": name, "account_domain": "demo", "api_key": KEY})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["credential"]["id"].as_i64().unwrap());
    }
    let summary = emulator
        .mutate(
            "crm",
            "lead",
            3,
            flowlu_emulator::MutationPlan {
                updates: 1,
                deletes: 0,
                inserts: 0,
            },
        )
        .unwrap();
    emulator.flush_webhooks().await;
    let log = emulator.webhook_log();
    assert_eq!(
        log.deliveries.iter().map(|d| d.status).collect::<Vec<_>>(),
        [Some(200)]
    );
    let id = summary.updated[0];
    let record = emulator
        .records("crm", "lead")
        .into_iter()
        .find(|r| r["id"] == json!(id))
        .unwrap();
    for credential in ids {
        let (status, changes) = call(
            &http,
            &base,
            "GET",
            &format!("/api/credentials/{credential}/webhook/changes?stream=crm_lead"),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            changes["changes"],
            json!([{"action": "update", "id": id, "cursor": summary.timestamp, "record": record}])
        );
    }
    // Another token at the relay: 404, nothing spooled.
    let wrong = format!(
        "{base}{}{}x",
        reference_host::webhooks::RELAY_PREFIX,
        &relay.expose()[..42]
    );
    assert_eq!(hook(&http, &wrong, &json!({})).await, (404, String::new()));
}
