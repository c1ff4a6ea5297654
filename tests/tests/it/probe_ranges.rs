//! The probe reports the facts counting id ranges rests on (`paging.id_ranges`): that the
//! total of a list filtered by `filter[id]` counts the records it keeps, and that a cursor
//! filter applies beside it; against the stand-in as it is, and with each quirk that breaks
//! one of them.

use flowlu_emulator::Quirks;
use integration_tests::probe::{probe_stand_in, stand_in};
use serde_json::{json, Value};

/// The report's `paging.id_ranges` from a probe of the probe tests' stand-in with `quirks`
/// (within the budget, every request counted).
async fn id_ranges(quirks: Quirks) -> Value {
    let (probed, _emu) = probe_stand_in(stand_in(quirks)).await;
    assert_eq!(probed.report["paging"]["model"], json!("crm_account"));
    probed.report["paging"]["id_ranges"].clone()
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
