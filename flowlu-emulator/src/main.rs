//! `flowlu-emulator`: serve a Flowlu stand-in until interrupted; the first stdout line is its
//! base URL.

use std::collections::HashMap;
use std::io::Write;

use clap::Parser;
use flowlu_emulator::{
    ApiKey, Emulator, EmulatorConfig, Faults, Latency, Quirks, TotalField, ValidationShape,
};

/// A local, deterministic stand-in for the Flowlu REST API.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Seed of the data and of fault decisions.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Records per model.
    #[arg(long, default_value_t = 100)]
    records: usize,
    /// Records of one model, `module/model=N` (repeatable).
    #[arg(long = "model-records", value_name = "MODULE/MODEL=N")]
    model_records: Vec<String>,
    /// A valid key, optionally limited to modules: `KEY` or `KEY:crm,task` (repeatable;
    /// default `emulator-key` with every module).
    #[arg(long = "key", value_name = "KEY[:MODULES]")]
    keys: Vec<String>,
    /// HTTP status of error 11 (bad key): 200 or 401.
    #[arg(long, default_value_t = 200)]
    bad_key_status: u16,
    /// Largest page size (bigger `limit`s are capped).
    #[arg(long, default_value_t = 100)]
    max_page_size: usize,
    /// Page size without `limit`.
    #[arg(long, default_value_t = 50)]
    default_page_size: usize,
    /// Fixed latency added to every API request, in ms.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Largest extra latency drawn per request, in ms.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Share of 429 answers with Retry-After.
    #[arg(long, default_value_t = 0.0)]
    p_429: f64,
    /// Share of 429 answers without Retry-After.
    #[arg(long, default_value_t = 0.0)]
    p_429_bare: f64,
    /// Seconds in Retry-After.
    #[arg(long, default_value_t = 1)]
    retry_after: u64,
    /// Share of HTTP 500 answers.
    #[arg(long, default_value_t = 0.0)]
    p_500: f64,
    /// Share of HTTP 502 answers.
    #[arg(long, default_value_t = 0.0)]
    p_502: f64,
    /// Share of HTTP 503 answers.
    #[arg(long, default_value_t = 0.0)]
    p_503: f64,
    /// Share of error 13 answers (HTTP 200).
    #[arg(long, default_value_t = 0.0)]
    p_error13: f64,
    /// Share of connections dropped mid-body.
    #[arg(long, default_value_t = 0.0)]
    p_drop: f64,
    /// Share of truncated JSON bodies.
    #[arg(long, default_value_t = 0.0)]
    p_truncate: f64,
    /// Share of HTML login pages.
    #[arg(long, default_value_t = 0.0)]
    p_html: f64,
    /// Which key carries the list total.
    #[arg(long, value_parser = ["total", "total_result", "both"], default_value = "total")]
    total_field: String,
    /// Ignore order_by.
    #[arg(long)]
    ignore_order_by: bool,
    /// Ignore filters and search.
    #[arg(long)]
    ignore_filters: bool,
    /// Ignore page (always page 1).
    #[arg(long)]
    ignore_page: bool,
    /// Cap page sizes below what clients ask.
    #[arg(long)]
    page_cap: Option<usize>,
    /// Validation errors as `{"error":"validation",...}` instead of error 21.
    #[arg(long)]
    flat_validation: bool,
    /// Error answers echo the request (path, query, parameters, body) into their message.
    #[arg(long)]
    echo_request_in_errors: bool,
}

fn parse_key(spec: &str) -> ApiKey {
    match spec.split_once(':') {
        Some((key, modules)) => ApiKey::limited(key, modules.split(',').filter(|m| !m.is_empty())),
        None => ApiKey::all_modules(spec),
    }
}

fn config(args: &Args) -> Result<EmulatorConfig, String> {
    let mut model_records = HashMap::new();
    for spec in &args.model_records {
        let (model, n) = spec
            .split_once('=')
            .ok_or_else(|| format!("--model-records {spec}: expected MODULE/MODEL=N"))?;
        let n = n
            .parse()
            .map_err(|_| format!("--model-records {spec}: {n} is not a count"))?;
        model_records.insert(model.to_owned(), n);
    }
    let mut config = EmulatorConfig {
        seed: args.seed,
        records_per_model: args.records,
        model_records,
        bad_key_status: args.bad_key_status,
        max_page_size: args.max_page_size,
        default_page_size: args.default_page_size,
        latency: Latency {
            fixed_ms: args.latency_ms,
            jitter_ms: args.jitter_ms,
        },
        faults: Faults {
            rate_limit: args.p_429,
            rate_limit_no_retry_after: args.p_429_bare,
            retry_after_secs: args.retry_after,
            server_error_500: args.p_500,
            bad_gateway_502: args.p_502,
            unavailable_503: args.p_503,
            error_13: args.p_error13,
            drop_mid_body: args.p_drop,
            truncated_json: args.p_truncate,
            html_login: args.p_html,
        },
        quirks: Quirks {
            total_field: match args.total_field.as_str() {
                "total_result" => TotalField::TotalResult,
                "both" => TotalField::Both,
                _ => TotalField::Total,
            },
            ignore_order_by: args.ignore_order_by,
            ignore_filters: args.ignore_filters,
            ignore_page: args.ignore_page,
            page_size_cap: args.page_cap,
            validation_shape: if args.flat_validation {
                ValidationShape::Flat
            } else {
                ValidationShape::Code21
            },
            echo_request_in_errors: args.echo_request_in_errors,
        },
        ..EmulatorConfig::default()
    };
    if !args.keys.is_empty() {
        config.keys = args.keys.iter().map(|k| parse_key(k)).collect();
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let emu = match Emulator::start_on(config, &args.listen).await {
        Ok(emu) => emu,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", emu.base_url());
    let _ = out.flush();
    drop(out);
    eprintln!("serving until Ctrl-C; api key: {}", emu.api_key());
    let _ = tokio::signal::ctrl_c().await;
    emu.shutdown().await;
    std::process::ExitCode::SUCCESS
}
