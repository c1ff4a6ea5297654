//! Measures how many list records per second the emulator serves over loopback.
//!
//! `cargo run --release -p flowlu-emulator --example bench -- --requests 20000 --concurrency 8`

use std::collections::HashMap;
use std::time::Instant;

use clap::Parser;
use flowlu_emulator::{Emulator, EmulatorConfig};

/// Bounded loopback load against an in-process emulator.
#[derive(Debug, Parser)]
struct Args {
    /// List requests to send in total.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Records of crm/account (the model read).
    #[arg(long, default_value_t = 10_000)]
    records: usize,
    /// Page size asked for.
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

/// The `count` of a list envelope, read from its head without parsing the items.
fn page_count(body: &[u8]) -> usize {
    let head = &body[..body.len().min(128)];
    let Some(at) = head.windows(8).position(|w| w == b"\"count\":") else {
        return 0;
    };
    head[at + 8..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0, |n, b| n * 10 + usize::from(b - b'0'))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let emu = Emulator::start(EmulatorConfig {
        seed: 42,
        records_per_model: 10,
        model_records: HashMap::from([("crm/account".to_owned(), args.records)]),
        max_page_size: args.limit.max(100),
        ..Default::default()
    })
    .await?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let pages = args.records.div_ceil(args.limit).max(1);
    let urls: Vec<String> = (1..=pages)
        .map(|p| {
            format!(
                "{}/api/v1/module/crm/account/list?api_key={}&page={p}&limit={}",
                emu.base_url(),
                emu.api_key(),
                args.limit
            )
        })
        .collect();
    let per_worker = args.requests.div_ceil(args.concurrency.max(1));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.concurrency.max(1) {
        let client = client.clone();
        let urls = urls.clone();
        workers.push(tokio::spawn(async move {
            let (mut records, mut bytes, mut failures) = (0usize, 0usize, 0usize);
            for i in 0..per_worker {
                let url = &urls[(w * per_worker + i) % urls.len()];
                match client.get(url).send().await {
                    Ok(r) => match r.bytes().await {
                        Ok(body) => {
                            records += page_count(&body);
                            bytes += body.len();
                        }
                        Err(_) => failures += 1,
                    },
                    Err(_) => failures += 1,
                }
            }
            (records, bytes, failures)
        }));
    }
    let (mut records, mut bytes, mut failures) = (0, 0, 0);
    for w in workers {
        let (r, b, f) = w.await?;
        records += r;
        bytes += b;
        failures += f;
    }
    let secs = started.elapsed().as_secs_f64();
    let requests = per_worker * args.concurrency.max(1);
    println!(
        "{requests} requests, {records} records, {:.1} MB in {secs:.2} s: {:.0} records/s, {:.0} requests/s, {:.1} MB/s, {failures} failures",
        bytes as f64 / 1e6,
        records as f64 / secs,
        requests as f64 / secs,
        bytes as f64 / 1e6 / secs,
    );
    emu.shutdown().await;
    Ok(())
}
