//! `flowlu-connector probe`: the command glue of [`crate::probe`].

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::Value;

use connector_runner::{load_config, Connector, Env, EXIT_FAILED, EXIT_OK, EXIT_USAGE};

use crate::credential::FlowluCredential;
use crate::probe::{self, Target, DEFAULT_INTERVAL, MIN_INTERVAL};

/// The `--help` of `probe`.
pub const HELP: &str = "What it sends: at most 70 read-only GET requests to your portal (the exact number and the time it takes are printed before the first one), one every 2 s by default: one page of up to 100 records of each model, and up to 4 more pages of custom field definitions (so that every alias is known and left out); page sizes 1000/500/200/100 on one model; page 2, order_by asc and desc and filter[id] on it, 10 records each; a count above an id (1 record) and filter[id] beside the updated_date filter (10 records); order_by and filter on each cursor column (updated_date, updated), 10 records each; one get; one list with a deliberately wrong key (a fixed text, not derived from yours); one unknown method name. It never creates, updates or deletes, never retries, and never tries to reach the rate cap (after a rate refusal it slows down).

What the report holds: field names, JSON types, string shapes (blank, datetime, zero date, ...), record counts, HTTP statuses, Flowlu error codes, rate headers (as numbers, or only their form). Never a value, a name, an e-mail, a record id, an error text, your key, or your account domain (unless --include-domain). Custom fields appear as their cf_<id> column keys (a column named by its alias as alias_of_cf_<id>); their labels and aliases are never shown.

Examples:
  flowlu-connector probe --config config.json --out probe-report.json
  flowlu-connector probe --compare probe-report.json";

/// The options of `probe`.
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// The config file (JSON): name, account_domain, api_key.
    #[arg(long, value_name = "FILE", required_unless_present = "compare")]
    pub config: Option<PathBuf>,
    /// Write the JSON report to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Milliseconds between two requests (at least 1000 on a real portal).
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub interval_ms: u64,
    /// Put the account domain in the report (left out by default).
    #[arg(long)]
    pub include_domain: bool,
    /// Send nothing: read a saved report and list where it differs from what this version
    /// of the connector assumes (and its stream schemas), as JSON on stdout.
    #[arg(long, value_name = "REPORT", conflicts_with_all = ["config", "out", "include_domain"])]
    pub compare: Option<PathBuf>,
}

/// Runs `probe`: the report (or, with `--compare`, the differences) goes to `out` unless
/// `--out` names a file; the announcement and the summary go to `err`. `C` is the binary's
/// connector (`Flowlu`, whose command this is: named by the caller, not imported from it).
pub(crate) async fn run<C: Connector<Credential = FlowluCredential>>(
    args: &ProbeArgs,
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    if let Some(path) = &args.compare {
        return compare(path, out, err);
    }
    let Some(config) = &args.config else {
        let _ = writeln!(err, "probe needs --config FILE (or --compare REPORT)");
        return EXIT_USAGE;
    };
    let credential = match load_config::<C>(config, env) {
        Ok(loaded) => loaded.credential,
        Err(failure) => {
            let _ = writeln!(err, "{}", failure.message);
            return EXIT_FAILED;
        }
    };
    let client = match credential.client() {
        Ok(client) => client,
        Err(e) => {
            let _ = writeln!(err, "The config cannot be used: {e}.");
            return EXIT_FAILED;
        }
    };
    let loopback = client.is_loopback();
    let interval = Duration::from_millis(args.interval_ms);
    if !loopback && interval < MIN_INTERVAL {
        let _ = writeln!(
            err,
            "--interval-ms {} is too fast for a real portal: use at least {} (the default is {}).",
            args.interval_ms,
            MIN_INTERVAL.as_millis(),
            DEFAULT_INTERVAL.as_millis()
        );
        return EXIT_USAGE;
    }
    let target = Target {
        client,
        domain: credential.account_domain.host(),
        include_domain: args.include_domain,
        interval,
    };
    let announce = |budget: usize, takes: Duration| {
        let _ = writeln!(
            err,
            "The probe sends at most {budget} read-only GET requests to the portal, one every {:.1} s: {} min {} s at least, plus the portal's answer times. It never creates, updates or deletes anything.",
            interval.as_secs_f64(),
            takes.as_secs() / 60,
            takes.as_secs() % 60
        );
    };
    let report = match probe::run(target, announce).await {
        Ok(report) => report,
        Err(e) => {
            let _ = writeln!(err, "The probe could not start: {e}.");
            return EXIT_FAILED;
        }
    };
    let _ = write!(err, "{}", probe::summary(&report));
    let written = serde_json::to_value(&report)
        .map_err(std::io::Error::from)
        .and_then(|report| write_json(&report, args.out.as_ref(), out));
    if let Err(e) = written {
        let _ = writeln!(err, "The report could not be written: {e}.");
        return EXIT_FAILED;
    }
    if let Some(path) = &args.out {
        let _ = writeln!(err, "Report written to {}.", path.display());
    }
    if report.outcome == "complete" {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

fn compare(path: &std::path::Path, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let value: Value = match std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| format!("not JSON ({e})")))
    {
        Ok(v) => v,
        Err(e) => {
            let _ = writeln!(err, "The report {} could not be read: {e}.", path.display());
            return EXIT_FAILED;
        }
    };
    // The version first: a file of another form is named as such, not as a broken report.
    let version = value.get("report_version").cloned().unwrap_or(Value::Null);
    let report = match version.as_u64() {
        Some(v) if probe::COMPARABLE_VERSIONS.contains(&v) => {
            serde_json::from_value::<probe::Report>(value).ok()
        }
        _ => None,
    };
    let Some(report) = report else {
        let _ = writeln!(
            err,
            "The report {} is not a probe report of version {} (report_version {version}).",
            path.display(),
            probe::REPORT_VERSION,
        );
        return EXIT_FAILED;
    };
    let differences: Vec<Value> = probe::compare(&report)
        .iter()
        .map(probe::Difference::to_json)
        .collect();
    let _ = writeln!(
        err,
        "{} differences from what connector {} assumes.",
        differences.len(),
        env!("CARGO_PKG_VERSION")
    );
    match write_json(&Value::Array(differences), None, out) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            let _ = writeln!(err, "stdout could not be written: {e}.");
            EXIT_FAILED
        }
    }
}

/// Writes `value` pretty-printed to the file `path`, or as one line to `out`.
fn write_json(value: &Value, path: Option<&PathBuf>, out: &mut dyn Write) -> std::io::Result<()> {
    let text = match path {
        Some(_) => serde_json::to_vec_pretty(value),
        None => serde_json::to_vec(value),
    };
    let mut text = text.map_err(std::io::Error::from)?;
    text.push(b'\n');
    match path {
        Some(path) => std::fs::write(path, text),
        None => out.write_all(&text).and_then(|()| out.flush()),
    }
}
