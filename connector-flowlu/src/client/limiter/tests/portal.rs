#![allow(clippy::unwrap_used)]
//! A simulated portal for the limiter's tests: a token bucket capping the account, as the
//! stand-in does, under paused time; and a read through a limiter against it.

use crate::client::limiter::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::Mutex;

/// A portal capping the account with a token bucket, as the stand-in does, under paused
/// time: each request arrives `latency / 2` after it is sent and is answered `latency`
/// after; `Retry-After` is never sent.
pub(in crate::client::limiter) struct Portal {
    pub(in crate::client::limiter) per_second: f64,
    burst: f64,
    latency: Duration,
    bucket: Mutex<(f64, Instant)>,
    pub(in crate::client::limiter) refused: AtomicUsize,
    pub(in crate::client::limiter) served: AtomicUsize,
    /// Every `n`th request fails, not for the rate (a 503 or a body cut short, in turn),
    /// before it reaches the bucket.
    fail_every: Option<usize>,
    seen: AtomicUsize,
    pub(in crate::client::limiter) failed: AtomicUsize,
    /// The way to the portal takes up to this much longer, drawn per request (a
    /// deterministic spread): requests paced exactly at the cap then arrive early or late.
    jitter: Duration,
}

impl Portal {
    pub(in crate::client::limiter) fn new(per_second: f64, burst: u32, latency_ms: u64) -> Arc<Self> {
        Arc::new(Self {
            per_second,
            burst: f64::from(burst),
            latency: Duration::from_millis(latency_ms),
            bucket: Mutex::new((f64::from(burst), Instant::now())),
            refused: AtomicUsize::new(0),
            served: AtomicUsize::new(0),
            fail_every: None,
            seen: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            jitter: Duration::ZERO,
        })
    }

    /// [`Portal::new`] whose requests take up to `jitter_ms` longer to arrive.
    pub(in crate::client::limiter) fn jittered(
        per_second: f64,
        burst: u32,
        latency_ms: u64,
        jitter_ms: u64,
    ) -> Arc<Self> {
        let mut portal = Arc::into_inner(Self::new(per_second, burst, latency_ms)).unwrap();
        portal.jitter = Duration::from_millis(jitter_ms);
        Arc::new(portal)
    }

    /// [`Portal::new`] where every `every`th request fails with a 503 or a dropped body.
    pub(in crate::client::limiter) fn failing(
        per_second: f64,
        burst: u32,
        latency_ms: u64,
        every: usize,
    ) -> Arc<Self> {
        let mut portal = Arc::into_inner(Self::new(per_second, burst, latency_ms)).unwrap();
        portal.fail_every = Some(every);
        Arc::new(portal)
    }

    pub(in crate::client::limiter) async fn request(&self) -> Result<(), Error> {
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        if let Some(every) = self.fail_every.filter(|every| n % every == every - 1) {
            tokio::time::sleep(self.latency).await;
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(if (n / every).is_multiple_of(2) {
                Error::Server { status: 503 }
            } else {
                Error::Malformed {
                    status: 200,
                    kind: crate::base::error::MalformedKind::Truncated,
                    detail: format!("{} (10 bytes)", crate::base::error::TRUNCATED),
                }
            });
        }
        // A spread in 0..1 from the request's number (a multiplicative hash).
        let spread = f64::from((n as u32).wrapping_mul(2_654_435_761) >> 8) / f64::from(1u32 << 24);
        tokio::time::sleep(self.latency / 2 + self.jitter.mul_f64(spread)).await;
        let admitted = {
            let mut bucket = self.bucket.lock().unwrap();
            let now = Instant::now();
            let refill = (now - bucket.1).as_secs_f64() * self.per_second;
            bucket.0 = (bucket.0 + refill).min(self.burst);
            bucket.1 = now;
            let ok = bucket.0 >= 1.0;
            if ok {
                bucket.0 -= 1.0;
            }
            ok
        };
        tokio::time::sleep(self.latency / 2).await;
        if admitted {
            self.served.fetch_add(1, Ordering::SeqCst);
            Ok(())
        } else {
            self.refused.fetch_add(1, Ordering::SeqCst);
            Err(Error::RateLimited { retry_after: None })
        }
    }
}

/// What a simulated read measured.
#[derive(Debug)]
pub(in crate::client::limiter) struct Read {
    pub(in crate::client::limiter) seconds: f64,
    pub(in crate::client::limiter) refused: usize,
    pub(in crate::client::limiter) ideal: f64,
}

/// `pages` requests through `limiter` by `workers` concurrent tasks against `portal`.
pub(in crate::client::limiter) async fn simulate(
    limiter: Arc<Limiter>,
    portal: Arc<Portal>,
    pages: usize,
    workers: usize,
) -> Read {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (limiter, portal, next) = (limiter.clone(), portal.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::SeqCst) < pages {
                    limiter.run(|| portal.request(), &|_| {}).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(portal.served.load(Ordering::SeqCst), pages);
    Read {
        seconds: started.elapsed().as_secs_f64(),
        refused: portal.refused.load(Ordering::SeqCst),
        ideal: pages as f64 / portal.per_second,
    }
}

pub(in crate::client::limiter) fn paced() -> LimiterConfig {
    LimiterConfig {
        retry: RetryPolicy {
            max_retries: 8,
            ..RetryPolicy::default()
        },
        ..LimiterConfig::default()
    }
}
