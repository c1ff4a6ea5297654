//! After a count that falls short (a second client deleted records during the write), each
//! record the index finds unchanged is verified; the write reads the whole model into its
//! index again instead when the model's pages cost fewer requests than the records of the
//! stream still to write. Exact outcomes, final data and requests; the write's clock is a
//! manual one (no sleeps).

use std::collections::HashMap;
use std::time::Duration;

use connector_core::{ConfiguredCatalog, Credential, Outcome, Record, Sink, SinkEvent, SinkInput};
use connector_flowlu::{FlowluCredential, FlowluSink, StalenessClock};
use flowlu_emulator::{Emulator, EmulatorConfig};
use futures::stream::BoxStream;
use futures::StreamExt;
use integration_tests::fast_limiter;
use integration_tests::stand_in::{accounts_with_email, requests_by_path};
use integration_tests::write::next_outcomes;
use serde_json::{json, Value};

const LIST: &str = "/api/v1/module/crm/account/list";
const CREATE: &str = "/api/v1/module/crm/account/create";
const W: u64 = 30;

type Events<'a> = BoxStream<'a, SinkEvent>;

fn record(data: Value) -> SinkInput {
    SinkInput::Record(Record {
        stream: "crm_account".into(),
        data,
    })
}

/// Upserts by e-mail every account of a stand-in of `size` accounts (all unchanged: the index
/// is read), then, past W, `again` of them (the first is refreshed and `unchanged`; the second
/// client then deletes accounts 1-3 and the clock passes W again, so the next decision counts
/// 3 fewer). The outcomes of the second batch, requests of the second batch by path, and the
/// stand-in.
async fn deleted_during_a_write(
    size: usize,
    again: usize,
) -> (
    Vec<(u64, Outcome)>,
    Vec<(String, u64)>,
    Vec<(u64, String, String)>,
    Emulator,
) {
    let emu = Emulator::start(EmulatorConfig {
        records_per_model: 3,
        model_records: HashMap::from([("crm/account".to_string(), size)]),
        ..Default::default()
    })
    .await
    .unwrap();
    let clock = StalenessClock::manual();
    let config = json!({"name": "reread", "account_domain": "acme", "api_key": emu.api_key(),
        "advanced": {"staleness_seconds": W,
            "write_rules": [{"stream": "crm_account", "mode": "upsert", "match_field": "email"}]}});
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url());
    let sink = FlowluSink::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(4, 3))
        .with_staleness_clock(clock.clone());
    let catalog: ConfiguredCatalog = serde_json::from_value(json!({"streams": [{
        "stream": {"name": "crm_account", "json_schema": {}},
        "sync_mode": "full_refresh", "destination_sync_mode": "append"
    }]}))
    .unwrap();
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let all = accounts_with_email(&emu);
    let outcomes = {
        let mut events: Events<'_> = sink.write(&catalog, rx.boxed());
        for (_, name, email) in &all {
            tx.unbounded_send(record(json!({"name": name, "email": email})))
                .unwrap();
        }
        let first = next_outcomes(&mut events, all.len()).await;
        assert!(first.iter().all(|(_, o)| matches!(o, Outcome::Unchanged { .. })));
        let gone: Vec<u64> = all[1..4].iter().map(|a| a.0).collect();
        // During the first refresh's 3 reads (the count, what others created, what they
        // edited), after the count: that refresh does not see them.
        emu.schedule(3, move |other| {
            for id in &gone {
                other.delete_record("crm", "account", *id).unwrap();
            }
        });
        clock.advance(Duration::from_secs(W + 1));
        emu.reset_stats();
        let send = |(_, name, email): &(u64, String, String)| {
            tx.unbounded_send(record(json!({"name": name, "email": email})))
                .unwrap();
        };
        // The first record's decision rests on that refresh (it ends within W of its start);
        // the clock then passes W again before the others arrive.
        send(&all[0]);
        let mut got = next_outcomes(&mut events, 1).await;
        clock.advance(Duration::from_secs(W + 1));
        all[1..again].iter().for_each(send);
        drop(tx);
        got.extend(next_outcomes(&mut events, again - 1).await);
        assert!(events.next().await.is_none());
        got
    };
    let requests = requests_by_path(&emu.stats());
    (outcomes, requests, all, emu)
}

/// The 3 accounts deleted are created again (one each), every other one is `unchanged`.
fn check_outcomes(got: &[(u64, Outcome)], all: &[(u64, String, String)], emu: &Emulator) {
    for (k, (_, outcome)) in got.iter().enumerate() {
        let (id, name, email) = &all[k];
        if (1..4).contains(&k) {
            let Outcome::Created { id: created } = outcome else {
                panic!("{email}: {outcome:?}");
            };
            let held: Vec<Value> = emu
                .records("crm", "account")
                .into_iter()
                .filter(|r| r["email"] == json!(email))
                .collect();
            assert_eq!(held.len(), 1, "{email}");
            assert_eq!(held[0]["id"].to_string(), *created);
            assert_eq!(held[0]["name"], json!(name));
        } else {
            assert_eq!(*outcome, Outcome::Unchanged { id: id.to_string() }, "{email}");
        }
    }
}

/// 40 accounts again (of the 128 with an e-mail), in a model of 150 accounts (147 after the
/// deletes: 2 pages of 100): after the count falls 3 short, 39 records are still to write, so the model is read again (2 pages) rather than
/// looked up record by record (up to 39 lookups). The 3 deleted ones are then absent from
/// the index and created; the 36 others `unchanged` without a request.
#[tokio::test]
async fn after_deletions_by_others_the_model_is_read_again_when_cheaper_than_lookups() {
    let (got, requests, all, emu) = deleted_during_a_write(150, 40).await;
    assert_eq!(all.len(), 128);
    assert_eq!(got.len(), 40);
    check_outcomes(&got, &all, &emu);
    // Two refreshes of 3 reads each (the count, what others created, what they edited), the
    // model read again (2 pages), 3 creates: 11 requests (without the read again: 6 + 39
    // lookups + 3 creates, 48).
    assert_eq!(requests, [(CREATE.to_string(), 3), (LIST.to_string(), 8)]);
}

/// 5 accounts again (of the 299 with an e-mail), in a model of 350 accounts (347 after the
/// deletes: 4 pages of 100): after the count falls 3 short, at most 4 records are still to
/// write, no more than the 4 pages: each record the
/// index finds unchanged is looked up (3 finding nothing, then created).
#[tokio::test]
async fn after_deletions_by_others_records_are_looked_up_when_fewer_than_the_pages() {
    let (got, requests, all, emu) = deleted_during_a_write(350, 5).await;
    assert_eq!(all.len(), 299);
    check_outcomes(&got, &all, &emu);
    // Two refreshes of 3 reads each, 4 lookups, 3 creates.
    assert_eq!(requests, [(CREATE.to_string(), 3), (LIST.to_string(), 10)]);
}
