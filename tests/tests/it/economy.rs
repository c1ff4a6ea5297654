//! Request economy of writes, with exact outcomes and exact request counts: the planner's
//! choice (an index of the model or a lookup per record), unchanged records sent never,
//! Flowlu's value forms, a stale index (records deleted or created by others meanwhile) and
//! ambiguous creates settled among the newest records.

use connector_core::{
    ConfiguredCatalog, Credential, Outcome, Sink, SinkEvent, SinkInput, Source, SourceEvent, SourceState,
};
use connector_flowlu::FlowluSink;
use connector_flowlu::FlowluSource;
use connector_flowlu::{Client, FlowluCredential};
use flowlu_emulator::{Emulator, Quirks};
use futures::StreamExt;
use integration_tests::catalog::Stream;
use integration_tests::flowlu::account_input;
use integration_tests::stand_in::{accounts_portal, accounts_with_email, requests_by_path};
use integration_tests::write::next_outcomes;
use integration_tests::{config_json, fast_limiter, CatchAll, CANARY_KEY};
use mockito::{Matcher, Server};
use serde_json::{json, Value};

const LIST: &str = "/api/v1/module/crm/account/list";
const CREATE: &str = "/api/v1/module/crm/account/create";

fn credential(emu: &Emulator) -> FlowluCredential {
    let config = json!({"name": "economy", "account_domain": "acme", "api_key": emu.api_key(),
        "advanced": {"write_rules": [{"stream": "crm_account", "mode": "upsert", "match_field": "email"}]}});
    FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url())
}

/// An upsert-by-email sink on the stand-in whose retries do not wait.
fn sink(emu: &Emulator) -> FlowluSink {
    FlowluSink::from_credential(&credential(emu))
        .unwrap()
        .with_limiter(fast_limiter(4, 3))
}

fn client(emu: &Emulator) -> Client {
    credential(emu).client().unwrap()
}

fn outcomes_of(events: Vec<SinkEvent>) -> Vec<Outcome> {
    integration_tests::write::outcomes(events)
        .into_iter()
        .map(|(_, o)| o)
        .collect()
}

async fn write(sink: &FlowluSink, input: Vec<SinkInput>) -> Vec<Outcome> {
    let catalog = Stream::new("crm_account").configured();
    let events = sink
        .write(&catalog, futures::stream::iter(input).boxed())
        .collect()
        .await;
    outcomes_of(events)
}

fn unchanged(id: u64) -> Outcome {
    Outcome::Unchanged { id: id.to_string() }
}

fn updated(id: u64) -> Outcome {
    Outcome::Updated { id: id.to_string() }
}

fn created(id: u64) -> Outcome {
    Outcome::Created { id: id.to_string() }
}

fn paths(expected: &[(&str, u64)]) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = expected.iter().map(|(p, n)| (p.to_string(), *n)).collect();
    v.sort();
    v
}

fn update_path(id: u64) -> String {
    format!("/api/v1/module/crm/account/update/{id}")
}

#[tokio::test]
async fn a_write_that_covers_the_model_reads_an_index_and_sends_only_changes() {
    // 150 accounts: the index costs 2 pages; 150 records pass that, so the index is read.
    let emu = accounts_portal(150).await;
    let all = accounts_with_email(&emu);
    let input = all
        .iter()
        .enumerate()
        .map(|(i, (_, name, email))| {
            let name = if i % 50 == 7 {
                format!("{name} (renamed)")
            } else {
                name.clone()
            };
            account_input(json!({"name": name, "email": email}))
        })
        .collect();
    let outcomes = write(&sink(&emu), input).await;
    let expected: Vec<Outcome> = all
        .iter()
        .enumerate()
        .map(|(i, (id, _, _))| if i % 50 == 7 { updated(*id) } else { unchanged(*id) })
        .collect();
    assert_eq!(outcomes, expected);
    let changed: Vec<u64> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 50 == 7)
        .map(|(_, a)| a.0)
        .collect();
    assert_eq!(changed.len(), 3);
    // One size probe, two index pages, three updates: nothing else.
    let mut expected_paths = vec![(LIST.to_string(), 3)];
    expected_paths.extend(changed.iter().map(|id| (update_path(*id), 1)));
    expected_paths.sort();
    assert_eq!(requests_by_path(&emu.stats()), expected_paths);
    let renamed = emu.records("crm", "account");
    assert!(renamed.iter().any(|r| r["id"].as_u64() == Some(changed[0])
        && r["name"].as_str().is_some_and(|n| n.ends_with("(renamed)"))));
}

#[tokio::test]
async fn whole_records_read_and_written_back_are_unchanged() {
    // Records as the source reads them send every field of the model (73 on the stand-in's
    // accounts, custom ones included): each is compared, so nothing is sent.
    let emu = accounts_portal(150).await;
    let source = FlowluSource::from_credential(&credential(&emu)).unwrap();
    let read_catalog: ConfiguredCatalog = serde_json::from_value(json!({"streams": [{
        "stream": {"name": "crm_account", "json_schema": {}}, "sync_mode": "full_refresh"
    }]}))
    .unwrap();
    let read: Vec<Value> = source
        .read_parsed(&read_catalog, &SourceState::default())
        .filter_map(|e| async move {
            match e {
                SourceEvent::Record(r) => Some(r.data),
                _ => None,
            }
        })
        .collect()
        .await;
    let with_email: Vec<Value> = read
        .into_iter()
        .filter(|r| r["email"].as_str().is_some_and(|e| !e.is_empty()))
        .collect();
    let fields = with_email
        .iter()
        .flat_map(|r| r.as_object().unwrap().keys())
        .collect::<std::collections::BTreeSet<_>>();
    assert!(fields.len() > 64, "{} fields", fields.len());
    let ids: Vec<u64> = with_email.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    emu.reset_stats();
    let outcomes = write(&sink(&emu), with_email.into_iter().map(account_input).collect()).await;
    assert_eq!(outcomes, ids.into_iter().map(unchanged).collect::<Vec<_>>());
    // The probe and two index pages.
    assert_eq!(requests_by_path(&emu.stats()), paths(&[(LIST, 3)]));
}

#[tokio::test]
async fn a_few_records_into_a_large_model_are_looked_up_and_unchanged_ones_not_sent() {
    // 1,000 accounts: fewer records than a page holds are looked up without a size probe.
    let emu = accounts_portal(1000).await;
    let all = accounts_with_email(&emu);
    let (a, b) = (&all[0], &all[1]);
    let input = vec![
        account_input(json!({"name": a.1, "email": a.2})),
        account_input(json!({"name": "Renamed", "email": b.2})),
        account_input(json!({"name": "Newcomer", "email": "new@example.org"})),
    ];
    let outcomes = write(&sink(&emu), input).await;
    assert_eq!(outcomes, [unchanged(a.0), updated(b.0), created(1001)]);
    // Three lookups, one update, one create: nothing else.
    assert_eq!(
        requests_by_path(&emu.stats()),
        paths(&[(LIST, 3), (&update_path(b.0), 1), (CREATE, 1)])
    );
}

#[tokio::test]
async fn text_with_other_spacing_is_a_change_on_the_stand_in() {
    // Text is compared exactly: the stand-in keeps the spaces sent, so a name with spaces
    // around it is not the name it holds. (The match value is trimmed to look the record up.)
    let emu = accounts_portal(20).await;
    let (id, name, email) = accounts_with_email(&emu)[0].clone();
    let spaced = format!("  {name}  ");
    let input = vec![account_input(json!({"email": email, "name": spaced}))];
    assert_eq!(write(&sink(&emu), input).await, [updated(id)]);
    // One lookup (a single record is never worth a probe), one update.
    assert_eq!(
        requests_by_path(&emu.stats()),
        paths(&[(LIST, 1), (&update_path(id), 1)])
    );
    let held = emu.records("crm", "account");
    assert_eq!(held[0]["name"], json!(spaced));
    // Written again: now the same text, unchanged.
    emu.reset_stats();
    let input = vec![account_input(json!({"email": email, "name": spaced}))];
    assert_eq!(write(&sink(&emu), input).await, [unchanged(id)]);
    assert_eq!(requests_by_path(&emu.stats()), paths(&[(LIST, 1)]));
}

#[tokio::test]
async fn values_in_other_forms_are_the_same_values() {
    // Numbers as strings in a number field, 0/1 for booleans, a zero date for null: the
    // portal's record already holds what is sent, so only the lookup is made.
    let mut server = Server::new_async().await;
    let lookup = server
        .mock("GET", LIST)
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("api_key".into(), CANARY_KEY.into()),
            Matcher::UrlEncoded("filter[email]".into(), "a@x.io".into()),
            Matcher::UrlEncoded("page".into(), "1".into()),
            Matcher::UrlEncoded("limit".into(), "2".into()),
        ]))
        .with_body(list_body(
            json!([{"id": 5, "email": "a@x.io", "name": "Acme", "organization_revenue": "12.50",
            "active": 1, "vip": 0, "owner_id": 7, "closing_date": "0000-00-00", "start_date": "",
            "updated": "0000-00-00 00:00:00"}]),
        ))
        .expect(1)
        .create_async()
        .await;
    let other = CatchAll::register(&mut server).await;
    let credential = FlowluCredential::from_config(&json!({"name": "t", "account_domain": "acme",
        "api_key": CANARY_KEY, "advanced": {"write_rules": [
            {"stream": "crm_account", "mode": "upsert", "match_field": "email"}]}}))
    .unwrap()
    .with_base_url(server.url());
    let sink = FlowluSink::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(4, 3));
    let input = vec![account_input(
        json!({"email": "a@x.io", "name": "Acme", "organization_revenue": 12.5,
        "active": true, "vip": false, "owner_id": "7", "closing_date": null, "start_date": "0000-00-00",
        "updated": ""}),
    )];
    assert_eq!(write(&sink, input).await, [unchanged(5)]);
    lookup.assert_async().await;
    other.assert().await;
}

/// Starts a write fed through a channel; returns the sender and the event stream.
fn open_write<'a>(
    sink: &'a FlowluSink,
    catalog: &'a ConfiguredCatalog,
) -> (
    futures::channel::mpsc::UnboundedSender<SinkInput>,
    futures::stream::BoxStream<'a, SinkEvent>,
) {
    let (tx, rx) = futures::channel::mpsc::unbounded();
    (tx, sink.write(catalog, rx.boxed()))
}

/// Writes every account of `emu` unchanged through a channel-fed write and waits for their
/// outcomes: the write has read its index (a probe and the pages). Returns the accounts.
async fn indexed(
    emu: &Emulator,
    tx: &futures::channel::mpsc::UnboundedSender<SinkInput>,
    events: &mut futures::stream::BoxStream<'_, SinkEvent>,
) -> Vec<(u64, String, String)> {
    let all = accounts_with_email(emu);
    for (_, name, email) in &all {
        tx.unbounded_send(account_input(json!({"name": name, "email": email})))
            .unwrap();
    }
    let first = next_outcomes(events, all.len()).await;
    let expected: Vec<(u64, Outcome)> = (0u64..).zip(all.iter().map(|a| unchanged(a.0))).collect();
    assert_eq!(first, expected);
    all
}

fn with_email(emu: &Emulator, email: &str) -> Vec<(u64, String)> {
    emu.records("crm", "account")
        .into_iter()
        .filter(|r| r["email"] == json!(email))
        .map(|r| (r["id"].as_u64().unwrap(), r["name"].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test]
async fn a_stale_index_loses_no_record_deleted_and_duplicates_none_created_meanwhile() {
    // The index's maximum age (10 minutes) is far off: what keeps it current is the read
    // before a create of what was created since.
    let emu = accounts_portal(150).await;
    let sink = sink(&emu);
    let catalog = Stream::new("crm_account").configured();
    let (tx, mut events) = open_write(&sink, &catalog);
    let all = indexed(&emu, &tx, &mut events).await;
    let n = all.len() as u64;
    // One size probe and two index pages.
    assert_eq!(requests_by_path(&emu.stats()), paths(&[(LIST, 3)]));

    // Meanwhile, in the CRM: one indexed account is deleted, another is created.
    let crm = client(&emu);
    let gone = &all[3];
    crm.delete("crm", "account", gone.0).await.unwrap();
    let theirs = crm
        .create(
            "crm",
            "account",
            &[
                ("name".into(), "Theirs".into()),
                ("email".into(), "theirs@example.org".into()),
            ],
        )
        .await
        .unwrap();
    let theirs_id = theirs["id"].as_u64().unwrap();
    assert_eq!(theirs_id, 151);
    emu.reset_stats();

    tx.unbounded_send(account_input(json!({"name": "Back again", "email": gone.2})))
        .unwrap();
    let recreated = next_outcomes(&mut events, 1).await;
    tx.unbounded_send(account_input(
        json!({"name": "Ours", "email": "theirs@example.org"}),
    ))
    .unwrap();
    drop(tx);
    let matched = next_outcomes(&mut events, 1).await;
    assert!(events.next().await.is_none());
    // The deleted record: its update answers "not found", a fresh lookup finds nothing, it is
    // created again (id 152).
    assert_eq!(recreated, vec![(n, created(152))]);
    // The record created meanwhile: before the create, the records above the last id read
    // are read (151 theirs, 152 ours), and it is updated, not duplicated. The lookup of the
    // deleted record's e-mail, then that read by id and the read of what others edited.
    assert_eq!(matched, vec![(n + 1, updated(theirs_id))]);
    assert_eq!(
        requests_by_path(&emu.stats()),
        paths(&[
            (LIST, 3),
            (&update_path(gone.0), 1),
            (CREATE, 1),
            (&update_path(theirs_id), 1)
        ])
    );
    assert_eq!(with_email(&emu, &gone.2), [(152, "Back again".to_string())]);
    assert_eq!(
        with_email(&emu, "theirs@example.org"),
        [(theirs_id, "Ours".to_string())]
    );
}

#[tokio::test]
async fn a_record_others_edit_to_take_a_match_value_is_updated_not_duplicated() {
    // After the index is read, another user changes one account's e-mail to the one the next
    // record sends, and another's to another: before the create, the read of what others
    // edited (updated since the newest updated time read, ids up to the first read's newest) finds
    // both. The record updates the first; a record sending the second's old e-mail is
    // created, not written onto it.
    let emu = accounts_portal(150).await;
    let sink = sink(&emu);
    let catalog = Stream::new("crm_account").configured();
    let (tx, mut events) = open_write(&sink, &catalog);
    let all = indexed(&emu, &tx, &mut events).await;
    let n = all.len() as u64;
    let (seven, nine) = (&all[6], &all[8]);
    let crm = client(&emu);
    for (id, email) in [(seven.0, "moved@example.org"), (nine.0, "elsewhere@example.org")] {
        crm.update("crm", "account", id, &[("email".into(), email.into())])
            .await
            .unwrap();
    }
    emu.reset_stats();
    tx.unbounded_send(account_input(
        json!({"name": "Moved", "email": "moved@example.org"}),
    ))
    .unwrap();
    tx.unbounded_send(account_input(json!({"name": "Left behind", "email": nine.2})))
        .unwrap();
    drop(tx);
    let outcomes = next_outcomes(&mut events, 2).await;
    assert!(events.next().await.is_none());
    assert_eq!(outcomes, vec![(n, updated(seven.0)), (n + 1, created(151))]);
    // The read by id (nothing new) and the read of the edits; the update; the create (read
    // before it: the index is fresh for the second record).
    assert_eq!(
        requests_by_path(&emu.stats()),
        paths(&[(LIST, 2), (&update_path(seven.0), 1), (CREATE, 1)])
    );
    assert_eq!(
        with_email(&emu, "moved@example.org"),
        [(seven.0, "Moved".to_string())]
    );
    assert_eq!(with_email(&emu, &nine.2), [(151, "Left behind".to_string())]);
    assert_eq!(
        with_email(&emu, "elsewhere@example.org"),
        [(nine.0, nine.1.clone())]
    );
}

#[tokio::test]
async fn a_portal_that_filters_by_id_only_still_takes_creates_through_the_index() {
    // After the index is read, the portal answers error 12 to a filter on any field but id.
    // Before the first create, the read by id works, the read of what others edited is
    // refused (edits are given up: creates are to be looked up), and the lookup by e-mail is
    // refused too (lookups are given up): the creates follow the index, as they did before
    // edits were read. Nothing fails, and no filter is tried again.
    let emu = accounts_portal(150).await;
    let sink = sink(&emu);
    let catalog = Stream::new("crm_account").configured();
    let (tx, mut events) = open_write(&sink, &catalog);
    let all = indexed(&emu, &tx, &mut events).await;
    let n = all.len() as u64;
    emu.set_quirks(Quirks {
        refuse_filters_but_id: Some(12),
        ..Quirks::default()
    });
    emu.reset_stats();
    let fresh: Vec<String> = (0..3).map(|i| format!("only.{i}@example.org")).collect();
    for (i, email) in fresh.iter().enumerate() {
        tx.unbounded_send(account_input(
            json!({"name": format!("Only {i}"), "email": email}),
        ))
        .unwrap();
    }
    drop(tx);
    let outcomes = next_outcomes(&mut events, 3).await;
    assert!(events.next().await.is_none());
    assert_eq!(
        outcomes,
        vec![(n, created(151)), (n + 1, created(152)), (n + 2, created(153))]
    );
    // The read by id, the refused read of edits, the refused lookup; the three creates.
    let stats = emu.stats();
    assert_eq!(requests_by_path(&stats), paths(&[(LIST, 3), (CREATE, 3)]));
    for email in &fresh {
        assert_eq!(with_email(&emu, email).len(), 1, "{email}");
    }
}

#[tokio::test]
async fn one_read_of_what_others_created_serves_a_batch_of_creates() {
    // After the index is read, another user creates twin@example.org. Then 40 new records and
    // the twin arrive together: one read of the records above the index finds the twin, which
    // is updated; the 40 others are created; nothing is read again between the creates.
    let emu = accounts_portal(150).await;
    let sink = sink(&emu);
    let catalog = Stream::new("crm_account").configured();
    let (tx, mut events) = open_write(&sink, &catalog);
    let all = indexed(&emu, &tx, &mut events).await;
    let n = all.len() as u64;
    let theirs = client(&emu)
        .create(
            "crm",
            "account",
            &[
                ("name".into(), "Theirs".into()),
                ("email".into(), "twin@example.org".into()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(theirs["id"].as_u64(), Some(151));
    emu.reset_stats();
    let fresh: Vec<String> = (0..40).map(|i| format!("new.{i}@example.org")).collect();
    for (i, email) in fresh.iter().enumerate() {
        tx.unbounded_send(account_input(json!({"name": format!("New {i}"), "email": email})))
            .unwrap();
        if i == 20 {
            tx.unbounded_send(account_input(
                json!({"name": "Ours", "email": "twin@example.org"}),
            ))
            .unwrap();
        }
    }
    drop(tx);
    let outcomes = next_outcomes(&mut events, 41).await;
    assert!(events.next().await.is_none());
    assert_eq!(outcomes[21], (n + 21, updated(151)));
    let mut ids: Vec<u64> = outcomes
        .iter()
        .filter(|(s, _)| *s != n + 21)
        .map(|(_, o)| match o {
            Outcome::Created { id } => id.parse().unwrap(),
            other => panic!("expected a create, got {other:?}"),
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (152..192).collect::<Vec<u64>>());
    // One read by id above the index (the twin) and one of what others edited (nothing).
    assert_eq!(
        requests_by_path(&emu.stats()),
        paths(&[(LIST, 2), (CREATE, 40), (&update_path(151), 1)])
    );
    assert_eq!(with_email(&emu, "twin@example.org"), [(151, "Ours".to_string())]);
    for (i, email) in fresh.iter().enumerate() {
        assert_eq!(with_email(&emu, email).len(), 1, "{email} (record {i})");
    }
}

#[tokio::test]
async fn a_checkpoint_before_the_index_pays_off_releases_held_records_as_lookups() {
    // 1,000 accounts (index: 10 pages). 4 records, a checkpoint, then 100 more: the first 4
    // are looked up at the checkpoint, without a probe; at the 101st record of the stream the
    // probe says the index costs 10 pages, so it and the rest go through the index.
    let emu = accounts_portal(1000).await;
    let all = accounts_with_email(&emu);
    let mut input: Vec<SinkInput> = all[..4]
        .iter()
        .map(|(_, n, e)| account_input(json!({"name": n, "email": e})))
        .collect();
    input.push(SinkInput::Checkpoint(json!({"n": 1})));
    input.extend(
        all[4..104]
            .iter()
            .map(|(_, n, e)| account_input(json!({"name": n, "email": e}))),
    );
    let outcomes = write(&sink(&emu), input).await;
    let expected: Vec<Outcome> = all[..104].iter().map(|a| unchanged(a.0)).collect();
    assert_eq!(outcomes, expected);
    // 4 lookups (released by the checkpoint), 1 probe, 10 index pages.
    assert_eq!(requests_by_path(&emu.stats()), paths(&[(LIST, 4 + 1 + 10)]));
}

#[tokio::test]
async fn a_probe_page_that_holds_the_whole_model_is_the_index() {
    // 60 accounts: the probe's page holds every one with an e-mail, with a `total` no larger;
    // nothing more is read, and 101 upserts (those accounts, one renamed, and new ones) cost
    // the probe and the writes.
    let emu = accounts_portal(60).await;
    let all = accounts_with_email(&emu);
    let mut input: Vec<SinkInput> = all
        .iter()
        .enumerate()
        .map(|(i, (_, n, e))| {
            let name = if i == 5 {
                format!("{n} (renamed)")
            } else {
                n.clone()
            };
            account_input(json!({"name": name, "email": e}))
        })
        .collect();
    let new = 101 - all.len();
    input.extend((0..new).map(|i| {
        account_input(json!({"name": format!("New {i}"), "email": format!("new.{i}@example.org")}))
    }));
    let outcomes = write(&sink(&emu), input).await;
    let mut expected_paths = vec![(LIST.to_string(), 1), (CREATE.to_string(), new as u64)];
    expected_paths.push((update_path(all[5].0), 1));
    expected_paths.sort();
    for (i, (id, _, _)) in all.iter().enumerate() {
        let want = if i == 5 { updated(*id) } else { unchanged(*id) };
        assert_eq!(outcomes[i], want, "record {i}");
    }
    let mut ids: Vec<u64> = outcomes[all.len()..]
        .iter()
        .map(|o| match o {
            Outcome::Created { id } => id.parse().unwrap(),
            other => panic!("expected a create, got {other:?}"),
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (61..61 + new as u64).collect::<Vec<u64>>());
    assert_eq!(requests_by_path(&emu.stats()), expected_paths);
}

/// A create-only sink on mockito whose retries do not wait.
fn mock_sink(url: &str) -> FlowluSink {
    let credential = FlowluCredential::from_config(&config_json("acme"))
        .unwrap()
        .with_base_url(url);
    FlowluSink::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(4, 3))
}

fn create_mock(server: &mut mockito::ServerGuard) -> mockito::Mock {
    server
        .mock("POST", "/api/v1/module/crm/account/create")
        .match_query(Matcher::Exact(format!("api_key={CANARY_KEY}")))
        .match_body(Matcher::Exact("name=A&email=a%40x.io".into()))
}

/// The newest records above id 40: `order_by[desc][]=id&page=1&limit=500&filter[id]=...`.
fn newest_mock(server: &mut mockito::ServerGuard) -> mockito::Mock {
    server.mock("GET", LIST).match_query(Matcher::AllOf(vec![
        Matcher::UrlEncoded("api_key".into(), CANARY_KEY.into()),
        Matcher::UrlEncoded("order_by[desc][]".into(), "id".into()),
        Matcher::UrlEncoded("page".into(), "1".into()),
        Matcher::UrlEncoded("limit".into(), "500".into()),
        Matcher::UrlEncoded("filter[id]".into(), r#"{"type":"more","value":40}"#.into()),
    ]))
}

fn list_body(items: Value) -> String {
    json!({"response": {"total": items.as_array().map_or(0, Vec::len), "page": 1, "items": items}})
        .to_string()
}

/// Two identical records (they take turns): the first is created as id 40, the second's
/// create answers 502, and what follows depends on the newest records.
async fn twin_creates(newest: Option<Value>, then: Option<u64>) -> (Vec<Outcome>, Mocks) {
    let mut server = Server::new_async().await;
    let mut mocks = vec![
        create_mock(&mut server)
            .with_body(r#"{"response":{"id":40}}"#)
            .expect(1)
            .create_async()
            .await,
        create_mock(&mut server)
            .with_status(502)
            .expect(1)
            .create_async()
            .await,
    ];
    // Before the first create, the newest records (none yet): an earlier run's creates are
    // looked for once.
    mocks.push(
        server
            .mock("GET", LIST)
            .match_query(Matcher::Exact(format!(
                "api_key={CANARY_KEY}&order_by%5Bdesc%5D%5B%5D=id&page=1&limit=500"
            )))
            .with_body(list_body(json!([])))
            .expect(1)
            .create_async()
            .await,
    );
    let listed = match &newest {
        Some(items) => newest_mock(&mut server)
            .with_body(list_body(items.clone()))
            .expect(1),
        // The portal cannot answer: the list is tried 4 times (3 retries).
        None => newest_mock(&mut server).with_status(500).expect(4),
    };
    mocks.push(listed.create_async().await);
    if let Some(id) = then {
        mocks.push(
            create_mock(&mut server)
                .with_body(json!({"response": {"id": id}}).to_string())
                .expect(1)
                .create_async()
                .await,
        );
    }
    let other = CatchAll::register(&mut server).await;
    let input: Vec<SinkInput> = (0..2)
        .map(|_| account_input(json!({"name": "A", "email": "a@x.io"})))
        .collect();
    let catalog = Stream::new("crm_account").configured();
    let events = mock_sink(&server.url())
        .write(&catalog, futures::stream::iter(input).boxed())
        .collect()
        .await;
    let outcomes = outcomes_of(events);
    (outcomes, Mocks(server, mocks, other))
}

/// The server and its mocks, kept alive until checked.
struct Mocks(
    #[allow(dead_code)] mockito::ServerGuard,
    Vec<mockito::Mock>,
    CatchAll,
);

async fn check(mocks: Mocks) {
    for mock in &mocks.1 {
        mock.assert_async().await;
    }
    mocks.2.assert().await;
}

#[tokio::test]
async fn an_ambiguous_create_found_among_the_newest_records_is_created() {
    // Id 41 holds the values sent and is above 40, the newest id known before the create.
    let newest =
        json!([{"id": 42, "name": "B", "email": "b@x.io"}, {"id": 41, "name": "A", "email": "a@x.io"}]);
    let (outcomes, mocks) = twin_creates(Some(newest), None).await;
    assert_eq!(outcomes, [created(40), created(41)]);
    check(mocks).await;
}

#[tokio::test]
async fn an_ambiguous_create_surely_absent_is_sent_again() {
    // Only a record of someone else's above 40, on a short page: the create is not there.
    let newest = json!([{"id": 41, "name": "B", "email": "b@x.io"}]);
    let (outcomes, mocks) = twin_creates(Some(newest), Some(43)).await;
    assert_eq!(outcomes, [created(40), created(43)]);
    check(mocks).await;
}

#[tokio::test]
async fn an_ambiguous_create_the_portal_cannot_settle_is_unknown() {
    let (outcomes, mocks) = twin_creates(None, None).await;
    assert_eq!(
        outcomes,
        [
            created(40),
            Outcome::Unknown {
                message: "the create was sent but its result is unknown (server error (HTTP 502)), and reading the newest records failed: server error (HTTP 500); check crm_account in Flowlu before sending this record again".into()
            }
        ]
    );
    check(mocks).await;
}

#[tokio::test]
async fn a_field_to_clear_is_sent_even_when_every_value_sent_matches() {
    // With clear_empty_fields, `phone: ""` means "clear the phone": the portal still holds
    // one, so the record is not unchanged, and the update carries `phone=`.
    let mut server = Server::new_async().await;
    let lookup = server
        .mock("GET", LIST)
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("filter[email]".into(), "a@x.io".into()),
            Matcher::UrlEncoded("page".into(), "1".into()),
        ]))
        .with_body(list_body(
            json!([{"id": 5, "email": "a@x.io", "name": "Acme", "phone": "+1 555"}]),
        ))
        .expect(1)
        .create_async()
        .await;
    let update = server
        .mock("POST", update_path(5).as_str())
        .match_query(Matcher::UrlEncoded("api_key".into(), CANARY_KEY.into()))
        .match_body(Matcher::Exact("email=a%40x.io&name=Acme&phone=".into()))
        .with_body(r#"{"response": {"id": 5}}"#)
        .expect(1)
        .create_async()
        .await;
    let other = CatchAll::register(&mut server).await;
    let credential = FlowluCredential::from_config(&json!({"name": "t", "account_domain": "acme",
        "api_key": CANARY_KEY, "advanced": {"write_rules": [
            {"stream": "crm_account", "mode": "upsert", "match_field": "email", "clear_empty_fields": true}]}}))
    .unwrap()
    .with_base_url(server.url());
    let sink = FlowluSink::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(4, 3));
    let input = vec![account_input(
        json!({"email": "a@x.io", "name": "Acme", "phone": ""}),
    )];
    assert_eq!(write(&sink, input).await, [updated(5)]);
    lookup.assert_async().await;
    update.assert_async().await;
    other.assert().await;
}

/// The column of the discovered `schema` that holds Flowlu's `key`.
fn column_of(schema: &Value, key: &str) -> String {
    schema["properties"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, p)| p["x-flowlu-field"]["key"] == key)
        .map(|(name, _)| name.clone())
        .unwrap_or_else(|| panic!("no column for {key}"))
}

#[tokio::test]
async fn typed_and_named_records_read_and_written_back_are_unchanged_and_edits_go_in_flowlus_form() {
    // The catalog a host accepted from discover: dates typed, custom fields named and typed.
    let emu = accounts_portal(150).await;
    let source = FlowluSource::from_credential(&credential(&emu))
        .unwrap()
        .with_limiter(fast_limiter(4, 3));
    let discovered = source.discover().await.unwrap();
    let mut configured = ConfiguredCatalog::from_catalog(&discovered);
    configured.streams.retain(|s| s.stream.name == "crm_account");
    configured.streams[0].sync_mode = connector_core::SyncMode::FullRefresh;
    let schema = configured.streams[0].stream.json_schema.clone();
    // The stand-in's account fields 7 (number) and 13 (date).
    let (number, date) = (column_of(&schema, "cf_7"), column_of(&schema, "cf_13"));
    assert!(
        !number.starts_with("cf_") && !date.starts_with("cf_"),
        "{number} {date}"
    );
    assert_eq!(schema["properties"][&number]["type"], json!(["number", "null"]));
    assert_eq!(schema["properties"][&date]["format"], json!("date"));
    let read: Vec<Value> = source
        .read_parsed(&configured, &SourceState::default())
        .filter_map(|e| async move {
            match e {
                SourceEvent::Record(r) => Some(r.data),
                _ => None,
            }
        })
        .collect()
        .await;
    let with_email: Vec<Value> = read
        .into_iter()
        .filter(|r| r["email"].as_str().is_some_and(|e| !e.is_empty()))
        .collect();
    // What the records hold: nulls for the stand-in's blank and zero dates, numbers for the
    // number field's text, no `cf_` key.
    let nulls = with_email
        .iter()
        .filter(|r| r["organization_registration_date"].is_null())
        .count();
    assert!(nulls > 0, "no blank registration date");
    assert!(with_email.iter().any(|r| r[&number].is_number()));
    assert!(with_email
        .iter()
        .all(|r| r.as_object().unwrap().keys().all(|k| !k.starts_with("cf_"))));
    let ids: Vec<u64> = with_email.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    let sink = sink(&emu);
    let write_with = |input: Vec<SinkInput>| {
        let sink = &sink;
        let configured = &configured;
        async move {
            outcomes_of(
                sink.write(configured, futures::stream::iter(input).boxed())
                    .collect()
                    .await,
            )
        }
    };
    emu.reset_stats();
    let outcomes = write_with(with_email.iter().cloned().map(account_input).collect()).await;
    assert_eq!(outcomes, ids.iter().copied().map(unchanged).collect::<Vec<_>>());
    // The probe and two index pages: no record sent.
    assert_eq!(requests_by_path(&emu.stats()), paths(&[(LIST, 3)]));

    // An edit in the forms a host gives back (a number, a date with a time of midnight) is
    // sent under Flowlu's key, in Flowlu's form.
    let mut edited = with_email[0].clone();
    edited[&number] = json!(1234.5);
    edited[&date] = json!("2024-05-06T00:00:00");
    let id = ids[0];
    emu.reset_stats();
    assert_eq!(write_with(vec![account_input(edited)]).await, [updated(id)]);
    let stored = emu
        .records("crm", "account")
        .into_iter()
        .find(|r| r["id"] == id)
        .unwrap();
    assert_eq!(
        (&stored["cf_7"], &stored["cf_13"]),
        (&json!("1234.5"), &json!("2024-05-06"))
    );
    assert!(stored.get(number.as_str()).is_none() && stored.get(date.as_str()).is_none());
}
