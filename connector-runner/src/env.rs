//! What a command reads from its environment: the process environment ([`Env`]) and standard
//! input ([`Stdin`]).

/// What the command reads from its environment.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// The base URL override ([`crate::Connector::BASE_URL_ENV`]), if set.
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
