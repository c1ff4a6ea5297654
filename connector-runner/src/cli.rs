//! The command line (clap): the protocol's commands, the connector's own flattened after them,
//! and each command's example.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

use crate::connector::Connector;

/// The protocol commands of a connector speaking the Airbyte protocol; `E` are the
/// connector's own commands ([`Connector::Commands`]).
#[derive(Debug, Parser)]
#[command(version)]
pub(crate) struct Cli<E: Subcommand> {
    /// Show progress per stream and a summary table on stderr (on by default when stdout is
    /// a terminal). The protocol output on stdout is unchanged.
    #[arg(long, global = true)]
    pub pretty: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command<E>,
}

/// The protocol commands, and the connector's own.
#[derive(Debug, Subcommand)]
pub(crate) enum Command<E: Subcommand> {
    /// Print the connector specification (the credential form's JSON Schema).
    Spec,
    /// Check a credential: prints CONNECTION_STATUS SUCCEEDED or FAILED with what to fix.
    Check {
        /// The config file (JSON), as the specification describes it.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Discover the streams: prints a CATALOG.
    Discover {
        /// The config file (JSON), as the specification describes it.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Read the streams of a configured catalog: prints RECORD, STATE and TRACE lines; exits
    /// 1 if any stream failed, after reading the others.
    Read {
        /// The config file (JSON), as the specification describes it.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The configured catalog (JSON): the streams to read and their sync modes.
        #[arg(long, value_name = "FILE")]
        catalog: PathBuf,
        /// The state (JSON) of an earlier read, to continue from.
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
    },
    /// Write Airbyte RECORD messages from stdin; echoes each STATE once every record before it
    /// has an outcome.
    Write {
        /// The config file (JSON), as the specification describes it.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The configured catalog (JSON): the streams to write and their destination sync mode.
        #[arg(long, value_name = "FILE")]
        catalog: PathBuf,
        /// Where failed and unknown records go, with their reasons (JSON lines).
        #[arg(long, value_name = "FILE")]
        reject_file: Option<PathBuf>,
        /// Where every record's outcome goes, one JSON line per input record: its input line
        /// number, stream, outcome, the id the service gave it (for a created record, the new
        /// id) and a message, e.g. {"line":3,"stream":"crm_account","outcome":"created","id":"90","message":null}.
        #[arg(long, value_name = "FILE")]
        outcomes_file: Option<PathBuf>,
    },
    /// The connector's own commands.
    #[command(flatten)]
    Extra(E),
}

/// The clap command of connector `C`: its name, description and examples on the protocol
/// commands.
pub(crate) fn command<C: Connector>() -> clap::Command {
    let name = C::NAME;
    let example = |args: &str| format!("Example:\n  {name} {args}");
    Cli::<C::Commands>::command()
        .name(name)
        .bin_name(name)
        .about(C::ABOUT)
        .after_help(C::EXAMPLES)
        .mut_subcommand("spec", |c| c.after_help(example("spec")))
        .mut_subcommand("check", |c| c.after_help(example("check --config config.json")))
        .mut_subcommand("discover", |c| c.after_help(example("discover --config config.json")))
        .mut_subcommand("read", |c| {
            c.after_help(format!(
                "{}\n\nconfigured_catalog.json: the streams of discover's CATALOG, each with a sync_mode and a destination_sync_mode.\n\nstate.json: the `state` objects of earlier STATE lines, as a JSON array (or [] to start over).",
                example("read --config config.json --catalog configured_catalog.json --state state.json")
            ))
        })
        .mut_subcommand("write", |c| {
            c.after_help(example(
                "write --config config.json --catalog catalog.json --reject-file rejects.jsonl < messages.jsonl",
            ))
        })
}
