//! `reference-host`: the reference host against the embedded Flowlu stand-in.
//!
//! ```sh
//! cargo run -p reference-host -- [--listen 127.0.0.1:8080] [--data-dir target/reference-host]
//! ```
//!
//! Prints the page's URL on stdout (one line), logs on stderr. The stand-in account is `demo`;
//! its API keys are the `--stand-in-key`s (`demo-key` unless given; never printed).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use flowlu_emulator::{ApiKey, Emulator, EmulatorConfig, Webhook};
use reference_host::crypto::{DataKey, DATA_KEY_ENV};
use reference_host::portals::{start_no_portal, Portals};
use reference_host::store::Store;
use reference_host::{authorities, find_assets, router, Host};

#[derive(Parser)]
#[command(about = "The reference host: credentials in a web page, against the embedded Flowlu stand-in")]
struct Args {
    /// Address to serve the page on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Folder of the database (host.sqlite3) and the data key file (data.key, 0600) unless
    /// REFERENCE_HOST_DATA_KEY is set.
    #[arg(long, default_value = "target/reference-host")]
    data_dir: PathBuf,
    /// An API key the stand-in account `demo` accepts (repeat it for several, to try a
    /// rotation); else REFERENCE_HOST_STAND_IN_KEY, else `demo-key`.
    #[arg(long = "stand-in-key")]
    stand_in_keys: Vec<String>,
    /// A stand-in key allowed only some modules, as `KEY=crm,task` (to see a warning tile).
    #[arg(long = "stand-in-limited-key", value_name = "KEY=MODULES")]
    stand_in_limited_keys: Vec<String>,
    /// Folder of the page's built script (app.js). Else REFERENCE_HOST_ASSETS, else the first
    /// that holds app.js of: `reference-host-web/` beside the binary, the checkout the binary
    /// sits in (`<checkout>/target/<profile>/reference-host` -> `<checkout>/reference-host/web/dist`),
    /// `reference-host/web/dist` under the current directory.
    #[arg(long)]
    assets: Option<PathBuf>,
    /// Listen on an address other machines can reach (not loopback). The page and its API have
    /// no sign-in: anyone who reaches the address can create, use and delete the credentials.
    #[arg(long)]
    expose_credentials_to_network: bool,
    /// A name the host is reached by on the network (`crm-admin.internal`, with or without a
    /// port): the Host headers it answers to besides the listening address (repeatable).
    #[arg(long = "public-name", value_name = "NAME[:PORT]")]
    public_names: Vec<String>,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    if let Err(e) = run(Args::parse()).await {
        eprintln!("reference-host: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let exe = std::env::current_exe().ok();
    let assets = find_assets(
        args.assets.clone(),
        std::env::var_os("REFERENCE_HOST_ASSETS").map(PathBuf::from),
        exe.as_deref(),
    )?;
    let listen: std::net::SocketAddr = tokio::net::lookup_host(&args.listen)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            format!(
                "--listen {}: not an address (such as 127.0.0.1:8080)",
                args.listen
            )
        })?;
    if !listen.ip().is_loopback() && !args.expose_credentials_to_network {
        return Err(format!(
            "refusing to listen on {listen}: that address is reachable from other machines, and the page has no sign-in (anyone who reaches it can create, use and delete credentials). Listen on 127.0.0.1, or add --expose-credentials-to-network (and --public-name NAME for the name browsers use)"
        )
        .into());
    }
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", args.data_dir.display()))?;
    let key = DataKey::load(std::env::var(DATA_KEY_ENV).ok(), &args.data_dir.join("data.key"))?;
    let store = Store::open(&args.data_dir.join("host.sqlite3"), key)?;
    let mut stand_in_keys = args.stand_in_keys.clone();
    if stand_in_keys.is_empty() {
        stand_in_keys
            .push(std::env::var("REFERENCE_HOST_STAND_IN_KEY").unwrap_or_else(|_| "demo-key".into()));
    }
    let mut keys: Vec<ApiKey> = stand_in_keys.into_iter().map(ApiKey::all_modules).collect();
    for limited in &args.stand_in_limited_keys {
        let (key, modules) = limited
            .split_once('=')
            .ok_or("--stand-in-limited-key takes KEY=MODULES, such as mykey=crm,task")?;
        keys.push(ApiKey::limited(
            key,
            modules.split(',').map(str::trim).filter(|m| !m.is_empty()),
        ));
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    // The stand-in's webhook goes to this host's relay (a token of its own, in memory).
    let relay = connector_flowlu::webhook::token::generate()?;
    let emulator = Emulator::start(EmulatorConfig {
        seed: 42,
        records_per_model: 50,
        keys,
        webhook: Some(Webhook::new(format!(
            "http://{addr}{}{}",
            reference_host::webhooks::RELAY_PREFIX,
            relay.expose()
        ))),
        ..Default::default()
    })
    .await?;
    let (elsewhere, _no_portal) = start_no_portal().await?;
    let portals = Portals::stand_in([("demo.flowlu.com".to_string(), emulator.base_url())], elsewhere);
    let host = Arc::new(
        Host::new(store, portals, assets.clone())?
            .answering_to(authorities(addr, &args.public_names))
            .with_webhooks(&args.data_dir.join("webhooks"))
            .with_stand_in_relay(relay, "demo.flowlu.com"),
    );
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "listening beyond loopback (--expose-credentials-to-network): anyone who reaches this address can create, use and delete credentials");
    }
    println!("http://{addr}/");
    tracing::info!(url = %format!("http://{addr}/"), data = %args.data_dir.display(), "reference host ready; stand-in account: demo (key: --stand-in-key)");
    axum::serve(listener, router(host))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    emulator.shutdown().await;
    Ok(())
}
