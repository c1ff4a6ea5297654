//! `source-flowlu`: the `flowlu-connector` binary under Airbyte's connector name, for the Python
//! wheel (packaging/source-flowlu). The same program: [`connector_flowlu::process_main`].

#[tokio::main]
async fn main() {
    std::process::exit(connector_flowlu::process_main().await);
}
