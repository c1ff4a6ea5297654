//! Regressions found by the reliability suite (see RELIABILITY.md).

use connector_core::{Credential, FailureClass, Source};
use connector_flowlu::FlowluCredential;
use connector_flowlu::FlowluSource;
use integration_tests::{config_json, CatchAll, CANARY_KEY};
use mockito::{Matcher, Server};
use serde_json::json;

/// Discover used to wait for every probe (one per model, each retried for minutes when the
/// portal does not answer) before looking at the first failure. Now the first failure that is
/// not a missing permission ends it: with one request in flight, exactly one request is sent.
#[tokio::test]
async fn discover_stops_at_the_first_fatal_probe() {
    let mut server = Server::new_async().await;
    let probe = server
        .mock("GET", "/api/v1/module/crm/account/list")
        .match_query(Matcher::Exact(format!("api_key={CANARY_KEY}&page=1&limit=1")))
        .with_body(r#"{"error":{"error_code":11,"error_msg":"Authorization failed"}}"#)
        .expect(1)
        .create_async()
        .await;
    let others = CatchAll::register(&mut server).await;
    let mut config = config_json("acme");
    config["advanced"] = json!({"max_concurrency": 1});
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(server.url());
    let source = FlowluSource::from_credential(&credential).unwrap();
    let failure = source.discover().await.unwrap_err();
    assert_eq!(failure.class, FailureClass::Config, "{failure:?}");
    assert!(
        failure.message.starts_with(&format!(
            "Flowlu rejected the API key for {}.",
            server.host_with_port()
        )),
        "{}",
        failure.message
    );
    probe.assert_async().await;
    others.assert().await;
}
