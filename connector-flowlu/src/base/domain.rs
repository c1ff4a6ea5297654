//! The account domain: which Flowlu portal to talk to, validated before any network I/O.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// The top-level domain of a Flowlu portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Region {
    /// `{account}.flowlu.com`
    Global,
    /// `{account}.flowlu.ru` (the Russian region)
    Russia,
}

/// A validated Flowlu account: `acme` for `acme.flowlu.com`.
///
/// Accepts the bare subdomain in any case, with surrounding white space, the full host
/// (`acme.flowlu.com`, `acme.flowlu.ru`) and the portal URL (`https://acme.flowlu.com/`).
/// Everything else (other hosts, ports, paths, user info, IP addresses, non-ASCII, ...) is
/// rejected with a message showing the expected form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountDomain {
    account: String,
    region: Region,
}

/// Why an account domain was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DomainError(String);

const EXPECTED: &str =
    "enter the first part of your Flowlu address: for https://mycompany.flowlu.com enter mycompany";

impl AccountDomain {
    /// Parses and normalises user input.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let reject = |what: &str| Err(DomainError(format!("{what}; {EXPECTED}")));
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return reject("the account domain is empty");
        }
        if !trimmed.is_ascii() {
            return reject("the account domain may contain only letters a-z, digits and hyphens");
        }
        let lower = trimmed.to_ascii_lowercase();
        let without_scheme = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"))
            .unwrap_or(&lower);
        let host = without_scheme.strip_suffix('/').unwrap_or(without_scheme);
        let (account, region) = if let Some(a) = host.strip_suffix(".flowlu.com") {
            (a, Region::Global)
        } else if let Some(a) = host.strip_suffix(".flowlu.ru") {
            (a, Region::Russia)
        } else if host.contains('.') {
            return reject(&format!("`{}` is not a Flowlu address", shorten(trimmed)));
        } else {
            (host, Region::Global)
        };
        if !is_dns_label(account) {
            return reject(&format!("`{}` is not a valid account name", shorten(trimmed)));
        }
        if account == "www" || account == "api" {
            return reject(&format!("`{account}` is not an account"));
        }
        Ok(Self {
            account: account.to_string(),
            region,
        })
    }

    /// The account name (`acme`).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The region.
    pub fn region(&self) -> Region {
        self.region
    }

    /// The portal host (`acme.flowlu.com`).
    pub fn host(&self) -> String {
        let tld = match self.region {
            Region::Global => "com",
            Region::Russia => "ru",
        };
        format!("{}.flowlu.{tld}", self.account)
    }

    /// The portal's base URL (`https://acme.flowlu.com`).
    pub fn base_url(&self) -> String {
        format!("https://{}", self.host())
    }
}

impl fmt::Display for AccountDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host())
    }
}

impl<'de> Deserialize<'de> for AccountDomain {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A DNS label: 1-63 of `a-z0-9-`, not starting or ending with a hyphen, no punycode prefix.
fn is_dns_label(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.starts_with("xn--")
}

/// Echoes user input in an error, cut to a readable length.
fn shorten(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(57).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_observed_form() {
        for input in [
            "acme",
            "ACME",
            " acme ",
            "acme.flowlu.com",
            "https://acme.flowlu.com/",
            "https://acme.flowlu.com",
            "HTTP://Acme.Flowlu.Com/",
        ] {
            let d = AccountDomain::parse(input).unwrap();
            assert_eq!(
                (d.account(), d.host().as_str()),
                ("acme", "acme.flowlu.com"),
                "{input}"
            );
        }
        let ru = AccountDomain::parse("acme.flowlu.ru").unwrap();
        assert_eq!(ru.base_url(), "https://acme.flowlu.ru");
        assert_eq!(
            AccountDomain::parse("my-company2").unwrap().host(),
            "my-company2.flowlu.com"
        );
    }

    #[test]
    fn rejects_with_the_expected_form() {
        for (input, message) in [
            ("", "the account domain is empty"),
            (
                "acme.flowlu.com.evil.io",
                "`acme.flowlu.com.evil.io` is not a Flowlu address",
            ),
            ("evil.io#", "`evil.io#` is not a Flowlu address"),
            ("a/b", "`a/b` is not a valid account name"),
            ("user@host", "`user@host` is not a valid account name"),
            ("acme:443", "`acme:443` is not a valid account name"),
            ("-acme", "`-acme` is not a valid account name"),
            ("xn--80ak6aa92e", "`xn--80ak6aa92e` is not a valid account name"),
            (
                "ａcme",
                "the account domain may contain only letters a-z, digits and hyphens",
            ),
            ("www", "`www` is not an account"),
            ("www.flowlu.com", "`www` is not an account"),
            ("flowlu.com", "`flowlu.com` is not a Flowlu address"),
            ("a.b.flowlu.com", "`a.b.flowlu.com` is not a valid account name"),
        ] {
            let err = AccountDomain::parse(input).unwrap_err().to_string();
            assert_eq!(err, format!("{message}; {EXPECTED}"), "{input:?}");
        }
    }
}
