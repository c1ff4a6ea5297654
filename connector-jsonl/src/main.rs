//! `jsonl-connector`: JSON-lines files speaking the Airbyte protocol (see `connector-jsonl`).

#[tokio::main]
async fn main() {
    std::process::exit(connector_runner::process_main::<connector_jsonl::Jsonl>().await);
}
