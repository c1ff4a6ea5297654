//! Where each account's requests go. A production host sends every account to its real portal
//! (no override); the reference host runs against the embedded stand-in: the stand-in's
//! accounts go to the emulator, and any other account to a loopback "no such portal" server
//! (HTTP 404, what a wrong account domain can yield), so nothing ever leaves the machine.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::Router;

/// Base URL overrides by account host (`demo.flowlu.com`).
#[derive(Debug, Clone, Default)]
pub struct Portals {
    accounts: BTreeMap<String, String>,
    elsewhere: Option<String>,
}

impl Portals {
    /// No overrides: every account goes to its real portal.
    pub fn real() -> Self {
        Self::default()
    }

    /// The stand-in: `accounts` (host -> base URL), every other account to `elsewhere`.
    pub fn stand_in(accounts: impl IntoIterator<Item = (String, String)>, elsewhere: String) -> Self {
        Self {
            accounts: accounts.into_iter().collect(),
            elsewhere: Some(elsewhere),
        }
    }

    /// The base URL override for an account host, if any.
    pub fn base_url(&self, account_host: &str) -> Option<String> {
        self.accounts
            .get(account_host)
            .cloned()
            .or_else(|| self.elsewhere.clone())
    }

    /// The stand-in accounts' hosts.
    pub fn accounts(&self) -> Vec<&str> {
        self.accounts.keys().map(String::as_str).collect()
    }
}

/// Starts the loopback "no such portal" server; its base URL and the task.
pub async fn start_no_portal() -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    // Nothing is logged here: the request line carries the API key.
    let app = Router::new().fallback(|| async { (StatusCode::NOT_FOUND, "Not Found") });
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the no-such-portal server stopped");
        }
    });
    Ok((format!("http://{addr}"), task))
}
