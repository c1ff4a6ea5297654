//! # connector-runner
//!
//! The Airbyte-protocol program for any `connector-core` connector, the way the Python CDK's
//! entrypoint serves every Python connector: a connector implements [`Connector`] (its
//! credential type, name, spec, how it builds a source and a sink, a base-URL override, extra
//! subcommands) and its `main` is one call:
//!
//! ```text
//! #[tokio::main]
//! async fn main() {
//!     std::process::exit(connector_runner::process_main::<MyConnector>().await);
//! }
//! ```
//!
//! Every command prints one JSON `AirbyteMessage` per line on stdout and nothing else; logs go
//! to stderr. Exit codes: 0 when the command ran (a failed `check` included: its answer is a
//! `CONNECTION_STATUS FAILED`), 1 when it failed (a `TRACE` error says why, with its
//! `failure_type`), 2 for a command line that cannot be parsed, 130 / 143 when a `read` or
//! `write` was interrupted by SIGINT / SIGTERM (it stops between whole lines, flushes them and
//! says on stderr what the last STATE covers; a second signal exits at once).
//!
//! Every line but a `RECORD` is flushed as it is written (a `LOG` or `TRACE` reaches the host
//! at once); `RECORD` lines are buffered and flushed with the `STATE` after them. The values of
//! the spec's secret fields (`writeOnly`) in the config are removed, in every encoding, from
//! every line that can carry text from a server.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use connector_core::{Credential, Failure, FailureClass, Validation};
use serde_json::Value;

use crate::airbyte::{now_ms, Message};

pub mod airbyte;
mod connector;
mod inputs;
mod progress;
mod read;
pub mod state;
mod write;
pub use connector::{Connector, NoCommands};
pub use inputs::{load_catalog, load_state};

/// Exit code: the command ran.
pub const EXIT_OK: i32 = 0;
/// Exit code: the command failed; a `TRACE` error on stdout says why.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: the command line could not be parsed.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: interrupted by SIGINT (128 + 2).
pub const EXIT_SIGINT: i32 = 130;
/// Exit code: interrupted by SIGTERM (128 + 15).
pub const EXIT_SIGTERM: i32 = 143;

/// A signal asking the command to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (a host stopping the connector).
    Terminate,
}

impl Signal {
    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
        }
    }

    /// The exit code after it: 128 + the signal number.
    pub fn exit_code(self) -> i32 {
        match self {
            Self::Interrupt => EXIT_SIGINT,
            Self::Terminate => EXIT_SIGTERM,
        }
    }
}

/// Whether (and by which signal) the command was asked to stop. `read` and `write` check it
/// between lines; the other commands are short and ignore it.
#[derive(Debug, Clone)]
pub struct Interrupt(tokio::sync::watch::Receiver<Option<Signal>>);

/// Fires an [`Interrupt`] (tests, or a host embedding the command line).
#[derive(Debug)]
pub struct InterruptTrigger(tokio::sync::watch::Sender<Option<Signal>>);

impl InterruptTrigger {
    /// Asks the command to stop as `signal` would.
    pub fn fire(&self, signal: Signal) {
        self.0.send_replace(Some(signal));
    }
}

impl Interrupt {
    /// An interrupt that never fires.
    pub fn never() -> Self {
        Self::manual().1
    }

    /// An interrupt fired by its trigger.
    pub fn manual() -> (InterruptTrigger, Self) {
        let (tx, rx) = tokio::sync::watch::channel(None);
        (InterruptTrigger(tx), Self(rx))
    }

    /// An interrupt fired by SIGTERM or SIGINT; a second signal ends the process at once with
    /// that signal's exit code. Call inside the Tokio runtime.
    pub fn from_signals(program: &'static str) -> Self {
        let (trigger, interrupt) = Self::manual();
        let Some(mut signals) = Signals::listen() else {
            return interrupt;
        };
        tokio::spawn(async move {
            let mut fired = false;
            while let Some(signal) = signals.next().await {
                if fired {
                    eprintln!("{program}: {} again: exiting now", signal.name());
                    std::process::exit(signal.exit_code());
                }
                fired = true;
                trigger.fire(signal);
            }
        });
        interrupt
    }

    /// The signal, once one came.
    pub fn fired(&self) -> Option<Signal> {
        *self.0.borrow()
    }

    /// Waits for a signal (forever when none can come).
    pub async fn wait(mut self) -> Signal {
        loop {
            if let Some(signal) = *self.0.borrow_and_update() {
                return signal;
            }
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// SIGTERM and SIGINT, listened to from the start (so neither ends the process by itself).
#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn listen() -> Option<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Some(Self {
            term: signal(SignalKind::terminate()).ok()?,
            int: signal(SignalKind::interrupt()).ok()?,
        })
    }

    async fn next(&mut self) -> Option<Signal> {
        tokio::select! {
            s = self.term.recv() => s.map(|()| Signal::Terminate),
            s = self.int.recv() => s.map(|()| Signal::Interrupt),
        }
    }
}

/// Ctrl-C, where there are no Unix signals.
#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn listen() -> Option<Self> {
        Some(Self)
    }

    async fn next(&mut self) -> Option<Signal> {
        tokio::signal::ctrl_c().await.ok()?;
        Some(Signal::Interrupt)
    }
}

/// The protocol commands of a connector speaking the Airbyte protocol; `E` are the
/// connector's own commands ([`Connector::Commands`]).
#[derive(Debug, Parser)]
#[command(version)]
pub struct Cli<E: Subcommand> {
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
pub enum Command<E: Subcommand> {
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
pub fn command<C: Connector>() -> clap::Command {
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

/// What the command reads from its environment.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// The base URL override ([`Connector::BASE_URL_ENV`]), if set.
    pub base_url: Option<String>,
    /// Whether stdout is a terminal (a person watching): turns the progress view on.
    pub stdout_is_terminal: bool,
}

impl Env {
    /// Reads the process environment (`base_url` from `base_url_env`, when given).
    pub fn from_process(base_url_env: Option<&str>) -> Self {
        use std::io::IsTerminal;
        Self {
            base_url: base_url_env
                .and_then(|name| std::env::var(name).ok())
                .filter(|v| !v.trim().is_empty()),
            stdout_is_terminal: std::io::stdout().is_terminal(),
        }
    }
}

/// Standard input as the commands read it (`write` reads Airbyte messages from it).
pub type Stdin = Box<dyn tokio::io::AsyncBufRead + Unpin + Send>;

/// Runs the command line `args` of connector `C` (without the program name), reading `stdin`,
/// writing protocol lines to `out`, and returning the exit code.
pub async fn run<C: Connector>(
    args: impl IntoIterator<Item = OsString>,
    env: &Env,
    stdin: Stdin,
    out: &mut dyn Write,
) -> i32 {
    run_interruptible::<C>(args, env, stdin, out, Interrupt::never()).await
}

/// [`run`], stopping `read` and `write` cleanly when `interrupt` fires (see the module
/// documentation).
pub async fn run_interruptible<C: Connector>(
    args: impl IntoIterator<Item = OsString>,
    env: &Env,
    stdin: Stdin,
    out: &mut dyn Write,
    interrupt: Interrupt,
) -> i32 {
    let argv = std::iter::once(OsString::from(C::NAME)).chain(args);
    let parsed = command::<C>()
        .try_get_matches_from(argv)
        .and_then(|matches| Cli::<C::Commands>::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = err.print();
            return code;
        }
    };
    let mut output = ProtocolOut::new(out);
    let unit = if matches!(cli.command, Command::Write { .. }) {
        "written"
    } else {
        "records"
    };
    let mut progress = progress::Progress::new(cli.pretty || env.stdout_is_terminal, unit);
    let code = match cli.command {
        Command::Spec => match C::spec() {
            Ok(spec) => output.emit(&Message::Spec { spec }),
            Err(err) => output.fail(&Failure {
                class: FailureClass::System,
                message: "the connector specification could not be generated".into(),
                internal: err.to_string(),
            }),
        },
        Command::Check { config } => match load_config::<C>(&config, env) {
            Err(failure) => output.emit(&Message::failed(failure.message)),
            Ok(loaded) => {
                output.redact(loaded.secrets);
                let checked = check::<C>(&loaded.credential, &mut output);
                until_interrupted(C::NAME, "check", &interrupt, checked).await
            }
        },
        Command::Discover { config } => {
            let discovered = read::discover::<C>(&config, env, &mut output);
            until_interrupted(C::NAME, "discover", &interrupt, discovered).await
        }
        Command::Read {
            config,
            catalog,
            state,
        } => {
            read::read::<C>(
                &config,
                &catalog,
                state.as_deref(),
                env,
                &mut output,
                &mut progress,
                interrupt,
            )
            .await
        }
        Command::Write {
            config,
            catalog,
            reject_file,
            outcomes_file,
        } => {
            write::run::<C>(
                &config,
                &catalog,
                write::Files {
                    rejects: reject_file.as_deref(),
                    outcomes: outcomes_file.as_deref(),
                },
                env,
                stdin,
                &mut output,
                &mut progress,
                interrupt,
            )
            .await
        }
        Command::Extra(command) => {
            let mut report = Vec::new();
            let code = C::run_command(command, env, &mut report, &mut std::io::stderr()).await;
            code.max(output.emit_lines(&report))
        }
    };
    let code = code.max(output.flush());
    progress.finish(&mut std::io::stderr());
    code
}

/// Runs a short command, abandoning it when `interrupt` fires (it has nothing to save): stderr
/// says so and the exit code is the signal's.
async fn until_interrupted(
    program: &str,
    command: &str,
    interrupt: &Interrupt,
    run: impl std::future::Future<Output = i32>,
) -> i32 {
    tokio::select! {
        code = run => code,
        signal = interrupt.clone().wait() => {
            eprintln!("{program}: {command} interrupted by {}", signal.name());
            signal.exit_code()
        }
    }
}

async fn check<C: Connector>(credential: &C::Credential, output: &mut ProtocolOut<'_>) -> i32 {
    match credential.validate().await {
        Validation::Valid { warnings, detail } => {
            for warning in &warnings {
                output.emit(&Message::log(connector_core::LogLevel::Warn, warning.clone()));
            }
            let mut message = C::connected(credential);
            if !warnings.is_empty() {
                message.push(' ');
                message.push_str(&warnings.join(" "));
            }
            tracing::info!(%detail, "check succeeded");
            output.emit(&Message::succeeded(message))
        }
        Validation::Invalid { failure, .. } => {
            tracing::info!(internal = %failure.internal, "check failed");
            output.emit(&Message::failed(failure.message))
        }
    }
}

/// A config file read and validated: the credential, and the values of its secret fields
/// (removed from every line of output).
pub struct Loaded<T> {
    /// The credential, with the environment's overrides applied.
    pub credential: T,
    /// The values the config holds at the spec's secret fields.
    pub secrets: Vec<String>,
}

/// Reads and validates the config file of connector `C`, naming the field and the fix on
/// failure; applies the base URL override of `env`.
pub fn load_config<C: Connector>(path: &Path, env: &Env) -> Result<Loaded<C::Credential>, Failure> {
    let config_error = |message: String, internal: String| Failure {
        class: FailureClass::Config,
        message,
        internal,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        config_error(
            format!(
                "The config file {} could not be read: {e}. Check the path given with --config.",
                path.display()
            ),
            e.to_string(),
        )
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        config_error(
            format!(
                "The config file {} is not valid JSON (line {}, column {}). It should be an object such as {}.",
                path.display(),
                e.line(),
                e.column(),
                C::CONFIG_EXAMPLE
            ),
            e.classify_name().to_string(),
        )
    })?;
    let mut credential = C::Credential::from_config(&value).map_err(|e| {
        let message = match &e {
            connector_core::Error::Config { path, message } if path == "." => {
                format!(
                    "The config is incomplete: {message}. Required fields: {}.",
                    required_fields::<C::Credential>().join(", ")
                )
            }
            connector_core::Error::Config { path, message } => {
                format!("The config field `{path}` is wrong: {message}.")
            }
            other => other.to_string(),
        };
        config_error(message.clone(), message)
    })?;
    if let Some(url) = &env.base_url {
        credential = C::with_base_url(credential, url)?;
    }
    let mut secrets = connector_core::credential::secret_values::<C::Credential>(&value);
    // A credential may trim what was pasted: its trimmed form is scrubbed too.
    let trimmed: Vec<String> = secrets
        .iter()
        .map(|s| s.trim())
        .filter(|t| !t.is_empty() && !secrets.iter().any(|s| s == t))
        .map(str::to_string)
        .collect();
    secrets.extend(trimmed);
    Ok(Loaded { credential, secrets })
}

/// The required top-level fields of `T`'s form, in order.
fn required_fields<T: Credential + schemars::JsonSchema>() -> Vec<String> {
    let Ok(form) = T::form() else {
        return Vec::new();
    };
    form.schema
        .get("required")
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Writes protocol lines: one JSON message per line. Flushes after every line that is not a
/// `RECORD` (a `STATE`, so a host sees a checkpoint with the records before it; a `LOG` or
/// `TRACE`, so it is seen when it happens) and on [`ProtocolOut::flush`].
pub struct ProtocolOut<'a> {
    out: &'a mut dyn Write,
    broken: bool,
    /// The secrets, removed (in every encoding) from every LOG, TRACE and CONNECTION_STATUS line.
    secrets: Vec<String>,
}

impl<'a> ProtocolOut<'a> {
    /// Wraps a writer (buffer it: this writes line by line).
    pub fn new(out: &'a mut dyn Write) -> Self {
        Self {
            out,
            broken: false,
            secrets: Vec::new(),
        }
    }

    /// From now on, removes `secrets` from every line that can carry text from a server (LOG,
    /// TRACE, CONNECTION_STATUS): a last line of defence behind the redacted errors.
    pub fn redact(&mut self, secrets: Vec<String>) {
        self.secrets = secrets;
    }

    /// `text` without any of the secrets, in any encoding.
    pub fn scrub(&self, text: &str) -> String {
        scrub(text, &self.secrets)
    }

    /// Writes one message; returns the exit code so far (`EXIT_FAILED` once stdout broke).
    pub fn emit(&mut self, message: &Message) -> i32 {
        if self.broken {
            return EXIT_FAILED;
        }
        // Only RECORD lines wait in the buffer (they are the bulk, and a STATE after them
        // flushes them); every other line reaches the host at once.
        let flush = !matches!(message, Message::Record { .. });
        let shows_text = matches!(
            message,
            Message::Log { .. } | Message::Trace { .. } | Message::ConnectionStatus { .. }
        );
        let written = if shows_text && !self.secrets.is_empty() {
            serde_json::to_string(message)
                .map_err(std::io::Error::from)
                .and_then(|line| self.out.write_all(scrub(&line, &self.secrets).as_bytes()))
        } else {
            serde_json::to_writer(&mut *self.out, message).map_err(std::io::Error::from)
        };
        let written = written.and_then(|()| self.out.write_all(b"\n")).and_then(|()| {
            if flush {
                self.out.flush()
            } else {
                Ok(())
            }
        });
        self.check(written)
    }

    /// Writes ready-made protocol lines, each ending in a newline (the RECORD lines of
    /// records passed through as sent); returns the exit code so far.
    pub fn emit_lines(&mut self, lines: &[u8]) -> i32 {
        if self.broken {
            return EXIT_FAILED;
        }
        let written = self.out.write_all(lines);
        self.check(written)
    }

    /// Flushes buffered lines.
    pub fn flush(&mut self) -> i32 {
        let flushed = self.out.flush();
        self.check(flushed)
    }

    /// Whether stdout broke (the host went away).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Writes a `TRACE` error and returns [`EXIT_FAILED`].
    pub fn fail(&mut self, failure: &Failure) -> i32 {
        self.emit(&Message::error(failure, None, now_ms()));
        self.flush();
        EXIT_FAILED
    }

    fn check(&mut self, result: std::io::Result<()>) -> i32 {
        match result {
            Ok(()) => EXIT_OK,
            Err(e) => {
                if !self.broken {
                    tracing::error!(error = %e, "stdout closed");
                }
                self.broken = true;
                EXIT_FAILED
            }
        }
    }
}

/// `text` without any of `secrets`, in any encoding ([`connector_core::secret::redact`]).
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut text = std::borrow::Cow::Borrowed(text);
    for secret in secrets {
        text = std::borrow::Cow::Owned(connector_core::secret::redact(&text, secret));
    }
    text.into_owned()
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "data error",
            serde_json::error::Category::Eof => "unexpected end of file",
        }
    }
}

/// The whole program of connector `C`'s binary: logs on stderr (`RUST_LOG`, default `warn`),
/// the process environment, stdin and a buffered stdout, SIGTERM and SIGINT stopping `read` and
/// `write` between whole lines; returns the exit code.
pub async fn process_main<C: Connector>() -> i32 {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let env = Env::from_process(C::BASE_URL_ENV);
    let stdin: Stdin = Box::new(tokio::io::BufReader::new(tokio::io::stdin()));
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let interrupt = Interrupt::from_signals(C::NAME);
    let args = std::env::args_os().skip(1);
    let code = run_interruptible::<C>(args, &env, stdin, &mut stdout, interrupt).await;
    drop(stdout);
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that shows what has been flushed so far.
    #[derive(Default)]
    struct Pipe {
        buffered: Vec<u8>,
        flushed: Vec<u8>,
    }

    impl Write for Pipe {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.buffered.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.flushed.append(&mut self.buffered);
            Ok(())
        }
    }

    #[test]
    fn every_line_but_a_record_is_flushed_as_it_is_written() {
        let mut pipe = Pipe::default();
        let mut out = ProtocolOut::new(&mut pipe);
        out.emit_lines(b"{\"type\":\"RECORD\"}\n");
        out.emit(&Message::log(connector_core::LogLevel::Warn, "retrying"));
        let state = Message::State {
            state: serde_json::json!({"type": "STREAM"}),
        };
        out.emit_lines(b"{\"type\":\"RECORD\"}\n");
        out.emit(&state);
        out.emit_lines(b"{\"type\":\"RECORD\"}\n");
        let failure = Failure {
            class: FailureClass::Transient,
            message: "m".into(),
            internal: "i".into(),
        };
        out.emit(&Message::error(&failure, None, 1));
        out.emit_lines(b"{\"type\":\"RECORD\"}\n");
        let flushed = String::from_utf8(pipe.flushed).unwrap();
        let kinds: Vec<&str> = flushed
            .lines()
            .map(|l| {
                if l.contains("RECORD") {
                    "RECORD"
                } else if l.contains("LOG") {
                    "LOG"
                } else if l.contains("STATE") {
                    "STATE"
                } else {
                    "TRACE"
                }
            })
            .collect();
        assert_eq!(kinds, ["RECORD", "LOG", "RECORD", "STATE", "RECORD", "TRACE"]);
        assert_eq!(
            pipe.buffered, b"{\"type\":\"RECORD\"}\n",
            "only the last record waits"
        );
    }

    #[test]
    fn text_lines_are_redacted_once_the_key_is_known() {
        let mut buf = Vec::new();
        let mut out = ProtocolOut::new(&mut buf);
        out.redact(vec!["k/+ \"y".to_string()]);
        out.emit(&Message::log(
            connector_core::LogLevel::Warn,
            "GET ?api_key=k%2F%2B+%22y and k/+ \"y",
        ));
        out.emit(&Message::failed("bad key k/+ \"y"));
        let state = serde_json::json!({"type": "STREAM", "note": "k/+ \"y"});
        out.emit(&Message::State { state });
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(
            lines[0]["log"]["message"],
            "GET ?api_key=[REDACTED] and [REDACTED]"
        );
        assert_eq!(lines[1]["connectionStatus"]["message"], "bad key [REDACTED]");
        assert_eq!(
            lines[2]["state"]["note"], "k/+ \"y",
            "a STATE is passed on as given"
        );
    }

    #[tokio::test]
    async fn an_interrupt_is_seen_by_every_clone_and_never_fires_by_itself() {
        let (trigger, interrupt) = Interrupt::manual();
        let waiting = interrupt.clone();
        assert_eq!(interrupt.fired(), None);
        trigger.fire(Signal::Terminate);
        assert_eq!(waiting.wait().await, Signal::Terminate);
        assert_eq!(interrupt.fired(), Some(Signal::Terminate));
        assert_eq!(
            (Signal::Terminate.exit_code(), Signal::Interrupt.exit_code()),
            (143, 130)
        );
        let never = Interrupt::never();
        assert!(futures::FutureExt::now_or_never(never.wait()).is_none());
    }

    /// A connector whose credential has a secret and whose source fails by echoing it.
    mod echo {
        use connector_core::{
            Catalog, ConfiguredCatalog, CredentialMeta, PreparedWrite, Secret, SinkEvent, SinkInput,
            SourceEvent, SourceState,
        };
        use futures::stream::BoxStream;

        use super::*;

        /// Echo service
        ///
        /// A service that echoes its key.
        #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
        pub struct EchoCredential {
            #[serde(flatten)]
            meta: CredentialMeta,
            /// Token
            ///
            /// The token.
            pub token: Secret,
        }

        #[async_trait::async_trait]
        impl Credential for EchoCredential {
            fn meta(&self) -> &CredentialMeta {
                &self.meta
            }
            async fn validate(&self) -> Validation {
                Validation::invalid(
                    connector_core::FailureReason::BadCredentials,
                    format!("the service refused {}", self.token.expose().trim()),
                    "refused",
                )
            }
        }

        pub struct Echo(String);

        #[async_trait::async_trait]
        impl connector_core::Source for Echo {
            async fn discover(&self) -> Result<Catalog, Failure> {
                Err(Failure {
                    class: FailureClass::Transient,
                    message: format!("GET /?token={} failed", self.0),
                    internal: format!("echo {}", self.0),
                })
            }
            fn read<'a>(
                &'a self,
                _: &'a ConfiguredCatalog,
                _: &'a SourceState,
            ) -> BoxStream<'a, SourceEvent> {
                Box::pin(futures::stream::empty())
            }
        }

        #[async_trait::async_trait]
        impl connector_core::Sink for Echo {
            async fn prepare<'a>(
                &'a self,
                _: &'a ConfiguredCatalog,
            ) -> Result<Box<dyn PreparedWrite + 'a>, Failure> {
                Err(Failure {
                    class: FailureClass::Config,
                    message: "nothing".into(),
                    internal: "nothing".into(),
                })
            }
            fn write<'a>(
                &'a self,
                _: &'a ConfiguredCatalog,
                _: BoxStream<'a, SinkInput>,
            ) -> BoxStream<'a, SinkEvent> {
                Box::pin(futures::stream::empty())
            }
        }

        pub struct EchoConnector;

        impl Connector for EchoConnector {
            type Credential = EchoCredential;
            type Source = Echo;
            type Sink = Echo;
            type Commands = NoCommands;
            const NAME: &'static str = "echo-connector";
            const ABOUT: &'static str = "Echo.";
            const CONFIG_EXAMPLE: &'static str = "{\"name\": \"n\", \"token\": \"...\"}";
            const STREAM_EXAMPLE: &'static str = "echoes";

            fn spec() -> Result<Value, connector_core::Error> {
                Ok(serde_json::json!({"connectionSpecification": EchoCredential::form()?.schema}))
            }
            fn with_base_url(credential: EchoCredential, _: &str) -> Result<EchoCredential, Failure> {
                Ok(credential)
            }
            fn connected(_: &EchoCredential) -> String {
                "Connected.".into()
            }
            fn source(credential: &EchoCredential) -> Result<Echo, Failure> {
                Ok(Echo(credential.token.expose().trim().to_string()))
            }
            fn sink(credential: &EchoCredential) -> Result<Echo, Failure> {
                Self::source(credential)
            }
            async fn run_command(command: NoCommands, _: &Env, _: &mut dyn Write, _: &mut dyn Write) -> i32 {
                match command {}
            }
        }
    }

    async fn run_echo(args: &[&str], config: &Value) -> (i32, String) {
        let dir = std::env::temp_dir().join(format!("runner-echo-{}-{}", std::process::id(), args[0]));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let mut argv: Vec<OsString> = args.iter().map(OsString::from).collect();
        if args[0] != "spec" && args[0] != "nope" {
            argv.extend([OsString::from("--config"), path.clone().into_os_string()]);
        }
        let stdin: Stdin = Box::new(std::io::Cursor::new(Vec::new()));
        let mut out = Vec::new();
        let code = run::<echo::EchoConnector>(argv, &Env::default(), stdin, &mut out).await;
        std::fs::remove_dir_all(&dir).unwrap();
        (code, String::from_utf8(out).unwrap())
    }

    #[tokio::test]
    async fn the_secret_fields_of_the_spec_are_scrubbed_from_every_line_trimmed_too() {
        let config = serde_json::json!({"name": "n", "token": "  t/k+n 1  "});
        let (code, out) = run_echo(&["discover"], &config).await;
        assert_eq!(code, EXIT_FAILED);
        let line: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(
            (
                &line["trace"]["error"]["message"],
                &line["trace"]["error"]["internal_message"]
            ),
            (
                &serde_json::json!("GET /?token=[REDACTED] failed"),
                &serde_json::json!("echo [REDACTED]")
            )
        );
        let (code, out) = run_echo(&["check"], &config).await;
        assert_eq!(
            (code, out.as_str()),
            (
                EXIT_OK,
                "{\"type\":\"CONNECTION_STATUS\",\"connectionStatus\":{\"status\":\"FAILED\",\"message\":\"the service refused [REDACTED]\"}}\n"
            )
        );
    }

    #[tokio::test]
    async fn a_connector_without_commands_has_the_protocol_commands_only() {
        let config = serde_json::json!({"name": "n", "token": "k"});
        let (code, out) = run_echo(&["nope"], &config).await;
        assert_eq!((code, out.as_str()), (EXIT_USAGE, ""));
        let (code, out) = run_echo(&["spec"], &config).await;
        assert_eq!(code, EXIT_OK);
        let line: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(
            line["spec"]["connectionSpecification"]["required"],
            serde_json::json!(["name", "token"])
        );
        let names: Vec<String> = command::<echo::EchoConnector>()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        assert_eq!(names, ["spec", "check", "discover", "read", "write"]);
    }
}
