//! `jsonl-connector`: the JSON-lines connector, speaking the Airbyte protocol.

#[tokio::main]
async fn main() {
    std::process::exit(connector_runner::process_main::<connector_jsonl::Jsonl>().await);
}
