//! The Flowlu credential: its form, parsing and the validation call.

use async_trait::async_trait;
use connector_core::{Credential, CredentialMeta, Failure, FailureReason, Secret, Validation};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::account::registry::{self, AccountBudget};
use crate::account::Account;
use crate::base::domain::AccountDomain;
use crate::base::error::Error;
use crate::base::settings::Settings;
use crate::client::limiter::LimiterConfig;
use crate::client::Client;

/// Flowlu
///
/// Connect a Flowlu account with an API key.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct FlowluCredential {
    /// The credential's name and description.
    #[serde(flatten)]
    pub meta: CredentialMeta,

    // The doc comment is the form's title and description, shown as plain text: no link markup.
    #[allow(rustdoc::bare_urls)]
    /// Account domain
    ///
    /// The first part of your Flowlu address: for https://mycompany.flowlu.com enter
    /// mycompany. The full address is accepted too.
    #[schemars(
        with = "String",
        regex(pattern = r"^\s*([Hh][Tt][Tt][Pp][Ss]?://)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[Ff][Ll][Oo][Ww][Ll][Uu]\.([Cc][Oo][Mm]|[Rr][Uu]))?/?\s*$"),
        extend(
            "pattern_descriptor" = "mycompany, or mycompany.flowlu.com",
            "x-pattern-message" = "Enter only your account name, such as mycompany (the part before .flowlu.com in your Flowlu address): letters, digits and hyphens, no spaces.",
            "examples" = ["mycompany"],
            "x-help" = "Open Flowlu in your browser: the account domain is the part before .flowlu.com in the address bar."
        )
    )]
    pub account_domain: AccountDomain,

    /// API key
    ///
    /// A Flowlu API key. Create one in Flowlu under Portal Settings -> API Settings and give
    /// it access to the modules you want to sync.
    // Scoped to the account domain (`x-secret-scope`): a host keeps a saved key only while the
    // domain stays the same, so an edit never sends it to another account.
    #[schemars(
        length(min = 1),
        extend(
            "x-help" = "Portal Settings -> API Settings -> Create API key. The key is shown once: copy all of it.",
            "x-secret-scope" = ["account_domain"]
        )
    )]
    #[serde(deserialize_with = "trimmed_secret")]
    pub api_key: Secret,

    /// Advanced settings
    ///
    /// Optional settings for reading and writing. The defaults suit most accounts.
    #[serde(default)]
    pub advanced: Option<Settings>,

    /// A base URL overriding the portal's (a local stand-in); see [`crate::client::BASE_URL_ENV`].
    #[serde(skip)]
    #[schemars(skip)]
    pub base_url: Option<String>,

    /// Whether messages name the account (`acme.flowlu.com`) although requests go to
    /// `base_url` (a stand-in serving that account): see [`FlowluCredential::with_stand_in`].
    #[serde(skip)]
    #[schemars(skip)]
    name_account: bool,
}

/// Reads the key without the white space a paste adds around it (a newline, a space), as the
/// account domain is read; white space inside the key is kept.
fn trimmed_secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
    let secret = Secret::deserialize(d)?;
    let trimmed = secret.expose().trim();
    if trimmed.len() == secret.expose().len() {
        Ok(secret)
    } else {
        Ok(Secret::new(trimmed))
    }
}

/// The module probed first, and the others probed when the key may not read it.
pub const PROBES: &[(&str, &str)] = &[
    ("crm", "account"),
    ("task", "tasks"),
    ("st", "projects"),
    ("fin", "invoice"),
    ("agile", "issues"),
    ("timetracker", "timesheets"),
    ("products", "product"),
    ("calendar", "calendar"),
    ("customfields", "fields"),
    ("core", "user"),
];

impl FlowluCredential {
    /// Points requests at another base URL (a loopback stand-in).
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Sends requests to `url` (a stand-in serving this account, as the reference host's is)
    /// while every message still names the account the user typed (`acme.flowlu.com`), not
    /// the stand-in's `127.0.0.1:PORT`.
    pub fn with_stand_in(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self.name_account = true;
        self
    }

    /// The host user messages name: the account's portal (`acme.flowlu.com`), or the base
    /// URL's host (with its port) when one is set by [`FlowluCredential::with_base_url`].
    pub fn host(&self) -> String {
        if self.name_account {
            return self.account_domain.host();
        }
        self.base_url
            .as_deref()
            .and_then(|raw| url::Url::parse(raw.trim()).ok())
            .map_or_else(
                || self.account_domain.host(),
                |u| crate::client::contacted_host(&u),
            )
    }

    /// The settings, or the defaults.
    pub fn settings(&self) -> Settings {
        self.advanced.clone().unwrap_or_default()
    }

    /// A client for this credential.
    pub fn client(&self) -> Result<Client, Error> {
        self.settings()
            .check()
            .map_err(|(field, message)| Error::config(field, message))?;
        let mut builder = Client::builder(self.account_domain.clone(), self.api_key.clone());
        if let Some(url) = &self.base_url {
            builder = builder.base_url(url.clone());
        }
        if self.name_account {
            builder = builder.message_host(self.account_domain.host());
        }
        if let Some(timeout) = self.settings().timeout() {
            builder = builder.timeout(timeout);
        }
        builder.max_body_bytes(self.settings().max_page_bytes()).build()
    }
}

#[async_trait]
impl Credential for FlowluCredential {
    fn meta(&self) -> &CredentialMeta {
        &self.meta
    }

    async fn validate(&self) -> Validation {
        // What every incremental read would refuse, refused here with the same sentence.
        let horizon = crate::base::cursor::Horizon::now();
        let start_date = self.settings().start_date;
        if let Some(sentence) = start_date
            .as_deref()
            .and_then(|date| crate::base::cursor::refuse_start_date(date, &horizon))
        {
            let mut message = sentence.clone();
            if let Some(first) = message.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            return Validation::invalid(
                FailureReason::InvalidConfig,
                message,
                format!("unusable start date: {sentence}"),
            );
        }
        match self.client() {
            Ok(client) => validate_with(&client).await,
            Err(err) => invalid(&err, &self.host()),
        }
    }
}

/// Validates with one cheap list call (`page=1&limit=1`); when the key may not read the probed
/// module, probes the others before deciding and reports which the key can read.
///
/// The account's budget ([`registry::AccountBudget`]) paces these calls as it paces the
/// account's reads and writes; a call is not retried (a refusal for the rate is the answer).
pub async fn validate_with(client: &Client) -> Validation {
    let limiter = registry::AccountBudget::of(client).limiter(LimiterConfig {
        max_concurrency: 1,
        ..LimiterConfig::default()
    });
    let probe = |module, model| limiter.run_once(probe(client, module, model));
    let domain = client.host();
    let (first_module, first_model) = PROBES[0];
    match probe(first_module, first_model).await {
        Ok(()) => Validation::Valid {
            warnings: Vec::new(),
            detail: format!("listed {first_module}/{first_model} on {domain}"),
        },
        Err(Error::Permission { .. }) => {
            let mut readable = Vec::new();
            let mut denied = vec![first_module];
            for (module, model) in &PROBES[1..] {
                match probe(module, model).await {
                    Ok(()) => readable.push(*module),
                    Err(Error::Permission { .. }) => denied.push(*module),
                    Err(err) => return invalid(&err, domain),
                }
            }
            if readable.is_empty() {
                Validation::invalid(
                    FailureReason::MissingPermission,
                    format!(
                        "The API key is valid but may not read any module of {domain}. In Flowlu, open Portal Settings -> API Settings, edit this key and allow the modules you want to sync (for example CRM and Tasks)."
                    ),
                    format!("access denied on every probed module: {}", denied.join(", ")),
                )
            } else {
                Validation::Valid {
                    warnings: vec![format!(
                        "The API key may not read these modules: {}. Their streams will be skipped. To sync them, allow them for this key in Flowlu: Portal Settings -> API Settings.",
                        denied.join(", ")
                    )],
                    detail: format!("readable modules on {domain}: {}", readable.join(", ")),
                }
            }
        }
        Err(err) => invalid(&err, domain),
    }
}

async fn probe(client: &Client, module: &str, model: &str) -> Result<(), Error> {
    let params = [
        ("page".to_string(), "1".to_string()),
        ("limit".to_string(), "1".to_string()),
    ];
    client.list(module, model, &params).await.map(|_| ())
}

fn invalid(err: &Error, host: &str) -> Validation {
    let (reason, failure) = explain_at(err, host);
    Validation::Invalid { reason, failure }
}

/// What an error means to a user whose requests went to `domain` (see [`Error::decision`]).
pub(crate) fn explain_at(err: &Error, domain: &str) -> (FailureReason, Failure) {
    err.explain_at(domain)
}

pub(crate) use crate::base::decision::internal_detail;

// The account of a credential: defined here, above the account's floor, which knows nothing
// of the credential.
impl Account {
    /// The account of `credential` (its client and settings).
    pub fn from_credential(credential: &FlowluCredential) -> Result<Self, Error> {
        Ok(Self::new(credential.client()?, credential.settings()))
    }
}

impl AccountBudget {
    /// The budget of the portal of `credential`.
    pub fn of_credential(credential: &FlowluCredential) -> Result<Self, Error> {
        Ok(Self::of(&credential.client()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn white_space_around_a_pasted_key_is_trimmed_and_kept_inside() {
        let cases = [
            ("  key-123\n", "key-123"),
            ("\tkey 123 \r\n", "key 123"),
            ("key-123", "key-123"),
        ];
        for (pasted, kept) in cases {
            let config = json!({"name": "n", "account_domain": " acme.flowlu.com \n", "api_key": pasted});
            let credential = FlowluCredential::from_config(&config).unwrap();
            assert_eq!(credential.api_key.expose(), kept, "{pasted:?}");
            assert_eq!(credential.account_domain.account(), "acme");
        }
        let blank = json!({"name": "n", "account_domain": "acme", "api_key": " \n "});
        let credential = FlowluCredential::from_config(&blank).unwrap();
        assert_eq!(
            credential.client().unwrap_err().to_string(),
            "invalid `api_key`: the API key is empty; copy it from Flowlu: Portal Settings -> API Settings"
        );
    }
}
