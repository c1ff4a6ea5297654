#![allow(clippy::unwrap_used)]
//! The limiter's tests: retries and waits, the gate, and the pace against a simulated portal
//! ([`portal`]) in paused time.

use super::controller::Phase;
use super::pace::Pace;
use super::retry::PACED_RETRIES;
use super::*;
use crate::base::error::{MalformedKind, UnavailableKind};
use portal::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::Mutex;

fn fast() -> LimiterConfig {
    LimiterConfig {
        max_concurrency: 4,
        requests_per_second: None,
        retry: RetryPolicy {
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            max_retries: 3,
            max_total: Duration::from_secs(5),
        },
    }
}

#[tokio::test(start_paused = true)]
async fn a_stopped_write_sends_nothing_new_and_abandons_an_answer_that_does_not_come() {
    let limiter = Limiter::new(LimiterConfig {
        max_concurrency: 1,
        requests_per_second: None,
        retry: RetryPolicy::default(),
    });
    let stop = CancellationToken::new();
    let sent = AtomicUsize::new(0);
    // Stopped before: nothing is sent.
    let stopped = CancellationToken::new();
    stopped.cancel();
    let result: Result<(), Error> = limiter
        .run_until(
            &stopped,
            || async {
                sent.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
            Error::is_retryable,
            &|_| {},
        )
        .await;
    assert!(matches!(result, Err(Error::Stopped)), "{result:?}");
    assert_eq!(sent.load(Ordering::SeqCst), 0);
    // On the wire when the stop comes, no answer: abandoned after the grace.
    let started = Instant::now();
    let hanging = limiter.run_until(
        &stop,
        || async {
            sent.fetch_add(1, Ordering::SeqCst);
            futures::future::pending::<Result<(), Error>>().await
        },
        Error::is_retryable,
        &|_| {},
    );
    let (result, ()) = tokio::join!(hanging, async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.cancel();
    });
    assert!(matches!(result, Err(Error::Abandoned)), "{result:?}");
    assert_eq!(started.elapsed(), Duration::from_secs(1) + IN_FLIGHT_GRACE);
    assert_eq!(sent.load(Ordering::SeqCst), 1);
    assert!(Error::Abandoned.may_have_been_applied() && !Error::Abandoned.is_retryable());
}

#[tokio::test]
async fn retries_retryable_errors_and_reports_waits() {
    let limiter = Limiter::new(fast());
    let calls = AtomicUsize::new(0);
    let waits = Mutex::new(Vec::new());
    let result = limiter
        .run(
            || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(Error::RateLimited { retry_after: None }),
                    1 => Err(Error::Server { status: 502 }),
                    _ => Ok(7),
                }
            },
            &|w| waits.lock().unwrap().push((w.reason, w.attempt, w.cause.clone())),
        )
        .await;
    assert_eq!(result.unwrap(), 7);
    assert_eq!(
        *waits.lock().unwrap(),
        vec![
            (WaitReason::RateLimited, 1, "rate limited".to_string()),
            (WaitReason::Retry, 2, "HTTP 502".to_string())
        ]
    );
    assert_eq!(limiter.concurrency(), 2, "one 429 halves the limit");
}

#[test]
fn a_wait_names_what_the_attempt_met() {
    let api = |code| {
        Error::Api(Box::new(crate::base::error::ApiError {
            code,
            message: "the body's words, canary".into(),
            fields: Default::default(),
        }))
    };
    let cases = [
        (Error::RateLimited { retry_after: None }, "rate limited"),
        (
            Error::RateLimited {
                retry_after: Some(Duration::from_secs(3)),
            },
            "rate limited, Retry-After 3 s",
        ),
        (Error::Server { status: 502 }, "HTTP 502"),
        (
            Error::Unavailable {
                status: 503,
                kind: UnavailableKind::Message,
                detail: "Service Unavailable canary".into(),
            },
            "HTTP 503",
        ),
        (
            Error::Unavailable {
                status: 200,
                kind: UnavailableKind::HtmlPage,
                detail: format!("{}, after good answers", crate::base::error::HTML_PAGE),
            },
            "HTTP 200 with an HTML page",
        ),
        (
            // The kind decides, not the words of the detail.
            Error::Unavailable {
                status: 503,
                kind: UnavailableKind::Message,
                detail: format!("{}, canary", crate::base::error::HTML_PAGE),
            },
            "HTTP 503",
        ),
        (
            Error::Malformed {
                status: 200,
                kind: MalformedKind::Truncated,
                detail: format!("{}: canary", crate::base::error::TRUNCATED),
            },
            "connection dropped (body cut short)",
        ),
        (
            Error::Malformed {
                status: 200,
                kind: MalformedKind::NotJson,
                detail: format!("{}: canary", crate::base::error::TRUNCATED),
            },
            "an answer not understood (HTTP 200)",
        ),
        (api(Some(13)), "Flowlu error 13"),
        (api(None), "a Flowlu error"),
    ];
    for (err, expected) in cases {
        assert_eq!(cause(&err), expected, "{err:?}");
    }
}

#[tokio::test]
async fn a_wait_names_a_timeout_and_a_dropped_connection() {
    // Real transport errors: a listener that never answers (timeout), and one that
    // closes the connection at once (dropped before an answer).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closing = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let urls = [silent.local_addr().unwrap(), closing.local_addr().unwrap()].map(|a| format!("http://{a}/"));
    let _keep = silent;
    tokio::spawn(async move {
        while let Ok((conn, _)) = closing.accept().await {
            drop(conn);
        }
    });
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let mut causes = Vec::new();
    for url in urls {
        let err = http.get(url).send().await.map(|_| ()).unwrap_err();
        causes.push(cause(&Error::transport(err)));
    }
    assert_eq!(causes, ["timeout", "connection dropped"]);
}

#[tokio::test]
async fn gives_up_after_max_retries_and_not_on_fatal_errors() {
    let limiter = Limiter::new(fast());
    let calls = AtomicUsize::new(0);
    let result: Result<(), _> = limiter
        .run(
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::Server { status: 500 })
            },
            &|_| {},
        )
        .await;
    assert!(matches!(result, Err(Error::Server { status: 500 })));
    assert_eq!(calls.swap(0, Ordering::SeqCst), 4, "1 attempt + 3 retries");
    let result: Result<(), _> = limiter
        .run(
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::config("f", "m"))
            },
            &|_| {},
        )
        .await;
    assert!(result.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn honours_retry_after_within_the_total_bound() {
    let limiter = Limiter::new(fast());
    let err = Error::RateLimited {
        retry_after: Some(Duration::from_secs(2)),
    };
    let backoff = Some(Duration::from_millis(3));
    assert_eq!(
        limiter.next_delay(&err, backoff, Duration::ZERO, 1),
        Some(Duration::from_secs(2))
    );
    assert_eq!(limiter.next_delay(&err, backoff, Duration::from_secs(4), 1), None);
    assert_eq!(limiter.next_delay(&err, None, Duration::ZERO, 1), None);
}

#[tokio::test(start_paused = true)]
async fn bounds_requests_in_flight_and_recovers_after_429() {
    let limiter = Arc::new(Limiter::new(LimiterConfig {
        max_concurrency: 3,
        ..fast()
    }));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let (limiter, in_flight, peak) = (limiter.clone(), in_flight.clone(), peak.clone());
            tokio::spawn(async move {
                limiter
                    .run_once(async {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, Error>(())
                    })
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(peak.load(Ordering::SeqCst), 3);
    let _ = limiter
        .run_once(async { Err::<(), _>(Error::RateLimited { retry_after: None }) })
        .await;
    assert_eq!(limiter.concurrency(), 1);
    for _ in 0..1 + 2 {
        limiter.run_once(async { Ok::<_, Error>(()) }).await.unwrap();
    }
    assert_eq!(limiter.concurrency(), 3, "additive increase back to the maximum");
}

/// `(cap, burst, latency ms, least throughput, most refused share)`: every cap, between
/// the rates the paced start tries or not, with a burst allowance or not, meets the
/// targets (0.9 of the cap, 5% refused) over a read of a minute.
const CAPS: &[(f64, u32, u64, f64, f64)] = &[
    (1.0, 1, 5, 0.9, 0.05),
    (2.0, 1, 5, 0.9, 0.05),
    (5.0, 1, 5, 0.9, 0.05),
    (10.0, 1, 5, 0.9, 0.05),
    (1.0, 1, 300, 0.9, 0.05),
    (10.0, 10, 5, 0.9, 0.05),
    (5.0, 5, 150, 0.9, 0.05),
    (3.0, 1, 80, 0.9, 0.05),
    (3.0, 1, 5, 0.9, 0.05),
    (3.0, 5, 5, 0.9, 0.05),
    (2.0, 5, 150, 0.9, 0.05),
    (10.0, 5, 40, 0.9, 0.05),
];

#[tokio::test(start_paused = true)]
async fn a_pause_in_asking_does_not_pull_the_pace_down_to_what_was_asked() {
    // The search tries 6/s between 4 (clean) and 8 (refused); one clean answer in the last
    // 2 s, because the read asked for nothing while a page waited. The refusal of 6 says
    // the cap lies below 6, not that the account answers 0.5/s: the pace holds at 4.
    // (It once dropped to 0.5/s, and a read of a minute at a cap of 5/s took six.)
    let pace = Pace::new(None);
    {
        let mut state = pace.lock();
        state.phase = Phase::Bisect;
        (state.rate, state.low, state.high, state.trying) = (6.0, 4.0, 8.0, true);
        state.delivered.push_back(Instant::now());
    }
    tokio::time::advance(Duration::from_millis(1900)).await;
    let mut state = pace.lock();
    state.refused(6.0, Instant::now());
    assert_eq!((state.rate, state.low, state.high), (4.0, 4.0, 6.0));
    // With the evidence of a full window (8 clean answers in 2 s, 4/s), a refusal far
    // above what was answered (a burst allowance drained) still bounds the pace by it.
    state.phase = Phase::Steady;
    (state.rate, state.ceiling, state.clean_since) = (20.0, Some(20.0), 100);
    let now = Instant::now();
    state.delivered = (0..8u32).map(|i| now - Duration::from_millis(250) * i).collect();
    state.refused(20.0, now);
    assert_eq!(state.rate, 4.0);
}

#[tokio::test(start_paused = true)]
async fn a_request_refused_again_is_sent_in_the_next_slot_before_backing_off() {
    let limiter = Limiter::new(LimiterConfig::default());
    let err = Error::RateLimited { retry_after: None };
    let backoff = Some(Duration::from_millis(700));
    let delays: Vec<_> = (1..=5)
        .map(|attempts| limiter.next_delay(&err, backoff, Duration::ZERO, attempts))
        .collect();
    let zero = Some(Duration::ZERO);
    assert_eq!(delays, [zero, zero, zero, backoff, backoff]);
}

#[tokio::test(start_paused = true)]
async fn converges_on_the_cap_of_the_account() {
    let mut report = Vec::new();
    let mut ok = true;
    for &(cap, burst, latency_ms, least, most) in CAPS {
        // A read of a minute at the cap, four pages in flight.
        let pages = (cap * 60.0) as usize;
        let limiter = Arc::new(Limiter::new(paced()));
        let read = simulate(limiter.clone(), Portal::new(cap, burst, latency_ms), pages, 4).await;
        let throughput = read.ideal / read.seconds;
        let refused = read.refused as f64 / (pages + read.refused) as f64;
        let pace = limiter.pace().unwrap();
        report.push(format!(
            "cap {cap}/s burst {burst} latency {latency_ms} ms: {:.1} s (ideal {:.1}), throughput {throughput:.3}, {} refused ({:.1}%), pace {pace:.2}",
            read.seconds, read.ideal, read.refused, refused * 100.0
        ));
        // The pace ends near the cap; a burst allowance lets it probe above for a while
        // (3/s with a burst of 5 ends its minute at about 3.9).
        let above = if burst > 1 { 1.35 } else { 1.1 };
        ok &= throughput >= least && refused <= most && pace <= cap * above;
    }
    eprintln!("{}", report.join("\n"));
    assert!(ok, "{}", report.join("\n"));
}

#[tokio::test(start_paused = true)]
async fn failures_that_are_not_rate_refusals_do_not_teach_the_pace() {
    // No cap, one request in five failing (a 503 or a dropped body): retried after a
    // backoff, never paced, every request still in flight.
    let limiter = Arc::new(Limiter::new(paced()));
    let portal = Portal::failing(1e9, 1_000_000, 4, 5);
    let read = simulate(limiter.clone(), portal.clone(), 1_000, 4).await;
    // 1,249 requests: 1,000 answered, every fifth failed.
    assert_eq!(portal.failed.load(Ordering::SeqCst), 249, "{read:?}");
    assert_eq!((read.refused, limiter.pace(), limiter.ceiling()), (0, None, None));
    assert_eq!(limiter.concurrency(), 4);
    // Capped, one request in seven failing: the pace finds the cap and holds it as it
    // does without failures (the same read without them beside it).
    for (cap, burst, latency_ms) in [(1.0, 1, 5), (2.0, 1, 5), (5.0, 1, 150), (3.0, 1, 80)] {
        let pages = (cap * 60.0) as usize;
        let clean = Arc::new(Limiter::new(paced()));
        let baseline = simulate(clean.clone(), Portal::new(cap, burst, latency_ms), pages, 4).await;
        let limiter = Arc::new(Limiter::new(paced()));
        let portal = Portal::failing(cap, burst, latency_ms, 7);
        let read = simulate(limiter.clone(), portal.clone(), pages, 4).await;
        let failed = portal.failed.load(Ordering::SeqCst);
        // A failed request takes its slot of the pace too: the ideal counts it.
        let throughput = (pages + failed) as f64 / cap / read.seconds;
        let (pace, ceiling) = (limiter.pace().unwrap(), limiter.ceiling().unwrap());
        let report = format!(
            "cap {cap}: {read:?}, throughput {throughput:.3}, pace {pace:.2}, ceiling {ceiling:.2}, failed {failed}; without failures: {baseline:?}, pace {:.2}",
            clean.pace().unwrap()
        );
        assert!(failed >= pages / 7, "{report}");
        assert!(throughput >= 0.9, "{report}");
        assert!(read.refused <= baseline.refused + 1, "{report}");
        assert!((pace - clean.pace().unwrap()).abs() <= cap * 0.1, "{report}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_failure_leaves_a_learnt_pace_and_the_requests_in_flight_as_they_were() {
    let limiter = Arc::new(Limiter::new(paced()));
    simulate(limiter.clone(), Portal::new(3.0, 1, 5), 120, 4).await;
    let before = (limiter.pace(), limiter.ceiling(), limiter.concurrency());
    assert!(before.0.is_some() && before.1.is_some(), "{before:?}");
    let failures: [fn() -> Error; 3] = [
        || Error::Server { status: 500 },
        || Error::Unavailable {
            status: 502,
            kind: UnavailableKind::Message,
            detail: "Bad gateway".into(),
        },
        || Error::Malformed {
            status: 200,
            kind: MalformedKind::Truncated,
            detail: format!("{} (3 bytes)", crate::base::error::TRUNCATED),
        },
    ];
    for failure in failures {
        for _ in 0..10 {
            let failed = limiter.run_once(async { Err::<(), _>(failure()) }).await;
            assert!(failed.is_err());
        }
        assert_eq!((limiter.pace(), limiter.ceiling(), limiter.concurrency()), before);
    }
}

#[tokio::test(start_paused = true)]
async fn converges_on_the_cap_when_requests_arrive_early_or_late() {
    // The way to the portal takes 1-3 ms, or 1-6 ms, drawn per request: a request spaced
    // exactly `1 / cap` after the last reaches the portal sooner than that about half the
    // time. Every cap still meets the targets over a read of a minute.
    let mut report = Vec::new();
    let mut ok = true;
    for jitter_ms in [2, 5] {
        for cap in [1.0, 2.0, 3.0, 5.0, 10.0] {
            let pages = (cap * 60.0) as usize;
            let limiter = Arc::new(Limiter::new(paced()));
            let portal = Portal::jittered(cap, 1, 2, jitter_ms);
            let read = simulate(limiter.clone(), portal, pages, 4).await;
            let throughput = read.ideal / read.seconds;
            let refused = read.refused as f64 / (pages + read.refused) as f64;
            report.push(format!(
                "jitter {jitter_ms} ms, cap {cap}/s: {:.1} s (ideal {:.1}), throughput {throughput:.3}, {} refused ({:.1}%), pace {:.2}",
                read.seconds,
                read.ideal,
                read.refused,
                refused * 100.0,
                limiter.pace().unwrap()
            ));
            ok &= throughput >= 0.9 && refused <= 0.05;
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(ok, "{}", report.join("\n"));
}

#[tokio::test(start_paused = true)]
async fn without_a_cap_the_pace_costs_nothing() {
    let limiter = Arc::new(Limiter::new(paced()));
    let portal = Portal::new(1e9, 1_000_000, 4);
    let read = simulate(limiter.clone(), portal, 1_000, 4).await;
    // 1,000 answers of 4 ms, 4 at a time, is 1.0 s; the first dozen go one at a time.
    assert!(read.seconds < 1.06, "{read:?}");
    assert_eq!((read.refused, limiter.pace()), (0, None));
}

#[tokio::test(start_paused = true)]
async fn without_a_cap_slow_answers_are_not_slowed_down() {
    let limiter = Arc::new(Limiter::new(paced()));
    let portal = Portal::new(1e9, 1_000_000, 100);
    let read = simulate(limiter.clone(), portal, 100, 4).await;
    // 100 answers of 100 ms, 4 at a time, is 2.5 s; the slow start (1, then 1, 2, 3, 4 in
    // flight) costs a few answers' time.
    assert!((2.5..2.9).contains(&read.seconds), "{read:?}");
    assert_eq!((read.refused, limiter.pace()), (0, None));
}

#[tokio::test(start_paused = true)]
async fn requests_per_second_is_a_hard_bound() {
    let limiter = Arc::new(Limiter::new(LimiterConfig {
        requests_per_second: Some(5),
        ..paced()
    }));
    let read = simulate(limiter.clone(), Portal::new(1e9, 1_000_000, 4), 51, 4).await;
    // 50 gaps of 200 ms (no burst), and the answer of the last; the slow start is not
    // slower than the bound.
    assert!((10.0..10.01).contains(&read.seconds), "{read:?}");
    assert_eq!(read.refused, 0);
    // Refused far above the bound, the pace stays within it.
    let limiter = Arc::new(Limiter::new(LimiterConfig {
        requests_per_second: Some(5),
        ..paced()
    }));
    // A read of a minute at 2/s: at most 5% refused.
    let read = simulate(limiter.clone(), Portal::new(2.0, 1, 4), 120, 4).await;
    assert!(read.refused <= 6, "{read:?}");
    assert!(limiter.pace().unwrap() <= 5.0);
}

#[tokio::test(start_paused = true)]
async fn retry_after_pauses_every_request_of_the_account_and_keeps_the_pace() {
    let limiter = Arc::new(Limiter::new(paced()));
    let started = Instant::now();
    let refused = limiter
        .run_once(async {
            Err::<(), _>(Error::RateLimited {
                retry_after: Some(Duration::from_secs(3)),
            })
        })
        .await;
    assert!(matches!(refused, Err(Error::RateLimited { .. })));
    let other = limiter.clone();
    let waited = tokio::spawn(async move {
        other.run_once(async { Ok::<_, Error>(()) }).await.unwrap();
        started.elapsed()
    });
    assert_eq!(waited.await.unwrap(), Duration::from_secs(3));
    assert_eq!(limiter.pace(), None, "the portal said when: no pace learnt");
}

#[tokio::test(start_paused = true)]
async fn a_first_refusal_is_retried_in_the_next_slot_and_reported() {
    let limiter = Limiter::new(paced());
    let calls = AtomicUsize::new(0);
    let waits = Mutex::new(Vec::new());
    let started = Instant::now();
    limiter
        .run(
            || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 2 => Ok(()),
                    _ => Err(Error::RateLimited { retry_after: None }),
                }
            },
            &|w| waits.lock().unwrap().push((w.reason, w.delay)),
        )
        .await
        .unwrap();
    limiter
        .run(
            || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 2 => Ok(()),
                    _ => Err(Error::RateLimited { retry_after: None }),
                }
            },
            &|w| waits.lock().unwrap().push((w.reason, w.delay)),
        )
        .await
        .unwrap();
    // The second request was refused once: the paced start sends it one second after it
    // (and the slack: 2% and 2 ms).
    let slot = Duration::from_millis(1022);
    assert_eq!(*waits.lock().unwrap(), [(WaitReason::RateLimited, slot)]);
    assert_eq!(started.elapsed(), slot);
    assert_eq!(limiter.pace(), Some(2.0), "doubled by the clean retry");
}

#[test]
fn no_single_wait_exceeds_the_longest_delay() {
    let limiter = Limiter::new(LimiterConfig::default());
    let max = RetryPolicy::default().max_delay;
    let mut longest = Duration::ZERO;
    for _ in 0..200 {
        for (attempt, backoff) in backon::BackoffBuilder::build(limiter.backoff()).enumerate() {
            let delay = limiter
                .next_delay(
                    &Error::Server { status: 502 },
                    Some(backoff),
                    Duration::ZERO,
                    attempt + 1,
                )
                .unwrap();
            assert!(delay <= max, "{delay:?}");
            longest = longest.max(delay);
        }
    }
    assert!(
        longest > max / 2,
        "jitter still spreads the longest waits: {longest:?}"
    );
    // A Retry-After beyond the longest backoff is honoured within the total bound only.
    let after = |secs| Error::RateLimited {
        retry_after: Some(Duration::from_secs(secs)),
    };
    let backoff = Some(Duration::from_secs(1));
    assert_eq!(
        limiter.next_delay(&after(90), backoff, Duration::from_secs(200), 2),
        Some(Duration::from_secs(90))
    );
    assert_eq!(
        limiter.next_delay(&after(90), backoff, Duration::from_secs(211), 2),
        None
    );
    // The first refusals without Retry-After wait for the pace only; a fourth backs off.
    let bare = Error::RateLimited { retry_after: None };
    assert_eq!(
        limiter.next_delay(&bare, backoff, Duration::ZERO, PACED_RETRIES),
        Some(Duration::ZERO)
    );
    assert_eq!(
        limiter.next_delay(&bare, backoff, Duration::ZERO, PACED_RETRIES + 1),
        backoff
    );
}

mod portal;
mod remembered;
mod shared;
