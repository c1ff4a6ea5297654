//! The probe reports the facts counting id ranges rests on (`paging.id_ranges`): that the
//! total of a list filtered by `filter[id]` counts the records it keeps, and that a cursor
//! filter applies beside it; against the stand-in as it is, and with each quirk that breaks
//! one of them.

use connector_flowlu::testing::{plan_budget, run_probe, ProbeArgs, MODELS};
use connector_runner::Env;
use flowlu_emulator::{ApiKey, Emulator, EmulatorConfig, Quirks};
use integration_tests::{config_json, temp_json, CANARY_KEY};
use serde_json::{json, Value};

/// The stand-in of the probe tests: 250 accounts (the paging model), 60 products.
fn stand_in(quirks: Quirks) -> EmulatorConfig {
    EmulatorConfig {
        records_per_model: 8,
        model_records: [
            ("crm/account".to_string(), 250),
            ("products/product".to_string(), 60),
        ]
        .into(),
        keys: vec![ApiKey::all_modules(CANARY_KEY)],
        quirks,
        ..EmulatorConfig::default()
    }
}

/// The report's `paging.id_ranges` from a probe of a stand-in with `quirks`.
async fn id_ranges(quirks: Quirks) -> Value {
    let emu = Emulator::start(stand_in(quirks)).await.unwrap();
    let file = temp_json(&config_json("acme"));
    let args = ProbeArgs {
        config: Some(file.path().to_path_buf()),
        out: None,
        interval_ms: 0,
        include_domain: false,
        compare: None,
    };
    let env = Env {
        base_url: Some(emu.base_url()),
        stdout_is_terminal: false,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    run_probe(&args, &env, &mut out, &mut err).await;
    let report: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["paging"]["model"], json!("crm_account"));
    assert_eq!(emu.stats().total, report["requests"]["sent"].as_u64().unwrap());
    assert!(emu.stats().total <= plan_budget(MODELS.len()) as u64);
    report["paging"]["id_ranges"].clone()
}

fn verdict(verdict: &str, why: &str) -> Value {
    json!({"verdict": verdict, "why": why})
}

#[tokio::test]
async fn the_stand_in_counts_id_ranges_and_filters_the_cursor_beside_them() {
    assert_eq!(
        id_ranges(Quirks::default()).await,
        json!({
            "count": verdict("honoured", "the total counts the records the filter keeps"),
            "with_cursor": verdict("honoured", "only matching records came back"),
        })
    );
}

#[tokio::test]
async fn a_portal_ignoring_filters_or_lying_about_totals_is_reported() {
    let ignored = id_ranges(Quirks {
        ignore_filters: true,
        ..Quirks::default()
    })
    .await;
    assert_eq!(
        ignored,
        json!({
            "count": verdict("ignored", "a record at or below the id came back: filter[id] is ignored"),
            "with_cursor": verdict("ignored", "records outside the filter came back"),
        })
    );
    let lying = id_ranges(Quirks {
        lying_total: Some(7),
        ..Quirks::default()
    })
    .await;
    assert_eq!(
        lying["count"],
        verdict(
            "ignored",
            "the total counts every record, not those the filter keeps"
        )
    );
    assert_eq!(lying["with_cursor"]["verdict"], json!("honoured"));
}
