//! Where a report differs from what this connector assumes (`docs/flowlu-api.md`) and from
//! its stream schemas ([`compare`]); run by the probe on its own report, and again on a saved
//! one (judged by the connector reading it, not the one that wrote it).

use serde_json::{json, Value};

use super::report::{CustomFieldRow, Difference, ErrorAnswer, Report, Totals, Verdict, NOT_RUN};
use crate::base::stream_schema::{schema_with, CustomField};
use crate::base::streams::CursorKind;

/// Where a report differs from what this connector assumes (`docs/flowlu-api.md`) and from
/// its stream schemas. A report of a portal that behaves as assumed yields nothing.
pub fn compare(report: &Report) -> Vec<Difference> {
    let mut out = Vec::new();
    compare_paging(report, &mut out);
    compare_errors(report, &mut out);
    compare_totals(&report.totals, &mut out);
    compare_schemas(report, &mut out);
    out
}

/// A custom field row of a report as the connector's `discover` reads it
/// ([`CustomField::from_record`]): the streams it joins, the field (an alias, where
/// `api_use_alias` is set, named `alias_of_cf_<id>` as the report names its column) and what it
/// joined by (`module_model`: the module and the singular or path model; else `fieldset_id`).
pub(crate) fn connector_field(
    row: &CustomFieldRow,
) -> Option<(Vec<&'static str>, CustomField, &'static str)> {
    let key = row.key.as_str();
    let id = key.strip_prefix("cf_")?;
    let mut record = json!({"id": id, "type": row.kind, "module": row.module, "model": row.model});
    if row.api_use_alias == Some(true) {
        record["api_use_alias"] = json!("1");
        record["alias"] = json!(format!("alias_of_{key}"));
    }
    if let Some((streams, field)) = CustomField::from_record(&record) {
        return Some((streams, field, "module_model"));
    }
    record["fieldset_id"] = json!(row.fieldset_id);
    CustomField::from_record(&record).map(|(streams, field)| (streams, field, "fieldset_id"))
}

fn compare_paging(report: &Report, out: &mut Vec<Difference>) {
    let paging = &report.paging;
    if let Some(size) = &paging.page_size {
        if let Some(largest) = size.largest_honoured {
            let exact = size.bound == "exact";
            if (exact && largest < 100) || largest > 100 {
                out.push(Difference::new(
                    "page_size",
                    "pages of 100 records are served as asked (the largest size other clients use)",
                    format!("largest page honoured: {largest} ({})", size.bound),
                    if largest < 100 {
                        "pages until a short or empty page whatever size is served; set advanced.page_size to the cap to save requests"
                    } else {
                        "keeps pages of 100 at most; larger pages would need fewer requests"
                    },
                ));
            }
        }
    }
    let checks: [(&str, &str, &str); 4] = [
        ("order_asc", "order_by[asc][]=id is honoured", "checks the order of what comes back and guards on the client"),
        ("order_desc", "order_by[desc][]=id is honoured", "reads in ascending order only; nothing changes"),
        ("page", "page is honoured", "detects repeated ids and switches to keyset paging on filter[id]; stops with an error if that is ignored too"),
        ("filter_id", "filter[id]={\"type\":\"more\",...} is honoured", "filters on the client too; a server ignoring both page and filter[id] cannot be read past page 1"),
    ];
    for (key, assumed, action) in checks {
        verdict_difference(key, paging.verdict(key), assumed, action, out);
    }
    let cursor_checks: [(&str, &str, &str); 2] = [
        ("order_cursor", "order_by[asc][] on the cursor column, then id, is honoured", "checks the order and compares (cursor, id) on the client; an incremental read then covers every page"),
        ("filter_cursor", "filter[<cursor>]={\"type\":\"more\",...} is honoured", "filters on the client, comparing (cursor, id): incremental reads stay correct but read every page"),
    ];
    for (column, result) in paging.cursors.iter().flat_map(|c| &c.0) {
        for (key, assumed, action) in cursor_checks {
            let verdict = match key {
                "order_cursor" => result.order_cursor.as_ref(),
                _ => result.filter_cursor.as_ref(),
            };
            verdict_difference(&format!("{key}:{column}"), verdict, assumed, action, out);
        }
    }
}

/// A difference when an experiment's verdict is `ignored` or `refused`.
fn verdict_difference(
    topic: &str,
    result: Option<&Verdict>,
    assumed: &str,
    action: &str,
    out: &mut Vec<Difference>,
) {
    let v = result.map_or(NOT_RUN, |r| r.verdict.as_str());
    if v == "ignored" || v == "refused" {
        let mut observed = v.to_string();
        if let Some(error) = result.and_then(|r| r.error.as_ref()) {
            match error.error_code {
                Some(code) => observed.push_str(&format!(" (error {code})")),
                None => observed.push_str(&format!(" (HTTP {})", error.status)),
            }
        }
        out.push(Difference::new(topic, assumed, observed, action));
    }
}

/// An answer that says how the portal answers what was asked: not a rate refusal, and asked.
fn conclusive(answer: Option<&ErrorAnswer>) -> bool {
    match answer {
        Some(ErrorAnswer::Refused(r)) => r.verdict.as_deref() != Some("inconclusive"),
        Some(ErrorAnswer::Accepted { .. }) => true,
        Some(ErrorAnswer::NotRun(_)) | None => false,
    }
}

/// `HTTP <status>, error <code>, read as <class>` (`null` for what an accepted answer lacks).
fn answered_as(answer: Option<&ErrorAnswer>) -> String {
    let refusal = answer.and_then(ErrorAnswer::refusal);
    format!(
        "HTTP {}, error {}, read as {}",
        refusal.map_or(Value::Null, |r| json!(r.status)),
        refusal.map_or(Value::Null, |r| json!(r.error_code)),
        refusal.map_or("accepted", |r| r.connector_reads_it_as.as_str())
    )
}

fn compare_errors(report: &Report, out: &mut Vec<Difference>) {
    let wrong = report.wrong_key.as_ref();
    let read_as_auth = wrong
        .and_then(ErrorAnswer::refusal)
        .is_some_and(|r| r.connector_reads_it_as == "auth");
    if conclusive(wrong) && !read_as_auth {
        out.push(Difference::new(
            "wrong_key",
            "a wrong key is answered with error 11 (HTTP 200) or HTTP 401/403",
            answered_as(wrong),
            "would not tell the user that the key is wrong: report this",
        ));
    }
    let unknown = report.unknown_method.as_ref();
    let code_30 = unknown
        .and_then(ErrorAnswer::refusal)
        .is_some_and(|r| r.error_code == Some(30));
    if conclusive(unknown) && !code_30 {
        out.push(Difference::new(
            "unknown_method",
            "an unknown method is answered with error 30",
            answered_as(unknown),
            "reports the stream as unsupported only on error 30/31",
        ));
    }
    for refusal in &report.rate_limit.refusals {
        let class = refusal.connector_reads_it_as.as_str();
        let (assumed, action) = if class == "rate_limited" {
            (
                "a rate refusal is HTTP 429 (Retry-After honoured when sent)",
                "retries with backoff and halves requests in flight",
            )
        } else {
            (
                "every rate refusal is recognised as one",
                "does not recognise this refusal as a rate cap: it is not retried; report this",
            )
        };
        out.push(Difference::new(
            "rate_limit",
            assumed,
            format!(
                "rate cap met: {}, HTTP {}, Retry-After {}, read as {class}",
                refusal.form,
                refusal.status,
                if refusal.retry_after_sent {
                    "sent"
                } else {
                    "not sent"
                }
            ),
            action,
        ));
    }
}

fn compare_totals(totals: &Totals, out: &mut Vec<Difference>) {
    if totals.models_with_total == 0 && totals.models_with_total_result > 0 {
        out.push(Difference::new(
            "totals",
            "lists carry `total` (documented)",
            "lists carry `total_result` only",
            "reads `total_result`; totals are only a cross-check",
        ));
    }
    for (n, what) in [
        (totals.both_disagree, "`total` and `total_result` disagree"),
        (
            totals.wrong_on_a_complete_page,
            "the total differs from the records of a complete page",
        ),
        (totals.below_served, "the total is below the records served"),
    ] {
        if n > 0 {
            out.push(Difference::new(
                "totals",
                "the total is the number of records",
                format!("{what} on {n} models"),
                "never stops on a total while the last page was full",
            ));
        }
    }
}

/// JSON types a schema property allows, as the report names them.
fn allows(schema: &Value, seen: &str) -> bool {
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return true,
    };
    types.contains(&seen) || (seen == "integer" && types.contains(&"number"))
}

fn compare_schemas(report: &Report, out: &mut Vec<Difference>) {
    // Each custom field row as this version of the connector joins it (not as the report
    // says: a saved report is judged by the connector reading it).
    let custom: Vec<(Vec<&'static str>, CustomField)> = report
        .custom_fields
        .fields
        .iter()
        .filter_map(|row| connector_field(row).map(|(streams, field, _)| (streams, field)))
        .collect();
    let none = std::collections::BTreeMap::new();
    for entry in &report.models {
        let Some(model) = crate::base::streams::model(&entry.stream) else {
            continue;
        };
        if entry.access != "readable" {
            continue;
        }
        let fields = entry.sample.as_ref().map_or(&none, |s| &s.fields);
        let own: Vec<CustomField> = custom
            .iter()
            .filter(|(streams, _)| streams.contains(&model.stream))
            .map(|(_, field)| field.clone())
            .collect();
        let schema = schema_with(model, &own);
        let properties = schema["properties"].as_object().cloned().unwrap_or_default();
        for (name, property) in &properties {
            let Some(seen) = fields.get(name) else {
                continue;
            };
            let bad: Vec<&str> = seen
                .types
                .iter()
                .map(String::as_str)
                .filter(|t| {
                    !allows(property, t)
                        && !crate::base::stream_schema::shaped_from_text(model.stream, name, property, t)
                })
                .collect();
            if !bad.is_empty() {
                out.push(Difference::new(
                    format!("schema:{}.{name}", model.stream),
                    "the stream schema's types",
                    format!("JSON types {} seen", bad.join(", ")),
                    "passes records on as sent; a destination validating against the schema may refuse them: report this",
                ));
            }
            // Every date is declared with its format; a blank or zero date is passed on as
            // null, so only the stamps Flowlu always sets (the cursors) must never be one.
            let want = match property["format"].as_str() {
                Some("date-time") => Some("datetime"),
                Some("date") => Some("date"),
                _ => None,
            };
            if let Some(want) = want {
                let odd: Vec<&str> = seen
                    .string_shapes
                    .iter()
                    .map(String::as_str)
                    .filter(|s| *s != want)
                    .filter(|s| {
                        crate::base::stream_schema::is_stamp(name)
                            || !matches!(*s, "blank" | "zero_date" | "zero_datetime")
                    })
                    .collect();
                if !odd.is_empty() {
                    out.push(Difference::new(
                        format!("format:{}.{name}", model.stream),
                        "a field declared with a date format is always set (only the stamps Flowlu sets on every record are)",
                        format!("string shapes {} seen", odd.join(", ")),
                        "passes records on as sent; a typed destination may refuse the value in a timestamp column (PyAirbyte's DuckDB cache fails the stream): report this",
                    ));
                }
            }
        }
        let served = entry.sample.as_ref().map_or(0, |s| s.served);
        if let Some((column, kind)) = model.cursor.filter(|_| served > 0) {
            match fields.get(column) {
                None => out.push(Difference::new(
                    format!("cursor:{}.{column}", model.stream),
                    "records carry the cursor column",
                    "not seen in any record",
                    "cannot read this stream incrementally: records without a cursor sort first; report this",
                )),
                Some(seen) if kind == CursorKind::Timestamp => {
                    let odd: Vec<&str> = seen
                        .string_shapes
                        .iter()
                        .map(String::as_str)
                        .filter(|s| !["datetime", "date", "blank"].contains(s))
                        .collect();
                    if !odd.is_empty() {
                        out.push(Difference::new(
                            format!("cursor:{}.{column}", model.stream),
                            "cursor values are YYYY-MM-DD HH:mm:ss (or blank)",
                            format!("string shapes {} seen", odd.join(", ")),
                            "compares cursors as text: zero dates sort first, other forms may sort wrongly",
                        ));
                    }
                }
                Some(_) => {}
            }
        }
    }
    for row in &report.custom_fields.fields {
        let joined = connector_field(row)
            .map(|(streams, _, _)| streams)
            .unwrap_or_default();
        let seen = row.seen_in_streams.as_deref().unwrap_or_default();
        if let Some(stream) = seen.iter().find(|s| !joined.contains(&s.as_str())) {
            out.push(Difference::new(
                format!("custom_field:{}", row.key),
                "a custom field's row names the model of the records that carry it (module and singular model, else fieldset_id)",
                format!("seen in {stream}, but its row names another model"),
                "passes the column on as sent but does not describe it in the stream schema",
            ));
        }
    }
}
