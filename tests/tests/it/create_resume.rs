//! Create mode, resumed: the binary finds the records an earlier run created after the last
//! STATE the host received (`advanced.find_earlier_creates`, on by default), matching each
//! Flowlu record to one input record at most; turned off, every record is created.

use flowlu_emulator::Emulator;
use integration_tests::protocol::{record_message, state_message};
use integration_tests::stand_in::StandIn;
use integration_tests::write::{echoed, write_cli};
use serde_json::{json, Value};

fn record_line(name: &str) -> String {
    record_message("crm_account", json!({"name": name})).to_string()
}

fn state_line(n: u64) -> String {
    state_message("crm_account", json!({"n": n})).to_string()
}

/// Writes `names` (a STATE after every third record, counting from `from`) in create mode;
/// the exit code, the STATEs echoed, and `(outcome, id)` of every record in input order.
async fn write(
    emu: &Emulator,
    advanced: Value,
    names: &[String],
    from: u64,
) -> (i32, Vec<u64>, Vec<(String, String)>) {
    let config =
        json!({"name": "resume", "account_domain": "acme", "api_key": emu.api_key(), "advanced": advanced});
    let catalog = json!({"streams": [{
        "stream": {"name": "crm_account", "json_schema": {}},
        "sync_mode": "full_refresh", "destination_sync_mode": "append"
    }]});
    let mut stdin = vec![state_line(from)];
    for (i, name) in names.iter().enumerate() {
        stdin.push(record_line(name));
        let n = from + i as u64 + 1;
        if n.is_multiple_of(3) {
            stdin.push(state_line(n));
        }
    }
    let (run, mut lines) = write_cli(&emu.base_url(), &config, &catalog, "--outcomes-file", &stdin).await;
    lines.sort_by_key(|l| l["line"].as_u64());
    let outcomes = lines
        .iter()
        .map(|l| {
            (
                l["outcome"].as_str().unwrap().to_string(),
                l["id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    (run.code, echoed(&run), outcomes)
}

fn names(range: std::ops::Range<u64>) -> Vec<String> {
    range.map(|i| format!("Resumed {i}")).collect()
}

fn ids_of(outcomes: &[(String, String)]) -> Vec<String> {
    outcomes.iter().map(|(_, id)| id.clone()).collect()
}

/// An earlier run created records 0-5, and the host received only STATE 3 (as after a signal
/// during record 4): it sends records 3-8 again. The resumed write reads the newest records
/// once (before its first create), finds 3, 4 and 5 (`created` with the earlier run's ids,
/// nothing sent) and creates 6, 7 and 8: 1 read + 3 creates, no record twice. The same resume
/// with `find_earlier_creates` off creates all six: 3, 4 and 5 are then in Flowlu twice.
#[tokio::test]
async fn a_resumed_create_write_finds_the_earlier_runs_creates_unless_turned_off() {
    let emu = StandIn::new().records_per_model(2).accounts(0).start().await;
    let (code, states, earlier) = write(&emu, json!({}), &names(0..6), 0).await;
    assert_eq!((code, states), (0, vec![0, 3, 6]));
    assert!(earlier.iter().all(|(o, _)| o == "created"), "{earlier:?}");

    emu.reset_stats();
    let (code, states, resumed) = write(&emu, json!({}), &names(3..9), 3).await;
    assert_eq!((code, states), (0, vec![3, 6, 9]));
    assert!(resumed.iter().all(|(o, _)| o == "created"), "{resumed:?}");
    // 3, 4 and 5: the earlier run's records; 6, 7 and 8: new ones.
    assert_eq!(ids_of(&resumed)[..3], ids_of(&earlier)[3..]);
    let new: Vec<String> = ids_of(&resumed)[3..].to_vec();
    assert!(new.iter().all(|id| !ids_of(&earlier).contains(id)), "{new:?}");
    let stats = emu.stats();
    assert_eq!(
        stats.path_total("/api/v1/module/crm/account/list"),
        1,
        "{stats:?}"
    );
    assert_eq!(
        stats.path_total("/api/v1/module/crm/account/create"),
        3,
        "{stats:?}"
    );
    assert_eq!(stats.total, 4, "{stats:?}");
    assert_eq!(emu.count("crm", "account"), 9);

    // Turned off: no read, every record created.
    emu.reset_stats();
    let (code, _, off) = write(&emu, json!({"find_earlier_creates": false}), &names(3..9), 3).await;
    assert_eq!(code, 0);
    assert!(
        ids_of(&off).iter().all(|id| !ids_of(&resumed).contains(id)),
        "{off:?}"
    );
    let stats = emu.stats();
    assert_eq!(
        stats.path_total("/api/v1/module/crm/account/create"),
        6,
        "{stats:?}"
    );
    assert_eq!(stats.total, 6, "{stats:?}");
    assert_eq!(emu.count("crm", "account"), 15);
}

/// Identical records: each Flowlu record among the newest is taken for one input record at
/// most, the oldest first. Flowlu holds one "Twin"; an input of three "Twin" records finds
/// that one and creates two; the same input again finds all three (the same records sent run
/// after run are created once); an input of four then finds the three and creates one.
#[tokio::test]
async fn identical_records_find_each_earlier_record_once_and_the_rest_are_created() {
    let emu = StandIn::new().records_per_model(2).accounts(0).start().await;
    let twins = |n: usize| vec!["Twin".to_string(); n];
    let (_, _, first) = write(&emu, json!({}), &twins(1), 0).await;
    let held = |emu: &Emulator| {
        let mut ids: Vec<String> = emu
            .records("crm", "account")
            .iter()
            .filter(|r| r["name"] == "Twin")
            .map(|r| r["id"].to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(held(&emu), ids_of(&first));

    emu.reset_stats();
    let (code, _, three) = write(&emu, json!({}), &twins(3), 0).await;
    assert_eq!(code, 0);
    let mut ids = ids_of(&three);
    ids.sort();
    assert_eq!(ids, held(&emu));
    assert_eq!(held(&emu).len(), 3);
    assert!(ids_of(&three).contains(&ids_of(&first)[0]));
    let stats = emu.stats();
    assert_eq!(
        stats.path_total("/api/v1/module/crm/account/create"),
        2,
        "{stats:?}"
    );
    assert_eq!(stats.total, 3, "{stats:?}");

    emu.reset_stats();
    let (_, _, again) = write(&emu, json!({}), &twins(3), 0).await;
    let mut again = ids_of(&again);
    again.sort();
    assert_eq!(again, held(&emu));
    assert_eq!(emu.stats().total, 1, "the read only");

    emu.reset_stats();
    let (_, _, four) = write(&emu, json!({}), &twins(4), 0).await;
    assert_eq!(held(&emu).len(), 4);
    let mut four = ids_of(&four);
    four.sort();
    assert_eq!(four, held(&emu));
    assert_eq!(emu.stats().total, 2, "the read and one create");
}
