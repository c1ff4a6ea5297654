//! The fault soak, reduced for CI: 2 seeds, 5 streams of 1,200 records read and 600 records
//! written under the soak's faults (see `integration_tests::soak`; the full size is the `soak`
//! example, figures in RELIABILITY.md).

use std::time::Duration;

use flowlu_emulator::Latency;
use integration_tests::soak::{soak_seed, SoakConfig, READ_STREAMS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_writes_under_faults_lose_and_repeat_nothing() {
    let config = SoakConfig {
        records_per_stream: 1_200,
        writes: 600,
        latency: Latency {
            fixed_ms: 0,
            jitter_ms: 2,
        },
        concurrency: 8,
        deadline: Duration::from_secs(60),
    };
    let mut faulted = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for seed in [11, 12] {
        let figures = soak_seed(&config, seed)
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(
            (figures.read.records, figures.read.lost, figures.read.repeated),
            (READ_STREAMS.len() as u64 * 1_200, 0, 0)
        );
        assert_eq!(figures.write.outcomes.values().sum::<u64>(), 600);
        assert_eq!(figures.write.checkpoints, 6);
        // A second client created 6 accounts with e-mails upserted later and gave 6 others
        // such e-mails during the write: none duplicated (checked against the final data).
        assert_eq!(
            (figures.write.concurrent_changes, figures.write.duplicates),
            (12, 0)
        );
        faulted += figures.read.faulted + figures.write.faulted;
        kinds.extend(figures.write.outcomes.keys().copied());
    }
    assert!(faulted > 100, "faults were injected: {faulted}");
    for kind in ["created", "updated", "deleted"] {
        assert!(kinds.contains(kind), "no {kind} outcome: {kinds:?}");
    }
}
