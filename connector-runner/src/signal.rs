//! Signals: SIGINT and SIGTERM stop `read` and `write` between whole lines ([`Interrupt`]); a
//! second signal exits at once.

use crate::exit::{EXIT_SIGINT, EXIT_SIGTERM};

/// A signal asking the command to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (a host stopping the connector).
    Terminate,
}

impl Signal {
    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
        }
    }

    /// The exit code after it: 128 + the signal number.
    pub fn exit_code(self) -> i32 {
        match self {
            Self::Interrupt => EXIT_SIGINT,
            Self::Terminate => EXIT_SIGTERM,
        }
    }
}

/// Whether (and by which signal) the command was asked to stop. `read` and `write` check it
/// between lines; the other commands are short and ignore it.
#[derive(Debug, Clone)]
pub struct Interrupt(tokio::sync::watch::Receiver<Option<Signal>>);

/// Fires an [`Interrupt`] (tests, or a host embedding the command line).
#[derive(Debug)]
pub struct InterruptTrigger(tokio::sync::watch::Sender<Option<Signal>>);

impl InterruptTrigger {
    /// Asks the command to stop as `signal` would.
    pub fn fire(&self, signal: Signal) {
        self.0.send_replace(Some(signal));
    }
}

impl Interrupt {
    /// An interrupt that never fires.
    pub fn never() -> Self {
        Self::manual().1
    }

    /// An interrupt fired by its trigger.
    pub fn manual() -> (InterruptTrigger, Self) {
        let (tx, rx) = tokio::sync::watch::channel(None);
        (InterruptTrigger(tx), Self(rx))
    }

    /// An interrupt fired by SIGTERM or SIGINT; a second signal ends the process at once with
    /// that signal's exit code. Call inside the Tokio runtime.
    pub fn from_signals(program: &'static str) -> Self {
        let (trigger, interrupt) = Self::manual();
        let Some(mut signals) = Signals::listen() else {
            return interrupt;
        };
        tokio::spawn(async move {
            let mut fired = false;
            while let Some(signal) = signals.next().await {
                if fired {
                    eprintln!("{program}: {} again: exiting now", signal.name());
                    std::process::exit(signal.exit_code());
                }
                fired = true;
                trigger.fire(signal);
            }
        });
        interrupt
    }

    /// The signal, once one came.
    pub fn fired(&self) -> Option<Signal> {
        *self.0.borrow()
    }

    /// Waits for a signal (forever when none can come).
    pub async fn wait(mut self) -> Signal {
        loop {
            if let Some(signal) = *self.0.borrow_and_update() {
                return signal;
            }
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// SIGTERM and SIGINT, listened to from the start (so neither ends the process by itself).
#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn listen() -> Option<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Some(Self {
            term: signal(SignalKind::terminate()).ok()?,
            int: signal(SignalKind::interrupt()).ok()?,
        })
    }

    async fn next(&mut self) -> Option<Signal> {
        tokio::select! {
            s = self.term.recv() => s.map(|()| Signal::Terminate),
            s = self.int.recv() => s.map(|()| Signal::Interrupt),
        }
    }
}

/// Ctrl-C, where there are no Unix signals.
#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn listen() -> Option<Self> {
        Some(Self)
    }

    async fn next(&mut self) -> Option<Signal> {
        tokio::signal::ctrl_c().await.ok()?;
        Some(Signal::Interrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_interrupt_is_seen_by_every_clone_and_never_fires_by_itself() {
        let (trigger, interrupt) = Interrupt::manual();
        let waiting = interrupt.clone();
        assert_eq!(interrupt.fired(), None);
        trigger.fire(Signal::Terminate);
        assert_eq!(waiting.wait().await, Signal::Terminate);
        assert_eq!(interrupt.fired(), Some(Signal::Terminate));
        assert_eq!(
            (Signal::Terminate.exit_code(), Signal::Interrupt.exit_code()),
            (143, 130)
        );
        let never = Interrupt::never();
        assert!(futures::FutureExt::now_or_never(never.wait()).is_none());
    }
}
