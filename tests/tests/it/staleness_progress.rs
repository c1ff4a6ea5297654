//! Progress of a write whose refresh takes longer than the staleness bound W: at the pace of
//! the portal the refresh's pages end more than W after they began, so no decision may rest on
//! them; and when such a read begins (when the attempt that answered its first request was
//! sent, not when it was queued). The write's clock is a manual one that the stand-in moves on by one second as it
//! answers each API request (Flowlu's pace of about 1 request/s, in virtual time: no sleeps),
//! so every figure is exact.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use connector_core::{Credential, Outcome, Sink, SinkEvent};
use connector_flowlu::{FlowluCredential, FlowluSink, StalenessClock};
use flowlu_emulator::{Emulator, Faults};
use futures::StreamExt;
use integration_tests::catalog::Stream;
use integration_tests::fast_limiter;
use integration_tests::flowlu::account_input;
use integration_tests::stand_in::{accounts_portal, accounts_with_email, requests_by_path};
use integration_tests::write;
use serde_json::json;

const LIST: &str = "/api/v1/module/crm/account/list";
const CREATE: &str = "/api/v1/module/crm/account/create";

/// An upsert-by-email sink with `staleness_seconds = w` measured on `clock`, one request in
/// flight, 3 retries.
fn sink(emu: &Emulator, clock: &StalenessClock, w: u64) -> FlowluSink {
    sink_retrying(emu, clock, w, 3)
}

/// [`sink`] with `retries` retries of a request.
fn sink_retrying(emu: &Emulator, clock: &StalenessClock, w: u64, retries: usize) -> FlowluSink {
    let config = json!({"name": "progress", "account_domain": "acme", "api_key": emu.api_key(),
        "advanced": {"staleness_seconds": w, "max_concurrency": 1,
            "write_rules": [{"stream": "crm_account", "mode": "upsert", "match_field": "email"}]}});
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url());
    FlowluSink::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(1, retries))
        .with_staleness_clock(clock.clone())
}

/// The stand-in moves `clock` on by one second as it answers each of the next `n` API requests
/// (after serving it, before the answer is sent).
fn one_second_a_request(emu: &Emulator, clock: &StalenessClock, n: u64) {
    for k in 1..=n {
        let clock = clock.clone();
        emu.schedule(k, move |_| clock.advance(Duration::from_secs(1)));
    }
}

#[tokio::test]
async fn a_refresh_longer_than_the_bound_serves_no_decision_and_is_not_repeated_per_record() {
    // 128 accounts (of 150) written back unchanged by e-mail, W = 1 s, one second a request.
    // The probe (t 0-1) and the index's 2 pages (t 1-3) end 2 s after the read began: the first
    // decision refreshes (count, records created since, records edited since: t 3-6). While
    // the count is answered (t = 3) a second client deletes the first record's account; the
    // count had it, so the refresh finds nothing deleted, but it ended 3 s after it began: the
    // record is looked up (not found: created), not reported `unchanged` from reads begun 3 s
    // before the decision. The next decisions are looked up, with a refresh tried again after
    // 2, 4, 8, 16, 32 and 64 of them (each ends 3 s after its start: never used), so the write
    // makes progress at about one request a record. Before this rule every record paid a
    // refresh (3 requests) and was decided from it: the deleted account was reported
    // `unchanged`, and no record held its e-mail.
    let emu = accounts_portal(150).await;
    let clock = StalenessClock::manual();
    let sink = sink(&emu, &clock, 1);
    let catalog = Stream::new("crm_account").configured();
    let all: Vec<(u64, String, String)> = accounts_with_email(&emu);
    assert_eq!(all.len(), 128);
    let first = all[0].clone();
    emu.reset_stats();
    // Scheduled before the clock's steps: it lands as the 4th request (the count) is answered,
    // before the clock moves on to 4.
    emu.schedule(4, move |other| {
        other.delete_record("crm", "account", first.0).unwrap()
    });
    one_second_a_request(&emu, &clock, 1_000);
    let input = all
        .iter()
        .map(|(_, name, email)| account_input(json!({"name": name, "email": email})));
    let events: Vec<SinkEvent> = sink
        .write(&catalog, futures::stream::iter(input).boxed())
        .collect()
        .await;
    let outcomes = write::outcomes(events);
    let created: Vec<u64> = emu
        .records("crm", "account")
        .into_iter()
        .filter(|r| r["email"] == json!(all[0].2))
        .filter_map(|r| r["id"].as_u64())
        .collect();
    assert_eq!(
        created,
        [151],
        "the deleted account's e-mail is held by one new record"
    );
    let mut expected = vec![(0, Outcome::Created { id: "151".into() })];
    expected.extend(
        (1u64..).zip(
            all[1..]
                .iter()
                .map(|a| Outcome::Unchanged { id: a.0.to_string() }),
        ),
    );
    assert_eq!(outcomes, expected);
    // 3 (probe, index) + 6 refreshes (3 requests each, 5 for the one whose count fell short
    // and read the model again) + 128 lookups; 1 create.
    assert_eq!(
        requests_by_path(&emu.stats()),
        [(CREATE.to_string(), 1), (LIST.to_string(), 3 + 20 + 128)]
    );
    assert_eq!(clock.now(), Duration::from_secs(3 + 20 + 128 + 1));
}

#[tokio::test]
async fn a_read_before_creates_longer_than_the_bound_serves_no_create() {
    // 120 new records upserted by e-mail into 150 accounts, W = 1 s, one second a request. The
    // probe and the index's 2 pages end 2 s after the read began; every read of what others
    // created and edited since (2 requests) ends 2 s after it began too, so no create may rest
    // on it: each record is looked up (none holds its e-mail) and created, with a read tried
    // again after 2, 4, 8, 16, 32 and 64 records. Before this rule each record paid a read and
    // was created from it, 2 s old.
    let emu = accounts_portal(150).await;
    let clock = StalenessClock::manual();
    let sink = sink(&emu, &clock, 1);
    let catalog = Stream::new("crm_account").configured();
    emu.reset_stats();
    one_second_a_request(&emu, &clock, 1_000);
    let input = (0..120)
        .map(|i| account_input(json!({"name": format!("New {i}"), "email": format!("new.{i}@example.org")})));
    let events: Vec<SinkEvent> = sink
        .write(&catalog, futures::stream::iter(input).boxed())
        .collect()
        .await;
    let created = events
        .iter()
        .filter(|e| matches!(e, SinkEvent::Outcome(o) if matches!(o.outcome, Outcome::Created { .. })))
        .count();
    assert_eq!(created, 120);
    for i in 0..120 {
        let email = format!("new.{i}@example.org");
        let held = emu
            .records("crm", "account")
            .into_iter()
            .filter(|r| r["email"] == json!(email))
            .count();
        assert_eq!(held, 1, "{email}");
    }
    // 3 (probe, index) + 6 reads of 2 requests + 120 lookups; 120 creates.
    assert_eq!(
        requests_by_path(&emu.stats()),
        [(CREATE.to_string(), 120), (LIST.to_string(), 3 + 12 + 120)]
    );
}

#[tokio::test]
async fn a_refresh_counts_as_begun_when_its_answered_request_is_sent_not_when_queued() {
    // 128 accounts (of 150) written back unchanged by e-mail, W = 3 s, one second a request.
    // The probe (t 0-1) and the index's 2 pages (t 1-3, begun at 1); the last page is
    // answered 10 s late (t = 13), so the first decision refreshes. From then the portal
    // answers the next 4 requests 503 (unavailable): the refresh's count, queued at t = 13,
    // waits behind 4 failed attempts, longer than W, until t = 17, when the attempt that is
    // answered is sent. Its 3 requests (count, records created since, records edited since)
    // end at t = 20, 3 s after that: within W, so every decision rests on it, with no lookup.
    // Were the read's start taken when it was queued (t = 13), it would end 7 s after it began
    // (more than W): it would serve no decision, and the records would be looked up. (A 503,
    // not a 429: a refusal would slow the limiter's pace in real time; the rule is the same.)
    let emu = Arc::new(accounts_portal(150).await);
    let clock = StalenessClock::manual();
    let sink = sink_retrying(&emu, &clock, 3, 5);
    let catalog = Stream::new("crm_account").configured();
    let all: Vec<(u64, String, String)> = accounts_with_email(&emu);
    assert_eq!(all.len(), 128);
    emu.reset_stats();
    one_second_a_request(&emu, &clock, 1_000);
    let late = clock.clone();
    let unavailable = Arc::clone(&emu);
    // Scheduled after the clock's steps: they land once the 3rd request moved the clock to 3.
    emu.schedule(3, move |_| {
        late.advance(Duration::from_secs(10));
        unavailable.set_faults(Faults {
            unavailable_503: 1.0,
            ..Faults::default()
        });
    });
    let available = Arc::clone(&emu);
    emu.schedule(7, move |_| available.set_faults(Faults::default()));
    let input = all
        .iter()
        .map(|(_, name, email)| account_input(json!({"name": name, "email": email})));
    let events: Vec<SinkEvent> = sink
        .write(&catalog, futures::stream::iter(input).boxed())
        .collect()
        .await;
    let outcomes = write::outcomes(events);
    let expected: Vec<(u64, Outcome)> = (0u64..)
        .zip(all.iter().map(|a| Outcome::Unchanged { id: a.0.to_string() }))
        .collect();
    assert_eq!(outcomes, expected);
    // 3 (probe, index) + the count's 4 failed attempts + 3 (count, created since, edited
    // since): no lookup. A start taken at queue time would look up the records instead.
    let stats = emu.stats();
    assert_eq!(
        stats.by_path,
        BTreeMap::from([(LIST.to_string(), BTreeMap::from([(200, 6), (503, 4)]))]),
        "the refresh whose count waited behind 4 failed attempts served every decision: its start is when the attempt that answered was sent, not when it was queued"
    );
    assert_eq!(clock.now(), Duration::from_secs(20));
}
