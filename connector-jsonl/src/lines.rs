//! Splitting a JSON-lines file into pages of records, from a byte offset: each complete line
//! (ending in `\n`) is a record or a bad line; a last line without its `\n` is left for a
//! later read. Pure over any [`Read`], so it is tested without files.

use std::io::Read;

use serde_json::value::RawValue;

/// Bytes read from the file per page (a page holds the complete lines among them).
pub(crate) const PAGE_BYTES: usize = 256 * 1024;

/// The longest line read as a record; a longer one is a bad line (skipped without holding it).
pub(crate) const MAX_LINE: usize = 16 * 1024 * 1024;

/// A position in a file: a byte offset just after a `\n` (or 0), and the lines before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Position {
    /// The byte offset.
    pub offset: u64,
    /// Complete lines before `offset`.
    pub line: u64,
}

/// A line that is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadLine {
    /// Its number in the file (1-based).
    pub line: u64,
    /// What is wrong with it.
    pub message: String,
}

/// The complete lines read in one step.
#[derive(Debug, Default)]
pub(crate) struct LinePage {
    /// The records, in file order, as the exact JSON text of their lines.
    pub records: Vec<Box<RawValue>>,
    /// The lines that are not records, in file order.
    pub bad: Vec<BadLine>,
    /// Where the next page starts: just after the last complete line of this one.
    pub end: Position,
}

/// The bytes after the last complete line once the file ended: a line still being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tail {
    /// Where it starts.
    pub offset: u64,
    /// How many bytes it has so far.
    pub len: u64,
}

/// Reads pages of complete lines from a reader positioned at `start`.
pub(crate) struct LineReader<R> {
    reader: R,
    /// Bytes read but not yet part of a page (a line without its `\n` so far).
    pending: Vec<u8>,
    /// The position of `pending[0]`.
    at: Position,
    /// Set while skipping an over-long line: bytes skipped so far.
    skipping: Option<u64>,
    ended: bool,
}

impl<R: Read> LineReader<R> {
    /// A reader whose next byte is the one at `start`.
    pub(crate) fn new(reader: R, start: Position) -> Self {
        Self {
            reader,
            pending: Vec::new(),
            at: start,
            skipping: None,
            ended: false,
        }
    }

    /// The next page: at least one complete line (good or bad), or `None` once the reader
    /// ended (see [`Self::tail`]).
    pub(crate) fn next_page(&mut self) -> std::io::Result<Option<LinePage>> {
        let mut page = LinePage::default();
        while !self.ended {
            let before = self.pending.len();
            self.pending.resize(before + PAGE_BYTES, 0);
            let n = match self.reader.read(&mut self.pending[before..]) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
                Err(e) => {
                    self.pending.truncate(before);
                    return Err(e);
                }
            };
            self.pending.truncate(before + n);
            if n == 0 {
                self.ended = true;
            }
            if self.take_lines(before, &mut page) {
                return Ok(Some(page));
            }
        }
        Ok(None)
    }

    /// What is left after the last complete line once the reader ended (`None` when nothing
    /// or only blanks).
    pub(crate) fn tail(&self) -> Option<Tail> {
        if let Some(skipped) = self.skipping {
            return Some(Tail {
                offset: self.at.offset,
                len: skipped + self.pending.len() as u64,
            });
        }
        let blank = self.pending.iter().all(u8::is_ascii_whitespace);
        (!blank).then_some(Tail {
            offset: self.at.offset,
            len: self.pending.len() as u64,
        })
    }

    /// Moves the complete lines of `pending` into `page`; whether there was one. `fresh` is
    /// where the bytes just read start: `pending` before it holds no `\n`.
    fn take_lines(&mut self, fresh: usize, page: &mut LinePage) -> bool {
        if let Some(skipped) = self.skipping {
            let Some(nl) = memchr::memchr(b'\n', &self.pending[fresh..]) else {
                self.skipping = Some(skipped + self.pending.len() as u64);
                self.pending.clear();
                return false;
            };
            let consumed = fresh + nl + 1;
            let len = skipped + consumed as u64 - 1;
            self.at.line += 1;
            page.bad.push(BadLine {
                line: self.at.line,
                message: too_long(len),
            });
            self.at.offset += skipped + consumed as u64;
            self.pending.drain(..consumed);
            self.skipping = None;
            page.end = self.at;
            self.take_lines(0, page);
            return true;
        }
        let Some(last) = memchr::memrchr(b'\n', &self.pending[fresh..]).map(|i| fresh + i) else {
            if self.pending.len() > MAX_LINE {
                self.skipping = Some(self.pending.len() as u64);
                self.pending.clear();
            }
            return false;
        };
        let complete = &self.pending[..=last];
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', complete) {
            let line_offset = self.at.offset + start as u64;
            self.at.line += 1;
            let mut line = &complete[start..nl];
            start = nl + 1;
            if line_offset == 0 {
                line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
            }
            if line.len() > MAX_LINE {
                page.bad.push(BadLine {
                    line: self.at.line,
                    message: too_long(line.len() as u64),
                });
                continue;
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match parse_record(line) {
                Ok(record) => page.records.push(record),
                Err(message) => page.bad.push(BadLine {
                    line: self.at.line,
                    message,
                }),
            }
        }
        self.at.offset += (last + 1) as u64;
        self.pending.drain(..=last);
        page.end = self.at;
        true
    }
}

fn too_long(len: u64) -> String {
    format!("the line is {len} bytes long, more than the {MAX_LINE} bytes a record may have")
}

/// One line as a record: a JSON object (its exact text, without the line's `\r`).
fn parse_record(line: &[u8]) -> Result<Box<RawValue>, String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let record: Box<RawValue> = serde_json::from_slice(line).map_err(|e| format!("it is not JSON ({e})"))?;
    if !record.get().starts_with('{') {
        let kind = match record.get().as_bytes().first() {
            Some(b'[') => "an array",
            Some(b'"') => "a string",
            Some(b't' | b'f') => "a boolean",
            Some(b'n') => "null",
            _ => "a number",
        };
        return Err(format!("it is {kind}, not a JSON object"));
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A reader handing out at most `step` bytes per call (pages cut anywhere).
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn read_all(
        data: &[u8],
        step: usize,
        start: Position,
    ) -> (Vec<String>, Vec<BadLine>, Position, Option<Tail>) {
        let mut reader = LineReader::new(Trickle { data, step }, start);
        let (mut records, mut bad) = (Vec::new(), Vec::new());
        let mut last = start;
        while let Some(page) = reader.next_page().unwrap() {
            assert!(page.end.offset > last.offset, "every page moves on");
            last = page.end;
            records.extend(page.records.iter().map(|r| r.get().to_string()));
            bad.extend(page.bad);
        }
        (records, bad, last, reader.tail())
    }

    #[test]
    fn complete_lines_are_records_and_the_unfinished_last_line_waits() {
        let data = b"{\"a\":1}\n\n  {\"b\": [1, 2]}\r\n{\"c\":";
        for step in [1, 3, 7, 1 << 20] {
            let (records, bad, end, tail) = read_all(data, step, Position::default());
            assert_eq!(records, ["{\"a\":1}", "{\"b\": [1, 2]}"], "step {step}");
            assert!(bad.is_empty());
            assert_eq!(end, Position { offset: 26, line: 3 });
            assert_eq!(tail, Some(Tail { offset: 26, len: 5 }));
        }
    }

    #[test]
    fn bad_lines_are_named_by_number_and_the_rest_is_read() {
        let data = b"{\"a\":1}\nnot json\n[1]\n\"s\"\n7\n{\"b\":2}\n";
        let (records, bad, end, tail) = read_all(data, 4, Position::default());
        assert_eq!(records, ["{\"a\":1}", "{\"b\":2}"]);
        let got: Vec<(u64, &str)> = bad.iter().map(|b| (b.line, b.message.as_str())).collect();
        assert_eq!(
            got,
            [
                (2, "it is not JSON (expected ident at line 1 column 2)"),
                (3, "it is an array, not a JSON object"),
                (4, "it is a string, not a JSON object"),
                (5, "it is a number, not a JSON object"),
            ]
        );
        assert_eq!(
            end,
            Position {
                offset: data.len() as u64,
                line: 6
            }
        );
        assert_eq!(tail, None);
    }

    #[test]
    fn a_resumed_read_numbers_lines_from_its_start() {
        let data = b"{\"a\":1}\n{\"b\":2}\nbad\n";
        let start = Position { offset: 8, line: 1 };
        let (records, bad, end, _) = read_all(&data[8..], 5, start);
        assert_eq!(records, ["{\"b\":2}"]);
        assert_eq!(
            bad,
            [BadLine {
                line: 3,
                message: "it is not JSON (expected value at line 1 column 1)".into()
            }]
        );
        assert_eq!(end, Position { offset: 20, line: 3 });
    }

    #[test]
    fn a_byte_order_mark_at_the_start_is_not_part_of_the_record() {
        let (records, bad, _, _) = read_all(b"\xEF\xBB\xBF{\"a\":1}\n", 2, Position::default());
        assert_eq!((records, bad), (vec!["{\"a\":1}".to_string()], vec![]));
    }

    #[test]
    fn an_over_long_line_is_one_bad_line_and_is_not_held() {
        // 10 bytes over: the line ends in the read that crosses the bound; 3 pages over: it is
        // skipped without being held.
        for len in [MAX_LINE + 10, MAX_LINE + 3 * PAGE_BYTES] {
            let mut data = b"{\"a\":1}\n".to_vec();
            data.extend(std::iter::repeat_n(b'x', len));
            data.extend_from_slice(b"\n{\"b\":2}\n");
            let (records, bad, end, tail) = read_all(&data, PAGE_BYTES, Position::default());
            assert_eq!(records, ["{\"a\":1}", "{\"b\":2}"]);
            let message =
                format!("the line is {len} bytes long, more than the {MAX_LINE} bytes a record may have");
            assert_eq!(bad, [BadLine { line: 2, message }]);
            assert_eq!(
                end,
                Position {
                    offset: data.len() as u64,
                    line: 3
                }
            );
            assert_eq!(tail, None);
        }
        let mut cut = b"{\"a\":1}\n".to_vec();
        cut.extend(std::iter::repeat_n(b'x', MAX_LINE + 2 * PAGE_BYTES));
        let (_, _, end, tail) = read_all(&cut, PAGE_BYTES, Position::default());
        assert_eq!(end, Position { offset: 8, line: 1 });
        assert_eq!(
            tail,
            Some(Tail {
                offset: 8,
                len: (MAX_LINE + 2 * PAGE_BYTES) as u64
            })
        );
    }

    #[test]
    fn an_empty_input_has_no_page_and_no_tail() {
        assert_eq!(read_all(b"", 8, Position::default()).3, None);
        assert_eq!(read_all(b"  ", 8, Position::default()).3, None);
    }
}
