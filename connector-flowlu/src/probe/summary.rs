//! A report told for a person, on stderr ([`summary`]).

use serde_json::json;

use super::report::{Report, Verdict};

/// A readable summary of a report, for stderr.
pub(crate) fn summary(report: &Report) -> String {
    let mut s = String::new();
    let requests = &report.requests;
    s.push_str(&format!(
        "Flowlu portal probe (report version {}, connector {}): {}; {} of {} requests sent.\n",
        report.report_version,
        report.connector_version,
        match &report.outcome_reason {
            Some(why) => format!("{} ({why})", report.outcome),
            None => report.outcome.clone(),
        },
        requests.sent,
        requests.budget,
    ));
    let models = &report.models;
    let count = |access: &str| models.iter().filter(|m| m.access == access).count();
    s.push_str(&format!(
        "Models readable: {} of {}; refused for the rate cap: {}; unreadable: {}.\n",
        count("readable"),
        models.len(),
        count("rate_limited"),
        count("refused")
    ));
    if !report.denied_modules.is_empty() {
        s.push_str(&format!(
            "Modules the key may not read (error 22): {}.\n",
            report.denied_modules.join(", ")
        ));
    }
    let paging = &report.paging;
    if let Some(model) = paging.model() {
        let size = paging.page_size.as_ref();
        s.push_str(&format!(
            "Paging measured on {model}: largest page honoured {} ({}).\n",
            json!(size.and_then(|p| p.largest_honoured)),
            size.map_or("?", |p| p.bound.as_str())
        ));
        let line = |s: &mut String, name: &str, result: Option<&Verdict>| {
            if let Some(result) = result {
                s.push_str(&format!("  {name}: {} ({})\n", result.verdict, result.why));
            }
        };
        for key in ["page", "order_asc", "order_desc", "filter_id"] {
            line(&mut s, key, paging.verdict(key));
        }
        for (column, result) in paging.cursors.iter().flat_map(|c| &c.0) {
            let on = result.stream.as_deref().unwrap_or("no model");
            line(
                &mut s,
                &format!("order by {column} (on {on})"),
                result.order_cursor.as_ref(),
            );
            line(
                &mut s,
                &format!("filter on {column} (on {on})"),
                result.filter_cursor.as_ref(),
            );
        }
    }
    s.push_str(&format!("Wrong key answered with: {}\n", json!(report.wrong_key)));
    s.push_str(&format!("Rate cap met: {}\n", report.rate_limit.met));
    let differences = &report.differences;
    if differences.is_empty() {
        s.push_str("No difference from what the connector assumes.\n");
    } else {
        s.push_str(&format!(
            "{} differences from what the connector assumes:\n",
            differences.len()
        ));
        for d in differences {
            s.push_str(&format!(
                "  - {}: assumed {}; observed {}. The connector: {}.\n",
                d.topic, d.assumed, d.observed, d.connector_action,
            ));
        }
    }
    s
}
