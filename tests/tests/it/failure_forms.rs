//! Every failure form of a Flowlu answer, against mockito: the exact outcome (class, message,
//! retried or not, how many requests). A 5xx is retried whatever its body and makes a create
//! `unknown`; an HTML page after good pages is retried; a page over the body cap or nested
//! too deep fails its stream naming the page; a name that does not resolve fails at once,
//! while a refused connection is retried. A catch-all answering 500 is defined last.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use connector_core::{
    ConfiguredCatalog, Credential, Outcome, Record, Sink, SinkEvent, SinkInput, Source, SourceState,
};
use connector_flowlu::FlowluSink;
use connector_flowlu::FlowluSource;
use connector_flowlu::{Client, FlowluCredential};
use connector_runner::airbyte::Message;
use futures::StreamExt;
use integration_tests::catalog::Stream;
use integration_tests::mock::{by_id, ids, page_body, query};
use integration_tests::protocol::emitted::{error, record, state, status};
use integration_tests::{config_json, fast_limiter, CatchAll, CANARY_KEY};
use mockito::{Matcher, Mock, Server, ServerGuard};
use serde_json::{json, Value};

const STREAM: &str = "crm_pipeline";
const PATH: &str = "/api/v1/module/crm/pipeline/list";
const SERVER_ERROR_500: &str =
    "Flowlu answered with a server error (HTTP 500). This is usually temporary: try again in a few minutes.";

/// Page `page` (of size `limit`) answered `status` with `body`, expected `times` times.
async fn answer(
    server: &mut ServerGuard,
    (page, limit): (u32, u32),
    (status, content_type, body): (usize, &str, String),
    times: usize,
) -> Mock {
    server
        .mock("GET", PATH)
        .match_query(query(&by_id(page, limit)))
        .with_status(status)
        .with_header("content-type", content_type)
        .with_body(body)
        .expect(times)
        .create_async()
        .await
}

/// A source for `url` with `advanced` settings; retries wait 1-5 ms, at most `retries`.
fn source(url: &str, advanced: Value, retries: usize) -> FlowluSource {
    let mut config = config_json("acme");
    config["advanced"] = advanced;
    let credential = FlowluCredential::from_config(&config).unwrap().with_base_url(url);
    let settings = credential.settings();
    FlowluSource::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(settings.concurrency(), retries))
}

/// The protocol lines of a read (`emitted_at` 0), checking the canary is absent.
async fn read(source: &FlowluSource) -> Vec<Value> {
    let state = SourceState::default();
    let catalog = Stream::new(STREAM).configured();
    let lines: Vec<Value> = source
        .read_parsed(&catalog, &state)
        .filter_map(|event| async { Message::from_source_event(event, 0) })
        .map(|m| serde_json::to_value(m).unwrap())
        .collect()
        .await;
    assert!(!json!(lines).to_string().contains(CANARY_KEY), "the key leaked");
    lines
}

fn summary(text: &str) -> Value {
    json!({"type": "LOG", "log": {"level": "INFO", "message": format!("read 1 streams: {text}")}})
}

/// The lines minus retry warnings, and those warnings (their delays carry jitter, so only
/// their start is kept: `crm_pipeline: attempt N failed (what it met)`).
fn split_retries(lines: Vec<Value>) -> (Vec<Value>, Vec<String>) {
    let (warns, rest): (Vec<Value>, Vec<Value>) = lines
        .into_iter()
        .partition(|l| l["type"] == "LOG" && l["log"]["level"] == "WARN");
    let warns = warns
        .iter()
        .map(|w| {
            let text = w["log"]["message"].as_str().unwrap();
            assert!(text.contains("; retrying in "), "{text}");
            text.split("; retrying in ").next().unwrap().to_string()
        })
        .collect();
    (rest, warns)
}

/// A complete read of one page of `items` (and its checkpoint).
fn one_page(items: &[Value]) -> Vec<Value> {
    let last = items.last().unwrap()["id"].clone();
    let mut lines = vec![status(STREAM, "STARTED"), status(STREAM, "RUNNING")];
    lines.extend(items.iter().map(|data| record(STREAM, data)));
    lines.push(state(STREAM, json!({"after_id": last})));
    lines.push(state(STREAM, json!({})));
    lines.push(status(STREAM, "COMPLETE"));
    lines.push(summary(&format!(
        "1 complete, 0 failed; {STREAM}: {} records in 1 pages",
        items.len()
    )));
    lines
}

/// A failed read: `STARTED`, the error, `INCOMPLETE`, the summary.
fn failed(message: &str, internal: &str, failure_type: &str) -> Vec<Value> {
    vec![
        status(STREAM, "STARTED"),
        error(STREAM, failure_type, message, internal),
        status(STREAM, "INCOMPLETE"),
        summary(&format!(
            "0 complete, 1 failed; {STREAM}: FAILED after 0 records ({message})"
        )),
    ]
}

#[tokio::test]
async fn a_5xx_is_retried_whatever_its_body() {
    // The retry warning names what the attempt met.
    let cases: [(usize, &str, &str, &str); 5] = [
        (500, "application/json", r#"{"error":"boom"}"#, "HTTP 500"),
        (
            500,
            "application/json",
            r#"{"error":{"error_code":10,"error_msg":"Unknown error"}}"#,
            "HTTP 500",
        ),
        (500, "application/json", r#""boom""#, "HTTP 500"),
        (
            502,
            "text/html",
            "<html><body>Bad gateway</body></html>",
            "HTTP 502",
        ),
        (503, "text/plain", "Service Unavailable", "HTTP 503"),
    ];
    let items = ids(1..=2);
    for (code, content_type, body, reason) in cases {
        let mut server = Server::new_async().await;
        let failing = answer(&mut server, (1, 500), (code, content_type, body.into()), 1).await;
        let ok = answer(
            &mut server,
            (1, 500),
            (200, "application/json", page_body(&items, 2)),
            1,
        )
        .await;
        let other = CatchAll::register(&mut server).await;
        let (lines, retries) = split_retries(read(&source(&server.url(), json!({}), 3)).await);
        assert_eq!(lines, one_page(&items), "{code} {body}");
        assert_eq!(
            retries,
            [format!("{STREAM}: attempt 1 failed ({reason})")],
            "{code} {body}"
        );
        failing.assert_async().await;
        ok.assert_async().await;
        other.assert().await;
    }
}

#[tokio::test]
async fn a_5xx_that_persists_fails_the_stream_as_transient_with_the_server_message() {
    let mut server = Server::new_async().await;
    let body = r#"{"error":"boom canary-key-7d1e5f0a9b3c"}"#;
    let failing = answer(&mut server, (1, 500), (500, "application/json", body.into()), 3).await;
    let other = CatchAll::register(&mut server).await;
    let (lines, retries) = split_retries(read(&source(&server.url(), json!({}), 2)).await);
    assert_eq!(
        lines,
        failed(
            SERVER_ERROR_500,
            "temporarily unavailable (HTTP 500): boom [REDACTED]",
            "transient_error"
        )
    );
    assert_eq!(
        retries,
        [
            format!("{STREAM}: attempt 1 failed (HTTP 500)"),
            format!("{STREAM}: attempt 2 failed (HTTP 500)")
        ]
    );
    failing.assert_async().await;
    other.assert().await;
}

#[tokio::test]
async fn an_html_page_after_a_good_page_is_retried() {
    let mut server = Server::new_async().await;
    let items = ids(1..=5);
    let html = "<!DOCTYPE html><html><body>Maintenance</body></html>";
    let p1 = answer(
        &mut server,
        (1, 2),
        (200, "application/json", page_body(&items[0..2], 5)),
        1,
    )
    .await;
    let proxy = answer(&mut server, (2, 2), (200, "text/html", html.into()), 1).await;
    let p2 = answer(
        &mut server,
        (2, 2),
        (200, "application/json", page_body(&items[2..4], 5)),
        1,
    )
    .await;
    let p3 = answer(
        &mut server,
        (3, 2),
        (200, "application/json", page_body(&items[4..5], 5)),
        1,
    )
    .await;
    let other = CatchAll::register(&mut server).await;
    // One request in flight, so page 2 is asked once page 1 was read.
    let advanced = json!({"page_size": 2, "max_concurrency": 1});
    let (lines, retries) = split_retries(read(&source(&server.url(), advanced, 3)).await);
    let mut expected = vec![status(STREAM, "STARTED"), status(STREAM, "RUNNING")];
    for (chunk, last) in [(&items[0..2], 2), (&items[2..4], 4), (&items[4..5], 5)] {
        expected.extend(chunk.iter().map(|data| record(STREAM, data)));
        expected.push(state(STREAM, json!({"after_id": last})));
    }
    expected.push(state(STREAM, json!({})));
    expected.push(status(STREAM, "COMPLETE"));
    expected.push(summary(&format!(
        "1 complete, 0 failed; {STREAM}: 5 records in 3 pages"
    )));
    assert_eq!(lines, expected);
    assert_eq!(
        retries,
        [format!("{STREAM}: attempt 1 failed (HTTP 200 with an HTML page)")]
    );
    for mock in [p1, proxy, p2, p3] {
        mock.assert_async().await;
    }
    other.assert().await;
}

#[tokio::test]
async fn an_html_page_as_the_first_answer_is_a_wrong_account_and_not_retried() {
    let mut server = Server::new_async().await;
    let html = "<html><form action=\"/login\"></form></html>";
    let login = answer(&mut server, (1, 500), (200, "text/html", html.into()), 1).await;
    let other = CatchAll::register(&mut server).await;
    let (lines, retries) = split_retries(read(&source(&server.url(), json!({}), 3)).await);
    assert_eq!(
        lines,
        failed(
            &format!("No Flowlu account answered at {}. Check the account domain: it is the first part of your Flowlu address (for https://mycompany.flowlu.com enter mycompany).", server.host_with_port()),
            "no Flowlu portal answered: HTTP 200 with an HTML page instead of JSON",
            "config_error"
        )
    );
    assert!(retries.is_empty());
    login.assert_async().await;
    other.assert().await;
}

/// A page of two records whose names make the body about `bytes` long.
fn big_page(bytes: usize) -> String {
    let name = "x".repeat(bytes / 2);
    page_body(
        &[json!({"id": 1, "name": name}), json!({"id": 2, "name": name})],
        2,
    )
}

const OVER_1_MIB: &str = "Page 1 of crm_pipeline is larger than 1 MiB, the most the connector holds for one answer. Lower advanced.page_size to get smaller pages, or raise advanced.max_page_megabytes (up to 1024) if the records really are that large.";
const OVER_1_MIB_INTERNAL: &str =
    "crm_pipeline page 1: the answer is larger than 1 MiB (advanced.max_page_megabytes)";

/// A page holding more records than the `limit` asked (here 501 `{}` for 500) fails the
/// stream by name, in one request (not retried), before its records are held; nothing is
/// passed on and no state is saved.
#[tokio::test]
async fn a_page_holding_more_records_than_asked_fails_the_stream_by_name() {
    let mut server = Server::new_async().await;
    let body = format!(r#"{{"response":{{"items":[{}{{}}]}}}}"#, "{},".repeat(500));
    let hostile = answer(&mut server, (1, 500), (200, "application/json", body), 1).await;
    let other = CatchAll::register(&mut server).await;
    let lines = read(&source(&server.url(), json!({}), 3)).await;
    assert_eq!(
        lines,
        failed(
            "Page 1 of crm_pipeline holds more than the 500 records asked for: the portal (or something between it and the connector) does not page as Flowlu does, so the page was refused before its records were read. Please report it to the connector's maintainers.",
            "crm_pipeline page 1: the page holds more than the 500 records asked for",
            "system_error"
        )
    );
    hostile.assert_async().await;
    other.assert().await;
}

/// The client's parsed list (the sink's lookups and index reads) refuses such a page too.
#[tokio::test]
async fn a_parsed_list_holding_more_records_than_asked_is_refused() {
    let mut server = Server::new_async().await;
    let body = page_body(&[json!({"id": 1}), json!({"id": 2}), json!({"id": 3})], 3);
    let page = answer(&mut server, (1, 2), (200, "application/json", body), 1).await;
    let other = CatchAll::register(&mut server).await;
    let credential = FlowluCredential::from_config(&config_json("acme"))
        .unwrap()
        .with_base_url(server.url());
    let params = [("page", "1"), ("limit", "2"), ("order_by[asc][]", "id")]
        .map(|(k, v)| (k.to_string(), v.to_string()));
    let err = credential
        .client()
        .unwrap()
        .list("crm", "pipeline", &params)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "crm/pipeline/list page 1: the page holds more than the 2 records asked for"
    );
    page.assert_async().await;
    other.assert().await;
}

/// A record without an `id` (the primary key of every stream) fails the stream naming it:
/// neither it nor its page is passed on, and no state is saved (a read never ends COMPLETE
/// with a state that covers nothing).
#[tokio::test]
async fn a_record_without_an_id_fails_the_stream_naming_it() {
    let mut server = Server::new_async().await;
    let body = page_body(&[json!({"id": 1}), json!({"name": "no id"}), json!({"id": 3})], 3);
    let page = answer(&mut server, (1, 500), (200, "application/json", body), 1).await;
    let other = CatchAll::register(&mut server).await;
    let lines = read(&source(&server.url(), json!({}), 3)).await;
    let why = "record 2 of 3 on page 1 has no `id` this connector can read (a whole number from 0 to 18446744073709551615, or a text), and `id` is the stream's primary key";
    assert_eq!(
        lines,
        failed(
            &format!("crm_pipeline could not be read to its end: {why}. Please report this to the connector's maintainers."),
            why,
            "system_error"
        )
    );
    page.assert_async().await;
    other.assert().await;
}

#[tokio::test]
async fn a_page_over_the_body_cap_fails_the_stream_naming_the_page() {
    let mut server = Server::new_async().await;
    let mib = 1024 * 1024;
    let too_big = answer(
        &mut server,
        (1, 500),
        (200, "application/json", big_page(mib + 10)),
        1,
    )
    .await;
    let other = CatchAll::register(&mut server).await;
    let lines = read(&source(&server.url(), json!({"max_page_megabytes": 1}), 3)).await;
    assert_eq!(lines, failed(OVER_1_MIB, OVER_1_MIB_INTERNAL, "config_error"));
    too_big.assert_async().await;
    other.assert().await;

    // Just under the cap, the same page is read.
    let mut server = Server::new_async().await;
    let body = big_page(mib - 200);
    assert!(body.len() <= mib && body.len() > mib - 300, "{}", body.len());
    let items: Vec<Value> = serde_json::from_str::<Value>(&body).unwrap()["response"]["items"]
        .as_array()
        .unwrap()
        .clone();
    let fits = answer(&mut server, (1, 500), (200, "application/json", body), 1).await;
    let other = CatchAll::register(&mut server).await;
    let lines = read(&source(&server.url(), json!({"max_page_megabytes": 1}), 3)).await;
    assert_eq!(lines, one_page(&items));
    fits.assert_async().await;
    other.assert().await;
}

#[tokio::test]
async fn a_streamed_body_over_the_cap_is_not_read_to_its_end() {
    let mut server = Server::new_async().await;
    let total = 64 * 1024 * 1024;
    let written = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&written);
    // No Content-Length: the body arrives in chunks, and reading stops at the cap.
    let endless = server
        .mock("GET", PATH)
        .match_query(query(&by_id(1, 500)))
        .with_status(200)
        .with_chunked_body(move |w| {
            w.write_all(br#"{"response": {"items": [{"id": 1, "name": ""#)?;
            let chunk = vec![b'x'; 64 * 1024];
            while counter.load(Ordering::Relaxed) < total {
                w.write_all(&chunk)?;
                counter.fetch_add(chunk.len(), Ordering::Relaxed);
            }
            w.write_all(br#""}]}}"#)
        })
        .expect(1)
        .create_async()
        .await;
    let other = CatchAll::register(&mut server).await;
    let lines = read(&source(&server.url(), json!({"max_page_megabytes": 1}), 3)).await;
    assert_eq!(lines, failed(OVER_1_MIB, OVER_1_MIB_INTERNAL, "config_error"));
    endless.assert_async().await;
    other.assert().await;
    let written = written.load(Ordering::Relaxed);
    assert!(
        written < total / 4,
        "the server wrote {written} bytes: the body was read on"
    );
}

#[tokio::test]
async fn a_record_nested_too_deep_fails_the_stream_naming_the_page() {
    let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    // 100,000 levels: refused after one request, nothing passed on.
    let mut server = Server::new_async().await;
    let body = format!(
        r#"{{"response": {{"total": 1, "items": [{{"id": 1, "x": {}}}]}}}}"#,
        nested(100_000)
    );
    let deep = answer(&mut server, (1, 500), (200, "application/json", body), 1).await;
    let other = CatchAll::register(&mut server).await;
    let lines = read(&source(&server.url(), json!({}), 3)).await;
    assert_eq!(
        lines,
        failed(
            "Page 1 of crm_pipeline holds a record nested deeper than 64 levels, more than the connector passes on safely. Deselect this stream; if the data is genuine, please report it to the connector's maintainers.",
            "crm_pipeline page 1: a record nests JSON deeper than 64 levels",
            "system_error"
        )
    );
    deep.assert_async().await;
    other.assert().await;

    // A record of 64 levels (its object, 63 arrays) is read.
    let mut server = Server::new_async().await;
    let text = format!(r#"{{"id": 1, "x": {}}}"#, nested(63));
    let item: Value = serde_json::from_str(&text).unwrap();
    let body = format!(r#"{{"response": {{"total": 1, "items": [{text}]}}}}"#);
    let fits = answer(&mut server, (1, 500), (200, "application/json", body), 1).await;
    let other = CatchAll::register(&mut server).await;
    let lines = read(&source(&server.url(), json!({}), 3)).await;
    assert_eq!(lines, one_page(&[item]));
    fits.assert_async().await;
    other.assert().await;
}

/// A resolver that knows no host, counting the lookups.
struct NoSuchHost(Arc<AtomicUsize>);

impl reqwest::dns::Resolve for NoSuchHost {
    fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
        self.0.fetch_add(1, Ordering::Relaxed);
        Box::pin(async { Err("failed to lookup address information: Name or service not known".into()) })
    }
}

#[tokio::test]
async fn a_name_that_does_not_resolve_fails_the_read_at_once() {
    let credential = FlowluCredential::from_config(&config_json("no-such-account")).unwrap();
    let lookups = Arc::new(AtomicUsize::new(0));
    let client = Client::builder(credential.account_domain.clone(), credential.api_key.clone())
        .dns_resolver(Arc::new(NoSuchHost(Arc::clone(&lookups))))
        .build()
        .unwrap();
    let source = FlowluSource::new(client, credential.settings()).with_limiter(fast_limiter(4, 3));
    let (lines, retries) = split_retries(read(&source).await);
    let message = "No Flowlu account answered at no-such-account.flowlu.com. Check the account domain: it is the first part of your Flowlu address (for https://mycompany.flowlu.com enter mycompany).";
    assert_eq!(lines.len(), 4, "{lines:#?}");
    let internal = lines[1]["trace"]["error"]["internal_message"].as_str().unwrap();
    assert!(internal.starts_with("request failed (Dns): "), "{internal}");
    assert!(internal.contains("Name or service not known"), "{internal}");
    assert_eq!(lines, failed(message, internal, "config_error"));
    assert!(retries.is_empty(), "{retries:?}");
    assert_eq!(lookups.load(Ordering::Relaxed), 1, "one lookup, no retry");
}

#[tokio::test]
async fn a_refused_connection_is_still_retried() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (lines, retries) =
        split_retries(read(&source(&format!("http://127.0.0.1:{port}"), json!({}), 2)).await);
    let message = &format!("Could not reach 127.0.0.1:{port}. Check your network connection (and any proxy or firewall) and try again.");
    assert_eq!(lines.len(), 4, "{lines:#?}");
    let internal = lines[1]["trace"]["error"]["internal_message"].as_str().unwrap();
    assert!(internal.starts_with("request failed (Connect): "), "{internal}");
    assert_eq!(lines, failed(message, internal, "transient_error"));
    assert_eq!(
        retries,
        [
            format!("{STREAM}: attempt 1 failed (connection refused)"),
            format!("{STREAM}: attempt 2 failed (connection refused)")
        ]
    );
}

#[tokio::test]
async fn a_create_that_got_a_500_with_a_json_error_is_unknown_not_failed() {
    let mut server = Server::new_async().await;
    let create = server
        .mock("POST", "/api/v1/module/crm/account/create")
        .match_query(Matcher::Exact(format!("api_key={CANARY_KEY}")))
        .match_body(Matcher::Exact("name=A".into()))
        .with_status(500)
        .with_header("content-type", "application/json")
        .with_body(r#"{"error":"boom"}"#)
        .expect(1)
        .create_async()
        .await;
    // The sink then looks among the newest records: an older twin leaves it unable to tell.
    let newest = server
        .mock("GET", "/api/v1/module/crm/account/list")
        .match_query(Matcher::Exact(format!(
            "api_key={CANARY_KEY}&order_by%5Bdesc%5D%5B%5D=id&page=1&limit=500"
        )))
        .with_body(r#"{"response": {"total": 1, "items": [{"id": 12, "name": "A"}]}}"#)
        .expect(1)
        .create_async()
        .await;
    let other = CatchAll::register(&mut server).await;
    // Without looking for earlier creates first (which would find record 12 and send nothing).
    let mut config = config_json("acme");
    config["advanced"] = json!({"find_earlier_creates": false});
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(server.url());
    let sink = FlowluSink::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(4, 3));
    let catalog: ConfiguredCatalog = serde_json::from_value(json!({"streams": [{
        "stream": {"name": "crm_account", "json_schema": {"type": "object", "properties": {"name": {"type": "string"}}}},
        "sync_mode": "full_refresh", "destination_sync_mode": "append"}]}))
    .unwrap();
    let input = vec![SinkInput::Record(Record {
        stream: "crm_account".into(),
        data: json!({"name": "A"}),
    })];
    let outcomes: Vec<Outcome> = sink
        .write(&catalog, futures::stream::iter(input).boxed())
        .filter_map(|e| async move {
            match e {
                SinkEvent::Outcome(o) => Some(o.outcome),
                _ => None,
            }
        })
        .collect()
        .await;
    assert_eq!(
        outcomes,
        [Outcome::Unknown {
            message: "the create was sent but its result is unknown (temporarily unavailable (HTTP 500): boom), and record 12 holds the same values, but whether it is this create's cannot be told (no id of the stream was known before it was sent); check crm_account in Flowlu before sending this record again".into()
        }]
    );
    create.assert_async().await;
    newest.assert_async().await;
    other.assert().await;
}
