//! `source-flowlu`: the `flowlu-connector` binary under Airbyte's connector name, for the Python
//! wheel (packaging/source-flowlu). Same code as `src/main.rs`.

use connector_flowlu::cli;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let env = cli::Env::from_process();
    let stdin: cli::Stdin = Box::new(tokio::io::BufReader::new(tokio::io::stdin()));
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let code = cli::run(std::env::args_os().skip(1), &env, stdin, &mut stdout).await;
    std::process::exit(code);
}
