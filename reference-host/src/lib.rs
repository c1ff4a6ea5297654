//! # reference-host
//!
//! A reference host for the connector: what an integration platform's engineers copy into
//! their product. One page walks a credential's whole life: tiles, "Add credential" (the form
//! rendered by react-jsonschema-form from the generated schema and uiSchema), Save running the
//! validation call with each failure shown at its field, edit with the masked key, rotate the
//! key, delete, and "use for a source" (discover and a preview of a stream's first records).
//!
//! * [`connector_core::host::HostSchema`] splits what the form submits into its public part
//!   and its secrets, masks, merges edits and places failures: nothing here is Flowlu-specific
//!   but the credential type and the tile's account.
//! * [`store::Store`]: SQLite; each secret sealed with a [`crypto::DataKey`] held outside the
//!   database (an environment variable or a 0600 key file); never sent back, never logged.
//! * [`api::router`]: the HTTP API and the page; [`portals::Portals`]: where each account's
//!   requests go (the embedded stand-in here).
//!
//! ```sh
//! cargo run -p reference-host   # then open the URL it prints
//! ```

pub mod api;
pub mod crypto;
pub mod portals;
pub mod store;

pub use api::{router, Host};

/// Now, as RFC 3339 in UTC to the second (`2026-12-01T22:40:00Z`).
pub fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Seconds since the epoch as RFC 3339 in UTC.
pub fn rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_796_083_200 + 3661), "2026-12-01T01:01:01Z");
    }
}
