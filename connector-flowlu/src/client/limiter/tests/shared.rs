#![allow(clippy::unwrap_used)]
//! One pace shared by the jobs of an account.

use crate::client::limiter::tests::portal::*;
use crate::client::limiter::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// `requests` through `limiter` by `workers` tasks against `portal`: when each answer came.
async fn job(limiter: Arc<Limiter>, portal: Arc<Portal>, requests: usize, workers: usize) -> Vec<f64> {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let times = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (limiter, portal, next, times) =
                (limiter.clone(), portal.clone(), next.clone(), times.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::SeqCst) < requests {
                    limiter.run(|| portal.request(), &|_| {}).await.unwrap();
                    times.lock().unwrap().push(started.elapsed().as_secs_f64());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    Arc::into_inner(times).unwrap().into_inner().unwrap()
}

#[tokio::test(start_paused = true)]
async fn requests_per_second_bounds_its_own_job_only() {
    // No cap at the portal: the job bounded at 2/s sends 11 requests in 5 s (0.5 s apart,
    // no burst) while the other, unbounded, is not held back by it.
    let pace = Arc::new(Pace::shared());
    let bounded = Arc::new(Limiter::sharing(
        LimiterConfig {
            requests_per_second: Some(2),
            ..paced()
        },
        pace.clone(),
    ));
    let free = Arc::new(Limiter::sharing(paced(), pace));
    let portal = Portal::new(1e9, 1_000_000, 4);
    let (slow, fast) = tokio::join!(job(bounded, portal.clone(), 11, 4), job(free, portal, 400, 4));
    assert!((5.0..5.01).contains(slow.last().unwrap()), "{slow:?}");
    assert!(*fast.last().unwrap() < 0.5, "{:?}", fast.last());
}

#[tokio::test(start_paused = true)]
async fn a_read_and_a_write_of_one_account_share_its_cap() {
    // A read (4 in flight) and a write (4, or 1 in flight) of the same account at once,
    // capped at 2 requests/s, each with a limiter of its own on the account's one pace.
    let mut report = Vec::new();
    let mut ok = true;
    for (cap, writers) in [(2.0, 4), (2.0, 1), (1.0, 4), (5.0, 2)] {
        let pace = Arc::new(Pace::shared());
        let read = Arc::new(Limiter::sharing(paced(), pace.clone()));
        let write = Arc::new(Limiter::sharing(paced(), pace));
        let portal = Portal::new(cap, 1, 5);
        let n = (cap * 60.0) as usize;
        let (reads, writes) = tokio::join!(
            job(read, portal.clone(), n, 4),
            job(write, portal.clone(), n, writers)
        );
        // While both run: until the first of them ends.
        let both = reads.last().unwrap().min(*writes.last().unwrap());
        let during = |t: &[f64]| t.iter().filter(|t| **t <= both).count() as f64 / both;
        let (r, w) = (during(&reads), during(&writes));
        let refused = portal.refused.load(Ordering::SeqCst);
        let share = refused as f64 / (2 * n + refused) as f64;
        report.push(format!(
            "cap {cap}, writes {writers} in flight: both for {both:.1} s: read {r:.2}/s, write {w:.2}/s, together {:.3} of the cap; {refused} refused ({:.1}%)",
            (r + w) / cap,
            share * 100.0
        ));
        ok &= (r + w) >= 0.9 * cap && share <= 0.05 && r >= cap / 3.0 && w >= cap / 3.0;
    }
    eprintln!("{}", report.join("\n"));
    assert!(ok, "{}", report.join("\n"));
}
