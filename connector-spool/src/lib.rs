//! # connector-spool
//!
//! A durable, bounded, append-only spool with no knowledge of what it holds: a receiver appends
//! an entry and answers its sender only once the entry is on disk; a reader takes entries from a
//! byte offset it keeps in its own checkpoint.
//!
//! * **Frames.** Each entry is `len: u32 LE | crc32: u32 LE | key: 16 bytes | payload`, the
//!   checksum over key and payload. Entries live in segment files `{base:020}.seg`, `base`
//!   the global byte offset of the file's first frame; an entry's offset is `base` plus its
//!   position, so offsets grow for ever and are never reused.
//! * **Group commit.** One writer thread takes every append waiting (up to
//!   [`SpoolConfig::max_batch`]), writes them, `fsync`s the segment once (`sync_data`) and only
//!   then answers each of them; then it records the durable end in `committed` (8 bytes).
//!   Throughput grows with concurrent appenders instead of collapsing to one fsync per entry.
//! * **Readers** ([`SpoolReader`], any process) read only up to `committed`: an entry written
//!   but not yet synced (which a power loss could take back) is never passed on, so an offset a
//!   reader checkpoints can never point past data a recovery truncates.
//! * **Recovery** ([`Spool::open`]): the last segment is scanned and cut at its first frame
//!   that is incomplete or fails its checksum (a torn tail: never answered, so never
//!   acknowledged); a bad frame in an earlier segment is corruption and refuses the open.
//!   A new segment is started after recovery (offsets stay unique).
//! * **Idempotency.** An append whose key was appended among the last
//!   [`SpoolConfig::dedup_window`] keys still held on disk is answered
//!   [`Appended::Duplicate`] with the first one's offset, and nothing is written.
//! * **Bounds.** The segments held never pass [`SpoolConfig::max_bytes`]: an append that would
//!   is refused [`AppendError::Full`] (a receiver answers 503 so the sender keeps the event); it
//!   is never dropped silently. [`SpoolReader::release`] removes whole segments a reader has
//!   checkpointed past.
//!
//! One writer per directory: two [`Spool`]s appending to the same directory are not supported.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

use tokio::sync::oneshot;

/// Bytes before an entry's payload: length, checksum, key.
pub const HEADER: usize = 4 + 4 + KEY_LEN;
/// An idempotency key's length.
pub const KEY_LEN: usize = 16;
/// The file holding the durable end (a little-endian `u64`).
pub const COMMITTED: &str = "committed";
const SEGMENT_EXT: &str = "seg";

/// An idempotency key (for example the first 16 bytes of a SHA-256 of the entry's meaning).
pub type Key = [u8; KEY_LEN];

/// How a spool is bounded and batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolConfig {
    /// The most bytes the segments held may take; an append beyond is [`AppendError::Full`].
    pub max_bytes: u64,
    /// A segment is closed and a new one begun once it would pass this size.
    pub segment_bytes: u64,
    /// The largest payload accepted.
    pub max_entry_bytes: usize,
    /// How many recent keys are remembered for idempotency.
    pub dedup_window: usize,
    /// The most appends written under one fsync.
    pub max_batch: usize,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        Self {
            max_bytes: 1024 * 1024 * 1024,
            segment_bytes: 16 * 1024 * 1024,
            max_entry_bytes: 4 * 1024 * 1024,
            dedup_window: 100_000,
            max_batch: 1024,
        }
    }
}

/// An append that was made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Written and synced at this offset.
    Written(u64),
    /// The key was already held (at this offset): nothing written.
    Duplicate(u64),
}

/// Why an append was not made durable (the sender must keep the entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendError {
    /// The spool holds `max_bytes`: nothing is dropped, the entry is refused.
    Full,
    /// The payload is larger than `max_entry_bytes`.
    TooLarge,
    /// Writing or syncing failed (the entry may or may not be on disk, it is not promised).
    Io(String),
    /// The writer thread is gone.
    Closed,
}

impl std::fmt::Display for AppendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full => f.write_str("the spool is full"),
            Self::TooLarge => f.write_str("the entry is larger than the spool accepts"),
            Self::Io(e) => write!(f, "the spool could not write: {e}"),
            Self::Closed => f.write_str("the spool is closed"),
        }
    }
}

impl std::error::Error for AppendError {}

struct Request {
    key: Key,
    payload: Vec<u8>,
    reply: Reply,
}

enum Reply {
    Async(oneshot::Sender<Result<Appended, AppendError>>),
    Blocking(mpsc::SyncSender<Result<Appended, AppendError>>),
}

impl Reply {
    fn send(self, result: Result<Appended, AppendError>) {
        // A caller that went away no longer needs the answer; the entry stays durable.
        match self {
            Self::Async(tx) => drop(tx.send(result)),
            Self::Blocking(tx) => drop(tx.send(result)),
        }
    }
}

/// The writing side: a cheap handle to one writer thread.
#[derive(Clone)]
pub struct Spool {
    tx: mpsc::Sender<Request>,
    dir: Arc<PathBuf>,
    max_entry_bytes: usize,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool").field("dir", &self.dir).finish()
    }
}

/// What recovery found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recovery {
    /// Entries held.
    pub entries: u64,
    /// Bytes cut from a torn tail.
    pub truncated_bytes: u64,
    /// The end offset (where the next append goes).
    pub end: u64,
}

fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.{SEGMENT_EXT}"))
}

/// The segments of `dir`, by base offset.
fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(SEGMENT_EXT) {
            continue;
        }
        let Some(base) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        found.push((base, path));
    }
    found.sort();
    Ok(found)
}

fn checksum(key: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(key);
    hasher.update(payload);
    hasher.finalize()
}

fn frame(key: &Key, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    // `max_entry_bytes` is checked first and is far below u32::MAX.
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&checksum(key, payload).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(payload);
    out
}

/// One frame read from `bytes` at `at`: `(key, payload, frame length)`, or `None` when the
/// frame there is incomplete or fails its checksum.
fn parse_frame(bytes: &[u8], at: usize) -> Option<(Key, &[u8], usize)> {
    let header = bytes.get(at..at.checked_add(HEADER)?)?;
    let len = u32::from_le_bytes(header[0..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..8].try_into().ok()?);
    let key: Key = header[8..HEADER].try_into().ok()?;
    let start = at + HEADER;
    let payload = bytes.get(start..start.checked_add(len)?)?;
    (checksum(&key, payload) == crc).then_some((key, payload, HEADER + len))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn write_committed(dir: &Path, end: u64) -> io::Result<()> {
    // Written after the data it covers is synced; not synced itself: after a power loss it can
    // only be older (lower), which makes readers wait, never read what was lost.
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(dir.join(COMMITTED))?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&end.to_le_bytes())
}

fn read_committed(dir: &Path) -> io::Result<u64> {
    let mut bytes = [0u8; 8];
    match File::open(dir.join(COMMITTED)) {
        Ok(mut file) => match file.read_exact(&mut bytes) {
            Ok(()) => Ok(u64::from_le_bytes(bytes)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            Err(e) => Err(e),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

struct Writer {
    dir: PathBuf,
    config: SpoolConfig,
    file: File,
    base: u64,
    len: u64,
    /// Bytes held by every segment (the current one included).
    held: u64,
    keys: HashMap<Key, u64>,
    order: VecDeque<Key>,
    broken: Option<String>,
}

impl Writer {
    fn remember(&mut self, key: Key, offset: u64) {
        if self.config.dedup_window == 0 {
            return;
        }
        if self.keys.insert(key, offset).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > self.config.dedup_window {
            if let Some(old) = self.order.pop_front() {
                self.keys.remove(&old);
            }
        }
    }

    fn end(&self) -> u64 {
        self.base + self.len
    }

    /// Recounts the bytes held (a reader may have released segments since).
    fn recount(&mut self) -> io::Result<()> {
        let mut held = 0;
        for (_, path) in segments(&self.dir)? {
            held += fs::metadata(path)?.len();
        }
        self.held = held;
        Ok(())
    }

    fn roll(&mut self) -> io::Result<()> {
        self.file.sync_data()?;
        let base = self.end();
        self.file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(segment_path(&self.dir, base))?;
        sync_dir(&self.dir)?;
        self.base = base;
        self.len = 0;
        Ok(())
    }

    /// Writes one batch and syncs it; answers every request.
    fn batch(&mut self, requests: Vec<Request>) {
        if let Some(why) = &self.broken {
            for request in requests {
                request.reply.send(Err(AppendError::Io(why.clone())));
            }
            return;
        }
        let start_len = self.len;
        let start_base = self.base;
        let mut pending: Vec<(Reply, Appended)> = Vec::with_capacity(requests.len());
        let mut refused: Vec<(Reply, AppendError)> = Vec::new();
        let mut buffer: Vec<u8> = Vec::new();
        let mut result: io::Result<()> = Ok(());
        for request in requests {
            if let Some(&offset) = self.keys.get(&request.key) {
                pending.push((request.reply, Appended::Duplicate(offset)));
                continue;
            }
            let frame = frame(&request.key, &request.payload);
            let size = frame.len() as u64;
            if self.held + size > self.config.max_bytes {
                let recount = self.recount();
                if recount.is_err() || self.held + size > self.config.max_bytes {
                    refused.push((request.reply, AppendError::Full));
                    continue;
                }
            }
            if self.len > 0 && self.len + size > self.config.segment_bytes {
                result = self.file.write_all(&buffer).and_then(|()| self.roll());
                buffer.clear();
                if result.is_err() {
                    refused.push((request.reply, AppendError::Io("segment roll".into())));
                    break;
                }
            }
            let offset = self.end();
            buffer.extend_from_slice(&frame);
            self.len += size;
            self.held += size;
            self.remember(request.key, offset);
            pending.push((request.reply, Appended::Written(offset)));
        }
        if result.is_ok() {
            result = self.file.write_all(&buffer).and_then(|()| self.file.sync_data());
        }
        match result {
            Ok(()) => {
                // Answered only now: each of them is on disk.
                let end = self.end();
                let marked = write_committed(&self.dir, end);
                for (reply, appended) in pending {
                    reply.send(Ok(appended));
                }
                if let Err(e) = marked {
                    self.broken = Some(format!("cannot record the committed end: {e}"));
                }
            }
            Err(e) => {
                let why = e.to_string();
                // Take the batch back where it began; the spool stays usable if that works.
                if self.base == start_base && self.file.set_len(start_len).is_ok() {
                    self.len = start_len;
                    let _ = self.recount();
                } else {
                    self.broken = Some(why.clone());
                }
                for (reply, appended) in pending {
                    match appended {
                        Appended::Duplicate(_) => reply.send(Ok(appended)),
                        Appended::Written(_) => reply.send(Err(AppendError::Io(why.clone()))),
                    }
                }
                // Keys of entries not written must not answer later appends as duplicates.
                self.keys.retain(|_, offset| *offset < start_base + start_len);
                self.order.retain(|k| self.keys.contains_key(k));
            }
        }
        for (reply, err) in refused {
            reply.send(Err(err));
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Request>) {
        while let Ok(first) = rx.recv() {
            let mut requests = vec![first];
            while requests.len() < self.config.max_batch {
                match rx.try_recv() {
                    Ok(request) => requests.push(request),
                    Err(_) => break,
                }
            }
            self.batch(requests);
        }
    }
}

impl Spool {
    /// Opens (creating it if needed) the spool in `dir`, recovers it and starts its writer
    /// thread. Fails on a bad frame before the last segment's tail (corruption).
    pub fn open(dir: &Path, config: SpoolConfig) -> io::Result<(Self, Recovery)> {
        fs::create_dir_all(dir)?;
        let found = segments(dir)?;
        let mut recovery = Recovery::default();
        let mut keys = Vec::new();
        let mut held = 0;
        let mut end = 0;
        let last = found.len().checked_sub(1);
        for (i, (base, path)) in found.iter().enumerate() {
            let bytes = fs::read(path)?;
            let mut at = 0;
            while at < bytes.len() {
                match parse_frame(&bytes, at) {
                    Some((key, _, len)) => {
                        keys.push((key, base + at as u64));
                        recovery.entries += 1;
                        at += len;
                    }
                    None if Some(i) == last => break,
                    None => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{}: a damaged entry at byte {at} (not the tail)", path.display()),
                        ))
                    }
                }
            }
            if at < bytes.len() {
                recovery.truncated_bytes = (bytes.len() - at) as u64;
                let file = OpenOptions::new().write(true).open(path)?;
                file.set_len(at as u64)?;
                file.sync_all()?;
            }
            held += at as u64;
            end = base + at as u64;
        }
        // Never append into a recovered segment: a fresh one at the end keeps every offset a
        // reader may have seen unique.
        let base = end;
        let path = segment_path(dir, base);
        let file = match OpenOptions::new().create_new(true).append(true).open(&path) {
            Ok(file) => file,
            // An empty segment already there (the last one, recovered empty).
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                OpenOptions::new().append(true).open(&path)?
            }
            Err(e) => return Err(e),
        };
        sync_dir(dir)?;
        write_committed(dir, end)?;
        recovery.end = end;
        let mut writer = Writer {
            dir: dir.to_path_buf(),
            config,
            file,
            base,
            len: 0,
            held,
            keys: HashMap::new(),
            order: VecDeque::new(),
            broken: None,
        };
        let skip = keys.len().saturating_sub(config.dedup_window);
        for (key, offset) in keys.into_iter().skip(skip) {
            writer.remember(key, offset);
        }
        let (tx, rx) = mpsc::channel();
        thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok((
            Self {
                tx,
                dir: Arc::new(dir.to_path_buf()),
                max_entry_bytes: config.max_entry_bytes,
            },
            recovery,
        ))
    }

    /// The spool's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn request(&self, key: Key, payload: Vec<u8>, reply: Reply) -> Result<(), (Reply, AppendError)> {
        if payload.len() > self.max_entry_bytes {
            return Err((reply, AppendError::TooLarge));
        }
        self.tx
            .send(Request { key, payload, reply })
            .map_err(|e| (e.0.reply, AppendError::Closed))
    }

    /// Appends `payload` under `key`; answers once it is on disk (or refused).
    pub async fn append(&self, key: Key, payload: Vec<u8>) -> Result<Appended, AppendError> {
        let (tx, rx) = oneshot::channel();
        if let Err((_, err)) = self.request(key, payload, Reply::Async(tx)) {
            return Err(err);
        }
        rx.await.unwrap_or(Err(AppendError::Closed))
    }

    /// [`Spool::append`] from a thread that is not async.
    pub fn append_blocking(&self, key: Key, payload: Vec<u8>) -> Result<Appended, AppendError> {
        let (tx, rx) = mpsc::sync_channel(1);
        if let Err((_, err)) = self.request(key, payload, Reply::Blocking(tx)) {
            return Err(err);
        }
        rx.recv().unwrap_or(Err(AppendError::Closed))
    }
}

/// One entry read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where it begins.
    pub offset: u64,
    /// Where the next one begins (the offset to checkpoint once this entry is passed on).
    pub next: u64,
    /// Its idempotency key.
    pub key: Key,
    /// What was appended.
    pub payload: Vec<u8>,
}

/// Why a read could not start where it was asked.
#[derive(Debug)]
pub enum ReadError {
    /// The offset is below the oldest segment held (released): entries were removed.
    Released {
        /// The offset asked.
        asked: u64,
        /// The oldest offset held.
        oldest: u64,
    },
    /// The offset is not where an entry begins (a state that is not the spool's).
    NotAnEntry(u64),
    /// The file system failed.
    Io(io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Released { asked, oldest } => write!(
                f,
                "the spool no longer holds offset {asked} (its oldest entry is at {oldest})"
            ),
            Self::NotAnEntry(offset) => write!(f, "offset {offset} is not where a spooled entry begins"),
            Self::Io(e) => write!(f, "the spool could not be read: {e}"),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// The reading side (any process): committed entries from an offset; releases what every
/// checkpoint has passed.
#[derive(Debug, Clone)]
pub struct SpoolReader {
    dir: PathBuf,
}

impl SpoolReader {
    /// A reader of the spool in `dir` (which may not exist yet: then it is empty).
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// The oldest offset held (0 for an empty or missing spool).
    pub fn oldest(&self) -> io::Result<u64> {
        if !self.dir.exists() {
            return Ok(0);
        }
        Ok(segments(&self.dir)?.first().map_or(0, |(base, _)| *base))
    }

    /// The durable end: every entry before it is synced.
    pub fn committed(&self) -> io::Result<u64> {
        if !self.dir.exists() {
            return Ok(0);
        }
        read_committed(&self.dir)
    }

    /// Up to `max` committed entries from `from` (`None`: from the oldest held), in order.
    pub fn read(&self, from: Option<u64>, max: usize) -> Result<Vec<Entry>, ReadError> {
        if !self.dir.exists() {
            return match from {
                None | Some(0) => Ok(Vec::new()),
                Some(asked) => Err(ReadError::Released { asked, oldest: 0 }),
            };
        }
        let committed = read_committed(&self.dir)?;
        let found = segments(&self.dir)?;
        let oldest = found.first().map_or(committed, |(base, _)| *base);
        let mut at = from.unwrap_or(oldest);
        if at < oldest {
            return Err(ReadError::Released { asked: at, oldest });
        }
        let disk_end = match found.last() {
            Some((base, path)) => base + fs::metadata(path)?.len(),
            None => 0,
        };
        if at > disk_end {
            // Past everything written: a state of another (or a recreated) spool.
            return Err(ReadError::NotAnEntry(at));
        }
        let mut out = Vec::new();
        for (i, (base, path)) in found.iter().enumerate() {
            let next_base = found.get(i + 1).map(|(b, _)| *b);
            if next_base.is_some_and(|next| next <= at) || *base > at {
                if *base > at {
                    // `at` lies in no segment (between them, or a state from another spool).
                    return Err(ReadError::NotAnEntry(at));
                }
                continue;
            }
            if at >= committed || out.len() >= max {
                break;
            }
            // Frame by frame from the offset (a batch reads what it returns, not the segment).
            let file = File::open(path)?;
            let len = file.metadata()?.len();
            let mut position = at - base;
            let mut reader = io::BufReader::new(file);
            reader.seek(SeekFrom::Start(position))?;
            while out.len() < max && at < committed && position < len {
                let mut header = [0u8; HEADER];
                reader
                    .read_exact(&mut header)
                    .map_err(|_| ReadError::NotAnEntry(at))?;
                let size = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
                if (HEADER + size) as u64 > len - position {
                    return Err(ReadError::NotAnEntry(at));
                }
                let mut frame = header.to_vec();
                frame.resize(HEADER + size, 0);
                reader
                    .read_exact(&mut frame[HEADER..])
                    .map_err(|_| ReadError::NotAnEntry(at))?;
                let Some((key, payload, size)) = parse_frame(&frame, 0) else {
                    return Err(ReadError::NotAnEntry(at));
                };
                out.push(Entry {
                    offset: at,
                    next: at + size as u64,
                    key,
                    payload: payload.to_vec(),
                });
                position += size as u64;
                at += size as u64;
            }
            if position < len || out.len() >= max || at >= committed {
                break;
            }
            if next_base.is_some_and(|next| next != at) {
                // A segment cut short by recovery: the next one begins further on.
                at = next_base.unwrap_or(at);
            }
        }
        Ok(out)
    }

    /// Removes every segment wholly before `offset` (entries a checkpoint has passed); never
    /// the last segment (the writer's). Returns the bytes freed.
    pub fn release(&self, offset: u64) -> io::Result<u64> {
        if !self.dir.exists() {
            return Ok(0);
        }
        let found = segments(&self.dir)?;
        let mut freed = 0;
        for pair in found.windows(2) {
            let ((_, path), (next_base, _)) = (&pair[0], &pair[1]);
            if *next_base <= offset {
                freed += fs::metadata(path)?.len();
                fs::remove_file(path)?;
            }
        }
        Ok(freed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Key {
        [n; KEY_LEN]
    }

    fn small() -> SpoolConfig {
        SpoolConfig {
            max_bytes: 10_000,
            segment_bytes: 200,
            max_entry_bytes: 1000,
            dedup_window: 4,
            max_batch: 64,
        }
    }

    fn payloads(entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.payload).into_owned())
            .collect()
    }

    #[test]
    fn entries_come_back_in_order_with_offsets_that_chain() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, recovery) = Spool::open(dir.path(), small()).unwrap();
        assert_eq!(recovery, Recovery::default());
        let mut offsets = Vec::new();
        for n in 0..10u8 {
            match spool
                .append_blocking(key(n), format!("entry {n}").into_bytes())
                .unwrap()
            {
                Appended::Written(offset) => offsets.push(offset),
                other => panic!("{other:?}"),
            }
        }
        let reader = SpoolReader::new(dir.path());
        let all = reader.read(None, 100).unwrap();
        assert_eq!(
            payloads(&all),
            (0..10).map(|n| format!("entry {n}")).collect::<Vec<_>>()
        );
        assert_eq!(all.iter().map(|e| e.offset).collect::<Vec<_>>(), offsets);
        for pair in all.windows(2) {
            assert_eq!(pair[0].next, pair[1].offset);
        }
        // Frames of 31 bytes, segments of at most 200: several segments, read across them.
        assert!(segments(dir.path()).unwrap().len() >= 2);
        let rest = reader.read(Some(all[3].next), 3).unwrap();
        assert_eq!(payloads(&rest), ["entry 4", "entry 5", "entry 6"]);
        assert_eq!(reader.read(Some(all[9].next), 100).unwrap(), Vec::new());
        assert_eq!(reader.committed().unwrap(), all[9].next);
    }

    #[test]
    fn a_key_seen_in_the_window_is_a_duplicate_and_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(dir.path(), small()).unwrap();
        let first = spool.append_blocking(key(1), b"a".to_vec()).unwrap();
        assert_eq!(first, Appended::Written(0));
        assert_eq!(
            spool.append_blocking(key(1), b"a again".to_vec()).unwrap(),
            Appended::Duplicate(0)
        );
        // Four more keys push key 1 out of a window of 4.
        for n in 2..6 {
            spool.append_blocking(key(n), b"x".to_vec()).unwrap();
        }
        assert!(matches!(
            spool.append_blocking(key(1), b"a late".to_vec()).unwrap(),
            Appended::Written(_)
        ));
        let all = SpoolReader::new(dir.path()).read(None, 100).unwrap();
        assert_eq!(payloads(&all), ["a", "x", "x", "x", "x", "a late"]);
        // The window is rebuilt from disk on open.
        drop(spool);
        let (spool, recovery) = Spool::open(dir.path(), small()).unwrap();
        assert_eq!(recovery.entries, 6);
        assert_eq!(
            spool.append_blocking(key(5), b"x".to_vec()).unwrap(),
            Appended::Duplicate(all[4].offset)
        );
    }

    #[test]
    fn a_full_spool_refuses_and_accepts_again_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let config = SpoolConfig {
            max_bytes: 100,
            segment_bytes: 40,
            ..small()
        };
        let (spool, _) = Spool::open(dir.path(), config).unwrap();
        // A 24-byte header and 10 bytes: 34 bytes a frame; two fit in 100, a third (102) does not.
        let ten = b"0123456789".to_vec();
        assert_eq!(
            spool.append_blocking(key(1), ten.clone()).unwrap(),
            Appended::Written(0)
        );
        assert_eq!(
            spool.append_blocking(key(2), ten.clone()).unwrap(),
            Appended::Written(34)
        );
        assert_eq!(spool.append_blocking(key(3), ten.clone()), Err(AppendError::Full));
        assert_eq!(
            spool.append_blocking(key(4), vec![0; 1001]),
            Err(AppendError::TooLarge)
        );
        let reader = SpoolReader::new(dir.path());
        let all = reader.read(None, 10).unwrap();
        assert_eq!(all.len(), 2, "a refused entry is not written");
        // A reader that checkpointed past the first segment releases it.
        assert_eq!(reader.release(all[0].next).unwrap(), 34);
        assert_eq!(spool.append_blocking(key(3), ten).unwrap(), Appended::Written(68));
        assert!(matches!(
            reader.read(Some(0), 10),
            Err(ReadError::Released { asked: 0, oldest: 34 })
        ));
        assert_eq!(payloads(&reader.read(Some(34), 10).unwrap()).len(), 2);
    }

    #[test]
    fn recovery_cuts_a_torn_tail_and_keeps_every_whole_entry() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(dir.path(), SpoolConfig::default()).unwrap();
        for n in 0..3u8 {
            spool.append_blocking(key(n), vec![b'x'; 20]).unwrap();
        }
        drop(spool);
        let (_, last) = segments(dir.path()).unwrap().pop().unwrap();
        // A frame half written: a crash during a write nobody was answered for.
        let mut file = OpenOptions::new().append(true).open(&last).unwrap();
        file.write_all(&frame(&key(9), &[b'y'; 20])[..30]).unwrap();
        drop(file);
        let (spool, recovery) = Spool::open(dir.path(), SpoolConfig::default()).unwrap();
        assert_eq!(
            recovery,
            Recovery {
                entries: 3,
                truncated_bytes: 30,
                end: 3 * 44
            }
        );
        // A write after recovery goes into a new segment; offsets never reused.
        assert_eq!(
            spool.append_blocking(key(9), vec![b'z'; 20]).unwrap(),
            Appended::Written(132)
        );
        let all = SpoolReader::new(dir.path()).read(None, 10).unwrap();
        assert_eq!(all.iter().map(|e| e.offset).collect::<Vec<_>>(), [0, 44, 88, 132]);
        assert_eq!(all[3].payload, vec![b'z'; 20]);
    }

    #[test]
    fn damage_before_the_tail_refuses_the_open_and_a_bad_offset_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(dir.path(), small()).unwrap();
        for n in 0..10u8 {
            spool.append_blocking(key(n), vec![b'x'; 20]).unwrap();
        }
        drop(spool);
        let reader = SpoolReader::new(dir.path());
        assert!(matches!(reader.read(Some(5), 10), Err(ReadError::NotAnEntry(5))));
        assert!(matches!(
            reader.read(Some(1_000_000), 10),
            Err(ReadError::NotAnEntry(1_000_000))
        ));
        let (_, first) = segments(dir.path()).unwrap().remove(0);
        let mut bytes = fs::read(&first).unwrap();
        bytes[30] ^= 0xff;
        fs::write(&first, bytes).unwrap();
        let err = Spool::open(dir.path(), small()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(
            err.to_string()
                .ends_with("a damaged entry at byte 0 (not the tail)"),
            "{err}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_are_each_answered_once_with_distinct_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(dir.path(), SpoolConfig::default()).unwrap();
        let mut tasks = Vec::new();
        for n in 0..200u32 {
            let spool = spool.clone();
            tasks.push(tokio::spawn(async move {
                let mut k = [0u8; KEY_LEN];
                k[..4].copy_from_slice(&n.to_le_bytes());
                spool.append(k, n.to_string().into_bytes()).await
            }));
        }
        let mut offsets = Vec::new();
        for task in tasks {
            match task.await.unwrap().unwrap() {
                Appended::Written(offset) => offsets.push(offset),
                other => panic!("{other:?}"),
            }
        }
        offsets.sort_unstable();
        offsets.dedup();
        assert_eq!(offsets.len(), 200);
        let all = SpoolReader::new(dir.path()).read(None, 1000).unwrap();
        assert_eq!(all.len(), 200);
        let mut seen: Vec<u32> = all
            .iter()
            .map(|e| String::from_utf8_lossy(&e.payload).parse().unwrap())
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
    }
}
