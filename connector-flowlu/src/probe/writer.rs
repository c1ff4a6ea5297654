//! The report written from what the probe found ([`Probe::report`]): its outcome, the totals
//! against what was served, how each custom field joins, and the differences
//! ([`compare`](super::compare::compare)).

use super::compare::{compare, connector_field};
use super::plan::{REPORT_VERSION, SURVEY_LIMIT};
use super::report::{CustomFields, Portal, RateLimit, Report, Requests, Totals};
use super::session::Session;
use super::survey::Probe;

impl Probe {
    /// The report of this probe over `session`; `stopped` says why it stopped, if it did.
    pub(crate) fn report(&self, session: &Session, stopped: Option<&'static str>) -> Report {
        let target = &session.target;
        let (outcome, reason) = self.outcome(stopped);
        let page_cap = self.page_cap();
        let mut models = self.models.clone();
        for sample in models.iter_mut().filter_map(|entry| entry.sample.as_mut()) {
            sample.complete = Some(sample.served < page_cap);
        }
        let mut report = Report {
            report_version: REPORT_VERSION,
            connector_version: env!("CARGO_PKG_VERSION").into(),
            portal: Portal {
                domain: target.include_domain.then(|| target.domain.clone()),
                address: if target.client.is_loopback() {
                    "loopback"
                } else {
                    "flowlu"
                }
                .into(),
            },
            requests: Requests {
                budget: session.budget,
                sent: session.sent,
                interval_ms: u64::try_from(target.interval.as_millis()).unwrap_or(u64::MAX),
                method: "GET only (list, get, and one unknown method name)".into(),
            },
            outcome: outcome.into(),
            outcome_reason: reason,
            models,
            denied_modules: self.denied.iter().map(|m| m.to_string()).collect(),
            unsupported_streams: self.unsupported.iter().map(|s| s.to_string()).collect(),
            paging: self.paging.clone(),
            totals: self.totals(page_cap),
            wrong_key: self.wrong_key.clone(),
            unknown_method: self.unknown_method.clone(),
            get_vs_list: self.get_vs_list.clone(),
            rate_limit: RateLimit {
                met: !session.rate_refusals.is_empty(),
                refusals: session.rate_refusals.clone(),
            },
            custom_fields: self.custom_joins(),
            differences: Vec::new(),
        };
        report.differences = compare(&report);
        report
    }

    /// `complete`; `stopped` (and why) when the probe could not go on; `incomplete` (and why)
    /// when models it meant to read could not be read: those refused for the rate cap are
    /// counted apart from those the portal would not serve.
    fn outcome(&self, stopped: Option<&'static str>) -> (&'static str, Option<String>) {
        if let Some(why) = stopped {
            return ("stopped", Some(why.to_string()));
        }
        let count = |access: &str| self.models.iter().filter(|m| m.access == access).count();
        let (rate, unreadable) = (count("rate_limited"), count("refused"));
        if rate + unreadable == 0 {
            return ("complete", None);
        }
        let mut parts = Vec::new();
        if rate > 0 {
            parts.push(format!(
                "{rate} refused for the account's rate cap (not a refusal of the model: probe again later)"
            ));
        }
        if unreadable > 0 {
            parts.push(format!(
                "{unreadable} answered with an error or an answer the connector cannot read (see each model's `error`)"
            ));
        }
        let reason = format!(
            "{} of {} models could not be read: {}",
            rate + unreadable,
            self.models.len(),
            parts.join("; ")
        );
        ("incomplete", Some(reason))
    }

    /// The page size the survey pages were served with: a page shorter than it is the whole
    /// model.
    fn page_cap(&self) -> u64 {
        match &self.paging.page_size {
            Some(size) if size.bound == "exact" => size
                .largest_honoured
                .map_or(u64::from(SURVEY_LIMIT), |cap| cap.min(u64::from(SURVEY_LIMIT))),
            _ => u64::from(SURVEY_LIMIT),
        }
    }

    /// `total` and `total_result` against what was served.
    fn totals(&self, page_cap: u64) -> Totals {
        let mut out = Totals::default();
        for page in self.samples.values() {
            let served = page.items.len() as u64;
            let complete = served < page_cap;
            if page.total.is_some() {
                out.models_with_total += 1;
            }
            if page.total_result.is_some() {
                out.models_with_total_result += 1;
            }
            if let (Some(a), Some(b)) = (page.total, page.total_result) {
                out.models_with_both += 1;
                if a != b {
                    out.both_disagree += 1;
                }
            }
            for t in [page.total, page.total_result].into_iter().flatten() {
                if complete && t != served {
                    out.wrong_on_a_complete_page += 1;
                    break;
                }
                if t < served {
                    out.below_served += 1;
                    break;
                }
            }
        }
        out
    }

    /// How each custom field joins the records: where its `cf_<id>` key was seen.
    pub(crate) fn custom_joins(&self) -> CustomFields {
        let readable = self.samples.contains_key("customfields_fields");
        let rows: Vec<_> = self
            .custom_rows
            .iter()
            .map(|row| {
                let key = row.key.as_str();
                let found: Vec<String> = self
                    .fields
                    .iter()
                    .filter(|(_, f)| {
                        f.fields.contains_key(key) || f.fields.contains_key(&format!("alias_of_{key}"))
                    })
                    .map(|(s, _)| s.to_string())
                    .collect();
                let value_key = self.fields.values().any(|f| {
                    f.fields.contains_key(&format!("{key}_value"))
                        || f.fields.contains_key(&format!("alias_of_{key}_value"))
                });
                let (streams, joined_by) = match connector_field(row) {
                    Some((streams, _, by)) => (streams, Some(by.to_string())),
                    None => (Vec::new(), None),
                };
                let mut row = row.clone();
                row.joins_streams = Some(streams.iter().map(|s| s.to_string()).collect());
                row.joined_by = Some(joined_by);
                row.seen_in_streams = Some(found);
                row.value_key_seen = Some(value_key);
                row
            })
            .collect();
        CustomFields {
            readable,
            pages_read: self.custom_pages,
            all_read: self.naming.all_custom_fields,
            rows: rows.len(),
            fields: rows,
        }
    }
}
