//! One request budget per Flowlu account in a process: every credential, source, sink, `check`
//! and `discover` on the same portal draws from one learnt pace, whatever object the host
//! built them from.
//!
//! Flowlu caps requests per account (per portal), not per key or per job: a source sync and a
//! destination write of the same account at once, each pacing alone, together exceed the cap
//! and each learns a share of it by being refused. Here the account's pace lives in a registry
//! keyed by the portal's normalised base URL (scheme, lower-case host, port, path: what
//! [`Client::base_url`] says), and every [`Account`](crate::Account) takes its limiter from it:
//! one pace per portal (slots handed out in turn to every job waiting), with each job's own
//! requests in flight, retries and `requests_per_second`.
//!
//! The registry holds a portal's pace while something uses it (a source, a sink, an
//! [`AccountBudget`]): a host that keeps an [`AccountBudget`] per credential keeps what was
//! learned between its jobs, and stores [`AccountBudget::snapshot`] with the credential to start
//! the next process from it ([`AccountBudget::restore`]).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};

use crate::client::limiter::{Limiter, LimiterConfig, Pace};
use crate::client::pace_memory::{PaceSnapshot, Rejected};
use crate::client::Client;

static PACES: LazyLock<Mutex<HashMap<String, Weak<Pace>>>> = LazyLock::new(Default::default);

/// The pace of the portal at `base_url`, shared with every other user of it in the process.
fn pace_of(base_url: &str) -> Arc<Pace> {
    let mut paces = PACES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(pace) = paces.get(base_url).and_then(Weak::upgrade) {
        return pace;
    }
    paces.retain(|_, pace| pace.strong_count() > 0);
    let pace = Arc::new(Pace::shared());
    paces.insert(base_url.to_string(), Arc::downgrade(&pace));
    pace
}

/// The request budget of one Flowlu account (portal) in this process: a handle on its shared
/// pace. Cheap to clone; the pace lives while any handle, source or sink of the portal does.
///
/// ```no_run
/// # fn demo(credential: &connector_flowlu::FlowluCredential, saved: Option<connector_flowlu::PaceSnapshot>) -> Result<(), connector_flowlu::Error> {
/// use connector_flowlu::AccountBudget;
///
/// let budget = AccountBudget::of_credential(credential)?;
/// if let Some(saved) = saved {
///     // Stale, invalid or already learning: the pace is learned as usual.
///     let _ = budget.restore(&saved);
/// }
/// // ... sources and sinks of this credential draw from the same budget ...
/// let to_store = budget.snapshot(); // store it with the credential (it holds no secret)
/// # let _ = to_store; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AccountBudget {
    portal: String,
    pace: Arc<Pace>,
}

impl AccountBudget {
    /// The budget of the portal `client` sends to.
    pub fn of(client: &Client) -> Self {
        let portal = client.base_url().to_string();
        let pace = pace_of(&portal);
        Self { portal, pace }
    }

    /// The portal's normalised base URL, the registry's key.
    pub fn portal(&self) -> &str {
        &self.portal
    }

    /// A limiter for one job drawing from this budget: `config`'s requests in flight, retries
    /// and `requests_per_second` are the job's own.
    pub fn limiter(&self, config: LimiterConfig) -> Limiter {
        Limiter::sharing(config, Arc::clone(&self.pace))
    }

    /// What the pace learned about the account, to store with the credential (`None` while
    /// nothing was learned). It holds rates and a time only, never the key or the portal.
    pub fn snapshot(&self) -> Option<PaceSnapshot> {
        self.pace.snapshot()
    }

    /// Starts the account's pace from `snapshot` (see [`Limiter::restore`]).
    pub fn restore(&self, snapshot: &PaceSnapshot) -> Result<(), Rejected> {
        self.pace.restore(snapshot)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::base::domain::AccountDomain;
    use crate::FlowluCredential;
    use connector_core::Secret;

    fn client(domain: &str, base: Option<&str>, key: &str) -> Client {
        let mut builder = Client::builder(
            AccountDomain::parse(domain).unwrap(),
            Secret::new(key.to_string()),
        );
        if let Some(base) = base {
            builder = builder.base_url(base);
        }
        builder.build().unwrap()
    }

    #[test]
    fn one_budget_per_portal_whatever_the_key_or_the_object() {
        let a = AccountBudget::of(&client("acme", None, "key-1"));
        let b = AccountBudget::of(&client("ACME", None, "key-2"));
        let other = AccountBudget::of(&client("other", None, "key-1"));
        assert_eq!(a.portal(), b.portal());
        let limiters = [
            a.limiter(LimiterConfig::default()),
            b.limiter(LimiterConfig::default()),
        ];
        assert!(limiters[0].shares_pace_with(&limiters[1]));
        assert!(!limiters[0].shares_pace_with(&other.limiter(LimiterConfig::default())));
        let local = AccountBudget::of(&client("acme", Some("http://127.0.0.1:9/"), "k"));
        let local_too = AccountBudget::of(&client("acme", Some("http://127.0.0.1:9"), "k"));
        assert!(local
            .limiter(LimiterConfig::default())
            .shares_pace_with(&local_too.limiter(LimiterConfig::default())));
        assert!(!local
            .limiter(LimiterConfig::default())
            .shares_pace_with(&limiters[0]));
    }

    #[test]
    fn a_source_and_a_sink_of_two_credential_objects_share_the_account_s_pace() {
        use connector_core::Credential;
        let credential = |key: &str, concurrency: u32| {
            let config = serde_json::json!({"name": "n", "account_domain": "shared-acme", "api_key": key,
                "advanced": {"max_concurrency": concurrency, "requests_per_second": 3}});
            FlowluCredential::from_config(&config).unwrap()
        };
        let source = crate::FlowluSource::from_credential(&credential("k1", 2)).unwrap();
        let sink = crate::FlowluSink::from_credential(&credential("k2", 8)).unwrap();
        let (read, write) = (source.account().limiter(), sink.account().limiter());
        assert!(read.shares_pace_with(&write));
        assert_eq!(
            (read.concurrency(), write.concurrency()),
            (2, 8),
            "each job's own"
        );
        let other = crate::FlowluSource::from_credential(
            &FlowluCredential::from_config(
                &serde_json::json!({"name": "n", "account_domain": "another", "api_key": "k1"}),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(!other.account().limiter().shares_pace_with(&read));
    }

    #[test]
    fn a_restored_pace_is_every_job_s_and_goes_with_the_last_user() {
        let snapshot = PaceSnapshot {
            version: 1,
            clean: 2.0,
            refused: Some(2.2),
            learned_at: crate::client::pace_memory::unix_seconds(std::time::SystemTime::now()),
        };
        let base = Some("http://127.0.0.1:11/");
        let budget = AccountBudget::of(&client("acme", base, "k"));
        budget.restore(&snapshot).unwrap();
        let job = AccountBudget::of(&client("acme", base, "k")).limiter(LimiterConfig::default());
        assert_eq!(job.pace(), Some(2.0));
        assert_eq!(job.snapshot(), Some(snapshot));
        assert_eq!(
            budget.restore(&snapshot),
            Ok(()),
            "nothing answered yet: restored again"
        );
        drop((budget, job));
        let fresh = AccountBudget::of(&client("acme", base, "k"));
        assert_eq!(fresh.snapshot(), None, "nobody held it: learned afresh");
    }
}
