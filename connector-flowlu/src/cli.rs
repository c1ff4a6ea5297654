//! The `flowlu-connector` program: Flowlu as a [`connector_runner::Connector`] (the runner
//! speaks the Airbyte protocol), and its own `probe` command ([`probe`]).

use std::io::Write;

use clap::Subcommand;
use connector_core::{DestinationSyncMode, Failure, FailureClass};
use connector_runner::{Connector, Env};

use crate::credential::{explain_at, FlowluCredential};
use crate::sink::FlowluSink;
use crate::source::FlowluSource;

pub(crate) mod listen;
pub(crate) mod probe;

/// Flowlu, for the runner.
#[derive(Debug, Clone, Copy)]
pub struct Flowlu;

/// The commands of `flowlu-connector` beyond the protocol's.
#[derive(Debug, Subcommand)]
pub enum FlowluCommand {
    /// Measure what the connector assumes about your portal with a fixed, small set of
    /// read-only requests; prints a JSON report that holds none of your data.
    #[command(after_help = probe::HELP)]
    Probe(probe::ProbeArgs),
    /// Receive Flowlu's webhooks into a spool directory that reads drain (until a signal).
    #[command(after_help = listen::HELP)]
    Listen(listen::ListenArgs),
}

const EXAMPLES: &str = "Examples:
  flowlu-connector spec
  flowlu-connector check --config config.json
  flowlu-connector discover --config config.json > catalog.jsonl
  flowlu-connector read --config config.json --catalog configured_catalog.json --state state.json
  FLOWLU_BASE_URL=http://127.0.0.1:8080 flowlu-connector check --config config.json

config.json:
  {\"name\": \"CRM\", \"account_domain\": \"mycompany\", \"api_key\": \"<key from Portal Settings -> API Settings>\"}";

impl Connector for Flowlu {
    type Credential = FlowluCredential;
    type Source = FlowluSource;
    type Sink = FlowluSink;
    type Commands = FlowluCommand;

    const NAME: &'static str = "flowlu-connector";
    const ABOUT: &'static str = "A Flowlu connector speaking the Airbyte protocol.";
    const EXAMPLES: &'static str = EXAMPLES;
    const CONFIG_EXAMPLE: &'static str =
        "{\"name\": \"CRM\", \"account_domain\": \"mycompany\", \"api_key\": \"...\"}";
    const STREAM_EXAMPLE: &'static str = "crm_account";
    const BASE_URL_ENV: Option<&'static str> = Some(crate::client::BASE_URL_ENV);
    const DOCUMENTATION_URL: &'static str = "https://www.flowlu.com/api/";
    const DESTINATION_SYNC_MODES: &'static [DestinationSyncMode] =
        &[DestinationSyncMode::Append, DestinationSyncMode::AppendDedup];

    fn with_base_url(credential: FlowluCredential, base_url: &str) -> Result<FlowluCredential, Failure> {
        crate::client::check_base_url(base_url).map_err(|e| Failure {
            class: FailureClass::Config,
            message: format!("{e}."),
            internal: e.to_string(),
        })?;
        Ok(credential.with_base_url(base_url))
    }

    fn connected(credential: &FlowluCredential) -> String {
        format!("Connected to {}.", credential.host())
    }

    fn source(credential: &FlowluCredential) -> Result<FlowluSource, Failure> {
        FlowluSource::from_credential(credential).map_err(|e| explain_at(&e, &credential.host()).1)
    }

    fn sink(credential: &FlowluCredential) -> Result<FlowluSink, Failure> {
        FlowluSink::from_credential(credential).map_err(|e| explain_at(&e, &credential.host()).1)
    }

    async fn run_command(command: FlowluCommand, env: &Env, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
        match command {
            FlowluCommand::Probe(args) => probe::run::<Self>(&args, env, out, err).await,
            FlowluCommand::Listen(args) => listen::run::<Self>(&args, env, out, err).await,
        }
    }
}

/// The whole program of `flowlu-connector` (and of `source-flowlu`, the Python wheel's
/// executable, in `packaging/source-flowlu`): [`connector_runner::process_main`] for [`Flowlu`].
pub async fn process_main() -> i32 {
    connector_runner::process_main::<Flowlu>().await
}
