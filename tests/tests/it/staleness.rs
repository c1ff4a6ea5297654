//! Bounded staleness of a write: every `unchanged` and every create decided from the write's
//! index rests on what the portal held at most `staleness_seconds` (W) before the decision.
//! A second client of the stand-in creates and edits records during the write (between
//! batches, or at an exact request count with `Emulator::schedule`), and the write's clock
//! is a manual one moved by the test (no sleeps): exact outcomes, final data and requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector_core::{ConfiguredCatalog, Credential, Outcome, Sink, SinkEvent, SinkInput};
use connector_flowlu::{FlowluCredential, FlowluSink, StalenessClock};
use flowlu_emulator::{Emulator, Quirks, Stats};
use futures::stream::BoxStream;
use futures::StreamExt;
use integration_tests::catalog::Stream;
use integration_tests::fast_limiter;
use integration_tests::flowlu::account_input;
use integration_tests::stand_in::accounts_portal;
use serde_json::{json, Value};

const LIST: &str = "/api/v1/module/crm/account/list";
const CREATE: &str = "/api/v1/module/crm/account/create";
/// The staleness bound the tests write with.
const W: u64 = 30;

/// An upsert-by-email sink with W = 30 s measured on `clock`.
fn sink(emu: &Emulator, clock: &StalenessClock) -> FlowluSink {
    sink_with_rule(
        emu,
        clock,
        json!({"stream": "crm_account", "mode": "upsert", "match_field": "email"}),
    )
}

/// A sink writing crm_account by `rule` with W = 30 s measured on `clock`.
fn sink_with_rule(emu: &Emulator, clock: &StalenessClock, rule: Value) -> FlowluSink {
    let config = json!({"name": "staleness", "account_domain": "acme", "api_key": emu.api_key(),
        "advanced": {"staleness_seconds": W, "write_rules": [rule]}});
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url());
    FlowluSink::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(4, 3))
        .with_staleness_clock(clock.clone())
}

/// The stand-in's accounts that have an e-mail: (id, name, email).
fn accounts(emu: &Emulator) -> Vec<(u64, String, String)> {
    emu.records("crm", "account")
        .into_iter()
        .filter_map(|r| {
            let email = r["email"].as_str().filter(|e| !e.is_empty())?.to_string();
            Some((r["id"].as_u64()?, r["name"].as_str()?.to_string(), email))
        })
        .collect()
}

/// Requests by path (any status).
fn by_path(stats: &Stats) -> Vec<(String, u64)> {
    stats
        .by_path
        .iter()
        .map(|(path, statuses)| (path.clone(), statuses.values().sum()))
        .collect()
}

fn paths(expected: &[(&str, u64)]) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = expected.iter().map(|(p, n)| (p.to_string(), *n)).collect();
    v.sort();
    v
}

fn update_path(id: u64) -> String {
    format!("/api/v1/module/crm/account/update/{id}")
}

type Events<'a> = BoxStream<'a, SinkEvent>;

/// A write under way: records go in one at a time, outcomes come out as they are decided.
struct Writing<'a> {
    input: futures::channel::mpsc::UnboundedSender<SinkInput>,
    events: Events<'a>,
}

impl<'a> Writing<'a> {
    /// `sink` writing `catalog` from an input still open.
    fn start(sink: &'a FlowluSink, catalog: &'a ConfiguredCatalog) -> Self {
        let (input, rx) = futures::channel::mpsc::unbounded();
        let events = sink.write(catalog, rx.boxed());
        Self { input, events }
    }

    /// One record of crm_account.
    fn send(&self, data: Value) {
        self.input.unbounded_send(account_input(data)).unwrap();
    }

    /// Each account as an upsert by e-mail: `{"name", "email"}`.
    fn send_by_email<'b>(&self, accounts: impl IntoIterator<Item = &'b (u64, String, String)>) {
        for (_, name, email) in accounts {
            self.send(json!({"name": name, "email": email}));
        }
    }

    /// Each account by id: `{"id", "name"}`.
    fn send_by_id<'b>(&self, accounts: impl IntoIterator<Item = &'b (u64, String)>) {
        for (id, name) in accounts {
            self.send(json!({"id": id, "name": name}));
        }
    }

    /// The next `n` outcomes, by sequence.
    async fn outcomes(&mut self, n: usize) -> Vec<(u64, Outcome)> {
        let mut got = Vec::new();
        while got.len() < n {
            match self.events.next().await {
                Some(SinkEvent::Outcome(o)) => got.push((o.sequence, o.outcome)),
                Some(_) => {}
                None => break,
            }
        }
        got.sort_by_key(|(s, _)| *s);
        got
    }

    /// Ends the input: the last `n` outcomes, by sequence, after which the write ends.
    async fn finish(mut self, n: usize) -> Vec<(u64, Outcome)> {
        self.input.close_channel();
        let got = self.outcomes(n).await;
        assert!(self.events.next().await.is_none());
        got
    }
}

fn unchanged(id: u64) -> Outcome {
    Outcome::Unchanged { id: id.to_string() }
}

fn updated(id: u64) -> Outcome {
    Outcome::Updated { id: id.to_string() }
}

/// The ids of the stand-in's accounts with e-mail `email`.
fn with_email(emu: &Emulator, email: &str) -> Vec<u64> {
    emu.records("crm", "account")
        .into_iter()
        .filter(|r| r["email"] == json!(email))
        .filter_map(|r| r["id"].as_u64())
        .collect()
}

fn name_of(emu: &Emulator, id: u64) -> String {
    emu.records("crm", "account")
        .into_iter()
        .find(|r| r["id"] == json!(id))
        .and_then(|r| r["name"].as_str().map(str::to_string))
        .unwrap_or_default()
}

#[tokio::test]
async fn an_edit_older_than_the_bound_is_written_and_a_younger_one_may_be_missed() {
    // 150 accounts written back unchanged: the write reads its index (at clock 0). Then a
    // second client edits the name of 9 of them, and the same 9 arrive with their old names,
    // which the index still holds.
    let emu = accounts_portal(150).await;
    let clock = StalenessClock::manual();
    let sink = sink(&emu, &clock);
    let catalog = Stream::new("crm_account").configured();
    let mut writing = Writing::start(&sink, &catalog);
    let all = accounts(&emu);
    writing.send_by_email(&all);
    let first = writing.outcomes(all.len()).await;
    let expected: Vec<(u64, Outcome)> = (0u64..).zip(all.iter().map(|a| unchanged(a.0))).collect();
    assert_eq!(first, expected);
    let n = all.len() as u64;
    let other = emu.second_client();

    // An edit younger than W: the decision 29 s after the read may rest on that read, so the
    // 3 records are `unchanged` (what the guarantee allows) and nothing is sent.
    let young = &all[20..23];
    for (id, _, _) in young {
        other
            .edit_record("crm", "account", *id, &[("name", json!("Edited 29 s ago"))])
            .unwrap();
    }
    clock.advance(Duration::from_secs(W - 1));
    emu.reset_stats();
    writing.send_by_email(young);
    let got = writing.outcomes(3).await;
    assert_eq!(
        got,
        (n..)
            .zip(young.iter().map(|a| unchanged(a.0)))
            .collect::<Vec<_>>()
    );
    assert_eq!(by_path(&emu.stats()), paths(&[]));

    // Edits older than W: 9 more records edited, then the clock passes W since the read. The
    // first decision counts the model (nothing deleted) and reads what others created
    // (nothing) and edited (the 12 edited), and all 12 are written, not `unchanged`.
    let old = &all[0..9];
    for (id, _, _) in old {
        other
            .edit_record(
                "crm",
                "account",
                *id,
                &[("name", json!("Edited by someone else"))],
            )
            .unwrap();
    }
    clock.advance(Duration::from_secs(2));
    emu.reset_stats();
    let again: Vec<&(u64, String, String)> = old.iter().chain(young).collect();
    writing.send_by_email(again.iter().copied());
    let got = writing.finish(12).await;
    assert_eq!(
        got,
        (n + 3..)
            .zip(again.iter().map(|a| updated(a.0)))
            .collect::<Vec<_>>()
    );
    let mut expected = vec![(LIST, 3)];
    let updates: Vec<String> = again.iter().map(|a| update_path(a.0)).collect();
    expected.extend(updates.iter().map(|p| (p.as_str(), 1)));
    assert_eq!(by_path(&emu.stats()), paths(&expected));
    for (id, name, _) in again {
        assert_eq!(&name_of(&emu, *id), name);
    }
}

#[tokio::test]
async fn records_a_second_client_creates_or_takes_during_a_write_are_not_duplicated() {
    // 300 upserts by e-mail: 100 accounts unchanged and 50 new records, then 150 new records.
    // While the second batch is written (after its 5th request: its read of what others
    // created and edited, then 3 creates), a second client creates 11 records carrying
    // e-mails of that batch's last records and gives 11 other accounts 11 more of them, and
    // the clock passes W. The next decision reads again: 0 duplicated.
    let emu = accounts_portal(150).await;
    let clock = StalenessClock::manual();
    let sink = sink(&emu, &clock);
    let catalog = Stream::new("crm_account").configured();
    let mut writing = Writing::start(&sink, &catalog);
    let all = accounts(&emu);
    assert_eq!(all.len(), 128);
    let new = |i: usize| json!({"name": format!("New {i}"), "email": format!("new.{i}@example.org")});
    writing.send_by_email(&all[..100]);
    for i in 0..50 {
        writing.send(new(i));
    }
    let first = writing.outcomes(150).await;
    assert_eq!(
        first
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Created { .. }))
            .count(),
        50
    );

    let taken: Vec<(u64, String)> = all[110..121]
        .iter()
        .enumerate()
        .map(|(k, a)| (a.0, format!("new.{}@example.org", 170 + k)))
        .collect();
    let theirs = Arc::new(Mutex::new(Vec::new()));
    {
        let (taken, theirs, clock) = (taken.clone(), Arc::clone(&theirs), clock.clone());
        emu.schedule(5, move |other| {
            for k in 0..11 {
                let email = format!("new.{}@example.org", 181 + k);
                let id = other
                    .create_record(
                        "crm",
                        "account",
                        &[("name", json!("Theirs")), ("email", json!(email))],
                    )
                    .unwrap();
                theirs.lock().unwrap().push((id, email));
            }
            for (id, email) in &taken {
                other
                    .edit_record("crm", "account", *id, &[("email", json!(email))])
                    .unwrap();
            }
            clock.advance(Duration::from_secs(W + 1));
        });
    }
    emu.reset_stats();
    for i in 50..200 {
        writing.send(new(i));
    }
    let second = writing.finish(150).await;
    let theirs = theirs.lock().unwrap().clone();
    assert_eq!(theirs.len(), 11);
    let mut expected_updates: HashMap<String, u64> = taken.iter().map(|(id, e)| (e.clone(), *id)).collect();
    expected_updates.extend(theirs.iter().map(|(id, e)| (e.clone(), *id)));
    let mut created = 0;
    for (sequence, outcome) in &second {
        let i = (sequence - 100) as usize;
        let email = format!("new.{i}@example.org");
        match expected_updates.get(&email) {
            Some(id) => assert_eq!(outcome, &updated(*id), "{email}"),
            None => {
                assert!(matches!(outcome, Outcome::Created { .. }), "{email}: {outcome:?}");
                created += 1;
            }
        }
    }
    assert_eq!(created, 128);
    // 0 duplicated: every input e-mail is held by exactly one record, with the input's name.
    for i in 0..200 {
        let email = format!("new.{i}@example.org");
        let ids = with_email(&emu, &email);
        assert_eq!(ids.len(), 1, "{email}: {ids:?}");
        assert_eq!(name_of(&emu, ids[0]), format!("New {i}"), "{email}");
    }
    // The batch's read before its first create (2), the read after the clock passed W (2),
    // 128 creates and 22 updates.
    let stats = emu.stats();
    assert_eq!(
        by_path(&stats)
            .iter()
            .filter(|(p, _)| p == LIST || p == CREATE)
            .cloned()
            .collect::<Vec<_>>(),
        paths(&[(LIST, 4), (CREATE, 128)])
    );
    assert_eq!(stats.total, 4 + 128 + 22);
}

#[tokio::test]
async fn where_edits_cannot_be_read_a_stale_unchanged_is_looked_up() {
    // The portal refuses filters on anything but id once the index is read: past W, a record
    // the index finds unchanged is looked up (refused too), then sent: never `unchanged`
    // unverified.
    let emu = accounts_portal(150).await;
    let clock = StalenessClock::manual();
    let sink = sink(&emu, &clock);
    let catalog = Stream::new("crm_account").configured();
    let mut writing = Writing::start(&sink, &catalog);
    let all = accounts(&emu);
    writing.send_by_email(&all);
    writing.outcomes(all.len()).await;
    let n = all.len() as u64;
    emu.set_quirks(Quirks {
        refuse_filters_but_id: Some(12),
        ..Quirks::default()
    });
    let (id, name, email) = all[4].clone();
    emu.second_client()
        .edit_record("crm", "account", id, &[("name", json!("Theirs"))])
        .unwrap();
    clock.advance(Duration::from_secs(W + 1));
    emu.reset_stats();
    writing.send(json!({"name": name, "email": email}));
    let got = writing.finish(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, n);
    assert_eq!(name_of(&emu, id), name, "{:?}", got[0].1);
    assert_eq!(got[0].1, updated(id));
    // The count, the read by id (nothing new), the refused read of edits, the refused lookup,
    // the update.
    assert_eq!(by_path(&emu.stats()), paths(&[(LIST, 4), (&update_path(id), 1)]));
}

#[tokio::test]
async fn updates_by_id_past_the_bound_are_written_not_unchanged() {
    // Update mode (by id), through the index: the same rule for `unchanged`.
    let emu = accounts_portal(150).await;
    let clock = StalenessClock::manual();
    let sink = sink_with_rule(&emu, &clock, json!({"stream": "crm_account", "mode": "update"}));
    let catalog = Stream::new("crm_account").configured();
    let mut writing = Writing::start(&sink, &catalog);
    let all: Vec<(u64, String)> = emu
        .records("crm", "account")
        .into_iter()
        .filter_map(|r| Some((r["id"].as_u64()?, r["name"].as_str()?.to_string())))
        .collect();
    writing.send_by_id(&all);
    let first = writing.outcomes(all.len()).await;
    assert!(first.iter().all(|(_, o)| matches!(o, Outcome::Unchanged { .. })));
    let n = all.len() as u64;
    for (id, _) in &all[..5] {
        emu.second_client()
            .edit_record("crm", "account", *id, &[("name", json!("Theirs"))])
            .unwrap();
    }
    clock.advance(Duration::from_secs(W + 1));
    emu.reset_stats();
    writing.send_by_id(&all[..5]);
    let got = writing.finish(5).await;
    assert_eq!(
        got,
        (n..)
            .zip(all[..5].iter().map(|a| updated(a.0)))
            .collect::<Vec<_>>()
    );
    // The refresh: the count, what others created, what they edited.
    let updates: Vec<String> = all[..5].iter().map(|a| update_path(a.0)).collect();
    let mut expected = vec![(LIST, 3)];
    expected.extend(updates.iter().map(|p| (p.as_str(), 1)));
    assert_eq!(by_path(&emu.stats()), paths(&expected));
    for (id, name) in &all[..5] {
        assert_eq!(&name_of(&emu, *id), name);
    }
}

/// How many accounts the stand-in holds.
fn count(emu: &Emulator) -> usize {
    emu.records("crm", "account").len()
}

fn is_created(outcome: &Outcome) -> Option<u64> {
    match outcome {
        Outcome::Created { id } => id.parse().ok(),
        _ => None,
    }
}

#[tokio::test]
async fn records_a_second_client_deletes_during_a_write_are_not_unchanged() {
    // 128 accounts written back unchanged (the index is read). Past W, 5 more arrive with the
    // values the index holds: the first one's refresh (the count, what others created, what
    // they edited) finds nothing deleted, and it is `unchanged`. During that refresh (after
    // its count) the second client deletes the next 3; after that first decision the clock
    // passes W again (a refresh ending more than W after its start serves no decision:
    // `staleness_progress.rs`), and the next decision counts
    // 3 fewer records than the index knows; with 4 records still to write and the model 2
    // pages, the model is read again (a lookup per record costs more): the 3 deleted ones are
    // absent from it and are created, the last one is `unchanged`
    // (`reread.rs` has the case where lookups cost less).
    let emu = accounts_portal(150).await;
    let clock = StalenessClock::manual();
    let sink = sink(&emu, &clock);
    let catalog = Stream::new("crm_account").configured();
    let mut writing = Writing::start(&sink, &catalog);
    let all = accounts(&emu);
    writing.send_by_email(&all);
    let first = writing.outcomes(all.len()).await;
    assert!(first.iter().all(|(_, o)| matches!(o, Outcome::Unchanged { .. })));
    let n = all.len() as u64;
    let gone: Vec<u64> = all[1..4].iter().map(|a| a.0).collect();
    {
        let gone = gone.clone();
        emu.schedule(3, move |other| {
            for id in &gone {
                other.delete_record("crm", "account", *id).unwrap();
            }
        });
    }
    clock.advance(Duration::from_secs(W + 1));
    emu.reset_stats();
    // The first decision rests on its refresh (it ends within W of its start); the clock then
    // passes W again before the next records arrive.
    writing.send_by_email(&all[..1]);
    let mut got = writing.outcomes(1).await;
    clock.advance(Duration::from_secs(W + 1));
    writing.send_by_email(&all[1..5]);
    got.extend(writing.finish(4).await);
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        (n..n + 5).collect::<Vec<_>>()
    );
    assert_eq!(got[0].1, unchanged(all[0].0));
    assert_eq!(got[4].1, unchanged(all[4].0));
    for (k, (_, name, email)) in all[1..4].iter().enumerate() {
        let created = is_created(&got[k + 1].1);
        assert!(created.is_some(), "{email}: {:?}", got[k + 1].1);
        assert_eq!(with_email(&emu, email), created.into_iter().collect::<Vec<_>>());
        assert_eq!(&name_of(&emu, created.unwrap_or_default()), name);
    }
    // Two refreshes of 3 reads each (the count, what others created, what they edited),
    // the model read again (2 pages), 3 creates.
    assert_eq!(by_path(&emu.stats()), paths(&[(LIST, 8), (CREATE, 3)]));
}

#[tokio::test]
async fn a_delete_and_a_create_by_others_that_keep_the_count_are_seen() {
    // Past W, a second client deletes one account the write is about to find unchanged and
    // creates another: the portal's count is what the index read. The refresh counts first,
    // then reads the new record by id: the index knows one record more than the count, so
    // the record is looked up (none holds its e-mail) and created; the other client's record
    // is read, not deleted or duplicated.
    let emu = accounts_portal(150).await;
    let clock = StalenessClock::manual();
    let sink = sink(&emu, &clock);
    let catalog = Stream::new("crm_account").configured();
    let mut writing = Writing::start(&sink, &catalog);
    let all = accounts(&emu);
    writing.send_by_email(&all);
    writing.outcomes(all.len()).await;
    let n = all.len() as u64;
    let before = count(&emu);
    let (id, name, email) = all[7].clone();
    let other = emu.second_client();
    other.delete_record("crm", "account", id).unwrap();
    let theirs = other
        .create_record(
            "crm",
            "account",
            &[("name", json!("Theirs")), ("email", json!("theirs@example.org"))],
        )
        .unwrap();
    assert_eq!(count(&emu), before, "the count alone cannot tell");
    clock.advance(Duration::from_secs(W + 1));
    emu.reset_stats();
    writing.send(json!({"name": name, "email": email}));
    writing.send(json!({"name": "Theirs", "email": "theirs@example.org"}));
    let got = writing.finish(2).await;
    assert_eq!(got[0].0, n);
    let created = is_created(&got[0].1);
    assert!(created.is_some_and(|c| c != id && c != theirs), "{:?}", got[0].1);
    assert_eq!(with_email(&emu, &email), created.into_iter().collect::<Vec<_>>());
    assert_eq!(got[1], (n + 1, unchanged(theirs)));
    assert_eq!(with_email(&emu, "theirs@example.org"), vec![theirs]);
    // The refresh (3 reads), 2 lookups (the count still falls short), 1 create.
    assert_eq!(by_path(&emu.stats()), paths(&[(LIST, 5), (CREATE, 1)]));
}

#[tokio::test]
async fn an_upsert_by_id_of_a_record_others_deleted_fails_as_such_and_creates_nothing() {
    // Upsert by id through the index: past W, 2 of the ids sent were deleted by a second
    // client. The count falls short; with 3 records to write and the model 2 pages, the model
    // is read again: the 2 deleted ids are not in it and fail as such without a request
    // (never created), the other one is `unchanged` as read.
    let emu = accounts_portal(150).await;
    let clock = StalenessClock::manual();
    let sink = sink_with_rule(&emu, &clock, json!({"stream": "crm_account", "mode": "upsert"}));
    let catalog = Stream::new("crm_account").configured();
    let mut writing = Writing::start(&sink, &catalog);
    let all: Vec<(u64, String)> = emu
        .records("crm", "account")
        .into_iter()
        .filter_map(|r| Some((r["id"].as_u64()?, r["name"].as_str()?.to_string())))
        .collect();
    writing.send_by_id(&all);
    let first = writing.outcomes(all.len()).await;
    assert!(first.iter().all(|(_, o)| matches!(o, Outcome::Unchanged { .. })));
    let n = all.len() as u64;
    let before = count(&emu);
    for (id, _) in &all[..2] {
        emu.second_client().delete_record("crm", "account", *id).unwrap();
    }
    clock.advance(Duration::from_secs(W + 1));
    emu.reset_stats();
    writing.send_by_id(&all[..3]);
    let got = writing.finish(3).await;
    for (k, (id, _)) in all[..2].iter().enumerate() {
        assert_eq!(got[k].0, n + k as u64);
        assert!(
            matches!(&got[k].1, Outcome::Failed { message, .. } if message.starts_with(&format!("no Flowlu record {id}: deleted there"))),
            "{:?}",
            got[k].1
        );
    }
    assert_eq!(got[2], (n + 2, unchanged(all[2].0)));
    assert_eq!(count(&emu), before - 2, "nothing created");
    // The refresh's 3 reads, the model read again (2 pages); no update.
    assert_eq!(by_path(&emu.stats()), paths(&[(LIST, 5)]));
}

#[tokio::test]
async fn a_total_not_to_trust_makes_unchanged_looked_up_and_a_true_total_result_is_trusted() {
    // Every form of the count: `total` alone holding nonsense (99999) exceeds the records
    // the index knows, so past W a record the index finds unchanged is looked up; a true
    // `total_result` beside that `total`, or alone, is trusted (nothing deleted: `unchanged`
    // at once). (No total at all is looked up as well: the index's unit tests.)
    let emu = accounts_portal(150).await;
    let clock = StalenessClock::manual();
    let sink = sink(&emu, &clock);
    let catalog = Stream::new("crm_account").configured();
    let mut writing = Writing::start(&sink, &catalog);
    let all = accounts(&emu);
    writing.send_by_email(&all);
    writing.outcomes(all.len()).await;
    let n = all.len() as u64;
    let cases = [
        // (total field, lying total, LIST requests: the refresh's 3, and a lookup or not;
        // beside a nonsense `total`, the read of edits, a short page, takes one more page
        // to end)
        (flowlu_emulator::TotalField::Total, Some(99_999), 5),
        (flowlu_emulator::TotalField::Both, Some(99_999), 3),
        (flowlu_emulator::TotalField::TotalResult, None, 3),
    ];
    for (k, (total_field, lying_total, lists)) in cases.into_iter().enumerate() {
        emu.set_quirks(Quirks {
            total_field,
            lying_total,
            ..Quirks::default()
        });
        clock.advance(Duration::from_secs(W + 1));
        emu.reset_stats();
        let (id, name, email) = &all[k];
        writing.send(json!({"name": name, "email": email}));
        let got = writing.outcomes(1).await;
        assert_eq!(got, vec![(n + k as u64, unchanged(*id))], "{total_field:?}");
        assert_eq!(by_path(&emu.stats()), paths(&[(LIST, lists)]), "{total_field:?}");
    }
    writing.finish(0).await;
}
