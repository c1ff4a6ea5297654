//! Protocol output: one JSON message per line, flushed as the protocol needs, a broken pipe
//! remembered, and the config's secrets scrubbed from every line that can carry a server's
//! text.

use std::io::Write;

use connector_core::Failure;

use crate::airbyte::{now_ms, Message};
use crate::exit::{EXIT_FAILED, EXIT_OK};

/// Writes protocol lines: one JSON message per line. Flushes after every line that is not a
/// `RECORD` (a `STATE`, so a host sees a checkpoint with the records before it; a `LOG` or
/// `TRACE`, so it is seen when it happens) and on [`ProtocolOut::flush`].
pub(crate) struct ProtocolOut<'a> {
    out: &'a mut dyn Write,
    broken: bool,
    /// The secrets, removed (in every encoding) from every LOG, TRACE and CONNECTION_STATUS line.
    secrets: Vec<String>,
}

impl<'a> ProtocolOut<'a> {
    /// Wraps a writer (buffer it: this writes line by line).
    pub(crate) fn new(out: &'a mut dyn Write) -> Self {
        Self {
            out,
            broken: false,
            secrets: Vec::new(),
        }
    }

    /// From now on, removes `secrets` from every line that can carry text from a server (LOG,
    /// TRACE, CONNECTION_STATUS): a last line of defence behind the redacted errors.
    pub(crate) fn redact(&mut self, secrets: Vec<String>) {
        self.secrets = secrets;
    }

    /// Writes one message; returns the exit code so far (`EXIT_FAILED` once stdout broke).
    pub(crate) fn emit(&mut self, message: &Message) -> i32 {
        if self.broken {
            return EXIT_FAILED;
        }
        // Only RECORD lines wait in the buffer (they are the bulk, and a STATE after them
        // flushes them); every other line reaches the host at once.
        let flush = !matches!(message, Message::Record { .. });
        let shows_text = matches!(
            message,
            Message::Log { .. } | Message::Trace { .. } | Message::ConnectionStatus { .. }
        );
        let written = if shows_text && !self.secrets.is_empty() {
            serde_json::to_string(message)
                .map_err(std::io::Error::from)
                .and_then(|line| self.out.write_all(scrub(&line, &self.secrets).as_bytes()))
        } else {
            serde_json::to_writer(&mut *self.out, message).map_err(std::io::Error::from)
        };
        let written = written.and_then(|()| self.out.write_all(b"\n")).and_then(|()| {
            if flush {
                self.out.flush()
            } else {
                Ok(())
            }
        });
        self.check(written)
    }

    /// Writes ready-made protocol lines, each ending in a newline (the RECORD lines of
    /// records passed through as sent); returns the exit code so far.
    pub(crate) fn emit_lines(&mut self, lines: &[u8]) -> i32 {
        if self.broken {
            return EXIT_FAILED;
        }
        let written = self.out.write_all(lines);
        self.check(written)
    }

    /// Flushes buffered lines.
    pub(crate) fn flush(&mut self) -> i32 {
        let flushed = self.out.flush();
        self.check(flushed)
    }

    /// Writes a `TRACE` error and returns [`EXIT_FAILED`].
    pub(crate) fn fail(&mut self, failure: &Failure) -> i32 {
        self.emit(&Message::error(failure, None, now_ms()));
        self.flush();
        EXIT_FAILED
    }

    fn check(&mut self, result: std::io::Result<()>) -> i32 {
        match result {
            Ok(()) => EXIT_OK,
            Err(e) => {
                if !self.broken {
                    tracing::error!(error = %e, "stdout closed");
                }
                self.broken = true;
                EXIT_FAILED
            }
        }
    }
}

/// `text` without any of `secrets`, in any encoding ([`connector_core::secret::redact`]).
pub(crate) fn scrub(text: &str, secrets: &[String]) -> String {
    let mut text = std::borrow::Cow::Borrowed(text);
    for secret in secrets {
        text = std::borrow::Cow::Owned(connector_core::secret::redact(&text, secret));
    }
    text.into_owned()
}

#[cfg(test)]
mod tests {
    use connector_core::FailureClass;

    use super::*;

    /// A writer that shows what has been flushed so far.
    #[derive(Default)]
    struct Pipe {
        buffered: Vec<u8>,
        flushed: Vec<u8>,
    }

    impl Write for Pipe {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.buffered.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.flushed.append(&mut self.buffered);
            Ok(())
        }
    }

    #[test]
    fn every_line_but_a_record_is_flushed_as_it_is_written() {
        let mut pipe = Pipe::default();
        let mut out = ProtocolOut::new(&mut pipe);
        out.emit_lines(b"{\"type\":\"RECORD\"}\n");
        out.emit(&Message::log(connector_core::LogLevel::Warn, "retrying"));
        let state = Message::State {
            state: serde_json::json!({"type": "STREAM"}),
        };
        out.emit_lines(b"{\"type\":\"RECORD\"}\n");
        out.emit(&state);
        out.emit_lines(b"{\"type\":\"RECORD\"}\n");
        let failure = Failure {
            class: FailureClass::Transient,
            message: "m".into(),
            internal: "i".into(),
        };
        out.emit(&Message::error(&failure, None, 1));
        out.emit_lines(b"{\"type\":\"RECORD\"}\n");
        let flushed = String::from_utf8(pipe.flushed).unwrap();
        let kinds: Vec<&str> = flushed
            .lines()
            .map(|l| {
                if l.contains("RECORD") {
                    "RECORD"
                } else if l.contains("LOG") {
                    "LOG"
                } else if l.contains("STATE") {
                    "STATE"
                } else {
                    "TRACE"
                }
            })
            .collect();
        assert_eq!(kinds, ["RECORD", "LOG", "RECORD", "STATE", "RECORD", "TRACE"]);
        assert_eq!(
            pipe.buffered, b"{\"type\":\"RECORD\"}\n",
            "only the last record waits"
        );
    }

    #[test]
    fn text_lines_are_redacted_once_the_key_is_known() {
        let mut buf = Vec::new();
        let mut out = ProtocolOut::new(&mut buf);
        out.redact(vec!["k/+ \"y".to_string()]);
        out.emit(&Message::log(
            connector_core::LogLevel::Warn,
            "GET ?api_key=k%2F%2B+%22y and k/+ \"y",
        ));
        out.emit(&Message::failed("bad key k/+ \"y"));
        let state = serde_json::json!({"type": "STREAM", "note": "k/+ \"y"});
        out.emit(&Message::State { state });
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(
            lines[0]["log"]["message"],
            "GET ?api_key=[REDACTED] and [REDACTED]"
        );
        assert_eq!(lines[1]["connectionStatus"]["message"], "bad key [REDACTED]");
        assert_eq!(
            lines[2]["state"]["note"], "k/+ \"y",
            "a STATE is passed on as given"
        );
    }
}
