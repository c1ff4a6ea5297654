//! The validation call against mockito: every outcome, with the exact request, class and
//! message, and the canary key in none of them.

use std::sync::{Arc, Mutex};

use connector_core::{Credential, FailureClass, FailureReason, Validation};
use connector_flowlu::FlowluCredential;
use integration_tests::{config_json, CatchAll, CANARY_KEY};
use mockito::{Matcher, Server, ServerGuard};
use serde_json::json;

const ACCOUNT_PAGE: &str = r#"{"response":{"total":1,"page":1,"count":1,"items":[{"id":1,"name":"Acme"}]}}"#;

fn probe_query() -> Matcher {
    Matcher::Exact(format!("api_key={CANARY_KEY}&page=1&limit=1"))
}

/// The probe of `module/model`, matched on its exact path and query.
fn probe(server: &mut ServerGuard, module: &str, model: &str) -> mockito::Mock {
    server
        .mock("GET", format!("/api/v1/module/{module}/{model}/list").as_str())
        .match_query(probe_query())
}

async fn catch_all(server: &mut ServerGuard) -> CatchAll {
    CatchAll::register(server).await
}

fn credential(server_url: &str) -> FlowluCredential {
    FlowluCredential::from_config(&config_json("acme"))
        .unwrap()
        .with_base_url(server_url)
}

/// Captures every tracing event at TRACE level while `f` runs.
async fn with_logs<F: std::future::Future<Output = Validation>>(f: F) -> (Validation, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let outcome = f.await;
    drop(guard);
    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (outcome, logs)
}

/// Validates against `server`, checks the canary is nowhere, and returns the outcome.
async fn validate(server_url: &str) -> Validation {
    let (outcome, logs) = with_logs(credential(server_url).validate()).await;
    assert_no_canary(&outcome, &logs);
    outcome
}

fn assert_no_canary(outcome: &Validation, logs: &str) {
    let debug = format!("{outcome:?} {outcome:#?}");
    assert!(!debug.contains(CANARY_KEY), "canary in outcome: {debug}");
    assert!(!logs.contains(CANARY_KEY), "canary in logs: {logs}");
    if let Some(f) = outcome.failure() {
        assert!(!f.message.contains(CANARY_KEY) && !f.internal.contains(CANARY_KEY));
    }
}

#[track_caller]
fn assert_invalid(
    outcome: &Validation,
    reason: FailureReason,
    class: FailureClass,
    message: &str,
    internal: &str,
) {
    match outcome {
        Validation::Invalid { reason: r, failure } => {
            assert_eq!((*r, failure.class), (reason, class), "{outcome:?}");
            assert_eq!(failure.message, message);
            assert_eq!(failure.internal, internal);
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// The messages name the host contacted: `{host}` stands for it (mockito's `127.0.0.1:port`).
const BAD_KEY: &str = "Flowlu rejected the API key for {host}. Check that you copied the whole key from Portal Settings -> API Settings, that it has not been deleted, and that it belongs to this account.";
const UNKNOWN_ACCOUNT: &str = "No Flowlu account answered at {host}. Check the account domain: it is the first part of your Flowlu address (for https://mycompany.flowlu.com enter mycompany).";
/// `template` with `{host}` replaced by `host`.
fn at(template: &str, host: &str) -> String {
    template.replace("{host}", host)
}

const UNEXPECTED: &str = "Flowlu sent an answer this connector does not understand. This may be a change in Flowlu's API: please report it to the connector's maintainers with the details below.";

#[tokio::test]
async fn success_makes_one_cheap_request() {
    let mut server = Server::new_async().await;
    let ok = probe(&mut server, "crm", "account")
        .with_body(ACCOUNT_PAGE)
        .expect(1)
        .create_async()
        .await;
    let other = catch_all(&mut server).await;
    let outcome = validate(&server.url()).await;
    assert_eq!(
        outcome,
        Validation::Valid {
            warnings: vec![],
            detail: format!("listed crm/account on {}", server.host_with_port())
        }
    );
    ok.assert_async().await;
    other.assert().await;
}

/// One probe answer and the failure it must give.
struct Case {
    name: &'static str,
    status: usize,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    reason: FailureReason,
    class: FailureClass,
    message: &'static str,
    internal: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "error 11 with HTTP 200",
        status: 200,
        headers: &[],
        body: r#"{"error":{"error_code":11,"error_msg":"Authorization failed"}}"#,
        reason: FailureReason::BadCredentials,
        class: FailureClass::Config,
        message: BAD_KEY,
        internal: "authorization failed (HTTP 200, error 11: Authorization failed)",
    },
    Case {
        name: "HTTP 401 without a body",
        status: 401,
        headers: &[],
        body: "",
        reason: FailureReason::BadCredentials,
        class: FailureClass::Config,
        message: BAD_KEY,
        internal: "authorization failed (HTTP 401)",
    },
    Case {
        name: "HTTP 403 with an HTML page",
        status: 403,
        headers: &[("content-type", "text/html")],
        body: "<html><body>Forbidden</body></html>",
        reason: FailureReason::BadCredentials,
        class: FailureClass::Config,
        message: BAD_KEY,
        internal: "authorization failed (HTTP 403)",
    },
    Case {
        name: "error 11 with HTTP 401, echoing the key",
        status: 401,
        headers: &[],
        body: r#"{"error":{"error_code":11,"error_msg":"Invalid key canary-key-7d1e5f0a9b3c"}}"#,
        reason: FailureReason::BadCredentials,
        class: FailureClass::Config,
        message: BAD_KEY,
        internal: "authorization failed (HTTP 401, error 11: Invalid key [REDACTED])",
    },
    Case {
        name: "HTTP 404",
        status: 404,
        headers: &[("content-type", "text/html")],
        body: "<html>Not found</html>",
        reason: FailureReason::UnknownAccount,
        class: FailureClass::Config,
        message: UNKNOWN_ACCOUNT,
        internal: "no Flowlu portal answered: HTTP 404 (no such portal or path)",
    },
    Case {
        name: "an HTML login page with HTTP 200",
        status: 200,
        headers: &[("content-type", "text/html")],
        body: "\n<!DOCTYPE html><html><form action=\"/login\"></form></html>",
        reason: FailureReason::UnknownAccount,
        class: FailureClass::Config,
        message: UNKNOWN_ACCOUNT,
        internal: "no Flowlu portal answered: HTTP 200 with an HTML page instead of JSON",
    },
    Case {
        name: "a redirect (never followed)",
        status: 302,
        headers: &[("location", "https://www.flowlu.com/login?api_key=canary-key-7d1e5f0a9b3c")],
        body: "",
        reason: FailureReason::UnknownAccount,
        class: FailureClass::Config,
        message: UNKNOWN_ACCOUNT,
        internal: "no Flowlu portal answered: HTTP 302 redirect to www.flowlu.com",
    },
    Case {
        name: "HTTP 429 with Retry-After",
        status: 429,
        headers: &[("retry-after", "30")],
        body: "",
        reason: FailureReason::RateLimited,
        class: FailureClass::Transient,
        message: "Flowlu is limiting requests from this key. Wait 30 seconds and try again.",
        internal: "rate limited by Flowlu (retry after 30s)",
    },
    Case {
        name: "HTTP 429 without Retry-After",
        status: 429,
        headers: &[],
        body: "",
        reason: FailureReason::RateLimited,
        class: FailureClass::Transient,
        message: "Flowlu is limiting requests from this key. Wait a minute and try again.",
        internal: "rate limited by Flowlu",
    },
    Case {
        name: "HTTP 502",
        status: 502,
        headers: &[],
        body: "<html>Bad gateway</html>",
        reason: FailureReason::ServerError,
        class: FailureClass::Transient,
        message: "Flowlu answered with a server error (HTTP 502). This is usually temporary: try again in a few minutes.",
        internal: "server error (HTTP 502)",
    },
    Case {
        name: "error 13",
        status: 200,
        headers: &[],
        body: r#"{"error":{"error_code":13,"error_msg":"Internal server error"}}"#,
        reason: FailureReason::ServerError,
        class: FailureClass::Transient,
        message: "Flowlu reported an internal error and asked to retry later (error 13). Try again in a few minutes.",
        internal: "error 13: Internal server error",
    },
    Case {
        name: "a JSON body without `response`",
        status: 200,
        headers: &[],
        body: r#"{"result":"ok"}"#,
        reason: FailureReason::Unexpected,
        class: FailureClass::System,
        message: UNEXPECTED,
        internal: "unexpected answer (HTTP 200): no `response` in `{\"result\":\"ok\"}`",
    },
    Case {
        name: "a body that is not JSON",
        status: 200,
        headers: &[],
        body: "OK",
        reason: FailureReason::Unexpected,
        class: FailureClass::System,
        message: UNEXPECTED,
        internal: "unexpected answer (HTTP 200): not JSON (expected value at line 1 column 1): `OK`",
    },
    Case {
        name: "an unknown error code",
        status: 200,
        headers: &[],
        body: r#"{"error":{"error_code":12,"error_msg":"Invalid request"}}"#,
        reason: FailureReason::Unexpected,
        class: FailureClass::System,
        message: UNEXPECTED,
        internal: "error 12: Invalid request",
    },
];

#[tokio::test]
async fn every_failure_has_its_class_and_message() {
    for case in CASES {
        let mut server = Server::new_async().await;
        let mut mock = probe(&mut server, "crm", "account")
            .with_status(case.status)
            .with_body(case.body);
        for (name, value) in case.headers {
            mock = mock.with_header(*name, value);
        }
        let mock = mock.expect(1).create_async().await;
        let other = catch_all(&mut server).await;
        let outcome = validate(&server.url()).await;
        let message = at(case.message, &server.host_with_port());
        assert_invalid(&outcome, case.reason, case.class, &message, case.internal);
        mock.assert_async().await;
        other.assert().await;
        println!("ok: {}", case.name);
    }
}

#[tokio::test]
async fn a_key_without_the_probed_module_is_checked_on_the_others() {
    let mut server = Server::new_async().await;
    let denied = r#"{"error":{"error_code":22,"error_msg":"Access denied"}}"#;
    let unknown_module = r#"{"error":{"error_code":31,"error_msg":"Unknown module"}}"#;
    let mut mocks = vec![
        probe(&mut server, "crm", "account")
            .with_body(denied)
            .expect(1)
            .create_async()
            .await,
    ];
    for (module, model) in &connector_flowlu::testing::PROBES[1..] {
        let body = match *module {
            "task" | "core" => ACCOUNT_PAGE,
            "agile" => unknown_module,
            _ => denied,
        };
        mocks.push(
            probe(&mut server, module, model)
                .with_body(body)
                .expect(1)
                .create_async()
                .await,
        );
    }
    let other = catch_all(&mut server).await;
    let outcome = validate(&server.url()).await;
    assert_eq!(
        outcome,
        Validation::Valid {
            warnings: vec!["The API key may not read these modules: crm, st, fin, agile, timetracker, products, calendar, customfields. Their streams will be skipped. To sync them, allow them for this key in Flowlu: Portal Settings -> API Settings.".into()],
            detail: format!("readable modules on {}: task, core", server.host_with_port()),
        }
    );
    for mock in mocks {
        mock.assert_async().await;
    }
    other.assert().await;
}

#[tokio::test]
async fn a_key_without_any_module_is_a_permission_failure() {
    let mut server = Server::new_async().await;
    let denied = r#"{"error":{"error_code":22,"error_msg":"Access denied"}}"#;
    let mut mocks = Vec::new();
    for (module, model) in connector_flowlu::testing::PROBES {
        mocks.push(
            probe(&mut server, module, model)
                .with_body(denied)
                .expect(1)
                .create_async()
                .await,
        );
    }
    let outcome = validate(&server.url()).await;
    assert_invalid(
        &outcome,
        FailureReason::MissingPermission,
        FailureClass::Config,
        &format!("The API key is valid but may not read any module of {}. In Flowlu, open Portal Settings -> API Settings, edit this key and allow the modules you want to sync (for example CRM and Tasks).", server.host_with_port()),
        "access denied on every probed module: crm, task, st, fin, agile, timetracker, products, calendar, customfields, core",
    );
    for mock in mocks {
        mock.assert_async().await;
    }
}

#[tokio::test]
async fn a_bad_key_found_while_probing_other_modules_wins() {
    let mut server = Server::new_async().await;
    let _crm = probe(&mut server, "crm", "account")
        .with_body(r#"{"error":{"error_code":22,"error_msg":"Access denied"}}"#)
        .create_async()
        .await;
    let _task = probe(&mut server, "task", "tasks")
        .with_status(401)
        .create_async()
        .await;
    let outcome = validate(&server.url()).await;
    assert_invalid(
        &outcome,
        FailureReason::BadCredentials,
        FailureClass::Config,
        &at(BAD_KEY, &server.host_with_port()),
        "authorization failed (HTTP 401)",
    );
}

#[tokio::test]
async fn a_closed_port_is_a_network_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let url = format!("http://{host}");
    drop(listener);
    let outcome = validate(&url).await;
    let failure = outcome.failure().expect("a failure");
    assert_eq!(failure.class, FailureClass::Transient);
    assert_eq!(
        failure.message,
        format!("Could not reach {host}. Check your network connection (and any proxy or firewall) and try again.")
    );
    assert!(
        failure
            .internal
            .starts_with("request failed (Connect): error sending request"),
        "{}",
        failure.internal
    );
}

#[tokio::test]
async fn a_silent_server_is_a_timeout() {
    // A server that accepts and never answers; the credential's timeout is 1 s.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let url = format!("http://{host}");
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut config = config_json("acme");
    config["advanced"] = json!({"timeout_seconds": 1});
    let credential = FlowluCredential::from_config(&config).unwrap().with_base_url(url);
    let (outcome, logs) = with_logs(credential.validate()).await;
    assert_no_canary(&outcome, &logs);
    assert_invalid(
        &outcome,
        FailureReason::Timeout,
        FailureClass::Transient,
        &format!("Flowlu did not answer in time ({host}). Check your network connection and try again; if it persists, Flowlu may be slow right now."),
        "request failed (Timeout): error sending request: operation timed out",
    );
    hold.abort();
}

#[tokio::test]
async fn a_blank_key_fails_before_any_request() {
    let mut server = Server::new_async().await;
    let other = catch_all(&mut server).await;
    let config = json!({"name": "n", "account_domain": "acme", "api_key": "   "});
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(server.url());
    assert_invalid(
        &credential.validate().await,
        FailureReason::InvalidConfig,
        FailureClass::Config,
        "The `api_key` setting is wrong: the API key is empty; copy it from Flowlu: Portal Settings -> API Settings.",
        "invalid `api_key`: the API key is empty; copy it from Flowlu: Portal Settings -> API Settings",
    );
    other.assert().await;
}

#[test]
fn credential_debug_redacts_the_key() {
    let credential = FlowluCredential::from_config(&config_json("acme")).unwrap();
    let debug = format!("{credential:?} {credential:#?}");
    assert!(!debug.contains(CANARY_KEY), "{debug}");
    assert!(debug.contains("Secret([REDACTED])"));
    let client = credential.client().unwrap();
    assert!(!format!("{client:?}").contains(CANARY_KEY));
}

/// A resolver that knows no host: a DNS failure without touching the network.
struct NoSuchHost;

impl reqwest::dns::Resolve for NoSuchHost {
    fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async { Err("failed to lookup address information: Name or service not known".into()) })
    }
}

#[tokio::test]
async fn an_account_whose_name_does_not_resolve_is_unknown() {
    let credential = FlowluCredential::from_config(&config_json("no-such-account")).unwrap();
    let client =
        connector_flowlu::Client::builder(credential.account_domain.clone(), credential.api_key.clone())
            .dns_resolver(std::sync::Arc::new(NoSuchHost))
            .build()
            .unwrap();
    let (outcome, logs) = with_logs(connector_flowlu::testing::validate_with(&client)).await;
    assert_no_canary(&outcome, &logs);
    match &outcome {
        Validation::Invalid { reason, failure } => {
            assert_eq!(
                (*reason, failure.class),
                (FailureReason::UnknownAccount, FailureClass::Config)
            );
            assert_eq!(
                failure.message,
                "No Flowlu account answered at no-such-account.flowlu.com. Check the account domain: it is the first part of your Flowlu address (for https://mycompany.flowlu.com enter mycompany)."
            );
            assert!(
                failure.internal.starts_with("request failed (Dns): "),
                "{}",
                failure.internal
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// A resolver that sends every name to a closed loopback port: the connector contacts the
/// account's portal by its name, without an override, and finds nobody there.
struct ClosedPort(std::net::SocketAddr);

impl reqwest::dns::Resolve for ClosedPort {
    fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let addr = self.0;
        Box::pin(async move { Ok(Box::new(std::iter::once(addr)) as reqwest::dns::Addrs) })
    }
}

#[tokio::test]
async fn messages_name_the_portal_without_an_override_and_the_loopback_host_with_one() {
    // Without an override: the portal's name, though the resolver led to a loopback port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let portal = FlowluCredential::from_config(&config_json("acme")).unwrap();
    assert_eq!(portal.host(), "acme.flowlu.com");
    let client = connector_flowlu::Client::builder(portal.account_domain.clone(), portal.api_key.clone())
        .dns_resolver(std::sync::Arc::new(ClosedPort(closed)))
        .build()
        .unwrap();
    assert_eq!(client.host(), "acme.flowlu.com");
    let (outcome, logs) = with_logs(connector_flowlu::testing::validate_with(&client)).await;
    assert_no_canary(&outcome, &logs);
    let failure = outcome.failure().expect("a failure");
    assert_eq!(
        (failure.class, failure.message.as_str()),
        (
            FailureClass::Transient,
            "Could not reach acme.flowlu.com. Check your network connection (and any proxy or firewall) and try again."
        )
    );

    // With an override: the loopback host and port actually contacted, never the portal.
    let mut server = Server::new_async().await;
    let _refused = probe(&mut server, "crm", "account")
        .with_status(401)
        .expect(1)
        .create_async()
        .await;
    let overridden = credential(&server.url());
    assert_eq!(overridden.host(), server.host_with_port());
    assert_eq!(overridden.client().unwrap().host(), server.host_with_port());
    let outcome = validate(&server.url()).await;
    assert_invalid(
        &outcome,
        FailureReason::BadCredentials,
        FailureClass::Config,
        &format!("Flowlu rejected the API key for {}. Check that you copied the whole key from Portal Settings -> API Settings, that it has not been deleted, and that it belongs to this account.", server.host_with_port()),
        "authorization failed (HTTP 401)",
    );
    assert!(!failure.message.contains("127.0.0.1"));
}
