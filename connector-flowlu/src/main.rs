//! `flowlu-connector`: the Flowlu connector binary, speaking the Airbyte protocol.
//! See [`connector_flowlu::cli`].

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
    // SIGTERM and SIGINT stop `read` and `write` between whole lines (see `cli`).
    let interrupt = cli::Interrupt::from_signals();
    let code = cli::run_interruptible(std::env::args_os().skip(1), &env, stdin, &mut stdout, interrupt).await;
    drop(stdout);
    std::process::exit(code);
}
