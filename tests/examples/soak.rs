//! The fault soak at full size: for 10 seeds, 5 streams of 20,000 records read and 5,000
//! records written through the stand-in with 10% 5xx, 5% 429, 2% dropped connections, 1%
//! truncated bodies and 0-10 ms of jittered latency; every record checked (see
//! `integration_tests::soak`). Prints one table row per seed; exits 1 on the first mismatch.
//!
//! ```text
//! cargo run --release -p integration-tests --example soak
//! cargo run --release -p integration-tests --example soak -- --seeds 3 --records 5000 --writes 1000
//! cargo run --release -p integration-tests --example soak -- --first-seed 6 --seeds 1
//! cargo run --release -p integration-tests --example soak -- --seeds 0 --signal-seeds 5
//! ```
//!
//! Then, for `--signal-seeds` seeds (default 10), the write alone interrupted by a signal a
//! third of the way (a second client creating and editing accounts before it) and resumed
//! from its last acknowledged checkpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use flowlu_emulator::Latency;
use integration_tests::bench::number_arg;
use integration_tests::soak::{soak_seed, SoakConfig, READ_STREAMS};

#[tokio::main]
async fn main() {
    let seeds = number_arg("--seeds", 10) as u64;
    let first = number_arg("--first-seed", 1) as u64;
    let config = SoakConfig {
        records_per_stream: number_arg("--records", 20_000),
        writes: number_arg("--writes", 5_000),
        latency: Latency {
            fixed_ms: 0,
            jitter_ms: 10,
        },
        concurrency: 8,
        deadline: Duration::from_secs(600),
    };
    println!(
        "{} streams x {} records read, {} records written, per seed",
        READ_STREAMS.len(),
        config.records_per_stream,
        config.writes
    );
    println!("| seed | records read | requests | faults | lost | repeated | read s | outcomes | requests | faults | duplicates | write s |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut totals = (0u64, 0u64, 0u64, 0u64, 0u64);
    for seed in first..first + seeds {
        let figures = match soak_seed(&config, seed).await {
            Ok(figures) => figures,
            Err(e) => {
                eprintln!("seed {seed}: {e}");
                std::process::exit(1);
            }
        };
        let (r, w) = (&figures.read, &figures.write);
        eprintln!(
            "seed {seed}: a second client made {} creates and edits during the write; {} duplicates; every outcome agrees with the final data",
            w.concurrent_changes, w.duplicates
        );
        let outcomes: Vec<String> = w.outcomes.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!(
            "| {seed} | {} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {} | {:.1} |",
            r.records,
            r.requests,
            r.faulted,
            r.lost,
            r.repeated,
            r.elapsed.as_secs_f64(),
            outcomes.join(", "),
            w.requests,
            w.faulted,
            w.duplicates,
            w.elapsed.as_secs_f64()
        );
        totals.0 += r.records;
        totals.1 += r.requests + w.requests;
        totals.2 += r.faulted + w.faulted;
        totals.3 += w.outcomes.values().sum::<u64>();
        totals.4 += w.outcomes.get("unknown").copied().unwrap_or(0);
    }
    println!(
        "total: {} records read, {} records written ({} unknown), {} requests, {} answered 429/5xx; no record lost or repeated",
        totals.0, totals.3, totals.4, totals.1, totals.2
    );
    signal_soak(&config, first).await;
}

/// `--signal-seeds N` (default 10): the write interrupted a third of the way, then resumed
/// from its last acknowledged checkpoint (`integration_tests::soak::soak_signal`).
async fn signal_soak(config: &SoakConfig, first: u64) {
    let seeds = number_arg("--signal-seeds", 10) as u64;
    if seeds == 0 {
        return;
    }
    println!(
        "signal: {} records written, SIGTERM after a third of the outcomes, resumed from the last checkpoint acknowledged",
        config.writes
    );
    println!("| seed | second client's changes | not sent | checkpoints acked | acked past a record to resend | requests after the signal | stop ms | duplicates | creates sent again | created twice |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for seed in first..first + seeds {
        let f = match integration_tests::soak::soak_signal(config, seed).await {
            Ok(figures) => figures,
            Err(e) => {
                eprintln!("signal seed {seed}: {e}");
                std::process::exit(1);
            }
        };
        println!(
            "| {seed} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            f.concurrent_changes,
            f.not_sent,
            f.acked,
            f.acked_past_resend,
            f.requests_after,
            f.stop.as_millis(),
            f.duplicates,
            f.resent_creates,
            f.slipped
        );
        if f.acked_past_resend > 0 || f.duplicates > 0 || f.slipped > 0 {
            std::process::exit(1);
        }
    }
}
