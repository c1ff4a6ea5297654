//! What a write may say against a stand-in that fails, ignores filters or is interrupted: a
//! STATE is echoed only past records that ended for their own sake, a refusal of the whole
//! portal stops the stream's requests, a signal stops every request, and every record's outcome
//! (with the id Flowlu gave it) reaches the host.

use std::time::{Duration, Instant};

use connector_core::{ConfiguredCatalog, Credential, Sink, SinkEvent, SinkInput};
use connector_flowlu::{FlowluCredential, FlowluSink};
use flowlu_emulator::{Emulator, Faults, Latency, Quirks};
use futures::StreamExt;
use integration_tests::catalog::Stream;
use integration_tests::flowlu::account_input;
use integration_tests::protocol::{record_message, state_message, stream_state};
use integration_tests::stand_in::StandIn;
use integration_tests::write::{echoed, lines_of, traces, write_cli};
use integration_tests::{fast_limiter, run_cli, temp_json, Run};
use serde_json::{json, Value};

fn credential(emu: &Emulator, advanced: Value) -> FlowluCredential {
    let config =
        json!({"name": "truth", "account_domain": "acme", "api_key": emu.api_key(), "advanced": advanced});
    FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url())
}

/// A sink on the stand-in with `advanced` settings, its retries fast (3).
fn sink(emu: &Emulator, advanced: Value) -> FlowluSink {
    FlowluSink::from_credential(&credential(emu, advanced))
        .unwrap()
        .with_limiter(fast_limiter(4, 3))
}

/// Every answer HTTP 500: the upsert fails (transient) after its retries, the STATE after it
/// is not acknowledged, the one before it is; nothing is created.
#[tokio::test]
async fn an_outage_fails_the_record_and_withholds_the_state_after_it() {
    let emu = StandIn::new()
        .records_per_model(5)
        .faults(Faults {
            server_error_500: 1.0,
            ..Faults::none()
        })
        .start()
        .await;
    let sink = sink(&emu, json!({}));
    let catalog: ConfiguredCatalog = Stream::new("crm_account")
        .destination("append_dedup")
        .key("id")
        .configured();
    let input = vec![
        SinkInput::Checkpoint(stream_state("crm_account", json!({"n": 0}))),
        account_input(json!({"id": 1, "name": "Outage"})),
        SinkInput::Checkpoint(stream_state("crm_account", json!({"n": 1}))),
    ];
    let write = sink.prepare(&catalog).await.unwrap();
    let events: Vec<SinkEvent> = write.write(futures::stream::iter(input).boxed()).collect().await;
    let mut seen = Vec::new();
    for event in &events {
        match event {
            SinkEvent::Outcome(o) => {
                seen.push(format!("{} {:?}", o.outcome.kind(), o.outcome.resend_class()))
            }
            SinkEvent::CheckpointAck(s) => seen.push(format!("STATE {}", s["stream"]["stream_state"]["n"])),
            _ => {}
        }
    }
    assert_eq!(seen, ["STATE 0", "failed Some(\"transient\")"]);
    let stats = emu.stats();
    // The update and its 3 retries; never a create.
    assert_eq!(
        stats.path_total("/api/v1/module/crm/account/update/1"),
        4,
        "{stats:?}"
    );
    assert_eq!(stats.total, 4, "{stats:?}");
    assert_eq!(stats.path_total("/api/v1/module/crm/account/create"), 0);
    assert!(write.stopped().is_empty());
}

/// A portal that ignores the match field's filter: the first lookup proves it, the record
/// fails (system) and the stream stops: no other lookup, no create, no STATE after the first
/// record, a TRACE counting the records to send again, exit code 1.
#[tokio::test]
async fn a_portal_that_ignores_the_filter_stops_the_stream_after_one_lookup() {
    let emu = StandIn::new()
        .records_per_model(2)
        .accounts(2000)
        .quirks(Quirks {
            ignore_filters: true,
            ..Quirks::default()
        })
        .start()
        .await;
    let config = json!({"name": "truth", "account_domain": "acme", "api_key": emu.api_key()});
    let catalog = Stream::new("crm_account")
        .destination("append_dedup")
        .key("email")
        .json();
    let mut input = vec![state_message("crm_account", json!({"n": 0})).to_string()];
    for i in 1..=40u64 {
        input.push(
            record_message(
                "crm_account",
                json!({"name": format!("N{i}"), "email": format!("n{i}@example.com")}),
            )
            .to_string(),
        );
        if i % 10 == 0 {
            input.push(state_message("crm_account", json!({"n": i})).to_string());
        }
    }
    emu.reset_stats();
    let (run, rejected) = write_cli(&emu.base_url(), &config, &catalog, "--reject-file", &input).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(echoed(&run), [0]);
    let stats = emu.stats();
    let lists = stats.path_total("/api/v1/module/crm/account/list");
    // The one lookup that proved the filter ignored, and nothing after it.
    assert_eq!((lists, stats.total), (1, 1), "{stats:?}");
    assert_eq!(stats.path_total("/api/v1/module/crm/account/create"), 0);
    let kinds: Vec<&str> = rejected.iter().filter_map(|l| l["outcome"].as_str()).collect();
    assert_eq!(kinds.len(), 40);
    assert_eq!(kinds.iter().filter(|k| **k == "failed").count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "not_sent").count(), 39);
    assert_eq!(
        traces(&run),
        [
            (
                "system_error".to_string(),
                "40 record(s) did not end for their own sake and must be sent again: 1 failed for a reason outside the record (system), 39 not sent. No STATE after the first of them was echoed (for a per-stream STATE: the first of its stream), so the host sends them again from the last STATE it received: run the sync again once the cause is fixed.".to_string()
            ),
            (
                "system_error".to_string(),
                "Flowlu ignores the filter on `email` (record 0 showed it), so the stream's records were not written, to avoid duplicates. Writing crm_account stopped: no STATE after the first refused record was acknowledged, so the host sends the refused records again once this is fixed.".to_string()
            )
        ]
    );
}

/// `--outcomes-file`: one line per input record with its input line number, stream, outcome,
/// the id Flowlu gave it and the message.
#[tokio::test]
async fn the_outcomes_file_maps_every_input_line_to_its_outcome_and_flowlu_id() {
    let emu = StandIn::new().records_per_model(3).start().await;
    let config = json!({"name": "truth", "account_domain": "acme", "api_key": emu.api_key()});
    let catalog = Stream::new("crm_account")
        .destination("append_dedup")
        .key("id")
        .json();
    let before = emu.count("crm", "account");
    let input = [
        state_message("crm_account", json!({"n": 0})).to_string(),
        record_message("crm_account", json!({"name": "New one"})).to_string(),
        record_message("crm_account", json!({"id": 2, "name": "Renamed"})).to_string(),
        "{not a message".to_string(),
        record_message("crm_account", json!({"id": 999_999, "name": "Elsewhere"})).to_string(),
        state_message("crm_account", json!({"n": 1})).to_string(),
    ];
    let (run, mut lines) = write_cli(&emu.base_url(), &config, &catalog, "--outcomes-file", &input).await;
    assert_eq!(run.code, 1, "an unreadable line: {}", run.stdout);
    lines.sort_by_key(|l| l["line"].as_u64());
    let new_id = emu
        .records("crm", "account")
        .iter()
        .find(|r| r["name"] == "New one")
        .and_then(|r| r["id"].as_u64())
        .unwrap();
    assert_eq!(emu.count("crm", "account"), before + 1);
    assert_eq!(
        lines,
        [
            json!({"line": 2, "stream": "crm_account", "outcome": "created", "id": new_id.to_string(), "message": null}),
            json!({"line": 3, "stream": "crm_account", "outcome": "updated", "id": "2", "message": null}),
            json!({"line": 5, "stream": "crm_account", "outcome": "failed", "id": null,
                "message": "no Flowlu record 999999: deleted there, or an id from another system; to create records, use create mode or a match field"}),
        ]
    );
    // A record failed for its own content does not hold back the STATE after it.
    assert_eq!(echoed(&run), [0, 1]);
}

/// stdout for [`connector_runner::run_interruptible`] that fires SIGTERM as soon as `needle`
/// has been written (a STATE mid-run), noting when and how many requests the stand-in had
/// served then.
struct SignalOn<'e> {
    out: Vec<u8>,
    needle: String,
    trigger: Option<connector_runner::InterruptTrigger>,
    emu: &'e Emulator,
    fired: Option<(Instant, u64)>,
}

impl std::io::Write for SignalOn<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.extend_from_slice(buf);
        if self.trigger.is_some() && String::from_utf8_lossy(&self.out).contains(&self.needle) {
            self.fired = Some((Instant::now(), self.emu.stats().total));
            if let Some(trigger) = self.trigger.take() {
                trigger.fire(connector_runner::Signal::Terminate);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What one signalled run did.
struct Signalled {
    run: Run,
    /// Seconds from the signal to the end of the run.
    exit_after: Duration,
    /// Requests the stand-in served after the signal.
    requests_after: u64,
    rejected: Vec<Value>,
}

async fn write_signalled(
    emu: &Emulator,
    catalog: &Value,
    advanced: Value,
    input: &[String],
    signal_at: u64,
) -> Signalled {
    let config = temp_json(
        &json!({"name": "truth", "account_domain": "acme", "api_key": emu.api_key(), "advanced": advanced}),
    );
    let catalog = temp_json(catalog);
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
    let env = connector_runner::Env {
        base_url: Some(emu.base_url()),
        stdout_is_terminal: false,
    };
    let (trigger, interrupt) = connector_runner::Interrupt::manual();
    let mut out = SignalOn {
        out: Vec::new(),
        needle: format!(r#""stream_state":{{"n":{signal_at}}}"#),
        trigger: Some(trigger),
        emu,
        fired: None,
    };
    let stdin: connector_runner::Stdin = Box::new(std::io::Cursor::new(input.join("\n").into_bytes()));
    let code = connector_runner::run_interruptible::<connector_flowlu::Flowlu>(
        args.iter().map(std::ffi::OsString::from),
        &env,
        stdin,
        &mut out,
        interrupt,
    )
    .await;
    let (fired, served) = out.fired.expect("the signal fired mid-run");
    let stdout = String::from_utf8(out.out).unwrap();
    let messages = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    Signalled {
        run: Run {
            code,
            stdout,
            messages,
        },
        exit_after: fired.elapsed(),
        requests_after: emu.stats().total - served,
        rejected: lines_of(rejects.path()),
    }
}

/// SIGTERM mid-write at a 2 requests/s cap, in each mode: no request starts after it, the
/// records not sent are `not_sent` (in the reject file) and hold back every later STATE, the
/// run ends within 10 s with the signal's exit code; resuming from the last STATE echoed
/// duplicates nothing in update, upsert and create modes (the resumed creates are found among
/// the newest records), and deletes every record in delete mode.
#[tokio::test]
async fn a_signal_stops_every_request_and_a_resume_from_the_last_state_duplicates_nothing() {
    const RECORDS: u64 = 30;
    let mut slipped = Vec::new();
    for mode in ["update", "upsert", "delete", "create"] {
        let emu = StandIn::new()
            .records_per_model(2)
            .accounts(RECORDS as usize)
            // Answers slower than the pace: requests are on the wire when the signal comes.
            .latency(Latency {
                fixed_ms: 900,
                jitter_ms: 0,
            })
            .start()
            .await;
        let ids: Vec<u64> = emu
            .records("crm", "account")
            .iter()
            .filter_map(|r| r["id"].as_u64())
            .collect();
        let data = |i: u64| match mode {
            "update" => json!({"id": ids[i as usize], "name": format!("Signal {i}")}),
            "delete" => json!({"id": ids[i as usize]}),
            "upsert" => json!({"email": format!("signal{i}@example.com"), "name": format!("Signal {i}")}),
            _ => json!({"name": format!("Signal {i}")}),
        };
        let catalog = match mode {
            "update" | "delete" => Stream::new("crm_account")
                .destination("append_dedup")
                .key("id")
                .json(),
            "upsert" => Stream::new("crm_account")
                .destination("append_dedup")
                .key("email")
                .json(),
            _ => Stream::new("crm_account").destination("append").key("id").json(),
        };
        let advanced = match mode {
            "update" | "delete" => {
                json!({"requests_per_second": 2, "write_rules": [{"stream": "crm_account", "mode": mode}]})
            }
            _ => json!({"requests_per_second": 2}),
        };
        // STATE n follows the first n records.
        let lines = |from: u64| {
            let mut lines = vec![state_message("crm_account", json!({"n": from})).to_string()];
            for i in from..RECORDS {
                lines.push(record_message("crm_account", data(i)).to_string());
                if (i + 1) % 3 == 0 {
                    lines.push(state_message("crm_account", json!({"n": i + 1})).to_string());
                }
            }
            lines
        };
        let first = write_signalled(&emu, &catalog, advanced.clone(), &lines(0), 3).await;
        assert_eq!(first.run.code, 143, "{mode}: {}", first.run.stdout);
        assert!(
            first.exit_after < Duration::from_secs(10),
            "{mode}: {:?}",
            first.exit_after
        );
        // Requests already on the wire may arrive just after the signal: at most the 4 in flight.
        assert!(
            first.requests_after <= 4,
            "{mode}: {} requests after the signal",
            first.requests_after
        );
        let states = echoed(&first.run);
        let last = *states.last().unwrap();
        assert!((3..RECORDS).contains(&last), "{mode}: {states:?}");
        let not_sent: Vec<u64> = first
            .rejected
            .iter()
            .filter(|l| l["outcome"] == "not_sent")
            .filter_map(|l| l["sequence"].as_u64())
            .collect();
        assert!(!not_sent.is_empty(), "{mode}: {:?}", first.rejected);
        assert_eq!(
            first.rejected.len(),
            not_sent.len(),
            "{mode}: only records not sent are rejected: {:?}",
            first.rejected
        );
        // No STATE past a record that must be sent again.
        assert!(
            not_sent.iter().all(|s| *s >= last),
            "{mode}: STATE {last} echoed, not sent {not_sent:?}"
        );
        let trace = traces(&first.run);
        assert_eq!(trace.len(), 2, "{mode}: {trace:?}");
        assert_eq!(
            trace[0].1,
            format!("{} record(s) did not end for their own sake and must be sent again: {} not sent. No STATE after the first of them was echoed (for a per-stream STATE: the first of its stream), so the host sends them again from the last STATE it received: run the sync again once the cause is fixed.", not_sent.len(), not_sent.len())
        );
        assert!(
            trace[1].1.starts_with("The write was interrupted by SIGTERM"),
            "{trace:?}"
        );

        eprintln!(
            "{mode}: exit {:?} after the signal, {} request(s) after it, STATE {last} last echoed, {} not sent",
            first.exit_after,
            first.requests_after,
            not_sent.len()
        );
        emu.set_latency(Latency::default());
        let mut resume_advanced = advanced.clone();
        if let Some(advanced) = resume_advanced.as_object_mut() {
            advanced.remove("requests_per_second");
        }
        // The host resends every record after the last STATE it received.
        let resumed = run_cli(
            &[
                "write",
                "--config",
                // Resumed without the cap (it only slows the test down).
                temp_json(&json!({"name": "truth", "account_domain": "acme", "api_key": emu.api_key(), "advanced": resume_advanced}))
                    .path()
                    .to_str()
                    .unwrap(),
                "--catalog",
                temp_json(&catalog).path().to_str().unwrap(),
            ],
            Some(&emu.base_url()),
            &lines(last).join("\n"),
        )
        .await;
        assert_eq!(resumed.code, 0, "{mode}: {}", resumed.stdout);
        let records = emu.records("crm", "account");
        if mode == "delete" {
            assert!(records.is_empty(), "{mode}: {records:?}");
            continue;
        }
        for i in 0..RECORDS {
            let name = format!("Signal {i}");
            let holding = records.iter().filter(|r| r["name"] == name.as_str()).count();
            match mode {
                "create" => {
                    assert!(holding >= 1, "{mode}: {name} missing");
                    slipped.extend((1..holding).map(|_| i));
                }
                _ => assert_eq!(holding, 1, "{mode}: {name} held {holding} times"),
            }
        }
    }
    // In create mode, the records created after the last STATE echoed and before the signal
    // come again; the resumed write finds them among the model's newest records (the setting
    // `find_earlier_creates`, on by default) and creates none of them twice.
    assert_eq!(slipped, Vec::<u64>::new(), "duplicated in create mode");
    eprintln!(
        "create mode: {} record(s) created twice after the resume: {slipped:?}",
        slipped.len()
    );
}

/// Built `finding_earlier_creates`, before its first create a write reads the model's newest records (one page): an input
/// record equal in every field it sends to one of them is taken for an earlier run's create
/// (`created` with that id, not sent); one equal only to an older record, outside that page,
/// is a new record and is created.
#[tokio::test]
async fn a_create_equal_to_a_record_outside_the_newest_page_is_created() {
    let emu = StandIn::new().records_per_model(2).accounts(30).start().await;
    let mut portal = emu.records("crm", "account");
    portal.sort_by_key(|r| r["id"].as_u64());
    let name = |r: &Value| r["name"].as_str().unwrap_or_default().to_string();
    let (oldest, newest) = (&portal[0], &portal[portal.len() - 1]);
    let window: Vec<String> = portal[portal.len() - 10..].iter().map(name).collect();
    assert!(
        !window.contains(&name(oldest)),
        "the oldest name is outside the newest 10"
    );
    let sink = sink(&emu, json!({"page_size": 10})).finding_earlier_creates(true);
    let catalog: ConfiguredCatalog = Stream::new("crm_account")
        .destination("append")
        .key("id")
        .configured();
    let input = vec![
        account_input(json!({"name": name(oldest)})),
        account_input(json!({"name": name(newest)})),
    ];
    emu.reset_stats();
    let events: Vec<SinkEvent> = sink
        .write(&catalog, futures::stream::iter(input).boxed())
        .collect()
        .await;
    let mut outcomes: Vec<(u64, String)> = events
        .iter()
        .filter_map(|e| match e {
            SinkEvent::Outcome(o) => Some((o.sequence, format!("{:?}", o.outcome))),
            _ => None,
        })
        .collect();
    outcomes.sort();
    let created = emu
        .records("crm", "account")
        .iter()
        .filter_map(|r| r["id"].as_u64())
        .max()
        .unwrap();
    assert!(created > newest["id"].as_u64().unwrap());
    assert_eq!(
        outcomes,
        [
            (0, format!("Created {{ id: \"{created}\" }}")),
            (1, format!("Created {{ id: \"{}\" }}", newest["id"])),
        ]
    );
    assert_eq!(emu.count("crm", "account"), 31);
    let stats = emu.stats();
    // The newest page, read once, and the one create.
    assert_eq!(
        stats.path_total("/api/v1/module/crm/account/list"),
        1,
        "{stats:?}"
    );
    assert_eq!(
        stats.path_total("/api/v1/module/crm/account/create"),
        1,
        "{stats:?}"
    );
    assert_eq!(stats.total, 2, "{stats:?}");
}

/// A portal that refuses the filter on the match field (error 21 for any field but `id`): the
/// lookup that met it fails the record (system: no fault of the record) and the stream stops.
#[tokio::test]
async fn a_portal_that_refuses_the_filter_stops_the_stream_after_one_lookup() {
    let emu = StandIn::new()
        .records_per_model(2)
        .accounts(2000)
        .quirks(Quirks {
            refuse_filters_but_id: Some(21),
            ..Quirks::default()
        })
        .start()
        .await;
    let sink = sink(&emu, json!({}));
    let catalog: ConfiguredCatalog = Stream::new("crm_account")
        .destination("append_dedup")
        .key("email")
        .configured();
    let mut input = vec![SinkInput::Checkpoint(stream_state(
        "crm_account",
        json!({"n": 0}),
    ))];
    for i in 0..20u64 {
        input.push(account_input(
            json!({"name": format!("R{i}"), "email": format!("r{i}@example.com")}),
        ));
        if i % 5 == 4 {
            input.push(SinkInput::Checkpoint(stream_state(
                "crm_account",
                json!({"n": i + 1}),
            )));
        }
    }
    emu.reset_stats();
    let write = sink.prepare(&catalog).await.unwrap();
    let events: Vec<SinkEvent> = write.write(futures::stream::iter(input).boxed()).collect().await;
    let mut kinds = std::collections::BTreeMap::new();
    let mut acked = Vec::new();
    for event in &events {
        match event {
            SinkEvent::Outcome(o) => {
                *kinds
                    .entry(o.outcome.resend_class().unwrap_or("final"))
                    .or_insert(0) += 1
            }
            SinkEvent::CheckpointAck(s) => acked.extend(s["stream"]["stream_state"]["n"].as_u64()),
            _ => {}
        }
    }
    assert_eq!(acked, [0]);
    assert_eq!(kinds, [("not sent", 19), ("system", 1)].into());
    let stats = emu.stats();
    assert_eq!(stats.total, 1, "{stats:?}");
    let stopped = write.stopped();
    assert_eq!(stopped.len(), 1);
    assert_eq!(
        stopped[0].failure.message,
        "Flowlu refuses the filter on `email` (error 21) (record 0 showed it), so the stream's records were not written, to avoid duplicates."
    );
}

/// Creates applied before their answers were lost (every answer cut mid-body): each create is
/// in the stand-in once, looked for rather than sent again, and a record whose result cannot
/// be told is `unknown`, which holds back the STATE after it.
#[tokio::test]
async fn creates_whose_answers_are_lost_are_not_repeated_and_hold_back_later_states() {
    let emu = StandIn::new()
        .records_per_model(3)
        .faults(Faults {
            drop_mid_body: 1.0,
            ..Faults::none()
        })
        .start()
        .await;
    let sink = sink(&emu, json!({}));
    let catalog: ConfiguredCatalog = Stream::new("crm_account")
        .destination("append")
        .key("id")
        .configured();
    let before = emu.count("crm", "account");
    let input = vec![
        SinkInput::Checkpoint(stream_state("crm_account", json!({"n": 0}))),
        account_input(json!({"name": "Lost answer 1"})),
        SinkInput::Checkpoint(stream_state("crm_account", json!({"n": 1}))),
        account_input(json!({"name": "Lost answer 2"})),
        SinkInput::Checkpoint(stream_state("crm_account", json!({"n": 2}))),
    ];
    emu.reset_stats();
    let write = sink.prepare(&catalog).await.unwrap();
    let events: Vec<SinkEvent> = write.write(futures::stream::iter(input).boxed()).collect().await;
    let mut seen = Vec::new();
    for event in &events {
        match event {
            SinkEvent::Outcome(o) => seen.push(format!("{} {}", o.sequence, o.outcome.kind())),
            SinkEvent::CheckpointAck(s) => seen.push(format!("STATE {}", s["stream"]["stream_state"]["n"])),
            _ => {}
        }
    }
    seen.sort();
    assert_eq!(seen, ["0 unknown", "1 unknown", "STATE 0"]);
    // Each create applied once: never sent again while its result is unknown.
    assert_eq!(emu.count("crm", "account"), before + 2);
    let stats = emu.stats();
    assert_eq!(
        stats.path_total("/api/v1/module/crm/account/create"),
        2,
        "{stats:?}"
    );
}

/// Built `finding_earlier_creates`, what still slips through: a host resending more creates than the newest page holds. 15
/// creates, then the same 15 again with a page of 10: the 10 newest are found (`created` with
/// the first write's ids, not sent), the 5 oldest, outside the page, are created twice.
#[tokio::test]
async fn creates_resent_beyond_the_newest_page_are_created_again() {
    let emu = StandIn::new().records_per_model(2).accounts(0).start().await;
    let sink = sink(&emu, json!({"page_size": 10})).finding_earlier_creates(true);
    let catalog: ConfiguredCatalog = Stream::new("crm_account")
        .destination("append")
        .key("id")
        .configured();
    let input = || {
        (0..15)
            .map(|i| account_input(json!({"name": format!("Resent {i}")})))
            .collect::<Vec<_>>()
    };
    let ids = |events: Vec<SinkEvent>| {
        let mut ids: Vec<(u64, String)> = events
            .into_iter()
            .filter_map(|e| match e {
                SinkEvent::Outcome(o) => match o.outcome {
                    connector_core::Outcome::Created { id } => Some((o.sequence, id)),
                    other => panic!("record {}: {other:?}", o.sequence),
                },
                _ => None,
            })
            .collect();
        ids.sort();
        ids.into_iter().map(|(_, id)| id).collect::<Vec<_>>()
    };
    let first = ids(sink
        .write(&catalog, futures::stream::iter(input()).boxed())
        .collect()
        .await);
    emu.reset_stats();
    let again = ids(sink
        .write(&catalog, futures::stream::iter(input()).boxed())
        .collect()
        .await);
    assert_eq!(first.len(), 15);
    // The 10 newest are the first write's records 5-14, found; records 0-4 are created again.
    assert_eq!(again[5..], first[5..]);
    assert!(
        again[..5].iter().all(|id| !first.contains(id)),
        "{first:?} {again:?}"
    );
    assert_eq!(emu.count("crm", "account"), 20);
    let stats = emu.stats();
    assert_eq!(
        stats.path_total("/api/v1/module/crm/account/list"),
        1,
        "{stats:?}"
    );
    assert_eq!(
        stats.path_total("/api/v1/module/crm/account/create"),
        5,
        "{stats:?}"
    );
    assert_eq!(stats.total, 6, "{stats:?}");
}
