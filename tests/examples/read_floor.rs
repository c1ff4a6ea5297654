//! The floor of `bench_cpu`: the least a client can do to turn the stand-in's list pages into
//! Airbyte `RECORD` lines. It fetches pages of one model in order (one request at a time,
//! `order_by[asc][]=id`, `limit` records a page, until a page comes back short), parses each
//! page once (its records borrowed from the body as [`RawValue`]s, which checks they are
//! JSON) and writes one `RECORD` line per record to stdout. No retries, no limiter, no
//! checkpoints: what the connector does beyond this is what `bench_cpu` measures.
//!
//! ```text
//! FLOWLU_API_KEY=... read_floor BASE_URL MODULE/MODEL STREAM LIMIT
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    response: Response<'a>,
}

#[derive(Deserialize)]
struct Response<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, path, stream, limit] = args.as_slice() else {
        eprintln!("usage: FLOWLU_API_KEY=... read_floor BASE_URL MODULE/MODEL STREAM LIMIT");
        std::process::exit(2);
    };
    let key = std::env::var("FLOWLU_API_KEY").expect("FLOWLU_API_KEY");
    let limit: usize = limit.parse().expect("LIMIT is a number");
    let url = format!("{base}/api/v1/module/{path}/list");
    let stream = serde_json::to_string(stream).unwrap();
    let client = reqwest::Client::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut page = 1u64;
    loop {
        let body = client
            .get(&url)
            .query(&[("api_key", key.as_str()), ("order_by[asc][]", "id")])
            .query(&[("page", page), ("limit", limit as u64)])
            .send()
            .await
            .expect("the stand-in answers")
            .bytes()
            .await
            .expect("the whole body");
        let envelope: Envelope<'_> = serde_json::from_slice(&body).expect("a list page");
        let emitted_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        for record in &envelope.response.items {
            out.write_all(br#"{"type":"RECORD","record":{"stream":"#).unwrap();
            out.write_all(stream.as_bytes()).unwrap();
            out.write_all(br#","data":"#).unwrap();
            out.write_all(record.get().as_bytes()).unwrap();
            write!(out, r#","emitted_at":{emitted_at}}}}}"#).unwrap();
            out.write_all(b"\n").unwrap();
        }
        if envelope.response.items.len() < limit {
            break;
        }
        page += 1;
    }
    out.flush().unwrap();
}
