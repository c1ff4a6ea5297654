//! [`Connector`]: what a connector tells the runner about itself.

use std::future::Future;
use std::io::Write;

use clap::{ArgMatches, FromArgMatches, Subcommand};
use connector_core::{Credential, DestinationSyncMode, Failure};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::env::Env;
use crate::exit::EXIT_USAGE;

/// A connector the runner turns into an Airbyte-protocol program: its credential type, its
/// name and what its spec says, how it builds a source and a sink from a credential, an
/// environment override of its base URL, and commands of its own. What a connector need not
/// say has a default: no examples, incremental reads, `append` only, no base-URL override,
/// `Connected.`, no commands of its own.
pub trait Connector: 'static {
    /// The credential the config file holds.
    type Credential: Credential + DeserializeOwned + JsonSchema;
    /// The source built from a credential.
    type Source: connector_core::Source;
    /// The sink built from a credential.
    type Sink: connector_core::Sink;
    /// Subcommands of the connector's own, after the protocol's ([`NoCommands`] for none).
    type Commands: Subcommand + std::fmt::Debug;

    /// The program's name, in usage lines and stderr messages (`flowlu-connector`).
    const NAME: &'static str;
    /// One line saying what the program is, at the top of `--help`.
    const ABOUT: &'static str;
    /// Examples at the end of `--help`.
    const EXAMPLES: &'static str = "";
    /// A config document shown when the config file is not JSON.
    const CONFIG_EXAMPLE: &'static str;
    /// A stream name for the example catalog an error shows.
    const STREAM_EXAMPLE: &'static str;
    /// The environment variable overriding the service's base URL (a local stand-in), if any.
    const BASE_URL_ENV: Option<&'static str> = None;

    /// Where the connector is documented (the spec's `documentationUrl`).
    const DOCUMENTATION_URL: &'static str;
    /// Whether its reads can be incremental (the spec's `supportsIncremental`).
    const SUPPORTS_INCREMENTAL: bool = true;
    /// The destination sync modes its sink accepts (the spec's
    /// `supported_destination_sync_modes`).
    const DESTINATION_SYNC_MODES: &'static [DestinationSyncMode] = &[DestinationSyncMode::Append];

    /// The credential talking to `base_url` instead of the service (from
    /// [`Self::BASE_URL_ENV`], only called when that is set); a config failure when the URL is
    /// refused. The default keeps the credential as it is.
    fn with_base_url(credential: Self::Credential, base_url: &str) -> Result<Self::Credential, Failure> {
        let _ = base_url;
        Ok(credential)
    }

    /// What `check` answers for a working credential (`Connected to acme.flowlu.com.`); the
    /// default says `Connected.`.
    fn connected(credential: &Self::Credential) -> String {
        let _ = credential;
        "Connected.".to_string()
    }

    /// The source of a credential.
    fn source(credential: &Self::Credential) -> Result<Self::Source, Failure>;

    /// The sink of a credential.
    fn sink(credential: &Self::Credential) -> Result<Self::Sink, Failure>;

    /// Runs one of [`Self::Commands`]: its output goes to `out` (protocol lines or one JSON
    /// document), what a person reads to `err`; returns the exit code. The default, for a
    /// connector without commands of its own ([`NoCommands`], which the command line never
    /// parses), answers [`EXIT_USAGE`].
    fn run_command(
        command: Self::Commands,
        env: &Env,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> impl Future<Output = i32> {
        let _ = (command, env, out, err);
        std::future::ready(EXIT_USAGE)
    }
}

/// No subcommands of a connector's own.
#[derive(Debug, Clone, Copy)]
pub enum NoCommands {}

impl FromArgMatches for NoCommands {
    fn from_arg_matches(_: &ArgMatches) -> Result<Self, clap::Error> {
        Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand))
    }

    fn update_from_arg_matches(&mut self, _: &ArgMatches) -> Result<(), clap::Error> {
        match *self {}
    }
}

impl Subcommand for NoCommands {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        cmd
    }

    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        cmd
    }

    fn has_subcommand(_: &str) -> bool {
        false
    }
}
