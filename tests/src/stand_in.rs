//! Stand-in (flowlu-emulator) handles: one builder over `EmulatorConfig` for the portals tests
//! and benchmarks start, each field the emulator's default unless set.

use flowlu_emulator::{ApiKey, Emulator, EmulatorConfig, Faults, Latency, Quirks, Stats};

/// A stand-in to start: [`StandIn::new`] then what the test needs.
#[derive(Clone, Debug, Default)]
pub struct StandIn(EmulatorConfig);

impl StandIn {
    /// The emulator's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// `records` records in every model not given a count of its own.
    pub fn records_per_model(mut self, records: usize) -> Self {
        self.0.records_per_model = records;
        self
    }

    /// `records` records in `model` (`crm/account`).
    pub fn model(mut self, model: &str, records: usize) -> Self {
        self.0.model_records.insert(model.to_string(), records);
        self
    }

    /// `records` accounts (`crm/account`).
    pub fn accounts(self, records: usize) -> Self {
        self.model("crm/account", records)
    }

    /// The data's seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }

    /// `key` the only key, good for every module.
    pub fn key(mut self, key: &str) -> Self {
        self.0.keys = vec![ApiKey::all_modules(key)];
        self
    }

    /// The largest page the portal sends.
    pub fn max_page_size(mut self, size: usize) -> Self {
        self.0.max_page_size = size;
        self
    }

    /// Answers' latency.
    pub fn latency(mut self, latency: Latency) -> Self {
        self.0.latency = latency;
        self
    }

    /// Faults injected.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.0.faults = faults;
        self
    }

    /// Quirks of a real portal.
    pub fn quirks(mut self, quirks: Quirks) -> Self {
        self.0.quirks = quirks;
        self
    }

    /// The configuration (for a test that starts it itself).
    pub fn config(self) -> EmulatorConfig {
        self.0
    }

    /// Starts it on a loopback port.
    pub async fn start(self) -> Emulator {
        Emulator::start(self.0).await.expect("the stand-in starts")
    }

    /// Starts it on `runtime` (for a test that is not async).
    pub fn start_on(self, runtime: &tokio::runtime::Runtime) -> Emulator {
        runtime.block_on(self.start())
    }
}

/// A portal of `accounts` accounts and 3 records in every other model, the default key.
pub async fn accounts_portal(accounts: usize) -> Emulator {
    StandIn::new()
        .records_per_model(3)
        .accounts(accounts)
        .start()
        .await
}

/// The stand-in's accounts that have an e-mail: (id, name, email).
pub fn accounts_with_email(emu: &Emulator) -> Vec<(u64, String, String)> {
    emu.records("crm", "account")
        .into_iter()
        .filter_map(|r| {
            let email = r["email"].as_str().filter(|e| !e.is_empty())?.to_string();
            Some((r["id"].as_u64()?, r["name"].as_str()?.to_string(), email))
        })
        .collect()
}

/// The stand-in's requests by path (any status).
pub fn requests_by_path(stats: &Stats) -> Vec<(String, u64)> {
    stats
        .by_path
        .iter()
        .map(|(path, statuses)| (path.clone(), statuses.values().sum()))
        .collect()
}
