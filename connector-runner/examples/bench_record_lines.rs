//! The CPU of the RECORD lines: `write_records` over pages of raw records (about 1 KB each),
//! against the char-by-char line-break check it replaced, on the same texts.
//!
//! `cargo run --release -p connector-runner --example bench_record_lines`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use connector_core::RawRecords;
use connector_runner::airbyte::write_records;
use serde_json::value::RawValue;

const RECORDS: usize = 500;
const PAGES: usize = 400;

fn page() -> RawRecords {
    let records = (0..RECORDS)
        .map(|id| {
            let text = format!(
                r#"{{"id":"{id}","name":"Account {id}","description":"{}","email":"a{id}@example.com","updated_date":"2024-01-31 10:00:00","cf_12":"","tags":[1,2,3],"address":{{"city":"Berlin","zip":"10115"}}}}"#,
                "lorem ipsum dolor sit amet ".repeat(30)
            );
            RawValue::from_string(text).unwrap()
        })
        .collect();
    RawRecords::new("crm_account", records)
}

fn main() {
    let page = page();
    let bytes: usize = page.iter().map(|r| r.get().len()).sum();
    let mut out = Vec::new();
    let started = Instant::now();
    for _ in 0..PAGES {
        out.clear();
        write_records(&mut out, &page, 1_700_000_000_000);
    }
    let lines = started.elapsed();
    let started = Instant::now();
    let mut found = 0;
    for _ in 0..PAGES {
        found += page.iter().filter(|r| r.get().contains(['\n', '\r'])).count();
    }
    let char_scan = started.elapsed();
    let started = Instant::now();
    for _ in 0..PAGES {
        found += page
            .iter()
            .filter(|r| memchr::memchr2(b'\n', b'\r', r.get().as_bytes()).is_some())
            .count();
    }
    let memchr_scan = started.elapsed();
    let n = (RECORDS * PAGES) as f64;
    println!(
        "{} records of {} bytes ({found} with a line break)",
        RECORDS * PAGES,
        bytes / RECORDS
    );
    println!(
        "write_records:                {:7.1} ns/record",
        lines.as_nanos() as f64 / n
    );
    println!(
        "line-break check, char by char: {:7.1} ns/record",
        char_scan.as_nanos() as f64 / n
    );
    println!(
        "line-break check, memchr2:      {:7.1} ns/record",
        memchr_scan.as_nanos() as f64 / n
    );
}
