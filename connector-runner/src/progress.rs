//! The terminal view of a run: a progress line per stream on stderr while it runs (with a rate
//! wait or a retry shown while it lasts), and a summary table at the end. On when stdout is a terminal or with `--pretty`; protocol output on stdout
//! is the same either way.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use connector_core::{RecordOutcome, SourceEvent, StreamStatus, Wait};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Counters of one stream.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Counts {
    records: u64,
    pages: u64,
    waits: u64,
    waited: Duration,
    retries: u64,
    errors: u64,
    status: &'static str,
    /// The wait under way ("waiting 2.0 s (rate limited)", "retry 2 in 1.0 s (HTTP 502)"),
    /// shown instead of the status until the stream's next page, records or status.
    waiting: Option<String>,
}

/// Progress bars and counters per stream.
pub(crate) struct Progress {
    enabled: bool,
    bars: MultiProgress,
    streams: BTreeMap<String, (ProgressBar, Counts)>,
    started: Instant,
    unit: &'static str,
}

impl Progress {
    /// A view drawing to stderr when `enabled`; `unit` names what is counted (`records`).
    pub(crate) fn new(enabled: bool, unit: &'static str) -> Self {
        let target = if enabled {
            ProgressDrawTarget::stderr_with_hz(8)
        } else {
            ProgressDrawTarget::hidden()
        };
        Self {
            enabled,
            bars: MultiProgress::with_draw_target(target),
            streams: BTreeMap::new(),
            started: Instant::now(),
            unit,
        }
    }

    fn stream(&mut self, name: &str) -> &mut (ProgressBar, Counts) {
        if !self.streams.contains_key(name) {
            let bar = self.bars.add(ProgressBar::new_spinner());
            let style = ProgressStyle::with_template("{spinner} {prefix:<28} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.set_prefix(name.to_string());
            if self.enabled {
                // The spinner moves while a page is awaited (waits and retries included).
                bar.enable_steady_tick(Duration::from_millis(125));
            }
            self.streams.insert(
                name.to_string(),
                (
                    bar,
                    Counts {
                        status: "running",
                        ..Counts::default()
                    },
                ),
            );
        }
        // The entry was inserted just above when missing.
        self.streams.get_mut(name).unwrap_or_else(|| unreachable!())
    }

    /// Counts `count` records of `stream` (redrawn every thousand).
    pub(crate) fn records(&mut self, stream: &str, count: usize) {
        let unit = self.unit;
        let (bar, c) = self.stream(stream);
        let before = c.records / 1000;
        c.records += count as u64;
        // Records mean the wait is over: redraw at once then, else every thousand.
        if c.waiting.take().is_some() || c.records / 1000 != before {
            bar.set_message(line(c, unit));
        }
    }

    /// Shows a wait of a read or a write while it lasts.
    pub(crate) fn wait(&mut self, wait: &Wait) {
        let unit = self.unit;
        match wait {
            Wait::RateLimited {
                stream: Some(s),
                wait_ms,
            } => update(self.stream(s), unit, |c| {
                c.waits += 1;
                c.waited += Duration::from_millis(*wait_ms);
                c.waiting = Some(format!("waiting {} (rate limited)", seconds(*wait_ms)));
            }),
            Wait::Retrying {
                stream,
                attempt,
                wait_ms,
                reason,
            } => update(self.stream(stream), unit, |c| {
                c.retries += 1;
                c.waiting = Some(format!("retry {attempt} in {} ({reason})", seconds(*wait_ms)));
            }),
            Wait::RateLimited { stream: None, .. } => {}
        }
    }

    /// Counts a source event.
    pub(crate) fn source_event(&mut self, event: &SourceEvent) {
        let unit = self.unit;
        match event {
            SourceEvent::Record(r) => self.records(&r.stream, 1),
            SourceEvent::Page { stream, .. } => update(self.stream(stream), unit, |c| {
                c.pages += 1;
                c.waiting = None;
            }),
            SourceEvent::Wait(wait) => self.wait(wait),
            SourceEvent::Error { stream: Some(s), .. } => update(self.stream(s), unit, |c| {
                c.errors += 1;
                c.waiting = None;
            }),
            SourceEvent::Status { stream, status } => {
                let label = match status {
                    StreamStatus::Started | StreamStatus::Running => "running",
                    StreamStatus::Complete => "complete",
                    StreamStatus::Incomplete => "incomplete",
                };
                update(self.stream(stream), unit, |c| {
                    c.status = label;
                    c.waiting = None;
                });
            }
            _ => {}
        }
    }

    /// Counts a sink outcome (failed and unknown outcomes count as errors).
    pub(crate) fn outcome(&mut self, outcome: &RecordOutcome) {
        let unit = self.unit;
        let rejected = outcome.outcome.is_rejected();
        update(self.stream(&outcome.stream), unit, |c| {
            c.records += 1;
            c.status = "written";
            // An outcome means the wait before it is over.
            c.waiting = None;
            if rejected {
                c.errors += 1;
            }
        });
    }

    /// Clears the bars and, when enabled, writes the summary table to `out`.
    pub(crate) fn finish(self, out: &mut dyn Write) {
        for (bar, _) in self.streams.values() {
            bar.finish_and_clear();
        }
        if self.enabled {
            let _ = out.write_all(self.table().as_bytes());
        }
    }

    /// The summary table.
    fn table(&self) -> String {
        let mut text = format!(
            "\n{:<28} {:<10} {:>12} {:>8} {:>14} {:>7} {:>7}\n",
            "stream", "status", self.unit, "pages", "rate waits", "retries", "errors"
        );
        let mut total = Counts::default();
        for (name, (_, c)) in &self.streams {
            text.push_str(&row(name, c.status, c));
            total.records += c.records;
            total.pages += c.pages;
            total.waits += c.waits;
            total.waited += c.waited;
            total.retries += c.retries;
            total.errors += c.errors;
        }
        let secs = self.started.elapsed().as_secs_f64();
        text.push_str(&row("total", "", &total));
        let rate = if secs > 0.0 {
            total.records as f64 / secs
        } else {
            0.0
        };
        text.push_str(&format!("{:.1} s, {:.0} {}/s\n", secs, rate, self.unit));
        text
    }
}

fn update(entry: &mut (ProgressBar, Counts), unit: &str, change: impl FnOnce(&mut Counts)) {
    change(&mut entry.1);
    entry.0.set_message(line(&entry.1, unit));
}

/// `ms` as seconds with one decimal (`2.0 s`).
fn seconds(ms: u64) -> String {
    format!("{:.1} s", Duration::from_millis(ms).as_secs_f64())
}

/// A stream's progress line: its counts, then the wait under way or else its status.
fn line(c: &Counts, unit: &str) -> String {
    format!(
        "{} {unit}, {} pages, {} rate-limit waits ({:.1} s), {} retries, {} errors, {}",
        c.records,
        c.pages,
        c.waits,
        c.waited.as_secs_f64(),
        c.retries,
        c.errors,
        c.waiting.as_deref().unwrap_or(c.status)
    )
}

fn row(name: &str, status: &str, c: &Counts) -> String {
    let waits = format!("{} ({:.1} s)", c.waits, c.waited.as_secs_f64());
    format!(
        "{name:<28} {status:<10} {:>12} {:>8} {waits:>14} {:>7} {:>7}\n",
        c.records, c.pages, c.retries, c.errors
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_core::{Checkpoint, Failure, FailureClass, Record};
    use serde_json::json;

    #[test]
    fn counts_and_tabulates_a_read() {
        let mut p = Progress::new(false, "records");
        let rec = |s: &str| {
            SourceEvent::Record(Record {
                stream: s.into(),
                data: json!({}),
            })
        };
        for e in [
            rec("crm_account"),
            rec("crm_account"),
            SourceEvent::Checkpoint(Checkpoint {
                stream: "crm_account".into(),
                state: json!({}),
            }),
            SourceEvent::Page {
                stream: "crm_account".into(),
                records: 2,
            },
            SourceEvent::Wait(Wait::RateLimited {
                stream: Some("crm_account".into()),
                wait_ms: 1500,
            }),
            SourceEvent::Status {
                stream: "crm_account".into(),
                status: StreamStatus::Complete,
            },
            SourceEvent::Error {
                stream: Some("task_tasks".into()),
                failure: Failure {
                    class: FailureClass::Config,
                    message: "m".into(),
                    internal: "i".into(),
                },
            },
            SourceEvent::Status {
                stream: "task_tasks".into(),
                status: StreamStatus::Incomplete,
            },
        ] {
            p.source_event(&e);
        }
        let table = p.table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["stream", "status", "records", "pages", "rate", "waits", "retries", "errors"]
        );
        assert_eq!(
            lines[2].split_whitespace().collect::<Vec<_>>(),
            ["crm_account", "complete", "2", "1", "1", "(1.5", "s)", "0", "0"]
        );
        assert_eq!(
            lines[3].split_whitespace().collect::<Vec<_>>(),
            ["task_tasks", "incomplete", "0", "0", "0", "(0.0", "s)", "0", "1"]
        );
        assert_eq!(
            lines[4].split_whitespace().collect::<Vec<_>>(),
            ["total", "2", "1", "1", "(1.5", "s)", "0", "1"]
        );
        let mut hidden = Vec::new();
        p.finish(&mut hidden);
        assert!(hidden.is_empty(), "nothing is written when the view is off");
    }

    /// The line the view shows for `stream` now: the bar's message, and the line its counts
    /// render to (the two must agree).
    fn shown(p: &Progress, stream: &str) -> String {
        let (bar, counts) = &p.streams[stream];
        assert_eq!(bar.message(), line(counts, p.unit));
        bar.message()
    }

    #[test]
    fn a_write_shows_waits_and_retries_while_they_last() {
        let mut p = Progress::new(false, "written");
        let s = "crm_account";
        let outcome = |sequence: u64, outcome: connector_core::Outcome| RecordOutcome {
            stream: s.into(),
            sequence,
            outcome,
            record: None,
        };
        let created = |id: &str| connector_core::Outcome::Created { id: id.into() };
        p.outcome(&outcome(0, created("1")));
        assert_eq!(
            shown(&p, s),
            "1 written, 0 pages, 0 rate-limit waits (0.0 s), 0 retries, 0 errors, written"
        );
        p.source_event(&SourceEvent::Wait(Wait::RateLimited {
            stream: Some(s.into()),
            wait_ms: 1000,
        }));
        assert_eq!(
            shown(&p, s),
            "1 written, 0 pages, 1 rate-limit waits (1.0 s), 0 retries, 0 errors, waiting 1.0 s (rate limited)"
        );
        p.outcome(&outcome(1, created("2")));
        assert_eq!(
            shown(&p, s),
            "2 written, 0 pages, 1 rate-limit waits (1.0 s), 0 retries, 0 errors, written"
        );
        p.source_event(&SourceEvent::Wait(Wait::Retrying {
            stream: s.into(),
            attempt: 1,
            wait_ms: 500,
            reason: "HTTP 503".into(),
        }));
        assert_eq!(
            shown(&p, s),
            "2 written, 0 pages, 1 rate-limit waits (1.0 s), 1 retries, 0 errors, retry 1 in 0.5 s (HTTP 503)"
        );
        p.outcome(&outcome(
            2,
            connector_core::Outcome::Unknown { message: "m".into() },
        ));
        assert_eq!(
            shown(&p, s),
            "3 written, 0 pages, 1 rate-limit waits (1.0 s), 1 retries, 1 errors, written"
        );
    }

    #[test]
    fn waits_and_retries_show_while_they_last_and_counts_move_live() {
        let mut p = Progress::new(false, "records");
        let s = "crm_account";
        let page = || SourceEvent::Page {
            stream: s.into(),
            records: 2,
        };
        let steps: Vec<(SourceEvent, &str)> = vec![
            (
                SourceEvent::Status {
                    stream: s.into(),
                    status: StreamStatus::Started,
                },
                "0 records, 0 pages, 0 rate-limit waits (0.0 s), 0 retries, 0 errors, running",
            ),
            (
                SourceEvent::Wait(Wait::RateLimited {
                    stream: Some(s.into()),
                    wait_ms: 2000,
                }),
                "0 records, 0 pages, 1 rate-limit waits (2.0 s), 0 retries, 0 errors, waiting 2.0 s (rate limited)",
            ),
            (
                page(),
                "0 records, 1 pages, 1 rate-limit waits (2.0 s), 0 retries, 0 errors, running",
            ),
            (
                SourceEvent::Wait(Wait::Retrying {
                    stream: s.into(),
                    attempt: 1,
                    wait_ms: 500,
                    reason: "HTTP 502".into(),
                }),
                "0 records, 1 pages, 1 rate-limit waits (2.0 s), 1 retries, 0 errors, retry 1 in 0.5 s (HTTP 502)",
            ),
            (
                SourceEvent::Wait(Wait::Retrying {
                    stream: s.into(),
                    attempt: 2,
                    wait_ms: 1000,
                    reason: "timeout".into(),
                }),
                "0 records, 1 pages, 1 rate-limit waits (2.0 s), 2 retries, 0 errors, retry 2 in 1.0 s (timeout)",
            ),
        ];
        for (event, expected) in steps {
            p.source_event(&event);
            assert_eq!(shown(&p, s), expected, "after {event:?}");
        }
        // Records after a wait end it at once (not only every thousand records).
        p.records(s, 3);
        assert_eq!(
            shown(&p, s),
            "3 records, 1 pages, 1 rate-limit waits (2.0 s), 2 retries, 0 errors, running"
        );
        // A wait that ends in a failure shows the failure's count and the final status.
        p.source_event(&SourceEvent::Wait(Wait::Retrying {
            stream: s.into(),
            attempt: 1,
            wait_ms: 250,
            reason: "connection dropped".into(),
        }));
        p.source_event(&SourceEvent::Error {
            stream: Some(s.into()),
            failure: Failure {
                class: FailureClass::Transient,
                message: "m".into(),
                internal: "i".into(),
            },
        });
        assert_eq!(
            shown(&p, s),
            "3 records, 1 pages, 1 rate-limit waits (2.0 s), 3 retries, 1 errors, running"
        );
        p.source_event(&SourceEvent::Status {
            stream: s.into(),
            status: StreamStatus::Incomplete,
        });
        assert_eq!(
            shown(&p, s),
            "3 records, 1 pages, 1 rate-limit waits (2.0 s), 3 retries, 1 errors, incomplete"
        );
        let table = p.table();
        assert_eq!(
            table
                .lines()
                .nth(2)
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["crm_account", "incomplete", "3", "1", "1", "(2.0", "s)", "3", "1"]
        );
    }
}
