//! The sink against mockito: exact requests for each mode, every outcome class, safe retries,
//! and the `write` command's STATE echo, reject file and exit codes. The canary key appears in
//! no outcome, no stdout line and no reject file.

use connector_core::{
    ConfiguredCatalog, Credential, FailureClass, Outcome, Record, Sink, SinkEvent, SinkInput, Wait,
};
use connector_flowlu::FlowluCredential;
use connector_flowlu::FlowluSink;
use futures::StreamExt;
use integration_tests::catalog::Stream;
use integration_tests::mock::{key_query, register_all, Expect};
use integration_tests::protocol::{message_line, record_line, state_line};
use integration_tests::{config_json, fast_limiter, run_cli, temp_json, CatchAll, CANARY_KEY};
use mockito::{Matcher, Mock, Server, ServerGuard};
use serde_json::{json, Value};

const ACCOUNT_SCHEMA: &str = r#"{"type": "object", "required": ["name"], "properties": {
    "id": {"type": "integer"}, "name": {"type": ["null", "string"]}, "email": {"type": ["null", "string"]},
    "active": {"type": ["null", "boolean"]}, "tags": {"type": ["null", "array"]},
    "address": {"type": ["null", "object"]}, "description": {"type": ["null", "string"]},
    "updated_date": {"type": ["null", "string"], "readOnly": true}}}"#;

/// The stream crm_account with the schema above, primary key `id`, written in `mode`.
fn accounts(mode: &str) -> ConfiguredCatalog {
    let schema: Value = serde_json::from_str(ACCOUNT_SCHEMA).unwrap();
    Stream::new("crm_account")
        .schema(schema)
        .destination(mode)
        .key("id")
        .configured()
}

/// A config with the canary key and optional write rules for crm_account.
fn config(rule: Option<Value>) -> Value {
    let mut config = config_json("acme");
    if let Some(rule) = rule {
        config["advanced"] = json!({"write_rules": [rule]});
    }
    config
}

/// A sink whose retries do not wait long.
fn sink(url: &str, rule: Option<Value>) -> FlowluSink {
    let credential = FlowluCredential::from_config(&config(rule))
        .unwrap()
        .with_base_url(url);
    FlowluSink::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(4, 3))
}

fn records(data: &[Value]) -> Vec<SinkInput> {
    data.iter()
        .map(|d| {
            SinkInput::Record(Record {
                stream: "crm_account".into(),
                data: d.clone(),
            })
        })
        .collect()
}

/// Writes `input` and returns the outcomes in input order (and checks the canary is absent).
async fn write(sink: &FlowluSink, catalog: &ConfiguredCatalog, input: Vec<SinkInput>) -> Vec<Outcome> {
    let events: Vec<SinkEvent> = sink
        .write(catalog, futures::stream::iter(input).boxed())
        .collect()
        .await;
    assert!(!format!("{events:?}").contains(CANARY_KEY), "{events:?}");
    let mut outcomes: Vec<_> = events
        .into_iter()
        .filter_map(|e| match e {
            SinkEvent::Outcome(o) => Some(o),
            _ => None,
        })
        .collect();
    outcomes.sort_by_key(|o| o.sequence);
    outcomes.into_iter().map(|o| o.outcome).collect()
}

/// A POST on crm/account/`path` with exactly the form `body`, the key alone in the query.
fn post(path: &str, body: &str) -> Expect {
    Expect::post(format!("/api/v1/module/crm/account/{path}"), body).key_only()
}

/// The lookup `list?filter[email]=value&page=1&limit=2`.
fn lookup(email: &str) -> Expect {
    Expect::get("/api/v1/module/crm/account/list").query(key_query(&[
        ("filter[email]", email),
        ("page", "1"),
        ("limit", "2"),
    ]))
}

/// A GET of crm/account/delete/`id`, the key alone in the query.
fn delete(id: u64) -> Expect {
    Expect::get(format!("/api/v1/module/crm/account/delete/{id}")).key_only()
}

/// The read of the model's newest records a write makes before a stream's first create
/// (`order_by[desc][]=id`, one page of 500), to find creates an earlier run made.
fn newest(server: &mut ServerGuard) -> Mock {
    server
        .mock("GET", "/api/v1/module/crm/account/list")
        .match_query(Matcher::Exact(format!(
            "api_key={CANARY_KEY}&order_by%5Bdesc%5D%5B%5D=id&page=1&limit=500"
        )))
}

fn page(items: Value) -> String {
    json!({"response": {"total": items.as_array().map_or(0, Vec::len), "page": 1, "items": items}})
        .to_string()
}

fn created(id: u64) -> Outcome {
    Outcome::Created { id: id.to_string() }
}

fn updated(id: u64) -> Outcome {
    Outcome::Updated { id: id.to_string() }
}

/// What a scenario's write must give: exactly these outcomes, or one failure of `class` whose
/// message starts with the text (the rest names values the portal chose).
#[derive(Debug)]
enum Gives {
    Outcomes(Vec<Outcome>),
    FailedStartingWith(FailureClass, &'static str),
}

/// One write against mockito: the write rule, the catalog's destination mode, the records,
/// every request expected (in mockito's order; anything else answers 500 and fails the row)
/// and what the write gives.
struct Scenario {
    name: &'static str,
    rule: Option<Value>,
    mode: &'static str,
    expect: Vec<Expect>,
    input: Vec<Value>,
    gives: Gives,
}

fn scenarios() -> Vec<Scenario> {
    let upsert_by_email = || json!({"stream": "crm_account", "mode": "upsert", "match_field": "email"});
    let update = || json!({"stream": "crm_account", "mode": "update"});
    // Null and empty values are not sent (as every public Flowlu client): an update leaves
    // those fields as they are. A write rule with `clear_empty_fields` sends them empty, which
    // clears them.
    let with_blanks = |id: Option<u64>, name: &str| {
        let mut data = json!({"name": name, "email": null, "description": "", "tags": ["x", null, ""]});
        if let Some(id) = id {
            data["id"] = json!(id);
            data.as_object_mut().unwrap().remove("tags");
        }
        data
    };
    vec![
        Scenario {
            name: "create sends the Flowlu form encoding",
            rule: None,
            mode: "append",
            expect: vec![post(
                "create",
                "name=Acme&active=1&tags%5B%5D=a&tags%5B%5D=b&address%5Bcity%5D=Oslo",
            )
            .answer(r#"{"response":{"id":42}}"#)
            .times(1)],
            input: vec![json!({"name": "Acme", "active": true, "tags": ["a", "b"], "address": {"city": "Oslo"},
                "description": null, "updated_date": "2024-01-01 10:00:00"})],
            gives: Gives::Outcomes(vec![created(42)]),
        },
        Scenario {
            // An id Flowlu does not hold is never created (a create cannot take the id, and a
            // new record on every run would multiply it): the record fails for its own content.
            name: "update and upsert by id send the id in the path and never create a missing id",
            rule: None,
            mode: "append_dedup",
            expect: vec![
                post("update/7", "name=B&active=0")
                    .answer(r#"{"response":{"id":7,"name":"B"}}"#)
                    .times(1),
                post("update/8", "name=C")
                    .answer(r#"{"error":{"error_code":20,"error_msg":"Not found"}}"#)
                    .times(1),
                post("create", "name=C").times(0),
            ],
            input: vec![
                json!({"id": 7, "name": "B", "active": false}),
                json!({"id": "8", "name": "C"}),
            ],
            gives: Gives::Outcomes(vec![
                updated(7),
                Outcome::Failed {
                    class: FailureClass::Config,
                    code: Some(20),
                    message: "no Flowlu record 8: deleted there, or an id from another system; to create records, use create mode or a match field".into(),
                    fields: Default::default(),
                },
            ]),
        },
        Scenario {
            name: "upsert by match field looks up then updates or creates",
            rule: Some(upsert_by_email()),
            mode: "append",
            expect: vec![
                lookup("a@x.io")
                    .answer(page(json!([{"id": 5, "email": "a@x.io"}])))
                    .times(1),
                lookup("b@x.io").answer(page(json!([]))).times(1),
                post("update/5", "name=A&email=a%40x.io")
                    .answer(r#"{"response":{"id":5}}"#)
                    .times(1),
                post("create", "name=B&email=b%40x.io")
                    .answer(r#"{"response":{"id":6}}"#)
                    .times(1),
            ],
            input: vec![
                json!({"name": "A", "email": "a@x.io"}),
                json!({"name": "B", "email": "b@x.io"}),
            ],
            gives: Gives::Outcomes(vec![updated(5), created(6)]),
        },
        Scenario {
            name: "a portal that ignores the filter creates nothing",
            rule: Some(upsert_by_email()),
            mode: "append",
            expect: vec![lookup("a@x.io")
                .answer(page(
                    json!([{"id": 1, "email": "z@x.io"}, {"id": 2, "email": "y@x.io"}]),
                ))
                .times(1)],
            input: vec![json!({"name": "A", "email": "a@x.io"})],
            gives: Gives::FailedStartingWith(FailureClass::System, "Flowlu ignored the filter on `email`"),
        },
        Scenario {
            name: "delete by id and an already deleted record",
            rule: Some(json!({"stream": "crm_account", "mode": "delete"})),
            mode: "append",
            expect: vec![
                delete(3).answer(r#"{"response":{"id":3}}"#).times(1),
                delete(4)
                    .answer(r#"{"error":{"error_code":20,"error_msg":"Not found"}}"#)
                    .times(1),
            ],
            input: vec![json!({"id": 3}), json!({"id": 4, "name": "ignored"})],
            gives: Gives::Outcomes(vec![
                Outcome::Deleted { id: "3".into() },
                Outcome::Skipped {
                    reason: "record 4 does not exist (already deleted)".into(),
                },
            ]),
        },
        Scenario {
            name: "a 429 is retried and the record written once",
            rule: Some(update()),
            mode: "append",
            expect: vec![
                post("update/7", "name=B")
                    .status(429)
                    .header("retry-after", "0")
                    .times(1),
                post("update/7", "name=B")
                    .answer(r#"{"response":{"id":7}}"#)
                    .times(1),
            ],
            input: vec![json!({"id": 7, "name": "B"})],
            gives: Gives::Outcomes(vec![updated(7)]),
        },
        Scenario {
            // Before the first create, the newest records are read (`find_earlier_creates`, on
            // by default): record 12 holds every value sent, so it is taken for an earlier
            // run's create and nothing is sent. (With the setting off, the create would be sent,
            // and a 500 would leave it `unknown`: `failure_forms` covers that.)
            name: "a create equal to one of the newest records is found, not sent",
            rule: None,
            mode: "append",
            expect: vec![Expect::get("/api/v1/module/crm/account/list")
                .query(Matcher::Exact(format!(
                    "api_key={CANARY_KEY}&order_by%5Bdesc%5D%5B%5D=id&page=1&limit=500"
                )))
                .answer(page(json!([{"id": 12, "name": "A"}, {"id": 11, "name": "B"}])))
                .times(1)],
            input: vec![json!({"name": "A"})],
            gives: Gives::Outcomes(vec![created(12)]),
        },
        Scenario {
            name: "an ambiguous create with a match field is checked then sent again",
            rule: Some(upsert_by_email()),
            mode: "append",
            expect: vec![
                lookup("a@x.io").answer(page(json!([]))).times(2),
                post("create", "name=A&email=a%40x.io").status(502).times(1),
                post("create", "name=A&email=a%40x.io")
                    .answer(r#"{"response":{"id":31}}"#)
                    .times(1),
            ],
            input: vec![json!({"name": "A", "email": "a@x.io"})],
            gives: Gives::Outcomes(vec![created(31)]),
        },
        Scenario {
            name: "an ambiguous create that was applied is found, not repeated",
            rule: Some(json!({"stream": "crm_account", "mode": "create", "match_field": "email"})),
            mode: "append",
            expect: vec![
                post("create", "name=A&email=a%40x.io").status(500).times(1),
                lookup("a@x.io")
                    .answer(page(json!([{"id": 77, "email": "a@x.io"}])))
                    .times(1),
                // Before the first create, the newest records (none of them this one).
                Expect::get("/api/v1/module/crm/account/list")
                    .query(Matcher::Exact(format!(
                        "api_key={CANARY_KEY}&order_by%5Bdesc%5D%5B%5D=id&page=1&limit=500"
                    )))
                    .answer(page(json!([])))
                    .times(1),
            ],
            input: vec![json!({"name": "A", "email": "a@x.io"})],
            gives: Gives::Outcomes(vec![created(77)]),
        },
        Scenario {
            name: "null and empty values are not sent by an update",
            rule: None,
            mode: "append_dedup",
            expect: vec![post("update/7", "name=B")
                .answer(r#"{"response":{"id":7}}"#)
                .times(1)],
            input: vec![with_blanks(Some(7), "B")],
            gives: Gives::Outcomes(vec![updated(7)]),
        },
        Scenario {
            name: "null and empty values are sent empty by an update whose rule clears them",
            rule: Some(json!({"stream": "crm_account", "mode": "update", "clear_empty_fields": true})),
            mode: "append",
            expect: vec![post("update/8", "name=C&email=&description=")
                .answer(r#"{"response":{"id":8}}"#)
                .times(1)],
            input: vec![with_blanks(Some(8), "C")],
            gives: Gives::Outcomes(vec![updated(8)]),
        },
        Scenario {
            name: "null and empty values are not sent by a create",
            rule: None,
            mode: "append",
            expect: vec![post("create", "name=D&tags%5B%5D=x")
                .answer(r#"{"response":{"id":9}}"#)
                .times(1)],
            input: vec![with_blanks(None, "D")],
            gives: Gives::Outcomes(vec![created(9)]),
        },
    ]
}

/// Every scenario on a server of its own: exactly its requests (each expected one asserted,
/// nothing else asked) and exactly its outcomes. A failing row is the last `scenario:` line
/// printed.
#[tokio::test]
async fn each_scenario_sends_exactly_its_requests_and_gives_its_outcomes() {
    for scenario in scenarios() {
        eprintln!("scenario: {}", scenario.name);
        let mut server = Server::new_async().await;
        let mocks = register_all(&mut server, &scenario.expect).await;
        let other = CatchAll::register(&mut server).await;
        let outcomes = write(
            &sink(&server.url(), scenario.rule.clone()),
            &accounts(scenario.mode),
            records(&scenario.input),
        )
        .await;
        match &scenario.gives {
            Gives::Outcomes(expected) => {
                assert_eq!(&outcomes, expected, "scenario: {}", scenario.name);
            }
            Gives::FailedStartingWith(class, start) => assert!(
                matches!(&outcomes[..], [Outcome::Failed { class: c, message, .. }] if c == class && message.starts_with(start)),
                "scenario: {}: {outcomes:?}",
                scenario.name
            ),
        }
        for mock in mocks {
            mock.assert_async().await;
        }
        other.assert().await;
    }
}

#[tokio::test]
async fn the_waits_of_a_prepared_write_come_in_its_events_as_they_start_with_their_cause() {
    let mut server = Server::new_async().await;
    let path = |id: u64| format!("/api/v1/module/crm/account/delete/{id}");
    let key = Matcher::Exact(format!("api_key={CANARY_KEY}"));
    let mut mocks = Vec::new();
    for (id, status, body) in [
        (3, 502, "<html>Bad gateway</html>"),
        (3, 200, r#"{"response":{"id":3}}"#),
        (4, 429, "Too Many Requests"),
        (4, 200, r#"{"response":{"id":4}}"#),
    ] {
        let mock = server
            .mock("GET", path(id).as_str())
            .match_query(key.clone())
            .with_status(status)
            .with_header("Retry-After", "0")
            .with_body(body)
            .expect(1)
            .create_async()
            .await;
        mocks.push(mock);
    }
    let other = CatchAll::register(&mut server).await;
    let rule = json!({"stream": "crm_account", "mode": "delete"});
    let sink = sink(&server.url(), Some(rule));
    let catalog = accounts("append");
    let prepared = sink.prepare(&catalog).await.unwrap();
    let input = records(&[json!({"id": 3}), json!({"id": 4})]);
    let events: Vec<SinkEvent> = prepared
        .write(futures::stream::iter(input).boxed())
        .collect()
        .await;
    let mut outcomes: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SinkEvent::Outcome(o) => Some((o.sequence, o.outcome.clone())),
            _ => None,
        })
        .collect();
    outcomes.sort_by_key(|(sequence, _)| *sequence);
    assert_eq!(
        outcomes,
        [
            (0, Outcome::Deleted { id: "3".into() }),
            (1, Outcome::Deleted { id: "4".into() })
        ]
    );
    // Each wait comes as an event of the write's own stream, before the outcome it delays.
    let first_outcome = events
        .iter()
        .position(|e| matches!(e, SinkEvent::Outcome(_)))
        .unwrap();
    let waits: Vec<usize> = (0..events.len())
        .filter(|&i| matches!(events[i], SinkEvent::Wait(_)))
        .collect();
    assert_eq!(waits.len(), 2, "{events:?}");
    assert!(waits[0] < first_outcome, "{events:?}");
    let mut seen: Vec<SinkEvent> = events
        .iter()
        .filter_map(|event| match event.clone() {
            // The backoff carries jitter (1-5 ms here).
            SinkEvent::Wait(Wait::Retrying {
                stream,
                attempt,
                wait_ms,
                reason,
            }) => {
                assert!((1..=5).contains(&wait_ms), "{wait_ms}");
                Some(SinkEvent::Wait(Wait::Retrying {
                    stream,
                    attempt,
                    wait_ms: 0,
                    reason,
                }))
            }
            wait @ SinkEvent::Wait(Wait::RateLimited { .. }) => Some(wait),
            _ => None,
        })
        .collect();
    seen.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        seen,
        [
            // `Retry-After: 0`: no wait.
            SinkEvent::Wait(Wait::RateLimited {
                stream: Some("crm_account".into()),
                wait_ms: 0
            }),
            SinkEvent::Wait(Wait::Retrying {
                stream: "crm_account".into(),
                attempt: 1,
                wait_ms: 0,
                reason: "HTTP 502".into()
            }),
        ]
    );
    for mock in mocks {
        mock.assert_async().await;
    }
    other.assert().await;
}

/// One failure answer of an update and the outcome it must give.
struct FailureCase {
    status: usize,
    body: &'static str,
    class: FailureClass,
    code: Option<i64>,
    message: &'static str,
    fields: &'static [(&'static str, &'static str)],
}

const FAILURES: &[FailureCase] = &[
    FailureCase {
        status: 200,
        body: r#"{"error":{"error_code":21,"error_msg":"Validation error","error_details":{"name":"Name is required","email":["bad","taken"]}}}"#,
        class: FailureClass::Config,
        code: Some(21),
        message: "Validation error",
        fields: &[("email", "bad; taken"), ("name", "Name is required")],
    },
    FailureCase {
        status: 200,
        body: r#"{"error":"validation","description":"Invalid data","details":{"name":"required"}}"#,
        class: FailureClass::Config,
        code: Some(21),
        message: "Invalid data",
        fields: &[("name", "required")],
    },
    FailureCase {
        status: 200,
        body: r#"{"error":{"error_code":20,"error_msg":"Not found"}}"#,
        class: FailureClass::Config,
        code: Some(20),
        message: "Not found",
        fields: &[],
    },
    FailureCase {
        status: 200,
        body: r#"{"error":{"error_code":22,"error_msg":"Access denied"}}"#,
        class: FailureClass::Config,
        code: Some(22),
        message: "crm/account: error 22: Access denied",
        fields: &[],
    },
    FailureCase {
        status: 401,
        body: r#"{"error":{"error_code":11,"error_msg":"Bad key canary-key-7d1e5f0a9b3c"}}"#,
        class: FailureClass::Config,
        code: Some(11),
        message: "authorization failed (HTTP 401, error 11: Bad key [REDACTED])",
        fields: &[],
    },
    FailureCase {
        status: 200,
        body: r#"{"error":{"error_code":12,"error_msg":"Invalid request"}}"#,
        class: FailureClass::System,
        code: Some(12),
        message: "Invalid request",
        fields: &[],
    },
    FailureCase {
        status: 502,
        body: "bad gateway",
        class: FailureClass::Transient,
        code: None,
        message: "temporarily unavailable (HTTP 502): `bad gateway`",
        fields: &[],
    },
];

#[tokio::test]
async fn every_failure_has_its_class_code_and_fields() {
    for case in FAILURES {
        let mut server = Server::new_async().await;
        // Transient failures of an update are retried: answer every attempt the same way.
        let mock = post("update/9", "name=N")
            .status(case.status)
            .answer(case.body)
            .at_least(1)
            .register(&mut server)
            .await;
        let rule = json!({"stream": "crm_account", "mode": "update"});
        let outcomes = write(
            &sink(&server.url(), Some(rule)),
            &accounts("append"),
            records(&[json!({"id": 9, "name": "N"})]),
        )
        .await;
        let expected = Outcome::Failed {
            class: case.class,
            code: case.code,
            message: case.message.into(),
            fields: case
                .fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        assert_eq!(outcomes, [expected], "{}", case.body);
        mock.assert_async().await;
    }
}

#[tokio::test]
async fn records_that_cannot_succeed_fail_before_any_request() {
    let mut server = Server::new_async().await;
    let other = CatchAll::register(&mut server).await;
    let input = records(&[
        json!({"name": "A", "api_key": "x"}),
        json!({"name": "A", "nickname": "unknown"}),
        json!({"name": "", "active": "maybe"}),
        json!({"id": 5, "name": "has an id"}),
        json!(["not", "an", "object"]),
        json!({"name": "A", "address": {"a[b]": 1}}),
    ]);
    let outcomes = write(&sink(&server.url(), None), &accounts("append"), input).await;
    let fields = |o: &Outcome| match o {
        Outcome::Failed {
            class: FailureClass::Config,
            fields,
            message,
            ..
        } => {
            let mut keys: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            if keys.is_empty() {
                keys.push(message.clone());
            }
            keys.join(" | ")
        }
        other => panic!("expected a config failure, got {other:?}"),
    };
    let got: Vec<String> = outcomes.iter().map(fields).collect();
    assert_eq!(
        got,
        [
            "api_key: `api_key` cannot be written as a field",
            "nickname: unknown field (the stream schema has no such field)",
            "active: expected null or boolean, got a string | name: is required to create a record",
            "the record has an `id`, but this stream creates records (a create cannot choose the id); remove the id, or write the stream with upsert or update",
            "the record is not a JSON object",
            "address: nested key `a[b]` is not a plain name (only letters, digits and _ are allowed)",
        ]
    );
    other.assert().await;
}

#[tokio::test]
async fn write_command_echoes_states_after_their_records_and_rejects_to_a_file() {
    let mut server = Server::new_async().await;
    // Eight creates in flight at once: record i gets id 100 + i.
    let mut mocks = Vec::new();
    for i in 0..8u64 {
        let mock = post("create", &format!("name=R{i}"))
            .answer(json!({"response": {"id": 100 + i}}).to_string())
            .times(1)
            .register(&mut server)
            .await;
        mocks.push(mock);
    }
    let invalid = post("create", "name=Bad")
        .answer(r#"{"error":{"error_code":21,"error_msg":"Validation error","error_details":{"name":"too short"}}}"#)
        .times(1)
        .register(&mut server)
        .await;
    let earlier = newest(&mut server)
        .with_body(page(json!([])))
        .expect(1)
        .create_async()
        .await;
    let other = CatchAll::register(&mut server).await;

    let mut stdin = String::new();
    for i in 0..4 {
        stdin.push_str(&record_line("crm_account", json!({"name": format!("R{i}")})));
    }
    stdin.push_str(&state_line("crm_account", json!({"n": 1})));
    stdin.push_str(&record_line("crm_account", json!({"name": "Bad"})));
    stdin.push_str("{this is not json\n");
    stdin.push_str(&message_line(
        &json!({"type": "LOG", "log": {"level": "INFO", "message": "ignored"}}),
    ));
    for i in 4..8 {
        stdin.push_str(&record_line("crm_account", json!({"name": format!("R{i}")})));
    }
    stdin.push_str(&state_line("crm_account", json!({"n": 2})));
    stdin.push_str(&record_line(
        "crm_account",
        json!({"name": "leaks?", "api_key": CANARY_KEY}),
    ));
    stdin.push_str(&state_line("crm_account", json!({"n": 3})));

    let mut config = config(None);
    config["advanced"] = json!({"max_concurrency": 8});
    let config = temp_json(&config);
    let catalog = temp_json(&serde_json::to_value(accounts("append")).unwrap());
    let rejects = tempfile::NamedTempFile::new().unwrap();
    let args = [
        "write",
        "--config",
        config.path().to_str().unwrap(),
        "--catalog",
        catalog.path().to_str().unwrap(),
        "--reject-file",
        rejects.path().to_str().unwrap(),
    ];
    let run = run_cli(&args, Some(&server.url()), &stdin).await;
    assert!(!run.stdout.contains(CANARY_KEY), "{}", run.stdout);
    let reject_text = std::fs::read_to_string(rejects.path()).unwrap();
    assert!(!reject_text.contains(CANARY_KEY), "{reject_text}");
    assert_eq!(run.code, 1, "{}", run.stdout);

    let kinds: Vec<String> = run
        .messages
        .iter()
        .map(|m| match m["type"].as_str().unwrap_or_default() {
            "STATE" => format!("STATE {}", m["state"]["stream"]["stream_state"]["n"]),
            other => other.to_string(),
        })
        .collect();
    let states: Vec<&String> = kinds.iter().filter(|k| k.starts_with("STATE")).collect();
    assert_eq!(states, ["STATE 1", "STATE 2", "STATE 3"], "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("TRACE"), "{kinds:?}");
    let trace = &run.messages[run.messages.len() - 1]["trace"]["error"];
    assert_eq!(
        trace["message"],
        "1 input line(s) could not be read (line 7) and were skipped; every other line was read: 10 record(s), created 8, updated 0, unchanged 0, deleted 0, skipped 0, failed 2, unknown 0."
    );
    assert_eq!(trace["failure_type"], "system_error");
    let logs: Vec<&str> = run
        .messages
        .iter()
        .filter_map(|m| m["log"]["message"].as_str())
        .collect();
    assert!(
        logs.iter()
            .any(|l| l.starts_with("input line 7 skipped: invalid message on line 7")),
        "{logs:?}"
    );
    assert!(
        logs.contains(
            &"write summary: crm_account: created 8, updated 0, unchanged 0, deleted 0, skipped 0, failed 2, unknown 0"
        ),
        "{logs:?}"
    );

    let lines: Vec<Value> = reject_text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut by_kind: Vec<(String, Value)> = lines
        .iter()
        .map(|l| (l["outcome"].as_str().unwrap_or_default().to_string(), l.clone()))
        .collect();
    by_kind.sort_by_key(|(_, l)| l["sequence"].as_u64().unwrap_or(u64::MAX));
    assert_eq!(by_kind.len(), 3, "{reject_text}");
    assert_eq!(
        by_kind[0].1,
        json!({"stream": "crm_account", "sequence": 4, "outcome": "failed", "class": "config", "code": 21,
            "message": "Validation error", "fields": {"name": "too short"}, "record": {"name": "Bad"}})
    );
    assert_eq!(by_kind[1].1["sequence"], 9);
    assert_eq!(by_kind[1].1["record"]["api_key"], "[REDACTED]");
    assert_eq!(by_kind[2].1["outcome"], "unreadable");
    assert_eq!(by_kind[2].1["line"], 7);
    for mock in mocks {
        mock.assert_async().await;
    }
    invalid.assert_async().await;
    earlier.assert_async().await;
    other.assert().await;
}

#[tokio::test]
async fn write_command_refuses_a_catalog_it_cannot_write() {
    let server = Server::new_async().await;
    let config = temp_json(&config(None));
    let catalog = temp_json(&serde_json::to_value(accounts("overwrite")).unwrap());
    let args = [
        "write",
        "--config",
        config.path().to_str().unwrap(),
        "--catalog",
        catalog.path().to_str().unwrap(),
    ];
    let run = run_cli(
        &args,
        Some(&server.url()),
        &record_line("crm_account", json!({"name": "A"})),
    )
    .await;
    assert_eq!(run.code, 1);
    assert_eq!(run.messages.len(), 1, "{}", run.stdout);
    let error = &run.messages[0]["trace"]["error"];
    assert_eq!(error["failure_type"], "config_error");
    assert!(
        error["message"].as_str().unwrap().starts_with(
            "The catalog cannot be written: invalid `catalog stream crm_account`: overwrite is not supported"
        ),
        "{error}"
    );
    let missing = run_cli(
        &[
            "write",
            "--config",
            config.path().to_str().unwrap(),
            "--catalog",
            "/nonexistent/catalog.json",
        ],
        Some(&server.url()),
        "",
    )
    .await;
    assert_eq!(
        (
            missing.code,
            missing.messages[0]["trace"]["error"]["failure_type"].as_str()
        ),
        (1, Some("config_error"))
    );
}

#[tokio::test]
async fn after_a_rejected_key_the_other_records_fail_without_requests() {
    let mut server = Server::new_async().await;
    // The first request, the read of the newest records before the first create, meets the
    // refusal: no other request follows (the other records wait for that read).
    let earlier = newest(&mut server)
        .with_status(401)
        .expect(1)
        .create_async()
        .await;
    let catch_all = CatchAll::register(&mut server).await;
    let data: Vec<Value> = (0..40).map(|n| json!({"name": format!("Account {n}")})).collect();
    let outcomes = write(&sink(&server.url(), None), &accounts("append"), records(&data)).await;
    assert_eq!(outcomes.len(), 40, "one outcome per record");
    let not_sent = "an earlier request of this write failed with `authorization failed (HTTP 401)`, which no record can get past; fix the credential or the key's permissions (Flowlu: Portal Settings -> API Settings) and write the rejected records again";
    let mut sent = 0;
    for outcome in &outcomes {
        match outcome {
            Outcome::NotSent { reason } if reason == not_sent => {}
            Outcome::Failed {
                class: FailureClass::Config,
                message,
                ..
            } if message == "authorization failed (HTTP 401)" => sent += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(sent, 1, "the record whose read met the refusal");
    earlier.assert_async().await;
    catch_all.assert().await;
}

#[tokio::test]
async fn prepare_refuses_a_catalog_it_cannot_write_once_and_write_fails_each_record_with_it() {
    let mut server = Server::new_async().await;
    let catch_all = CatchAll::register(&mut server).await;
    let sink = sink(&server.url(), None);
    let overwrite = accounts("overwrite");
    let message = "invalid `catalog stream crm_account`: overwrite is not supported: the destination never deletes records it was not given; use append or append_dedup, or a write rule";
    let Err(failure) = sink.prepare(&overwrite).await else {
        panic!("an overwrite catalog was prepared");
    };
    assert_eq!(
        (failure.class, failure.message.as_str(), failure.internal.as_str()),
        (FailureClass::Config, message, message)
    );
    // The one-call write: one LOG, then every record failed with it and the checkpoint after them.
    let mut input = records(&[json!({"name": "A"}), json!({"name": "B"})]);
    input.push(SinkInput::Checkpoint(json!({"type": "STREAM"})));
    let events: Vec<SinkEvent> = sink
        .write(&overwrite, futures::stream::iter(input).boxed())
        .collect()
        .await;
    let failed = |sequence: u64, name: &str| {
        SinkEvent::Outcome(connector_core::RecordOutcome {
            stream: "crm_account".into(),
            sequence,
            outcome: Outcome::Failed {
                class: FailureClass::Config,
                code: None,
                message: message.into(),
                fields: Default::default(),
            },
            record: Some(json!({"name": name})),
        })
    };
    assert_eq!(
        events,
        [
            SinkEvent::Log {
                level: connector_core::LogLevel::Error,
                message: format!("nothing is written: {message}"),
            },
            failed(0, "A"),
            failed(1, "B"),
            SinkEvent::CheckpointAck(json!({"type": "STREAM"})),
        ]
    );
    catch_all.assert().await;
}

#[tokio::test]
async fn a_prepared_write_gives_rejected_records_back_with_their_outcome_and_nothing_else() {
    let mut server = Server::new_async().await;
    let created = server
        .mock("POST", "/api/v1/module/crm/account/create")
        .match_query(key_query(&[]))
        .with_body(r#"{"response": {"id": 7}}"#)
        .expect(1)
        .create_async()
        .await;
    let earlier = newest(&mut server)
        .with_body(page(json!([])))
        .expect(1)
        .create_async()
        .await;
    let catch_all = CatchAll::register(&mut server).await;
    let sink = sink(&server.url(), None);
    let append = accounts("append");
    let write = sink.prepare(&append).await.unwrap();
    let input = records(&[json!({"name": "A"}), json!({"id": 5, "name": "B"}), json!([1])]);
    let mut outcomes: Vec<connector_core::RecordOutcome> = write
        .write(futures::stream::iter(input).boxed())
        .filter_map(|e| async move {
            match e {
                SinkEvent::Outcome(o) => Some(o),
                _ => None,
            }
        })
        .collect()
        .await;
    outcomes.sort_by_key(|o| o.sequence);
    let kinds: Vec<(&str, Option<Value>)> = outcomes
        .iter()
        .map(|o| (o.outcome.kind(), o.record.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("created", None),
            ("failed", Some(json!({"id": 5, "name": "B"}))),
            ("failed", Some(json!([1]))),
        ]
    );
    assert_eq!(write.stopped(), []);
    created.assert_async().await;
    earlier.assert_async().await;
    catch_all.assert().await;
}
