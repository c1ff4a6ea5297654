//! `flowlu-connector probe` against the stand-in in each quirk mode, and against mockito for the
//! two forms of a rate refusal: what it reports, that it stays within its budget, that its
//! report holds no customer data, and that a report can be turned into facts about the
//! stand-in (`stand_in_contradictions`; a report from the stand-in itself contradicts nothing).
//!
//! To check a report from a real portal against the stand-in:
//! `PROBE_REPORT=report.json cargo test -p integration-tests --test it probe::a_saved_report -- --nocapture`
//! prints every contradiction and fails if there is any.

use std::collections::{BTreeMap, BTreeSet};

use connector_flowlu::testing::probe_report::{ErrorAnswer, GetVsList, Verdict};
use connector_flowlu::testing::MODELS;
use connector_flowlu::testing::{compare, plan_budget, ProbeReport, CURSOR_COLUMNS, WRONG_KEY};
use connector_flowlu::testing::{run_probe, ProbeArgs, PROBE_HELP};
use connector_runner::Env;
use flowlu_emulator::{ApiKey, Emulator, EmulatorConfig, Quirks, RateCap, Refusal, TotalField};
use integration_tests::probe::{probe_at, probe_stand_in, stand_in, Probed};
use integration_tests::{config_json, temp_json, CatchAll, CANARY_KEY};
use serde_json::{json, Value};

/// The requests of a probe whose first page size (1000) is answered, on a portal whose custom
/// field rows fit one page (the stand-in's 30).
fn all_but_smaller_page_sizes() -> usize {
    plan_budget(MODELS.len())
        - (connector_flowlu::testing::PAGE_SIZES.len() - 1)
        - (connector_flowlu::testing::CUSTOM_FIELD_PAGES - 1)
}

/// Every experiment's verdict: `page`, ..., `order_cursor:updated_date`, `filter_cursor:updated`.
fn verdicts(report: &ProbeReport) -> BTreeMap<String, String> {
    let paging = &report.paging;
    let verdict = |v: Option<&Verdict>| v.map_or("absent", |v| v.verdict.as_str()).to_string();
    let mut out: BTreeMap<String, String> = ["page", "order_asc", "order_desc", "filter_id"]
        .into_iter()
        .map(|k| (k.to_string(), verdict(paging.verdict(k))))
        .collect();
    for column in CURSOR_COLUMNS {
        let result = paging
            .cursors
            .iter()
            .flat_map(|c| &c.0)
            .find(|(c, _)| c == column)
            .map(|(_, r)| r);
        out.insert(
            format!("order_cursor:{column}"),
            verdict(result.and_then(|r| r.order_cursor.as_ref())),
        );
        out.insert(
            format!("filter_cursor:{column}"),
            verdict(result.and_then(|r| r.filter_cursor.as_ref())),
        );
    }
    out
}

/// The names the probe reports the stand-in's alias-named custom columns by, from the
/// stand-in's own `customfields/fields` rows: `<alias>` as `alias_of_cf_<id>`, a select
/// field's `<alias>_value` as `alias_of_cf_<id>_value` (aliases are customer text). Every
/// other column keeps its name.
fn reported_names(emu: &Emulator) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for row in emu.records("customfields", "fields") {
        let (Some(id), Some(alias)) = (row["id"].as_u64(), row["alias"].as_str()) else {
            continue;
        };
        if alias.is_empty() {
            continue;
        }
        out.insert(alias.to_string(), format!("alias_of_cf_{id}"));
        out.insert(format!("{alias}_value"), format!("alias_of_cf_{id}_value"));
    }
    out
}

fn reported<'a>(names: &'a BTreeMap<String, String>, column: &'a str) -> &'a str {
    names.get(column).map_or(column, String::as_str)
}

fn topics(report: &ProbeReport) -> BTreeSet<String> {
    report.differences.iter().map(|d| d.topic.clone()).collect()
}

/// Where a report contradicts the stand-in started with `config` (`emu` serves its records):
/// the facts a report from a real portal teaches about the stand-in. Empty for a report of
/// that stand-in.
fn stand_in_contradictions(report: &ProbeReport, config: &EmulatorConfig, emu: &Emulator) -> Vec<String> {
    let mut out = Vec::new();
    let q = &config.quirks;
    let cap = config
        .quirks
        .page_size_cap
        .map_or(config.max_page_size, |c| c.min(config.max_page_size)) as u64;
    let size = report.paging.page_size.as_ref();
    if let Some((largest, bound)) = size.and_then(|s| Some((s.largest_honoured?, &s.bound))) {
        let exact = bound == "exact";
        if (exact && largest != cap) || (!exact && largest > cap) {
            out.push(format!(
                "page size: the portal honours {largest} ({}), the stand-in caps at {cap}",
                json!(bound)
            ));
        }
    }
    for (key, verdict) in verdicts(report) {
        let ignored = match key.split(':').next().unwrap_or("") {
            "page" => q.ignore_page,
            "order_desc" | "order_cursor" => q.ignore_order_by,
            "filter_id" | "filter_cursor" => q.ignore_filters,
            _ => false,
        };
        let expected = if ignored { "ignored" } else { "honoured" };
        if (verdict == "honoured" || verdict == "ignored" || verdict == "refused") && verdict != expected {
            out.push(format!(
                "{key}: the portal {verdict} it, the stand-in has it {expected}"
            ));
        }
    }
    let totals = &report.totals;
    let (with_total, with_result) = (totals.models_with_total > 0, totals.models_with_total_result > 0);
    let stand_in = match q.total_field {
        TotalField::Total => (true, false),
        TotalField::TotalResult => (false, true),
        TotalField::Both => (true, true),
    };
    if (with_total || with_result) && (with_total, with_result) != stand_in {
        out.push(format!(
            "totals: the portal sends total {with_total} / total_result {with_result}, the stand-in {stand_in:?}"
        ));
    }
    // An answer as `(HTTP status, error code)`, `null` for what an accepted answer lacks;
    // `None` when not asked.
    let answered = |answer: Option<&ErrorAnswer>| match answer? {
        ErrorAnswer::Refused(r) => Some((json!(r.status), json!(r.error_code))),
        ErrorAnswer::Accepted { .. } => Some((Value::Null, Value::Null)),
        ErrorAnswer::NotRun(_) => None,
    };
    if let Some((status, code)) = answered(report.wrong_key.as_ref()) {
        if status != json!(config.bad_key_status) || code != json!(11) {
            out.push(format!(
                "wrong key: the portal answers HTTP {status} error {code}, the stand-in HTTP {} error 11",
                config.bad_key_status
            ));
        }
    }
    if let Some((status, code)) = answered(report.unknown_method.as_ref()) {
        if status != json!(200) || code != json!(30) {
            out.push(format!(
                "unknown method: the portal answers HTTP {status} error {code}, the stand-in HTTP 200 error 30"
            ));
        }
    }
    if report.rate_limit.met && config.rate_cap.is_none() {
        out.push(format!(
            "rate cap: the portal refused {} requests, the stand-in has no cap in this configuration",
            report.rate_limit.refusals.len()
        ));
    }
    let served: BTreeSet<(&str, &str)> = flowlu_emulator::models().into_iter().collect();
    let names = reported_names(emu);
    for entry in &report.models {
        let Some(model) = connector_flowlu::testing::model(&entry.stream) else {
            continue;
        };
        if !served.contains(&(model.module, model.model)) {
            out.push(format!(
                "{}: the stand-in does not serve this model",
                model.stream
            ));
            continue;
        }
        if entry.access != "readable" {
            continue;
        }
        let records = emu.records(model.module, model.model);
        let mut types: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for record in &records {
            for (k, v) in record.as_object().into_iter().flatten() {
                types.entry(reported(&names, k)).or_default().insert(json_type(v));
            }
        }
        let fields = entry
            .sample
            .as_ref()
            .map(|s| s.fields.clone())
            .unwrap_or_default();
        for (name, seen) in &fields {
            let Some(stand_in) = types.get(name.as_str()) else {
                out.push(format!(
                    "{}.{name}: served by the portal, not by the stand-in",
                    model.stream
                ));
                continue;
            };
            for t in seen.types.iter().map(String::as_str) {
                if !stand_in.contains(t) {
                    out.push(format!(
                        "{}.{name}: the portal sends {t}, the stand-in only {stand_in:?}",
                        model.stream
                    ));
                }
            }
        }
        if entry.sample.as_ref().is_some_and(|s| s.served > 0) {
            for name in types.keys().filter(|n| !fields.contains_key(**n)) {
                let everywhere = records.iter().all(|r| {
                    r.as_object()
                        .is_some_and(|o| o.keys().any(|k| reported(&names, k) == *name))
                });
                if everywhere {
                    out.push(format!(
                        "{}.{name}: served by the stand-in, not by the portal",
                        model.stream
                    ));
                }
            }
        }
    }
    out
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[tokio::test]
async fn a_report_from_the_stand_in_contradicts_nothing() {
    let (probed, emu) = probe_stand_in(stand_in(Quirks::default())).await;
    let report = &probed.report;
    assert_eq!(probed.code, 0, "{}", probed.stderr);
    let typed = &probed.typed;
    assert_eq!(typed.report_version, 2);
    assert_eq!(typed.connector_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(typed.outcome, "complete");
    assert_eq!(
        typed.requests.sent,
        all_but_smaller_page_sizes(),
        "every planned request ran but the smaller page sizes (1000 was answered)"
    );
    assert_eq!(typed.paging.model(), Some("crm_account"));
    assert_eq!(
        report["paging"]["page_size"],
        json!({"largest_honoured": 100, "bound": "exact", "asked": [{"limit": 1000, "served": 100, "total": 250}]})
    );
    assert!(
        verdicts(&probed.typed).values().all(|v| v == "honoured"),
        "{:?}",
        verdicts(&probed.typed)
    );
    assert_eq!(
        report["wrong_key"],
        json!({"status": 200, "error_code": 11, "connector_reads_it_as": "auth",
            "body_shape": {"error": {"error_code": "integer", "error_msg": "string"}}})
    );
    let unknown = typed
        .unknown_method
        .as_ref()
        .and_then(ErrorAnswer::refusal)
        .unwrap();
    assert_eq!(unknown.error_code, Some(30));
    assert_eq!(unknown.connector_reads_it_as, "unsupported");
    assert_eq!(report["rate_limit"], json!({"met": false, "refusals": []}));
    assert_eq!(typed.denied_modules, Vec::<String>::new());
    let readable = &typed.models;
    assert_eq!(readable.len(), MODELS.len());
    assert!(readable.iter().all(|m| m.access == "readable"));
    assert_eq!(typed.totals.models_with_total, MODELS.len() as u64);
    assert_eq!(typed.totals.wrong_on_a_complete_page, 0);
    // Every model's field names and types are exactly what the stand-in serves (alias-named
    // custom columns under the names the probe gives them).
    let names = reported_names(&emu);
    assert!(
        names.values().any(|n| n.ends_with("_value")),
        "the stand-in names select fields by alias"
    );
    for entry in readable {
        let model = connector_flowlu::testing::model(&entry.stream).unwrap();
        let records = emu.records(model.module, model.model);
        let sample = entry.sample.as_ref().unwrap();
        let served = sample.served as usize;
        assert_eq!(served, records.len().min(100), "{}", model.stream);
        let mut expected: BTreeMap<String, (BTreeSet<&str>, u64)> = BTreeMap::new();
        for record in records.iter().take(served) {
            for (k, v) in record.as_object().unwrap() {
                let e = expected.entry(reported(&names, k).to_string()).or_default();
                e.0.insert(json_type(v));
                e.1 += u64::from(v.as_str().is_some_and(|s| s.trim().is_empty()));
            }
        }
        let fields = &sample.fields;
        let seen: BTreeMap<String, (BTreeSet<&str>, u64)> = fields
            .iter()
            .map(|(k, f)| {
                let types = f.types.iter().map(String::as_str).collect();
                (k.clone(), (types, f.blank))
            })
            .collect();
        assert_eq!(seen, expected, "{}", model.stream);
        assert!(fields["id"].types == ["integer"], "{}", model.stream);
    }
    // Custom fields: each row joins, as the connector joins it (module and singular model),
    // exactly the stream whose stand-in records carry its column (cf_<id> or its alias).
    let custom = &typed.custom_fields;
    assert_eq!(custom.rows, emu.count("customfields", "fields"));
    let rows = &custom.fields;
    assert_eq!(rows.len(), emu.count("customfields", "fields"));
    for row in rows {
        let key = row.key.as_str();
        let carried: Vec<&str> = MODELS
            .iter()
            .filter(|m| {
                emu.records(m.module, m.model).iter().take(100).any(|r| {
                    r.as_object()
                        .unwrap()
                        .keys()
                        .any(|k| k == key || reported(&names, k) == format!("alias_of_{key}"))
                })
            })
            .map(|m| m.stream)
            .collect();
        assert_eq!(carried.len(), 1, "{key} is carried by one model: {carried:?}");
        assert_eq!(json!(row.joins_streams), json!(carried), "{row:?}");
        assert_eq!(json!(row.joined_by), json!("module_model"), "{row:?}");
        assert_eq!(json!(row.seen_in_streams), json!(carried), "{row:?}");
    }
    assert_eq!(report["differences"], json!([]), "{}", probed.stderr);
    assert!(compare(&probed.typed).is_empty());
    assert_eq!(
        stand_in_contradictions(&probed.typed, emu.config(), &emu),
        Vec::<String>::new()
    );
    assert!(probed.stderr.contains(&format!(
        "The probe sends at most {} read-only GET requests",
        plan_budget(MODELS.len())
    )));
    assert!(probed
        .stderr
        .contains("No difference from what the connector assumes."));
    for line in [
        "  page: honoured (page 2 held other records than page 1)\n",
        "  order by updated (on products_product): honoured (records came back in (cursor, id) order)\n",
        "  filter on updated_date (on crm_account): honoured (only matching records came back)\n",
    ] {
        assert!(probed.stderr.contains(line), "{line} in {}", probed.stderr);
    }
}

/// One quirk mode: the probe's verdicts and differences, and what the report contradicts in
/// the default stand-in.
struct QuirkCase {
    name: &'static str,
    config: EmulatorConfig,
    verdicts: &'static [(&'static str, &'static str)],
    differences: &'static [&'static str],
    contradictions: usize,
}

#[tokio::test]
async fn each_quirk_of_the_stand_in_is_reported() {
    let q = Quirks::default;
    let cases = [
        QuirkCase {
            name: "ignored order",
            config: stand_in(Quirks {
                ignore_order_by: true,
                ..q()
            }),
            verdicts: &[
                ("order_desc", "ignored"),
                ("order_cursor:updated_date", "ignored"),
                ("order_cursor:updated", "ignored"),
            ],
            differences: &["order_desc", "order_cursor:updated_date", "order_cursor:updated"],
            contradictions: 3,
        },
        QuirkCase {
            name: "ignored filters",
            config: stand_in(Quirks {
                ignore_filters: true,
                ..q()
            }),
            verdicts: &[
                ("filter_id", "ignored"),
                ("filter_cursor:updated_date", "ignored"),
                ("filter_cursor:updated", "ignored"),
            ],
            differences: &["filter_id", "filter_cursor:updated_date", "filter_cursor:updated"],
            contradictions: 3,
        },
        QuirkCase {
            name: "ignored page",
            config: stand_in(Quirks {
                ignore_page: true,
                ..q()
            }),
            verdicts: &[("page", "ignored")],
            differences: &["page"],
            contradictions: 1,
        },
        QuirkCase {
            name: "capped page",
            config: stand_in(Quirks {
                page_size_cap: Some(30),
                ..q()
            }),
            verdicts: &[],
            differences: &["page_size"],
            contradictions: 1,
        },
        QuirkCase {
            name: "larger pages",
            config: EmulatorConfig {
                max_page_size: 500,
                model_records: [("crm/account".to_string(), 600)].into(),
                ..stand_in(q())
            },
            verdicts: &[],
            differences: &["page_size"],
            contradictions: 1,
        },
        QuirkCase {
            name: "total_result only",
            config: stand_in(Quirks {
                total_field: TotalField::TotalResult,
                ..q()
            }),
            verdicts: &[],
            differences: &["totals"],
            contradictions: 1,
        },
        QuirkCase {
            name: "401 for a bad key",
            config: EmulatorConfig {
                bad_key_status: 401,
                ..stand_in(q())
            },
            verdicts: &[],
            differences: &[],
            contradictions: 1,
        },
    ];
    let default = Emulator::start(stand_in(q())).await.unwrap();
    for case in cases {
        let (probed, _emu) = probe_stand_in(case.config.clone()).await;
        let report = &probed.report;
        let name = case.name;
        assert_eq!(probed.code, 0, "{name}: {}", probed.stderr);
        assert_eq!(probed.typed.requests.sent, all_but_smaller_page_sizes(), "{name}");
        let mut expected: BTreeMap<String, String> = verdicts(&probed.typed)
            .keys()
            .map(|k| (k.clone(), "honoured".to_string()))
            .collect();
        for (k, v) in case.verdicts {
            expected.insert(k.to_string(), v.to_string());
        }
        assert_eq!(verdicts(&probed.typed), expected, "{name}");
        let want: BTreeSet<String> = case.differences.iter().map(|s| s.to_string()).collect();
        assert_eq!(topics(&probed.typed), want, "{name}: {}", report["differences"]);
        for d in report["differences"].as_array().unwrap() {
            assert!(
                probed.stderr.contains(d["connector_action"].as_str().unwrap()),
                "{name}: the summary lists {d}"
            );
        }
        // Against the default stand-in, the report contradicts exactly the quirk.
        let found = stand_in_contradictions(&probed.typed, default.config(), &default);
        assert_eq!(found.len(), case.contradictions, "{name}: {found:?}");
        // ... and the stand-in that produced it, nothing.
        assert_eq!(
            stand_in_contradictions(&probed.typed, &case.config, &_emu),
            Vec::<String>::new(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn page_sizes_and_the_bad_key_status_are_measured_exactly() {
    let (capped, _e1) = probe_stand_in(stand_in(Quirks {
        page_size_cap: Some(30),
        ..Quirks::default()
    }))
    .await;
    assert_eq!(
        capped.report["paging"]["page_size"],
        json!({"largest_honoured": 30, "bound": "exact", "asked": [{"limit": 1000, "served": 30, "total": 250}]})
    );
    let (large, _e2) = probe_stand_in(EmulatorConfig {
        max_page_size: 500,
        model_records: [("crm/account".to_string(), 600)].into(),
        ..stand_in(Quirks::default())
    })
    .await;
    assert_eq!(
        large.report["paging"]["page_size"],
        json!({"largest_honoured": 500, "bound": "exact", "asked": [{"limit": 1000, "served": 500, "total": 600}]})
    );
    let (result_only, _e3) = probe_stand_in(stand_in(Quirks {
        total_field: TotalField::TotalResult,
        ..Quirks::default()
    }))
    .await;
    assert_eq!(result_only.typed.totals.models_with_total, 0);
    assert_eq!(
        result_only.typed.totals.models_with_total_result,
        MODELS.len() as u64
    );
    let (bad_key, _e4) = probe_stand_in(EmulatorConfig {
        bad_key_status: 401,
        ..stand_in(Quirks::default())
    })
    .await;
    let wrong = bad_key
        .typed
        .wrong_key
        .as_ref()
        .and_then(ErrorAnswer::refusal)
        .unwrap();
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.error_code, Some(11));
    assert_eq!(wrong.connector_reads_it_as, "auth");
}

#[tokio::test]
async fn modules_the_key_cannot_read_are_listed() {
    let config = EmulatorConfig {
        keys: vec![ApiKey::limited(CANARY_KEY, ["crm", "task", "customfields"])],
        ..stand_in(Quirks::default())
    };
    let (probed, _emu) = probe_stand_in(config).await;
    let report = &probed.report;
    let denied: BTreeSet<&str> = MODELS
        .iter()
        .map(|m| m.module)
        .filter(|m| !["crm", "task", "customfields"].contains(m))
        .collect();
    assert_eq!(report["denied_modules"], json!(denied));
    for entry in report["models"].as_array().unwrap() {
        let model = connector_flowlu::testing::model(entry["stream"].as_str().unwrap()).unwrap();
        if denied.contains(model.module) {
            assert_eq!(entry["access"], json!("denied"), "{entry}");
            assert_eq!(entry["error"]["error_code"], json!(22));
        } else {
            assert_eq!(entry["access"], json!("readable"), "{entry}");
        }
    }
    assert!(probed
        .stderr
        .contains("Modules the key may not read (error 22): "));
}

#[tokio::test]
async fn a_rejected_key_stops_the_probe_after_one_request() {
    let emu = Emulator::start(EmulatorConfig {
        bad_key_status: 401,
        ..stand_in(Quirks::default())
    })
    .await
    .unwrap();
    let probed = probe_at(
        &emu.base_url(),
        json!({"name": "T", "account_domain": "acme", "api_key": "not-the-key"}),
        false,
    )
    .await;
    assert_eq!(probed.code, 1);
    assert_eq!(probed.typed.outcome, "stopped");
    assert_eq!(probed.typed.requests.sent, 1);
    assert_eq!(emu.stats().total, 1);
}

/// The stand-in's base URL... as mockito: a list of two records everywhere, error 11 for the
/// wrong key, error 30 for the unknown method, and `refusal` for `crm/lead/list`.
async fn rate_capped(refusal: (usize, &str, Option<&str>)) -> (Probed, usize) {
    lead_answered(refusal, config_json("acme")).await
}

/// [`rate_capped`] with any answer for `crm/lead/list` and any config.
async fn lead_answered(answer: (usize, &str, Option<&str>), config: Value) -> (Probed, usize) {
    let (status, body, retry_after) = answer;
    let mut server = mockito::Server::new_async().await;
    let wrong_key = server
        .mock("GET", "/api/v1/module/core/user/list")
        .match_query(mockito::Matcher::UrlEncoded("api_key".into(), WRONG_KEY.into()))
        .with_body(r#"{"error":{"error_code":11,"error_msg":"Authorization failed"}}"#)
        .expect(1)
        .create_async()
        .await;
    let mut rate = server
        .mock("GET", "/api/v1/module/crm/lead/list")
        .match_query(mockito::Matcher::Any)
        .with_status(status)
        .with_body(body);
    if let Some(secs) = retry_after {
        rate = rate.with_header("Retry-After", secs);
    }
    let rate = rate.expect(1).create_async().await;
    let unknown = server
        .mock("GET", mockito::Matcher::Regex("/probe_no_such_method$".into()))
        .match_query(mockito::Matcher::Any)
        .with_body(r#"{"error":{"error_code":30,"error_msg":"Unknown method"}}"#)
        .expect(1)
        .create_async()
        .await;
    let get = server
        .mock("GET", mockito::Matcher::Regex("/get/1$".into()))
        .match_query(mockito::Matcher::Any)
        .with_body(r#"{"response":{"id":1}}"#)
        .expect(1)
        .create_async()
        .await;
    // Models, page sizes (1000 is answered), asc, desc, page 2, filter[id], the order of each
    // cursor column (no cursor values: no cursor filter is sent): every list but the refused one.
    // ... and the count of an id range (`paging.id_ranges`; its cursor half needs two cursor
    // values, which these records lack).
    let lists_expected = MODELS.len() - 1 + 1 + 4 + CURSOR_COLUMNS.len() + 1;
    let lists = server
        .mock(
            "GET",
            mockito::Matcher::Regex("^/api/v1/module/[a-z_]+/[a-z_]+/list$".into()),
        )
        .match_query(mockito::Matcher::UrlEncoded("api_key".into(), CANARY_KEY.into()))
        .with_body(r#"{"response":{"total":2,"page":1,"count":2,"items":[{"id":1},{"id":2}]}}"#)
        .expect(lists_expected)
        .create_async()
        .await;
    let catch_all = CatchAll::register(&mut server).await;
    let probed = probe_at(&server.url(), config, false).await;
    let sent = probed.typed.requests.sent;
    assert_eq!(sent, lists_expected + 4, "{}", probed.report["paging"]);
    for mock in [&wrong_key, &rate, &unknown, &get, &lists] {
        mock.assert_async().await;
    }
    catch_all.assert().await;
    (probed, lists_expected)
}

#[tokio::test]
async fn a_rate_cap_met_is_reported_in_both_refusal_forms() {
    let (text, _) = rate_capped((429, "Too Many Requests", None)).await;
    let refusals = &text.report["rate_limit"]["refusals"];
    assert!(text.typed.rate_limit.met);
    assert_eq!(
        refusals,
        &json!([{"request": 3, "status": 429, "form": "http_429", "body_shape": "text", "headers": {},
            "retry_after_sent": false, "connector_reads_it_as": "rate_limited"}])
    );
    let lead = &text.typed.models[2];
    assert_eq!(lead.stream, "crm_lead");
    assert_eq!(lead.access, "rate_limited");
    assert!(topics(&text.typed).contains("rate_limit"));
    assert!(text.stderr.contains("Rate cap met: true"));
    // A model refused for the cap was not read: incomplete, and counted as refused for the
    // cap, not as unreadable.
    assert_eq!(text.code, 1);
    assert_eq!(
        (&text.report["outcome"], &text.report["outcome_reason"]),
        (
            &json!("incomplete"),
            &json!(format!(
                "1 of {} models could not be read: 1 refused for the account's rate cap (not a refusal of the model: probe again later)",
                MODELS.len()
            ))
        )
    );
    assert!(
        text.stderr.contains(&format!(
            "Models readable: {} of {}; refused for the rate cap: 1; unreadable: 0.",
            MODELS.len() - 1,
            MODELS.len()
        )),
        "{}",
        text.stderr
    );

    let (json_form, _) = rate_capped((200, r#"{"error":"Request rate per second exceeded"}"#, None)).await;
    let refusal = &json_form.report["rate_limit"]["refusals"][0];
    assert_eq!(refusal["status"], json!(200));
    assert_eq!(refusal["form"], json!("json_error_string"));
    assert_eq!(
        refusal["body_shape"],
        json!({"error": "string", "error_text": "Request rate per second exceeded"})
    );
    assert_eq!(refusal["retry_after_sent"], json!(false));
    let difference = json_form.report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["topic"] == "rate_limit")
        .unwrap();
    assert!(
        difference["observed"]
            .as_str()
            .unwrap()
            .starts_with("rate cap met: json_error_string, HTTP 200, Retry-After not sent"),
        "{difference}"
    );
}

/// The probe reads through the client's body cap: an answer over `max_page_megabytes` is not
/// read past the cap, its model is unreadable, and the probe is incomplete (exit 1).
#[tokio::test]
async fn an_answer_over_the_body_cap_is_cut_and_makes_the_probe_incomplete() {
    let mut config = config_json("acme");
    config["advanced"] = json!({"max_page_megabytes": 1});
    let huge = format!(
        r#"{{"response":{{"items":[{{"id":1,"x":"{}"}}]}}}}"#,
        "a".repeat(1 << 20)
    );
    let (probed, _) = lead_answered((200, &huge, None), config).await;
    assert_eq!(probed.code, 1);
    let lead = &probed.report["models"][2];
    assert_eq!(
        lead,
        &json!({"stream": "crm_lead", "access": "refused", "error": {"status": 0, "error_code": null,
            "body_shape": "over the body cap", "connector_reads_it_as": "oversized"}})
    );
    assert_eq!(
        (&probed.report["outcome"], &probed.report["outcome_reason"]),
        (
            &json!("incomplete"),
            &json!(format!(
                "1 of {} models could not be read: 1 answered with an error or an answer the connector cannot read (see each model's `error`)",
                MODELS.len()
            ))
        )
    );
    assert!(
        probed.stderr.contains(&format!(
            "Models readable: {} of {}; refused for the rate cap: 0; unreadable: 1.",
            MODELS.len() - 1,
            MODELS.len()
        )),
        "{}",
        probed.stderr
    );
}

/// Every alias of the portal's custom fields, beyond the first page of
/// `customfields/fields` too: with 250 rows (three pages) each is known and reported as
/// `alias_of_cf_<id>`; with 700 (more than the probe reads) none is reported by name either.
#[tokio::test]
async fn aliases_never_appear_however_many_pages_of_custom_fields() {
    for (rows, pages, all_read) in [(250_usize, 3_u64, true), (700, 5, false)] {
        let mut config = stand_in(Quirks::default());
        config
            .model_records
            .insert("customfields/fields".to_string(), rows);
        let (probed, emu) = probe_stand_in(config).await;
        let custom = &probed.report["custom_fields"];
        assert_eq!(
            (&custom["pages_read"], &custom["all_read"], &custom["rows"]),
            (
                &json!(pages),
                &json!(all_read),
                &json!((pages as usize * 100).min(rows))
            ),
            "{rows}"
        );
        let expected = plan_budget(MODELS.len())
            - (connector_flowlu::testing::PAGE_SIZES.len() - 1)
            - (connector_flowlu::testing::CUSTOM_FIELD_PAGES - pages as usize);
        assert_eq!(probed.typed.requests.sent, expected, "{rows}");
        let aliased: Vec<String> = emu
            .records("customfields", "fields")
            .iter()
            .filter(|row| row["api_use_alias"] == json!(1))
            .filter_map(|row| row["alias"].as_str().map(str::to_string))
            .collect();
        assert!(
            aliased.len() >= rows / 5,
            "{rows}: the stand-in names columns by alias"
        );
        assert!(
            aliased.iter().any(|a| a.ends_with("_104")),
            "{rows}: an alias beyond the first page"
        );
        for alias in &aliased {
            for (what, text) in [("report", &probed.stdout), ("summary", &probed.stderr)] {
                assert!(
                    !text.contains(alias.as_str()),
                    "{rows}: alias {alias} in the {what}"
                );
            }
        }
        let models = probed.report["models"].as_array().unwrap();
        let named_by_alias: usize = models
            .iter()
            .filter_map(|m| m["fields"].as_object())
            .map(|f| f.keys().filter(|k| k.starts_with("alias_of_cf_")).count())
            .sum();
        let counted: u64 = models.iter().filter_map(|m| m["other_keys"].as_u64()).sum();
        if all_read {
            assert!(
                named_by_alias > 0,
                "{rows}: aliased columns reported by their cf id"
            );
            assert_eq!(counted, 0, "{rows}");
        } else {
            assert!(counted > 0, "{rows}");
            // Rows past the fifth page: aliased columns are only counted.
        }
    }
}

#[tokio::test]
async fn a_rate_cap_of_the_stand_in_is_reported_in_both_refusal_forms_within_the_budget() {
    // A cap of one request every 20 s with a burst of one: the first request passes, every
    // later one of the run (well under 20 s at an interval of 0) is refused.
    for (refusal, status, form) in [
        (Refusal::TooManyRequests, 429, "http_429"),
        (Refusal::JsonError { status: 200 }, 200, "json_error_string"),
    ] {
        let config = EmulatorConfig {
            rate_cap: Some(RateCap {
                per_second: 0.05,
                burst: 1,
                refusal,
            }),
            ..stand_in(Quirks::default())
        };
        let (probed, emu) = probe_stand_in(config).await;
        let report = &probed.report;
        let refusals = report["rate_limit"]["refusals"].as_array().unwrap();
        assert_eq!(report["rate_limit"]["met"], json!(true), "{form}");
        assert_eq!(
            refusals.len() as u64,
            emu.stats().refused,
            "{form}: every refusal reported"
        );
        assert_eq!(
            emu.stats().refused + 1,
            emu.stats().total,
            "{form}: all but the first request refused"
        );
        assert_eq!(refusals[0]["status"], json!(status), "{form}");
        assert_eq!(refusals[0]["form"], json!(form), "{form}");
        assert_eq!(refusals[0]["retry_after_sent"], json!(false), "{form}");
        assert_eq!(
            refusals[0]["connector_reads_it_as"],
            json!("rate_limited"),
            "{form}"
        );
        assert!(topics(&probed.typed).contains("rate_limit"), "{form}");
        // The wrong key met the cap: no claim about how the portal answers a wrong key.
        let wrong = probed.typed.wrong_key.as_ref().and_then(ErrorAnswer::refusal);
        assert_eq!(
            wrong.and_then(|w| w.verdict.as_deref()),
            Some("inconclusive"),
            "{form}"
        );
        assert!(!topics(&probed.typed).contains("wrong_key"), "{form}");
    }
}

#[tokio::test]
async fn answers_refused_for_the_rate_cap_are_inconclusive_not_portal_answers() {
    // A burst of one request per model: the survey is answered, every later request of the
    // run (well under 20 s) is refused for the cap, the wrong-key check included.
    for (refusal, form) in [
        (Refusal::TooManyRequests, "http_429"),
        (Refusal::JsonError { status: 200 }, "json_error_string"),
    ] {
        let config = EmulatorConfig {
            rate_cap: Some(RateCap {
                per_second: 0.05,
                burst: MODELS.len() as u32,
                refusal,
            }),
            ..stand_in(Quirks::default())
        };
        let (probed, emu) = probe_stand_in(config).await;
        let report = &probed.report;
        let stats = emu.stats();
        assert_eq!(stats.total - stats.refused, MODELS.len() as u64, "{form}");
        let typed = &probed.typed;
        assert!(
            typed.models.iter().all(|m| m.access == "readable"),
            "{form}: {}",
            report["models"]
        );
        // The wrong key and the unknown method met the cap, not the portal's answer to them.
        for (key, answer) in [
            ("wrong_key", &typed.wrong_key),
            ("unknown_method", &typed.unknown_method),
        ] {
            let answer = answer.as_ref().and_then(ErrorAnswer::refusal).unwrap();
            assert_eq!(answer.verdict.as_deref(), Some("inconclusive"), "{form} {key}");
            assert_eq!(
                answer.why.as_deref(),
                Some("refused for the account's rate limit: the answer says nothing about what was asked"),
                "{form} {key}"
            );
            assert_eq!(answer.connector_reads_it_as, "rate_limited", "{form} {key}");
        }
        // Every experiment sent was refused for the cap: inconclusive, none "refused"; the
        // id filter and the get were not sent (no ids came back to build them from).
        let expected: BTreeMap<String, String> = verdicts(&probed.typed)
            .into_keys()
            .map(|k| (k, "inconclusive".to_string()))
            .collect();
        assert_eq!(verdicts(&probed.typed), expected, "{form}");
        let paging = &typed.paging;
        assert_eq!(
            paging.order_asc.as_ref().map(|v| v.why.as_str()),
            Some("refused for the account's rate limit: the answer says nothing about what was asked"),
            "{form}"
        );
        assert_eq!(
            paging.filter_id.as_ref().map(|v| v.why.as_str()),
            Some("fewer than two records with numeric ids to filter between"),
            "{form}"
        );
        let page_size = paging.page_size.as_ref().unwrap();
        assert_eq!(page_size.bound, "inconclusive", "{form}");
        assert_eq!(page_size.largest_honoured, None, "{form}");
        assert!(
            matches!(&typed.get_vs_list, Some(GetVsList::Verdict(v)) if v.verdict == "inconclusive"),
            "{form}"
        );
        // The only differences reported are the rate refusals themselves.
        assert_eq!(
            topics(&probed.typed),
            BTreeSet::from(["rate_limit".to_string()]),
            "{form}: {}",
            report["differences"]
        );
        assert_eq!(typed.rate_limit.refusals.len() as u64, stats.refused, "{form}");
        assert!(
            stats.refused >= 2,
            "{form}: the wrong key and the unknown method at least"
        );
    }
}

#[tokio::test]
async fn a_retry_after_and_rate_headers_are_reported_and_nothing_is_retried() {
    let mut server = mockito::Server::new_async().await;
    let _refused = server
        .mock("GET", mockito::Matcher::Any)
        .with_status(429)
        .with_header("Retry-After", "0")
        .with_header("X-RateLimit-Limit", "1")
        .with_header("X-RateLimit-Scope", &format!("key={CANARY_KEY}"))
        .with_header("X-RateLimit-Account", "acme")
        .with_body("Too Many Requests")
        .create_async()
        .await;
    let probed = probe_at(&server.url(), config_json("acme"), false).await;
    let refusals = probed.report["rate_limit"]["refusals"].as_array().unwrap();
    assert_eq!(
        refusals.len(),
        MODELS.len() + 1,
        "one refusal per model and the wrong key, no retry"
    );
    assert_eq!(
        refusals[0]["headers"],
        json!({"retry-after": 0, "x-ratelimit-limit": 1, "x-ratelimit-scope": "not_shown",
            "x-ratelimit-account": "not_shown"})
    );
    // A gateway header naming the key or the account: only its form is reported.
    for text in [&probed.stdout, &probed.stderr] {
        assert!(!text.contains(CANARY_KEY) && !text.contains("acme"), "{text}");
    }
    assert_eq!(refusals[0]["retry_after_sent"], json!(true));
    assert!(probed.typed.requests.sent <= plan_budget(MODELS.len()));
}

/// Standard base64, to look for the key in that encoding too.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn an_unreachable_portal_stops_the_probe_after_one_request() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let probed = probe_at(&url, config_json("acme"), false).await;
    assert_eq!(probed.code, 1);
    assert_eq!(probed.typed.outcome, "stopped");
    assert_eq!(probed.typed.requests.sent, 1);
}

#[tokio::test]
async fn the_report_holds_no_key_no_domain_and_no_value() {
    let key = "c4n/ary+k=y&x y%2F";
    let config = EmulatorConfig {
        keys: vec![ApiKey::all_modules(key)],
        ..stand_in(Quirks::default())
    };
    let emu = Emulator::start(config).await.unwrap();
    let cfg = json!({"name": "T", "account_domain": "zebracorp", "api_key": key});
    let probed = probe_at(&emu.base_url(), cfg.clone(), false).await;
    assert_eq!(probed.typed.outcome, "complete", "{}", probed.stderr);
    let encodings = [
        key.to_string(),
        serde_urlencoded::to_string([("k", key)]).unwrap()[2..].to_string(),
        key.replace('/', "%2F").replace(' ', "%20"),
        serde_json::to_string(key).unwrap(),
        base64(key.as_bytes()),
        base64(format!("api_key={key}").as_bytes()),
    ];
    for text in [&probed.stdout, &probed.stderr] {
        for enc in &encodings {
            assert!(!text.contains(enc.as_str()), "the key ({enc}) leaked");
        }
        assert!(!text.contains("zebracorp"), "the domain leaked");
    }
    // No string value of any record served (names, e-mails, texts, dates) is in the report,
    // Flowlu's own vocabulary aside (module and model names, custom field types).
    // Custom field rows name their model in the singular (`st`/`project`), as the connector
    // reads them.
    let vocabulary: BTreeSet<&str> = MODELS
        .iter()
        .flat_map(|m| [m.module, m.model, m.model.strip_suffix('s').unwrap_or(m.model)])
        .chain(["text", "number", "date", "select", "checkbox"])
        .collect();
    // A field set's `group_field` names a column of Flowlu's records (`type`): that value is
    // Flowlu's vocabulary too, and the report holds it as that column's name. No other value
    // may be the name the report gives a column (aliases are not: the report never names a
    // column by its alias).
    let records: Vec<Value> = flowlu_emulator::models()
        .into_iter()
        .flat_map(|(module, model)| emu.records(module, model))
        .collect();
    let names = reported_names(&emu);
    let columns: BTreeSet<&str> = records
        .iter()
        .flat_map(|r| r.as_object().unwrap().keys().map(|k| reported(&names, k)))
        .collect();
    let mut values = BTreeSet::new();
    for record in &records {
        for (k, v) in record.as_object().unwrap() {
            let Some(s) = v
                .as_str()
                .filter(|s| s.trim().len() >= 4 && !vocabulary.contains(s))
            else {
                continue;
            };
            if columns.contains(s) {
                assert_eq!(k, "group_field", "a value ({s}) that is a column name");
            } else {
                values.insert(s.to_string());
            }
        }
    }
    assert!(values.len() > 100, "the stand-in serves text values");
    for value in &values {
        let quoted = serde_json::to_string(value).unwrap();
        assert!(!probed.stdout.contains(&quoted), "a record value leaked: {value}");
        for text in [&probed.stdout, &probed.stderr] {
            assert!(
                value.len() < 8 || !text.contains(value.as_str()),
                "a record value leaked: {value}"
            );
        }
    }
    let with_domain = probe_at(&emu.base_url(), cfg, true).await;
    assert_eq!(
        with_domain.report["portal"],
        json!({"domain": "zebracorp.flowlu.com", "address": "loopback"})
    );
}

#[tokio::test]
async fn compare_reads_a_saved_report_and_sends_nothing() {
    let (probed, emu) = probe_stand_in(stand_in(Quirks {
        ignore_page: true,
        ..Quirks::default()
    }))
    .await;
    let sent = emu.stats().total;
    let file = temp_json(&probed.report);
    let path = file.path().to_str().unwrap();
    let run = integration_tests::run_cli(&["probe", "--compare", path], None, "").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let differences: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(differences, probed.report["differences"]);
    assert_eq!(differences[0]["topic"], json!("page"));
    assert_eq!(emu.stats().total, sent, "compare sends nothing");
    let not_a_report = temp_json(&json!({"report_version": 99}));
    let run = integration_tests::run_cli(
        &["probe", "--compare", not_a_report.path().to_str().unwrap()],
        None,
        "",
    )
    .await;
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
}

#[tokio::test]
async fn the_announcement_states_the_requests_and_the_time_before_the_first_request() {
    let mut server = mockito::Server::new_async().await;
    let refused = server
        .mock("GET", mockito::Matcher::Any)
        .with_body(r#"{"error":{"error_code":11,"error_msg":"Authorization failed"}}"#)
        .expect(1)
        .create_async()
        .await;
    let file = temp_json(&config_json("acme"));
    let args = ProbeArgs {
        config: Some(file.path().to_path_buf()),
        out: None,
        interval_ms: 2000,
        include_domain: false,
        compare: None,
    };
    let env = Env {
        base_url: Some(server.url()),
        stdout_is_terminal: false,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_probe(&args, &env, &mut out, &mut err).await;
    let err = String::from_utf8(err).unwrap();
    let budget = plan_budget(MODELS.len());
    let secs = (budget - 1) * 2;
    assert_eq!(
        err.lines().next().unwrap(),
        format!(
            "The probe sends at most {budget} read-only GET requests to the portal, one every 2.0 s: {} min {} s at least, plus the portal's answer times. It never creates, updates or deletes anything.",
            secs / 60,
            secs % 60
        )
    );
    assert_eq!(code, 1, "a rejected key stops the probe at once");
    refused.assert_async().await;
}

#[tokio::test]
async fn the_command_line_refuses_a_fast_interval_on_a_real_portal_and_explains_itself() {
    let file = temp_json(&config_json("acme"));
    let path = file.path().to_str().unwrap();
    let run =
        integration_tests::run_cli(&["probe", "--config", path, "--interval-ms", "200"], None, "").await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (2, ""),
        "refused before any request"
    );
    let run = integration_tests::run_cli(&["probe", "--help"], None, "").await;
    assert_eq!(run.code, 0);
    assert!(PROBE_HELP.contains(&format!(
        "at most {} read-only GET requests",
        plan_budget(MODELS.len())
    )));
    assert!(PROBE_HELP.contains(&format!("each cursor column ({}),", CURSOR_COLUMNS.join(", "))));
    // The README's section for users says the same.
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
    assert!(readme.contains(&format!("at most {} GET requests", plan_budget(MODELS.len()))));
    let columns: Vec<String> = CURSOR_COLUMNS.iter().map(|c| format!("`{c}`")).collect();
    assert!(readme.contains(&format!("for each cursor column ({}),", columns.join(", "))));
    // The stand-in over the real command line: the report on stdout, 0 on success.
    let emu = Emulator::start(stand_in(Quirks::default())).await.unwrap();
    let run = integration_tests::run_cli(
        &["probe", "--config", path, "--interval-ms", "0"],
        Some(&emu.base_url()),
        "",
    )
    .await;
    assert_eq!(run.code, 0);
    let report: ProbeReport = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report.outcome, "complete");
    assert_eq!(emu.stats().total, all_but_smaller_page_sizes() as u64);
}

/// `PROBE_REPORT=report.json` checks a report from a real portal against the default stand-in
/// (every contradiction printed, the test fails if there is any); without it, a report of the
/// default stand-in is checked, and contradicts nothing.
#[tokio::test]
async fn a_saved_report_against_the_stand_in() {
    let config = stand_in(Quirks::default());
    let emu = Emulator::start(config.clone()).await.unwrap();
    let report: ProbeReport = match std::env::var("PROBE_REPORT") {
        Ok(path) => serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap(),
        Err(_) => probe_at(&emu.base_url(), config_json("acme"), false).await.typed,
    };
    let found = stand_in_contradictions(&report, &config, &emu);
    for line in &found {
        println!("contradicts the stand-in: {line}");
    }
    for d in compare(&report) {
        println!("differs from the connector: {} ({})", d.topic, d.observed);
    }
    assert_eq!(found, Vec::<String>::new());
}
