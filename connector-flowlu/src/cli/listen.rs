//! `flowlu-connector listen`: serves the webhook receiver ([`crate::webhook::receiver`]) on
//! an address, spooling into a directory a read drains (the `webhook_spool` setting).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use connector_runner::{load_config, Connector, Env, EXIT_FAILED, EXIT_OK, EXIT_USAGE};

use crate::credential::FlowluCredential;
use crate::webhook::receiver::{Receiver, ReceiverConfig, PATH_PREFIX};
use crate::webhook::token::{self, Tokens};

/// The `--help` of `listen`.
pub(crate) const HELP: &str = "Receives Flowlu's webhooks: each POST to /flowlu/webhook/<token> is checked, mapped to its stream and written to the spool directory (fsynced) before it is answered 200; a read with the config setting webhook_spool set to the same directory passes the changes on. The token is made on the first run and kept in <spool>/webhook-token.json (0600); it is never logged. Put the URL in Flowlu under System Settings -> Webhooks, behind your HTTPS proxy.

Examples:
  flowlu-connector listen --spool /var/lib/flowlu-webhooks --listen 127.0.0.1:8787
  flowlu-connector listen --spool /var/lib/flowlu-webhooks --print-url https://hooks.example.com
  flowlu-connector listen --spool /var/lib/flowlu-webhooks --rotate-token --print-url https://hooks.example.com";

/// The options of `listen`.
#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    /// The spool directory (defaults to the config's webhook_spool).
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    /// A config file whose advanced.webhook_spool names the spool directory.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The address to listen on (port 0: any free port, printed on stdout).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Listen on an address other machines can reach (put an HTTPS proxy in front).
    #[arg(long)]
    pub allow_public: bool,
    /// Print the webhook URL under BASE_URL (token included: it is the secret) as one JSON
    /// line, `{"webhook_url": ...}`, and exit.
    #[arg(long, value_name = "BASE_URL")]
    pub print_url: Option<String>,
    /// Make a new token first; the one before keeps working for --grace-hours.
    #[arg(long)]
    pub rotate_token: bool,
    /// Hours the previous token keeps working after --rotate-token.
    #[arg(long, value_name = "HOURS", default_value_t = 24)]
    pub grace_hours: u32,
    /// The most MiB each stream's spool holds; beyond, events are answered 503 (Flowlu keeps them).
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    pub max_spool_megabytes: u64,
}

fn now() -> i64 {
    i64::try_from(crate::webhook::receiver::unix_millis() / 1000).unwrap_or(i64::MAX)
}

/// Runs `listen` until a signal. `C` is the binary's connector (`Flowlu`, named by the caller).
pub(crate) async fn run<C: Connector<Credential = FlowluCredential>>(
    args: &ListenArgs,
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let spool = match (&args.spool, &args.config) {
        (Some(dir), _) => dir.clone(),
        (None, Some(config)) => match load_config::<C>(config, env) {
            Ok(loaded) => match loaded.credential.settings().webhook_spool() {
                Some(dir) => dir.to_path_buf(),
                None => {
                    let _ = writeln!(
                        err,
                        "listen needs --spool DIR, or a config whose advanced.webhook_spool is set"
                    );
                    return EXIT_USAGE;
                }
            },
            Err(failure) => {
                let _ = writeln!(err, "{}", failure.message);
                return EXIT_FAILED;
            }
        },
        (None, None) => {
            let _ = writeln!(
                err,
                "listen needs --spool DIR (or --config FILE with advanced.webhook_spool)"
            );
            return EXIT_USAGE;
        }
    };
    let mut tokens = match Tokens::load_or_create(&spool) {
        Ok(tokens) => tokens,
        Err(e) => {
            let _ = writeln!(
                err,
                "The webhook token in {} cannot be used: {e}",
                spool.display()
            );
            return EXIT_FAILED;
        }
    };
    if args.rotate_token {
        let rotated = tokens.rotate(now(), i64::from(args.grace_hours) * 3600);
        match rotated.and_then(|t| t.store(&spool).map(|()| t)) {
            Ok(t) => tokens = t,
            Err(e) => {
                let _ = writeln!(err, "The webhook token cannot be rotated: {e}");
                return EXIT_FAILED;
            }
        }
        let _ = writeln!(
            err,
            "A new webhook token is in {}; the previous one works for {} more hours.",
            token::path(&spool).display(),
            args.grace_hours
        );
    }
    if let Some(base) = &args.print_url {
        let url = format!(
            "{}{PATH_PREFIX}{}",
            base.trim_end_matches('/'),
            tokens.current.expose()
        );
        let _ = writeln!(out, "{}", serde_json::json!({ "webhook_url": url }));
        return EXIT_OK;
    }
    if !args.listen.ip().is_loopback() && !args.allow_public {
        let _ = writeln!(err, "{} is not a loopback address: add --allow-public to listen where other machines can reach (behind an HTTPS proxy)", args.listen);
        return EXIT_USAGE;
    }
    let mut config = ReceiverConfig::default();
    config.spool.max_bytes = args.max_spool_megabytes.saturating_mul(1024 * 1024);
    let receiver = Receiver::new(&spool, tokens, config);
    if let Err(e) = receiver.recover() {
        let _ = writeln!(err, "The spool in {} cannot be opened: {e}", spool.display());
        return EXIT_FAILED;
    }
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            let _ = writeln!(err, "Cannot listen on {}: {e}", args.listen);
            return EXIT_FAILED;
        }
    };
    let bound = listener.local_addr().map_or(args.listen, |a| a);
    // stdout: one JSON line saying where (never the token), written now (the runner passes
    // `out` on only when a command ends, and this one runs until a signal); stderr: the sentence.
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", serde_json::json!({"listening": bound.to_string()}));
        let _ = stdout.flush();
    }
    let _ = writeln!(
        err,
        "Receiving Flowlu webhooks on {bound} into {} (the URL's token is in {}).",
        spool.display(),
        token::path(&spool).display()
    );
    let app = receiver.router();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await;
    let stats = receiver.stats();
    let _ = writeln!(
        err,
        "Stopped: {} events spooled, {} repeats, {} refused.",
        stats.spooled,
        stats.duplicates,
        stats.not_found + stats.malformed + stats.unknown_model + stats.unavailable + stats.failed
    );
    match served {
        Ok(()) => EXIT_OK,
        Err(e) => {
            let _ = writeln!(err, "The receiver stopped: {e}");
            EXIT_FAILED
        }
    }
}

async fn shutdown() {
    #[cfg(unix)]
    {
        let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match term {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
