//! `flowlu-emulator`: serve a Flowlu stand-in until interrupted; the first stdout line is its
//! base URL.

use std::collections::HashMap;
use std::io::Write;

use clap::Parser;
use flowlu_emulator::{
    ApiKey, Emulator, EmulatorConfig, Faults, Latency, Quirks, RateCap, Refusal, TotalField, ValidationShape,
    Webhook, WebhookFaults,
};

/// The environment variable naming the webhook URL when `--webhook-url` is not given.
const WEBHOOK_URL_ENV: &str = "FLOWLU_EMULATOR_WEBHOOK_URL";

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
    /// Cap the account at this many API requests per second (every key shares it).
    #[arg(long, value_name = "PER_SECOND")]
    rate_cap: Option<f64>,
    /// Requests the capped account may send at once after a quiet spell.
    #[arg(long, default_value_t = 1)]
    rate_burst: u32,
    /// How requests over the cap are refused: `429` (text body, no Retry-After) or `json`
    /// (`{"error":"Request rate per second exceeded"}`, status from --refusal-status).
    #[arg(long, value_parser = ["429", "json"], default_value = "429")]
    refusal: String,
    /// HTTP status of a `json` refusal.
    #[arg(long, default_value_t = 200)]
    refusal_status: u16,
    /// Flowlu's outgoing webhook: POST every create, update and delete to this URL, e.g.
    /// `http://127.0.0.1:9000/hook` (default: the FLOWLU_EMULATOR_WEBHOOK_URL environment
    /// variable; no webhook without either).
    #[arg(long, value_name = "URL")]
    webhook_url: Option<String>,
    /// Share of webhook events never sent.
    #[arg(long, default_value_t = 0.0)]
    webhook_p_drop: f64,
    /// Share of webhook events sent twice.
    #[arg(long, default_value_t = 0.0)]
    webhook_p_repeat: f64,
    /// Share of webhook events sent late, by --webhook-delay-ms (later events wait too).
    #[arg(long, default_value_t = 0.0)]
    webhook_p_delay: f64,
    /// Milliseconds a delayed webhook event waits.
    #[arg(long, default_value_t = 1000)]
    webhook_delay_ms: u64,
    /// Share of webhook events held back and sent after the next one.
    #[arg(long, default_value_t = 0.0)]
    webhook_p_reorder: f64,
}

fn parse_key(spec: &str) -> ApiKey {
    match spec.split_once(':') {
        Some((key, modules)) => ApiKey::limited(key, modules.split(',').filter(|m| !m.is_empty())),
        None => ApiKey::all_modules(spec),
    }
}

/// The configuration of `args`; `env_webhook_url` is the environment's webhook URL.
fn config(args: &Args, env_webhook_url: Option<String>) -> Result<EmulatorConfig, String> {
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
    let rate_cap = match args.rate_cap {
        Some(per_second) if !(per_second.is_finite() && per_second > 0.0) => {
            return Err(format!(
                "--rate-cap {per_second}: expected a positive number of requests per second"
            ));
        }
        Some(per_second) => Some(RateCap {
            per_second,
            burst: args.rate_burst.max(1),
            refusal: match args.refusal.as_str() {
                "json" => Refusal::JsonError {
                    status: args.refusal_status,
                },
                _ => Refusal::TooManyRequests,
            },
        }),
        None => None,
    };
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
            ..Quirks::default()
        },
        rate_cap,
        ..EmulatorConfig::default()
    };
    if !args.keys.is_empty() {
        config.keys = args.keys.iter().map(|k| parse_key(k)).collect();
    }
    let webhook_url = args
        .webhook_url
        .clone()
        .or(env_webhook_url.filter(|url| !url.is_empty()));
    config.webhook = webhook_url.map(|url| Webhook {
        url,
        faults: WebhookFaults {
            drop: args.webhook_p_drop,
            repeat: args.webhook_p_repeat,
            delay: args.webhook_p_delay,
            delay_ms: args.webhook_delay_ms,
            reorder: args.webhook_p_reorder,
        },
    });
    Ok(config)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = match config(&args, std::env::var(WEBHOOK_URL_ENV).ok()) {
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
    if let Some(webhook) = &emu.config().webhook {
        eprintln!(
            "webhook: every create, update and delete is POSTed to {}",
            webhook.url
        );
    }
    let _ = tokio::signal::ctrl_c().await;
    emu.shutdown().await;
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(args: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("flowlu-emulator").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn no_webhook_without_flag_or_environment() {
        assert_eq!(config(&parse(&[]), None).unwrap().webhook, None);
        assert_eq!(config(&parse(&[]), Some(String::new())).unwrap().webhook, None);
    }

    #[test]
    fn webhook_from_flags() {
        let args = parse(&[
            "--webhook-url",
            "http://127.0.0.1:9/hook",
            "--webhook-p-drop",
            "0.1",
            "--webhook-p-repeat",
            "0.2",
            "--webhook-p-delay",
            "0.3",
            "--webhook-delay-ms",
            "250",
            "--webhook-p-reorder",
            "0.4",
        ]);
        let env = Some("http://127.0.0.1:8/ignored".to_owned());
        assert_eq!(
            config(&args, env).unwrap().webhook,
            Some(Webhook {
                url: "http://127.0.0.1:9/hook".into(),
                faults: WebhookFaults {
                    drop: 0.1,
                    repeat: 0.2,
                    delay: 0.3,
                    delay_ms: 250,
                    reorder: 0.4,
                },
            })
        );
    }

    #[test]
    fn webhook_url_from_environment() {
        let env = Some("http://127.0.0.1:8/hook".to_owned());
        assert_eq!(
            config(&parse(&[]), env).unwrap().webhook,
            Some(Webhook {
                url: "http://127.0.0.1:8/hook".into(),
                faults: WebhookFaults {
                    delay_ms: 1000,
                    ..WebhookFaults::default()
                },
            })
        );
    }
}
