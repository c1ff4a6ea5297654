//! A pace remembered between runs: the second run starts from it; a cap moved since is
//! found again.

mod first_and_second {
    #![allow(clippy::unwrap_used)]
    use crate::client::limiter::tests::portal::*;
    use crate::client::limiter::*;
    use std::sync::Arc;

    /// A short read: 31 pages (3,000 records, 100 a page, and the
    /// empty page that ends it), four in flight.
    const PAGES: usize = 31;

    #[tokio::test(start_paused = true)]
    async fn a_second_run_starts_from_the_pace_the_first_learned() {
        let mut report = Vec::new();
        let mut ok = true;
        for cap in [1.0, 2.0, 5.0, 10.0] {
            let first = Arc::new(Limiter::new(paced()));
            let one = simulate(first.clone(), Portal::new(cap, 1, 5), PAGES, 4).await;
            let snapshot = first.snapshot().unwrap();
            let second = Arc::new(Limiter::new(paced()));
            second.restore(&snapshot).unwrap();
            let two = simulate(second.clone(), Portal::new(cap, 1, 5), PAGES, 4).await;
            report.push(format!(
                "cap {cap}: first {one:?}; {snapshot:?}; second {two:?} ({:.3}x ideal)",
                two.seconds / two.ideal
            ));
            ok &= two.refused <= 1 && two.seconds <= 1.05 * two.ideal;
        }
        eprintln!("{}", report.join("\n"));
        assert!(ok, "{}", report.join("\n"));
    }
}

mod moved {
    #![allow(clippy::unwrap_used)]
    use crate::client::limiter::tests::portal::*;
    use crate::client::limiter::*;
    use std::sync::Arc;

    /// A read of `pages` from a pace restored at `was` against a portal now capped at `now`:
    /// the read, and when the pace first reached 0.9 of the new cap (seconds from the start).
    async fn moved(was: f64, now: f64, pages: usize) -> (Read, Option<f64>) {
        let first = Arc::new(Limiter::new(paced()));
        simulate(first.clone(), Portal::new(was, 1, 5), (was * 30.0) as usize, 4).await;
        let snapshot = first.snapshot().unwrap();
        let limiter = Arc::new(Limiter::new(paced()));
        limiter.restore(&snapshot).unwrap();
        let started = Instant::now();
        let watched = limiter.clone();
        let watch = tokio::spawn(async move {
            loop {
                if watched.pace().is_some_and(|p| p >= 0.9 * now) {
                    return started.elapsed().as_secs_f64();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let read = simulate(limiter, Portal::new(now, 1, 5), pages, 4).await;
        let found = if watch.is_finished() {
            Some(watch.await.unwrap())
        } else {
            watch.abort();
            None
        };
        (read, found)
    }

    #[tokio::test(start_paused = true)]
    async fn a_raised_cap_is_found_again_within_a_minute() {
        for (was, now) in [(1.0, 2.0), (2.0, 4.0), (2.0, 5.0), (5.0, 10.0), (10.0, 20.0)] {
            let (read, found) = moved(was, now, (now * 70.0) as usize).await;
            eprintln!("{was} -> {now}: {read:?}, 0.9 of the new cap after {found:?} s");
            assert!(
                found.is_some_and(|s| s <= 60.0),
                "{was} -> {now}: {read:?} {found:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_lowered_cap_costs_a_few_refusals() {
        for (was, now) in [(2.0, 1.0), (5.0, 2.0), (10.0, 5.0), (2.0, 1.5)] {
            let (read, _) = moved(was, now, (now * 60.0) as usize).await;
            eprintln!(
                "{was} -> {now}: {read:?} ({:.3}x ideal)",
                read.seconds / read.ideal
            );
            // Measured: 3 to 6 refusals over a read of a minute at the new cap (2-5%).
            let pages = (now * 60.0) as usize;
            assert!(read.refused <= 6, "{was} -> {now}: {read:?}");
            assert!(read.refused * 100 <= pages * 5, "{was} -> {now}: {read:?}");
        }
    }
}
