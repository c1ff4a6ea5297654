//! The probe (`flowlu-connector probe`) as tests run it: in-process on a base URL, its report
//! as written and as read back, and the small stand-in the probe tests share.

use connector_flowlu::testing::{plan_budget, run_probe, ProbeArgs, ProbeReport, MODELS};
use connector_runner::Env;
use flowlu_emulator::{ApiKey, Emulator, EmulatorConfig, Quirks};
use serde_json::Value;

use crate::{config_json, temp_json, CANARY_KEY};

/// What one probe run produced: the report as written (JSON) and read back (typed).
pub struct Probed {
    /// The exit code.
    pub code: i32,
    /// The report as written.
    pub report: Value,
    /// The report read back.
    pub typed: ProbeReport,
    /// stdout, as text.
    pub stdout: String,
    /// stderr, as text.
    pub stderr: String,
}

/// Probes `base_url` with `config` (`include_domain`: the report names the account).
pub async fn probe_at(base_url: &str, config: Value, include_domain: bool) -> Probed {
    let file = temp_json(&config);
    let args = ProbeArgs {
        config: Some(file.path().to_path_buf()),
        out: None,
        interval_ms: 0,
        include_domain,
        compare: None,
    };
    let env = Env {
        base_url: Some(base_url.to_string()),
        stdout_is_terminal: false,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_probe(&args, &env, &mut out, &mut err).await;
    let stdout = String::from_utf8(out).unwrap();
    let report =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not a JSON report ({e}): {stdout}"));
    let typed =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not a probe report ({e}): {stdout}"));
    Probed {
        code,
        report,
        typed,
        stdout,
        stderr: String::from_utf8(err).unwrap(),
    }
}

/// A small stand-in: 8 records per model, 250 accounts (the model the paging and the
/// `updated_date` cursor are measured on), 60 products (the model the `updated` cursor is
/// measured on).
pub fn stand_in(quirks: Quirks) -> EmulatorConfig {
    EmulatorConfig {
        records_per_model: 8,
        model_records: [
            ("crm/account".to_string(), 250),
            ("products/product".to_string(), 60),
        ]
        .into(),
        keys: vec![ApiKey::all_modules(CANARY_KEY)],
        quirks,
        ..EmulatorConfig::default()
    }
}

/// Probes a stand-in started with `config`; checks the budget against the stand-in's count.
pub async fn probe_stand_in(config: EmulatorConfig) -> (Probed, Emulator) {
    let emu = Emulator::start(config).await.unwrap();
    let probed = probe_at(&emu.base_url(), config_json("acme"), false).await;
    let sent = probed.typed.requests.sent as u64;
    assert_eq!(
        emu.stats().total,
        sent,
        "the report counts every request the stand-in saw"
    );
    assert_eq!(probed.typed.requests.budget, plan_budget(MODELS.len()));
    assert!(sent <= plan_budget(MODELS.len()) as u64);
    (probed, emu)
}
