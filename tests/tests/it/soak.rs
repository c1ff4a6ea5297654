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

/// The soak's write interrupted by a signal a third of the way, under the soak's faults and a
/// second client's creates and edits, then resumed from the last acknowledged checkpoint: no
/// checkpoint past a record that must be sent again, no request started after the signal, no
/// outcome the final data contradicts, nothing duplicated: the creates without a match field
/// applied after the last acknowledged checkpoint are found again by the resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signalled_write_resumed_from_its_last_checkpoint_duplicates_nothing() {
    let config = SoakConfig {
        records_per_stream: 0,
        writes: 600,
        latency: Latency {
            fixed_ms: 0,
            jitter_ms: 2,
        },
        concurrency: 8,
        deadline: Duration::from_secs(60),
    };
    for seed in [11, 12] {
        let figures = integration_tests::soak::soak_signal(&config, seed)
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        eprintln!("seed {seed}: {figures:?}");
        assert_eq!(figures.records, 600);
        assert_eq!(figures.before_signal, 200);
        assert!(figures.not_sent > 0, "{figures:?}");
        assert_eq!(figures.acked_past_resend, 0, "{figures:?}");
        assert_eq!(figures.duplicates, 0, "{figures:?}");
        // A second client created 6 accounts with e-mails upserted later and gave 6 others
        // such e-mails before the signal.
        assert_eq!(figures.concurrent_changes, 12, "{figures:?}");
        assert!(figures.stop < Duration::from_secs(10), "{figures:?}");
        // Answers to requests already on the wire, at most the requests in flight (and records).
        assert!(figures.requests_after <= 16, "{figures:?}");
        // Creates without a match field applied after the last acknowledged checkpoint are sent
        // again by the resume, which finds them among the model's newest records (one page)
        // before its first create: none is created twice while they fit in that page.
        assert_eq!(figures.slipped, 0, "{figures:?}");
    }
}
