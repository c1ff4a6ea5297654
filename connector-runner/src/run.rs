//! Running a command line: parse it, dispatch to the command, and the whole program of a
//! connector's binary ([`process_main`]).

use std::ffi::OsString;
use std::io::Write;

use clap::FromArgMatches;
use connector_core::{Credential, Failure, FailureClass, Validation};

use crate::airbyte::Message;
use crate::cli::{command, Cli, Command};
use crate::config::load_config;
use crate::connector::Connector;
use crate::env::{Env, Stdin};
use crate::exit::{EXIT_OK, EXIT_USAGE};
use crate::output::ProtocolOut;
use crate::signal::Interrupt;
use crate::{progress, read, write};

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
        Command::Spec => match crate::spec::spec::<C>() {
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
    use serde_json::Value;

    use super::*;
    use crate::connector::NoCommands;
    use crate::exit::EXIT_FAILED;

    mod echo {
        use connector_core::{
            Catalog, ConfiguredCatalog, CredentialMeta, PreparedWrite, Secret, SourceEvent, SourceState,
        };
        use futures::stream::BoxStream;

        use super::*;

        /// Echo service
        ///
        /// A service that echoes its key.
        #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
        pub(super) struct EchoCredential {
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

        pub(super) struct Echo(String);

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
        }

        pub(super) struct EchoConnector;

        impl Connector for EchoConnector {
            type Credential = EchoCredential;
            type Source = Echo;
            type Sink = Echo;
            type Commands = NoCommands;
            const NAME: &'static str = "echo-connector";
            const ABOUT: &'static str = "Echo.";
            const CONFIG_EXAMPLE: &'static str = "{\"name\": \"n\", \"token\": \"...\"}";
            const STREAM_EXAMPLE: &'static str = "echoes";
            const DOCUMENTATION_URL: &'static str = "https://echo.example/";

            fn source(credential: &EchoCredential) -> Result<Echo, Failure> {
                Ok(Echo(credential.token.expose().trim().to_string()))
            }
            fn sink(credential: &EchoCredential) -> Result<Echo, Failure> {
                Self::source(credential)
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

    #[test]
    fn the_spec_says_what_the_connector_says_with_the_defaults() {
        let spec = crate::spec::<echo::EchoConnector>().unwrap();
        let keys: Vec<&str> = spec.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "documentationUrl",
                "connectionSpecification",
                "supportsIncremental",
                "supportsNormalization",
                "supportsDBT",
                "supported_destination_sync_modes"
            ]
        );
        let form = <echo::EchoCredential as Credential>::form().unwrap();
        assert_eq!(
            spec,
            serde_json::json!({
                "documentationUrl": "https://echo.example/",
                "connectionSpecification": form.schema,
                "supportsIncremental": true,
                "supportsNormalization": false,
                "supportsDBT": false,
                "supported_destination_sync_modes": ["append"],
            })
        );
    }
}
