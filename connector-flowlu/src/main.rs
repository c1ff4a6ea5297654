//! `flowlu-connector`: the Flowlu connector binary, speaking the Airbyte protocol.
//! See [`connector_flowlu::Flowlu`].

#[tokio::main]
async fn main() {
    std::process::exit(connector_flowlu::process_main().await);
}
