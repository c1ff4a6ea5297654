//! `source-flowlu`: the `flowlu-connector` program under Airbyte's connector name, the one
//! executable of the Python wheel (this folder's `pyproject.toml`): [`connector_flowlu::process_main`].

#[tokio::main]
async fn main() {
    std::process::exit(connector_flowlu::process_main().await);
}
