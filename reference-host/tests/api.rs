//! The reference host's HTTP API end to end, in-process against the stand-in: exact answers,
//! nothing saved on a failed validation, the scope rule, rotation, delete removing the secret,
//! discover and preview, and the canary key never in any answer or log line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use connector_core::{Credential, MASK};
use connector_flowlu::FlowluCredential;
use flowlu_emulator::{ApiKey, Emulator, EmulatorConfig};
use reference_host::crypto::DataKey;
use reference_host::portals::{start_no_portal, Portals};
use reference_host::store::Store;
use reference_host::{authorities, router, Host};
use serde_json::{json, Value};

const CANARY: &str = "canary-host-key-8c41d2e7";
const ROTATED: &str = "canary-rotated-key-19fe03";
const TASKS_ONLY: &str = "canary-tasks-only-77a0";
const NO_MODULE: &str = "canary-no-module-5c3b";

/// Every log line of the test, at trace level (the connector's, hyper's and reqwest's too).
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

struct Env {
    base: String,
    http: reqwest::Client,
    host: Arc<Host>,
    emulator: Emulator,
    no_portal: String,
    seen: Vec<String>,
}

impl Env {
    async fn start() -> Self {
        let emulator = Emulator::start(EmulatorConfig {
            seed: 7,
            records_per_model: 12,
            keys: vec![
                ApiKey::all_modules(CANARY),
                ApiKey::all_modules(ROTATED),
                ApiKey::limited(TASKS_ONLY, ["task"]),
                ApiKey::limited(NO_MODULE, Vec::<String>::new()),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
        let (no_portal, _) = start_no_portal().await.unwrap();
        let portals = Portals::stand_in(
            [("demo.flowlu.com".into(), emulator.base_url())],
            no_portal.clone(),
        );
        let store = Store::in_memory(DataKey::generate()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let host = Arc::new(
            Host::new(store, portals, "does-not-exist".into())
                .unwrap()
                .answering_to(authorities(addr, &[])),
        );
        let app = router(host.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base,
            http: reqwest::Client::new(),
            host,
            emulator,
            no_portal,
            seen: Vec::new(),
        }
    }

    async fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let changes = method != reqwest::Method::GET;
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if changes {
            // What the page's own requests carry (see `guard`).
            req = req
                .header("origin", &self.base)
                .header("content-type", "application/json");
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        self.seen.push(text.clone());
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, value)
    }
}

fn refusal(message: &str, field: Option<&str>, reason: &str) -> Value {
    let extra = match field {
        Some(f) => json!({ f: {"__errors": [message]} }),
        None => json!({"__errors": [message]}),
    };
    json!({"message": message, "field": field, "reason": reason, "extra_errors": extra})
}

fn host_of(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

#[tokio::test]
async fn a_credential_s_whole_life_over_http() {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut env = Env::start().await;

    // The form, as generated, with the secret paths and the mask.
    let (status, form) = env.call("GET", "/api/kinds/flowlu/form", None).await;
    let expected = FlowluCredential::form().unwrap();
    assert_eq!(status, 200);
    assert_eq!(form["schema"], expected.schema);
    assert_eq!(form["ui_schema"], expected.ui_schema);
    assert_eq!(form["error_messages"], expected.error_messages);
    assert_eq!(form["secrets"], json!(["api_key"]));
    assert_eq!(form["mask"], json!(MASK));
    assert_eq!(
        env.call("GET", "/api/credentials", None).await,
        (200, json!({"credentials": []}))
    );
    bad_bodies_are_refused_plainly(&mut env).await;

    // A malformed domain: at the domain field, nothing requested, nothing saved.
    let (status, body) = env
        .call(
            "POST",
            "/api/credentials",
            Some(json!({"name": "CRM", "account_domain": "my company!", "api_key": CANARY})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            422,
            refusal(
                "`my company!` is not a valid account name; enter the first part of your Flowlu address: for https://mycompany.flowlu.com enter mycompany.",
                Some("account_domain"),
                "invalid_config"
            )
        )
    );
    assert_eq!(env.emulator.stats().total, 0);

    // An account the stand-in does not have: at the domain field.
    let (status, body) = env
        .call(
            "POST",
            "/api/credentials",
            Some(json!({"name": "CRM", "account_domain": "nosuch", "api_key": CANARY})),
        )
        .await;
    assert_eq!(status, 422);
    // Messages name the account typed, not the stand-in's loopback address.
    let no_portal = "nosuch.flowlu.com";
    assert_ne!(host_of(&env.no_portal), no_portal);
    assert_eq!(
        body,
        refusal(
            &format!("No Flowlu account answered at {no_portal}. Check the account domain: it is the first part of your Flowlu address (for https://mycompany.flowlu.com enter mycompany)."),
            Some("account_domain"),
            "unknown_account"
        )
    );

    // A bad key: at the key field.
    let stand_in = "demo.flowlu.com";
    assert_ne!(host_of(&env.emulator.base_url()), stand_in);
    let bad_key_message = format!("Flowlu rejected the API key for {stand_in}. Check that you copied the whole key from Portal Settings -> API Settings, that it has not been deleted, and that it belongs to this account.");
    let (status, body) = env
        .call(
            "POST",
            "/api/credentials",
            Some(json!({"name": "CRM", "account_domain": "demo", "api_key": "wrong-key"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (422, refusal(&bad_key_message, Some("api_key"), "bad_credentials"))
    );
    // The key pasted into the description is refused before anything is sent.
    let (status, body) = env
        .call(
            "POST",
            "/api/credentials",
            Some(json!({"name": "CRM", "description": format!("key {CANARY}"), "account_domain": "demo", "api_key": CANARY})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            422,
            refusal(
                "The API key appears in `description`: remove it from there (secrets are only kept in their own field).",
                Some("description"),
                "invalid_config"
            )
        )
    );
    assert_eq!(env.host.store().list().unwrap(), vec![]);

    // A key that may read no module: on the whole credential, nothing saved.
    let (status, body) = env
        .call(
            "POST",
            "/api/credentials",
            Some(json!({"name": "CRM", "account_domain": "demo", "api_key": NO_MODULE})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            422,
            refusal(
                &format!("The API key is valid but may not read any module of {stand_in}. In Flowlu, open Portal Settings -> API Settings, edit this key and allow the modules you want to sync (for example CRM and Tasks)."),
                None,
                "missing_permission"
            )
        )
    );
    assert_eq!(env.host.store().list().unwrap(), vec![]);

    // A key that lacks modules: saved, the warning on the tile.
    let (status, body) = env
        .call(
            "POST",
            "/api/credentials",
            Some(json!({"name": "Tasks", "account_domain": "demo", "api_key": TASKS_ONLY})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["credential"]["status"], "warning");
    assert_eq!(
        body["credential"]["warnings"],
        json!(["The API key may not read these modules: crm, st, fin, agile, timetracker, products, calendar, customfields, core. Their streams will be skipped. To sync them, allow them for this key in Flowlu: Portal Settings -> API Settings."])
    );
    assert_eq!(
        env.call("DELETE", "/api/credentials/1", None).await,
        (204, Value::Null)
    );

    // A good credential becomes a tile.
    let (status, body) = env
        .call(
            "POST",
            "/api/credentials",
            Some(json!({"name": "Sales CRM", "description": "Owned by sales ops", "account_domain": "https://demo.flowlu.com/", "api_key": CANARY})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let validated = body["credential"]["last_validated"].as_str().unwrap().to_string();
    assert_eq!(validated.len(), "2026-12-01T22:40:00Z".len());
    let tile = json!({
        "id": 2, "kind": "flowlu", "name": "Sales CRM", "description": "Owned by sales ops",
        "account": "demo.flowlu.com", "status": "valid", "status_message": null, "warnings": [],
        "last_validated": validated,
    });
    assert_eq!(body, json!({"credential": tile}));
    assert_eq!(
        env.call("GET", "/api/credentials", None).await,
        (200, json!({"credentials": [tile]}))
    );
    assert_eq!(env.host.store().secret_rows().unwrap(), 1);

    // Edit: the masked view; the mask keeps the key; a changed domain demands it again.
    let (status, body) = env.call("GET", "/api/credentials/2", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["form_data"],
        json!({"name": "Sales CRM", "description": "Owned by sales ops", "account_domain": "https://demo.flowlu.com/", "api_key": MASK})
    );
    let (status, body) = env
        .call(
            "PUT",
            "/api/credentials/2",
            Some(json!({"name": "Sales CRM", "account_domain": "other", "api_key": MASK})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            422,
            refusal(
                "Enter the API key again: the account domain changed, and a saved API key is only used with the account domain it was entered for.",
                Some("api_key"),
                "invalid_config"
            )
        )
    );
    let (status, body) = env
        .call(
            "PUT",
            "/api/credentials/2",
            Some(json!({"name": "Sales CRM (EU)", "account_domain": "https://demo.flowlu.com/", "api_key": MASK})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["credential"]["name"], "Sales CRM (EU)");
    assert_eq!(body["credential"]["description"], Value::Null);
    let (_, _, secrets) = env.host.store().get(2).unwrap().unwrap();
    assert_eq!(secrets.get("api_key").unwrap().expose(), CANARY);

    // Rotate: a wrong new key is refused at the key field and the saved one stays.
    let (status, body) = env
        .call(
            "POST",
            "/api/credentials/2/rotate",
            Some(json!({"api_key": "wrong-key"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (422, refusal(&bad_key_message, Some("api_key"), "bad_credentials"))
    );
    let (status, body) = env
        .call(
            "POST",
            "/api/credentials/2/rotate",
            Some(json!({"api_key": MASK})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            422,
            refusal("Enter the new API key.", Some("api_key"), "invalid_config")
        )
    );
    let (status, body) = env
        .call(
            "POST",
            "/api/credentials/2/rotate",
            Some(json!({"api_key": ROTATED})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, _, secrets) = env.host.store().get(2).unwrap().unwrap();
    assert_eq!(secrets.get("api_key").unwrap().expose(), ROTATED);
    let (status, body) = env.call("POST", "/api/credentials/2/validate", None).await;
    assert_eq!((status, &body["credential"]["status"]), (200, &json!("valid")));

    // Use for a source: discover, then the first records of a stream as the portal has them.
    let (status, body) = env.call("POST", "/api/credentials/2/discover", None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"crm_account"), "{names:?}");
    assert_eq!(
        body["streams"][names.iter().position(|n| *n == "crm_account").unwrap()]["sync_modes"],
        json!(["full_refresh", "incremental"])
    );
    let (status, body) = env
        .call(
            "POST",
            "/api/credentials/2/preview",
            Some(json!({"stream": "crm_account", "limit": 3})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The stand-in's records as the source passes them on: Flowlu's "not set" dates null,
    // custom fields (`cf_<id>`) under columns named from their Flowlu names, no `cf_` key left.
    let portal: Vec<Value> = env.emulator.records("crm", "account");
    let shown = body["records"].as_array().unwrap();
    assert_eq!((body["stream"].as_str(), shown.len()), (Some("crm_account"), 3));
    for (shown, sent) in shown.iter().zip(&portal[..3]) {
        let shown = shown.as_object().unwrap();
        let mut custom = 0;
        for (name, value) in sent.as_object().unwrap() {
            if name.starts_with("cf_") {
                custom += 1;
                assert!(!shown.contains_key(name), "{name}");
                continue;
            }
            let unset = value
                .as_str()
                .is_some_and(|t| t.is_empty() || t.starts_with("0000-00-00"));
            let dated = name.ends_with("_date") || name.ends_with("_time");
            let expected = if dated && unset { &Value::Null } else { value };
            assert_eq!(&shown[name], expected, "{name}");
        }
        assert_eq!(
            shown.len(),
            sent.as_object().unwrap().len(),
            "{custom} custom columns renamed"
        );
    }
    let (status, body) = env
        .call(
            "POST",
            "/api/credentials/2/preview",
            Some(json!({"stream": "nope"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            404,
            refusal(
                "This credential offers no stream named `nope`: run discover for the list.",
                None,
                "not_found"
            )
        )
    );

    // Delete: the tile and its secret are gone.
    assert_eq!(
        env.call("DELETE", "/api/credentials/2", None).await,
        (204, Value::Null)
    );
    assert_eq!(env.host.store().secret_rows().unwrap(), 0);
    assert_eq!(
        env.call("GET", "/api/credentials/2", None).await,
        (
            404,
            refusal(
                "No credential 2: it may have been deleted. Reload the page.",
                None,
                "not_found"
            )
        )
    );
    assert_eq!(
        env.call("GET", "/api/credentials", None).await,
        (200, json!({"credentials": []}))
    );

    // The keys were never in an answer nor in a log line; the logs did record the requests.
    for text in &env.seen {
        assert!(
            [CANARY, ROTATED, TASKS_ONLY, NO_MODULE]
                .iter()
                .all(|k| !text.contains(k)),
            "an answer holds a key: {text}"
        );
    }
    let logged = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("path=/api/credentials status=201"), "{logged}");
    assert!(logged.contains("credential deleted with its secrets"), "{logged}");
    assert!(
        [CANARY, ROTATED, TASKS_ONLY, NO_MODULE]
            .iter()
            .all(|k| !logged.contains(k)),
        "a log line holds a key"
    );
    env.emulator.shutdown().await;
    changes_from_another_origin_or_host_name_are_refused_and_every_answer_is_hardened().await;
}

/// Run from the one test of this file: log capture (a thread's default subscriber) is only
/// reliable while no other test thread hits the same log call sites.
async fn bad_bodies_are_refused_plainly(env: &mut Env) {
    let res = env
        .http
        .post(format!("{}/api/credentials", env.base))
        .header("origin", &env.base)
        .header("content-type", "application/json")
        .body(format!("{{\"api_key\": \"{CANARY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let text = res.text().await.unwrap();
    env.seen.push(text.clone());
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        refusal("The request body is not a JSON document.", None, "bad_request")
    );
    let (status, body) = env
        .call(
            "POST",
            "/api/credentials",
            Some(json!({"name": "x", "account_domain": "demo", "api_key": 12345})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            422,
            refusal("`api_key` must be a string.", Some("api_key"), "invalid_config")
        )
    );
    let (status, body) = env
        .call(
            "POST",
            "/api/credentials",
            Some(json!({"name": "x", "account_domain": "demo", "api_key": "  "})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            422,
            refusal("Enter the API key.", Some("api_key"), "invalid_config")
        )
    );
    let (status, body) = env
        .call(
            "POST",
            "/api/credentials",
            Some(json!({"name": "x", "api_key": CANARY})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            422,
            refusal(
                "Enter the account domain.",
                Some("account_domain"),
                "invalid_config"
            )
        )
    );
    let (status, body) = env.call("PUT", "/api/credentials/9", Some(json!({}))).await;
    assert_eq!(
        (status, body),
        (
            404,
            refusal(
                "No credential 9: it may have been deleted. Reload the page.",
                None,
                "not_found"
            )
        )
    );
}

/// The Flowlu form's markers as a host reads them: one secret, scoped to the account domain;
/// a rejected key at the key field, an unknown account at the domain field.
#[test]
fn the_flowlu_form_places_secrets_and_failures() {
    use connector_core::host::{HostSchema, SecretField, Target};
    use connector_core::FailureReason;
    let form = FlowluCredential::form().unwrap();
    let host = HostSchema::from_schema(&form.schema).unwrap();
    assert_eq!(
        host.secrets(),
        &[SecretField {
            path: "api_key".into(),
            title: "API key".into(),
            scope: vec!["account_domain".into()],
        }]
    );
    assert_eq!(
        host.failure_target(FailureReason::BadCredentials, None),
        Target::Field("api_key".into())
    );
    assert_eq!(
        host.failure_target(FailureReason::UnknownAccount, None),
        Target::Field("account_domain".into())
    );
    assert_eq!(
        host.failure_target(FailureReason::MissingPermission, None),
        Target::Credential
    );
    assert_eq!(
        connector_core::form::profile_violations(&form.schema),
        Vec::<String>::new()
    );
}

/// One raw request: the method, path and headers given, nothing else added.
async fn raw(
    env: &Env,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = env
        .http
        .request(method, format!("{}{path}", env.base))
        .body(body.to_string());
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    let text = res.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// Run from the one test of this file (see `bad_bodies_are_refused_plainly`), on a host of its own.
async fn changes_from_another_origin_or_host_name_are_refused_and_every_answer_is_hardened() {
    let mut env = Env::start().await;
    let good = json!({"name": "CRM", "account_domain": "demo", "api_key": CANARY}).to_string();
    let origin = env.base.clone();
    let cross = refusal(
        "Refused: changes are accepted only from this host's own page (the Origin header is missing or names another site).",
        None,
        "cross_origin",
    );
    let not_json = refusal(
        "Refused: send changes as `Content-Type: application/json`.",
        None,
        "bad_content_type",
    );
    // What a page on another origin can send: a form post, a text/plain fetch, no Origin.
    for (headers, expected) in [
        (
            vec![
                ("origin", "http://evil.example"),
                ("content-type", "application/json"),
            ],
            (403, &cross),
        ),
        (
            vec![("origin", "null"), ("content-type", "text/plain")],
            (403, &cross),
        ),
        (vec![("content-type", "application/json")], (403, &cross)),
        (
            vec![
                ("origin", origin.as_str()),
                ("content-type", "text/plain;charset=UTF-8"),
            ],
            (415, &not_json),
        ),
        (
            vec![
                ("origin", origin.as_str()),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            (415, &not_json),
        ),
        (vec![("origin", origin.as_str())], (415, &not_json)),
    ] {
        let (status, _, body) = raw(&env, "POST", "/api/credentials", &headers, &good).await;
        assert_eq!((status, &body), (expected.0, expected.1), "{headers:?}");
    }
    assert_eq!(env.host.store().list().unwrap(), vec![]);
    assert_eq!(env.emulator.stats().total, 0, "nothing was validated");
    // The page's own request is accepted, by either loopback name.
    let (status, body) = env
        .call(
            "POST",
            "/api/credentials",
            Some(serde_json::from_str(&good).unwrap()),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let localhost = env.base.replace("127.0.0.1", "localhost");
    let (status, _, _) = raw(
        &env,
        "POST",
        "/api/credentials/1/validate",
        &[
            ("host", &localhost[7..]),
            ("origin", &localhost),
            ("content-type", "application/json"),
        ],
        "",
    )
    .await;
    assert_eq!(status, 200);
    // Edit, rotate, delete from another origin: refused, the credential as it was.
    for (method, path) in [
        ("PUT", "/api/credentials/1"),
        ("POST", "/api/credentials/1/rotate"),
        ("DELETE", "/api/credentials/1"),
    ] {
        let (status, _, body) = raw(
            &env,
            method,
            path,
            &[
                ("origin", "http://evil.example"),
                ("content-type", "application/json"),
            ],
            &json!({"api_key": ROTATED}).to_string(),
        )
        .await;
        assert_eq!((status, &body), (403, &cross), "{method} {path}");
    }
    let (tile, _, secrets) = env.host.store().get(1).unwrap().unwrap();
    assert_eq!(
        (tile.name.as_str(), secrets.get("api_key").unwrap().expose()),
        ("CRM", CANARY)
    );
    // A Host header naming another name (a rebound DNS name) is refused, reads included.
    let wrong_host = refusal(
        "Refused: this host answers only to the address it listens on (the Host header names another).",
        None,
        "wrong_host",
    );
    for method in ["GET", "DELETE"] {
        let (status, _, body) = raw(
            &env,
            method,
            "/api/credentials/1",
            &[
                ("host", "rebound.example:80"),
                ("origin", "http://rebound.example:80"),
                ("content-type", "application/json"),
            ],
            "",
        )
        .await;
        assert_eq!((status, &body), (421, &wrong_host), "{method}");
    }
    assert_eq!(env.host.store().list().unwrap().len(), 1);
    // Every answer carries the security headers: the page, its script and style, the API, refusals.
    for (path, host) in [
        ("/", None),
        ("/app.css", None),
        ("/api/credentials", None),
        ("/", Some("rebound.example")),
    ] {
        let headers: Vec<(&str, &str)> = host.map(|h| vec![("host", h)]).unwrap_or_default();
        let (_, got, _) = raw(&env, "GET", path, &headers, "").await;
        let get = |name: &str| got.get(name).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            get("content-security-policy").as_deref(),
            Some(reference_host::api::CONTENT_SECURITY_POLICY),
            "{path}"
        );
        assert_eq!(
            get("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(get("referrer-policy").as_deref(), Some("no-referrer"), "{path}");
        assert_eq!(get("x-frame-options").as_deref(), Some("DENY"), "{path}");
    }
    assert!(!reference_host::api::CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
    // The form's validators are precompiled into the script: no 'unsafe-eval'.
    assert_eq!(
        reference_host::api::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    );
    assert!(reference_host::api::CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    // The page holds no inline script or style: only references to /app.js and /app.css.
    let page = env
        .http
        .get(format!("{}/", env.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"<script src="/app.js"></script>"#)
            && page.contains(r#"<link rel="stylesheet" href="/app.css">"#)
    );
    assert_eq!(
        (page.matches("<script").count(), page.matches("<style").count()),
        (1, 0)
    );
    env.seen.clear();
    env.emulator.shutdown().await;
}
