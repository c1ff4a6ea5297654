//! Optional settings that are not part of the credential: how to read and write.
//!
//! They live in the same generated form as the credential, in its `advanced` section, and all
//! have defaults, so a credential alone is a complete configuration.

use std::ops::RangeInclusive;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

// Each setting's range is stated once, here: the form's `minimum`/`maximum`, the getter's
// clamp and [`Settings::check`] all read it.

/// The range of `max_concurrency`.
pub(crate) const CONCURRENCY_RANGE: RangeInclusive<u32> = 1..=32;
/// The range of `requests_per_second`.
pub(crate) const REQUESTS_PER_SECOND_RANGE: RangeInclusive<u32> = 1..=1000;
/// The range of `page_size` (reads ask 500 a page, a portal may allow up to 1000).
pub(crate) const PAGE_SIZE_RANGE: RangeInclusive<u32> = 1..=1000;
/// The range of `timeout_seconds`.
pub(crate) const TIMEOUT_SECONDS_RANGE: RangeInclusive<u32> = 1..=600;
/// The range of `max_page_megabytes`.
pub(crate) const PAGE_MEGABYTES_RANGE: RangeInclusive<u32> = 1..=1024;
/// The range of `staleness_seconds`.
pub(crate) const STALENESS_SECONDS_RANGE: RangeInclusive<u32> = 1..=3600;

/// The range of `max_retry_seconds` (0: no retry; at most an hour).
pub(crate) const RETRY_SECONDS_RANGE: RangeInclusive<u32> = 0..=3600;

/// The range of `deletes` (hours between reconciliations; 0 is off; at most a year).
pub(crate) const DELETES_HOURS_RANGE: RangeInclusive<u32> = 0..=8760;
/// The range of `max_deletes_percent`.
pub(crate) const DELETES_PERCENT_RANGE: RangeInclusive<u32> = 0..=100;
/// Default `deletes`: a reconciliation a day. Reconciling costs requests (about one per
/// changed id range, or a scan of ids), so not every hourly sync pays it; a day bounds how
/// long a deleted record stays downstream.
pub(crate) const DEFAULT_DELETES_HOURS: u32 = 24;
/// Default `max_deletes_percent`: one reconciliation deletes at most 5% of a stream's records
/// without an explicit override (what one public loader caps a scan at).
pub(crate) const DEFAULT_DELETES_PERCENT: u32 = 5;

/// The range of `webhook_poll_hours` (0: every read; at most a week).
pub(crate) const WEBHOOK_POLL_HOURS_RANGE: RangeInclusive<u32> = 0..=168;
/// Default `webhook_poll_hours`: with webhooks, an incremental stream is polled once an hour,
/// the safety net for events Flowlu did not deliver (it promises no delivery).
pub(crate) const DEFAULT_WEBHOOK_POLL_HOURS: u32 = 1;

/// Default requests in flight per account.
pub(crate) const DEFAULT_CONCURRENCY: u32 = 4;
/// Default `timeout_seconds` (the client's own default, [`crate::client::DEFAULT_TIMEOUT`]).
pub(crate) const DEFAULT_TIMEOUT_SECONDS: u32 = 30;
/// Default page size: the first page of a stream asks for this many records; a portal that
/// refuses it is read [`SAFE_PAGE_SIZE`] a page, one that caps it is read at its cap.
pub(crate) const DEFAULT_PAGE_SIZE: u32 = 500;
/// The page size every public client uses (the fallback when a portal refuses a larger one).
pub(crate) const SAFE_PAGE_SIZE: u32 = 100;
/// Bytes in a MiB.
pub(crate) const MIB: usize = 1024 * 1024;
/// Default `max_page_megabytes`: far above a 100-record page (well under 1 MiB), far below
/// what a host's memory notices.
pub(crate) const DEFAULT_PAGE_MEGABYTES: u32 = 64;
/// Default `staleness_seconds`: a write's `unchanged` and create decisions rest on what the
/// portal held at most this long before. Measured (BENCHMARKS.md, the economy table by
/// staleness bound): at 1 request/s a refresh (a read of what others created and one of what
/// they edited) every 30 s adds at most 2 requests per 30, under 7%, where 10 s adds up to 20%;
/// a write without a cap is refreshed a few times at most.
pub(crate) const DEFAULT_STALENESS_SECONDS: u32 = 30;

/// Default `max_retry_seconds`: a request is retried (at most 8 times, no wait above 30 s)
/// while five minutes since its first attempt are not used up: enough for a short outage.
pub(crate) const DEFAULT_RETRY_SECONDS: u32 = 300;

/// Advanced settings
///
/// Optional settings for reading and writing. The defaults suit most accounts.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
pub struct Settings {
    /// Start date
    ///
    /// For the first incremental read only: skip records last updated before this date
    /// (YYYY-MM-DD, in the portal's time zone). Leave empty to read everything.
    #[schemars(
        regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
        extend(
            "format" = "date",
            "pattern_descriptor" = "YYYY-MM-DD",
            "x-pattern-message" = "Enter a date as YYYY-MM-DD, for example 2024-01-31, or leave it empty.",
            "examples" = ["2024-01-31"]
        )
    )]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub start_date: Option<String>,

    /// Requests in flight
    ///
    /// The most requests sent to Flowlu at the same time. Lower it if Flowlu answers with rate
    /// limits; the connector also slows down by itself when that happens.
    #[schemars(
        range(min = *CONCURRENCY_RANGE.start(), max = *CONCURRENCY_RANGE.end()),
        extend("default" = DEFAULT_CONCURRENCY)
    )]
    #[serde(default, deserialize_with = "whole_number")]
    pub max_concurrency: Option<u32>,

    /// Requests per second
    ///
    /// An optional fixed cap on requests per second for this account. Leave empty for no cap.
    #[schemars(range(min = *REQUESTS_PER_SECOND_RANGE.start(), max = *REQUESTS_PER_SECOND_RANGE.end()))]
    #[serde(default, deserialize_with = "whole_number")]
    pub requests_per_second: Option<u32>,

    /// Page size
    ///
    /// Records requested per page. Flowlu may return fewer, or refuse more than 100; the
    /// connector adapts.
    #[schemars(
        range(min = *PAGE_SIZE_RANGE.start(), max = *PAGE_SIZE_RANGE.end()),
        extend("default" = DEFAULT_PAGE_SIZE)
    )]
    #[serde(default, deserialize_with = "whole_number")]
    pub page_size: Option<u32>,

    /// Streams
    ///
    /// Read only these streams (for example crm_account). Leave empty to read every stream
    /// the catalog selects.
    #[schemars(extend("examples" = [["crm_account", "crm_lead"]]))]
    #[serde(default)]
    pub streams: Option<Vec<String>>,

    /// Request timeout
    ///
    /// Seconds to wait for one answer from Flowlu before retrying.
    #[schemars(
        range(min = *TIMEOUT_SECONDS_RANGE.start(), max = *TIMEOUT_SECONDS_RANGE.end()),
        extend("default" = DEFAULT_TIMEOUT_SECONDS)
    )]
    #[serde(default, deserialize_with = "whole_number")]
    pub timeout_seconds: Option<u32>,

    /// Largest answer (MiB)
    ///
    /// The most megabytes one answer from Flowlu may have. A larger page fails its stream
    /// (lower the page size, or raise this if the records really are that large); it guards
    /// the memory of the machine running the connector.
    #[schemars(
        range(min = *PAGE_MEGABYTES_RANGE.start(), max = *PAGE_MEGABYTES_RANGE.end()),
        extend("default" = DEFAULT_PAGE_MEGABYTES)
    )]
    #[serde(default, deserialize_with = "whole_number")]
    pub max_page_megabytes: Option<u32>,

    /// Staleness bound (seconds)
    ///
    /// A write reports a record unchanged, or creates one, only from what Flowlu held at
    /// most this many seconds before: older knowledge is refreshed first by reading what
    /// others created and edited since. Lower means fewer surprises from people editing the
    /// CRM during a write, at the cost of more requests.
    #[schemars(
        range(min = *STALENESS_SECONDS_RANGE.start(), max = *STALENESS_SECONDS_RANGE.end()),
        extend("default" = DEFAULT_STALENESS_SECONDS)
    )]
    #[serde(default, deserialize_with = "whole_number")]
    pub staleness_seconds: Option<u32>,

    /// Write rules
    ///
    /// How the destination writes each stream, overriding the sync mode chosen in the
    /// catalog (append creates records, append with deduplication upserts on the primary
    /// key). Leave empty to follow the catalog. Null and empty values are never sent unless
    /// the stream's rule turns on clear_empty_fields.
    #[schemars(extend("examples" = [[{"stream": "crm_account", "mode": "upsert", "match_field": "email", "clear_empty_fields": false}]]))]
    #[serde(default)]
    pub write_rules: Option<Vec<WriteRule>>,

    /// Custom field columns
    ///
    /// How discover names custom field columns: by the field's name in Flowlu (open_budget,
    /// the default), or by Flowlu's key (cf_12) as earlier versions did. Reads and writes
    /// follow the names in the catalog, so a field renamed in Flowlu keeps its column until
    /// the next discover.
    #[serde(default)]
    pub custom_field_columns: Option<CustomFieldColumns>,

    /// Deletes: hours between reconciliations
    ///
    /// For incremental streams kept one row per id (append_dedup, or overwrite): every this many
    /// hours a read compares the ids Flowlu holds with the ids the destination was given and
    /// sends a deleted record (_ab_cdc_deleted_at set) for each id Flowlu no longer has.
    /// 0 turns it off. Flowlu reports no deletes, so this is the only way a read learns one.
    #[schemars(
        range(min = *DELETES_HOURS_RANGE.start(), max = *DELETES_HOURS_RANGE.end()),
        extend("default" = DEFAULT_DELETES_HOURS)
    )]
    #[serde(default, deserialize_with = "whole_number")]
    pub deletes: Option<u32>,

    /// Deletes: largest share per reconciliation (%)
    ///
    /// A reconciliation that finds more than this share of a stream's records deleted sends
    /// none of those deletes and says so (a guard against deleting live data downstream). To
    /// let a real mass delete through, raise it for one read (100 turns the guard off).
    #[schemars(
        range(min = *DELETES_PERCENT_RANGE.start(), max = *DELETES_PERCENT_RANGE.end()),
        extend("default" = DEFAULT_DELETES_PERCENT)
    )]
    #[serde(default, deserialize_with = "whole_number")]
    pub max_deletes_percent: Option<u32>,

    /// Webhooks: spool directory
    ///
    /// The directory where flowlu-connector listen (or a host's receiver) keeps the events
    /// Flowlu's webhooks sent. When set, a read passes on the changes spooled there and polls
    /// each incremental stream only every webhook_poll_hours. Leave empty to poll on every read.
    #[schemars(extend("examples" = ["/var/lib/flowlu-webhooks"]))]
    #[serde(default, deserialize_with = "blank_as_none")]
    pub webhook_spool: Option<String>,

    /// Webhooks: hours between polls
    ///
    /// With a webhook spool: every this many hours a read also polls each incremental stream,
    /// catching any change whose webhook Flowlu did not deliver. 0 polls on every read.
    #[schemars(
        range(min = *WEBHOOK_POLL_HOURS_RANGE.start(), max = *WEBHOOK_POLL_HOURS_RANGE.end()),
        extend("default" = DEFAULT_WEBHOOK_POLL_HOURS)
    )]
    #[serde(default, deserialize_with = "whole_number")]
    pub webhook_poll_hours: Option<u32>,

    /// Retry budget (seconds)
    ///
    /// When Flowlu fails for a temporary reason (a server error, a timeout, a rate limit), a
    /// request is tried again only while this many seconds since its first attempt, the wait
    /// included, are not used up; then its record or stream fails for a temporary reason and
    /// the next sync sends it again. 0: no retry.
    #[schemars(
        range(min = *RETRY_SECONDS_RANGE.start(), max = *RETRY_SECONDS_RANGE.end()),
        extend("default" = DEFAULT_RETRY_SECONDS)
    )]
    #[serde(default, deserialize_with = "whole_number")]
    pub max_retry_seconds: Option<u32>,

    /// Find earlier creates
    ///
    /// On (the default): before a stream's first create, a write reads the model's newest
    /// records once (one request) and does not create again a record equal in every field it
    /// sends to one of them: a sync resumed after an interruption then does not duplicate the
    /// records the interrupted run created. Each Flowlu record is taken for one input record
    /// at most. Off: every record of a create stream is created, also one identical to a
    /// record just created (turn it off when identical records are meant to be created again).
    #[schemars(extend("default" = true))]
    #[serde(default)]
    pub find_earlier_creates: Option<bool>,
}

/// Custom field column names
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomFieldColumns {
    /// By the field's name in Flowlu (open_budget).
    ByName,
    /// By Flowlu's key (cf_12), as earlier versions.
    ByKey,
}

/// Write rule
///
/// How one stream is written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
pub struct WriteRule {
    /// Stream
    ///
    /// The stream this rule applies to, for example crm_account.
    #[schemars(extend("examples" = ["crm_account"]))]
    pub stream: String,

    /// Mode
    ///
    /// create adds every record; update changes the record with the record's id; upsert
    /// updates the record found by the match field and creates it when none exists (by id, it
    /// updates that record, and an id Flowlu does not hold fails); delete removes the record
    /// with the record's id.
    pub mode: WriteMode,

    /// Match field
    ///
    /// For upsert (and for create, to check before retrying): the field that identifies a
    /// record, for example email. Leave empty to match on id.
    #[schemars(extend("examples" = ["email"]))]
    #[serde(default, deserialize_with = "blank_as_none")]
    pub match_field: Option<String>,

    /// Clear empty fields
    ///
    /// Off (the default): fields that are null or empty in a record are not sent, so Flowlu
    /// keeps their values. On: they are sent empty, so an update clears them in Flowlu.
    #[serde(default)]
    pub clear_empty_fields: bool,

    /// Apply deletes
    ///
    /// Off (the default): a deleted record (_ab_cdc_deleted_at set) is refused unless the
    /// mode is delete. On: it deletes the Flowlu record with its id in every mode.
    #[serde(default)]
    pub apply_deletes: bool,
}

/// How a stream is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// Create every record.
    Create,
    /// Update the record with the record's id.
    Update,
    /// Update the matching record, or create it.
    Upsert,
    /// Delete the record with the record's id.
    Delete,
}

/// A whole number, written as an integer (`5`) or as a float with nothing after the point
/// (`5.0`, as Python and many hosts write one); `5.5`, a negative number or one too large is
/// refused with a sentence.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    use serde::de::Error as _;
    let value = match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::Number(n)) => n,
        Some(other) => {
            let what = match other {
                serde_json::Value::String(_) => "a string",
                serde_json::Value::Bool(_) => "a boolean",
                serde_json::Value::Array(_) => "a list",
                _ => "an object",
            };
            return Err(D::Error::custom(format!(
                "must be a whole number, like 5, but is {what}"
            )));
        }
    };
    let whole = match (value.as_u64(), value.as_f64()) {
        (Some(n), _) => Some(n),
        (None, Some(f)) if f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f) => {
            // Exact: a float without a fraction in the u32 range is an integer.
            Some(f as u64)
        }
        _ => None,
    };
    whole
        .and_then(|n| u32::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("must be a whole number, like 5, but is {value}")))
}

fn blank_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value: Option<String> = Option::deserialize(d)?;
    Ok(value.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
}

impl Settings {
    /// Requests in flight per account.
    pub fn concurrency(&self) -> usize {
        clamp(
            self.max_concurrency.unwrap_or(DEFAULT_CONCURRENCY),
            &CONCURRENCY_RANGE,
        ) as usize
    }

    /// Records per page.
    pub fn page_size(&self) -> u32 {
        clamp(self.page_size.unwrap_or(DEFAULT_PAGE_SIZE), &PAGE_SIZE_RANGE)
    }

    /// The webhook spool's directory, if set.
    pub fn webhook_spool(&self) -> Option<&std::path::Path> {
        self.webhook_spool.as_deref().map(std::path::Path::new)
    }

    /// Seconds between polls of a stream when webhooks are spooled (0: every read).
    pub fn webhook_poll_seconds(&self) -> i64 {
        let hours = clamp(
            self.webhook_poll_hours.unwrap_or(DEFAULT_WEBHOOK_POLL_HOURS),
            &WEBHOOK_POLL_HOURS_RANGE,
        );
        i64::from(hours) * 3600
    }

    /// Seconds between reconciliations of deletes; `None` when off.
    pub fn deletes_every(&self) -> Option<i64> {
        let hours = clamp(
            self.deletes.unwrap_or(DEFAULT_DELETES_HOURS),
            &DELETES_HOURS_RANGE,
        );
        (hours > 0).then(|| i64::from(hours) * 3600)
    }

    /// The largest share of a stream one reconciliation may delete, in percent.
    pub fn max_deletes_percent(&self) -> u32 {
        clamp(
            self.max_deletes_percent.unwrap_or(DEFAULT_DELETES_PERCENT),
            &DELETES_PERCENT_RANGE,
        )
    }

    /// The time to wait for one answer, if set.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_seconds
            .map(|secs| Duration::from_secs(u64::from(clamp(secs, &TIMEOUT_SECONDS_RANGE))))
    }

    /// The most bytes one answer may have.
    pub fn max_page_bytes(&self) -> usize {
        clamp(
            self.max_page_megabytes.unwrap_or(DEFAULT_PAGE_MEGABYTES),
            &PAGE_MEGABYTES_RANGE,
        ) as usize
            * MIB
    }

    /// The staleness bound of a write's `unchanged` and create decisions.
    pub fn staleness(&self) -> Duration {
        Duration::from_secs(u64::from(clamp(
            self.staleness_seconds.unwrap_or(DEFAULT_STALENESS_SECONDS),
            &STALENESS_SECONDS_RANGE,
        )))
    }

    /// How long after its first attempt a request may still be retried.
    pub fn max_retry(&self) -> Duration {
        Duration::from_secs(u64::from(clamp(
            self.max_retry_seconds.unwrap_or(DEFAULT_RETRY_SECONDS),
            &RETRY_SECONDS_RANGE,
        )))
    }

    /// Whether a write looks for the records an earlier run created before a stream's first
    /// create (`sink::resume`).
    pub fn finds_earlier_creates(&self) -> bool {
        self.find_earlier_creates.unwrap_or(true)
    }

    /// Refuses values outside the ranges the form states, naming the field
    /// (`advanced.page_size`) and the allowed range.
    pub fn check(&self) -> Result<(), (String, String)> {
        let ranges = [
            ("max_concurrency", self.max_concurrency, CONCURRENCY_RANGE),
            (
                "requests_per_second",
                self.requests_per_second,
                REQUESTS_PER_SECOND_RANGE,
            ),
            ("page_size", self.page_size, PAGE_SIZE_RANGE),
            ("timeout_seconds", self.timeout_seconds, TIMEOUT_SECONDS_RANGE),
            (
                "max_page_megabytes",
                self.max_page_megabytes,
                PAGE_MEGABYTES_RANGE,
            ),
            (
                "staleness_seconds",
                self.staleness_seconds,
                STALENESS_SECONDS_RANGE,
            ),
            ("max_retry_seconds", self.max_retry_seconds, RETRY_SECONDS_RANGE),
            ("deletes", self.deletes, DELETES_HOURS_RANGE),
            (
                "max_deletes_percent",
                self.max_deletes_percent,
                DELETES_PERCENT_RANGE,
            ),
            (
                "webhook_poll_hours",
                self.webhook_poll_hours,
                WEBHOOK_POLL_HOURS_RANGE,
            ),
        ];
        for (field, value, range) in ranges {
            if let Some(v) = value.filter(|v| !range.contains(v)) {
                let (min, max) = (range.start(), range.end());
                return Err((
                    format!("advanced.{field}"),
                    format!("{v} is out of range; use a whole number from {min} to {max}, or leave it empty for the default"),
                ));
            }
        }
        Ok(())
    }

    /// How discover names custom field columns.
    pub(crate) fn naming(&self) -> crate::base::columns::Naming {
        match self.custom_field_columns {
            Some(CustomFieldColumns::ByKey) => crate::base::columns::Naming::ByKey,
            Some(CustomFieldColumns::ByName) | None => crate::base::columns::Naming::ByName,
        }
    }

    /// The write rule of `stream`, if one is set.
    pub fn write_rule(&self, stream: &str) -> Option<&WriteRule> {
        self.write_rules.as_deref()?.iter().find(|r| r.stream == stream)
    }
}

fn clamp(value: u32, range: &RangeInclusive<u32>) -> u32 {
    value.clamp(*range.start(), *range.end())
}

fn empty_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value: Option<String> = Option::deserialize(d)?;
    match value.map(|s| s.trim().to_string()) {
        None => Ok(None),
        Some(s) if s.is_empty() || crate::base::dates::is_zero_date(&s) => Ok(None),
        Some(s) => {
            let ok = s.len() == 10
                && s.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            if ok && crate::base::dates::naive_seconds(&s).is_none() {
                Err(serde::de::Error::custom(format!(
                    "`{s}` is not a real date (no such month or day); use YYYY-MM-DD, for example 2024-01-31"
                )))
            } else if ok {
                Ok(Some(s))
            } else {
                Err(serde::de::Error::custom(format!(
                    "`{s}` is not a date; use YYYY-MM-DD, for example 2024-01-31"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_number_written_as_a_float_is_accepted_and_a_fraction_refused_by_name() {
        use connector_core::Credential;
        for field in [
            "max_concurrency",
            "requests_per_second",
            "page_size",
            "timeout_seconds",
            "max_page_megabytes",
            "staleness_seconds",
            "max_retry_seconds",
        ] {
            for good in [
                serde_json::json!(5),
                serde_json::json!(5.0),
                serde_json::Value::Null,
            ] {
                assert!(serde_json::from_value::<Settings>(serde_json::json!({ field: good })).is_ok());
            }
            let config = serde_json::json!({"name": "n", "account_domain": "acme", "api_key": "a-long-test-key", "advanced": { field: 5.5 }});
            let err = crate::FlowluCredential::from_config(&config)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("advanced.{field}"))
                    && err.contains("must be a whole number, like 5, but is 5.5"),
                "{err}"
            );
            for bad in [
                serde_json::json!(-1),
                serde_json::json!(1e12),
                serde_json::json!("5"),
            ] {
                assert!(serde_json::from_value::<Settings>(serde_json::json!({ field: bad })).is_err());
            }
        }
        let settings: Settings =
            serde_json::from_value(serde_json::json!({"requests_per_second": 5.0, "page_size": 100.0}))
                .unwrap();
        assert_eq!(
            (settings.requests_per_second, settings.page_size),
            (Some(5), Some(100))
        );
    }

    #[test]
    fn each_range_is_the_forms_the_getters_and_the_checks() {
        let schema = serde_json::to_value(schemars::schema_for!(Settings)).unwrap();
        let cases = [
            ("max_concurrency", CONCURRENCY_RANGE),
            ("requests_per_second", REQUESTS_PER_SECOND_RANGE),
            ("page_size", PAGE_SIZE_RANGE),
            ("timeout_seconds", TIMEOUT_SECONDS_RANGE),
            ("max_page_megabytes", PAGE_MEGABYTES_RANGE),
            ("staleness_seconds", STALENESS_SECONDS_RANGE),
            ("max_retry_seconds", RETRY_SECONDS_RANGE),
            ("deletes", DELETES_HOURS_RANGE),
            ("max_deletes_percent", DELETES_PERCENT_RANGE),
        ];
        for (field, range) in cases {
            let property = &schema["properties"][field];
            assert_eq!(
                (property["minimum"].as_u64(), property["maximum"].as_u64()),
                (Some(u64::from(*range.start())), Some(u64::from(*range.end()))),
                "{field}: {property}"
            );
            let with = |v: u32| {
                let settings: Settings = serde_json::from_value(serde_json::json!({ field: v })).unwrap();
                settings
            };
            assert_eq!(with(*range.start()).check(), Ok(()), "{field}");
            assert_eq!(with(*range.end()).check(), Ok(()), "{field}");
            for bad in [range.start().checked_sub(1), Some(*range.end() + 1)]
                .into_iter()
                .flatten()
            {
                let (at, _) = with(bad).check().unwrap_err();
                assert_eq!(at, format!("advanced.{field}"));
            }
        }
        assert_eq!(PAGE_SIZE_RANGE, 1..=1000, "a portal may allow up to 1000 a page");
        let big = Settings {
            page_size: Some(5000),
            max_concurrency: Some(99),
            timeout_seconds: Some(9999),
            ..Settings::default()
        };
        assert_eq!(
            (big.page_size(), big.concurrency(), big.timeout()),
            (1000, 32, Some(Duration::from_secs(600)))
        );
        assert_eq!(
            (
                Settings::default().page_size(),
                Settings::default().concurrency(),
                Settings::default().timeout()
            ),
            (DEFAULT_PAGE_SIZE, DEFAULT_CONCURRENCY as usize, None)
        );
    }

    #[test]
    fn the_page_cap_has_a_default_and_a_checked_range() {
        assert_eq!(Settings::default().max_page_bytes(), 64 * MIB);
        let with = |mib| Settings {
            max_page_megabytes: Some(mib),
            ..Settings::default()
        };
        assert_eq!(with(1).max_page_bytes(), MIB);
        assert_eq!(with(1024).check(), Ok(()));
        for bad in [0, 1025] {
            assert_eq!(
                with(bad).check(),
                Err((
                    "advanced.max_page_megabytes".to_string(),
                    format!("{bad} is out of range; use a whole number from 1 to 1024, or leave it empty for the default")
                ))
            );
        }
    }
}
