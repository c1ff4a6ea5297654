//! [`Account`]: one Flowlu account as the source and the sink use it.

use std::sync::Arc;

use crate::client::Client;
use crate::credential::FlowluCredential;
use crate::error::Error;
use crate::limiter::{Limiter, LimiterConfig};
use crate::settings::Settings;

/// A Flowlu account: its client, its request governor and the settings. A source and a sink
/// of the same account can share one limiter ([`Account::with_limiter`]), so together they
/// stay within the account's limits.
#[derive(Debug, Clone)]
pub struct Account {
    pub(crate) client: Client,
    pub(crate) limiter: Arc<Limiter>,
    pub(crate) settings: Settings,
}

impl Account {
    /// An account reached through `client`, limited as `settings` say.
    pub fn new(client: Client, settings: Settings) -> Self {
        let limiter = Arc::new(Limiter::new(LimiterConfig::from_settings(&settings)));
        Self {
            client,
            limiter,
            settings,
        }
    }

    /// The account of `credential` (its client and settings).
    pub fn from_credential(credential: &FlowluCredential) -> Result<Self, Error> {
        Ok(Self::new(credential.client()?, credential.settings()))
    }

    /// Replaces the limiter (a shared one, or faster retries in tests).
    pub fn with_limiter(mut self, limiter: Arc<Limiter>) -> Self {
        self.limiter = limiter;
        self
    }

    /// The account's limiter, to share with another source or sink.
    pub fn limiter(&self) -> Arc<Limiter> {
        Arc::clone(&self.limiter)
    }
}
