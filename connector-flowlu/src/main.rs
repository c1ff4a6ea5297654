//! `flowlu-connector`: the Flowlu connector binary, speaking the Airbyte protocol.
//! See [`connector_flowlu::cli`].

#[tokio::main]
async fn main() {
    std::process::exit(connector_flowlu::cli::process_main().await);
}
