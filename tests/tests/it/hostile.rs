//! Hostile account domains are rejected before any connection is attempted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use connector_flowlu::AccountDomain;
use integration_tests::{run_cli, temp_json, CANARY_KEY};
use serde_json::json;

const HOSTILE: &[&str] = &[
    // look-alikes and other hosts
    "acme.flowlu.com.evil.io",
    "acme.flowlu.co",
    "acme.flowIu.com",
    "acme.flowlu.com.",
    "acme.flowlu.ru.evil.io",
    "acme-flowlu.com",
    "acmeflowlu.com",
    "flowlu.com",
    "flowlu.ru",
    "www.flowlu.com",
    "www",
    "api",
    "acme.evil.io",
    "evil.io",
    "acme.flowlu.net",
    "a.b.flowlu.com",
    "acme.flowlu.com/../evil.io",
    // user info, ports, paths, queries, fragments
    "user@acme.flowlu.com",
    "acme.flowlu.com@evil.io",
    "https://evil.io@acme.flowlu.com",
    "https://acme.flowlu.com@evil.io/",
    "acme:443",
    "acme.flowlu.com:8443",
    "https://acme.flowlu.com:443/",
    "acme/evil",
    "https://acme.flowlu.com/api",
    "acme?x=1",
    "acme.flowlu.com?.evil.io",
    "acme#",
    "evil.io#.flowlu.com",
    "acme.flowlu.com#@evil.io",
    "ftp://acme.flowlu.com",
    "//acme.flowlu.com",
    "https:/acme.flowlu.com",
    // IP literals
    "127.0.0.1",
    "10.0.0.1",
    "[::1]",
    "::1",
    "127.1",
    "0x7f.0.0.1",
    "2130706433.flowlu.com.evil.io",
    // unicode, punycode, percent-encoding
    "аcme",
    "acme.flоwlu.com",
    "xn--acme-9ya",
    "xn--80ak6aa92e.flowlu.com",
    "acme%2eevil.io",
    "acme%00",
    "acme\u{0}",
    "ac\u{200b}me",
    "ａｃｍｅ",
    // backslashes, white space inside, control characters
    "acme\\evil.io",
    "acme.flowlu.com\\@evil.io",
    "ac me",
    "acme\tevil",
    "acme\nevil.io",
    "acme\r\n.evil.io",
    // trailing dots, hyphens, lengths
    "acme.",
    "acme..flowlu.com",
    ".acme",
    "-acme",
    "acme-",
    "a_b",
    "",
    "   ",
];

#[test]
fn at_least_fifty_hostile_domains_are_rejected_by_the_parser() {
    assert!(HOSTILE.len() >= 50, "{}", HOSTILE.len());
    for input in HOSTILE {
        let err = AccountDomain::parse(input).expect_err(input);
        assert!(
            err.to_string().ends_with("enter the first part of your Flowlu address: for https://mycompany.flowlu.com enter mycompany"),
            "{input:?}: {err}"
        );
    }
}

#[tokio::test]
async fn no_connection_is_attempted_for_any_of_them() {
    // A loopback listener counting every connection; every check points at it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let server = tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    for input in HOSTILE {
        let config = temp_json(&json!({"name": "n", "account_domain": input, "api_key": CANARY_KEY}));
        let run = run_cli(
            &["check", "--config", config.path().to_str().unwrap()],
            Some(&url),
            "",
        )
        .await;
        assert_eq!(run.code, 0, "{input:?}");
        let status = &run.messages[0]["connectionStatus"];
        assert_eq!(status["status"], "FAILED", "{input:?}");
        let message = status["message"].as_str().unwrap();
        assert!(
            message.starts_with("The config field `account_domain` is wrong: "),
            "{input:?}: {message}"
        );
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "a hostile domain reached the network"
    );
    // The control: a good domain does connect, so the counter counts.
    let config = temp_json(&json!({"name": "n", "account_domain": "acme", "api_key": CANARY_KEY}));
    let run = run_cli(
        &["check", "--config", config.path().to_str().unwrap()],
        Some(&url),
        "",
    )
    .await;
    assert_eq!(run.messages[0]["connectionStatus"]["status"], "FAILED");
    assert!(accepted.load(Ordering::SeqCst) >= 1);
    server.abort();
}
