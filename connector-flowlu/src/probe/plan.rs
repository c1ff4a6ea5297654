//! What a probe sends, fixed before the first request: the page sizes and columns of the
//! experiments, and so the most requests it sends ([`plan_budget`]) and the least time they
//! take ([`plan_duration`]); the report's version.

use std::time::Duration;

/// The version of the report's schema.
pub(crate) const REPORT_VERSION: u64 = 2;
/// The report versions [`compare`](super::compare::compare) reads (what it reads is the same
/// in both).
pub(crate) const COMPARABLE_VERSIONS: [u64; 2] = [1, 2];
/// The default time between two requests.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
/// The shortest time allowed between two requests to a real portal.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The page size of the one page read of each model.
pub(crate) const SURVEY_LIMIT: u32 = 100;
/// The page sizes asked, largest first, until one is answered.
pub const PAGE_SIZES: [u32; 4] = [1000, 500, 200, 100];
/// The page size of the order, page and filter experiments.
pub(crate) const SAMPLE_LIMIT: u32 = 10;
/// The cursor columns of [`MODELS`](crate::base::streams::MODELS): each is ordered by and filtered
/// on once.
pub const CURSOR_COLUMNS: &[&str] = &["updated_date", "updated"];
/// The most pages of `SURVEY_LIMIT` custom field rows read (`customfields/fields`): every
/// alias must be known to keep it out of the report. A portal with more custom fields than
/// these pages hold is reported with `custom_fields.all_read` false, and then no record key
/// outside the connector's stream schemas and `cf_<id>` is reported by name.
pub const CUSTOM_FIELD_PAGES: usize = 5;
/// Requests besides one page per model: the custom field pages after the first; the page
/// sizes; ascending, descending, page 2, the id filter and one `get`; the count of an id range
/// and the id and cursor filters together; the order and the filter of each cursor column; the
/// wrong key and the unknown method.
pub(crate) const EXPERIMENTS: usize = (CUSTOM_FIELD_PAGES - 1)
    + PAGE_SIZES.len()
    + 5
    + super::id_ranges::REQUESTS
    + 2 * CURSOR_COLUMNS.len()
    + 2;

/// The most requests a probe of `models` models sends.
pub fn plan_budget(models: usize) -> usize {
    models + EXPERIMENTS
}

/// How long a probe of `requests` requests takes at least, one every `interval`.
pub(crate) fn plan_duration(requests: usize, interval: Duration) -> Duration {
    interval.saturating_mul(u32::try_from(requests.saturating_sub(1)).unwrap_or(u32::MAX))
}
