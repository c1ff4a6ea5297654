//! Bounded staleness of a write: every `unchanged` and every create decided from the write's
//! index rests on what the portal held at most `staleness_seconds` (W) before the decision.
//! A second client of the stand-in creates and edits records during the write (between
//! batches, or at an exact request count with `Emulator::schedule`), and the write's clock
//! is a manual one moved by the test (no sleeps): exact outcomes, final data and requests.
//! The scenarios of one shape (the index read once, then steps of changes by others, the
//! clock moved, records sent) are rows of one table run by one runner; a bulk write that
//! others race mid-batch is a test of its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector_core::{ConfiguredCatalog, Credential, Outcome, Sink, SinkEvent, SinkInput};
use connector_flowlu::{FlowluCredential, FlowluSink, StalenessClock};
use flowlu_emulator::{Emulator, Quirks, SecondClient, TotalField};
use futures::stream::BoxStream;
use futures::StreamExt;
use integration_tests::catalog::Stream;
use integration_tests::fast_limiter;
use integration_tests::flowlu::account_input;
use integration_tests::stand_in::accounts_portal;
use integration_tests::stand_in::{accounts_with_email, requests_by_path};
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
    async fn finish(&mut self, n: usize) -> Vec<(u64, Outcome)> {
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

/// A record a scenario sends: the write's first pass's account at this index (as the index
/// holds it), or the record a second client created at this index.
#[derive(Clone, Copy, Debug)]
enum Who {
    Account(usize),
    Theirs(usize),
}
use Who::{Account, Theirs};

/// What a second client does to the portal.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// The account's name set to this.
    Rename(usize, &'static str),
    /// The account deleted.
    Delete(usize),
    /// A record created with this name and e-mail.
    Create(&'static str, &'static str),
}

/// A record's expected outcome.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// `unchanged` with its id (matched by e-mail: the only record holding it).
    Unchanged(Who),
    /// `updated` with its id, the portal holding its name again.
    Updated(Who),
    /// `created` under a new id: the only record holding its e-mail, with its name.
    Created(Who),
    /// `failed` as deleted in Flowlu, without a request (nothing created).
    Deleted(Who),
}

/// A path requested, counted.
#[derive(Clone, Copy, Debug)]
enum Req {
    List,
    Create,
    Update(Who),
}

/// One step of a scenario: what others change, how far the clock moves, the records sent,
/// and exactly what comes of them.
#[derive(Debug, Default)]
struct Step {
    /// The portal's quirks from now on.
    quirks: Option<Quirks>,
    /// Made at once by a second client.
    changes: Vec<Change>,
    /// Made by a second client once this many more API requests have been answered
    /// (`Emulator::schedule`).
    scheduled: Option<(u64, Vec<Change>)>,
    /// Seconds the clock moves before the records are sent.
    advance: u64,
    /// The records sent.
    send: Vec<Who>,
    /// The input ends after them.
    end_input: bool,
    /// Their outcomes, in order (sequence numbers following on from the records sent before).
    outcomes: Vec<Expect>,
    /// Every request of the step, by path (from the moment the records are sent).
    requests: Vec<(Req, u64)>,
    /// The accounts the stand-in holds after the changes and after the write, minus those
    /// before the changes.
    counts: Option<(i64, i64)>,
}

/// A scenario: a portal of 150 accounts, a sink writing crm_account by `rule` with W = 30 s,
/// every account (with an e-mail, for a rule matching by e-mail) written back unchanged
/// first (the index read at clock 0), then the steps.
struct Scenario {
    name: &'static str,
    rule: Value,
    steps: Vec<Step>,
}

/// A record as the write knows it: id, name, e-mail.
#[derive(Clone, Debug)]
struct Held {
    id: u64,
    name: String,
    email: Option<String>,
}

fn by_email() -> Value {
    json!({"stream": "crm_account", "mode": "upsert", "match_field": "email"})
}

fn by_id(mode: &str) -> Value {
    json!({"stream": "crm_account", "mode": mode})
}

/// The table: each row names the test it replaces.
fn scenarios() -> Vec<Scenario> {
    let accounts = |range: std::ops::Range<usize>| range.map(Account).collect::<Vec<_>>();
    vec![
        // An edit younger than W: the decision 29 s after the read may rest on that read, so
        // the 3 records are `unchanged` (what the guarantee allows) and nothing is sent. Then
        // edits older than W: 9 more records edited, the clock passes W since the read; the
        // first decision counts the model (nothing deleted) and reads what others created
        // (nothing) and edited (the 12 edited), and all 12 are written, not `unchanged`.
        Scenario {
            name: "an_edit_older_than_the_bound_is_written_and_a_younger_one_may_be_missed",
            rule: by_email(),
            steps: vec![
                Step {
                    changes: (20..23).map(|i| Change::Rename(i, "Edited 29 s ago")).collect(),
                    advance: W - 1,
                    send: accounts(20..23),
                    outcomes: (20..23).map(|i| Expect::Unchanged(Account(i))).collect(),
                    ..Step::default()
                },
                Step {
                    changes: (0..9)
                        .map(|i| Change::Rename(i, "Edited by someone else"))
                        .collect(),
                    advance: 2,
                    send: (0..9).chain(20..23).map(Account).collect(),
                    end_input: true,
                    outcomes: (0..9)
                        .chain(20..23)
                        .map(|i| Expect::Updated(Account(i)))
                        .collect(),
                    requests: [(Req::List, 3)]
                        .into_iter()
                        .chain((0..9).chain(20..23).map(|i| (Req::Update(Account(i)), 1)))
                        .collect(),
                    ..Step::default()
                },
            ],
        },
        // The portal refuses filters on anything but id once the index is read: past W, a
        // record the index finds unchanged is looked up (refused too), then sent: never
        // `unchanged` unverified. The count, the read by id (nothing new), the refused read of
        // edits, the refused lookup, the update.
        Scenario {
            name: "where_edits_cannot_be_read_a_stale_unchanged_is_looked_up",
            rule: by_email(),
            steps: vec![Step {
                quirks: Some(Quirks {
                    refuse_filters_but_id: Some(12),
                    ..Quirks::default()
                }),
                changes: vec![Change::Rename(4, "Theirs")],
                advance: W + 1,
                send: vec![Account(4)],
                end_input: true,
                outcomes: vec![Expect::Updated(Account(4))],
                requests: vec![(Req::List, 4), (Req::Update(Account(4)), 1)],
                ..Step::default()
            }],
        },
        // Update mode (by id), through the index: the same rule for `unchanged`. The refresh:
        // the count, what others created, what they edited.
        Scenario {
            name: "updates_by_id_past_the_bound_are_written_not_unchanged",
            rule: by_id("update"),
            steps: vec![Step {
                changes: (0..5).map(|i| Change::Rename(i, "Theirs")).collect(),
                advance: W + 1,
                send: accounts(0..5),
                end_input: true,
                outcomes: (0..5).map(|i| Expect::Updated(Account(i))).collect(),
                requests: [(Req::List, 3)]
                    .into_iter()
                    .chain((0..5).map(|i| (Req::Update(Account(i)), 1)))
                    .collect(),
                ..Step::default()
            }],
        },
        // Past W, 5 more arrive with the values the index holds: the first one's refresh (the
        // count, what others created, what they edited) finds nothing deleted, and it is
        // `unchanged`. During that refresh (after its count) the second client deletes the
        // next 3; the clock then passes W again (a refresh ending more than W after its start
        // serves no decision: `staleness_progress.rs`): the next decision counts 3 fewer
        // records than the index knows; with 4 records still to write and the model 2 pages,
        // the model is read again (a lookup per record costs more): the 3 deleted ones are
        // absent from it and are created, the last one is `unchanged` (`reread.rs` has the
        // case where lookups cost less). Two refreshes of 3 reads each, the model read again
        // (2 pages), 3 creates.
        Scenario {
            name: "records_a_second_client_deletes_during_a_write_are_not_unchanged",
            rule: by_email(),
            steps: vec![
                Step {
                    scheduled: Some((3, (1..4).map(Change::Delete).collect())),
                    advance: W + 1,
                    send: accounts(0..1),
                    outcomes: vec![Expect::Unchanged(Account(0))],
                    requests: vec![(Req::List, 3)],
                    ..Step::default()
                },
                Step {
                    advance: W + 1,
                    send: accounts(1..5),
                    end_input: true,
                    outcomes: vec![
                        Expect::Created(Account(1)),
                        Expect::Created(Account(2)),
                        Expect::Created(Account(3)),
                        Expect::Unchanged(Account(4)),
                    ],
                    requests: vec![(Req::List, 5), (Req::Create, 3)],
                    ..Step::default()
                },
            ],
        },
        // Past W, a second client deletes one account the write is about to find unchanged
        // and creates another: the portal's count is what the index read (the count alone
        // cannot tell). The refresh counts first, then reads the new record by id: the index
        // knows one record more than the count, so the record is looked up (none holds its
        // e-mail) and created; the other client's record is read, not deleted or duplicated.
        // The refresh (3 reads), 2 lookups (the count still falls short), 1 create.
        Scenario {
            name: "a_delete_and_a_create_by_others_that_keep_the_count_are_seen",
            rule: by_email(),
            steps: vec![Step {
                changes: vec![Change::Delete(7), Change::Create("Theirs", "theirs@example.org")],
                advance: W + 1,
                send: vec![Account(7), Theirs(0)],
                end_input: true,
                outcomes: vec![Expect::Created(Account(7)), Expect::Unchanged(Theirs(0))],
                requests: vec![(Req::List, 5), (Req::Create, 1)],
                counts: Some((0, 1)),
                ..Step::default()
            }],
        },
        // Upsert by id through the index: past W, 2 of the ids sent were deleted by a second
        // client. The count falls short; with 3 records to write and the model 2 pages, the
        // model is read again: the 2 deleted ids are not in it and fail as such without a
        // request (never created), the other one is `unchanged` as read. The refresh's 3
        // reads, the model read again (2 pages); no update.
        Scenario {
            name: "an_upsert_by_id_of_a_record_others_deleted_fails_as_such_and_creates_nothing",
            rule: by_id("upsert"),
            steps: vec![Step {
                changes: vec![Change::Delete(0), Change::Delete(1)],
                advance: W + 1,
                send: accounts(0..3),
                end_input: true,
                outcomes: vec![
                    Expect::Deleted(Account(0)),
                    Expect::Deleted(Account(1)),
                    Expect::Unchanged(Account(2)),
                ],
                requests: vec![(Req::List, 5)],
                counts: Some((-2, -2)),
                ..Step::default()
            }],
        },
        // Every form of the count: `total` alone holding nonsense (99999) exceeds the records
        // the index knows, so past W a record the index finds unchanged is looked up (the
        // refresh's 3 reads and a lookup; beside a nonsense `total`, the read of edits, a
        // short page, takes one more page to end); a true `total_result` beside that `total`,
        // or alone, is trusted (nothing deleted: `unchanged` at once). (No total at all is
        // looked up as well: the index's unit tests.)
        Scenario {
            name: "a_total_not_to_trust_makes_unchanged_looked_up_and_a_true_total_result_is_trusted",
            rule: by_email(),
            steps: [
                (TotalField::Total, Some(99_999), 5),
                (TotalField::Both, Some(99_999), 3),
                (TotalField::TotalResult, None, 3),
            ]
            .into_iter()
            .enumerate()
            .map(|(k, (total_field, lying_total, lists))| Step {
                quirks: Some(Quirks {
                    total_field,
                    lying_total,
                    ..Quirks::default()
                }),
                advance: W + 1,
                send: vec![Account(k)],
                outcomes: vec![Expect::Unchanged(Account(k))],
                requests: vec![(Req::List, lists)],
                ..Step::default()
            })
            .collect(),
        },
    ]
}

/// Makes `changes` as the second client `other`: a created record is added to `theirs`.
fn change(other: &SecondClient<'_>, changes: &[Change], all: &[Held], theirs: &Mutex<Vec<Held>>) {
    for change in changes {
        match *change {
            Change::Rename(i, name) => other
                .edit_record("crm", "account", all[i].id, &[("name", json!(name))])
                .unwrap(),
            Change::Delete(i) => other.delete_record("crm", "account", all[i].id).unwrap(),
            Change::Create(name, email) => {
                let id = other
                    .create_record(
                        "crm",
                        "account",
                        &[("name", json!(name)), ("email", json!(email))],
                    )
                    .unwrap();
                theirs.lock().unwrap().push(Held {
                    id,
                    name: name.to_string(),
                    email: Some(email.to_string()),
                });
            }
        }
    }
}

/// Runs one scenario; every failure names it and its step.
async fn run(scenario: &Scenario) {
    let name = scenario.name;
    let emu = accounts_portal(150).await;
    let clock = StalenessClock::manual();
    let sink = sink_with_rule(&emu, &clock, scenario.rule.clone());
    let catalog = Stream::new("crm_account").configured();
    let mut writing = Writing::start(&sink, &catalog);
    let email_rule = scenario.rule["match_field"] == "email";
    let all: Vec<Held> = emu
        .records("crm", "account")
        .into_iter()
        .filter_map(|r| {
            let email = r["email"].as_str().filter(|e| !e.is_empty()).map(str::to_string);
            Some(Held {
                id: r["id"].as_u64()?,
                name: r["name"].as_str()?.to_string(),
                email,
            })
        })
        .filter(|held| !email_rule || held.email.is_some())
        .collect();
    let theirs = Arc::new(Mutex::new(Vec::<Held>::new()));
    let held = |who: Who| match who {
        Account(i) => all[i].clone(),
        Theirs(i) => theirs.lock().unwrap()[i].clone(),
    };
    let data = |who: Who| {
        let held = held(who);
        if email_rule {
            json!({"name": held.name, "email": held.email})
        } else {
            json!({"id": held.id, "name": held.name})
        }
    };
    for (i, _) in all.iter().enumerate() {
        writing.send(data(Account(i)));
    }
    let first = writing.outcomes(all.len()).await;
    let expected: Vec<(u64, Outcome)> = (0u64..).zip(all.iter().map(|a| unchanged(a.id))).collect();
    assert_eq!(first, expected, "{name}: the first pass");
    let mut sent = all.len() as u64;

    for (k, step) in scenario.steps.iter().enumerate() {
        let at = format!("{name}, step {k}");
        if let Some(quirks) = step.quirks {
            emu.set_quirks(quirks);
        }
        let before = count(&emu) as i64;
        change(&emu.second_client(), &step.changes, &all, &theirs);
        if let Some((after, changes)) = &step.scheduled {
            let (changes, all, theirs) = (changes.clone(), all.clone(), Arc::clone(&theirs));
            emu.schedule(*after, move |other| change(other, &changes, &all, &theirs));
        }
        if let Some((changed, _)) = step.counts {
            assert_eq!(
                count(&emu) as i64 - before,
                changed,
                "{at}: the count after the changes"
            );
        }
        clock.advance(Duration::from_secs(step.advance));
        emu.reset_stats();
        for who in &step.send {
            writing.send(data(*who));
        }
        let n = step.send.len();
        let got = if step.end_input {
            writing.finish(n).await
        } else {
            writing.outcomes(n).await
        };
        assert_eq!(
            got.iter().map(|g| g.0).collect::<Vec<_>>(),
            (sent..sent + n as u64).collect::<Vec<_>>(),
            "{at}: {got:?}"
        );
        assert_eq!(got.len(), step.outcomes.len(), "{at}: {got:?}");
        let known: Vec<u64> = all
            .iter()
            .chain(theirs.lock().unwrap().iter())
            .map(|h| h.id)
            .collect();
        for ((_, outcome), expect) in got.iter().zip(&step.outcomes) {
            match *expect {
                Expect::Unchanged(who) => {
                    let held = held(who);
                    assert_eq!(outcome, &unchanged(held.id), "{at}: {who:?}");
                    if let Some(email) = &held.email.filter(|_| email_rule) {
                        assert_eq!(with_email(&emu, email), [held.id], "{at}: {who:?}");
                    }
                }
                Expect::Updated(who) => {
                    let held = held(who);
                    assert_eq!(outcome, &updated(held.id), "{at}: {who:?}");
                    assert_eq!(name_of(&emu, held.id), held.name, "{at}: {who:?}");
                }
                Expect::Created(who) => {
                    let held = held(who);
                    let created = is_created(outcome);
                    assert!(
                        created.is_some_and(|c| !known.contains(&c)),
                        "{at}: {who:?}: {outcome:?}"
                    );
                    let email = held.email.clone().unwrap_or_default();
                    assert_eq!(
                        with_email(&emu, &email),
                        created.into_iter().collect::<Vec<_>>(),
                        "{at}: {who:?}"
                    );
                    assert_eq!(
                        name_of(&emu, created.unwrap_or_default()),
                        held.name,
                        "{at}: {who:?}"
                    );
                }
                Expect::Deleted(who) => {
                    let id = held(who).id;
                    assert!(
                        matches!(outcome, Outcome::Failed { message, .. } if message.starts_with(&format!("no Flowlu record {id}: deleted there"))),
                        "{at}: {who:?}: {outcome:?}"
                    );
                }
            }
        }
        let requested: Vec<(String, u64)> = step
            .requests
            .iter()
            .map(|(req, n)| {
                let path = match *req {
                    Req::List => LIST.to_string(),
                    Req::Create => CREATE.to_string(),
                    Req::Update(who) => update_path(held(who).id),
                };
                (path, *n)
            })
            .collect();
        let expected: Vec<(&str, u64)> = requested.iter().map(|(p, n)| (p.as_str(), *n)).collect();
        assert_eq!(requests_by_path(&emu.stats()), paths(&expected), "{at}: requests");
        if let Some((_, written)) = step.counts {
            assert_eq!(
                count(&emu) as i64 - before,
                written,
                "{at}: the count after the write"
            );
        }
        sent += n as u64;
    }
    if !scenario.steps.last().is_some_and(|s| s.end_input) {
        writing.finish(0).await;
    }
}

/// Every scenario of the table, each on its own stand-in.
#[tokio::test]
async fn staleness_scenarios() {
    let scenarios = scenarios();
    assert_eq!(scenarios.len(), 7);
    for scenario in &scenarios {
        run(scenario).await;
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
    let all = accounts_with_email(&emu);
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
        requests_by_path(&stats)
            .iter()
            .filter(|(p, _)| p == LIST || p == CREATE)
            .cloned()
            .collect::<Vec<_>>(),
        paths(&[(LIST, 4), (CREATE, 128)])
    );
    assert_eq!(stats.total, 4 + 128 + 22);
}
