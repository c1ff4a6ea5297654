//! The portal probe: a fixed, bounded set of read-only requests that measures every
//! assumption the connector makes about a Flowlu portal (`docs/flowlu-api.md`), and a
//! report that identifies none of the customer's data.
//!
//! * **Read-only by construction**: a [`Request`] holds a [`ReadMethod`] (`list`, `get`, or
//!   one deliberately unknown method name), so a probe cannot express a create, update or
//!   delete; requests are GETs without a body.
//! * **Bounded**: [`plan_budget`] requests at most, enforced by [`Session`] (a request past the
//!   budget is never sent); the count and the time it takes are known before the first request.
//! * **Paced**: one request per interval ([`DEFAULT_INTERVAL`], at least [`MIN_INTERVAL`] on a
//!   real portal); after a rate refusal the interval doubles (or follows `Retry-After`). The
//!   probe never retries and never tries to provoke the rate cap.
//! * **Private**: the report holds field names, JSON types, string shapes (`blank`,
//!   `datetime`, ...), counts and Flowlu's error codes; never a value, a name, an e-mail, a
//!   record id, an error text (it may echo what was sent), the key in any encoding, or the
//!   account domain (unless asked). Custom fields appear as their `cf_<id>` column keys and
//!   `fieldset_id`s (ids of the portal's field configuration, needed to show how fields join,
//!   not ids of records); their labels and aliases are
//!   customer-chosen text and are never reported: a record key equal to an alias is reported
//!   as `alias_of_cf_<id>` (a select field's `<alias>_value` as `alias_of_cf_<id>_value`).
//!   Every page of custom field rows is read first (up to [`CUSTOM_FIELD_PAGES`]), so every
//!   alias is known; when they cannot all be read (more rows than that, or a refusal), a
//!   record key is named only when the stream schema declares it or it is a `cf_<id>` key. Record keys that are not plain
//!   identifiers (and those) are only counted. Rate headers are reported as numbers or as one
//!   of [`session::HEADER_FORMS`], never as their text. Each custom field row says
//!   which streams it joins as the connector's `discover` joins it (module and singular model,
//!   else `fieldset_id`) and in which streams its column was seen.
//!
//! The probe sends through the connector's own [`crate::Client`] ([`Session`]): its body cap,
//! its resolver (a name that does not resolve stops the probe as no portal), its timeouts, no
//! redirects. It takes the answer undecoded, because it must see what the client deliberately
//! hides (the HTTP status and headers of an error, the shape of its body); each answer is then
//! read by the connector's own decoder (with the client's key redacted and its value budget),
//! so the report says what the connector makes of it.
//!
//! The outcome is `complete`; `incomplete` when models it meant to read could not be read
//! (`outcome_reason` counts those refused for the rate cap apart from those the portal would
//! not serve); or `stopped` (a rejected key, no portal, an unreachable one).
//!
//! The report (`report_version` 2; [`compare`](fn@compare) reads version 1 too) is a [`Report`], written as
//! a JSON object with these members: `report_version`, `connector_version`, `portal`, `requests`, `outcome`,
//! `outcome_reason`, `models`, `denied_modules`,
//! `unsupported_streams`, `paging` (with `page_size`, and `id_ranges`: whether a range of ids is
//! counted by a filtered list's total, and the cursor filter applies beside `filter[id]`), `totals`, `wrong_key`,
//! `unknown_method`, `get_vs_list`, `rate_limit`, `custom_fields` and `differences` (what
//! [`compare`](fn@compare) finds: where the portal differs from what the connector assumes, and what the
//! connector does about it). [`compare`](fn@compare) can be run again on a saved report.
//!
//! One idea a file: [`plan`] (what is sent, the budget), [`session`] (the requests, sent
//! through the client), [`privacy`] (answers described without values), [`survey`] (one page
//! of every model), [`experiments`] (the paging, order, filter and error experiments),
//! [`report`] (the report's types), [`writer`] (the report from what was found), [`compare`](mod@compare)
//! (the differences), [`summary`](mod@summary) (for a person).

use std::time::Duration;

use crate::base::error::Error;
use crate::base::streams::MODELS;

pub(crate) mod compare;
mod experiments;
mod id_ranges;
pub(crate) mod plan;
pub(crate) mod privacy;
pub mod report;
mod session;
mod summary;
mod survey;
mod writer;

pub use compare::compare;
pub use plan::{plan_budget, CURSOR_COLUMNS, CUSTOM_FIELD_PAGES, PAGE_SIZES};
pub(crate) use plan::{plan_duration, COMPARABLE_VERSIONS, DEFAULT_INTERVAL, MIN_INTERVAL, REPORT_VERSION};
pub use report::{Difference, Report};
pub use session::WRONG_KEY;
pub(crate) use session::{Session, Target};
pub(crate) use summary::summary;
use survey::Probe;

/// Runs a probe: at most [`plan_budget`]`(MODELS.len())` requests; returns the report.
///
/// `announce` is called once before the first request with the budget and the time it takes.
pub(crate) async fn run(target: Target, announce: impl FnOnce(usize, Duration)) -> Result<Report, Error> {
    let budget = plan_budget(MODELS.len());
    announce(budget, plan_duration(budget, target.interval));
    let mut session = Session::new(target, budget);
    let mut probe = Probe::default();
    let outcome = probe.survey(&mut session).await;
    if outcome.is_none() {
        probe.errors(&mut session).await;
        probe.paging(&mut session).await;
    }
    Ok(probe.report(&session, outcome))
}

#[cfg(test)]
mod tests;
